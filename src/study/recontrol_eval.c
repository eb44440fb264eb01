/* recontrol_eval.c: the RE-Control experiment — prompts from the shared data sets, the value
 * network's training data (sampled responses, their final normed states, terminal rewards),
 * and the comparison of decoding methods with the reference's metrics, intervals over prompts
 * and a paired test, written as CSV / JSON / a text table / SVG bars. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "format/format.h"
#include "model/model.h" /* internal */
#include "tiller/bootstrap.h"
#include "tiller/recontrol.h"
#include "report/report.h"

/* ---- prompts ---------------------------------------------------------------------- */

void tl_rc_prompts_free(tl_rc_prompts *p) {
    for (int i = 0; p->prompt && i < p->n; i++) free(p->prompt[i]);
    free(p->prompt);
    p->prompt = NULL, p->n = 0;
}

typedef struct {
    tl_rc_prompts *p;
    int cap, seen, offset, max;
    const char *tmpl;
    tl_status st;
} collector;

static void add_prompt(collector *c, const char *text, int templated) {
    if (c->st) return;
    int idx = c->seen++;
    if (idx < c->offset || (c->max > 0 && c->p->n >= c->max)) return;
    if (c->p->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        char **n = realloc(c->p->prompt, sizeof *n * (size_t)c->cap);
        if (!n) {
            c->st = tl_errorf(TL_E_NOMEM, "prompts: out of memory");
            return;
        }
        c->p->prompt = n;
    }
    const char *t = templated ? c->tmpl : "%s";
    const char *mark = strstr(t, "%s");
    size_t lt = strlen(t), lx = strlen(text);
    char *out = malloc(lt + lx + 1);
    if (!out) {
        c->st = tl_errorf(TL_E_NOMEM, "prompts: out of memory");
        return;
    }
    if (mark) {
        size_t pre = (size_t)(mark - t);
        memcpy(out, t, pre);
        memcpy(out + pre, text, lx);
        strcpy(out + pre + lx, mark + 2);
    } else {
        strcpy(out, text);
    }
    /* unescape a literal "\n" in the template (a shell argument) */
    char *w = out;
    for (const char *r = out; *r; r++) {
        if (r[0] == '\\' && r[1] == 'n') *w++ = '\n', r++;
        else *w++ = *r;
    }
    *w = 0;
    c->p->prompt[c->p->n++] = out;
}

static void collect_strings(collector *c, const cJSON *j) {
    if (cJSON_IsString(j)) add_prompt(c, j->valuestring, 1);
    else if (cJSON_IsObject(j) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "history")))
        add_prompt(c, cJSON_GetObjectItemCaseSensitive(j, "history")->valuestring, 1);
    else if (cJSON_IsArray(j) || cJSON_IsObject(j))
        for (const cJSON *e = j->child; e; e = e->next) collect_strings(c, e);
}

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

tl_status tl_rc_prompts_load(const char *path, const char *tmpl, int offset, int max, tl_rc_prompts *out) {
    memset(out, 0, sizeof *out);
    collector c = {out, 0, 0, offset < 0 ? 0 : offset, max, tmpl ? tmpl : "User: %s\\nAssistant:", TL_OK};
    if (ends_with(path, ".jsonl")) {
        tl_pref_pair *pp = NULL;
        int n = 0;
        /* rows with "prompt" only are prompts; otherwise preference rows (HH-RLHF) */
        FILE *f = fopen(path, "r");
        if (!f) return tl_errorf(TL_E_IO, "%s: cannot open", path);
        char *line = NULL;
        size_t cap = 0;
        int ln = 0, has_prompt_only = 0;
        ssize_t r = getline(&line, &cap, f);
        if (r > 0) {
            cJSON *j = cJSON_Parse(line);
            has_prompt_only = j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "prompt")) &&
                              !cJSON_GetObjectItemCaseSensitive(j, "chosen");
            cJSON_Delete(j);
        }
        if (has_prompt_only) {
            do {
                ln++;
                if (r <= 1) continue;
                cJSON *j = cJSON_Parse(line);
                const cJSON *jp = j ? cJSON_GetObjectItemCaseSensitive(j, "prompt") : NULL;
                if (!cJSON_IsString(jp)) {
                    cJSON_Delete(j);
                    c.st = tl_errorf(TL_E_FORMAT, "%s:%d: expected a JSON object with a string \"prompt\"", path, ln);
                    break;
                }
                add_prompt(&c, jp->valuestring, 0);
                cJSON_Delete(j);
            } while ((r = getline(&line, &cap, f)) > 0);
            free(line);
            fclose(f);
        } else {
            free(line);
            fclose(f);
            int rows = max > 0 ? offset + max : 0; /* 0 = all */
            tl_status s = tl_pref_pairs_load(path, rows, &pp, &n);
            if (s) return s;
            for (int i = 0; i < n; i++) add_prompt(&c, pp[i].prompt, 0);
            tl_pref_pairs_free(pp, n);
        }
    } else if (ends_with(path, ".json")) {
        cJSON *j = NULL;
        tl_status s = tl_file_read_json(path, &j);
        if (s) return s;
        collect_strings(&c, j);
        cJSON_Delete(j);
    } else {
        FILE *f = fopen(path, "r");
        if (!f) return tl_errorf(TL_E_IO, "%s: cannot open", path);
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
            if (n) add_prompt(&c, line, 1);
        }
        free(line);
        fclose(f);
    }
    if (!c.st && out->n == 0) c.st = tl_errorf(TL_E_FORMAT, "%s: no prompts (offset %d)", path, offset);
    if (c.st) tl_rc_prompts_free(out);
    return c.st;
}

