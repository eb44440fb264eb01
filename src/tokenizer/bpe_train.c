/* bpe_train.c: train a SentencePiece-style BPE vocabulary with byte fallback
 * (Llama's kind), made so that spm.c encodes every training word exactly as
 * the trainer segmented it.
 *
 * Words. Each text gets the dummy-prefix U+2581 ("▁") and its spaces become
 * ▁, as the encoder does; the result is cut into characters exactly as spm.c
 * cuts it (tl_utf8_len of the lead byte) and split into words: a word starts
 * at every ▁ (a run of ▁ stays together) and wherever the character class
 * changes (letters, digits, punctuation, other whitespace; ▁ leads any class
 * but other whitespace), as sentencepiece splits by whitespace and script.
 * Words are counted in a hash table; training runs on the unique words.
 *
 * Why the encoder agrees. A boundary depends only on the two characters
 * around it and every piece is a substring of a word, so no piece spans a
 * boundary and words encode independently. The encoder merges, among the
 * adjacent pairs whose concatenation is a token, the best-scoring one
 * (leftmost on ties); with score = -rank, the merges it makes before any of
 * rank > k are exactly those it makes with the vocabulary cut at rank k. So
 * the trainer keeps every word at that fixpoint: when piece k joins, each word
 * holding a pair that concatenates to it is re-run through the same loop
 * (resegment), which also takes the rarer cascades (a new symbol whose
 * neighbour now concatenates to an older piece). Pairs are keyed by the
 * concatenated string, not by the two ids, because the encoder merges any
 * split of a piece. Pieces that are a prefix or suffix of a reserved text
 * (<unk>, <s>, </s>, <0xXX>) are never made, or the encoder could form a
 * control or byte token out of plain text.
 *
 * Counting. Pair string -> count and the list of words holding it; a max-heap
 * of (count, pair) with lazy deletion: an entry whose count is out of date is
 * dropped or re-pushed when it surfaces; after each merge the pairs whose
 * count grew are pushed again. Ties go to the smaller pair text (bytewise),
 * so training is deterministic.
 *
 * Base characters: the most frequent characters until they cover
 * char_coverage of all occurrences (sentencepiece's character_coverage),
 * each seen at least min_char_count times; the others (and invalid UTF-8,
 * U+0000) are left to byte fallback and never join a piece. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/heap.h"
#include "tok_internal.h"
#include "unicode.h"

#define MARK "\xe2\x96\x81" /* U+2581 */
#define N_RESERVED 259      /* <unk> <s> </s> <0x00>..<0xFF> */
#define MAX_VOCAB (1 << 20)
#define MAX_WORD 256 /* longer words are counted as fragments of this many characters */

/* ---- growable arrays ------------------------------------------------------------- */

static int grow_to(void *pp, size_t *cap, size_t need, size_t elem) {
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 4 / elem) return 0;
        c *= 2;
    }
    void *old;
    memcpy(&old, pp, sizeof old);
    void *p = tl_realloc(old, c * elem);
    if (!p) return 0;
    memcpy(pp, &p, sizeof p);
    *cap = c;
    return 1;
}
/* make room for `need` elements of arr (capacity cap); 0 when out of memory */
#define GROW(arr, cap, need) ((need) <= (cap) || grow_to(&(arr), &(cap), (need), sizeof *(arr)))

/* ---- string tables: strings back to back, an open-addressing index ----------------- */

typedef struct {
    size_t off;
    uint64_t hash;
    uint32_t len;
} sentry;

typedef struct {
    char *buf;
    size_t buf_len, buf_cap;
    sentry *e;
    size_t n, cap;
    int32_t *slot; /* -1 empty */
    size_t n_slot; /* power of 2 */
} stab;

static uint64_t hash2(const char *a, size_t la, const char *b, size_t lb) {
    return tl_tok_hash_bytes(tl_tok_hash_bytes(TL_TOK_HASH_SEED, a, la), b, lb);
}

static const char *stab_str(const stab *t, int32_t id) { return t->buf + t->e[id].off; }

/* The id of the string a+b (hash h), -1 when absent. */
static int32_t stab_find(const stab *t, uint64_t h, const char *a, size_t la, const char *b, size_t lb) {
    if (!t->n_slot) return -1;
    size_t mask = t->n_slot - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        int32_t id = t->slot[i];
        if (id < 0) return -1;
        const sentry *e = &t->e[id];
        if (e->hash == h && e->len == la + lb && !memcmp(t->buf + e->off, a, la) &&
            !memcmp(t->buf + e->off + la, b, lb))
            return id;
    }
}

