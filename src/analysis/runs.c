/* runs.c: probes and the information plane over a series of activation
 * directories, and their outputs (CSV, JSON, SVG charts).
 *
 * Probes run one hook point per thread: each point's checkpoints are fitted in
 * step order, each warm-started from the previous checkpoint's weights of the
 * same point, so the work splits over points without any result depending on
 * the thread count. The information plane loads each checkpoint's X once and
 * splits its points over threads (each HSIC point needs its own m x m matrix). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "tiller/bootstrap.h"
#include "tiller/dist.h"
#include "infoplane_boot.h"
#include "linalg.h"
#include "stats.h"
#include "report/report.h"

#define PATH_CAP 4096

/* ---- shared plumbing ------------------------------------------------------------ */

static tl_status out_dir_make(const char *dir) {
    if (tl_path_is_dir(dir)) return TL_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tl_errorf(TL_E_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    return TL_OK;
}

static int out_path(char *buf, const char *dir, const char *name) {
    return snprintf(buf, PATH_CAP, "%s/%s", dir, name) < PATH_CAP;
}

static tl_status save_text(const char *dir, const char *name, const tl_strbuf *b) {
    char path[PATH_CAP];
    if (!out_path(path, dir, name)) return tl_errorf(TL_E_ARG, "%s: path too long", dir);
    tl_status s = tl_strbuf_status(b);
    return s ? tl_error_prefix(s, "%s", path) : tl_file_write_atomic(path, b->s ? b->s : "", b->len);
}

static tl_status save_json(const char *dir, const char *name, const cJSON *j) {
    char path[PATH_CAP];
    if (!out_path(path, dir, name)) return tl_errorf(TL_E_ARG, "%s: path too long", dir);
    char *text = j ? cJSON_Print(j) : NULL;
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* overwrites cJSON's NUL: n + 1 bytes are ours */
    tl_status s = tl_file_write_atomic(path, text, n + 1);
    cJSON_free(text);
    return s;
}

/* Load point p of checkpoint a, standardised over all rows: Z [n, d] (tl_malloc'ed). */
static tl_status load_standardized(const tl_acts_meta *a, int p, double **Z) {
    *Z = NULL;
    tl_npy *x;
    tl_status s = tl_acts_load_point(a, p, &x);
    if (s) return s;
    size_t n = (size_t)a->n * a->width[p];
    for (size_t i = 0; i < n; i++)
        if (!isfinite(((float *)x->data)[i])) {
            s = tl_errorf(TL_E_NUMERIC, "%s/%s.npy: non-finite activation at row %zu", a->dir, a->points[p],
                          i / a->width[p]);
            tl_npy_free(x);
            return s;
        }
    *Z = tl_malloc(n * sizeof **Z);
    if (!*Z) s = tl_errorf(TL_E_NOMEM, "%s: out of memory for %s", a->dir, a->points[p]);
    else tl_standardize(x->data, a->n, a->width[p], *Z);
    tl_npy_free(x);
    return s;
}

/* A failure inside a parallel loop: the first status and its (thread-local) message. */
typedef struct {
    tl_status s;
    char msg[1024];
} first_error;

static void keep_error(first_error *e, tl_status s) {
#pragma omp critical(tl_runs_error)
    if (e->s == TL_OK) {
        e->s = s;
        snprintf(e->msg, sizeof e->msg, "%s", tl_last_error());
    }
}

static void report_progress(tl_progress_fn fn, void *user, int64_t *done, int64_t total) {
#pragma omp critical(tl_runs_progress)
    {
        ++*done;
        if (fn) fn(user, *done, total);
    }
}

/* x positions of checkpoints: their steps when every step is known and they
 * increase, else 0, 1, 2, ...; log1p when the steps span two decades or more. */
static tl_axis_scale ckpt_x(const tl_acts_series *s, double *x) {
    int known = 1;
    for (int c = 0; c < s->n; c++)
        if (s->items[c]->step < 0 || (c && s->items[c]->step <= s->items[c - 1]->step)) known = 0;
    double lo_pos = INFINITY;
    for (int c = 0; c < s->n; c++) {
        x[c] = known ? (double)s->items[c]->step : c;
        if (x[c] > 0) lo_pos = fmin(lo_pos, x[c]);
    }
    return known && s->n > 2 && x[s->n - 1] >= 100 * lo_pos ? TL_AXIS_LOG1P : TL_AXIS_LINEAR;
}

static const char *file_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static const char *ckpt_label(const tl_acts_meta *a, char *buf, size_t cap) {
    if (a->step >= 0) snprintf(buf, cap, "%lld", (long long)a->step);
    else snprintf(buf, cap, "%s", a->name[0] ? a->name : "model");
    return buf;
}

static cJSON *checkpoints_json(const tl_acts_series *s) {
    cJSON *arr = cJSON_CreateArray();
    for (int c = 0; arr && c < s->n; c++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) continue;
        cJSON_AddStringToObject(e, "name", s->items[c]->name);
        if (s->items[c]->step >= 0) cJSON_AddNumberToObject(e, "step", (double)s->items[c]->step);
        else cJSON_AddNullToObject(e, "step");
        cJSON_AddStringToObject(e, "model", s->items[c]->model);
        cJSON_AddItemToArray(arr, e);
    }
    return arr;
}

/* rows x cols matrix of numbers (NaN -> null) */
static cJSON *matrix_json(const double *v, int rows, int cols) {
    cJSON *m = cJSON_CreateArray();
    for (int r = 0; m && r < rows; r++) {
        cJSON *row = cJSON_CreateArray();
        for (int k = 0; row && k < cols; k++) {
            double x = v[(size_t)r * cols + k];
            cJSON_AddItemToArray(row, isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull());
        }
        cJSON_AddItemToArray(m, row);
    }
    return m;
}