/* ---- training data and V --------------------------------------------------------- */

tl_status tl_value_load_static(const char *path, int d, float *dir) {
    tl_gguf *g = NULL;
    tl_status s = tl_gguf_open(path, &g);
    if (s) return s;
    const tl_gguf_tensor *t = tl_gguf_find_tensor(g, "static_re.direction");
    if (!t || t->type != TL_GGML_F32 || t->n_elements != (uint64_t)d)
        s = tl_errorf(TL_E_FORMAT, "%s: no F32 tensor static_re.direction of %d elements", path, d);
    else
        memcpy(dir, t->data, sizeof(float) * (size_t)d);
    tl_gguf_close(g);
    return s;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Scores responses *scored.. as they are published (texts[q] is set before *published passes q),
 * the reward of response q to rw[q]; stops at the first failure (to *st) or when the sampler failed. */
static void score_responses(const tl_rc_prompts *p, const tl_rc_train_opts *o, tl_reward *reward, char *const *texts,
                            int n_seq, const int *published, const tl_status *gen_st, double *rw, int *scored,
                            tl_status *st) {
    while (*scored < n_seq && !*st) {
        int q = *scored, ready;
        tl_status gs;
#pragma omp atomic read seq_cst
        ready = *published;
        if (q >= ready) {
#pragma omp atomic read seq_cst
            gs = *gen_st;
            if (gs || !omp_in_parallel()) return;
            struct timespec nap = {0, 100000}; /* 0.1 ms: a response takes longer */
            nanosleep(&nap, NULL);
            continue;
        }
        if ((*st = tl_reward_score(reward, p->prompt[q / o->samples], texts[q], &rw[q]))) return;
        *scored = q + 1;
        if (o->progress) o->progress(o->user, q + 1, n_seq);
    }
}

tl_status tl_rc_train(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, tl_reward *reward,
                      const tl_rc_train_opts *o, tl_rc_train_result *res) {
    memset(res, 0, sizeof *res);
    int d = m->cfg.dim, n_seq = p->n * o->samples;
    if (o->samples < 1 || o->n_new < 1 || o->hidden < 1)
        return tl_errorf(TL_E_ARG, "recontrol train: samples %d, n_new %d, hidden %d must be >= 1", o->samples,
                         o->n_new, o->hidden);
    tl_rc_gen_opts go = {0};
    go.method = TL_RC_PLAIN, go.n_new = o->n_new, go.sampler = o->sampler;
    tl_rc_gen *g = NULL;
    tl_value_net *v = NULL;
    float *x = tl_malloc(sizeof(float) * (size_t)n_seq * o->n_new * d), *r = tl_malloc(sizeof(float) * (size_t)n_seq);
    int *off = tl_malloc(sizeof(int) * ((size_t)n_seq + 1));
    double *sorted = tl_malloc(sizeof(double) * (size_t)n_seq), *rw_d = tl_malloc(sizeof(double) * (size_t)n_seq);
    float *dir = tl_calloc((size_t)d, sizeof(float));
    char **texts = NULL; /* [n_seq] the responses, from the sampling thread to the scoring one */
    tl_status s = TL_OK;
    if (!x || !r || !off || !sorted || !rw_d || !dir) {
        s = tl_errorf(TL_E_NOMEM, "recontrol train: out of memory for %d x %d states", n_seq, o->n_new);
        goto done;
    }
    if (!(texts = tl_calloc((size_t)n_seq, sizeof *texts))) {
        s = tl_errorf(TL_E_NOMEM, "recontrol train: out of memory");
        goto done;
    }
    if ((s = tl_rc_gen_new(m, tok, 0, &go, &g))) goto done;
    off[0] = 0;
    /* A pipeline: thread 0 samples the responses in order (one sampler stream), thread 1 scores
     * each as soon as it is there. Neither depends on the other's timing, so the numbers are those
     * of the sequential loop; on one thread, the scoring follows the sampling. */
    int published = 0, scored = 0;
    tl_status gen_st = TL_OK, score_st = TL_OK;
    char msg[1024] = "";
#pragma omp parallel num_threads(2) if (omp_get_max_threads() > 1)
    {
        if (omp_get_thread_num() == 0) {
            tl_status st = TL_OK;
            for (int q = 0; q < n_seq && !st; q++) {
                const char *text;
                int nt;
                double sec;
                st = tl_rc_generate(g, p->prompt[q / o->samples], &text, &nt, x + (size_t)off[q] * d, &sec);
                if (!st && !(texts[q] = tl_strdup(text))) st = tl_errorf(TL_E_NOMEM, "recontrol train: out of memory");
                if (st) break;
                off[q + 1] = off[q] + nt;
#pragma omp atomic write seq_cst
                published = q + 1;
            }
            if (st) {
                snprintf(msg, sizeof msg, "%s", tl_last_error());
#pragma omp atomic write seq_cst
                gen_st = st;
            }
        } else {
            score_responses(p, o, reward, texts, n_seq, &published, &gen_st, rw_d, &scored, &score_st);
        }
    }
    if (gen_st) {
        s = tl_errorf(gen_st, "%s", msg);
        goto done;
    }
    /* on one thread (or after a scoring failure, to report it here) */
    score_responses(p, o, reward, texts, n_seq, &published, &gen_st, rw_d, &scored, &score_st);
    if ((s = score_st)) goto done;
    for (int q = 0; q < n_seq; q++) {
        r[q] = (float)rw_d[q];
        sorted[q] = rw_d[q];
        res->reward_mean += rw_d[q];
    }
    res->n_seq = n_seq, res->n_states = off[n_seq];
    res->reward_mean /= n_seq;
    for (int i = 0; i < n_seq; i++) res->reward_sd += (r[i] - res->reward_mean) * (r[i] - res->reward_mean);
    res->reward_sd = sqrt(res->reward_sd / (n_seq > 1 ? n_seq - 1 : 1));
    /* static direction: terminal-state mean of the responses above the median reward minus the rest */
    qsort(sorted, (size_t)n_seq, sizeof *sorted, cmp_double);
    {
        double med = sorted[n_seq / 2];
        int n_hi = 0, n_lo = 0;
        double *acc = tl_calloc(2 * (size_t)d, sizeof(double));
        if (!acc) {
            s = tl_errorf(TL_E_NOMEM, "out of memory");
            goto done;
        }
        for (int i = 0; i < n_seq; i++) {
            int hi = r[i] > med || (r[i] == med && sorted[0] < med);
            for (int t = off[i]; t < off[i + 1]; t++)
                for (int j = 0; j < d; j++) acc[(size_t)hi * d + j] += x[(size_t)t * d + j];
            if (hi) n_hi += off[i + 1] - off[i];
            else n_lo += off[i + 1] - off[i];
        }
        for (int j = 0; j < d; j++)
            dir[j] = (float)((n_hi ? acc[d + j] / n_hi : 0) - (n_lo ? acc[j] / n_lo : 0));
        tl_free(acc);
    }
    if ((s = tl_value_new(d, o->hidden, o->fit.seed, &v)) ||
        (s = tl_value_fit(v, x, off, r, n_seq, &o->fit, &res->fit)) ||
        (s = tl_value_save_with_direction(v, dir, o->out_path)))
        goto done;
done:
    tl_rc_gen_free(g);
    tl_value_free(v);
    for (int q = 0; texts && q < n_seq; q++) tl_free(texts[q]);
    tl_free(texts);
    tl_free(x), tl_free(r), tl_free(off), tl_free(sorted), tl_free(dir), tl_free(rw_d);
    return s;
}

/* ---- metrics ------------------------------------------------------------------------ */

/* The reference's rep_n over whitespace tokens: 100 * (1 - |unique n-grams| / (|n-grams| + 1)). */
static double rep_n(const char *text, int n) {
    const char *w[1024];
    int len[1024], k = 0;
    for (const char *p = text; *p && k < 1024;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *b = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        w[k] = b, len[k] = (int)(p - b), k++;
    }
    int total = k - n + 1 > 0 ? k - n + 1 : 0, uniq = 0;
    for (int i = 0; i < total; i++) {
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) {
            int same = 1;
            for (int q = 0; q < n && same; q++)
                same = len[i + q] == len[j + q] && !memcmp(w[i + q], w[j + q], (size_t)len[i + q]);
            dup = same;
        }
        uniq += !dup;
    }
    return 100.0 * (1.0 - (double)uniq / (total + 1));
}

