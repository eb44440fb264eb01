/* trust.c: the trust-dynamics experiment in one call (trust.h): per dimension
 * capture -> probes -> information plane (src/analysis), then the steering table
 * (vectors from series checkpoints and the chat model, applied to the chat model
 * at several scales, scored by src/eval), CSV/JSON/SVG and a Markdown summary. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "tiller/eval.h"
#include "analysis/stats.h" /* internal */
#include "report/report.h"
#include "tiller/tokenizer.h"
#include "tiller/trust.h"
#include "control/steer_vec.h"

#define PATH_CAP 4096
#define MAX_ITEMS 64
#define DEFAULT_TASKS "world_truth,world_stereotype,world_toxicity,world_capability"

void tl_trust_opts_default(tl_trust_opts *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.9;
    o->est = TL_EST_BOTH;
    o->hsic_rows = 1000;
    o->n_sources = 4;
    o->scales = "-4,-2,0,2,4";
    o->method = TL_STEER_MEAN_DIFF;
}

static void say(const tl_trust_opts *o, const char *fmt, ...) TL_PRINTF(2, 3);
static void say(const tl_trust_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(o->log_user, buf);
}

static tl_status make_dir(const char *dir) {
    if (tl_path_is_dir(dir)) return TL_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tl_errorf(TL_E_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    return TL_OK;
}

static tl_status join(char *buf, const char *a, const char *b) {
    if (snprintf(buf, PATH_CAP, "%s/%s", a, b) >= PATH_CAP) return tl_errorf(TL_E_ARG, "%s: path too long", a);
    return TL_OK;
}

/* Split a comma list into at most cap trimmed, non-empty items (copied into buf). */
static int split_list(const char *s, char *buf, size_t cap_buf, char **items, int cap) {
    snprintf(buf, cap_buf, "%s", s);
    int n = 0;
    for (char *p = buf; p && n < cap;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        while (*p == ' ') p++;
        size_t len = strlen(p);
        while (len && p[len - 1] == ' ') p[--len] = 0;
        if (*p) items[n++] = p;
        p = c ? c + 1 : NULL;
    }
    return n;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The dimensions of data_dir: every <name>.csv, except <x>_train / _val / _test / _pairs.csv
 * when <x>.csv exists too (the world's split copies and minimal pairs). Names go into buf. */
static tl_status find_dims(const char *dir, char *buf, size_t cap, char **items, int *n) {
    DIR *d = opendir(dir);
    if (!d) return tl_errorf(TL_E_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    char *names[MAX_ITEMS];
    int k = 0;
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) && k < MAX_ITEMS) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".csv") || used + len >= cap) continue;
        memcpy(buf + used, e->d_name, len - 4);
        buf[used + len - 4] = 0;
        names[k++] = buf + used;
        used += len - 3;
    }
    closedir(d);
    *n = 0;
    for (int i = 0; i < k; i++) {
        int split_copy = 0;
        for (int j = 0; j < k && !split_copy; j++) {
            size_t lj = strlen(names[j]);
            if (i != j && !strncmp(names[i], names[j], lj) &&
                (!strcmp(names[i] + lj, "_train") || !strcmp(names[i] + lj, "_test") ||
                 !strcmp(names[i] + lj, "_val") || !strcmp(names[i] + lj, "_pairs")))
                split_copy = 1;
        }
        if (!split_copy) items[(*n)++] = names[i];
    }
    if (*n == 0) return tl_errorf(TL_E_ARG, "%s: no statement,label .csv files", dir);
    qsort(items, (size_t)*n, sizeof *items, cmp_str);
    return TL_OK;
}

/* ---- per dimension: capture, probes, information plane ------------------------------- */

typedef struct {
    char name[128];
    int n_ckpt, n_pts;
    double *acc;          /* [ckpt, point] */
    double *ixt;          /* [ckpt, point] */
    int first_c, first_p; /* first checkpoint whose layer chosen on validation has a 95 % lower bound >= threshold */
    int best_c, best_p;   /* the (checkpoint, point) best on validation */
    double best_test, best_lo, best_hi;
    int n_test;
    char best_point[40], first_point[40];
    double *p_rise;       /* [point] p of "I(X;T) rises then falls" (permutation test over checkpoint order) */
    int rise_fall;    /* layers whose I(X;T) rises then falls at p <= 0.05 */
    int ixt_peak_mid; /* layers whose I(X;T) peaks at an inner checkpoint */
} dim_result;