static cJSON *strings_json(char *const *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

/* ---- probes ------------------------------------------------------------------------- */

static tl_status probe_outputs(const tl_acts_series *s, const tl_probe_run_opts *o, const double *acc,
                               const double *val_acc, const double *train_acc, const double *iters, int all_converged,
                               double seconds, const char *dir) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n, P = a0->n_points;
    char lab[64];
    tl_status st = TL_OK;
    /* probe_accuracy.csv: one row per checkpoint, one column per point */
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "checkpoint,step");
    for (int p = 0; p < P; p++) {
        tl_strbuf_puts(&csv, ",");
        tl_csv_field(&csv, a0->points[p]);
    }
    tl_strbuf_puts(&csv, "\n");
    for (int c = 0; c < C; c++) {
        tl_csv_field(&csv, s->items[c]->name);
        if (s->items[c]->step >= 0) tl_strbuf_printf(&csv, ",%lld", (long long)s->items[c]->step);
        else tl_strbuf_puts(&csv, ",");
        for (int p = 0; p < P; p++) tl_strbuf_printf(&csv, ",%.6f", acc[(size_t)c * P + p]);
        tl_strbuf_puts(&csv, "\n");
    }
    st = save_text(dir, "probe_accuracy.csv", &csv);
    tl_strbuf_free(&csv);
    if (st) return st;

    /* probe.json */
    const tl_probe_opts *po = &o->probe;
    int n_train = po->folds > 1 ? a0->n - a0->n / po->folds : (int)(po->split * a0->n);
    int n_val = po->folds <= 1 && po->val > 0 ? (int)(po->val * a0->n) : 0;
    cJSON *j = cJSON_CreateObject(), *set = cJSON_CreateObject();
    if (j && set) {
        cJSON_AddStringToObject(j, "format", "tiller-probe");
        cJSON_AddNumberToObject(j, "version", 1);
        cJSON_AddStringToObject(j, "dataset", a0->dataset);
        cJSON_AddStringToObject(j, "token", a0->token);
        cJSON_AddNumberToObject(j, "n_statements", a0->n);
        cJSON_AddNumberToObject(set, "C", po->lr.C);
        if (po->folds > 1) cJSON_AddNumberToObject(set, "folds", po->folds);
        else cJSON_AddNumberToObject(set, "split", po->split);
        if (po->folds <= 1 && po->val > 0) cJSON_AddNumberToObject(set, "val", po->val);
        cJSON_AddNumberToObject(set, "n_train", n_train - n_val);
        if (n_val) cJSON_AddNumberToObject(set, "n_val", n_val);
        cJSON_AddNumberToObject(set, "n_test", a0->n - n_train);
        cJSON_AddStringToObject(set, "solver", tl_solver_name(po->lr.solver));
        cJSON_AddNumberToObject(set, "tol", po->lr.tol);
        cJSON_AddNumberToObject(set, "max_iter", po->lr.max_iter);
        cJSON_AddBoolToObject(set, "warm_start", po->warm);
        cJSON_AddStringToObject(set, "features", "standardised per point over all statements (std with n - 1)");
        cJSON_AddItemToObject(j, "settings", set);
        cJSON_AddItemToObject(j, "points", strings_json(a0->points, P));
        cJSON_AddItemToObject(j, "checkpoints", checkpoints_json(s));
        cJSON_AddItemToObject(j, "accuracy", matrix_json(acc, C, P));
        cJSON_AddItemToObject(j, "train_accuracy", matrix_json(train_acc, C, P));
        if (val_acc) {
            cJSON_AddItemToObject(j, "val_accuracy", matrix_json(val_acc, C, P));
            cJSON *b = cJSON_CreateObject();
            if (b) {
                cJSON_AddStringToObject(b, "rule", "the (checkpoint, point) with the best validation accuracy");
                cJSON_AddStringToObject(b, "checkpoint", s->items[o->best_c]->name);
                cJSON_AddStringToObject(b, "point", a0->points[o->best_p]);
                cJSON_AddNumberToObject(b, "test_accuracy", o->best_test);
                cJSON_AddNumberToObject(b, "test_lo95", o->best_lo);
                cJSON_AddNumberToObject(b, "test_hi95", o->best_hi);
                cJSON_AddNumberToObject(b, "n_test", o->n_test);
                cJSON_AddNumberToObject(b, "test_boot_lo95", o->best_boot_lo);
                cJSON_AddNumberToObject(b, "test_boot_hi95", o->best_boot_hi);
                cJSON_AddNumberToObject(b, "n_clusters", o->n_clusters);
                cJSON_AddStringToObject(b, "clusters", s->items[0]->entities ? "entities (entities.npy)" : "rows");
                cJSON_AddStringToObject(b, "interval_rule",
                                        "first_checkpoint uses the cluster bootstrap's lower bound (2,000 "
                                        "replicates, percentile); test_lo95/hi95 are Wilson, for comparison");
                cJSON_AddNumberToObject(b, "threshold", o->threshold > 0 ? o->threshold : 0.9);
                if (o->first_c >= 0) cJSON_AddStringToObject(b, "first_checkpoint_lo95_above_threshold",
                                                             s->items[o->first_c]->name);
                else cJSON_AddNullToObject(b, "first_checkpoint_lo95_above_threshold");
                cJSON_AddItemToObject(j, "selected", b);
            }
        }
        cJSON_AddItemToObject(j, "iterations", matrix_json(iters, C, P));
        cJSON_AddBoolToObject(j, "converged", all_converged);
        cJSON_AddNumberToObject(j, "seconds", seconds);
    } else {
        cJSON_Delete(set);
    }
    st = save_json(dir, "probe.json", j);
    cJSON_Delete(j);
    if (st) return st;

    /* probe_heatmap.svg: points (rows) x checkpoints (columns) */
    double *z = tl_malloc((size_t)C * P * sizeof *z), *x = tl_malloc((size_t)C * sizeof *x),
           *y = tl_malloc((size_t)(C > P ? C : P) * sizeof *y);
    char **cl = tl_calloc((size_t)C, sizeof *cl);
    tl_chart_series *ser = tl_calloc((size_t)P, sizeof *ser);
    double *cols = tl_malloc((size_t)C * P * sizeof *cols);
    if (!z || !x || !y || !cl || !ser || !cols) st = tl_errorf(TL_E_NOMEM, "probe charts: out of memory");
    double zmin = 0.5;
    for (int p = 0; st == TL_OK && p < P; p++)
        for (int c = 0; c < C; c++) {
            z[(size_t)p * C + c] = acc[(size_t)c * P + p];
            zmin = fmin(zmin, acc[(size_t)c * P + p]);
        }
    for (int c = 0; st == TL_OK && c < C; c++)
        if (!(cl[c] = tl_strdup(ckpt_label(s->items[c], lab, sizeof lab)))) st = tl_errorf(TL_E_NOMEM, "out of memory");
    tl_strbuf svg = {0};
    if (st == TL_OK) {
        char title[160];
        snprintf(title, sizeof title, "Probe test accuracy (%s; n = %d %s rows; colours from %.2f)",
                 file_name(a0->dataset), po->folds > 1 ? a0->n : a0->n - n_train, po->folds > 1 ? "held-out" : "test",
                 zmin);
        tl_chart hc = {.title = title, .x_label = a0->step >= 0 ? "checkpoint step" : "checkpoint",
                       .y_label = "hook point", .width = 160 + 40 * (C < 6 ? 6 : C > 30 ? 30 : C),
                       .height = 120 + 18 * (P < 6 ? 6 : P > 40 ? 40 : P)};
        st = tl_svg_heatmap(&svg, &hc, z, P, C, (const char *const *)a0->points, (const char *const *)cl, zmin, 1.0,
                            "accuracy");
        if (st == TL_OK) st = save_text(dir, "probe_heatmap.svg", &svg);
        tl_strbuf_free(&svg);
    }
    /* probe_curves.svg: accuracy over checkpoints, one line per point (over points
     * when there is a single checkpoint) */
    if (st == TL_OK) {
        tl_chart lc = {.x_label = a0->step >= 0 ? "checkpoint step" : "checkpoint", .y_label = "test accuracy",
                       .width = 720, .height = 420};
        char title[160];
        snprintf(title, sizeof title, "Probe accuracy per layer (%s)", file_name(a0->dataset));
        lc.title = title;
        if (C > 1) {
            lc.x_scale = ckpt_x(s, x);
            for (int p = 0; p < P; p++) {
                for (int c = 0; c < C; c++) cols[(size_t)p * C + c] = acc[(size_t)c * P + p];
                ser[p] = (tl_chart_series){a0->points[p], x, cols + (size_t)p * C, C};
            }
            st = tl_svg_line_chart(&svg, &lc, ser, P);
        } else {
            for (int p = 0; p < P; p++) y[p] = p;
            lc.x_label = "hook point (index in probe.json \"points\")";
            tl_chart_series one = {ckpt_label(a0, lab, sizeof lab), y, acc, P};
            st = tl_svg_line_chart(&svg, &lc, &one, 1);
        }
        if (st == TL_OK) st = save_text(dir, "probe_curves.svg", &svg);
        tl_strbuf_free(&svg);
    }
    if (cl)
        for (int c = 0; c < C; c++) tl_free(cl[c]);
    tl_free(cl);
    tl_free(z);
    tl_free(x);
    tl_free(y);
    tl_free(ser);
    tl_free(cols);
    return st;
}

/* ---- the probe protocol: selection on validation, intervals, baselines ---------------- */

typedef struct {
    int layer;
    double val, test, lo, hi, shuffled, majority, embed;
    double boot_lo, boot_hi; /* the cluster bootstrap's 95 % interval (entities, else rows) */
} probe_sel;

enum { PROBE_BOOT = 2000 }; /* bootstrap replicates */

/* The test rows' clusters as ids 0 .. G-1: the capture's entities (the world's probe sets
 * name the person, group or word each row is about), else one cluster per row. */
static int test_clusters(const tl_acts_meta *a0, int n_fit, int *cl, int *map) {
    int n = a0->n, g = 0;
    for (int i = 0; i < n; i++) map[i] = -1;
    for (int i = n_fit; i < n; i++) {
        int e = a0->entities ? (int)a0->entities[i] : i;
        if (map[e] < 0) map[e] = g++;
        cl[i - n_fit] = map[e];
    }
    return g;
}

/* Per test row, 1 if the probe with weights w [d + 1] on Z [n, d] is right. */
static void test_hits(const double *Z, const int64_t *y, int n_fit, int n, int d, const double *w, double *hit) {
    for (int i = n_fit; i < n; i++) {
        double z = w[d];
        for (int j = 0; j < d; j++) z += w[j] * Z[(size_t)i * d + j];
        hit[i - n_fit] = (z > 0) == (y[i] != 0);
    }
}

