/* recontrol_reward.c: rewards r(prompt, response) behind one interface (word lists, the
 * world's rule, a reward model = the engine's final normed state + a scalar head), preference
 * pairs from JSONL, and the head's Bradley-Terry training. */
#include <ctype.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "format/format.h"
#include "model/model.h" /* internal */
#include "tiller/recontrol.h"
#include "tiller/world.h"

enum { RW_LEXICON, RW_MODEL };

typedef struct {
    char *w;
    double weight;
} lex_entry;

/* The session's state after a prompt's forward (FLUENCY features): its tokens and its last row's
 * logits (they score the response's first token), so that the next response to the same prompt
 * starts from the prompt's cached keys and values. */
typedef struct {
    int32_t *ids;  /* [n] the prompt's tokens as the whole text tokenised them */
    int n, cap;    /* n = 0: nothing cached */
    float *logits; /* [V] */
} prompt_cache;

static void prompt_cache_free(prompt_cache *c) {
    tl_free(c->ids), tl_free(c->logits);
    memset(c, 0, sizeof *c);
}

static tl_status features_fluency(tl_session *s, const tl_tokenizer *tok, const char *prompt, const char *response,
                                  float *out, prompt_cache *pc);

struct tl_reward {
    int kind;
    char name[256];
    lex_entry *lex;
    int n_lex;
    /* reward model */
    tl_model *m;
    tl_tokenizer *tok; /* the engine file's */
    tl_session *s;
    int features;    /* TL_REWARD_FEAT_* */
    float *w, b, *h; /* head [D], bias, feature scratch [D] (D = tl_reward_feature_dim) */
    tl_strbuf buf;   /* prompt + response */
    int borrowed;    /* a clone (tl_reward_clone): lex, m, tok and w belong to the original */
    prompt_cache pc; /* what r->s holds */
};

static const char *const builtin_pos[] = {"sorry",   "help",   "helpful",    "safe",    "please",  "thank",
                                          "thanks",  "happy",  "glad",       "kind",    "understand",
                                          "recommend", "support", "care",    "respect", "legal",   "advice",
                                          "friend",  "good",   "great",      "nice",    "welcome", "hope"};
static const char *const builtin_neg[] = {"kill",  "steal", "hate",    "stupid", "idiot",    "drug",  "drugs",
                                          "weapon", "gun",  "bomb",    "hurt",   "illegal",  "racist", "damn",
                                          "die",   "attack", "violence", "poison", "dumb",   "crime", "murder"};

static tl_status lex_add(tl_reward *r, const char *w, double weight, int *cap) {
    if (r->n_lex == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        lex_entry *n = realloc(r->lex, sizeof *n * (size_t)*cap);
        if (!n) return tl_errorf(TL_E_NOMEM, "reward: out of memory");
        r->lex = n;
    }
    size_t len = strlen(w);
    char *c = malloc(len + 1);
    if (!c) return tl_errorf(TL_E_NOMEM, "reward: out of memory");
    for (size_t i = 0; i <= len; i++) c[i] = (char)tolower((unsigned char)w[i]);
    r->lex[r->n_lex].w = c, r->lex[r->n_lex].weight = weight, r->n_lex++;
    return TL_OK;
}

static tl_status lex_add_list(tl_reward *r, const tl_wlist *l, double weight, int *cap) {
    for (int i = 0; i < l->n; i++) {
        tl_status s = lex_add(r, l->w[i], weight, cap);
        if (s) return s;
    }
    return TL_OK;
}

static tl_status lex_load(tl_reward *r, const char *path, int *cap) {
    FILE *f = fopen(path, "r");
    if (!f) return tl_errorf(TL_E_IO, "%s: cannot open the word list", path);
    char line[512];
    int ln = 0;
    tl_status s = TL_OK;
    while (!s && fgets(line, sizeof line, f)) {
        ln++;
        char *e = line + strlen(line);
        while (e > line && isspace((unsigned char)e[-1])) *--e = 0;
        if (!line[0] || line[0] == '#') continue;
        char *sp = strrchr(line, ' ');
        char *end = NULL;
        double wt = sp ? strtod(sp + 1, &end) : NAN;
        if (!sp || end == sp + 1 || *end || !isfinite(wt)) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected `word weight` (a finite number)", path, ln);
            break;
        }
        *sp = 0;
        s = lex_add(r, line, wt, cap);
    }
    fclose(f);
    if (!s && r->n_lex == 0) s = tl_errorf(TL_E_FORMAT, "%s: no words", path);
    return s;
}

