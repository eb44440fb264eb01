/* quant_avx2.c: AVX2 dot products of quantized weight rows with int8 activations.
 * Unsigned-by-signed byte products (vpmaddubsw; no pair can saturate: |w| <= 128 and
 * |a| <= 127 for Q8_0/Q4_0, w <= 63 for the K-quants) summed to int32 (vpmaddwd).
 * The K-quant kernels compute exactly the integer sums of the portable code per super-block
 * and accumulate them in float vector lanes (one FMA per super-block), as Q8_0 and Q4_0 do in
 * ggml's order: within quant.h's tolerance of the portable code, not bit-identical.
 * Q5_0 and Q5_1 (llama.cpp's fallback for rows not a multiple of 256) expand their 5th bits
 * from the 32-bit mask with a byte shuffle.
 * Every kernel is written once for R rows (R <= 4, a constant at each call site): the one-row
 * dot products of the table are R = 1, and decode (T = 1, avx2_rows) takes 4 rows a quarter of
 * the range apart per step, as quant_vnni512.c does (Q4_K/Q5_K: 2 rows half the range apart). Each row's arithmetic is the same in both,
 * in the same order, so a row's result is the same bits whichever way it is computed. */
#include <immintrin.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant.h"
#include "quant_x86.h"

#define AI __attribute__((always_inline))

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

/* Row r of a multi-row call: block i of the row starting r * row_bytes after w. Decode streams
 * the weights from memory once; each row is also prefetched `pf` bytes ahead of the block read
 * (0: none). Blocks of the 32-value types (18-34 bytes) are shorter than a cache line, so one
 * prefetch per block touches every line; a K-quant super-block (144-210 bytes) takes one per
 * line and its last byte. */
#define ROW_BLOCK(type, w, row_bytes, r, i) ((const type *)((w) + (size_t)(r) * (row_bytes)) + (i))

static inline AI void prefetch_small(const void *x, size_t pf) {
    if (pf) _mm_prefetch((const char *)x + pf, _MM_HINT_T0);
}

static inline AI void prefetch_block(const void *x, size_t bytes, size_t pf) {
    if (!pf) return;
    const char *p = (const char *)x + pf;
    for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
    _mm_prefetch(p + bytes - 1, _MM_HINT_T0);
}

/* Q8_0, R rows sharing the activation loads: acc += d * a.d * (w . a) per block of 32 */
static inline AI void q8_0_rows(int n, const uint8_t *w, size_t row_bytes, const tl_block_a32 *a, float *out,
                                size_t ostride, const int R, size_t pf) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q8_0 *x = ROW_BLOCK(tl_block_q8_0, w, row_bytes, r, i);
            prefetch_small(x, pf);
            __m256i wq = _mm256_loadu_si256((const __m256i *)x->qs);
            __m256 d = _mm256_set1_ps(h2f(x->d) * a[i].d);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(wq, aq)), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r * ostride] = hsum_ps(acc[r]);
}

/* Q4_0: the nibbles minus 8 as signed bytes, then as Q8_0 */
static inline AI void q4_0_rows(int n, const uint8_t *w, size_t row_bytes, const tl_block_a32 *a, float *out,
                                size_t ostride, const int R, size_t pf) {
    const __m256i lo4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q4_0 *x = ROW_BLOCK(tl_block_q4_0, w, row_bytes, r, i);
            prefetch_small(x, pf);
            __m128i b = _mm_loadu_si128((const __m128i *)x->qs);
            __m256i q = _mm256_set_m128i(_mm_srli_epi16(b, 4), b); /* low nibbles = values 0..15, high = 16..31 */
            q = _mm256_sub_epi8(_mm256_and_si256(q, lo4), eight);
            __m256 d = _mm256_set1_ps(h2f(x->d) * a[i].d);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(q, aq)), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r * ostride] = hsum_ps(acc[r]);
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

