/* quant.c: ggml's block formats — sizes, dequantization (ggml's reference formulas,
 * operation for operation in float, so bit-identical), and the reference quantizers
 * llama-quantize uses without an importance matrix (written from the algorithm:
 * per-block absmax scales for *_0; for K-quants, per-sub-block scale/min found by a
 * weighted least-squares search, then 6-bit (Q4_K/Q5_K) or 8-bit (Q6_K) super-block
 * scales and a final requantization against the rounded scales). */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "base/base.h"
#include "quant.h"

int tl_q_supported(uint32_t type) {
    switch (type) {
    case TL_Q8_0:
    case TL_Q4_0:
    case TL_Q5_0:
    case TL_Q5_1:
    case TL_Q4_K:
    case TL_Q5_K:
    case TL_Q6_K: return 1;
    default: return 0;
    }
}

int tl_q_can_quantize(uint32_t type) {
    return type == TL_Q8_0 || type == TL_Q4_0 || type == TL_Q4_K || type == TL_Q5_K || type == TL_Q6_K;
}

int tl_q_block_size(uint32_t type) {
    switch (type) {
    case TL_Q_F32:
    case TL_Q_F16:
    case TL_Q_BF16: return 1;
    case TL_Q8_0:
    case TL_Q4_0:
    case TL_Q5_0:
    case TL_Q5_1: return 32;
    case TL_Q4_K:
    case TL_Q5_K:
    case TL_Q6_K:
    case TL_Q8_K: return TL_QK;
    default: return 0;
    }
}

size_t tl_q_block_bytes(uint32_t type) {
    switch (type) {
    case TL_Q_F32: return 4;
    case TL_Q_F16:
    case TL_Q_BF16: return 2;
    case TL_Q8_0: return sizeof(tl_block_q8_0);
    case TL_Q4_0: return sizeof(tl_block_q4_0);
    case TL_Q5_0: return sizeof(tl_block_q5_0);
    case TL_Q5_1: return sizeof(tl_block_q5_1);
    case TL_Q4_K: return sizeof(tl_block_q4_K);
    case TL_Q5_K: return sizeof(tl_block_q5_K);
    case TL_Q6_K: return sizeof(tl_block_q6_K);
    case TL_Q8_K: return sizeof(tl_block_q8_K);
    default: return 0;
    }
}

size_t tl_q_row_bytes(uint32_t type, int64_t n) {
    int bs = tl_q_block_size(type);
    return bs ? (size_t)(n / bs) * tl_q_block_bytes(type) : 0;
}

/* Index of the first block (of nb) whose f16 scale (d, and dmin/m where the type has one)
 * is infinite or NaN, or -1. Reads 2-4 bytes a block: far cheaper than dequantizing. */
int64_t tl_q_first_bad_scale(uint32_t type, const void *data, int64_t nb) {
    size_t bb = tl_q_block_bytes(type), off = type == TL_Q6_K ? offsetof(tl_block_q6_K, d) : 0;
    int two = type == TL_Q5_1 || type == TL_Q4_K || type == TL_Q5_K;
    if (!tl_q_supported(type)) return -1;
    const uint8_t *p = (const uint8_t *)data + off;
    for (int64_t i = 0; i < nb; i++, p += bb) {
        uint16_t h[2] = {0, 0};
        memcpy(h, p, two ? 4 : 2);
        if ((h[0] & 0x7C00) == 0x7C00 || (h[1] & 0x7C00) == 0x7C00) return i;
    }
    return -1;
}

/* ---- dequantization ---------------------------------------------------------- */

static void dq_q8_0(const tl_block_q8_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = tl_f16_to_f32(x[i].d);
        for (int j = 0; j < 32; j++)
            y[i * 32 + j] = x[i].qs[j] * d;
    }
}

