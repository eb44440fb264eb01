/* selfalign_text.c: the text side of SELF-ALIGN — ROUGE-L, principles and
 * exemplars, prompt assembly, splitting a generation into thought and answer,
 * and the filters. Pure functions of their inputs; no model. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <string.h>

#include "model/model.h" /* internal */
#include "format/format.h" /* internal: model, base */
#include "tiller/selfalign.h"

/* ---- ROUGE-L ------------------------------------------------------------------ */

void tl_sa_toks_free(tl_sa_toks *t) {
    for (int i = 0; i < t->n; i++) tl_free(t->tok[i]);
    tl_free(t->tok);
    t->tok = NULL;
    t->n = 0;
}

/* rouge_score/tokenize.py: lower(); re.sub(r"[^a-z0-9]+", " "); split; keep ^[a-z0-9]+$ tokens. */
tl_status tl_sa_tokenize(const char *s, tl_sa_toks *out) {
    out->n = 0;
    out->tok = NULL;
    int cap = 0;
    for (const char *p = s; *p;) {
        while (*p && !isalnum((unsigned char)*p)) p++;
        if (!*p) break;
        const char *q = p;
        while (*q && isalnum((unsigned char)*q) && (unsigned char)*q < 128) q++;
        if (q == p) { /* a non-ASCII byte that isalnum accepted in this locale: a separator */
            p++;
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nt = tl_realloc(out->tok, sizeof(char *) * (size_t)cap);
            if (!nt) goto oom;
            out->tok = nt;
        }
        char *t = tl_malloc((size_t)(q - p) + 1);
        if (!t) goto oom;
        for (const char *c = p; c < q; c++) t[c - p] = (char)tolower((unsigned char)*c);
        t[q - p] = 0;
        out->tok[out->n++] = t;
        p = q;
    }
    return TL_OK;
oom:
    tl_sa_toks_free(out);
    return tl_errorf(TL_E_NOMEM, "rouge: out of memory");
}

