/* The BPE trainer (src/tokenizer/bpe_train.c):
 *   - its merges equal those of a naive reference trainer written here, which
 *     re-segments every word from scratch and recounts every pair at each step
 *     (no heap, no incremental counts), on tests/golden/bpe_train/corpus.txt;
 *   - every training word encodes with spm.c to exactly the trainer's pieces,
 *     and decode(encode(text)) == text line by line and whole, with byte
 *     fallback, multibyte UTF-8 and invalid bytes;
 *   - the vocabulary written as .gguf, .json and .bin loads back and, like the
 *     in-memory one, gives llama.cpp's ids (tests/golden/bpe_train/{extra,llama-spm,corpus}.out from
 *     tests/oracle/bpe_train_llama.py) on 111 test strings and the corpus;
 *   - the world corpus (seed 1): bytes per token on train and held-out text,
 *     and a ~5 MB real-text corpus from ../shared/data trained to 4096 in
 *     seconds (both printed);
 *   - same input, same bytes; bad options and input give clear errors; every
 *     allocation failure returns TL_E_NOMEM and leaves no file. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"
#include "tokenizer/tok_internal.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tiller/world.h"

#define GOLD "tests/golden/bpe_train/"
#define MARK "\xe2\x96\x81"

static char *slurp(const char *path, size_t *n) {
    char *d = NULL;
    size_t k = 0;
    if (tl_file_read_all(path, &d, &k) != TL_OK) return NULL;
    *n = k;
    return d;
}

static tl_bpe_trainer *train_files(const char *const *files, int n_files, int vocab, tl_tokenizer **t) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    o.vocab_size = vocab;
    tl_bpe_trainer *tr = NULL;
    *t = NULL;
    CHECK_OK(tl_bpe_trainer_new(&o, &tr));
    if (!tr) return NULL;
    for (int i = 0; i < n_files; i++) CHECK_OK(tl_bpe_trainer_add_file(tr, files[i]));
    CHECK_OK(tl_bpe_trainer_run(tr, t));
    return tr;
}

/* ---- (1) training words encode to the trainer's pieces ----------------------------- */

static void check_words(const tl_bpe_trainer *tr, const tl_tokenizer *t, const char *label) {
    size_t nw = tl_bpe_trainer_n_words(tr), same = 0;
    for (size_t i = 0; i < nw; i++) {
        const char *w;
        size_t len, n;
        int64_t count;
        int32_t ids[1024];
        if (tl_bpe_trainer_word(tr, i, &w, &len, &count, ids, &n) != TL_OK || len > 1024) continue;
        tl_tok_ids out = {0};
        tl_spm_encode(t, w, len, &out);
        int ok = !out.err && out.n == n && !memcmp(out.v, ids, n * sizeof *ids);
        if (!ok && same + 5 > i)
            fprintf(stderr, "  word '%.*s': trainer %zu ids, encoder %zu\n", (int)len, w, n, out.n);
        same += ok;
        tl_free(out.v);
    }
    printf("%s: %zu/%zu training words encode to the trainer's pieces\n", label, same, nw);
    CHECK(nw > 0 && same == nw, "%s: %zu of %zu words differ", label, nw - same, nw);
}

/* ---- (2) round trip ------------------------------------------------------------------ */

static char *decode(const tl_tokenizer *t, const int32_t *ids, size_t n, size_t *len) {
    size_t total = 0;
    for (size_t i = 0; i < n; i++) total += tl_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], NULL, 0);
    char *buf = malloc(total + 1);
    size_t at = 0;
    for (size_t i = 0; buf && i < n; i++)
        at += tl_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], buf + at, total - at);
    *len = at;
    return buf;
}

/* U+2581 read as a space, the one thing SentencePiece cannot tell apart: a
 * literal U+2581 decodes as a space, and a truncated UTF-8 sequence that
 * swallows part of an escaped space decodes to U+2581's bytes. */
static char *marks_as_spaces(const char *s, size_t n, size_t *out_n) {
    char *o = malloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; o && i < n;) {
        if (i + 3 <= n && !memcmp(s + i, MARK, 3)) {
            o[k++] = ' ';
            i += 3;
        } else {
            o[k++] = s[i++];
        }
    }
    *out_n = k;
    return o;
}

