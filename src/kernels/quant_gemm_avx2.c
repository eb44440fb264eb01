/* quant_gemm_avx2.c: AVX2 kernels of the batched quantized matmul (quant_gemm.h).
 *   - unpack: weight blocks to the canonical one-byte-per-value rows with byte shuffles (also used
 *     by the AVX-512 VNNI table), with the |values| when the tile has room for them (this table's
 *     32-value kernels) and the block sums when it has room for those (the VNNI table's);
 *   - 32-value types: 4 rows x 8 tokens, the tokens in vector lanes (interleaved activations, as
 *     the AVX-512 VNNI table does with 16): |w| . sign(a, w) by vpmaddubsw + vpmaddwd, exact int32
 *     sums per block, then the portable float expression per block on 8 lanes: bit-identical to the
 *     portable kernel;
 *   - K-quants: 2 rows (dot_k2) or 1 x 8 tokens in vector lanes (the same interleaved activations,
 *     the AVX-512 VNNI dot_k's design): unsigned values x signed activations by vpmaddubsw (no pair
 *     can saturate: values <= 63, |a| <= 127), a few of those added in int16, times the 16-value
 *     groups' scales by vpmaddwd, exact int32 sums per super-block in the tokens' own lanes (no
 *     horizontal sums), then the portable float expression on 8 lanes: bit-identical to the
 *     portable kernel; calls of T <= 4 tokens: 1 row x 4 tokens in the rows layout (dot_k4). */
#include <immintrin.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant_gemm.h"
#include "quant_x86.h"

void tl_qg_unpack_avx2(const uint8_t *row, tl_qg_tile *t, int r);
void tl_qg_quant_a32_avx2(const float *x, tl_block_a32 *y);
void tl_qg_quant_k_avx2(const float *x, tl_block_q8_K *y);

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); } /* exact, as tl_f16_to_f32 */

