/* Tokenizer loaders, decoding and round trips:
 *   - stories260K's tok512.bin decodes the golden greedy token ids to the text
 *     llama2.c's run.c printed (greedy_1.txt), and encoding the prompts of
 *     greedy_2/3 then generating greedily with the model reproduces those files;
 *   - the Llama 2 tokenizer.bin (llama2.c export) encodes llama.cpp's llama-spm
 *     vectors exactly like the GGUF vocabulary;
 *   - .bin, .gguf and tokenizer.json written by tiller load back and encode
 *     every test string the same way;
 *   - malformed files give their specific error. */
#include <ctype.h>
#include <string.h>

#include "format/format.h"
#include "testlib.h"
#include "tiller/tokenizer.h"

static char *slurp(const char *path, size_t *n) {
    char *d = NULL;
    size_t sz = 0;
    if (tl_file_read_all(path, &d, &sz)) return NULL;
    if (n) *n = sz;
    return d;
}

/* Text as run.c prints decode(prev, id): unprintable single bytes are skipped. */
static size_t run_c_piece(const tl_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap) {
    size_t n = tl_tokenizer_decode_piece(t, prev, id, buf, cap);
    if (n == 1 && !(isprint((unsigned char)buf[0]) || isspace((unsigned char)buf[0]))) return 0;
    return n;
}

static void test_tok512_decode(const tl_tokenizer *t) {
    int32_t ids[256];
    int n = 0;
    FILE *f = fopen(tl_test_shared("models/stories260K/golden/greedy_1.tokens.txt"), "r");
    CHECK(f != NULL, "cannot open greedy_1.tokens.txt");
    if (!f) return;
    while (n < 256 && fscanf(f, "%d", &ids[n]) == 1) n++;
    fclose(f);
    char text[8192];
    size_t len = 0;
    for (int i = 1; i < n; i++) len += run_c_piece(t, ids[i - 1], ids[i], text + len, sizeof text - len);
    size_t gn;
    char *golden = slurp(tl_test_shared("models/stories260K/golden/greedy_1.txt"), &gn);
    /* the file holds BOS + 199 ids; run.c printed 200 tokens: the text must start
     * with their decoding (test_generate checks the whole text) */
    int same = golden && gn > len && !memcmp(golden, text, len);
    printf("stories260K greedy_1: %d golden ids decode to the first %zu of %zu bytes of greedy_1.txt: %s\n", n - 1,
           len, gn, same ? "equal" : "DIFFERENT");
    CHECK(same, "decoded %zu bytes differ from greedy_1.txt", len);
    tl_free(golden);
}

static void test_generate(const tl_model *m, const tl_tokenizer *t, const char *prompt, const char *golden_file) {
    int32_t *ids;
    size_t np;
    CHECK_OK(tl_tokenizer_encode(t, prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &np));
    if (!ids) return;
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    if (!s) {
        tl_free(ids);
        return;
    }
    char text[16384];
    size_t len = 0;
    int32_t tok = ids[0];
    for (int pos = 0; pos < 200; pos++) {
        const float *lg;
        CHECK_OK(tl_forward(s, &tok, 1, &lg));
        int32_t next = 0;
        if ((size_t)pos + 1 < np) {
            next = ids[pos + 1];
        } else {
            for (int i = 1; i < m->cfg.vocab_size; i++)
                if (lg[i] > lg[next]) next = i;
        }
        if (next == 1) break;
        len += run_c_piece(t, tok, next, text + len, sizeof text - len - 2);
        tok = next;
    }
    text[len++] = '\n';
    size_t gn;
    char *golden = slurp(tl_test_shared(golden_file), &gn);
    int same = golden && gn == len && !memcmp(golden, text, len);
    printf("prompt '%s' -> %zu prompt ids, generation equals %s: %s\n", prompt, np, golden_file, same ? "yes" : "NO");
    CHECK(same, "generation for '%s' differs from %s", prompt, golden_file);
    tl_free(golden);
    tl_free(ids);
    tl_session_free(s);
}

