/* infoplane_boot.c: the resampled information-plane estimates of
 * infoplane_boot.h (the low-rank HSIC of a weighted sample, weighted plug-in
 * mutual information, the resample weights). */
#include "infoplane_boot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "stats.h"
#include "tiller/analysis.h"
#include "tiller/bootstrap.h"

/* ---- the kernel's factor ------------------------------------------------------------------ */

tl_status tl_kernel_factor(const double *A, int m, int d, double sigma, double tol, double **F, int *r) {
    *F = NULL;
    *r = 0;
    if (m < 1 || d < 1 || !(sigma > 0) || !(tol >= 0))
        return tl_errorf(TL_E_ARG, "kernel factor: %d rows of %d features, sigma %g, tol %g", m, d, sigma, tol);
    double *cols = tl_malloc((size_t)m * m * sizeof *cols); /* [k, m]: the factor's columns */
    double *nrm = tl_malloc((size_t)m * sizeof *nrm), *res = tl_malloc((size_t)m * sizeof *res);
    double *g = tl_malloc((size_t)m * sizeof *g), *coef = tl_malloc((size_t)m * sizeof *coef);
    if (!cols || !nrm || !res || !g || !coef) {
        tl_free(cols), tl_free(nrm), tl_free(res), tl_free(g), tl_free(coef);
        return tl_errorf(TL_E_NOMEM, "kernel factor: out of memory for %d rows", m);
    }
    double inv = 1.0 / (2.0 * sigma * sigma * d), trace = 0;
    for (int i = 0; i < m; i++) {
        const double *a = A + (size_t)i * d;
        double s = 0;
        for (int j = 0; j < d; j++) s += a[j] * a[j];
        nrm[i] = s;
        res[i] = 1.0; /* K_ii = exp(0) */
        trace += 1.0;
    }
    int k = 0;
    while (k < m && trace > tol) {
        int p = 0;
        for (int i = 1; i < m; i++)
            if (res[i] > res[p]) p = i;
        if (!(res[p] > 0)) break;
        double *col = cols + (size_t)k * m, piv = sqrt(res[p]);
        tl_la_gemv(A, m, d, A + (size_t)p * d, 0.0, g); /* g_i = a_i . a_p: the reference's distance form */
        for (int i = 0; i < m; i++) col[i] = exp(-fabs(nrm[i] - 2.0 * g[i] + nrm[p]) * inv);
        for (int j = 0; j < k; j++) coef[j] = cols[(size_t)j * m + p];
        if (k) {
            tl_la_gemv_t(cols, k, m, coef, 0.0, g); /* g = sum_j cols_j coef_j */
            for (int i = 0; i < m; i++) col[i] -= g[i];
        }
        trace = 0;
        for (int i = 0; i < m; i++) {
            col[i] /= piv;
            res[i] -= col[i] * col[i];
            if (res[i] < 0) res[i] = 0;
            trace += res[i];
        }
        res[p] = 0;
        k++;
    }
    double *out = tl_malloc((size_t)m * (k ? k : 1) * sizeof *out);
    if (out)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < k; j++) out[(size_t)i * k + j] = cols[(size_t)j * m + i];
    tl_free(cols), tl_free(nrm), tl_free(res), tl_free(g), tl_free(coef);
    if (!out) return tl_errorf(TL_E_NOMEM, "kernel factor: out of memory for %d rows", m);
    *F = out;
    *r = k;
    return TL_OK;
}

/* ---- resample weights --------------------------------------------------------------------- */

tl_status tl_boot_weights_draws(const int *cluster, int m, int n_clusters, const int *draws, int n_boot, double *W) {
    int *times = tl_calloc((size_t)n_clusters, sizeof *times);
    if (!times) return tl_errorf(TL_E_NOMEM, "bootstrap: out of memory for %d clusters", n_clusters);
    for (int b = 0; b < n_boot; b++) {
        memset(times, 0, (size_t)n_clusters * sizeof *times);
        for (int j = 0; j < n_clusters; j++) times[draws[(size_t)b * n_clusters + j]]++;
        for (int i = 0; i < m; i++) W[(size_t)b * m + i] = times[cluster[i]];
    }
    tl_free(times);
    return TL_OK;
}

tl_status tl_boot_weights(const int *cluster, int m, int n_clusters, int n_boot, uint64_t seed, double *W) {
    if (m < 1 || n_clusters < 1 || n_boot < 1)
        return tl_errorf(TL_E_ARG, "bootstrap: %d rows, %d clusters, %d resamples", m, n_clusters, n_boot);
    for (int i = 0; i < m; i++)
        if (cluster[i] < 0 || cluster[i] >= n_clusters)
            return tl_errorf(TL_E_ARG, "bootstrap: cluster %d of row %d is not in 0 .. %d", cluster[i], i,
                             n_clusters - 1);
    int *draws = tl_malloc((size_t)n_boot * n_clusters * sizeof *draws);
    if (!draws) return tl_errorf(TL_E_NOMEM, "bootstrap: out of memory for %d resamples", n_boot);
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (size_t i = 0; i < (size_t)n_boot * n_clusters; i++) draws[i] = (int)tl_rng_below(&rng, (uint64_t)n_clusters);
    tl_status s = tl_boot_weights_draws(cluster, m, n_clusters, draws, n_boot, W);
    tl_free(draws);
    return s;
}

