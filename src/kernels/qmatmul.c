/* qmatmul.c: quantized weight matrix times f32 activations. Each activation row is
 * quantized once (int8 blocks of 32 for Q8_0/Q4_0/Q5_0/Q5_1 weights, Q8_K blocks of
 * 256 for K-quants, as ggml does), then every output is a sum over blocks of
 * (weight scale x activation scale x integer dot product). The portable dot products
 * here define the arithmetic; the AVX2 and AVX-512 tables compute the same integer sums
 * and differ only in the order of the float accumulation (tolerance: quant.h). */
#include <omp.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant.h"
#include "quant_gemm.h"
#include "simd.h"

/* ---- portable dot products ------------------------------------------------------ */

static float dot_q8_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q8_0 *x = w;
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += x[i].qs[j] * a[i].qs[j];
        sum += (float)s * (tl_f16_to_f32(x[i].d) * a[i].d);
    }
    return sum;
}

static float dot_q4_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q4_0 *x = w;
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += ((x[i].qs[j] & 0xF) - 8) * a[i].qs[j] + ((x[i].qs[j] >> 4) - 8) * a[i].qs[j + 16];
        sum += (float)s * (tl_f16_to_f32(x[i].d) * a[i].d);
    }
    return sum;
}

/* integer dot of a Q5 block's 0..31 values with a32 quants */
static int dot_q5_ints(const uint8_t *qh4, const uint8_t *qs, const int8_t *aq) {
    uint32_t qh;
    memcpy(&qh, qh4, 4);
    int s = 0;
    for (int j = 0; j < 16; j++) {
        int x0 = (qs[j] & 0xF) | (int)(((qh >> j) << 4) & 0x10);
        int x1 = (qs[j] >> 4) | (int)((qh >> (j + 12)) & 0x10);
        s += x0 * aq[j] + x1 * aq[j + 16];
    }
    return s;
}

static float dot_q5_0(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q5_0 *x = w;
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int s = dot_q5_ints(x[i].qh, x[i].qs, a[i].qs) - 16 * a[i].sum;
        sum += (float)s * (tl_f16_to_f32(x[i].d) * a[i].d);
    }
    return sum;
}

static float dot_q5_1(int n, const void *w, const tl_block_a32 *a) {
    const tl_block_q5_1 *x = w;
    float sum = 0;
    for (int i = 0; i < n / 32; i++) {
        int s = dot_q5_ints(x[i].qh, x[i].qs, a[i].qs);
        sum += (float)s * (tl_f16_to_f32(x[i].d) * a[i].d) + tl_f16_to_f32(x[i].m) * (a[i].d * (float)a[i].sum);
    }
    return sum;
}

/* the 8 scales and mins of a Q4_K/Q5_K block */
static void k4_scales(const uint8_t *packed, int *sc, int *mn) {
    for (int j = 0; j < 8; j++) {
        uint8_t s, m;
        tl_q_scale_min_k4(j, packed, &s, &m);
        sc[j] = s;
        mn[j] = m;
    }
}

static float dot_q4_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q4_K *x = w;
    float sum = 0;
    for (int i = 0; i < n / TL_QK; i++) {
        int sc[8], mn[8], sumi = 0, summ = 0;
        k4_scales(x[i].scales, sc, mn);
        const uint8_t *q = x[i].qs;
        const int8_t *aq = a[i].qs;
        for (int j = 0; j < 4; j++, q += 32, aq += 64) {
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += (q[l] & 0xF) * aq[l];
                s1 += (q[l] >> 4) * aq[l + 32];
            }
            sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
        }
        for (int j = 0; j < 8; j++)
            summ += mn[j] * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
        sum += a[i].d * (tl_f16_to_f32(x[i].d) * (float)sumi - tl_f16_to_f32(x[i].dmin) * (float)summ);
    }
    return sum;
}

static float dot_q5_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q5_K *x = w;
    float sum = 0;
    for (int i = 0; i < n / TL_QK; i++) {
        int sc[8], mn[8], sumi = 0, summ = 0;
        k4_scales(x[i].scales, sc, mn);
        const uint8_t *q = x[i].qs, *qh = x[i].qh;
        const int8_t *aq = a[i].qs;
        for (int j = 0; j < 4; j++, q += 32, aq += 64) {
            int s0 = 0, s1 = 0;
            for (int l = 0; l < 32; l++) {
                s0 += ((q[l] & 0xF) | (((qh[l] >> (2 * j)) & 1) << 4)) * aq[l];
                s1 += ((q[l] >> 4) | (((qh[l] >> (2 * j + 1)) & 1) << 4)) * aq[l + 32];
            }
            sumi += sc[2 * j] * s0 + sc[2 * j + 1] * s1;
        }
        for (int j = 0; j < 8; j++)
            summ += mn[j] * (a[i].bsums[2 * j] + a[i].bsums[2 * j + 1]);
        sum += a[i].d * (tl_f16_to_f32(x[i].d) * (float)sumi - tl_f16_to_f32(x[i].dmin) * (float)summ);
    }
    return sum;
}

