/* rmsnorm.c: out = inp * rstd * w with rstd = 1/sqrt(mean(inp^2) + eps); forward/backward.
 * Written once over `real` (see generic.h): float for tiller, double for the gradient checks.
 * The float forward runs its sum of squares and scaling through the ISA's vector loops
 * (simd.h); tl_rmsnorm_forward_ref is the plain loop. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "rmsnorm.c"
#include "generic.h"
#include "simd.h"

static inline void rmsnorm_row(const tl_simd *k, float *out, float *rstd, const float *inp,
                               const float *w, int t, int C, float eps) {
    const float *x = inp + (int64_t)t * C;
    float r = 1.0f / sqrtf(k->sumsq(x, C) / (float)C + eps);
    k->scale_mul(out + (int64_t)t * C, x, r, w, C);
    if (rstd) rstd[t] = r;
}

/* shapes: out [T, C], rstd [T] (saved for backward, may be NULL), inp [T, C], w [C] */
void tl_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int T, int C,
                        float eps) {
    const tl_simd *k = tl_simd_get();
    int nth = tl_kernel_threads((int64_t)T * C);
    /* No parallel region at all for small work: entering one, even with an if clause that
     * makes a team of one, costs libgomp futex calls, which dominate a tiny model's decode. */
    if (nth == 1) {
        for (int t = 0; t < T; t++) rmsnorm_row(k, out, rstd, inp, w, t, C, eps);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(nth)
    for (int t = 0; t < T; t++) rmsnorm_row(k, out, rstd, inp, w, t, C, eps);
}

#else

/* shapes: out [T, C], rstd [T] (saved for backward, may be NULL), inp [T, C], w [C] */
void TL_REF(tl_rmsnorm_forward)(real *out, real *rstd, const real *inp, const real *w, int T,
                                int C, float eps) {
#pragma omp parallel for schedule(static) if ((int64_t)T * C > 32768)
    for (int t = 0; t < T; t++) {
        const real *x = inp + (int64_t)t * C;
        real *y = out + (int64_t)t * C;
        real ss = 0;
        for (int i = 0; i < C; i++) ss += x[i] * x[i];
        real r = (real)1 / rsqrt_(ss / (real)C + (real)eps);
        for (int i = 0; i < C; i++) y[i] = x[i] * r * w[i];
        if (rstd) rstd[t] = r;
    }
}

/* shapes: dinp [T, C], dw [C], dout [T, C], inp [T, C], w [C], rstd [T]
 * y_i = w_i x_i r;  dL/dx_j = r (w_j g_j) - r^3/C x_j sum_i (w_i g_i x_i);  dL/dw_i = sum_t g_i x_i r.
 * Rows are independent for dinp; dw is summed over rows by column blocks, each block
 * owned by one thread and summed in row order, so the result is the same for any
 * thread count. */
void TL_FN(tl_rmsnorm_backward)(real *dinp, real *dw, const real *dout, const real *inp,
                                const real *w, const real *rstd, int T, int C) {
    int big = (int64_t)T * C > 32768;
    if (dinp) {
#pragma omp parallel for schedule(static) if (big)
        for (int t = 0; t < T; t++) {
            const real *x = inp + (int64_t)t * C;
            const real *g = dout + (int64_t)t * C;
            real *dx = dinp + (int64_t)t * C;
            real r = rstd[t];
            real dot = 0;
            for (int i = 0; i < C; i++) dot += w[i] * g[i] * x[i];
            real k = dot * r * r * r / (real)C;
            for (int i = 0; i < C; i++) dx[i] += r * w[i] * g[i] - k * x[i];
        }
    }
    if (dw) {
        enum { BLK = 32 };
#pragma omp parallel for schedule(static) if (big)
        for (int i0 = 0; i0 < C; i0 += BLK) {
            int i1 = i0 + BLK < C ? i0 + BLK : C;
            for (int t = 0; t < T; t++) {
                const real *x = inp + (int64_t)t * C;
                const real *g = dout + (int64_t)t * C;
                real r = rstd[t];
                for (int i = i0; i < i1; i++) dw[i] += g[i] * x[i] * r;
            }
        }
    }
}

#endif /* TL_GENERIC_BODY */