void tl_qg_unpack_avx2(const uint8_t *row, tl_qg_tile *t, int r) {
    const int64_t k = t->k;
    const __m256i lo4 = _mm256_set1_epi8(0xF);
    if (!tl_qg_is_k(t->type)) {
        int8_t *q = (int8_t *)t->q + (size_t)r * k;
        uint8_t *aq = t->aq ? t->aq + (size_t)r * k : NULL;
        float *d = t->d + (size_t)r * (k / 32);
        int32_t *ws = t->ws ? t->ws + (size_t)r * (k / 32) : NULL;
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        for (int64_t i = 0; i < k / 32; i++, q += 32) {
            __m256i x; /* the block's 32 signed values */
            if (t->type == TL_Q8_0) {
                const tl_block_q8_0 *b = (const tl_block_q8_0 *)row + i;
                x = _mm256_loadu_si256((const __m256i *)b->qs);
                d[i] = h2f(b->d);
            } else if (t->type == TL_Q5_0) { /* 5th bits from the 32-bit mask by a byte shuffle */
                const tl_block_q5_0 *b = (const tl_block_q5_0 *)row + i;
                uint32_t qh;
                memcpy(&qh, b->qh, 4);
                const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
                                                      2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
                const __m256i bit = _mm256_set1_epi64x(0x8040201008040201ll);
                __m256i hb = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
                hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hb, bit), bit), _mm256_set1_epi8(0x10));
                __m128i v = _mm_loadu_si128((const __m128i *)b->qs);
                x = _mm256_or_si256(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), lo4), hb);
                x = _mm256_sub_epi8(x, _mm256_set1_epi8(16));
                d[i] = h2f(b->d);
            } else {
                const tl_block_q4_0 *b = (const tl_block_q4_0 *)row + i;
                __m128i v = _mm_loadu_si128((const __m128i *)b->qs);
                x = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), lo4);
                x = _mm256_sub_epi8(x, _mm256_set1_epi8(8));
                d[i] = h2f(b->d);
            }
            _mm256_storeu_si256((__m256i *)q, x);
            if (aq) _mm256_storeu_si256((__m256i *)(aq + 32 * i), _mm256_abs_epi8(x)); /* |-128| reads as 128 */
            if (ws) { /* sum of the 32 signed values: byte sums of (q + 128), less 32 x 128 */
                __m256i sad = _mm256_sad_epu8(_mm256_xor_si256(x, flip), _mm256_setzero_si256());
                __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(sad), _mm256_extracti128_si256(sad, 1));
                ws[i] = (int32_t)(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1)) - 32 * 128;
            }
        }
        return;
    }
    const int64_t nsb = k / TL_QK;
    uint8_t *q = t->q + (size_t)r * k;
    int16_t *sc = t->sc + (size_t)r * (k / 16), *mn = t->mn + (size_t)r * (k / 16);
    float *d = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    for (int64_t i = 0; i < nsb; i++, q += TL_QK, sc += 16, mn += 16) {
        if (t->type == TL_Q6_K) {
            const tl_block_q6_K *b = (const tl_block_q6_K *)row + i;
            const __m256i m30 = _mm256_set1_epi8(0x30);
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = b->ql + 64 * h;
                __m256i qA = _mm256_loadu_si256((const __m256i *)ql), qB = _mm256_loadu_si256((const __m256i *)(ql + 32));
                __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
                __m256i *y = (__m256i *)(q + 128 * h);
                _mm256_storeu_si256(y, _mm256_or_si256(_mm256_and_si256(qA, lo4),
                                                       _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)));
                _mm256_storeu_si256(y + 1, _mm256_or_si256(_mm256_and_si256(qB, lo4),
                                                           _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)));
                _mm256_storeu_si256(y + 2, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qA, 4), lo4),
                                                           _mm256_and_si256(qh, m30)));
                _mm256_storeu_si256(y + 3, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qB, 4), lo4),
                                                           _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)));
            }
            __m256i s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)b->scales));
            _mm256_storeu_si256((__m256i *)sc, s16);
            _mm256_storeu_si256((__m256i *)mn, _mm256_slli_epi16(s16, 5));
            d[i] = h2f(b->d);
            dmin[i] = 0;
        } else {
            const int five = t->type == TL_Q5_K;
            const tl_block_q4_K *b4 = (const tl_block_q4_K *)row + i;
            const tl_block_q5_K *b5 = (const tl_block_q5_K *)row + i;
            const uint8_t *scales = five ? b5->scales : b4->scales, *qs = five ? b5->qs : b4->qs;
            __m256i qh = five ? _mm256_loadu_si256((const __m256i *)b5->qh) : _mm256_setzero_si256();
            const __m256i b4v = _mm256_set1_epi8(0x10);
            for (int j = 0; j < 4; j++) {
                __m256i v = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
                __m256i q0 = _mm256_and_si256(v, lo4), q1 = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
                if (five) {
                    __m256i m0 = _mm256_set1_epi8((char)(1 << (2 * j))), m1 = _mm256_set1_epi8((char)(2 << (2 * j)));
                    q0 = _mm256_or_si256(q0, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m0), m0), b4v));
                    q1 = _mm256_or_si256(q1, _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, m1), m1), b4v));
                }
                _mm256_storeu_si256((__m256i *)(q + 64 * j), q0);
                _mm256_storeu_si256((__m256i *)(q + 64 * j + 32), q1);
            }
            uint8_t sm[16];
            k4_unpack(scales, sm);
            /* each 6-bit scale / min covers two groups of 16: widen and duplicate */
            __m128i s8 = _mm_loadu_si128((const __m128i *)sm);
            __m128i dup = _mm_unpacklo_epi8(s8, s8), dupm = _mm_unpackhi_epi8(s8, s8);
            _mm256_storeu_si256((__m256i *)sc, _mm256_cvtepu8_epi16(dup));
            _mm256_storeu_si256((__m256i *)mn, _mm256_cvtepu8_epi16(dupm));
            d[i] = h2f(five ? b5->d : b4->d);
            dmin[i] = h2f(five ? b5->dmin : b4->dmin);
        }
    }
}

/* ---- activation quantizers: tl_quantize_a32 / tl_quantize_q8_K's operations on 8 lanes ---- */

