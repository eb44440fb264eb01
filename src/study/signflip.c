/* signflip.c: the paired sign-flip test over clusters (contract in bootstrap.h). */
#include "base/base.h" /* internal */
#include "tiller/bootstrap.h"

#include <math.h>

enum { EXACT_MAX = 16 }; /* 2^16 sign vectors: enumerate them all */

tl_status tl_signflip_clusters(const double *values, const int *cluster, int n_items, int n_clusters, int n_draws,
                               uint64_t seed, double *p_two_sided) {
    *p_two_sided = NAN;
    if (n_items < 1 || n_clusters < 1 || n_draws < 1)
        return tl_errorf(TL_E_ARG, "sign-flip test: %d items, %d clusters, %d draws (each must be >= 1)", n_items,
                         n_clusters, n_draws);
    double *sum = tl_calloc((size_t)n_clusters, sizeof *sum);
    if (!sum) return tl_errorf(TL_E_NOMEM, "sign-flip test: out of memory");
    int *used = tl_calloc((size_t)n_clusters, sizeof *used);
    if (!used) {
        tl_free(sum);
        return tl_errorf(TL_E_NOMEM, "sign-flip test: out of memory");
    }
    tl_status st = TL_OK;
    for (int i = 0; i < n_items && !st; i++) {
        if (cluster[i] < 0 || cluster[i] >= n_clusters)
            st = tl_errorf(TL_E_ARG, "sign-flip test: item %d: cluster %d is outside 0..%d", i, cluster[i],
                           n_clusters - 1);
        else if (!isfinite(values[i]))
            st = tl_errorf(TL_E_ARG, "sign-flip test: item %d: value is not finite", i);
        else
            sum[cluster[i]] += values[i], used[cluster[i]] = 1;
    }
    /* the clusters with items, packed */
    int m = 0;
    double obs = 0, scale = 0;
    for (int c = 0; c < n_clusters && !st; c++)
        if (used[c]) {
            sum[m++] = sum[c];
            obs += sum[c];
            scale += fabs(sum[c]);
        }
    if (!st) {
        double thr = fabs(obs) - 1e-9 * scale; /* ties up to rounding count as >= */
        if (obs == 0) {
            *p_two_sided = 1;
        } else if (m <= EXACT_MAX) {
            long count = 0, total = 1L << m;
            for (long e = 0; e < total; e++) {
                double t = 0;
                for (int c = 0; c < m; c++) t += (e >> c & 1) ? -sum[c] : sum[c];
                count += fabs(t) >= thr;
            }
            *p_two_sided = (double)count / (double)total;
        } else {
            tl_rng r;
            tl_rng_seed(&r, seed);
            long count = 0;
            for (int d = 0; d < n_draws; d++) {
                double t = 0;
                for (int c = 0; c < m; c += 64) {
                    uint64_t bits = tl_rng_u64(&r);
                    for (int j = 0; j < 64 && c + j < m; j++) t += (bits >> j & 1) ? -sum[c + j] : sum[c + j];
                }
                count += fabs(t) >= thr;
            }
            *p_two_sided = (1.0 + (double)count) / (1.0 + n_draws);
        }
    }
    tl_free(sum);
    tl_free(used);
    return st;
}
