/* stream_avx512.c: a one-stream AVX-512 read loop for the bandwidth probe (src/bench/bench_paired.c):
 * 64 floats (four cache lines) an iteration into four accumulators, so the adds never wait on each
 * other and the loads alone set the pace. The probe compares it with the table's four-stream sum and
 * glibc's memchr and keeps the fastest. */
#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* shapes: x [n]; returns sum(x) (so the reads cannot be optimised away) */
float tl_stream_sum1_avx512(const float *x, int64_t n) {
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a = _mm512_add_ps(a, _mm512_loadu_ps(x + i));
        b = _mm512_add_ps(b, _mm512_loadu_ps(x + i + 16));
        c = _mm512_add_ps(c, _mm512_loadu_ps(x + i + 32));
        d = _mm512_add_ps(d, _mm512_loadu_ps(x + i + 48));
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b), _mm512_add_ps(c, d)));
    for (; i < n; i++) s += x[i];
    return s;
}
#endif