static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static inline int hsum_epi32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* 32 int32 (4 vectors) -> 32 int8 in order (values already within int8) */
static inline __m256i pack_i8(__m256i a, __m256i b, __m256i c, __m256i d) {
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void tl_qg_quant_a32_avx2(const float *x, tl_block_a32 *y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4], m = _mm256_setzero_ps();
    for (int j = 0; j < 4; j++) {
        v[j] = _mm256_loadu_ps(x + 8 * j);
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[j]));
    }
    const float amax = hmax_ps(m), d = amax / 127, id = d ? 1.0f / d : 0.0f;
    __m256i q[4], sum = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) { /* roundf: truncate, then away from zero when the rest is >= 1/2 */
        __m256 p = _mm256_mul_ps(v[j], _mm256_set1_ps(id));
        __m256 t = _mm256_round_ps(p, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        __m256 half = _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(p, t)), _mm256_set1_ps(0.5f), _CMP_GE_OQ);
        __m256 one = _mm256_or_ps(_mm256_and_ps(p, sign), _mm256_set1_ps(1.0f));
        q[j] = _mm256_cvttps_epi32(_mm256_add_ps(t, _mm256_and_ps(half, one)));
        sum = _mm256_add_epi32(sum, q[j]);
    }
    _mm256_storeu_si256((__m256i *)y->qs, pack_i8(q[0], q[1], q[2], q[3]));
    y->d = d;
    y->sum = hsum_epi32(sum);
}

void tl_qg_quant_k_avx2(const float *x, tl_block_q8_K *y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < TL_QK; j += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    const float amax = hmax_ps(m);
    if (!amax) {
        memset(y, 0, sizeof *y);
        return;
    }
    int at = -1; /* the first value of largest magnitude, with its sign, as the reference takes it */
    for (int j = 0; j < TL_QK && at < 0; j += 8) {
        int mask = _mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)), _mm256_set1_ps(amax), _CMP_EQ_OQ));
        if (mask) at = j + __builtin_ctz((unsigned)mask);
    }
    if (at < 0) { /* NaNs: the reference decides */
        tl_quantize_q8_K(x, y, TL_QK);
        return;
    }
    const float iscale = -127.f / x[at];
    const __m256 is = _mm256_set1_ps(iscale), magic = _mm256_set1_ps(12582912.f);
    const __m256i mant = _mm256_set1_epi32(0x007fffff), off = _mm256_set1_epi32(0x00400000),
                  top = _mm256_set1_epi32(127);
    for (int j = 0; j < TL_QK; j += 32) {
        __m256i q[4];
        for (int l = 0; l < 4; l++) { /* nearest_int(iscale * x), capped at 127 */
            __m256 v = _mm256_add_ps(_mm256_mul_ps(is, _mm256_loadu_ps(x + j + 8 * l)), magic);
            q[l] = _mm256_min_epi32(_mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(v), mant), off), top);
        }
        y->bsums[j / 16] = (int16_t)hsum_epi32(_mm256_add_epi32(q[0], q[1]));
        y->bsums[j / 16 + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)(y->qs + j), pack_i8(q[0], q[1], q[2], q[3]));
    }
    y->d = 1 / iscale;
}

#ifndef QG_AVX2_ROWS
#define QG_AVX2_ROWS 4 /* rows per dot_bn call */
#endif

/* NR rows x 8 tokens of a 32-value type. The activations are interleaved (8 tokens, quant_gemm.h):
 * one vector holds 4 consecutive values of each of the 8 tokens, so a weight row's 4 values
 * broadcast to every 32-bit lane and the products land in the tokens' own lanes. Per 4 values
 * and row: |w| (as unsigned: |-128| = 128 is right) x sign(a, w) by vpmaddubsw (no pair can
 * saturate: 128 x 127 x 2 < 32768), pairs to int32 by vpmaddwd, summed exactly over the block;
 * per block the portable expression, sum += (float)s * (dw * da), on 8 lanes: bit-identical to
 * the portable kernel. Each activation vector is loaded once for the NR rows. */
