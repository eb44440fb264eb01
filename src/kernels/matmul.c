/* matmul.c: out[T, O] = inp[T, I] @ w[O, I]^T, the forward/backward pair.
 *
 * Paths, chosen by size and ISA:
 *   - forward, T <= the ISA's rows_max_T (AVX2 and AVX-512: every T; portable: 8):
 *     the ISA's matmul_rows (simd.h), which streams each weight row once per chunk
 *     of tokens; decode is bound by the memory bandwidth of that read, so rows are
 *     split across threads and prefetched; prefill is compute-bound and the
 *     register tile (4 rows x 3 or 4 tokens) matches a packed GEMM there;
 *   - larger T, and the backward for T >= TL_GEMM_MIN_T: a packed GEMM, one
 *     single-threaded GEMM per OpenMP thread on its slice of the output: the
 *     ISA's own (gemm_avx512.c) where it has one, else OpenBLAS sgemm;
 *   - ops below TL_PAR_MIN_WORK run on the calling thread (tiny models).
 * Every output element is written by exactly one thread, so results are
 * deterministic for a thread count (and, on the small-T path, for any count).
 * The portable reference, tl_matmul_forward_ref, is plain C for the tests. */
#include <omp.h>
#include <string.h>

#include "simd.h"

/* Backward: from this many tokens on, a GEMM beats the axpy loops. */
#define TL_GEMM_MIN_T 8
/* Tokens per matmul_rows call: the chunk of inputs [chunk, I] (re-read for every
 * block of 4 weight rows) stays within this many floats, a fraction of an L2. */
#define TL_ROWS_CHUNK_FLOATS (96 * 1024)

/* shapes: out [T, O], inp [T, I], w [O, I], bias [O] or NULL */
void tl_matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias, int T,
                           int I, int O) {
    for (int t = 0; t < T; t++) {
        const float *x = inp + (int64_t)t * I;
        for (int o = 0; o < O; o++) {
            const float *wr = w + (int64_t)o * I;
            float acc = bias ? bias[o] : 0.0f;
            for (int i = 0; i < I; i++) acc += x[i] * wr[i];
            out[(int64_t)t * O + o] = acc;
        }
    }
}

/* C[M, N] = (accumulate ? C : 0) + op(A) @ op(B) on the calling thread (see simd.h) */
static void gemm(const tl_simd *k, int ta, int tb, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float *C, int ldc, int accumulate) {
    if (k->gemm)
        k->gemm(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, accumulate);
    else
        tl_blas_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, accumulate ? 1.0f : 0.0f, C, ldc);
}

/* shapes: out [T, O], inp [T, I], w [O, I], bias [O] or NULL; output columns [o0, o1) */
static void forward_slice(const tl_simd *k, float *out, const float *inp, const float *w,
                          const float *bias, int T, int I, int O, int o0, int o1) {
    if (o1 <= o0) return;
    if (T <= k->rows_max_T) {
        int chunk = TL_ROWS_CHUNK_FLOATS / I;
        chunk = chunk < 4 ? 4 : chunk & ~3;
        for (int t0 = 0; t0 < T; t0 += chunk)
            k->matmul_rows(out + (int64_t)t0 * O, inp + (int64_t)t0 * I, w, bias,
                           T - t0 < chunk ? T - t0 : chunk, I, O, o0, o1);
        return;
    }
    if (bias)
        for (int t = 0; t < T; t++)
            memcpy(out + (int64_t)t * O + o0, bias + o0, (size_t)(o1 - o0) * sizeof(float));
    gemm(k, 0, 1, T, o1 - o0, I, inp, I, w + (int64_t)o0 * I, I, out + o0, O, bias != NULL);
}

/* shapes: as tl_matmul_forward_ref */
void tl_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int T,
                       int I, int O) {
    const tl_simd *k = tl_simd_get();
    int nth = tl_kernel_threads((int64_t)T * I * O);
    /* GEMM slices are kept to whole 48-column panels, row-kernel slices to 4-row blocks */
    int align = T <= k->rows_max_T ? 4 : 48;
    if (nth == 1) {
        forward_slice(k, out, inp, w, bias, T, I, O, 0, O);
        return;
    }
#pragma omp parallel num_threads(nth)
    {
        int o0, o1;
        tl_split_range(O, omp_get_num_threads(), omp_get_thread_num(), align, &o0, &o1);
        forward_slice(k, out, inp, w, bias, T, I, O, o0, o1);
    }
}

void tl_matmul_rows1(float *out, const float *x, const float *w, int I, int o0, int o1) {
    if (o1 > o0) tl_simd_get()->matmul_rows(out, x, w, NULL, 1, I, o1, o0, o1);
}

/* Part `part` of `parts` of tl_matmul_forward_multi: a slice of the matrices' rows laid end
 * to end. */
