/* Token files, batches, objectives and the checkpoint schedule:
 *   - builder -> file -> open round trip (uint16 and uint32, prompt lengths, the split);
 *   - the split is a function of the seed; the file is byte-identical for the same input;
 *   - malformed files (magic, version, truncation, counts, offsets, ids) -> TL_E_FORMAT;
 *   - packed and per-document windows hold the right tokens and loss masks;
 *   - batches are deterministic by seed, each epoch visits every window once, and a
 *     batcher restored from (epoch, pos) continues exactly like the original;
 *   - ntp / sft targets; log:K checkpoint steps; every allocation failure is reported. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <sys/stat.h>
#include <string.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"
#include "train/token_file.h"


/* Remove the test's scratch directory (tl_test_tmpdir) and everything in it. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}
static void rm_tmpdir(void) { nftw(tl_test_tmpdir(), rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char path_buf[512];
static const char *tmp(const char *name) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", tl_test_tmpdir(), name);
    return path_buf;
}

/* Documents of pseudo-random ids: doc d has 3 + (d * 7) % 40 tokens, BOS first. */
static tl_status build(tl_token_builder *b, int vocab, int n_docs, int with_prompts) {
    tl_status s = tl_token_builder_init(b, vocab);
    if (s) return s;
    int32_t ids[64];
    for (int d = 0; d < n_docs && s == TL_OK; d++) {
        int n = 3 + (d * 7) % 40;
        ids[0] = 1;
        for (int i = 1; i < n; i++) ids[i] = (d * 131 + i * 17) % vocab;
        s = tl_token_builder_add(b, ids, (size_t)n, with_prompts ? (size_t)(1 + d % 3) : 0);
    }
    return s;
}

static int read_file(const char *p, uint8_t **data, size_t *n) {
    char *d;
    if (tl_file_read_all(p, &d, n) != TL_OK) return -1;
    *data = (uint8_t *)d;
    return 0;
}

static void write_bytes(const char *p, const uint8_t *d, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(d, 1, n, f);
    fclose(f);
}

static void test_round_trip(int vocab, int with_prompts) {
    tl_token_builder b;
    CHECK_OK(build(&b, vocab, 50, with_prompts));
    const char *p = tmp("rt.tok");
    CHECK_OK(tl_token_builder_write(&b, p, 0.1, 42));
    tl_token_file *f = NULL;
    CHECK_OK(tl_token_file_open(p, &f));
    if (!f) {
        tl_token_builder_free(&b);
        return;
    }
    CHECK(f->token_bytes == (vocab <= 65535 ? 2 : 4), "token bytes %d for vocab %d", f->token_bytes, vocab);
    CHECK(f->n_docs[0] == 45 && f->n_docs[1] == 5, "split %lld + %lld", (long long)f->n_docs[0], (long long)f->n_docs[1]);
    CHECK(f->n_tokens[0] + f->n_tokens[1] == b.n_tokens, "token count %lld", (long long)(f->n_tokens[0] + f->n_tokens[1]));
    CHECK((f->prompt_len != NULL) == with_prompts, "prompt lengths present %d", f->prompt_len != NULL);
    /* Every input document appears exactly once, in input order within each split, with its prompt length. */
    int seen[50] = {0}, bad = 0, last[2] = {-1, -1};
    for (int64_t d = 0; d < 50; d++) {
        int split = d >= f->n_docs[0];
        int64_t n = (int64_t)(f->doc_off[d + 1] - f->doc_off[d]);
        int match = -1;
        for (int src = 0; src < 50 && match < 0; src++) {
            if (seen[src] || 3 + (src * 7) % 40 != n) continue;
            int ok = 1;
            for (int64_t i = 1; i < n && ok; i++)
                ok = tl_token_file_at(f, (int64_t)f->doc_off[d] + i) == (src * 131 + i * 17) % vocab;
            if (ok) match = src;
        }
        if (match < 0 || match < last[split]) bad++;
        else {
            seen[match] = 1;
            last[split] = match;
            if (with_prompts && f->prompt_len[d] != (uint32_t)(1 + match % 3)) bad++;
        }
    }
    CHECK(bad == 0, "%d documents missing, out of order or with a wrong prompt length", bad);
    tl_token_file_free(f);

    /* same input + seed -> same bytes; another seed -> another split */
    uint8_t *a = NULL, *c = NULL;
    size_t na = 0, nc = 0;
    read_file(p, &a, &na);
    CHECK_OK(tl_token_builder_write(&b, tmp("rt2.tok"), 0.1, 42));
    read_file(tmp("rt2.tok"), &c, &nc);
    CHECK(na == nc && a && c && !memcmp(a, c, na), "same seed gives identical files");
    tl_free(c);
    CHECK_OK(tl_token_builder_write(&b, tmp("rt3.tok"), 0.1, 43));
    read_file(tmp("rt3.tok"), &c, &nc);
    CHECK(a && c && (na != nc || memcmp(a, c, na)), "another seed gives another split");
    tl_free(a);
    tl_free(c);
    tl_token_builder_free(&b);
}

