/* Statistics (src/analysis/stats.c) against SciPy (tests/oracle/stats_ref.py ->
 * tests/golden/stats/golden.json): Wilson intervals, the exact binomial and
 * McNemar tests, the paired difference interval, exact permutation tests over
 * the order of a series (p equal) and Monte Carlo ones (p within 0.025),
 * plug-in mutual information. Then the estimators against known values: the
 * binned mutual information of jointly Gaussian pairs against -1/2 log2(1 -
 * rho^2), raw and shuffle-corrected (exact at rho = 0, conservative under
 * dependence), and normalised HSIC's shuffle correction (near 0 at rho = 0,
 * increasing in rho). */
#include <cjson/cJSON.h>
#include <string.h>

#include "tiller/analysis.h"
#include "analysis/stats.h"
#include "testlib.h"

static const cJSON *item(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static double at(const cJSON *a, int i) { return cJSON_GetArrayItem(a, i)->valuedouble; }

static int ints(const cJSON *a, int32_t **out) {
    int n = cJSON_GetArraySize(a);
    *out = malloc(sizeof **out * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        (*out)[i] = cJSON_GetArrayItem(a, i)->valueint;
    return n;
}

static void check_golden(const cJSON *g) {
    double worst = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, item(g, "wilson")) {
        double lo, hi;
        tl_wilson((int64_t)at(c, 0), (int64_t)at(c, 1), TL_Z95, &lo, &hi);
        double e = fmax(fabs(lo - at(c, 2)), fabs(hi - at(c, 3)));
        worst = fmax(worst, e);
        CHECK(e < 1e-12, "Wilson %g/%g: [%.15g, %.15g] vs SciPy [%.15g, %.15g]", at(c, 0), at(c, 1), lo, hi, at(c, 2),
              at(c, 3));
    }
    printf("wilson: max error %.2g\n", worst);
    worst = 0;
    cJSON_ArrayForEach(c, item(g, "binom")) {
        double p = tl_binom_test_half((int64_t)at(c, 0), (int64_t)at(c, 1)), want = at(c, 2);
        double e = fabs(p - want) / fmax(want, 1e-300);
        if (want == 0)
            e = p < 1e-300 ? 0 : 1;
        worst = fmax(worst, e);
        CHECK(e < 1e-9, "binomial %g/%g: p %.15g vs SciPy %.15g", at(c, 0), at(c, 1), p, want);
    }
    printf("binom: max relative error %.2g\n", worst);
    worst = 0;
    cJSON_ArrayForEach(c, item(g, "mcnemar")) {
        int32_t *a, *b;
        int n = ints(item(c, "a"), &a);
        ints(item(c, "b"), &b);
        uint8_t *ua = malloc((size_t)n), *ub = malloc((size_t)n);
        for (int i = 0; i < n; i++) {
            ua[i] = (uint8_t)a[i];
            ub[i] = (uint8_t)b[i];
        }
        tl_paired_result r, rv;
        tl_mcnemar(ua, ub, n, &r);
        double *da = malloc(sizeof *da * (size_t)n), *db = malloc(sizeof *db * (size_t)n);
        for (int i = 0; i < n; i++) {
            da[i] = a[i];
            db[i] = b[i];
        }
        tl_paired_values(da, db, n, &rv); /* on 0/1 scores, the same test */
        CHECK(rv.p == r.p && rv.only_a == r.only_a && rv.only_b == r.only_b && fabs(rv.lo - r.lo) < 1e-15,
              "tl_paired_values on 0/1 differs from tl_mcnemar: p %.15g vs %.15g", rv.p, r.p);
        /* tl_paired_all (the steering table's random directions): b against R references is the
         * largest of the R McNemar p's when every reference differs the same way, else 1 */
        double *da2 = malloc(sizeof *da2 * (size_t)n);
        for (int i = 0; i < n; i++) da2[i] = i < n / 4 ? db[i] : da[i]; /* closer to b: a larger p */
        tl_paired_result r2;
        tl_paired_values(da2, db, n, &r2);
        const double *one[1] = {da}, *same[2] = {da, da}, *with_b[2] = {da, db}, *two[2] = {da, da2};
        CHECK(tl_paired_all(one, 1, db, n, NULL) == (r.diff != 0 ? r.p : 1), "R = 1: not McNemar's p");
        CHECK(tl_paired_all(same, 2, db, n, NULL) == (r.diff != 0 ? r.p : 1), "a reference twice changed p");
        CHECK(tl_paired_all(with_b, 2, db, n, NULL) == 1, "b against itself did not give p = 1");
        double want2 = (r.diff > 0) == (r2.diff > 0) && r.diff != 0 && r2.diff != 0 ? fmax(r.p, r2.p) : 1;
        CHECK(tl_paired_all(two, 2, db, n, NULL) == want2, "two references: p %.15g, want %.15g",
              tl_paired_all(two, 2, db, n, NULL), want2);
        CHECK(tl_paired_all(two, 0, db, n, NULL) == 1, "no reference: p != 1");
        for (int i = 0; i < n; i++) da2[i] = 2 * db[i] - da[i]; /* mirrored: b - a2 = -(b - a) */
        const double *opp[2] = {da, da2};
        CHECK(tl_paired_all(opp, 2, db, n, NULL) == 1, "differences both ways did not give p = 1");
        free(da2);
        free(da);
        free(db);
        double e = fmax(fmax(fabs(r.p - item(c, "p")->valuedouble), fabs(r.diff - item(c, "diff")->valuedouble)),
                        fmax(fabs(r.lo - item(c, "lo")->valuedouble), fabs(r.hi - item(c, "hi")->valuedouble)));
        worst = fmax(worst, e);
        CHECK(e < 1e-12, "McNemar n %d: p %.15g diff %.15g [%.15g, %.15g] vs SciPy p %.15g", n, r.p, r.diff, r.lo, r.hi,
              item(c, "p")->valuedouble);
        free(a);
        free(b);
        free(ua);
        free(ub);
    }
    printf("mcnemar: max error %.2g\n", worst);
    worst = 0;
    cJSON_ArrayForEach(c, item(g, "paired")) { /* per-item scores in [0, 1]: the sign test */
        const cJSON *ja = item(c, "a"), *jb = item(c, "b");
        int n = cJSON_GetArraySize(ja);
        double *a = malloc(sizeof *a * (size_t)n), *b = malloc(sizeof *b * (size_t)n);
        for (int i = 0; i < n; i++) {
            a[i] = at(ja, i);
            b[i] = at(jb, i);
        }
        tl_paired_result r;
        tl_paired_values(a, b, n, &r);
        double e = fmax(fmax(fabs(r.p - item(c, "p")->valuedouble), fabs(r.diff - item(c, "diff")->valuedouble)),
                        fmax(fabs(r.lo - item(c, "lo")->valuedouble), fabs(r.hi - item(c, "hi")->valuedouble)));
        worst = fmax(worst, e);
        CHECK(e < 1e-12, "sign test n %d: p %.15g vs SciPy %.15g", n, r.p, item(c, "p")->valuedouble);
        free(a);
        free(b);
    }
    printf("paired (sign test): max error %.2g\n", worst);
    double worst_exact = 0, worst_mc = 0;
    cJSON_ArrayForEach(c, item(g, "perm")) {
        const cJSON *v = item(c, "v");
        int n = cJSON_GetArraySize(v);
        double *x = malloc(sizeof *x * (size_t)n);
        for (int i = 0; i < n; i++)
            x[i] = at(v, i);
        tl_trend t = !strcmp(item(c, "test")->valuestring, "increase") ? TL_TREND_INCREASE : TL_TREND_RISE_FALL;
        tl_perm_result r;
        CHECK_OK(tl_perm_trend(x, n, t, 9999, 7, &r));
        double want = item(c, "p")->valuedouble, stat = item(c, "stat")->valuedouble;
        CHECK(fabs(r.stat - stat) < 1e-12, "%s n %d: statistic %.15g vs %.15g", item(c, "test")->valuestring, n, r.stat,
              stat);
        CHECK(r.exact == cJSON_IsTrue(item(c, "exact")), "%s n %d: exact %d", item(c, "test")->valuestring, n, r.exact);
        if (r.exact) {
            worst_exact = fmax(worst_exact, fabs(r.p - want));
            CHECK(fabs(r.p - want) < 1e-12, "%s n %d: exact p %.15g vs SciPy %.15g", item(c, "test")->valuestring, n,
                  r.p, want);
        } else { /* two Monte Carlo estimates of one p: sd about 0.006 */
            worst_mc = fmax(worst_mc, fabs(r.p - want));
            CHECK(fabs(r.p - want) < 0.025, "%s n %d: Monte Carlo p %.4f vs SciPy %.4f", item(c, "test")->valuestring,
                  n, r.p, want);
        }
        free(x);
    }
    printf("permutation: exact p max error %.2g, Monte Carlo p max difference "
           "%.3f\n",
           worst_exact, worst_mc);
    worst = 0;
    cJSON_ArrayForEach(c, item(g, "mi")) {
        int32_t *a, *b;
        int n = ints(item(c, "a"), &a);
        ints(item(c, "b"), &b);
        double mi, null;
        CHECK_OK(tl_mi_labels(a, b, n, 0, 1, &mi, &null));
        worst = fmax(worst, fabs(mi - item(c, "bits")->valuedouble));
        CHECK(fabs(mi - item(c, "bits")->valuedouble) < 1e-12, "MI %.15g vs %.15g", mi, item(c, "bits")->valuedouble);
        free(a);
        free(b);
    }
    printf("mi: max error %.2g bits\n", worst);
}

/* m pairs (x, y) of standard normals with correlation rho */
static void gaussian_pairs(int m, double rho, uint64_t seed, double *x, double *y) {
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int i = 0; i < m; i++) {
        double a = tl_rng_normal(&rng), b = tl_rng_normal(&rng);
        x[i] = a;
        y[i] = rho * a + sqrt(1 - rho * rho) * b;
    }
}

