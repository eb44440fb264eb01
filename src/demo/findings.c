/* findings.c: the demo's findings K, F1-F3 computed from the stages' CSV files
 * (see findings.h for the rule), as findings.json, findings.md, the report's
 * summary table and each section's opening sentence. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/stats.h"
#include "findings.h"

#define PATH_CAP 4096
#define MAX_UNITS 16
#define TEXT_CAP 8192

/* ---- findings ------------------------------------------------------------------------ */

typedef struct {
    char name[64];
    int eligible, pass, against;
    double estimate, lo, hi;    /* the unit's figure with its 95 % interval */
    double ref, ref_lo, ref_hi; /* what it is compared with (step 0; the unsteered model) */
    double baseline;            /* the best no-learning baseline (F1), NaN if none */
    double effect;              /* signed: > 0 in the claimed direction */
    double p, p_holm;
    int n;
    int has_diff;                  /* F3: the displayed cell's paired difference from the reference */
    double diff, diff_lo, diff_hi; /* and its 95 % interval */
    char shown[96];                /* F3: which cell is displayed ("ckpt-804 at +4") */
    int has_rand;                  /* F3: the displayed cell's random-direction baseline (test half) */
    double rand_lo, rand_hi;       /* its interval (its value is baseline) */
    double rdiff, rdiff_lo, rdiff_hi, rp; /* the cell minus it, 95 % interval, paired p */
    char tally[256];               /* F3: the verdict's count of cells */
    char note[640];
} funit;

typedef struct {
    const char *id, *section, *title, *claim, *test;
    int available;
    char missing[PATH_CAP];
    int n_units, m, k, a;
    funit u[MAX_UNITS];
    const char *verdict;
    char result[TEXT_CAP]; /* the sentence: tiller's result, computed */
} finding;

enum { F_K, F_1, F_2, F_3, F_R, F_RC, F_SA, F__COUNT };

struct tl_demo_findings {
    double alpha;
    finding f[F__COUNT];
};

const char *tl_demo_verdict(int m, int k, int a) {
    if (m <= 0) return "cannot tell";
    if (a == 0 && 2 * k > m) return "supported";
    if (a == 0 && k == 0) return "null";
    return "not supported";
}

/* Two-sided z test of a difference of two estimates, each with a 95 % interval (the
 * standard errors are the intervals' half-widths / 1.96). */
static double z_test(double a, double a_lo, double a_hi, double b, double b_lo, double b_hi) {
    double sa = (a_hi - a_lo) / (2 * TL_Z95), sb = (b_hi - b_lo) / (2 * TL_Z95);
    double se = sqrt(sa * sa + sb * sb);
    if (!(se > 0) || !isfinite(a) || !isfinite(b)) return NAN;
    return erfc(fabs(a - b) / se / sqrt(2.0));
}

/* Holm over the eligible units' p, then the counts and the verdict. pass_ok(u) adds the
 * unit's own conditions (direction, baselines) to the test. */
static tl_status settle(finding *f, double alpha, int (*pass_ok)(const funit *)) {
    double p[MAX_UNITS];
    for (int i = 0; i < f->n_units; i++) p[i] = f->u[i].eligible ? f->u[i].p : NAN;
    tl_status s = tl_holm(p, f->n_units, p);
    if (s) return s;
    f->m = f->k = f->a = 0;
    for (int i = 0; i < f->n_units; i++) {
        funit *u = &f->u[i];
        u->p_holm = p[i];
        if (!u->eligible) continue;
        f->m++;
        int sig = u->p_holm <= alpha;
        u->pass = sig && u->effect > 0 && (!pass_ok || pass_ok(u));
        u->against = sig && u->effect < 0;
        f->k += u->pass;
        f->a += u->against;
    }
    f->verdict = tl_demo_verdict(f->m, f->k, f->a);
    return TL_OK;
}

static void missing(finding *f, const char *path) {
    f->available = 0;
    snprintf(f->missing, sizeof f->missing, "%s", path);
    f->verdict = tl_demo_verdict(0, 0, 0);
    snprintf(f->result, sizeof f->result, "no data: %s is missing (stage not finished)", path);
}

/* out/rel into t (path: its full name, for errors); have = 0, and f marked missing, when the stage has
 * not written it yet. */
static tl_status stage_table(const char *out, const char *rel, char path[PATH_CAP], tl_table *t, finding *f,
                             int *have) {
    snprintf(path, PATH_CAP, "%s/%s", out, rel);
    tl_status s = tl_table_read(path, t, have);
    if (!s && !*have) missing(f, rel);
    return s;
}

static void append(char *buf, const char *fmt, ...) TL_PRINTF(2, 3);
static void append(char *buf, const char *fmt, ...) {
    size_t n = strlen(buf);
    if (n + 1 >= TEXT_CAP) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, TEXT_CAP - n, fmt, ap);
    va_end(ap);
}

/* ---- K: the behavioural test (acts/knowledge.csv) ---------------------------------------- */

/* Rows of one dimension: the first and the last step. */
static void first_last(const tl_table *t, int c_dim, const char *dim, int c_step, int *r0, int *r1) {
    *r0 = *r1 = -1;
    for (int r = 0; r < t->n_rows; r++) {
        if (strcmp(tl_table_cell(t, r, c_dim), dim)) continue;
        double st = tl_table_num(t, r, c_step);
        if (*r0 < 0 || st < tl_table_num(t, *r0, c_step)) *r0 = r;
        if (*r1 < 0 || st >= tl_table_num(t, *r1, c_step)) *r1 = r;
    }
}

static tl_status find_knowledge(const char *out, finding *f) {
    char path[PATH_CAP];
    tl_table t;
    int have;
    tl_status s = stage_table(out, "acts/knowledge.csv", path, &t, f, &have);
    if (s || !have) return s;
    int cd = tl_table_col(&t, "dimension"), cs = tl_table_col(&t, "step"), ca = tl_table_col(&t, "accuracy"),
        cl = tl_table_col(&t, "lo95"), ch = tl_table_col(&t, "hi95"), cn = tl_table_col(&t, "n");
    /* the length-balanced accuracy with its bootstrap over entities, when the stage writes them, is the
       primary figure (docs/analysis.md): raw accuracy rewards a model that prefers shorter statements */
    int cba = tl_table_col(&t, "balanced_accuracy"), cbl = tl_table_col(&t, "boot_lo95"),
        cbh = tl_table_col(&t, "boot_hi95");
    if (cba >= 0 && cbl >= 0 && cbh >= 0) ca = cba, cl = cbl, ch = cbh;
    if (cd < 0 || cs < 0 || ca < 0 || cl < 0 || ch < 0 || cn < 0) {
        tl_table_free(&t);
        return tl_errorf(TL_E_FORMAT, "%s: needs the columns dimension, step, n, accuracy, lo95, hi95", path);
    }
    f->available = 1;
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        funit *u = &f->u[f->n_units++];
        snprintf(u->name, sizeof u->name, "%s", tl_world_dim_names[k]);
        int r0, r1;
        first_last(&t, cd, tl_world_dim_names[k], cs, &r0, &r1);
        u->estimate = tl_table_num(&t, r1, ca), u->lo = tl_table_num(&t, r1, cl), u->hi = tl_table_num(&t, r1, ch),
        u->n = (int)tl_table_num(&t, r1, cn);
        u->ref = tl_table_num(&t, r0, ca), u->ref_lo = tl_table_num(&t, r0, cl), u->ref_hi = tl_table_num(&t, r0, ch);
        u->baseline = 0.5;
        u->effect = u->estimate - u->ref;
        u->p = z_test(u->estimate, u->lo, u->hi, u->ref, u->ref_lo, u->ref_hi);
        u->eligible = r0 >= 0 && r1 >= 0 && r0 != r1 && isfinite(u->p);
        if (!u->eligible)
            snprintf(u->note, sizeof u->note, "fewer than two checkpoints");
        else
            snprintf(u->note, sizeof u->note, "step %s vs step %s", tl_table_cell(&t, r1, cs),
                     tl_table_cell(&t, r0, cs));
    }
    tl_table_free(&t);
    return TL_OK;
}