static tl_status probe_protocol(const tl_acts_series *s, tl_probe_run_opts *o, const double *acc, const double *va,
                                int n_test, probe_sel *sel) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n, P = a0->n_points, n = a0->n;
    int n_fit = (int)(o->probe.split * n), n_train = n_fit - (int)(o->probe.val * n);
    int emb = tl_acts_find_point(a0, "embed");
    double thr = o->threshold > 0 ? o->threshold : 0.9;
    int64_t ones = 0, test_ones = 0;
    for (int i = 0; i < n_train; i++) ones += a0->labels[i] != 0;
    for (int i = n_fit; i < n; i++) test_ones += a0->labels[i] != 0;
    int major = 2 * ones >= n_train; /* ties: label 1, as argmax over [0, 1] counts would not */
    double majority = (double)(major ? test_ones : n_test - test_ones) / n_test;
    o->first_c = -1;
    o->best_c = o->best_p = 0;
    o->n_test = n_test;
    for (int c = 0; c < C; c++) {
        probe_sel *q = &sel[c];
        q->layer = 0;
        for (int p = 1; p < P; p++)
            if (va[(size_t)c * P + p] > va[(size_t)c * P + q->layer]) q->layer = p;
        size_t k = (size_t)c * P + q->layer;
        q->val = va[k];
        q->test = acc[k];
        tl_wilson((int64_t)llround(acc[k] * n_test), n_test, TL_Z95, &q->lo, &q->hi);
        q->majority = majority;
        q->embed = emb >= 0 ? acc[(size_t)c * P + emb] : NAN;
        if (va[k] > va[(size_t)o->best_c * P + o->best_p]) o->best_c = c, o->best_p = q->layer;
    }
    size_t kb = (size_t)o->best_c * P + o->best_p;
    o->best_test = acc[kb];
    tl_wilson((int64_t)llround(acc[kb] * n_test), n_test, TL_Z95, &o->best_lo, &o->best_hi);
    /* the test rows' clusters for the bootstrap */
    int *cl = tl_malloc(((size_t)n + (size_t)(n - n_fit) + 1) * sizeof *cl);
    if (!cl) return tl_errorf(TL_E_NOMEM, "probe: out of memory");
    o->n_clusters = test_clusters(a0, n_fit, cl, cl + (n - n_fit));
    /* per checkpoint, at the chosen layer: the test rows' hits (a fit from zeros on the true
     * labels, the same minimiser as the warm-started one) and their cluster bootstrap; then
     * shuffled training labels, what the probe gets from no signal */
    first_error err = {TL_OK, ""};
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < C; c++) {
        if (err.s) continue;
        int p = sel[c].layer, d = a0->width[p];
        double *Z = NULL, *w = tl_calloc((size_t)d + 1, sizeof *w);
        double *hit = tl_malloc(((size_t)(n - n_fit) + 1) * sizeof *hit);
        int64_t *y = tl_malloc((size_t)n * sizeof *y);
        tl_status ps = w && y && hit ? load_standardized(s->items[c], p, &Z)
                                     : tl_errorf(TL_E_NOMEM, "probe: out of memory for the shuffled-label baseline");
        tl_probe_result rt;
        if (ps == TL_OK) ps = tl_probe_fit(Z, s->items[c]->labels, n, d, &o->probe, w, &rt);
        if (ps == TL_OK) {
            test_hits(Z, s->items[c]->labels, n_fit, n, d, w, hit);
            tl_boot_ci ci;
            ps = tl_bootstrap_clusters(hit, cl, n - n_fit, o->n_clusters, PROBE_BOOT, o->seed * 104729u + (uint64_t)c,
                                       0.95, &ci);
            sel[c].boot_lo = ps ? NAN : ci.lo;
            sel[c].boot_hi = ps ? NAN : ci.hi;
            memset(w, 0, ((size_t)d + 1) * sizeof *w);
        }
        if (ps == TL_OK) {
            memcpy(y, s->items[c]->labels, (size_t)n * sizeof *y);
            tl_rng rng;
            tl_rng_seed(&rng, o->seed * 7919u + (uint64_t)c);
            for (int i = n_train - 1; i > 0; i--) { /* only the training rows' labels move */
                int j = (int)tl_rng_below(&rng, (uint64_t)i + 1);
                int64_t t = y[i];
                y[i] = y[j];
                y[j] = t;
            }
            tl_probe_result r;
            int both = 0;
            for (int i = 1; i < n_train; i++) both |= y[i] != y[0];
            if (!both) sel[c].shuffled = NAN;
            else if ((ps = tl_probe_fit(Z, y, n, d, &o->probe, w, &r)) == TL_OK) sel[c].shuffled = r.acc;
        }
        tl_free(Z);
        tl_free(w);
        tl_free(y);
        tl_free(hit);
        if (ps) keep_error(&err, tl_error_prefix(ps, "%s, shuffled labels", s->items[c]->dir));
    }
    tl_free(cl);
    /* "the first checkpoint at which accuracy >= t": the bootstrap's lower bound */
    for (int c = 0; c < C && o->first_c < 0; c++)
        if (sel[c].boot_lo >= thr) o->first_c = c;
    o->best_boot_lo = sel[o->best_c].boot_lo, o->best_boot_hi = sel[o->best_c].boot_hi;
    if (o->best_p != sel[o->best_c].layer) o->best_boot_lo = o->best_boot_hi = NAN; /* not the chosen layer */
    return err.s ? tl_errorf(err.s, "%s", err.msg) : TL_OK;
}

static tl_status probe_protocol_outputs(const tl_acts_series *s, const tl_probe_run_opts *o, const probe_sel *sel,
                                        const char *dir) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n;
    tl_strbuf csv = {0};
    /* the random-init baseline: given, or the step-0 checkpoint of a training series */
    double ri = NAN, ri_lo = NAN, ri_hi = NAN, bow = o->bow_acc > 0 ? o->bow_acc : NAN;
    if (o->random_init_acc > 0) ri = o->random_init_acc, ri_lo = o->random_init_lo, ri_hi = o->random_init_hi;
    else if (C >= 2 && s->items[0]->step == 0) ri = sel[0].test, ri_lo = sel[0].lo, ri_hi = sel[0].hi;
    tl_strbuf_puts(&csv, "checkpoint,step,layer,val_acc,test_acc,test_lo95,test_hi95,n_test,shuffled_labels_acc,"
                         "majority_acc,embed_acc,random_init_acc,random_init_lo95,random_init_hi95,bow_acc,"
                         "boot_lo95,boot_hi95,n_clusters\n");
    for (int c = 0; c < C; c++) {
        const probe_sel *q = &sel[c];
        tl_csv_field(&csv, s->items[c]->name);
        if (s->items[c]->step >= 0) tl_strbuf_printf(&csv, ",%lld,", (long long)s->items[c]->step);
        else tl_strbuf_puts(&csv, ",,");
        tl_csv_field(&csv, a0->points[q->layer]);
        tl_strbuf_printf(&csv, ",%.6f,%.6f,%.6f,%.6f,%d,%.6f,%.6f,", q->val, q->test, q->lo, q->hi, o->n_test,
                         q->shuffled, q->majority);
        if (isfinite(q->embed)) tl_strbuf_printf(&csv, "%.6f", q->embed);
        tl_strbuf_puts(&csv, ",");
        if (isfinite(ri)) tl_strbuf_printf(&csv, "%.6f,%.6f,%.6f", ri, ri_lo, ri_hi);
        else tl_strbuf_puts(&csv, ",,");
        tl_strbuf_puts(&csv, ",");
        if (isfinite(bow)) tl_strbuf_printf(&csv, "%.6f", bow);
        tl_strbuf_printf(&csv, ",%.6f,%.6f,%d\n", q->boot_lo, q->boot_hi, o->n_clusters);
    }
    tl_status st = save_text(dir, "probe_selection.csv", &csv);
    tl_strbuf_free(&csv);
    if (st || C < 2) return st;
    /* probe_selected.svg: the chosen layer's test accuracy with its interval as error bars, and
     * beside it every baseline, dashed: shuffled labels, majority, embedding layer, random init,
     * bag of words (the last two constant over checkpoints) */
    double *x = tl_malloc((size_t)C * 9 * sizeof *x);
    if (!x) return tl_errorf(TL_E_NOMEM, "probe charts: out of memory");
    double *yv[8];
    for (int k = 0; k < 8; k++) yv[k] = x + (size_t)C * (k + 1);
    tl_chart_series ser[6];
    tl_chart_style sty[6] = {{yv[6], yv[7], 0}, {NULL, NULL, 1}, {NULL, NULL, 1},
                             {NULL, NULL, 1}, {NULL, NULL, 1}, {NULL, NULL, 1}};
    tl_axis_scale sc = ckpt_x(s, x);
    for (int c = 0; c < C; c++) {
        yv[0][c] = sel[c].test;
        yv[1][c] = sel[c].shuffled;
        yv[2][c] = sel[c].majority;
        yv[3][c] = sel[c].embed;
        yv[4][c] = ri;
        yv[5][c] = bow;
        yv[6][c] = sel[c].boot_lo;
        yv[7][c] = sel[c].boot_hi;
    }
    char rname[96];
    snprintf(rname, sizeof rname, "random init, same shape%s", o->random_init_acc > 0 ? "" : " (step 0)");
    char pname[128];
    snprintf(pname, sizeof pname, "probe, layer chosen on validation (test; bars: bootstrap 95 %% over %d %s)",
             o->n_clusters, a0->entities ? "entities" : "rows");
    const char *names[6] = {pname,
                            "baseline: shuffled training labels", "baseline: majority class",
                            "baseline: embedding layer", rname, "baseline: bag of words"};
    int ns = 0;
    for (int k = 0; k < 6; k++) {
        int any = 0;
        for (int c = 0; c < C; c++) any |= isfinite(yv[k][c]);
        if (!any) continue;
        sty[ns] = sty[k];
        ser[ns++] = (tl_chart_series){names[k], x, yv[k], C};
    }
    char title[240], xl[64];
    snprintf(title, sizeof title, "Probe accuracy with baselines (%s; n = %d test rows, %d clusters)",
             file_name(a0->dataset), o->n_test, o->n_clusters);
    snprintf(xl, sizeof xl, "%s", a0->step >= 0 ? "checkpoint step" : "checkpoint");
    tl_chart lc = {.title = title, .x_label = xl, .y_label = "test accuracy (axis from 0)", .width = 760,
                   .height = 440, .x_scale = sc, .y_min = 0, .y_max = 1};
    tl_strbuf svg = {0};
    st = tl_svg_line_chart_styled(&svg, &lc, ser, sty, ns);
    if (st == TL_OK) st = save_text(dir, "probe_selected.svg", &svg);
    tl_strbuf_free(&svg);
    tl_free(x);
    return st;
}

