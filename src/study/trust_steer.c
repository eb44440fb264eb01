/* trust_steer.c: the steering table of the trust-dynamics experiment, the
 * reference protocol by default (issue 13 point 5, docs/steering.md):
 *   - one vector per dimension, mean difference of that dimension's pairs, fitted on
 *     the pairs about a seeded share of the world's people (trust_protocol.c);
 *   - added at the last position (token_pos = -1) of the middle layer;
 *   - sources: a mid-training checkpoint, the final one and the chat model, each
 *     vector rescaled to the chat vector's norm (matched; raw scales reported too);
 *   - evaluation items about the other people only (no shared person or prompt);
 *   - every steered cell compared item by item with the unsteered model (exact sign
 *     test = McNemar's for 0/1 metrics, Wald interval), Holm-corrected over cells. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "analysis/stats.h" /* internal */
#include "report/report.h"
#include "control/steer_vec.h"
#include "tiller/bootstrap.h"
#include "tiller/eval.h"
#include "tiller/generate.h"
#include "tiller/tokenizer.h"
#include "tiller/world.h"
#include "trust_protocol.h"

#define PATH_CAP TL_TRUST_PATH_CAP
#define MAX_ITEMS 64
#define MAX_TASKS 16
#define MAX_VECS 8
#define MIN_ITEMS 300
/* one task per dimension's vector, then the capability cost (docs/steering.md) */
#define DEFAULT_TASKS "world_truth_hop,world_stereotype,world_toxicity_pair,world_privacy,world_sentiment,world_capability"


/* The dimension whose vector a task measures; tasks not listed (capability) are
 * scored under every vector: the cost of each push. */
static const char *task_dimension(const char *task) {
    static const char *const map[][2] = {{"world_truth", "reliability"},   {"truthfulqa_mc", "reliability"},
                                         {"world_truth_hop", "reliability"},
                                         {"world_stereotype", "fairness"}, {"world_toxicity", "toxicity"},
                                         {"world_toxicity_pair", "toxicity"},
                                         {"world_privacy", "privacy"},     {"world_sentiment", "robustness"}};
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(task, map[i][0])) return map[i][1];
    return NULL;
}

typedef struct {
    char name[128]; /* "ckpt-25" or "chat" */
    int64_t step;   /* -1 for the chat model */
    char path[PATH_CAP];
} source;

/* n sources: the checkpoints nearest to j / n of the last step, j = 1 .. n (n = 2: the middle
 * of training and its end), distinct, in step order. */
static int pick_sources(const tl_ckpt_list *l, int n, int *idx) {
    int k = 0;
    double last = (double)l->items[l->n - 1].step;
    for (int j = 1; j <= n && k < l->n; j++) {
        double t = last * j / n;
        int best = -1;
        for (int i = 0; i < l->n; i++) {
            int used = 0;
            for (int q = 0; q < k; q++) used |= idx[q] == i;
            if (!used && (best < 0 || fabs((double)l->items[i].step - t) < fabs((double)l->items[best].step - t)))
                best = i;
        }
        if (best >= 0) idx[k++] = best;
    }
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && idx[j] < idx[j - 1]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1], idx[j - 1] = t;
        }
    return k;
}

static tl_status parse_scales(const char *s, double *out, int *n) {
    char buf[1024], *items[MAX_ITEMS];
    *n = tl_trust_split_list(s, buf, sizeof buf, items, MAX_ITEMS);
    for (int i = 0; i < *n; i++) {
        char *e;
        out[i] = strtod(items[i], &e);
        if (*e || !isfinite(out[i]))
            return tl_errorf(TL_E_ARG, "steering scales '%s': '%s' is not a number", s, items[i]);
    }
    if (*n == 0) return tl_errorf(TL_E_ARG, "steering scales: the list is empty");
    return TL_OK;
}

static tl_status resolve_sources(const tl_trust_opts *o, const tl_ckpt_list *ckpts, source *src, int *n_out) {
    int idx[MAX_ITEMS], n_src = 0;
    tl_status s = TL_OK;
    if (o->sources) {
        char sbuf[1024], *items[MAX_ITEMS];
        int n = tl_trust_split_list(o->sources, sbuf, sizeof sbuf, items, MAX_ITEMS);
        for (int i = 0; i < n && s == TL_OK; i++) {
            char *e;
            long long step = strtoll(items[i], &e, 10);
            int found = -1;
            for (int c = 0; c < ckpts->n && !*e; c++)
                if (ckpts->items[c].step == step) found = c;
            if (found < 0) s = tl_errorf(TL_E_ARG, "--sources: %s has no checkpoint at step '%s'", o->series, items[i]);
            else idx[n_src++] = found;
        }
        if (s == TL_OK && n_src == 0) s = tl_errorf(TL_E_ARG, "--sources: the list is empty");
    } else {
        n_src = pick_sources(ckpts, o->n_sources > 0 ? (o->n_sources < MAX_ITEMS ? o->n_sources : MAX_ITEMS) : 2, idx);
    }
    for (int i = 0; i < n_src && s == TL_OK; i++) {
        const tl_ckpt *c = &ckpts->items[idx[i]];
        snprintf(src[i].name, sizeof src[i].name, "%s", c->name);
        src[i].step = c->step;
        snprintf(src[i].path, sizeof src[i].path, "%s", c->path);
    }
    if (s == TL_OK) {
        snprintf(src[n_src].name, sizeof src[n_src].name, "chat");
        src[n_src].step = -1;
        snprintf(src[n_src].path, sizeof src[n_src].path, "%s", o->chat);
        n_src++;
    }
    *n_out = n_src;
    return s;
}

static tl_status pairs_path(const tl_trust_opts *o, char *pairs) {
    if (o->pairs) {
        snprintf(pairs, PATH_CAP, "%s", o->pairs);
        return TL_OK;
    }
    if (!o->world) return tl_errorf(TL_E_ARG, "trust-dynamics: steering needs pairs (--pairs FILE or --world DIR)");
    return tl_trust_join(pairs, o->world, "steering/pairs.jsonl");
}

/* The vectors: one per world dimension present in a JSONL pair file (or --pair-dim's
 * one), else one from every pair ("all"). names[v] NULL = no dimension filter. */
static tl_status load_vector_pairs(const tl_trust_opts *o, const char *pairs, tl_steer_data **pd, const char **names,
                                   int *n_vec) {
    *n_vec = 0;
    if (o->pair_dim) {
        names[0] = o->pair_dim;
        *n_vec = 1;
        return tl_steer_data_load(pairs, o->pair_dim, 0, &pd[0]);
    }
    size_t len = strlen(pairs);
    if (len > 6 && !strcmp(pairs + len - 6, ".jsonl"))
        for (int d = 0; d < TL_DIM__COUNT && *n_vec < MAX_VECS; d++) {
            tl_steer_data *x = NULL;
            if (tl_steer_data_load(pairs, tl_world_dim_names[d], 0, &x) == TL_OK) { /* a missing dimension: none */
                names[*n_vec] = tl_world_dim_names[d];
                pd[(*n_vec)++] = x;
            }
        }
    if (*n_vec > 0) return TL_OK;
    names[0] = "all";
    *n_vec = 1;
    return tl_steer_data_load(pairs, NULL, 0, &pd[0]);
}

tl_status tl_trust_steering_precheck(const tl_trust_opts *o, const tl_ckpt_list *ckpts) {
    double scales[MAX_ITEMS];
    int n;
    if (!(o->fit_share > 0 && o->fit_share < 1))
        return tl_errorf(TL_E_ARG, "trust-dynamics: fit share %g is not in (0, 1)", o->fit_share);
    if (!(o->alpha > 0 && o->alpha < 1)) return tl_errorf(TL_E_ARG, "trust-dynamics: alpha %g is not in (0, 1)", o->alpha);
    if (o->random_dirs < 0 || o->random_dirs > 64)
        return tl_errorf(TL_E_ARG, "trust-dynamics: %d random directions: need 0 .. 64", o->random_dirs);
    tl_status s = parse_scales(o->scales, scales, &n);
    source *src = tl_calloc(MAX_ITEMS + 1, sizeof *src);
    if (s == TL_OK && !src) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    if (s == TL_OK) s = resolve_sources(o, ckpts, src, &n);
    tl_free(src);
    char pairs[PATH_CAP];
    if (s == TL_OK) s = pairs_path(o, pairs);
    tl_steer_data *pd[MAX_VECS] = {0};
    const char *names[MAX_VECS];
    int n_vec = 0;
    if (s == TL_OK) s = load_vector_pairs(o, pairs, pd, names, &n_vec);
    for (int v = 0; v < n_vec; v++) tl_steer_data_free(pd[v]);
    char tbuf[1024], *tnames[MAX_TASKS];
    int n_tasks = tl_trust_split_list(o->tasks ? o->tasks : DEFAULT_TASKS, tbuf, sizeof tbuf, tnames, MAX_TASKS);
    if (s == TL_OK && n_tasks == 0) s = tl_errorf(TL_E_ARG, "trust-dynamics: no evaluation tasks");
    tl_eval_load_opts lo = {o->eval_data ? o->eval_data : "../shared/data", o->world, NULL, 0};
    for (int k = 0; k < n_tasks && s == TL_OK; k++) {
        tl_eval_task *t = NULL;
        s = tl_eval_task_load(tnames[k], &lo, &t);
        tl_eval_task_free(t);
    }
    if (s == TL_OK && o->world) {
        tl_trust_people pp;
        s = tl_trust_people_load(o->world, &pp);
        if (s == TL_OK) tl_trust_people_free(&pp);
    }
    return s;
}