/* ---- reward model head file ----------------------------------------------- */

static tl_status head_load(tl_reward *r, const char *path) {
    tl_gguf *g = NULL;
    tl_status s = tl_gguf_open(path, &g);
    if (s) return s;
    tl_gguf_str arch, base;
    char mpath[1024];
    const tl_gguf_tensor *tw, *tb;
    if ((s = tl_gguf_get_str(g, "general.architecture", &arch))) goto done;
    if (!tl_gguf_str_eq(arch, "reward_head")) {
        s = tl_errorf(TL_E_FORMAT, "%s: general.architecture is not 'reward_head': not a reward model head", path);
        goto done;
    }
    if ((s = tl_gguf_get_str(g, "reward.base_model", &base))) goto done;
    snprintf(mpath, sizeof mpath, "%.*s", (int)(base.n < sizeof mpath ? base.n : sizeof mpath - 1), base.s);
    int beside = 0; /* a fine-tuned engine is named by file name, beside the head */
    if (tl_gguf_get_bool(g, "reward.engine_beside_head", &beside) == TL_OK && beside && !strchr(mpath, '/')) {
        const char *slash = strrchr(path, '/');
        char name[1024];
        memcpy(name, mpath, sizeof name);
        int dir = (int)(slash ? slash - path : 0);
        if (slash && dir + 2 + strlen(name) <= sizeof mpath) {
            memcpy(mpath, path, (size_t)dir);
            mpath[dir] = '/';
            memcpy(mpath + dir + 1, name, strlen(name) + 1);
        }
    }
    tw = tl_gguf_find_tensor(g, "head.weight");
    tb = tl_gguf_find_tensor(g, "head.bias");
    if (!tw || !tb || tw->type != TL_GGML_F32 || tb->type != TL_GGML_F32 || tb->n_elements != 1) {
        s = tl_errorf(TL_E_FORMAT, "%s: needs F32 tensors head.weight [d] and head.bias [1]", path);
        goto done;
    }
    tl_gguf_str feat;
    r->features = TL_REWARD_FEAT_LAST;
    if (tl_gguf_get_str(g, "reward.features", &feat) == TL_OK) {
        if (tl_gguf_str_eq(feat, "fluency")) {
            r->features = TL_REWARD_FEAT_FLUENCY;
        } else if (!tl_gguf_str_eq(feat, "last")) {
            s = tl_errorf(TL_E_FORMAT, "%s: reward.features is '%.*s' (expected 'last' or 'fluency')", path,
                          (int)feat.n, feat.s);
            goto done;
        }
    }
    if ((s = tl_model_load(mpath, &r->m, &r->tok))) goto done;
    int D = tl_reward_feature_dim(r->features, r->m->cfg.dim);
    if (tw->n_elements != (uint64_t)D) {
        s = tl_errorf(TL_E_ARG, "%s: head.weight has %llu elements but the model %s with these features needs %d",
                      path, (unsigned long long)tw->n_elements, mpath, D);
        goto done;
    }
    if (!r->tok) {
        s = tl_errorf(TL_E_ARG, "%s: the reward model's engine %s carries no tokenizer", path, mpath);
        goto done;
    }
    r->w = tl_malloc(sizeof(float) * (size_t)D);
    r->h = tl_malloc(sizeof(float) * (size_t)D);
    if (!r->w || !r->h) {
        s = tl_errorf(TL_E_NOMEM, "reward: out of memory");
        goto done;
    }
    memcpy(r->w, tw->data, sizeof(float) * (size_t)D);
    memcpy(&r->b, tb->data, sizeof(float));
    s = tl_session_new(r->m, 0, 0, &r->s);
done:
    tl_gguf_close(g);
    return s;
}