tl_status tl_probe_run(const tl_acts_series *s, tl_probe_run_opts *o, const char *out_dir) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n, P = a0->n_points;
    double t0 = tl_time_sec();
    size_t cells = (size_t)C * P;
    /* [4 * cells + 2 * ranks]: accuracy, validation accuracy, train accuracy, iterations, then per
     * rank "all converged" and its test-row count (under MPI every slot is filled by one rank) */
    int size = tl_dist_size(), rank = tl_dist_rank();
    size_t n_slots = cells * 4 + 2 * (size_t)size;
    double *acc = tl_calloc(n_slots, sizeof *acc), *va = acc ? acc + cells : NULL, *tr = acc ? acc + 2 * cells : NULL,
           *it = acc ? acc + 3 * cells : NULL;
    probe_sel *sel = tl_calloc((size_t)C, sizeof *sel);
    int all_conv = 1, n_test = 0;
    tl_status st = TL_OK;
    if (!acc || !sel) st = tl_errorf(TL_E_NOMEM, "probe: out of memory");
    first_error err = {TL_OK, ""};
    int64_t done = 0, my_cells = 0;
    /* under MPI a rank fits its share of the cells: whole points when the fits warm-start
     * along the checkpoints, else a block of (checkpoint, point) cells */
#define PROBE_MINE(c, p) (o->probe.warm ? tl_dist_owner(P, p) == rank : tl_dist_owner((int64_t)cells, (int64_t)(c) * P + (p)) == rank)
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++) my_cells += PROBE_MINE(c, p);
    if (st == TL_OK) {
#pragma omp parallel for schedule(dynamic, 1) reduction(&& : all_conv)
        for (int p = 0; p < P; p++) {
            if (o->probe.warm && !PROBE_MINE(0, p)) continue;
            int d = a0->width[p];
            double *w = tl_calloc((size_t)d + 1, sizeof *w);
            if (!w) keep_error(&err, tl_errorf(TL_E_NOMEM, "probe: out of memory"));
            for (int c = 0; w && c < C && err.s == TL_OK; c++) {
                if (!PROBE_MINE(c, p)) continue;
                double *Z = NULL;
                tl_status ps = load_standardized(s->items[c], p, &Z);
                tl_probe_result r;
                if (!o->probe.warm) memset(w, 0, ((size_t)d + 1) * sizeof *w);
                if (ps == TL_OK) ps = tl_probe_fit(Z, s->items[c]->labels, a0->n, d, &o->probe, w, &r);
                tl_free(Z);
                if (ps) {
                    keep_error(&err, tl_error_prefix(ps, "%s, %s", s->items[c]->dir, a0->points[p]));
                    break;
                }
                acc[(size_t)c * P + p] = r.acc;
                va[(size_t)c * P + p] = r.val_acc;
                n_test = r.n_test;
                tr[(size_t)c * P + p] = r.train_acc;
                it[(size_t)c * P + p] = r.iters;
                all_conv = all_conv && r.converged;
                if (!r.converged)
                    tl_logf(TL_LOG_WARN, "%s, %s: the probe did not converge in %d iterations", s->items[c]->dir,
                            a0->points[p], r.iters);
                report_progress(o->progress, o->progress_user, &done, my_cells);
            }
            tl_free(w);
        }
        if (err.s) st = tl_errorf(err.s, "%s", err.msg);
    }
#undef PROBE_MINE
    /* every cell was filled by one rank, the others hold 0: the sum is exact */
    if (acc) {
        acc[4 * cells + (size_t)rank] = all_conv;
        acc[4 * cells + (size_t)size + (size_t)rank] = n_test;
    }
    st = tl_dist_agree(st);
    if (st == TL_OK) st = tl_dist_sum_disjoint(acc, n_slots);
    for (int r = 0; r < size && st == TL_OK; r++) {
        all_conv = all_conv && acc[4 * cells + (size_t)r] != 0;
        n_test = (int)fmax(n_test, acc[4 * cells + (size_t)size + (size_t)r]);
    }
    /* the output directory appears only with results to put in it; rank 0 writes */
    int protocol = o->probe.val > 0 && o->probe.folds <= 1;
    if (st == TL_OK && protocol) st = probe_protocol(s, o, acc, va, n_test, sel);
    if (st == TL_OK && rank == 0) st = out_dir_make(out_dir);
    if (st == TL_OK && rank == 0)
        st = probe_outputs(s, o, acc, protocol ? va : NULL, tr, it, all_conv, tl_time_sec() - t0, out_dir);
    if (st == TL_OK && rank == 0 && protocol) st = probe_protocol_outputs(s, o, sel, out_dir);
    st = tl_dist_agree(st);
    if (st == TL_OK && o->acc_out) memcpy(o->acc_out, acc, cells * sizeof *acc);
    for (int c = 0; st == TL_OK && protocol && o->boot_out && c < C; c++) {
        o->boot_out[(size_t)c * 3] = sel[c].boot_lo;
        o->boot_out[(size_t)c * 3 + 1] = sel[c].boot_hi;
        o->boot_out[(size_t)c * 3 + 2] = o->n_clusters;
    }
    for (int c = 0; st == TL_OK && protocol && o->sel_out && c < C; c++) {
        double *q = o->sel_out + (size_t)c * 5;
        q[0] = sel[c].layer;
        q[1] = sel[c].val;
        q[2] = sel[c].test;
        q[3] = sel[c].lo;
        q[4] = sel[c].hi;
    }
    tl_free(sel);
    tl_free(acc);
    return st;
}

/* ---- information plane ----------------------------------------------------------------- */

void tl_infoplane_opts_default(tl_infoplane_opts *o) {
    memset(o, 0, sizeof *o);
    o->est = TL_EST_BOTH;
    o->split = 0.8;
    o->x_point = "resid_post.0";
    o->pca_dims = 2;
    o->bins = 30;
    o->sigma = 50.0;
    o->eps = 1e-5;
    o->shuffles = 10;
    o->seed = 1;
    o->alpha = 0.05;
    o->boot = 50;
    o->boot_shuffles = 2;
}

tl_status tl_estimator_parse(const char *s, tl_estimator *out) {
    if (!strcmp(s, "binning")) *out = TL_EST_BINNING;
    else if (!strcmp(s, "hsic")) *out = TL_EST_HSIC;
    else if (!strcmp(s, "both")) *out = TL_EST_BOTH;
    else return tl_errorf(TL_E_ARG, "unknown estimator '%s' (expected binning, hsic or both)", s);
    return TL_OK;
}