static double diversity(const char *text) {
    double d = 1.0;
    for (int n = 2; n <= 4; n++) d *= 1.0 - rep_n(text, n) / 100.0;
    return d;
}

double tl_rc_diversity(const char *text) { return diversity(text); }

typedef struct {
    double *sum;
    int n;
    int d;
} mean_acc;

static void acc_states(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer;
    mean_acc *a = user;
    for (int t = 0; t < T; t++) {
        if (pos0 + t == 0) continue; /* BOS */
        for (int j = 0; j < width; j++) a->sum[j] += x[(size_t)t * width + j];
        a->n++;
    }
}

static void no_logits(void *user, const float *logits, int T, int V, int pos0) { (void)user, (void)logits, (void)T, (void)V, (void)pos0; }

/* The text's embedding: the mean final normed state over its tokens (the stand-in for the
 * reference's SimCSE encoder: the base model itself). */
static tl_status embed(tl_session *s, const tl_tokenizer *tok, const char *text, double *sum) {
    int32_t *ids = NULL;
    size_t n = 0;
    tl_status st = tl_tokenizer_encode(tok, text, strlen(text), TL_TOK_ADD_BOS, &ids, &n);
    if (st) return st;
    if ((int)n > s->n_ctx) n = (size_t)s->n_ctx;
    mean_acc a = {sum, 0, s->model->cfg.dim};
    memset(sum, 0, sizeof(double) * (size_t)a.d);
    tl_session_reset(s);
    int nh = s->hooks.n;
    st = tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, acc_states, &a);
    if (!st) st = tl_forward_all(s, ids, (int)n, no_logits, NULL);
    s->hooks.n = nh;
    tl_free(ids);
    if (!st && a.n)
        for (int j = 0; j < a.d; j++) sum[j] /= a.n;
    return st;
}