tl_status tl_reward_open(const char *spec, tl_reward **out) {
    *out = NULL;
    tl_reward *r = tl_calloc(1, sizeof *r);
    if (!r) return tl_errorf(TL_E_NOMEM, "reward: out of memory");
    snprintf(r->name, sizeof r->name, "%s", spec);
    int cap = 0;
    tl_status s = TL_OK;
    if (!strcmp(spec, "lexicon")) {
        r->kind = RW_LEXICON;
        for (size_t i = 0; !s && i < sizeof builtin_pos / sizeof *builtin_pos; i++) s = lex_add(r, builtin_pos[i], 1, &cap);
        for (size_t i = 0; !s && i < sizeof builtin_neg / sizeof *builtin_neg; i++) s = lex_add(r, builtin_neg[i], -1, &cap);
    } else if (!strncmp(spec, "lexicon:", 8)) {
        r->kind = RW_LEXICON;
        s = lex_load(r, spec + 8, &cap);
    } else if (!strcmp(spec, "world")) {
        r->kind = RW_LEXICON;
        if (!(s = lex_add_list(r, &tl_world_kind_words, 1, &cap)) && !(s = lex_add_list(r, &tl_world_pos_adj, 1, &cap)) &&
            !(s = lex_add_list(r, &tl_world_insults, -1, &cap)))
            s = lex_add_list(r, &tl_world_neg_adj, -1, &cap);
    } else if (!strncmp(spec, "model:", 6)) {
        r->kind = RW_MODEL;
        const char *slash = strrchr(spec + 6, '/'); /* named by its file: tables print the name, not a path */
        snprintf(r->name, sizeof r->name, "model:%s", slash ? slash + 1 : spec + 6);
        s = head_load(r, spec + 6);
    } else {
        s = tl_errorf(TL_E_ARG, "unknown reward '%s' (expected lexicon, lexicon:FILE, world or model:HEAD.gguf)", spec);
    }
    if (s) {
        tl_reward_free(r);
        return s;
    }
    *out = r;
    return TL_OK;
}

void tl_reward_free(tl_reward *r) {
    if (!r) return;
    if (!r->borrowed) {
        for (int i = 0; i < r->n_lex; i++) free(r->lex[i].w);
        free(r->lex);
        tl_tokenizer_free(r->tok);
        tl_model_free(r->m);
        tl_free(r->w);
    }
    tl_session_free(r->s);
    prompt_cache_free(&r->pc);
    tl_free(r->h);
    tl_strbuf_free(&r->buf);
    tl_free(r);
}

tl_status tl_reward_clone(const tl_reward *r, tl_reward **out) {
    *out = NULL;
    tl_reward *c = tl_calloc(1, sizeof *c);
    if (!c) return tl_errorf(TL_E_NOMEM, "reward: out of memory");
    /* the read-only parts are shared; the scratch (session, feature buffer) is the clone's own */
    c->kind = r->kind, c->lex = r->lex, c->n_lex = r->n_lex, c->m = r->m, c->tok = r->tok;
    c->features = r->features, c->w = r->w, c->b = r->b, c->borrowed = 1;
    memcpy(c->name, r->name, sizeof c->name);
    tl_status s = TL_OK;
    if (r->kind == RW_MODEL) {
        c->h = tl_malloc(sizeof(float) * (size_t)tl_reward_feature_dim(r->features, r->m->cfg.dim));
        s = c->h ? tl_session_new(r->m, 0, 0, &c->s) : tl_errorf(TL_E_NOMEM, "reward: out of memory");
    }
    if (s) {
        tl_reward_free(c);
        return s;
    }
    *out = c;
    return TL_OK;
}

const char *tl_reward_name(const tl_reward *r) { return r->name; }

static int is_word_char(char c) { return isalnum((unsigned char)c) || c == '\''; }

/* Occurrences of the lower-case phrase w in text at word boundaries (case-insensitive). */
static int count_phrase(const char *text, const char *w) {
    size_t n = strlen(w);
    int c = 0;
    for (const char *p = text; *p; p++) {
        if (p > text && is_word_char(p[-1])) continue;
        size_t i = 0;
        while (i < n && p[i] && tolower((unsigned char)p[i]) == w[i]) i++;
        if (i == n && !is_word_char(p[n])) c++;
    }
    return c;
}

static int count_words(const char *t) {
    int n = 0, in = 0;
    for (; *t; t++) {
        int w = !isspace((unsigned char)*t);
        if (w && !in) n++;
        in = w;
    }
    return n;
}

