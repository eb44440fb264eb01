/* tokenizer.c: the tokenizer handle — vocabulary storage and indexes, the
 * special-token split that runs before either encoder (as llama.cpp's
 * tokenizer_st_partition), decoding, load/save dispatch, and llama2.c's
 * tokenizer.bin (int32 max_token_length, then per token: f32 score, int32
 * length, bytes; llama2.c's export writes U+2581 as a plain space). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tok_gguf.h"
#include "tok_internal.h"
#include "unicode.h"

#define SPACE_MARK "\xe2\x96\x81" /* U+2581, SentencePiece's visible space */

/* ---- building --------------------------------------------------------------- */

void tl_tok_ids_push(tl_tok_ids *ids, int32_t id) {
    if (ids->err) return;
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 64;
        int32_t *v = tl_realloc(ids->v, cap * sizeof *v);
        if (!v) {
            ids->err = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory (%zu ids)", cap);
            return;
        }
        ids->v = v;
        ids->cap = cap;
    }
    ids->v[ids->n++] = id;
}

tl_status tl_tok_new(tl_tokenizer_kind kind, int n, tl_tokenizer **out) {
    *out = NULL;
    if (n <= 0 || n > TL_TOK_MAX_VOCAB)
        return tl_errorf(TL_E_FORMAT, "tokenizer: vocabulary size %d is out of range (1 .. %d)", n, TL_TOK_MAX_VOCAB);
    tl_tokenizer *t = tl_calloc(1, sizeof *t);
    if (!t) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
    t->kind = kind;
    t->n_vocab = n;
    t->off = tl_calloc((size_t)n, sizeof *t->off);
    t->len = tl_calloc((size_t)n, sizeof *t->len);
    t->score = tl_calloc((size_t)n, sizeof *t->score);
    t->type = tl_calloc((size_t)n, sizeof *t->type);
    t->attr = tl_calloc((size_t)n, sizeof *t->attr);
    t->pool_cap = (size_t)n * 8 + 64;
    t->pool = tl_malloc(t->pool_cap);
    if (!t->off || !t->len || !t->score || !t->type || !t->attr || !t->pool) {
        tl_tokenizer_free(t);
        return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory for %d tokens", n);
    }
    t->pool[0] = 0; /* every text starts as "" at offset 0 */
    t->pool_len = 1;
    t->bos = t->eos = t->unk = t->pad = -1;
    t->eot = t->eom = -1;
    t->add_space_prefix = kind == TL_TOK_SPM;
    snprintf(t->pre, sizeof t->pre, "%s", kind == TL_TOK_SPM ? "default" : "gpt-2");
    for (int i = 0; i < n; i++) t->type[i] = TL_TOKEN_NORMAL;
    *out = t;
    return TL_OK;
}

tl_status tl_tok_set(tl_tokenizer *t, int32_t id, const char *text, size_t len, float score, int32_t type) {
    if (len > UINT32_MAX / 2) return tl_errorf(TL_E_FORMAT, "tokenizer: token %d is %zu bytes long", id, len);
    if (t->pool_len + len + 1 > t->pool_cap) {
        size_t cap = t->pool_cap;
        while (cap < t->pool_len + len + 1) cap *= 2;
        char *p = tl_realloc(t->pool, cap);
        if (!p) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory (%zu bytes of token text)", cap);
        t->pool = p;
        t->pool_cap = cap;
    }
    memcpy(t->pool + t->pool_len, text, len);
    t->pool[t->pool_len + len] = 0;
    t->off[id] = t->pool_len;
    t->len[id] = (uint32_t)len;
    t->pool_len += len + 1;
    t->score[id] = score;
    t->type[id] = type;
    return TL_OK;
}

/* ---- hash tables -------------------------------------------------------------- */

static tl_status hash_init(tl_tok_hash *h, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    h->slot = tl_malloc(cap * sizeof *h->slot);
    if (!h->slot) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory for an index of %zu entries", n);
    memset(h->slot, 0xff, cap * sizeof *h->slot); /* -1 */
    h->cap = cap;
    return TL_OK;
}