static double cosine(const double *a, const double *b, int d) {
    double ab = 0, aa = 0, bb = 0;
    for (int j = 0; j < d; j++) ab += a[j] * b[j], aa += a[j] * a[j], bb += b[j] * b[j];
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0;
}

enum { M_REWARD, M_DIVERSITY, M_COHERENCE, M_WIN, M_TIME, M_TOKENS, M__N };
static const char *const metric_names[M__N] = {"reward", "diversity", "coherence", "win_rate", "ms_per_token",
                                               "tokens"};

static void mean_ci(const double *x, int n, double *mean, double *half) {
    double m = 0, v = 0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *half = n > 1 ? 1.96 * sqrt(v / (n - 1) / n) : NAN;
}

static tl_status write_text(const char *path, const char *text) {
    tl_out_file f;
    tl_status s = tl_out_open(&f, path);
    if (s) return s;
    if ((s = tl_out_write(&f, text, strlen(text))) || (s = tl_out_commit(&f))) tl_out_abort(&f);
    return s;
}

/* ---- the methods side by side ------------------------------------------------------ */

/* What the decoding workers share: inputs read-only, outputs in disjoint slots. */
typedef struct {
    const tl_model *m;
    const tl_tokenizer *tok;
    const tl_rc_prompts *p;
    tl_reward *reward; /* worker 0's; the others score on clones */
    const tl_rc_eval_opts *o;
    const int *meth;
    int nm;
    const tl_value_net *v;
    const float *dir;
    const double *emb_p; /* [n, d] */
    double *val;         /* [nm, n, M__N] */
    char **resp;         /* [nm, n] */
} rc_eval_ctx;

