/*
 * hmatmul: matrices stored as f16 or bf16 (GGUF / safetensors kept as stored, in the mapped
 * file) times f32 activations. Each weight value is widened to f32 exactly (F16C / AVX-512
 * conversions, or a shift for bf16) and multiplied in f32 with FMA, so a result equals the f32
 * matmul of the dequantized matrix up to the order of the float additions. One ISA table
 * (portable C, AVX2 + F16C, AVX-512) chosen at run time as the f32 kernels are (TILLER_ISA caps it).
 */
#ifndef TL_KERNELS_HMATMUL_H
#define TL_KERNELS_HMATMUL_H

#include "quant.h" /* tl_qmat, TL_Q_F16, TL_Q_BF16 */

/* out[t, o] = x[t, :] . W[o, :] for o in [o0, o1), t < T; out [T, O] (row stride O), x [T, W->cols]. */
typedef void (*tl_hrows_fn)(float *out, int O, const float *x, int T, const tl_qmat *W, int64_t o0, int64_t o1);
extern const tl_hrows_fn tl_hrows_portable, tl_hrows_avx2, tl_hrows_avx512;
/* The kernel of one ISA (NULL when the CPU lacks it: AVX2 needs F16C too) and the one in use. */
tl_hrows_fn tl_hrows_for(int isa);

/* Is this a type tl_hmatmul multiplies? */
static inline int tl_h_type(uint32_t t) { return t == TL_Q_F16 || t == TL_Q_BF16; }
/* out[T, W->rows] = x[T, W->cols] @ W^T, W of type TL_Q_F16 or TL_Q_BF16. OpenMP over rows. */
void tl_hmatmul(float *out, const float *x, int T, const tl_qmat *W);
/* n matrices sharing x (q/k/v, gate/up) in one parallel region */
void tl_hmatmul_multi(int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T);
/* One token's rows [o0, o1) on the calling thread (decode splits the rows over its own threads,
 * model/decode.c): out[o] = x . W[o, :], the same bits as tl_hmatmul with T = 1. */
void tl_hmatmul_rows1(float *out, const float *x, const tl_qmat *W, int64_t o0, int64_t o1);
/* the same with a given kernel (tests compare ISAs) */
void tl_hmatmul_with(tl_hrows_fn k, float *out, const float *x, int T, const tl_qmat *W);

#endif /* TL_KERNELS_HMATMUL_H */
