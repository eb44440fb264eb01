/* rope.c: rotary position embedding in place, both pair layouts; forward/backward.
 * A rotation's backward is the rotation by the opposite angle.
 * Written once over `real` (see generic.h): float for tiller, double for the gradient checks. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "rope.c"
#include "generic.h"
#else

/* shapes: x [T, nh, D], pos [T]. Angles are computed in double for accuracy: the
 * frequency of pair i is theta^(-2i/D) (a table of them for D <= 1024, the limit of
 * tl_config_check; recomputed per position beyond). */
void TL_FN(tl_rope_forward)(real *x, const int *pos, int T, int nh, int D, float theta,
                            tl_rope_layout layout, int sign) {
    int half = D / 2;
    double freqs[512];
    int tabled = half <= 512 ? half : 0;
    for (int i = 0; i < tabled; i++) freqs[i] = pow((double)theta, -2.0 * i / (double)D);
#pragma omp parallel for schedule(static) if ((int64_t)T * nh * D > 65536)
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            double freq = i < tabled ? freqs[i] : pow((double)theta, -2.0 * i / (double)D);
            double ang = (double)pos[t] * freq;
            real c = (real)cos(ang), s = (real)sin(ang) * (real)sign;
            int a = layout == TL_ROPE_INTERLEAVED ? 2 * i : i;
            int b = layout == TL_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
            for (int h = 0; h < nh; h++) {
                real *v = x + ((int64_t)t * nh + h) * D;
                real x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

/* shapes: dx [T, nh, D] (gradient w.r.t. the rotated output in, w.r.t. the input out).
 * In place, so it overwrites rather than accumulates. */
void TL_FN(tl_rope_backward)(real *dx, const int *pos, int T, int nh, int D, float theta,
                             tl_rope_layout layout, int sign) {
    TL_FN(tl_rope_forward)(dx, pos, T, nh, D, theta, layout, -sign);
}

#endif /* TL_GENERIC_BODY */
