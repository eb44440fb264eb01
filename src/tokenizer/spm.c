/* spm.c: SentencePiece-style BPE with byte fallback, as llama.cpp's SPM
 * tokenizer does it: the text (already escaped: spaces as U+2581, dummy
 * prefix added by the caller) is split into UTF-8 characters; every adjacent
 * pair whose concatenation is a token goes into a max-heap keyed by that
 * token's score (ties: leftmost first); the best pair is merged and its new
 * neighbours are pushed, until no pair forms a token. Symbols that are not
 * tokens become their bytes' <0xXX> tokens. */
#include <string.h>

#include "base/heap.h"
#include "tok_internal.h"
#include "unicode.h"

typedef struct {
    int prev, next; /* neighbours in the chain, -1 at the ends */
    size_t off, n;  /* bytes [off, off+n) of the text; n = 0 once merged away */
} symbol;

typedef struct {
    int left, right;
    float score;
    size_t size; /* byte length of the pair when pushed (detects stale entries) */
} bigram;

typedef struct {
    bigram *v;
    size_t n;
} heap;

/* a ranks above b: higher score, then smaller left index */
static int above(const bigram *a, const bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

#define SPM_ABOVE(ctx, a, b) above(a, b)
TL_HEAP_DEFINE(spm_heap, bigram, void *, SPM_ABOVE)

static void try_pair(const tl_tokenizer *t, const char *text, const symbol *sym, int left, int right, heap *h) {
    if (left < 0 || right < 0) return;
    size_t n = sym[left].n + sym[right].n;
    int32_t id = tl_tok_lookup(t, text + sym[left].off, n);
    if (id < 0) return;
    spm_heap_push(NULL, h->v, &h->n, (bigram){left, right, t->score[id], n});
}

void tl_spm_encode(const tl_tokenizer *t, const char *text, size_t len, tl_tok_ids *out) {
    if (out->err || len == 0) return;
    /* at most len symbols; each merge pushes at most 2 pairs, plus len - 1 seeds */
    symbol *sym = tl_malloc(len * sizeof *sym);
    heap h = {tl_malloc(3 * len * sizeof *h.v), 0};
    if (!sym || !h.v) {
        tl_free(sym);
        tl_free(h.v);
        out->err = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
        return;
    }
    int ns = 0;
    for (size_t off = 0; off < len; ns++) {
        size_t n = tl_utf8_len((uint8_t)text[off]);
        if (n > len - off) n = len - off;
        sym[ns] = (symbol){ns - 1, off + n == len ? -1 : ns + 1, off, n};
        off += n;
    }
    for (int i = 1; i < ns; i++) try_pair(t, text, sym, i - 1, i, &h);
    while (h.n) {
        bigram b = spm_heap_pop(NULL, h.v, &h.n);
        symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; /* stale */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        try_pair(t, text, sym, l->prev, b.left, &h);
        try_pair(t, text, sym, b.left, l->next, &h);
    }
    for (int i = 0; i != -1; i = sym[i].next) {
        int32_t id = tl_tok_lookup(t, text + sym[i].off, sym[i].n);
        if (id >= 0) {
            tl_tok_ids_push(out, id);
            continue;
        }
        for (size_t j = 0; j < sym[i].n; j++) { /* byte fallback */
            int32_t b = t->byte_id[(uint8_t)text[sym[i].off + j]];
            if (b < 0) b = t->unk;
            if (b >= 0) tl_tok_ids_push(out, b);
        }
    }
    tl_free(sym);
    tl_free(h.v);
}
