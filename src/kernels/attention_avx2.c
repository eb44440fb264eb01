/* attention_avx2.c: the training attention pair (see attention.c for the contract)
 * as blocked small matrix products with AVX2 + FMA. For each (sequence, head) and
 * block of BQ queries:
 *   forward   S = Q K^T (keys 0..last query of the block), P = softmax(scale S) row
 *             by row with the causal / key mask, O = P V
 *   backward  S again, P = exp(scale S - lse), dP = dO V^T, dS = P (dP - dO.O) scale,
 *             dQ += dS K, dK += dS^T Q, dV += P^T dO
 * Every product goes through one micro-kernel, C (+)= A B or A^T B with B's rows
 * contiguous, so only K and V are transposed, once per (sequence, head).
 * Work is split by (sequence, kv head) in backward: each thread owns its dK, dV rows
 * and the dQ rows of the heads sharing them; the order of every sum is fixed, so
 * results do not depend on the thread count.
 * Bidirectional mode (BICO, planned): the key range of every block becomes 0..T-1,
 * and the part of S with keys after the query comes from a second product with the
 * mirrored-RoPE q and k (its dS flowing back to their own gradients); softmax_row
 * and the backward row loop take the visible bound from one place, as now. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels.h"
#include "simd_avx2.h"
#include "train_simd.h"

enum { BQ = 32 }; /* query rows per block: the diagonal block wastes < BQ/2 keys per row */

/* 16 columns of C: load (or zero) and store, whole or masked to nrem columns. */
static inline __attribute__((always_inline)) __m256 c_load(int full, int acc, const float *c,
                                                          __m256i m) {
    if (!acc) return _mm256_setzero_ps();
    return full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m);
}
static inline __attribute__((always_inline)) void c_store(int full, float *c, __m256i m, __m256 x) {
    if (full) _mm256_storeu_ps(c, x);
    else _mm256_maskstore_ps(c, m, x);
}
static inline __attribute__((always_inline)) __m256 b_load(int full, const float *b, __m256i m) {
    return full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m);
}

/* Rows r0..r0+3 (R = 4) or r0 alone (R = 1) x 16 columns of C (+)= A @ B over K, where
 * A's element (r, k) is A[r * ars + k * aks] (A itself: ars = lda, aks = 1; A
 * transposed: ars = 1, aks = lda). nrem = valid columns (>= 16 when full); acc = 0
 * overwrites C. The accumulators are named so they stay in registers. R, full and
 * acc are constants after inlining. */
static inline __attribute__((always_inline)) void tile(int R, int full, int acc, float *C, int ldc,
                                                       const float *A, int64_t ars, int64_t aks,
                                                       const float *B, int ldb, int K, int nrem) {
    __m256i m0 = tl_mask256(nrem), m1 = tl_mask256(nrem - 8);
    float *c0 = C, *c1 = C + ldc, *c2 = C + 2 * (int64_t)ldc, *c3 = C + 3 * (int64_t)ldc;
    __m256 x00 = c_load(full, acc, c0, m0), x01 = c_load(full, acc, c0 + 8, m1);
    __m256 x10 = _mm256_setzero_ps(), x11 = x10, x20 = x10, x21 = x10, x30 = x10, x31 = x10;
    if (R == 4) {
        x10 = c_load(full, acc, c1, m0), x11 = c_load(full, acc, c1 + 8, m1);
        x20 = c_load(full, acc, c2, m0), x21 = c_load(full, acc, c2 + 8, m1);
        x30 = c_load(full, acc, c3, m0), x31 = c_load(full, acc, c3 + 8, m1);
    }
    const float *a = A;
    for (int k = 0; k < K; k++, a += aks) {
        const float *b = B + (int64_t)k * ldb;
        __m256 b0 = b_load(full, b, m0), b1 = b_load(full, b + 8, m1);
        __m256 a0 = _mm256_broadcast_ss(a);
        x00 = _mm256_fmadd_ps(a0, b0, x00);
        x01 = _mm256_fmadd_ps(a0, b1, x01);
        if (R == 4) {
            __m256 a1 = _mm256_broadcast_ss(a + ars), a2 = _mm256_broadcast_ss(a + 2 * ars),
                   a3 = _mm256_broadcast_ss(a + 3 * ars);
            x10 = _mm256_fmadd_ps(a1, b0, x10);
            x11 = _mm256_fmadd_ps(a1, b1, x11);
            x20 = _mm256_fmadd_ps(a2, b0, x20);
            x21 = _mm256_fmadd_ps(a2, b1, x21);
            x30 = _mm256_fmadd_ps(a3, b0, x30);
            x31 = _mm256_fmadd_ps(a3, b1, x31);
        }
    }
    c_store(full, c0, m0, x00), c_store(full, c0 + 8, m1, x01);
    if (R == 4) {
        c_store(full, c1, m0, x10), c_store(full, c1 + 8, m1, x11);
        c_store(full, c2, m0, x20), c_store(full, c2 + 8, m1, x21);
        c_store(full, c3, m0, x30), c_store(full, c3 + 8, m1, x31);
    }
}

