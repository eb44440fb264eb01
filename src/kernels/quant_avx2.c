/* quant_avx2.c: AVX2 dot products of quantized weight rows with int8 activations.
 * Unsigned-by-signed byte products (vpmaddubsw; no pair can saturate: |w| <= 128 and
 * |a| <= 127 for Q8_0/Q4_0, w <= 63 for the K-quants) summed to int32 (vpmaddwd).
 * The K-quant kernels compute exactly the integer sums of the portable code per super-block
 * and accumulate them in float vector lanes (one FMA per super-block), as Q8_0 and Q4_0 do in
 * ggml's order: within quant.h's tolerance of the portable code, not bit-identical.
 * Q5_0 and Q5_1 (llama.cpp's fallback for rows not a multiple of 256) expand their 5th bits
 * from the 32-bit mask with a byte shuffle. */
#include <immintrin.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant.h"
#include "quant_x86.h"

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); } /* exact, as tl_f16_to_f32 */

static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 int32 sums of pairs of pairs of signed w[i] * a[i] over 32 bytes */
static inline __m256i dot_s8(__m256i w, __m256i a) {
    __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(a, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

static float avx2_q8_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q8_0 *x = w;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i wq = _mm256_loadu_si256((const __m256i *)x[i].qs), aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256 d = _mm256_set1_ps(h2f(x[i].d) * a[i].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(wq, aq)), acc);
    }
    return hsum_ps(acc);
}

static float avx2_q4_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q4_0 *x = w;
    const __m256i lo4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m128i b = _mm_loadu_si128((const __m128i *)x[i].qs);
        __m256i q = _mm256_set_m128i(_mm_srli_epi16(b, 4), b); /* low nibbles = values 0..15, high = 16..31 */
        q = _mm256_sub_epi8(_mm256_and_si256(q, lo4), eight);
        __m256i aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256 d = _mm256_set1_ps(h2f(x[i].d) * a[i].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(q, aq)), acc);
    }
    return hsum_ps(acc);
}

/* 32 bytes, 0xFF where bit j of the 32-bit little-endian mask at qh4 is set */
static inline __m256i bits_to_bytes(const uint8_t *qh4) {
    uint32_t x;
    memcpy(&x, qh4, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3,
                                          3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)x), shuf);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* the 32 five-bit values 0..31 of a Q5_0/Q5_1 block */
static inline __m256i q5_values(const uint8_t *qh4, const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i q = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(b, 4), b), _mm256_set1_epi8(0xF));
    return _mm256_or_si256(q, _mm256_and_si256(bits_to_bytes(qh4), _mm256_set1_epi8(0x10)));
}

static float avx2_q5_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q5_0 *x = w;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i q = _mm256_sub_epi8(q5_values(x[i].qh, x[i].qs), _mm256_set1_epi8(16));
        __m256i aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
        __m256 d = _mm256_set1_ps(h2f(x[i].d) * a[i].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(q, aq)), acc);
    }
    return hsum_ps(acc);
}

static float avx2_q5_1(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q5_1 *x = w;
    __m256 acc = _mm256_setzero_ps();
    float offs = 0;
    for (int i = 0; i < n / 32; i++) {
        __m256i p = _mm256_maddubs_epi16(q5_values(x[i].qh, x[i].qs), _mm256_loadu_si256((const __m256i *)a[i].qs));
        __m256 d = _mm256_set1_ps(h2f(x[i].d) * a[i].d);
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1))), acc);
        offs += h2f(x[i].m) * (a[i].d * (float)a[i].sum);
    }
    return hsum_ps(acc) + offs;
}

/* vpshufb control: word k of each 128-bit lane in every word of it */
static inline __m256i word_ctrl(int k) { return _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8)); }

/* The K-quant kernels: per super-block, integer dot products (vpmaddubsw, unsigned weights x
 * signed activations; no pair saturates) weighted by the group scales in vpmaddwd, summed in
 * int32 lanes, converted to float once (exact: |lane| < 2^24) and accumulated with one FMA by
 * d * a.d; Q4_K/Q5_K's mins term likewise from the activations' group sums. Float sums in
 * vector lanes, so not bit-identical to the portable code (see quant.h for the tolerance). */

/* the common tail of Q4_K and Q5_K: acc += d * a.d * sumi, accm += dmin * a.d * (mins . pair sums) */
static inline void k4_accumulate(__m256 *acc, __m128 *accm, __m256i sumi, __m256i sm, const tl_block_q8_K *a,
                                 uint16_t d, uint16_t dmin) {
    __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a->bsums), _mm_loadu_si128((const __m128i *)(a->bsums + 8)));
    __m128i mprod = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), bs);
    *acc = _mm256_fmadd_ps(_mm256_set1_ps(a->d * h2f(d)), _mm256_cvtepi32_ps(sumi), *acc);
    *accm = _mm_fmadd_ps(_mm_set1_ps(a->d * h2f(dmin)), _mm_cvtepi32_ps(mprod), *accm);
}

