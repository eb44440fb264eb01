/* attention.c: multi-head attention with grouped key/value heads.
 *   tl_attention_forward            causal, over a KV cache (inference; float only): the
 *                                   dot products and weighted sums run through the ISA's
 *                                   vector loops (simd.h), one (query, head) per thread
 *   tl_attention_train_forward/     a batch of B sequences of T tokens, saving the
 *   tl_attention_train_backward     log-sum-exp of each query (the training pair, written
 *                                   once over `real`, see generic.h)
 *
 * Training saves lse [B, H, T] instead of the probabilities [B, H, T, T]: backward
 * recomputes p = exp(score - lse) in the same pass that needs them, which costs one
 * more q.k per pair but no [T, T] traffic (the flash-attention trade).
 *
 * Which keys a query sees is decided in one place per pass (the `n_keys` bound and
 * `key_visible`): causal means keys 0..t. The general form (`_ex`, tl_attn_vis) adds
 * a bidirectional prefix per sequence: query t also sees keys j < prefix[b] (BICO:
 * prefix = T, everything; ABI: the context part). A visible key positioned after the
 * query (pos[j] > pos[t]) is scored with the second pair qm, km — q and k rotated by
 * -theta (mirrored RoPE) — so the relative distance the query sees is never positive,
 * as in causal pre-training; its gradient flows to dqm, dkm. With 2-D positions (pos2,
 * GLM's encoding for ABI) the two halves of the head dims decide separately. The AVX2 path does the
 * causal case only; every other case runs the portable reference (float). */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "attention.c"
#include "generic.h"
#include "simd.h"
#include "train_simd.h"

size_t tl_attention_train_scratch(int T, int D) {
    size_t simd = tl_attention_train_scratch_avx2(T, D);
    return simd > (size_t)T ? simd : (size_t)T;
}

/* The general pair: causal with a key mask only (vis NULL or just key_mask, no qm)
 * takes the SIMD path; a prefix, positions or the mirrored pair take the reference. */
static int simd_case(const float *qm, const tl_attn_vis *vis) {
    return tl_cpu_isa() >= TL_ISA_AVX2 && !qm && (!vis || (!vis->prefix && !vis->pos && !vis->pos2));
}

void tl_attention_train_forward_ex(float *out, float *lse, const float *q, const float *k,
                                   const float *qm, const float *km, const float *v,
                                   const tl_attn_vis *vis, int B, int T, int H, int Hkv, int D,
                                   float *scratch, int n_scratch) {
    if (simd_case(qm, vis))
        tl_attention_train_forward_avx2(out, lse, q, k, v, vis ? vis->key_mask : NULL, B, T, H,
                                        Hkv, D, scratch, n_scratch);
    else
        tl_attention_train_forward_ex_ref(out, lse, q, k, qm, km, v, vis, B, T, H, Hkv, D, scratch,
                                          n_scratch);
}

