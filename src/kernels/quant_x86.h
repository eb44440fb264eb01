/* quant_x86.h: small SSE helpers shared by the x86 quantized-dot kernels
 * (quant_avx2.c, quant_vnni512.c, quant_gemm_avx2.c); include only from files compiled with at
 * least AVX2 enabled. */
#ifndef TL_QUANT_X86_H
#define TL_QUANT_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* the 8 six-bit scales (words 0..7) and mins (words 8..15) of a Q4_K/Q5_K block, unpacked in
 * vector registers (the layout of tl_q_scale_min_k4; ggml's utmp arithmetic, lane-wise). Needs AVX2. */
static inline __m256i k4_scales_mins(const uint8_t *packed) {
    /* 16 bytes from the 12 of the scales (the 4 after them are the block's own qs: in bounds) */
    __m128i raw = _mm_loadu_si128((const __m128i *)packed);
    __m128i v = _mm_shuffle_epi32(raw, 0x98); /* u0, u2, u1, u2 */
    __m128i b = _mm_shuffle_epi32(raw, 0x50); /* u0, u0, u1, u1 */
    __m128i lo6 = _mm_and_si128(v, _mm_set1_epi32(0x3f3f3f3f)); /* scales 0..3 | mins 0..3 in lanes 0, 2 */
    __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srlv_epi32(v, _mm_setr_epi32(0, 0, 0, 4)), _mm_set1_epi32(0x0f0f0f0f)),
                              _mm_and_si128(_mm_srli_epi32(b, 2), _mm_set1_epi32(0x30303030)));
    return _mm256_cvtepu8_epi16(_mm_blend_epi32(lo6, hi, 0xA));
}

/* the same 8 scales (bytes 0..7 of sm) and 8 mins (bytes 8..15) unpacked with word operations
 * into memory, for code that unpacks a block once and reuses it (the batched kernel's tile) */
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

#endif /* TL_QUANT_X86_H */