int32_t tl_tok_lookup(const tl_tokenizer *t, const char *s, size_t n) {
    if (!t->index.slot) return -1;
    size_t mask = t->index.cap - 1, i = (size_t)tl_tok_hash_bytes(TL_TOK_HASH_SEED, s, n) & mask;
    for (int32_t id; (id = t->index.slot[i]) >= 0; i = (i + 1) & mask)
        if (t->len[id] == n && !memcmp(tl_tok_text(t, id), s, n)) return id;
    return -1;
}

tl_status tl_tok_build_index(tl_tokenizer *t, const char *what) {
    if (t->index.slot) return TL_OK;
    tl_status s = hash_init(&t->index, (size_t)t->n_vocab);
    if (s) return tl_error_prefix(s, "%s", what);
    size_t mask = t->index.cap - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!t->len[id]) continue; /* empty texts are never looked up */
        const char *txt = tl_tok_text(t, id);
        size_t i = (size_t)tl_tok_hash_bytes(TL_TOK_HASH_SEED, txt, t->len[id]) & mask;
        for (int32_t o; (o = t->index.slot[i]) >= 0; i = (i + 1) & mask)
            if (t->len[o] == t->len[id] && !memcmp(tl_tok_text(t, o), txt, t->len[id])) break;
        t->index.slot[i] = id; /* a duplicate text maps to its last id, as in llama.cpp */
    }
    return TL_OK;
}

static uint64_t pair_hash(const char *l, size_t ln, const char *r, size_t rn) {
    uint64_t h = tl_tok_hash_bytes(TL_TOK_HASH_SEED, l, ln);
    h = (h ^ 0xff) * 0x100000001b3ULL; /* separator: 0xff never occurs in UTF-8 */
    return tl_tok_hash_bytes(h, r, rn);
}

int32_t tl_tok_merge_rank(const tl_tokenizer *t, const char *l, size_t ln, const char *r, size_t rn) {
    if (!t->merge_index.slot) return -1;
    size_t mask = t->merge_index.cap - 1, i = (size_t)pair_hash(l, ln, r, rn) & mask;
    for (int32_t k; (k = t->merge_index.slot[i]) >= 0; i = (i + 1) & mask) {
        int32_t a = t->merge_left[k], b = t->merge_right[k];
        if (t->len[a] == ln && t->len[b] == rn && !memcmp(tl_tok_text(t, a), l, ln) &&
            !memcmp(tl_tok_text(t, b), r, rn))
            return k;
    }
    return -1;
}

tl_status tl_tok_add_merge(tl_tokenizer *t, const char *left, size_t llen, const char *right, size_t rlen,
                           const char *what) {
    tl_status s = tl_tok_build_index(t, what);
    if (s) return s;
    int32_t a = tl_tok_lookup(t, left, llen), b = tl_tok_lookup(t, right, rlen);
    if (a < 0 || b < 0)
        return tl_errorf(TL_E_FORMAT, "%s: merge %u: '%.*s' is not a token", what, t->n_merges,
                         (int)(a < 0 ? llen : rlen), a < 0 ? left : right);
    if (t->n_merges == t->cap_merges) {
        uint32_t cap = t->cap_merges ? 2 * t->cap_merges : 1024;
        int32_t *l = tl_realloc(t->merge_left, cap * sizeof *l);
        if (l) t->merge_left = l;
        int32_t *r = l ? tl_realloc(t->merge_right, cap * sizeof *r) : NULL;
        if (r) t->merge_right = r;
        if (!l || !r) return tl_errorf(TL_E_NOMEM, "%s: out of memory for %u merges", what, cap);
        t->cap_merges = cap;
    }
    t->merge_left[t->n_merges] = a;
    t->merge_right[t->n_merges] = b;
    t->n_merges++;
    return TL_OK;
}

