/* quant_gemm_vnni512.c: AVX-512 VNNI kernels of the batched quantized matmul (quant_gemm.h); unpacking
 * is the AVX2 table's. The activations are interleaved (quant_gemm.h): one 64-byte vector holds 4
 * consecutive values of each of 16 tokens, so a weight row's 4 values broadcast to every 32-bit lane
 * and one instruction accumulates 64 products into the 16 tokens' own lanes — no horizontal sums:
 *   - 32-value types: vpdpbusd of the activations as unsigned a + 128 with the signed weights, less
 *     128 x (the block's weight sum); then per block the portable float expression on 16 lanes;
 *   - K-quants: vpmaddubsw (unsigned values <= 63 x signed activations; no pair can saturate) and
 *     vpdpwssd with the 16-value group's scale; the offset term by vpdpwssd of the token's group
 *     sums with the mins (Q4_K, Q5_K) or 32 x scales (Q6_K); then the portable float expression.
 * Every integer sum is exact and the float operations per block and their order are the portable
 * kernel's, so the results are bit-identical to it (test_quant_gemm).
 * Compiled with -mavx512vnni (CMakeLists.txt); chosen only when the CPU has avx512vnni. */
#include <immintrin.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant_gemm.h"

void tl_qg_unpack_avx2(const uint8_t *row, tl_qg_tile *t, int r);
void tl_qg_quant_a32_avx2(const float *x, tl_block_a32 *y);
void tl_qg_quant_k_avx2(const float *x, tl_block_q8_K *y);

static inline __m512i bcast4(const void *p) { /* 4 bytes to every 32-bit lane */
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

static void dot_b32(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nb = k / 32;
    const int8_t *w = (const int8_t *)t->q + (size_t)r * k;
    const float *dw = t->d + (size_t)r * nb;
    const int32_t *ws = t->ws + (size_t)r * nb;
    const int8_t *x = a->qs + (size_t)g * k * 16;
    const float *da = a->d + (size_t)g * nb * 16;
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; i++, w += 32, x += 512) {
        /* two independent chains of vpdpbusd */
        __m512i s0 = _mm512_set1_epi32(-128 * ws[i]), s1 = _mm512_setzero_si512();
        for (int q = 0; q < 8; q += 2) {
            s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512((const void *)(x + 64 * q)), bcast4(w + 4 * q));
            s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512((const void *)(x + 64 * q + 64)), bcast4(w + 4 * q + 4));
        }
        __m512i s = _mm512_add_epi32(s0, s1);
        __m512 scale = _mm512_mul_ps(_mm512_set1_ps(dw[i]), _mm512_loadu_ps(da + 16 * i));
        sum = _mm512_add_ps(sum, _mm512_mul_ps(_mm512_cvtepi32_ps(s), scale));
    }
    _mm512_storeu_ps(out, sum);
}

static void dot_k(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nsb = k / TL_QK;
    const uint8_t *w = t->q + (size_t)r * k;
    const int16_t *sc = t->sc + (size_t)r * (k / 16), *mn = t->mn + (size_t)r * (k / 16);
    const float *dw = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    const int8_t *x = a->qs + (size_t)g * k * 16;
    const int16_t *bs = a->bs + (size_t)g * nsb * 256;
    const float *ad = a->d + (size_t)g * nsb * 16;
    const int q6 = t->type == TL_Q6_K;
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < nsb; i++, w += TL_QK, x += 16 * TL_QK, sc += 16, mn += 16, bs += 256) {
        /* four independent accumulators: one chain of vpdpwssd would wait on its latency */
        __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0, accm = acc0;
        for (int q = 0; q < 16; q += 2) { /* two groups of 16 values, one scale each */
            const __m512i S0 = _mm512_set1_epi16(sc[q]), S1 = _mm512_set1_epi16(sc[q + 1]);
            const uint8_t *wq = w + 16 * q;
            const int8_t *xq = x + 256 * q;
#define QG_P(j) _mm512_maddubs_epi16(bcast4(wq + 4 * (j)), _mm512_loadu_si512((const void *)(xq + 64 * (j))))
            /* two pairs of pair sums still fit int16: |p0 + p1| <= 4 x 63 x 127 */
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_add_epi16(QG_P(0), QG_P(1)), S0);
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_add_epi16(QG_P(2), QG_P(3)), S0);
            acc2 = _mm512_dpwssd_epi32(acc2, _mm512_add_epi16(QG_P(4), QG_P(5)), S1);
            acc3 = _mm512_dpwssd_epi32(acc3, _mm512_add_epi16(QG_P(6), QG_P(7)), S1);
#undef QG_P
        }
        __m512i acc = _mm512_add_epi32(_mm512_add_epi32(acc0, acc1), _mm512_add_epi32(acc2, acc3));
        for (int p = 0; p < 8; p++) /* offsets: groups 2p, 2p + 1 of 16 tokens */
            accm = _mm512_dpwssd_epi32(accm, _mm512_loadu_si512((const void *)(bs + 32 * p)), bcast4(mn + 2 * p));
        __m512 adv = _mm512_loadu_ps(ad + 16 * i), v;
        if (q6) v = _mm512_mul_ps(_mm512_mul_ps(adv, _mm512_set1_ps(dw[i])), _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, accm)));
        else
            v = _mm512_mul_ps(adv, _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(dw[i]), _mm512_cvtepi32_ps(acc)),
                                                 _mm512_mul_ps(_mm512_set1_ps(dmin[i]), _mm512_cvtepi32_ps(accm))));
        sum = _mm512_add_ps(sum, v);
    }
    _mm512_storeu_ps(out, sum);
}

