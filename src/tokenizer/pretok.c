/* pretok.c: the BPE pre-tokenizers of llama.cpp's test vocabularies, matched
 * by hand over code points (no regex engine). A pre-tokenizer is a list of
 * patterns applied in turn, as llama.cpp's unicode_regex_split does: each
 * pattern is searched (leftmost match, ECMAScript semantics: ordered
 * alternation, greedy quantifiers with backtracking) inside every fragment
 * the previous patterns left, and both the matches and the unmatched gaps
 * between them become fragments. Lookaheads and `$` see the fragment's end.
 *
 * Classes: \p{L} \p{N} \p{P} are Unicode general categories and \s is
 * White_Space (unicode_table.c). The DeepSeek patterns spell some classes as
 * literal code point ranges; there, as in llama.cpp, a non-ASCII space counts
 * as U+000B (so U+3000 is \s, not a member of the range U+3000..U+3002). */
#include <string.h>

#include "pretok.h"
#include "unicode.h"

/* One fragment: code points and their class bits. */
typedef struct {
    const uint32_t *cp;
    const uint8_t *fl;
    size_t n;
} frag;

/* Length of the match at pos, 0 when the pattern does not match there. */
typedef size_t (*matcher)(const frag *f, size_t pos);

#define FL(f, i) ((i) < (f)->n ? (int)(f)->fl[i] : -1) /* -1 past the end */
#define HAS(f, i, bits) (FL(f, i) >= 0 && (FL(f, i) & (bits)))
#define LNS (TL_UC_LETTER | TL_UC_NUMBER | TL_UC_SPACE)

static size_t run(const frag *f, size_t pos, int bits) {
    size_t k = pos;
    while (HAS(f, k, bits)) k++;
    return k - pos;
}

/* Not \s, \p{L}, \p{N} (a real code point). */
static int other(const frag *f, size_t i) { return i < f->n && !(f->fl[i] & LNS); }