/* CD and CD-prefix pick the best-scored candidate: they draw nothing from the sampler. */
static int uses_score(int method) { return method == TL_RC_CD || method == TL_RC_CD_PREFIX; }

/* One unit of decoding work: method k on prompts [i0, i1). */
typedef struct {
    int k, i0, i1;
} rc_unit;

/* Prompt embeddings, the prompts split over the threads (each its own session: a forward pass per
 * prompt, the same numbers on any thread). */
static tl_status embed_prompts(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, double *emb_p) {
    int d = m->cfg.dim, nw = omp_get_max_threads();
    tl_status failed = TL_OK;
    char msg[1024] = "";
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
        tl_session *es = NULL;
        tl_status st = tl_session_new(m, 0, 0, &es);
#pragma omp for schedule(dynamic, 8)
        for (int i = 0; i < p->n; i++)
            if (!st) st = embed(es, tok, p->prompt[i], emb_p + (size_t)i * d);
        tl_session_free(es);
        if (st) {
#pragma omp critical(tl_rc_eval_fail)
            if (!failed) failed = st, snprintf(msg, sizeof msg, "%s", tl_last_error());
        }
    }
    return failed ? tl_errorf(failed, "%s", msg) : TL_OK;
}

/* Method u->k on its prompts with the worker's reward and embedding session. Every method starts
 * its own sampler from the same seed and draws through its prompts in order, so a sampling method
 * is one unit; CD and CD-prefix choose by score, not by drawing, so their prompts may be split. */
static tl_status decode_unit(const rc_eval_ctx *cx, const rc_unit *u, tl_reward *rw, tl_session *es, double *emb_r,
                             int *done) {
    const tl_rc_eval_opts *o = cx->o;
    int n = cx->p->n, d = cx->m->cfg.dim;
    tl_rc_gen_opts go = {0};
    go.method = (tl_rc_method)cx->meth[u->k], go.n_new = o->n_new, go.sampler = o->sampler, go.value = cx->v;
    go.step = o->step, go.iters = o->iters, go.static_vec = cx->dir, go.static_scale = o->static_scale;
    go.cd_k = o->cd_k, go.cd_reward = rw, go.instruction = o->instruction;
    tl_rc_gen *g = NULL;
    tl_status s = tl_rc_gen_new(cx->m, cx->tok, 0, &go, &g);
    for (int i = u->i0; i < u->i1 && !s; i++) {
        const char *text;
        int nt;
        double sec, r;
        if ((s = tl_rc_generate(g, cx->p->prompt[i], &text, &nt, NULL, &sec)) ||
            (s = tl_reward_score(rw, cx->p->prompt[i], text, &r)) || (s = embed(es, cx->tok, text, emb_r)))
            break;
        if (!(cx->resp[(size_t)u->k * n + i] = strdup(text))) {
            s = tl_errorf(TL_E_NOMEM, "recontrol eval: out of memory");
            break;
        }
        double *row = cx->val + ((size_t)u->k * n + i) * M__N;
        row[M_REWARD] = r;
        row[M_DIVERSITY] = diversity(text);
        row[M_COHERENCE] = cosine(cx->emb_p + (size_t)i * d, emb_r, d);
        row[M_TIME] = nt ? 1000.0 * sec / nt : NAN;
        row[M_TOKENS] = nt;
        if (o->progress) {
#pragma omp critical(tl_rc_eval_progress)
            o->progress(o->user, tl_rc_method_names[cx->meth[u->k]], ++*done, cx->nm * n);
        }
    }
    tl_rc_gen_free(g);
    return s;
}

/* Every method on every prompt, the units spread over the threads, one thread per unit (a model
 * this small decodes faster on one thread than split over two). Each unit's numbers depend only on
 * its method and prompts, so the results are the same for any thread count and schedule. */
