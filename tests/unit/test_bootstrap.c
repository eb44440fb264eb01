/* The cluster bootstrap (src/study/bootstrap.c):
 *  1. against numpy (tests/oracle/bootstrap_ref.py -> tests/golden/bico/bootstrap_ref.bin):
 *     the same draws give the same estimate, interval and p (bar 1e-12);
 *  2. coverage, deterministically: 400 simulated experiments of 30 people x 10 items
 *     whose true mean is known; the 95 % interval must cover it in 90 .. 98 % of them
 *     (the percentile bootstrap with 30 clusters runs a little under nominal), and the
 *     90 % interval less often than the 95 % one;
 *  3. bad input: cluster ids out of range, NaN, level outside (0, 1), empty sizes. */
#include <math.h>
#include <string.h>

#include "tiller/bootstrap.h"
#include "testlib.h"

static const unsigned char *cur, *end;

static int take(void *dst, size_t n) {
    if ((size_t)(end - cur) < n)
        return 0;
    memcpy(dst, cur, n);
    cur += n;
    return 1;
}

static void test_oracle(void) {
    tl_file_map map;
    const char *path = "tests/golden/bico/bootstrap_ref.bin";
    CHECK_OK(tl_file_map_open(path, &map));
    cur = map.data, end = cur + map.size;
    uint32_t hdr[2] = {0, 0};
    CHECK(take(hdr, 8) && hdr[0] == 0x54534254u && hdr[1] >= 3, "%s: bad header", path);
    for (uint32_t c = 0; c < hdr[1]; c++) {
        int32_t n[3];
        double level, want[4];
        int ok = take(n, 12) && take(&level, 8) && n[0] > 0 && n[0] < 100000 && n[1] > 0 && n[1] < 10000 && n[2] > 0 &&
                 n[2] < 100000;
        CHECK(ok, "%s: case %u: bad header", path, c);
        if (!ok)
            break;
        double *v = malloc((size_t)n[0] * 8);
        int *cl = malloc((size_t)n[0] * 4), *dr = malloc((size_t)n[2] * n[1] * 4);
        ok = take(v, (size_t)n[0] * 8) && take(cl, (size_t)n[0] * 4) && take(dr, (size_t)n[2] * n[1] * 4) &&
             take(want, 32);
        CHECK(ok, "%s: case %u truncated", path, c);
        if (ok) {
            tl_boot_ci ci;
            CHECK_OK(tl_bootstrap_clusters_draws(v, cl, n[0], n[1], dr, n[2], level, &ci));
            double got[4] = {ci.estimate, ci.lo, ci.hi, ci.p_two_sided};
            static const char *names[4] = {"estimate", "lo", "hi", "p"};
            for (int k = 0; k < 4; k++) {
                printf("  case %u %-8s tiller %.12f numpy %.12f\n", c, names[k], got[k], want[k]);
                CHECK(fabs(got[k] - want[k]) <= 1e-12, "case %u %s: %.15g vs numpy %.15g", c, names[k], got[k],
                      want[k]);
            }
        }
        free(v), free(cl), free(dr);
    }
    CHECK(cur == end, "%s: trailing bytes", path);
    tl_file_map_close(&map);
}

/* 30 people, each with a hit rate drawn uniformly in [0, 1] (true mean 0.5), 10 items each. */
static void test_coverage(void) {
    enum { PEOPLE = 30, ITEMS = 10, EXPERIMENTS = 400 };
    double v[PEOPLE * ITEMS];
    int cl[PEOPLE * ITEMS];
    tl_rng rng;
    tl_rng_seed(&rng, 99);
    int cover95 = 0, cover90 = 0;
    for (int e = 0; e < EXPERIMENTS; e++) {
        for (int p = 0; p < PEOPLE; p++) {
            double rate = tl_rng_double(&rng);
            for (int i = 0; i < ITEMS; i++)
                v[p * ITEMS + i] = tl_rng_double(&rng) < rate, cl[p * ITEMS + i] = p;
        }
        tl_boot_ci a, b;
        CHECK_OK(tl_bootstrap_clusters(v, cl, PEOPLE * ITEMS, PEOPLE, 1000, 1000 + e, 0.95, &a));
        CHECK_OK(tl_bootstrap_clusters(v, cl, PEOPLE * ITEMS, PEOPLE, 1000, 1000 + e, 0.90, &b));
        cover95 += a.lo <= 0.5 && 0.5 <= a.hi;
        cover90 += b.lo <= 0.5 && 0.5 <= b.hi;
        CHECK(a.lo <= a.estimate + 1e-12 && a.estimate <= a.hi + 1e-12 && b.lo >= a.lo && b.hi <= a.hi,
              "experiment %d: nested intervals around the estimate", e);
        if (tl_test_failed)
            break;
    }
    double c95 = (double)cover95 / EXPERIMENTS, c90 = (double)cover90 / EXPERIMENTS;
    printf("  coverage of the true mean over %d experiments: 95%% interval %.3f, 90%% interval %.3f\n", EXPERIMENTS,
           c95, c90);
    CHECK(c95 >= 0.90 && c95 <= 0.98, "95%% interval covers %.3f of the time", c95);
    CHECK(c90 < c95 && c90 >= 0.84, "90%% interval covers %.3f (95%%: %.3f)", c90, c95);
}