static void check_gaussian_mi(void) {
    enum { M = 4000, B = 30, SHUF = 20 };
    static double x[M], y[M];
    static int32_t bx[M], by[M];
    const double rhos[] = {0.0, 0.5, 0.8, 0.95};
    for (int m = 500; m <= M; m *= 8) {
        for (int r = 0; r < 4; r++) {
            double truth = -0.5 * log2(1 - rhos[r] * rhos[r]);
            gaussian_pairs(m, rhos[r], 11 + r, x, y);
            tl_bin_columns(x, m, 1, B, bx);
            tl_bin_columns(y, m, 1, B, by);
            double raw, null;
            CHECK_OK(tl_mi_labels(bx, by, m, SHUF, 3, &raw, &null));
            double corr = raw - null;
            printf("gaussian m %4d rho %.2f: analytic %.3f bits, binned %.3f, "
                   "shuffle mean %.3f, corrected %.3f\n",
                   m, rhos[r], truth, raw, null, corr);
            /* Subtracting the shuffled mean removes the bias of an independent pair,
             * which is larger than the bias of a dependent one (fewer cells are
             * occupied), so it is exact near rho = 0 and conservative above:
             * within 0.03 bits at rho = 0; never above the truth by more than
             * 0.03; within 0.12 bits of it at m = 4000 (0.6 at m = 500). */
            if (rhos[r] == 0)
                CHECK(fabs(corr) < 0.03 && raw > 0.1, "m %d rho 0: corrected %.3f (raw %.3f)", m, corr, raw);
            CHECK(corr < truth + 0.03, "m %d rho %.2f: corrected %.3f above analytic %.3f", m, rhos[r], corr, truth);
            CHECK(fabs(corr - truth) < (m >= M ? 0.12 : 0.6), "m %d rho %.2f: corrected %.3f vs analytic %.3f", m,
                  rhos[r], corr, truth);
            if (rhos[r] <= 0.5)
                CHECK(fabs(corr - truth) < fabs(raw - truth),
                      "m %d rho %.2f: the correction did not help (%.3f -> %.3f)", m, rhos[r], raw, corr);
        }
    }
}