/* ---- cells ------------------------------------------------------------------------- */

typedef struct {
    int src, vec; /* -1, -1: the unsteered baseline */
    double scale; /* matched units (multiples of the chat vector of the same dimension) */
    double raw_scale, added_norm;
    int task, metric;
    double value, stderr_;
    int n;
    tl_paired_result vs_base;
    double p_holm;
    double lo, hi; /* the value's own 95 % interval (score_ci) */
    /* the items' two halves (tl_trust_split_items): a cell is chosen on validation, reported on test */
    double val_value, test_value, test_lo, test_hi;
    int n_val, n_test;
    tl_paired_result val_vs_base, test_vs_base;
    /* the random-direction baseline of the same norm (rand_base; rand < 0: none): its score with its
     * interval and the paired test of this cell against it, on every item and on the test half */
    int rand;
    double rand_value, rand_lo, rand_hi, test_rand_value, test_rand_lo, test_rand_hi;
    tl_paired_result vs_rand, test_vs_rand;
    double p_rand_holm;
} cell;

typedef struct {
    cell *c;
    int n, cap;
} cells;

typedef struct {
    double *v[MAX_TASKS]; /* the unsteered model's per-item values [n_items, n_metrics] */
    int n_items[MAX_TASKS], n_metrics[MAX_TASKS];
    unsigned char *is_test[MAX_TASKS]; /* [n_items] the test half, else validation */
} baseline_items;

/* The random-direction baseline of one push (docs/steering.md): R random directions with the
 * norms of the template source's vector, each added at the hook scale of the steered cells of
 * that magnitude (either sign: a random direction's sign is itself random). With matched norms
 * every source's cell of (vector, |scale|) adds the same norm, so the chat vector is the one
 * template; with raw norms each source is its own template. */
typedef struct {
    int src_t, vec;
    double mag, hook_scale, added_norm;
    int n_dirs;
    double *mean[MAX_TASKS]; /* [n_items, n_metrics] per-item mean over the R directions; NULL: not scored */
    double *vals[MAX_TASKS]; /* [R, n_items, n_metrics] each direction's per-item values */
} rand_base;

/* One row of steering_random.csv: a direction's (dir >= 0) or the mean's (dir = -1) score of a
 * task's metric under a rand_base, and its paired test against the unsteered model. */
typedef struct {
    int rb, dir, task, metric, n;
    uint64_t seed;
    double value, lo, hi;
    tl_paired_result vs_base;
} rand_stat;

/* The seed of random direction r (0 .. R - 1): the same R directions for every vector and
 * magnitude, fixed by the run's seed. */
static uint64_t rand_dir_seed(uint64_t seed, int r) { return seed * 1000003ULL + 99991ULL * (uint64_t)(r + 1); }

enum { SCORE_BOOT = 2000 }; /* bootstrap replicates of a score that is not 0/1 */

/* The mean of the finite values among v[n] (*n_used of them) and its 95 % interval inside
 * the values' range: Wilson when every value is 0 or 1, else a percentile bootstrap over
 * the items. NaN when no value is finite. */
static tl_status score_ci(const double *v, int n, uint64_t seed, double *mean, double *lo, double *hi, int *n_used) {
    double *x = tl_malloc((size_t)(n ? n : 1) * sizeof *x);
    int *id = tl_malloc((size_t)(n ? n : 1) * sizeof *id);
    if (!x || !id) {
        tl_free(x);
        tl_free(id);
        return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    }
    int m = 0, binary = 1;
    double sum = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            binary &= v[i] == 0 || v[i] == 1;
            sum += v[i];
            id[m] = m;
            x[m++] = v[i];
        }
    tl_status s = TL_OK;
    *n_used = m;
    *mean = m ? sum / m : NAN;
    *lo = *hi = NAN;
    if (m && binary) tl_wilson((int64_t)llround(sum), m, TL_Z95, lo, hi);
    else if (m) {
        tl_boot_ci ci;
        s = tl_bootstrap_clusters(x, id, m, m, SCORE_BOOT, seed, 0.95, &ci);
        if (s == TL_OK) *lo = ci.lo, *hi = ci.hi;
    }
    tl_free(x);
    tl_free(id);
    return s;
}

/* The paired comparison of metric m over the items of one half (half = 0 validation, 1 test;
 * -1 every item), and the half's own score and interval (mean NULL: not computed). a: the
 * reference's values (the unsteered model's, or the random directions' mean), b: the cell's. */
static tl_status half_stats(const double *a, const double *b, const unsigned char *is_test, int n, int nm, int m,
                            int half, uint64_t seed, tl_paired_result *pr, double *mean, double *lo, double *hi,
                            int *n_used) {
    double *x = tl_malloc((size_t)2 * (n ? n : 1) * sizeof *x), *y = x ? x + n : NULL;
    if (!x) return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    int k = 0;
    for (int i = 0; i < n; i++)
        if (half < 0 || is_test[i] == half) {
            x[k] = a ? a[(size_t)i * nm + m] : NAN;
            y[k++] = b[(size_t)i * nm + m];
        }
    memset(pr, 0, sizeof *pr);
    if (a) tl_paired_values(x, y, k, pr);
    tl_status s = mean ? score_ci(y, k, seed, mean, lo, hi, n_used) : TL_OK; /* NULL: the paired test only */
    tl_free(x);
    return s;
}

/* A cell's values b (metric m, one half as half_stats) against the random directions of rb: the
 * difference from their per-item mean with its Wald interval (descriptive), and as p the
 * intersection-union test that b differs from every direction the same way (tl_paired_all: each
 * direction is a 0/1 outcome like b, so McNemar's test is exact for each; a sign test against
 * their mean would test the wrong null). */
static tl_status vs_random(const rand_base *rb, int k, const double *b, const unsigned char *is_test, int n, int nm,
                           int m, int half, tl_paired_result *pr) {
    int R = rb->n_dirs;
    double *x = tl_malloc((size_t)(R + 2) * (n ? n : 1) * sizeof *x);
    const double **a = tl_malloc((size_t)(R ? R : 1) * sizeof *a);
    if (!x || !a) {
        tl_free(x), tl_free(a);
        return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    }
    double *xb = x, *xm = x + n;
    int cnt = 0;
    for (int i = 0; i < n; i++)
        if (half < 0 || is_test[i] == half) {
            xb[cnt] = b[(size_t)i * nm + m];
            xm[cnt] = rb->mean[k][(size_t)i * nm + m];
            for (int r = 0; r < R; r++)
                x[(size_t)(r + 2) * n + cnt] = rb->vals[k][((size_t)r * n + i) * nm + m];
            cnt++;
        }
    for (int r = 0; r < R; r++) a[r] = x + (size_t)(r + 2) * n;
    tl_paired_values(xm, xb, cnt, pr);
    pr->p = tl_paired_all(a, R, xb, cnt, NULL);
    tl_free(x);
    tl_free(a);
    return TL_OK;
}

