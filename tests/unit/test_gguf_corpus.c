/* Broken GGUF files: each file in tests/corpus/gguf/ must be refused with its
 * own status and a message naming the file and the problem, leaving the
 * output NULL (ASan/UBSan builds check that nothing crashes or leaks).
 *
 * The corpus is generated here from one valid tiny model (written with
 * tiller's GGUF writer, then damaged byte by byte or written with a bad
 * field). The test regenerates every file (and the cases.tsv manifest that
 * tests/unit/test_corpus.c reads) in memory and checks that the committed
 * copy is identical; TILLER_REGEN_CORPUS=1 rewrites the copies:
 *     TILLER_REGEN_CORPUS=1 ./build/tests/test_gguf_corpus
 * It also parses every truncation of the valid file and thousands of
 * single-byte corruptions of its metadata through the in-memory reader. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "testlib.h"
#include "tiller/tokenizer.h"

#define CORPUS "tests/corpus/gguf"
#define V 16 /* vocabulary = embedding rows of the tiny model */

typedef struct {
    int n_tokens;       /* tokens in the vocabulary (V unless testing a mismatch) */
    int bad_utf8;       /* token 5 is not UTF-8 */
    int bad_alignment;  /* general.alignment = 3 */
    int string_layers;  /* llama.block_count written as a string */
    int q8_type;        /* output_norm.weight declared Q8_0 */
    int n_layers;       /* blocks written (1 when 0) */
    int block_count;    /* llama.block_count written (n_layers when 0) */
    int nan_score;      /* token 4's score is NaN */
} knobs;

static const uint8_t *find(const uint8_t *b, size_t n, const char *s, size_t sn) {
    for (size_t i = 0; i + sn <= n; i++)
        if (!memcmp(b + i, s, sn)) return b + i;
    return NULL;
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    char *d;
    if (tl_file_read_all(path, &d, n)) return NULL;
    return (uint8_t *)d;
}

/* Write the tiny model (dim 8, 1 layer, vocab 16, tied, SPM vocabulary) and return its bytes. */
static uint8_t *build(const knobs *k, size_t *n) {
    tl_config cfg = {.dim = 8, .hidden_dim = 16, .n_layers = k->n_layers ? k->n_layers : 1, .n_heads = 2,
                     .vocab_size = V, .seq_len = 16, .tied_embeddings = 1};
    tl_model *m = NULL;
    if (tl_model_new(&cfg, &m)) return NULL;
    tl_model_init_random(m, 7);
    tl_gguf_writer *w;
    tl_gguf_writer_new(&w);
    tl_gguf_write_str(w, "general.architecture", "llama");
    tl_gguf_write_str(w, "general.name", "corpus");
    if (k->bad_alignment) tl_gguf_write_u32(w, "general.alignment", 3);
    tl_gguf_write_u32(w, "llama.context_length", 16);
    tl_gguf_write_u32(w, "llama.embedding_length", 8);
    if (k->string_layers) tl_gguf_write_str(w, "llama.block_count", "1");
    else tl_gguf_write_u32(w, "llama.block_count", (uint32_t)(k->block_count ? k->block_count : cfg.n_layers));
    tl_gguf_write_u32(w, "llama.feed_forward_length", 16);
    tl_gguf_write_u32(w, "llama.attention.head_count", 2);
    tl_gguf_write_str(w, "tokenizer.ggml.model", "llama");
    const char *toks[V] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "c", "d",
                           "e", "\xe2\x96\x81" "a", "ab", "cd", "\xe2\x96\x81" "ab", "\xc3\xa9", "x", "y"};
    if (k->bad_utf8) toks[5] = "\xc3\x28";
    float scores[V];
    int32_t types[V];
    for (int i = 0; i < V; i++) {
        scores[i] = -(float)i;
        types[i] = i == 0 ? TL_TOKEN_UNKNOWN : i < 3 ? TL_TOKEN_CONTROL : TL_TOKEN_NORMAL;
    }
    if (k->nan_score) scores[4] = NAN;
    tl_gguf_write_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, (uint64_t)k->n_tokens);
    tl_gguf_write_arr(w, "tokenizer.ggml.scores", TL_GGUF_F32, scores, (uint64_t)k->n_tokens);
    tl_gguf_write_arr(w, "tokenizer.ggml.token_type", TL_GGUF_I32, types, (uint64_t)k->n_tokens);
    tl_param_tensor pt[32];
    int nt = tl_params_tensors(&m->cfg, pt, 32);
    for (int i = 0; i < nt; i++) {
        int64_t ne[2] = {pt[i].cols, pt[i].rows};
        tl_gguf_write_tensor(w, pt[i].name, TL_GGML_F32, pt[i].n_dims, ne, m->params + pt[i].offset);
    }
    char path[300];
    snprintf(path, sizeof path, "%s/base.gguf", tl_test_tmpdir());
    uint8_t *bytes = NULL;
    if (tl_gguf_writer_save(w, path) == TL_OK) bytes = read_bytes(path, n);
    remove(path);
    tl_gguf_writer_free(w);
    tl_model_free(m);
    if (bytes && k->q8_type) { /* output_norm.weight: type field after name, n_dims, ne[0] */
        uint8_t *p = (uint8_t *)find(bytes, *n, "output_norm.weight", 18);
        uint32_t q8 = 8;
        if (p) memcpy(p + 18 + 4 + 8, &q8, 4);
    }
    return bytes;
}