static tl_status run_dimension(const tl_trust_opts *o, const tl_ckpt_list *ckpts, const char *data_dir, const char *dim,
                               dim_result *r) {
    char data[PATH_CAP], acts[PATH_CAP], out[PATH_CAP], tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s.csv", dim);
    tl_status s = join(data, data_dir, tmp);
    if (s == TL_OK) s = join(tmp, o->out, "acts");
    if (s == TL_OK) s = make_dir(tmp);
    if (s == TL_OK) s = join(acts, tmp, dim);
    if (s == TL_OK) s = join(out, o->out, dim);
    if (s) return s;
    tl_acts_run_opts ro = {0};
    ro.acts.points = "embed,resid_post"; /* embed: the embedding-layer baseline */
    ro.acts.reduce = TL_REDUCE_LAST;
    ro.acts.limit = o->acts_limit;
    ro.acts.truncate = 1;
    ro.tokenizer = o->tokenizer;
    tl_acts_run_report rep;
    say(o, "%s: capturing %d checkpoints", dim, ckpts->n);
    if ((s = tl_acts_run(ckpts, 1, data, &ro, acts, &rep))) return s;
    tl_acts_series *ser = NULL;
    if ((s = tl_acts_series_open(acts, &ser))) return s;
    int C = ser->n, P = ser->items[0]->n_points;
    r->n_ckpt = C;
    r->n_pts = P;
    r->acc = tl_malloc((size_t)C * P * sizeof(double));
    r->ixt = tl_malloc((size_t)C * P * sizeof(double));
    r->p_rise = tl_malloc((size_t)P * sizeof(double));
    if (!r->acc || !r->ixt || !r->p_rise) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    if (s == TL_OK) s = make_dir(out);
    if (s == TL_OK) {
        say(o, "%s: probes (%d checkpoints x %d layers)", dim, C, P);
        tl_probe_run_opts po = {0};
        tl_probe_opts_default(&po.probe);
        po.probe.val = 0.2; /* train 60 % | validation 20 % | test 20 %, file order */
        po.threshold = o->threshold;
        po.acc_out = r->acc;
        double *sel = tl_malloc((size_t)C * 5 * sizeof *sel);
        po.sel_out = sel;
        s = sel ? tl_probe_run(ser, &po, out) : tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
        if (s == TL_OK) {
            r->first_c = po.first_c;
            r->first_p = po.first_c >= 0 ? (int)sel[(size_t)po.first_c * 5] : -1;
            r->best_c = po.best_c;
            r->best_p = po.best_p;
            r->best_test = po.best_test;
            r->best_lo = po.best_lo;
            r->best_hi = po.best_hi;
            r->n_test = po.n_test;
            snprintf(r->best_point, sizeof r->best_point, "%s", ser->items[0]->points[po.best_p]);
            if (r->first_p >= 0)
                snprintf(r->first_point, sizeof r->first_point, "%s", ser->items[0]->points[r->first_p]);
        }
        tl_free(sel);
    }
    if (s == TL_OK) {
        say(o, "%s: information plane", dim);
        tl_infoplane_opts io;
        tl_infoplane_opts_default(&io);
        io.est = o->est;
        io.hsic_rows = o->hsic_rows;
        io.ixt_out = r->ixt;
        io.p_rise_out = r->p_rise;
        s = tl_infoplane_run(ser, &io, out);
    }
    if (s == TL_OK) { /* the summary: where accuracy passes the threshold; I(X;T)'s shape per layer */
        for (int p = 0; p < P && C >= 3; p++) {
            int peak = 0;
            for (int c = 0; c < C; c++)
                if (r->ixt[(size_t)c * P + p] > r->ixt[(size_t)peak * P + p]) peak = c;
            if (peak > 0 && peak < C - 1) r->ixt_peak_mid++;
            if (r->p_rise[p] <= 0.05) r->rise_fall++;
        }
    }
    tl_acts_series_free(ser);
    return s;
}

/* ---- the steering table ----------------------------------------------------------------- */

typedef struct {
    char name[128]; /* "ckpt-25" or "chat" */
    int64_t step;   /* -1 for the chat model */
    char path[PATH_CAP];
} source;

