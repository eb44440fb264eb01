/*
 * simd.h: private to src/kernels. The table of ISA-specific inner loops that the
 * kernels in matmul.c, attention.c, rmsnorm.c ... call. One table per ISA:
 *   portable  plain C (simd_portable.c), the reference every other path is tested against;
 *   avx2      AVX2 + FMA, 8 floats a vector (matmul_avx2.c);
 *   avx512    AVX-512F/DQ, 16 floats a vector (matmul_avx512.c).
 * The two SIMD files are one template (simd_impl.h) compiled with two vector widths,
 * so the paths cannot drift apart. tl_simd_get() picks the table once from
 * tl_cpu_isa() (TILLER_ISA caps it); tests may ask for any table with tl_simd_for().
 *
 * Numerics: every entry computes the same formula as the portable loop; only the
 * order of float additions (vector lanes, tree reductions) and FMA contraction
 * differ. Each output element of matmul_rows is computed by the same sequence of
 * operations whatever the row block, token block or thread split, so results do
 * not depend on how work is partitioned.
 */
#ifndef TL_KERNELS_SIMD_H
#define TL_KERNELS_SIMD_H

#include <stdint.h>

#include "kernels.h"

typedef struct {
    tl_isa isa;
    /* matmul forward uses matmul_rows up to this many tokens, a GEMM beyond.
     * Measured: with a 4 x 4 (AVX-512) or 4 x 3 (AVX2) tile of accumulators the
     * row kernel matches or beats a packed GEMM (ours, OpenBLAS's) at every T
     * tried (up to 256), so both SIMD tables use it always; plain C does not. */
    int rows_max_T;
    /* out[t, o] = bias[o] + inp[t, :] . w[o, :] for o in [o0, o1), t in [0, T).
     * shapes: out [T, O] (row stride O), inp [T, I], w [O, I], bias [O] or NULL.
     * Reads each block of weight rows once from memory for all T tokens. */
    void (*matmul_rows)(float *out, const float *inp, const float *w, const float *bias, int T,
                        int I, int O, int o0, int o1);
    /* attention over n cached keys/values (row stride `stride` floats), one head:
     * att[j] = scale * (q . k[j, 0:D])  and  out[0:D] = sum_j att[j] * v[j, 0:D] */
    void (*attn_scores)(float *att, const float *q, const float *k, int n, int stride, int D,
                        float scale);
    void (*attn_wsum)(float *out, const float *att, const float *v, int n, int stride, int D);
    /* Single-threaded GEMM, C[M, N] = (accumulate ? C : 0) + op(A) @ op(B), row-major;
     * op(A) [M, K] is A[m*lda + k], or A[k*lda + m] when ta; op(B) [K, N] is
     * B[k*ldb + n], or B[n*ldb + k] when tb. NULL: the kernels use OpenBLAS. */
    void (*gemm)(int M, int N, int K, const float *A, int lda, int ta, const float *B, int ldb,
                 int tb, float *C, int ldc, int accumulate);
    /* sum_i a[i] * b[i] */
    float (*dot)(const float *a, const float *b, int n);
    /* y[i] += a * x[i] */
    void (*axpy)(float *y, float a, const float *x, int n);
    /* sum_i x[i]^2 */
    float (*sumsq)(const float *x, int n);
    /* y[i] = (x[i] * r) * w[i]  (rmsnorm's scaling, same rounding as the reference) */
    void (*scale_mul)(float *y, const float *x, float r, const float *w, int n);
    /* max_i x[i] (n >= 1) */
    float (*max)(const float *x, int n);
    /* x[i] *= s */
    void (*scale)(float *x, float s, int n);
    /* x[i] += y[i] */
    void (*add)(float *x, const float *y, int64_t n);
    /* sum_i x[i] (for the memory-bandwidth probe) */
    float (*sum)(const float *x, int64_t n);
} tl_simd;

void tl_gemm_avx512(int M, int N, int K, const float *A, int lda, int ta, const float *B, int ldb,
                    int tb, float *C, int ldc, int accumulate);

/* The table for the best ISA allowed (chosen once). Never NULL. */
const tl_simd *tl_simd_get(void);
/* The table of one ISA, or NULL when this CPU or build cannot run it. */
const tl_simd *tl_simd_for(tl_isa isa);

extern const tl_simd tl_simd_portable;
extern const tl_simd tl_simd_avx2;
extern const tl_simd tl_simd_avx512;

/* ---- threading ------------------------------------------------------------
 * Ops smaller than this many multiply-adds (or element updates) run on the
 * calling thread: for tiny models an OpenMP fork/join costs more than the
 * arithmetic. Larger ops split their output across omp_get_max_threads(). */
#define TL_PAR_MIN_WORK (1 << 16)
/* Threads to use for an op of `work` multiply-adds: 1 below the threshold or when
 * already inside a parallel region. */
int tl_kernel_threads(int64_t work);
/* Part `part` of `parts` of [0, n), with boundaries on multiples of `align`. */
void tl_split_range(int n, int parts, int part, int align, int *begin, int *end);

/* ---- BLAS (OpenBLAS), wrapped here because cblas.h pulls in complex.h, whose
 * macro I clashes with the dimension name used throughout the kernels.
 * OpenBLAS is kept single-threaded (set once on first use): the kernels call it
 * from inside their own OpenMP regions, one slice per thread, so one thread pool
 * runs everything and results do not depend on OpenBLAS's scheduling. */
/* C[M, N] = alpha * op(A) @ op(B) + beta * C, row-major; trans_a/trans_b non-zero
 * for a transposed operand (op(A) is [M, K], op(B) is [K, N]). */
void tl_blas_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

#endif /* TL_KERNELS_SIMD_H */
