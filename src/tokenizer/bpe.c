/* bpe.c: byte-level BPE (GPT-2 and its descendants). The text is cut into
 * words by the vocabulary's pre-tokenizer (pretok.c, tokenizer.ggml.pre);
 * each word's bytes are mapped to GPT-2's printable code points, split into
 * characters, and the adjacent pair with the lowest merge rank is merged
 * (ties: leftmost) until no pair has a rank. With Llama 3's pre-tokenizer a
 * word that is itself a token is taken whole (llama.cpp's ignore_merges).
 * Mirrors llama.cpp's BPE session. */
#include <string.h>

#include "base/heap.h"
#include "pretok.h"
#include "tok_internal.h"
#include "unicode.h"

/* ---- merges ----------------------------------------------------------------- */

typedef struct {
    int prev, next;
    size_t off, n;
} symbol;

typedef struct {
    int left, right;
    int32_t rank;
    size_t size;
} bigram;

typedef struct {
    const tl_tokenizer *t;
    tl_tok_ids *out;
    int ignore_merges;
    char *buf;    /* the byte-mapped word */
    symbol *sym;
    bigram *heap;
    size_t cap;   /* capacity (in bytes of mapped word) of the buffers above */
    size_t nh;
} bpe_ctx;

static int above(const bigram *a, const bigram *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

#define BPE_ABOVE(ctx, a, b) above(a, b)
TL_HEAP_DEFINE(bpe_heap, bigram, void *, BPE_ABOVE)

static void try_pair(bpe_ctx *c, int left, int right) {
    if (left < 0 || right < 0) return;
    const symbol *l = &c->sym[left], *r = &c->sym[right];
    int32_t rank = tl_tok_merge_rank(c->t, c->buf + l->off, l->n, c->buf + r->off, r->n);
    if (rank >= 0) bpe_heap_push(NULL, c->heap, &c->nh, (bigram){left, right, rank, l->n + r->n});
}

static void encode_word(void *user, const char *w, size_t wn) {
    bpe_ctx *c = user;
    if (c->out->err) return;
    size_t need = 2 * wn; /* mapped code points are below U+0200: at most 2 bytes each */
    if (need > c->cap) {
        tl_free(c->buf);
        tl_free(c->sym);
        tl_free(c->heap);
        c->cap = need;
        c->buf = tl_malloc(need);
        c->sym = tl_malloc(need * sizeof *c->sym);
        c->heap = tl_malloc(3 * need * sizeof *c->heap);
        if (!c->buf || !c->sym || !c->heap) {
            c->cap = 0;
            c->out->err = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory for a word of %zu bytes", wn);
            return;
        }
    }
    size_t n = 0;
    int ns = 0;
    for (size_t i = 0; i < wn; i++) {
        size_t k = tl_utf8_encode(tl_byte_to_cp((uint8_t)w[i]), c->buf + n);
        c->sym[ns] = (symbol){ns - 1, ns + 1, n, k};
        ns++;
        n += k;
    }
    if (ns == 0) return;
    if (c->ignore_merges) {
        int32_t whole = tl_tok_lookup(c->t, c->buf, n);
        if (whole >= 0) {
            tl_tok_ids_push(c->out, whole);
            return;
        }
    }
    c->sym[ns - 1].next = -1;
    c->nh = 0;
    for (int i = 1; i < ns; i++) try_pair(c, i - 1, i);
    while (c->nh) {
        bigram b = bpe_heap_pop(NULL, c->heap, &c->nh);
        symbol *l = &c->sym[b.left], *r = &c->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) c->sym[r->next].prev = b.left;
        try_pair(c, l->prev, b.left);
        try_pair(c, b.left, l->next);
    }
    for (int i = 0; i != -1; i = c->sym[i].next) {
        const symbol *s = &c->sym[i];
        int32_t id = tl_tok_lookup(c->t, c->buf + s->off, s->n);
        if (id >= 0) {
            tl_tok_ids_push(c->out, id);
            continue;
        }
        for (size_t j = 0; j < s->n; j++) { /* as llama.cpp: single bytes that are tokens */
            int32_t b = tl_tok_lookup(c->t, c->buf + s->off + j, 1);
            if (b >= 0) tl_tok_ids_push(c->out, b);
        }
    }
}

void tl_bpe_encode(const tl_tokenizer *t, const char *text, size_t len, tl_tok_ids *out) {
    if (out->err) return;
    tl_pretok_kind kind = TL_PRE_GPT2;
    int ignore_merges = 0;
    if (!tl_pretok_lookup(t->pre, strlen(t->pre), &kind, &ignore_merges)) {
        out->err = tl_errorf(TL_E_UNSUPPORTED, "tokenizer: pre-tokenizer '%s' is not supported (%s)", t->pre,
                             tl_pretok_supported());
        return;
    }
    bpe_ctx c = {.t = t, .out = out, .ignore_merges = ignore_merges};
    tl_status s = tl_pretok_split(kind, text, len, encode_word, &c);
    if (s && !out->err) out->err = s;
    tl_free(c.buf);
    tl_free(c.sym);
    tl_free(c.heap);
}
