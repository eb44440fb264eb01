/* bootstrap.c: percentile bootstrap over clusters (contract in bootstrap.h). */
#include "base/base.h" /* internal */
#include "tiller/bootstrap.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tl_quantile_sorted(const double *x, int n, double q) {
    if (n <= 0)
        return NAN;
    double h = (n - 1) * q;
    int i = (int)floor(h);
    if (i < 0)
        return x[0];
    if (i >= n - 1)
        return x[n - 1];
    return x[i] + (h - i) * (x[i + 1] - x[i]);
}

static tl_status check_inputs(const double *values, const int *cluster, int n_items, int n_clusters, int n_boot,
                              double level) {
    if (n_items < 1 || n_clusters < 1 || n_boot < 1)
        return tl_errorf(TL_E_ARG, "bootstrap: %d items, %d clusters, %d replicates (each must be >= 1)", n_items,
                         n_clusters, n_boot);
    if (!(level > 0 && level < 1))
        return tl_errorf(TL_E_ARG, "bootstrap: level %g is outside (0, 1)", level);
    for (int i = 0; i < n_items; i++) {
        if (cluster[i] < 0 || cluster[i] >= n_clusters)
            return tl_errorf(TL_E_ARG, "bootstrap: item %d: cluster %d is outside 0..%d", i, cluster[i],
                             n_clusters - 1);
        if (!isfinite(values[i]))
            return tl_errorf(TL_E_ARG, "bootstrap: item %d: value is not finite", i);
    }
    return TL_OK;
}

tl_status tl_bootstrap_clusters_draws(const double *values, const int *cluster, int n_items, int n_clusters,
                                      const int *draws, int n_boot, double level, tl_boot_ci *out) {
    tl_status st = check_inputs(values, cluster, n_items, n_clusters, n_boot, level);
    if (st)
        return st;
    /* per cluster: sum of values and item count, so a replicate costs n_clusters */
    double *sum = tl_calloc((size_t)n_clusters, sizeof *sum), *rep = tl_calloc((size_t)n_boot, sizeof *rep);
    int *cnt = tl_calloc((size_t)n_clusters, sizeof *cnt);
    if (!sum || !rep || !cnt) {
        tl_free(sum), tl_free(rep), tl_free(cnt);
        return tl_errorf(TL_E_NOMEM, "bootstrap: out of memory");
    }
    double total = 0;
    for (int i = 0; i < n_items; i++)
        sum[cluster[i]] += values[i], cnt[cluster[i]]++, total += values[i];
    int used = 0;
    for (int c = 0; c < n_clusters; c++)
        used += cnt[c] > 0;
    int le0 = 0, ge0 = 0, all_zero = 1;
    for (int i = 0; i < n_items; i++)
        all_zero &= values[i] == 0;
    for (int r = 0; r < n_boot && !st; r++) {
        double s = 0;
        long n = 0;
        for (int j = 0; j < n_clusters; j++) {
            int c = draws[(size_t)r * n_clusters + j];
            if (c < 0 || c >= n_clusters) {
                st = tl_errorf(TL_E_ARG, "bootstrap: replicate %d draws cluster %d (outside 0..%d)", r, c,
                               n_clusters - 1);
                break;
            }
            s += sum[c], n += cnt[c];
        }
        /* a replicate that drew only empty clusters has no items: it counts as the estimate */
        rep[r] = n ? s / n : total / n_items;
        le0 += rep[r] <= 0;
        ge0 += rep[r] >= 0;
    }
    if (!st) {
        qsort(rep, (size_t)n_boot, sizeof *rep, cmp_double);
        out->estimate = total / n_items;
        out->lo = tl_quantile_sorted(rep, n_boot, (1 - level) / 2);
        out->hi = tl_quantile_sorted(rep, n_boot, (1 + level) / 2);
        double p = 2.0 * (le0 < ge0 ? le0 : ge0) / n_boot;
        out->p_two_sided = all_zero ? NAN : p > 1 ? 1 : p;
        out->n_clusters = used;
    }
    tl_free(sum), tl_free(rep), tl_free(cnt);
    return st;
}

tl_status tl_bootstrap_clusters(const double *values, const int *cluster, int n_items, int n_clusters, int n_boot,
                                uint64_t seed, double level, tl_boot_ci *out) {
    tl_status st = check_inputs(values, cluster, n_items, n_clusters, n_boot, level);
    if (st)
        return st;
    size_t n;
    if (!tl_mul_size((size_t)n_boot, (size_t)n_clusters, &n) || n > ((size_t)1 << 28))
        return tl_errorf(TL_E_ARG, "bootstrap: %d replicates x %d clusters is too many", n_boot, n_clusters);
    int *draws = tl_malloc(n * sizeof *draws);
    if (!draws)
        return tl_errorf(TL_E_NOMEM, "bootstrap: out of memory");
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        draws[i] = (int)tl_rng_below(&rng, (uint64_t)n_clusters);
    st = tl_bootstrap_clusters_draws(values, cluster, n_items, n_clusters, draws, n_boot, level, out);
    tl_free(draws);
    return st;
}