static void multi_part(const tl_simd *k, int n, float *const out[], const float *const w[],
                       const int O[], const float *inp, int T, int I, int rows, int align, int part,
                       int parts) {
    int r0, r1, base = 0;
    tl_split_range(rows, parts, part, align, &r0, &r1);
    for (int j = 0; j < n; j++) {
        int lo = r0 > base ? r0 - base : 0, hi = r1 - base < O[j] ? r1 - base : O[j];
        if (lo < hi) forward_slice(k, out[j], inp, w[j], NULL, T, I, O[j], lo, hi);
        base += O[j];
    }
}

/* shapes: out[j] [T, O[j]], inp [T, I], w[j] [O[j], I] for j < n */
void tl_matmul_forward_multi(int n, float *const out[], const float *const w[], const int O[],
                             const float *inp, int T, int I) {
    const tl_simd *k = tl_simd_get();
    int64_t rows = 0;
    for (int j = 0; j < n; j++) rows += O[j];
    if (rows > (1 << 30)) { /* the row index below is an int; never for real models */
        for (int j = 0; j < n; j++) tl_matmul_forward(out[j], inp, w[j], NULL, T, I, O[j]);
        return;
    }
    int nth = tl_kernel_threads((int64_t)T * I * rows);
    int align = T <= k->rows_max_T ? 4 : 48;
    if (nth == 1) { /* no parallel region for small work: see tl_rmsnorm_forward */
        multi_part(k, n, out, w, O, inp, T, I, (int)rows, align, 0, 1);
        return;
    }
#pragma omp parallel num_threads(nth)
    multi_part(k, n, out, w, O, inp, T, I, (int)rows, align, omp_get_thread_num(),
               omp_get_num_threads());
}

/* dinp[:, i0:i1] += dout @ w[:, i0:i1].  shapes: dinp [T, I], dout [T, O], w [O, I] */
static void backward_inp_slice(const tl_simd *k, float *dinp, const float *dout, const float *w,
                               int T, int I, int O, int i0, int i1) {
    if (i1 <= i0) return;
    if (T >= TL_GEMM_MIN_T) {
        gemm(k, 0, 0, T, i1 - i0, O, dout, O, w + i0, I, dinp + i0, I, 1);
        return;
    }
    for (int t = 0; t < T; t++)
        for (int o = 0; o < O; o++)
            k->axpy(dinp + (int64_t)t * I + i0, dout[(int64_t)t * O + o], w + (int64_t)o * I + i0,
                    i1 - i0);
}

/* dw[o0:o1, :] += dout[:, o0:o1]^T @ inp.  shapes: dw [O, I], dout [T, O], inp [T, I] */
static void backward_w_slice(const tl_simd *k, float *dw, const float *dout, const float *inp,
                             int T, int I, int O, int o0, int o1) {
    if (o1 <= o0) return;
    if (T >= TL_GEMM_MIN_T) {
        gemm(k, 1, 0, o1 - o0, I, T, dout + o0, O, inp, I, dw + (int64_t)o0 * I, I, 1);
        return;
    }
    for (int o = o0; o < o1; o++)
        for (int t = 0; t < T; t++)
            k->axpy(dw + (int64_t)o * I, dout[(int64_t)t * O + o], inp + (int64_t)t * I, I);
}

/* shapes: dinp [T, I], dw [O, I], dbias [O], dout [T, O], inp [T, I], w [O, I] */
void tl_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, int T, int I, int O) {
    const tl_simd *k = tl_simd_get();
    int nth = tl_kernel_threads((int64_t)T * I * O);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        int parts = omp_get_num_threads(), part = omp_get_thread_num(), b, e;
        /* the three gradients are separate arrays: no barrier between them */
        if (dinp && T >= 64 * parts) {
            /* many tokens: whole rows of dinp per thread (each packs all of w once) */
            tl_split_range(T, parts, part, 8, &b, &e);
            if (e > b)
                backward_inp_slice(k, dinp + (int64_t)b * I, dout + (int64_t)b * O, w, e - b, I, O,
                                   0, I);
        } else if (dinp) {
            tl_split_range(I, parts, part, 48, &b, &e);
            backward_inp_slice(k, dinp, dout, w, T, I, O, b, e);
        }
        if (dw) {
            tl_split_range(O, parts, part, 48, &b, &e);
            backward_w_slice(k, dw, dout, inp, T, I, O, b, e);
        }
        if (dbias) {
            tl_split_range(O, parts, part, 16, &b, &e);
            for (int o = b; o < e; o++) {
                float db = 0.0f;
                for (int t = 0; t < T; t++) db += dout[(int64_t)t * O + o];
                dbias[o] += db;
            }
        }
    }
}