tl_status tl_reward_score(tl_reward *r, const char *prompt, const char *response, double *out) {
    *out = NAN;
    if (r->kind == RW_LEXICON) {
        double sum = 0;
        for (int i = 0; i < r->n_lex; i++) sum += r->lex[i].weight * count_phrase(response, r->lex[i].w);
        /* per response, damped for length so that a longer text does not score by length alone */
        *out = 10.0 * sum / (count_words(response) + 10.0);
    } else {
        tl_status s = r->features == TL_REWARD_FEAT_FLUENCY
                          ? features_fluency(r->s, r->tok, prompt, response, r->h, &r->pc)
                          : tl_reward_features(r->s, r->tok, prompt, response, r->features, r->h);
        if (s) return s;
        double v = r->b;
        for (int j = 0; j < tl_reward_feature_dim(r->features, r->m->cfg.dim); j++) v += (double)r->w[j] * r->h[j];
        *out = v;
    }
    if (!isfinite(*out)) return tl_errorf(TL_E_NUMERIC, "reward %s: not finite for a response", r->name);
    return TL_OK;
}

/* ---- final state ------------------------------------------------------------- */

static void grab_last(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer, (void)pos0;
    memcpy(user, x + (size_t)(T - 1) * width, (size_t)width * sizeof(float));
}

tl_status tl_final_state(tl_session *s, const tl_tokenizer *tok, const char *text, float *h) {
    int32_t *ids = NULL;
    size_t n = 0;
    tl_status st = tl_tokenizer_encode(tok, text, strlen(text), TL_TOK_ADD_BOS, &ids, &n);
    if (st) return st;
    if ((int)n > s->n_ctx) { /* keep BOS and the tail: the state of the last token is what counts */
        size_t keep = (size_t)s->n_ctx;
        memmove(ids + 1, ids + n - (keep - 1), (keep - 1) * sizeof(int32_t));
        n = keep;
    }
    tl_session_reset(s);
    int n_hooks = s->hooks.n;
    st = tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, grab_last, h);
    const float *lg;
    if (!st) st = tl_forward(s, ids, (int)n, &lg);
    s->hooks.n = n_hooks;
    tl_free(ids);
    return st;
}

int tl_reward_feature_dim(int features, int d) { return features == TL_REWARD_FEAT_FLUENCY ? 2 * d + 1 : d; }

typedef struct { /* FLUENCY features, accumulated over the chunks of one forward */
    const int32_t *ids;
    int n, first;  /* tokens; the response's first token */
    float *last;   /* [d] */
    double *sum;   /* [d] states of the response's tokens */
    int n_rows;
    double lp;     /* log-probabilities of the response's tokens */
    int n_lp;
} feat_acc;

static void grab_rows(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer;
    feat_acc *a = user;
    memcpy(a->last, x + (size_t)(T - 1) * width, (size_t)width * sizeof(float));
    for (int t = 0; t < T; t++)
        if (pos0 + t >= a->first) {
            for (int j = 0; j < width; j++) a->sum[j] += x[(size_t)t * width + j];
            a->n_rows++;
        }
}

static void add_logprobs(void *user, const float *logits, int T, int V, int pos0) {
    feat_acc *a = user;
    for (int t = 0; t < T; t++) {
        int next = pos0 + t + 1; /* row t predicts token next */
        if (next < a->first || next >= a->n) continue;
        const float *l = logits + (size_t)t * V;
        double mx = l[0], z = 0;
        for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        for (int v = 0; v < V; v++) z += exp(l[v] - mx);
        a->lp += l[a->ids[next]] - mx - log(z);
        a->n_lp++;
    }
}

tl_status tl_reward_features(tl_session *s, const tl_tokenizer *tok, const char *prompt, const char *response,
                             int features, float *out) {
    if (features == TL_REWARD_FEAT_FLUENCY) return features_fluency(s, tok, prompt, response, out, NULL);
    tl_strbuf buf = {0}; /* LAST: exactly the state tl_final_state gives */
    tl_strbuf_puts(&buf, prompt);
    tl_strbuf_puts(&buf, response);
    tl_status st = tl_strbuf_status(&buf);
    if (!st) st = tl_final_state(s, tok, buf.s, out);
    tl_strbuf_free(&buf);
    return st;
}

