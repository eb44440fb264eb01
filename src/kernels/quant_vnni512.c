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

/* Per super-block: integer dot products of 64 values per vpmaddubsw (unsigned nibble x signed
 * activation; no pair saturates) weighted by the group scales in one vpdpwssd, converted to float
 * (exact: |lane| < 2^24) and accumulated with one FMA by d * a.d; the mins' term likewise from
 * the activation group sums. Float sums in vector lanes: not bit-identical to the portable code
 * (see quant.h for the tolerance). */
static float v_q4_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q4_K *x = w;
    const __m512i lo4 = _mm512_set1_epi8(0xF);
    /* vpshufb controls: the low 256 bits take scale word s0, the high 256 bits s1 */
#define K4_CTRL(s0, s1)                                                                                                \
    _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)(2 * (s0) | (2 * (s0) + 1) << 8))),            \
                       _mm256_set1_epi16((short)(2 * (s1) | (2 * (s1) + 1) << 8)), 1)
    const __m512i c02 = K4_CTRL(0, 2), c13 = K4_CTRL(1, 3), c46 = K4_CTRL(4, 6), c57 = K4_CTRL(5, 7);
#undef K4_CTRL
    __m512 acc = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
        __m256i sm = k4_scales_mins(x[i].scales);
        __m512i sc = _mm512_broadcast_i32x4(_mm256_castsi256_si128(sm));
        /* mins . (pair sums of the activations' 16-value group sums) */
        __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a[i].bsums),
                                    _mm_loadu_si128((const __m128i *)(a[i].bsums + 8)));
        __m128i mprod = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), bs);
        const int8_t *aq = a[i].qs;
        __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) { /* 128 values: groups 4h..4h+3 */
            __m512i q = _mm512_loadu_si512((const void *)(x[i].qs + 64 * h));
            __m512i ql = _mm512_and_si512(q, lo4), qh = _mm512_and_si512(_mm512_srli_epi16(q, 4), lo4);
            /* ql = [group 4h | group 4h+2], qh = [group 4h+1 | group 4h+3] */
            __m512i al = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)aq)),
                                            _mm256_loadu_si256((const __m256i *)(aq + 64)), 1);
            __m512i ah = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(aq + 32))),
                                            _mm256_loadu_si256((const __m256i *)(aq + 96)), 1);
            __m512i sl = _mm512_shuffle_epi8(sc, h ? c46 : c02), sh = _mm512_shuffle_epi8(sc, h ? c57 : c13);
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_maddubs_epi16(ql, al), sl);
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_maddubs_epi16(qh, ah), sh);
            aq += 128;
        }
        float ad = a[i].d;
        acc = _mm512_fmadd_ps(_mm512_set1_ps(ad * h2f(x[i].d)), _mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)), acc);
        accm = _mm_fmadd_ps(_mm_set1_ps(ad * h2f(x[i].dmin)), _mm_cvtepi32_ps(mprod), accm);
    }
    __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return _mm512_reduce_add_ps(acc) - _mm_cvtss_f32(m);
}

/* Per super-block: the 6-bit values (0..63) by vpmaddubsw, weighted by the 16 int8 scales in
 * vpdpwssd, minus the offset 32 * sum_k scale[k] * (group sum of the activations), converted to
 * float once and accumulated with one FMA by d * a.d (float sums in vector lanes). */
static float v_q6_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q6_K *x = w;
    const __m512i lo4 = _mm512_set1_epi8(0xF), m30 = _mm512_set1_epi8(0x30);
    /* the low 32 bytes take qh's bits 0-1 (q1) / 4-5 (q3), the high 32 bytes bits 2-3 (q2) / 6-7 (q4) */
    const __m512i shl12 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr34 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* word lane -> scale index: 8 lanes (16 values) per scale */
    const __m512i idx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
                                         0, 0, 0, 0, 0, 0);
    const __m512i idx1 = _mm512_add_epi16(idx, _mm512_set1_epi16(4)), idx2 = _mm512_add_epi16(idx, _mm512_set1_epi16(8)),
                  idx3 = _mm512_add_epi16(idx, _mm512_set1_epi16(12));
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        /* the offset, 32 * scale . group sums, subtracted in the integer lanes */
        __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)a[i].bsums)), 5);
        __m512i sc = _mm512_castsi256_si512(sc16);
        __m512i acc0 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr)), acc1 = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const int8_t *aq = a[i].qs + 128 * h;
            __m512i ql = _mm512_loadu_si512((const void *)(x[i].ql + 64 * h)); /* [qA | qB] */
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h)));
            __m512i q12 = _mm512_or_si512(_mm512_and_si512(ql, lo4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl12), m30));
            __m512i q34 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), lo4),
                                          _mm512_and_si512(_mm512_srlv_epi16(qh, shr34), m30));
            __m512i s12 = _mm512_permutexvar_epi16(h ? idx2 : idx, sc), s34 = _mm512_permutexvar_epi16(h ? idx3 : idx1, sc);
            acc0 = _mm512_dpwssd_epi32(acc0, _mm512_maddubs_epi16(q12, _mm512_loadu_si512((const void *)aq)), s12);
            acc1 = _mm512_dpwssd_epi32(acc1, _mm512_maddubs_epi16(q34, _mm512_loadu_si512((const void *)(aq + 64))), s34);
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(a[i].d * h2f(x[i].d)), _mm512_cvtepi32_ps(_mm512_add_epi32(acc0, acc1)),
                              acc);
    }
    return _mm512_reduce_add_ps(acc);
}

/* the types without a wider kernel: the AVX2 ones */
static float v_q4_0(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q4_0(n, w, a); }
static float v_q5_0(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q5_0(n, w, a); }
static float v_q5_1(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q5_1(n, w, a); }
static float v_q5_K(int n, const void *w, const tl_block_q8_K *a) { return tl_qdot_avx2.q5_K(n, w, a); }

const tl_qdot tl_qdot_vnni512 = {TL_ISA_AVX512, v_q8_0, v_q4_0, v_q5_0, v_q5_1, v_q4_K, v_q5_K, v_q6_K};
