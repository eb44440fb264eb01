/* quant_vnni512.c: AVX-512 (F/BW/VL) + VNNI dot products of quantized weight rows with int8
 * activations, 64 values per instruction where the AVX2 kernels take 32.
 *   - Q4_K and Q6_K: per 64 values one vpmaddubsw (unsigned weight x signed activation, no
 *     pair can saturate: weights <= 63, |a| <= 127) and one vpdpwssd that multiplies the 16-bit
 *     pair sums by each group's scale and accumulates in int32. The integer sums are exactly the
 *     portable kernels', and the float expression per super-block is the same, so the results
 *     are bit-identical to the portable (and AVX2) code.
 *   - Q8_0: two blocks per step, |w| . sign(a, w) by vpdpbusd; float accumulation in ggml's
 *     order, which differs from the portable sum by rounding (as the AVX2 kernel does).
 *   - Q4_0, Q5_0, Q5_1 and Q5_K use the AVX2 kernels.
 * Compiled with -mavx512vnni on its own (CMakeLists.txt); chosen only when the CPU has
 * avx512vnni (tl_qdot_for). */
#include <immintrin.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant.h"
#include "quant_x86.h"

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); } /* exact, as tl_f16_to_f32 */

static float v_q8_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q8_0 *x = w;
    const int nb = n / 32;
    __m512 acc = _mm512_setzero_ps();
    int i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[i].qs)),
                                        _mm256_loadu_si256((const __m256i *)x[i + 1].qs), 1);
        __m512i aq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[i].qs)),
                                        _mm256_loadu_si256((const __m256i *)a[i + 1].qs), 1);
        __mmask64 neg = _mm512_movepi8_mask(wq);
        __m512i sa = _mm512_mask_sub_epi8(aq, neg, _mm512_setzero_si512(), aq); /* a * sign(w) */
        __m512i dp = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(wq), sa);
        __m512 d = _mm512_insertf32x8(_mm512_set1_ps(h2f(x[i].d) * a[i].d), _mm256_set1_ps(h2f(x[i + 1].d) * a[i + 1].d),
                                      1);
        acc = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dp), acc);
    }
    float sum = _mm512_reduce_add_ps(acc);
    for (; i < nb; i++) { /* an odd last block */
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += x[i].qs[j] * a[i].qs[j];
        sum += (float)s * (h2f(x[i].d) * a[i].d);
    }
    return sum;
}

/* 16-bit scale s0 on the low 32 bytes' pair sums, s1 on the high */
static inline __m512i two_scales(int s0, int s1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)s0)), _mm256_set1_epi16((short)s1), 1);
}

static float v_q4_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q4_K *x = w;
    const __m256i lo4 = _mm256_set1_epi8(0xF);
    float sum = 0;
    for (int i = 0; i < n / TL_QK; i++) {
        uint8_t sc[16];
        k4_unpack(x[i].scales, sc);
        int summ = k4_min_sum(sc + 8, a[i].bsums);
        __m512i acc = _mm512_setzero_si512();
        for (int j = 0; j < 4; j++) { /* 64 values: 32 low nibbles (group 2j), 32 high (2j+1) */
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            __m512i q2 = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(q, lo4)),
                                            _mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), 1);
            __m512i p = _mm512_maddubs_epi16(q2, _mm512_loadu_si512((const void *)(a[i].qs + 64 * j)));
            acc = _mm512_dpwssd_epi32(acc, p, two_scales(sc[2 * j], sc[2 * j + 1]));
        }
        int sumi = _mm512_reduce_add_epi32(acc);
        sum += a[i].d * (h2f(x[i].d) * (float)sumi - h2f(x[i].dmin) * (float)summ);
    }
    return sum;
}

static float v_q6_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q6_K *x = w;
    const __m512i lo4 = _mm512_set1_epi8(0xF), m30 = _mm512_set1_epi8(0x30);
    /* the low 32 bytes take qh's bits 0-1 (q1) / 4-5 (q3), the high 32 bytes bits 2-3 (q2) / 6-7 (q4) */
    const __m512i shl12 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr34 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* word lane -> scale index: 8 lanes (16 values) per scale */
    const __m512i idx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
                                         0, 0, 0, 0, 0, 0);
    float sum = 0;
    for (int i = 0; i < n / TL_QK; i++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i bs = _mm256_loadu_si256((const __m256i *)a[i].bsums);
        __m256i c8 = _mm256_madd_epi16(sc16, bs);
        __m128i c4 = _mm_add_epi32(_mm256_castsi256_si128(c8), _mm256_extracti128_si256(c8, 1));
        c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, 0x4E));
        c4 = _mm_add_epi32(c4, _mm_shuffle_epi32(c4, 0xB1));
        int corr = _mm_cvtsi128_si32(c4);
        __m512i sc = _mm512_castsi256_si512(sc16), acc = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const int8_t *aq = a[i].qs + 128 * h;
            __m512i ql = _mm512_loadu_si512((const void *)(x[i].ql + 64 * h)); /* [qA | qB] */
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h)));
            __m512i q12 = _mm512_or_si512(_mm512_and_si512(ql, lo4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl12), m30));
            __m512i q34 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), lo4),
                                          _mm512_and_si512(_mm512_srlv_epi16(qh, shr34), m30));
            __m512i s12 = _mm512_permutexvar_epi16(_mm512_add_epi16(idx, _mm512_set1_epi16((short)(8 * h))), sc);
            __m512i s34 = _mm512_permutexvar_epi16(_mm512_add_epi16(idx, _mm512_set1_epi16((short)(8 * h + 4))), sc);
            acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(q12, _mm512_loadu_si512((const void *)aq)), s12);
            acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(q34, _mm512_loadu_si512((const void *)(aq + 64))), s34);
        }
        sum += a[i].d * h2f(x[i].d) * (float)(_mm512_reduce_add_epi32(acc) - 32 * corr);
    }
    return sum;
}

/* the types without a wider kernel: the AVX2 ones */
static float v_q4_0(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q4_0(n, w, a); }
static float v_q5_0(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q5_0(n, w, a); }
static float v_q5_1(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q5_1(n, w, a); }
static float v_q5_K(int n, const void *w, const tl_block_q8_K *a) { return tl_qdot_avx2.q5_K(n, w, a); }

const tl_qdot tl_qdot_vnni512 = {TL_ISA_AVX512, v_q8_0, v_q4_0, v_q5_0, v_q5_1, v_q4_K, v_q5_K, v_q6_K};
