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
#include "trust_protocol.h"

#define PATH_CAP 4096
#define MAX_ITEMS 64
#define MAX_SEEDS 16

void tl_trust_opts_default(tl_trust_opts *o) {
    memset(o, 0, sizeof *o);
    o->threshold = 0.9;
    o->est = TL_EST_BOTH;
    o->hsic_rows = 1000;
    o->n_sources = 2; /* with the chat model: a mid-training checkpoint, the final one, the chat model */
    o->scales = "-4,-2,0,2,4";
    o->method = TL_STEER_MEAN_DIFF;
    o->last_only = 1; /* the reference's hook (token_pos = -1) */
    o->fit_share = 0.4;
    o->seed = 1;
    o->alpha = 0.05;
    o->random_dirs = 3; /* the random-direction baseline of each push (docs/steering.md) */
}

void tl_trust_say(const tl_trust_opts *o, const char *fmt, ...) {
    if (!o->log) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->log(o->log_user, buf);
}

tl_status tl_trust_make_dir(const char *dir) {
    if (tl_path_is_dir(dir)) return TL_OK;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return tl_errorf(TL_E_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    return TL_OK;
}

tl_status tl_trust_join(char *buf, const char *a, const char *b) {
    if (snprintf(buf, PATH_CAP, "%s/%s", a, b) >= PATH_CAP) return tl_errorf(TL_E_ARG, "%s: path too long", a);
    return TL_OK;
}

/* Split a comma list into at most cap trimmed, non-empty items (copied into buf). */
int tl_trust_split_list(const char *s, char *buf, size_t cap_buf, char **items, int cap) {
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

/* A single model file as a one-checkpoint series (its step 0 unless the name says ckpt-<step>). */
static tl_status one_model(const char *path, tl_ckpt_list *out) {
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    out->items = tl_calloc(1, sizeof *out->items);
    if (!out->items) return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    out->n = 1;
    out->items[0].name = tl_strdup(base);
    out->items[0].path = tl_strdup(path);
    if (!out->items[0].name || !out->items[0].path) {
        tl_ckpt_list_free(out);
        return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    }
    char *dot = strrchr(out->items[0].name, '.');
    if (dot && dot != out->items[0].name) *dot = 0;
    long long step = 0;
    if (sscanf(out->items[0].name, "ckpt-%lld", &step) == 1) out->items[0].step = step;
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
    double bow, rand_test, rand_lo, rand_hi; /* baselines: bag of words; random init of the same shape (best on val) */
    double bow_lo, bow_hi;             /* the bag of words' Wilson 95 % interval */
    double best_blo, best_bhi;         /* the best probe's cluster bootstrap interval (entities, else rows) */
    double rand_blo, rand_bhi;
    int n_clusters;
    int bow_n, rand_n;
    char rand_point[40];
    /* the random-init baseline over weight seeds: rand_test is their mean, rand_lo / rand_hi the
     * envelope of their Wilson intervals, rand_blo / rand_bhi of their bootstrap intervals */
    int rand_seeds;
    double rand_seed_acc[MAX_SEEDS], rand_min, rand_max;
    double shuffled, majority; /* at the best checkpoint: shuffled training labels, majority class */
    double *p_rise;       /* [point] p of "I(X;T) rises then falls" (permutation test over checkpoint order) */
    int rise_fall;    /* layers whose I(X;T) rises then falls at p <= 0.05 */
    int ixt_peak_mid; /* layers whose I(X;T) peaks at an inner checkpoint */
} dim_result;

/* The random-init baseline of one dimension: each random model (one per weight seed) is
 * captured like a checkpoint (OUT/acts-random/s<seed>/<dim>) and probed with the same protocol
 * (OUT/<dim>/random_init/s<seed>/), its layer chosen on validation; one seed's figure alone
 * would mix the probe's sampling error with the draw of the weights. */
static tl_status random_baseline(const tl_trust_opts *o, const tl_ckpt_list *rnd, int n_rnd, const char *data,
                                 const char *dim, const tl_acts_run_opts *ro, dim_result *r) {
    double sum = 0;
    r->rand_seeds = 0;
    r->rand_min = r->rand_lo = r->rand_blo = INFINITY;
    r->rand_max = r->rand_hi = r->rand_bhi = -INFINITY;
    for (int k = 0; k < n_rnd && k < MAX_SEEDS; k++) {
        char acts[PATH_CAP], tmp[PATH_CAP], out[PATH_CAP], sub[64];
        snprintf(sub, sizeof sub, "s%d", k + 1);
        tl_status s = tl_trust_join(tmp, o->out, "acts-random");
        if (s == TL_OK) s = tl_trust_make_dir(tmp);
        if (s == TL_OK) s = tl_trust_join(acts, tmp, sub);
        if (s == TL_OK) s = tl_trust_make_dir(acts);
        if (s == TL_OK) s = tl_trust_join(tmp, acts, dim);
        if (s == TL_OK) snprintf(acts, sizeof acts, "%s", tmp);
        if (s == TL_OK) s = tl_trust_join(tmp, o->out, dim);
        if (s == TL_OK) s = tl_trust_join(out, tmp, "random_init");
        if (s == TL_OK) s = tl_trust_make_dir(out);
        if (s == TL_OK) s = tl_trust_join(tmp, out, sub);
        if (s == TL_OK) snprintf(out, sizeof out, "%s", tmp);
        if (s == TL_OK) s = tl_trust_make_dir(out);
        tl_acts_run_report rep;
        if (s == TL_OK) s = tl_acts_run(&rnd[k], 1, data, ro, acts, &rep);
        tl_acts_series *ser = NULL;
        if (s == TL_OK) s = tl_acts_series_open(acts, &ser);
        if (s) return s;
        tl_probe_run_opts po = {0};
        tl_probe_opts_default(&po.probe);
        po.probe.val = 0.2;
        po.threshold = o->threshold;
        s = tl_probe_run(ser, &po, out);
        if (s == TL_OK) {
            r->rand_seed_acc[r->rand_seeds++] = po.best_test;
            sum += po.best_test;
            r->rand_min = fmin(r->rand_min, po.best_test), r->rand_max = fmax(r->rand_max, po.best_test);
            r->rand_lo = fmin(r->rand_lo, po.best_lo), r->rand_hi = fmax(r->rand_hi, po.best_hi);
            r->rand_blo = fmin(r->rand_blo, po.best_boot_lo), r->rand_bhi = fmax(r->rand_bhi, po.best_boot_hi);
            r->rand_n = po.n_test;
            if (k == 0) snprintf(r->rand_point, sizeof r->rand_point, "%s", ser->items[0]->points[po.best_p]);
        }
        tl_acts_series_free(ser);
        if (s) return s;
    }
    r->rand_test = r->rand_seeds ? sum / r->rand_seeds : NAN;
    return TL_OK;
}

/* The shuffled-label and majority baselines of the best checkpoint, from the probe's own
 * probe_selection.csv (tl_probe_run writes them per checkpoint). */
static void read_selection_baselines(const char *out, const char *ckpt_name, dim_result *r) {
    char path[PATH_CAP];
    r->shuffled = r->majority = NAN;
    if (tl_trust_join(path, out, "probe_selection.csv")) return;
    tl_table t;
    int exists = 0;
    if (tl_table_read(path, &t, &exists) || !exists) return;
    int cc = tl_table_col(&t, "checkpoint"), cs = tl_table_col(&t, "shuffled_labels_acc"),
        cm = tl_table_col(&t, "majority_acc");
    for (int i = 0; i < t.n_rows; i++)
        if (cc >= 0 && !strcmp(tl_table_cell(&t, i, cc), ckpt_name)) {
            r->shuffled = tl_table_num(&t, i, cs);
            r->majority = tl_table_num(&t, i, cm);
        }
    tl_table_free(&t);
}

static tl_status run_dimension(const tl_trust_opts *o, const tl_ckpt_list *ckpts, const tl_ckpt_list *rnd, int n_rnd,
                               const char *data_dir, const char *dim, dim_result *r) {
    char data[PATH_CAP], acts[PATH_CAP], out[PATH_CAP], tmp[PATH_CAP];
    snprintf(tmp, sizeof tmp, "%s.csv", dim);
    tl_status s = tl_trust_join(data, data_dir, tmp);
    if (s == TL_OK) s = tl_trust_join(tmp, o->out, "acts");
    if (s == TL_OK) s = tl_trust_make_dir(tmp);
    if (s == TL_OK) s = tl_trust_join(acts, tmp, dim);
    if (s == TL_OK) s = tl_trust_join(out, o->out, dim);
    if (s) return s;
    tl_acts_run_opts ro = {0};
    ro.acts.points = "embed,resid_post"; /* embed: the embedding-layer baseline */
    ro.acts.reduce = TL_REDUCE_LAST;
    ro.acts.limit = o->acts_limit;
    ro.acts.truncate = 1;
    ro.tokenizer = o->tokenizer;
    tl_acts_run_report rep;
    tl_trust_say(o, "%s: capturing %d checkpoints", dim, ckpts->n);
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
    if (s == TL_OK) s = tl_trust_make_dir(out);
    /* the baselines first, so that the probe's chart and probe_selection.csv carry them too */
    r->bow = r->rand_test = r->rand_lo = r->rand_hi = r->rand_blo = r->rand_bhi = NAN;
    r->bow_lo = r->bow_hi = NAN;
    if (s == TL_OK) s = tl_trust_bow(data, o->acts_limit, 0.8, 0.2, &r->bow, &r->bow_n);
    if (s == TL_OK && r->bow_n > 0)
        tl_wilson((int64_t)llround(r->bow * r->bow_n), r->bow_n, TL_Z95, &r->bow_lo, &r->bow_hi);
    if (s == TL_OK && n_rnd > 0) {
        tl_trust_say(o, "%s: the random-init baseline (%d weight seeds)", dim, n_rnd);
        s = random_baseline(o, rnd, n_rnd, data, dim, &ro, r);
    }
    if (s == TL_OK) {
        tl_trust_say(o, "%s: probes (%d checkpoints x %d layers)", dim, C, P);
        tl_probe_run_opts po = {0};
        tl_probe_opts_default(&po.probe);
        po.probe.val = 0.2; /* train 60 % | validation 20 % | test 20 %, file order */
        po.threshold = o->threshold;
        po.acc_out = r->acc;
        po.bow_acc = r->bow;
        if (isfinite(r->rand_test))
            po.random_init_acc = r->rand_test, po.random_init_lo = r->rand_lo, po.random_init_hi = r->rand_hi;
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
            r->best_blo = po.best_boot_lo, r->best_bhi = po.best_boot_hi, r->n_clusters = po.n_clusters;
            r->n_test = po.n_test;
            snprintf(r->best_point, sizeof r->best_point, "%s", ser->items[0]->points[po.best_p]);
            if (r->first_p >= 0)
                snprintf(r->first_point, sizeof r->first_point, "%s", ser->items[0]->points[r->first_p]);
            read_selection_baselines(out, ser->items[po.best_c]->name, r);
        }
        tl_free(sel);
    }
    if (s == TL_OK) {
        tl_trust_say(o, "%s: information plane", dim);
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

static double fmt_nan(double v) { return isfinite(v) ? v : 0; }

/* ---- the whole run ------------------------------------------------------------------------ */

tl_status tl_trust_dynamics_run(const tl_trust_opts *o) {
    if (!o->series || !o->out || (!o->chat && !o->no_steer))
        return tl_errorf(TL_E_ARG, "trust-dynamics: the series, the output directory and (to steer) the chat model "
                                   "are required");
    if (!(o->threshold > 0 && o->threshold <= 1))
        return tl_errorf(TL_E_ARG, "trust-dynamics: threshold %g is not in (0, 1]", o->threshold);
    char data_dir[PATH_CAP], dbuf[4096], *dims[MAX_ITEMS];
    int n_dims = 0;
    tl_status s = TL_OK;
    if (o->steer_only && o->no_steer) return tl_errorf(TL_E_ARG, "trust-dynamics: steer_only with no_steer leaves nothing");
    if (o->steer_only) snprintf(data_dir, sizeof data_dir, "(none)");
    else if (o->data_dir) snprintf(data_dir, sizeof data_dir, "%s", o->data_dir);
    else if (!o->world) return tl_errorf(TL_E_ARG, "trust-dynamics: give the probe data (--data DIR or --world DIR)");
    else if ((s = tl_trust_join(data_dir, o->world, "probes"))) return s;
    if (o->steer_only) n_dims = 0; /* the caller ran capture, probes and the information plane */
    else if (o->dims) n_dims = tl_trust_split_list(o->dims, dbuf, sizeof dbuf, dims, MAX_ITEMS);
    else if ((s = find_dims(data_dir, dbuf, sizeof dbuf, dims, &n_dims))) return s;
    if (n_dims == 0 && !o->steer_only) return tl_errorf(TL_E_ARG, "trust-dynamics: no dimensions");
    char skipped[1024] = "";
    for (int i = 0; i < n_dims; i++) { /* every data file must exist before any capture starts */
        char path[PATH_CAP], tmp[300];
        snprintf(tmp, sizeof tmp, "%s.csv", dims[i]);
        if ((s = tl_trust_join(path, data_dir, tmp))) return s;
        tl_dataset *d = NULL;
        s = tl_dataset_load(path, &d);
        tl_dataset_free(d);
        if (s == TL_E_FORMAT && !o->dims && strstr(tl_last_error(), "the header has no")) {
            /* found, not named: a CSV of another shape beside the sets (shared/data/trust's
             * truthfulqa_test.csv holds unlabelled questions) is left out, and the summary says so */
            tl_trust_say(o, "%s: left out (%s)", tmp, tl_last_error());
            size_t used = strlen(skipped);
            snprintf(skipped + used, sizeof skipped - used, "%s%s", used ? ", " : "", tmp);
            for (int j = i; j + 1 < n_dims; j++) dims[j] = dims[j + 1];
            n_dims--, i--;
            s = TL_OK;
            continue;
        }
        if (s) return s;
    }
    if (n_dims == 0 && !o->steer_only)
        return tl_errorf(TL_E_ARG, "%s: no statement,label .csv files (left out: %s)", data_dir, skipped);
    tl_ckpt_list ckpts = {0};
    if (tl_path_exists(o->series) && !tl_path_is_dir(o->series)) s = one_model(o->series, &ckpts); /* a model file */
    else s = tl_series_list(o->series, &ckpts);
    if (s) return s;
    if (ckpts.n == 0) s = tl_errorf(TL_E_ARG, "%s: no checkpoints", o->series);
    if (s == TL_OK && !o->no_steer) s = tl_trust_steering_precheck(o, &ckpts);
    if (s) {
        tl_ckpt_list_free(&ckpts);
        return s;
    }
    if ((s = tl_trust_make_dir(o->out))) {
        tl_ckpt_list_free(&ckpts);
        return s;
    }
    double t0 = tl_time_sec();
    dim_result *res = tl_calloc((size_t)(n_dims > 0 ? n_dims : 1), sizeof *res); /* steer_only: none */
    tl_strbuf md = {0};
    if (!res) s = tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    tl_ckpt_list rnd[MAX_SEEDS] = {{0}};
    int n_rnd = 0, want_rnd = o->random_seeds > 0 ? o->random_seeds : 3;
    if (want_rnd > MAX_SEEDS) want_rnd = MAX_SEEDS;
    if (s == TL_OK && n_dims > 0 && !o->no_random_baseline) {
        tl_trust_say(o, "the random-init baseline: %d models of the same shape with random weights (seeds 1 .. %d)",
                     want_rnd, want_rnd);
        for (; n_rnd < want_rnd && s == TL_OK; n_rnd++) s = tl_trust_random_model(o, &ckpts, n_rnd + 1, &rnd[n_rnd]);
    }
    for (int i = 0; i < n_dims && s == TL_OK; i++) {
        snprintf(res[i].name, sizeof res[i].name, "%s", dims[i]);
        s = run_dimension(o, &ckpts, rnd, n_rnd, data_dir, dims[i], &res[i]);
    }
    for (int k = 0; k < MAX_SEEDS; k++) tl_ckpt_list_free(&rnd[k]);
    if (o->steer_only)
        tl_strbuf_printf(&md, "# Trust dynamics: steering only\n\nSeries `%s` (%d checkpoints), chat model `%s`.\n",
                         o->series, ckpts.n, o->chat ? o->chat : "(none)");
    else { /* the probe table's header */
        tl_strbuf_printf(&md,
                         "# Trust dynamics\n\nSeries `%s` (%d checkpoints, steps %lld .. %lld), chat model `%s`, "
                         "data `%s`.\n\n",
                         o->series, ckpts.n, (long long)ckpts.items[0].step, (long long)ckpts.items[ckpts.n - 1].step,
                         o->chat ? o->chat : "(none: --no-steer)", data_dir);
        if (skipped[0])
            tl_strbuf_printf(&md, "Left out of the data folder (no statement and label columns): %s.\n\n", skipped);
        tl_strbuf_printf(&md,
                         "## Probes and the information plane\n\n"
                         "Every accuracy is on the test split (the last 20 %% of each file); layers and checkpoints "
                         "are chosen on the validation split (the 20 %% before it).\n\n"
                         "| dimension | first checkpoint whose probe's 95 %% bootstrap lower bound >= %.2f (layer) "
                         "| best probe on validation: test acc [Wilson 95 %% CI], bootstrap (checkpoint, layer; n) "
                         "| random init, same shape: mean test acc over %d weight seeds (each seed's acc) "
                         "[envelope of their Wilson 95 %% CIs], bootstrap [envelope] (seed 1's layer) "
                         "| bag of words: test acc [Wilson 95 %%] | shuffled training labels | majority class "
                         "| layers where I(X;T) rises then falls (p <= 0.05) |\n|---|---|---|---|---|---|---|---|\n",
                         o->threshold, n_rnd);
    }
    cJSON *sum = cJSON_CreateObject(), *jd = cJSON_AddObjectToObject(sum, "dimensions");
    for (int i = 0; i < n_dims && s == TL_OK; i++) {
        dim_result *r = &res[i];
        int P = r->n_pts;
        const tl_ckpt *bc = &ckpts.items[r->best_c < ckpts.n ? r->best_c : 0];
        double best = r->best_test;
        char first[160] = "never";
        if (r->first_c >= 0)
            snprintf(first, sizeof first, "step %lld (%s)", (long long)ckpts.items[r->first_c].step, r->first_point);
        char rnd_cell[512] = "not run";
        if (isfinite(r->rand_test)) {
            char seeds[256] = "";
            for (int k = 0; k < r->rand_seeds; k++)
                snprintf(seeds + strlen(seeds), sizeof seeds - strlen(seeds), "%s%.3f", k ? ", " : "",
                         r->rand_seed_acc[k]);
            snprintf(rnd_cell, sizeof rnd_cell, "%.3f (%s) [%.3f, %.3f], bootstrap [%.3f, %.3f] (%s)", r->rand_test,
                     seeds, r->rand_lo, r->rand_hi, r->rand_blo, r->rand_bhi, r->rand_point);
        }
        char rf[64] = "n/a (< 3 checkpoints)";
        if (r->n_ckpt >= 3) snprintf(rf, sizeof rf, "%d of %d", r->rise_fall, P);
        tl_strbuf_printf(
            &md,
            "| %s | %s | %.3f [%.3f, %.3f], bootstrap [%.3f, %.3f] over %d clusters (step %lld, %s; n = %d) "
            "| %s | %.3f [%.3f, %.3f] | %.3f | %.3f | %s |\n",
            r->name, first, best, r->best_lo, r->best_hi, r->best_blo, r->best_bhi, r->n_clusters, (long long)bc->step,
            r->best_point, r->n_test, rnd_cell, r->bow, r->bow_lo, r->bow_hi, r->shuffled, r->majority, rf);
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
        cJSON_AddNumberToObject(d, "best_acc_boot_lo95", fmt_nan(r->best_blo));
        cJSON_AddNumberToObject(d, "best_acc_boot_hi95", fmt_nan(r->best_bhi));
        cJSON_AddNumberToObject(d, "n_clusters", r->n_clusters);
        cJSON_AddNumberToObject(d, "bag_of_words_acc", fmt_nan(r->bow));
        cJSON_AddNumberToObject(d, "bag_of_words_acc_lo95", fmt_nan(r->bow_lo));
        cJSON_AddNumberToObject(d, "bag_of_words_acc_hi95", fmt_nan(r->bow_hi));
        if (isfinite(r->rand_test)) {
            cJSON_AddNumberToObject(d, "random_init_acc", r->rand_test);
            cJSON_AddNumberToObject(d, "random_init_acc_lo95", r->rand_lo);
            cJSON_AddNumberToObject(d, "random_init_acc_hi95", r->rand_hi);
            cJSON_AddNumberToObject(d, "random_init_acc_boot_lo95", fmt_nan(r->rand_blo));
            cJSON_AddNumberToObject(d, "random_init_acc_boot_hi95", fmt_nan(r->rand_bhi));
            cJSON_AddStringToObject(d, "random_init_point", r->rand_point);
            cJSON_AddNumberToObject(d, "random_init_seeds", r->rand_seeds);
            cJSON_AddNumberToObject(d, "random_init_acc_min", r->rand_min);
            cJSON_AddNumberToObject(d, "random_init_acc_max", r->rand_max);
            cJSON *arr = cJSON_AddArrayToObject(d, "random_init_acc_per_seed");
            for (int k = 0; arr && k < r->rand_seeds; k++)
                cJSON_AddItemToArray(arr, cJSON_CreateNumber(r->rand_seed_acc[k]));
        }
        cJSON_AddNumberToObject(d, "shuffled_labels_acc", fmt_nan(r->shuffled));
        cJSON_AddNumberToObject(d, "majority_acc", fmt_nan(r->majority));
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
    if (s == TL_OK && !o->no_steer) s = tl_trust_steering(o, &ckpts, &md);
    tl_strbuf_printf(&md, "\nTotal time %.1f s.\n", tl_time_sec() - t0);
    char path[PATH_CAP];
    if (s == TL_OK) s = tl_strbuf_status(&md);
    if (s == TL_OK) s = tl_trust_join(path, o->out, "summary.md");
    if (s == TL_OK) s = tl_file_write_atomic(path, md.s, md.len);
    char *text = s == TL_OK ? cJSON_Print(sum) : NULL;
    if (s == TL_OK && !text) s = tl_errorf(TL_E_NOMEM, "summary.json: out of memory");
    if (s == TL_OK) s = tl_trust_join(path, o->out, "summary.json");
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