static int know_ok(const funit *u) { return u->lo > 0.5; }

/* ---- F1: probes (probe/<dim>/probe_selection.csv) ---------------------------------------- */

static tl_status find_probes(const char *out, finding *f, const finding *know) {
    tl_status s = TL_OK;
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char path[PATH_CAP], rel[128];
        snprintf(rel, sizeof rel, "probe/%s/probe_selection.csv", tl_world_dim_names[k]);
        snprintf(path, sizeof path, "%s/%s", out, rel);
        tl_table t;
        int exists;
        if ((s = tl_table_read(path, &t, &exists))) break;
        if (!exists || t.n_rows < 2) {
            tl_table_free(&t);
            missing(f, rel);
            f->n_units = 0;
            return TL_OK;
        }
        /* a cluster interval, when the stage writes one, is preferred to the row-level one */
        int ca = tl_table_col(&t, "test_acc"), cl = tl_table_col(&t, "boot_lo95"), ch = tl_table_col(&t, "boot_hi95");
        if (cl < 0 || ch < 0) cl = tl_table_col(&t, "test_lo95"), ch = tl_table_col(&t, "test_hi95");
        int cn = tl_table_col(&t, "n_test"), cs = tl_table_col(&t, "step");
        if (ca < 0 || cl < 0 || ch < 0 || cn < 0) {
            tl_table_free(&t);
            return tl_errorf(TL_E_FORMAT, "%s: needs the columns test_acc, test_lo95, test_hi95, n_test", path);
        }
        funit *u = &f->u[f->n_units++];
        snprintf(u->name, sizeof u->name, "%s", tl_world_dim_names[k]);
        int r0 = 0, r1 = t.n_rows - 1;
        u->estimate = tl_table_num(&t, r1, ca), u->lo = tl_table_num(&t, r1, cl), u->hi = tl_table_num(&t, r1, ch),
        u->n = (int)tl_table_num(&t, r1, cn);
        u->ref = tl_table_num(&t, r0, ca), u->ref_lo = tl_table_num(&t, r0, cl), u->ref_hi = tl_table_num(&t, r0, ch);
        u->baseline = NAN;
        const char *base_cols[] = {"bow_acc", "shuffled_labels_acc", "majority_acc"};
        for (int b = 0; b < 3; b++) {
            double v = tl_table_num(&t, r1, tl_table_col(&t, base_cols[b]));
            if (isfinite(v) && !(v <= u->baseline)) u->baseline = v;
        }
        u->effect = u->estimate - u->ref;
        u->p = z_test(u->estimate, u->lo, u->hi, u->ref, u->ref_lo, u->ref_hi);
        /* only where the model demonstrably knows the facts can a probe's failure mean anything */
        const funit *ku = know->available && k < know->n_units ? &know->u[k] : NULL;
        u->eligible = ku && ku->pass && isfinite(u->p);
        if (!u->eligible)
            snprintf(u->note, sizeof u->note,
                     "the model does not demonstrably know the facts (K: %.3f [%.3f, %.3f], "
                     "Holm p = %.3g against step 0)",
                     ku ? ku->estimate : NAN, ku ? ku->lo : NAN, ku ? ku->hi : NAN, ku ? ku->p_holm : NAN);
        else
            snprintf(u->note, sizeof u->note,
                     "step %s vs step %s; best baseline (bag of words, shuffled labels, "
                     "majority) %.3f",
                     tl_table_cell(&t, r1, cs), tl_table_cell(&t, r0, cs), u->baseline);
        tl_table_free(&t);
    }
    if (!s && f->n_units == TL_DIM__COUNT) f->available = 1;
    return s;
}

/* a probe passes only above every no-learning baseline too */
static int probe_ok(const funit *u) { return !isfinite(u->baseline) || u->lo > u->baseline; }

/* ---- F2: the information plane (infoplane/<dim>/infoplane_tests.csv) ------------------------- */

static tl_status find_infoplane(const char *out, double alpha, finding *f, int *rows_out, int *raw_out,
                                double *binom_p) {
    double p[TL_DIM__COUNT * 64];
    int dim_of[TL_DIM__COUNT * 64], n = 0, raw = 0, any_file = 0;
    tl_status s = TL_OK;
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char path[PATH_CAP];
        snprintf(path, sizeof path, "%s/infoplane/%s/infoplane_tests.csv", out, tl_world_dim_names[k]);
        tl_table t;
        int exists;
        if ((s = tl_table_read(path, &t, &exists))) break;
        funit *u = &f->u[f->n_units++];
        snprintf(u->name, sizeof u->name, "%s", tl_world_dim_names[k]);
        u->estimate = u->lo = u->hi = u->ref = u->ref_lo = u->ref_hi = u->baseline = u->p = NAN;
        if (!exists) {
            snprintf(u->note, sizeof u->note, "no test (fewer than 3 checkpoints, or the stage did not finish)");
            continue;
        }
        any_file = 1;
        int ce = tl_table_col(&t, "estimator"), chy = tl_table_col(&t, "hypothesis"), cp = tl_table_col(&t, "p");
        if (ce < 0 || chy < 0 || cp < 0) {
            tl_table_free(&t);
            return tl_errorf(TL_E_FORMAT, "%s: needs the columns estimator, hypothesis, p", path);
        }
        int m = 0, pass = 0;
        for (int r = 0; r < t.n_rows && n < (int)(sizeof p / sizeof *p); r++) {
            if (strcmp(tl_table_cell(&t, r, ce), "hsic") || !strstr(tl_table_cell(&t, r, chy), "rises")) continue;
            double pv = tl_table_num(&t, r, cp);
            if (!isfinite(pv)) continue;
            dim_of[n] = k;
            p[n++] = pv;
            m++;
            pass += pv <= alpha;
        }
        raw += pass;
        u->n = m;
        u->estimate = m ? (double)pass / m : NAN;
        if (m) tl_wilson(pass, m, TL_Z95, &u->lo, &u->hi); /* of the share; a model's layers are not independent */
        u->eligible = m > 0;
        snprintf(u->note, sizeof u->note, "%d of %d layers at uncorrected p <= %g", pass, m, alpha);
        tl_table_free(&t);
    }
    if (s) return s;
    if (!any_file) {
        f->n_units = 0;
        missing(f, "infoplane/<dimension>/infoplane_tests.csv");
        return TL_OK;
    }
    f->available = 1;
    /* Holm over every layer's test of every dimension; a dimension passes when one of its layers does */
    double adj[TL_DIM__COUNT * 64];
    if ((s = tl_holm(p, n, adj))) return s;
    for (int k = 0; k < f->n_units; k++) f->u[k].p = f->u[k].p_holm = NAN;
    for (int i = 0; i < n; i++) {
        funit *u = &f->u[dim_of[i]];
        if (!(p[i] >= u->p)) u->p = p[i];
        if (!(adj[i] >= u->p_holm)) u->p_holm = adj[i];
    }
    f->m = f->k = f->a = 0;
    for (int k = 0; k < f->n_units; k++) {
        funit *u = &f->u[k];
        if (!u->eligible) continue;
        u->effect = 1; /* the test is one-sided: only the claimed shape counts */
        u->pass = u->p_holm <= alpha;
        f->m++, f->k += u->pass;
    }
    f->verdict = tl_demo_verdict(f->m, f->k, f->a);
    /* how many layers pass uncorrected against the alpha share expected by chance: P(Binom(n, alpha) >= raw) */
    double tail = 0;
    for (int j = raw; j <= n; j++)
        tail += exp(lgamma(n + 1.0) - lgamma(j + 1.0) - lgamma(n - j + 1.0) + j * log(alpha) + (n - j) * log1p(-alpha));
    *rows_out = n, *raw_out = raw, *binom_p = n ? fmin(1, tail) : NAN;
    return TL_OK;
}

