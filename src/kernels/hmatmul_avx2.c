/* hmatmul_avx2.c: the f16/bf16 row kernel with AVX2 + FMA + F16C, 8 floats a vector (hmatmul_impl.h). */
#include <immintrin.h>

#define VW 8
#define VF __m256
#define VZERO() _mm256_setzero_ps()
#define VLOADX(p) _mm256_loadu_ps(p)
#define VLOADH(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define VLOADB(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define HROWS hrows_avx2

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define VHSUM(v) hsum256(v)

#include "hmatmul_impl.h"

const tl_hrows_fn tl_hrows_avx2 = hrows_avx2;