static tl_status add_results(cells *t, const cell *proto, const tl_eval_result *r, const baseline_items *base,
                             const rand_base *rbs) {
    int k = proto->task;
    for (int m = 0; m < r->n_metrics; m++) {
        if (t->n == t->cap) {
            int nc = t->cap ? 2 * t->cap : 64;
            cell *p = tl_realloc(t->c, (size_t)nc * sizeof *p);
            if (!p) return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
            t->c = p;
            t->cap = nc;
        }
        cell *c = &t->c[t->n++];
        *c = *proto;
        c->metric = m;
        c->value = r->metrics[m].mean;
        c->stderr_ = r->metrics[m].stderr_;
        c->n = r->metrics[m].n;
        c->p_holm = NAN;
        c->lo = c->hi = c->val_value = c->test_value = c->test_lo = c->test_hi = NAN;
        c->n_val = c->n_test = 0;
        memset(&c->val_vs_base, 0, sizeof c->val_vs_base);
        memset(&c->test_vs_base, 0, sizeof c->test_vs_base);
        c->rand_value = c->rand_lo = c->rand_hi = c->test_rand_value = c->test_rand_lo = c->test_rand_hi = NAN;
        c->p_rand_holm = NAN;
        memset(&c->vs_rand, 0, sizeof c->vs_rand);
        memset(&c->test_vs_rand, 0, sizeof c->test_vs_rand);
        if (!r->values || !base->is_test[k] || base->n_items[k] != r->n_items || base->n_metrics[k] != r->n_metrics)
            continue; /* no per-item values: the means alone */
        int n = r->n_items, nm = r->n_metrics, n_all;
        /* the unsteered cell is compared with nothing; a steered one with the unsteered items */
        const double *a = proto->src >= 0 ? base->v[k] : NULL;
        uint64_t seed = 0x5eedULL + 7919ULL * (uint64_t)t->n; /* the bootstrap's draws: fixed per cell */
        double lo, hi, mean;
        tl_paired_result unused;
        tl_status s = half_stats(a, r->values, base->is_test[k], n, nm, m, -1, seed, a ? &c->vs_base : &unused,
                                 &mean, &c->lo, &c->hi, &n_all);
        if (s == TL_OK)
            s = half_stats(a, r->values, base->is_test[k], n, nm, m, 0, seed + 1, &c->val_vs_base, &c->val_value,
                           &lo, &hi, &c->n_val);
        if (s == TL_OK)
            s = half_stats(a, r->values, base->is_test[k], n, nm, m, 1, seed + 2, &c->test_vs_base, &c->test_value,
                           &c->test_lo, &c->test_hi, &c->n_test);
        const double *ra = proto->src >= 0 && proto->rand >= 0 ? rbs[proto->rand].mean[k] : NULL;
        if (ra) { /* the random directions' score (all items, test half) and this cell against it */
            int n_r;
            if (s == TL_OK)
                s = half_stats(NULL, ra, base->is_test[k], n, nm, m, -1, seed + 3, &unused, &c->rand_value,
                               &c->rand_lo, &c->rand_hi, &n_r);
            if (s == TL_OK)
                s = half_stats(NULL, ra, base->is_test[k], n, nm, m, 1, seed + 4, &unused, &c->test_rand_value,
                               &c->test_rand_lo, &c->test_rand_hi, &n_r);
            const rand_base *rb = &rbs[proto->rand];
            if (s == TL_OK) s = vs_random(rb, k, r->values, base->is_test[k], n, nm, m, -1, &c->vs_rand);
            if (s == TL_OK) s = vs_random(rb, k, r->values, base->is_test[k], n, nm, m, 1, &c->test_vs_rand);
        }
        if (s) return s;
    }
    return TL_OK;
}

typedef struct {
    const tl_trust_opts *o;
    const tl_model *chat;
    const tl_tokenizer *tok;
    tl_eval_task **tasks;
    int n_tasks;
    char (*metric_names)[4][32];
    baseline_items base;
    cells table;
    rand_base *rb; /* [n_rb] the random-direction baselines */
    int n_rb;
    rand_stat *rs; /* [n_rs] their rows */
    int n_rs, cap_rs;
    const char *const *vec_names;
} steer_run;

/* Evaluate the tasks with want[k] set under hook h (NULL: the unsteered baseline). */
static tl_status eval_tasks(steer_run *R, const tl_steer_hook *h, const unsigned char *want, const cell *proto) {
    tl_eval_opts eo;
    tl_eval_opts_default(&eo);
    eo.limit = R->o->eval_limit;
    eo.max_new_tokens = R->o->max_new;
    eo.n_workers = tl_eval_workers(R->chat, &eo, 1 << 30); /* the steering hook is read-only: parallel is safe */
    /* the reference steers the newest token of every generation step: with the hook on each call's
     * last row, a scored continuation is run one token per call so that every scored token is steered */
    eo.token_by_token = h && h->last_only;
    tl_status s = h ? tl_steer_attach(h, &eo.hooks) : TL_OK;
    for (int k = 0; k < R->n_tasks && s == TL_OK; k++) {
        if (!want[k]) continue;
        tl_eval_result r;
        memset(&r, 0, sizeof r);
        s = tl_eval_run(R->chat, R->tok, R->tasks[k], &eo, &r);
        if (s == TL_OK) {
            for (int q = 0; q < r.n_metrics && q < 4; q++)
                snprintf(R->metric_names[k][q], 32, "%s", r.metrics[q].name);
            if (!h && r.values) { /* keep the unsteered per-item values for the paired tests */
                size_t bytes = (size_t)r.n_items * r.n_metrics * sizeof(double);
                tl_free(R->base.v[k]);
                R->base.v[k] = tl_malloc(bytes ? bytes : 1);
                if (!R->base.v[k]) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
                else memcpy(R->base.v[k], r.values, bytes);
                R->base.n_items[k] = r.n_items;
                R->base.n_metrics[k] = r.n_metrics;
                /* the validation / test halves, stratified on the unsteered first metric */
                double *strat = s == TL_OK ? tl_malloc((size_t)(r.n_items ? r.n_items : 1) * sizeof *strat) : NULL;
                tl_free(R->base.is_test[k]);
                R->base.is_test[k] = tl_calloc((size_t)(r.n_items ? r.n_items : 1), 1);
                if (s == TL_OK && (!strat || !R->base.is_test[k]))
                    s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
                for (int i = 0; s == TL_OK && i < r.n_items; i++) strat[i] = r.values[(size_t)i * r.n_metrics];
                if (s == TL_OK)
                    s = tl_trust_split_items(strat, r.n_items, R->o->seed * 1000003ULL + 17ULL * (uint64_t)(k + 1),
                                             R->base.is_test[k]);
                tl_free(strat);
            }
            cell c = *proto;
            c.task = k;
            if (s == TL_OK) s = add_results(&R->table, &c, &r, &R->base, R->rb);
        }
        tl_eval_result_free(&r);
    }
    return s;
}

static tl_status push_rand_stat(steer_run *R, const rand_stat *x) {
    if (R->n_rs == R->cap_rs) {
        int nc = R->cap_rs ? 2 * R->cap_rs : 64;
        rand_stat *p = tl_realloc(R->rs, (size_t)nc * sizeof *p);
        if (!p) return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
        R->rs = p, R->cap_rs = nc;
    }
    R->rs[R->n_rs++] = *x;
    return TL_OK;
}

/* Score and paired test of the per-item values v [n, nm] (metric m, every item) against the unsteered model. */
static tl_status rand_stat_of(steer_run *R, int rb, int dir, uint64_t seed, int k, int m, const double *v) {
    rand_stat x = {.rb = rb, .dir = dir, .task = k, .metric = m, .seed = seed};
    int n = R->base.n_items[k], nm = R->base.n_metrics[k];
    tl_status s = half_stats(R->base.v[k], v, R->base.is_test[k], n, nm, m, -1, 0x7a4dULL + 31ULL * (uint64_t)R->n_rs,
                             &x.vs_base, &x.value, &x.lo, &x.hi, &x.n);
    return s ? s : push_rand_stat(R, &x);
}

/* Random-direction baseline rb: its R directions (tl_steer_random_like of the template's vector,
 * seeds rand_dir_seed) at the hook scale, on the tasks with want[k] set; the per-item mean over
 * the directions, and a steering_random.csv row per direction and for the mean. */
static tl_status eval_random(steer_run *R, int rb_i, const tl_steer_vec *like, int first, int last,
                             const unsigned char *want) {
    const tl_trust_opts *o = R->o;
    rand_base *rb = &R->rb[rb_i];
    int n_dirs = o->random_dirs;
    rb->n_dirs = n_dirs;
    tl_status s = TL_OK;
    for (int r = 0; r < n_dirs && s == TL_OK; r++) {
        tl_steer_vec *rv = NULL;
        uint64_t seed = rand_dir_seed(o->seed, r);
        s = tl_steer_random_like(like, first, last, seed, &rv);
        tl_eval_opts eo;
        tl_eval_opts_default(&eo);
        eo.limit = o->eval_limit;
        eo.max_new_tokens = o->max_new;
        eo.n_workers = tl_eval_workers(R->chat, &eo, 1 << 30);
        eo.token_by_token = o->last_only; /* exactly as the steered cells (eval_tasks) */
        tl_steer_hook h = {rv, (float)rb->hook_scale, first, last, o->last_only};
        if (s == TL_OK) s = tl_steer_attach(&h, &eo.hooks);
        if (s == TL_OK)
            tl_trust_say(o, "steering: random direction %d of %d, %s norm x %g", r + 1, n_dirs,
                         R->vec_names[rb->vec], rb->mag);
        for (int k = 0; k < R->n_tasks && s == TL_OK; k++) {
            if (!want[k] || !R->base.v[k]) continue;
            tl_eval_result res;
            memset(&res, 0, sizeof res);
            s = tl_eval_run(R->chat, R->tok, R->tasks[k], &eo, &res);
            int n = R->base.n_items[k], nm = R->base.n_metrics[k];
            if (s == TL_OK && (!res.values || res.n_items != n || res.n_metrics != nm))
                s = tl_errorf(TL_E_RANGE, "trust-dynamics: %s: the random direction's items differ from the "
                              "unsteered model's", R->tasks[k]->name);
            if (s == TL_OK && !rb->mean[k]) {
                rb->mean[k] = tl_calloc((size_t)n * nm + 1, sizeof *rb->mean[k]);
                rb->vals[k] = tl_calloc((size_t)n_dirs * n * nm + 1, sizeof *rb->vals[k]);
                if (!rb->mean[k] || !rb->vals[k]) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
            }
            for (size_t i = 0; s == TL_OK && i < (size_t)n * nm; i++) {
                rb->mean[k][i] += res.values[i] / n_dirs;
                rb->vals[k][(size_t)r * n * nm + i] = res.values[i];
            }
            for (int m = 0; m < nm && s == TL_OK; m++) s = rand_stat_of(R, rb_i, r, seed, k, m, res.values);
            tl_eval_result_free(&res);
        }
        tl_steer_vec_free(rv);
    }
    for (int k = 0; k < R->n_tasks && s == TL_OK; k++)
        for (int m = 0; rb->mean[k] && m < R->base.n_metrics[k] && s == TL_OK; m++) {
            s = rand_stat_of(R, rb_i, -1, 0, k, m, rb->mean[k]);
            /* the mean's p: every direction against the unsteered model (tl_paired_all), not a sign test of
             * the per-item mean (k / R) against 0/1 outcomes, whose null is not "the same score" */
            int n = R->base.n_items[k], nm = R->base.n_metrics[k];
            double *x = s == TL_OK ? tl_malloc((size_t)(n_dirs + 1) * (n ? n : 1) * sizeof *x) : NULL;
            const double **a = s == TL_OK ? tl_malloc((size_t)(n_dirs ? n_dirs : 1) * sizeof *a) : NULL;
            if (s == TL_OK && (!x || !a)) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
            for (int i = 0; s == TL_OK && i < n; i++) {
                x[(size_t)n_dirs * n + i] = R->base.v[k][(size_t)i * nm + m];
                for (int r = 0; r < n_dirs; r++) x[(size_t)r * n + i] = rb->vals[k][((size_t)r * n + i) * nm + m];
            }
            for (int r = 0; s == TL_OK && r < n_dirs; r++) a[r] = x + (size_t)r * n;
            if (s == TL_OK) R->rs[R->n_rs - 1].vs_base.p = tl_paired_all(a, n_dirs, x + (size_t)n_dirs * n, n, NULL);
            tl_free(x);
            tl_free((void *)a);
        }
    return s;
}