static void dq_q4_0(const tl_block_q4_0 *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = tl_f16_to_f32(x[i].d);
        for (int j = 0; j < 16; j++) {
            y[i * 32 + j] = ((x[i].qs[j] & 0x0F) - 8) * d;
            y[i * 32 + j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

static void dq_q5(const uint8_t *qh4, const uint8_t *qs, float d, float m, int offset, float *y) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    for (int j = 0; j < 16; j++) {
        int hi0 = (int)((qh >> j) << 4) & 0x10, hi1 = (int)(qh >> (j + 12)) & 0x10;
        int x0 = ((qs[j] & 0x0F) | hi0) - offset, x1 = ((qs[j] >> 4) | hi1) - offset;
        if (offset) { /* Q5_0: x*d */
            y[j] = x0 * d;
            y[j + 16] = x1 * d;
        } else { /* Q5_1: x*d + m */
            y[j] = x0 * d + m;
            y[j + 16] = x1 * d + m;
        }
    }
}

static void dq_q4_K(const tl_block_q4_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *q = x[i].qs;
        const float d = tl_f16_to_f32(x[i].d), min = tl_f16_to_f32(x[i].dmin);
        uint8_t sc, m;
        for (int j = 0, is = 0; j < TL_QK; j += 64, is += 2, q += 32) {
            tl_q_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            tl_q_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

static void dq_q5_K(const tl_block_q5_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const uint8_t *ql = x[i].qs, *qh = x[i].qh;
        const float d = tl_f16_to_f32(x[i].d), min = tl_f16_to_f32(x[i].dmin);
        uint8_t sc, m, u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < TL_QK; j += 64, is += 2, ql += 32) {
            tl_q_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = min * m;
            tl_q_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = min * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
            u1 = (uint8_t)(u1 << 2);
            u2 = (uint8_t)(u2 << 2);
        }
    }
}

static void dq_q6_K(const tl_block_q6_K *x, float *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++) {
        const float d = tl_f16_to_f32(x[i].d);
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales;
        for (int n = 0; n < TL_QK; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

void tl_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    const uint8_t *s = src;
    switch (type) {
    case TL_Q_F32: memcpy(dst, src, (size_t)n * 4); break;
    case TL_Q_F16:
    case TL_Q_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, s + 2 * i, 2);
            dst[i] = type == TL_Q_F16 ? tl_f16_to_f32(h) : tl_bf16_to_f32(h);
        }
        break;
    case TL_Q8_0: dq_q8_0(src, dst, n / 32); break;
    case TL_Q4_0: dq_q4_0(src, dst, n / 32); break;
    case TL_Q5_0:
        for (int64_t i = 0; i < n / 32; i++) {
            const tl_block_q5_0 *b = (const tl_block_q5_0 *)src + i;
            dq_q5(b->qh, b->qs, tl_f16_to_f32(b->d), 0.0f, 16, dst + i * 32);
        }
        break;
    case TL_Q5_1:
        for (int64_t i = 0; i < n / 32; i++) {
            const tl_block_q5_1 *b = (const tl_block_q5_1 *)src + i;
            dq_q5(b->qh, b->qs, tl_f16_to_f32(b->d), tl_f16_to_f32(b->m), 0, dst + i * 32);
        }
        break;
    case TL_Q4_K: dq_q4_K(src, dst, n / TL_QK); break;
    case TL_Q5_K: dq_q5_K(src, dst, n / TL_QK); break;
    case TL_Q6_K: dq_q6_K(src, dst, n / TL_QK); break;
    case TL_Q8_K:
        for (int64_t i = 0; i < n / TL_QK; i++) {
            const tl_block_q8_K *b = (const tl_block_q8_K *)src + i;
            for (int j = 0; j < TL_QK; j++)
                dst[i * TL_QK + j] = b->d * b->qs[j];
        }
        break;
    default: memset(dst, 0, (size_t)n * sizeof *dst); break; /* callers check tl_q_supported */
    }
}

/* ---- reference quantizers ------------------------------------------------------ */

/* round to nearest, ties away from zero as ggml's magic-number trick does for |x| < 2^22 */
static inline int nearest_int(float f) {
    float v = f + 12582912.f;
    int i;
    memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

#define QMIN(a, b) ((a) < (b) ? (a) : (b))
#define QMAX(a, b) ((a) > (b) ? (a) : (b))

static void q_q8_0(const float *x, tl_block_q8_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = QMAX(amax, fabsf(x[j]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        y[i].d = tl_f32_to_f16(d);
        for (int j = 0; j < 32; j++)
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
    }
}

static void q_q4_0(const float *x, tl_block_q4_0 *y, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += 32) {
        float amax = 0.0f, max = 0.0f; /* the value of largest magnitude, with its sign */
        for (int j = 0; j < 32; j++)
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        const float d = max / -8, id = d ? 1.0f / d : 0.0f;
        y[i].d = tl_f32_to_f16(d);
        for (int j = 0; j < 16; j++) {
            int a = (int8_t)(x[j] * id + 8.5f), b = (int8_t)(x[j + 16] * id + 8.5f);
            y[i].qs[j] = (uint8_t)(QMIN(15, a) | (QMIN(15, b) << 4));
        }
    }
}

/* Scale and min (returned in *neg_min as -min) of n values quantized to 0..nmax:
 * start from the range, then try nstep+1 other scales around it and keep the one with
 * the smallest weighted squared error, refitting scale and min by least squares. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, uint8_t *Laux,
                           float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        *neg_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)QMAX(0, QMIN(nmax, l));
        float diff = scale * L[i] + min - x[i];
        best_error += w[i] * (diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * (x[i] - min));
            l = QMAX(0, QMIN(nmax, l));
            Laux[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                cur_error += w[i] * (diff * diff);
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *neg_min = -min;
    return scale;
}

/* Q4_K (nmax 15) and Q5_K (nmax 31): 8 sub-blocks of 32, 6-bit scales and mins. */
static void q_kx(const float *x, uint8_t *dh, uint8_t *dmin_h, uint8_t *scales, uint8_t *L, int nmax, float rmin,
                 float rdelta, int nstep) {
    uint8_t Laux[32];
    float weights[32], mins[8], sc[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        sc[j] = fit_scale_min(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, rdelta, nstep);
        if (sc[j] > max_scale) max_scale = sc[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f, inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(scales, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)nearest_int(inv_scale * sc[j]), lm = (uint8_t)nearest_int(inv_min * mins[j]);
        ls = QMIN(63, ls);
        lm = QMIN(63, lm);
        if (j < 4) {
            scales[j] = ls;
            scales[j + 4] = lm;
        } else {
            scales[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    uint16_t d16 = tl_f32_to_f16(max_scale / 63.f), m16 = tl_f32_to_f16(max_min / 63.f);
    memcpy(dh, &d16, 2);
    memcpy(dmin_h, &m16, 2);
    for (int j = 0; j < 8; j++) { /* requantize against the rounded scales */
        uint8_t s, m;
        tl_q_scale_min_k4(j, scales, &s, &m);
        const float d = tl_f16_to_f32(d16) * s;
        if (!d) continue;
        const float dm = tl_f16_to_f32(m16) * m;
        for (int ii = 0; ii < 32; ii++) {
            int l = nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)QMAX(0, QMIN(nmax, l));
        }
    }
}

static void q_q4_K(const float *x, tl_block_q4_K *y, int64_t nb) {
    uint8_t L[TL_QK];
    for (int64_t i = 0; i < nb; i++, x += TL_QK) {
        q_kx(x, (uint8_t *)&y[i].d, (uint8_t *)&y[i].dmin, y[i].scales, L, 15, -1.f, 0.1f, 20);
        uint8_t *q = y[i].qs;
        for (int j = 0; j < TL_QK; j += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

static void q_q5_K(const float *x, tl_block_q5_K *y, int64_t nb) {
    uint8_t L[TL_QK];
    for (int64_t i = 0; i < nb; i++, x += TL_QK) {
        q_kx(x, (uint8_t *)&y[i].d, (uint8_t *)&y[i].dmin, y[i].scales, L, 31, -0.5f, 0.1f, 15);
        uint8_t *qh = y[i].qh, *ql = y[i].qs, m1 = 1, m2 = 2;
        memset(qh, 0, 32);
        for (int n = 0; n < TL_QK; n += 64, ql += 32) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[n + j], l2 = L[n + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
            m1 = (uint8_t)(m1 << 2);
            m2 = (uint8_t)(m2 << 2);
        }
    }
}

/* Signed scale of n values quantized to -nmax..nmax-1, weights x^2: from the largest
 * magnitude, then 18 nearby scales, keeping the best weighted least-squares fit. */
static float fit_scale_signed(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < 1e-15f) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = QMAX(-nmax, QMIN(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale * x[i]);
            l = QMAX(-nmax, QMIN(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + QMAX(-nmax, QMIN(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

static void q_q6_K(const float *x, tl_block_q6_K *y, int64_t nb) {
    int8_t L[TL_QK];
    float scales[16];
    for (int64_t i = 0; i < nb; i++, x += TL_QK) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = fit_scale_signed(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[ib]);
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < 1e-15f) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float iscale = -128.f / max_scale;
        y[i].d = tl_f32_to_f16(1 / iscale);
        for (int ib = 0; ib < 16; ib++)
            y[i].scales[ib] = (int8_t)QMIN(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < 16; j++) {
            float d = tl_f16_to_f32(y[i].d) * y[i].scales[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(QMAX(-32, QMIN(31, l)) + 32);
            }
        }
        uint8_t *ql = y[i].ql, *qh = y[i].qh;
        for (int j = 0; j < TL_QK; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; l++) {
                int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
    }
}

void tl_quantize_q8_K(const float *x, tl_block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / TL_QK; i++, x += TL_QK) {
        float max = 0, amax = 0;
        for (int j = 0; j < TL_QK; j++)
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        if (!amax) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < TL_QK; j++)
            y[i].qs[j] = (int8_t)QMIN(127, nearest_int(iscale * x[j]));
        for (int j = 0; j < 16; j++) {
            int sum = 0;
            for (int ii = 0; ii < 16; ii++)
                sum += y[i].qs[j * 16 + ii];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1 / iscale;
    }
}

void tl_quantize_a32(const float *x, tl_block_a32 *y, int64_t n) {
    for (int64_t i = 0; i < n / 32; i++, x += 32) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = QMAX(amax, fabsf(x[j]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            y[i].qs[j] = (int8_t)roundf(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = d;
        y[i].sum = sum;
    }
}

void tl_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    switch (type) {
    case TL_Q8_0: q_q8_0(src, dst, n / 32); break;
    case TL_Q4_0: q_q4_0(src, dst, n / 32); break;
    case TL_Q4_K: q_q4_K(src, dst, n / TL_QK); break;
    case TL_Q5_K: q_q5_K(src, dst, n / TL_QK); break;
    case TL_Q6_K: q_q6_K(src, dst, n / TL_QK); break;
    case TL_Q8_K: tl_quantize_q8_K(src, dst, n); break;
    default: break; /* callers check tl_q_can_quantize */
    }
}