/* dot_k for rows r and r + 1: every activation vector loaded once for both rows */
static void dot_k2(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nsb = k / TL_QK;
    const uint8_t *w0 = t->q + (size_t)r * k, *w1 = w0 + k;
    const int16_t *sc0 = t->sc + (size_t)r * (k / 16), *sc1 = sc0 + k / 16;
    const int16_t *mn0 = t->mn + (size_t)r * (k / 16), *mn1 = mn0 + k / 16;
    const float *dw = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    const int8_t *x = a->qs + (size_t)g * k * 16;
    const int16_t *bs = a->bs + (size_t)g * nsb * 256;
    const float *ad = a->d + (size_t)g * nsb * 16;
    const int q6 = t->type == TL_Q6_K;
    __m512 sum0 = _mm512_setzero_ps(), sum1 = sum0;
    for (int64_t i = 0; i < nsb; i++, x += 16 * TL_QK, bs += 256) {
        __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        __m512i m0 = a0, m1 = a0;
        const uint8_t *u0 = w0 + TL_QK * i, *u1 = w1 + TL_QK * i;
        const int16_t *s0 = sc0 + 16 * i, *s1 = sc1 + 16 * i;
        for (int q = 0; q < 16; q += 2) {
            const int8_t *xq = x + 256 * q;
            __m512i X0 = _mm512_loadu_si512((const void *)xq), X1 = _mm512_loadu_si512((const void *)(xq + 64));
            __m512i X2 = _mm512_loadu_si512((const void *)(xq + 128)), X3 = _mm512_loadu_si512((const void *)(xq + 192));
            __m512i X4 = _mm512_loadu_si512((const void *)(xq + 256)), X5 = _mm512_loadu_si512((const void *)(xq + 320));
            __m512i X6 = _mm512_loadu_si512((const void *)(xq + 384)), X7 = _mm512_loadu_si512((const void *)(xq + 448));
#define QG_ROW(u, s, c0, c1, c2, c3)                                                                              \
    do {                                                                                                          \
        const uint8_t *wq = (u) + 16 * q;                                                                         \
        const __m512i S0 = _mm512_set1_epi16((s)[q]), S1 = _mm512_set1_epi16((s)[q + 1]);                         \
        c0 = _mm512_dpwssd_epi32(c0, _mm512_add_epi16(_mm512_maddubs_epi16(bcast4(wq), X0),                       \
                                                      _mm512_maddubs_epi16(bcast4(wq + 4), X1)), S0);             \
        c1 = _mm512_dpwssd_epi32(c1, _mm512_add_epi16(_mm512_maddubs_epi16(bcast4(wq + 8), X2),                   \
                                                      _mm512_maddubs_epi16(bcast4(wq + 12), X3)), S0);            \
        c2 = _mm512_dpwssd_epi32(c2, _mm512_add_epi16(_mm512_maddubs_epi16(bcast4(wq + 16), X4),                  \
                                                      _mm512_maddubs_epi16(bcast4(wq + 20), X5)), S1);            \
        c3 = _mm512_dpwssd_epi32(c3, _mm512_add_epi16(_mm512_maddubs_epi16(bcast4(wq + 24), X6),                  \
                                                      _mm512_maddubs_epi16(bcast4(wq + 28), X7)), S1);            \
    } while (0)
            QG_ROW(u0, s0, a0, a1, a2, a3);
            QG_ROW(u1, s1, b0, b1, b2, b3);
#undef QG_ROW
        }
        for (int p = 0; p < 8; p++) {
            __m512i B = _mm512_loadu_si512((const void *)(bs + 32 * p));
            m0 = _mm512_dpwssd_epi32(m0, B, bcast4(mn0 + 16 * i + 2 * p));
            m1 = _mm512_dpwssd_epi32(m1, B, bcast4(mn1 + 16 * i + 2 * p));
        }
        __m512i acc0 = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
        __m512i acc1 = _mm512_add_epi32(_mm512_add_epi32(b0, b1), _mm512_add_epi32(b2, b3));
        __m512 adv = _mm512_loadu_ps(ad + 16 * i), v0, v1;
        const float *dw1 = dw + nsb, *dmin1 = dmin + nsb;
        if (q6) {
            v0 = _mm512_mul_ps(_mm512_mul_ps(adv, _mm512_set1_ps(dw[i])), _mm512_cvtepi32_ps(_mm512_sub_epi32(acc0, m0)));
            v1 = _mm512_mul_ps(_mm512_mul_ps(adv, _mm512_set1_ps(dw1[i])), _mm512_cvtepi32_ps(_mm512_sub_epi32(acc1, m1)));
        } else {
            v0 = _mm512_mul_ps(adv, _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(dw[i]), _mm512_cvtepi32_ps(acc0)),
                                                  _mm512_mul_ps(_mm512_set1_ps(dmin[i]), _mm512_cvtepi32_ps(m0))));
            v1 = _mm512_mul_ps(adv, _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(dw1[i]), _mm512_cvtepi32_ps(acc1)),
                                                  _mm512_mul_ps(_mm512_set1_ps(dmin1[i]), _mm512_cvtepi32_ps(m1))));
        }
        sum0 = _mm512_add_ps(sum0, v0);
        sum1 = _mm512_add_ps(sum1, v1);
    }
    _mm512_storeu_ps(out, sum0);
    _mm512_storeu_ps(out + 16, sum1);
}

const tl_qgemm_kernels tl_qgemm_vnni512 = {TL_ISA_AVX512,      1,       16, tl_qg_quant_a32_avx2, tl_qg_quant_k_avx2,
                                           tl_qg_unpack_avx2, dot_b32, dot_k, dot_k2,
                                           0,                 0,       0,     NULL,
                                           NULL};