/* The norm of v over layers first .. last. */
static double vec_norm(const tl_steer_vec *v, int first, int last) {
    double ss = 0;
    for (int l = first; l <= last; l++)
        for (int i = 0; i < v->dim; i++) ss += (double)v->dir[(size_t)l * v->dim + i] * v->dir[(size_t)l * v->dim + i];
    return sqrt(ss);
}

/* ---- output -------------------------------------------------------------------------- */

typedef struct {
    const source *src;
    int n_src;
    const double *scales;
    int n_scales;
    const char *const *vec_names;
    int n_vec;
    const int *vec_of_task; /* [task] the task's own vector, -1 = scored under every vector */
    unsigned char vec_used[MAX_VECS]; /* some steered cell used the vector */
    const int *items_total, *items_kept;
    const int *n_fit, *n_pairs;
    const double (*norm)[MAX_VECS]; /* [source][vector] raw norm at the steered layers */
    int first, last;
} table_info;

static int base_cell(const cells *t, int task, int metric) {
    for (int i = 0; i < t->n; i++)
        if (t->c[i].src < 0 && t->c[i].task == task && t->c[i].metric == metric) return i;
    return -1;
}

/* ",v" with v to 6 decimals, or "," when v is not finite */
static void csv_num(tl_strbuf *b, double v) {
    if (isfinite(v)) tl_strbuf_printf(b, ",%.6f", v);
    else tl_strbuf_puts(b, ",");
}