/* ---- F3: steering (trust/steering.csv) --------------------------------------------------------- */

/* The trust tasks of the steering table: the vector that should move each, and the direction
 * of trustworthiness of its first metric (+1: higher is more trustworthy). */
static const struct {
    const char *task, *vector;
    int dir;
} trust_tasks[] = {
    {"world_truth_hop", "reliability", +1}, {"world_truth", "reliability", +1}, /* truth: --tasks */
    {"world_stereotype", "fairness", -1},   {"world_toxicity_pair", "toxicity", -1},
    {"world_privacy", "privacy", -1},       {"world_sentiment", "robustness", +1},
};
#define N_TRUST_TASKS ((int)(sizeof trust_tasks / sizeof *trust_tasks))

static tl_status find_steering(const char *out, double alpha, finding *f, char *extra, size_t extra_cap) {
    char path[PATH_CAP];
    tl_table t;
    int have;
    tl_status s = stage_table(out, "trust/steering.csv", path, &t, f, &have);
    if (s || !have) return s;
    int csrc = tl_table_col(&t, "source"), csc = tl_table_col(&t, "scale"), ctk = tl_table_col(&t, "task"),
        cm = tl_table_col(&t, "metric"), cv = tl_table_col(&t, "value"),
        cd = tl_table_col(&t, "diff_vs_unsteered"), cph = tl_table_col(&t, "p_holm"), cvec = tl_table_col(&t, "vector");
    if (csrc < 0 || csc < 0 || ctk < 0 || cm < 0 || cv < 0 || cd < 0 || cph < 0) {
        tl_table_free(&t);
        return tl_errorf(TL_E_FORMAT,
                         "%s: needs the columns source, scale, task, metric, value, diff_vs_unsteered, p_holm", path);
    }
    /* the halves of the items (trust_steer.c): a cell is chosen on validation and reported on test */
    int cvd = tl_table_col(&t, "val_diff"), ctv = tl_table_col(&t, "test_value"), ctl = tl_table_col(&t, "test_lo95"),
        cth = tl_table_col(&t, "test_hi95"), ctn = tl_table_col(&t, "n_test"), ctd = tl_table_col(&t, "test_diff"),
        ctdl = tl_table_col(&t, "test_diff_lo95"), ctdh = tl_table_col(&t, "test_diff_hi95"),
        ctp = tl_table_col(&t, "test_p");
    /* the random-direction baseline of the same push (docs/steering.md) */
    int crd = tl_table_col(&t, "diff_vs_random"), crh = tl_table_col(&t, "p_vs_random_holm"),
        ctr = tl_table_col(&t, "test_rand_value"), ctrl = tl_table_col(&t, "test_rand_lo95"),
        ctrh = tl_table_col(&t, "test_rand_hi95"), ctrd = tl_table_col(&t, "test_diff_vs_random"),
        ctrdl = tl_table_col(&t, "test_diff_vs_random_lo95"), ctrdh = tl_table_col(&t, "test_diff_vs_random_hi95"),
        ctrp = tl_table_col(&t, "test_p_vs_random");
    if (cvd < 0 || ctv < 0 || ctl < 0 || cth < 0 || ctn < 0 || ctd < 0 || ctdl < 0 || ctdh < 0 || ctp < 0 ||
        crd < 0 || crh < 0 || ctr < 0 || ctrl < 0 || ctrh < 0 || ctrd < 0 || ctrdl < 0 || ctrdh < 0 || ctrp < 0) {
        tl_table_free(&t);
        missing(f, "trust/steering.csv");
        snprintf(f->result, sizeof f->result,
                 "no data: trust/steering.csv has no validation and test columns or no random-direction baseline "
                 "(written by an older tiller: delete the trust directory and run the demo again)");
        return TL_OK;
    }
    f->available = 1;
    int cap_cells = 0, cap_marked = 0;
    for (int r = 0; r < t.n_rows; r++)
        if (!strcmp(tl_table_cell(&t, r, ctk), "world_capability") && tl_table_num(&t, r, csc) != 0 &&
            isfinite(tl_table_num(&t, r, cph)))
            cap_cells++, cap_marked += tl_table_num(&t, r, cph) <= alpha;
    snprintf(extra, extra_cap, "capability moved in %d of %d steered cells (Holm p <= %g)", cap_marked, cap_cells,
             alpha);
    for (int q = 0; q < N_TRUST_TASKS; q++) {
        const char *task = trust_tasks[q].task, *metric = NULL;
        double base = NAN;
        int any = 0, rb = -1;
        for (int r = 0; r < t.n_rows; r++) {
            if (strcmp(tl_table_cell(&t, r, ctk), task)) continue;
            if (!metric) metric = tl_table_cell(&t, r, cm); /* the task's first metric, as the report's table */
            if (!strcmp(tl_table_cell(&t, r, cm), metric) && tl_table_num(&t, r, csc) == 0)
                base = tl_table_num(&t, r, cv), rb = r;
            any = 1;
        }
        if (!any) continue; /* a task this run did not evaluate */
        funit *u = &f->u[f->n_units++];
        snprintf(u->name, sizeof u->name, "%s %s", task, metric);
        /* the unsteered model on the test half, with its own interval */
        u->ref = tl_table_num(&t, rb, ctv);
        u->ref_lo = tl_table_num(&t, rb, ctl), u->ref_hi = tl_table_num(&t, rb, cth);
        u->baseline = NAN;
        u->estimate = u->lo = u->hi = u->p = u->p_holm = NAN;
        u->effect = 0;
        int dir = trust_tasks[q].dir, n_pairs = 0, n_pass = 0, n_against = 0, n_both = 0, rc = -1, rcm = -1;
        int n_random = 0; /* + cells that move vs unsteered, not beyond the random directions of the same norm */
        double best_val = -INFINITY, p_pass = INFINITY, p_against = INFINITY, p_any = INFINITY;
        double e_pass = 0, e_against = 0;
        /* per steered + cell: the - cell of the same source and |scale| */
        for (int r = 0; r < t.n_rows; r++) {
            double sc = tl_table_num(&t, r, csc);
            if (strcmp(tl_table_cell(&t, r, ctk), task) || strcmp(tl_table_cell(&t, r, cm), metric) || !(sc > 0))
                continue;
            if (cvec >= 0 && tl_table_cell(&t, r, cvec)[0] && strcmp(tl_table_cell(&t, r, cvec), trust_tasks[q].vector))
                continue;
            int rm = -1;
            for (int r2 = 0; r2 < t.n_rows && rm < 0; r2++)
                if (!strcmp(tl_table_cell(&t, r2, ctk), task) && !strcmp(tl_table_cell(&t, r2, cm), metric) &&
                    !strcmp(tl_table_cell(&t, r2, csrc), tl_table_cell(&t, r, csrc)) &&
                    tl_table_num(&t, r2, csc) == -sc &&
                    (cvec < 0 || !strcmp(tl_table_cell(&t, r2, cvec), tl_table_cell(&t, r, cvec))))
                    rm = r2;
            double dp = dir * tl_table_num(&t, r, cd), dm = rm >= 0 ? dir * tl_table_num(&t, rm, cd) : NAN;
            double ph = tl_table_num(&t, r, cph);
            int sp = ph <= alpha, sm = rm >= 0 && tl_table_num(&t, rm, cph) <= alpha;
            /* and against the random directions of the same norm (Holm over the cells compared with them):
             * a cell counts only when it also differs from them, the same way */
            double dr = dir * tl_table_num(&t, r, crd), prh = tl_table_num(&t, r, crh);
            int sr = prh <= alpha; /* NaN (no random baseline) never passes */
            n_pairs++;
            int both = sp && sm && ((dp > 0) == (dm > 0)); /* the same move at both signs: a disturbance */
            int up = sp && dp > 0 && !both, down = sp && dp < 0 && !both;
            n_both += both;
            n_pass += up && sr && dr > 0;
            n_against += down && sr && dr < 0;
            n_random += up && !(sr && dr > 0);
            /* the verdict's p (all items; the larger of the two Holm p's, each over its family): of the
             * strongest passing cell, else of the strongest cell against, else the smallest vs unsteered */
            double pv = fmax(ph, isfinite(prh) ? prh : 1);
            if (up && sr && dr > 0 && pv < p_pass) p_pass = pv, e_pass = dp;
            if (down && sr && dr < 0 && pv < p_against) p_against = pv, e_against = dp;
            if (isfinite(ph) && pv < p_any) p_any = pv;
            /* the displayed cell: the largest trustworthy-ward move on the validation half */
            double kv = dir * tl_table_num(&t, r, cvd);
            if (isfinite(kv) && kv > best_val) best_val = kv, rc = r, rcm = rm;
        }
        u->eligible = n_pairs > 0 && base >= 0.15 && base <= 0.85;
        u->pass = u->eligible && n_pass > 0;
        u->against = u->eligible && !u->pass && n_against > 0;
        u->p_holm = n_pass ? p_pass : n_against ? p_against : isfinite(p_any) ? p_any : NAN;
        u->effect = n_pass ? e_pass : n_against ? e_against : 0;
        size_t nl = 0;
        if (rc >= 0) { /* reported on the test half */
            u->estimate = tl_table_num(&t, rc, ctv);
            u->lo = tl_table_num(&t, rc, ctl), u->hi = tl_table_num(&t, rc, cth);
            u->n = (int)tl_table_num(&t, rc, ctn);
            u->has_diff = 1;
            u->diff = tl_table_num(&t, rc, ctd), u->diff_lo = tl_table_num(&t, rc, ctdl);
            u->diff_hi = tl_table_num(&t, rc, ctdh), u->p = tl_table_num(&t, rc, ctp);
            snprintf(u->shown, sizeof u->shown, "%s at +%g", tl_table_cell(&t, rc, csrc), tl_table_num(&t, rc, csc));
            snprintf(u->note, sizeof u->note,
                     "%s at +%g, chosen on the validation half (difference %+.3f there); on the test half the "
                     "difference is %+.3f [%.3f, %.3f]",
                     tl_table_cell(&t, rc, csrc), tl_table_num(&t, rc, csc), dir * best_val, u->diff, u->diff_lo,
                     u->diff_hi);
            nl = strlen(u->note);
            if (rcm >= 0)
                snprintf(u->note + nl, sizeof u->note - nl, " and at -%g %+.3f [%.3f, %.3f]",
                         tl_table_num(&t, rc, csc), tl_table_num(&t, rcm, ctd), tl_table_num(&t, rcm, ctdl),
                         tl_table_num(&t, rcm, ctdh));
            /* beside it, the random directions of the same norm on the same (test) items */
            u->baseline = tl_table_num(&t, rc, ctr);
            u->has_rand = isfinite(u->baseline);
            u->rand_lo = tl_table_num(&t, rc, ctrl), u->rand_hi = tl_table_num(&t, rc, ctrh);
            u->rdiff = tl_table_num(&t, rc, ctrd), u->rdiff_lo = tl_table_num(&t, rc, ctrdl);
            u->rdiff_hi = tl_table_num(&t, rc, ctrdh), u->rp = tl_table_num(&t, rc, ctrp);
            nl = strlen(u->note);
            if (u->has_rand)
                snprintf(u->note + nl, sizeof u->note - nl, "; minus the random directions %+.3f [%.3f, %.3f]",
                         u->rdiff, u->rdiff_lo, u->rdiff_hi);
        }
        snprintf(u->tally, sizeof u->tally,
                 "%sall items, Holm: %d of %d + cells move towards trust beyond the unsteered model and the random "
                 "directions, %d only beyond the unsteered model, %d away, %d at both signs",
                 base >= 0.15 && base <= 0.85 ? "" : "unsteered outside 0.15-0.85; ", n_pass, n_pairs, n_random,
                 n_against, n_both);
        nl = strlen(u->note);
        snprintf(u->note + nl, sizeof u->note - nl, "%s", nl ? "; " : "no + cell; ");
        nl = strlen(u->note);
        memcpy(u->note + nl, u->tally, strnlen(u->tally, sizeof u->note - nl - 1));
        u->note[nl + strnlen(u->tally, sizeof u->note - nl - 1)] = 0;
    }
    tl_table_free(&t);
    f->m = f->k = f->a = 0;
    for (int i = 0; i < f->n_units; i++) {
        funit *u = &f->u[i];
        if (!u->eligible) continue;
        f->m++, f->k += u->pass, f->a += u->against;
    }
    f->verdict = tl_demo_verdict(f->m, f->k, f->a);
    return TL_OK;
}

