/* behave.c: does a model know the facts behind a probe set? The behavioural
 * test of issue 13, point 2: for each minimal pair of <dim>_pairs.csv (probes.c)
 * the model scores both statements, log p(statement | BOS) summed over its
 * tokens, and is right when the member true of the world gets the higher
 * log-probability. Accuracy with its Wilson 95 % interval and n; a random-init
 * model is at about 0.5, since the members of a pair are built from the same
 * multiset of values.
 *
 * The scoring is the evaluation harness's (src/eval): each pair is a two-choice
 * item with an empty context (only BOS), so every statement is scored from its
 * first token; the true member is the first choice in even pairs and the second
 * in odd ones, so ties (which a constant model would produce) count half right
 * on average instead of all right. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h" /* internal: Wilson */
#include "eval/eval_internal.h"
#include "tiller/bootstrap.h"
#include "tiller/world.h"

enum { BEHAVE_BOOT = 2000 }; /* bootstrap replicates */

/* The pairs' clusters: the `entity` column's names as ids in order of appearance. */
typedef struct {
    char **name;
    int n, cap;
    int *id; /* [items] */
    int id_cap;
} clusters;

static int cluster_add(clusters *c, const char *name, int item) {
    if (item >= c->id_cap) {
        int nc = c->id_cap ? 2 * c->id_cap : 256;
        int *id = tl_realloc(c->id, (size_t)nc * sizeof *id);
        if (!id) return 0;
        c->id = id, c->id_cap = nc;
    }
    for (int k = c->n - 1; k >= 0; k--)
        if (!strcmp(c->name[k], name)) return c->id[item] = k, 1;
    if (c->n == c->cap) {
        int nc = c->cap ? 2 * c->cap : 64;
        char **nm = tl_realloc(c->name, (size_t)nc * sizeof *nm);
        if (!nm) return 0;
        c->name = nm, c->cap = nc;
    }
    if (!(c->name[c->n] = tl_strdup(name))) return 0;
    c->id[item] = c->n++;
    return 1;
}

static void clusters_free(clusters *c) {
    for (int k = 0; k < c->n; k++) tl_free(c->name[k]);
    tl_free(c->name);
    tl_free(c->id);
}

static tl_status load_pairs(const char *path, const char *split, tl_eval_task **out, clusters *cl) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    tl_status st = tl_file_read_all(path, &text, &len);
    if (st) return st;
    tl_eval_task *t = NULL;
    st = tl_eval_task_new("world_pairs", path, TL_EVAL_KIND_MC, "", &t);
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    int header = 1, k = 0, cols = 3;
    while (!st) {
        tl_csv_record rec;
        int got = 0;
        if ((st = tl_csv_next(&r, &rec, &got)) || !got) break;
        if (rec.blank) continue;
        const char *const *f = rec.fields;
        if (header) {
            header = 0;
            cols = rec.n_fields;
            if ((cols != 3 && cols != 4) || strcmp(f[0], "split") || strcmp(f[1], "true_statement") ||
                strcmp(f[2], "false_statement") || (cols == 4 && strcmp(f[3], "entity")))
                st = tl_errorf(TL_E_FORMAT, "%s:%d: expected the header split,true_statement,false_statement[,entity]",
                               path, rec.line);
        } else if (rec.n_fields != cols) {
            st = tl_errorf(TL_E_FORMAT, "%s:%d: expected %d fields, found %d", path, rec.line, cols, rec.n_fields);
        } else if (!split || !strcmp(f[0], split)) {
            /* without an entity column every pair is its own cluster */
            char own[32];
            snprintf(own, sizeof own, "#%d", k);
            if (!cluster_add(cl, cols == 4 ? f[3] : own, k)) st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            tl_eval_item *it = NULL;
            if (!st && !(st = tl_eval_task_add(t, 2, &it))) {
                int g = k++ % 2; /* where the true member goes */
                it->context = tl_strdup("");
                it->choices[g] = tl_strdup(f[1]);
                it->choices[1 - g] = tl_strdup(f[2]);
                it->gold = g;
                if (!it->context || !it->choices[0] || !it->choices[1])
                    st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            }
        }
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!st && t->n_items == 0)
        st = tl_errorf(TL_E_FORMAT, "%s: no pairs%s%s", path, split ? " in split " : "", split ? split : "");
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}

/* The length-balanced accuracy and its cluster bootstrap. A model that knows nothing
 * still prefers the member with fewer tokens (each token costs about log V nats at
 * random init: at step 0 of the default demo every pair whose members differ in token
 * count went to the shorter one), so the raw accuracy of a random-init model is the
 * share of pairs whose true member is the shorter, not 0.5. The pairs are therefore
 * split by the sign of tokens(true) - tokens(false) into "true shorter", "equal" and
 * "true longer", and the balanced accuracy weighs the shorter and the longer strata
 * equally: w0 acc(equal) + (1 - w0) (acc(shorter) + acc(longer)) / 2, w0 the share of
 * equal pairs; a model that decides by length alone scores exactly 0.5 on the unequal
 * pairs. With only one of the two unequal strata present it is the raw accuracy. */
