/*
 * stats: the statistics the trust-dynamics experiment reports with its
 * numbers, so that every accuracy carries an interval and every comparison a
 * test (docs/analysis.md "Statistics"). Checked against SciPy in test_stats
 * (tests/oracle/stats_ref.py -> tests/golden/stats).
 *
 *   intervals     Wilson score interval for a proportion
 *   paired test   McNemar's exact test (two-sided binomial on the discordant
 *                 pairs) with the paired difference and its Wald interval
 *   trend tests   permutation tests over the order of a series of checkpoints:
 *                 "rises then falls" (an umbrella statistic of Kendall taus)
 * and "increases" (Spearman correlation with the order); exact enumeration up
 * to 8 points, Monte Carlo above MI correction plug-in mutual information of
 * two labellings, and normalised HSIC, each with its mean under shuffles of one
 * side (the bias a finite sample adds, subtracted by the callers)
 */
#ifndef TL_STATS_H
#define TL_STATS_H

#include "base/base.h"

/* The Wilson score interval for k successes in n trials at normal quantile z
 * (1.959964 for 95 %); n = 0 gives [0, 1]. */
void tl_wilson(int64_t k, int64_t n, double z, double *lo, double *hi);
#define TL_Z95 1.959963984540054

/* Two-sided exact binomial test of k successes in n trials against p = 1/2:
 * min(1, 2 P(X <= min(k, n - k))). 1 when n = 0. */
double tl_binom_test_half(int64_t k, int64_t n);

typedef struct {
    int n;
    int64_t only_a, only_b; /* discordant pairs: a right and b wrong, b right and a wrong */
    double acc_a, acc_b;
    double diff;   /* acc_b - acc_a */
    double lo, hi; /* Wald 95 % interval of the paired difference */
    double p;      /* McNemar's exact test, two-sided */
} tl_paired_result;

/* Compare two 0/1 outcomes on the same n items (a: the reference, e.g.
 * unsteered; b: the treatment). */
void tl_mcnemar(const uint8_t *a, const uint8_t *b, int n, tl_paired_result *r);

/* The same comparison for any per-item scores (NaN items skipped, n = the items
 * kept): only_a / only_b count items where a > b / b > a, acc_a / acc_b are the
 * means, diff = mean(b - a) with its Wald 95 % interval, p the two-sided exact
 * sign test on the items that differ. For 0/1 scores this is tl_mcnemar. */
void tl_paired_values(const double *a, const double *b, int n, tl_paired_result *r);

/* b against each of R references a[r] on the same n items (tl_paired_values each; into each[r]
 * when each is not NULL): the intersection-union test that b differs from every reference in
 * one direction. The largest of the R p's when every difference has the same nonzero sign,
 * else 1; rejecting where it is <= alpha rejects "b equals at least one reference" at level
 * alpha with no correction for R. 1 when R < 1. (The steering table's random directions: the
 * sign test of a 0/1 cell against their per-item mean would test the wrong null.) */
double tl_paired_all(const double *const *a, int R, const double *b, int n, tl_paired_result *each);

/* Holm's step-down adjustment of n p-values (a family of tests): sorted
 * ascending, adj_(i) = max over j <= i of min(1, (n - j) p_(j)), in the input
 * order. Rejecting where adj <= alpha controls the family-wise error at alpha.
 * NaN p-values are left NaN and do not count in n. adj may alias p. */
tl_status tl_holm(const double *p, int n, double *adj);

/* "Rises then falls" (an umbrella statistic): over the peak positions k with at
 * least 3 points on each side (2 when n < 5), the smaller of Kendall's tau of
 * v[0..k] with the order and of v[k..n-1] against the order; the largest over
 * k. 1 for a strict rise then fall, -1 for a strict monotone series. NaN for n
 * < 3. */
double tl_rise_fall_stat(const double *v, int n);
/* Spearman rank correlation of v with 0, 1, ..., n - 1 (ties get mean ranks).
 */
double tl_spearman_order(const double *v, int n);

typedef enum { TL_TREND_RISE_FALL = 0, TL_TREND_INCREASE = 1 } tl_trend;

typedef struct {
    double stat;    /* the statistic on the series as observed */
    double p;       /* one-sided: share of orderings with a statistic >= stat */
    int64_t n_perm; /* orderings compared (n! when exact) */
    int exact;      /* every ordering enumerated */
} tl_perm_result;

/* Permutation test of a trend over the order of v [n] (n >= 3): the observed
 * statistic against its distribution over all orderings of the values (exact
 * when n <= 8; else n_mc random orderings plus the observed one, p = (1 + hits)
 * / (1 + n_mc), seeded). Ties count as hits (within 1e-12 relative). */
tl_status tl_perm_trend(const double *v, int n, tl_trend t, int n_mc, uint64_t seed, tl_perm_result *r);

/* Plug-in mutual information (bits) of two labellings a, b [n] (any int32
 * values), and the same with b shuffled, averaged over `shuffles` shuffles
 * (seeded): the bias a sample of n rows adds. *mi_null may be NULL when
 * shuffles is 0. */
tl_status tl_mi_labels(const int32_t *a, const int32_t *b, int n, int shuffles, uint64_t seed, double *mi,
                       double *mi_null);

/* The normalised HSIC pair estimate trace(Ra Rb') with b's rows shuffled
 * (Rb'_ij = Rb[pi(i), pi(j)]), averaged over `shuffles` seeded shuffles: the
 * value an independent pair of this sample size gets, subtracted as the bias.
 * m^2 per shuffle. NaN when out of memory. */
double tl_hsic_pair_null(const double *Ra, const double *Rb, int m, int shuffles, uint64_t seed);

#endif /* TL_STATS_H */