/* ---- R: the reversal curse (reversal/results.csv) ---------------------------------------------- */

static int find_row2(const tl_table *t, int c1, const char *v1, int c2, const char *v2) {
    for (int r = 0; r < t->n_rows; r++)
        if (!strcmp(tl_table_cell(t, r, c1), v1) && !strcmp(tl_table_cell(t, r, c2), v2)) return r;
    return -1;
}

static tl_status find_reversal(const char *out, finding *f) {
    char path[PATH_CAP];
    tl_table t;
    int have;
    tl_status s = stage_table(out, "reversal/results.csv", path, &t, f, &have);
    if (s || !have) return s;
    enum { O, S, N, PE, CH, CL, CHI, D, DL, DH, P, MDE, EM, EL, EMX, C__N };
    static const char *const names[C__N] = {"objective",       "subtask",          "n_items",          "people",
                                            "choice_mean",     "choice_ci_lo",     "choice_ci_hi",     "choice_vs_ntp",
                                            "choice_vs_ntp_lo", "choice_vs_ntp_hi", "choice_vs_ntp_p", "choice_vs_ntp_mde",
                                            "em_mean",         "em_ci_lo",         "em_ci_hi"};
    int c[C__N];
    for (int i = 0; i < C__N; i++)
        if ((c[i] = tl_table_col(&t, names[i])) < 0) {
            tl_table_free(&t);
            return tl_errorf(TL_E_FORMAT, "%s: no column '%s' (the calibrated choice: a results.csv of this tiller)",
                             path, names[i]);
        }
    f->available = 1;
    static const char *const objs[2] = {"bico", "abi"}, *const subs[2][2] = {{"N2D-reverse", "N2D"},
                                                                             {"D2N-reverse", "D2N"}};
    for (int o = 0; o < 2; o++)
        for (int q = 0; q < 2; q++) {
            funit *u = &f->u[f->n_units++];
            snprintf(u->name, sizeof u->name, "%s %s", objs[o], subs[q][0]);
            int r = find_row2(&t, c[O], objs[o], c[S], subs[q][0]), rn = find_row2(&t, c[O], "ntp", c[S], subs[q][0]),
                rf = find_row2(&t, c[O], "ntp", c[S], subs[q][1]), rb = find_row2(&t, c[O], "base", c[S], subs[q][0]);
            u->estimate = tl_table_num(&t, r, c[CH]), u->lo = tl_table_num(&t, r, c[CL]),
            u->hi = tl_table_num(&t, r, c[CHI]), u->n = (int)tl_table_num(&t, r, c[N]);
            u->ref = tl_table_num(&t, rn, c[CH]), u->ref_lo = tl_table_num(&t, rn, c[CL]),
            u->ref_hi = tl_table_num(&t, rn, c[CHI]);
            u->baseline = tl_table_num(&t, rb, c[CH]); /* the untuned model */
            u->effect = tl_table_num(&t, r, c[D]);
            u->has_diff = isfinite(u->effect);
            u->diff = u->effect, u->diff_lo = tl_table_num(&t, r, c[DL]), u->diff_hi = tl_table_num(&t, r, c[DH]);
            u->p = tl_table_num(&t, r, c[P]);
            /* the premise: NTP learnt the facts in the trained direction, else nothing is reversed */
            double fwd_lo = tl_table_num(&t, rf, c[EL]);
            u->eligible = r >= 0 && fwd_lo > 0 && isfinite(u->p);
            snprintf(u->note, sizeof u->note,
                     "%d people; exact match %.2f [%.2f, %.2f] vs NTP %.2f; detectable difference (80 %% power) %.3f; "
                     "NTP's trained direction (%s) exact match lower bound %.3f%s",
                     (int)tl_table_num(&t, r, c[PE]), tl_table_num(&t, r, c[EM]), tl_table_num(&t, r, c[EL]),
                     tl_table_num(&t, r, c[EMX]), tl_table_num(&t, rn, c[EM]), tl_table_num(&t, r, c[MDE]), subs[q][1],
                     fwd_lo, fwd_lo > 0 ? "" : ": NTP did not learn the facts");
        }
    tl_table_free(&t);
    return TL_OK;
}