/* decode(encode(s)) == s, with U+2581 and space the same. Returns 1 when equal. */
static int round_trip(const tl_tokenizer *t, const char *s, size_t n, size_t *n_ids) {
    int32_t *ids = NULL;
    *n_ids = 0;
    if (tl_tokenizer_encode(t, s, n, 0, &ids, n_ids) != TL_OK) return 0;
    size_t dl, al, bl;
    char *d = decode(t, ids, *n_ids, &dl);
    tl_free(ids);
    char *a = d ? marks_as_spaces(d, dl, &al) : NULL, *b = marks_as_spaces(s, n, &bl);
    int ok = a && b && al == bl && !memcmp(a, b, al);
    free(d);
    free(a);
    free(b);
    return ok;
}

static void check_round_trip(const tl_tokenizer *t, const char *text, size_t len, const char *label) {
    size_t lines = 0, ok = 0, n_ids;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - text) - pos : len - pos;
        int good = round_trip(t, text + pos, n, &n_ids);
        if (!good && lines - ok < 3)
            fprintf(stderr, "  round trip fails: '%.*s'\n", (int)(n > 80 ? 80 : n), text + pos);
        ok += good;
        lines++;
        pos += n + 1;
    }
    int whole = round_trip(t, text, len, &n_ids);
    printf("%s: decode(encode(x)) == x for %zu/%zu lines and the whole text (%s)\n", label, ok, lines,
           whole ? "yes" : "no");
    CHECK(ok == lines && whole, "%s: %zu lines differ, whole %d", label, lines - ok, whole);
}

/* ---- the naive reference trainer ------------------------------------------------------ */

/* A string -> int map over strings held elsewhere (words or the vocabulary). */
typedef struct {
    const char **s;
    size_t *n;
    int64_t *val;
    int32_t *slot;
    size_t used, cap, n_slot;
} smap;

static uint64_t fnv(const char *s, size_t n) { return tl_tok_hash_bytes(TL_TOK_HASH_SEED, s, n); }

static int64_t *smap_get(smap *m, const char *s, size_t n, int create) {
    if (!m->n_slot) {
        m->n_slot = 1 << 16;
        m->slot = malloc(m->n_slot * sizeof *m->slot);
        memset(m->slot, 0xff, m->n_slot * sizeof *m->slot);
    }
    size_t mask = m->n_slot - 1;
    for (size_t i = (size_t)fnv(s, n) & mask;; i = (i + 1) & mask) {
        int32_t k = m->slot[i];
        if (k >= 0 && m->n[k] == n && !memcmp(m->s[k], s, n)) return &m->val[k];
        if (k >= 0) continue;
        if (!create) return NULL;
        if (m->used == m->cap) {
            m->cap = m->cap ? 2 * m->cap : 1024;
            m->s = realloc(m->s, m->cap * sizeof *m->s);
            m->n = realloc(m->n, m->cap * sizeof *m->n);
            m->val = realloc(m->val, m->cap * sizeof *m->val);
        }
        if (2 * m->used >= m->n_slot) abort(); /* the test's sizes stay far below */
        m->s[m->used] = s;
        m->n[m->used] = n;
        m->val[m->used] = 0;
        m->slot[i] = (int32_t)m->used;
        return &m->val[m->used++];
    }
}

static void smap_clear(smap *m) {
    if (m->slot) memset(m->slot, 0xff, m->n_slot * sizeof *m->slot);
    m->used = 0;
}

static void smap_free(smap *m) {
    free(m->s);
    free(m->n);
    free(m->val);
    free(m->slot);
}

static size_t n_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* A piece the trainer may make: <= 16 characters; U+2581 only in front unless
 * all U+2581; not a prefix or suffix of <unk>, <s>, </s> or any <0xHH>. */
static int valid_piece(const char *s, size_t n) {
    if (n_chars(s, n) > 16) return 0;
    int all = 1, inner = 0;
    for (size_t i = 0; i < n;) {
        int m = i + 3 <= n && !memcmp(s + i, MARK, 3);
        if (!m) all = 0;
        if (m && i > 0) inner = 1;
        i += m ? 3 : 1;
    }
    if (inner && !all) return 0;
    static char reserved[259][8];
    if (!reserved[0][0])
        for (int k = 0; k < 259; k++) {
            if (k < 3) snprintf(reserved[k], 8, "%s", k == 0 ? "<unk>" : k == 1 ? "<s>" : "</s>");
            else snprintf(reserved[k], 8, "<0x%02X>", k - 3);
        }
    for (int k = 0; k < 259; k++) {
        const char *r = reserved[k];
        size_t rn = strlen(r);
        if (n <= rn && (!memcmp(r, s, n) || !memcmp(r + rn - n, s, n))) return 0;
    }
    return 1;
}

/* Encode a word with the vocabulary so far: from single characters, merge the
 * adjacent pair making the lowest-ranked piece, leftmost first (O(n^2) scans). */