static void test_malformed(void) {
    tl_token_builder b;
    CHECK_OK(build(&b, 512, 20, 1));
    const char *p = tmp("good.tok");
    CHECK_OK(tl_token_builder_write(&b, p, 0.2, 1));
    tl_token_builder_free(&b);
    uint8_t *good = NULL;
    size_t n = 0;
    read_file(p, &good, &n);
    if (!good) return;
    uint8_t *d = tl_malloc(n + 16);
    struct {
        const char *what;
        size_t off;
        uint64_t value;
        int width; /* 1, 4, 8 bytes; 0 = truncate to `off` bytes */
    } cases[] = {
        {"bad magic", 0, 'X', 1},
        {"version 2", 8, 2, 4},
        {"token_bytes 3", 12, 3, 4},
        {"vocab too big for uint16", 16, 70000, 4},
        {"unknown flag", 20, 3, 4},
        {"huge doc count", 24, (uint64_t)1 << 60, 8},
        {"huge token count", 40, (uint64_t)1 << 62, 8},
        {"doc count off by one", 24, 15, 8},
        {"first offset not 0", 64, 1, 8},
        {"offsets decrease", 64 + 8 * 2, 0, 8},
        {"truncated header", 40, 0, 0},
        {"truncated tokens", n - 1, 0, 0},
        {"id outside vocabulary", n - 2, 0xffff, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(d, good, n);
        size_t len = n;
        if (cases[i].width == 0) len = cases[i].off;
        else if (cases[i].width == 1) d[cases[i].off] = (uint8_t)cases[i].value;
        else if (cases[i].width == 4 && cases[i].off == n - 2) {
            uint16_t v = (uint16_t)cases[i].value;
            memcpy(d + n - 2, &v, 2);
        } else memcpy(d + cases[i].off, &cases[i].value, (size_t)cases[i].width);
        write_bytes(tmp("bad.tok"), d, len);
        tl_token_file *f = NULL;
        tl_status s = tl_token_file_open(tmp("bad.tok"), &f);
        CHECK(s == TL_E_FORMAT && f == NULL && strstr(tl_last_error(), "bad.tok"), "%s: status %s, message '%s'",
              cases[i].what, tl_status_string(s), tl_last_error());
        tl_token_file_free(f);
    }
    tl_token_file *f = NULL;
    CHECK(tl_token_file_open(tmp("missing.tok"), &f) == TL_E_IO, "missing file -> TL_E_IO");
    tl_free(d);
    tl_free(good);
}

/* Packed windows: window w is tokens [w*T, w*T+T+1) of the split; masks follow prompt lengths. */
static void test_windows(void) {
    tl_token_builder b;
    CHECK_OK(build(&b, 512, 40, 1));
    const char *p = tmp("win.tok");
    CHECK_OK(tl_token_builder_write(&b, p, 0.25, 7));
    tl_token_builder_free(&b);
    tl_token_file *f = NULL;
    CHECK_OK(tl_token_file_open(p, &f));
    if (!f) return;
    int T = 16;
    tl_batcher *it = NULL;
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_VAL, TL_WINDOWS_PACKED, T, 0, 0, &it));
    tl_batch *bt = NULL;
    CHECK_OK(tl_batch_new(3, T, &bt));
    int64_t nw = tl_batcher_windows(it);
    CHECK(nw == (f->n_tokens[1] - 1) / T, "packed windows %lld", (long long)nw);
    int64_t base = (int64_t)f->doc_off[f->doc0[1]];
    int bad = 0;
    for (int64_t w = 0; w < nw; w += 3) {
        tl_batcher_fill(it, w, bt);
        for (int r = 0; r < 3; r++) {
            if (w + r >= nw) {
                bad += bt->len[r] != 0;
                continue;
            }
            bad += bt->len[r] != T + 1;
            for (int t = 0; t <= T; t++) {
                int64_t i = base + (w + r) * T + t, d = 0;
                while ((int64_t)f->doc_off[d + 1] <= i) d++;
                bad += bt->tokens[r * (T + 1) + t] != tl_token_file_at(f, i);
                bad += bt->loss_mask[r * (T + 1) + t] != (i - (int64_t)f->doc_off[d] >= (int64_t)f->prompt_len[d]);
            }
        }
    }
    CHECK(bad == 0, "%d wrong tokens/masks/lengths in packed windows", bad);
    tl_batcher_free(it);

    /* per-document windows: cut after T+1, padded with len and mask 0 */
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_DOCS, T, 0, 0, &it));
    CHECK(tl_batcher_windows(it) == f->n_docs[0], "doc windows %lld", (long long)tl_batcher_windows(it));
    bad = 0;
    for (int64_t w = 0; w < f->n_docs[0]; w += 3) {
        tl_batcher_fill(it, w, bt);
        for (int r = 0; r < 3 && w + r < f->n_docs[0]; r++) {
            int64_t d = w + r, n = (int64_t)(f->doc_off[d + 1] - f->doc_off[d]);
            int64_t want = n < T + 1 ? n : T + 1;
            bad += bt->len[r] != want;
            for (int t = 0; t <= T; t++) {
                int32_t tok = t < want ? tl_token_file_at(f, (int64_t)f->doc_off[d] + t) : 0;
                bad += bt->tokens[r * (T + 1) + t] != tok;
                bad += bt->loss_mask[r * (T + 1) + t] != (t < want && t >= (int)f->prompt_len[d]);
            }
        }
    }
    CHECK(bad == 0, "%d wrong tokens/masks/lengths in document windows", bad);
    tl_batcher_free(it);

    /* a split too short for one window */
    CHECK(tl_batcher_new(f, TL_SPLIT_VAL, TL_WINDOWS_PACKED, 100000, 0, 0, &it) == TL_E_RANGE && !it,
          "no window -> TL_E_RANGE: %s", tl_last_error());

    /* objectives: ntp counts every next token, sft only masked-in ones */
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_DOCS, T, 0, 0, &it));
    tl_batcher_fill(it, 0, bt);
    int32_t in[3 * 16], tg_ntp[3 * 16], tg_sft[3 * 16];
    tl_objective *ntp = NULL, *sft = NULL;
    tl_objective_ctx ctx = {3, T, 512, 1, 2};
    CHECK_OK(tl_objective_new("ntp", &ctx, &ntp));
    CHECK_OK(tl_objective_new("sft", &ctx, &sft));
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    tl_attn_spec attn;
    if (ntp && sft) {
        CHECK(ntp->windows == TL_WINDOWS_PACKED && sft->windows == TL_WINDOWS_DOCS, "window modes");
        CHECK_OK(ntp->make(ntp, bt, &rng, in, tg_ntp, &attn));
        CHECK(attn.mode == TL_ATTN_CAUSAL && attn.key_mask == NULL, "causal, no mask");
        CHECK_OK(sft->make(sft, bt, &rng, in, tg_sft, &attn));
        bad = 0;
        for (int r = 0; r < 3; r++)
            for (int t = 0; t < T; t++) {
                int k = r * T + t, len = bt->len[r];
                int32_t next = t + 1 < len ? bt->tokens[r * (T + 1) + t + 1] : -1;
                bad += in[k] != (t < len ? bt->tokens[r * (T + 1) + t] : 0);
                bad += tg_ntp[k] != next;
                bad += tg_sft[k] != (bt->loss_mask[r * (T + 1) + t + 1] ? next : -1);
            }
        CHECK(bad == 0, "%d wrong inputs/targets", bad);
    }
    tl_objective_free(ntp);
    tl_objective_free(sft);
    tl_objective *none = NULL;
    CHECK(tl_objective_new("bico2:p=1", &ctx, &none) == TL_E_ARG && !none && strstr(tl_last_error(), "ntp, sft") &&
              strstr(tl_last_error(), "'bico2'"),
          "unknown objective: %s", tl_last_error());
    CHECK(tl_objective_new("ntp:x=1", &ctx, &none) == TL_E_ARG && !none && strstr(tl_last_error(), "no options"),
          "options for an objective without any: %s", tl_last_error());
    CHECK(tl_objective_count() >= 2 && !strcmp(tl_objective_name(0), "ntp"), "registry");
    tl_batcher_free(it);
    tl_batch_free(bt);
    tl_token_file_free(f);
}