static float dot_q6_K(int n, const void *w, const tl_block_q8_K *a) {
    const tl_block_q6_K *x = w;
    float sum = 0;
    for (int i = 0; i < n / TL_QK; i++) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *sc = x[i].scales, *aq = a[i].qs;
        int sumi = 0;
        for (int h = 0; h < 2; h++, ql += 64, qh += 32, sc += 8, aq += 128) {
            int s[8] = {0};
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                s[is + 0] += q1 * aq[l];
                s[is + 2] += q2 * aq[l + 32];
                s[is + 4] += q3 * aq[l + 64];
                s[is + 6] += q4 * aq[l + 96];
            }
            for (int k = 0; k < 8; k++)
                sumi += sc[k] * s[k];
        }
        sum += a[i].d * tl_f16_to_f32(x[i].d) * (float)sumi;
    }
    return sum;
}

const tl_qdot tl_qdot_portable = {TL_ISA_PORTABLE, dot_q8_0, dot_q4_0, dot_q5_0, dot_q5_1,
                                  dot_q4_K,        dot_q5_K, dot_q6_K, NULL, NULL};

const tl_qdot *tl_qdot_for(int isa) {
    if (isa > (int)tl_cpu_isa()) return NULL;
#if defined(__x86_64__) || defined(__i386__)
    /* AVX-512 with VNNI has its own integer kernels; AVX-512 without VNNI uses the AVX2 ones */
    if (isa >= TL_ISA_AVX512 && __builtin_cpu_supports("avx512vnni")) return &tl_qdot_vnni512;
    if (isa >= TL_ISA_AVX2) return &tl_qdot_avx2;
#endif
    return &tl_qdot_portable;
}

const tl_qdot *tl_qdot_get(void) {
    const tl_qdot *k = tl_qdot_for((int)tl_cpu_isa());
    return k ? k : &tl_qdot_portable;
}

/* ---- the matmul ----------------------------------------------------------------- */

static int is_k_quant(uint32_t t) { return t == TL_Q4_K || t == TL_Q5_K || t == TL_Q6_K; }

size_t tl_qmatmul_scratch(int T, int64_t cols) {
    size_t a = (size_t)(cols / 32) * sizeof(tl_block_a32), k = (size_t)(cols / TL_QK + 1) * sizeof(tl_block_q8_K);
    size_t g = tl_qgemm_scratch(T, cols), v = (size_t)T * (a > k ? a : k) + 64;
    return g > v ? g : v;
}

/* Quantize x[T, cols] for weights of `type` (with table k's quantizer where it has one); returns
 * the bytes per row. */
static size_t quantize_acts(const tl_qdot *k, uint32_t type, const float *x, int T, int64_t cols, void *scratch) {
    size_t rb =
        is_k_quant(type) ? (size_t)(cols / TL_QK) * sizeof(tl_block_q8_K) : (size_t)(cols / 32) * sizeof(tl_block_a32);
    for (int t = 0; t < T; t++) {
        void *dst = (uint8_t *)scratch + (size_t)t * rb;
        if (is_k_quant(type))
            (k->quantize_q8_K ? k->quantize_q8_K : tl_quantize_q8_K)(x + (int64_t)t * cols, dst, cols);
        else
            tl_quantize_a32(x + (int64_t)t * cols, dst, cols);
    }
    return rb;
}

static void rows_dot(const tl_qdot *k, float *out, int O, const tl_qmat *W, const uint8_t *acts, size_t arb, int T,
                     int64_t o0, int64_t o1) {
    int n = (int)W->cols;
    if (T == 1 && k->rows && k->rows(W->type, n, W->data + (size_t)o0 * W->row_bytes, W->row_bytes, o1 - o0, acts, out + o0))
        return;
    for (int64_t o = o0; o < o1; o++) {
        const uint8_t *wr = W->data + (size_t)o * W->row_bytes;
        for (int t = 0; t < T; t++) {
            const void *ar = acts + (size_t)t * arb;
            float v;
            switch (W->type) {
            case TL_Q8_0: v = k->q8_0(n, wr, ar); break;
            case TL_Q4_0: v = k->q4_0(n, wr, ar); break;
            case TL_Q5_0: v = k->q5_0(n, wr, ar); break;
            case TL_Q5_1: v = k->q5_1(n, wr, ar); break;
            case TL_Q4_K: v = k->q4_K(n, wr, ar); break;
            case TL_Q5_K: v = k->q5_K(n, wr, ar); break;
            case TL_Q6_K: v = k->q6_K(n, wr, ar); break;
            default: v = 0; break;
            }
            out[(int64_t)t * O + o] = v;
        }
    }
}

