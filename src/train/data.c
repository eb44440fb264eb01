/*
 * data.c: token files and batches.
 *
 *   tl_token_builder  documents collected in memory -> a token file with a held-out
 *                     validation split chosen by seed (written via tl_out_file);
 *   tl_token_file     the file mapped read-only, every count and id checked on open;
 *   tl_batcher        windows of T+1 tokens in an order shuffled per epoch, with a
 *                     two-number position (epoch, pos) that checkpoints save, so a
 *                     resumed run sees exactly the batches it would have seen.
 *
 * The layout is described in train.h.
 */
#include <math.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"
#include "token_file.h"

/* ---- builder ------------------------------------------------------------ */

tl_status tl_token_builder_init(tl_token_builder *b, int vocab_size) {
    memset(b, 0, sizeof *b);
    if (vocab_size <= 0 || vocab_size > (1 << 30))
        return tl_errorf(TL_E_ARG, "token file: invalid vocabulary size %d", vocab_size);
    b->vocab_size = vocab_size;
    b->token_bytes = vocab_size <= 65535 ? 2 : 4;
    b->cap_docs = 1024;
    b->doc_off = tl_malloc((size_t)(b->cap_docs + 1) * sizeof *b->doc_off);
    b->prompt_len = tl_malloc((size_t)b->cap_docs * sizeof *b->prompt_len);
    b->cap_tokens = 1 << 16;
    b->tokens = tl_malloc((size_t)b->cap_tokens * (size_t)b->token_bytes);
    if (!b->doc_off || !b->prompt_len || !b->tokens) {
        tl_token_builder_free(b);
        return tl_errorf(TL_E_NOMEM, "token file: out of memory");
    }
    b->doc_off[0] = 0;
    return TL_OK;
}

void tl_token_builder_free(tl_token_builder *b) {
    if (!b) return;
    tl_free(b->doc_off);
    tl_free(b->prompt_len);
    tl_free(b->tokens);
    memset(b, 0, sizeof *b);
}

/* Grow a buffer of *cap elements of `size` bytes (+extra) to hold at least `need`. */
static tl_status grow(void **p, int64_t *cap, int64_t need, size_t size, size_t extra) {
    if (need <= *cap) return TL_OK;
    int64_t c = *cap;
    while (c < need) {
        if (c > INT64_MAX / 2) return tl_errorf(TL_E_NOMEM, "token file: too many tokens");
        c *= 2;
    }
    size_t bytes;
    if (!tl_mul_size((size_t)c + extra, size, &bytes))
        return tl_errorf(TL_E_NOMEM, "token file: size overflows");
    void *q = tl_realloc(*p, bytes);
    if (!q) return tl_errorf(TL_E_NOMEM, "token file: cannot grow to %zu bytes", bytes);
    *p = q;
    *cap = c;
    return TL_OK;
}