static size_t segment(smap *vocab, const char *w, size_t len, size_t *off, size_t *sl) {
    size_t n = 0;
    for (size_t i = 0; i < len; n++) {
        static const unsigned char lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
        size_t k = lens[(unsigned char)w[i] >> 4];
        if (k > len - i) k = len - i;
        off[n] = i;
        sl[n] = k;
        i += k;
    }
    for (;;) {
        size_t best = SIZE_MAX;
        int64_t best_rank = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            if (!smap_get(vocab, w + off[i], sl[i], 0) || !smap_get(vocab, w + off[i + 1], sl[i + 1], 0)) continue;
            int64_t *r = smap_get(vocab, w + off[i], sl[i] + sl[i + 1], 0);
            if (r && (best == SIZE_MAX || *r < best_rank)) {
                best = i;
                best_rank = *r;
            }
        }
        if (best == SIZE_MAX) return n;
        sl[best] += sl[best + 1];
        memmove(off + best + 1, off + best + 2, (n - best - 2) * sizeof *off);
        memmove(sl + best + 1, sl + best + 2, (n - best - 2) * sizeof *sl);
        n--;
    }
}

/* Train from the trainer's word table with recounting from scratch and compare
 * every merge with the tokenizer's pieces 259.. in order. */
static void check_naive(const tl_bpe_trainer *tr, const tl_tokenizer *t) {
    tl_bpe_train_stats st;
    tl_bpe_trainer_stats(tr, &st);
    smap vocab = {0}, counts = {0};
    /* base characters: the last n_base tokens; their ranks come before every merge */
    for (int i = 0; i < st.n_base_chars; i++) {
        size_t n;
        const char *p = tl_tokenizer_piece(t, 259 + st.n_merges + i, &n);
        *smap_get(&vocab, p, n, 1) = -1;
    }
    size_t nw = tl_bpe_trainer_n_words(tr);
    size_t off[1024], sl[1024];
    int same = 0;
    for (int k = 0; k < st.n_merges; k++) {
        smap_clear(&counts);
        for (size_t i = 0; i < nw; i++) {
            const char *w;
            size_t len, n_ids;
            int64_t count;
            int32_t ids[1024];
            if (tl_bpe_trainer_word(tr, i, &w, &len, &count, ids, &n_ids) != TL_OK) continue;
            size_t n = segment(&vocab, w, len, off, sl);
            for (size_t j = 0; j + 1 < n; j++) {
                const char *a = w + off[j];
                size_t pair = sl[j] + sl[j + 1];
                if (!smap_get(&vocab, a, sl[j], 0) || !smap_get(&vocab, a + sl[j], sl[j + 1], 0)) continue;
                if (valid_piece(a, pair)) *smap_get(&counts, a, pair, 1) += count;
            }
        }
        size_t best = SIZE_MAX;
        for (size_t c = 0; c < counts.used; c++) {
            if (counts.val[c] <= 0) continue;
            if (best == SIZE_MAX || counts.val[c] > counts.val[best]) {
                best = c;
                continue;
            }
            if (counts.val[c] < counts.val[best]) continue;
            size_t a = counts.n[c], b = counts.n[best];
            int cmp = memcmp(counts.s[c], counts.s[best], a < b ? a : b);
            if (cmp < 0 || (cmp == 0 && a < b)) best = c;
        }
        size_t pn;
        const char *piece = tl_tokenizer_piece(t, 259 + k, &pn);
        if (best == SIZE_MAX || counts.n[best] != pn || memcmp(counts.s[best], piece, pn)) {
            fprintf(stderr, "  merge %d: trainer '%.*s', reference '%.*s'\n", k, (int)pn, piece,
                    best == SIZE_MAX ? 4 : (int)counts.n[best], best == SIZE_MAX ? "none" : counts.s[best]);
            break;
        }
        *smap_get(&vocab, piece, pn, 1) = k; /* the string lives in the tokenizer */
        same++;
    }
    printf("naive reference trainer: %d/%d merges equal\n", same, st.n_merges);
    CHECK(st.n_merges > 0 && same == st.n_merges, "merges differ from merge %d", same);
    smap_free(&vocab);
    smap_free(&counts);
}

/* ---- (3, 4) llama.cpp's ids, through every file format --------------------------------- */