/* n sources spread over log(1 + step), first and last included. */
static int pick_sources(const tl_ckpt_list *l, int n, int *idx) {
    if (n >= l->n) {
        for (int i = 0; i < l->n; i++) idx[i] = i;
        return l->n;
    }
    double a = log1p((double)(l->items[0].step > 0 ? l->items[0].step : 0));
    double b = log1p((double)l->items[l->n - 1].step);
    int k = 0;
    for (int j = 0; j < n; j++) {
        double t = n > 1 ? a + (b - a) * j / (n - 1) : b;
        int best = -1;
        for (int i = 0; i < l->n; i++) {
            int used = 0;
            for (int q = 0; q < k; q++) used |= idx[q] == i;
            if (used) continue;
            if (best < 0 || fabs(log1p((double)l->items[i].step) - t) < fabs(log1p((double)l->items[best].step) - t))
                best = i;
        }
        if (best >= 0) idx[k++] = best;
    }
    for (int i = 1; i < k; i++) /* sort by index (= step order) */
        for (int j = i; j > 0 && idx[j] < idx[j - 1]; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    return k;
}

typedef struct {
    int src; /* index into sources, -1 for the unsteered baseline */
    double scale;
    int task, metric;
    double value, stderr_;
    int n;
    tl_paired_result vs_base; /* per-item comparison with the unsteered cell (n 0 for the baseline) */
} cell;

/* The unsteered model's per-item values of each task, [n_items, n_metrics]. */
typedef struct {
    double *v[16];
    int n_items[16], n_metrics[16];
} baseline_items;

typedef struct {
    cell *c;
    int n, cap;
} cells;

static tl_status add_results(cells *t, int src, double scale, int task, const tl_eval_result *r,
                              const baseline_items *base) {
    for (int m = 0; m < r->n_metrics; m++) {
        if (t->n == t->cap) {
            int nc = t->cap ? 2 * t->cap : 64;
            cell *p = tl_realloc(t->c, (size_t)nc * sizeof *p);
            if (!p) return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
            t->c = p;
            t->cap = nc;
        }
        cell *c = &t->c[t->n++];
        *c = (cell){src, scale, task, m, r->metrics[m].mean, r->metrics[m].stderr_, r->metrics[m].n, {0}};
        if (src >= 0 && base && base->v[task] && base->n_items[task] == r->n_items &&
            base->n_metrics[task] == r->n_metrics) {
            int n = r->n_items, nm = r->n_metrics;
            double *a = tl_malloc((size_t)2 * (n ? n : 1) * sizeof *a), *b = a ? a + n : NULL;
            if (!a) return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
            for (int i = 0; i < n; i++) {
                a[i] = base->v[task][(size_t)i * nm + m];
                b[i] = r->values[(size_t)i * nm + m];
            }
            tl_paired_values(a, b, n, &c->vs_base);
            tl_free(a);
        }
    }
    return TL_OK;
}

/* Evaluate every task on the chat model with the given hooks (none: baseline). */
static tl_status eval_all(const tl_trust_opts *o, const tl_model *m, const tl_tokenizer *tok, tl_eval_task **tasks,
                          int n_tasks, const tl_steer_hook *h, int src, double scale, cells *t,
                          char metric_names[][4][32], baseline_items *base) {
    tl_eval_opts eo;
    tl_eval_opts_default(&eo);
    eo.limit = o->eval_limit;
    eo.max_new_tokens = o->max_new;
    eo.n_workers = tl_eval_workers(m, &eo, 1 << 30); /* the steering hook is read-only: parallel is safe */
    tl_status s = h ? tl_steer_attach(h, &eo.hooks) : TL_OK;
    for (int k = 0; k < n_tasks && s == TL_OK; k++) {
        tl_eval_result r;
        memset(&r, 0, sizeof r);
        s = tl_eval_run(m, tok, tasks[k], &eo, &r);
        if (s == TL_OK) {
            for (int q = 0; q < r.n_metrics && q < 4; q++) snprintf(metric_names[k][q], 32, "%s", r.metrics[q].name);
            if (!h && k < 16 && r.values) { /* the unsteered run: keep its per-item values for the paired tests */
                size_t bytes = (size_t)r.n_items * r.n_metrics * sizeof(double);
                tl_free(base->v[k]);
                base->v[k] = tl_malloc(bytes ? bytes : 1);
                if (!base->v[k]) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
                else memcpy(base->v[k], r.values, bytes);
                base->n_items[k] = r.n_items;
                base->n_metrics[k] = r.n_metrics;
            }
            if (s == TL_OK) s = add_results(t, src, scale, k, &r, h ? base : NULL);
        }
        tl_eval_result_free(&r);
    }
    return s;
}

static double fmt_nan(double v) { return isfinite(v) ? v : 0; }

static tl_status write_steering(const tl_trust_opts *o, const source *src, int n_src, const double *scales,
                                int n_scales, tl_eval_task **tasks, int n_tasks, char metric_names[][4][32],
                                const cells *t, int layer_first, int layer_last, tl_strbuf *md) {
    char path[PATH_CAP];
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "source,step,scale,task,metric,value,stderr,n,"
                         "diff_vs_unsteered,diff_lo95,diff_hi95,p_sign_test,marked\n");
    cJSON *j = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "chat", o->chat);
    cJSON_AddStringToObject(j, "series", o->series);
    cJSON_AddStringToObject(j, "method", tl_steer_method_name(o->method));
    cJSON_AddStringToObject(j, "norm", o->norm == TL_STEER_NORM_UNIT ? "unit" : "std");
    cJSON_AddNumberToObject(j, "layer_first", layer_first);
    cJSON_AddNumberToObject(j, "layer_last", layer_last);
    cJSON_AddStringToObject(j, "positions", o->last_only ? "last" : "all");
    cJSON_AddItemToObject(j, "rows", rows);
    for (int i = 0; i < t->n; i++) {
        const cell *c = &t->c[i];
        /* the unsteered baseline is the scale-0 row of every source */
        for (int q = c->src < 0 ? 0 : c->src; q < (c->src < 0 ? n_src : c->src + 1); q++) {
            tl_strbuf_printf(&csv, "%s,%lld,%g,%s,%s,", src[q].name, (long long)src[q].step, c->scale,
                             tasks[c->task]->name, metric_names[c->task][c->metric]);
            if (isfinite(c->value)) tl_strbuf_printf(&csv, "%.6f", c->value);
            tl_strbuf_puts(&csv, ",");
            if (isfinite(c->stderr_)) tl_strbuf_printf(&csv, "%.6f", c->stderr_);
            tl_strbuf_printf(&csv, ",%d", c->n);
            const tl_paired_result *pr = &c->vs_base;
            if (pr->n > 0)
                tl_strbuf_printf(&csv, ",%.6f,%.6f,%.6f,%.6g,%d\n", pr->diff, pr->lo, pr->hi, pr->p, pr->p <= 0.05);
            else tl_strbuf_puts(&csv, ",,,,,0\n");
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "source", src[q].name);
            cJSON_AddNumberToObject(r, "step", (double)src[q].step);
            cJSON_AddNumberToObject(r, "scale", c->scale);
            cJSON_AddStringToObject(r, "task", tasks[c->task]->name);
            cJSON_AddStringToObject(r, "metric", metric_names[c->task][c->metric]);
            if (isfinite(c->value)) cJSON_AddNumberToObject(r, "value", c->value);
            else cJSON_AddNullToObject(r, "value");
            if (isfinite(c->stderr_)) cJSON_AddNumberToObject(r, "stderr", c->stderr_);
            else cJSON_AddNullToObject(r, "stderr");
            cJSON_AddNumberToObject(r, "n", c->n);
            if (c->vs_base.n > 0) {
                cJSON *v = cJSON_AddObjectToObject(r, "vs_unsteered");
                cJSON_AddStringToObject(v, "test", "two-sided exact sign test on per-item differences "
                                                   "(McNemar's exact test for 0/1 metrics)");
                cJSON_AddNumberToObject(v, "n", c->vs_base.n);
                cJSON_AddNumberToObject(v, "worse", (double)c->vs_base.only_a);
                cJSON_AddNumberToObject(v, "better", (double)c->vs_base.only_b);
                cJSON_AddNumberToObject(v, "diff", c->vs_base.diff);
                cJSON_AddNumberToObject(v, "lo95", c->vs_base.lo);
                cJSON_AddNumberToObject(v, "hi95", c->vs_base.hi);
                cJSON_AddNumberToObject(v, "p", c->vs_base.p);
            }
            cJSON_AddItemToArray(rows, r);
        }
    }
    tl_status s = join(path, o->out, "steering.csv");
    if (s == TL_OK) s = tl_strbuf_status(&csv);
    if (s == TL_OK) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    if (s == TL_OK && !text) s = tl_errorf(TL_E_NOMEM, "steering.json: out of memory");
    if (s == TL_OK) s = join(path, o->out, "steering.json");
    if (s == TL_OK) s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);

    /* per task: its first metric against the scale, one line per source; and the Markdown table */
    double *y = tl_malloc((size_t)n_src * n_scales * sizeof *y);
    tl_chart_series *ser = tl_malloc((size_t)n_src * sizeof *ser);
    if (s == TL_OK && (!y || !ser)) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    tl_strbuf_printf(md,
                     "\n## Steering table\n\nVectors (%s, layers %d-%d, %s positions) from each source, added "
                     "to the chat model `%s` at each scale. Cells: the task's first metric; `*` marks a cell that "
                     "differs from the unsteered model at p <= 0.05 (two-sided exact sign test on the per-item "
                     "differences, McNemar's exact test for 0/1 metrics; no correction over cells, so about 1 "
                     "in 20 is marked by chance; differences and intervals in steering.csv).\n\n",
                     tl_steer_method_name(o->method), layer_first, layer_last, o->last_only ? "last" : "all", o->chat);
    tl_strbuf_puts(md, "| source | scale |");
    for (int k = 0; k < n_tasks; k++) tl_strbuf_printf(md, " %s %s |", tasks[k]->name, metric_names[k][0]);
    tl_strbuf_puts(md, "\n|---|---:|");
    for (int k = 0; k < n_tasks; k++) tl_strbuf_puts(md, "---:|");
    tl_strbuf_puts(md, "\n");
    for (int q = 0; q < n_src && s == TL_OK; q++)
        for (int si = 0; si < n_scales; si++) {
            tl_strbuf_printf(md, "| %s | %g |", src[q].name, scales[si]);
            for (int k = 0; k < n_tasks; k++) {
                double v = NAN;
                int marked = 0;
                for (int i = 0; i < t->n; i++) {
                    const cell *c = &t->c[i];
                    if (c->task == k && c->metric == 0 && c->scale == scales[si] && (c->src == q || c->src < 0)) {
                        v = c->value;
                        marked = c->vs_base.n > 0 && c->vs_base.p <= 0.05;
                    }
                }
                if (isfinite(v)) tl_strbuf_printf(md, " %.3f%s |", v, marked ? "*" : "");
                else tl_strbuf_puts(md, " - |");
            }
            tl_strbuf_puts(md, "\n");
        }
    for (int k = 0; k < n_tasks && s == TL_OK; k++) {
        for (int q = 0; q < n_src; q++) {
            for (int si = 0; si < n_scales; si++) {
                double v = NAN;
                for (int i = 0; i < t->n; i++) {
                    const cell *c = &t->c[i];
                    if (c->task == k && c->metric == 0 && c->scale == scales[si] && (c->src == q || c->src < 0))
                        v = c->value;
                }
                y[(size_t)q * n_scales + si] = v;
            }
            ser[q] = (tl_chart_series){src[q].name, scales, y + (size_t)q * n_scales, n_scales};
        }
        char title[256], fname[300];
        snprintf(title, sizeof title, "Steering the chat model: %s (%s)", tasks[k]->name, metric_names[k][0]);
        tl_chart ch = {title, "steering scale", metric_names[k][0], 0, 0, TL_AXIS_LINEAR, 0, 0};
        tl_strbuf svg = {0};
        s = tl_svg_line_chart(&svg, &ch, ser, n_src);
        snprintf(fname, sizeof fname, "steering_%s.svg", tasks[k]->name);
        if (s == TL_OK) s = join(path, o->out, fname);
        if (s == TL_OK) s = tl_svg_save(&svg, path);
        tl_strbuf_free(&svg);
    }
    tl_free(y);
    tl_free(ser);
    return s;
}