tl_status tl_token_builder_add(tl_token_builder *b, const int32_t *ids, size_t n, size_t prompt_len) {
    if (n == 0) return TL_OK;
    if (prompt_len > n)
        return tl_errorf(TL_E_ARG, "token file: prompt length %zu > document length %zu", prompt_len, n);
    if (n > UINT32_MAX) return tl_errorf(TL_E_RANGE, "token file: document of %zu tokens is too long", n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= b->vocab_size)
            return tl_errorf(TL_E_RANGE, "token file: token id %d (document %lld, index %zu) outside the vocabulary of %d",
                             ids[i], (long long)b->n_docs, i, b->vocab_size);
    tl_status s;
    void *p = b->doc_off;
    int64_t cap = b->cap_docs;
    if ((s = grow(&p, &cap, b->n_docs + 1, sizeof *b->doc_off, 1)) != TL_OK) return s;
    b->doc_off = p;
    if (cap != b->cap_docs) {
        p = b->prompt_len;
        int64_t cap2 = b->cap_docs;
        if ((s = grow(&p, &cap2, cap, sizeof *b->prompt_len, 0)) != TL_OK) return s;
        b->prompt_len = p;
        b->cap_docs = cap;
    }
    p = b->tokens;
    if ((s = grow(&p, &b->cap_tokens, b->n_tokens + (int64_t)n, (size_t)b->token_bytes, 0)) != TL_OK)
        return s;
    b->tokens = p;
    for (size_t i = 0; i < n; i++) {
        if (b->token_bytes == 2) {
            uint16_t v = (uint16_t)ids[i];
            memcpy(b->tokens + (size_t)(b->n_tokens + (int64_t)i) * 2, &v, 2);
        } else {
            uint32_t v = (uint32_t)ids[i];
            memcpy(b->tokens + (size_t)(b->n_tokens + (int64_t)i) * 4, &v, 4);
        }
    }
    b->prompt_len[b->n_docs] = (uint32_t)prompt_len;
    if (prompt_len) b->any_prompt = 1;
    b->n_tokens += (int64_t)n;
    b->n_docs++;
    b->doc_off[b->n_docs] = (uint64_t)b->n_tokens;
    return TL_OK;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

tl_status tl_token_builder_write(const tl_token_builder *b, const char *path, double val_frac,
                                 uint64_t seed) {
    if (!(val_frac >= 0.0 && val_frac < 1.0))
        return tl_errorf(TL_E_ARG, "%s: validation fraction %g is not in [0, 1)", path, val_frac);
    if (b->n_docs == 0) return tl_errorf(TL_E_ARG, "%s: no documents to write", path);
    int64_t nd = b->n_docs;
    /* Choose the held-out documents: a seeded partial Fisher-Yates shuffle of the
     * document indices; the first n_val of it are validation. */
    int64_t n_val = (int64_t)llround(val_frac * (double)nd);
    if (val_frac > 0 && n_val == 0 && nd >= 2) n_val = 1;
    if (n_val >= nd) n_val = nd - 1;
    uint8_t *is_val = tl_calloc((size_t)nd, 1);
    int64_t *perm = tl_malloc((size_t)nd * sizeof *perm);
    if (!is_val || !perm) {
        tl_free(is_val);
        tl_free(perm);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    for (int64_t i = 0; i < nd; i++) perm[i] = i;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int64_t i = 0; i < n_val; i++) {
        int64_t j = i + (int64_t)tl_rng_below(&rng, (uint64_t)(nd - i));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
        is_val[perm[i]] = 1;
    }
    tl_free(perm);

    uint64_t n_tok[2] = {0, 0};
    for (int64_t d = 0; d < nd; d++) n_tok[is_val[d]] += b->doc_off[d + 1] - b->doc_off[d];
    uint8_t hdr[TL_TOKENS_HEADER] = {0};
    memcpy(hdr, TL_TOKENS_MAGIC, 8);
    put_u32(hdr + 8, TL_TOKENS_VERSION);
    put_u32(hdr + 12, (uint32_t)b->token_bytes);
    put_u32(hdr + 16, (uint32_t)b->vocab_size);
    put_u32(hdr + 20, b->any_prompt ? TL_TOKENS_PROMPTS : 0);
    put_u64(hdr + 24, (uint64_t)(nd - n_val));
    put_u64(hdr + 32, (uint64_t)n_val);
    put_u64(hdr + 40, n_tok[0]);
    put_u64(hdr + 48, n_tok[1]);
    put_u64(hdr + 56, seed);

    tl_out_file o;
    tl_status s = tl_out_open(&o, path);
    if (s) {
        tl_free(is_val);
        return s;
    }
    s = tl_out_write(&o, hdr, sizeof hdr);
    /* document offsets: train documents in input order, then validation ones */
    uint64_t at = 0;
    for (int split = 0; split < 2 && s == TL_OK; split++)
        for (int64_t d = 0; d < nd && s == TL_OK; d++)
            if (is_val[d] == split) {
                s = tl_out_write(&o, &at, 8);
                at += b->doc_off[d + 1] - b->doc_off[d];
            }
    if (s == TL_OK) s = tl_out_write(&o, &at, 8);
    if (b->any_prompt) {
        for (int split = 0; split < 2 && s == TL_OK; split++)
            for (int64_t d = 0; d < nd && s == TL_OK; d++)
                if (is_val[d] == split) s = tl_out_write(&o, &b->prompt_len[d], 4);
        static const uint8_t zeros[8];
        if (s == TL_OK && (nd & 1)) s = tl_out_write(&o, zeros, 4);
    }
    for (int split = 0; split < 2 && s == TL_OK; split++)
        for (int64_t d = 0; d < nd && s == TL_OK; d++)
            if (is_val[d] == split) {
                size_t tb = (size_t)b->token_bytes;
                s = tl_out_write(&o, b->tokens + b->doc_off[d] * tb,
                                 (size_t)(b->doc_off[d + 1] - b->doc_off[d]) * tb);
            }
    tl_free(is_val);
    if (s != TL_OK) {
        tl_out_abort(&o);
        return s;
    }
    return tl_out_commit(&o);
}

/* ---- reading ------------------------------------------------------------ */

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static uint64_t get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* FNV-1a over 8-byte words (and the tail bytes): cheap enough to run on every open. */
static uint64_t fingerprint(const uint8_t *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h ^ (uint64_t)n;
}

static tl_status open_fail(tl_token_file *f, tl_status s) {
    tl_token_file_free(f);
    return s;
}

tl_status tl_token_file_open(const char *path, tl_token_file **out) {
    *out = NULL;
    tl_token_file *f = tl_calloc(1, sizeof *f);
    if (!f) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    f->map.fd = -1;
    if (!(f->path = tl_strdup(path))) return open_fail(f, tl_errorf(TL_E_NOMEM, "%s: out of memory", path));
    tl_status s = tl_file_map_open(path, &f->map);
    if (s) return open_fail(f, s);
    const uint8_t *d = f->map.data;
    size_t size = f->map.size;
    if (size < TL_TOKENS_HEADER || memcmp(d, TL_TOKENS_MAGIC, 8) != 0)
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: not a tiller token file (bad magic or shorter than %d bytes)",
                                      path, TL_TOKENS_HEADER));
    uint32_t version = get_u32(d + 8), tb = get_u32(d + 12), vocab = get_u32(d + 16), flags = get_u32(d + 20);
    if (version != TL_TOKENS_VERSION)
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: version %u (this build reads %d)", path, version,
                                      TL_TOKENS_VERSION));
    if (tb != 2 && tb != 4)
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: token_bytes = %u (expected 2 or 4)", path, tb));
    if (vocab == 0 || vocab > (1u << 30) || (tb == 2 && vocab > 65535))
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: vocab_size = %u does not fit token_bytes %u", path, vocab, tb));
    if (flags & ~TL_TOKENS_PROMPTS)
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: unknown flags 0x%x", path, flags));
    uint64_t nd[2] = {get_u64(d + 24), get_u64(d + 32)}, nt[2] = {get_u64(d + 40), get_u64(d + 48)};
    /* Sizes from the file: bound each count by the file size before any arithmetic. */
    if (nd[0] > size / 8 || nd[1] > size / 8 || nt[0] > size / tb || nt[1] > size / tb)
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: counts (docs %llu + %llu, tokens %llu + %llu) exceed the file size %zu",
                                      path, (unsigned long long)nd[0], (unsigned long long)nd[1],
                                      (unsigned long long)nt[0], (unsigned long long)nt[1], size));
    uint64_t ndocs = nd[0] + nd[1], ntok = nt[0] + nt[1];
    if (ndocs == 0) return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: no documents", path));
    size_t off_bytes = (size_t)(ndocs + 1) * 8;
    size_t pl_bytes = (flags & TL_TOKENS_PROMPTS) ? (((size_t)ndocs * 4 + 7) & ~(size_t)7) : 0;
    size_t expect = TL_TOKENS_HEADER + off_bytes + pl_bytes + (size_t)ntok * tb;
    if (expect != size)
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: file has %zu bytes, the header (%llu documents, %llu tokens) needs %zu",
                                      path, size, (unsigned long long)ndocs, (unsigned long long)ntok, expect));
    f->token_bytes = (int)tb;
    f->vocab_size = (int)vocab;
    f->flags = flags;
    f->split_seed = get_u64(d + 56);
    for (int i = 0; i < 2; i++) {
        f->n_docs[i] = (int64_t)nd[i];
        f->n_tokens[i] = (int64_t)nt[i];
    }
    f->doc0[0] = 0;
    f->doc0[1] = (int64_t)nd[0];
    f->doc_off = (const uint64_t *)(d + TL_TOKENS_HEADER); /* 8-aligned: mappings are page-aligned */
    f->prompt_len = pl_bytes ? (const uint32_t *)(d + TL_TOKENS_HEADER + off_bytes) : NULL;
    f->tokens = d + TL_TOKENS_HEADER + off_bytes + pl_bytes;
    /* Offsets: start at 0, never decrease, the split boundary and the end agree with the header. */
    if (f->doc_off[0] != 0 || f->doc_off[ndocs] != ntok || f->doc_off[nd[0]] != nt[0])
        return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: document offsets do not match the token counts", path));
    for (uint64_t i = 0; i < ndocs; i++) {
        if (f->doc_off[i + 1] < f->doc_off[i])
            return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: document %llu: offset %llu < previous %llu", path,
                                          (unsigned long long)i + 1, (unsigned long long)f->doc_off[i + 1],
                                          (unsigned long long)f->doc_off[i]));
        if (f->prompt_len && f->prompt_len[i] > f->doc_off[i + 1] - f->doc_off[i])
            return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: document %llu: prompt length %u > document length %llu",
                                          path, (unsigned long long)i, f->prompt_len[i],
                                          (unsigned long long)(f->doc_off[i + 1] - f->doc_off[i])));
    }
    for (uint64_t i = 0; i < ntok; i++) {
        int32_t t = tl_token_file_at(f, (int64_t)i);
        if (t < 0 || (uint32_t)t >= vocab)
            return open_fail(f, tl_errorf(TL_E_FORMAT, "%s: token %llu: id %d outside the vocabulary of %u", path,
                                          (unsigned long long)i, t, vocab));
    }
    f->fingerprint = fingerprint(d, size);
    *out = f;
    return TL_OK;
}

