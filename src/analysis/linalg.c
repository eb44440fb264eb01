/* linalg.c: BLAS/LAPACK calls for the analysis module (see linalg.h for why
 * LAPACK comes from libopenblas), standardisation and PCA. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "linalg.h"
/* after our headers: cblas.h pulls in complex.h, whose macro I is a common name */
#include <cblas.h>

/* LAPACK, Fortran calling convention: every argument by reference, column-major,
 * one hidden length per character argument (gfortran passes size_t). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda, double *b,
                    const int *ldb, int *info, size_t);
extern void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t);
extern void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb,
                   int *info);
extern void dsyevr_(const char *jobz, const char *range, const char *uplo, const int *n, double *a, const int *lda,
                    const double *vl, const double *vu, const int *il, const int *iu, const double *abstol, int *m,
                    double *w, double *z, const int *ldz, int *isuppz, double *work, const int *lwork, int *iwork,
                    const int *liwork, int *info, size_t, size_t, size_t);

static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static void la_init(void) { openblas_set_num_threads(1); }
#define LA_INIT() pthread_once(&la_once, la_init)

/* Copy the upper triangle (row-major) of a symmetric matrix into its lower one. */
static void symmetrize_from_upper(double *A, int n) {
    for (int r = 1; r < n; r++)
        for (int c = 0; c < r; c++) A[(size_t)r * n + c] = A[(size_t)c * n + r];
}

void tl_la_gram(const double *A, int n, int k, double alpha, double *C) {
    LA_INIT();
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, n, k, alpha, A, k, 0.0, C, n);
    symmetrize_from_upper(C, n);
}

void tl_la_gram_t(const double *A, int n, int k, double alpha, double *C) {
    LA_INIT();
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, k, n, alpha, A, k, 0.0, C, k);
    symmetrize_from_upper(C, k);
}

void tl_la_gemv(const double *A, int n, int k, const double *x, double beta, double *y) {
    LA_INIT();
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0, A, k, x, 1, beta, y, 1);
}

void tl_la_gemv_t(const double *A, int n, int k, const double *x, double beta, double *y) {
    LA_INIT();
    cblas_dgemv(CblasRowMajor, CblasTrans, n, k, 1.0, A, k, x, 1, beta, y, 1);
}

void tl_la_gemm(const double *A, const double *B, int n, int k, int m, double *C) {
    LA_INIT();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, m, k, 1.0, A, k, B, m, 0.0, C, m);
}

void tl_la_gemm_tn(const double *A, const double *B, int n, int k, int m, double *C) {
    LA_INIT();
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, m, n, 1.0, A, k, B, m, 0.0, C, m);
}

double tl_la_chol_sandwich_sq(const double *La, int ra, const double *Lb, int rb, double *C) {
    LA_INIT();
    /* row-major storage of tl_la_cholesky's factor: the upper triangle holds U = L^T */
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, ra, rb, 1.0, La, ra, C, rb);
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, ra, rb, 1.0, Lb, rb, C, rb);
    double s = 0;
    for (size_t i = 0; i < (size_t)ra * rb; i++) s += C[i] * C[i];
    return s;
}

double tl_la_chol_inv_trace(const double *L, int r, double *work) {
    LA_INIT();
    memset(work, 0, (size_t)r * r * sizeof *work);
    for (int j = 0; j < r; j++) work[(size_t)j * r + j] = 1;
    /* M^-1 = U^-1 U^-T: its trace is ||U^-1||_F^2 */
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, r, r, 1.0, L, r, work, r);
    double s = 0;
    for (size_t i = 0; i < (size_t)r * r; i++) s += work[i] * work[i];
    return s;
}

/* Row-major A is column-major A^T = A (symmetric): 'L' of the column-major view
 * is the row-major upper triangle. */
int tl_la_cholesky(double *A, int n) {
    LA_INIT();
    int info = 0;
    dpotrf_("L", &n, A, &n, &info, 1);
    return info;
}

void tl_la_cholesky_solve(const double *L, int n, double *b, int nrhs) {
    LA_INIT();
    int info = 0;
    /* b [nrhs, n] row-major is column-major [n, nrhs]: one right-hand side per row */
    dpotrs_("L", &n, &nrhs, L, &n, b, &n, &info, 1);
}