static tl_status build_merge_index(tl_tokenizer *t, const char *what) {
    if (!t->n_merges) return TL_OK;
    tl_status s = hash_init(&t->merge_index, t->n_merges);
    if (s) return tl_error_prefix(s, "%s", what);
    size_t mask = t->merge_index.cap - 1;
    for (uint32_t k = 0; k < t->n_merges; k++) {
        int32_t a = t->merge_left[k], b = t->merge_right[k];
        if (tl_tok_merge_rank(t, tl_tok_text(t, a), t->len[a], tl_tok_text(t, b), t->len[b]) >= 0)
            continue; /* a repeated merge keeps its first (best) rank */
        size_t i = (size_t)pair_hash(tl_tok_text(t, a), t->len[a], tl_tok_text(t, b), t->len[b]) & mask;
        while (t->merge_index.slot[i] >= 0) i = (i + 1) & mask;
        t->merge_index.slot[i] = (int32_t)k;
    }
    return TL_OK;
}

static int cmp_u64(const void *x, const void *y) {
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return (a > b) - (a < b);
}

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == needle[i]) i++;
        if (i == n) return 1;
    }
    return 0;
}

tl_status tl_tok_finish(tl_tokenizer *t, const char *what, const char *name) {
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (!tl_utf8_valid(tl_tok_text(t, id), t->len[id]))
            return tl_errorf(TL_E_FORMAT, "%s: token %d is not valid UTF-8", what, id);
        /* scores order merges: a NaN compares false both ways and breaks the ordering */
        if (!isfinite(t->score[id]))
            return tl_errorf(TL_E_FORMAT, "%s: token %d has a non-finite score (%g)", what, id, (double)t->score[id]);
    }
    int32_t *ids[4] = {&t->bos, &t->eos, &t->unk, &t->pad};
    static const char *const names[4] = {"bos", "eos", "unknown", "padding"};
    for (int i = 0; i < 4; i++)
        if (*ids[i] < -1 || *ids[i] >= t->n_vocab)
            return tl_errorf(TL_E_FORMAT, "%s: %s token id %d is outside the vocabulary of %d", what, names[i],
                             *ids[i], t->n_vocab);
    tl_status s = tl_tok_build_index(t, what);
    if (!s) s = build_merge_index(t, what);
    if (s) return s;

    /* end-of-generation texts llama.cpp always treats as control tokens (its list as of
     * release v0.5.0: "</s>" too, which Qwen2's vocabulary has as an ordinary token) */
    static const char *const eog[] = {"<|eot_id|>", "<|im_end|>",     "<|end|>",           "<end_of_turn>",
                                      "<|endoftext|>", "<|eom_id|>", "<EOT>",            "_<EOT>",
                                      "</s>",          "<|end_of_text|>", "<end_of_utterance>"};
    for (size_t i = 0; i < sizeof eog / sizeof *eog; i++) {
        int32_t id = tl_tok_lookup(t, eog[i], strlen(eog[i]));
        if (id >= 0) t->type[id] = TL_TOKEN_CONTROL;
    }
    for (int b = 0; b < 256; b++) {
        char buf[8];
        size_t n;
        if (t->kind == TL_TOK_SPM) {
            n = (size_t)snprintf(buf, sizeof buf, "<0x%02X>", b);
            t->byte_id[b] = tl_tok_lookup(t, buf, n);
            if (t->byte_id[b] < 0) {
                buf[0] = (char)b;
                t->byte_id[b] = tl_tok_lookup(t, buf, 1);
            }
        } else {
            n = tl_utf8_encode(tl_byte_to_cp((uint8_t)b), buf);
            t->byte_id[b] = tl_tok_lookup(t, buf, n);
        }
    }
    int n_special = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        n_special += t->len[id] && (t->type[id] == TL_TOKEN_CONTROL || t->type[id] == TL_TOKEN_USER_DEFINED ||
                                    t->type[id] == TL_TOKEN_UNKNOWN);
    /* sort by text length, longest first, then by id: keys (~len << 32 | id) sort ascending */
    uint64_t *keys = tl_malloc((size_t)(n_special ? n_special : 1) * sizeof *keys);
    tl_free(t->special);
    t->special = tl_malloc((size_t)(n_special ? n_special : 1) * sizeof *t->special);
    if (!keys || !t->special) {
        tl_free(keys);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", what);
    }
    t->n_special = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->len[id] && (t->type[id] == TL_TOKEN_CONTROL || t->type[id] == TL_TOKEN_USER_DEFINED ||
                           t->type[id] == TL_TOKEN_UNKNOWN))
            keys[t->n_special++] = (uint64_t)(UINT32_MAX - t->len[id]) << 32 | (uint32_t)id;
    qsort(keys, (size_t)t->n_special, sizeof *keys, cmp_u64);
    for (int i = 0; i < t->n_special; i++) t->special[i] = (int32_t)(keys[i] & 0xffffffffu);
    tl_free(keys);

    /* llama.cpp's per-model attributes: Phi-3 strips whitespace after its special tokens */
    memset(t->attr, 0, (size_t)t->n_vocab);
    if (name && (contains_ci(name, "phi-3") || contains_ci(name, "phi3"))) {
        for (int i = 0; i < t->n_special; i++) t->attr[t->special[i]] |= TL_TOK_RSTRIP;
        int32_t id = tl_tok_lookup(t, "</s>", 4);
        if (id >= 0) t->attr[id] |= TL_TOK_RSTRIP;
        static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (int i = 0; i < 3; i++)
            if ((id = tl_tok_lookup(t, keep[i], strlen(keep[i]))) >= 0) t->attr[id] &= (uint8_t)~TL_TOK_RSTRIP;
    }
    return TL_OK;
}