void tl_token_file_free(tl_token_file *f) {
    if (!f) return;
    tl_file_map_close(&f->map);
    tl_free(f->path);
    tl_free(f);
}

int32_t tl_token_file_at(const tl_token_file *f, int64_t i) {
    return f->token_bytes == 2 ? (int32_t)((const uint16_t *)f->tokens)[i]
                               : (int32_t)((const uint32_t *)f->tokens)[i];
}
int64_t tl_token_file_n_docs(const tl_token_file *f, tl_split split) { return f->n_docs[split]; }
int64_t tl_token_file_n_tokens(const tl_token_file *f, tl_split split) { return f->n_tokens[split]; }
int tl_token_file_vocab_size(const tl_token_file *f) { return f->vocab_size; }
int tl_token_file_token_bytes(const tl_token_file *f) { return f->token_bytes; }
int tl_token_file_has_prompts(const tl_token_file *f) { return f->prompt_len != NULL; }

/* ---- batches ------------------------------------------------------------ */

tl_status tl_batch_new(int B, int T, tl_batch **out) {
    *out = NULL;
    if (B <= 0 || T <= 0 || B > (1 << 20) || T > (1 << 24))
        return tl_errorf(TL_E_ARG, "batch: invalid shape B = %d, T = %d", B, T);
    size_t n = (size_t)B * (size_t)(T + 1);
    tl_batch *b = tl_calloc(1, sizeof *b);
    if (!b) return tl_errorf(TL_E_NOMEM, "batch: out of memory");
    b->B = B;
    b->T = T;
    b->tokens = tl_calloc(n, sizeof *b->tokens);
    b->loss_mask = tl_calloc(n, 1);
    b->len = tl_calloc((size_t)B, sizeof *b->len);
    if (!b->tokens || !b->loss_mask || !b->len) {
        tl_batch_free(b);
        return tl_errorf(TL_E_NOMEM, "batch: cannot allocate %d x %d tokens", B, T + 1);
    }
    *out = b;
    return TL_OK;
}