/* Append a+b (absent; a and b must not point into t->buf). */
static tl_status stab_add(stab *t, uint64_t h, const char *a, size_t la, const char *b, size_t lb, int32_t *id) {
    if (t->n >= INT32_MAX / 4 || la + lb > UINT32_MAX / 2)
        return tl_errorf(TL_E_RANGE, "tokenizer training: more than %d distinct strings", INT32_MAX / 4);
    if (!GROW(t->buf, t->buf_cap, t->buf_len + la + lb + 1) || !GROW(t->e, t->cap, t->n + 1))
        return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory for %zu strings", t->n + 1);
    if (2 * (t->n + 1) > t->n_slot) {
        size_t ns = t->n_slot ? 2 * t->n_slot : 1024;
        int32_t *slot = tl_malloc(ns * sizeof *slot);
        if (!slot) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory for an index of %zu", ns);
        memset(slot, 0xff, ns * sizeof *slot);
        for (size_t k = 0; k < t->n; k++) {
            size_t i = (size_t)t->e[k].hash & (ns - 1);
            while (slot[i] >= 0) i = (i + 1) & (ns - 1);
            slot[i] = (int32_t)k;
        }
        tl_free(t->slot);
        t->slot = slot;
        t->n_slot = ns;
    }
    sentry *e = &t->e[t->n];
    e->off = t->buf_len;
    e->hash = h;
    e->len = (uint32_t)(la + lb);
    if (la) memcpy(t->buf + t->buf_len, a, la);
    if (lb) memcpy(t->buf + t->buf_len + la, b, lb);
    t->buf_len += la + lb;
    t->buf[t->buf_len++] = 0;
    size_t i = (size_t)h & (t->n_slot - 1);
    while (t->slot[i] >= 0) i = (i + 1) & (t->n_slot - 1);
    t->slot[i] = (int32_t)t->n;
    *id = (int32_t)t->n++;
    return TL_OK;
}

static void stab_free(stab *t) {
    tl_free(t->buf);
    tl_free(t->e);
    tl_free(t->slot);
    memset(t, 0, sizeof *t);
}

/* ---- the trainer ---------------------------------------------------------------------- */

typedef struct {
    int64_t count;
    size_t sym;     /* first symbol in tr->sym */
    uint32_t n_sym; /* symbols now (shrinks as pieces merge) */
    int32_t stamp;  /* last merge that re-segmented it */
} word_info;

enum { CAND_LIVE, CAND_FORBIDDEN, CAND_MERGED };

typedef struct {
    int64_t count; /* frequency-weighted adjacent occurrences (overlaps counted) */
    int64_t bound; /* count of its newest heap entry, 0 when none */
    int32_t *words;
    uint32_t n_words, cap_words;
    int32_t touched; /* merge that last raised the count */
    uint16_t n_chars, n_marks;
    uint8_t state, all_marks;
} cand_info;

typedef struct {
    uint16_t n_chars, n_marks; /* characters, of which ▁ */
    uint8_t all_marks;
} piece_info;

typedef struct {
    int64_t count;
    int32_t cand;
} heap_entry;

struct tl_bpe_trainer {
    tl_bpe_train_opts o;
    /* counting */
    stab words;
    word_info *wi;
    size_t wi_cap;
    char *wbuf; /* the word being read */
    size_t wbuf_len, wbuf_cap;
    uint32_t w_chars;
    int w_class;
    int64_t n_texts, n_bytes, n_words, n_chars;
    /* training */
    int ran;
    stab chars;
    int64_t *char_count;
    size_t char_cap;
    int32_t *base; /* [n_base] char ids, most frequent first */
    int n_base;
    double coverage;
    stab pieces; /* base characters first, then merges in order: id = rank */
    piece_info *pi;
    size_t pi_cap;
    int32_t *sym; /* every word's symbols: piece ids, -1 for characters outside the base set */
    size_t n_sym;
    stab cands;
    cand_info *ci;
    size_t ci_cap;
    heap_entry *heap;
    size_t n_heap, heap_cap;
    int32_t *touched;
    size_t n_touched, touched_cap;
    int n_merges, target;
    int64_t n_tokens;
    double seconds;
};

void tl_bpe_train_opts_default(tl_bpe_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->vocab_size = 4096;
    o->char_coverage = 0.9995;
    o->min_char_count = 1;
    o->max_piece_chars = 16;
}

tl_status tl_bpe_train_opts_check(const tl_bpe_train_opts *o) {
    if (o->vocab_size < N_RESERVED || o->vocab_size > MAX_VOCAB)
        return tl_errorf(TL_E_ARG,
                         "vocab size %d is out of range: it must be at least %d (<unk>, <s>, </s> and 256 byte "
                         "tokens) and at most %d",
                         o->vocab_size, N_RESERVED, MAX_VOCAB);
    if (!(o->char_coverage >= 0.0 && o->char_coverage <= 1.0))
        return tl_errorf(TL_E_ARG, "character coverage %g is not in 0..1", o->char_coverage);
    if (o->min_char_count < 1)
        return tl_errorf(TL_E_ARG, "min char count %lld must be at least 1", (long long)o->min_char_count);
    if (o->max_piece_chars < 2 || o->max_piece_chars > 64)
        return tl_errorf(TL_E_ARG, "max piece length %d is not in 2..64 characters", o->max_piece_chars);
    return TL_OK;
}

tl_status tl_bpe_trainer_new(const tl_bpe_train_opts *o, tl_bpe_trainer **out) {
    *out = NULL;
    tl_status s = tl_bpe_train_opts_check(o);
    if (s) return s;
    tl_bpe_trainer *tr = tl_calloc(1, sizeof *tr);
    if (!tr) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
    tr->o = *o;
    tr->w_class = -1;
    *out = tr;
    return TL_OK;
}

void tl_bpe_trainer_free(tl_bpe_trainer *tr) {
    if (!tr) return;
    stab_free(&tr->words);
    tl_free(tr->wi);
    tl_free(tr->wbuf);
    stab_free(&tr->chars);
    tl_free(tr->char_count);
    tl_free(tr->base);
    stab_free(&tr->pieces);
    tl_free(tr->pi);
    tl_free(tr->sym);
    for (size_t i = 0; i < tr->cands.n; i++) tl_free(tr->ci[i].words);
    stab_free(&tr->cands);
    tl_free(tr->ci);
    tl_free(tr->heap);
    tl_free(tr->touched);
    tl_free(tr);
}