void tl_tokenizer_free(tl_tokenizer *t) {
    if (!t) return;
    tl_free(t->pool);
    tl_free(t->off);
    tl_free(t->len);
    tl_free(t->score);
    tl_free(t->type);
    tl_free(t->attr);
    tl_free(t->index.slot);
    tl_free(t->special);
    tl_free(t->merge_left);
    tl_free(t->merge_right);
    tl_free(t->merge_index.slot);
    tl_free(t);
}

/* ---- accessors ------------------------------------------------------------------ */

tl_tokenizer_kind tl_tokenizer_type(const tl_tokenizer *t) { return t->kind; }
int tl_tokenizer_n_vocab(const tl_tokenizer *t) { return t->n_vocab; }
int32_t tl_tokenizer_bos(const tl_tokenizer *t) { return t->bos; }
int32_t tl_tokenizer_eos(const tl_tokenizer *t) { return t->eos; }

/* llama.cpp's end-of-generation set (llama_vocab_is_eog): EOS, EOT and EOM, plus the
 * control tokens whose text marks the end of a turn in common chat templates. */
int tl_tokenizer_is_eog(const tl_tokenizer *t, int32_t id) {
    static const char *const texts[] = {"<|eot_id|>", "<|im_end|>",    "<|end|>",        "<end_of_turn>",
                                        "<|endoftext|>", "<|eom_id|>", "<EOT>",          "_<EOT>",
                                        "<|end_of_text|>", "<｜end▁of▁sentence｜>"};
    if (id < 0 || id >= t->n_vocab) return 0;
    if (id == t->eos || id == t->eot || id == t->eom) return 1;
    if (t->type[id] != TL_TOKEN_CONTROL && t->type[id] != TL_TOKEN_USER_DEFINED) return 0;
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        if (t->len[id] == strlen(texts[i]) && !memcmp(tl_tok_text(t, id), texts[i], t->len[id])) return 1;
    return 0;
}

const char *tl_tokenizer_piece(const tl_tokenizer *t, int32_t id, size_t *len) {
    if (id < 0 || id >= t->n_vocab) return NULL;
    if (len) *len = t->len[id];
    return tl_tok_text(t, id);
}

tl_token_type tl_tokenizer_token_type(const tl_tokenizer *t, int32_t id) {
    return id < 0 || id >= t->n_vocab ? TL_TOKEN_UNDEFINED : (tl_token_type)t->type[id];
}

int32_t tl_tokenizer_find(const tl_tokenizer *t, const char *text, size_t len) { return tl_tok_lookup(t, text, len); }

/* ---- encoding ------------------------------------------------------------------- */

/* A fragment of the input: raw text [off, off+len) or a special token. */
typedef struct {
    int32_t id; /* -1 for raw text */
    size_t off, len;
} fragment;