static void check_hsic_null(void) {
    enum { M = 300 };
    static double x[M], y[M], Rx[M * M], Ry[M * M];
    double prev = -1;
    for (int r = 0; r < 3; r++) {
        double rho = r * 0.45;
        gaussian_pairs(M, rho, 50 + r, x, y);
        CHECK_OK(tl_hsic_r(x, M, 1, 1.0, 1e-5, Rx));
        CHECK_OK(tl_hsic_r(y, M, 1, 1.0, 1e-5, Ry));
        double raw = tl_hsic_pair(Rx, Ry, M), null = tl_hsic_pair_null(Rx, Ry, M, 10, 9);
        printf("HSIC rho %.2f: raw %.3f, shuffled mean %.3f, corrected %.3f\n", rho, raw, null, raw - null);
        if (r == 0)
            CHECK(fabs(raw - null) < 0.25 * null, "rho 0: corrected HSIC %.3f is not near 0", raw - null);
        CHECK(raw - null > prev, "corrected HSIC does not increase with rho");
        prev = raw - null;
    }
}

static void check_small(void) {
    double lo, hi;
    tl_wilson(0, 0, TL_Z95, &lo, &hi);
    CHECK(lo == 0 && hi == 1, "n = 0 gives [0, 1]");
    double v[2] = {1, 2};
    tl_perm_result r;
    CHECK(tl_perm_trend(v, 2, TL_TREND_INCREASE, 10, 1, &r) == TL_E_ARG, "2 points are refused");
    double w[4] = {1, NAN, 2, 3};
    CHECK(tl_perm_trend(w, 4, TL_TREND_INCREASE, 10, 1, &r) == TL_E_NUMERIC, "NaN is refused");
    CHECK(strstr(tl_last_error(), "point 1") != NULL, "the NaN is named: %s", tl_last_error());
    double up[5] = {1, 2, 3, 4, 5}, hump[7] = {0, 1, 2, 3, 2, 1, 0};
    CHECK(tl_rise_fall_stat(up, 5) == -1, "a rise is not a rise-then-fall: %g", tl_rise_fall_stat(up, 5));
    CHECK(tl_rise_fall_stat(hump, 7) == 1, "a strict hump scores 1: %g", tl_rise_fall_stat(hump, 7));
    CHECK_OK(tl_perm_trend(hump, 7, TL_TREND_RISE_FALL, 0, 1, &r));
    CHECK(r.exact && r.n_perm == 5040 && r.p < 0.01, "the hump is significant: p %g of %lld", r.p, (long long)r.n_perm);
    /* the same test applied to shuffles of a hump: about 5 % below 0.05 */
    tl_rng rng;
    tl_rng_seed(&rng, 5);
    double s[12];
    int below = 0, trials = 200;
    for (int k = 0; k < trials; k++) {
        for (int i = 0; i < 12; i++)
            s[i] = tl_rng_normal(&rng);
        CHECK_OK(tl_perm_trend(s, 12, TL_TREND_RISE_FALL, 499, (uint64_t)k, &r));
        below += r.p <= 0.05;
    }
    printf("noise series: %d of %d with p <= 0.05\n", below, trials);
    CHECK(below <= 20, "the test rejects noise too often: %d of %d", below, trials);
}

