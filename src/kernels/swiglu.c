/* swiglu.c: out = silu(gate) * up, silu(x) = x * sigmoid(x); forward/backward.
 * Element-wise with libm's expf (exact reference numerics); large calls split the
 * elements across threads. */
#include <math.h>
#include <omp.h>

#include "simd.h"

/* shapes: out, gate, up [N] */
void tl_swiglu_forward(float *out, const float *gate, const float *up, int64_t N) {
    /* an expf costs about as much as a dozen multiply-adds */
    int nth = tl_kernel_threads(N * 16);
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
    for (int64_t i = 0; i < N; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* shapes: dgate, dup, dout, gate, up [N] */
void tl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t N) {
    int nth = tl_kernel_threads(N * 16);
#pragma omp parallel for schedule(static) num_threads(nth) if (nth > 1)
    for (int64_t i = 0; i < N; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + expf(-g));
        float silu = g * sig;
        if (dup) dup[i] += dout[i] * silu;
        if (dgate) dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}