/* ---- RC: RE-Control (recontrol/results.csv) ------------------------------------------------------- */

static tl_status find_recontrol(const char *out, finding *f) {
    char path[PATH_CAP];
    tl_table t;
    int have;
    tl_status s = stage_table(out, "recontrol/results.csv", path, &t, f, &have);
    if (s || !have) return s;
    int cm = tl_table_col(&t, "method"), cn = tl_table_col(&t, "n"), cr = tl_table_col(&t, "reward"),
        cc = tl_table_col(&t, "reward_ci95"), cp = tl_table_col(&t, "p_reward_vs_recontrol");
    if (cm < 0 || cn < 0 || cr < 0 || cc < 0 || cp < 0) {
        tl_table_free(&t);
        return tl_errorf(TL_E_FORMAT, "%s: needs the columns method, n, reward, reward_ci95, p_reward_vs_recontrol",
                         path);
    }
    /* the judge: a learnt reward must rank held-out preference pairs above chance (Wilson lower
     * bound > 0.5, recontrol/design.json) and pass its gaming check (the lower bound of the share
     * of held-out fluent replies it prefers over their degenerate variants above the stated
     * level) for its comparison to count; a design.json without the check is a judge unchecked */
    double judge_lo = NAN, gaming_lo = NAN, gaming_level = NAN;
    int have_design = 0;
    char dpath[PATH_CAP];
    snprintf(dpath, sizeof dpath, "%s/recontrol/design.json", out);
    if (tl_path_exists(dpath)) {
        cJSON *j = NULL;
        if ((s = tl_file_read_json(dpath, &j))) {
            tl_table_free(&t);
            return s;
        }
        const cJSON *lo = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "reward_model"),
                                                           "heldout_accuracy_lo");
        judge_lo = cJSON_IsNumber(lo) ? lo->valuedouble : NAN;
        const cJSON *gc = cJSON_GetObjectItemCaseSensitive(
            cJSON_GetObjectItemCaseSensitive(j, "reward_model"), "gaming_check");
        const cJSON *glo = cJSON_GetObjectItemCaseSensitive(gc, "share_lo"),
                    *glv = cJSON_GetObjectItemCaseSensitive(gc, "level");
        gaming_lo = cJSON_IsNumber(glo) ? glo->valuedouble : NAN;
        gaming_level = cJSON_IsNumber(glv) ? glv->valuedouble : NAN;
        have_design = 1;
        cJSON_Delete(j);
    }
    int judge_ok = isnan(judge_lo) || judge_lo > 0.5;
    /* no design.json: a stage from before the learnt judge (its own word rule); otherwise required */
    int gaming_ok = !have_design || (isfinite(gaming_lo) && isfinite(gaming_level) && gaming_lo > gaming_level);
    int rc = -1;
    for (int r = 0; r < t.n_rows; r++)
        if (!strcmp(tl_table_cell(&t, r, cm), "recontrol")) rc = r;
    f->available = rc >= 0;
    if (rc < 0) missing(f, "recontrol/results.csv's recontrol row");
    for (int r = 0; r < t.n_rows && rc >= 0 && f->n_units < MAX_UNITS; r++) {
        if (r == rc || strstr(tl_table_cell(&t, r, cm), "recontrol")) continue; /* the baselines only */
        funit *u = &f->u[f->n_units++];
        snprintf(u->name, sizeof u->name, "vs %s", tl_table_cell(&t, r, cm));
        double e = tl_table_num(&t, rc, cr), ec = tl_table_num(&t, rc, cc), b = tl_table_num(&t, r, cr),
               bc = tl_table_num(&t, r, cc);
        u->estimate = e, u->lo = e - ec, u->hi = e + ec, u->n = (int)tl_table_num(&t, rc, cn);
        u->ref = b, u->ref_lo = b - bc, u->ref_hi = b + bc, u->baseline = NAN;
        u->effect = e - b;
        u->p = tl_table_num(&t, r, cp);
        /* a reward constant over every prompt for both methods (e.g. 0 everywhere) can show no difference */
        u->eligible = isfinite(u->p) && isfinite(u->effect) && (ec > 0 || bc > 0) && judge_ok && gaming_ok;
        snprintf(u->note, sizeof u->note, "paired sign-flip test of the per-prompt reward%s%s%s",
                 ec > 0 || bc > 0 ? "" : "; the reward is constant for both methods (a floor or ceiling)",
                 judge_ok ? "" : "; the reward model is not above chance on held-out pairs",
                 gaming_ok ? ""
                 : isfinite(gaming_lo)
                     ? "; the reward model fails its gaming check (prefers degenerate variants of fluent replies)"
                     : "; the reward model has no gaming check (a stage from an older tiller: redo it)");
    }
    tl_table_free(&t);
    return TL_OK;
}

/* ---- SA: SELF-ALIGN (selfalign/tests.csv, results.json) -------------------------------------------- */

static const cJSON *sa_stat(const cJSON *arr, const char *model, const char *key) {
    const cJSON *m;
    cJSON_ArrayForEach(m, arr) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "model"));
        if (name && !strcmp(name, model)) return cJSON_GetObjectItemCaseSensitive(m, key);
    }
    return NULL;
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static tl_status find_selfalign(const char *out, finding *f) {
    char path[PATH_CAP], jpath[PATH_CAP];
    snprintf(path, sizeof path, "%s/selfalign/tests.csv", out);
    snprintf(jpath, sizeof jpath, "%s/selfalign/results.json", out);
    tl_table t;
    int exists;
    tl_status s = tl_table_read(path, &t, &exists);
    if (s) return s;
    if (!exists || !tl_path_exists(jpath)) {
        tl_table_free(&t);
        missing(f, "selfalign/tests.csv");
        return TL_OK;
    }
    cJSON *j = NULL;
    if ((s = tl_file_read_json(jpath, &j))) {
        tl_table_free(&t);
        return s;
    }
    int cme = tl_table_col(&t, "measure"), ca = tl_table_col(&t, "row_a"), cb = tl_table_col(&t, "row_b"),
        cao = tl_table_col(&t, "a_only"), cbo = tl_table_col(&t, "b_only"), cp = tl_table_col(&t, "p_value");
    if (cme < 0 || ca < 0 || cb < 0 || cao < 0 || cbo < 0 || cp < 0) {
        tl_table_free(&t);
        cJSON_Delete(j);
        return tl_errorf(TL_E_FORMAT, "%s: needs the columns measure, row_a, row_b, a_only, b_only, p_value", path);
    }
    f->available = 1;
    funit *u = &f->u[f->n_units++];
    snprintf(u->name, sizeof u->name, "red-team answers within the principles");
    int r = -1;
    for (int i = 0; i < t.n_rows; i++)
        if (!strcmp(tl_table_cell(&t, i, cme), "redteam_within") && !strcmp(tl_table_cell(&t, i, ca), "base") &&
            !strcmp(tl_table_cell(&t, i, cb), "engraved"))
            r = i;
    const cJSON *e = sa_stat(j, "engraved", "redteam_within"), *b = sa_stat(j, "base", "redteam_within");
    u->estimate = jnum(e, "value"), u->lo = jnum(e, "lo"), u->hi = jnum(e, "hi"), u->n = (int)jnum(e, "n");
    u->ref = jnum(b, "value"), u->ref_lo = jnum(b, "lo"), u->ref_hi = jnum(b, "hi"), u->baseline = NAN;
    u->effect = tl_table_num(&t, r, cbo) -
                tl_table_num(&t, r, cao); /* discordant pairs: engraved right, base wrong, minus the reverse */
    u->p = tl_table_num(&t, r, cp);
    u->eligible = r >= 0 && isfinite(u->p);
    snprintf(u->note, sizeof u->note,
             "McNemar's exact test: %s items right only for the engraved model, %s only for "
             "base",
             tl_table_cell(&t, r, cbo), tl_table_cell(&t, r, cao));
    tl_table_free(&t);
    cJSON_Delete(j);
    return TL_OK;
}

