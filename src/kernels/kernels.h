/*
 * kernels: the numeric operations of a Llama block, each a forward/backward pair
 * in its own file (matmul.c, rmsnorm.c, rope.c, attention.c, swiglu.c, ...).
 * Kernels never allocate; callers pass every buffer. Inputs are const.
 * Backward functions accumulate into their gradient outputs (+=); callers zero.
 *
 * Speed: each kernel runs its inner loops through the ISA table chosen once by
 * tl_cpu_isa() (simd.h, private to this module: portable C, AVX2+FMA, AVX-512),
 * and sizes its own OpenMP region: ops too small to repay a fork/join run on the
 * calling thread, larger ones split their output rows across
 * omp_get_max_threads() threads (each element written by one thread, so results
 * are deterministic for a thread count). Numerics equal the plain-C reference up
 * to the order of float additions and FMA contraction; exp is libm's expf.
 *
 * Shape legend (used in every comment in tiller):
 *   B  batch (sequences)        T  tokens (positions) in a call
 *   C  model width (dim)        F  SwiGLU hidden width
 *   H  query heads              Hkv key/value heads      D  head dim
 *   V  vocabulary size          L  layers                Tk keys visible
 */
#ifndef TL_KERNELS_H
#define TL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "tiller/kernels.h" /* tl_rope_layout, tl_isa */


/* ---- CPU features and threading --------------------------------------- */


/* ---- matmul: out[T, O] = inp[T, I] @ w[O, I]^T (+ bias[O]) -------------- */
void tl_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int T, int I,
                       int O);
/* dinp[T, I] += dout[T, O] @ w[O, I];  dw[O, I] += dout^T @ inp;  dbias[O] += sum_t dout.
 * Any of dinp, dw, dbias may be NULL. */
void tl_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, int T, int I, int O);
/* n matmuls of the same input in one parallel region (q/k/v, gate/up: one
 * fork/join instead of n): out[j][T, O[j]] = inp[T, I] @ w[j][O[j], I]^T.
 * Results equal n calls of tl_matmul_forward up to the order of float additions. */
void tl_matmul_forward_multi(int n, float *const out[], const float *const w[], const int O[],
                             const float *inp, int T, int I);
/* One token's rows [o0, o1) of that matmul on the calling thread (decode splits the rows of a
 * matrix over its own threads, model/decode.c): out[o] = x[:] . w[o, :], x [I], w [O, I], the same
 * bits as tl_matmul_forward with T = 1 for any split of the rows. */
void tl_matmul_rows1(float *out, const float *x, const float *w, int I, int o0, int o1);
/* The portable reference, for tests of the SIMD paths. */
void tl_matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias, int T,
                           int I, int O);

/* ---- rmsnorm: out[T, C] = inp * rstd * w, rstd = 1/sqrt(mean(inp^2) + eps) */
void tl_rmsnorm_forward(float *out, float *rstd /* [T] or NULL */, const float *inp, const float *w,
                        int T, int C, float eps);
void tl_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         const float *rstd, int T, int C);

/* ---- rope, in place on x[T, nh, D] at positions pos[t] -------------------
 * sign = +1 rotates by +theta*pos (the usual RoPE), -1 by -theta*pos (the
 * mirrored rotation BICO uses; also the backward of sign = +1). */
void tl_rope_forward(float *x, const int *pos, int T, int nh, int D, float theta,
                     tl_rope_layout layout, int sign);
void tl_rope_backward(float *dx, const int *pos, int T, int nh, int D, float theta,
                      tl_rope_layout layout, int sign);
/* The same rotation split in two, so a forward pass computes the cos/sin once per
 * position and reuses them in every layer: cs[T, D/2, 2] = {cos, sign * sin} of
 * pos[t] * theta^(-2i/D) (in double, as above); tl_rope_apply rotates x[T, nh, D]
 * by it, giving exactly tl_rope_forward's result. */
void tl_rope_table(float *cs, const int *pos, int T, int D, float theta, int sign);
/* Two-dimensional RoPE (GLM-style, for ABI): pair i is rotated by pos[t] * f_i when i
 * is even and by pos2[t] * f_i when i is odd, f_i = theta^(-2i/D) as above. Each of
 * the two position ids thus gets half the head dims with a full ladder of frequencies
 * (the even pairs' ladder is exactly a D/2-dim RoPE with the same theta), and with
 * pos2 = pos it is tl_rope_forward. dim_pos2[D] (tl_rope2d_dims) marks the dims the
 * odd pairs occupy in the given layout. */