static inline __attribute__((always_inline)) void dot_b32_rows(const tl_qg_tile *t, int r, const int NR,
                                                               const int small, const tl_qg_acts *a, int g,
                                                               float *out) {
    const int64_t k = t->k, nb = k / 32;
    /* rows r .. r + NR - 1 (the pointers past them stay at row r: never read) */
    const size_t k1 = NR > 1 ? (size_t)k : 0, k2 = NR > 2 ? 2 * (size_t)k : 0, k3 = NR > 3 ? 3 * (size_t)k : 0;
    const int8_t *w0 = (const int8_t *)t->q + (size_t)r * k, *w1 = w0 + k1, *w2 = w0 + k2, *w3 = w0 + k3;
    const uint8_t *u0 = t->aq + (size_t)r * k, *u1 = u0 + k1, *u2 = u0 + k2, *u3 = u0 + k3; /* |w| */
    const float *dw = t->d + (size_t)r * nb;
    const int8_t *x = a->qs + (size_t)g * k * 8;
    const float *da = a->d + (size_t)g * nb * 8;
    const __m256i ones = _mm256_set1_epi16(1);
    /* the rows spelled out (NR is a constant): arrays of accumulators would live in memory */
    __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0, sum2 = sum0, sum3 = sum0;
    for (int64_t i = 0; i < nb; i++, x += 256) {
        /* small (Q4_0, Q5_0: |w| <= 16): the block's 8 pair sums add up in int16 (|sum| <= 8 x 2 x 16 x 127
         * < 32768), widened once per block; Q8_0: widened at every step */
        __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        for (int q = 0; q < 8; q++) {
            const __m256i X = _mm256_loadu_si256((const __m256i *)(x + 32 * q));
            const size_t at = (size_t)(32 * i + 4 * q);
#define QG_ROW(acc, wr, ur)                                                                                      \
    do {                                                                                                         \
        int32_t v, u;                                                                                            \
        memcpy(&v, (wr) + at, 4);                                                                                \
        memcpy(&u, (ur) + at, 4);                                                                                \
        const __m256i W = _mm256_set1_epi32(v);                                                                  \
        const __m256i p = _mm256_maddubs_epi16(_mm256_set1_epi32(u), _mm256_sign_epi8(X, W));                    \
        acc = small ? _mm256_add_epi16(acc, p) : _mm256_add_epi32(acc, _mm256_madd_epi16(p, ones));              \
    } while (0)
            QG_ROW(acc0, w0, u0);
            if (NR > 1) QG_ROW(acc1, w1, u1);
            if (NR > 2) QG_ROW(acc2, w2, u2);
            if (NR > 3) QG_ROW(acc3, w3, u3);
#undef QG_ROW
        }
        if (small) {
            acc0 = _mm256_madd_epi16(acc0, ones);
            if (NR > 1) acc1 = _mm256_madd_epi16(acc1, ones);
            if (NR > 2) acc2 = _mm256_madd_epi16(acc2, ones);
            if (NR > 3) acc3 = _mm256_madd_epi16(acc3, ones);
        }
        const __m256 D = _mm256_loadu_ps(da + 8 * i);
#define QG_SUM(sum, acc, rr)                                                                                     \
    sum = _mm256_add_ps(sum, _mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(_mm256_set1_ps(dw[(rr) * nb + i]), D)))
        QG_SUM(sum0, acc0, 0);
        if (NR > 1) QG_SUM(sum1, acc1, 1);
        if (NR > 2) QG_SUM(sum2, acc2, 2);
        if (NR > 3) QG_SUM(sum3, acc3, 3);
#undef QG_SUM
    }
    _mm256_storeu_ps(out, sum0);
    if (NR > 1) _mm256_storeu_ps(out + 8, sum1);
    if (NR > 2) _mm256_storeu_ps(out + 16, sum2);
    if (NR > 3) _mm256_storeu_ps(out + 24, sum3);
}

static void dot_b32(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    if (t->type == TL_Q8_0) dot_b32_rows(t, r, 1, 0, a, g, out);
    else dot_b32_rows(t, r, 1, 1, a, g, out);
}

static void dot_bn(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    if (t->type == TL_Q8_0) dot_b32_rows(t, r, QG_AVX2_ROWS, 0, a, g, out);
    else dot_b32_rows(t, r, QG_AVX2_ROWS, 1, a, g, out);
}