/* ---- sentences ------------------------------------------------------------------------------ */

static void fmt_p(char *b, size_t cap, double p) {
    if (!isfinite(p))
        snprintf(b, cap, "-");
    else if (p < 1e-4)
        snprintf(b, cap, "%.1e", p);
    else
        snprintf(b, cap, "%.3g", p);
}

static void unit_list(const finding *f, int two_ends, const char *ref, char *out) {
    for (int i = 0; i < f->n_units; i++) {
        const funit *u = &f->u[i];
        char p[32];
        fmt_p(p, sizeof p, u->p_holm);
        if (two_ends)
            append(out, "%s%s %.2f [%.2f, %.2f] (n = %d) vs %.2f [%.2f, %.2f] %s (Holm p = %s)%s", i ? "; " : "",
                   u->name, u->estimate, u->lo, u->hi, u->n, u->ref, u->ref_lo, u->ref_hi, ref, p,
                   u->eligible ? "" : " (not eligible)");
        else
            append(out, "%s%s", i ? "; " : "", u->name);
    }
}

static void sentences(tl_demo_findings *F, int ip_rows, int ip_raw, double ip_binom, const char *cap_text) {
    double al = F->alpha;
    finding *f = &F->f[F_K];
    if (f->available) {
        append(f->result, "Behavioural accuracy on the test pairs at the final checkpoint: ");
        unit_list(f, 1, "at the first checkpoint", f->result);
        append(f->result,
               ". At the final checkpoint %d of %d dimensions are known above step 0 with a lower bound above "
               "0.5 -> %s.",
               f->k, f->m, f->verdict);
    }
    f = &F->f[F_1];
    if (f->available) {
        append(f->result, "Probe test accuracy at the final checkpoint (layer chosen on validation): ");
        unit_list(f, 1, "at the first checkpoint", f->result);
        append(f->result,
               ". %d of %d dimensions the model knows lie above step 0 and above their best no-learning "
               "baseline at the final checkpoint; %d below step 0 -> %s.",
               f->k, f->m, f->a, f->verdict);
    }
    f = &F->f[F_2];
    if (f->available) {
        for (int i = 0; i < f->n_units; i++) {
            char p[32];
            fmt_p(p, sizeof p, f->u[i].p_holm);
            append(f->result, "%s%s %s (smallest Holm p = %s)", i ? "; " : "", f->u[i].name, f->u[i].note, p);
        }
        char bp[32];
        fmt_p(bp, sizeof bp, ip_binom);
        append(f->result,
               ". Over all %d layer series %d pass at uncorrected p <= %g, %.1f expected by chance "
               "(binomial p = %s); after Holm, %d of %d dimensions have a layer that rises then falls -> %s.",
               ip_rows, ip_raw, al, al * ip_rows, bp, f->k, f->m, f->verdict);
    }
    f = &F->f[F_3];
    if (f->available) {
        for (int i = 0; i < f->n_units; i++) {
            const funit *u = &f->u[i];
            char p[32];
            fmt_p(p, sizeof p, u->p_holm);
            char pt[32];
            fmt_p(pt, sizeof pt, u->p);
            char rt[160] = "no random-direction baseline";
            char rpt[32];
            fmt_p(rpt, sizeof rpt, u->rp);
            if (u->has_rand)
                snprintf(rt, sizeof rt, "%.3f [%.3f, %.3f] with random directions of the same norm, difference %+.3f "
                         "[%.3f, %.3f] (paired p = %s)", u->baseline, u->rand_lo, u->rand_hi, u->rdiff, u->rdiff_lo,
                         u->rdiff_hi, rpt);
            if (u->has_diff)
                append(f->result,
                       "%s%s, test half (n = %d): %.3f [%.3f, %.3f] with %s (chosen on the validation half) vs "
                       "%.3f [%.3f, %.3f] unsteered, difference %+.3f [%.3f, %.3f] (paired p = %s), vs %s; %s "
                       "(Holm p = %s)",
                       i ? "; " : "", u->name, u->n, u->estimate, u->lo, u->hi, u->shown, u->ref, u->ref_lo,
                       u->ref_hi, u->diff, u->diff_lo, u->diff_hi, pt, rt, u->tally, p);
            else append(f->result, "%s%s: no steered cell (%s)", i ? "; " : "", u->name, u->tally);
        }
        append(f->result,
               ". %s. %d of %d eligible tasks move towards trust under their own vector beyond both the unsteered "
               "model and random directions of the same norm, and not at both signs; %d away -> %s.",
               cap_text, f->k, f->m, f->a, f->verdict);
    }
    f = &F->f[F_R];
    if (f->available) {
        append(f->result, "Calibrated two-way choice on the reversed questions (chance 0.5): ");
        for (int i = 0; i < f->n_units; i++) {
            const funit *u = &f->u[i];
            char p[32], ph[32];
            fmt_p(p, sizeof p, u->p);
            fmt_p(ph, sizeof ph, u->p_holm);
            append(f->result,
                   "%s%s %.2f [%.2f, %.2f] (n = %d) vs NTP %.2f [%.2f, %.2f] and base %.2f, difference %+.2f "
                   "[%+.2f, %+.2f] (sign-flip p = %s, Holm p = %s; %s)%s",
                   i ? "; " : "", u->name, u->estimate, u->lo, u->hi, u->n, u->ref, u->ref_lo, u->ref_hi, u->baseline,
                   u->diff, u->diff_lo, u->diff_hi, p, ph, u->note, u->eligible ? "" : " (not eligible)");
        }
        append(f->result,
               ". %d of %d comparisons where NTP learnt the trained direction lie above NTP, %d below -> %s "
               "(the association; answers are what exact match measures, beside each unit).",
               f->k, f->m, f->a, f->verdict);
    }
    f = &F->f[F_RC];
    if (f->available) {
        append(f->result, "Average reward of RE-Control: ");
        unit_list(f, 1, "for the baseline", f->result);
        append(f->result, ". RE-Control is above %d of %d baselines, below %d -> %s.", f->k, f->m, f->a, f->verdict);
    }
    f = &F->f[F_SA];
    if (f->available) {
        unit_list(f, 1, "for base", f->result);
        append(f->result, " -> %s.", f->verdict);
    }
}

