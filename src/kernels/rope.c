/* rope.c: rotary position embedding in place, both pair layouts; forward/backward.
 * A rotation's backward is the rotation by the opposite angle. */
#include <math.h>

#include "kernels.h"

/* shapes: x [T, nh, D], pos [T] */
void tl_rope_forward(float *x, const int *pos, int T, int nh, int D, float theta,
                     tl_rope_layout layout, int sign) {
    int half = D / 2;
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            /* frequency of pair i: theta^(-2i/D), computed in double for accuracy */
            double freq = pow((double)theta, -2.0 * i / (double)D);
            double ang = (double)pos[t] * freq;
            float c = (float)cos(ang), s = (float)sin(ang) * (float)sign;
            for (int h = 0; h < nh; h++) {
                float *v = x + ((int64_t)t * nh + h) * D;
                int a = layout == TL_ROPE_INTERLEAVED ? 2 * i : i;
                int b = layout == TL_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

/* shapes: dx [T, nh, D] (gradient w.r.t. the rotated output in, w.r.t. the input out) */
void tl_rope_backward(float *dx, const int *pos, int T, int nh, int D, float theta,
                      tl_rope_layout layout, int sign) {
    tl_rope_forward(dx, pos, T, nh, D, theta, layout, -sign);
}
