/* Allocation-failure sweep over the analysis module: for each entry point, the
 * n-th allocation fails for n = 1, 2, ... until the call succeeds; every failure
 * must come back as TL_E_NOMEM (never a crash, another status or, under ASan, a
 * leak), and a failed capture or run must leave no complete-looking output. */
#include <omp.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "testlib.h"

typedef tl_status (*call_fn)(void *ctx, int mode);

/* Sweep: returns the number of allocations the call makes (the first k that succeeds). */
static long sweep(const char *what, call_fn fn, void *ctx, int mode) {
    for (long k = 1; k < 100000; k++) {
        tl_alloc_fail_after(k);
        tl_status s = fn(ctx, mode);
        tl_alloc_fail_after(0);
        if (s == TL_OK) {
            CHECK(k > 1, "%s: succeeded with its first allocation failing", what);
            return k - 1;
        }
        if (s != TL_E_NOMEM) {
            CHECK(0, "%s: allocation %ld failing gave status %d: %s", what, k, s, tl_last_error());
            return -1;
        }
    }
    CHECK(0, "%s: never succeeded", what);
    return -1;
}

typedef struct {
    double *Z;
    int64_t *y;
    int n, d;
    tl_model *m;
    int32_t **ids;
    int *lens;
    char dir[512];
} ctx_t;

static tl_status probe_call(void *v, int mode) {
    ctx_t *c = v;
    tl_probe_opts o;
    tl_probe_opts_default(&o);
    o.lr.solver = mode == 1 ? TL_SOLVER_LBFGS : TL_SOLVER_NEWTON;
    o.folds = mode == 2 ? 4 : 0;
    double *w = calloc((size_t)c->d + 1, sizeof *w);
    tl_probe_result r;
    tl_status s = tl_probe_fit(c->Z, c->y, c->n, c->d, &o, w, &r);
    free(w);
    return s;
}

static tl_status binning_call(void *v, int mode) {
    ctx_t *c = v;
    int32_t *x = malloc(sizeof(int32_t) * c->n);
    int n_sym;
    tl_status s = tl_symbols_exact(c->Z, c->n, c->d, x, &n_sym);
    tl_binning_result r;
    if (s == TL_OK) s = tl_binning_estimate(c->Z, x, c->y, c->n, c->d, mode ? 20 : 2, 30, &r); /* 20 >= d: no PCA */
    free(x);
    return s;
}

static tl_status hsic_call(void *v, int mode) {
    ctx_t *c = v;
    int m = 40;
    double *R = malloc(sizeof(double) * m * m);
    tl_status s = mode ? tl_hsic_r(c->Z, m, c->d, 50, 1e-5, R) : tl_hsic_r_lu(c->Z, m, c->d, 50, 1e-5, R);
    free(R);
    return s;
}

static tl_status pca_call(void *v, int mode) {
    ctx_t *c = v;
    int n = mode ? 8 : c->n; /* 8 rows < d: the Gram route */
    double S[300 * 3], ev[3];
    return tl_pca(c->Z, n, c->d, 3, S, ev);
}

static tl_status capture_call(void *v, int mode) {
    ctx_t *c = v;
    tl_act_point *pts = NULL;
    int n_pts;
    tl_status s = tl_act_points_parse("embed,resid_post,final_norm", &c->m->cfg, &pts, &n_pts);
    tl_capturer *cap = NULL;
    float *out[8] = {0};
    for (int p = 0; s == TL_OK && p < n_pts; p++) out[p] = malloc(sizeof(float) * 4 * c->m->cfg.dim);
    if (s == TL_OK) s = tl_capturer_new(c->m, pts, n_pts, mode ? TL_REDUCE_MEAN : TL_REDUCE_LAST, 20, 2, &cap);
    if (s == TL_OK) s = tl_capturer_run(cap, (const int32_t *const *)c->ids, c->lens, 4, out);
    tl_capturer_free(cap);
    for (int p = 0; p < 8; p++) free(out[p]);
    tl_free(pts);
    return s;
}

