/* gemm_avx512.c: single-threaded packed GEMM for AVX-512 CPUs,
 *   C[M, N] = (accumulate ? C : 0) + op(A)[M, K] @ op(B)[K, N]   (row-major).
 * Debian's OpenBLAS 0.3.21 runs its AVX2 (Haswell) kernel on CPUs it does not
 * know, e.g. AMD Zen 4/5, which leaves half of their vector width unused; this
 * kernel uses all of it. On AVX2-only CPUs the kernels call OpenBLAS instead.
 *
 * Blocking (GotoBLAS order): for each block of MC rows and KC of depth, A is
 * packed into MR-row panels (L2); then for each NR-column slice of B, one
 * KC x NR panel is packed (L1) and every MR x NR tile of the block is computed
 * by the register kernel: 8 rows x 48 columns = 24 zmm accumulators, each step
 * 3 loads of B, 8 broadcasts of A and 24 FMAs. KC = 384 covers the whole
 * depth of most of a Llama's matmuls (C = 288, 768), so C is written once
 * rather than read and rewritten per depth block; that matters most for the
 * LM head, whose [T, V] output is far larger than the caches. The packing
 * buffers (260 KiB) live on the stack: no allocation (OpenMP workers get the
 * default thread stack, megabytes). Edge tiles are zero-padded in the packs
 * and written with masked stores. The sum over K runs in the same order for
 * every element of C whatever M, N or the caller's thread split. */
#include "simd.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define MR 8
#define NR 48
#define KC 384
#define MC 128

/* op(A)[m, k] */
static inline float a_at(const float *A, int lda, int ta, int m, int k) {
    return ta ? A[(int64_t)k * lda + m] : A[(int64_t)m * lda + k];
}

/* Pack rows [m0, m0 + mc) x depth [k0, k0 + kc) of op(A) into MR-row panels:
 * ap[p][k][r] = op(A)[m0 + p*MR + r, k0 + k], zero beyond row M. */
static void pack_a(float *ap, const float *A, int lda, int ta, int m0, int mc, int k0, int kc,
                   int M) {
    for (int p = 0; p < mc; p += MR) {
        float *dst = ap + (int64_t)p * kc;
        int rows = M - (m0 + p) < MR ? M - (m0 + p) : MR;
        if (ta && rows == MR) {
            /* op(A) rows are columns of A: MR contiguous floats per k */
            for (int k = 0; k < kc; k++)
                _mm256_storeu_ps(dst + k * MR,
                                 _mm256_loadu_ps(A + (int64_t)(k0 + k) * lda + m0 + p));
            continue;
        }
        for (int r = 0; r < MR; r++) {
            if (r >= rows) {
                for (int k = 0; k < kc; k++) dst[k * MR + r] = 0.0f;
                continue;
            }
            for (int k = 0; k < kc; k++) dst[k * MR + r] = a_at(A, lda, ta, m0 + p + r, k0 + k);
        }
    }
}

/* r[0..8) rows of an 8 x 8 block -> its columns */
static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Pack depth [k0, k0 + kc) x columns [n0, n0 + NR) of op(B): bp[k][j], zero beyond column N. */
static void pack_b(float *bp, const float *B, int ldb, int tb, int n0, int k0, int kc, int N) {
    int cols = N - n0 < NR ? N - n0 : NR;
    if (!tb) {
        /* rows of op(B) are rows of B: NR contiguous floats per k */
        __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1u);
        __mmask16 m1 = cols >= 32 ? 0xffff : cols <= 16 ? 0 : (__mmask16)((1u << (cols - 16)) - 1u);
        __mmask16 m2 = cols >= 48 ? 0xffff : cols <= 32 ? 0 : (__mmask16)((1u << (cols - 32)) - 1u);
        for (int k = 0; k < kc; k++) {
            const float *src = B + (int64_t)(k0 + k) * ldb + n0;
            _mm512_storeu_ps(bp + k * NR, _mm512_maskz_loadu_ps(m0, src));
            _mm512_storeu_ps(bp + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
            _mm512_storeu_ps(bp + k * NR + 32, _mm512_maskz_loadu_ps(m2, src + 32));
        }
        return;
    }
    /* op(B) columns are rows of B (the weights of out = inp @ w^T): 8 x 8 blocks are
     * read row by row and transposed in registers */
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
        const float *src = B + (int64_t)(n0 + j) * ldb + k0;
        int k = 0;
        for (; k + 8 <= kc; k += 8) {
            __m256 r[8];
            for (int q = 0; q < 8; q++) r[q] = _mm256_loadu_ps(src + (int64_t)q * ldb + k);
            transpose8(r);
            for (int q = 0; q < 8; q++) _mm256_storeu_ps(bp + (k + q) * NR + j, r[q]);
        }
        for (; k < kc; k++)
            for (int q = 0; q < 8; q++) bp[k * NR + j + q] = src[(int64_t)q * ldb + k];
    }
    for (; j < NR; j++) {
        if (j >= cols) {
            for (int k = 0; k < kc; k++) bp[k * NR + j] = 0.0f;
            continue;
        }
        const float *src = B + (int64_t)(n0 + j) * ldb + k0;
        for (int k = 0; k < kc; k++) bp[k * NR + j] = src[k];
    }
}