tl_status tl_demo_findings_compute(const char *out_dir, double alpha, tl_demo_findings **out) {
    *out = NULL;
    tl_demo_findings *F = tl_calloc(1, sizeof *F);
    if (!F) return tl_errorf(TL_E_NOMEM, "findings: out of memory");
    F->alpha = alpha;
    finding *f = F->f;
    f[F_K] = (finding){.id = "K",
                       .section = "acts",
                       .title = "The model knows the facts behind each probe set",
                       .claim = "(a precondition, issue 13 point 2) the final checkpoint prefers the true member of "
                                "the world's test minimal pairs (>= 0.80), a random-init model does not (about 0.5)",
                       .test = "two-sided z test of final vs step-0 length-balanced behavioural accuracy from their "
                               "95 % intervals (bootstrap over entities, acts/knowledge.csv), Holm over the 5 "
                               "dimensions; a unit passes when it rejects, rises and its "
                               "lower bound exceeds 0.5"};
    f[F_1] = (finding){.id = "F1",
                       .section = "probe",
                       .title = "Probes decode the trust dimensions during pre-training",
                       .claim = "linear probes on the residual stream separate trustworthy from untrustworthy "
                                "statements, and do so early in pre-training (Qian et al. 2024)",
                       .test = "two-sided z test of final vs step-0 (random-init) probe test accuracy from the 95 % "
                               "intervals in probe_selection.csv, Holm over the dimensions the model knows (K lower "
                               "bound > 0.5); a unit passes when it rejects, rises and its lower bound exceeds the "
                               "bag-of-words, shuffled-label and majority baselines"};
    f[F_2] = (finding){.id = "F2",
                       .section = "infoplane",
                       .title = "I(X;T) rises then falls (fitting, then compression)",
                       .claim = "mutual information between input and representation first rises then falls over "
                                "pre-training (Qian et al. 2024, after Shwartz-Ziv & Tishby)",
                       .test = "permutation test over checkpoint order of the shuffle-corrected HSIC I(X;T) per "
                               "layer (infoplane_tests.csv), Holm over every layer of every dimension; a dimension "
                               "passes when one of its layers rejects; a unit's estimate is the share of its layers "
                               "at uncorrected p <= alpha, with a Wilson interval (approximate: a model's layers are "
                               "not independent)"};
    f[F_R] = (finding){.id = "R",
                       .section = "reversal",
                       .title = "BICO and ABI lift the reversal curse",
                       .claim = "a model fine-tuned with next-token prediction cannot answer the reverse of the facts "
                                "it learnt; bidirectional (BICO) and autoregressive-blank-infilling (ABI) objectives "
                                "answer them (Lv et al. 2023); tested here as the reversed association (the paper's "
                                "exact match is 0 for every objective at this size)",
                       .test = "paired sign-flip test over people of the calibrated two-way choice (chance 0.5; "
                               "choice_vs_ntp_p in reversal/results.csv) against NTP on the same reversed items, "
                               "Holm over BICO and ABI x the two reversed subtasks; eligible where NTP's exact match "
                               "in the trained direction has a lower bound above 0; exact match, the paper's "
                               "measure, is reported beside it"};
    f[F_RC] = (finding){.id = "RC",
                        .section = "recontrol",
                        .title = "RE-Control raises the reward over the baselines",
                        .claim = "editing the representation at test time by a value function's gradient gives a "
                                 "higher reward than the decoding baselines (Kong et al. 2024)",
                        .test = "paired sign-flip test of the per-prompt reward of each baseline against RE-Control "
                                "(p_reward_vs_recontrol in recontrol/results.csv), Holm over the baselines; counted "
                                "only when the reward model is above chance on held-out pairs and passes its gaming "
                                "check (recontrol/design.json)"};
    f[F_SA] = (finding){.id = "SA",
                        .section = "selfalign",
                        .title = "SELF-ALIGN engraves the principles",
                        .claim = "after principle engraving the model answers red-team prompts within the principles "
                                 "without them in the prompt, more often than the base model (Sun et al. 2023)",
                        .test = "McNemar's exact test of engraved vs base on the same red-team prompts "
                                "(selfalign/tests.csv)"};
    f[F_3] = (finding){.id = "F3",
                       .section = "trust",
                       .title = "Steering vectors make the chat model more trustworthy",
                       .claim = "adding a dimension's steering vector (from pre-training checkpoints or the chat "
                                "model) moves the chat model towards trustworthiness on that dimension (Qian et al. "
                                "2024)",
                       .test = "verdict: paired test of every steered cell against the unsteered model on the "
                               "same items (exact sign test, McNemar's for 0/1 metrics; steering.csv), Holm over all "
                               "steered cells, and against each of 3 random directions of the same norm added the "
                               "same way (the same test per direction, p = the largest when all differ the same way, "
                               "else 1: an intersection-union test; Holm over those cells); a task passes when a + "
                               "cell moves "
                               "towards trust beyond both the unsteered model and the random directions and the - "
                               "cell of the same source and scale does not move the same way (away: the mirror "
                               "image); eligible when the unsteered score "
                               "lies in 0.15-0.85. Shown per task: the + cell of its own vector with the largest "
                               "trustworthy-ward difference on a validation half of the items (stratified on the "
                               "unsteered score), reported on the other, test half: each score with its own 95 % "
                               "interval (Wilson for 0/1 scores, else a bootstrap over items), the paired difference with its 95 % interval and its p (the p column); "
                               "the baseline column is the random directions' mean score on the same items; the Holm p "
                               "column is the verdict's (the larger of the two Holm p's of its cell)"};
    int ip_rows = 0, ip_raw = 0;
    double ip_binom = NAN;
    char cap_text[256] = "";
    tl_status s = find_knowledge(out_dir, &f[F_K]);
    if (!s && f[F_K].available) s = settle(&f[F_K], alpha, know_ok);
    if (!s) s = find_probes(out_dir, &f[F_1], &f[F_K]);
    if (!s && f[F_1].available) s = settle(&f[F_1], alpha, probe_ok);
    if (!s) s = find_infoplane(out_dir, alpha, &f[F_2], &ip_rows, &ip_raw, &ip_binom);
    if (!s) s = find_steering(out_dir, alpha, &f[F_3], cap_text, sizeof cap_text);
    if (!s) s = find_reversal(out_dir, &f[F_R]);
    if (!s && f[F_R].available) s = settle(&f[F_R], alpha, NULL);
    if (!s) s = find_recontrol(out_dir, &f[F_RC]);
    if (!s && f[F_RC].available) s = settle(&f[F_RC], alpha, NULL);
    if (!s) s = find_selfalign(out_dir, &f[F_SA]);
    if (!s && f[F_SA].available) s = settle(&f[F_SA], alpha, NULL);
    if (s) {
        tl_free(F);
        return tl_error_prefix(s, "findings");
    }
    sentences(F, ip_rows, ip_raw, ip_binom, cap_text);
    *out = F;
    return TL_OK;
}

void tl_demo_findings_free(tl_demo_findings *f) { tl_free(f); }

/* ---- outputs ------------------------------------------------------------------------------------ */

void tl_demo_findings_intro(const tl_demo_findings *F, tl_html *h) {
    tl_html_heading(h, "Findings, computed from this run (findings.md, findings.json)");
    tl_html_table_begin(h, (const char *[]){"", "the study's claim", "tiller's result", "test", "verdict"}, 5);
    for (int i = 0; i < F__COUNT; i++) {
        const finding *f = &F->f[i];
        char verdict[96];
        snprintf(verdict, sizeof verdict, "%s (%d of %d units pass, %d against)", f->verdict, f->k, f->m, f->a);
        const char *cells[5] = {f->id, f->claim, f->result, f->test, verdict};
        tl_html_table_row(h, cells, 5);
    }
    tl_html_table_end(h);
    tl_html_para(h, "note",
                 "Verdicts by the rule of docs/analysis.md (\"Verdicts of the findings\"), alpha = %g: cannot tell "
                 "when no unit is eligible (the experiment could not detect the effect there), supported when most "
                 "eligible units pass and none goes against, null when none passes and none goes against, not "
                 "supported otherwise.",
                 F->alpha);
}

void tl_demo_findings_lead(const tl_demo_findings *F, const char *stage, tl_html *h) {
    for (int i = 0; i < F__COUNT; i++) {
        const finding *f = &F->f[i];
        if (strcmp(f->section, stage)) continue;
        tl_html_para(h, "finding", "Finding %s (%s): %s Test: %s. Verdict: %s.", f->id, f->title, f->result, f->test,
                     f->verdict);
    }
}