static inline AI void q5_0_rows(int n, const uint8_t *w, size_t row_bytes, const tl_block_a32 *a, float *out,
                                size_t ostride, const int R, size_t pf) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int i = 0; i < n / 32; i++) {
        __m256i aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q5_0 *x = ROW_BLOCK(tl_block_q5_0, w, row_bytes, r, i);
            prefetch_small(x, pf);
            __m256i q = _mm256_sub_epi8(q5_values(x->qh, x->qs), _mm256_set1_epi8(16));
            __m256 d = _mm256_set1_ps(h2f(x->d) * a[i].d);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_s8(q, aq)), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r * ostride] = hsum_ps(acc[r]);
}

/* Q5_1: unsigned values times activations, plus the block's min m times the activation sum */
static inline AI void q5_1_rows(int n, const uint8_t *w, size_t row_bytes, const tl_block_a32 *a, float *out,
                                size_t ostride, const int R, size_t pf) {
    __m256 acc[4];
    float offs[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        offs[r] = 0;
    }
    for (int i = 0; i < n / 32; i++) {
        __m256i aq = _mm256_loadu_si256((const __m256i *)a[i].qs);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q5_1 *x = ROW_BLOCK(tl_block_q5_1, w, row_bytes, r, i);
            prefetch_small(x, pf);
            __m256i p = _mm256_maddubs_epi16(q5_values(x->qh, x->qs), aq);
            __m256 d = _mm256_set1_ps(h2f(x->d) * a[i].d);
            acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1))), acc[r]);
            offs[r] += h2f(x->m) * (a[i].d * (float)a[i].sum);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r * ostride] = hsum_ps(acc[r]) + offs[r];
}

/* vpshufb control: word k of each 128-bit lane in every word of it */
static inline __m256i word_ctrl(int k) { return _mm256_set1_epi16((short)(2 * k | (2 * k + 1) << 8)); }

/* The K-quant kernels: per super-block, integer dot products (vpmaddubsw, unsigned weights x
 * signed activations; no pair saturates) weighted by the group scales in vpmaddwd, summed in
 * int32 lanes, converted to float once (exact: |lane| < 2^24) and accumulated with one FMA by
 * d * a.d; Q4_K/Q5_K's mins term likewise from the activations' group sums. Float sums in
 * vector lanes, so not bit-identical to the portable code (see quant.h for the tolerance).
 * With 16 vector registers the R rows share only the loop over super-blocks: each row's block
 * reads its activations again (from L1), which keeps the accumulators in registers. */

/* the common tail of Q4_K and Q5_K: acc += d * a.d * sumi, accm += dmin * a.d * (mins . pair sums);
 * bs: the activations' 8 pair sums of bsums (the same for every row), ad: a.d in every lane.
 * d and dmin (adjacent halves) are converted together; each product is the same rounding as
 * a.d * h2f(d) alone. */
static inline AI void k4_accumulate(__m256 *acc, __m128 *accm, __m256i sumi, __m128i mins, __m128i bs, __m128 ad,
                                    const uint16_t *dd) {
    uint32_t both;
    memcpy(&both, dd, 4);
    __m128 f = _mm_mul_ps(ad, _mm_cvtph_ps(_mm_cvtsi32_si128((int)both))); /* a.d * d, a.d * dmin */
    __m128i mprod = _mm_madd_epi16(mins, bs);
    *acc = _mm256_fmadd_ps(_mm256_broadcastss_ps(f), _mm256_cvtepi32_ps(sumi), *acc);
    *accm = _mm_fmadd_ps(_mm_permute_ps(f, 0x55), _mm_cvtepi32_ps(mprod), *accm);
}

static inline float k4_result(__m256 acc, __m128 accm) {
    __m128 m = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
    m = _mm_add_ss(m, _mm_movehdup_ps(m));
    return hsum_ps(acc) - _mm_cvtss_f32(m);
}