static uint64_t hash_batch(const tl_batch *b) {
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < b->B * (b->T + 1); i++) h = (h ^ (uint32_t)b->tokens[i]) * 1099511628211ULL;
    return h;
}

static void test_shuffle_resume(void) {
    tl_token_builder b;
    CHECK_OK(build(&b, 512, 60, 0));
    const char *p = tmp("sh.tok");
    CHECK_OK(tl_token_builder_write(&b, p, 0.0, 7));
    tl_token_builder_free(&b);
    tl_token_file *f = NULL;
    CHECK_OK(tl_token_file_open(p, &f));
    if (!f) return;
    CHECK(f->n_docs[1] == 0, "val-frac 0 holds nothing out");
    int T = 8;
    tl_batcher *a = NULL, *c = NULL, *d = NULL;
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 99, &a));
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 99, &c));
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 100, &d));
    tl_batch *ba = NULL, *bc = NULL, *bd = NULL;
    CHECK_OK(tl_batch_new(5, T, &ba));
    CHECK_OK(tl_batch_new(5, T, &bc));
    CHECK_OK(tl_batch_new(5, T, &bd));
    if (!a || !c || !d || !ba || !bc || !bd) return;
    int64_t nw = tl_batcher_windows(a);
    /* one epoch visits each window once: count window starts via the first token position */
    int same = 0, differ = 0;
    uint64_t hashes[200];
    for (int i = 0; i < 200; i++) {
        tl_batcher_next(a, ba);
        tl_batcher_next(c, bc);
        tl_batcher_next(d, bd);
        hashes[i] = hash_batch(ba);
        same += hash_batch(ba) == hash_batch(bc);
        differ += hash_batch(ba) != hash_batch(bd);
        if (i == 80) {
            /* restore a fresh batcher from a's position: it must continue identically */
            tl_batcher_state st = tl_batcher_get_state(a);
            CHECK(st.epoch * (uint64_t)nw + st.pos == 81 * 5, "position after 81 batches: epoch %llu pos %llu",
                  (unsigned long long)st.epoch, (unsigned long long)st.pos);
            tl_batcher *r = NULL;
            CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 99, &r));
            if (r) {
                CHECK_OK(tl_batcher_set_state(r, st));
                int eq = 1;
                tl_batch *x = NULL;
                tl_batch_new(5, T, &x);
                for (int k = 0; k < 60 && x; k++) {
                    tl_batcher_next(r, x);
                    tl_batcher_next(c, bc);
                    eq &= hash_batch(x) == hash_batch(bc);
                }
                /* c ran ahead by 60: rebuild it to stay in step with a */
                tl_batcher_free(c);
                c = NULL;
                CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 99, &c));
                CHECK_OK(tl_batcher_set_state(c, st));
                CHECK(eq, "a batcher restored from (epoch, pos) continues like the original");
                tl_batch_free(x);
                tl_batcher_free(r);
                tl_batcher_state bad = {0, (uint64_t)nw + 1};
                r = NULL;
                CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 99, &r));
                if (r) CHECK(tl_batcher_set_state(r, bad) == TL_E_FORMAT, "position past the split is rejected");
                tl_batcher_free(r);
            }
        }
    }
    CHECK(same == 200, "same seed, same batches (%d of 200)", same);
    CHECK(differ >= 190, "another seed, other batches (%d of 200 differ)", differ);
    /* epochs are permutations: the multiset of window hashes in epoch 0 equals the file order's */
    tl_batcher *seq = NULL, *sh = NULL;
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 0, 0, &seq));
    CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, T, 1, 5, &sh));
    tl_batch *one = NULL;
    CHECK_OK(tl_batch_new(1, T, &one));
    if (seq && sh && one) {
        uint64_t sum_a = 0, sum_b = 0, x_a = 0, x_b = 0;
        int moved = 0;
        for (int64_t w = 0; w < nw; w++) {
            tl_batcher_next(seq, one);
            uint64_t h1 = hash_batch(one);
            tl_batcher_next(sh, one);
            uint64_t h2 = hash_batch(one);
            sum_a += h1;
            sum_b += h2;
            x_a ^= h1 * 3;
            x_b ^= h2 * 3;
            moved += h1 != h2;
        }
        CHECK(sum_a == sum_b && x_a == x_b, "an epoch visits every window exactly once");
        CHECK(moved > nw / 2, "the order is shuffled (%d of %lld moved)", moved, (long long)nw);
        tl_batcher_state st = tl_batcher_get_state(sh);
        CHECK(st.pos == (uint64_t)nw && st.epoch == 0, "end of epoch 0");
        tl_batcher_next(sh, one);
        st = tl_batcher_get_state(sh);
        CHECK(st.epoch == 1 && st.pos == 1, "wraps into epoch 1");
    }
    (void)hashes;
    tl_batch_free(one);
    tl_batcher_free(seq);
    tl_batcher_free(sh);
    tl_batch_free(ba);
    tl_batch_free(bc);
    tl_batch_free(bd);
    tl_batcher_free(a);
    tl_batcher_free(c);
    tl_batcher_free(d);
    tl_token_file_free(f);
}