#define TILE_CASES(full, acc)                                                                      \
    if (R == 4) tile(4, full, acc, c, ldc, a, ars, aks, b, ldb, K, nrem);                          \
    else tile(1, full, acc, c, ldc, a, ars, aks, b, ldb, K, nrem);

/* C[M, N] (+)= op(A)[M, K] @ B[K, N], row-major with row strides lda, ldb, ldc;
 * op(A) = A [M, K] (trans_a = 0) or A^T for A [K, M] (trans_a = 1). */
static void gemm_op(float *C, int ldc, const float *A, int lda, int trans_a, const float *B, int ldb,
                    int M, int N, int K, int acc) {
    int64_t ars = trans_a ? 1 : lda, aks = trans_a ? lda : 1;
    for (int n0 = 0; n0 < N; n0 += 16) {
        int nrem = N - n0;
        for (int m0 = 0; m0 < M;) {
            int R = M - m0 >= 4 ? 4 : 1;
            float *c = C + (int64_t)m0 * ldc + n0;
            const float *a = A + m0 * ars, *b = B + n0;
            if (nrem >= 16 && acc) {
                TILE_CASES(1, 1)
            } else if (nrem >= 16) {
                TILE_CASES(1, 0)
            } else if (acc) {
                TILE_CASES(0, 1)
            } else {
                TILE_CASES(0, 0)
            }
            m0 += R;
        }
    }
}

/* C[M, N] (+)= A[M, K] @ B[K, N] */
static void gemm(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M, int N,
                 int K, int acc) {
    gemm_op(C, ldc, A, lda, 0, B, ldb, M, N, K, acc);
}

/* C[M, N] (+)= A^T @ B for A [K, M], B [K, N] */
static void gemm_tn(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int M,
                    int N, int K) {
    gemm_op(C, ldc, A, lda, 1, B, ldb, M, N, K, 1);
}

/* dst[cols, rows] (ld ldd) = src[rows, cols] (ld lds)^T */
static void transpose(float *dst, int ldd, const float *src, int lds, int rows, int cols) {
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) dst[(int64_t)c * ldd + r] = src[(int64_t)r * lds + c];
}

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

size_t tl_attention_train_scratch_avx2(int T, int D) {
    size_t t = (size_t)T, d = (size_t)D;
    /* kt, vt [D, T]; s, dp [BQ, T]; vis [T] */
    return 2 * round16(d * t) + 2 * round16(BQ * t) + round16(t);
}

typedef struct {
    float *kt, *vt, *s, *dp, *vis;
} slot;

static slot slot_at(float *scratch, int i, int T, int D) {
    size_t t = (size_t)T, d = (size_t)D;
    float *p = scratch + (size_t)i * tl_attention_train_scratch(T, D);
    slot s;
    s.kt = p, p += round16(d * t);
    s.vt = p, p += round16(d * t);
    s.s = p, p += round16(BQ * t);
    s.dp = p, p += round16(BQ * t);
    s.vis = p;
    return s;
}

/* 1.0 where key j of the sequence is visible to the mask, 0.0 where hidden. */
static const float *visibility(float *vis, const uint8_t *mrow, int T) {
    if (!mrow) return NULL;
    for (int j = 0; j < T; j++) vis[j] = mrow[j] ? 0.0f : 1.0f;
    return vis;
}