/* ---- HSIC of a weighted sample ------------------------------------------------------------ */

/* One variable on one resample: its factor's drawn rows, plain (Fc) and weighted
 * (Fw) [n_pos, r], the weighted column sums s [r], the Cholesky factor L of
 * M = c I + G^T H G [r, r] and tr(R) = r - c tr(M^-1). */
typedef struct {
    int r;
    double *Fc, *Fw, *s, *L, tr;
} side;

static void side_free(side *v) {
    tl_free(v->Fc), tl_free(v->Fw), tl_free(v->s), tl_free(v->L);
    memset(v, 0, sizeof *v);
}

static tl_status side_alloc(side *v, int r, int m) {
    size_t rr = (size_t)(r ? r : 1);
    v->r = r;
    v->Fc = tl_malloc((size_t)m * rr * sizeof(double));
    v->Fw = tl_malloc((size_t)m * rr * sizeof(double));
    v->s = tl_malloc(rr * sizeof(double));
    v->L = tl_malloc(rr * rr * sizeof(double));
    if (!v->Fc || !v->Fw || !v->s || !v->L) return tl_errorf(TL_E_NOMEM, "HSIC bootstrap: out of memory");
    return TL_OK;
}

/* Cab [ra, rb] = Ga^T H Gb on the resample (n its size). */
static void cross(const side *a, const side *b, int n_pos, double n, double *C) {
    tl_la_gemm_tn(a->Fc, b->Fw, n_pos, a->r, b->r, C);
    for (int i = 0; i < a->r; i++)
        for (int j = 0; j < b->r; j++) C[(size_t)i * b->r + j] -= a->s[i] * b->s[j] / n;
}

/* The drawn rows of F: Fc, and Fw = w F (with_w), and s. */
static void side_rows(side *v, const double *F, const int *pos, const double *w, int n_pos, int with_w) {
    int r = v->r;
    for (int j = 0; j < r; j++) v->s[j] = 0;
    for (int k = 0; k < n_pos; k++) {
        const double *f = F + (size_t)pos[k] * r;
        double *fc = v->Fc + (size_t)k * r, *fw = v->Fw + (size_t)k * r, wk = w[pos[k]];
        memcpy(fc, f, (size_t)r * sizeof *fc);
        for (int j = 0; j < r; j++) v->s[j] += wk * f[j];
        if (with_w)
            for (int j = 0; j < r; j++) fw[j] = wk * f[j];
    }
}

/* L = chol(c I + G^T H G) and tr(R), from the rows of side_rows; work: r^2 doubles */
static tl_status side_factor(side *v, const double *w, const int *pos, int n_pos, double n, double eps, double *work) {
    int r = v->r;
    v->tr = 0;
    if (r == 0) return TL_OK;
    double c = eps * n;
    for (int k = 0; k < n_pos; k++) { /* sqrt(w) F into Fw's space, for the symmetric product */
        double sw = sqrt(w[pos[k]]);
        const double *fc = v->Fc + (size_t)k * r;
        double *fs = v->Fw + (size_t)k * r;
        for (int j = 0; j < r; j++) fs[j] = sw * fc[j];
    }
    tl_la_gram_t(v->Fw, n_pos, r, 1.0, v->L);
    for (int i = 0; i < r; i++)
        for (int j = 0; j < r; j++) v->L[(size_t)i * r + j] -= v->s[i] * v->s[j] / n;
    for (int j = 0; j < r; j++) v->L[(size_t)j * r + j] += c;
    int info = tl_la_cholesky(v->L, r);
    if (info) return tl_errorf(TL_E_NUMERIC, "HSIC bootstrap: c I + G^T H G is not positive definite (%d)", info);
    double tr_inv = tl_la_chol_inv_trace(v->L, r, work);
    v->tr = r - c * tr_inv;
    return TL_OK;
}

/* tr(Ra Rb) = tr(Ma^-1 Cab Mb^-1 Cab^T) = ||La^-1 Cab Lb^-T||_F^2; work: ra rb doubles */
static double side_pair(const side *a, const side *b, int n_pos, double n, double *work) {
    if (!a->r || !b->r) return 0;
    cross(a, b, n_pos, n, work); /* [ra, rb] */
    return tl_la_chol_sandwich_sq(a->L, a->r, b->L, b->r, work);
}