/* the integer sum of one Q4_K super-block with activations aq (the scales in each lane of sc) */
static inline AI __m256i q4_K_sumi(const tl_block_q4_K *x, const int8_t *aq, __m256i sc) {
    const __m256i lo4 = _mm256_set1_epi8(0xF);
    __m256i sumi = _mm256_setzero_si256();
    /* unrolled, so that the scale shuffle controls are constants, not built each pass */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++, aq += 64) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        __m256i pl = _mm256_maddubs_epi16(_mm256_and_si256(q, lo4), _mm256_loadu_si256((const __m256i *)aq));
        __m256i ph = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4),
                                          _mm256_loadu_si256((const __m256i *)(aq + 32)));
        pl = _mm256_madd_epi16(pl, _mm256_shuffle_epi8(sc, word_ctrl(2 * j)));
        ph = _mm256_madd_epi16(ph, _mm256_shuffle_epi8(sc, word_ctrl(2 * j + 1)));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
    }
    return sumi;
}

/* the integer sum of one Q5_K super-block */
static inline AI __m256i q5_K_sumi(const tl_block_q5_K *x, const int8_t *aq, __m256i sc) {
    const __m256i lo4 = _mm256_set1_epi8(0xF), b4 = _mm256_set1_epi8(0x10);
    __m256i sumi = _mm256_setzero_si256(), qh = _mm256_loadu_si256((const __m256i *)x->qh);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++, aq += 64) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * j));
        /* bit 2j of qh is the 5th bit of the low nibbles, bit 2j+1 of the high ones */
        __m256i h0 = _mm256_and_si256(_mm256_slli_epi16(qh, 4), b4),
                h1 = _mm256_and_si256(_mm256_slli_epi16(qh, 3), b4);
        qh = _mm256_srli_epi16(qh, 2);
        __m256i q0 = _mm256_or_si256(_mm256_and_si256(q, lo4), h0);
        __m256i q1 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), lo4), h1);
        __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(q0, _mm256_loadu_si256((const __m256i *)aq)),
                                       _mm256_shuffle_epi8(sc, word_ctrl(2 * j)));
        __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(q1, _mm256_loadu_si256((const __m256i *)(aq + 32))),
                                       _mm256_shuffle_epi8(sc, word_ctrl(2 * j + 1)));
        sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(p0, p1));
    }
    return sumi;
}

/* Q4_K (q5 = 0) or Q5_K (q5 = 1), R rows */
static inline AI void k4_rows(int n, const uint8_t *w, size_t row_bytes, const tl_block_q8_K *a, float *out,
                              size_t ostride, const int R, size_t pf, const int q5) {
    __m256 acc[4];
    __m128 accm[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        acc[r] = _mm256_setzero_ps();
        accm[r] = _mm_setzero_ps();
    }
    for (int i = 0; i < n / TL_QK; i++) {
        /* the activations' part, once for the R rows */
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)a[i].bsums),
                                          _mm_loadu_si128((const __m128i *)(a[i].bsums + 8)));
        const __m128 ad = _mm_set1_ps(a[i].d);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            /* the scales and mins unpacked with scalar operations (k4_unpack): the vector ports
             * are this kernel's bottleneck, the integer ones idle; then the 8 scales as words in
             * each 128-bit lane and the 8 mins as words */
            const uint8_t *packed = q5 ? ROW_BLOCK(tl_block_q5_K, w, row_bytes, r, i)->scales
                                       : ROW_BLOCK(tl_block_q4_K, w, row_bytes, r, i)->scales;
            uint8_t sm8[16];
            k4_unpack(packed, sm8);
            __m256i sc = _mm256_cvtepu8_epi16(_mm_castpd_si128(_mm_loaddup_pd((const double *)sm8)));
            __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(sm8 + 8)));
            if (q5) {
                const tl_block_q5_K *x = ROW_BLOCK(tl_block_q5_K, w, row_bytes, r, i);
                prefetch_block(x, sizeof *x, pf);
                k4_accumulate(&acc[r], &accm[r], q5_K_sumi(x, a[i].qs, sc), mins, bs, ad, &x->d);
            } else {
                const tl_block_q4_K *x = ROW_BLOCK(tl_block_q4_K, w, row_bytes, r, i);
                prefetch_block(x, sizeof *x, pf);
                k4_accumulate(&acc[r], &accm[r], q4_K_sumi(x, a[i].qs, sc), mins, bs, ad, &x->d);
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r * ostride] = k4_result(acc[r], accm[r]);
}