/* Offset of the field `skip` bytes after the first occurrence of str. */
static size_t at(const uint8_t *b, size_t n, const char *str, size_t skip) {
    const uint8_t *p = find(b, n, str, strlen(str));
    if (!p) {
        fprintf(stderr, "corpus generator: '%s' not found\n", str);
        exit(1);
    }
    return (size_t)(p - b) + strlen(str) + skip;
}

static void put64(uint8_t *b, size_t off, uint64_t v) { memcpy(b + off, &v, 8); }
static void put32(uint8_t *b, size_t off, uint32_t v) { memcpy(b + off, &v, 4); }

typedef struct {
    const char *name;
    tl_status status;
    const char *message;
} expect;

static int regen;
static char manifest[8192] = "# case\tstatus\tmessage fragment (generated by tests/unit/test_gguf_corpus.c)\nok\tOK\t\n";

static const char *status_name(tl_status s) {
    static const char *const names[] = {"OK", "IO", "FORMAT", "NOMEM", "ARG", "RANGE", "UNSUPPORTED", "NUMERIC"};
    return s >= 0 && s < TL_E__COUNT ? names[s] : "?";
}

/* Write (regen) or compare a generated corpus file. */
static void sync_file(const char *path, const void *bytes, size_t n) {
    if (regen) CHECK_OK(tl_file_write_atomic(path, bytes, n));
    size_t cn = 0;
    uint8_t *committed = read_bytes(path, &cn);
    CHECK(committed && cn == n && !memcmp(committed, bytes, n),
          "%s: committed file differs from the generator (TILLER_REGEN_CORPUS=1 rewrites it)", path);
    tl_free(committed);
}

/* Write or compare the corpus file, then load it as a model and check the error. */
static void check_case(const char *name, const uint8_t *bytes, size_t n, tl_status want, const char *needle) {
    char path[256];
    snprintf(path, sizeof path, CORPUS "/%s", name);
    sync_file(path, bytes, n);
    size_t ml = strlen(manifest);
    snprintf(manifest + ml, sizeof manifest - ml, "%.*s\t%s\t%s\n", (int)(strlen(name) - 5), name, status_name(want),
             needle);
    tl_model *m = (tl_model *)1;
    tl_status s = tl_model_load(path, &m, NULL);
    int ok = s == want && m == NULL && strstr(tl_last_error(), path) && strstr(tl_last_error(), needle);
    printf("%-22s %-12s %s\n", name, tl_status_string(s), tl_last_error());
    CHECK(ok, "%s: got %s '%s', want %s with '%s'", name, tl_status_string(s), tl_last_error(), tl_status_string(want),
          needle);
    if (s == TL_OK) tl_model_free(m);
}

static void mutated(const char *name, const uint8_t *base, size_t n, size_t off, int width, uint64_t value,
                    tl_status want, const char *needle) {
    uint8_t *b = malloc(n);
    memcpy(b, base, n);
    if (width == 8) put64(b, off, value);
    else put32(b, off, (uint32_t)value);
    check_case(name, b, n, want, needle);
    free(b);
}

static void from_knobs(const char *name, knobs k, tl_status want, const char *needle) {
    size_t n;
    uint8_t *b = build(&k, &n);
    CHECK(b != NULL, "%s: generator failed: %s", name, tl_last_error());
    if (b) check_case(name, b, n, want, needle);
    tl_free(b);
}