/* ---- texts to words -------------------------------------------------------------------- */

enum { C_MARK, C_SPACE, C_LETTER, C_DIGIT, C_PUNCT, C_BAD };

/* The class of one character (as the encoder cuts them). Marks, symbols and
 * letters of every script go together, so accents and vowel signs stay with
 * their letters; ASCII and Unicode punctuation blocks form their own class. */
static int char_class(const char *c, size_t n) {
    if (n == 3 && !memcmp(c, MARK, 3)) return C_MARK;
    if (!tl_utf8_valid(c, n)) return C_BAD;
    size_t used;
    uint32_t cp = tl_utf8_decode((const uint8_t *)c, n, &used);
    int f = tl_unicode_flags(cp);
    if (f & TL_UC_SPACE) return C_SPACE;
    if (f & TL_UC_NUMBER) return C_DIGIT;
    if (f & TL_UC_LETTER) return C_LETTER;
    if (cp < 0x80 || (cp >= 0xA0 && cp <= 0xBF) || (cp >= 0x2000 && cp <= 0x206F) || (cp >= 0x2E00 && cp <= 0x2E7F) ||
        (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFF00 && cp <= 0xFF0F))
        return C_PUNCT;
    return C_LETTER;
}

/* Does a new word start between characters of class a and b? Depends on the
 * pair only (see the file comment for why that matters). */
static int boundary(int a, int b, int split_digits) {
    if (a == C_BAD || b == C_BAD) return 1;
    if (b == C_MARK) return a != C_MARK;
    if (b == C_DIGIT && split_digits) return 1;
    if (a == C_MARK) return b == C_SPACE;
    return a != b;
}

static tl_status flush_word(tl_bpe_trainer *tr) {
    if (!tr->wbuf_len) return TL_OK;
    uint64_t h = hash2(tr->wbuf, tr->wbuf_len, "", 0);
    int32_t id = stab_find(&tr->words, h, tr->wbuf, tr->wbuf_len, "", 0);
    if (id < 0) { /* the side array grows first, so a failure leaves the two in step */
        if (!GROW(tr->wi, tr->wi_cap, tr->words.n + 1))
            return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory for %zu words", tr->words.n + 1);
        tl_status s = stab_add(&tr->words, h, tr->wbuf, tr->wbuf_len, "", 0, &id);
        if (s) return s;
        memset(&tr->wi[id], 0, sizeof tr->wi[id]);
        tr->wi[id].stamp = -1;
    }
    tr->wi[id].count++;
    tr->n_words++;
    tr->wbuf_len = 0;
    tr->w_chars = 0;
    return TL_OK;
}

/* The encoder's input, one byte at a time: ▁, then the text with ' ' as ▁. */
typedef struct {
    const uint8_t *s;
    size_t n, i;
    const char *pend; /* rest of a ▁ being emitted */
    int n_pend;
} esc_stream;

static int esc_next(esc_stream *e) {
    if (e->n_pend) {
        e->n_pend--;
        return (uint8_t)*e->pend++;
    }
    if (e->i == e->n) return -1;
    uint8_t c = e->s[e->i++];
    if (c != ' ') return c;
    e->pend = &MARK[1];
    e->n_pend = 2;
    return (uint8_t)MARK[0];
}

tl_status tl_bpe_trainer_add_text(tl_bpe_trainer *tr, const char *text, size_t len) {
    if (tr->ran) return tl_errorf(TL_E_ARG, "tokenizer training: texts added after training");
    if (!len) return TL_OK; /* the encoder gives nothing for an empty text, not even ▁ */
    tr->n_texts++;
    tr->n_bytes += (int64_t)len;
    esc_stream e = {(const uint8_t *)text, len, 0, MARK, 3};
    tr->w_class = -1;
    for (;;) {
        int c = esc_next(&e);
        if (c < 0) break;
        char ch[4];
        size_t n = 1, want = tl_utf8_len((uint8_t)c);
        ch[0] = (char)c;
        while (n < want && (c = esc_next(&e)) >= 0) ch[n++] = (char)c;
        int cls = char_class(ch, n);
        tl_status s = TL_OK;
        if (tr->w_chars && (boundary(tr->w_class, cls, tr->o.split_digits) || tr->w_chars == MAX_WORD))
            s = flush_word(tr);
        if (!s && !GROW(tr->wbuf, tr->wbuf_cap, tr->wbuf_len + n))
            s = tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
        if (s) {
            tr->wbuf_len = 0;
            tr->w_chars = 0;
            return s;
        }
        memcpy(tr->wbuf + tr->wbuf_len, ch, n);
        tr->wbuf_len += n;
        tr->w_chars++;
        tr->w_class = cls;
        tr->n_chars++;
    }
    return flush_word(tr);
}

