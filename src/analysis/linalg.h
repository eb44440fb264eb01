/* linalg.h: analysis's private door to OpenBLAS and LAPACK (linalg.c).
 *
 * Why LAPACK through libopenblas: Debian's libopenblas (already a dependency)
 * exports the LAPACK routines (dpotrf_, dsyevr_, dgetrf_, ...); liblapacke-dev
 * (not installed) would only add C wrappers around the same code. The few
 * routines used here are declared in linalg.c with the gfortran calling
 * convention (hidden string lengths). OpenBLAS runs single-threaded (as in the
 * kernels): tiller's OpenMP threads split the work above it, so results do not
 * depend on OpenBLAS's scheduling.
 *
 * Matrices are row-major double. Symmetric matrices are their own transposes,
 * so the column-major LAPACK routines apply to them unchanged. */
#ifndef TL_ANALYSIS_LINALG_H
#define TL_ANALYSIS_LINALG_H

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"

/* C[n, n] = alpha * A A^T (A [n, k]) — the full symmetric matrix. */
void tl_la_gram(const double *A, int n, int k, double alpha, double *C);
/* C[k, k] = alpha * A^T A (A [n, k]) — the full symmetric matrix. */
void tl_la_gram_t(const double *A, int n, int k, double alpha, double *C);
/* y[n] = A[n, k] x + beta y, and y[k] = A^T x + beta y. */
void tl_la_gemv(const double *A, int n, int k, const double *x, double beta, double *y);
void tl_la_gemv_t(const double *A, int n, int k, const double *x, double beta, double *y);
/* C[n, m] = A[n, k] B[k, m]. */
void tl_la_gemm(const double *A, const double *B, int n, int k, int m, double *C);
/* C[k, m] = A[n, k]^T B[n, m]. */
void tl_la_gemm_tn(const double *A, const double *B, int n, int k, int m, double *C);

/* Cholesky A = L L^T in place, then solve A x = b for nrhs right-hand sides
 * b [nrhs, n] (row-major: one system per row). 0 on success, else the LAPACK info. */
int tl_la_cholesky(double *A, int n);
void tl_la_cholesky_solve(const double *L, int n, double *b, int nrhs);
/* B[nrhs, n] <- B A^-1 for a general A [n, n] (overwritten by its LU factors),
 * by LU with partial pivoting. TL_E_NUMERIC when A is singular. */
tl_status tl_la_lu_solve_right(double *A, int n, double *B, int nrhs);
/* ||La^-1 C Lb^-T||_F^2 = tr(Ma^-1 C Mb^-1 C^T) for C [ra, rb] (overwritten) and the
 * tl_la_cholesky factors La of Ma [ra, ra], Lb of Mb [rb, rb]: two triangular solves. */
double tl_la_chol_sandwich_sq(const double *La, int ra, const double *Lb, int rb, double *C);
/* tr(M^-1) from tl_la_cholesky's factor L of M [r, r]; work: r^2 doubles. */
double tl_la_chol_inv_trace(const double *L, int r, double *work);
/* Invert a Cholesky factor's matrix: A (after tl_la_cholesky) <- A^-1, full. */
int tl_la_cholesky_inverse(double *A, int n);

/* The k largest eigenvalues (descending) and eigenvectors (vecs [k, n], one per
 * row) of symmetric A [n, n] (destroyed). */
tl_status tl_la_eig_top(double *A, int n, int k, double *vals, double *vecs);

#endif