static inline __m256i bcast4(const void *p) { /* 4 bytes to every 32-bit lane (vpbroadcastd) */
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* NR (1 or 2) rows x 8 tokens of a K-quant, the tokens in vector lanes (interleaved activations,
 * quant_gemm.h; the AVX-512 VNNI table's dot_k on 8 lanes): per 4 values, the row's 4 bytes
 * broadcast to every 32-bit lane, vpmaddubsw against the 8 tokens' 4 values (unsigned weights <= 63
 * x activations in [-127, 127]: tl_quantize_q8_K rounds -127 / x[at] x x[i], |.| <= 127, never -128;
 * a pair is <= 2 x 63 x 127 = 16002, no saturation), SUMN such int16 results added in int16, then
 * vpmaddwd with the 16-value group's scale into int32. The int16 bound per lane for SUMN results:
 * SUMN x 2 x wmax x 127 <= 32767, so
 *   Q6_K (wmax 63): SUMN 2 (32004);  Q5_K (31): SUMN 4 (31496);
 *   Q4_K (15): SUMN 8 (30480) — one 32-value run, whose two 16-value groups share their scale
 *   (sc[2c] == sc[2c + 1]: one 6-bit scale per 32 values, unpack duplicates it).
 * The offset term: vpmaddwd of the tokens' group sums (pairs 2p, 2p + 1) with the mins (Q4_K, Q5_K)
 * or 32 x scales (Q6_K). The int32 sums per super-block are exact; then the portable float expression
 * on 8 lanes, in the portable order: bit-identical to the portable kernel. NR = 2 loads each
 * activation vector once for both rows. */
static inline __attribute__((always_inline)) void dot_k_rows(const tl_qg_tile *t, int r, const int NR, const int SUMN,
                                                             const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nsb = k / TL_QK;
    const size_t k1 = NR > 1 ? (size_t)k : 0; /* row r + 1 (row r again when NR = 1: never read) */
    const uint8_t *w0 = t->q + (size_t)r * k, *w1 = w0 + k1;
    const int16_t *sc0 = t->sc + (size_t)r * (k / 16), *sc1 = sc0 + k1 / 16;
    const int16_t *mn0 = t->mn + (size_t)r * (k / 16), *mn1 = mn0 + k1 / 16;
    const float *dw0 = t->d + (size_t)r * nsb, *dw1 = dw0 + (NR > 1 ? nsb : 0);
    const float *dm0 = t->dmin + (size_t)r * nsb, *dm1 = dm0 + (NR > 1 ? nsb : 0);
    const int8_t *x = a->qs + (size_t)g * k * 8;       /* [k/4][8][4] */
    const int16_t *bs = a->bs + (size_t)g * nsb * 128; /* [nsb][8][8][2] */
    const float *ad = a->d + (size_t)g * nsb * 8;      /* [nsb][8] */
    const int q6 = t->type == TL_Q6_K;
    __m256 sum0 = _mm256_setzero_ps(), sum1 = sum0;
    for (int64_t i = 0; i < nsb; i++, x += 8 * TL_QK, bs += 128) {
        /* two accumulators per row: the int32 chain is one vpaddd per step, the vpmaddwd's are off it */
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, b0 = a0, b1 = a0;
        const uint8_t *u0 = w0 + TL_QK * i, *u1 = w1 + TL_QK * i;
        const int16_t *s0 = sc0 + 16 * i, *s1 = sc1 + 16 * i;
        for (int c = 0; c < 8; c++) { /* 32 values: groups 2c, 2c + 1 */
            const int8_t *xc = x + 256 * c;
            /* spelled out: a loop over an array of vectors may stay in memory at -O2 */
            const __m256i X0 = _mm256_loadu_si256((const __m256i *)xc),
                          X1 = _mm256_loadu_si256((const __m256i *)(xc + 32));
            const __m256i X2 = _mm256_loadu_si256((const __m256i *)(xc + 64)),
                          X3 = _mm256_loadu_si256((const __m256i *)(xc + 96));
            const __m256i X4 = _mm256_loadu_si256((const __m256i *)(xc + 128)),
                          X5 = _mm256_loadu_si256((const __m256i *)(xc + 160));
            const __m256i X6 = _mm256_loadu_si256((const __m256i *)(xc + 192)),
                          X7 = _mm256_loadu_si256((const __m256i *)(xc + 224));
#define QG_P(u, j) _mm256_maddubs_epi16(bcast4((u) + 32 * c + 4 * (j)), X##j)
#define QG_ROW(u, s, c0, c1)                                                                                           \
    do {                                                                                                               \
        if (SUMN == 8) {                                                                                               \
            __m256i p = _mm256_add_epi16(                                                                              \
                _mm256_add_epi16(_mm256_add_epi16(QG_P(u, 0), QG_P(u, 1)), _mm256_add_epi16(QG_P(u, 2), QG_P(u, 3))),  \
                _mm256_add_epi16(_mm256_add_epi16(QG_P(u, 4), QG_P(u, 5)), _mm256_add_epi16(QG_P(u, 6), QG_P(u, 7)))); \
            c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(p, _mm256_set1_epi16((s)[2 * c])));                            \
        } else {                                                                                                       \
            const __m256i S0 = _mm256_set1_epi16((s)[2 * c]), S1 = _mm256_set1_epi16((s)[2 * c + 1]);                  \
            __m256i p0 = _mm256_add_epi16(QG_P(u, 0), QG_P(u, 1)), p1 = _mm256_add_epi16(QG_P(u, 2), QG_P(u, 3));      \
            __m256i p2 = _mm256_add_epi16(QG_P(u, 4), QG_P(u, 5)), p3 = _mm256_add_epi16(QG_P(u, 6), QG_P(u, 7));      \
            if (SUMN == 4) {                                                                                           \
                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_add_epi16(p0, p1), S0));                            \
                c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_add_epi16(p2, p3), S1));                            \
            } else {                                                                                                   \
                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(p0, S0));                                                  \
                c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(p1, S0));                                                  \
                c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(p2, S1));                                                  \
                c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(p3, S1));                                                  \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)
            QG_ROW(u0, s0, a0, a1);
            if (NR > 1) QG_ROW(u1, s1, b0, b1);