/* sum over 32 unsigned q . a with scale s0 on the first 16 and s1 on the last 16 */
static inline __m256i scaled2_u8(__m256i q, const int8_t *a, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)a)), s);
}

/* the integer sum of one Q6_K super-block, the -32 offset included */
static inline AI __m256i q6_K_sumi(const tl_block_q6_K *x, const tl_block_q8_K *a) {
    const __m256i lo4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
    /* word k of the low 128-bit lane, word k + 1 of the high lane */
    const __m256i c01 = _mm256_set_m128i(_mm_set1_epi16(0x0302), _mm_set1_epi16(0x0100)),
                  c23 = _mm256_set_m128i(_mm_set1_epi16(0x0706), _mm_set1_epi16(0x0504)),
                  c45 = _mm256_set_m128i(_mm_set1_epi16(0x0B0A), _mm_set1_epi16(0x0908)),
                  c67 = _mm256_set_m128i(_mm_set1_epi16(0x0F0E), _mm_set1_epi16(0x0D0C));
    /* the -32 offset: 32 * sum_k scale[k] * (activation sum of group k of 16) */
    __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));
    __m256i sumi =
        _mm256_sub_epi32(_mm256_setzero_si256(),
                         _mm256_slli_epi32(_mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)a->bsums)), 5));
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = x->ql + 64 * h, *qhp = x->qh + 32 * h;
        const int8_t *aq = a->qs + 128 * h;
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
    return sumi;
}