static tl_status add_jsonl(tl_bpe_trainer *tr, const char *path, const char *data, size_t size) {
    size_t line = 0;
    tl_status s = TL_OK;
    char *cat = NULL;
    for (size_t pos = 0; pos < size && !s;) {
        const char *p = data + pos, *nl = memchr(p, '\n', size - pos);
        size_t n = nl ? (size_t)(nl - p) : size - pos;
        pos += n + 1;
        line++;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r')) k++;
        if (k == n) continue; /* blank line */
        cJSON *j = cJSON_ParseWithLength(p, n);
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(j, "text");
        const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(j, "prompt");
        const cJSON *comp = cJSON_GetObjectItemCaseSensitive(j, "completion");
        if (!cJSON_IsObject(j)) {
            s = tl_errorf(TL_E_FORMAT, "%s:%zu: not a JSON object", path, line);
        } else if (cJSON_IsString(text)) {
            s = tl_bpe_trainer_add_text(tr, text->valuestring, strlen(text->valuestring));
        } else if (text) {
            s = tl_errorf(TL_E_FORMAT, "%s:%zu: \"text\" is not a string", path, line);
        } else if (!cJSON_IsString(prompt) || (comp && !cJSON_IsString(comp))) {
            s = tl_errorf(TL_E_FORMAT, "%s:%zu: expected a \"text\" string or a \"prompt\" string (with an optional "
                                       "\"completion\" string)", path, line);
        } else {
            /* prompt + completion is the text a fine-tune sees (completions start with their space) */
            size_t a = strlen(prompt->valuestring), b = comp ? strlen(comp->valuestring) : 0;
            tl_free(cat);
            cat = tl_malloc(a + b + 1);
            if (!cat) {
                s = tl_errorf(TL_E_NOMEM, "%s:%zu: out of memory", path, line);
            } else {
                memcpy(cat, prompt->valuestring, a);
                if (b) memcpy(cat + a, comp->valuestring, b);
                s = tl_bpe_trainer_add_text(tr, cat, a + b);
            }
        }
        cJSON_Delete(j);
        if (s && s != TL_E_FORMAT) s = tl_error_prefix(s, "%s:%zu", path, line);
    }
    tl_free(cat);
    return s;
}

tl_status tl_bpe_trainer_add_file(tl_bpe_trainer *tr, const char *path) {
    tl_file_map m;
    tl_status s = tl_file_map_open(path, &m);
    if (s) return s;
    if (!strcmp(tl_path_ext(path), ".jsonl")) {
        s = add_jsonl(tr, path, (const char *)m.data, m.size);
    } else if (m.size) {
        s = tl_bpe_trainer_add_text(tr, (const char *)m.data, m.size);
        if (s) s = tl_error_prefix(s, "%s", path);
    }
    tl_file_map_close(&m);
    return s;
}

/* ---- base characters ---------------------------------------------------------------------- */

static const tl_bpe_trainer *sort_tr; /* qsort has no context argument; set only inside pick_base */

static int bytes_cmp(const char *a, size_t la, const char *b, size_t lb) {
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static int cmp_char(const void *x, const void *y) {
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    int64_t ca = sort_tr->char_count[a], cb = sort_tr->char_count[b];
    if (ca != cb) return ca > cb ? -1 : 1;
    return bytes_cmp(stab_str(&sort_tr->chars, a), sort_tr->chars.e[a].len, stab_str(&sort_tr->chars, b),
                     sort_tr->chars.e[b].len);
}

/* Count characters over the unique words and choose the base set. */
static tl_status pick_base(tl_bpe_trainer *tr) {
    int64_t total = 0;
    for (size_t w = 0; w < tr->words.n; w++) {
        const char *s = stab_str(&tr->words, (int32_t)w);
        size_t len = tr->words.e[w].len;
        for (size_t i = 0; i < len;) {
            size_t n = tl_utf8_len((uint8_t)s[i]);
            if (n > len - i) n = len - i;
            uint64_t h = hash2(s + i, n, "", 0);
            int32_t id = stab_find(&tr->chars, h, s + i, n, "", 0);
            if (id < 0) {
                if (!GROW(tr->char_count, tr->char_cap, tr->chars.n + 1))
                    return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
                tl_status st = stab_add(&tr->chars, h, s + i, n, "", 0, &id);
                if (st) return st;
                tr->char_count[id] = 0;
            }
            tr->char_count[id] += tr->wi[w].count;
            total += tr->wi[w].count;
            i += n;
        }
    }
    size_t nc = tr->chars.n;
    int32_t *order = tl_malloc((nc ? nc : 1) * sizeof *order);
    if (!order) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
    for (size_t i = 0; i < nc; i++) order[i] = (int32_t)i;
    sort_tr = tr;
    qsort(order, nc, sizeof *order, cmp_char);
    sort_tr = NULL;
    int64_t covered = 0;
    int nb = 0;
    for (size_t k = 0; k < nc; k++) {
        int32_t c = order[k];
        if ((double)covered >= tr->o.char_coverage * (double)total) break;
        if (tr->char_count[c] < tr->o.min_char_count) break;
        const char *s = stab_str(&tr->chars, c);
        size_t n = tr->chars.e[c].len;
        if (!tl_utf8_valid(s, n) || (n == 1 && s[0] == 0)) continue; /* left to byte fallback */
        covered += tr->char_count[c];
        order[nb++] = c;
    }
    tr->base = order;
    tr->n_base = nb;
    tr->coverage = total ? (double)covered / (double)total : 0.0;
    return TL_OK;
}

/* ---- pieces and candidate pairs ----------------------------------------------------------- */

static const char *piece_str(const tl_bpe_trainer *tr, int32_t p) { return stab_str(&tr->pieces, p); }
static size_t piece_len(const tl_bpe_trainer *tr, int32_t p) { return tr->pieces.e[p].len; }

static tl_status add_piece(tl_bpe_trainer *tr, const char *s, size_t n, piece_info info, int32_t *id) {
    if (!GROW(tr->pi, tr->pi_cap, tr->pieces.n + 1)) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
    tl_status st = stab_add(&tr->pieces, hash2(s, n, "", 0), s, n, "", 0, id);
    if (st) return st;
    tr->pi[*id] = info;
    return TL_OK;
}

/* The piece a+b is, -1 when it is none. */
static int32_t find_concat(const tl_bpe_trainer *tr, const stab *t, int32_t a, int32_t b) {
    const char *sa = piece_str(tr, a), *sb = piece_str(tr, b);
    size_t la = piece_len(tr, a), lb = piece_len(tr, b);
    return stab_find(t, hash2(sa, la, sb, lb), sa, la, sb, lb);
}

/* s[0..n) against positions start.. of "<0xHH>" (H an upper-case hex digit) */
static int byte_pattern(const char *s, size_t n, size_t start) {
    static const char pat[] = "<0xHH>";
    for (size_t i = 0; i < n; i++) {
        char p = pat[start + i], c = s[i];
        if (p == 'H' ? !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) : c != p) return 0;
    }
    return 1;
}