typedef struct {
    double *b_ixt, *b_iyt, *b_ht, *b_nsym; /* [C, P] binning */
    double *h_ixt, *h_iyt;                 /* [C, P] HSIC */
    double *b_ixt0, *b_iyt0, *h_ixt0, *h_iyt0; /* [C, P] the same with Y (X's rows) shuffled: the bias */
    double *ci[2][8]; /* [C, P] per estimator (binning, HSIC): the bootstrap bounds of tl_boot_plane_ci */
} plane;

#define PLANE_FIELDS 26

/* The per-point verdicts: permutation tests over checkpoint order on the
 * corrected values of one estimator. */
typedef struct {
    tl_perm_result rise, incr; /* I(X;T) rises then falls; I(T;Y) increases */
} point_tests;

static tl_status plane_tests(const double *ixt, const double *ixt0, const double *iyt, const double *iyt0, int C,
                             int P, const tl_infoplane_opts *o, point_tests *t) {
    double *v = tl_malloc((size_t)C * 2 * sizeof *v);
    if (!v) return tl_errorf(TL_E_NOMEM, "infoplane: out of memory");
    tl_status s = TL_OK;
    for (int p = 0; p < P && s == TL_OK; p++) {
        for (int c = 0; c < C; c++) {
            size_t k = (size_t)c * P + p;
            v[c] = ixt[k] - ixt0[k];
            v[C + c] = iyt[k] - iyt0[k];
        }
        s = tl_perm_trend(v, C, TL_TREND_RISE_FALL, 9999, o->seed + 2 * (uint64_t)p, &t[p].rise);
        if (s == TL_OK) s = tl_perm_trend(v + C, C, TL_TREND_INCREASE, 9999, o->seed + 2 * (uint64_t)p + 1, &t[p].incr);
    }
    tl_free(v);
    return s;
}

/* Up to 4 points for the scatter panels: the user's list, else a spread. */
static tl_status choose_panels(const tl_acts_meta *a, const char *spec, int *idx, int *n) {
    *n = 0;
    if (!spec) {
        int P = a->n_points, k = P < 4 ? P : 4;
        for (int i = 0; i < k; i++) idx[(*n)++] = k == 1 ? 0 : (int)((double)i * (P - 1) / (k - 1) + 0.5);
        return TL_OK;
    }
    const char *p = spec;
    while (*p && *n < 4) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        if (len == 0 || len >= sizeof name) return tl_errorf(TL_E_ARG, "--panels '%s': bad entry", spec);
        memcpy(name, p, len);
        name[len] = 0;
        int i = tl_acts_find_point(a, name);
        if (i < 0) return tl_errorf(TL_E_ARG, "--panels: no hook point '%s' in %s", name, a->dir);
        idx[(*n)++] = i;
        p = e ? e + 1 : p + len;
    }
    return TL_OK;
}

static tl_status plane_svg(const tl_acts_series *s, const tl_infoplane_opts *o, const double *ixt,
                           const double *iyt, double *const *ci, int clusters, const char *what, const char *units,
                           const char *dir, const char *file) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n, P = a0->n_points, idx[4], n_idx;
    tl_status st = choose_panels(a0, o->panels, idx, &n_idx);
    if (st) return st;
    size_t most = (size_t)(C > P ? C : P);
    double *x = tl_malloc(most * sizeof *x), *buf = tl_malloc(4 * 6 * most * sizeof *buf);
    if (!x || !buf) {
        tl_free(x);
        tl_free(buf);
        return tl_errorf(TL_E_NOMEM, "infoplane charts: out of memory");
    }
    char title[200], xl[64], yl[64];
    int m = (int)(o->split * a0->n); /* the rows the estimates use (HSIC: at most hsic_rows of them) */
    if (strstr(what, "HSIC") && o->hsic_rows > 0 && o->hsic_rows < m) m = o->hsic_rows;
    if (o->boot > 0)
        snprintf(title, sizeof title,
                 "Information plane, %s estimator (%s; n = %d rows, %d clusters; bars: 95 %%, +-1.96 bootstrap "
                 "SE of %d resamples)",
                 what, file_name(a0->dataset), m, clusters, o->boot);
    else
        snprintf(title, sizeof title, "Information plane, %s estimator (%s; n = %d rows; no intervals)", what,
                 file_name(a0->dataset), m);
    snprintf(xl, sizeof xl, "I(X;T)%s", units);
    snprintf(yl, sizeof yl, "I(T;Y)%s", units);
    tl_chart c = {.title = title, .x_label = xl, .y_label = yl};
    tl_scatter_panel panels[4];
    tl_strbuf svg = {0};
    if (C > 1) { /* one panel per chosen point, its trajectory over checkpoints coloured by step */
        tl_axis_scale sc = ckpt_x(s, x);
        for (int k = 0; k < n_idx; k++) {
            double *px = buf + (size_t)(6 * k) * C, *py = px + C, *b = py + C; /* b: x lo, hi, y lo, hi */
            for (int i = 0; i < C; i++) {
                size_t q = (size_t)i * P + idx[k];
                px[i] = ixt[q];
                py[i] = iyt[q];
                for (int j = 0; j < 4; j++) b[(size_t)j * C + i] = o->boot > 0 ? ci[j < 2 ? j : j + 2][q] : NAN;
            }
            panels[k] = (tl_scatter_panel){.title = a0->points[idx[k]], .x = px, .y = py, .v = x, .n = C};
            if (o->boot > 0) {
                panels[k].x_lo = b, panels[k].x_hi = b + C;
                panels[k].y_lo = b + 2 * C, panels[k].y_hi = b + 3 * C;
            }
        }
        st = tl_svg_scatter(&svg, &c, panels, n_idx, a0->step >= 0 ? "step" : "checkpoint", sc);
    } else { /* one checkpoint: all points in one panel, coloured by their index */
        for (int p = 0; p < P; p++) x[p] = p;
        panels[0] = (tl_scatter_panel){.title = "all hook points", .x = ixt, .y = iyt, .v = x, .n = P};
        if (o->boot > 0) panels[0].x_lo = ci[0], panels[0].x_hi = ci[1], panels[0].y_lo = ci[4], panels[0].y_hi = ci[5];
        st = tl_svg_scatter(&svg, &c, panels, 1, "point index", TL_AXIS_LINEAR);
    }
    if (st == TL_OK) st = save_text(dir, file, &svg);
    tl_strbuf_free(&svg);
    tl_free(x);
    tl_free(buf);
    return st;
}

/* The rows behind the estimates: binning's m and HSIC's, and their clusters (entities) */
typedef struct {
    int m, m_hsic, clusters, clusters_hsic;
} plane_n;

/* ",value,lo,hi" with the bounds blank when there is no bootstrap */
static void value_ci(tl_strbuf *b, double v, const plane *pl, int e, int q, size_t k, int boot) {
    tl_strbuf_printf(b, ",%.9g", v);
    if (boot) tl_strbuf_printf(b, ",%.9g,%.9g", pl->ci[e][q][k], pl->ci[e][q + 1][k]);
    else tl_strbuf_puts(b, ",,");
}

