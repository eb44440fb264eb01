/* swiglu_avx2.c: the SwiGLU pair (see swiglu.c for the contract) with AVX2 + FMA and
 * the vectorised exp of simd_avx2.h. Element-wise: any thread split gives the same
 * result. */
#include <omp.h>

#include "kernels.h"
#include "simd_avx2.h"
#include "train_simd.h"

/* sigmoid(g) = 1 / (1 + exp(-g)) for 8 lanes */
static inline __m256 sigmoid8(__m256 g) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, tl_exp256(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

static inline void swiglu8(float *out, const float *gate, const float *up, int64_t v) {
    __m256 g = _mm256_loadu_ps(gate + 8 * v);
    __m256 silu = _mm256_mul_ps(g, sigmoid8(g));
    _mm256_storeu_ps(out + 8 * v, _mm256_mul_ps(silu, _mm256_loadu_ps(up + 8 * v)));
}

void tl_swiglu_forward_avx2(float *out, const float *gate, const float *up, int64_t N) {
    int64_t nv = N / 8;
    if (N > 65536) {
#pragma omp parallel for schedule(static)
        for (int64_t v = 0; v < nv; v++) swiglu8(out, gate, up, v);
    } else { /* no parallel region for small work: see tl_rmsnorm_forward */
        for (int64_t v = 0; v < nv; v++) swiglu8(out, gate, up, v);
    }
    if (N > 8 * nv) {
        __m256i m = tl_mask256((int)(N - 8 * nv));
        __m256 g = _mm256_maskload_ps(gate + 8 * nv, m);
        __m256 silu = _mm256_mul_ps(g, sigmoid8(g));
        _mm256_maskstore_ps(out + 8 * nv, m, _mm256_mul_ps(silu, _mm256_maskload_ps(up + 8 * nv, m)));
    }
}

/* One block of 8 (masked to m): dup += dout silu(g); dgate += dout up sig (1 + g (1 - sig)). */
static inline void swiglu_bwd8(float *dgate, float *dup, const float *dout, const float *gate,
                               const float *up, __m256i m) {
    __m256 one = _mm256_set1_ps(1.0f);
    __m256 g = _mm256_maskload_ps(gate, m), d = _mm256_maskload_ps(dout, m);
    __m256 sig = sigmoid8(g);
    if (dup)
        _mm256_maskstore_ps(dup, m, _mm256_fmadd_ps(d, _mm256_mul_ps(g, sig), _mm256_maskload_ps(dup, m)));
    if (dgate) {
        __m256 ds = _mm256_mul_ps(sig, _mm256_fmadd_ps(g, _mm256_sub_ps(one, sig), one));
        __m256 t = _mm256_mul_ps(_mm256_mul_ps(d, _mm256_maskload_ps(up, m)), ds);
        _mm256_maskstore_ps(dgate, m, _mm256_add_ps(_mm256_maskload_ps(dgate, m), t));
    }
}

void tl_swiglu_backward_avx2(float *dgate, float *dup, const float *dout, const float *gate,
                             const float *up, int64_t N) {
    int64_t nv = N / 8;
    __m256i all = _mm256_set1_epi32(-1);
#pragma omp parallel for schedule(static) if (N > 65536)
    for (int64_t v = 0; v < nv; v++)
        swiglu_bwd8(dgate ? dgate + 8 * v : NULL, dup ? dup + 8 * v : NULL, dout + 8 * v,
                    gate + 8 * v, up + 8 * v, all);
    if (N > 8 * nv) {
        int64_t o = 8 * nv;
        swiglu_bwd8(dgate ? dgate + o : NULL, dup ? dup + o : NULL, dout + o, gate + o, up + o,
                    tl_mask256((int)(N - o)));
    }
}