double tl_sa_rouge_l_toks(const tl_sa_toks *a, const tl_sa_toks *b) {
    if (a->n == 0 || b->n == 0) return 0.0;
    /* LCS by dynamic programming over two rows */
    int *prev = tl_calloc((size_t)b->n + 1, sizeof(int)), *cur = tl_calloc((size_t)b->n + 1, sizeof(int));
    if (!prev || !cur) {
        tl_free(prev);
        tl_free(cur);
        return 0.0;
    }
    for (int i = 1; i <= a->n; i++) {
        for (int j = 1; j <= b->n; j++)
            cur[j] = !strcmp(a->tok[i - 1], b->tok[j - 1]) ? prev[j - 1] + 1 : (prev[j] > cur[j - 1] ? prev[j] : cur[j - 1]);
        int *t = prev;
        prev = cur;
        cur = t;
    }
    int lcs = prev[b->n];
    tl_free(prev);
    tl_free(cur);
    double p = (double)lcs / a->n, r = (double)lcs / b->n;
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double tl_sa_rouge_l(const char *a, const char *b) {
    tl_sa_toks ta, tb;
    if (tl_sa_tokenize(a, &ta)) return 0.0;
    if (tl_sa_tokenize(b, &tb)) {
        tl_sa_toks_free(&ta);
        return 0.0;
    }
    double f = tl_sa_rouge_l_toks(&ta, &tb);
    tl_sa_toks_free(&ta);
    tl_sa_toks_free(&tb);
    return f;
}

/* ---- principles and exemplars ------------------------------------------------------ */

void tl_sa_prompt_set_free(tl_sa_prompt_set *ps) {
    tl_sa_strings_free(ps->principles, ps->n_principles);
    for (int i = 0; i < ps->n_exemplars; i++) {
        tl_free(ps->exemplars[i].instruction);
        tl_free(ps->exemplars[i].thought);
        tl_free(ps->exemplars[i].answer);
    }
    tl_free(ps->exemplars);
    memset(ps, 0, sizeof *ps);
}

static char *dup_n(const char *s, size_t n) {
    char *d = tl_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static char *dup_s(const char *s) { return dup_n(s, strlen(s)); }

tl_status tl_sa_principles_load(const char *path, tl_sa_prompt_set *ps) {
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    if (memchr(text, 0, len)) {
        tl_free(text);
        return tl_errorf(TL_E_FORMAT, "%s: a NUL byte: not a text file", path);
    }
    int line = 0;
    for (size_t i = 0; i < len && !s;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        line++;
        size_t a = i, b = j;
        while (a < b && isspace((unsigned char)text[a])) a++;
        while (b > a && isspace((unsigned char)text[b - 1])) b--;
        i = j + 1;
        if (a == b || text[a] == '#') continue;
        if (b - a > 2000) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: a principle of %zu bytes (at most 2000)", path, line, b - a);
            break;
        }
        char **np = tl_realloc(ps->principles, sizeof(char *) * (size_t)(ps->n_principles + 1));
        char *p = np ? dup_n(text + a, b - a) : NULL;
        if (np) ps->principles = np;
        if (!p) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        else ps->principles[ps->n_principles++] = p;
    }
    tl_free(text);
    if (!s && ps->n_principles == 0) s = tl_errorf(TL_E_FORMAT, "%s: no principle (one per line, # for comments)", path);
    return s;
}

/* Lines of a JSONL file as parsed objects, one callback per non-blank line. */
typedef tl_status (*line_fn)(void *user, const char *path, int line, const cJSON *obj);

static tl_status each_jsonl(const char *path, line_fn fn, void *user) {
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    int line = 0;
    for (size_t i = 0; i < len && !s;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        line++;
        size_t a = i;
        while (a < j && isspace((unsigned char)text[a])) a++;
        if (a < j) {
            cJSON *o = cJSON_ParseWithLength(text + a, j - a);
            if (!cJSON_IsObject(o))
                s = tl_errorf(TL_E_FORMAT, "%s:%d: not a JSON object", path, line);
            else
                s = fn(user, path, line, o);
            cJSON_Delete(o);
        }
        i = j + 1;
    }
    tl_free(text);
    return s;
}

static const char *str_field(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static tl_status add_exemplar(void *user, const char *path, int line, const cJSON *o) {
    tl_sa_prompt_set *ps = user;
    const char *f[3] = {str_field(o, "instruction"), str_field(o, "thought"), str_field(o, "answer")};
    static const char *const names[3] = {"instruction", "thought", "answer"};
    for (int k = 0; k < 3; k++)
        if (!f[k] || !*f[k]) return tl_errorf(TL_E_FORMAT, "%s:%d: no string \"%s\"", path, line, names[k]);
    tl_sa_exemplar *ne = tl_realloc(ps->exemplars, sizeof *ne * (size_t)(ps->n_exemplars + 1));
    if (!ne) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    ps->exemplars = ne;
    tl_sa_exemplar *e = &ne[ps->n_exemplars];
    e->instruction = dup_s(f[0]), e->thought = dup_s(f[1]), e->answer = dup_s(f[2]);
    ps->n_exemplars++;
    if (!e->instruction || !e->thought || !e->answer) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    return TL_OK;
}

tl_status tl_sa_exemplars_load(const char *path, tl_sa_prompt_set *ps) {
    tl_status s = each_jsonl(path, add_exemplar, ps);
    if (!s && ps->n_exemplars == 0) s = tl_errorf(TL_E_FORMAT, "%s: no exemplar", path);
    return s;
}

typedef struct {
    const char *key;
    char **v;
    int n, cap;
} field_list;

static tl_status add_field(void *user, const char *path, int line, const cJSON *o) {
    field_list *fl = user;
    const char *v = str_field(o, fl->key);
    if (!v) return tl_errorf(TL_E_FORMAT, "%s:%d: no string \"%s\"", path, line, fl->key);
    if (fl->n == fl->cap) {
        fl->cap = fl->cap ? 2 * fl->cap : 64;
        char **nv = tl_realloc(fl->v, sizeof(char *) * (size_t)fl->cap);
        if (!nv) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        fl->v = nv;
    }
    if (!(fl->v[fl->n] = dup_s(v))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    fl->n++;
    return TL_OK;
}

tl_status tl_sa_read_field(const char *path, const char *key, char ***out, int *n) {
    field_list fl = {key, NULL, 0, 0};
    tl_status s = each_jsonl(path, add_field, &fl);
    if (s) {
        tl_sa_strings_free(fl.v, fl.n);
        fl.v = NULL, fl.n = 0;
    }
    *out = fl.v;
    *n = fl.n;
    return s;
}

void tl_sa_strings_free(char **s, int n) {
    for (int i = 0; i < n; i++) tl_free(s[i]);
    tl_free(s);
}

/* ---- prompts ----------------------------------------------------------------------- */

void tl_sa_rules_block(tl_strbuf *b, char *const *principles, int n) {
    if (n <= 0) return;
    tl_strbuf_puts(b, "Rules:");
    for (int i = 0; i < n; i++) tl_strbuf_printf(b, "\n%d. %s", i + 1, principles[i]);
    tl_strbuf_puts(b, "\n");
}

void tl_sa_teacher_prompt(tl_strbuf *b, const tl_sa_prompt_set *ps, int n_exemplars, const char *instruction,
                          int with_thought) {
    tl_sa_rules_block(b, ps->principles, ps->n_principles);
    if (n_exemplars < 0 || n_exemplars > ps->n_exemplars) n_exemplars = ps->n_exemplars;
    for (int i = 0; i < n_exemplars; i++) {
        const tl_sa_exemplar *e = &ps->exemplars[i];
        tl_strbuf_printf(b, TL_SA_USER "%s" TL_SA_THOUGHT " %s" TL_SA_ASSISTANT " %s\n", e->instruction, e->thought,
                         e->answer);
    }
    tl_strbuf_printf(b, TL_SA_USER "%s%s", instruction, with_thought ? TL_SA_THOUGHT : TL_SA_ASSISTANT);
}

void tl_sa_plain_prompt(tl_strbuf *b, const char *instruction) {
    tl_strbuf_printf(b, TL_SA_USER "%s" TL_SA_ASSISTANT, instruction);
}

static char *trimmed(const char *a, const char *b) {
    while (a < b && isspace((unsigned char)*a)) a++;
    while (b > a && isspace((unsigned char)b[-1])) b--;
    return dup_n(a, (size_t)(b - a));
}

/* End of an answer starting at p: the first of the markers, or the end. */
static const char *answer_end(const char *p) {
    static const char *const marks[] = {"\n" TL_SA_USER, TL_SA_THOUGHT, "\nRules:", "\n\n"};
    const char *end = p + strlen(p);
    for (size_t k = 0; k < sizeof marks / sizeof *marks; k++) {
        const char *m = strstr(p, marks[k]);
        if (m && m < end) end = m;
    }
    return end;
}

char *tl_sa_cut_answer(const char *gen) { return trimmed(gen, answer_end(gen)); }

int tl_sa_split_response(const char *gen, char **thought, char **answer) {
    *thought = *answer = NULL;
    const char *a = strstr(gen, TL_SA_ASSISTANT);
    if (!a) return 0;
    const char *u = strstr(gen, "\n" TL_SA_USER);
    if (u && u < a) return 0; /* the thought ran into a new turn */
    *thought = trimmed(gen, a);
    *answer = tl_sa_cut_answer(a + strlen(TL_SA_ASSISTANT));
    if (!*thought || !*answer || !**answer) {
        tl_free(*thought);
        tl_free(*answer);
        *thought = *answer = NULL;
        return 0;
    }
    return 1;
}

/* ---- filters ------------------------------------------------------------------------ */

const char *const tl_sa_reason_names[TL_SA__REASONS] = {"kept", "empty", "short", "long", "format",
                                                        "similar", "loop", "duplicate", "no_answer", "held_out"};

int tl_sa_count_words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int w = !isspace((unsigned char)*s);
        n += w && !in;
        in = w;
    }
    return n;
}

static int format_bad(const char *s) {
    static const char *const roles[] = {"User:", "Assistant:", "Thought:", "Rules:"};
    for (size_t k = 0; k < sizeof roles / sizeof *roles; k++)
        if (strstr(s, roles[k])) return 1;
    int letter = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 32 && *p != '\n' && *p != '\t') return 1;
        letter |= isalpha(*p) != 0;
    }
    const unsigned char c = (unsigned char)*s;
    return !letter || (ispunct(c) && c != '"' && c != '\'' && c != '(');
}

