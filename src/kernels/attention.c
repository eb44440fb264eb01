/* attention.c: causal multi-head attention with grouped key/value heads. The dot
 * products and the weighted sum over the KV cache run through the ISA's vector
 * loops (simd.h); each (query, head) pair is computed by one thread. */
#include <math.h>
#include <omp.h>

#include "simd.h"

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
    /* (t, h) pairs dealt round-robin, so the long rows of a causal prefill are shared evenly */
#pragma omp parallel for collapse(2) schedule(static, 1) num_threads(nth) if (nth > 1)
    for (int t = 0; t < T; t++) {
        for (int h = 0; h < H; h++) {
            float *att = scratch + (int64_t)omp_get_thread_num() * scratch_per_thread;
            const float *qh = q + ((int64_t)t * H + h) * D;
            int kvh = h / group;
            int n = pos0 + t + 1;
            ks->attn_scores(att, qh, k + kvh * D, n, kv_stride, D, scale);
            tl_softmax(att, n);
            ks->attn_wsum(out + ((int64_t)t * H + h) * D, att, v + kvh * D, n, kv_stride, D);
        }
    }
}