static tl_status write_csv_json(const steer_run *R, const table_info *ti) {
    const tl_trust_opts *o = R->o;
    const cells *t = &R->table;
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "source,step,scale,task,metric,value,stderr,n,diff_vs_unsteered,diff_lo95,diff_hi95,"
                         "p_sign_test,marked,p_holm,vector,raw_scale,added_norm,value_lo95,value_hi95,val_value,"
                         "val_diff,n_val,test_value,test_lo95,test_hi95,n_test,test_diff,test_diff_lo95,"
                         "test_diff_hi95,test_p,rand_dirs,rand_value,rand_lo95,rand_hi95,diff_vs_random,"
                         "diff_vs_random_lo95,diff_vs_random_hi95,p_vs_random,p_vs_random_holm,test_rand_value,"
                         "test_rand_lo95,test_rand_hi95,test_diff_vs_random,test_diff_vs_random_lo95,"
                         "test_diff_vs_random_hi95,test_p_vs_random\n");
    cJSON *j = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "chat", o->chat);
    cJSON_AddStringToObject(j, "series", o->series);
    cJSON_AddStringToObject(j, "method", tl_steer_method_name(o->method));
    cJSON_AddStringToObject(j, "norm", o->norm == TL_STEER_NORM_UNIT ? "unit" : "std");
    cJSON_AddNumberToObject(j, "layer_first", ti->first);
    cJSON_AddNumberToObject(j, "layer_last", ti->last);
    cJSON_AddStringToObject(j, "positions", o->last_only ? "last" : "all");
    cJSON_AddStringToObject(j, "scale_units", o->no_norm_match ? "raw: each vector's own" :
                                              "matched: every vector rescaled to the chat vector's norm");
    cJSON_AddNumberToObject(j, "fit_share_of_people", o->fit_share);
    cJSON_AddNumberToObject(j, "alpha", o->alpha);
    cJSON_AddStringToObject(j, "correction", "Holm over every steered cell");
    cJSON *jr = cJSON_AddObjectToObject(j, "random_direction_baseline");
    cJSON_AddNumberToObject(jr, "directions", o->random_dirs);
    cJSON_AddStringToObject(jr, "seeds", "seed * 1000003 + 99991 * (r + 1), r = 0 .. directions - 1");
    cJSON_AddStringToObject(jr, "what", "per vector and |scale|: Gaussian directions with the norm of the chat vector "
                                        "(matched) or the source's (raw) at the steered layers, added by the same "
                                        "hook at |scale|; each steered cell of that vector and |scale| is "
                                        "compared with every direction on the same items (McNemar's exact test, "
                                        "the sign test for other metrics) and p_vs_random is the largest p when all "
                                        "differ the same way, else 1 (intersection-union test), Holm over every "
                                        "such cell; diff_vs_random and its Wald interval are against the "
                                        "directions' per-item mean; steering_random.csv has each direction");
    cJSON *jv = cJSON_AddArrayToObject(j, "vectors");
    for (int v = 0; v < ti->n_vec; v++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "dimension", ti->vec_names[v]);
        cJSON_AddNumberToObject(x, "pairs", ti->n_pairs[v]);
        cJSON_AddNumberToObject(x, "fitting_pairs", ti->n_fit[v]);
        cJSON *nr = cJSON_AddObjectToObject(x, "raw_norm");
        for (int q = 0; q < ti->n_src; q++) cJSON_AddNumberToObject(nr, ti->src[q].name, ti->norm[q][v]);
        cJSON_AddItemToArray(jv, x);
    }
    cJSON *jt = cJSON_AddArrayToObject(j, "tasks");
    for (int k = 0; k < R->n_tasks; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "task", R->tasks[k]->name);
        cJSON_AddNumberToObject(x, "items", ti->items_total[k]);
        cJSON_AddNumberToObject(x, "items_disjoint", ti->items_kept[k]);
        int b = base_cell(t, k, 0);
        double v = b >= 0 ? t->c[b].value : NAN;
        cJSON_AddNumberToObject(x, "unsteered", isfinite(v) ? v : -1);
        cJSON_AddBoolToObject(x, "unsteered_in_0.15_0.85", isfinite(v) && v >= 0.15 && v <= 0.85);
        cJSON_AddBoolToObject(x, "at_least_300_items", b >= 0 && t->c[b].n >= MIN_ITEMS);
        cJSON_AddItemToArray(jt, x);
    }
    cJSON_AddItemToObject(j, "rows", rows);
    for (int i = 0; i < t->n; i++) {
        const cell *c = &t->c[i];
        /* the unsteered baseline is the scale-0 row of every source and vector that scores the task */
        for (int q = c->src < 0 ? 0 : c->src; q < (c->src < 0 ? ti->n_src : c->src + 1); q++)
            for (int v = c->src < 0 ? 0 : c->vec; v < (c->src < 0 ? ti->n_vec : c->vec + 1); v++) {
                if (c->src < 0 && ((ti->vec_of_task[c->task] >= 0 && v != ti->vec_of_task[c->task]) || !ti->vec_used[v]))
                    continue;
                double scale = c->src < 0 ? 0 : c->scale;
                tl_strbuf_printf(&csv, "%s,%lld,%g,%s,%s,", ti->src[q].name, (long long)ti->src[q].step, scale,
                                 R->tasks[c->task]->name, R->metric_names[c->task][c->metric]);
                if (isfinite(c->value)) tl_strbuf_printf(&csv, "%.6f", c->value);
                tl_strbuf_puts(&csv, ",");
                if (isfinite(c->stderr_)) tl_strbuf_printf(&csv, "%.6f", c->stderr_);
                tl_strbuf_printf(&csv, ",%d", c->n);
                const tl_paired_result *pr = &c->vs_base;
                int marked = pr->n > 0 && c->p_holm <= o->alpha;
                if (pr->n > 0)
                    tl_strbuf_printf(&csv, ",%.6f,%.6f,%.6f,%.6g,%d,%.6g", pr->diff, pr->lo, pr->hi, pr->p, marked,
                                     c->p_holm);
                else tl_strbuf_puts(&csv, ",,,,,0,");
                tl_strbuf_printf(&csv, ",%s,%g,%g", ti->vec_names[v], c->src < 0 ? 0 : c->raw_scale,
                                 c->src < 0 ? 0 : c->added_norm);
                /* the value's own interval, then the halves: validation (for choosing), test (for reporting) */
                const double own[] = {c->lo, c->hi, c->val_value};
                for (int z = 0; z < 3; z++) csv_num(&csv, own[z]);
                csv_num(&csv, c->val_vs_base.n > 0 ? c->val_vs_base.diff : NAN);
                tl_strbuf_printf(&csv, ",%d", c->n_val);
                const double tst[] = {c->test_value, c->test_lo, c->test_hi};
                for (int z = 0; z < 3; z++) csv_num(&csv, tst[z]);
                tl_strbuf_printf(&csv, ",%d", c->n_test);
                const tl_paired_result *tp = &c->test_vs_base;
                const double td[] = {tp->diff, tp->lo, tp->hi, tp->p};
                for (int z = 0; z < 3; z++) csv_num(&csv, tp->n > 0 ? td[z] : NAN);
                if (tp->n > 0) tl_strbuf_printf(&csv, ",%.6g", td[3]);
                else tl_strbuf_puts(&csv, ",");
                /* the random-direction baseline of the same push, and this cell against it */
                int has_r = c->vs_rand.n > 0;
                tl_strbuf_printf(&csv, ",%d", has_r ? o->random_dirs : 0);
                const tl_paired_result *ar = &c->vs_rand, *tr = &c->test_vs_rand;
                const double rv[] = {c->rand_value, c->rand_lo, c->rand_hi, ar->diff, ar->lo, ar->hi};
                for (int z = 0; z < 6; z++) csv_num(&csv, has_r ? rv[z] : NAN);
                if (has_r) tl_strbuf_printf(&csv, ",%.6g,%.6g", ar->p, c->p_rand_holm);
                else tl_strbuf_puts(&csv, ",,");
                const double trv[] = {c->test_rand_value, c->test_rand_lo, c->test_rand_hi, tr->diff, tr->lo, tr->hi};
                for (int z = 0; z < 6; z++) csv_num(&csv, has_r && tr->n > 0 ? trv[z] : NAN);
                if (has_r && tr->n > 0) tl_strbuf_printf(&csv, ",%.6g", tr->p);
                else tl_strbuf_puts(&csv, ",");
                tl_strbuf_puts(&csv, "\n");
                cJSON *r = cJSON_CreateObject();
                cJSON_AddStringToObject(r, "source", ti->src[q].name);
                cJSON_AddNumberToObject(r, "step", (double)ti->src[q].step);
                cJSON_AddStringToObject(r, "vector", ti->vec_names[v]);
                cJSON_AddNumberToObject(r, "scale", scale);
                cJSON_AddNumberToObject(r, "raw_scale", c->src < 0 ? 0 : c->raw_scale);
                cJSON_AddNumberToObject(r, "added_norm", c->src < 0 ? 0 : c->added_norm);
                cJSON_AddStringToObject(r, "task", R->tasks[c->task]->name);
                cJSON_AddStringToObject(r, "metric", R->metric_names[c->task][c->metric]);
                if (isfinite(c->value)) cJSON_AddNumberToObject(r, "value", c->value);
                else cJSON_AddNullToObject(r, "value");
                if (isfinite(c->stderr_)) cJSON_AddNumberToObject(r, "stderr", c->stderr_);
                else cJSON_AddNullToObject(r, "stderr");
                cJSON_AddNumberToObject(r, "n", c->n);
                if (isfinite(c->lo)) {
                    cJSON_AddNumberToObject(r, "lo95", c->lo);
                    cJSON_AddNumberToObject(r, "hi95", c->hi);
                }
                for (int z = 0; z < 2; z++) { /* the halves */
                    const tl_paired_result *hp = z ? &c->test_vs_base : &c->val_vs_base;
                    int nh = z ? c->n_test : c->n_val;
                    if (!nh) continue;
                    cJSON *x = cJSON_AddObjectToObject(r, z ? "test_half" : "validation_half");
                    cJSON_AddNumberToObject(x, "n", nh);
                    double hv = z ? c->test_value : c->val_value;
                    if (isfinite(hv)) cJSON_AddNumberToObject(x, "value", hv);
                    if (z && isfinite(c->test_lo)) {
                        cJSON_AddNumberToObject(x, "lo95", c->test_lo);
                        cJSON_AddNumberToObject(x, "hi95", c->test_hi);
                    }
                    if (hp->n > 0) {
                        cJSON_AddNumberToObject(x, "diff", hp->diff);
                        cJSON_AddNumberToObject(x, "diff_lo95", hp->lo);
                        cJSON_AddNumberToObject(x, "diff_hi95", hp->hi);
                        cJSON_AddNumberToObject(x, "p", hp->p);
                    }
                }
                if (pr->n > 0) {
                    cJSON *x = cJSON_AddObjectToObject(r, "vs_unsteered");
                    cJSON_AddStringToObject(x, "test", "two-sided exact sign test on per-item differences "
                                                       "(McNemar's exact test for 0/1 metrics)");
                    cJSON_AddNumberToObject(x, "n", pr->n);
                    cJSON_AddNumberToObject(x, "worse", (double)pr->only_a);
                    cJSON_AddNumberToObject(x, "better", (double)pr->only_b);
                    cJSON_AddNumberToObject(x, "diff", pr->diff);
                    cJSON_AddNumberToObject(x, "lo95", pr->lo);
                    cJSON_AddNumberToObject(x, "hi95", pr->hi);
                    cJSON_AddNumberToObject(x, "p", pr->p);
                    cJSON_AddNumberToObject(x, "p_holm", c->p_holm);
                    cJSON_AddBoolToObject(x, "marked", marked);
                }
                if (c->vs_rand.n > 0) {
                    cJSON *x = cJSON_AddObjectToObject(r, "vs_random_direction");
                    cJSON_AddNumberToObject(x, "directions", o->random_dirs);
                    cJSON_AddNumberToObject(x, "value", c->rand_value);
                    cJSON_AddNumberToObject(x, "lo95", c->rand_lo);
                    cJSON_AddNumberToObject(x, "hi95", c->rand_hi);
                    cJSON_AddNumberToObject(x, "n", c->vs_rand.n);
                    cJSON_AddNumberToObject(x, "diff", c->vs_rand.diff);
                    cJSON_AddNumberToObject(x, "diff_lo95", c->vs_rand.lo);
                    cJSON_AddNumberToObject(x, "diff_hi95", c->vs_rand.hi);
                    cJSON_AddNumberToObject(x, "p", c->vs_rand.p);
                    cJSON_AddNumberToObject(x, "p_holm", c->p_rand_holm);
                }
                cJSON_AddItemToArray(rows, r);
            }
    }
    char path[PATH_CAP];
    tl_status s = tl_trust_join(path, o->out, "steering.csv");
    if (s == TL_OK) s = tl_strbuf_status(&csv);
    if (s == TL_OK) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (s == TL_OK && !text) s = tl_errorf(TL_E_NOMEM, "steering.json: out of memory");
    if (s == TL_OK) s = tl_trust_join(path, o->out, "steering.json");
    if (s == TL_OK) s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return s;
}

/* steering_random.csv: every random direction's score (and the mean over them) per vector, |scale|,
 * task and metric, with its paired test against the unsteered model. */
static tl_status write_random_csv(const steer_run *R, const table_info *ti) {
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "template,vector,scale,raw_scale,added_norm,task,metric,direction,seed,value,lo95,hi95,n,"
                         "diff_vs_unsteered,diff_lo95,diff_hi95,p_vs_unsteered\n");
    for (int i = 0; i < R->n_rs; i++) {
        const rand_stat *x = &R->rs[i];
        const rand_base *b = &R->rb[x->rb];
        tl_strbuf_printf(&csv, "%s,%s,%g,%g,%g,%s,%s,", ti->src[b->src_t].name, ti->vec_names[b->vec], b->mag,
                         b->hook_scale, b->added_norm, R->tasks[x->task]->name, R->metric_names[x->task][x->metric]);
        if (x->dir >= 0) tl_strbuf_printf(&csv, "%d,%llu", x->dir, (unsigned long long)x->seed);
        else tl_strbuf_puts(&csv, "mean,");
        const double v[] = {x->value, x->lo, x->hi};
        for (int z = 0; z < 3; z++) csv_num(&csv, v[z]);
        tl_strbuf_printf(&csv, ",%d", x->n);
        const double d[] = {x->vs_base.diff, x->vs_base.lo, x->vs_base.hi};
        for (int z = 0; z < 3; z++) csv_num(&csv, x->vs_base.n > 0 ? d[z] : NAN);
        if (x->vs_base.n > 0) tl_strbuf_printf(&csv, ",%.6g\n", x->vs_base.p);
        else tl_strbuf_puts(&csv, ",\n");
    }
    char path[PATH_CAP];
    tl_status s = tl_trust_join(path, R->o->out, "steering_random.csv");
    if (s == TL_OK) s = tl_strbuf_status(&csv);
    if (s == TL_OK) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    return s;
}