/* Is s a prefix or suffix (or the whole) of a reserved token text? Such a piece
 * could let the encoder assemble <s> or <0x41> out of plain text. */
static int reserved_affix(const char *s, size_t n) {
    if (n < 2 || (s[0] != '<' && s[n - 1] != '>')) return 0;
    static const char *const named[] = {"<unk>", "<s>", "</s>"};
    for (int k = 0; k < 3; k++) {
        size_t m = strlen(named[k]);
        if (n <= m && (!memcmp(named[k], s, n) || !memcmp(named[k] + m - n, s, n))) return 1;
    }
    return n <= 6 && (byte_pattern(s, n, 0) || byte_pattern(s, n, 6 - n));
}

/* The candidate for the pair (a, b), created on first sight. Validity depends
 * only on the string, so it is decided once: at most max_piece_chars
 * characters; ▁ only in front, unless the piece is all ▁; no reserved affix. */
static tl_status get_cand(tl_bpe_trainer *tr, int32_t a, int32_t b, int32_t *out) {
    const char *sa = piece_str(tr, a), *sb = piece_str(tr, b);
    size_t la = piece_len(tr, a), lb = piece_len(tr, b);
    uint64_t h = hash2(sa, la, sb, lb);
    int32_t c = stab_find(&tr->cands, h, sa, la, sb, lb);
    if (c >= 0) {
        *out = c;
        return TL_OK;
    }
    if (!GROW(tr->ci, tr->ci_cap, tr->cands.n + 1)) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
    tl_status s = stab_add(&tr->cands, h, sa, la, sb, lb, &c);
    if (s) return s;
    const piece_info *x = &tr->pi[a], *y = &tr->pi[b];
    cand_info *ci = &tr->ci[c];
    memset(ci, 0, sizeof *ci);
    ci->touched = INT32_MIN; /* never a merge number (the initial count uses -1) */
    ci->n_chars = (uint16_t)(x->n_chars + y->n_chars);
    ci->n_marks = (uint16_t)(x->n_marks + y->n_marks);
    ci->all_marks = x->all_marks && y->all_marks;
    int marks_ok = ci->all_marks || (y->n_marks == 0 && x->n_marks <= 1);
    if (ci->n_chars > tr->o.max_piece_chars || !marks_ok || reserved_affix(stab_str(&tr->cands, c), la + lb))
        ci->state = CAND_FORBIDDEN;
    *out = c;
    return TL_OK;
}

static int heap_above(const tl_bpe_trainer *tr, const heap_entry *x, const heap_entry *y) {
    if (x->count != y->count) return x->count > y->count;
    const sentry *a = &tr->cands.e[x->cand], *b = &tr->cands.e[y->cand];
    return bytes_cmp(tr->cands.buf + a->off, a->len, tr->cands.buf + b->off, b->len) < 0;
}

#define TRAIN_ABOVE(tr, a, b) heap_above(tr, a, b)
TL_HEAP_DEFINE(cand_heap, heap_entry, const tl_bpe_trainer *, TRAIN_ABOVE)

static tl_status heap_push(tl_bpe_trainer *tr, int32_t cand) {
    if (!GROW(tr->heap, tr->heap_cap, tr->n_heap + 1))
        return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
    heap_entry e = {tr->ci[cand].count, cand};
    tr->ci[cand].bound = e.count;
    cand_heap_push(tr, tr->heap, &tr->n_heap, e);
    return TL_OK;
}

static heap_entry heap_pop(tl_bpe_trainer *tr) { return cand_heap_pop(tr, tr->heap, &tr->n_heap); }

/* Add (sign +1) or remove (-1) the pairs of word w from the counts. Adding
 * records the word in each pair's list and marks the pair touched. */
