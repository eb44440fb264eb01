/* attention.c: multi-head attention with grouped key/value heads.
 *   tl_attention_forward            causal, over a KV cache (inference; float only)
 *   tl_attention_train_forward/     a batch of B sequences of T tokens, saving the
 *   tl_attention_train_backward     log-sum-exp of each query (the training pair, written
 *                                   once over `real`, see generic.h)
 *
 * Training saves lse [B, H, T] instead of the probabilities [B, H, T, T]: backward
 * recomputes p = exp(score - lse) in the same pass that needs them, which costs one
 * more q.k per pair but no [T, T] traffic (the flash-attention trade).
 *
 * Which keys a query sees is decided in one place per pass (the `n_keys` bound and
 * `key_visible`): causal means keys 0..t. The bidirectional mode planned for BICO
 * extends the bound to T and scores keys after the query with q and k rotated by
 * -theta (mirrored RoPE); that adds a second (q, k) pair and its gradients to these
 * signatures, and nothing else changes. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "attention.c"
#include "generic.h"
#include "train_simd.h"

size_t tl_attention_train_scratch(int T, int D) {
    size_t simd = tl_attention_train_scratch_avx2(T, D);
    return simd > (size_t)T ? simd : (size_t)T;
}

void tl_attention_train_forward(float *out, float *lse, const float *q, const float *k,
                                const float *v, const uint8_t *key_mask, int B, int T, int H,
                                int Hkv, int D, float *scratch, int n_scratch) {
    if (tl_cpu_isa() >= TL_ISA_AVX2)
        tl_attention_train_forward_avx2(out, lse, q, k, v, key_mask, B, T, H, Hkv, D, scratch,
                                        n_scratch);
    else
        tl_attention_train_forward_ref(out, lse, q, k, v, key_mask, B, T, H, Hkv, D, scratch,
                                       n_scratch);
}

void tl_attention_train_backward(float *dq, float *dk, float *dv, const float *dout,
                                 const float *out, const float *q, const float *k, const float *v,
                                 const float *lse, const uint8_t *key_mask, int B, int T, int H,
                                 int Hkv, int D, float *scratch, int n_scratch) {
    if (tl_cpu_isa() >= TL_ISA_AVX2)
        tl_attention_train_backward_avx2(dq, dk, dv, dout, out, q, k, v, lse, key_mask, B, T, H,
                                         Hkv, D, scratch, n_scratch);
    else
        tl_attention_train_backward_ref(dq, dk, dv, dout, out, q, k, v, lse, key_mask, B, T, H, Hkv,
                                        D, scratch, n_scratch);
}

/* shapes: out [T, H, D], q [T, H, D], k/v [Tk, Hkv, D] with row stride kv_stride,
 * Tk = pos0 + T; query t sees keys 0 .. pos0 + t. scratch: per thread
 * scratch_per_thread >= Tk floats. */
void tl_attention_forward(float *out, const float *q, const float *k, const float *v, int T, int pos0,
                          int H, int Hkv, int D, int kv_stride, float *scratch, int scratch_per_thread) {
    int group = H / Hkv;
    float scale = 1.0f / sqrtf((float)D);
    int64_t work = (int64_t)T * H * (pos0 + T) * D;
#pragma omp parallel for collapse(2) schedule(static) if (work > 100000)
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < H; h++) {
            float *att = scratch + (int64_t)omp_get_thread_num() * scratch_per_thread;
            const float *qh = q + ((int64_t)t * H + h) * D;
            int kvh = h / group;
            int n = pos0 + t + 1;
            for (int j = 0; j < n; j++) {
                const float *kj = k + (int64_t)j * kv_stride + kvh * D;
                float s = 0.0f;
                for (int d = 0; d < D; d++) s += qh[d] * kj[d];
                att[j] = s * scale;
            }
            tl_softmax(att, n);
            float *oh = out + ((int64_t)t * H + h) * D;
            memset(oh, 0, (size_t)D * sizeof(float));
            for (int j = 0; j < n; j++) {
                const float *vj = v + (int64_t)j * kv_stride + kvh * D;
                float a = att[j];
                for (int d = 0; d < D; d++) oh[d] += a * vj[d];
            }
        }
    }
}

#else /* ---- the training pair, over `real` ---- */

#ifndef TL_ATTENTION_HELPERS
#define TL_ATTENTION_HELPERS
/* Keys query t may attend (before the key mask): causal = keys 0..t. */
static inline int n_keys(int t, int T) {
    (void)T;
    return t + 1;
}
/* The key mask hides a key from every query (masked positions of BICO's denoising). */
static inline int key_visible(const uint8_t *mask_row, int j) { return !mask_row || !mask_row[j]; }
static inline int ref_threads(int n_scratch) {
    int nt = omp_get_max_threads();
    return nt < n_scratch ? nt : n_scratch;
}
#endif

/* shapes: out [B, T, H, D], lse [B, H, T], q [B, T, H, D], k/v [B, T, Hkv, D],
 * key_mask [B, T] or NULL, scratch [n_scratch, tl_attention_train_scratch(T, D)] (uses
 * T of each). A query that sees no key (all masked) gets out = 0 and lse = -inf. */
