/* rope.c: rotary position embedding in place, both pair layouts; forward/backward.
 * A rotation's backward is the rotation by the opposite angle. The cos/sin of each
 * (position, pair) are computed once into a table (tl_rope_table) that every layer's
 * q and k reuse; tl_rope_forward builds one row of it per position on the stack. */
#include <math.h>

#include "kernels.h"

/* shapes: cs [T, D/2, 2] ({cos, sign * sin} per pair), pos [T] */
void tl_rope_table(float *cs, const int *pos, int T, int D, float theta, int sign) {
    int half = D / 2;
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            /* frequency of pair i: theta^(-2i/D), computed in double for accuracy */
            double freq = pow((double)theta, -2.0 * i / (double)D);
            double ang = (double)pos[t] * freq;
            cs[((int64_t)t * half + i) * 2] = (float)cos(ang);
            cs[((int64_t)t * half + i) * 2 + 1] = (float)sin(ang) * (float)sign;
        }
    }
}

/* shapes: x [T, nh, D], cs [T, D/2, 2] from tl_rope_table */
void tl_rope_apply(float *x, const float *cs, int T, int nh, int D, tl_rope_layout layout) {
    int half = D / 2;
    for (int t = 0; t < T; t++) {
        const float *row = cs + (int64_t)t * half * 2;
        for (int h = 0; h < nh; h++) {
            float *v = x + ((int64_t)t * nh + h) * D;
            for (int i = 0; i < half; i++) {
                float c = row[2 * i], s = row[2 * i + 1];
                int a = layout == TL_ROPE_INTERLEAVED ? 2 * i : i;
                int b = layout == TL_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c - x1 * s;
                v[b] = x0 * s + x1 * c;
            }
        }
    }
}

/* shapes: x [T, nh, D], pos [T]; D <= 1024 (tl_config_check) */
void tl_rope_forward(float *x, const int *pos, int T, int nh, int D, float theta,
                     tl_rope_layout layout, int sign) {
    float cs[1024];
    for (int t = 0; t < T; t++) {
        tl_rope_table(cs, pos + t, 1, D, theta, sign);
        tl_rope_apply(x + (int64_t)t * nh * D, cs, 1, nh, D, layout);
    }
}

/* shapes: dx [T, nh, D] (gradient w.r.t. the rotated output in, w.r.t. the input out) */
void tl_rope_backward(float *dx, const int *pos, int T, int nh, int D, float theta,
                      tl_rope_layout layout, int sign) {
    tl_rope_forward(dx, pos, T, nh, D, theta, layout, -sign);
}
