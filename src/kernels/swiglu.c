/* swiglu.c: out = silu(gate) * up, silu(x) = x * sigmoid(x); forward/backward.
 * Written once over `real` (see generic.h): float for tiller, double for the gradient checks. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "swiglu.c"
#include "generic.h"
#include "train_simd.h"

void tl_swiglu_forward(float *out, const float *gate, const float *up, int64_t N) {
    if (tl_cpu_isa() >= TL_ISA_AVX2) tl_swiglu_forward_avx2(out, gate, up, N);
    else tl_swiglu_forward_ref(out, gate, up, N);
}

void tl_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate,
                        const float *up, int64_t N) {
    if (tl_cpu_isa() >= TL_ISA_AVX2) tl_swiglu_backward_avx2(dgate, dup, dout, gate, up, N);
    else tl_swiglu_backward_ref(dgate, dup, dout, gate, up, N);
}
#else

/* shapes: out, gate, up [N]; out may alias gate or up */
void TL_REF(tl_swiglu_forward)(real *out, const real *gate, const real *up, int64_t N) {
#pragma omp parallel for schedule(static) if (N > 65536)
    for (int64_t i = 0; i < N; i++) {
        real g = gate[i];
        out[i] = g / ((real)1 + rexp_(-g)) * up[i];
    }
}

/* shapes: dgate, dup, dout, gate, up [N]; dgate or dup may be NULL
 * d silu(g)/dg = sig(g) (1 + g (1 - sig(g))) */
void TL_REF(tl_swiglu_backward)(real *dgate, real *dup, const real *dout, const real *gate,
                               const real *up, int64_t N) {
#pragma omp parallel for schedule(static) if (N > 65536)
    for (int64_t i = 0; i < N; i++) {
        real g = gate[i];
        real sig = (real)1 / ((real)1 + rexp_(-g));
        real silu = g * sig;
        if (dup) dup[i] += dout[i] * silu;
        if (dgate) dgate[i] += dout[i] * up[i] * sig * ((real)1 + g * ((real)1 - sig));
    }
}

#endif /* TL_GENERIC_BODY */
