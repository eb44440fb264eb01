/* matmul.c: out[T, O] = inp[T, I] @ w[O, I]^T, the forward/backward pair.
 * The portable reference is plain C; faster paths are chosen by size and ISA. */
#include <string.h>

#include "kernels.h"

/* shapes: out [T, O], inp [T, I], w [O, I], bias [O] or NULL */
void tl_matmul_forward_ref(float *out, const float *inp, const float *w, const float *bias, int T,
                           int I, int O) {
    for (int t = 0; t < T; t++) {
        const float *x = inp + (int64_t)t * I;
        for (int o = 0; o < O; o++) {
            const float *wr = w + (int64_t)o * I;
            float acc = bias ? bias[o] : 0.0f;
            for (int i = 0; i < I; i++) acc += x[i] * wr[i];
            out[(int64_t)t * O + o] = acc;
        }
    }
}

/* shapes: as tl_matmul_forward_ref */
void tl_matmul_forward(float *out, const float *inp, const float *w, const float *bias, int T, int I,
                       int O) {
    int64_t work = (int64_t)T * I * O;
#pragma omp parallel for schedule(static) if (work > 200000)
    for (int o = 0; o < O; o++) {
        const float *wr = w + (int64_t)o * I;
        for (int t = 0; t < T; t++) {
            const float *x = inp + (int64_t)t * I;
            float acc = bias ? bias[o] : 0.0f;
            for (int i = 0; i < I; i++) acc += x[i] * wr[i];
            out[(int64_t)t * O + o] = acc;
        }
    }
}

/* shapes: dinp [T, I], dw [O, I], dbias [O], dout [T, O], inp [T, I], w [O, I] */
void tl_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                        const float *w, int T, int I, int O) {
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int t = 0; t < T; t++) {
            float *di = dinp + (int64_t)t * I;
            const float *g = dout + (int64_t)t * O;
            for (int o = 0; o < O; o++) {
                const float *wr = w + (int64_t)o * I;
                float go = g[o];
                for (int i = 0; i < I; i++) di[i] += go * wr[i];
            }
        }
    }
    if (dw || dbias) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < O; o++) {
            float *dwr = dw ? dw + (int64_t)o * I : NULL;
            float db = 0.0f;
            for (int t = 0; t < T; t++) {
                float go = dout[(int64_t)t * O + o];
                db += go;
                if (dwr) {
                    const float *x = inp + (int64_t)t * I;
                    for (int i = 0; i < I; i++) dwr[i] += go * x[i];
                }
            }
            if (dbias) dbias[o] += db;
        }
    }
}