void TL_REF(tl_attention_train_forward)(real *out, real *lse, const real *q, const real *k,
                                        const real *v, const uint8_t *key_mask, int B, int T, int H,
                                        int Hkv, int D, real *scratch, int n_scratch) {
    int group = H / Hkv, QD = H * D, KD = Hkv * D;
    real scale = (real)1 / rsqrt_((real)D);
    int64_t work = (int64_t)B * H * T * T * D;
    size_t slot = tl_attention_train_scratch(T, D);
#pragma omp parallel for collapse(3) schedule(static) if (work > 100000) num_threads(ref_threads(n_scratch))
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                real *att = scratch + (size_t)omp_get_thread_num() * slot;
                const uint8_t *mrow = key_mask ? key_mask + (int64_t)b * T : NULL;
                const real *qt = q + ((int64_t)b * T + t) * QD + h * D;
                const real *kb = k + (int64_t)b * T * KD + (h / group) * D;
                const real *vb = v + (int64_t)b * T * KD + (h / group) * D;
                real *ot = out + ((int64_t)b * T + t) * QD + h * D;
                real *lt = lse + ((int64_t)b * H + h) * T + t;
                int n = n_keys(t, T);
                real mx = (real)-INFINITY;
                for (int j = 0; j < n; j++) {
                    if (!key_visible(mrow, j)) continue;
                    const real *kj = kb + (int64_t)j * KD;
                    real s = 0;
                    for (int d = 0; d < D; d++) s += qt[d] * kj[d];
                    att[j] = s * scale;
                    if (att[j] > mx) mx = att[j];
                }
                for (int d = 0; d < D; d++) ot[d] = 0;
                if (mx == (real)-INFINITY) {
                    *lt = (real)-INFINITY;
                    continue;
                }
                real sum = 0;
                for (int j = 0; j < n; j++) {
                    att[j] = key_visible(mrow, j) ? rexp_(att[j] - mx) : 0;
                    sum += att[j];
                }
                real inv = (real)1 / sum;
                for (int j = 0; j < n; j++) {
                    if (att[j] == 0) continue;
                    const real *vj = vb + (int64_t)j * KD;
                    real a = att[j] * inv;
                    for (int d = 0; d < D; d++) ot[d] += a * vj[d];
                }
                *lt = mx + rlog_(sum);
            }
        }
    }
}

/* shapes: dq [B, T, H, D], dk/dv [B, T, Hkv, D] (accumulated), dout/out [B, T, H, D],
 * q, k, v, lse, key_mask as the forward; scratch unused (the SIMD path needs it).
 * With p_j = exp(s_j - lse), s_j = scale q.k_j, o = sum_j p_j v_j:
 *   dv_j += p_j do;  ds_j = p_j (do.v_j - do.o);  dq += scale sum_j ds_j k_j;  dk_j += scale ds_j q.
 * One thread owns one (sequence, kv head): its dk, dv rows and the dq rows of the
 * query heads sharing it, each summed in a fixed order, so the result is the same
 * for any thread count. */
void TL_REF(tl_attention_train_backward)(real *dq, real *dk, real *dv, const real *dout,
                                         const real *out, const real *q, const real *k,
                                         const real *v, const real *lse, const uint8_t *key_mask,
                                         int B, int T, int H, int Hkv, int D, real *scratch,
                                         int n_scratch) {
    (void)scratch;
    int group = H / Hkv, QD = H * D, KD = Hkv * D;
    real scale = (real)1 / rsqrt_((real)D);
    int64_t work = (int64_t)B * H * T * T * D;
#pragma omp parallel for collapse(2) schedule(static) if (work > 50000) num_threads(ref_threads(n_scratch))
    for (int b = 0; b < B; b++) {
        for (int kvh = 0; kvh < Hkv; kvh++) {
            const uint8_t *mrow = key_mask ? key_mask + (int64_t)b * T : NULL;
            const real *kb = k + (int64_t)b * T * KD + kvh * D;
            const real *vb = v + (int64_t)b * T * KD + kvh * D;
            real *dkb = dk + (int64_t)b * T * KD + kvh * D;
            real *dvb = dv + (int64_t)b * T * KD + kvh * D;
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                for (int t = 0; t < T; t++) {
                    real l = lse[((int64_t)b * H + h) * T + t];
                    if (l == (real)-INFINITY) continue; /* saw no key: no gradient */
                    int64_t row = ((int64_t)b * T + t) * QD + h * D;
                    const real *qt = q + row, *dot = dout + row, *ot = out + row;
                    real *dqt = dq + row;
                    real di = 0;
                    for (int d = 0; d < D; d++) di += dot[d] * ot[d];
                    int n = n_keys(t, T);
                    for (int j = 0; j < n; j++) {
                        if (!key_visible(mrow, j)) continue;
                        const real *kj = kb + (int64_t)j * KD, *vj = vb + (int64_t)j * KD;
                        real s = 0, dp = 0;
                        for (int d = 0; d < D; d++) {
                            s += qt[d] * kj[d];
                            dp += dot[d] * vj[d];
                        }
                        real p = rexp_(s * scale - l);
                        real ds = p * (dp - di) * scale;
                        real *dkj = dkb + (int64_t)j * KD, *dvj = dvb + (int64_t)j * KD;
                        for (int d = 0; d < D; d++) {
                            dqt[d] += ds * kj[d];
                            dkj[d] += ds * qt[d];
                            dvj[d] += p * dot[d];
                        }
                    }
                }
            }
        }
    }
}

#endif /* TL_GENERIC_BODY */
