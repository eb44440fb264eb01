/* quant_vnni512.c: AVX-512 (F/BW/VL) + VNNI dot products of quantized weight rows with int8
 * activations, 64 values per instruction where the AVX2 kernels take 32.
 *   - Q4_K and Q6_K: per 64 values one vpmaddubsw (unsigned weight x signed activation, no
 *     pair can saturate: weights <= 63, |a| <= 127) and one vpdpwssd that multiplies the 16-bit
 *     pair sums by each group's scale and accumulates in int32; per super-block one conversion
 *     to float and one FMA (float sums in vector lanes: within quant.h's tolerance of the
 *     portable code). Decode (T = 1) takes 4 rows at a time (v_rows), sharing the activation
 *     loads, each row a stream of its own; the q8_K activation quantizer is vectorised too
 *     (bit-identical to the portable one).
 *   - Q8_0: two blocks per step, |w| . sign(a, w) by vpdpbusd; float accumulation in ggml's
 *     order, which differs from the portable sum by rounding (as the AVX2 kernel does). Decode
 *     takes 4 rows at a time too (q8_0_rows: w + 128 by vpdpbusd, the offset removed exactly).
 *   - Q4_0, Q5_0, Q5_1 and Q5_K use the AVX2 kernels (decode too: the AVX2 multi-row ones).
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

/* Decode streams the weights from memory once. The R rows of a multi-row kernel are far apart
 * (see v_rows), so each is a long sequential stream of its own; the kernels may also prefetch
 * each row `dist` bytes ahead of the block they read (0: none). */
static inline __attribute__((always_inline)) void prefetch_ahead(const void *x, size_t bytes, size_t dist) {
    if (!dist) return;
    const char *p = (const char *)x + dist;
    for (size_t o = 0; o < bytes; o += 64)
        _mm_prefetch(p + o, _MM_HINT_T0);
    _mm_prefetch(p + bytes - 1, _MM_HINT_T0);
}

/* Q8_0, R rows (R <= 4, a constant at each call site) sharing the activation loads, two blocks
 * per step. The weights are made unsigned by flipping their sign bit (w + 128, one xor per row
 * instead of ggml's abs/sign pair) so vpdpbusd takes them as they are; the 128 * (sum of each
 * lane's 4 activations) this adds is computed once per step for all R rows and starts each
 * row's integer accumulation negated, so every int32 lane is exactly the signed dot of its 4
 * values, as in v_q8_0 (same float accumulation, within quant.h's tolerance of portable). */
static inline __attribute__((always_inline)) void q8_0_rows(int n, const uint8_t *w, size_t row_bytes,
                                                            const tl_block_a32 *a, float *out, size_t ostride,
                                                            const int R, size_t pf) {
    const int nb = n / 32;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const __m512i lane_of = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    int i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i aq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)a[i].qs)),
                                        _mm256_loadu_si256((const __m256i *)a[i + 1].qs), 1);
        __m512i neg_off = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), flip, aq));
        __m128 ad = _mm_unpacklo_ps(_mm_set_ss(a[i].d), _mm_set_ss(a[i + 1].d));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q8_0 *x = (const tl_block_q8_0 *)(w + (size_t)r * row_bytes) + i;
            prefetch_ahead(x, 2 * sizeof *x, pf);
            __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[0].qs)),
                                            _mm256_loadu_si256((const __m256i *)x[1].qs), 1);
            __m512i dp = _mm512_dpbusd_epi32(neg_off, _mm512_xor_si512(wq, flip), aq);
            __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_insert_epi16(_mm_cvtsi32_si128(x[0].d), (short)x[1].d, 1)), ad);
            __m512 d = _mm512_permutexvar_ps(lane_of, _mm512_castps128_ps512(dd));
            acc[r] = _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dp), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        float sum = _mm512_reduce_add_ps(acc[r]);
        if (i < nb) { /* an odd last block */
            const tl_block_q8_0 *x = (const tl_block_q8_0 *)(w + (size_t)r * row_bytes) + i;
            int s = 0;
            for (int j = 0; j < 32; j++)
                s += x->qs[j] * a[i].qs[j];
            sum += (float)s * (h2f(x->d) * a[i].d);
        }
        out[r * ostride] = sum;
    }
}

