/* infoplane.c: the two information-plane estimators of METHODS.md §1.
 *
 * Binning (Shwartz-Ziv & Tishby 2017). Each distinct discretised row is a
 * symbol; entropies are plug-in estimates over the m rows, in bits. Binning all
 * d units of an LLM layer makes every row unique (H(T) = log2 m at every layer),
 * so T is first projected to its k leading principal components. Bins are
 * equal-width over each component's observed [min, max]:
 *     bin = floor((s - min) / (max - min) * B), the maximum in bin B - 1.
 * I(T;X) = H(T) + H(X) - H(T,X), which is H(T) when every input is distinct
 * (T is then a function of X); duplicated inputs (the same statement twice) are
 * handled by the general formula. I(T;Y) = H(T) + H(Y) - H(T,Y)
 * = H(T) - sum_y p(y) H(T | Y = y).
 *
 * Normalised HSIC (the reference code, mi_estimators.py): Gaussian kernel with
 * bandwidth sigma^2 d, centred on one side (Kc = K H), R = Kc (Kc + c I)^-1 with
 * c = eps m, estimate = sum_ij Ra_ij Rb_ji. Computed here in double (the
 * reference uses float32) and without the general inverse: with B = K + c I
 * (symmetric positive definite), Kc + c I = B - u 1^T (u = K 1 / m), so by
 * Sherman-Morrison
 *     R = I - c (Kc + c I)^-1 = I - c B^-1 - (1 - c w) w^T / s,
 *     w = B^-1 1, s = 1^T w,
 * which needs one Cholesky inverse (m^3) instead of an LU inverse (8/3 m^3).
 * tl_hsic_r_lu computes the literal formula (the fallback, and a test). */
#include <math.h>
#include <string.h>

#include "linalg.h"

/* ---- symbols and entropies ----------------------------------------------------- */