/* The mean row of the random-direction baseline of (template source q, vector v, |scale| mag) for
 * task k's first metric; NULL when none. */
static const rand_stat *find_rand(const steer_run *R, int q, int v, double mag, int k) {
    for (int i = 0; i < R->n_rs; i++) {
        const rand_stat *x = &R->rs[i];
        const rand_base *b = &R->rb[x->rb];
        if (x->dir < 0 && x->task == k && x->metric == 0 && b->src_t == q && b->vec == v && b->mag == mag) return x;
    }
    return NULL;
}

/* The cell of (source q, vector v, scale, task k, first metric); the baseline at scale 0. */
static const cell *find_cell(const cells *t, int q, int v, double scale, int k) {
    for (int i = 0; i < t->n; i++) {
        const cell *c = &t->c[i];
        if (c->task != k || c->metric != 0) continue;
        if (scale == 0 ? c->src < 0 : (c->src == q && c->vec == v && c->scale == scale)) return c;
    }
    return NULL;
}

static tl_status write_md_svg(const steer_run *R, const table_info *ti, tl_strbuf *md) {
    const tl_trust_opts *o = R->o;
    const cells *t = &R->table;
    int n_steered = 0, n_marked = 0;
    for (int i = 0; i < t->n; i++)
        if (t->c[i].vs_base.n > 0) n_steered++, n_marked += t->c[i].p_holm <= o->alpha;
    tl_strbuf_printf(md,
                     "\n## Steering table\n\nOne vector per dimension (%s of that dimension's pairs about %.0f %% of "
                     "the people, layers %d-%d, %s position%s), from each source, %s, added to the chat model `%s`. "
                     "Evaluation items name none of the people of the fitting prompts and contain none of their "
                     "questions. Cells: the task's first metric; `*` marks a cell that differs from the unsteered "
                     "model at Holm-corrected p <= %g over all %d steered cells (two-sided exact sign test on "
                     "the per-item differences, McNemar's exact test for 0/1 metrics); %d are marked. steering.csv has "
                     "each score's own 95 %% interval (Wilson for 0/1 scores, else a bootstrap over items), the "
                     "paired difference from the unsteered model with its 95 %% interval, raw scales and norms, and "
                     "the same figures on two halves of the items (validation, test; stratified on the unsteered "
                     "score): a cell chosen among many is chosen on validation and reported on test. Beside each "
                     "steered cell of a task's own vector: the mean of %d random directions of the same norm, added "
                     "the same way (rows `random`; steering_random.csv has each direction), with the paired test of "
                     "the cell against it (Holm over those cells): a push that any direction of that size gives is "
                     "not the vector's.\n\n",
                     tl_steer_method_name(o->method), 100 * o->fit_share, ti->first, ti->last,
                     o->last_only ? "the last" : "every", o->last_only ? " (token_pos = -1)" : "s",
                     o->no_norm_match ? "each at its own norm (raw scales)"
                                      : "rescaled to the norm of the chat model's vector of the same dimension "
                                        "(scales in those units)",
                     o->chat, o->alpha, n_steered, n_marked, o->random_dirs);
    tl_strbuf_puts(md, "| task | items (disjoint of all) | unsteered | in 0.15-0.85 | vector |\n|---|---|---:|---|---|\n");
    for (int k = 0; k < R->n_tasks; k++) {
        const cell *b = find_cell(t, 0, 0, 0, k);
        double v = b ? b->value : NAN;
        tl_strbuf_printf(md, "| %s %s | %d of %d%s | %.3f | %s | %s |\n", R->tasks[k]->name, R->metric_names[k][0],
                         ti->items_kept[k], ti->items_total[k], b && b->n < MIN_ITEMS ? " (< 300)" : "", v,
                         isfinite(v) && v >= 0.15 && v <= 0.85 ? "yes" : "**no**",
                         ti->vec_of_task[k] >= 0 ? ti->vec_names[ti->vec_of_task[k]] : "every");
    }
    tl_strbuf_puts(md, "\n| source | vector | raw norm | scale |");
    for (int k = 0; k < R->n_tasks; k++) tl_strbuf_printf(md, " %s |", R->tasks[k]->name);
    tl_strbuf_puts(md, "\n|---|---|---:|---:|");
    for (int k = 0; k < R->n_tasks; k++) tl_strbuf_puts(md, "---:|");
    tl_strbuf_puts(md, "\n");
    for (int q = 0; q < ti->n_src; q++)
        for (int v = 0; v < ti->n_vec; v++)
            for (int si = 0; si < ti->n_scales && ti->vec_used[v]; si++) {
                tl_strbuf_printf(md, "| %s | %s | %.4g | %g |", ti->src[q].name, ti->vec_names[v], ti->norm[q][v],
                                 ti->scales[si]);
                for (int k = 0; k < R->n_tasks; k++) {
                    const cell *c = ti->vec_of_task[k] < 0 || ti->vec_of_task[k] == v
                                        ? find_cell(t, q, v, ti->scales[si], k)
                                        : NULL;
                    if (c && isfinite(c->value))
                        tl_strbuf_printf(md, " %.3f%s |", c->value,
                                         c->vs_base.n > 0 && c->p_holm <= o->alpha ? "*" : "");
                    else tl_strbuf_puts(md, " |");
                }
                tl_strbuf_puts(md, "\n");
            }
    for (int b = 0; b < R->n_rb; b++) /* the random-direction baselines, at each sign of their |scale| */
        for (int sg = -1; sg <= 1; sg += 2) {
            const rand_base *rb = &R->rb[b];
            tl_strbuf_printf(md, "| random x%d (%s norm) | %s | %.4g | %g |", o->random_dirs, ti->src[rb->src_t].name,
                             ti->vec_names[rb->vec], ti->norm[rb->src_t][rb->vec], sg * rb->mag);
            for (int k = 0; k < R->n_tasks; k++) {
                const rand_stat *x = find_rand(R, rb->src_t, rb->vec, rb->mag, k);
                if (x && isfinite(x->value)) tl_strbuf_printf(md, " %.3f |", x->value);
                else tl_strbuf_puts(md, " |");
            }
            tl_strbuf_puts(md, "\n");
        }
    /* charts: per task and vector, the first metric against the scale, one line per source, and the marked cells */
    tl_status s = TL_OK;
    int ns = ti->n_scales, nsrc = ti->n_src;
    /* values, marked values and the bars' ends per source; the unsteered model's value and its bars; the
     * random directions' */
    double *y = tl_malloc(((size_t)4 * nsrc + 6) * ns * sizeof *y);
    tl_chart_series *ser = tl_malloc(((size_t)2 * nsrc + 2) * sizeof *ser);
    tl_chart_style *sty = tl_calloc((size_t)2 * nsrc + 2, sizeof *sty);
    char(*lab)[160] = tl_malloc((size_t)nsrc * sizeof *lab);
    if (!y || !ser || !lab || !sty) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    for (int k = 0; k < R->n_tasks && s == TL_OK; k++)
        for (int v = 0; v < ti->n_vec && s == TL_OK; v++) {
            if ((ti->vec_of_task[k] >= 0 && ti->vec_of_task[k] != v) || !ti->vec_used[v]) continue;
            int n_ser = nsrc;
            for (int q = 0; q < nsrc; q++) {
                double *yv = y + (size_t)q * ns, *ym = y + (size_t)(nsrc + q) * ns;
                double *ylo = y + (size_t)(2 * nsrc + q) * ns, *yhi = y + (size_t)(3 * nsrc + q) * ns;
                int any = 0;
                for (int si = 0; si < ns; si++) {
                    const cell *c = find_cell(t, q, v, ti->scales[si], k);
                    yv[si] = c ? c->value : NAN;
                    ylo[si] = c ? c->lo : NAN; /* error bars: the score's own 95 % interval (score_ci) */
                    yhi[si] = c ? c->hi : NAN;
                    int m = c && c->vs_base.n > 0 && c->p_holm <= o->alpha;
                    ym[si] = m ? c->value : NAN;
                    any |= m;
                }
                ser[q] = (tl_chart_series){ti->src[q].name, ti->scales, yv, ns};
                sty[q] = (tl_chart_style){ylo, yhi, 0};
                if (any) {
                    snprintf(lab[q], sizeof lab[q], "%s *", ti->src[q].name); /* "*": the x label says what */
                    sty[n_ser] = (tl_chart_style){NULL, NULL, 0};
                    ser[n_ser++] = (tl_chart_series){lab[q], ti->scales, ym, ns};
                }
            }
            const cell *b0 = find_cell(t, 0, v, 0, k); /* the unsteered model, dashed across every scale */
            if (b0) {
                double *ub = y + (size_t)4 * nsrc * ns, *ul = ub + ns, *uh = ul + ns;
                for (int si = 0; si < ns; si++) ub[si] = b0->value, ul[si] = b0->lo, uh[si] = b0->hi;
                sty[n_ser] = (tl_chart_style){ul, uh, 1};
                ser[n_ser++] = (tl_chart_series){"unsteered [95 %]", ti->scales, ub, ns};
            }
            /* the random directions of the chat vector's norm (the matched one; with raw norms, the chat
             * source's): at 0 the unsteered model, at +-s the mean over the directions at |s| */
            double *rv = y + ((size_t)4 * nsrc + 3) * ns, *rl = rv + ns, *rh = rl + ns;
            int any_r = 0;
            for (int si = 0; si < ns; si++) {
                const rand_stat *x = find_rand(R, nsrc - 1, v, fabs(ti->scales[si]), k);
                int zero = ti->scales[si] == 0 && b0;
                rv[si] = zero ? b0->value : x ? x->value : NAN;
                rl[si] = zero ? b0->lo : x ? x->lo : NAN;
                rh[si] = zero ? b0->hi : x ? x->hi : NAN;
                any_r |= x != NULL;
            }
            char rlab[96];
            snprintf(rlab, sizeof rlab, "random x%d [95 %%]", o->random_dirs);
            if (any_r) {
                sty[n_ser] = (tl_chart_style){rl, rh, 1};
                ser[n_ser++] = (tl_chart_series){rlab, ti->scales, rv, ns};
            }
            char title[256], fname[300], path[PATH_CAP];
            int own = ti->vec_of_task[k] >= 0 || ti->n_vec == 1;
            snprintf(title, sizeof title, "Steering the chat model: %s (%s), %s vector, n = %d, bars 95 %%",
                     R->tasks[k]->name,
                     R->metric_names[k][0], ti->vec_names[v], ti->items_kept[k]);
            char xl[128];
            snprintf(xl, sizeof xl, "steering scale (%s); * = differs from unsteered, Holm p <= %g",
                     o->no_norm_match ? "raw" : "matched norm", o->alpha);
            tl_chart ch = {title, xl,
                           R->metric_names[k][0], 0, 0, TL_AXIS_LINEAR, 0, 1};
            tl_strbuf svg = {0};
            s = tl_svg_line_chart_styled(&svg, &ch, ser, sty, n_ser);
            if (own) snprintf(fname, sizeof fname, "steering_%s.svg", R->tasks[k]->name);
            else snprintf(fname, sizeof fname, "steering_%s_%s.svg", R->tasks[k]->name, ti->vec_names[v]);
            if (s == TL_OK) s = tl_trust_join(path, o->out, fname);
            if (s == TL_OK) s = tl_svg_save(&svg, path);
            tl_strbuf_free(&svg);
        }
    tl_free(y);
    tl_free(ser);
    tl_free(sty);
    tl_free(lab);
    return s;
}