static inline AI void q6_K_rows(int n, const uint8_t *w, size_t row_bytes, const tl_block_q8_K *a, float *out,
                                size_t ostride, const int R, size_t pf) {
    __m256 acc[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
    for (int i = 0; i < n / TL_QK; i++) {
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            const tl_block_q6_K *x = ROW_BLOCK(tl_block_q6_K, w, row_bytes, r, i);
            prefetch_block(x, sizeof *x, pf);
            acc[r] =
                _mm256_fmadd_ps(_mm256_set1_ps(a[i].d * h2f(x->d)), _mm256_cvtepi32_ps(q6_K_sumi(x, &a[i])), acc[r]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) out[r * ostride] = hsum_ps(acc[r]);
}

/* the one-row dot products of the table: R = 1, no prefetch */
static float avx2_q8_0(int n, const void *w, const tl_block_a32 *a) {
    float out;
    q8_0_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}
static float avx2_q4_0(int n, const void *w, const tl_block_a32 *a) {
    float out;
    q4_0_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}
static float avx2_q5_0(int n, const void *w, const tl_block_a32 *a) {
    float out;
    q5_0_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}
static float avx2_q5_1(int n, const void *w, const tl_block_a32 *a) {
    float out;
    q5_1_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}
static float avx2_q4_K(int n, const void *w, const tl_block_q8_K *a) {
    float out;
    k4_rows(n, w, 0, a, &out, 1, 1, 0, 0);
    return out;
}
static float avx2_q5_K(int n, const void *w, const tl_block_q8_K *a) {
    float out;
    k4_rows(n, w, 0, a, &out, 1, 1, 0, 1);
    return out;
}
static float avx2_q6_K(int n, const void *w, const tl_block_q8_K *a) {
    float out;
    q6_K_rows(n, w, 0, a, &out, 1, 1, 0);
    return out;
}

/* R rows of any type, `ostride` apart in out */
static inline AI void rows_of(uint32_t type, int n, const uint8_t *w, size_t row_bytes, const void *a, float *out,
                              size_t ostride, const int R, size_t pf) {
    switch (type) {
        case TL_Q8_0:
            q8_0_rows(n, w, row_bytes, a, out, ostride, R, pf);
            break;
        case TL_Q4_0:
            q4_0_rows(n, w, row_bytes, a, out, ostride, R, pf);
            break;
        case TL_Q5_0:
            q5_0_rows(n, w, row_bytes, a, out, ostride, R, pf);
            break;
        case TL_Q5_1:
            q5_1_rows(n, w, row_bytes, a, out, ostride, R, pf);
            break;
        case TL_Q4_K:
            k4_rows(n, w, row_bytes, a, out, ostride, R, pf, 0);
            break;
        case TL_Q5_K:
            k4_rows(n, w, row_bytes, a, out, ostride, R, pf, 1);
            break;
        default:
            q6_K_rows(n, w, row_bytes, a, out, ostride, R, pf);
            break;
    }
}

/* T = 1: rows [0, nrows), R at a time a range/R apart (for R = 4: j, q + j, 2q + j, 3q + j):
 * R long sequential streams that the hardware prefetcher follows, where R adjacent rows are R
 * short ones (see v_rows in quant_vnni512.c); each stream also prefetched A2_PF_BYTES ahead.
 * The nrows % R rows left over one at a time. R is A2_ROWS (4), except K4_ROWS (2) for Q4_K and
 * Q5_K, whose kernels run short of the 16 vector registers with 4 rows (measured: 2 rows
 * 12 % fewer CPU seconds per block than 4 with the other changes of that commit, Zen 4, AVX2). */
#ifndef A2_ROWS
#define A2_ROWS 4
#endif
#ifndef K4_ROWS
#define K4_ROWS 2
#endif
#ifndef A2_PF_BYTES
#define A2_PF_BYTES 1024
#endif
static inline AI void rows_spread(uint32_t type, int n, const uint8_t *w, size_t row_bytes, int64_t nrows,
                                  const void *a, float *out, const int R) {
    const int64_t q = nrows / R;
    const size_t stride = (size_t)q * row_bytes, pf = A2_PF_BYTES;
    for (int64_t j = 0; j < q; j++) rows_of(type, n, w + (size_t)j * row_bytes, stride, a, out + j, (size_t)q, R, pf);
    for (int64_t r = R * q; r < nrows; r++) rows_of(type, n, w + (size_t)r * row_bytes, 0, a, out + r, 1, 1, pf);
}

static int avx2_rows(uint32_t type, int n, const uint8_t *w, size_t row_bytes, int64_t nrows, const void *a,
                     float *out) {
    if (type != TL_Q8_0 && type != TL_Q4_0 && type != TL_Q5_0 && type != TL_Q5_1 && type != TL_Q4_K &&
        type != TL_Q5_K && type != TL_Q6_K)
        return 0;
    if (type == TL_Q4_K || type == TL_Q5_K)
        rows_spread(type, n, w, row_bytes, nrows, a, out, K4_ROWS);
    else
        rows_spread(type, n, w, row_bytes, nrows, a, out, A2_ROWS);
    return 1;
}

/* tl_quantize_q8_K bit for bit on 8 lanes (quant_gemm_avx2.c's block quantizer; test_quant
 * compares every table's quantizer with the portable one) */
void tl_qg_quant_k_avx2(const float *x, tl_block_q8_K *y);
static void avx2_quantize_q8_K(const float *x, tl_block_q8_K *y, int64_t n) {
    for (int64_t i = 0; i < n / TL_QK; i++) tl_qg_quant_k_avx2(x + TL_QK * i, y + i);
}

const tl_qdot tl_qdot_avx2 = {TL_ISA_AVX2, avx2_q8_0, avx2_q4_0, avx2_q5_0, avx2_q5_1,
                              avx2_q4_K,   avx2_q5_K, avx2_q6_K, avx2_rows, avx2_quantize_q8_K};