typedef struct {
    fragment *v;
    size_t n, cap;
} frag_list;

static int frag_push(frag_list *l, int32_t id, size_t off, size_t len) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        fragment *v = tl_realloc(l->v, cap * sizeof *v);
        if (!v) return 0;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (fragment){id, off, len};
    return 1;
}

static const char *find_bytes(const char *hay, size_t hn, const char *needle, size_t nn) {
    if (nn == 0 || nn > hn) return NULL;
    for (const char *p = hay, *end = hay + hn - nn; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p) return NULL;
        if (!memcmp(p, needle, nn)) return p;
    }
    return NULL;
}

/* Split the text around special tokens, longest first, each token in turn over
 * the raw fragments left by the previous ones (llama.cpp's order). */
static tl_status partition(const tl_tokenizer *t, const char *text, size_t len, int parse_special, frag_list *out) {
    frag_list cur = {0}, next = {0};
    tl_status s = TL_OK;
    if (len && !frag_push(&cur, -1, 0, len)) s = TL_E_NOMEM;
    for (int k = 0; k < t->n_special && !s; k++) {
        int32_t sid = t->special[k];
        if (!parse_special && t->type[sid] != TL_TOKEN_USER_DEFINED) continue;
        const char *st = tl_tok_text(t, sid);
        size_t sl = t->len[sid];
        next.n = 0;
        for (size_t f = 0; f < cur.n && !s; f++) {
            fragment fr = cur.v[f];
            if (fr.id >= 0) {
                if (!frag_push(&next, fr.id, 0, 0)) s = TL_E_NOMEM;
                continue;
            }
            size_t pos = fr.off, end = fr.off + fr.len;
            const char *m;
            while (!s && pos < end && (m = find_bytes(text + pos, end - pos, st, sl))) {
                size_t at = (size_t)(m - text);
                if ((at > pos && !frag_push(&next, -1, pos, at - pos)) || !frag_push(&next, sid, 0, 0)) s = TL_E_NOMEM;
                pos = at + sl;
                if (t->attr[sid] & TL_TOK_RSTRIP)
                    while (pos < end && isspace((unsigned char)text[pos])) pos++;
            }
            if (!s && pos < end && !frag_push(&next, -1, pos, end - pos)) s = TL_E_NOMEM;
        }
        frag_list tmp = cur;
        cur = next;
        next = tmp;
    }
    tl_free(next.v);
    if (s) {
        tl_free(cur.v);
        return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory splitting special tokens");
    }
    *out = cur;
    return TL_OK;
}

/* SPM input for one raw fragment: optional dummy-prefix space, spaces as U+2581. */
static char *spm_escape(const char *s, size_t n, int prefix, size_t *out_len) {
    size_t spaces = prefix;
    for (size_t i = 0; i < n; i++) spaces += s[i] == ' ';
    size_t total = n + prefix + 2 * spaces;
    char *buf = tl_malloc(total + 1), *p = buf;
    if (!buf) return NULL;
    if (prefix) {
        memcpy(p, SPACE_MARK, 3);
        p += 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(p, SPACE_MARK, 3);
            p += 3;
        } else {
            *p++ = s[i];
        }
    }
    *out_len = total;
    return buf;
}