/* The drawn rows of every resample: pos [m] and the size n; an error for a bad weight. */
static tl_status resample_rows(const double *w, int m, int b, int *pos, int *n_pos, double *n) {
    *n_pos = 0;
    *n = 0;
    for (int i = 0; i < m; i++) {
        if (!(w[i] >= 0 && w[i] < 1e9))
            return tl_errorf(TL_E_ARG, "HSIC bootstrap: weight %g of row %d in resample %d", w[i], i, b);
        if (w[i] > 0) pos[(*n_pos)++] = i, *n += w[i];
    }
    if (!(*n > 1)) return tl_errorf(TL_E_ARG, "HSIC bootstrap: resample %d has %g rows", b, *n);
    return TL_OK;
}

void tl_hsic_prep_free(tl_hsic_prep *p) {
    tl_free(p->L), tl_free(p->s), tl_free(p->tr);
    memset(p, 0, sizeof *p);
}

tl_status tl_hsic_prep_make(const double *F, int r, int m, const double *W, int n_boot, double eps, tl_hsic_prep *p) {
    memset(p, 0, sizeof *p);
    if (m < 2 || n_boot < 1 || !(eps > 0) || r < 0)
        return tl_errorf(TL_E_ARG, "HSIC bootstrap: %d rows, %d resamples, eps %g", m, n_boot, eps);
    size_t rr = (size_t)(r ? r : 1);
    p->r = r;
    p->n_boot = n_boot;
    p->L = tl_malloc((size_t)n_boot * rr * rr * sizeof *p->L);
    p->s = tl_malloc((size_t)n_boot * rr * sizeof *p->s);
    p->tr = tl_malloc((size_t)n_boot * sizeof *p->tr);
    int *pos = tl_malloc((size_t)m * sizeof *pos);
    double *work = tl_malloc(rr * rr * sizeof *work);
    side v = {0};
    tl_status s = p->L && p->s && p->tr && pos && work ? side_alloc(&v, r, m)
                                                       : tl_errorf(TL_E_NOMEM, "HSIC bootstrap: out of memory");
    for (int b = 0; b < n_boot && s == TL_OK; b++) {
        const double *w = W + (size_t)b * m;
        int n_pos;
        double n;
        if ((s = resample_rows(w, m, b, pos, &n_pos, &n))) break;
        side_rows(&v, F, pos, w, n_pos, 0);
        if ((s = side_factor(&v, w, pos, n_pos, n, eps, work))) break;
        memcpy(p->L + (size_t)b * rr * rr, v.L, rr * rr * sizeof *v.L);
        memcpy(p->s + (size_t)b * rr, v.s, rr * sizeof *v.s);
        p->tr[b] = v.tr;
    }
    side_free(&v);
    tl_free(pos);
    tl_free(work);
    if (s) tl_hsic_prep_free(p);
    return s;
}

/* A prepared side's resample b: its rows from F, L, s and tr from p. */
static void side_load(side *v, const tl_hsic_prep *p, int b, const double *F, const int *pos, const double *w,
                      int n_pos) {
    size_t rr = (size_t)(p->r ? p->r : 1);
    side_rows(v, F, pos, w, n_pos, 0);
    memcpy(v->L, p->L + (size_t)b * rr * rr, rr * rr * sizeof *v->L);
    v->tr = p->tr[b];
}

tl_status tl_hsic_boot(const tl_hsic_prep *px, const double *Fx, const tl_hsic_prep *py, const double *Fy,
                       const double *Ft, int rt, int m, const double *W, int n_boot, double eps, double *out) {
    if (m < 2 || n_boot < 1 || !(eps > 0) || rt < 0 || px->n_boot != n_boot || py->n_boot != n_boot)
        return tl_errorf(TL_E_ARG, "HSIC bootstrap: %d rows, %d resamples, eps %g", m, n_boot, eps);
    side x = {0}, t = {0}, y = {0};
    int rmax = px->r > rt ? px->r : rt;
    rmax = rmax > py->r ? rmax : py->r;
    rmax = rmax ? rmax : 1;
    int *pos = tl_malloc((size_t)m * sizeof *pos);
    double *work = tl_malloc((size_t)3 * rmax * rmax * sizeof *work);
    tl_status s = pos && work ? TL_OK : tl_errorf(TL_E_NOMEM, "HSIC bootstrap: out of memory");
    if (s == TL_OK) s = side_alloc(&x, px->r, m);
    if (s == TL_OK) s = side_alloc(&t, rt, m);
    if (s == TL_OK) s = side_alloc(&y, py->r, m);
    for (int b = 0; b < n_boot && s == TL_OK; b++) {
        const double *w = W + (size_t)b * m;
        int n_pos;
        double n;
        if ((s = resample_rows(w, m, b, pos, &n_pos, &n))) break;
        side_load(&x, px, b, Fx, pos, w, n_pos);
        side_load(&y, py, b, Fy, pos, w, n_pos);
        side_rows(&t, Ft, pos, w, n_pos, 1);
        if ((s = side_factor(&t, w, pos, n_pos, n, eps, work))) break;
        side_rows(&t, Ft, pos, w, n_pos, 1); /* side_factor used Fw as scratch */
        double *o = out + (size_t)b * 4;
        o[0] = side_pair(&x, &t, n_pos, n, work);
        o[1] = x.tr * t.tr / (n - 1);
        o[2] = side_pair(&y, &t, n_pos, n, work);
        o[3] = y.tr * t.tr / (n - 1);
    }
    side_free(&x), side_free(&t), side_free(&y);
    tl_free(pos);
    tl_free(work);
    return s;
}

