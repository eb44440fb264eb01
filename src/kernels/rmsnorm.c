/* rmsnorm.c: out = inp * rstd * w with rstd = 1/sqrt(mean(inp^2) + eps); forward/backward. */
#include <math.h>

#include "simd.h"

/* shapes: out [T, C], rstd [T] (saved for backward, may be NULL), inp [T, C], w [C] */
void tl_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int T, int C,
                        float eps) {
    const tl_simd *k = tl_simd_get();
    for (int t = 0; t < T; t++) {
        const float *x = inp + (int64_t)t * C;
        float ss = k->sumsq(x, C);
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        k->scale_mul(out + (int64_t)t * C, x, r, w, C);
        if (rstd) rstd[t] = r;
    }
}

/* shapes: dinp [T, C], dw [C], dout [T, C], inp [T, C], w [C], rstd [T]
 * y_i = w_i x_i r;  dL/dx_j = r (w_j g_j) - r^3/C x_j sum_i (w_i g_i x_i) */
void tl_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         const float *rstd, int T, int C) {
    for (int t = 0; t < T; t++) {
        const float *x = inp + (int64_t)t * C;
        const float *g = dout + (int64_t)t * C;
        float r = rstd[t];
        float dot = 0.0f;
        for (int i = 0; i < C; i++) dot += w[i] * g[i] * x[i];
        float k = dot * r * r * r / (float)C;
        if (dinp) {
            float *dx = dinp + (int64_t)t * C;
            for (int i = 0; i < C; i++) dx[i] += r * w[i] * g[i] - k * x[i];
        }
        if (dw)
            for (int i = 0; i < C; i++) dw[i] += g[i] * x[i] * r;
    }
}