tl_status tl_tokenizer_encode(const tl_tokenizer *t, const char *text, size_t len, int flags, int32_t **ids,
                              size_t *n_ids) {
    *ids = NULL;
    *n_ids = 0;
    if ((flags & TL_TOK_ADD_BOS) && t->bos < 0)
        return tl_errorf(TL_E_ARG, "tokenizer: BOS requested but the vocabulary has no BOS token");
    frag_list frags = {0};
    tl_status s = partition(t, text, len, (flags & TL_TOK_PARSE_SPECIAL) != 0, &frags);
    if (s) return s;
    tl_tok_ids out = {0};
    if (flags & TL_TOK_ADD_BOS) tl_tok_ids_push(&out, t->bos);
    int prev_special = 1; /* SPM: the first fragment gets the dummy prefix */
    for (size_t f = 0; f < frags.n && !out.err; f++) {
        const fragment *fr = &frags.v[f];
        if (fr->id >= 0) {
            tl_tok_ids_push(&out, fr->id);
            prev_special = 1;
            continue;
        }
        if (t->kind == TL_TOK_SPM) {
            size_t n;
            char *buf = spm_escape(text + fr->off, fr->len, t->add_space_prefix && prev_special, &n);
            if (!buf) {
                out.err = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
                break;
            }
            tl_spm_encode(t, buf, n, &out);
            tl_free(buf);
        } else {
            tl_bpe_encode(t, text + fr->off, fr->len, &out);
        }
        prev_special = 0;
    }
    tl_free(frags.v);
    if (out.err) {
        tl_free(out.v);
        return out.err;
    }
    *ids = out.v ? out.v : tl_malloc(sizeof(int32_t));
    if (!*ids) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
    *n_ids = out.n;
    return TL_OK;
}

/* ---- decoding ------------------------------------------------------------------- */