/* Holm's adjustment against tests/oracle/holm_ref.py (the step-down procedure run at
 * every candidate level, not the closed form). */
static void check_holm(void) {
    cJSON *g = NULL;
    CHECK_OK(tl_file_read_json("tests/golden/stats/holm.json", &g));
    double worst = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, g) {
        const cJSON *jp = item(c, "p"), *ja = item(c, "adj");
        int n = cJSON_GetArraySize(jp);
        double *p = malloc(sizeof *p * (size_t)n), *adj = malloc(sizeof *adj * (size_t)n);
        for (int i = 0; i < n; i++) p[i] = cJSON_IsNull(cJSON_GetArrayItem(jp, i)) ? NAN : at(jp, i);
        CHECK_OK(tl_holm(p, n, adj));
        for (int i = 0; i < n; i++) {
            int null_ref = cJSON_IsNull(cJSON_GetArrayItem(ja, i));
            CHECK(null_ref == isnan(adj[i]), "holm case of %d: NaN mismatch at %d", n, i);
            if (!null_ref) {
                double e = fabs(adj[i] - at(ja, i));
                worst = fmax(worst, e);
                CHECK(e < 1e-12, "holm case of %d, p[%d] = %g: adjusted %.15g vs %.15g", n, i, p[i], adj[i], at(ja, i));
            }
        }
        CHECK_OK(tl_holm(p, n, p)); /* in place */
        for (int i = 0; i < n; i++) CHECK(isnan(p[i]) == isnan(adj[i]) && (isnan(p[i]) || p[i] == adj[i]), "holm in place");
        free(p);
        free(adj);
    }
    printf("holm: max error %.2g\n", worst);
    cJSON_Delete(g);
}

int main(void) {
    check_holm();
    cJSON *g = NULL;
    CHECK_OK(tl_file_read_json("tests/golden/stats/golden.json", &g));
    if (g)
        check_golden(g);
    cJSON_Delete(g);
    check_gaussian_mi();
    check_hsic_null();
    check_small();
    return tl_test_done();
}