int tl_la_cholesky_inverse(double *A, int n) {
    LA_INIT();
    int info = 0;
    dpotri_("L", &n, A, &n, &info, 1);
    if (info == 0) symmetrize_from_upper(A, n);
    return info;
}

tl_status tl_la_lu_solve_right(double *A, int n, double *B, int nrhs) {
    LA_INIT();
    /* Column-major, dgesv solves A^T X' = B' where B' [n, nrhs] is our B^T: so
     * X'^T A = B, i.e. B A^-1 in our row-major terms. */
    int *ipiv = tl_malloc((size_t)n * sizeof *ipiv);
    if (!ipiv) return tl_errorf(TL_E_NOMEM, "LU solve: out of memory (order %d)", n);
    int info = 0;
    dgesv_(&n, &nrhs, A, &n, ipiv, B, &n, &info);
    tl_free(ipiv);
    if (info) return tl_errorf(TL_E_NUMERIC, "LU solve: matrix of order %d is singular (LAPACK info %d)", n, info);
    return TL_OK;
}

tl_status tl_la_eig_top(double *A, int n, int k, double *vals, double *vecs) {
    LA_INIT();
    int il = n - k + 1, iu = n, m = 0, info = 0, lwork = -1, liwork = -1, iwq = 0;
    double vl = 0, vu = 0, abstol = 0, wq = 0;
    double *w = tl_malloc((size_t)n * sizeof *w);
    int *isuppz = tl_malloc((size_t)2 * (size_t)k * sizeof *isuppz);
    if (!w || !isuppz) {
        tl_free(w);
        tl_free(isuppz);
        return tl_errorf(TL_E_NOMEM, "eigen-decomposition: out of memory (order %d)", n);
    }
    dsyevr_("V", "I", "L", &n, A, &n, &vl, &vu, &il, &iu, &abstol, &m, w, vecs, &n, isuppz, &wq, &lwork, &iwq,
            &liwork, &info, 1, 1, 1);
    lwork = (int)wq;
    liwork = iwq;
    double *work = tl_malloc((size_t)lwork * sizeof *work);
    int *iwork = tl_malloc((size_t)liwork * sizeof *iwork);
    tl_status s = TL_OK;
    if (!work || !iwork) {
        s = tl_errorf(TL_E_NOMEM, "eigen-decomposition: out of memory (order %d)", n);
    } else {
        /* eigenvectors land column-major [n, m]: row-major, one vector per row */
        dsyevr_("V", "I", "L", &n, A, &n, &vl, &vu, &il, &iu, &abstol, &m, w, vecs, &n, isuppz, work, &lwork,
                iwork, &liwork, &info, 1, 1, 1);
        if (info || m != k)
            s = tl_errorf(TL_E_NUMERIC, "eigen-decomposition of a %d x %d matrix failed (LAPACK info %d, %d of %d "
                          "eigenvalues)", n, n, info, m, k);
    }
    if (s == TL_OK) {
        /* ascending -> descending */
        for (int j = 0; j < k; j++) vals[j] = w[k - 1 - j];
        for (int a = 0, b = k - 1; a < b; a++, b--)
            for (int i = 0; i < n; i++) {
                double t = vecs[(size_t)a * n + i];
                vecs[(size_t)a * n + i] = vecs[(size_t)b * n + i];
                vecs[(size_t)b * n + i] = t;
            }
    }
    tl_free(w);
    tl_free(isuppz);
    tl_free(work);
    tl_free(iwork);
    return s;
}

/* ---- standardisation ---------------------------------------------------------- */

void tl_standardize(const float *X, int n, int d, double *Z) {
    for (int j = 0; j < d; j++) {
        double mean = 0, ss = 0;
        for (int i = 0; i < n; i++) mean += X[(size_t)i * d + j];
        mean /= n;
        for (int i = 0; i < n; i++) {
            double v = X[(size_t)i * d + j] - mean;
            ss += v * v;
        }
        double sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
        double inv = sd > 0 ? 1.0 / sd : 0.0; /* a constant column: zeros */
        for (int i = 0; i < n; i++) Z[(size_t)i * d + j] = (X[(size_t)i * d + j] - mean) * inv;
    }
}