static tl_status plane_outputs(const tl_acts_series *s, const tl_infoplane_opts *o, const plane *pl,
                               const point_tests *tb, const point_tests *th, const plane_n *pn, double seconds,
                               const char *dir) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n, P = a0->n_points, m = pn->m, m_hsic = pn->m_hsic, boot = o->boot;
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "checkpoint,step,point,estimator,i_xt,i_xt_lo,i_xt_hi,i_yt,i_yt_lo,i_yt_hi,h_t,n_symbols,"
                         "i_xt_shuffled,i_yt_shuffled,i_xt_corrected,i_xt_corrected_lo,i_xt_corrected_hi,"
                         "i_yt_corrected,i_yt_corrected_lo,i_yt_corrected_hi,saturation,n,clusters,resamples\n");
    for (int c = 0; c < C; c++)
        for (int p = 0; p < P; p++) {
            size_t k = (size_t)c * P + p;
            for (int e = 0; e < 2; e++) {
                if (!(o->est & (e ? TL_EST_HSIC : TL_EST_BINNING))) continue;
                tl_csv_field(&csv, s->items[c]->name);
                if (s->items[c]->step >= 0) tl_strbuf_printf(&csv, ",%lld,", (long long)s->items[c]->step);
                else tl_strbuf_puts(&csv, ",,");
                tl_csv_field(&csv, a0->points[p]);
                const double *ix = e ? pl->h_ixt : pl->b_ixt, *iy = e ? pl->h_iyt : pl->b_iyt;
                const double *ix0 = e ? pl->h_ixt0 : pl->b_ixt0, *iy0 = e ? pl->h_iyt0 : pl->b_iyt0;
                tl_strbuf_puts(&csv, e ? ",hsic" : ",binning");
                value_ci(&csv, ix[k], pl, e, 0, k, boot);
                value_ci(&csv, iy[k], pl, e, 4, k, boot);
                if (e) tl_strbuf_puts(&csv, ",,");
                else tl_strbuf_printf(&csv, ",%.9g,%d", pl->b_ht[k], (int)pl->b_nsym[k]);
                tl_strbuf_printf(&csv, ",%.9g,%.9g", ix0[k], iy0[k]);
                value_ci(&csv, ix[k] - ix0[k], pl, e, 2, k, boot);
                value_ci(&csv, iy[k] - iy0[k], pl, e, 6, k, boot);
                if (e) tl_strbuf_puts(&csv, ",");
                else tl_strbuf_printf(&csv, ",%.4f", pl->b_nsym[k] / m);
                tl_strbuf_printf(&csv, ",%d,%d,%d\n", e ? m_hsic : m, e ? pn->clusters_hsic : pn->clusters, boot);
            }
        }
    tl_status st = save_text(dir, "infoplane.csv", &csv);
    tl_strbuf_free(&csv);
    if (st) return st;
    if (C >= 3) { /* infoplane_tests.csv: the per-point verdicts */
        tl_strbuf t = {0};
        tl_strbuf_puts(&t, "point,estimator,hypothesis,test,statistic,p,orderings,exact,alpha,verdict\n");
        for (int p = 0; p < P; p++)
            for (int e = 0; e < 2; e++) {
                if (!(o->est & (e ? TL_EST_HSIC : TL_EST_BINNING))) continue;
                const point_tests *pt = (e ? th : tb) + p;
                for (int h = 0; h < 2; h++) {
                    const tl_perm_result *r = h ? &pt->incr : &pt->rise;
                    tl_csv_field(&t, a0->points[p]);
                    tl_strbuf_printf(&t, ",%s,%s,%s,%.6f,%.6g,%lld,%d,%g,%s\n", e ? "hsic" : "binning",
                                     h ? "I(T;Y) increases" : "I(X;T) rises then falls",
                                     h ? "permutation over checkpoint order of Spearman rho"
                                       : "permutation over checkpoint order of an umbrella statistic",
                                     r->stat, r->p, (long long)r->n_perm, r->exact, o->alpha,
                                     r->p <= o->alpha ? "yes" : "not shown");
                }
            }
        st = save_text(dir, "infoplane_tests.csv", &t);
        tl_strbuf_free(&t);
        if (st) return st;
    }
    cJSON *j = cJSON_CreateObject(), *set = cJSON_CreateObject();
    if (j && set) {
        cJSON_AddStringToObject(j, "format", "tiller-infoplane");
        cJSON_AddNumberToObject(j, "version", 1);
        cJSON_AddStringToObject(j, "dataset", a0->dataset);
        cJSON_AddStringToObject(j, "token", a0->token);
        cJSON_AddNumberToObject(set, "split", o->split);
        cJSON_AddNumberToObject(set, "m", m);
        cJSON_AddStringToObject(set, "x_point", o->x_point);
        cJSON_AddStringToObject(set, "t", "standardised per point over all statements; the first m rows");
        cJSON_AddNumberToObject(set, "shuffles", o->shuffles);
        cJSON_AddStringToObject(set, "correction", "corrected = estimate - mean over shuffles of Y (for I(T;Y)) "
                                                   "or of X's rows (for I(X;T))");
        cJSON_AddNumberToObject(set, "alpha", o->alpha);
        cJSON_AddNumberToObject(set, "bootstrap_resamples", boot);
        cJSON_AddStringToObject(set, "bootstrap",
                                "95 % percentile intervals; resamples draw the rows' entities with replacement "
                                "(rows without entities: the rows); binning keeps the whole sample's bins, HSIC "
                                "uses a pivoted-Cholesky factor of each kernel matrix (docs/analysis.md)");
        if (o->est & TL_EST_BINNING) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddNumberToObject(b, "pca_dims", o->pca_dims);
            cJSON_AddNumberToObject(b, "bins", o->bins);
            cJSON_AddStringToObject(b, "x", o->x_binned ? "binned PCA of x_point" : "distinct rows of x_point");
            cJSON_AddStringToObject(b, "units", "bits");
            cJSON_AddNumberToObject(b, "clusters", pn->clusters);
            cJSON_AddItemToObject(set, "binning", b);
        }
        if (o->est & TL_EST_HSIC) {
            cJSON *h = cJSON_CreateObject();
            cJSON_AddNumberToObject(h, "sigma", o->sigma);
            cJSON_AddNumberToObject(h, "eps", o->eps);
            cJSON_AddNumberToObject(h, "m", m_hsic);
            cJSON_AddNumberToObject(h, "clusters", pn->clusters_hsic);
            cJSON_AddItemToObject(set, "hsic", h);
        }
        cJSON_AddItemToObject(j, "settings", set);
        cJSON_AddItemToObject(j, "points", strings_json(a0->points, P));
        cJSON_AddItemToObject(j, "checkpoints", checkpoints_json(s));
        if (o->est & TL_EST_BINNING) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemToObject(b, "i_xt", matrix_json(pl->b_ixt, C, P));
            cJSON_AddItemToObject(b, "i_yt", matrix_json(pl->b_iyt, C, P));
            cJSON_AddItemToObject(b, "h_t", matrix_json(pl->b_ht, C, P));
            cJSON_AddItemToObject(b, "n_symbols", matrix_json(pl->b_nsym, C, P));
            cJSON_AddItemToObject(b, "i_xt_shuffled", matrix_json(pl->b_ixt0, C, P));
            cJSON_AddItemToObject(b, "i_yt_shuffled", matrix_json(pl->b_iyt0, C, P));
            cJSON_AddNumberToObject(b, "max_saturation", o->max_saturation);
            cJSON_AddItemToObject(j, "binning", b);
        }
        if (o->est & TL_EST_HSIC) {
            cJSON *h = cJSON_CreateObject();
            cJSON_AddItemToObject(h, "i_xt", matrix_json(pl->h_ixt, C, P));
            cJSON_AddItemToObject(h, "i_yt", matrix_json(pl->h_iyt, C, P));
            cJSON_AddItemToObject(h, "i_xt_shuffled", matrix_json(pl->h_ixt0, C, P));
            cJSON_AddItemToObject(h, "i_yt_shuffled", matrix_json(pl->h_iyt0, C, P));
            cJSON_AddItemToObject(j, "hsic", h);
        }
        cJSON_AddNumberToObject(j, "seconds", seconds);
    } else {
        cJSON_Delete(set);
    }
    st = save_json(dir, "infoplane.json", j);
    cJSON_Delete(j);
    if (st == TL_OK && (o->est & TL_EST_BINNING))
        st = plane_svg(s, o, pl->b_ixt, pl->b_iyt, pl->ci[0], pn->clusters, "binning", " (bits)", dir,
                       "infoplane_binning.svg");
    if (st == TL_OK && (o->est & TL_EST_HSIC))
        st = plane_svg(s, o, pl->h_ixt, pl->h_iyt, pl->ci[1], pn->clusters_hsic, "normalised HSIC", "", dir,
                       "infoplane_hsic.svg");
    return st;
}

/* The kernel factors of the bootstrap stop when trace(K - F F^T) <= BOOT_TOL c (c = eps m): the
 * error of an estimate is then below about 2 BOOT_TOL (docs/analysis.md) */
#define BOOT_TOL 5e-3

/* The resample weights W [boot, m] of the first m rows: their entities drawn with replacement
 * (each row its own cluster without entities.npy); *n_clusters out. */
static tl_status boot_weights(const tl_acts_meta *a0, const tl_infoplane_opts *o, int m, uint64_t seed, double **W,
                              int *n_clusters) {
    int *cl = tl_malloc((size_t)m * sizeof *cl);
    *W = tl_malloc((size_t)o->boot * m * sizeof **W);
    tl_status s = cl && *W ? TL_OK : tl_errorf(TL_E_NOMEM, "infoplane: out of memory for the bootstrap");
    int g = 0;
    for (int i = 0; s == TL_OK && i < m; i++) {
        int64_t e = a0->entities ? a0->entities[i] : i;
        int j = 0; /* ids in order of first appearance among the first m rows */
        while (j < i && (a0->entities ? a0->entities[j] : j) != e) j++;
        cl[i] = j < i ? cl[j] : g++;
    }
    if (s == TL_OK) s = tl_boot_weights(cl, m, g, o->boot, seed, *W);
    *n_clusters = g;
    tl_free(cl);
    return s;
}