static cJSON *num_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static tl_status write_json(const tl_demo_findings *F, const char *path) {
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (!j || !arr) {
        cJSON_Delete(j);
        cJSON_Delete(arr);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    cJSON_AddStringToObject(j, "format", "tiller-findings");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddNumberToObject(j, "alpha", F->alpha);
    cJSON_AddStringToObject(j, "verdict_rule",
                            "m = eligible units, k = passing, a = against: m == 0 -> cannot tell; a == 0 and 2k > m "
                            "-> supported; a == 0 and k == 0 -> null; else not supported (docs/analysis.md)");
    cJSON_AddItemToObject(j, "findings", arr);
    for (int i = 0; i < F__COUNT; i++) {
        const finding *f = &F->f[i];
        cJSON *o = cJSON_CreateObject(), *us = cJSON_CreateArray();
        if (!o || !us || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(us);
            break;
        }
        cJSON_AddStringToObject(o, "id", f->id);
        cJSON_AddStringToObject(o, "title", f->title);
        cJSON_AddStringToObject(o, "paper_claim", f->claim);
        cJSON_AddStringToObject(o, "result", f->result);
        cJSON_AddStringToObject(o, "test", f->test);
        cJSON_AddBoolToObject(o, "available", f->available);
        cJSON_AddNumberToObject(o, "eligible", f->m);
        cJSON_AddNumberToObject(o, "pass", f->k);
        cJSON_AddNumberToObject(o, "against", f->a);
        cJSON_AddStringToObject(o, "verdict", f->verdict);
        cJSON_AddItemToObject(o, "units", us);
        for (int k = 0; k < f->n_units; k++) {
            const funit *u = &f->u[k];
            cJSON *x = cJSON_CreateObject();
            if (!x || !cJSON_AddItemToArray(us, x)) {
                cJSON_Delete(x);
                break;
            }
            cJSON_AddStringToObject(x, "unit", u->name);
            cJSON_AddBoolToObject(x, "eligible", u->eligible);
            cJSON_AddItemToObject(x, "estimate", num_or_null(u->estimate));
            cJSON_AddItemToObject(x, "lo95", num_or_null(u->lo));
            cJSON_AddItemToObject(x, "hi95", num_or_null(u->hi));
            cJSON_AddNumberToObject(x, "n", u->n);
            cJSON_AddItemToObject(x, "reference", num_or_null(u->ref));
            cJSON_AddItemToObject(x, "reference_lo95", num_or_null(u->ref_lo));
            cJSON_AddItemToObject(x, "reference_hi95", num_or_null(u->ref_hi));
            cJSON_AddItemToObject(x, "baseline", num_or_null(u->baseline));
            cJSON_AddItemToObject(x, "effect", num_or_null(u->effect));
            cJSON_AddItemToObject(x, "p", num_or_null(u->p));
            cJSON_AddItemToObject(x, "p_holm", num_or_null(u->p_holm));
            if (u->has_diff) {
                cJSON_AddItemToObject(x, "difference", num_or_null(u->diff));
                cJSON_AddItemToObject(x, "difference_lo95", num_or_null(u->diff_lo));
                cJSON_AddItemToObject(x, "difference_hi95", num_or_null(u->diff_hi));
                cJSON_AddStringToObject(x, "shown", u->shown);
            }
            if (u->has_rand) { /* F3: the random directions of the same norm (the value is "baseline") */
                cJSON_AddItemToObject(x, "baseline_lo95", num_or_null(u->rand_lo));
                cJSON_AddItemToObject(x, "baseline_hi95", num_or_null(u->rand_hi));
                cJSON_AddItemToObject(x, "difference_vs_baseline", num_or_null(u->rdiff));
                cJSON_AddItemToObject(x, "difference_vs_baseline_lo95", num_or_null(u->rdiff_lo));
                cJSON_AddItemToObject(x, "difference_vs_baseline_hi95", num_or_null(u->rdiff_hi));
                cJSON_AddItemToObject(x, "p_vs_baseline", num_or_null(u->rp));
            }
            cJSON_AddBoolToObject(x, "pass", u->pass);
            cJSON_AddBoolToObject(x, "against", u->against);
            cJSON_AddStringToObject(x, "note", u->note);
        }
    }
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    tl_strbuf b = {0};
    tl_strbuf_puts(&b, text);
    tl_strbuf_puts(&b, "\n");
    cJSON_free(text);
    tl_status s = tl_strbuf_status(&b);
    if (!s) s = tl_file_write_atomic(path, b.s, b.len);
    tl_strbuf_free(&b);
    return s;
}

static void fmt_x(char b[16], double v) {
    if (isfinite(v))
        snprintf(b, 16, "%.3f", v);
    else
        snprintf(b, 16, "-");
}

/* A markdown table cell: | and newlines would break the row. */
static void md_cell(tl_strbuf *b, const char *s) {
    for (; *s; s++) tl_strbuf_puts(b, *s == '|' ? "\\|" : *s == '\n' ? " " : (char[]){*s, 0});
}

static tl_status write_md(const tl_demo_findings *F, const char *path) {
    tl_strbuf b = {0};
    tl_strbuf_printf(&b,
                     "# Findings of this demo run\n\nComputed by `tiller demo` from the stages' files; verdicts by "
                     "the rule of docs/analysis.md (\"Verdicts of the findings\"), alpha = %g.\n\n"
                     "| | paper's claim | tiller's result | test | verdict |\n|---|---|---|---|---|\n",
                     F->alpha);
    for (int i = 0; i < F__COUNT; i++) {
        const finding *f = &F->f[i];
        tl_strbuf_printf(&b, "| %s | ", f->id);
        md_cell(&b, f->claim);
        tl_strbuf_puts(&b, " | ");
        md_cell(&b, f->result);
        tl_strbuf_puts(&b, " | ");
        md_cell(&b, f->test);
        tl_strbuf_printf(&b, " | **%s** (%d of %d pass, %d against) |\n", f->verdict, f->k, f->m, f->a);
    }
    for (int i = 0; i < F__COUNT; i++) {
        const finding *f = &F->f[i];
        tl_strbuf_printf(&b, "\n## %s: %s\n\n", f->id, f->title);
        if (!f->available) {
            tl_strbuf_printf(&b, "%s\n", f->result);
            continue;
        }
        tl_strbuf_puts(&b, "| unit | eligible | estimate [95 %] | n | compared with | baseline | p | Holm p | pass | "
                           "against | note |\n|---|---|---|---:|---|---:|---:|---:|---|---|---|\n");
        for (int k = 0; k < f->n_units; k++) {
            const funit *u = &f->u[k];
            char p[32], ph[32];
            fmt_p(p, sizeof p, u->p);
            fmt_p(ph, sizeof ph, u->p_holm);
            char e[3][16], r[3][16], bl[16];
            fmt_x(e[0], u->estimate), fmt_x(e[1], u->lo), fmt_x(e[2], u->hi);
            fmt_x(r[0], u->ref), fmt_x(r[1], u->ref_lo), fmt_x(r[2], u->ref_hi), fmt_x(bl, u->baseline);
            tl_strbuf_printf(&b, "| %s | %s | %s [%s, %s] | %d | %s [%s, %s] | %s | %s | %s | %s | %s | ", u->name,
                             u->eligible ? "yes" : "no", e[0], e[1], e[2], u->n, r[0], r[1], r[2], bl, p, ph,
                             u->pass ? "yes" : "no", u->against ? "yes" : "no");
            md_cell(&b, u->note);
            tl_strbuf_puts(&b, " |\n");
        }
    }
    tl_status s = tl_strbuf_status(&b);
    if (!s) s = tl_file_write_atomic(path, b.s, b.len);
    tl_strbuf_free(&b);
    return s;
}

tl_status tl_demo_findings_write(const tl_demo_findings *F, const char *out_dir) {
    char path[PATH_CAP];
    tl_status s = tl_demo_fmt(path, sizeof path, "%s/findings.json", out_dir);
    if (!s) s = write_json(F, path);
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/findings.md", out_dir);
    if (!s) s = write_md(F, path);
    return s;
}
