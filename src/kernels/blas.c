/* blas.c: the kernels' only contact with OpenBLAS (see simd.h for why it is wrapped
 * and kept single-threaded). */
#include <pthread.h>

#include "simd.h"
/* after simd.h: cblas.h's complex.h defines I, which simd.h uses as a parameter name */
#include <cblas.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* One thread pool (OpenMP) drives all parallel work; OpenBLAS's own pthread pool
 * would otherwise spin against it on the same cores. */
static void blas_init(void) { openblas_set_num_threads(1); }

void tl_blas_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    pthread_once(&blas_once, blas_init);
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