/* 's 't 're 've 'm 'll 'd; upper case too when ci. */
static size_t contraction(const frag *f, size_t pos, int ci) {
    if (f->cp[pos] != '\'' || pos + 1 >= f->n) return 0;
    uint32_t a = f->cp[pos + 1], b = pos + 2 < f->n ? f->cp[pos + 2] : 0;
    if (ci) {
        a = a >= 'A' && a <= 'Z' ? a + 32 : a;
        b = b >= 'A' && b <= 'Z' ? b + 32 : b;
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* \s+(?!\S) then \s+ : a space run keeps its last space for the next word. */
static size_t spaces(const frag *f, size_t pos) {
    size_t ws = run(f, pos, TL_UC_SPACE);
    if (ws > 1 && pos + ws < f->n) return ws - 1;
    return ws;
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
 * (llama.cpp matches it with a hand-written loop that also takes a lone space
 * before a non-space as a word; as a gap it would be one just the same). */
static size_t m_gpt2(const frag *f, size_t pos) {
    size_t k = contraction(f, pos, 0);
    if (k) return k;
    size_t sp = f->cp[pos] == ' ';
    int g = FL(f, pos + sp);
    if (g >= 0 && (g & (TL_UC_LETTER | TL_UC_NUMBER))) {
        int want = g & TL_UC_LETTER ? TL_UC_LETTER : TL_UC_NUMBER;
        return sp + run(f, pos + sp, want);
    }
    if (other(f, pos + sp)) {
        k = pos + sp;
        while (other(f, k)) k++;
        return k - pos;
    }
    k = spaces(f, pos);
    return k ? k : 1;
}

/* Llama 3 / Qwen2:
 *   (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+                                              */
static size_t llama3_like(const frag *f, size_t pos, size_t max_digits) {
    size_t k = contraction(f, pos, 1);
    if (k) return k;
    uint32_t c = f->cp[pos];
    int fl = f->fl[pos];
    if (fl & TL_UC_LETTER) return run(f, pos, TL_UC_LETTER);
    if (c != '\r' && c != '\n' && !(fl & TL_UC_NUMBER) && HAS(f, pos + 1, TL_UC_LETTER))
        return 1 + run(f, pos + 1, TL_UC_LETTER);
    if (fl & TL_UC_NUMBER) {
        k = run(f, pos, TL_UC_NUMBER);
        return k < max_digits ? k : max_digits;
    }
    size_t sp = c == ' ';
    if (other(f, pos + sp)) {
        k = pos + sp;
        while (other(f, k)) k++;
        while (k < f->n && (f->cp[k] == '\r' || f->cp[k] == '\n')) k++;
        return k - pos;
    }
    size_t ws = run(f, pos, TL_UC_SPACE), last_nl = 0; /* \s*[\r\n]+ ends after the run's last CR/LF */
    for (size_t i = 0; i < ws; i++)
        if (f->cp[pos + i] == '\r' || f->cp[pos + i] == '\n') last_nl = i + 1;
    if (last_nl) return last_nl;
    return spaces(f, pos);
}
static size_t m_llama3(const frag *f, size_t pos) { return llama3_like(f, pos, 3); }
static size_t m_qwen2(const frag *f, size_t pos) { return llama3_like(f, pos, 1); }

/* [\p{P}\$\+<=>\^~\|]+ (default) and the same with ` (Falcon) */
static int punct_sym(const frag *f, size_t i, int backtick) {
    if (i >= f->n) return 0;
    uint32_t c = f->cp[i];
    return (f->fl[i] & TL_UC_PUNCT) || c == '$' || c == '+' || c == '<' || c == '=' || c == '>' ||
           c == '^' || c == '~' || c == '|' || (backtick && c == '`');
}
static size_t m_punct_default(const frag *f, size_t pos) {
    size_t k = pos;
    while (punct_sym(f, k, 0)) k++;
    return k - pos;
}
static size_t m_punct_falcon(const frag *f, size_t pos) {
    size_t k = pos;
    while (punct_sym(f, k, 1)) k++;
    return k - pos;
}

static int ascii_digit(const frag *f, size_t i) { return i < f->n && f->cp[i] >= '0' && f->cp[i] <= '9'; }
/* [0-9][0-9][0-9] */
static size_t m_digits3(const frag *f, size_t pos) {
    return ascii_digit(f, pos) && ascii_digit(f, pos + 1) && ascii_digit(f, pos + 2) ? 3 : 0;
}
static size_t m_number_run(const frag *f, size_t pos) { return run(f, pos, TL_UC_NUMBER); } /* \p{N}+ */
static size_t m_number(const frag *f, size_t pos) { return HAS(f, pos, TL_UC_NUMBER) ? 1 : 0; } /* \p{N} */
static size_t m_newline(const frag *f, size_t pos) { /* [\r\n] */
    return f->cp[pos] == '\r' || f->cp[pos] == '\n';
}
/* \s?\p{L}+ and \s?\p{P}+ (DeepSeek Coder) */
static size_t opt_space_run(const frag *f, size_t pos, int bits) {
    size_t sp = HAS(f, pos, TL_UC_SPACE) ? 1 : 0;
    size_t k = run(f, pos + sp, bits);
    if (k) return sp + k;
    return sp ? run(f, pos, bits) : 0; /* without the optional space: pos is a space, so no */
}
static size_t m_space_letters(const frag *f, size_t pos) { return opt_space_run(f, pos, TL_UC_LETTER); }
static size_t m_space_punct(const frag *f, size_t pos) { return opt_space_run(f, pos, TL_UC_PUNCT); }

/* ---- DeepSeek's literal classes ------------------------------------------------ */

typedef struct {
    uint32_t lo, hi;
} cp_range;

/* From llama.cpp's DeepSeek LLM pattern \s?[A-Za-zµÀ-ÖØ-öø-ƺ...𞤀-𞥃]+ */
static const cp_range ds_letters[] = {
    {0x0041, 0x005A},   {0x0061, 0x007A},   {0x00B5, 0x00B5},   {0x00C0, 0x00D6},   {0x00D8, 0x00F6},
    {0x00F8, 0x01BA},   {0x01BC, 0x01BF},   {0x01C4, 0x0293},   {0x0295, 0x02AF},   {0x0370, 0x0373},
    {0x0376, 0x0377},   {0x037B, 0x037D},   {0x037F, 0x037F},   {0x0386, 0x0386},   {0x0388, 0x038A},
    {0x038C, 0x038C},   {0x038E, 0x03A1},   {0x03A3, 0x03F5},   {0x03F7, 0x0481},   {0x048A, 0x052F},
    {0x0531, 0x0556},   {0x10A0, 0x10C5},   {0x13A0, 0x13F5},   {0x13F8, 0x13FD},   {0x1C90, 0x1CBA},
    {0x1CBD, 0x1CBF},   {0x1D00, 0x1D2B},   {0x1D6B, 0x1D77},   {0x1D79, 0x1D9A},   {0x1E00, 0x1F15},
    {0x1F18, 0x1F1D},   {0x1F20, 0x1F45},   {0x1F48, 0x1F4D},   {0x1F50, 0x1F57},   {0x1F59, 0x1F59},
    {0x1F5B, 0x1F5B},   {0x1F5D, 0x1F5D},   {0x1F5F, 0x1F7D},   {0x1F80, 0x1FB4},   {0x1FB6, 0x1FBC},
    {0x1FBE, 0x1FBE},   {0x1FC2, 0x1FC4},   {0x1FC6, 0x1FCC},   {0x1FD0, 0x1FD3},   {0x1FD6, 0x1FDB},
    {0x1FE0, 0x1FEC},   {0x1FF2, 0x1FF4},   {0x1FF6, 0x1FFC},   {0x2102, 0x2102},   {0x2107, 0x2107},
    {0x210A, 0x2113},   {0x2115, 0x2115},   {0x2119, 0x211D},   {0x2124, 0x2124},   {0x2126, 0x2126},
    {0x2128, 0x2128},   {0x212A, 0x212D},   {0x212F, 0x2134},   {0x2139, 0x2139},   {0x213C, 0x213F},
    {0x2145, 0x2149},   {0x214E, 0x214E},   {0x2183, 0x2184},   {0x2C00, 0x2C7B},   {0x2C7E, 0x2CE4},
    {0x2CEB, 0x2CEE},   {0x2CF2, 0x2CF3},   {0xA640, 0xA66D},   {0xA680, 0xA69B},   {0xA722, 0xA76F},
    {0xA771, 0xA787},   {0xA78B, 0xA78E},   {0xAB70, 0xABBF},   {0xFB00, 0xFB06},   {0xFB13, 0xFB17},
    {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0x10400, 0x1044F}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB},
    {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF}, {0x1E900, 0x1E943},
};
/* \s?[!-/:-~！-／：-～‘-‟　-。]+ */
static const cp_range ds_punct[] = {
    {0x0021, 0x002F}, {0x003A, 0x007E}, {0xFF01, 0xFF0F}, {0xFF1A, 0xFF5E}, {0x2018, 0x201F}, {0x3000, 0x3002},
};
/* [一-龥ࠀ-一가-퟿]+ */
static const cp_range ds_cjk[] = {{0x4E00, 0x9FA5}, {0x0800, 0x4E00}, {0xAC00, 0xD7FF}};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The code point a literal class sees: non-ASCII spaces read as U+000B. */
static uint32_t lit(const frag *f, size_t i) {
    uint32_t c = f->cp[i];
    return c > 0x7F && (f->fl[i] & TL_UC_SPACE) ? 0x0B : c;
}
static int in_ranges(const frag *f, size_t i, const cp_range *r, size_t nr) {
    if (i >= f->n) return 0;
    uint32_t c = lit(f, i);
    for (size_t k = 0; k < nr; k++)
        if (c >= r[k].lo && c <= r[k].hi) return 1;
    return 0;
}
static size_t ranges_run(const frag *f, size_t pos, const cp_range *r, size_t nr) {
    size_t k = pos;
    while (in_ranges(f, k, r, nr)) k++;
    return k - pos;
}
/* \s?[class]+ : \s after the literal mapping is one of \t\n\v\f\r and space */
static size_t lit_opt_space_run(const frag *f, size_t pos, const cp_range *r, size_t nr) {
    uint32_t c = lit(f, pos);
    size_t sp = (c >= 0x09 && c <= 0x0D) || c == ' ';
    size_t k = ranges_run(f, pos + sp, r, nr);
    if (k) return sp + k;
    return sp ? ranges_run(f, pos, r, nr) : 0;
}
static size_t m_ds_letters(const frag *f, size_t pos) { return lit_opt_space_run(f, pos, ds_letters, N_OF(ds_letters)); }
static size_t m_ds_punct(const frag *f, size_t pos) { return lit_opt_space_run(f, pos, ds_punct, N_OF(ds_punct)); }
static size_t m_ds_cjk(const frag *f, size_t pos) { return ranges_run(f, pos, ds_cjk, N_OF(ds_cjk)); }
/* \s+$ : only the space run that reaches the fragment's end */
static size_t m_trailing_spaces(const frag *f, size_t pos) {
    size_t k = pos;
    while (k < f->n) {
        uint32_t c = lit(f, k);
        if (!((c >= 0x09 && c <= 0x0D) || c == ' ')) return 0;
        k++;
    }
    return k - pos;
}

/* ---- the pre-tokenizers -------------------------------------------------------- */

#define MAX_PATTERNS 6

typedef struct {
    const char *names[4]; /* tokenizer.ggml.pre values (llama.cpp's) */
    tl_pretok_kind kind;
    int ignore_merges;
    matcher pat[MAX_PATTERNS];
} pretok_def;

static const pretok_def defs[] = {
    {{"gpt-2", "gpt2", "mpt"}, TL_PRE_GPT2, 0, {m_gpt2}},
    {{"default"}, TL_PRE_DEFAULT, 0, {m_punct_default, m_gpt2, m_number_run, m_digits3}},
    {{"llama-bpe", "llama3", "llama-v3"}, TL_PRE_LLAMA3, 1, {m_llama3}},
    {{"qwen2"}, TL_PRE_QWEN2, 0, {m_qwen2}},
    {{"falcon"}, TL_PRE_FALCON, 0, {m_punct_falcon, m_gpt2, m_digits3}},
    {{"starcoder", "refact"}, TL_PRE_STARCODER, 0, {m_number, m_gpt2}},
    {{"deepseek-llm"},
     TL_PRE_DEEPSEEK_LLM,
     0,
     {m_newline, m_ds_letters, m_ds_punct, m_trailing_spaces, m_ds_cjk, m_number_run}},
    {{"deepseek-coder"}, TL_PRE_DEEPSEEK_CODER, 0, {m_newline, m_space_letters, m_space_punct, m_ds_cjk, m_number}},
};

int tl_pretok_lookup(const char *name, size_t n, tl_pretok_kind *kind, int *ignore_merges) {
    for (size_t d = 0; d < N_OF(defs); d++)
        for (int i = 0; i < 4 && defs[d].names[i]; i++)
            if (strlen(defs[d].names[i]) == n && !memcmp(defs[d].names[i], name, n)) {
                if (kind) *kind = defs[d].kind;
                if (ignore_merges) *ignore_merges = defs[d].ignore_merges;
                return 1;
            }
    return 0;
}

const char *tl_pretok_supported(void) {
    return "gpt-2, mpt, default (no tokenizer.ggml.pre), llama-bpe, qwen2, falcon, starcoder, refact, "
           "deepseek-llm, deepseek-coder";
}

/* Split every fragment (lengths in cut[0..*n)) by one pattern; the new lengths go to out. */
static size_t split_pass(const uint32_t *cp, const uint8_t *fl, const size_t *cut, size_t ncut, matcher m,
                         size_t *out) {
    size_t no = 0, start = 0;
    for (size_t c = 0; c < ncut; c++) {
        frag f = {cp + start, fl + start, cut[c]};
        size_t gap = 0;
        for (size_t pos = 0; pos < f.n;) {
            size_t k = m(&f, pos);
            if (k == 0) {
                gap++;
                pos++;
                continue;
            }
            if (gap) out[no++] = gap;
            gap = 0;
            out[no++] = k;
            pos += k;
        }
        if (gap) out[no++] = gap;
        start += cut[c];
    }
    return no;
}

tl_status tl_pretok_split(tl_pretok_kind kind, const char *text, size_t len,
                          void (*fn)(void *user, const char *w, size_t n), void *user) {
    if (len == 0) return TL_OK;
    const pretok_def *d = NULL;
    for (size_t i = 0; i < N_OF(defs); i++)
        if (defs[i].kind == kind) d = &defs[i];
    if (!d) return tl_errorf(TL_E_ARG, "tokenizer: unknown pre-tokenizer %d", (int)kind);
    /* one code point per byte at most: cp, fl, two cut arrays and the word buffer */
    uint32_t *cp = tl_malloc(len * sizeof *cp);
    uint8_t *fl = tl_malloc(len);
    size_t *cut = tl_malloc(len * sizeof *cut), *next = tl_malloc(len * sizeof *next);
    char *word = tl_malloc(4 * len);
    tl_status s = TL_OK;
    if (!cp || !fl || !cut || !next || !word) {
        s = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory for %zu bytes of text", len);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t used;
        cp[n] = tl_utf8_decode((const uint8_t *)text + i, len - i, &used);
        fl[n] = (uint8_t)tl_unicode_flags(cp[n]);
        n++;
        i += used;
    }
    size_t ncut = 1;
    cut[0] = n;
    for (int p = 0; p < MAX_PATTERNS && d->pat[p]; p++) {
        ncut = split_pass(cp, fl, cut, ncut, d->pat[p], next);
        size_t *t = cut;
        cut = next;
        next = t;
    }
    for (size_t c = 0, start = 0; c < ncut; c++) {
        size_t wn = 0;
        for (size_t i = start; i < start + cut[c]; i++) wn += tl_utf8_encode(cp[i], word + wn);
        fn(user, word, wn);
        start += cut[c];
    }
done:
    tl_free(cp);
    tl_free(fl);
    tl_free(cut);
    tl_free(next);
    tl_free(word);
    return s;
}