/* Every truncation and many byte corruptions go through the parser without harm. */
static void fuzz_memory(const uint8_t *base, size_t n) {
    int refused = 0, parsed = 0;
    for (size_t len = 0; len < n; len++) {
        tl_gguf *g = NULL;
        tl_status s = tl_gguf_open_memory(base, len, "prefix", &g);
        refused += s != TL_OK;
        tl_gguf_close(g);
    }
    CHECK(refused == (int)n, "%d of %zu truncations refused", refused, n);
    tl_gguf *g = NULL;
    CHECK_OK(tl_gguf_open_memory(base, n, "base", &g));
    size_t meta = g ? g->data_offset : 0;
    tl_gguf_close(g);
    uint8_t *b = malloc(n);
    static const uint8_t vals[] = {0x00, 0x01, 0x05, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < meta; i++)
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(b, base, n);
            b[i] = vals[v];
            g = NULL;
            if (tl_gguf_open_memory(b, n, "flip", &g) == TL_OK) {
                parsed++;
                for (uint64_t t = 0; t < g->n_tensors; t++) /* touch every byte the reader vouches for */
                    CHECK(g->tensors[t].data + g->tensors[t].nbytes <= b + n, "tensor data inside the buffer");
            }
            tl_gguf_close(g);
        }
    free(b);
    printf("fuzz: %zu truncations refused; %zu single-byte corruptions of %zu metadata bytes parsed (%d accepted)\n", n,
           meta * sizeof vals, meta, parsed);
}