void tl_rope2d_forward(float *x, const int *pos, const int *pos2, int T, int nh, int D, float theta,
                       tl_rope_layout layout, int sign);
void tl_rope2d_backward(float *dx, const int *pos, const int *pos2, int T, int nh, int D, float theta,
                        tl_rope_layout layout, int sign);
void tl_rope2d_dims(uint8_t *dim_pos2, int D, tl_rope_layout layout);
void tl_rope_table_scaled(float *cs, const int *pos, int T, int D, float theta, float scale, const float *factors,
                          int sign);
void tl_rope_apply(float *x, const float *cs, int T, int nh, int D, tl_rope_layout layout);
/* only the first R of each head's D dims (partial rotary, GPT-NeoX); cs [T, R/2, 2] */
void tl_rope_apply_dims(float *x, const float *cs, int T, int nh, int D, int R, tl_rope_layout layout);

/* ---- causal attention over a KV cache -------------------------------------
 * q[T, H, D] for positions pos0 .. pos0+T-1; keys/values k[Tk, Hkv, D] with
 * Tk = pos0 + T (row stride kv_stride floats); out[T, H, D].
 * scratch: scratch_per_thread >= Tk floats for each OpenMP thread. */
void tl_attention_forward(float *out, const float *q, const float *k, const float *v, int T, int pos0,
                          int H, int Hkv, int D, int kv_stride, float *scratch, int scratch_per_thread);
/* One query (T = 1, at position pos0), heads [h0, h1) only, on the calling thread: the same bits
 * as tl_attention_forward for those heads. att: pos0 + 1 floats of scratch. */
void tl_attention_heads1(float *out, const float *q, const float *k, const float *v, int pos0, int H, int Hkv,
                         int D, int kv_stride, int h0, int h1, float *att);

/* ---- SwiGLU: out[N] = silu(gate) * up ------------------------------------ */
void tl_swiglu_forward(float *out, const float *gate, const float *up, int64_t N);
void tl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t N);

/* ---- softmax in place over n values (max-subtracted) ---------------------- */
void tl_softmax(float *x, int n);

/* ---- memory-bandwidth probes (tiller bench) ------------------------------
 * Split across omp_get_max_threads() threads, each on its own contiguous part
 * (so call them on memory first touched the same way for local pages). */
float tl_stream_read(const float *x, int64_t n); /* returns sum(x) */
void tl_stream_triad(float *restrict a, const float *restrict b, const float *restrict c, float s,
                     int64_t n); /* a = b + s c */
/* one thread, one stream, AVX-512 (x86 only; call only when tl_cpu_isa() is TL_ISA_AVX512): sum(x) */
float tl_stream_sum1_avx512(const float *x, int64_t n);

/* ---- attention for training: B sequences of T tokens at positions 0..T-1 ----
 * q [B, T, H, D] and k, v [B, T, Hkv, D] (q, k already rotated); out [B, T, H, D];
 * lse [B, H, T] is saved for backward (log-sum-exp of each query's scaled scores).
 * Causal: query t sees keys 0..t, minus those hidden by key_mask [B, T] (1 = hidden;
 * NULL = none). A query that sees no key gets out = 0, lse = -inf.
 * scratch: n_scratch slots of tl_attention_train_scratch(T, D) floats; at most
 * n_scratch threads run. The general form (_ex) below adds the bidirectional modes. */
size_t tl_attention_train_scratch(int T, int D);
/* Which keys each query sees, for the general pair (BICO, ABI):
 *   key_mask [B, T] 1 = hidden from every query, or NULL;
 *   prefix [B] or NULL: query t of sequence b sees keys 0..t and also every key
 *       j < prefix[b] (bidirectional part; prefix = T: fully bidirectional);
 *   pos [B, T] or NULL (= 0..T-1): RoPE positions; a visible key with pos[j] > pos[t]
 *       is scored with the mirrored pair qm . km instead of q . k.
 * With q = R_m q0, k = R_n k0 and qm = R_{-m} q0, km = R_{-n} k0 (tl_rope_forward with
 * sign -1) the score is <R_m q0, R_n k0> for n <= m and <R_{-m} q0, R_{-n} k0> for
 * n > m: the relative distance seen is never positive (METHODS.md section 3). */