static size_t emit(char *buf, size_t cap, size_t at, const char *s, size_t n) {
    if (at < cap) memcpy(buf + at, s, at + n <= cap ? n : cap - at);
    return at + n;
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t tl_tokenizer_decode_piece(const tl_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap) {
    if (id < 0 || id >= t->n_vocab) return 0;
    int32_t type = t->type[id];
    if (type == TL_TOKEN_CONTROL || type == TL_TOKEN_UNKNOWN) return 0;
    const char *s = tl_tok_text(t, id);
    size_t n = t->len[id], out = 0;
    if (type == TL_TOKEN_USER_DEFINED) return emit(buf, cap, 0, s, n);
    if (t->kind == TL_TOK_SPM) {
        if (type == TL_TOKEN_BYTE && n == 6 && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
            char b = (char)(hexval(s[3]) * 16 + hexval(s[4]));
            return emit(buf, cap, 0, &b, 1);
        }
        int strip = t->add_space_prefix && (prev < 0 || prev == t->bos);
        for (size_t i = 0; i < n;) {
            if (i + 3 <= n && !memcmp(s + i, SPACE_MARK, 3)) {
                if (!(strip && out == 0)) out = emit(buf, cap, out, " ", 1);
                strip = 0;
                i += 3;
            } else {
                strip = 0;
                out = emit(buf, cap, out, s + i, 1);
                i++;
            }
        }
        return out;
    }
    for (size_t i = 0; i < n;) { /* byte-level: code points back to bytes */
        size_t used;
        uint32_t cp = tl_utf8_decode((const uint8_t *)s + i, n - i, &used);
        int b = tl_cp_to_byte(cp);
        if (b >= 0) {
            char c = (char)b;
            out = emit(buf, cap, out, &c, 1);
        } else {
            out = emit(buf, cap, out, s + i, used);
        }
        i += used;
    }
    return out;
}

/* ---- llama2.c tokenizer.bin ------------------------------------------------------- */

static int is_byte_piece(const char *s, size_t n) {
    return n == 6 && s[0] == '<' && s[1] == '0' && s[2] == 'x' && hexval(s[3]) >= 0 && hexval(s[4]) >= 0 &&
           s[5] == '>';
}

tl_status tl_tokenizer_load_llama2c(const char *path, tl_tokenizer **out) {
    *out = NULL;
    char *data;
    size_t size;
    tl_status s = tl_file_read_all(path, &data, &size);
    if (s) return s;
    int32_t max_len;
    if (size < 4) {
        tl_free(data);
        return tl_errorf(TL_E_FORMAT, "%s: truncated llama2.c tokenizer (%zu bytes)", path, size);
    }
    memcpy(&max_len, data, 4);
    if (max_len <= 0 || max_len > (1 << 20)) {
        tl_free(data);
        return tl_errorf(TL_E_FORMAT, "%s: max_token_length %d is out of range", path, (int)max_len);
    }
    /* first pass: count and check the records */
    int n = 0;
    size_t pos = 4;
    while (pos < size) {
        int32_t len;
        if (size - pos < 8) {
            tl_free(data);
            return tl_errorf(TL_E_FORMAT, "%s: token %d: record header truncated at byte %zu", path, n, pos);
        }
        memcpy(&len, data + pos + 4, 4);
        if (len < 0 || len > max_len || (size_t)len > size - pos - 8) {
            tl_free(data);
            return tl_errorf(TL_E_FORMAT, "%s: token %d: length %d %s", path, n, (int)len,
                             len < 0 || len > max_len ? "exceeds max_token_length" : "runs past the end of the file");
        }
        pos += 8 + (size_t)len;
        if (++n > TL_TOK_MAX_VOCAB) {
            tl_free(data);
            return tl_errorf(TL_E_FORMAT, "%s: more than %d tokens", path, TL_TOK_MAX_VOCAB);
        }
    }
    tl_tokenizer *t;
    if ((s = tl_tok_new(TL_TOK_SPM, n, &t)) != TL_OK) {
        tl_free(data);
        return tl_error_prefix(s, "%s", path);
    }
    pos = 4;
    for (int i = 0; i < n && !s; i++) {
        float score;
        int32_t len;
        memcpy(&score, data + pos, 4);
        memcpy(&len, data + pos + 4, 4);
        const char *p = data + pos + 8;
        /* llama2.c exported U+2581 as ' ': turn it back */
        size_t spaces = 0;
        for (int32_t j = 0; j < len; j++) spaces += p[j] == ' ';
        char *txt = tl_malloc((size_t)len + 2 * spaces + 1), *q = txt;
        if (!txt) {
            s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            break;
        }
        for (int32_t j = 0; j < len; j++) {
            if (p[j] == ' ') {
                memcpy(q, SPACE_MARK, 3);
                q += 3;
            } else {
                *q++ = p[j];
            }
        }
        int32_t type = TL_TOKEN_NORMAL;
        size_t tn = (size_t)(q - txt);
        const char *tp = txt;
        if ((tn == 5 && !memcmp(tp, "\n<s>\n", 5)) || (tn == 6 && !memcmp(tp, "\n</s>\n", 6))) {
            tp++; /* llama2.c exports BOS/EOS as "\n<s>\n" and "\n</s>\n" */
            tn -= 2;
        }
        if (tn == 5 && !memcmp(tp, "<unk>", 5)) type = TL_TOKEN_UNKNOWN;
        else if ((tn == 3 && !memcmp(tp, "<s>", 3)) || (tn == 4 && !memcmp(tp, "</s>", 4))) type = TL_TOKEN_CONTROL;
        else if (is_byte_piece(tp, tn)) type = TL_TOKEN_BYTE;
        s = tl_tok_set(t, i, tp, tn, score, type);
        tl_free(txt);
        pos += 8 + (size_t)len;
    }
    tl_free(data);
    if (!s) s = tl_tok_build_index(t, path);
    if (!s) {
        t->unk = tl_tok_lookup(t, "<unk>", 5);
        t->bos = tl_tok_lookup(t, "<s>", 3);
        t->eos = tl_tok_lookup(t, "</s>", 4);
        t->add_bos = 1;
        s = tl_tok_finish(t, path, NULL);
    }
    if (s) {
        tl_tokenizer_free(t);
        return s;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_tokenizer_save_llama2c(const tl_tokenizer *t, const char *path) {
    if (t->kind != TL_TOK_SPM)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: llama2.c tokenizer.bin holds SentencePiece vocabularies only", path);
    int32_t max_len = 0;
    for (int i = 0; i < t->n_vocab; i++)
        if ((int32_t)t->len[i] + 2 > max_len) max_len = (int32_t)t->len[i] + 2;
    tl_out_file o;
    tl_status s = tl_out_open(&o, path);
    if (s) return s;
    s = tl_out_write(&o, &max_len, 4);
    for (int i = 0; i < t->n_vocab && !s; i++) {
        const char *p = tl_tok_text(t, i);
        char *txt = tl_malloc(t->len[i] + 3);
        if (!txt) {
            s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            break;
        }
        int32_t n = 0;
        int nl = (i == t->bos || i == t->eos) && t->type[i] == TL_TOKEN_CONTROL; /* as llama2.c exports them */
        if (nl) txt[n++] = '\n';
        for (uint32_t j = 0; j < t->len[i];) {
            if (j + 3 <= t->len[i] && !memcmp(p + j, SPACE_MARK, 3)) {
                txt[n++] = ' ';
                j += 3;
            } else {
                txt[n++] = p[j++];
            }
        }
        if (nl) txt[n++] = '\n';
        s = tl_out_write(&o, &t->score[i], 4);
        if (!s) s = tl_out_write(&o, &n, 4);
        if (!s) s = tl_out_write(&o, txt, (size_t)n);
        tl_free(txt);
    }
    if (s) {
        tl_out_abort(&o);
        return s;
    }
    return tl_out_commit(&o);
}

/* ---- load / save by extension ------------------------------------------------------ */

tl_status tl_tokenizer_load(const char *path, tl_tokenizer **out) {
    *out = NULL;
    const char *ext = tl_path_ext(path);
    if (!tl_path_exists(path)) return tl_errorf(TL_E_IO, "%s: no such file or directory", path);
    if (!strcmp(ext, ".bin")) return tl_tokenizer_load_llama2c(path, out);
    if (!strcmp(ext, ".json")) return tl_tokenizer_load_json(path, out);
    if (!strcmp(ext, ".gguf")) {
        tl_gguf *g;
        tl_status s = tl_gguf_open(path, &g);
        if (s) return s;
        s = tl_tokenizer_from_gguf(g, out);
        tl_gguf_close(g);
        return s;
    }
    return tl_errorf(TL_E_UNSUPPORTED, "%s: unknown tokenizer format '%s' (expected .bin, .gguf or .json)", path, ext);
}

tl_status tl_tokenizer_save(const tl_tokenizer *t, const char *path) {
    const char *ext = tl_path_ext(path);
    if (!strcmp(ext, ".bin")) return tl_tokenizer_save_llama2c(t, path);
    if (!strcmp(ext, ".json")) return tl_tokenizer_save_json(t, path);
    if (!strcmp(ext, ".gguf")) {
        tl_gguf_writer *w;
        tl_status s = tl_gguf_writer_new(&w);
        if (s) return s;
        s = tl_gguf_write_str(w, "general.architecture", "llama");
        if (!s) s = tl_tokenizer_write_gguf(t, w);
        if (!s) s = tl_gguf_writer_save(w, path);
        tl_gguf_writer_free(w);
        return s;
    }
    return tl_errorf(TL_E_ARG, "%s: unknown tokenizer output format '%s' (expected .json, .gguf or .bin)", path, ext);
}

tl_status tl_tokenizer_save_all(const tl_tokenizer *t, const char *const *paths, int n) {
    char **tmp = tl_calloc((size_t)(n > 0 ? n : 1), sizeof *tmp);
    if (!tmp) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
    tl_status s = TL_OK;
    /* "dir/tok.gguf" is first written as "dir/tok.part<pid>.gguf": the extension picks the format */
    for (int i = 0; i < n && !s; i++) {
        const char *ext = tl_path_ext(paths[i]);
        size_t len = strlen(paths[i]), cap = len + 32;
        if (!(tmp[i] = tl_malloc(cap))) {
            s = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
            break;
        }
        snprintf(tmp[i], cap, "%.*s.part%ld%s", (int)(len - strlen(ext)), paths[i], (long)getpid(), ext);
        if ((s = tl_tokenizer_save(t, tmp[i])) != TL_OK) s = tl_error_prefix(s, "%s", paths[i]);
    }
    for (int i = 0; i < n && !s; i++)
        if (rename(tmp[i], paths[i]) != 0)
            s = tl_errorf(TL_E_IO, "%s: cannot rename %s into place: %s", paths[i], tmp[i], strerror(errno));
    for (int i = 0; i < n; i++) {
        if (s && tmp[i]) remove(tmp[i]); /* nothing half-written: drop what was not renamed */
        tl_free(tmp[i]);
    }
    tl_free(tmp);
    return s;
}