/* X of one checkpoint: its symbols for binning and its R matrix for HSIC. */
static tl_status prepare_x(const tl_acts_meta *a, int xp, const tl_infoplane_opts *o, int m, int mh,
                           int32_t *x_ids, double *Rx, double **Fx, int *rx) {
    double *Z;
    tl_status s = load_standardized(a, xp, &Z);
    if (s) return s;
    int d = a->width[xp], n_sym;
    if (o->est & TL_EST_BINNING)
        s = o->x_binned ? tl_binned_symbols(Z, m, d, o->pca_dims, o->bins, x_ids, &n_sym)
                        : tl_symbols_exact(Z, m, d, x_ids, &n_sym);
    if (s == TL_OK && (o->est & TL_EST_HSIC)) s = tl_hsic_r(Z, mh, d, o->sigma, o->eps, Rx);
    tl_free(*Fx);
    *Fx = NULL;
    if (s == TL_OK && (o->est & TL_EST_HSIC) && o->boot > 0)
        s = tl_kernel_factor(Z, mh, d, o->sigma, BOOT_TOL * o->eps * mh, Fx, rx);
    tl_free(Z);
    return s;
}

/* One cell's bootstrap (status s of the estimator's resamples bo [boot, 4]) into pl->ci[e][.][k]. */
static tl_status boot_cell(plane *pl, int e, size_t k, int boot, tl_status s, const double *bo) {
    double ci[8], pt[4] = {e ? pl->h_ixt[k] : pl->b_ixt[k], e ? pl->h_ixt0[k] : pl->b_ixt0[k],
                           e ? pl->h_iyt[k] : pl->b_iyt[k], e ? pl->h_iyt0[k] : pl->b_iyt0[k]};
    if (s == TL_OK) s = tl_boot_plane_ci(bo, boot, pt, TL_Z95, ci);
    for (int q = 0; s == TL_OK && q < 8; q++) pl->ci[e][q][k] = ci[q];
    return s;
}

