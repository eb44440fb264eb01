/* hmatmul.c: the portable f16/bf16 kernel, the ISA choice and the threading (hmatmul.h). The
 * portable kernel widens a chunk of a weight row to f32 once and multiplies it with every token. */
#include <omp.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "base/base.h"
#include "hmatmul.h"
#include "simd.h"

enum { CHUNK = 256 };

static void rows_portable(float *out, int O, const float *x, int T, const tl_qmat *W, int64_t o0, int64_t o1) {
    const int64_t I = W->cols;
    float w[CHUNK];
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *row = W->data + (size_t)o * W->row_bytes;
        for (int t = 0; t < T; t++) out[(int64_t)t * O + o] = 0.0f;
        for (int64_t i0 = 0; i0 < I; i0 += CHUNK) {
            int64_t n = I - i0 < CHUNK ? I - i0 : CHUNK;
            tl_dequantize_row(W->type, row + (size_t)i0 * 2, w, n);
            for (int t = 0; t < T; t++) {
                const float *xt = x + (int64_t)t * I + i0;
                float s = 0.0f;
                for (int64_t i = 0; i < n; i++) s += w[i] * xt[i];
                out[(int64_t)t * O + o] += s;
            }
        }
    }
}

const tl_hrows_fn tl_hrows_portable = rows_portable;

#if defined(__x86_64__) || defined(__i386__)
/* CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c") */
static int cpu_has_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C);
}
#endif

tl_hrows_fn tl_hrows_for(int isa) {
    if (isa > (int)tl_cpu_isa()) return NULL;
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= TL_ISA_AVX512) return tl_hrows_avx512;
    if (isa >= TL_ISA_AVX2) return cpu_has_f16c() ? tl_hrows_avx2 : NULL;
#endif
    return tl_hrows_portable;
}

static tl_hrows_fn hrows_get(void) {
    tl_hrows_fn k = tl_hrows_for((int)tl_cpu_isa());
    return k ? k : tl_hrows_portable;
}

/* rows of all n matrices split evenly over the threads */
static void multi(tl_hrows_fn k, int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T) {
    int64_t total = 0;
    for (int i = 0; i < n; i++) total += Ws[i]->rows;
    int nt = tl_kernel_threads(total * Ws[0]->cols * T);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int parts = omp_get_num_threads(), me = omp_get_thread_num();
        int64_t b = total * me / parts, e = total * (me + 1) / parts, base = 0;
        for (int i = 0; i < n; i++) {
            int64_t r = Ws[i]->rows, lo = b - base, hi = e - base;
            if (lo < 0) lo = 0;
            if (hi > r) hi = r;
            if (lo < hi) k(outs[i], (int)r, x, T, Ws[i], lo, hi);
            base += r;
        }
    }
}

void tl_hmatmul_with(tl_hrows_fn k, float *out, const float *x, int T, const tl_qmat *W) {
    float *const outs[1] = {out};
    const tl_qmat *const Ws[1] = {W};
    multi(k, 1, outs, Ws, x, T);
}

void tl_hmatmul_rows1(float *out, const float *x, const tl_qmat *W, int64_t o0, int64_t o1) {
    if (o1 > o0) hrows_get()(out, (int)W->rows, x, 1, W, o0, o1);
}

void tl_hmatmul(float *out, const float *x, int T, const tl_qmat *W) { tl_hmatmul_with(hrows_get(), out, x, T, W); }

void tl_hmatmul_multi(int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T) {
    multi(hrows_get(), n, outs, Ws, x, T);
}