/* 4. the probes' use (src/analysis/runs.c): test rows clustered by entity. With G clusters of
 *    equal size m, the bootstrap replicate is the mean of G cluster means drawn with replacement,
 *    so its variance is exactly sum_g (p_g - p)^2 / G^2 (the plug-in variance of the cluster means
 *    over G): the 95 % interval's half-width must match 1.96 times that standard deviation (to 4 %
 *    at G = 80, 20,000 replicates), and be far wider than the row-level binomial one when the
 *    clusters differ; with every row its own cluster it must match sqrt(p (1 - p) / N) instead. */
static void test_cluster_variance(void) {
    enum { G = 80, M = 15, N = G * M, B = 20000 };
    static double v[N];
    static int cl[N], own[N];
    tl_rng rng;
    tl_rng_seed(&rng, 4242);
    double mean = 0, var = 0, pg[G];
    for (int g = 0; g < G; g++) {
        int k = 0;
        double rate = g % 2 ? 0.9 : 0.3; /* entities the probe gets right or wrong */
        for (int i = 0; i < M; i++) {
            v[g * M + i] = tl_rng_double(&rng) < rate, cl[g * M + i] = g, own[g * M + i] = g * M + i;
            k += v[g * M + i] != 0;
        }
        pg[g] = (double)k / M;
        mean += pg[g] / G;
    }
    for (int g = 0; g < G; g++) var += (pg[g] - mean) * (pg[g] - mean) / ((double)G * G);
    tl_boot_ci a, b;
    CHECK_OK(tl_bootstrap_clusters(v, cl, N, G, B, 7, 0.95, &a));
    CHECK_OK(tl_bootstrap_clusters(v, own, N, N, B, 7, 0.95, &b));
    double half = (a.hi - a.lo) / 2, want = 1.959964 * sqrt(var);
    double half_rows = (b.hi - b.lo) / 2, want_rows = 1.959964 * sqrt(mean * (1 - mean) / N);
    printf("  clustered: half-width %.4f, analytic %.4f; rows alone: %.4f, binomial %.4f\n", half, want, half_rows,
           want_rows);
    CHECK(fabs(half / want - 1) < 0.04, "cluster bootstrap half-width %.4f vs analytic %.4f", half, want);
    CHECK(fabs(half_rows / want_rows - 1) < 0.04, "row bootstrap half-width %.4f vs binomial %.4f", half_rows,
          want_rows);
    CHECK(half > 1.5 * half_rows, "clusters widen the interval: %.4f vs %.4f", half, half_rows);
}

static void test_bad_input(void) {
    double v[4] = {1, 0, 1, NAN};
    int cl[4] = {0, 1, 2, 1}, bad_cl[4] = {0, 1, 5, 1};
    tl_boot_ci ci;
    CHECK(tl_bootstrap_clusters(v, cl, 4, 3, 100, 1, 0.95, &ci) == TL_E_ARG, "NaN value rejected");
    v[3] = 0;
    CHECK_OK(tl_bootstrap_clusters(v, cl, 4, 3, 100, 1, 0.95, &ci));
    CHECK(ci.n_clusters == 3 && fabs(ci.estimate - 0.5) < 1e-15, "estimate %g over %d clusters", ci.estimate,
          ci.n_clusters);
    CHECK(tl_bootstrap_clusters(v, bad_cl, 4, 3, 100, 1, 0.95, &ci) == TL_E_ARG, "cluster id out of range");
    CHECK(tl_bootstrap_clusters(v, cl, 4, 3, 100, 1, 1.0, &ci) == TL_E_ARG, "level 1 rejected");
    CHECK(tl_bootstrap_clusters(v, cl, 0, 3, 100, 1, 0.95, &ci) == TL_E_ARG, "no items rejected");
    CHECK(tl_bootstrap_clusters(v, cl, 4, 3, 0, 1, 0.95, &ci) == TL_E_ARG, "no replicates rejected");
    int draws[3] = {0, 7, 1};
    CHECK(tl_bootstrap_clusters_draws(v, cl, 4, 3, draws, 1, 0.95, &ci) == TL_E_ARG, "a draw out of range");
    double zero[4] = {0, 0, 0, 0};
    CHECK_OK(tl_bootstrap_clusters(zero, cl, 4, 3, 50, 1, 0.95, &ci));
    CHECK(isnan(ci.p_two_sided) && ci.lo == 0 && ci.hi == 0, "all-zero differences: interval [0, 0], p NaN");
}

int main(void) {
    test_oracle();
    test_coverage();
    test_cluster_variance();
    test_bad_input();
    return tl_test_done();
}
