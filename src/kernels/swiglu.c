/* swiglu.c: out = silu(gate) * up, silu(x) = x * sigmoid(x); forward/backward. */
#include <math.h>

#include "kernels.h"

/* shapes: out, gate, up [N] */
void tl_swiglu_forward(float *out, const float *gate, const float *up, int64_t N) {
    for (int64_t i = 0; i < N; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

/* shapes: dgate, dup, dout, gate, up [N] */
void tl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t N) {
    for (int64_t i = 0; i < N; i++) {
        float g = gate[i];
        float sig = 1.0f / (1.0f + expf(-g));
        float silu = g * sig;
        if (dup) dup[i] += dout[i] * silu;
        if (dgate) dgate[i] += dout[i] * up[i] * sig * (1.0f + g * (1.0f - sig));
    }
}