/* vpshufb control: in the low 256 bits, word s0 of each 128-bit lane; in the high 256 bits, word s1 */
static inline __m512i word_ctrl2(int s0, int s1) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16((short)(2 * s0 | (2 * s0 + 1) << 8))),
                              _mm256_set1_epi16((short)(2 * s1 | (2 * s1 + 1) << 8)), 1);
}

/* Q4_K, R rows (R <= 4, a constant at each call site) of row_bytes each, sharing the activation
 * loads. Per super-block and row: integer dot products of 64 values per vpmaddubsw (unsigned
 * nibble x signed activation; no pair saturates) weighted by the group scales in one vpdpwssd,
 * converted to float (exact: |lane| < 2^24) and accumulated with one FMA by d * a.d; the mins'
 * term likewise from the activations' group sums. Float sums in vector lanes: not bit-identical
 * to the portable code (quant.h states the tolerance). */
static inline __attribute__((always_inline)) void q4_K_rows(int n, const uint8_t *w, size_t row_bytes,
                                                            const tl_block_q8_K *a, float *out, size_t ostride,
                                                            const int R, size_t pf) {
    const __m512i lo4 = _mm512_set1_epi8(0xF);
    const __m512i c02 = word_ctrl2(0, 2), c13 = word_ctrl2(1, 3), c46 = word_ctrl2(4, 6), c57 = word_ctrl2(5, 7);
    __m512 acc[4];
    __m128 accm[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm512_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    for (int i = 0; i < n / TL_QK; i++) {
        /* the 256 activations as the nibble layout wants them: [group 4h | group 4h+2] and
         * [group 4h+1 | group 4h+3] for h = 0, 1 */
        const int8_t *aq = a[i].qs;
        __m512i act[4];
#pragma GCC unroll 4
        for (int h = 0; h < 2; h++) {
            act[2 * h] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(aq + 128 * h))),
                                            _mm256_loadu_si256((const __m256i *)(aq + 128 * h + 64)), 1);
            act[2 * h + 1] =
                _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(aq + 128 * h + 32))),
                                   _mm256_loadu_si256((const __m256i *)(aq + 128 * h + 96)), 1);
        }
        /* pair sums of the 16-value group sums: the activation sum of each 32-value group */
        __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a[i].bsums),
                                    _mm_loadu_si128((const __m128i *)(a[i].bsums + 8)));
        const __m128 adv = _mm_set1_ps(a[i].d);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q4_K *x = (const tl_block_q4_K *)(w + (size_t)r * row_bytes) + i;
            prefetch_ahead(x, sizeof *x, pf);
            __m256i sm = k4_scales_mins(x->scales);
            __m512i sc = _mm512_broadcast_i32x4(_mm256_castsi256_si128(sm));
            __m128i mprod = _mm_madd_epi16(_mm256_extracti128_si256(sm, 1), bs);
            __m512i q0 = _mm512_loadu_si512((const void *)x->qs), q1 = _mm512_loadu_si512((const void *)(x->qs + 64));
            __m512i s0 = _mm512_dpwssd_epi32(_mm512_setzero_si512(),
                                             _mm512_maddubs_epi16(_mm512_and_si512(q0, lo4), act[0]),
                                             _mm512_shuffle_epi8(sc, c02));
            __m512i s1 = _mm512_dpwssd_epi32(_mm512_setzero_si512(),
                                             _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(q0, 4), lo4), act[1]),
                                             _mm512_shuffle_epi8(sc, c13));
            s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(_mm512_and_si512(q1, lo4), act[2]), _mm512_shuffle_epi8(sc, c46));
            s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(q1, 4), lo4), act[3]),
                                     _mm512_shuffle_epi8(sc, c57));
            uint32_t d2; /* d and dmin converted together: [ad * d, ad * dmin] */
            memcpy(&d2, &x->d, 4);
            __m128 dd = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi32_si128((int)d2)), adv);
            acc[r] = _mm512_fmadd_ps(_mm512_broadcastss_ps(dd), _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[r]);
            accm[r] = _mm_fmadd_ps(_mm_permute_ps(dd, 0x55), _mm_cvtepi32_ps(mprod), accm[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        out[r * ostride] = _mm512_reduce_add_ps(_mm512_sub_ps(acc[r], _mm512_zextps128_ps512(accm[r])));
}

static float v_q4_K(int n, const void *w, const tl_block_q8_K *a) {
    float out;
    q4_K_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}

/* Q6_K, R rows sharing the activation loads. Per super-block and row: the 6-bit values (0..63) by
 * vpmaddubsw, weighted by the 16 int8 scales in vpdpwssd, minus the offset 32 * sum_k scale[k] *
 * (group sum of the activations), converted to float once and accumulated with one FMA by
 * d * a.d (float sums in vector lanes). */
static inline __attribute__((always_inline)) void q6_K_rows(int n, const uint8_t *w, size_t row_bytes,
                                                            const tl_block_q8_K *a, float *out, size_t ostride,
                                                            const int R, size_t pf) {
    const __m512i lo4 = _mm512_set1_epi8(0xF), m30 = _mm512_set1_epi8(0x30);
    /* the low 32 bytes take qh's bits 0-1 (q1) / 4-5 (q3), the high 32 bytes bits 2-3 (q2) / 6-7 (q4) */
    const __m512i shl12 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shr34 = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
    /* word lane -> scale index: 8 lanes (16 values) per scale; idx[k] for scales 4k .. 4k+3 */
    const __m512i idx0 = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
                                          0, 0, 0, 0, 0, 0);
    const __m512i idx[4] = {idx0, _mm512_add_epi16(idx0, _mm512_set1_epi16(4)),
                            _mm512_add_epi16(idx0, _mm512_set1_epi16(8)), _mm512_add_epi16(idx0, _mm512_set1_epi16(12))};
    __m512 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        acc[r] = _mm512_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
        const int8_t *aq = a[i].qs;
        __m512i act[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            act[k] = _mm512_loadu_si512((const void *)(aq + 64 * k));
        __m256i bsums = _mm256_loadu_si256((const __m256i *)a[i].bsums);
        const float ad = a[i].d;
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q6_K *x = (const tl_block_q6_K *)(w + (size_t)r * row_bytes) + i;
            prefetch_ahead(x, sizeof *x, pf);
            __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
            /* the offset, 32 * scale . group sums, subtracted in the integer lanes */
            __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(sc16, bsums), 5);
            __m512i sc = _mm512_castsi256_si512(sc16);
            __m512i s0 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_zextsi256_si512(corr)),
                    s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int h = 0; h < 2; h++) {
                __m512i ql = _mm512_loadu_si512((const void *)(x->ql + 64 * h)); /* [qA | qB] */
                __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)));
                __m512i q12 =
                    _mm512_or_si512(_mm512_and_si512(ql, lo4), _mm512_and_si512(_mm512_sllv_epi16(qh, shl12), m30));
                __m512i q34 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), lo4),
                                              _mm512_and_si512(_mm512_srlv_epi16(qh, shr34), m30));
                s0 = _mm512_dpwssd_epi32(s0, _mm512_maddubs_epi16(q12, act[2 * h]),
                                         _mm512_permutexvar_epi16(idx[2 * h], sc));
                s1 = _mm512_dpwssd_epi32(s1, _mm512_maddubs_epi16(q34, act[2 * h + 1]),
                                         _mm512_permutexvar_epi16(idx[2 * h + 1], sc));
            }
            acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(ad * h2f(x->d)), _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++)
        out[r * ostride] = _mm512_reduce_add_ps(acc[r]);
}

