/* quant_gemm_vnni512.c: AVX-512 VNNI kernels of the batched quantized matmul (quant_gemm.h),
 * 64 values per instruction; unpacking is the AVX2 table's.
 *   - 32-value types: activations packed as unsigned a + 128, so one vpdpbusd per two blocks and
 *     token gives sum (a + 128) w, started from -128 sum w (one vpdpbusd per row, shared by the 4
 *     tokens): the exact integer lanes; float lanes accumulated with FMA as the per-row kernels do.
 *   - K-quants: vpmaddubsw (unsigned values <= 63 x signed activations) and vpdpwssd with the
 *     16-value groups' scales; the 4 tokens' int32 lanes and their offset terms (vpmaddwd of the
 *     group sums with the mins / 32 x scales) are reduced together by 128-bit shuffles, then the
 *     portable float expression on 4 lanes: bit-identical to the portable kernel.
 * Compiled with -mavx512vnni (CMakeLists.txt); chosen only when the CPU has avx512vnni. */
#include <immintrin.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant_gemm.h"

void tl_qg_unpack_avx2(const uint8_t *row, tl_qg_tile *t, int r);

static inline float hsum256_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void dot_b32(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float out[4]) {
    const int64_t k = t->k, nb = k / 32;
    const int8_t *w = (const int8_t *)t->q + (size_t)r * k;
    const float *dw = t->d + (size_t)r * nb;
    const int8_t *x[4];
    const float *da[4];
    for (int j = 0; j < 4; j++) {
        x[j] = a->qs + (size_t)(4 * g + j) * k;
        da[j] = a->d + (size_t)(4 * g + j) * nb;
    }
    const __m512i c128 = _mm512_set1_epi8((char)0x80);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    int64_t i = 0;
    for (; i + 1 < nb; i += 2) {
        __m512i W = _mm512_loadu_si512((const void *)(w + 32 * i));
        __m512i nc = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), c128, W));
        __m512 dwv = _mm512_mask_mov_ps(_mm512_set1_ps(dw[i]), 0xFF00, _mm512_set1_ps(dw[i + 1]));
#define QG_STEP(acc, j)                                                                                          \
    do {                                                                                                         \
        __m512i X = _mm512_dpbusd_epi32(nc, _mm512_loadu_si512((const void *)(x[j] + 32 * i)), W);               \
        __m512 dav = _mm512_mask_mov_ps(_mm512_set1_ps(da[j][i]), 0xFF00, _mm512_set1_ps(da[j][i + 1]));         \
        acc = _mm512_fmadd_ps(_mm512_mul_ps(dwv, dav), _mm512_cvtepi32_ps(X), acc);                              \
    } while (0)
        QG_STEP(acc0, 0);
        QG_STEP(acc1, 1);
        QG_STEP(acc2, 2);
        QG_STEP(acc3, 3);
#undef QG_STEP
    }
    __m512 acc[4] = {acc0, acc1, acc2, acc3};
    __m256 tail[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    if (i < nb) { /* an odd last block */
        __m256i W = _mm256_loadu_si256((const __m256i *)(w + 32 * i));
        __m256i nc = _mm256_sub_epi32(_mm256_setzero_si256(),
                                      _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), W));
        for (int j = 0; j < 4; j++) {
            __m256i X = _mm256_dpbusd_epi32(nc, _mm256_loadu_si256((const __m256i *)(x[j] + 32 * i)), W);
            tail[j] = _mm256_mul_ps(_mm256_set1_ps(dw[i] * da[j][i]), _mm256_cvtepi32_ps(X));
        }
    }
    for (int j = 0; j < 4; j++)
        out[j] = _mm512_reduce_add_ps(acc[j]) + hsum256_ps(tail[j]);
}

