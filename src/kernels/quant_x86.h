/* quant_x86.h: small SSE helpers shared by the x86 quantized-dot kernels
 * (quant_avx2.c, quant_vnni512.c); include only from files compiled with at
 * least AVX2 enabled. */
#ifndef TL_QUANT_X86_H
#define TL_QUANT_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* the 8 six-bit scales (bytes 0..7 of sm) and mins (bytes 8..15) of a Q4_K/Q5_K block,
 * unpacked with word operations (the layout of tl_q_scale_min_k4) */
static inline void k4_unpack(const uint8_t *packed, uint8_t sm[16]) {
    uint32_t u[4];
    memcpy(u, packed, 12);
    const uint32_t m6 = 0x3f3f3f3f, m4 = 0x0f0f0f0f, m2 = 0x03030303;
    u[3] = ((u[2] >> 4) & m4) | (((u[1] >> 6) & m2) << 4); /* mins 4..7 */
    uint32_t mins_lo = u[1] & m6;                          /* mins 0..3 */
    u[1] = (u[2] & m4) | (((u[0] >> 6) & m2) << 4);        /* scales 4..7 */
    u[2] = mins_lo;
    u[0] &= m6; /* scales 0..3 */
    memcpy(sm, u, 16);
}

/* sum_j mins[j] * (bsums[2j] + bsums[2j+1]) */
static inline int k4_min_sum(const uint8_t *mins, const int16_t *bsums) {
    __m128i lo = _mm_loadu_si128((const __m128i *)bsums), hi = _mm_loadu_si128((const __m128i *)(bsums + 8));
    __m128i pairs = _mm_hadd_epi16(lo, hi); /* 8 sums of adjacent groups of 16 */
    __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)mins));
    __m128i p = _mm_madd_epi16(pairs, m);
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0x4E));
    p = _mm_add_epi32(p, _mm_shuffle_epi32(p, 0xB1));
    return _mm_cvtsi128_si32(p);
}

#endif /* TL_QUANT_X86_H */