static float v_q6_K(int n, const void *w, const tl_block_q8_K *a) {
    float out;
    q6_K_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}

/* T = 1: rows [0, nrows) of a Q8_0, Q4_K or Q6_K matrix, V_ROWS at a time (sharing the
 * activation loads). The rows taken together are a quarter of the range apart (j, q + j, 2q + j,
 * 3q + j), not neighbours: four long sequential streams, which the hardware prefetcher follows,
 * where four adjacent rows are four short streams (one row: 18 cache lines of a 2048-wide Q4_K
 * matrix) that it keeps losing (bench_qgemv cold, 1 thread: Q4_K 20-25 -> 28-33 GB/s, Q8_0
 * 26-28 -> 34-40 GB/s). Each stream is also prefetched V_PF_BYTES ahead. */
#ifndef V_ROWS
#define V_ROWS 4
#endif
#ifndef V_PF_BYTES
#define V_PF_BYTES 1024
#endif
static int v_rows(uint32_t type, int n, const uint8_t *w, size_t row_bytes, int64_t nrows, const void *a, float *out) {
    /* the types whose one-row dot is the AVX2 one (below): the AVX2 rows, the same bits per row */
    if (type != TL_Q4_K && type != TL_Q6_K && type != TL_Q8_0)
        return tl_qdot_avx2.rows(type, n, w, row_bytes, nrows, a, out);
    const int64_t q = nrows / V_ROWS; /* rows j, q + j, 2q + j, 3q + j together */
    const size_t stride = (size_t)q * row_bytes, pf = V_PF_BYTES;
    for (int64_t j = 0; j < q; j++) {
        const uint8_t *wr = w + (size_t)j * row_bytes;
        if (type == TL_Q4_K) q4_K_rows(n, wr, stride, a, out + j, q, V_ROWS, pf);
        else if (type == TL_Q6_K) q6_K_rows(n, wr, stride, a, out + j, q, V_ROWS, pf);
        else q8_0_rows(n, wr, stride, a, out + j, q, V_ROWS, pf);
    }
    for (int64_t r = V_ROWS * q; r < nrows; r++) {
        const uint8_t *wr = w + (size_t)r * row_bytes;
        if (type == TL_Q4_K) q4_K_rows(n, wr, 0, a, out + r, 1, 1, pf);
        else if (type == TL_Q6_K) q6_K_rows(n, wr, 0, a, out + r, 1, 1, pf);
        else q8_0_rows(n, wr, 0, a, out + r, 1, 1, pf);
    }
    return 1;
}

