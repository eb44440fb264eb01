/* The information plane's bootstrap (src/analysis/infoplane_boot.c):
 *   - against numpy (tests/oracle/infoplane_boot_ref.py -> tests/golden/infoplane_boot): on the
 *     same drawn clusters, every resample's HSIC (X, T) and (Y, T) and their shuffle means, which
 *     the oracle computes literally on the rows repeated, to 1e-6 relative (sigma 1: K of full
 *     rank) and 3e-3 relative (sigma 50, the demo's: K's factor truncated; 1.3e-3 measured); binning's resampled
 *     mutual information to 1e-12 bits; the intervals;
 *   - coverage: the 95 % intervals of shuffle-corrected binned mutual information of jointly
 *     Gaussian pairs cover the analytic value (rho = 0: 0 bits), and those of corrected HSIC
 *     cover the estimator's mean over fresh samples, in 100 replications each;
 *   - the kernel factor's residual trace and bad inputs. */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "analysis/infoplane_boot.h"
#include "analysis/stats.h"
#include "format/format.h" /* internal: model, base */
#include "testlib.h"
#include "tiller/analysis.h"

static tl_npy *load(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "tests/golden/infoplane_boot/%s.npy", name);
    tl_npy *a = NULL;
    CHECK_OK(tl_npy_load(path, &a));
    return a;
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-12); }

static void check_oracle(void) {
    char *text;
    size_t size;
    CHECK_OK(tl_file_read_all("tests/golden/infoplane_boot/golden.json", &text, &size));
    cJSON *g = text ? cJSON_Parse(text) : NULL;
    tl_free(text);
    tl_npy *X = load("X"), *T = load("T"), *y = load("y"), *cl = load("cluster"), *dr = load("draws");
    CHECK(g && X && T && y && cl && dr, "golden files missing");
    if (!g || !X || !T || !y || !cl || !dr) return;
    int m = (int)X->shape[0], dx = (int)X->shape[1], dt = (int)T->shape[1], B = (int)dr->shape[0];
    int G = (int)dr->shape[1];
    double eps = cJSON_GetObjectItem(g, "eps")->valuedouble, *Xs = malloc(sizeof(double) * m * dx),
           *Ts = malloc(sizeof(double) * m * dt), *yd = malloc(sizeof(double) * m), *W = malloc(sizeof(double) * B * m);
    int *cluster = malloc(sizeof(int) * m), *draws = malloc(sizeof(int) * B * G);
    tl_standardize(X->data, m, dx, Xs);
    tl_standardize(T->data, m, dt, Ts);
    for (int i = 0; i < m; i++) yd[i] = (double)((int64_t *)y->data)[i], cluster[i] = (int)((int64_t *)cl->data)[i];
    for (int i = 0; i < B * G; i++) draws[i] = (int)((int64_t *)dr->data)[i];
    CHECK_OK(tl_boot_weights_draws(cluster, m, G, draws, B, W));
    double out[4 * 64], ci[8];
    CHECK(B <= 64, "too many resamples in the golden");
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(g, "cases")) {
        double sigma = cJSON_GetObjectItem(c, "sigma")->valuedouble, tol = sigma > 10 ? 3e-3 : 1e-6, worst = 0;
        double *Fx, *Ft, *Fy, R[60 * 60];
        int rx, rt, ry;
        CHECK(m <= 60, "golden too large");
        CHECK_OK(tl_kernel_factor(Xs, m, dx, sigma, 5e-3 * eps * m, &Fx, &rx));
        CHECK_OK(tl_kernel_factor(Ts, m, dt, sigma, 5e-3 * eps * m, &Ft, &rt));
        CHECK_OK(tl_kernel_factor(yd, m, 1, sigma, 5e-3 * eps * m, &Fy, &ry));
        tl_hsic_prep px, py;
        CHECK_OK(tl_hsic_prep_make(Fx, rx, m, W, B, eps, &px));
        CHECK_OK(tl_hsic_prep_make(Fy, ry, m, W, B, eps, &py));
        CHECK_OK(tl_hsic_boot(&px, Fx, &py, Fy, Ft, rt, m, W, B, eps, out));
        const cJSON *rows = cJSON_GetObjectItem(c, "resamples");
        for (int b = 0; b < B; b++)
            for (int q = 0; q < 4; q++) {
                double want = cJSON_GetArrayItem(cJSON_GetArrayItem(rows, b), q)->valuedouble;
                worst = fmax(worst, rel(out[4 * b + q], want));
            }
        printf("%s: sigma %g, factor ranks x %d, t %d, y %d of %d; resampled HSIC vs numpy: %.2g relative\n", c->string,
               sigma, rx, rt, ry, m, worst);
        CHECK(worst < tol, "%s: resampled HSIC off by %.3g relative (tolerance %g)", c->string, worst, tol);
        CHECK(ry <= 2, "%s: binary labels' kernel has rank %d (<= 2)", c->string, ry);
        if (sigma > 10) CHECK(rx < m && rt < m, "sigma %g: the factor was not truncated (ranks %d, %d)", sigma, rx, rt);
        /* the intervals: the whole sample's values (exact tl_hsic_r) +- 1.96 SD */
        double pt[4], Rx[60 * 60], Ry[60 * 60];
        CHECK_OK(tl_hsic_r(Xs, m, dx, sigma, eps, Rx));
        CHECK_OK(tl_hsic_r(Ts, m, dt, sigma, eps, R));
        CHECK_OK(tl_hsic_r(yd, m, 1, sigma, eps, Ry));
        double trx = 0, trt = 0, try_ = 0;
        for (int i = 0; i < m; i++) trx += Rx[i * m + i], trt += R[i * m + i], try_ += Ry[i * m + i];
        pt[0] = tl_hsic_pair(Rx, R, m), pt[1] = trx * trt / (m - 1), pt[2] = tl_hsic_pair(Ry, R, m),
        pt[3] = try_ * trt / (m - 1);
        CHECK_OK(tl_boot_plane_ci(out, B, pt, TL_Z95, ci));
        double wci = 0;
        const cJSON *gci = cJSON_GetObjectItem(c, "ci");
        for (int q = 0; q < 8; q++) {
            double want = cJSON_GetArrayItem(cJSON_GetArrayItem(gci, q / 2), q % 2)->valuedouble;
            wci = fmax(wci, fabs(ci[q] - want) / fmax(fabs(want), 1e-3));
        }
        printf("%s: intervals vs numpy %.2g relative; I(X;T) - null %.4f [%.4f, %.4f]\n", c->string, wci, pt[0] - pt[1],
               ci[2], ci[3]);
        CHECK(wci < tol, "%s: intervals off by %.3g", c->string, wci);
        tl_hsic_prep_free(&px);
        tl_hsic_prep_free(&py);
        tl_free(Fx), tl_free(Ft), tl_free(Fy);
    }
    /* binning on the same resamples */
    int32_t xs[60], ts[60], ys[60];
    int nx, nt;
    const cJSON *gb = cJSON_GetObjectItem(g, "binning");
    CHECK_OK(tl_symbols_exact(Xs, m, dx, xs, &nx));
    CHECK_OK(tl_binned_symbols(Ts, m, dt, cJSON_GetObjectItem(g, "pca_dims")->valueint,
                               cJSON_GetObjectItem(g, "bins")->valueint, ts, &nt));
    for (int i = 0; i < m; i++) ys[i] = (int32_t)yd[i];
    CHECK_OK(tl_binning_boot(xs, ts, ys, m, W, B, 0, 1, out));
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int q = 0; q < 2; q++) {
            double want =
                cJSON_GetArrayItem(cJSON_GetArrayItem(cJSON_GetObjectItem(gb, "resamples"), b), q)->valuedouble;
            worst = fmax(worst, fabs(out[4 * b + 2 * q] - want));
        }
    printf("binning: resampled I(X;T), I(T;Y) vs numpy: %.2g bits\n", worst);
    CHECK(worst < 1e-12, "binning: resampled mutual information off by %.3g bits", worst);
    cJSON_Delete(g);
    tl_npy_free(X), tl_npy_free(T), tl_npy_free(y), tl_npy_free(cl), tl_npy_free(dr);
    free(Xs), free(Ts), free(yd), free(W), free(cluster), free(draws);
}