/* Encode each case (split as llama.cpp's test does) and compare with a line of ids. */
static int same_as_golden(const tl_tokenizer *t, const char *inp, const char *out, int *n_cases) {
    size_t ni, no;
    char *in = slurp(inp, &ni), *gold = slurp(out, &no);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int same = 0;
    *n_cases = 0;
    const char *g = gold;
    for (size_t pos = 0; in && gold && pos <= ni && g < gold + no;) {
        (*n_cases)++;
        const char *next = strstr(in + pos, sep);
        size_t len = next ? (size_t)(next - in) - pos : ni - pos;
        int32_t *ids = NULL;
        size_t n = 0;
        int ok = tl_tokenizer_encode(t, in + pos, len, 0, &ids, &n) == TL_OK;
        for (size_t k = 0; ok && k < n; k++) {
            char *end;
            long v = strtol(g, &end, 10);
            ok = end != g && v == ids[k];
            g = end;
        }
        while (*g == ' ') g++;
        ok = ok && (*g == '\n' || *g == 0);
        g = strchr(g, '\n');
        g = g ? g + 1 : gold + no;
        same += ok;
        tl_free(ids);
        if (!next) break;
        pos = (size_t)(next - in) + strlen(sep);
    }
    free(in);
    free(gold);
    return same;
}

static void check_llama(const tl_tokenizer *t, const char *label) {
    static const char *const inp[3] = {"tests/golden/tokenizer/extra.inp", NULL, GOLD "corpus.txt"};
    static const char *const out[3] = {GOLD "extra.out", GOLD "llama-spm.out", GOLD "corpus.out"};
    int same = 0, cases = 0;
    for (int i = 0; i < 3; i++) {
        char path[512];
        const char *spm = tl_test_shared("models/tokenizers/ggml-vocab-llama-spm.gguf.inp");
        snprintf(path, sizeof path, "%s", inp[i] ? inp[i] : spm);
        int c;
        same += same_as_golden(t, path, out[i], &c);
        cases += c;
    }
    printf("%s: %d/%d cases give llama.cpp's ids\n", label, same, cases);
    CHECK(cases == 111 && same == cases, "%s: %d/%d", label, same, cases);
}