/* tl_quantize_q8_K vectorised, with the same result bit for bit: the first value of largest
 * magnitude sets iscale = -127 / max; q = min(127, round-half-even(iscale * x)) (the portable
 * nearest_int; vcvtps2dq under the default rounding mode); bsums, d as there. */
static void v_quantize_q8_K(const float *x, tl_block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / TL_QK; i++, x += TL_QK) {
        __m512 v[16], amax = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) {
            v[k] = _mm512_loadu_ps(x + 16 * k);
            amax = _mm512_max_ps(_mm512_abs_ps(v[k]), amax); /* a NaN value is skipped, as there */
        }
        float am = _mm512_reduce_max_ps(amax);
        if (!(am > 0)) {
            memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        float max = 0;
        for (int k = 0; k < 16; k++) {
            __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(v[k]), _mm512_set1_ps(am), _CMP_EQ_OQ);
            if (hit) {
                max = x[16 * k + __builtin_ctz(hit)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 is = _mm512_set1_ps(iscale);
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) {
            __m512i q = _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(is, v[k])), _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *)(y[i].qs + 16 * k), _mm512_cvtsepi32_epi8(q));
            y[i].bsums[k] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        y[i].d = 1 / iscale;
    }
}

/* the types without a wider kernel: the AVX2 ones */
static float v_q4_0(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q4_0(n, w, a); }
static float v_q5_0(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q5_0(n, w, a); }
static float v_q5_1(int n, const void *w, const tl_block_a32 *a) { return tl_qdot_avx2.q5_1(n, w, a); }
static float v_q5_K(int n, const void *w, const tl_block_q8_K *a) { return tl_qdot_avx2.q5_K(n, w, a); }

const tl_qdot tl_qdot_vnni512 = {TL_ISA_AVX512, v_q8_0, v_q4_0, v_q5_0, v_q5_1, v_q4_K, v_q5_K, v_q6_K, v_rows,
                                 v_quantize_q8_K};