/* Binned MI of independent Gaussian pairs (rho = 0; analytic 0 bits): the corrected value's
 * interval covers 0 in at least 86 of 100 replications (it is conservative: each resample's
 * shuffle mean over 2 shuffles adds its own noise). At rho = 0.5 the coverage is printed only:
 * binning's corrected value lies below the analytic one (test_stats), a bias the interval,
 * which measures the estimate's variability, does not contain. */
static void check_coverage_binning(void) {
    enum { M = 2000, REP = 100, BOOT = 50, BINS = 30 };
    static double x[M], y[M], W[BOOT * M], out[BOOT * 4];
    static int32_t bx[M], by[M];
    static int cl[M];
    for (int i = 0; i < M; i++) cl[i] = i;
    const double rhos[2] = {0.0, 0.5};
    for (int r = 0; r < 2; r++) {
        double truth = -0.5 * log2(1 - rhos[r] * rhos[r]), width = 0;
        int cover = 0;
        for (int rep = 0; rep < REP; rep++) {
            tl_rng rng;
            tl_rng_seed(&rng, 1000 * r + rep + 1);
            for (int i = 0; i < M; i++) {
                double a = tl_rng_normal(&rng), b = tl_rng_normal(&rng);
                x[i] = a, y[i] = rhos[r] * a + sqrt(1 - rhos[r] * rhos[r]) * b;
            }
            tl_bin_columns(x, M, 1, BINS, bx);
            tl_bin_columns(y, M, 1, BINS, by);
            double raw, null, ci[8];
            CHECK_OK(tl_mi_labels(bx, by, M, 10, rep, &raw, &null));
            CHECK_OK(tl_boot_weights(cl, M, M, BOOT, 77 + rep, W));
            /* X = bx, T = by (I(X;T) is the one compared) */
            CHECK_OK(tl_binning_boot(bx, by, bx, M, W, BOOT, 2, rep, out));
            double pt[4] = {raw, null, raw, null};
            CHECK_OK(tl_boot_plane_ci(out, BOOT, pt, TL_Z95, ci));
            cover += ci[2] <= truth && truth <= ci[3];
            width += (ci[3] - ci[2]) / REP;
        }
        printf("binning coverage, gaussian rho %.1f (analytic %.3f bits), m %d: %d of %d, mean width %.3f bits\n",
               rhos[r], truth, M, cover, REP, width);
        /* 100 replications: binomial sd 2.2 at 95 %; 86 is 4 sd below */
        if (r == 0) CHECK(cover >= 86 && cover <= 100, "rho 0: coverage %d of %d", cover, REP);
    }
}