static tl_status decode_all(const rc_eval_ctx *cx) {
    int n = cx->p->n, nw = omp_get_max_threads(), n_units = 0, done = 0;
    /* the sampling methods first (indivisible), then the scored methods in chunks that fill the gaps */
    int chunk = n / 32 > 1 ? n / 32 : 1;
    rc_unit *units = tl_malloc(sizeof *units * ((size_t)cx->nm * (n / chunk + 1) + 1));
    if (!units) return tl_errorf(TL_E_NOMEM, "recontrol eval: out of memory");
    for (int k = 0; k < cx->nm; k++)
        if (!uses_score(cx->meth[k])) units[n_units++] = (rc_unit){k, 0, n};
    for (int k = 0; k < cx->nm; k++)
        if (uses_score(cx->meth[k]))
            for (int i0 = 0; i0 < n; i0 += chunk) units[n_units++] = (rc_unit){k, i0, i0 + chunk < n ? i0 + chunk : n};
    if (nw > n_units) nw = n_units;
    tl_status failed = TL_OK;
    char msg[1024] = "";
#pragma omp parallel num_threads(nw) if (nw > 1)
    {
        tl_reward *rw = NULL;
        tl_session *es = NULL;
        int me = omp_get_thread_num();
        double *emb_r = tl_malloc(sizeof(double) * (size_t)cx->m->cfg.dim);
        tl_status st = emb_r ? TL_OK : tl_errorf(TL_E_NOMEM, "recontrol eval: out of memory");
        if (!st) st = me == 0 ? TL_OK : tl_reward_clone(cx->reward, &rw);
        if (!st) st = tl_session_new(cx->m, 0, 0, &es);
#pragma omp for schedule(dynamic, 1)
        for (int u = 0; u < n_units; u++) {
            tl_status fail_now;
#pragma omp atomic read
            fail_now = failed;
            if (!st && !fail_now) st = decode_unit(cx, &units[u], me == 0 ? cx->reward : rw, es, emb_r, &done);
        }
        if (st) {
#pragma omp critical(tl_rc_eval_fail)
            if (!failed) failed = st, snprintf(msg, sizeof msg, "%s", tl_last_error());
        }
        tl_session_free(es);
        tl_reward_free(rw);
        tl_free(emb_r);
    }
    tl_free(units);
    return failed ? tl_errorf(failed, "%s", msg) : TL_OK;
}