static tl_status parse_scales(const char *s, double *out, int *n) {
    char buf[1024], *items[MAX_ITEMS];
    *n = split_list(s, buf, sizeof buf, items, MAX_ITEMS);
    for (int i = 0; i < *n; i++) {
        char *e;
        out[i] = strtod(items[i], &e);
        if (*e || !isfinite(out[i]))
            return tl_errorf(TL_E_ARG, "steering scales '%s': '%s' is not a number", s, items[i]);
    }
    if (*n == 0) return tl_errorf(TL_E_ARG, "steering scales: the list is empty");
    return TL_OK;
}

/* The vector sources: chosen checkpoints of the series (--sources steps, or
 * n_sources spread log-wise), then the chat model. src holds MAX_ITEMS + 1. */
static tl_status resolve_sources(const tl_trust_opts *o, const tl_ckpt_list *ckpts, source *src, int *n_out) {
    int idx[MAX_ITEMS], n_src = 0;
    tl_status s = TL_OK;
    if (o->sources) {
        char sbuf[1024], *items[MAX_ITEMS];
        int n = split_list(o->sources, sbuf, sizeof sbuf, items, MAX_ITEMS);
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
        n_src = pick_sources(ckpts, o->n_sources > 0 ? (o->n_sources < MAX_ITEMS ? o->n_sources : MAX_ITEMS) : 4, idx);
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

/* Everything the steering table reads, checked before any model time is spent:
 * scales, sources, the pair file, the tasks. */
static tl_status precheck_steering(const tl_trust_opts *o, const tl_ckpt_list *ckpts) {
    double scales[MAX_ITEMS];
    int n;
    tl_status s = parse_scales(o->scales, scales, &n);
    source *src = tl_calloc(MAX_ITEMS + 1, sizeof *src);
    if (s == TL_OK && !src) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    if (s == TL_OK) s = resolve_sources(o, ckpts, src, &n);
    tl_free(src);
    char pairs[PATH_CAP];
    if (s == TL_OK) {
        if (o->pairs) snprintf(pairs, sizeof pairs, "%s", o->pairs);
        else if (!o->world)
            s = tl_errorf(TL_E_ARG, "trust-dynamics: steering needs pairs (--pairs FILE or --world DIR)");
        else s = join(pairs, o->world, "steering/pairs.jsonl");
    }
    tl_steer_data *pd = NULL;
    if (s == TL_OK) s = tl_steer_data_load(pairs, o->pair_dim, 0, &pd);
    tl_steer_data_free(pd);
    char tbuf[1024], *tnames[16];
    int n_tasks = split_list(o->tasks ? o->tasks : DEFAULT_TASKS, tbuf, sizeof tbuf, tnames, 16);
    if (s == TL_OK && n_tasks == 0) s = tl_errorf(TL_E_ARG, "trust-dynamics: no evaluation tasks");
    tl_eval_load_opts lo = {o->eval_data ? o->eval_data : "../shared/data", o->world, NULL, 0};
    for (int k = 0; k < n_tasks && s == TL_OK; k++) {
        tl_eval_task *t = NULL;
        s = tl_eval_task_load(tnames[k], &lo, &t);
        tl_eval_task_free(t);
    }
    return s;
}

static tl_status steering(const tl_trust_opts *o, const tl_ckpt_list *ckpts, tl_strbuf *md) {
    double scales[MAX_ITEMS];
    int n_scales;
    tl_status s = parse_scales(o->scales, scales, &n_scales);
    if (s) return s;
    char tbuf[1024], *tnames[16];
    int n_tasks = split_list(o->tasks ? o->tasks : DEFAULT_TASKS, tbuf, sizeof tbuf, tnames, 16);
    if (n_tasks == 0) return tl_errorf(TL_E_ARG, "trust-dynamics: no evaluation tasks");
    char pairs[PATH_CAP];
    if (o->pairs) snprintf(pairs, sizeof pairs, "%s", o->pairs);
    else if (!o->world)
        return tl_errorf(TL_E_ARG, "trust-dynamics: steering needs pairs (--pairs FILE or --world DIR)");
    else if ((s = join(pairs, o->world, "steering/pairs.jsonl"))) return s;

    /* sources: chosen checkpoints of the series, then the chat model */
    source *src = tl_calloc(MAX_ITEMS + 1, sizeof *src);
    tl_eval_task *tasks[16] = {0};
    tl_steer_data *pd = NULL;
    tl_model *chat = NULL;
    tl_tokenizer *tok_owned = NULL;
    tl_steer_vec *vecs[MAX_ITEMS + 1] = {0};
    tl_steer_hook hook = {0};
    cells table = {0};
    baseline_items base = {0};
    char(*metric_names)[4][32] = tl_calloc(16, sizeof *metric_names);
    int n_src = 0;
    if (!src || !metric_names) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    if (s == TL_OK) s = resolve_sources(o, ckpts, src, &n_src);
    /* inputs first: tasks and pairs fail before model time is spent */
    tl_eval_load_opts lo = {o->eval_data ? o->eval_data : "../shared/data", o->world, NULL, 0};
    for (int k = 0; k < n_tasks && s == TL_OK; k++) s = tl_eval_task_load(tnames[k], &lo, &tasks[k]);
    if (s == TL_OK) s = tl_steer_data_load(pairs, o->pair_dim, 0, &pd);
    if (s == TL_OK) s = tl_model_load(o->chat, &chat);
    if (s == TL_OK && o->tokenizer) s = tl_tokenizer_load(o->tokenizer, &tok_owned);
    const tl_tokenizer *tok = NULL;
    if (s == TL_OK) s = tl_model_pick_tokenizer(chat, tok_owned, &tok);
    int first = 0, last = 0;
    if (s == TL_OK) {
        if (o->layers) s = tl_steer_parse_layers(o->layers, chat->cfg.n_layers, &first, &last);
        else first = last = chat->cfg.n_layers / 2 > 0 ? chat->cfg.n_layers / 2 : 1;
    }
    char vdir[PATH_CAP], layer_spec[32];
    snprintf(layer_spec, sizeof layer_spec, "%d-%d", first, last);
    if (s == TL_OK) s = join(vdir, o->out, "vectors");
    if (s == TL_OK) s = make_dir(vdir);
    tl_steer_build_opts bo;
    tl_steer_build_opts_default(&bo);
    bo.method = o->method;
    bo.norm = o->norm;
    bo.layers = layer_spec;
    for (int q = 0; q < n_src && s == TL_OK; q++) {
        tl_model *m = NULL;
        const tl_model *use = chat;
        if (src[q].step >= 0) {
            s = tl_model_load(src[q].path, &m);
            use = m;
        }
        const tl_tokenizer *btok = NULL;
        if (s == TL_OK) s = tl_model_pick_tokenizer(use, tok_owned, &btok);
        say(o, "steering: building the vector of %s", src[q].name);
        if (s == TL_OK) s = tl_steer_build(use, btok, pd, &bo, &vecs[q]);
        char fname[200], path[PATH_CAP];
        snprintf(fname, sizeof fname, "%s.gguf", src[q].name);
        if (s == TL_OK) s = join(path, vdir, fname);
        if (s == TL_OK) s = tl_steer_save(vecs[q], path);
        if (s == TL_OK) { /* transfer: the vector must fit the chat model */
            tl_steer_hook h = {vecs[q], 1.0f, first, last, o->last_only};
            s = tl_steer_check(&h, &chat->cfg, src[q].path);
        }
        tl_model_free(m);
    }
    if (s == TL_OK) {
        say(o, "steering: evaluating the unsteered chat model");
        s = eval_all(o, chat, tok, tasks, n_tasks, NULL, -1, 0.0, &table, metric_names, &base);
    }
    for (int q = 0; q < n_src && s == TL_OK; q++)
        for (int si = 0; si < n_scales && s == TL_OK; si++) {
            if (scales[si] == 0) continue; /* identical to the baseline (test_steer: bit-identical logits) */
            say(o, "steering: %s x %g", src[q].name, scales[si]);
            hook = (tl_steer_hook){vecs[q], (float)scales[si], first, last, o->last_only};
            s = eval_all(o, chat, tok, tasks, n_tasks, &hook, q, scales[si], &table, metric_names, &base);
        }
    if (s == TL_OK) {
        /* the unsteered baseline is written as the scale-0 row of every source, whether or not 0 is
         * among the scales (the Markdown table and the charts show the chosen scales only) */
        s = write_steering(o, src, n_src, scales, n_scales, tasks, n_tasks, metric_names, &table, first, last, md);
    }
    for (int q = 0; q < n_src; q++) tl_steer_vec_free(vecs[q]);
    for (int k = 0; k < n_tasks; k++) tl_eval_task_free(tasks[k]);
    tl_steer_data_free(pd);
    tl_tokenizer_free(tok_owned);
    tl_model_free(chat);
    tl_free(table.c);
    for (int k = 0; k < 16; k++) tl_free(base.v[k]);
    tl_free(metric_names);
    tl_free(src);
    return s;
}

/* ---- the whole run ------------------------------------------------------------------------ */

tl_status tl_trust_dynamics_run(const tl_trust_opts *o) {
    if (!o->series || !o->chat || !o->out)
        return tl_errorf(TL_E_ARG, "trust-dynamics: the series, the chat model and the output directory are required");
    if (!(o->threshold > 0 && o->threshold <= 1))
        return tl_errorf(TL_E_ARG, "trust-dynamics: threshold %g is not in (0, 1]", o->threshold);
    char data_dir[PATH_CAP], dbuf[4096], *dims[MAX_ITEMS];
    int n_dims = 0;
    tl_status s = TL_OK;
    if (o->steer_only && o->no_steer) return tl_errorf(TL_E_ARG, "trust-dynamics: steer_only with no_steer leaves nothing");
    if (o->steer_only) snprintf(data_dir, sizeof data_dir, "(none)");
    else if (o->data_dir) snprintf(data_dir, sizeof data_dir, "%s", o->data_dir);
    else if (!o->world) return tl_errorf(TL_E_ARG, "trust-dynamics: give the probe data (--data DIR or --world DIR)");
    else if ((s = join(data_dir, o->world, "probes"))) return s;
    if (o->steer_only) n_dims = 0; /* the caller ran capture, probes and the information plane */
    else if (o->dims) n_dims = split_list(o->dims, dbuf, sizeof dbuf, dims, MAX_ITEMS);
    else if ((s = find_dims(data_dir, dbuf, sizeof dbuf, dims, &n_dims))) return s;
    if (n_dims == 0 && !o->steer_only) return tl_errorf(TL_E_ARG, "trust-dynamics: no dimensions");
    for (int i = 0; i < n_dims; i++) { /* every data file must exist before any capture starts */
        char path[PATH_CAP], tmp[300];
        snprintf(tmp, sizeof tmp, "%s.csv", dims[i]);
        if ((s = join(path, data_dir, tmp))) return s;
        tl_dataset *d = NULL;
        if ((s = tl_dataset_load(path, &d))) return s;
        tl_dataset_free(d);
    }
    tl_ckpt_list ckpts = {0};
    if ((s = tl_series_list(o->series, &ckpts))) return s;
    if (ckpts.n == 0) s = tl_errorf(TL_E_ARG, "%s: no checkpoints", o->series);
    if (s == TL_OK && !o->no_steer) s = precheck_steering(o, &ckpts);
    if (s) {
        tl_ckpt_list_free(&ckpts);
        return s;
    }
    if ((s = make_dir(o->out))) {
        tl_ckpt_list_free(&ckpts);
        return s;
    }
    double t0 = tl_time_sec();
    dim_result *res = tl_calloc((size_t)(n_dims > 0 ? n_dims : 1), sizeof *res); /* steer_only: none */
    tl_strbuf md = {0};
    if (!res) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    for (int i = 0; i < n_dims && s == TL_OK; i++) {
        snprintf(res[i].name, sizeof res[i].name, "%s", dims[i]);
        s = run_dimension(o, &ckpts, data_dir, dims[i], &res[i]);
    }
    if (o->steer_only)
        tl_strbuf_printf(&md, "# Trust dynamics: steering only\n\nSeries `%s` (%d checkpoints), chat model `%s`.\n",
                         o->series, ckpts.n, o->chat);
    else /* the probe table's header */
        tl_strbuf_printf(&md,
                         "# Trust dynamics\n\nSeries `%s` (%d checkpoints, steps %lld .. %lld), chat model `%s`, "
                         "data `%s`.\n\n## Probes and the information plane\n\n"
                         "| dimension | first checkpoint whose probe's 95 %% lower bound >= %.2f (layer) | best probe "
                         "on validation: test acc [95 %% CI] (checkpoint, layer; n) | layers where I(X;T) rises then "
                         "falls (p <= 0.05) |\n|---|---|---|---|\n",
                         o->series, ckpts.n, (long long)ckpts.items[0].step, (long long)ckpts.items[ckpts.n - 1].step,
                         o->chat, data_dir, o->threshold);
    cJSON *sum = cJSON_CreateObject(), *jd = cJSON_AddObjectToObject(sum, "dimensions");
    for (int i = 0; i < n_dims && s == TL_OK; i++) {
        dim_result *r = &res[i];
        int P = r->n_pts;
        const tl_ckpt *bc = &ckpts.items[r->best_c < ckpts.n ? r->best_c : 0];
        double best = r->best_test;
        char first[160] = "never";
        if (r->first_c >= 0)
            snprintf(first, sizeof first, "step %lld (%s)", (long long)ckpts.items[r->first_c].step, r->first_point);
        tl_strbuf_printf(&md, "| %s | %s | %.3f [%.3f, %.3f] (step %lld, %s; n = %d) | %d of %d |\n", r->name, first,
                         best, r->best_lo, r->best_hi, (long long)bc->step, r->best_point, r->n_test, r->rise_fall, P);
        cJSON *d = cJSON_AddObjectToObject(jd, r->name);
        if (r->first_c >= 0) {
            cJSON_AddNumberToObject(d, "first_step_above_threshold", (double)ckpts.items[r->first_c].step);
            cJSON_AddStringToObject(d, "first_point_above_threshold", r->first_point);
        } else {
            cJSON_AddNullToObject(d, "first_step_above_threshold");
            cJSON_AddNullToObject(d, "first_point_above_threshold");
        }
        cJSON_AddNumberToObject(d, "best_acc", fmt_nan(best));
        cJSON_AddNumberToObject(d, "best_acc_lo95", fmt_nan(r->best_lo));
        cJSON_AddNumberToObject(d, "best_acc_hi95", fmt_nan(r->best_hi));
        cJSON_AddNumberToObject(d, "n_test", r->n_test);
        cJSON_AddStringToObject(d, "best_point", r->best_point);
        cJSON_AddNumberToObject(d, "best_step", (double)bc->step);
        cJSON_AddNumberToObject(d, "layers_ixt_rise_then_fall", r->rise_fall);
        cJSON_AddNumberToObject(d, "layers_ixt_peak_inside", r->ixt_peak_mid);
        cJSON_AddNumberToObject(d, "layers", P);
    }
    cJSON_AddNumberToObject(sum, "threshold", o->threshold);
    if (!o->steer_only)
        tl_strbuf_puts(&md, "\nI(X;T) rises then falls: a permutation test over the checkpoint order of an umbrella "
                            "statistic (the smaller of Kendall's tau of the rise and of the fall, best peak), on the "
                            "shuffle-corrected estimate (normalised HSIC when it ran, else binning), p <= 0.05 per "
                            "layer; with no effect about 5 % of the layers pass by chance. Per-layer p-values: "
                            "<dim>/infoplane_tests.csv.\n");
    if (s == TL_OK && !o->no_steer) s = steering(o, &ckpts, &md);
    tl_strbuf_printf(&md, "\nTotal time %.1f s.\n", tl_time_sec() - t0);
    char path[PATH_CAP];
    if (s == TL_OK) s = tl_strbuf_status(&md);
    if (s == TL_OK) s = join(path, o->out, "summary.md");
    if (s == TL_OK) s = tl_file_write_atomic(path, md.s, md.len);
    char *text = s == TL_OK ? cJSON_Print(sum) : NULL;
    if (s == TL_OK && !text) s = tl_errorf(TL_E_NOMEM, "summary.json: out of memory");
    if (s == TL_OK) s = join(path, o->out, "summary.json");
    if (s == TL_OK) s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    cJSON_Delete(sum);
    tl_strbuf_free(&md);
    for (int i = 0; res && i < n_dims; i++) {
        tl_free(res[i].acc);
        tl_free(res[i].ixt);
        tl_free(res[i].p_rise);
    }
    tl_free(res);
    tl_ckpt_list_free(&ckpts);
    return s;
}