static void test_builder_errors(void) {
    tl_token_builder b;
    CHECK(tl_token_builder_init(&b, 0) == TL_E_ARG, "vocab 0 rejected");
    CHECK_OK(tl_token_builder_init(&b, 100));
    int32_t ids[3] = {1, 100, 2};
    CHECK(tl_token_builder_add(&b, ids, 3, 0) == TL_E_RANGE && strstr(tl_last_error(), "100"),
          "id outside the vocabulary: %s", tl_last_error());
    CHECK(tl_token_builder_add(&b, ids, 1, 2) == TL_E_ARG, "prompt longer than the document");
    CHECK(tl_token_builder_write(&b, tmp("empty.tok"), 0.1, 1) == TL_E_ARG, "no documents");
    CHECK_OK(tl_token_builder_add(&b, ids, 1, 0));
    CHECK(tl_token_builder_write(&b, tmp("x.tok"), 1.0, 1) == TL_E_ARG, "val-frac 1 rejected");
    CHECK(tl_token_builder_write(&b, "/proc/nope/x.tok", 0.1, 1) == TL_E_IO, "unwritable path: %s", tl_last_error());
    tl_token_builder_free(&b);

    /* .ids corpus: "|" marks the prompt; bad characters and ids are reported with the line */
    const char *p = tmp("c.ids");
    FILE *f = fopen(p, "w");
    fprintf(f, "1 5 6 | 7 8\n\n1 9 9 9\r\n");
    fclose(f);
    CHECK_OK(tl_token_builder_init(&b, 16));
    tl_corpus_opts co = {0};
    CHECK_OK(tl_corpus_add_file(&b, NULL, p, &co));
    CHECK(co.n_docs == 2 && b.n_tokens == 9 && b.prompt_len[0] == 3 && b.prompt_len[1] == 0,
          "ids corpus: %lld docs, %lld tokens, prompt %u", (long long)co.n_docs, (long long)b.n_tokens, b.prompt_len[0]);
    f = fopen(p, "w");
    fprintf(f, "1 2\n1 2 x\n");
    fclose(f);
    CHECK(tl_corpus_add_file(&b, NULL, p, &co) == TL_E_FORMAT && strstr(tl_last_error(), "line 2"),
          "bad character: %s", tl_last_error());
    f = fopen(p, "w");
    fprintf(f, "1 99999999999999\n");
    fclose(f);
    CHECK(tl_corpus_add_file(&b, NULL, p, &co) == TL_E_RANGE && strstr(tl_last_error(), "line 1"),
          "huge id: %s", tl_last_error());
    CHECK(tl_corpus_add_file(&b, NULL, tmp("t.txt"), &co) == TL_E_ARG, "text without a tokenizer");
    tl_token_builder_free(&b);
}

