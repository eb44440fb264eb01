/* stream.c: memory-bandwidth probes, the yardstick for bandwidth-bound decode
 * (tiller bench reports the share of the machine's bandwidth a decode reaches).
 * Each thread streams its own contiguous part of the arrays. */
#include <omp.h>

#include "simd.h"

/* shapes: x [n]; returns sum(x) (so the reads cannot be optimised away) */
float tl_stream_read(const float *x, int64_t n) {
    const tl_simd *k = tl_simd_get();
    int nth = omp_in_parallel() ? 1 : omp_get_max_threads();
    float part[256] = {0};
    if (nth > 256) nth = 256;
#pragma omp parallel num_threads(nth)
    {
        int p = omp_get_num_threads(), id = omp_get_thread_num();
        int64_t b = n * id / p, e = n * (id + 1) / p;
        part[id] = k->sum(x + b, e - b);
    }
    float s = 0.0f;
    for (int i = 0; i < nth; i++) s += part[i];
    return s;
}

/* shapes: a, b, c [n]: a = b + s * c (STREAM's triad) */
void tl_stream_triad(float *restrict a, const float *restrict b, const float *restrict c, float s,
                     int64_t n) {
    int nth = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel num_threads(nth)
    {
        int p = omp_get_num_threads(), id = omp_get_thread_num();
        int64_t lo = n * id / p, hi = n * (id + 1) / p;
        for (int64_t i = lo; i < hi; i++) a[i] = b[i] + s * c[i];
    }
}