static double balanced_of(const double hits[3], const double cnt[3]) {
    double n = cnt[0] + cnt[1] + cnt[2];
    if (n <= 0) return NAN;
    if (!(cnt[0] > 0 && cnt[2] > 0)) return (hits[0] + hits[1] + hits[2]) / n;
    double w0 = cnt[1] / n;
    return (cnt[1] > 0 ? w0 * hits[1] / cnt[1] : 0) + (1 - w0) * (hits[0] / cnt[0] + hits[2] / cnt[2]) / 2;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The bootstrap resamples clusters (the pairs' entities) with replacement and
 * recomputes the balanced accuracy from the drawn pairs; percentile 95 % interval. */
static tl_status balanced(const double *hit, const int *sgn, const int *cl, int n, int n_cl, uint64_t seed,
                          tl_world_behave_result *r) {
    double *per = tl_calloc((size_t)n_cl * 6, sizeof *per), *rep = tl_malloc(BEHAVE_BOOT * sizeof *rep);
    if (!per || !rep) {
        tl_free(per), tl_free(rep);
        return tl_errorf(TL_E_NOMEM, "behavioural test: out of memory");
    }
    double hits[3] = {0, 0, 0}, cnt[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) { /* per cluster: hits and pairs of each stratum */
        per[(size_t)cl[i] * 6 + sgn[i] + 1] += hit[i];
        per[(size_t)cl[i] * 6 + 3 + sgn[i] + 1] += 1;
        hits[sgn[i] + 1] += hit[i], cnt[sgn[i] + 1] += 1;
    }
    r->n_shorter = (int)cnt[0], r->n_equal = (int)cnt[1], r->n_longer = (int)cnt[2];
    r->bal_acc = balanced_of(hits, cnt);
    r->n_clusters = n_cl;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int b = 0; b < BEHAVE_BOOT; b++) {
        double h[3] = {0, 0, 0}, c[3] = {0, 0, 0};
        for (int j = 0; j < n_cl; j++) {
            const double *q = per + (size_t)tl_rng_below(&rng, (uint64_t)n_cl) * 6;
            for (int k = 0; k < 3; k++) h[k] += q[k], c[k] += q[3 + k];
        }
        rep[b] = balanced_of(h, c);
    }
    qsort(rep, BEHAVE_BOOT, sizeof *rep, cmp_double);
    r->boot_lo = tl_quantile_sorted(rep, BEHAVE_BOOT, 0.025);
    r->boot_hi = tl_quantile_sorted(rep, BEHAVE_BOOT, 0.975);
    tl_free(per);
    tl_free(rep);
    return TL_OK;
}

tl_status tl_world_behave(const tl_model *m, const tl_tokenizer *tok, const char *pairs_csv, const char *split,
                          int limit, tl_world_behave_result *r) {
    memset(r, 0, sizeof *r);
    tl_eval_task *t = NULL;
    clusters cl = {0};
    tl_status st = load_pairs(pairs_csv, split, &t, &cl);
    if (st) {
        clusters_free(&cl);
        return st;
    }
    tl_eval_opts eo;
    tl_eval_opts_default(&eo);
    eo.limit = limit;
    tl_eval_result res;
    memset(&res, 0, sizeof res);
    st = tl_eval_run(m, tok, t, &eo, &res);
    double *hit = st ? NULL : tl_malloc(((size_t)res.n_items + 1) * sizeof *hit);
    int *sgn = st ? NULL : tl_malloc(((size_t)res.n_items + 1) * sizeof *sgn);
    if (!st && (!hit || !sgn)) st = tl_errorf(TL_E_NOMEM, "%s: out of memory", pairs_csv);
    if (!st) {
        double margin = 0;
        for (int i = 0; i < res.n_items; i++) {
            const double *ll = res.ll + res.choice_off[i];
            const int *nt = res.n_tokens + res.choice_off[i];
            int g = t->items[i].gold;
            double d = ll[g] - ll[1 - g];
            r->correct += d > 0 ? 2 : d == 0 ? 1 : 0; /* half-units: a tie is half right */
            hit[i] = d > 0 ? 1 : d == 0 ? 0.5 : 0;
            sgn[i] = (nt[g] > nt[1 - g]) - (nt[g] < nt[1 - g]);
            margin += d;
        }
        r->n = res.n_items;
        r->correct /= 2; /* rounds ties down; exact when there are none */
        r->acc = r->n ? (double)r->correct / r->n : 0;
        r->mean_margin = r->n ? margin / r->n : 0;
        tl_wilson(r->correct, r->n, TL_Z95, &r->lo, &r->hi);
        if (r->n) st = balanced(hit, sgn, cl.id, r->n, cl.n, 20260613u, r);
    }
    tl_free(hit);
    tl_free(sgn);
    clusters_free(&cl);
    tl_eval_result_free(&res);
    tl_eval_task_free(t);
    return st ? tl_error_prefix(st, "%s", pairs_csv) : TL_OK;
}