#undef QG_ROW
#undef QG_P
        }
        __m256i m0 = _mm256_setzero_si256(), m1 = m0;
        for (int p = 0; p < 8; p++) { /* offsets: groups 2p, 2p + 1 of 8 tokens */
            const __m256i B = _mm256_loadu_si256((const __m256i *)(bs + 16 * p));
            m0 = _mm256_add_epi32(m0, _mm256_madd_epi16(B, bcast4(mn0 + 16 * i + 2 * p)));
            if (NR > 1) m1 = _mm256_add_epi32(m1, _mm256_madd_epi16(B, bcast4(mn1 + 16 * i + 2 * p)));
        }
        const __m256 adv = _mm256_loadu_ps(ad + 8 * i);
#define QG_SUM(sum, acc, m, dw, dm)                                                                                    \
    do {                                                                                                               \
        __m256 v;                                                                                                      \
        if (q6)                                                                                                        \
            v = _mm256_mul_ps(_mm256_mul_ps(adv, _mm256_set1_ps((dw)[i])),                                             \
                              _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, m)));                                           \
        else                                                                                                           \
            v = _mm256_mul_ps(adv, _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps((dw)[i]), _mm256_cvtepi32_ps(acc)),      \
                                                 _mm256_mul_ps(_mm256_set1_ps((dm)[i]), _mm256_cvtepi32_ps(m))));      \
        sum = _mm256_add_ps(sum, v);                                                                                   \
    } while (0)
        QG_SUM(sum0, _mm256_add_epi32(a0, a1), m0, dw0, dm0);
        if (NR > 1) QG_SUM(sum1, _mm256_add_epi32(b0, b1), m1, dw1, dm1);
#undef QG_SUM
    }
    _mm256_storeu_ps(out, sum0);
    if (NR > 1) _mm256_storeu_ps(out + 8, sum1);
}

/* SUMN per type: the largest the int16 bound of dot_k_rows allows */
static void dot_k(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    if (t->type == TL_Q4_K) dot_k_rows(t, r, 1, 8, a, g, out);
    else if (t->type == TL_Q5_K) dot_k_rows(t, r, 1, 4, a, g, out);
    else dot_k_rows(t, r, 1, 2, a, g, out); /* Q6_K */
}

static void dot_k2(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    if (t->type == TL_Q4_K) dot_k_rows(t, r, 2, 8, a, g, out);
    else if (t->type == TL_Q5_K) dot_k_rows(t, r, 2, 4, a, g, out);
    else dot_k_rows(t, r, 2, 2, a, g, out); /* Q6_K */
}