tl_sa_reason tl_sa_instruction_filter(const char *s, int min_words, int max_words) {
    int w = tl_sa_count_words(s);
    if (w == 0) return TL_SA_EMPTY;
    if (w < min_words) return TL_SA_SHORT;
    if (w > max_words) return TL_SA_LONG;
    if (strchr(s, '\n') || format_bad(s)) return TL_SA_FORMAT;
    return TL_SA_KEEP;
}

tl_sa_reason tl_sa_answer_filter(const char *s, int min_words, int max_words) {
    int w = tl_sa_count_words(s);
    if (w == 0) return TL_SA_EMPTY;
    if (w < min_words) return TL_SA_SHORT;
    if (w > max_words) return TL_SA_LONG;
    if (format_bad(s)) return TL_SA_FORMAT;
    if (tl_sa_is_loop(s)) return TL_SA_LOOP;
    return TL_SA_KEEP;
}

int tl_sa_is_loop(const char *s) {
    tl_sa_toks t;
    if (tl_sa_tokenize(s, &t)) return 0;
    int loop = 0;
    /* distinct word trigrams */
    int n3 = t.n - 2;
    if (n3 >= 8) {
        int distinct = 0;
        for (int i = 0; i < n3; i++) {
            int seen = 0;
            for (int j = 0; j < i && !seen; j++)
                seen = !strcmp(t.tok[i], t.tok[j]) && !strcmp(t.tok[i + 1], t.tok[j + 1]) &&
                       !strcmp(t.tok[i + 2], t.tok[j + 2]);
            distinct += !seen;
        }
        loop = 2 * distinct < n3;
    }
    tl_sa_toks_free(&t);
    if (loop) return 1;
    /* a sentence of three or more words, twice */
    const char *sent[64];
    size_t len[64];
    int ns = 0;
    for (const char *p = s; *p && ns < 64;) {
        while (*p && (isspace((unsigned char)*p) || strchr(".!?", *p))) p++;
        const char *q = p;
        while (*q && !strchr(".!?\n", *q)) q++;
        if (q > p) {
            char *tmp = dup_n(p, (size_t)(q - p));
            if (tmp && tl_sa_count_words(tmp) >= 3) sent[ns] = p, len[ns++] = (size_t)(q - p);
            tl_free(tmp);
        }
        p = q;
    }
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < i; j++)
            if (len[i] == len[j] && !memcmp(sent[i], sent[j], len[i])) return 1;
    return 0;
}
