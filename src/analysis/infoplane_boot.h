/* infoplane_boot.h: bootstrap intervals of the information-plane estimates
 * (infoplane_boot.c; docs/analysis.md "Intervals on the information plane").
 *
 * A resample is a weight per row (how often the row, or its entity, was drawn);
 * the estimate on a resample is the estimate on the sample with every row
 * repeated by its weight.
 *
 * HSIC. Recomputing R = Kc (Kc + eps n I)^-1 for every resample costs an n^3
 * inverse each (about 0.1 s at n = 1,000), too much for hundreds of resamples of
 * 400 cells. The kernel matrix is instead factored once, K ~ F F^T (F [m, r],
 * pivoted Cholesky until the trace of the residual is below tol), and the
 * resample's kernel is then exactly F* F*^T with F* the repeated rows. With
 * G = F*, Woodbury gives R = G M^-1 G^T H, M = c I + G^T H G (c = eps n), so
 *     tr(Ra Rb) = tr(Ma^-1 Cab Mb^-1 Cab^T),  Cab = Ga^T H Gb,
 * and Cab = sum_i w_i fa_i fb_i^T - (sum_i w_i fa_i)(sum_i w_i fb_i)^T / n, an
 * n r^2 product instead of an n^3 inverse. The permutation mean of tr(Ra Rb')
 * (b's rows shuffled; R's rows sum to 0) is exactly tr(Ra) tr(Rb) / (n - 1), the
 * bias each resample's estimate is corrected by.
 *
 * Binning. The symbols (PCA axes and bin edges) stay those of the whole sample;
 * a resample re-weights the counts of the plug-in entropies. */
#ifndef TL_ANALYSIS_INFOPLANE_BOOT_H
#define TL_ANALYSIS_INFOPLANE_BOOT_H

#include "base/base.h" /* internal */

/* K's factor for A [m, d] (Gaussian kernel of tl_hsic_r: sigma^2 d bandwidth):
 * *F [m, *r] (allocated) with trace(K - F F^T) <= tol, by pivoted Cholesky
 * (columns of K computed on demand: m d r). */
tl_status tl_kernel_factor(const double *A, int m, int d, double sigma, double tol, double **F, int *r);

/* Resample weights: W [n_boot, m], W[b, i] = how often row i's cluster (cluster
 * [m], ids 0 .. n_clusters - 1) was drawn among n_clusters draws with
 * replacement; draws [n_boot, n_clusters] given, or drawn with tl_rng (seed). */
tl_status tl_boot_weights_draws(const int *cluster, int m, int n_clusters, const int *draws, int n_boot, double *W);
tl_status tl_boot_weights(const int *cluster, int m, int n_clusters, int n_boot, uint64_t seed, double *W);

/* One variable's part of every resample (weights W [n_boot, m], each summing to
 * the resample's size n), computed once and shared by every pair it is in: the
 * Cholesky factor of M = c I + G^T H G, the weighted column sums and tr(R). */
typedef struct {
    int r, n_boot;
    double *L, *s, *tr; /* [n_boot, r, r], [n_boot, r], [n_boot] */
} tl_hsic_prep;
tl_status tl_hsic_prep_make(const double *F, int r, int m, const double *W, int n_boot, double eps, tl_hsic_prep *p);
void tl_hsic_prep_free(tl_hsic_prep *p);

/* HSIC of the pairs (X, T) and (Y, T) on every resample: out [n_boot, 4] =
 * tr(Rx Rt), its permutation mean, tr(Ry Rt), its permutation mean. Factors
 * [m, r] from tl_kernel_factor; px, py prepared from Fx, Fy with the same W. */
tl_status tl_hsic_boot(const tl_hsic_prep *px, const double *Fx, const tl_hsic_prep *py, const double *Fy,
                       const double *Ft, int rt, int m, const double *W, int n_boot, double eps, double *out);

/* Binning's mutual information on every resample: each row repeated by its
 * weight (W [n_boot, m], whole numbers), then tl_mi_labels of (x, t) and (y, t)
 * with `shuffles` shuffles (seed + b): out [n_boot, 4] = I(X;T), its shuffled
 * mean, I(T;Y), its shuffled mean, in bits. */
tl_status tl_binning_boot(const int32_t *x_ids, const int32_t *t_ids, const int32_t *y_ids, int m, const double *W,
                          int n_boot, int shuffles, uint64_t seed, double *out);

/* The 8 bounds of point +- z se from out [n_boot, 4] as above and point [4] (the
 * whole sample's values in the same order), se the standard deviation of the
 * resampled values: ci = I(X;T) lo, hi, I(X;T) - its null lo, hi, I(T;Y) lo, hi,
 * I(T;Y) - its null lo, hi. */
tl_status tl_boot_plane_ci(const double *out, int n_boot, const double *point, double z, double *ci);

#endif