static int same_file(const char *a, const char *b) {
    size_t na, nb;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static void test_golden_corpus(void) {
    const char *files[1] = {GOLD "corpus.txt"};
    tl_tokenizer *t;
    tl_bpe_trainer *tr = train_files(files, 1, 1000, &t);
    if (!tr || !t) return;
    tl_bpe_train_stats st;
    tl_bpe_trainer_stats(tr, &st);
    printf("golden corpus: %d tokens: %d base characters (coverage %.5f of %lld), %d merges, "
           "%lld words (%lld distinct)\n",
           st.n_vocab, st.n_base_chars, st.coverage, (long long)st.n_chars, st.n_merges, (long long)st.n_words,
           (long long)st.n_unique_words);
    CHECK(st.n_vocab == 1000 && tl_tokenizer_n_vocab(t) == 1000, "n_vocab %d", st.n_vocab);
    CHECK(st.n_base_chars < (int)st.n_distinct_chars, "some characters are left to byte fallback (%d of %lld)",
          st.n_base_chars, (long long)st.n_distinct_chars);
    /* layout: <unk> <s> </s>, 256 bytes, merges with score -rank, then characters */
    size_t n;
    CHECK(!strcmp(tl_tokenizer_piece(t, 0, &n), "<unk>") && !strcmp(tl_tokenizer_piece(t, 2, &n), "</s>") &&
              !strcmp(tl_tokenizer_piece(t, 3 + 0x41, &n), "<0x41>") && tl_tokenizer_bos(t) == 1 &&
              tl_tokenizer_token_type(t, 3 + 0x41) == TL_TOKEN_BYTE,
          "reserved tokens");
    CHECK(t->score[259] == 0.0f && t->score[259 + 10] == -10.0f, "scores %g %g", (double)t->score[259],
          (double)t->score[269]);
    int reserved_texts = 0; /* never a piece that could spell a reserved token */
    for (int id = 259; id < 1000; id++) {
        const char *p = tl_tokenizer_piece(t, id, &n);
        int bad = n >= 2 && (p[0] == '<' || p[n - 1] == '>') && !valid_piece(p, n);
        if (bad) fprintf(stderr, "  piece %d '%.*s'\n", id, (int)n, p);
        reserved_texts += bad;
    }
    CHECK(reserved_texts == 0, "%d pieces are affixes of reserved texts", reserved_texts);

    check_naive(tr, t);
    check_words(tr, t, "golden corpus");
    size_t len;
    char *text = slurp(GOLD "corpus.txt", &len);
    if (text) check_round_trip(t, text, len, "golden corpus");
    check_llama(t, "trained (in memory)");

    /* the three files: each loads and encodes as llama.cpp does */
    char dir1[300], dir2[300], p1[3][340], p2[3][340];
    snprintf(dir1, sizeof dir1, "%s/a", tl_test_tmpdir());
    snprintf(dir2, sizeof dir2, "%s/b", tl_test_tmpdir());
    mkdir(dir1, 0755);
    mkdir(dir2, 0755);
    static const char *const ext[3] = {"gguf", "json", "bin"};
    const char *paths1[3], *paths2[3];
    for (int i = 0; i < 3; i++) {
        snprintf(p1[i], sizeof p1[i], "%s/tok.%s", dir1, ext[i]);
        snprintf(p2[i], sizeof p2[i], "%s/tok.%s", dir2, ext[i]);
        paths1[i] = p1[i];
        paths2[i] = p2[i];
    }
    CHECK_OK(tl_tokenizer_save_all(t, paths1, 3));
    for (int i = 0; i < 3; i++) {
        tl_tokenizer *u = NULL;
        CHECK_OK(tl_tokenizer_load(p1[i], &u));
        if (!u) continue;
        char label[64];
        snprintf(label, sizeof label, "trained, saved and loaded as .%s", ext[i]);
        CHECK(tl_tokenizer_n_vocab(u) == 1000, "%s: n_vocab %d", label, tl_tokenizer_n_vocab(u));
        check_llama(u, label);
        tl_tokenizer_free(u);
    }
    /* (6) determinism: a second training writes the same bytes */
    tl_tokenizer *t2;
    tl_bpe_trainer *tr2 = train_files(files, 1, 1000, &t2);
    if (t2) CHECK_OK(tl_tokenizer_save_all(t2, paths2, 3));
    int same = 0;
    for (int i = 0; i < 3; i++) same += same_file(p1[i], p2[i]);
    printf("determinism: %d/3 files byte-identical on a second training\n", same);
    CHECK(same == 3, "%d/3 identical", same);
    tl_tokenizer_free(t2);
    tl_bpe_trainer_free(tr2);
    free(text);
    tl_tokenizer_free(t);
    tl_bpe_trainer_free(tr);
}

/* --split-digits and a short --max-piece-length: no piece breaks them, and the
 * encoder still agrees with the trainer */
static void test_options(void) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    o.vocab_size = 800;
    o.split_digits = 1;
    o.max_piece_chars = 4;
    tl_bpe_trainer *tr = NULL;
    tl_tokenizer *t = NULL;
    CHECK_OK(tl_bpe_trainer_new(&o, &tr));
    if (tr) CHECK_OK(tl_bpe_trainer_add_file(tr, GOLD "corpus.txt"));
    if (tr) CHECK_OK(tl_bpe_trainer_run(tr, &t));
    if (t) {
        tl_bpe_train_stats st;
        tl_bpe_trainer_stats(tr, &st);
        int digits = 0, longer = 0;
        for (int id = 259; id < 259 + st.n_merges; id++) {
            size_t n;
            const char *p = tl_tokenizer_piece(t, id, &n);
            for (size_t i = 0; i < n; i++) digits += p[i] >= '0' && p[i] <= '9';
            longer += n_chars(p, n) > 4;
        }
        printf("split digits, pieces <= 4 characters: %d merges, %d with a digit, %d longer\n", st.n_merges, digits,
               longer);
        CHECK(st.n_merges > 100 && digits == 0 && longer == 0, "%d with digits, %d longer", digits, longer);
        check_words(tr, t, "split digits, short pieces");
        size_t len;
        char *text = slurp(GOLD "corpus.txt", &len);
        if (text) check_round_trip(t, text, len, "split digits, short pieces");
        free(text);
    }
    tl_tokenizer_free(t);
    tl_bpe_trainer_free(tr);
}

/* ---- (5) the world corpus and a real-text speed run -------------------------------------- */

