/* matmul_avx512.c: the AVX-512 kernel table (16 floats a vector; AVX-512F + DQ): matmul
 * rows and the vector loops of attention, rmsnorm and softmax. The body is
 * simd_impl.h, shared with matmul_avx2.c; this file only defines the vector vocabulary. */
#include "simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define VW 16
/* 4 rows x 4 tokens = 16 accumulators of the 32 zmm registers (measured best among 4x4,
 * 2x8, 4x6, 3x8, 2x12: 231-251 GFLOP/s a core for T = 8..128) */
#define MM_RB 4
#define V_TB 4
typedef __m512 vf;

static inline __mmask16 tail_mask(int n) { return (__mmask16)((1u << n) - 1u); }
static inline vf v_zero(void) { return _mm512_setzero_ps(); }
static inline vf v_load(const float *p) { return _mm512_loadu_ps(p); }
static inline vf v_loadn(const float *p, int n) { return _mm512_maskz_loadu_ps(tail_mask(n), p); }
static inline void v_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline void v_storen(float *p, vf v, int n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf v_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf v_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf v_max(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf v_set1(float a) { return _mm512_set1_ps(a); }
/* 512 -> 256 bits: low half + high half */
static inline __m256 half_sum(vf a) {
    return _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
}
static inline __m128 v_hsum4(vf a, vf b, vf c, vf d) {
    __m256 ab = _mm256_hadd_ps(half_sum(a), half_sum(b)),
           cd = _mm256_hadd_ps(half_sum(c), half_sum(d));
    __m256 abcd = _mm256_hadd_ps(ab, cd);
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}
static inline float v_hsum(vf a) { return _mm512_reduce_add_ps(a); }

#define SIMD_SUFFIX avx512
#define SIMD_ISA TL_ISA_AVX512
#define SIMD_GEMM tl_gemm_avx512
#define SIMD_ROWS_MAX_T (1 << 30) /* always: matmul.c feeds it L2-sized token chunks */
#include "simd_impl.h"

#else
const tl_simd tl_simd_avx512 = {.isa = TL_ISA_PORTABLE};
#endif
