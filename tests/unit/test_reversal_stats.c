/* The reversal experiment's statistics:
 *  1. the paired sign-flip test over clusters (src/study/signflip.c) against SciPy's
 *     permutation_test (tests/oracle/reversal_choice_ref.py -> tests/golden/reversal/
 *     choice_ref.txt), exact enumeration, bar 1e-12;
 *  2. its Monte Carlo branch (> 16 clusters) against this file's own enumeration of all
 *     2^20 sign vectors: within 4 standard errors of 20000 draws;
 *  3. the calibrated two-way choice (tl_reversal_choice_scores) against numpy on the same
 *     log-probabilities, bar 1e-12 (NaN where the oracle has NaN);
 *  4. bad input: NaN values, cluster ids out of range, no draws. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "tiller/bootstrap.h"
#include "tiller/reversal.h"

static void test_oracle(void) {
    const char *path = "tests/golden/reversal/choice_ref.txt";
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s: cannot open (run tests/oracle/reversal_choice_ref.py)", path);
    if (!f) return;
    char kind[16];
    int cases[2] = {0, 0};
    while (fscanf(f, "%15s", kind) == 1) {
        if (!strcmp(kind, "signflip")) {
            int n, m;
            CHECK(fscanf(f, "%d %d", &n, &m) == 2 && n > 0 && n < 10000 && m > 0 && m <= n, "%s: bad case", path);
            double *v = malloc(sizeof(double) * (size_t)n), want = NAN, got = NAN;
            int *cl = malloc(sizeof(int) * (size_t)n);
            for (int i = 0; i < n; i++) CHECK(fscanf(f, "%lf %d", &v[i], &cl[i]) == 2, "%s: truncated", path);
            CHECK(fscanf(f, " p %lf", &want) == 1, "%s: no p", path);
            CHECK_OK(tl_signflip_clusters(v, cl, n, m, 1000, 7, &got));
            printf("  sign-flip %d items, %d clusters: tiller p %.12f scipy %.12f\n", n, m, got, want);
            CHECK(fabs(got - want) <= 1e-12, "sign-flip p %.15g vs scipy %.15g", got, want);
            free(v), free(cl);
            cases[0]++;
        } else if (!strcmp(kind, "choice")) {
            int n;
            CHECK(fscanf(f, "%d", &n) == 1 && n > 0 && n < 10000, "%s: bad case", path);
            int *gold = malloc(sizeof(int) * (size_t)n), *off = malloc(sizeof(int) * (size_t)(n + 1));
            int *cand = malloc(sizeof(int) * (size_t)n * 64);
            double *ll = malloc(sizeof(double) * (size_t)n * 64), *got = malloc(sizeof(double) * (size_t)n);
            off[0] = 0;
            for (int i = 0; i < n; i++) {
                int k = 0;
                CHECK(fscanf(f, "%d %d", &gold[i], &k) == 2 && k > 0 && k <= 64, "%s: bad item", path);
                for (int c = 0; c < k; c++) CHECK(fscanf(f, "%d", &cand[off[i] + c]) == 1, "%s: truncated", path);
                for (int c = 0; c < k; c++) CHECK(fscanf(f, "%lf", &ll[off[i] + c]) == 1, "%s: truncated", path);
                off[i + 1] = off[i] + k;
            }
            tl_reversal_choice_scores(ll, cand, off, gold, n, got);
            double worst = 0, mean = 0;
            int nan_ok = 1;
            for (int i = 0; i < n; i++) {
                double want;
                CHECK(fscanf(f, " score %lf", &want) == 1, "%s: no score %d", path, i);
                if (isnan(want) || isnan(got[i]))
                    nan_ok &= isnan(want) && isnan(got[i]);
                else
                    worst = fmax(worst, fabs(got[i] - want)), mean += got[i] / n;
            }
            printf("  choice %d items: max |tiller - numpy| %.3g, mean score %.4f\n", n, worst, mean);
            CHECK(worst <= 1e-12 && nan_ok, "choice scores differ from numpy by %.3g (NaN agree %d)", worst, nan_ok);
            free(gold), free(off), free(cand), free(ll), free(got);
            cases[1]++;
        } else {
            CHECK(0, "%s: unknown case '%s'", path, kind);
            break;
        }
    }
    fclose(f);
    CHECK(cases[0] >= 3 && cases[1] >= 3, "%s: %d sign-flip and %d choice cases", path, cases[0], cases[1]);
}

/* 20 clusters: the Monte Carlo branch against all 2^20 sign vectors enumerated here. */
static void test_monte_carlo(void) {
    enum { M = 20, PER = 3, N = M * PER };
    double v[N], sum[M] = {0};
    int cl[N];
    tl_rng r;
    tl_rng_seed(&r, 99);
    for (int i = 0; i < N; i++) {
        cl[i] = i / PER;
        v[i] = 0.08 + (tl_rng_double(&r) - 0.5);
        sum[cl[i]] += v[i];
    }
    double obs = 0, scale = 0;
    for (int c = 0; c < M; c++) obs += sum[c], scale += fabs(sum[c]);
    long count = 0;
    for (long e = 0; e < (1L << M); e++) {
        double t = 0;
        for (int c = 0; c < M; c++) t += (e >> c & 1) ? -sum[c] : sum[c];
        count += fabs(t) >= fabs(obs) - 1e-9 * scale;
    }
    double exact = (double)count / (double)(1L << M), p = NAN;
    CHECK_OK(tl_signflip_clusters(v, cl, N, M, 20000, 5, &p));
    double se = sqrt(exact * (1 - exact) / 20000);
    printf("  Monte Carlo p %.5f, exact %.5f (SE %.5f)\n", p, exact, se);
    CHECK(fabs(p - exact) <= 4 * se + 1e-4, "Monte Carlo p %.5f vs exact %.5f", p, exact);
    double p2 = NAN;
    CHECK_OK(tl_signflip_clusters(v, cl, N, M, 20000, 5, &p2));
    CHECK(p2 == p, "the same seed gives the same p");
}

static void test_bad_input(void) {
    double v[3] = {1, NAN, 2}, p = 0;
    int cl[3] = {0, 1, 2};
    CHECK(tl_signflip_clusters(v, cl, 3, 3, 10, 1, &p) == TL_E_ARG && isnan(p), "NaN value");
    v[1] = 0;
    cl[2] = 3;
    CHECK(tl_signflip_clusters(v, cl, 3, 3, 10, 1, &p) == TL_E_ARG, "cluster out of range");
    cl[2] = 2;
    CHECK(tl_signflip_clusters(v, cl, 3, 3, 0, 1, &p) == TL_E_ARG, "no draws");
    double z[2] = {0.5, -0.5};
    int c2[2] = {0, 0};
    CHECK_OK(tl_signflip_clusters(z, c2, 2, 1, 10, 1, &p));
    CHECK(p == 1, "a zero sum gives p = 1, got %g", p);
}

int main(void) {
    test_oracle();
    test_monte_carlo();
    test_bad_input();
    return tl_test_done();
}