/* FLUENCY features of prompt + response. With pc (what s holds, or n = 0), a prompt whose tokens
 * are the cached ones is not run again: the response is run from the cached keys and values, the
 * same numbers as running both (each row's numbers depend only on the tokens up to it). */
static tl_status features_fluency(tl_session *s, const tl_tokenizer *tok, const char *prompt, const char *response,
                                  float *out, prompt_cache *pc) {
    tl_strbuf buf = {0};
    tl_strbuf_puts(&buf, prompt);
    tl_strbuf_puts(&buf, response);
    tl_status st = tl_strbuf_status(&buf);
    int d = s->model->cfg.dim;
    int32_t *ids = NULL, *pids = NULL;
    size_t n = 0, np = 0;
    double *sum = tl_calloc((size_t)d, sizeof(double));
    if (!st && !sum) st = tl_errorf(TL_E_NOMEM, "reward: out of memory");
    if (!st) st = tl_tokenizer_encode(tok, buf.s, buf.len, TL_TOK_ADD_BOS, &ids, &n);
    if (!st) st = tl_tokenizer_encode(tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &pids, &np);
    if (st) goto done;
    int first = (int)(np < n ? np : n); /* the response's first token (the boundary may merge: approximate) */
    int cut = 0;
    if ((int)n > s->n_ctx) { /* keep BOS and the tail, as tl_final_state */
        size_t keep = (size_t)s->n_ctx;
        cut = (int)(n - keep);
        memmove(ids + 1, ids + 1 + cut, (keep - 1) * sizeof(int32_t));
        first = first - cut > 1 ? first - cut : 1;
        n = keep;
    }
    feat_acc a = {ids, (int)n, first, out, sum, 0, 0, 0};
    int hit = pc && !cut && first < (int)n && pc->n == first && !memcmp(pc->ids, ids, sizeof(int32_t) * (size_t)first);
    int n_hooks = s->hooks.n;
    st = tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, grab_rows, &a);
    /* the prompt with its last logits only (they predict the response's first token), then the
     * response with the logits of every row: the prompt's rows need none */
    const float *lg = NULL;
    int V = s->model->cfg.vocab_size;
    if (!st && hit) {
        s->pos = first; /* the prompt's rows add nothing to sum; its last row is overwritten below */
        add_logprobs(&a, pc->logits, 1, V, first - 1);
        st = tl_forward_all(s, ids + first, (int)n - first, add_logprobs, &a);
    } else if (!st && first < (int)n) {
        if (pc) pc->n = 0;
        tl_session_reset(s);
        st = tl_forward(s, ids, first, &lg);
        if (!st) add_logprobs(&a, lg, 1, V, first - 1);
        if (!st && pc && !cut) { /* s now holds the prompt's rows */
            if (pc->cap < first) {
                int32_t *grown = tl_realloc(pc->ids, sizeof(int32_t) * (size_t)first);
                if (grown) pc->ids = grown, pc->cap = first;
            }
            if (!pc->logits) pc->logits = tl_malloc(sizeof(float) * (size_t)V);
            if (pc->cap >= first && pc->logits) { /* else: no cache, the same numbers */
                memcpy(pc->ids, ids, sizeof(int32_t) * (size_t)first);
                memcpy(pc->logits, lg, sizeof(float) * (size_t)V);
                pc->n = first;
            }
        }
        if (!st) st = tl_forward_all(s, ids + first, (int)n - first, add_logprobs, &a);
    } else if (!st) {
        if (pc) pc->n = 0;
        tl_session_reset(s);
        st = tl_forward(s, ids, (int)n, &lg);
    }
    if (st && pc) pc->n = 0;
    s->hooks.n = n_hooks;
    if (st) goto done;
    /* an empty response: its mean state is the last state, its log-probability 0 */
    for (int j = 0; j < d; j++) out[d + j] = a.n_rows ? (float)(sum[j] / a.n_rows) : out[j];
    out[2 * d] = a.n_lp ? (float)(a.lp / a.n_lp) : 0.0f;
done:
    tl_free(ids), tl_free(pids), tl_free(sum);
    tl_strbuf_free(&buf);
    return st;
}