/* capture into a fresh directory, then open it, probe it and draw its information plane */
static tl_status pipeline_call(void *v, int mode) {
    static long k;
    k++;
    ctx_t *c = v;
    char dir[600], pdir[700], idir[700];
    snprintf(dir, sizeof dir, "%s/acts%ld", c->dir, k);
    snprintf(pdir, sizeof pdir, "%s/probe%ld", c->dir, k);
    snprintf(idir, sizeof idir, "%s/ip%ld", c->dir, k);
    tl_dataset *d = tl_calloc(1, sizeof *d);
    tl_token_seqs *ts = tl_calloc(1, sizeof *ts);
    if (!d || !ts) {
        tl_free(d);
        tl_free(ts);
        return tl_errorf(TL_E_NOMEM, "test: out of memory");
    }
    int n = 12;
    d->path = strdup("pipe.csv");
    d->n = ts->n = n;
    d->text = calloc((size_t)n, sizeof *d->text);
    d->len = calloc((size_t)n, sizeof *d->len);
    d->label = calloc((size_t)n, sizeof *d->label);
    d->line = calloc((size_t)n, sizeof *d->line);
    ts->ids = calloc((size_t)n, sizeof *ts->ids);
    ts->len = calloc((size_t)n, sizeof *ts->len);
    for (int i = 0; i < n; i++) {
        d->text[i] = strdup("x");
        d->label[i] = i % 2;
        d->line[i] = i + 2;
        ts->len[i] = c->lens[i % 4];
        ts->ids[i] = malloc(sizeof(int32_t) * ts->len[i]);
        memcpy(ts->ids[i], c->ids[i % 4], sizeof(int32_t) * ts->len[i]);
        ts->ids[i][ts->len[i] - 1] = 5 + i; /* distinct statements */
        ts->total += ts->len[i];
    }
    tl_acts_opts o = {.points = "resid_post", .block = 5, .n_workers = 1};
    int skipped;
    tl_status s = tl_acts_capture(c->m, "m.bin", 3, d, ts, NULL, &o, dir, &skipped);
    if (s != TL_OK) CHECK(!tl_acts_complete(dir), "a failed capture left meta.json in %s", dir);
    tl_acts_series *ser = NULL;
    if (s == TL_OK) s = tl_acts_series_open(dir, &ser);
    tl_probe_run_opts po = {0};
    tl_probe_opts_default(&po.probe);
    po.probe.split = 0.75;
    if (s == TL_OK) s = tl_probe_run(ser, &po, pdir);
    tl_infoplane_opts io;
    tl_infoplane_opts_default(&io);
    io.split = 0.75;
    io.x_binned = mode;
    if (s == TL_OK) s = tl_infoplane_run(ser, &io, idir);
    tl_acts_series_free(ser);
    tl_dataset_free(d);
    tl_token_seqs_free(ts);
    return s;
}

int main(void) {
    omp_set_num_threads(1);
    ctx_t c = {0};
    tl_npy *X = NULL, *Y = NULL;
    CHECK_OK(tl_npy_load("tests/golden/probe/noisy_X.npy", &X));
    CHECK_OK(tl_npy_load("tests/golden/probe/noisy_y.npy", &Y));
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &c.m, NULL));
    if (!X || !Y || !c.m) return tl_test_done();
    c.n = (int)X->shape[0];
    c.d = (int)X->shape[1];
    c.Z = malloc(sizeof(double) * c.n * c.d);
    tl_standardize(X->data, c.n, c.d, c.Z);
    c.y = Y->data;
    int32_t s0[3] = {1, 300, 301}, s1[1] = {1}, s2[6] = {1, 5, 6, 7, 8, 9}, s3[4] = {1, 400, 20, 30};
    int32_t *ids[4] = {s0, s1, s2, s3};
    int lens[4] = {3, 1, 6, 4};
    c.ids = ids;
    c.lens = lens;
    snprintf(c.dir, sizeof c.dir, "%s", tl_test_tmpdir());
    struct {
        const char *name;
        call_fn fn;
        int modes;
    } calls[] = {{"probe (newton, lbfgs, 4 folds)", probe_call, 3}, {"binning (PCA, raw)", binning_call, 2},
                 {"HSIC (LU, Cholesky)", hsic_call, 2},           {"PCA (covariance, Gram)", pca_call, 2},
                 {"capture (last, mean)", capture_call, 2},       {"capture -> probe -> infoplane", pipeline_call, 2}};
    for (size_t i = 0; i < sizeof calls / sizeof *calls; i++) {
        printf("%-32s allocations swept:", calls[i].name);
        for (int mode = 0; mode < calls[i].modes; mode++) printf(" %ld", sweep(calls[i].name, calls[i].fn, &c, mode));
        printf("\n");
    }
    free(c.Z);
    tl_npy_free(X);
    tl_npy_free(Y);
    tl_model_free(c.m);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