static tl_status count_pairs(tl_bpe_trainer *tr, int32_t w, int sign) {
    const word_info *wi = &tr->wi[w];
    const int32_t *sym = tr->sym + wi->sym;
    for (uint32_t i = 0; i + 1 < wi->n_sym; i++) {
        if (sym[i] < 0 || sym[i + 1] < 0) continue;
        int32_t c = -1;
        if (sign < 0) {
            c = find_concat(tr, &tr->cands, sym[i], sym[i + 1]);
            if (c >= 0 && tr->ci[c].state == CAND_LIVE) tr->ci[c].count -= wi->count;
            continue;
        }
        tl_status s = get_cand(tr, sym[i], sym[i + 1], &c);
        if (s) return s;
        cand_info *ci = &tr->ci[c];
        if (ci->state != CAND_LIVE) continue;
        ci->count += wi->count;
        if (!ci->n_words || ci->words[ci->n_words - 1] != w) {
            size_t cap = ci->cap_words;
            if (!GROW(ci->words, cap, (size_t)ci->n_words + 1))
                return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
            ci->cap_words = (uint32_t)cap;
            ci->words[ci->n_words++] = w;
        }
        if (ci->touched != tr->n_merges) {
            if (!GROW(tr->touched, tr->touched_cap, tr->n_touched + 1))
                return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
            tr->touched[tr->n_touched++] = c;
            ci->touched = tr->n_merges;
        }
    }
    return TL_OK;
}

/* ---- re-segmenting a word: spm.c's loop over piece ids ------------------------------------- */

typedef struct {
    int left, right;
    int32_t rank, a, b; /* the piece it makes; the ids of the pair when pushed */
} lpair;

