/* bpe.c: byte-level BPE (GPT-2). The text is cut into words by the GPT-2
 * pre-tokenizer pattern
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matched by hand over code points (classes from unicode_table.c); each
 * word's bytes are mapped to GPT-2's printable code points, split into
 * characters, and the adjacent pair with the lowest merge rank is merged
 * (ties: leftmost) until no pair has a rank. Mirrors llama.cpp's BPE session. */
#include <string.h>

#include "base/heap.h"
#include "tok_internal.h"
#include "unicode.h"

/* ---- the GPT-2 pre-tokenizer ----------------------------------------------- */

#define OUT_OF_RANGE 0xFFFFFFFFu

typedef struct {
    const uint32_t *cp;
    size_t n;
} cps;

static uint32_t cp_at(const cps *c, size_t i) { return i < c->n ? c->cp[i] : OUT_OF_RANGE; }
/* Class bits, or -1 past the end (so "not letter/number/space" needs a real code point). */
static int cls_at(const cps *c, size_t i) { return i < c->n ? tl_unicode_flags(c->cp[i]) : -1; }

/* Length in code points of the word starting at pos. */
static size_t gpt2_word(const cps *c, size_t pos) {
    uint32_t ch = cp_at(c, pos);
    if (ch == '\'' && pos + 1 < c->n) { /* 's 't 're 've 'm 'll 'd */
        uint32_t a = cp_at(c, pos + 1), b = cp_at(c, pos + 2);
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    }
    size_t start = pos;
    int f = ch == ' ' ? cls_at(c, pos + 1) : cls_at(c, pos);
    if (f >= 0 && (f & (TL_UC_LETTER | TL_UC_NUMBER))) { /* ' ?\p{L}+' or ' ?\p{N}+' */
        int want = f & TL_UC_LETTER ? TL_UC_LETTER : TL_UC_NUMBER;
        pos += ch == ' ';
        while (cls_at(c, pos) >= 0 && (cls_at(c, pos) & want)) pos++;
        return pos - start;
    }
    if (f >= 0 && !(f & (TL_UC_LETTER | TL_UC_NUMBER | TL_UC_SPACE))) { /* ' ?[^\s\p{L}\p{N}]+' */
        pos += ch == ' ';
        for (int g; (g = cls_at(c, pos)) >= 0 && !(g & (TL_UC_LETTER | TL_UC_NUMBER | TL_UC_SPACE));) pos++;
        return pos - start;
    }
    size_t ws = 0;
    while (cls_at(c, pos + ws) >= 0 && (cls_at(c, pos + ws) & TL_UC_SPACE)) ws++;
    if (ws > 1 && pos + ws < c->n) return ws - 1; /* '\s+(?!\S)': leave the last space to the next word */
    if (ws > 0) return ws;                         /* '\s+' */
    return 1;
}

tl_status tl_gpt2_split(const char *text, size_t len, void (*fn)(void *user, const char *w, size_t n), void *user) {
    if (len == 0) return TL_OK;
    uint32_t *cp = tl_malloc(len * sizeof *cp);
    char *word = tl_malloc(4 * len);
    if (!cp || !word) {
        tl_free(cp);
        tl_free(word);
        return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
    }
    cps c = {cp, 0};
    for (size_t i = 0; i < len;) {
        size_t used;
        cp[c.n++] = tl_utf8_decode((const uint8_t *)text + i, len - i, &used);
        i += used;
    }
    for (size_t pos = 0; pos < c.n;) {
        size_t k = gpt2_word(&c, pos), n = 0;
        for (size_t i = pos; i < pos + k; i++) n += tl_utf8_encode(cp[i], word + n);
        fn(user, word, n);
        pos += k;
    }
    tl_free(cp);
    tl_free(word);
    return TL_OK;
}

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
    bpe_ctx c = {.t = t, .out = out};
    tl_status s = tl_gpt2_split(text, len, encode_word, &c);
    if (s && !out->err) out->err = s;
    tl_free(c.buf);
    tl_free(c.sym);
    tl_free(c.heap);
}