/* ---- preference pairs ----------------------------------------------------------- */

void tl_pref_pairs_free(tl_pref_pair *p, int n) {
    for (int i = 0; p && i < n; i++) free(p[i].prompt), free(p[i].chosen), free(p[i].rejected);
    free(p);
}

int tl_pref_pairs_split(tl_pref_pair *p, int n, double held_out, uint64_t seed) {
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tl_rng_below(&rng, (uint64_t)i + 1);
        tl_pref_pair t = p[i];
        p[i] = p[j], p[j] = t;
    }
    return n - (int)(held_out * n);
}

static char *dupn(const char *s, size_t n) {
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n), c[n] = 0;
    return c;
}

/* HH-RLHF: prompt = the shared text up to and including the last "\n\nAssistant:" of chosen. */
static int split_hh(const char *chosen, const char *rejected, size_t *cut) {
    const char *tag = "\n\nAssistant:", *last = NULL;
    for (const char *p = strstr(chosen, tag); p; p = strstr(p + 1, tag)) last = p;
    if (!last) return 0;
    size_t n = (size_t)(last - chosen) + strlen(tag);
    if (strncmp(chosen, rejected, n)) return 0;
    *cut = n;
    return 1;
}

tl_status tl_pref_pairs_load(const char *path, int max_rows, tl_pref_pair **out, int *n_out) {
    *out = NULL, *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) return tl_errorf(TL_E_IO, "%s: cannot open", path);
    tl_pref_pair *p = NULL;
    int n = 0, cap = 0, ln = 0;
    tl_status s = TL_OK;
    tl_strbuf line = {0};
    for (;;) {
        line.len = 0;
        int c, any = 0;
        while ((c = fgetc(f)) != EOF && c != '\n') {
            char ch = (char)c;
            tl_strbuf_append(&line, &ch, 1);
            any = 1;
        }
        if (c == EOF && !any) break;
        ln++;
        if ((s = tl_strbuf_status(&line))) goto done;
        if (!any || (max_rows > 0 && n >= max_rows)) continue;
        cJSON *j = cJSON_ParseWithLength(line.s, line.len);
        if (!j || !cJSON_IsObject(j)) {
            cJSON_Delete(j);
            s = tl_errorf(TL_E_FORMAT, "%s:%d: not a JSON object", path, ln);
            goto done;
        }
        const cJSON *jp = cJSON_GetObjectItemCaseSensitive(j, "prompt");
        const cJSON *jc = cJSON_GetObjectItemCaseSensitive(j, "chosen");
        const cJSON *jr = cJSON_GetObjectItemCaseSensitive(j, "rejected");
        if (!jc && !jr) { /* the world's steering pairs: safe = chosen, unsafe = rejected */
            jc = cJSON_GetObjectItemCaseSensitive(j, "safe");
            jr = cJSON_GetObjectItemCaseSensitive(j, "unsafe");
        }
        if (!cJSON_IsString(jc) || !cJSON_IsString(jr)) {
            cJSON_Delete(j);
            s = tl_errorf(TL_E_FORMAT, "%s:%d: missing string field \"%s\" (rows need \"prompt\", \"chosen\", \"rejected\")",
                          path, ln, cJSON_IsString(jc) ? "rejected" : "chosen");
            goto done;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            tl_pref_pair *q = realloc(p, sizeof *q * (size_t)cap);
            if (!q) {
                cJSON_Delete(j);
                s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
                goto done;
            }
            p = q;
        }
        tl_pref_pair *e = &p[n];
        size_t cut = 0;
        if (cJSON_IsString(jp)) {
            e->prompt = dupn(jp->valuestring, strlen(jp->valuestring));
            e->chosen = dupn(jc->valuestring, strlen(jc->valuestring));
            e->rejected = dupn(jr->valuestring, strlen(jr->valuestring));
        } else if (split_hh(jc->valuestring, jr->valuestring, &cut)) {
            e->prompt = dupn(jc->valuestring, cut);
            e->chosen = dupn(jc->valuestring + cut, strlen(jc->valuestring) - cut);
            e->rejected = dupn(jr->valuestring + cut, strlen(jr->valuestring) - cut);
        } else {
            cJSON_Delete(j);
            s = tl_errorf(TL_E_FORMAT,
                          "%s:%d: missing string field \"prompt\" (and chosen/rejected are not HH-RLHF transcripts "
                          "sharing a prefix up to \"\\n\\nAssistant:\")",
                          path, ln);
            goto done;
        }
        cJSON_Delete(j);
        n++;
        if (!e->prompt || !e->chosen || !e->rejected) {
            s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    if (n == 0) s = tl_errorf(TL_E_FORMAT, "%s: no preference pairs", path);
done:
    fclose(f);
    tl_strbuf_free(&line);
    if (s) {
        tl_pref_pairs_free(p, n);
        return s;
    }
    *out = p, *n_out = n;
    return TL_OK;
}

/* ---- Bradley-Terry head ---------------------------------------------------------- */

double tl_reward_bt_loss(const float *w, float b, const float *fc, const float *fr, int n, int d, float *gw,
                         float *gb) {
    (void)b; /* the bias cancels in r_c - r_r; its gradient is 0 (kept for the file's completeness) */
    double loss = 0;
    if (gw) memset(gw, 0, sizeof(float) * (size_t)d);
    if (gb) *gb = 0;
    for (int i = 0; i < n; i++) {
        const float *c = fc + (size_t)i * d, *r = fr + (size_t)i * d;
        double m = 0;
        for (int j = 0; j < d; j++) m += (double)w[j] * ((double)c[j] - r[j]);
        /* -log sigmoid(m) = softplus(-m), stable; d/dm = -sigmoid(-m) */
        loss += m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m));
        if (gw) {
            double g = -1.0 / (1.0 + exp(m)) / n;
            for (int j = 0; j < d; j++) gw[j] += (float)(g * ((double)c[j] - r[j]));
        }
    }
    return loss / n;
}