static int lpair_above(const lpair *x, const lpair *y) {
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

typedef struct {
    lpair v[3 * MAX_WORD];
    size_t n;
    int32_t id[MAX_WORD];
    int prev[MAX_WORD], next[MAX_WORD];
} lstate;

static void lpush(lstate *st, lpair p) {
    size_t i = st->n++;
    while (i > 0 && lpair_above(&p, &st->v[(i - 1) / 2])) {
        st->v[i] = st->v[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    st->v[i] = p;
}

static lpair lpop(lstate *st) {
    lpair top = st->v[0], last = st->v[--st->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, best = i;
        const lpair *bv = &last;
        if (l < st->n && lpair_above(&st->v[l], bv)) {
            best = l;
            bv = &st->v[l];
        }
        if (r < st->n && lpair_above(&st->v[r], bv)) best = r;
        if (best == i) break;
        st->v[i] = st->v[best];
        i = best;
    }
    if (st->n) st->v[i] = last;
    return top;
}

static void ltry(const tl_bpe_trainer *tr, lstate *st, int l, int r) {
    if (l < 0 || r < 0 || st->id[l] < 0 || st->id[r] < 0) return;
    int32_t q = find_concat(tr, &tr->pieces, st->id[l], st->id[r]);
    if (q >= 0) lpush(st, (lpair){l, r, q, st->id[l], st->id[r]});
}

/* Merge as the encoder would with every piece made so far: the pair making the
 * lowest-ranked piece first, the leftmost on ties. sym[0..*n) is rewritten. */
static void resegment(const tl_bpe_trainer *tr, lstate *st, int32_t *sym, uint32_t *n) {
    int ns = (int)*n;
    st->n = 0;
    for (int i = 0; i < ns; i++) {
        st->id[i] = sym[i];
        st->prev[i] = i - 1;
        st->next[i] = i + 1 < ns ? i + 1 : -1;
    }
    for (int i = 1; i < ns; i++) ltry(tr, st, i - 1, i);
    while (st->n) {
        lpair p = lpop(st);
        if (st->id[p.left] != p.a || st->id[p.right] != p.b) continue; /* stale: one side merged since */
        st->id[p.left] = p.rank;
        st->id[p.right] = -2; /* gone */
        st->next[p.left] = st->next[p.right];
        if (st->next[p.right] >= 0) st->prev[st->next[p.right]] = p.left;
        ltry(tr, st, st->prev[p.left], p.left);
        ltry(tr, st, p.left, st->next[p.left]);
    }
    uint32_t k = 0;
    for (int i = 0; i >= 0 && ns > 0; i = st->next[i]) sym[k++] = st->id[i];
    *n = k;
}

/* ---- training ------------------------------------------------------------------------------ */

static tl_status build_symbols(tl_bpe_trainer *tr) {
    size_t total = 0;
    for (size_t w = 0; w < tr->words.n; w++) total += tr->words.e[w].len; /* bytes >= characters */
    tr->sym = tl_malloc((total ? total : 1) * sizeof *tr->sym);
    if (!tr->sym) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory for %zu symbols", total);
    for (size_t w = 0; w < tr->words.n; w++) {
        const char *s = stab_str(&tr->words, (int32_t)w);
        size_t len = tr->words.e[w].len;
        tr->wi[w].sym = tr->n_sym;
        for (size_t i = 0; i < len;) {
            size_t n = tl_utf8_len((uint8_t)s[i]);
            if (n > len - i) n = len - i;
            tr->sym[tr->n_sym++] = stab_find(&tr->pieces, hash2(s + i, n, "", 0), s + i, n, "", 0);
            i += n;
        }
        tr->wi[w].n_sym = (uint32_t)(tr->n_sym - tr->wi[w].sym);
    }
    return TL_OK;
}

/* Make candidate c the next piece and re-segment the words that hold it. */
static tl_status merge(tl_bpe_trainer *tr, lstate *st, int32_t c) {
    cand_info *ci = &tr->ci[c];
    piece_info info = {ci->n_chars, ci->n_marks, ci->all_marks};
    int32_t p;
    tl_status s = add_piece(tr, stab_str(&tr->cands, c), tr->cands.e[c].len, info, &p);
    if (s) return s;
    ci->state = CAND_MERGED;
    int32_t *list = ci->words; /* tr->ci may move while new pairs are added */
    uint32_t n_list = ci->n_words;
    ci->words = NULL;
    ci->n_words = ci->cap_words = 0;
    const char *ps = piece_str(tr, p);
    size_t pl = piece_len(tr, p);
    for (uint32_t k = 0; k < n_list && !s; k++) {
        int32_t w = list[k];
        word_info *wi = &tr->wi[w];
        if (wi->stamp == tr->n_merges) continue;
        wi->stamp = tr->n_merges;
        int32_t *sym = tr->sym + wi->sym;
        int found = 0;
        for (uint32_t i = 0; i + 1 < wi->n_sym && !found; i++) {
            int32_t a = sym[i], b = sym[i + 1];
            if (a < 0 || b < 0) continue;
            size_t la = piece_len(tr, a);
            found = la + piece_len(tr, b) == pl && !memcmp(piece_str(tr, a), ps, la) &&
                    !memcmp(piece_str(tr, b), ps + la, pl - la);
        }
        if (!found) continue; /* an old entry: the pair left this word earlier */
        s = count_pairs(tr, w, -1);
        if (!s) {
            resegment(tr, st, sym, &wi->n_sym);
            s = count_pairs(tr, w, +1);
        }
    }
    tl_free(list);
    for (size_t k = 0; k < tr->n_touched && !s; k++) {
        int32_t t = tr->touched[k];
        if (tr->ci[t].state == CAND_LIVE && tr->ci[t].count > tr->ci[t].bound) s = heap_push(tr, t);
    }
    tr->n_touched = 0;
    return s;
}

/* Pop the best live candidate with an up-to-date count; -1 when none is left. */
static tl_status next_cand(tl_bpe_trainer *tr, int32_t *out) {
    *out = -1;
    while (tr->n_heap) {
        heap_entry e = heap_pop(tr);
        cand_info *ci = &tr->ci[e.cand];
        if (ci->state != CAND_LIVE) continue;
        if (e.count != ci->count) {
            if (e.count == ci->bound) { /* its newest entry is stale: replace it */
                ci->bound = 0;
                if (ci->count > 0) {
                    tl_status s = heap_push(tr, e.cand);
                    if (s) return s;
                }
            }
            continue;
        }
        if (ci->count <= 0) continue;
        *out = e.cand;
        return TL_OK;
    }
    return TL_OK;
}

static tl_status train(tl_bpe_trainer *tr) {
    tl_status s = pick_base(tr);
    if (s) return s;
    if (N_RESERVED + tr->n_base > tr->o.vocab_size)
        return tl_errorf(TL_E_ARG,
                         "vocab size %d is too small: %d characters reach the %g coverage, so at least %d tokens are "
                         "needed (raise --vocab-size or lower the coverage)",
                         tr->o.vocab_size, tr->n_base, tr->o.char_coverage, N_RESERVED + tr->n_base);
    for (int k = 0; k < tr->n_base && !s; k++) {
        int32_t c = tr->base[k], id;
        const char *cs = stab_str(&tr->chars, c);
        size_t cl = tr->chars.e[c].len;
        int mark = cl == 3 && !memcmp(cs, MARK, 3);
        s = add_piece(tr, cs, cl, (piece_info){1, (uint16_t)mark, (uint8_t)mark}, &id);
    }
    if (!s) s = build_symbols(tr);
    tr->n_merges = -1; /* the initial count: "touched" stamps differ from every merge's */
    for (size_t w = 0; w < tr->words.n && !s; w++) s = count_pairs(tr, (int32_t)w, +1);
    tr->n_merges = 0;
    for (size_t k = 0; k < tr->n_touched && !s; k++) s = heap_push(tr, tr->touched[k]);
    tr->n_touched = 0;
    if (s) return s;
    lstate *st = tl_malloc(sizeof *st);
    if (!st) return tl_errorf(TL_E_NOMEM, "tokenizer training: out of memory");
    tr->target = tr->o.vocab_size - N_RESERVED - tr->n_base;
    while (tr->n_merges < tr->target) {
        int32_t c;
        if ((s = next_cand(tr, &c)) != TL_OK || c < 0) break;
        if ((s = merge(tr, st, c)) != TL_OK) break;
        tr->n_merges++;
        if (tr->o.progress && (tr->n_merges % 16 == 0 || tr->n_merges == tr->target))
            tr->o.progress(tr->o.user, tr->n_merges, tr->target);
    }
    tl_free(st);
    if (s) return s;
    if (tr->n_merges < tr->target)
        tl_logf(TL_LOG_WARN, "tokenizer training: no pair left to merge after %d of %d merges: the vocabulary has %d "
                "tokens instead of %d", tr->n_merges, tr->target, N_RESERVED + tr->n_base + tr->n_merges,
                tr->o.vocab_size);
    for (size_t w = 0; w < tr->words.n; w++) {
        int64_t n = 0; /* a symbol outside the base set becomes one byte token per byte */
        const int32_t *sym = tr->sym + tr->wi[w].sym;
        const char *ws = stab_str(&tr->words, (int32_t)w);
        for (uint32_t i = 0, pos = 0; i < tr->wi[w].n_sym; i++) {
            size_t len = sym[i] >= 0 ? piece_len(tr, sym[i]) : tl_utf8_len((uint8_t)ws[pos]);
            if (pos + len > tr->words.e[w].len) len = tr->words.e[w].len - pos;
            n += sym[i] >= 0 ? 1 : (int64_t)len;
            pos += (uint32_t)len;
        }
        tr->n_tokens += n * tr->wi[w].count;
    }
    return TL_OK;
}

/* Token ids: 0 <unk>, 1 <s>, 2 </s>, 3.. bytes, 259.. merges in order, then base characters. */
static int32_t token_id(const tl_bpe_trainer *tr, int32_t piece) {
    return piece < tr->n_base ? N_RESERVED + tr->n_merges + piece : N_RESERVED + (piece - tr->n_base);
}

static tl_status build_tokenizer(const tl_bpe_trainer *tr, tl_tokenizer **out) {
    int n = N_RESERVED + tr->n_base + tr->n_merges;
    tl_tokenizer *t;
    tl_status s = tl_tok_new(TL_TOK_SPM, n, &t);
    if (s) return s;
    s = tl_tok_set(t, 0, "<unk>", 5, 0.0f, TL_TOKEN_UNKNOWN);
    if (!s) s = tl_tok_set(t, 1, "<s>", 3, 0.0f, TL_TOKEN_CONTROL);
    if (!s) s = tl_tok_set(t, 2, "</s>", 4, 0.0f, TL_TOKEN_CONTROL);
    for (int b = 0; b < 256 && !s; b++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        s = tl_tok_set(t, 3 + b, buf, 6, 0.0f, TL_TOKEN_BYTE);
    }
    for (int32_t p = 0; p < (int32_t)tr->pieces.n && !s; p++) {
        int32_t id = token_id(tr, p);
        /* merges score -rank; base characters below every merge (they are never made by one) */
        float score = 0.0f - (float)(p < tr->n_base ? tr->n_merges + p : p - tr->n_base);
        s = tl_tok_set(t, id, piece_str(tr, p), piece_len(tr, p), score, TL_TOKEN_NORMAL);
    }
    if (!s) {
        t->unk = 0;
        t->bos = 1;
        t->eos = 2;
        t->add_bos = 1;
        s = tl_tok_finish(t, "tokenizer training", NULL);
    }
    if (s) {
        tl_tokenizer_free(t);
        return s;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_bpe_trainer_run(tl_bpe_trainer *tr, tl_tokenizer **out) {
    *out = NULL;
    if (tr->ran) return tl_errorf(TL_E_ARG, "tokenizer training: the trainer already ran");
    if (!tr->n_words) return tl_errorf(TL_E_ARG, "tokenizer training: the corpus is empty (no text to train on)");
    tr->ran = 1;
    double t0 = tl_time_sec();
    tl_status s = train(tr);
    if (!s) s = build_tokenizer(tr, out);
    tr->seconds = tl_time_sec() - t0;
    return s;
}

void tl_bpe_trainer_stats(const tl_bpe_trainer *tr, tl_bpe_train_stats *st) {
    memset(st, 0, sizeof *st);
    st->n_texts = tr->n_texts;
    st->n_bytes = tr->n_bytes;
    st->n_words = tr->n_words;
    st->n_unique_words = (int64_t)tr->words.n;
    st->n_chars = tr->n_chars;
    st->n_distinct_chars = (int64_t)tr->chars.n;
    st->n_base_chars = tr->n_base;
    st->coverage = tr->coverage;
    st->n_merges = tr->n_merges > 0 ? tr->n_merges : 0;
    st->n_vocab = tr->ran ? N_RESERVED + tr->n_base + st->n_merges : 0;
    st->n_tokens = tr->n_tokens;
    st->seconds = tr->seconds;
}

size_t tl_bpe_trainer_n_words(const tl_bpe_trainer *tr) { return tr->words.n; }

tl_status tl_bpe_trainer_word(const tl_bpe_trainer *tr, size_t i, const char **text, size_t *len, int64_t *count,
                              int32_t *ids, size_t *n_ids) {
    if (!tr->ran || !tr->sym || i >= tr->words.n)
        return tl_errorf(TL_E_ARG, "tokenizer training: no word %zu (%zu words%s)", i, tr->words.n,
                         tr->ran ? "" : ", not trained yet");
    const char *ws = stab_str(&tr->words, (int32_t)i);
    size_t wl = tr->words.e[i].len, pos = 0, k = 0;
    const int32_t *sym = tr->sym + tr->wi[i].sym;
    for (uint32_t j = 0; j < tr->wi[i].n_sym; j++) {
        if (sym[j] >= 0) {
            ids[k++] = token_id(tr, sym[j]);
            pos += piece_len(tr, sym[j]);
            continue;
        }
        size_t n = tl_utf8_len((uint8_t)ws[pos]);
        if (n > wl - pos) n = wl - pos;
        for (size_t b = 0; b < n; b++) ids[k++] = 3 + (uint8_t)ws[pos + b];
        pos += n;
    }
    *text = ws;
    *len = wl;
    *count = tr->wi[i].count;
    *n_ids = k;
    return TL_OK;
}