static void test_world(void) {
    tl_world_opts wo;
    tl_world_opts_default(&wo);
    wo.seed = 1;
    char dir[300], train[340], valid[340];
    snprintf(dir, sizeof dir, "%s/world", tl_test_tmpdir());
    tl_world_summary sum;
    CHECK_OK(tl_world_generate(&wo, dir, &sum));
    snprintf(train, sizeof train, "%s/corpus/train.txt", dir);
    snprintf(valid, sizeof valid, "%s/corpus/valid.txt", dir);
    size_t tn, vn;
    char *tt = slurp(train, &tn), *vt = slurp(valid, &vn);
    if (!tt || !vt) {
        CHECK(0, "world corpus not written");
        return;
    }
    static const int sizes[2] = {2048, 4096};
    for (int k = 0; k < 2; k++) {
        const char *files[1] = {train};
        tl_tokenizer *t;
        tl_bpe_trainer *tr = train_files(files, 1, sizes[k], &t);
        if (!t) {
            tl_bpe_trainer_free(tr);
            continue;
        }
        tl_bpe_train_stats st;
        tl_bpe_trainer_stats(tr, &st);
        int32_t *ids = NULL;
        size_t n_train = 0, n_valid = 0;
        if (k == 0) { /* the whole-text count equals the trainer's: after this, trust its count */
            CHECK_OK(tl_tokenizer_encode(t, tt, tn, 0, &ids, &n_train));
            tl_free(ids);
            CHECK((int64_t)n_train == st.n_tokens, "whole-text encoding %zu tokens, trainer %lld", n_train,
                  (long long)st.n_tokens);
        }
        n_train = (size_t)st.n_tokens;
        CHECK_OK(tl_tokenizer_encode(t, vt, vn, 0, &ids, &n_valid));
        tl_free(ids);
        printf("world seed 1, vocab %d -> %d tokens (%d merges%s) in %.3f s: %.3f bytes/token on train.txt (%.2f MB), "
               "%.3f on held-out valid.txt\n",
               sizes[k], st.n_vocab, st.n_merges, st.n_vocab < sizes[k] ? ", no pair left" : "", st.seconds,
               (double)tn / (double)n_train, tn / 1e6, (double)vn / (double)n_valid);
        CHECK((double)tn / (double)n_train > 3.5, "compression %.3f", (double)tn / (double)n_train);
        if (k == 0) {
            check_words(tr, t, "world corpus");
            check_round_trip(t, vt, vn, "world valid.txt");
        }
        tl_tokenizer_free(t);
        tl_bpe_trainer_free(tr);
    }
    free(tt);
    free(vt);
    tl_test_rmtree(dir);
}

static void test_speed(void) {
    /* ~5 MB of real English text (JSON/CSV as plain text) from ../shared/data */
    static const char *const rel[] = {"data/stereoset/editbias_dev.json",
                                      "data/hh_rlhf/harmless-base_test_first1000.jsonl",
                                      "data/truthfulqa/mc_task.json", "data/trust/toxigen.csv",
                                      "data/reversal_curse/june_version_7921032488/all.jsonl"};
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    tl_bpe_trainer *tr = NULL;
    CHECK_OK(tl_bpe_trainer_new(&o, &tr));
    char *sample = NULL;
    size_t sample_len = 0;
    double t0 = tl_time_sec();
    for (size_t i = 0; tr && i < sizeof rel / sizeof *rel; i++) {
        size_t n;
        char *d = slurp(tl_test_shared(rel[i]), &n);
        CHECK(d != NULL, "%s missing", rel[i]);
        if (!d) continue;
        CHECK_OK(tl_bpe_trainer_add_text(tr, d, n));
        if (!sample) {
            sample = d;
            sample_len = n < 300000 ? n : 300000;
        } else {
            free(d);
        }
    }
    tl_tokenizer *t = NULL;
    if (tr) CHECK_OK(tl_bpe_trainer_run(tr, &t));
    double total = tl_time_sec() - t0;
    if (t) {
        tl_bpe_train_stats st;
        tl_bpe_trainer_stats(tr, &st);
        printf("real text: %.2f MB, %lld words (%lld distinct) -> %d tokens: %.2f s counting + %.2f s merging, "
               "%.3f bytes/token\n",
               st.n_bytes / 1e6, (long long)st.n_words, (long long)st.n_unique_words, st.n_vocab, total - st.seconds,
               st.seconds, (double)st.n_bytes / (double)st.n_tokens);
        CHECK(st.n_vocab == 4096 && st.n_bytes > 4500000, "vocab %d, %lld bytes", st.n_vocab, (long long)st.n_bytes);
        CHECK(total < 30.0, "training took %.1f s", total);
        check_words(tr, t, "real text");
        check_round_trip(t, sample, sample_len, "real text (first 300 kB)");
    }
    free(sample);
    tl_tokenizer_free(t);
    tl_bpe_trainer_free(tr);
}

/* ---- (7) bad options and input ------------------------------------------------------------ */

static tl_status write_file(const char *path, const char *s, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return TL_E_IO;
    fwrite(s, 1, n, f);
    fclose(f);
    return TL_OK;
}

static void expect(tl_status got, tl_status want, const char *needle, const char *what) {
    CHECK(got == want && strstr(tl_last_error(), needle), "%s: %s '%s' (want %s with '%s')", what,
          tl_status_string(got), tl_last_error(), tl_status_string(want), needle);
}