static double bt_acc(const float *w, const float *fc, const float *fr, int n, int d) {
    int ok = 0;
    for (int i = 0; i < n; i++) {
        double m = 0;
        for (int j = 0; j < d; j++) m += (double)w[j] * ((double)fc[(size_t)i * d + j] - fr[(size_t)i * d + j]);
        ok += m > 0;
    }
    return n ? (double)ok / n : 0;
}

/* The features of every pair (chosen to fc, rejected to fr, row i from pairs[perm[i]]), the pairs
 * split over the threads, each with its own session and one thread per forward (a model this small
 * runs faster so): every row is one forward's numbers, the same on any thread. */
static tl_status features_all(const tl_model *m, const tl_tokenizer *tok, const tl_pref_pair *pairs, const int *perm,
                              int n, const tl_reward_train_opts *o, float *fc, float *fr) {
    int d = tl_reward_feature_dim(o->features, m->cfg.dim), nw = omp_get_max_threads(), done = 0;
    tl_status failed = TL_OK;
    char msg[1024] = "";
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
        tl_session *s = NULL;
        prompt_cache pc = {0}; /* chosen and rejected share their prompt */
        tl_status st = tl_session_new(m, 0, 0, &s);
#pragma omp for schedule(dynamic, 4)
        for (int i = 0; i < n; i++) {
            const tl_pref_pair *p = &pairs[perm[i]];
            for (int side = 0; side < 2 && !st; side++) {
                const char *reply = side ? p->rejected : p->chosen;
                float *row = (side ? fr : fc) + (size_t)i * d;
                st = o->features == TL_REWARD_FEAT_FLUENCY
                         ? features_fluency(s, tok, p->prompt, reply, row, &pc)
                         : tl_reward_features(s, tok, p->prompt, reply, o->features, row);
            }
            if (!st && o->progress) {
#pragma omp critical(tl_reward_train_progress)
                if (++done % 100 == 0) o->progress(o->user, -done, 0, 0);
            }
        }
        tl_session_free(s);
        prompt_cache_free(&pc);
        if (st) {
#pragma omp critical(tl_reward_train_fail)
            if (!failed) failed = st, snprintf(msg, sizeof msg, "%s", tl_last_error());
        }
    }
    return failed ? tl_errorf(failed, "%s", msg) : TL_OK;
}

