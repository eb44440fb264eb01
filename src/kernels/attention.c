/* attention.c: causal multi-head attention with grouped key/value heads. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels.h"

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