void tl_attention_train_backward_ex(float *dq, float *dk, float *dqm, float *dkm, float *dv,
                                    const float *dout, const float *out, const float *q,
                                    const float *k, const float *qm, const float *km,
                                    const float *v, const float *lse, const tl_attn_vis *vis,
                                    int B, int T, int H, int Hkv, int D, float *scratch,
                                    int n_scratch) {
    if (simd_case(qm, vis))
        tl_attention_train_backward_avx2(dq, dk, dv, dout, out, q, k, v, lse,
                                         vis ? vis->key_mask : NULL, B, T, H, Hkv, D, scratch,
                                         n_scratch);
    else
        tl_attention_train_backward_ex_ref(dq, dk, dqm, dkm, dv, dout, out, q, k, qm, km, v, lse,
                                           vis, B, T, H, Hkv, D, scratch, n_scratch);
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

/* One (query t, head h) row of tl_attention_forward; att: Tk floats of the thread's scratch. */
static inline void attention_row(const tl_simd *ks, float *out, const float *q, const float *k,
                                 const float *v, int t, int h, int pos0, int H, int group, int D,
                                 int kv_stride, float scale, float *att) {
    const float *qh = q + ((int64_t)t * H + h) * D;
    int kvh = h / group;
    int n = pos0 + t + 1;
    ks->attn_scores(att, qh, k + kvh * D, n, kv_stride, D, scale);
    tl_softmax(att, n);
    ks->attn_wsum(out + ((int64_t)t * H + h) * D, att, v + kvh * D, n, kv_stride, D);
}

/* shapes: out [T, H, D], q [T, H, D], k/v [Tk, Hkv, D] with row stride kv_stride,
 * Tk = pos0 + T; query t sees keys 0 .. pos0 + t. scratch: per thread
 * scratch_per_thread >= Tk floats. */
void tl_attention_forward(float *out, const float *q, const float *k, const float *v, int T,
                          int pos0, int H, int Hkv, int D, int kv_stride, float *scratch,
                          int scratch_per_thread) {
    const tl_simd *ks = tl_simd_get();
    int group = H / Hkv;
    float scale = 1.0f / sqrtf((float)D);
    /* two passes over the visible keys (scores, weighted sum), D multiply-adds each */
    int nth = tl_kernel_threads((int64_t)T * H * (pos0 + T) * D * 2);
    /* small work (decode of a small model) enters no parallel region: see tl_rmsnorm_forward */
    if (nth == 1) {
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                attention_row(ks, out, q, k, v, t, h, pos0, H, group, D, kv_stride, scale, scratch);
        return;
    }
    /* (t, h) pairs dealt round-robin, so the long rows of a causal prefill are shared evenly */
#pragma omp parallel for collapse(2) schedule(static, 1) num_threads(nth)
    for (int t = 0; t < T; t++)
        for (int h = 0; h < H; h++)
            attention_row(ks, out, q, k, v, t, h, pos0, H, group, D, kv_stride, scale,
                          scratch + (int64_t)omp_get_thread_num() * scratch_per_thread);
}

void tl_attention_heads1(float *out, const float *q, const float *k, const float *v, int pos0, int H, int Hkv,
                         int D, int kv_stride, int h0, int h1, float *att) {
    const tl_simd *ks = tl_simd_get();
    float scale = 1.0f / sqrtf((float)D);
    for (int h = h0; h < h1; h++) attention_row(ks, out, q, k, v, 0, h, pos0, H, H / Hkv, D, kv_stride, scale, att);
}

#else /* ---- the training pair, over `real` ---- */

#ifndef TL_ATTENTION_HELPERS
#define TL_ATTENTION_HELPERS
/* Keys query t of sequence b may attend (before the key mask): 0..max(t, prefix-1),
 * as a bound n (keys 0..n-1); causal = keys 0..t. */
static inline int n_keys(const tl_attn_vis *vis, int b, int t) {
    int n = t + 1;
    if (vis && vis->prefix && vis->prefix[b] > n) n = vis->prefix[b];
    return n;
}
/* The key mask hides a key from every query (masked positions of BICO's denoising). */
static inline int key_visible(const uint8_t *mask_row, int j) { return !mask_row || !mask_row[j]; }
/* Key j lies after query t in position: scored with the mirrored pair. */
static inline int mirrored(const int *pos_row, int t, int j) {
    return pos_row ? pos_row[j] > pos_row[t] : j > t;
}
static inline int ref_threads(int n_scratch) {
    int nt = omp_get_max_threads();
    return nt < n_scratch ? nt : n_scratch;
}
#endif

/* shapes: out [B, T, H, D], lse [B, H, T], q, qm [B, T, H, D], k, km, v [B, T, Hkv, D],
 * vis as tl_attn_vis (NULL = causal, no mask), scratch [n_scratch,
 * tl_attention_train_scratch(T, D)] (uses T of each). qm, km NULL: keys after the
 * query use q, k (bidirectional without mirroring). A query that sees no key (all
 * masked) gets out = 0 and lse = -inf. */
void TL_REF(tl_attention_train_forward_ex)(real *out, real *lse, const real *q, const real *k,
                                           const real *qm, const real *km, const real *v,
                                           const tl_attn_vis *vis, int B, int T, int H, int Hkv,
                                           int D, real *scratch, int n_scratch) {
    int group = H / Hkv, QD = H * D, KD = Hkv * D;
    real scale = (real)1 / rsqrt_((real)D);
    int64_t work = (int64_t)B * H * T * T * D;
    size_t slot = tl_attention_train_scratch(T, D);
    if (!qm || !km) qm = q, km = k;
#pragma omp parallel for collapse(3) schedule(static) if (work > 100000) num_threads(ref_threads(n_scratch))
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            for (int t = 0; t < T; t++) {
                real *att = scratch + (size_t)omp_get_thread_num() * slot;
                const uint8_t *mrow = vis && vis->key_mask ? vis->key_mask + (int64_t)b * T : NULL;
                const int *prow = vis && vis->pos ? vis->pos + (int64_t)b * T : NULL;
                const int *p2row = vis && vis->pos2 && vis->pos ? vis->pos2 + (int64_t)b * T : NULL;
                int64_t qrow = ((int64_t)b * T + t) * QD + h * D;
                const real *kb = k + (int64_t)b * T * KD + (h / group) * D;
                const real *kmb = km + (int64_t)b * T * KD + (h / group) * D;
                const real *vb = v + (int64_t)b * T * KD + (h / group) * D;
                real *ot = out + qrow;
                real *lt = lse + ((int64_t)b * H + h) * T + t;
                int n = n_keys(vis, b, t);
                real mx = (real)-INFINITY;
                for (int j = 0; j < n; j++) {
                    if (!key_visible(mrow, j)) continue;
                    int mir = mirrored(prow, t, j), mir2 = p2row ? p2row[j] > p2row[t] : mir;
                    real s = 0;
                    if (mir == mir2) {
                        const real *qt = (mir ? qm : q) + qrow;
                        const real *kj = (mir ? kmb : kb) + (int64_t)j * KD;
                        for (int d = 0; d < D; d++) s += qt[d] * kj[d];
                    } else { /* 2-D positions: each position id's dims follow its own decision */
                        for (int d = 0; d < D; d++) {
                            int md = vis->dim_pos2[d] ? mir2 : mir;
                            s += (md ? qm : q)[qrow + d] * (md ? kmb : kb)[(int64_t)j * KD + d];
                        }
                    }
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

/* shapes: dq, dqm [B, T, H, D], dk, dkm, dv [B, T, Hkv, D] (accumulated; dqm, dkm
 * may be NULL when qm is), dout/out [B, T, H, D], the rest as the forward; scratch
 * unused (the SIMD path needs it).
 * With p_j = exp(s_j - lse), s_j = scale q.k_j (or qm.km_j), o = sum_j p_j v_j:
 *   dv_j += p_j do;  ds_j = p_j (do.v_j - do.o);  dq += scale sum_j ds_j k_j;  dk_j += scale ds_j q
 * (dqm, dkm for the mirrored pairs). One thread owns one (sequence, kv head): its
 * dk, dkm, dv rows and the dq, dqm rows of the query heads sharing it, each summed
 * in a fixed order, so the result is the same for any thread count. */
void TL_REF(tl_attention_train_backward_ex)(real *dq, real *dk, real *dqm, real *dkm, real *dv,
                                            const real *dout, const real *out, const real *q,
                                            const real *k, const real *qm, const real *km,
                                            const real *v, const real *lse,
                                            const tl_attn_vis *vis, int B, int T, int H, int Hkv,
                                            int D, real *scratch, int n_scratch) {
    (void)scratch;
    int group = H / Hkv, QD = H * D, KD = Hkv * D;
    real scale = (real)1 / rsqrt_((real)D);
    int64_t work = (int64_t)B * H * T * T * D;
    if (!qm || !km || !dqm || !dkm) qm = q, km = k, dqm = dq, dkm = dk;
#pragma omp parallel for collapse(2) schedule(static) if (work > 50000) num_threads(ref_threads(n_scratch))
    for (int b = 0; b < B; b++) {
        for (int kvh = 0; kvh < Hkv; kvh++) {
            const uint8_t *mrow = vis && vis->key_mask ? vis->key_mask + (int64_t)b * T : NULL;
            const int *prow = vis && vis->pos ? vis->pos + (int64_t)b * T : NULL;
            const int *p2row = vis && vis->pos2 && vis->pos ? vis->pos2 + (int64_t)b * T : NULL;
            int64_t kvoff = (int64_t)b * T * KD + kvh * D;
            const real *vb = v + kvoff;
            real *dvb = dv + kvoff;
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                for (int t = 0; t < T; t++) {
                    real l = lse[((int64_t)b * H + h) * T + t];
                    if (l == (real)-INFINITY) continue; /* saw no key: no gradient */
                    int64_t row = ((int64_t)b * T + t) * QD + h * D;
                    const real *dot = dout + row, *ot = out + row;
                    real di = 0;
                    for (int d = 0; d < D; d++) di += dot[d] * ot[d];
                    int n = n_keys(vis, b, t);
                    for (int j = 0; j < n; j++) {
                        if (!key_visible(mrow, j)) continue;
                        int mir = mirrored(prow, t, j), mir2 = p2row ? p2row[j] > p2row[t] : mir;
                        if (mir != mir2) { /* 2-D positions, the halves split: per dim */
                            int64_t ko = kvoff + (int64_t)j * KD;
                            const real *vj = vb + (int64_t)j * KD;
                            real s = 0, dp = 0;
                            for (int d = 0; d < D; d++) {
                                int md = vis->dim_pos2[d] ? mir2 : mir;
                                s += (md ? qm : q)[row + d] * (md ? km : k)[ko + d];
                                dp += dot[d] * vj[d];
                            }
                            real p = rexp_(s * scale - l);
                            real ds = p * (dp - di) * scale;
                            real *dvj = dvb + (int64_t)j * KD;
                            for (int d = 0; d < D; d++) {
                                int md = vis->dim_pos2[d] ? mir2 : mir;
                                (md ? dqm : dq)[row + d] += ds * (md ? km : k)[ko + d];
                                (md ? dkm : dk)[ko + d] += ds * (md ? qm : q)[row + d];
                                dvj[d] += p * dot[d];
                            }
                            continue;
                        }
                        const real *qt = (mir ? qm : q) + row;
                        real *dqt = (mir ? dqm : dq) + row;
                        const real *kj = (mir ? km : k) + kvoff + (int64_t)j * KD;
                        real *dkj = (mir ? dkm : dk) + kvoff + (int64_t)j * KD;
                        const real *vj = vb + (int64_t)j * KD;
                        real s = 0, dp = 0;
                        for (int d = 0; d < D; d++) {
                            s += qt[d] * kj[d];
                            dp += dot[d] * vj[d];
                        }
                        real p = rexp_(s * scale - l);
                        real ds = p * (dp - di) * scale;
                        real *dvj = dvb + (int64_t)j * KD;
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

/* The causal pair (the contract in kernels.h): the general one without prefix or mirror. */
void TL_REF(tl_attention_train_forward)(real *out, real *lse, const real *q, const real *k,
                                        const real *v, const uint8_t *key_mask, int B, int T, int H,
                                        int Hkv, int D, real *scratch, int n_scratch) {
    tl_attn_vis vis = {key_mask, NULL, NULL, NULL, NULL};
    TL_REF(tl_attention_train_forward_ex)(out, lse, q, k, NULL, NULL, v, &vis, B, T, H, Hkv, D,
                                          scratch, n_scratch);
}

void TL_REF(tl_attention_train_backward)(real *dq, real *dk, real *dv, const real *dout,
                                         const real *out, const real *q, const real *k,
                                         const real *v, const real *lse, const uint8_t *key_mask,
                                         int B, int T, int H, int Hkv, int D, real *scratch,
                                         int n_scratch) {
    tl_attn_vis vis = {key_mask, NULL, NULL, NULL, NULL};
    TL_REF(tl_attention_train_backward_ex)(dq, dk, NULL, NULL, dv, dout, out, q, k, NULL, NULL, v,
                                           lse, &vis, B, T, H, Hkv, D, scratch, n_scratch);
}

#endif /* TL_GENERIC_BODY */
