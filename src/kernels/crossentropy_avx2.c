/* crossentropy_avx2.c: the cross-entropy pair (see crossentropy.c for the contract)
 * with AVX2 + FMA: a vectorised exp, sums of exponentials in double lanes. At a
 * 32000-word vocabulary this is 65M exponentials per pass for a 8 x 256 batch. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "simd_avx2.h"
#include "train_simd.h"

/* log-sum-exp of x[V] */
static float row_lse(const float *x, int V) {
    __m256 vmx = _mm256_set1_ps(-INFINITY), ninf = vmx;
    int j = 0;
    for (; j + 8 <= V; j += 8) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(x + j));
    if (j < V) {
        __m256i m = tl_mask256(V - j);
        vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + j, m),
                                                  _mm256_castsi256_ps(m)));
    }
    float mx = tl_hmax256(vmx);
    __m256 vm = _mm256_set1_ps(mx);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (j = 0; j + 8 <= V; j += 8) {
        __m256 e = tl_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vm));
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (j < V) {
        __m256i m = tl_mask256(V - j);
        __m256 e = _mm256_and_ps(tl_exp256(_mm256_sub_ps(_mm256_maskload_ps(x + j, m), vm)),
                                 _mm256_castsi256_ps(m));
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double s[4];
    _mm256_storeu_pd(s, _mm256_add_pd(s0, s1));
    return mx + (float)log((s[0] + s[1]) + (s[2] + s[3]));
}

float tl_crossentropy_forward_avx2(float *losses, float *lse, const float *logits,
                                   const int32_t *targets, int N, int V) {
#pragma omp parallel for schedule(static) if ((int64_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (int64_t)n * V;
        lse[n] = row_lse(x, V);
        if (losses) losses[n] = targets[n] >= 0 ? lse[n] - x[targets[n]] : 0.0f;
    }
    double total = 0;
    int counted = 0;
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        total += (double)(lse[n] - logits[(int64_t)n * V + targets[n]]);
        counted++;
    }
    return counted ? (float)(total / counted) : 0.0f;
}

void tl_crossentropy_backward_avx2(float *dlogits, const float *logits, const float *lse,
                                   const int32_t *targets, float dloss, int N, int V) {
    int counted = 0;
    for (int n = 0; n < N; n++) counted += targets[n] >= 0;
    float dl = counted ? dloss / (float)counted : 0.0f;
#pragma omp parallel for schedule(static) if ((int64_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        const float *x = logits + (int64_t)n * V;
        float *dx = dlogits + (int64_t)n * V;
        if (targets[n] < 0) {
            memset(dx, 0, (size_t)V * sizeof(float));
            continue;
        }
        __m256 vl = _mm256_set1_ps(lse[n]), vd = _mm256_set1_ps(dl);
        int j = 0;
        for (; j + 8 <= V; j += 8)
            _mm256_storeu_ps(dx + j, _mm256_mul_ps(vd, tl_exp256(_mm256_sub_ps(_mm256_loadu_ps(x + j), vl))));
        if (j < V) {
            __m256i m = tl_mask256(V - j);
            __m256 e = tl_exp256(_mm256_sub_ps(_mm256_maskload_ps(x + j, m), vl));
            _mm256_maskstore_ps(dx + j, m, _mm256_mul_ps(vd, e));
        }
        dx[targets[n]] -= dl;
    }
}