static inline float k4_result(__m256 acc, __m128 accm) {
    __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return hsum_ps(acc) - _mm_cvtss_f32(m);
}

static float avx2_q4_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q4_K *x = w;
    const __m256i lo4 = _mm256_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
        __m256i sm = k4_scales_mins(x[i].scales);
        __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm)); /* the 8 scales in each lane */
        __m256i sumi = _mm256_setzero_si256();
        const int8_t *aq = a[i].qs;
        for (int j = 0; j < 4; j++, aq += 64) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            __m256i pl = _mm256_maddubs_epi16(_mm256_and_si256(q, lo4), _mm256_loadu_si256((const __m256i *)aq));
            __m256i ph = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4),
                                              _mm256_loadu_si256((const __m256i *)(aq + 32)));
            pl = _mm256_madd_epi16(pl, _mm256_shuffle_epi8(sc, word_ctrl(2 * j)));
            ph = _mm256_madd_epi16(ph, _mm256_shuffle_epi8(sc, word_ctrl(2 * j + 1)));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        k4_accumulate(&acc, &accm, sumi, sm, &a[i], x[i].d, x[i].dmin);
    }
    return k4_result(acc, accm);
}

static float avx2_q5_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q5_K *x = w;
    const __m256i lo4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    __m256 acc = _mm256_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
        __m256i sm = k4_scales_mins(x[i].scales);
        __m256i sc = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sm));
        __m256i sumi = _mm256_setzero_si256(), qh = _mm256_loadu_si256((const __m256i *)x[i].qh);
        const int8_t *aq = a[i].qs;
        for (int j = 0; j < 4; j++, aq += 64) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            /* bit 2j of qh is the 5th bit of the low nibbles, bit 2j+1 of the high ones */
            __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(qh, 4), b4), h1 = _mm256_and_si256(_mm256_slli_epi16(qh, 3), b4);
            qh = _mm256_srli_epi16(qh, 2);
            __m256i q0 = _mm256_or_si256(_mm256_and_si256(q, lo4), h0);
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), h1);
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)aq)),
                                           _mm256_shuffle_epi8(sc, word_ctrl(2 * j)));
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(aq + 32))),
                                           _mm256_shuffle_epi8(sc, word_ctrl(2 * j + 1)));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
        }
        k4_accumulate(&acc, &accm, sumi, sm, &a[i], x[i].d, x[i].dmin);
    }
    return k4_result(acc, accm);
}

/* sum over 32 unsigned q . a with scale s0 on the first 16 and s1 on the last 16 */
static inline __m256i scaled2_u8(__m256i q, const int8_t *a, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)a)), s);
}

static float avx2_q6_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q6_K *x = w;
    const __m256i lo4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
    /* word k of the low 128-bit lane, word k + 1 of the high lane */
    const __m256i c01 = _mm256_set_m128i(_mm_set1_epi16(0x0302), _mm_set1_epi16(0x0100)),
                  c23 = _mm256_set_m128i(_mm_set1_epi16(0x0706), _mm_set1_epi16(0x0504)),
                  c45 = _mm256_set_m128i(_mm_set1_epi16(0x0B0A), _mm_set1_epi16(0x0908)),
                  c67 = _mm256_set_m128i(_mm_set1_epi16(0x0F0E), _mm_set1_epi16(0x0D0C));
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
        /* the -32 offset: 32 * sum_k scale[k] * (activation sum of group k of 16) */
        __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[i].scales));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(),
                                        _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)a[i].bsums)), 5));
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = x[i].ql + 64 * h, *qhp = x[i].qh + 32 * h;
            const int8_t *aq = a[i].qs + 128 * h;
            /* scales 8h .. 8h+7 as words in both lanes */
            __m256i sc = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
            __m256i qA = _mm256_loadu_si256((const __m256i *)ql), qB = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)qhp);
            __m256i q1 = _mm256_or_si256(_mm256_and_si256(qA, lo4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30));
            __m256i q2 = _mm256_or_si256(_mm256_and_si256(qB, lo4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30));
            __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qA, 4), lo4), _mm256_and_si256(qh, m30));
            __m256i q4 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qB, 4), lo4),
                                         _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30));
            __m256i s12 = _mm256_add_epi32(scaled2_u8(q1, aq, _mm256_shuffle_epi8(sc, c01)),
                                           scaled2_u8(q2, aq + 32, _mm256_shuffle_epi8(sc, c23)));
            __m256i s34 = _mm256_add_epi32(scaled2_u8(q3, aq + 64, _mm256_shuffle_epi8(sc, c45)),
                                           scaled2_u8(q4, aq + 96, _mm256_shuffle_epi8(sc, c67)));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(s12, s34));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * h2f(x[i].d)), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}

const tl_qdot tl_qdot_avx2 = {TL_ISA_AVX2, avx2_q8_0, avx2_q4_0, avx2_q5_0, avx2_q5_1, avx2_q4_K, avx2_q5_K, avx2_q6_K, NULL, NULL};