static uint64_t hash_bytes(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

/* Equal rows (byte for byte) share an id; ids in order of first appearance. */
static tl_status symbols_bytes(const void *rows, int n, size_t row_bytes, int32_t *ids, int *n_sym) {
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    int32_t *slot = tl_malloc(cap * sizeof *slot); /* first row of the symbol, -1 empty */
    int32_t *first_id = tl_malloc(cap * sizeof *first_id);
    if (!slot || !first_id) {
        tl_free(slot);
        tl_free(first_id);
        return tl_errorf(TL_E_NOMEM, "symbols: out of memory for %d rows", n);
    }
    for (size_t i = 0; i < cap; i++) slot[i] = -1;
    const uint8_t *base = rows;
    int next = 0;
    for (int i = 0; i < n; i++) {
        const uint8_t *r = base + (size_t)i * row_bytes;
        size_t h = (size_t)hash_bytes(r, row_bytes) & (cap - 1);
        for (;; h = (h + 1) & (cap - 1)) {
            if (slot[h] < 0) {
                slot[h] = i;
                first_id[h] = next;
                ids[i] = next++;
                break;
            }
            if (!memcmp(base + (size_t)slot[h] * row_bytes, r, row_bytes)) {
                ids[i] = first_id[h];
                break;
            }
        }
    }
    *n_sym = next;
    tl_free(slot);
    tl_free(first_id);
    return TL_OK;
}

tl_status tl_symbols(const int32_t *rows, int n, int k, int32_t *ids, int *n_sym) {
    return symbols_bytes(rows, n, (size_t)k * sizeof *rows, ids, n_sym);
}

tl_status tl_symbols_exact(const double *X, int m, int d, int32_t *ids, int *n_sym) {
    return symbols_bytes(X, m, (size_t)d * sizeof *X, ids, n_sym);
}

double tl_entropy_bits(const int32_t *ids, int n) {
    if (n <= 0) return 0;
    int32_t *count = tl_calloc((size_t)n, sizeof *count);
    if (!count) return NAN;
    for (int i = 0; i < n; i++) count[ids[i]]++;
    double acc = 0;
    for (int i = 0; i < n; i++)
        if (count[i]) acc += count[i] * log2((double)count[i]);
    tl_free(count);
    return log2((double)n) - acc / n;
}

tl_status tl_joint_entropy_bits(const int32_t *a, const int32_t *b, int n, double *h) {
    int32_t *pairs = tl_malloc((size_t)n * 2 * sizeof *pairs), *ids = tl_malloc((size_t)n * sizeof *ids);
    tl_status s = TL_OK;
    if (!pairs || !ids) {
        s = tl_errorf(TL_E_NOMEM, "entropy: out of memory for %d rows", n);
    } else {
        for (int i = 0; i < n; i++) {
            pairs[2 * i] = a[i];
            pairs[2 * i + 1] = b[i];
        }
        int n_sym;
        s = tl_symbols(pairs, n, 2, ids, &n_sym);
        if (s == TL_OK) *h = tl_entropy_bits(ids, n);
    }
    tl_free(pairs);
    tl_free(ids);
    return s;
}

void tl_bin_columns(const double *S, int n, int k, int B, int32_t *bins) {
    for (int j = 0; j < k; j++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n; i++) {
            double v = S[(size_t)i * k + j];
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
        for (int i = 0; i < n; i++) {
            int32_t b = 0;
            if (hi > lo) {
                double t = floor((S[(size_t)i * k + j] - lo) / (hi - lo) * B);
                b = t >= B ? B - 1 : t < 0 ? 0 : (int32_t)t;
            }
            bins[(size_t)i * k + j] = b;
        }
    }
}

tl_status tl_binned_symbols(const double *A, int m, int d, int k, int B, int32_t *ids, int *n_sym) {
    if (m < 2 || d < 1 || k < 1 || B < 1)
        return tl_errorf(TL_E_ARG, "binning: %d rows, %d features, %d dimensions, %d bins", m, d, k, B);
    if (k > 64) return tl_errorf(TL_E_ARG, "binning: %d PCA dimensions (at most 64)", k);
    int kk = k < d ? k : d;
    if (kk < d && kk > m) kk = m; /* the rows span at most m dimensions */
    int32_t *bins = tl_malloc((size_t)m * kk * sizeof *bins);
    double *S = kk < d ? tl_malloc((size_t)m * kk * sizeof *S) : NULL;
    tl_status s = TL_OK;
    if (!bins || (kk < d && !S)) {
        s = tl_errorf(TL_E_NOMEM, "binning: out of memory for %d rows", m);
    } else {
        double eig[64];
        if (kk < d) s = tl_pca(A, m, d, kk, S, eig);
        if (s == TL_OK) {
            tl_bin_columns(kk < d ? S : A, m, kk, B, bins);
            s = tl_symbols(bins, m, kk, ids, n_sym);
        }
    }
    tl_free(S);
    tl_free(bins);
    return s;
}

tl_status tl_binning_estimate(const double *T, const int32_t *x_ids, const int64_t *y, int m, int d, int k,
                              int B, tl_binning_result *r) {
    memset(r, 0, sizeof *r);
    int32_t *t_ids = tl_malloc((size_t)m * sizeof *t_ids), *y_ids = tl_malloc((size_t)m * sizeof *y_ids),
            *xs = tl_malloc((size_t)m * sizeof *xs);
    tl_status s = TL_OK;
    if (!t_ids || !y_ids || !xs) {
        s = tl_errorf(TL_E_NOMEM, "binning: out of memory for %d rows", m);
        goto done;
    }
    for (int i = 0; i < m; i++) {
        if (y[i] != 0 && y[i] != 1) {
            s = tl_errorf(TL_E_ARG, "binning: label %lld at row %d is not 0 or 1", (long long)y[i], i);
            goto done;
        }
        y_ids[i] = (int32_t)y[i];
    }
    double h_tx, h_ty;
    if ((s = tl_binned_symbols(T, m, d, k, B, t_ids, &r->n_sym_t)) ||
        (s = tl_symbols(x_ids, m, 1, xs, &r->n_sym_x)) || (s = tl_joint_entropy_bits(t_ids, xs, m, &h_tx)) ||
        (s = tl_joint_entropy_bits(t_ids, y_ids, m, &h_ty)))
        goto done;
    r->h_t = tl_entropy_bits(t_ids, m);
    r->h_x = tl_entropy_bits(xs, m);
    r->h_y = tl_entropy_bits(y_ids, m);
    r->i_xt = r->h_t + r->h_x - h_tx;
    r->i_yt = r->h_t + r->h_y - h_ty;
done:
    tl_free(t_ids);
    tl_free(y_ids);
    tl_free(xs);
    return s;
}

/* ---- normalised HSIC ---------------------------------------------------------------- */

/* K [m, m] = exp(-|a_i - a_j|^2 / (2 sigma^2 d)) from A [m, d], distances through
 * the Gram matrix as the reference's distmat (|r_i - 2 g_ij + r_j|). */
static tl_status gaussian_kernel(const double *A, int m, int d, double sigma, double *K) {
    double *r = tl_malloc((size_t)m * sizeof *r);
    if (!r) return tl_errorf(TL_E_NOMEM, "HSIC: out of memory");
    tl_la_gram(A, m, d, 1.0, K);
    for (int i = 0; i < m; i++) r[i] = K[(size_t)i * m + i];
    double inv = 1.0 / (2.0 * sigma * sigma * d);
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double *k = K + (size_t)i * m + j;
            *k = exp(-fabs(r[i] - 2.0 * *k + r[j]) * inv);
        }
    tl_free(r);
    return TL_OK;
}