tl_status tl_spd_inverse(double *A, int n) {
    int info = tl_la_cholesky(A, n);
    if (info > 0) return tl_errorf(TL_E_NUMERIC, "matrix of order %d is not positive definite (pivot %d)", n, info);
    if (info == 0) info = tl_la_cholesky_inverse(A, n);
    if (info) return tl_errorf(TL_E_NUMERIC, "inverting a matrix of order %d failed (LAPACK info %d)", n, info);
    return TL_OK;
}

/* ---- PCA ----------------------------------------------------------------------- */

/* Eigenvalues below this fraction of the largest are treated as zero: their axes
 * are not determined by the data, and their scores (rounding noise) would
 * otherwise be spread over every bin by the binning estimator. */
#define PCA_REL_FLOOR 1e-10

tl_status tl_pca(const double *Z, int n, int d, int k, double *S, double *eigval) {
    if (k < 1 || k > d || n < 2)
        return tl_errorf(TL_E_ARG, "PCA: %d dimensions of %d features from %d rows", k, d, n);
    int use_gram = n < d, q = use_gram ? n : d;
    if (k > q) return tl_errorf(TL_E_ARG, "PCA: %d dimensions but the rows span at most %d", k, q);
    size_t nd = (size_t)n * d;
    double *Zc = tl_malloc(nd * sizeof *Zc), *M = tl_malloc((size_t)q * q * sizeof *M),
           *vecs = tl_malloc((size_t)k * q * sizeof *vecs), *axes = tl_malloc((size_t)k * d * sizeof *axes),
           *mean = tl_calloc((size_t)d, sizeof *mean);
    tl_status s = TL_OK;
    if (!Zc || !M || !vecs || !axes || !mean) {
        s = tl_errorf(TL_E_NOMEM, "PCA: out of memory (%d x %d)", n, d);
        goto done;
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += Z[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) Zc[(size_t)i * d + j] = Z[(size_t)i * d + j] - mean[j];
    double scale = 1.0 / (n - 1);
    if (use_gram)
        tl_la_gram(Zc, n, d, scale, M); /* [n, n]: same nonzero spectrum as the covariance */
    else
        tl_la_gram_t(Zc, n, d, scale, M); /* [d, d] covariance */
    if ((s = tl_la_eig_top(M, q, k, eigval, vecs))) {
        s = tl_error_prefix(s, "PCA");
        goto done;
    }
    for (int j = 0; j < k; j++) {
        double *ax = axes + (size_t)j * d;
        if (use_gram) {
            /* axis = Zc^T u / |Zc^T u| */
            tl_la_gemv_t(Zc, n, d, vecs + (size_t)j * n, 0.0, ax);
            double nrm = 0;
            for (int i = 0; i < d; i++) nrm += ax[i] * ax[i];
            nrm = sqrt(nrm);
            for (int i = 0; i < d; i++) ax[i] = nrm > 0 ? ax[i] / nrm : 0;
        } else {
            memcpy(ax, vecs + (size_t)j * d, (size_t)d * sizeof *ax);
        }
        int big = 0;
        for (int i = 1; i < d; i++)
            if (fabs(ax[i]) > fabs(ax[big])) big = i;
        if (ax[big] < 0)
            for (int i = 0; i < d; i++) ax[i] = -ax[i];
        if (!(eigval[j] > PCA_REL_FLOOR * eigval[0])) memset(ax, 0, (size_t)d * sizeof *ax);
    }
    /* S [n, k] = Zc [n, d] @ axes^T */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) {
            double acc = 0;
            const double *z = Zc + (size_t)i * d, *ax = axes + (size_t)j * d;
            for (int t = 0; t < d; t++) acc += z[t] * ax[t];
            S[(size_t)i * k + j] = acc;
        }
done:
    tl_free(Zc);
    tl_free(M);
    tl_free(vecs);
    tl_free(axes);
    tl_free(mean);
    return s;
}