static tl_status train_one(const char *path, int vocab, tl_tokenizer **t) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    o.vocab_size = vocab;
    tl_bpe_trainer *tr;
    *t = NULL;
    tl_status s = tl_bpe_trainer_new(&o, &tr);
    if (s) return s;
    s = tl_bpe_trainer_add_file(tr, path);
    if (!s) s = tl_bpe_trainer_run(tr, t);
    tl_bpe_trainer_free(tr);
    return s;
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static void test_errors(void) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    tl_bpe_trainer *tr = NULL;
    o.vocab_size = 258;
    expect(tl_bpe_trainer_new(&o, &tr), TL_E_ARG, "vocab size 258", "vocab 258");
    o.vocab_size = 1 << 21;
    expect(tl_bpe_train_opts_check(&o), TL_E_ARG, "at most", "vocab 2^21");
    tl_bpe_train_opts_default(&o);
    o.char_coverage = 1.5;
    expect(tl_bpe_train_opts_check(&o), TL_E_ARG, "coverage 1.5", "coverage 1.5");
    o.char_coverage = NAN;
    expect(tl_bpe_train_opts_check(&o), TL_E_ARG, "coverage", "coverage NaN");
    tl_bpe_train_opts_default(&o);
    o.min_char_count = 0;
    expect(tl_bpe_train_opts_check(&o), TL_E_ARG, "min char count 0", "min count 0");
    tl_bpe_train_opts_default(&o);
    o.max_piece_chars = 1;
    expect(tl_bpe_train_opts_check(&o), TL_E_ARG, "max piece length 1", "piece length 1");

    const char *dir = tl_test_tmpdir();
    char path[400];
    tl_tokenizer *t = NULL;
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    expect(train_one(path, 512, &t), TL_E_IO, "missing.txt", "missing file");
    expect(train_one(dir, 512, &t), TL_E_IO, "not a regular file", "directory");
    snprintf(path, sizeof path, "%s/empty.txt", dir);
    write_file(path, "", 0);
    expect(train_one(path, 512, &t), TL_E_ARG, "corpus is empty", "empty file");
    snprintf(path, sizeof path, "%s/blank.jsonl", dir);
    write_file(path, "\n  \n\n", 5);
    expect(train_one(path, 512, &t), TL_E_ARG, "corpus is empty", "blank jsonl");
    snprintf(path, sizeof path, "%s/bad.jsonl", dir);
    const char *bad = "{\"text\": \"fine\"}\n{\"text\": \"unterminated}\n";
    write_file(path, bad, strlen(bad));
    expect(train_one(path, 512, &t), TL_E_FORMAT, "bad.jsonl:2: not a JSON object", "malformed jsonl");
    bad = "{\"text\": \"fine\"}\n\n{\"other\": 1}\n";
    write_file(path, bad, strlen(bad));
    expect(train_one(path, 512, &t), TL_E_FORMAT, "bad.jsonl:3: expected a \"text\" string", "jsonl keys");
    bad = "{\"text\": 5}\n";
    write_file(path, bad, strlen(bad));
    expect(train_one(path, 512, &t), TL_E_FORMAT, "bad.jsonl:1: \"text\" is not a string", "jsonl text type");
    bad = "{\"prompt\": \"a\", \"completion\": [1]}\n";
    write_file(path, bad, strlen(bad));
    expect(train_one(path, 512, &t), TL_E_FORMAT, "bad.jsonl:1: expected", "jsonl completion type");

    /* more characters reach the coverage than the vocabulary can hold */
    char many[4000];
    size_t n = 0;
    for (uint32_t cp = 0x4E00; cp < 0x4E00 + 300; cp++) n += tl_utf8_encode(cp, many + n);
    snprintf(path, sizeof path, "%s/cjk.txt", dir);
    write_file(path, many, n);
    expect(train_one(path, 400, &t), TL_E_ARG, "vocab size 400 is too small: 301 characters", "chars > vocab");

    /* a corpus that runs out of pairs: a smaller vocabulary that still encodes */
    snprintf(path, sizeof path, "%s/tiny.txt", dir);
    write_file(path, "ab ab abc", 9);
    CHECK_OK(train_one(path, 600, &t));
    if (t) {
        size_t nid;
        CHECK(tl_tokenizer_n_vocab(t) == 259 + 4 + 3 && round_trip(t, "abc ab", 6, &nid),
              "tiny corpus: %d tokens (259 + 4 characters + 3 merges)", tl_tokenizer_n_vocab(t));
    }
    tl_tokenizer_free(t);

    /* jsonl: prompt + completion is one text, {"text"} another */
    tl_bpe_train_opts_default(&o);
    snprintf(path, sizeof path, "%s/sft.jsonl", dir);
    bad = "{\"prompt\": \"User: hi\\nAssistant:\", \"completion\": \" hello there\"}\n{\"text\": \"plain text\"}\n";
    write_file(path, bad, strlen(bad));
    CHECK_OK(tl_bpe_trainer_new(&o, &tr));
    if (tr) {
        CHECK_OK(tl_bpe_trainer_add_file(tr, path));
        tl_bpe_train_stats st;
        tl_bpe_trainer_stats(tr, &st);
        CHECK(st.n_texts == 2 && st.n_bytes == (int64_t)(strlen("User: hi\nAssistant: hello there") + 10),
              "jsonl: %lld texts, %lld bytes", (long long)st.n_texts, (long long)st.n_bytes);
        /* words: ▁User : ▁hi \n Assistant : ▁hello ▁there ▁plain ▁text */
        CHECK(st.n_words == 10, "jsonl: %lld words", (long long)st.n_words);
        CHECK_OK(tl_bpe_trainer_run(tr, &t));
        tl_tokenizer *t2 = NULL;
        expect(tl_bpe_trainer_run(tr, &t2), TL_E_ARG, "already ran", "second run");
        expect(tl_bpe_trainer_add_text(tr, "x", 1), TL_E_ARG, "after training", "text after run");
        tl_tokenizer_free(t);
        tl_bpe_trainer_free(tr);
    }

    /* outputs are all or nothing: one unwritable path leaves none of them */
    snprintf(path, sizeof path, "%s/out", dir);
    mkdir(path, 0755);
    CHECK_OK(train_one(GOLD "corpus.txt", 600, &t));
    if (t) {
        char ok_path[500], bad_path[500];
        snprintf(ok_path, sizeof ok_path, "%s/tok.gguf", path);
        snprintf(bad_path, sizeof bad_path, "%s/no/such/dir/tok.json", path);
        const char *paths[2] = {ok_path, bad_path};
        expect(tl_tokenizer_save_all(t, paths, 2), TL_E_IO, "no/such/dir/tok.json", "unwritable output");
        CHECK(dir_entries(path) == 0, "%d files left in %s", dir_entries(path), path);
    }
    tl_tokenizer_free(t);
}