/* 1 row x 4 tokens in the rows layout (group 4), for calls of T <= 4 tokens: there an 8-token
 * group is half padding, and this kernel's 4 tokens cost less (bench_qgemm). Per 32 values and
 * token one vpmaddubsw and one vpmaddwd with the two groups' scales; exact int32 sums per
 * super-block reduced with hadds for the 4 tokens at once, then the portable float expression on
 * 4 lanes: bit-identical to the portable kernel. */
static void dot_k4(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nsb = k / TL_QK;
    const uint8_t *w = t->q + (size_t)r * k;
    const int16_t *sc = t->sc + (size_t)r * (k / 16), *mn = t->mn + (size_t)r * (k / 16);
    const float *dw = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    const int8_t *x[4];
    for (int j = 0; j < 4; j++)
        x[j] = a->qs + (size_t)(4 * g + j) * k;
    const int q6 = t->type == TL_Q6_K;
    __m128 sum = _mm_setzero_ps();
    for (int64_t i = 0; i < nsb; i++) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        const uint8_t *wb = w + TL_QK * i;
        const int16_t *sb = sc + 16 * i;
        const int8_t *x0 = x[0] + TL_QK * i, *x1 = x[1] + TL_QK * i, *x2 = x[2] + TL_QK * i, *x3 = x[3] + TL_QK * i;
        for (int c = 0; c < 8; c++) { /* 32 values: groups 2c, 2c + 1 */
            __m256i W = _mm256_loadu_si256((const __m256i *)(wb + 32 * c));
            __m256i S = _mm256_set_m128i(_mm_set1_epi16(sb[2 * c + 1]), _mm_set1_epi16(sb[2 * c]));
#define QG_STEP(acc, xp)                                                                                         \
    acc = _mm256_add_epi32(                                                                                      \
        acc, _mm256_madd_epi16(_mm256_maddubs_epi16(W, _mm256_loadu_si256((const __m256i *)((xp) + 32 * c))), S))
            QG_STEP(acc0, x0);
            QG_STEP(acc1, x1);
            QG_STEP(acc2, x2);
            QG_STEP(acc3, x3);
#undef QG_STEP
        }
        __m256i MN = _mm256_loadu_si256((const __m256i *)(mn + 16 * i));
        const int16_t *bs = a->bs + ((size_t)g * nsb + i) * 64;
        __m256i m[4];
        for (int j = 0; j < 4; j++)
            m[j] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(bs + 16 * j)), MN);
        __m256i s = _mm256_hadd_epi32(_mm256_hadd_epi32(acc0, acc1), _mm256_hadd_epi32(acc2, acc3));
        __m256i mm = _mm256_hadd_epi32(_mm256_hadd_epi32(m[0], m[1]), _mm256_hadd_epi32(m[2], m[3]));
        __m128i si = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        __m128i sm = _mm_add_epi32(_mm256_castsi256_si128(mm), _mm256_extracti128_si256(mm, 1));
        __m128 ad = _mm_loadu_ps(a->d + ((size_t)g * nsb + i) * 4), v;
        if (q6) v = _mm_mul_ps(_mm_mul_ps(ad, _mm_set1_ps(dw[i])), _mm_cvtepi32_ps(_mm_sub_epi32(si, sm)));
        else
            v = _mm_mul_ps(ad, _mm_sub_ps(_mm_mul_ps(_mm_set1_ps(dw[i]), _mm_cvtepi32_ps(si)),
                                          _mm_mul_ps(_mm_set1_ps(dmin[i]), _mm_cvtepi32_ps(sm))));
        sum = _mm_add_ps(sum, v);
    }
    _mm_storeu_ps(out, sum);
}

const tl_qgemm_kernels tl_qgemm_avx2 = {
    TL_ISA_AVX2,       0,       8,     tl_qg_quant_a32_avx2,       tl_qg_quant_k_avx2,
    tl_qg_unpack_avx2, dot_b32, dot_k, dot_k2,                     8,
    QG_AVX2_ROWS,      1,       dot_bn,
    dot_k4};