/* HSIC: the intervals cover the estimator's mean at this m (its mean over 400 fresh samples). */
static void check_coverage_hsic(void) {
    enum { M = 120, D = 3, REP = 100, BOOT = 50, FRESH = 400 };
    static double X[M * D], T[M * D], R1[M * M], R2[M * M], W[BOOT * M], out[BOOT * 4];
    static int cl[M];
    for (int i = 0; i < M; i++) cl[i] = i;
    double sigma = 1.0, eps = 1e-5, target = 0, width = 0;
    int cover = 0;
    for (int rep = 0; rep < FRESH + REP; rep++) {
        tl_rng rng;
        tl_rng_seed(&rng, 500 + rep);
        for (int i = 0; i < M * D; i++) {
            double a = tl_rng_normal(&rng), b = tl_rng_normal(&rng);
            X[i] = a, T[i] = 0.6 * a + 0.8 * b;
        }
        CHECK_OK(tl_hsic_r(X, M, D, sigma, eps, R1));
        CHECK_OK(tl_hsic_r(T, M, D, sigma, eps, R2));
        double t1 = 0, t2 = 0;
        for (int i = 0; i < M; i++) t1 += R1[i * M + i], t2 += R2[i * M + i];
        double est = tl_hsic_pair(R1, R2, M), null = t1 * t2 / (M - 1);
        if (rep < FRESH) {
            target += (est - null) / FRESH;
            continue;
        }
        double *Fx, *Ft, ci[8], pt[4] = {est, null, est, null};
        int rx, rt;
        CHECK_OK(tl_kernel_factor(X, M, D, sigma, 5e-3 * eps * M, &Fx, &rx));
        CHECK_OK(tl_kernel_factor(T, M, D, sigma, 5e-3 * eps * M, &Ft, &rt));
        CHECK_OK(tl_boot_weights(cl, M, M, BOOT, 99 + rep, W));
        tl_hsic_prep px;
        CHECK_OK(tl_hsic_prep_make(Fx, rx, M, W, BOOT, eps, &px));
        CHECK_OK(tl_hsic_boot(&px, Fx, &px, Fx, Ft, rt, M, W, BOOT, eps, out));
        CHECK_OK(tl_boot_plane_ci(out, BOOT, pt, TL_Z95, ci));
        cover += ci[2] <= target && target <= ci[3];
        width += (ci[3] - ci[2]) / REP;
        tl_hsic_prep_free(&px);
        tl_free(Fx), tl_free(Ft);
    }
    printf("HSIC coverage of its mean %.3f over %d fresh samples (m %d): %d of %d, mean width %.3f\n", target, FRESH, M,
           cover, REP, width);
    CHECK(cover >= 86 && cover <= 100, "HSIC: coverage %d of %d", cover, REP);
}

static void check_factor_and_errors(void) {
    double A[8 * 2] = {0, 1, 2, 3, 1, 0, -1, 2, 0.5, 0.5, 3, 1, 2, 2, -2, 0}, *F = NULL;
    int r;
    CHECK_OK(tl_kernel_factor(A, 8, 2, 1.0, 0.0, &F, &r));
    /* tol 0: exact; F F^T equals K */
    double worst = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) {
            double d2 = 0, k = 0;
            for (int c = 0; c < 2; c++) d2 += (A[i * 2 + c] - A[j * 2 + c]) * (A[i * 2 + c] - A[j * 2 + c]);
            for (int c = 0; c < r; c++) k += F[i * r + c] * F[j * r + c];
            worst = fmax(worst, fabs(k - exp(-d2 / 4.0)));
        }
    CHECK(worst < 1e-12, "factor with tol 0: |F F^T - K| = %.3g", worst);
    tl_free(F);
    CHECK(tl_kernel_factor(A, 8, 2, -1.0, 0.0, &F, &r) == TL_E_ARG, "negative sigma refused");
    int cl[3] = {0, 1, 5};
    double Wb[3];
    CHECK(tl_boot_weights(cl, 3, 2, 1, 1, Wb) == TL_E_ARG, "cluster id out of range refused");
    int32_t ids[3] = {0, 1, 2};
    double bad[3] = {1, -1, 3}, o4[4];
    CHECK(tl_binning_boot(ids, ids, ids, 3, bad, 1, 0, 1, o4) == TL_E_ARG, "negative weight refused");
}

int main(void) {
    check_oracle();
    check_factor_and_errors();
    check_coverage_binning();
    check_coverage_hsic();
    return tl_test_done();
}