void tl_batch_free(tl_batch *b) {
    if (!b) return;
    tl_free(b->tokens);
    tl_free(b->loss_mask);
    tl_free(b->len);
    tl_free(b);
}

struct tl_batcher {
    const tl_token_file *f;
    tl_split split;
    tl_window_mode mode;
    int T;
    int shuffle;
    uint64_t seed;
    int64_t n_windows;
    int64_t *docs;   /* DOCS mode: the split's documents with at least 2 tokens [n_windows] */
    int64_t *order;  /* [n_windows] this epoch's visiting order (shuffle only) */
    tl_batcher_state st;
};

/* The epoch's permutation: Fisher-Yates from an RNG seeded by (seed, epoch) alone, so
 * any epoch can be rebuilt on resume without replaying the earlier ones. */
static void make_order(tl_batcher *it) {
    if (!it->shuffle) return;
    int64_t n = it->n_windows;
    for (int64_t i = 0; i < n; i++) it->order[i] = i;
    tl_rng rng;
    tl_rng_seed(&rng, it->seed ^ (0x9e3779b97f4a7c15ULL * (it->st.epoch + 1)));
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)tl_rng_below(&rng, (uint64_t)(i + 1));
        int64_t t = it->order[i];
        it->order[i] = it->order[j];
        it->order[j] = t;
    }
}