/* Ask for the source lines of the next B panel (into L2) while the current one is
 * computed: a panel of weight rows (tb) is 48 short strided streams, which the
 * hardware prefetcher does not follow. */
static void prefetch_b(const float *B, int ldb, int tb, int n0, int k0, int kc, int N) {
    if (n0 >= N) return;
    int cols = N - n0 < NR ? N - n0 : NR;
    if (tb) {
        for (int j = 0; j < cols; j++) {
            const char *src = (const char *)(B + (int64_t)(n0 + j) * ldb + k0);
            for (int off = 0; off < kc * 4; off += 64) _mm_prefetch(src + off, _MM_HINT_T1);
        }
    } else {
        for (int k = 0; k < kc; k++) {
            const char *src = (const char *)(B + (int64_t)(k0 + k) * ldb + n0);
            for (int off = 0; off < cols * 4; off += 64) _mm_prefetch(src + off, _MM_HINT_T1);
        }
    }
}

/* The register tile: C[0:rows, 0:cols] (+)= ap (kc x MR) @ bp (kc x NR). */
static void kernel_8x48(int kc, const float *ap, const float *bp, float *C, int ldc, int rows,
                        int cols, int add) {
    __m512 c[MR][3];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) c[r][0] = c[r][1] = c[r][2] = _mm512_setzero_ps();
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16),
               b2 = _mm512_loadu_ps(bp + 32);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(ap[r]);
            c[r][0] = _mm512_fmadd_ps(a, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(a, b1, c[r][1]);
            c[r][2] = _mm512_fmadd_ps(a, b2, c[r][2]);
        }
        ap += MR;
        bp += NR;
    }
    __mmask16 m[3];
    for (int v = 0; v < 3; v++) {
        int n = cols - 16 * v;
        m[v] = n >= 16 ? 0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1u);
    }
    for (int r = 0; r < rows; r++) {
        float *dst = C + (int64_t)r * ldc;
        for (int v = 0; v < 3; v++) {
            if (!m[v]) continue;
            __m512 x = c[r][v];
            if (add) x = _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], dst + 16 * v), x);
            _mm512_mask_storeu_ps(dst + 16 * v, m[v], x);
        }
    }
}

void tl_gemm_avx512(int M, int N, int K, const float *A, int lda, int ta, const float *B, int ldb,
                    int tb, float *C, int ldc, int accumulate) {
    float ap[MC * KC] __attribute__((aligned(64)));
    float bp[KC * NR] __attribute__((aligned(64)));
    if (K == 0) {
        if (!accumulate)
            for (int m = 0; m < M; m++)
                for (int n = 0; n < N; n++) C[(int64_t)m * ldc + n] = 0.0f;
        return;
    }
    for (int m0 = 0; m0 < M; m0 += MC) {
        int mc = M - m0 < MC ? M - m0 : MC;
        int mc_pad = (mc + MR - 1) / MR * MR;
        for (int k0 = 0; k0 < K; k0 += KC) {
            int kc = K - k0 < KC ? K - k0 : KC;
            int add = accumulate || k0 > 0;
            pack_a(ap, A, lda, ta, m0, mc_pad, k0, kc, M);
            for (int n0 = 0; n0 < N; n0 += NR) {
                int cols = N - n0 < NR ? N - n0 : NR;
                pack_b(bp, B, ldb, tb, n0, k0, kc, N);
                prefetch_b(B, ldb, tb, n0 + NR, k0, kc, N);
                for (int p = 0; p < mc; p += MR) {
                    int rows = mc - p < MR ? mc - p : MR;
                    kernel_8x48(kc, ap + (int64_t)p * kc, bp, C + (int64_t)(m0 + p) * ldc + n0, ldc,
                                rows, cols, add);
                }
            }
        }
    }
}

#else
void tl_gemm_avx512(int M, int N, int K, const float *A, int lda, int ta, const float *B, int ldb,
                    int tb, float *C, int ldc, int accumulate) {
    (void)M, (void)N, (void)K, (void)A, (void)lda, (void)ta, (void)B, (void)ldb, (void)tb, (void)C,
        (void)ldc, (void)accumulate;
}
#endif