static void test_stories(void) {
    tl_tokenizer *t = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &t));
    if (!t) return;
    CHECK(tl_tokenizer_n_vocab(t) == 512 && tl_tokenizer_bos(t) == 1 && tl_tokenizer_eos(t) == 2, "tok512 header");
    test_tok512_decode(t);

    const char *text = "Once upon a time";
    int32_t *ids;
    size_t n;
    CHECK_OK(tl_tokenizer_encode(t, text, strlen(text), TL_TOK_ADD_BOS, &ids, &n));
    int32_t want[] = {1, 403, 407, 261, 378};
    CHECK(n == 5 && !memcmp(ids, want, sizeof want), "'%s' -> %zu ids", text, n);
    char back[256];
    size_t bl = 0;
    for (size_t i = 1; i < n; i++) bl += tl_tokenizer_decode_piece(t, ids[i - 1], ids[i], back + bl, sizeof back - bl);
    CHECK(bl == strlen(text) && !memcmp(back, text, bl), "round trip gave '%.*s'", (int)bl, back);
    printf("'%s' -> 1 403 407 261 378 -> '%.*s'\n", text, (int)bl, back);
    tl_free(ids);

    /* bytes without a piece fall back to <0xXX> and decode back */
    const char *odd = "naïve ☃ 🦙";
    CHECK_OK(tl_tokenizer_encode(t, odd, strlen(odd), 0, &ids, &n));
    bl = 0;
    for (size_t i = 0; i < n; i++)
        bl += tl_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], back + bl, sizeof back - bl);
    CHECK(bl == strlen(odd) && !memcmp(back, odd, bl), "byte fallback round trip gave '%.*s'", (int)bl, back);
    tl_free(ids);

    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (m) {
        test_generate(m, t, "", "models/stories260K/golden/greedy_1.txt");
        test_generate(m, t, "Once upon a time", "models/stories260K/golden/greedy_2.txt");
        test_generate(m, t, "Lily went to the park", "models/stories260K/golden/greedy_3.txt");
    }
    tl_model_free(m);
    tl_tokenizer_free(t);
}

/* Encode each case of an .inp file with a and b; count equal results. */
static int same_encodings(const tl_tokenizer *a, const tl_tokenizer *b, const char *inp, int flags, int *cases) {
    size_t n;
    char *in = slurp(inp, &n);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int same = 0;
    *cases = 0;
    for (size_t pos = 0; in && pos < n;) {
        const char *next = strstr(in + pos, sep);
        size_t len = next ? (size_t)(next - in) - pos : n - pos;
        int32_t *x = NULL, *y = NULL;
        size_t nx = 0, ny = 0;
        CHECK_OK(tl_tokenizer_encode(a, in + pos, len, flags, &x, &nx));
        CHECK_OK(tl_tokenizer_encode(b, in + pos, len, flags, &y, &ny));
        same += nx == ny && (nx == 0 || !memcmp(x, y, nx * sizeof *x));
        (*cases)++;
        tl_free(x);
        tl_free(y);
        pos = next ? (size_t)(next - in) + strlen(sep) : n;
    }
    tl_free(in);
    return same;
}

static void check_same(const char *label, const tl_tokenizer *a, const tl_tokenizer *b, const char *vocab) {
    char inp[300];
    snprintf(inp, sizeof inp, "%s", tl_test_shared("models/tokenizers/"));
    strncat(inp, vocab, sizeof inp - strlen(inp) - 1);
    strncat(inp, ".inp", sizeof inp - strlen(inp) - 1);
    int c1, c2;
    int s1 = same_encodings(a, b, inp, 0, &c1);
    int s2 = same_encodings(a, b, "tests/golden/tokenizer/extra.inp", TL_TOK_PARSE_SPECIAL, &c2);
    printf("%s: %d/%d cases encode the same\n", label, s1 + s2, c1 + c2);
    CHECK(c1 > 0 && s1 == c1 && s2 == c2, "%s: %d/%d and %d/%d", label, s1, c1, s2, c2);
}

static void test_llama2_bin(void) {
    tl_tokenizer *bin = NULL, *gguf = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/llama2-tokenizer/tokenizer.bin"), &bin));
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/tokenizers/ggml-vocab-llama-spm.gguf"), &gguf));
    if (bin && gguf) {
        CHECK(tl_tokenizer_n_vocab(bin) == 32000, "n_vocab %d", tl_tokenizer_n_vocab(bin));
        check_same("Llama 2 tokenizer.bin vs ggml-vocab-llama-spm.gguf", bin, gguf, "ggml-vocab-llama-spm.gguf");
    }
    tl_tokenizer_free(bin);
    tl_tokenizer_free(gguf);
}