tl_status tl_batcher_new(const tl_token_file *f, tl_split split, tl_window_mode mode, int T,
                         int shuffle, uint64_t seed, tl_batcher **out) {
    *out = NULL;
    const char *sname = split == TL_SPLIT_TRAIN ? "train" : "validation";
    if (T <= 0) return tl_errorf(TL_E_ARG, "%s: sequence length %d", f->path, T);
    tl_batcher *it = tl_calloc(1, sizeof *it);
    if (!it) return tl_errorf(TL_E_NOMEM, "batcher: out of memory");
    it->f = f;
    it->split = split;
    it->mode = mode;
    it->T = T;
    it->shuffle = shuffle;
    it->seed = seed;
    if (mode == TL_WINDOWS_PACKED) {
        it->n_windows = f->n_tokens[split] > T ? (f->n_tokens[split] - 1) / T : 0;
    } else {
        int64_t d0 = f->doc0[split], nd = f->n_docs[split];
        it->docs = tl_malloc((size_t)(nd ? nd : 1) * sizeof *it->docs);
        if (!it->docs) {
            tl_batcher_free(it);
            return tl_errorf(TL_E_NOMEM, "batcher: out of memory");
        }
        /* A window needs a token to predict: at least 2 tokens, and with prompt lengths a
         * completion token within its first T+1 (a long prompt can hide all of it). */
        int64_t hidden = 0;
        for (int64_t d = d0; d < d0 + nd; d++) {
            int64_t len = (int64_t)(f->doc_off[d + 1] - f->doc_off[d]), cut = len < T + 1 ? len : T + 1;
            int64_t first = f->prompt_len && f->prompt_len[d] > 1 ? f->prompt_len[d] : 1;
            if (len < 2) continue;
            if (first >= cut) hidden++;
            else it->docs[it->n_windows++] = d;
        }
        if (hidden)
            tl_logf(TL_LOG_WARN, "%s: %lld %s documents have no completion token within the first %d tokens "
                    "and are skipped", f->path, (long long)hidden, sname, T + 1);
    }
    if (it->n_windows == 0) {
        tl_batcher_free(it);
        return tl_errorf(TL_E_RANGE, "%s: the %s split (%lld tokens, %lld documents) holds no window of %d tokens",
                         f->path, sname, (long long)f->n_tokens[split], (long long)f->n_docs[split],
                         mode == TL_WINDOWS_PACKED ? T + 1 : 2);
    }
    if (shuffle) {
        it->order = tl_malloc((size_t)it->n_windows * sizeof *it->order);
        if (!it->order) {
            int64_t n = it->n_windows;
            tl_batcher_free(it);
            return tl_errorf(TL_E_NOMEM, "batcher: cannot allocate the order of %lld windows", (long long)n);
        }
        make_order(it);
    }
    *out = it;
    return TL_OK;
}