static tl_status hsic_check(const double *A, int m, int d, double sigma, double eps) {
    if (m < 2 || d < 1) return tl_errorf(TL_E_ARG, "HSIC: %d rows of %d features", m, d);
    if (!(sigma > 0) || !(eps > 0))
        return tl_errorf(TL_E_ARG, "HSIC: sigma %g and eps %g must be positive", sigma, eps);
    size_t mm;
    if (!tl_mul_size((size_t)m, (size_t)m, &mm) || !tl_mul_size(mm, sizeof(double), &mm))
        return tl_errorf(TL_E_RANGE, "HSIC: %d x %d matrix is too large", m, m);
    for (size_t i = 0; i < (size_t)m * d; i++)
        if (!isfinite(A[i])) return tl_errorf(TL_E_NUMERIC, "HSIC: non-finite value at row %zu", i / d);
    return TL_OK;
}

tl_status tl_hsic_r_lu(const double *A, int m, int d, double sigma, double eps, double *R) {
    tl_status s = hsic_check(A, m, d, sigma, eps);
    if (s) return s;
    double *M = tl_malloc((size_t)m * m * sizeof *M);
    if (!M) return tl_errorf(TL_E_NOMEM, "HSIC: out of memory for a %d x %d matrix", m, m);
    if ((s = gaussian_kernel(A, m, d, sigma, R))) {
        tl_free(M);
        return s;
    }
    /* Kc = K H: subtract each row's mean */
    for (int i = 0; i < m; i++) {
        double *row = R + (size_t)i * m, mean = 0;
        for (int j = 0; j < m; j++) mean += row[j];
        mean /= m;
        for (int j = 0; j < m; j++) row[j] -= mean;
    }
    memcpy(M, R, (size_t)m * m * sizeof *M);
    double c = eps * m;
    for (int i = 0; i < m; i++) M[(size_t)i * m + i] += c;
    s = tl_la_lu_solve_right(M, m, R, m); /* R <- Kc (Kc + c I)^-1 */
    tl_free(M);
    return s ? tl_error_prefix(s, "HSIC: Kc + eps m I") : TL_OK;
}

tl_status tl_hsic_r(const double *A, int m, int d, double sigma, double eps, double *R) {
    tl_status s = hsic_check(A, m, d, sigma, eps);
    if (s) return s;
    if ((s = gaussian_kernel(A, m, d, sigma, R))) return s;
    double c = eps * m;
    for (int i = 0; i < m; i++) R[(size_t)i * m + i] += c; /* B = K + c I */
    int info = tl_la_cholesky(R, m);
    if (info == 0) info = tl_la_cholesky_inverse(R, m);
    if (info) { /* not numerically positive definite: the literal formula */
        tl_logf(TL_LOG_DEBUG, "HSIC: Cholesky failed (info %d), using LU", info);
        return tl_hsic_r_lu(A, m, d, sigma, eps, R);
    }
    double *w = tl_calloc((size_t)m, sizeof *w);
    if (!w) return tl_errorf(TL_E_NOMEM, "HSIC: out of memory");
    double sum = 0;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < m; j++) w[i] += R[(size_t)i * m + j];
        sum += w[i];
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double *v = R + (size_t)i * m + j;
            *v = (i == j) - c * *v - (1.0 - c * w[i]) * w[j] / sum;
        }
    tl_free(w);
    return TL_OK;
}

double tl_hsic_pair(const double *Ra, const double *Rb, int m) {
    /* sum_ij Ra_ij Rb_ji in tiles, so that Rb's columns are read from cache */
    enum { TILE = 64 };
    double total = 0;
    for (int i0 = 0; i0 < m; i0 += TILE)
        for (int j0 = 0; j0 < m; j0 += TILE) {
            int i1 = i0 + TILE < m ? i0 + TILE : m, j1 = j0 + TILE < m ? j0 + TILE : m;
            double acc = 0;
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) acc += Ra[(size_t)i * m + j] * Rb[(size_t)j * m + i];
            total += acc;
        }
    return total;
}