/* Save a tokenizer as ext, load it back, compare pieces and encodings. */
static void round_trip(const char *src, const char *vocab_inp, const char *ext) {
    tl_tokenizer *a = NULL, *b = NULL;
    CHECK_OK(tl_tokenizer_load(src, &a));
    if (!a) return;
    char path[512], label[600];
    snprintf(path, sizeof path, "%s/rt%s", tl_test_tmpdir(), ext);
    CHECK_OK(tl_tokenizer_save(a, path));
    CHECK_OK(tl_tokenizer_load(path, &b));
    if (b) {
        int n = tl_tokenizer_n_vocab(a), diff = tl_tokenizer_n_vocab(b) != n;
        for (int i = 0; i < n && !diff; i++) {
            size_t la, lb;
            const char *pa = tl_tokenizer_piece(a, i, &la), *pb = tl_tokenizer_piece(b, i, &lb);
            diff = la != lb || memcmp(pa, pb, la) || tl_tokenizer_token_type(a, i) != tl_tokenizer_token_type(b, i);
        }
        CHECK(!diff, "%s -> %s: pieces or types differ", src, ext);
        for (int i = 0; i < n && diff; i++)
            if (tl_tokenizer_token_type(a, i) != tl_tokenizer_token_type(b, i)) {
                fprintf(stderr, "  token %d: type %d -> %d\n", i, tl_tokenizer_token_type(a, i), tl_tokenizer_token_type(b, i));
                break;
            }
        CHECK(tl_tokenizer_bos(a) == tl_tokenizer_bos(b) && tl_tokenizer_eos(a) == tl_tokenizer_eos(b),
              "%s -> %s: bos/eos", src, ext);
        const char *slash = strrchr(src, '/');
        snprintf(label, sizeof label, "%s -> %s -> load", slash ? slash + 1 : src, ext);
        check_same(label, a, b, vocab_inp);
    }
    remove(path);
    tl_tokenizer_free(a);
    tl_tokenizer_free(b);
}

static void test_round_trips(void) {
    char spm[300], gpt2[300], t512[300];
    snprintf(spm, sizeof spm, "%s", tl_test_shared("models/tokenizers/ggml-vocab-llama-spm.gguf"));
    snprintf(gpt2, sizeof gpt2, "%s", tl_test_shared("models/tokenizers/ggml-vocab-gpt-2.gguf"));
    snprintf(t512, sizeof t512, "%s", tl_test_shared("models/stories260K/tok512.bin"));
    round_trip(spm, "ggml-vocab-llama-spm.gguf", ".gguf");
    round_trip(spm, "ggml-vocab-llama-spm.gguf", ".bin");
    round_trip(spm, "ggml-vocab-llama-spm.gguf", ".json");
    round_trip(gpt2, "ggml-vocab-gpt-2.gguf", ".gguf");
    round_trip(gpt2, "ggml-vocab-gpt-2.gguf", ".json");
    round_trip(t512, "ggml-vocab-llama-spm.gguf", ".json");
    tl_tokenizer *t = NULL;
    CHECK_OK(tl_tokenizer_load(gpt2, &t));
    char path[300];
    snprintf(path, sizeof path, "%s/gpt2.bin", tl_test_tmpdir());
    if (t) CHECK(tl_tokenizer_save(t, path) == TL_E_UNSUPPORTED, "byte-level BPE as llama2.c .bin");
    CHECK(!tl_path_exists(path), "no file left behind");
    tl_tokenizer_free(t);
}

static void expect_error(const char *name, const void *data, size_t n, tl_status want, const char *needle) {
    char path[300];
    snprintf(path, sizeof path, "%s/%s", tl_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    tl_tokenizer *t = NULL;
    tl_status s = tl_tokenizer_load(path, &t);
    CHECK(s == want && t == NULL && strstr(tl_last_error(), needle) && strstr(tl_last_error(), name),
          "%s: got %s '%s', want %s containing '%s'", name, tl_status_string(s), tl_last_error(),
          tl_status_string(want), needle);
    tl_tokenizer_free(t);
    remove(path);
}

static void test_bad_input(void) {
    expect_error("bad.json", "{\"model\": {\"type\": \"BPE\", ", 26, TL_E_FORMAT, "malformed JSON");
    const char *wp = "{\"model\":{\"type\":\"WordPiece\",\"vocab\":{}}}";
    expect_error("wp.json", wp, strlen(wp), TL_E_UNSUPPORTED, "WordPiece");
    const char *gap = "{\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{\"a\":0,\"b\":2},\"merges\":[]}}";
    expect_error("gap.json", gap, strlen(gap), TL_E_FORMAT, "no token has id 1");
    const char *merge = "{\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},"
                        "\"merges\":[\"a c\"]}}";
    expect_error("merge.json", merge, strlen(merge), TL_E_FORMAT, "'c' is not a token");
    uint8_t bin[32] = {8, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 'a', 'b', 'c', 0, 0, 0, 0, 100, 0, 0, 0, 'x'};
    expect_error("long.bin", bin, 24, TL_E_FORMAT, "exceeds max_token_length");
    bin[19] = 5;
    expect_error("past.bin", bin, 24, TL_E_FORMAT, "runs past the end");
    expect_error("hdr.bin", bin, 17, TL_E_FORMAT, "record header truncated");
    uint8_t utf[20] = {8, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0xc3, 0x28};
    expect_error("utf8.bin", utf, 14, TL_E_FORMAT, "not valid UTF-8");
}

int main(void) {
    test_stories();
    test_llama2_bin();
    test_round_trips();
    test_bad_input();
    return tl_test_done();
}