/* Lanes of keys j..j+7 that count: below nk and not hidden. */
static inline __m256 valid_lanes(const float *vis, int j, int nk) {
    __m256 m = _mm256_castsi256_ps(tl_mask256(nk - j));
    if (vis)
        m = _mm256_and_ps(m, _mm256_cmp_ps(_mm256_maskload_ps(vis + j, tl_mask256(nk - j)),
                                           _mm256_setzero_ps(), _CMP_GT_OQ));
    return m;
}

/* row[0..nk) holds raw scores q.k; turn it into softmax probabilities over the valid
 * keys (0 elsewhere, up to n) and return the log-sum-exp of the scaled scores
 * (-inf when no key is valid, the row then all 0). */
static float softmax_row(float *row, int nk, int n, float scale, const float *vis) {
    __m256 vs = _mm256_set1_ps(scale), ninf = _mm256_set1_ps(-INFINITY), vmx = ninf;
    for (int j = 0; j < nk; j += 8) {
        __m256 x = _mm256_mul_ps(_mm256_maskload_ps(row + j, tl_mask256(nk - j)), vs);
        vmx = _mm256_max_ps(vmx, _mm256_blendv_ps(ninf, x, valid_lanes(vis, j, nk)));
    }
    float mx = tl_hmax256(vmx);
    if (mx == -INFINITY) {
        memset(row, 0, (size_t)n * sizeof(float));
        return -INFINITY;
    }
    __m256 vsum = _mm256_setzero_ps(), vm = _mm256_set1_ps(mx);
    for (int j = 0; j < nk; j += 8) {
        __m256i lm = tl_mask256(nk - j);
        __m256 x = _mm256_fmsub_ps(_mm256_maskload_ps(row + j, lm), vs, vm);
        __m256 e = _mm256_and_ps(tl_exp256(x), valid_lanes(vis, j, nk));
        vsum = _mm256_add_ps(vsum, e);
        _mm256_maskstore_ps(row + j, lm, e);
    }
    float sum = tl_hsum256(vsum);
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int j = 0; j < nk; j += 8) {
        __m256i lm = tl_mask256(nk - j);
        _mm256_maskstore_ps(row + j, lm, _mm256_mul_ps(_mm256_maskload_ps(row + j, lm), inv));
    }
    if (n > nk) memset(row + nk, 0, (size_t)(n - nk) * sizeof(float));
    return mx + logf(sum);
}

/* Threads for B*H*T*T*D multiply-adds: one below ~64K (a fork costs more), at most
 * n_scratch (the scratch slots). */
static int threads_for(int n_scratch, int B, int H, int T, int D) {
    if ((int64_t)B * H * T * T * D < (1 << 16)) return 1;
    int nt = omp_get_max_threads();
    return nt < n_scratch ? nt : n_scratch;
}

void tl_attention_train_forward_avx2(float *out, float *lse, const float *q, const float *k,
                                     const float *v, const uint8_t *key_mask, int B, int T, int H,
                                     int Hkv, int D, float *scratch, int n_scratch) {
    int group = H / Hkv, QD = H * D, KD = Hkv * D;
    float scale = 1.0f / sqrtf((float)D);
    int nth = threads_for(n_scratch, B, H, T, D);
#pragma omp parallel for collapse(2) schedule(static) num_threads(nth) if (nth > 1)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            slot sl = slot_at(scratch, omp_get_thread_num(), T, D);
            const float *kb = k + (int64_t)b * T * KD + (h / group) * D;
            const float *vb = v + (int64_t)b * T * KD + (h / group) * D;
            const float *vis = visibility(sl.vis, key_mask ? key_mask + (int64_t)b * T : NULL, T);
            transpose(sl.kt, T, kb, KD, T, D);
            for (int i0 = 0; i0 < T; i0 += BQ) {
                int nq = T - i0 < BQ ? T - i0 : BQ, n = i0 + nq; /* keys of the block: 0..n-1 */
                const float *qb = q + ((int64_t)b * T + i0) * QD + h * D;
                gemm(sl.s, T, qb, QD, sl.kt, T, nq, n, D, 0); /* S = Q K^T */
                for (int r = 0; r < nq; r++)
                    lse[((int64_t)b * H + h) * T + i0 + r] =
                        softmax_row(sl.s + (int64_t)r * T, i0 + r + 1, n, scale, vis);
                gemm(out + ((int64_t)b * T + i0) * QD + h * D, QD, sl.s, T, vb, KD, nq, D, n, 0);
            }
        }
    }
}