typedef struct {
    const uint8_t *key_mask;
    const int *prefix;
    const int *pos;
    /* 2-D positions (ABI with GLM's encoding; NULL = 1-D): pos2 [B, T] is the second
     * position id and dim_pos2 [D] marks the head dims rotated by it (tl_rope2d_dims).
     * The mirror decision is then made per half: a dim with dim_pos2[d] uses the
     * mirrored pair when pos2[j] > pos2[t], the others when pos[j] > pos[t], so each
     * position id sees only non-positive relative distances. Needs pos. */
    const int *pos2;
    const uint8_t *dim_pos2;
} tl_attn_vis;
/* out, lse as tl_attention_train_forward; qm, km as q, k (NULL: mirrored keys use q, k). */
void tl_attention_train_forward_ex(float *out, float *lse, const float *q, const float *k,
                                   const float *qm, const float *km, const float *v,
                                   const tl_attn_vis *vis, int B, int T, int H, int Hkv, int D,
                                   float *scratch, int n_scratch);
/* dq, dk, dqm, dkm, dv += gradients (dqm, dkm NULL when qm is). */
void tl_attention_train_backward_ex(float *dq, float *dk, float *dqm, float *dkm, float *dv,
                                    const float *dout, const float *out, const float *q,
                                    const float *k, const float *qm, const float *km,
                                    const float *v, const float *lse, const tl_attn_vis *vis,
                                    int B, int T, int H, int Hkv, int D, float *scratch,
                                    int n_scratch);
void tl_attention_train_forward_ex_ref(float *out, float *lse, const float *q, const float *k,
                                       const float *qm, const float *km, const float *v,
                                       const tl_attn_vis *vis, int B, int T, int H, int Hkv,
                                       int D, float *scratch, int n_scratch);
void tl_attention_train_backward_ex_ref(float *dq, float *dk, float *dqm, float *dkm, float *dv,
                                        const float *dout, const float *out, const float *q,
                                        const float *k, const float *qm, const float *km,
                                        const float *v, const float *lse,
                                        const tl_attn_vis *vis, int B, int T, int H, int Hkv,
                                        int D, float *scratch, int n_scratch);
void tl_attention_train_forward(float *out, float *lse, const float *q, const float *k,
                                const float *v, const uint8_t *key_mask, int B, int T, int H,
                                int Hkv, int D, float *scratch, int n_scratch);
/* dq, dk, dv += gradients of out given dout; out and lse are the forward's. */
void tl_attention_train_backward(float *dq, float *dk, float *dv, const float *dout,
                                 const float *out, const float *q, const float *k, const float *v,
                                 const float *lse, const uint8_t *key_mask, int B, int T, int H,
                                 int Hkv, int D, float *scratch, int n_scratch);
/* The portable references, for tests of the SIMD paths. */
void tl_attention_train_forward_ref(float *out, float *lse, const float *q, const float *k,
                                    const float *v, const uint8_t *key_mask, int B, int T, int H,
                                    int Hkv, int D, float *scratch, int n_scratch);
void tl_attention_train_backward_ref(float *dq, float *dk, float *dv, const float *dout,
                                     const float *out, const float *q, const float *k,
                                     const float *v, const float *lse, const uint8_t *key_mask,
                                     int B, int T, int H, int Hkv, int D, float *scratch,
                                     int n_scratch);

/* ---- token embedding: out[N, C] = table[V, C][tokens[n]] ------------------- */
void tl_embedding_forward(float *out, const float *table, const int32_t *tokens, int N, int C);
void tl_embedding_backward(float *dtable, const float *dout, const int32_t *tokens, int N, int C);

/* ---- cross-entropy: logits [N, V], targets [N] (< 0 = not counted) ----------
 * forward: losses [N] (may be NULL), lse [N] saved; returns the mean over counted rows.
 * backward WRITES dlogits = dloss / n_counted * (softmax - onehot), and may run in
 * place (dlogits == logits). */
float tl_crossentropy_forward(float *losses, float *lse, const float *logits,
                              const int32_t *targets, int N, int V);
void tl_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                              const int32_t *targets, float dloss, int N, int V);
/* The portable references, for tests of the SIMD paths. */
void tl_rmsnorm_forward_ref(float *out, float *rstd, const float *inp, const float *w, int T, int C,
                            float eps);
void tl_swiglu_forward_ref(float *out, const float *gate, const float *up, int64_t N);
void tl_swiglu_backward_ref(float *dgate, float *dup, const float *dout, const float *gate,
                            const float *up, int64_t N);
float tl_crossentropy_forward_ref(float *losses, float *lse, const float *logits,
                                  const int32_t *targets, int N, int V);
void tl_crossentropy_backward_ref(float *dlogits, const float *logits, const float *lse,
                                  const int32_t *targets, float dloss, int N, int V);

#endif /* TL_KERNELS_H */