/* SFT windows: a document whose prompt fills its first T+1 tokens has nothing to predict. */
static void test_hidden_completion(void) {
    tl_token_builder b;
    CHECK_OK(tl_token_builder_init(&b, 64));
    int32_t ids[20];
    for (int i = 0; i < 20; i++) ids[i] = 1 + i;
    CHECK_OK(tl_token_builder_add(&b, ids, 20, 12)); /* prompt 12 >= T+1 = 9: skipped */
    CHECK_OK(tl_token_builder_add(&b, ids, 20, 8));  /* token 8 is completion: kept */
    CHECK_OK(tl_token_builder_add(&b, ids, 5, 2));   /* kept */
    CHECK_OK(tl_token_builder_add(&b, ids, 1, 0));   /* one token: nothing to predict */
    CHECK_OK(tl_token_builder_write(&b, tmp("hid.tok"), 0.0, 1));
    tl_token_builder_free(&b);
    tl_token_file *f = NULL;
    tl_batcher *it = NULL;
    CHECK_OK(tl_token_file_open(tmp("hid.tok"), &f));
    if (f) CHECK_OK(tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_DOCS, 8, 0, 0, &it));
    CHECK(it && tl_batcher_windows(it) == 2, "documents with something to predict: %lld",
          it ? (long long)tl_batcher_windows(it) : -1LL);
    tl_batcher_free(it);
    tl_token_file_free(f);
}

