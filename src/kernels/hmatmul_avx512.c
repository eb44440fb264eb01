/* hmatmul_avx512.c: the f16/bf16 row kernel with AVX-512F, 16 floats a vector (hmatmul_impl.h). */
#include <immintrin.h>

#define VW 16
#define VF __m512
#define VZERO() _mm512_setzero_ps()
#define VLOADX(p) _mm512_loadu_ps(p)
#define VLOADH(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define VLOADB(p)                                                                                            \
    _mm512_castsi512_ps(                                                                                     \
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VHSUM(v) _mm512_reduce_add_ps(v)
#define HROWS hrows_avx512

#include "hmatmul_impl.h"

const tl_hrows_fn tl_hrows_avx512 = hrows_avx512;