/* ---- binning ------------------------------------------------------------------------------ */

/* MI of (a[perm[i]], t[i]) over the rows, each repeated w[i] times (perm NULL = identity). */
static tl_status mi_expanded(const int32_t *a, const int32_t *t, const int *perm, const double *w, int m, int32_t *ae,
                             int32_t *te, double *mi) {
    int n = 0;
    for (int i = 0; i < m; i++)
        for (int k = (int)w[i]; k > 0; k--) ae[n] = a[perm ? perm[i] : i], te[n++] = t[i];
    if (n < 2) {
        *mi = NAN;
        return TL_OK;
    }
    double unused;
    return tl_mi_labels(ae, te, n, 0, 0, mi, &unused);
}

tl_status tl_binning_boot(const int32_t *x_ids, const int32_t *t_ids, const int32_t *y_ids, int m, const double *W,
                          int n_boot, int shuffles, uint64_t seed, double *out) {
    size_t cap = 0;
    for (int b = 0; b < n_boot; b++) {
        double n = 0;
        for (int i = 0; i < m; i++) {
            double w = W[(size_t)b * m + i];
            if (!(w >= 0) || w != floor(w) || w > m)
                return tl_errorf(TL_E_ARG, "binning bootstrap: weight %g of row %d in resample %d", w, i, b);
            n += w;
        }
        if (n > cap) cap = (size_t)n;
    }
    int32_t *ae = tl_malloc((cap + 1) * sizeof *ae), *te = tl_malloc((cap + 1) * sizeof *te);
    int *perm = tl_malloc((size_t)m * sizeof *perm);
    tl_status s = ae && te && perm ? TL_OK : tl_errorf(TL_E_NOMEM, "binning bootstrap: out of memory");
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int b = 0; b < n_boot && s == TL_OK; b++) {
        const double *w = W + (size_t)b * m;
        double *o = out + (size_t)b * 4;
        for (int v = 0; v < 2 && s == TL_OK; v++) { /* X, then Y */
            const int32_t *a = v ? y_ids : x_ids;
            if ((s = mi_expanded(a, t_ids, NULL, w, m, ae, te, &o[2 * v]))) break;
            /* the null: the statements' X (Y) shuffled among the statements, then repeated with their
             * rows, so that a statement drawn twice keeps one pairing (as in the whole sample) */
            o[2 * v + 1] = 0;
            for (int k = 0; k < shuffles && s == TL_OK; k++) {
                for (int i = 0; i < m; i++) perm[i] = i;
                for (int i = m - 1; i > 0; i--) {
                    int j = (int)tl_rng_below(&rng, (uint64_t)i + 1), tmp = perm[i];
                    perm[i] = perm[j], perm[j] = tmp;
                }
                double mi;
                s = mi_expanded(a, t_ids, perm, w, m, ae, te, &mi);
                o[2 * v + 1] += mi / shuffles;
            }
        }
    }
    tl_free(ae), tl_free(te), tl_free(perm);
    return s;
}

/* ---- normal intervals from the bootstrap's standard error ---------------------------------------- */

tl_status tl_boot_plane_ci(const double *out, int n_boot, const double *point, double z, double *ci) {
    for (int q = 0; q < 4; q++) { /* I(X;T), corrected, I(T;Y), corrected */
        int n = 0, e = q / 2 * 2;
        double mean = 0, m2 = 0; /* Welford */
        for (int b = 0; b < n_boot; b++) {
            const double *o = out + (size_t)b * 4;
            double x = q % 2 ? o[e] - o[e + 1] : o[e];
            if (!isfinite(x)) continue;
            double dx = x - mean;
            mean += dx / ++n;
            m2 += dx * (x - mean);
        }
        double v = q % 2 ? point[e] - point[e + 1] : point[e], se = n > 1 ? sqrt(m2 / (n - 1)) : NAN;
        ci[2 * q] = v - z * se;
        ci[2 * q + 1] = v + z * se;
    }
    return TL_OK;
}