void tl_batcher_free(tl_batcher *it) {
    if (!it) return;
    tl_free(it->docs);
    tl_free(it->order);
    tl_free(it);
}

int64_t tl_batcher_windows(const tl_batcher *it) { return it->n_windows; }

/* The document holding token i of the file (binary search over doc_off). */
static int64_t doc_of(const tl_token_file *f, int64_t i) {
    int64_t lo = 0, hi = f->n_docs[0] + f->n_docs[1] - 1;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        if ((int64_t)f->doc_off[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* Row r of b <- window w: tokens, loss mask (prompt tokens 0) and length. */
static void fill_row(const tl_batcher *it, int64_t w, tl_batch *b, int r) {
    const tl_token_file *f = it->f;
    int T1 = it->T + 1;
    int32_t *tok = b->tokens + (size_t)r * T1;
    uint8_t *mask = b->loss_mask + (size_t)r * T1;
    int64_t start, n;
    if (it->mode == TL_WINDOWS_PACKED) {
        start = (int64_t)f->doc_off[f->doc0[it->split]] + w * it->T;
        n = T1;
    } else {
        int64_t d = it->docs[w];
        start = (int64_t)f->doc_off[d];
        n = (int64_t)(f->doc_off[d + 1] - f->doc_off[d]);
        if (n > T1) n = T1;
    }
    int64_t d = doc_of(f, start);
    for (int64_t t = 0; t < n; t++) {
        int64_t i = start + t;
        while ((int64_t)f->doc_off[d + 1] <= i) d++;
        tok[t] = tl_token_file_at(f, i);
        mask[t] = !f->prompt_len || i - (int64_t)f->doc_off[d] >= (int64_t)f->prompt_len[d];
    }
    for (int64_t t = n; t < T1; t++) {
        tok[t] = 0;
        mask[t] = 0;
    }
    b->len[r] = (int32_t)n;
}

void tl_batcher_next(tl_batcher *it, tl_batch *b) {
    for (int r = 0; r < b->B; r++) {
        if (it->st.pos >= (uint64_t)it->n_windows) {
            it->st.epoch++;
            it->st.pos = 0;
            make_order(it);
        }
        int64_t w = (int64_t)it->st.pos++;
        fill_row(it, it->shuffle ? it->order[w] : w, b, r);
    }
}

void tl_batcher_fill(const tl_batcher *it, int64_t first, tl_batch *b) {
    int T1 = it->T + 1;
    for (int r = 0; r < b->B; r++) {
        int64_t w = first + r;
        if (w >= 0 && w < it->n_windows) {
            fill_row(it, w, b, r);
        } else {
            memset(b->tokens + (size_t)r * T1, 0, (size_t)T1 * sizeof *b->tokens);
            memset(b->loss_mask + (size_t)r * T1, 0, (size_t)T1);
            b->len[r] = 0;
        }
    }
}

tl_batcher_state tl_batcher_get_state(const tl_batcher *it) { return it->st; }

tl_status tl_batcher_set_state(tl_batcher *it, tl_batcher_state st) {
    if (st.pos > (uint64_t)it->n_windows)
        return tl_errorf(TL_E_FORMAT, "%s: data position %llu is past the %lld windows of the split",
                         it->f->path, (unsigned long long)st.pos, (long long)it->n_windows);
    it->st = st;
    make_order(it);
    return TL_OK;
}