int main(void) {
    regen = getenv("TILLER_REGEN_CORPUS") != NULL;
    knobs ok = {.n_tokens = V};
    size_t n;
    uint8_t *base = build(&ok, &n);
    CHECK(base != NULL, "base model: %s", tl_last_error());
    if (!base) return tl_test_done();
    { /* the base itself loads, with its vocabulary (tests/unit/test_corpus.c fuzzes it) */
        sync_file(CORPUS "/ok.gguf", base, n);
        tl_model *m = NULL;
        tl_tokenizer *tok = NULL;
        CHECK_OK(tl_model_load(CORPUS "/ok.gguf", &m, &tok));
        CHECK(m && tok && tl_tokenizer_n_vocab(tok) == V, "base model and vocabulary");
        tl_tokenizer_free(tok);
        tl_model_free(m);
    }
    check_case("truncated.gguf", base, at(base, n, "blk.0.attn_q.weight", 2), TL_E_FORMAT,
               "truncated at byte");
    check_case("truncated_header.gguf", base, 200, TL_E_FORMAT, "n_tensors 11 cannot fit in a file of 200 bytes");
    check_case("truncated_data.gguf", base, n - 40, TL_E_FORMAT, "runs past the end of the file");
    mutated("bad_magic.gguf", base, n, 0, 4, 0x58554747u /* "GGUX" */, TL_E_FORMAT, "bad magic");
    mutated("version1.gguf", base, n, 4, 4, 1, TL_E_UNSUPPORTED, "GGUF version 1 is not supported");
    mutated("version2.gguf", base, n, 4, 4, 2, TL_E_UNSUPPORTED, "GGUF version 2 is not supported");
    mutated("n_kv_huge.gguf", base, n, 16, 8, 1ULL << 40, TL_E_FORMAT, "n_kv 1099511627776 cannot fit");
    mutated("string_past_eof.gguf", base, n, at(base, n, "general.name", 4), 8, 1ULL << 40, TL_E_FORMAT,
            "string length 1099511627776 runs past the end");
    mutated("bad_value_type.gguf", base, n, at(base, n, "general.name", 0), 4, 99, TL_E_FORMAT,
            "key 'general.name': invalid value type 99");
    mutated("data_past_end.gguf", base, n, at(base, n, "output_norm.weight", 4 + 8 + 4), 8, 1ULL << 20, TL_E_FORMAT,
            "tensor 'output_norm.weight': data [1048576, +32 bytes) runs past the end");
    mutated("misaligned_offset.gguf", base, n, at(base, n, "output_norm.weight", 4 + 8 + 4), 8, 4, TL_E_FORMAT,
            "data offset 4 is not a multiple of the alignment 32");
    mutated("n_dims_0.gguf", base, n, at(base, n, "output_norm.weight", 0), 4, 0, TL_E_FORMAT,
            "tensor 'output_norm.weight': n_dims 0 is not in 1..4");
    mutated("n_dims_5.gguf", base, n, at(base, n, "output_norm.weight", 0), 4, 5, TL_E_FORMAT,
            "tensor 'output_norm.weight': n_dims 5 is not in 1..4");
    mutated("dim_zero.gguf", base, n, at(base, n, "output_norm.weight", 4), 8, 0, TL_E_FORMAT,
            "dimension 0 has invalid size 0");
    mutated("dim_negative.gguf", base, n, at(base, n, "output_norm.weight", 4), 8, UINT64_MAX, TL_E_FORMAT,
            "dimension 0 has invalid size 18446744073709551615");
    mutated("dim_huge.gguf", base, n, at(base, n, "output_norm.weight", 4), 8, 1ULL << 40, TL_E_FORMAT,
            "+4398046511104 bytes) runs past the end");
    {
        uint8_t *b = malloc(n);
        memcpy(b, base, n);
        size_t ne = at(b, n, "token_embd.weight", 4);
        put64(b, ne, 1ULL << 32);
        put64(b, ne + 8, 1ULL << 32);
        check_case("elements_overflow.gguf", b, n, TL_E_FORMAT, "element count overflows 64 bits");
        memcpy(b, base, n);
        memcpy(b + at(b, n, "blk.0.attn_k.weight", 0) - 13, "attn_q", 6);
        check_case("duplicate_tensor.gguf", b, n, TL_E_FORMAT, "duplicate tensor 'blk.0.attn_q.weight'");
        memcpy(b, base, n);
        memcpy(b + at(b, n, "blk.0.ffn_up.weight", 0) - 13, "ffn_UP", 6);
        check_case("missing_tensor.gguf", b, n, TL_E_FORMAT, "missing tensor 'blk.0.ffn_up.weight'");
        memcpy(b, base, n);
        put32(b, at(b, n, "output_norm.weight", 4 + 8), 4);
        check_case("bad_tensor_type.gguf", b, n, TL_E_FORMAT, "invalid ggml type 4");
        /* another family (issue 12 point 5): refused by name, with the families tiller reads */
        memcpy(b, base, n);
        const uint8_t *arch = find(b, n, "general.architecture", 20);
        CHECK(arch != NULL, "general.architecture key");
        if (arch) memcpy(b + (arch - b) + 20 + 4 + 8, "gemma", 5); /* key, u32 type, u64 length, "llama" */
        check_case("unsupported_arch.gguf", b, n, TL_E_UNSUPPORTED,
                   "general.architecture 'gemma' is not supported (llama, qwen2, gptneox, olmo)");
        free(b);
    }
    from_knobs("q8_block.gguf", (knobs){.n_tokens = V, .q8_type = 1}, TL_E_FORMAT,
               "8 columns are not a multiple of the Q8_0 block size 32");
    from_knobs("vocab_mismatch.gguf", (knobs){.n_tokens = V - 1}, TL_E_FORMAT,
               "the vocabulary has 15 tokens but token_embd.weight has 16 rows");
    from_knobs("vocab_bad_utf8.gguf", (knobs){.n_tokens = V, .bad_utf8 = 1}, TL_E_FORMAT, "token 5 is not valid UTF-8");
    from_knobs("bad_alignment.gguf", (knobs){.n_tokens = V, .bad_alignment = 1}, TL_E_FORMAT,
               "general.alignment 3 is not a power of 2");
    from_knobs("block_count_small.gguf", (knobs){.n_tokens = V, .n_layers = 2, .block_count = 1}, TL_E_FORMAT,
               "tensor 'blk.1.attn_norm.weight' belongs to block 1, but llama.block_count is 1");
    from_knobs("vocab_nan_score.gguf", (knobs){.n_tokens = V, .nan_score = 1}, TL_E_FORMAT,
               "token 4 has a non-finite score (nan)");
    {
        uint8_t *b = malloc(n); /* blk.0.attn_k.weight's data offset set to token_embd.weight's (0) */
        memcpy(b, base, n);
        put64(b, at(b, n, "blk.0.attn_k.weight", 4 + 2 * 8 + 4), 0);
        check_case("overlap.gguf", b, n, TL_E_FORMAT, "and 'blk.0.attn_k.weight' [0, ...) overlap");
        free(b);
    }
    from_knobs("wrong_key_type.gguf", (knobs){.n_tokens = V, .string_layers = 1}, TL_E_FORMAT,
               "key 'llama.block_count' has type string, expected an integer");

    /* nested arrays are valid GGUF: an array of two arrays (u8 [1,2], string ["x"]) */
    {
        static const uint8_t nested[] = {
            'G', 'G', 'U', 'F', 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, /* 0 tensors, 1 kv */
            3, 0, 0, 0, 0, 0, 0, 0, 'n', 'e', 's', 9, 0, 0, 0,  /* key "nes", array */
            9, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,                 /* of 2 arrays */
            0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2,           /* u8 [1, 2] */
            8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 'x'}; /* string ["x"] */
        tl_gguf *g = NULL;
        CHECK_OK(tl_gguf_open_memory(nested, sizeof nested, "nested", &g));
        const tl_gguf_kv *kv = g ? tl_gguf_find(g, "nes") : NULL;
        CHECK(kv && kv->type == TL_GGUF_ARRAY && kv->arr_type == TL_GGUF_ARRAY && kv->n == 2, "nested array parsed");
        tl_gguf_close(g);
        g = NULL;
        CHECK(tl_gguf_open_memory(nested, sizeof nested - 1, "nested", &g) == TL_E_FORMAT, "truncated nested array");
        tl_gguf_close(g);
    }
    sync_file(CORPUS "/cases.tsv", manifest, strlen(manifest)); /* read by tests/unit/test_corpus.c */
    fuzz_memory(base, n);
    tl_free(base);
    return tl_test_done();
}
