/* matmul_avx2.c: the AVX2 + FMA kernel table (8 floats a vector): matmul rows and the
 * vector loops of attention, rmsnorm and softmax. The body is simd_impl.h, shared
 * with matmul_avx512.c; this file only defines the vector vocabulary. */
#include "simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define VW 8
/* 4 rows x 3 tokens = 12 accumulators of the 16 ymm registers (measured, one core, 768 x 2048:
 * 132-139 GFLOP/s for T = 32..256, against 97-123 for 4x2, 2x4, 3x4, 3x3 and 133-137 for
 * OpenBLAS's Haswell kernel) */
#define MM_RB 4
#define V_TB 3
typedef __m256 vf;

/* lanes [0, n) set, for n in [0, 8] */
static inline __m256i tail_mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
static inline vf v_zero(void) { return _mm256_setzero_ps(); }
static inline vf v_load(const float *p) { return _mm256_loadu_ps(p); }
static inline vf v_loadn(const float *p, int n) { return _mm256_maskload_ps(p, tail_mask(n)); }
static inline void v_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline void v_storen(float *p, vf v, int n) { _mm256_maskstore_ps(p, tail_mask(n), v); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf v_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf v_max(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf v_set1(float a) { return _mm256_set1_ps(a); }
static inline __m128 v_hsum4(vf a, vf b, vf c, vf d) {
    vf ab = _mm256_hadd_ps(a, b), cd = _mm256_hadd_ps(c, d);
    vf abcd = _mm256_hadd_ps(ab, cd); /* per 128-bit half: {a, b, c, d} partial sums */
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}
static inline float v_hsum(vf a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

#define SIMD_SUFFIX avx2
#define SIMD_ISA TL_ISA_AVX2
#define SIMD_ROWS_MAX_T (1 << 30) /* always: with 4x3 it matches or beats OpenBLAS up to T = 256   \
                                   */
#include "simd_impl.h"

#else
/* Not x86: the table exists so the dispatcher links, but is never selected. */
const tl_simd tl_simd_avx2 = {.isa = TL_ISA_PORTABLE};
#endif