tl_status tl_rc_eval(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, tl_reward *reward,
                     const tl_rc_eval_opts *o, char **table) {
    if (table) *table = NULL;
    int d = m->cfg.dim, n = p->n;
    int meth[TL_RC__COUNT], nm = 0;
    for (int k = 0; k < TL_RC__COUNT; k++)
        if (o->methods & (1u << k)) meth[nm++] = k;
    if (!(o->methods & 1u)) return tl_errorf(TL_E_ARG, "recontrol eval: the method list must include plain (the win-rate reference)");
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
        return tl_errorf(TL_E_IO, "%s: cannot create the directory: %s", o->out_dir, strerror(errno));
    tl_value_net *v = NULL;
    float *dir = tl_malloc(sizeof(float) * (size_t)d);
    double *val = tl_calloc((size_t)nm * n * M__N, sizeof(double));
    double *emb_p = tl_malloc(sizeof(double) * (size_t)n * d);
    char **resp = tl_calloc((size_t)nm * n, sizeof(char *));
    tl_strbuf csv = {0}, items = {0}, tab = {0}, svg = {0};
    cJSON *root = NULL;
    tl_status s = TL_OK;
    char path[1024];
    if (!dir || !val || !emb_p || !resp) {
        s = tl_errorf(TL_E_NOMEM, "recontrol eval: out of memory");
        goto done;
    }
    if (o->value_path) {
        if ((s = tl_value_load(o->value_path, &v))) goto done;
        if (v->d != d) {
            s = tl_errorf(TL_E_ARG, "%s: the value network takes states of size %d but the model's hidden size is %d",
                          o->value_path, v->d, d);
            goto done;
        }
        if ((o->methods & (1u << TL_RC_STATIC)) && (s = tl_value_load_static(o->value_path, d, dir))) goto done;
    }
    if ((s = embed_prompts(m, tok, p, emb_p))) goto done;
    {
        rc_eval_ctx cx = {m, tok, p, reward, o, meth, nm, v, dir, emb_p, val, resp};
        if ((s = decode_all(&cx))) goto done;
    }
#define VAL(k, i, q) val[((size_t)(k) * n + (i)) * M__N + (q)]
    /* win rate against plain decoding (method 0), judged by the reward: 1 win, 0.5 tie, 0 loss */
    for (int k = 0; k < nm; k++)
        for (int i = 0; i < n; i++) {
            double a = VAL(k, i, M_REWARD), b = VAL(0, i, M_REWARD);
            VAL(k, i, M_WIN) = a > b ? 1.0 : a == b ? 0.5 : 0.0;
        }
    /* summaries */
    double summ[TL_RC__COUNT][M__N][2], pval[TL_RC__COUNT];
    int rc_k = -1;
    for (int k = 0; k < nm; k++)
        if (meth[k] == TL_RC_RECONTROL) rc_k = k;
    double *col = tl_malloc(sizeof(double) * (size_t)n);
    int *item = tl_malloc(sizeof(int) * (size_t)n); /* each prompt its own cluster in the sign-flip test */
    if (!col || !item) {
        tl_free(col), tl_free(item);
        s = tl_errorf(TL_E_NOMEM, "out of memory");
        goto done;
    }
    for (int k = 0; k < nm; k++) {
        for (int q = 0; q < M__N; q++) {
            for (int i = 0; i < n; i++) col[i] = VAL(k, i, q);
            mean_ci(col, n, &summ[k][q][0], &summ[k][q][1]);
        }
        pval[k] = NAN;
        if (rc_k >= 0 && k != rc_k) {
            /* two-sided paired sign-flip test of mean(RE-Control - method k) = 0 over the prompts */
            for (int i = 0; i < n; i++) col[i] = VAL(rc_k, i, M_REWARD) - VAL(k, i, M_REWARD), item[i] = i;
            if (!s) s = tl_signflip_clusters(col, item, n, n, 10000, o->seed + (uint64_t)k, &pval[k]);
        }
    }
    tl_free(col), tl_free(item);
    if (s) goto done;
    /* CSV */
    tl_strbuf_puts(&csv, "method,n");
    for (int q = 0; q < M__N; q++) tl_strbuf_printf(&csv, ",%s,%s_ci95", metric_names[q], metric_names[q]);
    tl_strbuf_puts(&csv, ",p_reward_vs_recontrol\n");
    for (int k = 0; k < nm; k++) {
        tl_strbuf_printf(&csv, "%s,%d", tl_rc_method_names[meth[k]], n);
        for (int q = 0; q < M__N; q++) tl_strbuf_printf(&csv, ",%.6g,%.6g", summ[k][q][0], summ[k][q][1]);
        tl_strbuf_printf(&csv, ",%.4g\n", pval[k]);
    }
    tl_strbuf_puts(&items, "method,prompt_index");
    for (int q = 0; q < M__N; q++) tl_strbuf_printf(&items, ",%s", metric_names[q]);
    tl_strbuf_puts(&items, ",response\n");
    for (int k = 0; k < nm; k++)
        for (int i = 0; i < n; i++) {
            tl_strbuf_printf(&items, "%s,%d", tl_rc_method_names[meth[k]], i);
            for (int q = 0; q < M__N; q++) tl_strbuf_printf(&items, ",%.6g", VAL(k, i, q));
            tl_strbuf_puts(&items, ",");
            tl_csv_field(&items, resp[(size_t)k * n + i]);
            tl_strbuf_puts(&items, "\n");
        }
    /* table */
    tl_strbuf_printf(&tab, "%s (n = %d prompts, mean +- 95%% CI over prompts; win rate vs plain by the reward %s)\n",
                     o->title ? o->title : "RE-Control", n, tl_reward_name(reward));
    tl_strbuf_printf(&tab, "%-20s %-16s %-16s %-16s %-16s %-16s %s\n", "method", "reward", "diversity", "coherence",
                     "win_rate", "ms/token", "p(reward=RC)");
    for (int k = 0; k < nm; k++) {
        tl_strbuf_printf(&tab, "%-20s", tl_rc_method_names[meth[k]]);
        for (int q = 0; q <= M_TIME; q++) {
            char cell[48];
            snprintf(cell, sizeof cell, "%.3f+-%.3f", summ[k][q][0], summ[k][q][1]);
            tl_strbuf_printf(&tab, " %-16s", cell);
        }
        if (isfinite(pval[k])) tl_strbuf_printf(&tab, " %.4f", pval[k]);
        else tl_strbuf_puts(&tab, " -");
        tl_strbuf_puts(&tab, "\n");
    }
    /* JSON */
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "reward", tl_reward_name(reward));
    cJSON_AddNumberToObject(root, "n_prompts", n);
    cJSON_AddNumberToObject(root, "n_new", o->n_new);
    cJSON_AddNumberToObject(root, "step", o->step);
    cJSON_AddNumberToObject(root, "iters", o->iters);
    cJSON_AddNumberToObject(root, "cd_k", o->cd_k);
    cJSON_AddNumberToObject(root, "static_scale", o->static_scale);
    cJSON_AddNumberToObject(root, "temperature", o->sampler.temperature);
    cJSON *jm = cJSON_AddArrayToObject(root, "methods");
    for (int k = 0; k < nm; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "method", tl_rc_method_names[meth[k]]);
        for (int q = 0; q < M__N; q++) {
            char key[64];
            cJSON_AddNumberToObject(e, metric_names[q], summ[k][q][0]);
            snprintf(key, sizeof key, "%s_ci95", metric_names[q]);
            if (isfinite(summ[k][q][1])) cJSON_AddNumberToObject(e, key, summ[k][q][1]);
        }
        if (isfinite(pval[k])) cJSON_AddNumberToObject(e, "p_reward_vs_recontrol", pval[k]);
        cJSON_AddStringToObject(e, "example", resp[(size_t)k * n]);
        cJSON_AddItemToArray(jm, e);
    }
    /* charts */
    {
        const char *groups[TL_RC__COUNT];
        double y[TL_RC__COUNT], err[TL_RC__COUNT];
        for (int k = 0; k < nm; k++) groups[k] = tl_rc_method_names[meth[k]];
        const int qs[3] = {M_REWARD, M_WIN, M_TIME};
        const char *files[3] = {"reward.svg", "winrate.svg", "time.svg"};
        const char *ylab[3] = {"average reward", "win rate vs plain", "ms per token"};
        for (int c = 0; c < 3 && !s; c++) {
            for (int k = 0; k < nm; k++) y[k] = summ[k][qs[c]][0], err[k] = summ[k][qs[c]][1];
            tl_bar_series bs = {ylab[c], y, err};
            tl_chart ch = {0};
            char title[256]; /* n: the prompts every method answers; bars: mean_ci's 95 % interval */
            snprintf(title, sizeof title, "%s (n = %d prompts, bars 95 %%)", o->title ? o->title : "RE-Control", n);
            ch.title = title, ch.y_label = ylab[c], ch.width = 720;
            svg.len = 0;
            if (svg.s) svg.s[0] = 0;
            s = tl_svg_bar_chart(&svg, &ch, groups, nm, &bs, 1);
            if (!s) s = tl_strbuf_status(&svg);
            snprintf(path, sizeof path, "%s/%s", o->out_dir, files[c]);
            if (!s) s = write_text(path, svg.s);
        }
        if (s) goto done;
    }
    if ((s = tl_strbuf_status(&csv)) || (s = tl_strbuf_status(&items)) || (s = tl_strbuf_status(&tab))) goto done;
    snprintf(path, sizeof path, "%s/results.csv", o->out_dir);
    if ((s = write_text(path, csv.s))) goto done;
    snprintf(path, sizeof path, "%s/items.csv", o->out_dir);
    if ((s = write_text(path, items.s))) goto done;
    snprintf(path, sizeof path, "%s/table.txt", o->out_dir);
    if ((s = write_text(path, tab.s))) goto done;
    {
        char *js = cJSON_Print(root);
        snprintf(path, sizeof path, "%s/results.json", o->out_dir);
        s = js ? write_text(path, js) : tl_errorf(TL_E_NOMEM, "out of memory");
        free(js);
        if (s) goto done;
    }
    if (table) {
        *table = strdup(tab.s);
    }
#undef VAL
done:
    cJSON_Delete(root);
    tl_strbuf_free(&csv), tl_strbuf_free(&items), tl_strbuf_free(&tab), tl_strbuf_free(&svg);
    for (int i = 0; resp && i < nm * n; i++) free(resp[i]);
    tl_free(resp);
    tl_value_free(v);
    tl_free(dir), tl_free(val), tl_free(emb_p);
    return s;
}