void tl_attention_train_backward_avx2(float *dq, float *dk, float *dv, const float *dout,
                                      const float *out, const float *q, const float *k,
                                      const float *v, const float *lse, const uint8_t *key_mask,
                                      int B, int T, int H, int Hkv, int D, float *scratch,
                                      int n_scratch) {
    int group = H / Hkv, QD = H * D, KD = Hkv * D;
    float scale = 1.0f / sqrtf((float)D);
    int nth = threads_for(n_scratch, B, H, T, D);
#pragma omp parallel for collapse(2) schedule(static) num_threads(nth) if (nth > 1)
    for (int b = 0; b < B; b++) {
        for (int kvh = 0; kvh < Hkv; kvh++) {
            slot sl = slot_at(scratch, omp_get_thread_num(), T, D);
            int64_t kvoff = (int64_t)b * T * KD + kvh * D;
            const float *vis = visibility(sl.vis, key_mask ? key_mask + (int64_t)b * T : NULL, T);
            transpose(sl.kt, T, k + kvoff, KD, T, D);
            transpose(sl.vt, T, v + kvoff, KD, T, D);
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                for (int i0 = 0; i0 < T; i0 += BQ) {
                    int nq = T - i0 < BQ ? T - i0 : BQ, n = i0 + nq;
                    int64_t qoff = ((int64_t)b * T + i0) * QD + h * D;
                    gemm(sl.s, T, q + qoff, QD, sl.kt, T, nq, n, D, 0);     /* S = Q K^T */
                    gemm(sl.dp, T, dout + qoff, QD, sl.vt, T, nq, n, D, 0); /* dP = dO V^T */
                    for (int r = 0; r < nq; r++) {
                        float l = lse[((int64_t)b * H + h) * T + i0 + r];
                        float *srow = sl.s + (int64_t)r * T, *drow = sl.dp + (int64_t)r * T;
                        int nk = l == -INFINITY ? 0 : i0 + r + 1;
                        const float *dor = dout + qoff + (int64_t)r * QD, *orow = out + qoff + (int64_t)r * QD;
                        float di = 0;
                        for (int d = 0; d < D; d++) di += dor[d] * orow[d];
                        __m256 vs = _mm256_set1_ps(scale), vl = _mm256_set1_ps(l),
                               vdi = _mm256_set1_ps(di);
                        for (int j = 0; j < nk; j += 8) {
                            __m256i lm = tl_mask256(nk - j);
                            __m256 x = _mm256_fmsub_ps(_mm256_maskload_ps(srow + j, lm), vs, vl);
                            __m256 p = _mm256_and_ps(tl_exp256(x), valid_lanes(vis, j, nk));
                            __m256 ds = _mm256_mul_ps(
                                _mm256_mul_ps(p, _mm256_sub_ps(_mm256_maskload_ps(drow + j, lm), vdi)),
                                vs);
                            _mm256_maskstore_ps(srow + j, lm, p);
                            _mm256_maskstore_ps(drow + j, lm, ds);
                        }
                        if (n > nk) {
                            memset(srow + nk, 0, (size_t)(n - nk) * sizeof(float));
                            memset(drow + nk, 0, (size_t)(n - nk) * sizeof(float));
                        }
                    }
                    gemm(dq + qoff, QD, sl.dp, T, k + kvoff, KD, nq, D, n, 1); /* dQ += dS K */
                    gemm_tn(dv + kvoff, KD, sl.s, T, dout + qoff, QD, n, D, nq); /* dV += P^T dO */
                    gemm_tn(dk + kvoff, KD, sl.dp, T, q + qoff, QD, n, D, nq);   /* dK += dS^T Q */
                }
            }
        }
    }
}