tl_status tl_infoplane_run(const tl_acts_series *s, tl_infoplane_opts *o, const char *out_dir) {
    const tl_acts_meta *a0 = s->items[0];
    int C = s->n, P = a0->n_points, m = (int)(o->split * a0->n);
    double t0 = tl_time_sec();
    if (!(o->split > 0 && o->split <= 1) || m < 2)
        return tl_errorf(TL_E_ARG, "infoplane: a %g split of %d rows leaves %d training rows", o->split, a0->n, m);
    if ((o->est & TL_EST_BINNING) && (o->pca_dims < 1 || o->pca_dims > 64 || o->bins < 1 || o->bins > 100000))
        return tl_errorf(TL_E_ARG, "infoplane: --pca-dims %d (1 .. 64) and --bins %d (1 .. 100000)", o->pca_dims,
                         o->bins);
    if ((o->est & TL_EST_HSIC) && (!(o->sigma > 0) || !(o->eps > 0) || o->hsic_rows < 0))
        return tl_errorf(TL_E_ARG, "infoplane: sigma %g and eps %g must be positive", o->sigma, o->eps);
    if (o->shuffles < 0 || o->shuffles > 10000 || !(o->alpha > 0 && o->alpha < 1))
        return tl_errorf(TL_E_ARG, "infoplane: %d shuffles (0 .. 10000), alpha %g (0 .. 1)", o->shuffles, o->alpha);
    if (o->boot < 0 || o->boot > 100000 || o->boot_shuffles < 0 || o->boot_shuffles > 1000)
        return tl_errorf(TL_E_ARG, "infoplane: %d bootstrap resamples (0 .. 100000), %d shuffles each (0 .. 1000)",
                         o->boot, o->boot_shuffles);
    o->max_saturation = 0;
    int xp = tl_acts_find_point(a0, o->x_point);
    if (xp < 0) return tl_errorf(TL_E_ARG, "infoplane: X point '%s' is not in %s", o->x_point, a0->dir);
    int idx[4], n_idx;
    tl_status st = choose_panels(a0, o->panels, idx, &n_idx);
    if (st) return st;
    int mh = o->hsic_rows > 0 && o->hsic_rows < m ? o->hsic_rows : m;
    int hs = (o->est & TL_EST_HSIC) != 0, nt = omp_get_max_threads();
    if (nt > P) nt = P;
    size_t cells = (size_t)C * P, mm = (size_t)mh * mh * (size_t)hs;
    plane pl = {0};
    int32_t *x_ids = tl_malloc((size_t)m * sizeof *x_ids);
    double *Rx = hs ? tl_malloc(mm * sizeof *Rx) : NULL, *Ry = hs ? tl_malloc(mm * sizeof *Ry) : NULL;
    double *Rt = hs ? tl_malloc(mm * (size_t)nt * sizeof *Rt) : NULL, *yd = tl_malloc((size_t)mh * sizeof *yd);
    double **fields[PLANE_FIELDS] = {&pl.b_ixt, &pl.b_iyt,  &pl.b_ht,   &pl.b_nsym, &pl.h_ixt,
                                      &pl.h_iyt, &pl.b_ixt0, &pl.b_iyt0, &pl.h_ixt0, &pl.h_iyt0};
    for (int e = 0; e < 2; e++)
        for (int q = 0; q < 8; q++) fields[10 + 8 * e + q] = &pl.ci[e][q];
    /* the bootstrap: the same resamples for every cell (binning: m rows, HSIC: the first mh) */
    double *Wb = NULL, *Wh = NULL, *Fx = NULL, *Fy = NULL;
    int n_cl_b = 0, n_cl_h = 0, rx = 0, ry = 0, boot = o->boot;
    tl_hsic_prep prx = {0}, pry = {0}; /* X's and Y's parts of every resample */
    double tr_rx = 0, tr_ry = 0;       /* tr(R) of X and Y: the exact shuffle means */
    int32_t *y_ids = tl_malloc((size_t)m * sizeof *y_ids), *t_ids = tl_malloc((size_t)m * nt * sizeof *t_ids);
    double *bootv = tl_malloc(((size_t)4 * boot * nt + 1) * sizeof *bootv);
    point_tests *tb = tl_calloc((size_t)P, sizeof *tb), *th = tl_calloc((size_t)P, sizeof *th);
    int ok = x_ids && yd && y_ids && t_ids && tb && th && bootv && (!hs || (Rx && Ry && Rt));
    for (int i = 0; i < PLANE_FIELDS; i++) {
        *fields[i] = tl_malloc(cells * sizeof(double));
        ok = ok && *fields[i];
        for (size_t k = 0; *fields[i] && k < cells; k++) (*fields[i])[k] = NAN;
    }
    if (!ok) st = tl_errorf(TL_E_NOMEM, "infoplane: out of memory (HSIC needs %d threads x %d x %d doubles)", nt + 2,
                            mh, mh);
    for (int i = 0; y_ids && i < m; i++) y_ids[i] = (int32_t)a0->labels[i];
    if (st == TL_OK && hs) { /* the labels are the same at every checkpoint: R_y once */
        for (int i = 0; i < mh; i++) yd[i] = (double)a0->labels[i];
        st = tl_hsic_r(yd, mh, 1, o->sigma, o->eps, Ry);
        for (int i = 0; st == TL_OK && i < mh; i++) tr_ry += Ry[(size_t)i * mh + i];
        if (st == TL_OK && boot) st = tl_kernel_factor(yd, mh, 1, o->sigma, BOOT_TOL * o->eps * mh, &Fy, &ry);
    }
    if (st == TL_OK && boot && (o->est & TL_EST_BINNING)) st = boot_weights(a0, o, m, o->seed + 7, &Wb, &n_cl_b);
    if (st == TL_OK && boot && hs) st = boot_weights(a0, o, mh, o->seed + 7, &Wh, &n_cl_h);
    if (st == TL_OK && boot && hs) st = tl_hsic_prep_make(Fy, ry, mh, Wh, boot, o->eps, &pry);
    int64_t done = 0, cell0 = 0, cell1 = (int64_t)cells; /* this rank's block of (checkpoint, point) cells */
    tl_dist_share((int64_t)cells, &cell0, &cell1);
    for (int c = 0; c < C && st == TL_OK; c++) {
        const tl_acts_meta *a = s->items[c];
        if ((int64_t)(c + 1) * P <= cell0 || (int64_t)c * P >= cell1) continue; /* none of this row is ours */
        if ((st = prepare_x(a, xp, o, m, mh, x_ids, Rx, &Fx, &rx))) {
            st = tl_error_prefix(st, "%s, X = %s", a->dir, o->x_point);
            break;
        }
        tl_hsic_prep_free(&prx);
        if (boot && hs && (st = tl_hsic_prep_make(Fx, rx, mh, Wh, boot, o->eps, &prx))) break;
        tr_rx = 0;
        for (int i = 0; hs && i < mh; i++) tr_rx += Rx[(size_t)i * mh + i];
        first_error err = {TL_OK, ""};
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int p = 0; p < P; p++) {
            if (err.s || (int64_t)c * P + p < cell0 || (int64_t)c * P + p >= cell1) continue;
            double *Z = NULL, *R = hs ? Rt + mm * (size_t)omp_get_thread_num() : NULL;
            double *bo = bootv + (size_t)4 * boot * omp_get_thread_num(); /* [boot, 4] of tl_boot_plane_ci */
            int d = a->width[p];
            size_t k = (size_t)c * P + p;
            int32_t *tid = t_ids + (size_t)m * omp_get_thread_num();
            uint64_t seed = o->seed * 1000003u + k; /* per cell: results do not depend on the threads */
            tl_status ps = load_standardized(a, p, &Z);
            if (ps == TL_OK && (o->est & TL_EST_BINNING)) {
                tl_binning_result r;
                int n_sym;
                double mi;
                ps = tl_binning_estimate(Z, x_ids, a->labels, m, d, o->pca_dims, o->bins, &r);
                if (ps == TL_OK) ps = tl_binned_symbols(Z, m, d, o->pca_dims, o->bins, tid, &n_sym);
                if (ps == TL_OK) ps = tl_mi_labels(x_ids, tid, m, o->shuffles, seed, &mi, &pl.b_ixt0[k]);
                if (ps == TL_OK) ps = tl_mi_labels(y_ids, tid, m, o->shuffles, seed + 1, &mi, &pl.b_iyt0[k]);
                if (ps == TL_OK) {
                    pl.b_ixt[k] = r.i_xt;
                    pl.b_iyt[k] = r.i_yt;
                    pl.b_ht[k] = r.h_t;
                    pl.b_nsym[k] = r.n_sym_t;
                }
                if (ps == TL_OK && boot) ps = boot_cell(&pl, 0, k, boot, tl_binning_boot(x_ids, tid, y_ids, m, Wb,
                                                 boot, o->boot_shuffles, seed + 4, bo), bo);
            }
            if (ps == TL_OK && hs && (ps = tl_hsic_r(Z, mh, d, o->sigma, o->eps, R)) == TL_OK) {
                pl.h_ixt[k] = tl_hsic_pair(Rx, R, mh);
                pl.h_iyt[k] = tl_hsic_pair(Ry, R, mh);
                /* the mean over every shuffle of the rows, exactly (R's rows sum to 0): tr(Ra) tr(Rb) / (m - 1) */
                double tr = 0;
                for (int i = 0; i < mh; i++) tr += R[(size_t)i * mh + i];
                pl.h_ixt0[k] = tr_rx * tr / (mh - 1);
                pl.h_iyt0[k] = tr_ry * tr / (mh - 1);
                double *Ft = NULL;
                int rt = 0;
                if (ps == TL_OK && boot) ps = tl_kernel_factor(Z, mh, d, o->sigma, BOOT_TOL * o->eps * mh, &Ft, &rt);
                if (ps == TL_OK && boot)
                    ps = boot_cell(&pl, 1, k, boot,
                                   tl_hsic_boot(&prx, Fx, &pry, Fy, Ft, rt, mh, Wh, boot, o->eps, bo), bo);
                tl_free(Ft);
            }
            tl_free(Z);
            if (ps) keep_error(&err, tl_error_prefix(ps, "%s, %s", a->dir, a->points[p]));
            else report_progress(o->progress, o->progress_user, &done, cell1 - cell0);
        }
        if (err.s) st = tl_errorf(err.s, "%s", err.msg);
    }
    /* under MPI: the blocks gather on rank 0 (copied, so every bit is the computing rank's),
     * which writes; every rank gets the whole plane back for the tests and the caller */
    st = tl_dist_agree(st);
    for (int i = 0; i < PLANE_FIELDS && st == TL_OK; i++)
        if ((st = tl_dist_gather_rows(*fields[i], sizeof(double), (int64_t)cells)) == TL_OK)
            st = tl_dist_bcast(*fields[i], cells * sizeof(double), 0);
    int n_sat = 0;
    for (size_t k = 0; st == TL_OK && (o->est & TL_EST_BINNING) && k < cells; k++) {
        o->max_saturation = fmax(o->max_saturation, pl.b_nsym[k] / m);
        n_sat += pl.b_nsym[k] > 0.5 * m;
    }
    if (n_sat && tl_dist_rank() == 0)
        tl_logf(TL_LOG_WARN,
                "infoplane: binning saturates: %d of %zu cells have more than m/2 distinct symbols (up to %.2f of "
                "m = %d); I(X;T) there measures the sample size. Use more rows, fewer bins or fewer PCA dimensions",
                n_sat, cells, o->max_saturation, m);
    if (st == TL_OK && m < 1000 && tl_dist_rank() == 0)
        tl_logf(TL_LOG_WARN, "infoplane: %d rows; the estimates are biased below about 1,000 rows", m);
    if (st == TL_OK && C >= 3 && (o->est & TL_EST_BINNING))
        st = plane_tests(pl.b_ixt, pl.b_ixt0, pl.b_iyt, pl.b_iyt0, C, P, o, tb);
    if (st == TL_OK && C >= 3 && hs) st = plane_tests(pl.h_ixt, pl.h_ixt0, pl.h_iyt, pl.h_iyt0, C, P, o, th);
    if (st == TL_OK && tl_dist_rank() == 0) st = out_dir_make(out_dir);
    plane_n pn = {m, mh, n_cl_b, n_cl_h};
    if (st == TL_OK && tl_dist_rank() == 0) st = plane_outputs(s, o, &pl, tb, th, &pn, tl_time_sec() - t0, out_dir);
    st = tl_dist_agree(st);
    /* the callers' copies: HSIC (the reference estimator) when it ran, corrected */
    const double *ix = hs ? pl.h_ixt : pl.b_ixt, *ix0 = hs ? pl.h_ixt0 : pl.b_ixt0;
    const double *iy = hs ? pl.h_iyt : pl.b_iyt, *iy0 = hs ? pl.h_iyt0 : pl.b_iyt0;
    const point_tests *pt = hs ? th : tb;
    for (size_t k = 0; st == TL_OK && k < cells; k++) {
        if (o->ixt_out) o->ixt_out[k] = ix[k] - ix0[k];
        if (o->iyt_out) o->iyt_out[k] = iy[k] - iy0[k];
        for (int q = 0; q < 2; q++) { /* the corrected values' bounds */
            if (o->ixt_ci_out) o->ixt_ci_out[2 * k + q] = boot ? pl.ci[hs][2 + q][k] : NAN;
            if (o->iyt_ci_out) o->iyt_ci_out[2 * k + q] = boot ? pl.ci[hs][6 + q][k] : NAN;
        }
    }
    for (int p = 0; st == TL_OK && p < P; p++) {
        if (o->p_rise_out) o->p_rise_out[p] = C >= 3 ? pt[p].rise.p : NAN;
        if (o->p_incr_out) o->p_incr_out[p] = C >= 3 ? pt[p].incr.p : NAN;
    }
    for (int i = 0; i < PLANE_FIELDS; i++) tl_free(*fields[i]);
    tl_free(y_ids);
    tl_free(t_ids);
    tl_free(tb);
    tl_free(th);
    tl_free(x_ids);
    tl_free(Rx);
    tl_free(Ry);
    tl_free(Rt);
    tl_free(yd);
    tl_free(bootv);
    tl_free(Wb);
    tl_free(Wh);
    tl_free(Fx);
    tl_free(Fy);
    tl_hsic_prep_free(&prx);
    tl_hsic_prep_free(&pry);
    return st;
}