tl_status tl_reward_train(const tl_model *m, const tl_tokenizer *tok, const tl_pref_pair *pairs, int n,
                          const tl_reward_train_opts *o, const char *out_path, tl_reward_train_result *res) {
    memset(res, 0, sizeof *res);
    int d = tl_reward_feature_dim(o->features, m->cfg.dim); /* the head's inputs */
    if (n < 2) return tl_errorf(TL_E_ARG, "reward train: need at least 2 pairs (got %d)", n);
    if (o->features != TL_REWARD_FEAT_LAST && o->features != TL_REWARD_FEAT_FLUENCY)
        return tl_errorf(TL_E_ARG, "reward train: unknown features %d", o->features);
    if (o->epochs < 1 || !(o->lr > 0) || !(o->val_share >= 0 && o->val_share < 1))
        return tl_errorf(TL_E_ARG, "reward train: epochs %d / lr %g / val share %g out of range", o->epochs,
                         (double)o->lr, o->val_share);
    float *fc = tl_malloc(sizeof(float) * (size_t)n * d), *fr = tl_malloc(sizeof(float) * (size_t)n * d);
    float *w = tl_calloc((size_t)d + 1, sizeof(float)), *gw = tl_malloc(sizeof(float) * ((size_t)d + 1));
    int *perm = tl_malloc(sizeof(int) * (size_t)n);
    tl_value_adam adam = {0};
    tl_gguf_writer *gwr = NULL;
    tl_status st = TL_OK;
    if (!fc || !fr || !w || !gw || !perm) {
        st = tl_errorf(TL_E_NOMEM, "reward train: out of memory");
        goto done;
    }
    if ((st = tl_value_adam_new((size_t)d, &adam))) goto done;
    /* split first, so features are stored train rows then validation rows */
    tl_rng rng;
    tl_rng_seed(&rng, o->seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tl_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int n_val = (int)(o->val_share * n), n_tr = n - n_val;
    if (n_tr < 1) n_tr = 1, n_val = n - 1;
    if ((st = features_all(m, tok, pairs, perm, n, o, fc, fr))) goto done;
    for (int ep = 1; ep <= o->epochs; ep++) { /* full batch */
        float gb;
        double l = tl_reward_bt_loss(w, 0, fc, fr, n_tr, d, gw, &gb);
        tl_value_adam_step(&adam, w, gw, o->lr);
        if (o->progress && (ep % 50 == 0 || ep == o->epochs))
            o->progress(o->user, ep, l,
                        n_val ? bt_acc(w, fc + (size_t)n_tr * d, fr + (size_t)n_tr * d, n_val, d) : NAN);
    }
    res->n_train = n_tr, res->n_val = n_val;
    res->train_loss = tl_reward_bt_loss(w, 0, fc, fr, n_tr, d, NULL, NULL);
    res->train_acc = bt_acc(w, fc, fr, n_tr, d);
    if (n_val > 0) {
        res->val_loss = tl_reward_bt_loss(w, 0, fc + (size_t)n_tr * d, fr + (size_t)n_tr * d, n_val, d, NULL, NULL);
        res->val_acc = bt_acc(w, fc + (size_t)n_tr * d, fr + (size_t)n_tr * d, n_val, d);
    }
    if ((st = tl_gguf_writer_new(&gwr))) goto done;
    tl_gguf_write_str(gwr, "general.architecture", "reward_head");
    tl_gguf_write_str(gwr, "reward.base_model", o->model_path ? o->model_path : (m->source ? m->source : ""));
    tl_gguf_write_str(gwr, "reward.features", o->features == TL_REWARD_FEAT_FLUENCY ? "fluency" : "last");
    if (n_val > 0) tl_gguf_write_f32(gwr, "reward.val_accuracy", (float)res->val_acc); /* none held out: unmeasured */
    int64_t ne_w[1] = {d}, ne_b[1] = {1};
    tl_gguf_write_tensor(gwr, "head.weight", TL_GGML_F32, 1, ne_w, w);
    tl_gguf_write_tensor(gwr, "head.bias", TL_GGML_F32, 1, ne_b, w + d);
    st = tl_gguf_writer_save(gwr, out_path);
done:
    tl_gguf_writer_free(gwr);
    tl_value_adam_free(&adam);
    tl_free(fc), tl_free(fr), tl_free(w), tl_free(gw), tl_free(perm);
    return st;
}