/* rows [lo, hi) of a matrix whose rows start at byte `base` of the concatenation, `rb` bytes each,
 * that begin in the byte range [b0, b1) */
static void rows_in(int64_t base, int64_t rb, int64_t rows, int64_t b0, int64_t b1, int64_t *lo, int64_t *hi) {
    int64_t l = b0 <= base ? 0 : (b0 - base + rb - 1) / rb, h = b1 <= base ? 0 : (b1 - base + rb - 1) / rb;
    *lo = l < rows ? l : rows;
    *hi = h < rows ? h : rows;
}

/* n matrices sharing already-quantized activations; their rows, laid end to end, split over the
 * threads by weight bytes (the cost of a decode matmul: Q6_K rows are 1.46x Q4_K's) */
static void multi_rows(const tl_qdot *k, int n, float *const *outs, const tl_qmat *const *Ws, const uint8_t *acts,
                       size_t arb, int T) {
    int64_t total = 0, bytes = 0;
    for (int i = 0; i < n; i++) {
        total += Ws[i]->rows;
        bytes += Ws[i]->rows * (int64_t)Ws[i]->row_bytes;
    }
    int64_t work = total * Ws[0]->cols * T;
    int nt = tl_kernel_threads(work);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int parts = omp_get_num_threads(), me = omp_get_thread_num();
        int64_t b0 = bytes * me / parts, b1 = bytes * (me + 1) / parts, base = 0;
        for (int i = 0; i < n; i++) {
            int64_t rb = (int64_t)Ws[i]->row_bytes, lo, hi;
            rows_in(base, rb, Ws[i]->rows, b0, b1, &lo, &hi);
            if (lo < hi) rows_dot(k, outs[i], (int)Ws[i]->rows, Ws[i], acts, arb, T, lo, hi);
            base += Ws[i]->rows * rb;
        }
    }
}

int tl_qmatmul_act_kind(uint32_t type) { return is_k_quant(type); }

void tl_qmatmul_acts1(uint32_t type, const float *x, int64_t cols, void *acts) {
    quantize_acts(tl_qdot_get(), type, x, 1, cols, acts);
}

void tl_qmatmul_rows1(float *out, const tl_qmat *W, const void *acts, int64_t o0, int64_t o1) {
    if (o1 > o0) rows_dot(tl_qdot_get(), out, (int)W->rows, W, acts, 0, 1, o0, o1);
}

void tl_qmatmul_with(const tl_qdot *k, float *out, const float *x, int T, const tl_qmat *W, void *scratch) {
    size_t arb = quantize_acts(k, W->type, x, T, W->cols, scratch);
    float *const outs[1] = {out};
    const tl_qmat *const Ws[1] = {W};
    multi_rows(k, 1, outs, Ws, scratch, arb, T);
}

void tl_qmatmul(float *out, const float *x, int T, const tl_qmat *W, void *scratch) {
    /* several tokens (prefill, batched capture): the batched kernel (quant_gemm.c) */
    if (T >= TL_QGEMM_MIN_T && tl_qgemm_supported(W->type) && tl_qgemm_multi(1, &out, &W, x, T, scratch) == 0) return;
    tl_qmatmul_with(tl_qdot_get(), out, x, T, W, scratch);
}

void tl_qmatmul_multi(int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T, void *scratch) {
    /* one activation quantization when all share the activation format */
    int same = 1;
    for (int i = 1; i < n; i++)
        same &= is_k_quant(Ws[i]->type) == is_k_quant(Ws[0]->type);
    if (same && T >= TL_QGEMM_MIN_T) {
        int ok = 1;
        for (int i = 0; i < n; i++)
            ok &= tl_qgemm_supported(Ws[i]->type);
        if (ok && tl_qgemm_multi(n, outs, Ws, x, T, scratch) == 0) return;
    }
    if (!same) {
        for (int i = 0; i < n; i++)
            tl_qmatmul(outs[i], x, T, Ws[i], scratch);
        return;
    }
    const tl_qdot *k = tl_qdot_get();
    size_t arb = quantize_acts(k, Ws[0]->type, x, T, Ws[0]->cols, scratch);
    multi_rows(k, n, outs, Ws, scratch, arb, T);
}