static void dot_k(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float out[4]) {
    const int64_t k = t->k, nsb = k / TL_QK;
    const uint8_t *w = t->q + (size_t)r * k;
    const int16_t *sc = t->sc + (size_t)r * (k / 16), *mn = t->mn + (size_t)r * (k / 16);
    const float *dw = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    const int8_t *x[4];
    for (int j = 0; j < 4; j++)
        x[j] = a->qs + (size_t)(4 * g + j) * k;
    const int q6 = t->type == TL_Q6_K;
    /* word lane -> group of 16 within a 64-value chunk: 8 lanes (16 values) per group */
    const __m512i idx = _mm512_set_epi16(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0,
                                         0, 0, 0, 0, 0, 0);
    const __m512i sel_s = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
    const __m512i sel_m = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 14, 10, 6, 2);
    __m128 sum = _mm_setzero_ps();
    for (int64_t i = 0; i < nsb; i++) {
        /* the 4 tokens spelled out: an array of accumulators is kept in memory by the compiler */
        __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        const uint8_t *wb = w + TL_QK * i;
        const int8_t *x0 = x[0] + TL_QK * i, *x1 = x[1] + TL_QK * i, *x2 = x[2] + TL_QK * i, *x3 = x[3] + TL_QK * i;
        const __m512i SC = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(sc + 16 * i)));
        for (int c = 0; c < 4; c++) {
            __m512i W = _mm512_loadu_si512((const void *)(wb + 64 * c));
            __m512i S = _mm512_permutexvar_epi16(_mm512_add_epi16(idx, _mm512_set1_epi16((short)(4 * c))), SC);
#define QG_STEP(acc, xp) \
    acc = _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(W, _mm512_loadu_si512((const void *)((xp) + 64 * c))), S)
            QG_STEP(acc0, x0);
            QG_STEP(acc1, x1);
            QG_STEP(acc2, x2);
            QG_STEP(acc3, x3);
#undef QG_STEP
        }
        /* offset terms: [t0 (8 lanes) | t1 (8)] and [t2 | t3] -> 4 lanes per token */
        const __m512i MN = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(mn + 16 * i)));
        const int16_t *bs = a->bs + ((size_t)g * nsb + i) * 64;
        __m512i M01 = _mm512_madd_epi16(_mm512_loadu_si512((const void *)bs), MN);
        __m512i M23 = _mm512_madd_epi16(_mm512_loadu_si512((const void *)(bs + 32)), MN);
        __m512i M = _mm512_add_epi32(_mm512_shuffle_i32x4(M01, M23, _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_i32x4(M01, M23, _MM_SHUFFLE(3, 1, 3, 1)));
        /* the 4 tokens' 16 lanes -> 4 lanes each, token j in 128-bit granule j */
        __m512i A = _mm512_add_epi32(_mm512_shuffle_i32x4(acc0, acc1, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i32x4(acc0, acc1, _MM_SHUFFLE(3, 2, 3, 2)));
        __m512i B = _mm512_add_epi32(_mm512_shuffle_i32x4(acc2, acc3, _MM_SHUFFLE(1, 0, 1, 0)),
                                     _mm512_shuffle_i32x4(acc2, acc3, _MM_SHUFFLE(3, 2, 3, 2)));
        __m512i S = _mm512_add_epi32(_mm512_shuffle_i32x4(A, B, _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_i32x4(A, B, _MM_SHUFFLE(3, 1, 3, 1)));
        /* per granule [S0+S2, S1+S3, M0+M2, M1+M3], then pairs: lane 0 = sum S, lane 2 = sum M */
        __m512i Z = _mm512_add_epi32(_mm512_unpacklo_epi64(S, M), _mm512_unpackhi_epi64(S, M));
        Z = _mm512_add_epi32(Z, _mm512_shuffle_epi32(Z, _MM_PERM_CDAB));
        __m128i si = _mm512_castsi512_si128(_mm512_permutexvar_epi32(sel_s, Z));
        __m128i sm = _mm512_castsi512_si128(_mm512_permutexvar_epi32(sel_m, Z));
        __m128 ad = _mm_loadu_ps(a->d + ((size_t)g * nsb + i) * 4), v;
        if (q6) v = _mm_mul_ps(_mm_mul_ps(ad, _mm_set1_ps(dw[i])), _mm_cvtepi32_ps(_mm_sub_epi32(si, sm)));
        else
            v = _mm_mul_ps(ad, _mm_sub_ps(_mm_mul_ps(_mm_set1_ps(dw[i]), _mm_cvtepi32_ps(si)),
                                          _mm_mul_ps(_mm_set1_ps(dmin[i]), _mm_cvtepi32_ps(sm))));
        sum = _mm_add_ps(sum, v);
    }
    _mm_storeu_ps(out, sum);
}

const tl_qgemm_kernels tl_qgemm_vnni512 = {TL_ISA_AVX512, 1, tl_qg_unpack_avx2, dot_b32, dot_k};
