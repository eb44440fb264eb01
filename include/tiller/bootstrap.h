/*
 * bootstrap.h: percentile bootstrap intervals over clusters (the reversal experiment's
 * people: every test item belongs to one person, and a person's paraphrases are not
 * independent, so people, not items, are resampled).
 *
 * A replicate draws n_clusters clusters with replacement (uniformly); its statistic is
 * the mean of values[] over the items of the drawn clusters (a cluster drawn twice
 * counts twice). The interval is the (1-level)/2 and (1+level)/2 quantiles of the
 * replicates, with linear interpolation between order statistics (numpy's default
 * "linear" method: h = (R-1) q, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h])).
 * For a difference of two objectives, pass the per-item differences.
 */
#ifndef TL_STUDY_BOOTSTRAP_H
#define TL_STUDY_BOOTSTRAP_H

#include "tiller/base.h"

TL_API_BEGIN

typedef struct {
    double estimate;    /* mean over all items */
    double lo, hi;      /* the percentile interval */
    double p_two_sided; /* 2 min(share of replicates <= 0, share >= 0), at most 1: a test of
                         * "mean = 0" for paired differences (NaN when every value is 0) */
    int n_clusters;     /* clusters with at least one item */
} tl_boot_ci;

/* values, cluster [n_items] (cluster ids 0 .. n_clusters-1); n_boot replicates drawn with
 * tl_rng seeded by seed; level in (0, 1), e.g. 0.95. Fails (TL_E_ARG) on sizes < 1, a
 * cluster id out of range, a non-finite value, or level outside (0, 1). */
tl_status tl_bootstrap_clusters(const double *values, const int *cluster, int n_items, int n_clusters, int n_boot,
                                uint64_t seed, double level, tl_boot_ci *out);

/* The same with the draws given: draws [n_boot, n_clusters] cluster ids (each replicate's
 * drawn clusters). What the numpy oracle test feeds, so both sides resample alike. */
tl_status tl_bootstrap_clusters_draws(const double *values, const int *cluster, int n_items, int n_clusters,
                                      const int *draws, int n_boot, double level, tl_boot_ci *out);

/* Two-sided paired sign-flip (randomization) test over clusters of "mean of values = 0",
 * values being per-item paired differences: the statistic is T = sum of all values; each
 * cluster's items flip sign together (T_e = sum_c e_c S_c, S_c the cluster's sum, e_c = +-1).
 * p = share of sign vectors with |T_e| >= |T| (1e-9 relative slack for rounding): every one
 * of the 2^m vectors when m (clusters with items) <= 16, else n_draws random ones with
 * p = (1 + count) / (1 + n_draws) (tl_rng seeded by seed). p = 1 when T = 0. The same
 * checks as tl_bootstrap_clusters (n_draws >= 1). SciPy's permutation_test with
 * permutation_type="samples" on the cluster sums gives the same p (tests/oracle/signflip_ref.py). */
tl_status tl_signflip_clusters(const double *values, const int *cluster, int n_items, int n_clusters, int n_draws,
                               uint64_t seed, double *p_two_sided);

/* The q-quantile (0 <= q <= 1) of sorted x[n], numpy's "linear" method. */
double tl_quantile_sorted(const double *x, int n, double q);

TL_API_END

#endif /* TL_STUDY_BOOTSTRAP_H */
