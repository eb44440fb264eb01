/* rope.c: rotary position embedding in place, both pair layouts; forward/backward.
 * A rotation's backward is the rotation by the opposite angle.
 * Written once over `real` (see generic.h): float for tiller, double for the gradient checks.
 * The inference forward splits the rotation in two (float only): tl_rope_table computes
 * the cos/sin of each (position, pair) once per chunk, and tl_rope_apply rotates every
 * layer's q and k by that table, with exactly tl_rope_forward's result. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "rope.c"
#include "generic.h"

/* shapes: cs [T, D/2, 2] ({cos, sign * sin} per pair), pos [T] */
void tl_rope_table(float *cs, const int *pos, int T, int D, float theta, int sign) {
    int half = D / 2;
    for (int i = 0; i < half; i++) {
        /* the angles of tl_rope_forward, in double: pos * theta^(-2i/D) */
        double freq = pow((double)theta, -2.0 * i / (double)D);
        for (int t = 0; t < T; t++) {
            double ang = (double)pos[t] * freq;
            cs[((int64_t)t * half + i) * 2] = (float)cos(ang);
            cs[((int64_t)t * half + i) * 2 + 1] = (float)sin(ang) * (float)sign;
        }
    }
}

/* The same with scaled frequencies (GGUF rope_freqs / llama.rope.scaling.*, as ggml's
 * rope with freq factors and ext_factor 0): angle = pos * scale * theta^(-2i/D) / factors[i];
 * factors may be NULL (all 1). shapes: factors [D/2] */
void tl_rope_table_scaled(float *cs, const int *pos, int T, int D, float theta, float scale, const float *factors,
                          int sign) {
    int half = D / 2;
    for (int i = 0; i < half; i++) {
        double freq = pow((double)theta, -2.0 * i / (double)D) * (double)scale;
        if (factors) freq /= (double)factors[i];
        for (int t = 0; t < T; t++) {
            double ang = (double)pos[t] * freq;
            cs[((int64_t)t * half + i) * 2] = (float)cos(ang);
            cs[((int64_t)t * half + i) * 2 + 1] = (float)sin(ang) * (float)sign;
        }
    }
}

/* shapes: x [T, nh, D], cs [T, R/2, 2] from tl_rope_table over R dims; the first R of each
 * head's D dims are rotated (R = D: all of them; GPT-NeoX's rotary_pct: fewer), the rest pass */
void tl_rope_apply_dims(float *x, const float *cs, int T, int nh, int D, int R, tl_rope_layout layout) {
    int half = R / 2;
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

/* shapes: x [T, nh, D], cs [T, D/2, 2] from tl_rope_table */
void tl_rope_apply(float *x, const float *cs, int T, int nh, int D, tl_rope_layout layout) {
    tl_rope_apply_dims(x, cs, T, nh, D, D, layout);
}

/* shapes: dim_pos2 [D]: 1 for the two dims of every odd pair */
void tl_rope2d_dims(uint8_t *dim_pos2, int D, tl_rope_layout layout) {
    int half = D / 2;
    for (int i = 0; i < half; i++) {
        int a = layout == TL_ROPE_INTERLEAVED ? 2 * i : i;
        int b = layout == TL_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
        dim_pos2[a] = dim_pos2[b] = (uint8_t)(i & 1);
    }
}

#else

/* shapes: row [nh, D]. Turns pair i of every head by ang (the sine signed by sign): the
 * one rotation the 1-D and the 2-D (ABI) RoPE share. */
static void TL_FN(rotate_pair)(real *row, int nh, int D, int i, tl_rope_layout layout, double ang, int sign) {
    int half = D / 2;
    real c = (real)cos(ang), s = (real)sin(ang) * (real)sign;
    int a = layout == TL_ROPE_INTERLEAVED ? 2 * i : i;
    int b = layout == TL_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
    for (int h = 0; h < nh; h++) {
        real *v = row + (int64_t)h * D;
        real x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
}

/* shapes: x [T, nh, D], pos, pos2 [T]. Pair i turns by (i odd ? pos2 : pos)[t] * theta^(-2i/D). */
void TL_FN(tl_rope2d_forward)(real *x, const int *pos, const int *pos2, int T, int nh, int D, float theta,
                              tl_rope_layout layout, int sign) {
    int half = D / 2;
#pragma omp parallel for schedule(static) if ((int64_t)T * nh * D > 65536)
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < half; i++) {
            double freq = pow((double)theta, -2.0 * i / (double)D);
            double ang = (double)((i & 1) ? pos2[t] : pos[t]) * freq;
            TL_FN(rotate_pair)(x + (int64_t)t * nh * D, nh, D, i, layout, ang, sign);
        }
    }
}

void TL_FN(tl_rope2d_backward)(real *dx, const int *pos, const int *pos2, int T, int nh, int D, float theta,
                               tl_rope_layout layout, int sign) {
    TL_FN(tl_rope2d_forward)(dx, pos, pos2, T, nh, D, theta, layout, -sign);
}

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
            TL_FN(rotate_pair)(x + (int64_t)t * nh * D, nh, D, i, layout, ang, sign);
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