/* ---- allocation failures ---------------------------------------------------------------- */

static tl_status attempt(const char *text, size_t n, const char *out_dir) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    o.vocab_size = 420;
    tl_bpe_trainer *tr;
    tl_tokenizer *t = NULL;
    tl_status s = tl_bpe_trainer_new(&o, &tr);
    if (s) return s;
    s = tl_bpe_trainer_add_text(tr, text, n);
    if (!s) s = tl_bpe_trainer_run(tr, &t);
    char p[3][400];
    const char *paths[3];
    static const char *const ext[3] = {"gguf", "json", "bin"};
    for (int i = 0; i < 3; i++) {
        snprintf(p[i], sizeof p[i], "%s/tok.%s", out_dir, ext[i]);
        paths[i] = p[i];
    }
    if (!s) s = tl_tokenizer_save_all(t, paths, 3);
    tl_tokenizer_free(t);
    tl_bpe_trainer_free(tr);
    return s;
}

static void test_nomem(void) {
    size_t len;
    char *text = slurp(GOLD "corpus.txt", &len);
    if (!text) return;
    const char *tail = text + len - 4000; /* the adversarial lines */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/nomem", tl_test_tmpdir());
    mkdir(dir, 0755);
    int n, bad = 0, leftover = 0;
    for (n = 1; n < 200000; n++) {
        tl_alloc_fail_after(n);
        tl_status s = attempt(tail, 4000, dir);
        tl_alloc_fail_after(0);
        if (s == TL_OK) break;
        if (s != TL_E_NOMEM) {
            if (bad++ < 3) fprintf(stderr, "  allocation %d: %s: %s\n", n, tl_status_string(s), tl_last_error());
        }
        leftover += dir_entries(dir) != 0;
    }
    printf("allocation failures: %d points, %d wrong statuses, %d left files behind\n", n - 1, bad, leftover);
    CHECK(n > 100 && bad == 0 && leftover == 0, "%d wrong, %d leftovers", bad, leftover);
    free(text);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    test_golden_corpus();
    test_options();
    test_errors();
    test_nomem();
    test_world();
    test_speed();
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