static void test_schedule(void) {
    int64_t *s = NULL;
    int n = 0;
    CHECK_OK(tl_train_schedule(1000, 0, 10, &s, &n));
    int64_t want[] = {0, 1, 4, 9, 21, 45, 99, 215, 464, 1000};
    CHECK(n == 10 && s && !memcmp(s, want, sizeof want), "log:10 over 1000 steps (%d points)", n);
    tl_free(s);
    CHECK_OK(tl_train_schedule(10, 0, 20, &s, &n));
    int ok = n == 11;
    for (int i = 0; i < n && ok; i++) ok = s[i] == i;
    CHECK(ok, "log:20 over 10 steps = every step 0..10 (%d points)", n);
    tl_free(s);
    CHECK_OK(tl_train_schedule(100, 30, 0, &s, &n));
    int64_t w2[] = {30, 60, 90, 100};
    CHECK(n == 4 && !memcmp(s, w2, sizeof w2), "every 30 over 100 (+ the last)");
    tl_free(s);
    CHECK_OK(tl_train_schedule(100, 25, 8, &s, &n));
    int64_t w3[] = {0, 1, 3, 6, 13, 25, 26, 50, 51, 75, 100};
    CHECK(n == 11 && !memcmp(s, w3, sizeof w3), "every 25 + log:8, merged and deduplicated (%d)", n);
    tl_free(s);
    /* K distinct points for every K <= steps + 1 */
    int all_ok = 1;
    for (int64_t steps = 1; steps < 60; steps++)
        for (int k = 2; k <= steps + 1; k++) {
            if (tl_train_schedule(steps, 0, k, &s, &n) != TL_OK) {
                all_ok = 0;
                continue;
            }
            all_ok &= n == k && s[0] == 0 && s[n - 1] == steps;
            for (int i = 1; i < n; i++) all_ok &= s[i] > s[i - 1];
            tl_free(s);
        }
    CHECK(all_ok, "log:K gives K distinct steps from 0 to the last");
    CHECK(tl_train_schedule(100, 0, 1, &s, &n) == TL_E_ARG, "log:1 rejected");
    CHECK(tl_train_schedule(0, 0, 5, &s, &n) == TL_E_ARG, "0 steps rejected");
}

/* Every allocation in build/write/open/batch fails once in turn: an error, never a crash or leak. */
static void test_nomem(void) {
    int failures = 0, crashes = 0;
    for (long k = 1; k < 60; k++) {
        tl_alloc_fail_after(k);
        tl_token_builder b;
        tl_status s = build(&b, 512, 30, 1);
        if (s == TL_OK) s = tl_token_builder_write(&b, tmp("nm.tok"), 0.2, 1);
        tl_token_builder_free(&b);
        tl_token_file *f = NULL;
        tl_batcher *it = NULL;
        tl_batch *bt = NULL;
        if (s == TL_OK) s = tl_token_file_open(tmp("nm.tok"), &f);
        if (s == TL_OK) s = tl_batcher_new(f, TL_SPLIT_TRAIN, TL_WINDOWS_PACKED, 8, 1, 1, &it);
        if (s == TL_OK) s = tl_batch_new(4, 8, &bt);
        if (s != TL_OK) {
            failures++;
            crashes += s != TL_E_NOMEM;
        }
        tl_batch_free(bt);
        tl_batcher_free(it);
        tl_token_file_free(f);
        tl_alloc_fail_after(0);
    }
    CHECK(failures > 5 && crashes == 0, "%d injected failures, %d with a status other than NOMEM", failures, crashes);
}

int main(void) {
    test_round_trip(512, 0);
    test_round_trip(512, 1);
    test_round_trip(70000, 1);
    test_malformed();
    test_windows();
    test_shuffle_resume();
    test_builder_errors();
    test_hidden_completion();
    test_schedule();
    test_nomem();
    rm_tmpdir();
    return tl_test_done();
}