/* ---- the run ---------------------------------------------------------------------------- */

tl_status tl_trust_steering(const tl_trust_opts *o, const tl_ckpt_list *ckpts, tl_strbuf *md) {
    double scales[MAX_ITEMS];
    int n_scales;
    tl_status s = parse_scales(o->scales, scales, &n_scales);
    if (s) return s;
    char tbuf[1024], *tnames[MAX_TASKS];
    int n_tasks = tl_trust_split_list(o->tasks ? o->tasks : DEFAULT_TASKS, tbuf, sizeof tbuf, tnames, MAX_TASKS);
    if (n_tasks == 0) return tl_errorf(TL_E_ARG, "trust-dynamics: no evaluation tasks");
    char pairs[PATH_CAP];
    if ((s = pairs_path(o, pairs))) return s;

    source *src = tl_calloc(MAX_ITEMS + 1, sizeof *src);
    tl_eval_task *tasks[MAX_TASKS] = {0};
    int items_total[MAX_TASKS] = {0}, items_kept[MAX_TASKS] = {0}, vec_of_task[MAX_TASKS];
    tl_steer_data *pd[MAX_VECS] = {0};
    const char *vec_names[MAX_VECS];
    int n_vec = 0, n_fit[MAX_VECS] = {0}, n_pairs[MAX_VECS] = {0};
    tl_trust_people people = {0};
    unsigned char *fit_person = NULL, *excluded = NULL, *mentioned = NULL;
    char **questions = NULL;
    int n_q = 0;
    tl_model *chat = NULL;
    tl_tokenizer *chat_tok = NULL; /* the chat model file's */
    tl_tokenizer *tok_owned = NULL;
    tl_steer_vec *(*vecs)[MAX_VECS] = tl_calloc(MAX_ITEMS + 1, sizeof *vecs);
    double(*norm)[MAX_VECS] = tl_calloc(MAX_ITEMS + 1, sizeof *norm);
    steer_run R = {0};
    R.o = o;
    R.metric_names = tl_calloc(MAX_TASKS, sizeof *R.metric_names);
    int n_src = 0;
    if (!src || !vecs || !norm || !R.metric_names) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    if (s == TL_OK) s = resolve_sources(o, ckpts, src, &n_src);
    tl_eval_load_opts lo = {o->eval_data ? o->eval_data : "../shared/data", o->world, NULL, 0};
    for (int k = 0; k < n_tasks && s == TL_OK; k++) s = tl_eval_task_load(tnames[k], &lo, &tasks[k]);
    if (s == TL_OK) s = load_vector_pairs(o, pairs, pd, vec_names, &n_vec);
    for (int k = 0; k < n_tasks; k++) { /* the task's own vector, or every vector */
        const char *dim = tasks[k] ? task_dimension(tasks[k]->name) : NULL;
        vec_of_task[k] = -1;
        for (int v = 0; v < n_vec && dim; v++)
            if (!strcmp(vec_names[v], dim)) vec_of_task[k] = v;
        if (n_vec == 1) vec_of_task[k] = 0;
    }
    /* the fitting split: people (when there is a world), then each dimension's pairs */
    if (s == TL_OK && o->world) s = tl_trust_people_load(o->world, &people);
    if (s == TL_OK) {
        fit_person = tl_calloc((size_t)people.n + 1, 1);
        excluded = tl_calloc((size_t)people.n + 1, 1);
        mentioned = tl_calloc((size_t)people.n + 1, 1);
        int cap_q = 0;
        for (int v = 0; v < n_vec; v++) cap_q += pd[v]->n_pairs;
        questions = tl_calloc((size_t)cap_q + 1, sizeof *questions);
        if (!fit_person || !excluded || !mentioned || !questions) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    }
    if (s == TL_OK) tl_trust_people_split(&people, o->fit_share, o->seed, fit_person);
    for (int v = 0; v < n_vec && s == TL_OK; v++) {
        n_pairs[v] = pd[v]->n_pairs;
        s = tl_trust_order_pairs(pd[v], &people, fit_person, o->fit_share, o->seed + 1000003ULL * (uint64_t)(v + 1),
                                 &n_fit[v], mentioned);
        if (s == TL_OK && (n_fit[v] < 2 || n_fit[v] == n_pairs[v]))
            s = tl_errorf(TL_E_ARG, "%s: dimension '%s': %d of %d pairs fit the vector; need at least 2, and some "
                          "held out", pairs, vec_names[v], n_fit[v], n_pairs[v]);
        for (int i = 0; i < people.n; i++) excluded[i] |= mentioned[i];
        for (int i = 0; i < n_fit[v] && s == TL_OK; i++) {
            char q[1024];
            tl_trust_question(pd[v]->text[pd[v]->pos[i]], q, sizeof q);
            if (!(questions[n_q++] = tl_strdup(q))) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
        }
    }
    for (int k = 0; k < n_tasks && s == TL_OK; k++) {
        tl_trust_filter_items(tasks[k], &people, excluded, questions, n_q, &items_total[k]);
        items_kept[k] = tasks[k]->n_items;
        tl_trust_say(o, "steering: %s keeps %d of %d items (disjoint from the fitting pairs)", tasks[k]->name, items_kept[k],
            items_total[k]);
        if (items_kept[k] == 0)
            s = tl_errorf(TL_E_ARG, "trust-dynamics: task %s has no item left that is disjoint from the fitting pairs",
                          tasks[k]->name);
    }
    if (s == TL_OK) s = tl_model_load(o->chat, &chat, &chat_tok);
    if (s == TL_OK && o->tokenizer) s = tl_tokenizer_load(o->tokenizer, &tok_owned);
    const tl_tokenizer *tok = NULL;
    if (s == TL_OK) s = tl_model_pick_tokenizer(chat, tok_owned, chat_tok, &tok);
    int first = 0, last = 0;
    if (s == TL_OK) {
        if (o->layers) s = tl_steer_parse_layers(o->layers, chat->cfg.n_layers, &first, &last);
        else first = last = chat->cfg.n_layers / 2 > 0 ? chat->cfg.n_layers / 2 : 1;
    }
    char vdir[PATH_CAP], layer_spec[32];
    snprintf(layer_spec, sizeof layer_spec, "%d-%d", first, last);
    if (s == TL_OK) s = tl_trust_join(vdir, o->out, "vectors");
    if (s == TL_OK) s = tl_trust_make_dir(vdir);
    for (int q = 0; q < n_src && s == TL_OK; q++) {
        tl_model *m = NULL;
        tl_tokenizer *m_tok = NULL;
        const tl_model *use = chat;
        const tl_tokenizer *use_tok = chat_tok;
        if (src[q].step >= 0) {
            s = tl_model_load(src[q].path, &m, &m_tok);
            use = m, use_tok = m_tok;
        }
        const tl_tokenizer *btok = NULL;
        if (s == TL_OK) s = tl_model_pick_tokenizer(use, tok_owned, use_tok, &btok);
        for (int v = 0; v < n_vec && s == TL_OK; v++) {
            tl_trust_say(o, "steering: building the %s vector of %s (%d fitting pairs)", vec_names[v], src[q].name, n_fit[v]);
            tl_steer_build_opts bo;
            tl_steer_build_opts_default(&bo);
            bo.method = o->method;
            bo.norm = o->norm;
            bo.layers = layer_spec;
            bo.fit_frac = tl_trust_fit_frac(n_fit[v], pd[v]->n_pairs);
            s = tl_steer_build(use, btok, pd[v], &bo, &vecs[q][v]);
            char fname[300], path[PATH_CAP];
            snprintf(fname, sizeof fname, "%s_%s.gguf", src[q].name, vec_names[v]);
            if (s == TL_OK) s = tl_trust_join(path, vdir, fname);
            if (s == TL_OK) s = tl_steer_save(vecs[q][v], path);
            if (s == TL_OK) { /* transfer: the vector must fit the chat model */
                tl_steer_hook h = {vecs[q][v], 1.0f, first, last, o->last_only};
                s = tl_steer_check(&h, &chat->cfg, src[q].path);
            }
            if (s == TL_OK) norm[q][v] = vec_norm(vecs[q][v], first, last);
        }
        tl_tokenizer_free(m_tok);
        tl_model_free(m);
    }
    R.chat = chat;
    R.tok = tok;
    R.vec_names = vec_names;
    R.tasks = tasks;
    R.n_tasks = n_tasks;
    unsigned char want[MAX_TASKS];
    if (s == TL_OK) {
        tl_trust_say(o, "steering: evaluating the unsteered chat model");
        memset(want, 1, sizeof want);
        cell proto = {.src = -1, .vec = -1, .p_holm = NAN, .rand = -1};
        s = eval_tasks(&R, NULL, want, &proto);
    }
    int chat_q = n_src - 1;
    /* a task without a dimension of its own (capability) is scored under the vectors some task measures */
    unsigned char measured[MAX_VECS] = {0};
    int n_measured = 0;
    for (int k = 0; k < n_tasks; k++)
        if (vec_of_task[k] >= 0 && !measured[vec_of_task[k]]) measured[vec_of_task[k]] = 1, n_measured++;
    /* the cost of a push (tasks without a dimension) is scored at the largest push of each sign unless
     * every scale is asked for: it was the table's largest cost (docs/steering.md) */
    double lo_scale = scales[0], hi_scale = scales[0];
    for (int si = 1; si < n_scales; si++) {
        if (scales[si] < lo_scale) lo_scale = scales[si];
        if (scales[si] > hi_scale) hi_scale = scales[si];
    }
    /* the random-direction baselines: per vector a task measures (every vector when none does) and per
     * magnitude |scale| of the sweep, from the chat vector's norms (matched) or each source's (raw) */
    double mags[MAX_ITEMS];
    int n_mags = 0;
    for (int si = 0; si < n_scales; si++) {
        int seen = scales[si] == 0;
        for (int j = 0; j < n_mags; j++) seen |= mags[j] == fabs(scales[si]);
        if (!seen) mags[n_mags++] = fabs(scales[si]);
    }
    if (s == TL_OK && o->random_dirs > 0) {
        R.rb = tl_calloc((size_t)n_src * n_vec * (n_mags ? n_mags : 1), sizeof *R.rb);
        if (!R.rb) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    }
    for (int q = o->no_norm_match ? 0 : chat_q; R.rb && q < n_src && s == TL_OK; q++)
        for (int v = 0; v < n_vec && s == TL_OK; v++) {
            int any = 0;
            for (int k = 0; k < n_tasks; k++) any |= want[k] = vec_of_task[k] == v;
            if (!any) continue; /* capability: the cost of a push is not compared with a random one */
            for (int j = 0; j < n_mags && s == TL_OK; j++) {
                rand_base *b = &R.rb[R.n_rb];
                *b = (rand_base){.src_t = q, .vec = v, .mag = mags[j], .hook_scale = mags[j],
                                 .added_norm = mags[j] * norm[q][v]};
                R.n_rb++;
                s = eval_random(&R, R.n_rb - 1, vecs[q][v], first, last, want);
            }
        }
    for (int q = 0; q < n_src && s == TL_OK; q++)
        for (int v = 0; v < n_vec && s == TL_OK; v++) {
            double f = o->no_norm_match || !(norm[q][v] > 0) ? 1.0 : norm[chat_q][v] / norm[q][v];
            for (int si = 0; si < n_scales && s == TL_OK; si++) {
                if (scales[si] == 0) continue; /* identical to the baseline (test_steer: bit-identical logits) */
                int extreme = scales[si] == lo_scale || scales[si] == hi_scale, any = 0;
                for (int k = 0; k < n_tasks; k++)
                    any |= want[k] = vec_of_task[k] == v || (vec_of_task[k] < 0 && (measured[v] || !n_measured) &&
                                                             (extreme || o->cost_every_scale));
                if (!any) continue;
                tl_trust_say(o, "steering: %s %s x %g", src[q].name, vec_names[v], scales[si]);
                tl_steer_hook h = {vecs[q][v], (float)(scales[si] * f), first, last, o->last_only};
                cell proto = {.src = q,
                              .vec = v,
                              .scale = scales[si],
                              .raw_scale = scales[si] * f,
                              .added_norm = fabs(scales[si] * f) * norm[q][v],
                              .p_holm = NAN,
                              .rand = -1};
                for (int b = 0; b < R.n_rb; b++) /* the random directions of the same vector and push */
                    if (R.rb[b].vec == v && R.rb[b].mag == fabs(scales[si]) &&
                        R.rb[b].src_t == (o->no_norm_match ? q : chat_q))
                        proto.rand = b;
                s = eval_tasks(&R, &h, want, &proto);
            }
        }
    if (s == TL_OK) { /* Holm over every steered cell */
        double *p = tl_malloc((size_t)(R.table.n ? R.table.n : 1) * sizeof *p);
        if (!p) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
        for (int i = 0; p && i < R.table.n; i++) p[i] = R.table.c[i].vs_base.n > 0 ? R.table.c[i].vs_base.p : NAN;
        if (s == TL_OK) s = tl_holm(p, R.table.n, p);
        for (int i = 0; s == TL_OK && i < R.table.n; i++) R.table.c[i].p_holm = p[i];
        /* and, as a family of its own, over every cell compared with its random-direction baseline */
        for (int i = 0; s == TL_OK && i < R.table.n; i++)
            p[i] = R.table.c[i].vs_rand.n > 0 ? R.table.c[i].vs_rand.p : NAN;
        if (s == TL_OK) s = tl_holm(p, R.table.n, p);
        for (int i = 0; s == TL_OK && i < R.table.n; i++) R.table.c[i].p_rand_holm = p[i];
        tl_free(p);
    }
    if (s == TL_OK) {
        table_info ti = {src,         n_src,       scales,     n_scales, vec_names, n_vec,
                         vec_of_task, {0},         items_total, items_kept, n_fit,    n_pairs,
                         (const double(*)[MAX_VECS])norm, first, last};
        for (int i = 0; i < R.table.n; i++)
            if (R.table.c[i].vec >= 0) ti.vec_used[R.table.c[i].vec] = 1;
        int any_used = 0;
        for (int v = 0; v < n_vec; v++) any_used |= ti.vec_used[v];
        if (!any_used) memset(ti.vec_used, 1, sizeof ti.vec_used); /* no nonzero scale: the baseline alone */
        s = write_csv_json(&R, &ti);
        if (s == TL_OK) s = write_random_csv(&R, &ti);
        if (s == TL_OK) s = write_md_svg(&R, &ti, md);
    }
    for (int q = 0; vecs && q < n_src; q++)
        for (int v = 0; v < n_vec; v++) tl_steer_vec_free(vecs[q][v]);
    for (int k = 0; k < n_tasks; k++) {
        if (tasks[k] && items_total[k]) tasks[k]->n_items = items_total[k]; /* free the dropped items too */
        tl_eval_task_free(tasks[k]);
    }
    for (int v = 0; v < n_vec; v++) tl_steer_data_free(pd[v]);
    for (int i = 0; i < n_q; i++) tl_free(questions[i]);
    tl_free(questions);
    tl_free(fit_person);
    tl_free(excluded);
    tl_free(mentioned);
    tl_trust_people_free(&people);
    tl_tokenizer_free(tok_owned);
    tl_tokenizer_free(chat_tok);
    tl_model_free(chat);
    tl_free(R.table.c);
    for (int b = 0; b < R.n_rb; b++)
        for (int k = 0; k < MAX_TASKS; k++) tl_free(R.rb[b].mean[k]), tl_free(R.rb[b].vals[k]);
    tl_free(R.rb);
    tl_free(R.rs);
    for (int k = 0; k < MAX_TASKS; k++) tl_free(R.base.v[k]), tl_free(R.base.is_test[k]);
    tl_free(R.metric_names);
    tl_free(vecs);
    tl_free(norm);
    tl_free(src);
    return s;
}
