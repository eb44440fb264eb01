/* hmatmul_impl.h: the f16/bf16 row kernel, one template for the AVX2 and AVX-512 files, which
 * define before including it:
 *   VW               floats per vector          VF       the vector type
 *   VZERO()          zero vector                VLOADX(p) VW floats
 *   VLOADH(p)        VW f16 values widened      VLOADB(p) VW bf16 values widened
 *   VFMA(a, b, c)    a * b + c                  VHSUM(v)  sum of the lanes
 *   HROWS            the kernel's name
 * Four weight rows at a time share each load of x (decode is one token: the rows are the
 * work); each row's values are widened in registers, never stored. */
#include <string.h>

#include "base/base.h"
#include "hmatmul.h"

static inline float hs_scalar(uint32_t type, const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return type == TL_Q_F16 ? tl_f16_to_f32(h) : tl_bf16_to_f32(h);
}

#define HTILE(LOAD)                                                                                          \
    for (; o + 4 <= o1; o += 4) {                                                                            \
        const uint8_t *w0 = W->data + (size_t)o * rb, *w1 = w0 + rb, *w2 = w1 + rb, *w3 = w2 + rb;          \
        for (int t = 0; t < T; t++) {                                                                        \
            const float *xt = x + (int64_t)t * I;                                                            \
            VF a0 = VZERO(), a1 = VZERO(), a2 = VZERO(), a3 = VZERO();                                       \
            int64_t i = 0;                                                                                   \
            for (; i < Iv; i += VW) {                                                                        \
                VF xv = VLOADX(xt + i);                                                                      \
                a0 = VFMA(LOAD(w0 + 2 * i), xv, a0);                                                         \
                a1 = VFMA(LOAD(w1 + 2 * i), xv, a1);                                                         \
                a2 = VFMA(LOAD(w2 + 2 * i), xv, a2);                                                         \
                a3 = VFMA(LOAD(w3 + 2 * i), xv, a3);                                                         \
            }                                                                                                \
            float s0 = VHSUM(a0), s1 = VHSUM(a1), s2 = VHSUM(a2), s3 = VHSUM(a3);                            \
            for (; i < I; i++) {                                                                             \
                s0 += hs_scalar(W->type, w0 + 2 * i) * xt[i];                                                \
                s1 += hs_scalar(W->type, w1 + 2 * i) * xt[i];                                                \
                s2 += hs_scalar(W->type, w2 + 2 * i) * xt[i];                                                \
                s3 += hs_scalar(W->type, w3 + 2 * i) * xt[i];                                                \
            }                                                                                                \
            float *ot = out + (int64_t)t * O + o;                                                            \
            ot[0] = s0, ot[1] = s1, ot[2] = s2, ot[3] = s3;                                                  \
        }                                                                                                    \
    }                                                                                                        \
    for (; o < o1; o++) {                                                                                    \
        const uint8_t *w0 = W->data + (size_t)o * rb;                                                        \
        for (int t = 0; t < T; t++) {                                                                        \
            const float *xt = x + (int64_t)t * I;                                                            \
            VF a0 = VZERO();                                                                                 \
            int64_t i = 0;                                                                                   \
            for (; i < Iv; i += VW) a0 = VFMA(LOAD(w0 + 2 * i), VLOADX(xt + i), a0);                         \
            float s0 = VHSUM(a0);                                                                            \
            for (; i < I; i++) s0 += hs_scalar(W->type, w0 + 2 * i) * xt[i];                                 \
            out[(int64_t)t * O + o] = s0;                                                                    \
        }                                                                                                    \
    }

static void HROWS(float *out, int O, const float *x, int T, const tl_qmat *W, int64_t o0, int64_t o1) {
    const int64_t I = W->cols, Iv = I - I % VW;
    const size_t rb = W->row_bytes;
    int64_t o = o0;
    if (W->type == TL_Q_F16) {
        HTILE(VLOADH)
    } else {
        HTILE(VLOADB)
    }
}
#undef HTILE
