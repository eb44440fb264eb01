/* quant_gemm.c: the batched quantized matmul (quant_gemm.h) — activation packing, the tiling and
 * thread split, the portable unpack and dot kernels (the reference the SIMD tables are tested
 * against), and the ISA dispatch. */
#include <omp.h>
#include <string.h>

#include "base/base.h"
#include "kernels.h"
#include "quant_gemm.h"
#include "simd.h"

#define QG_ALIGN(n) (((size_t)(n) + 63) & ~(size_t)63)

int tl_qgemm_supported(uint32_t type) {
    return type == TL_Q8_0 || type == TL_Q4_0 || type == TL_Q5_0 || type == TL_Q4_K || type == TL_Q5_K ||
           type == TL_Q6_K;
}

size_t tl_qgemm_scratch(int T, int64_t cols) {
    size_t TP = (size_t)(T + 15) / 16 * 16, k = (size_t)cols; /* the widest group: 16 */
    return QG_ALIGN(TP * k) + QG_ALIGN(TP * (k / 32) * sizeof(float)) + QG_ALIGN(TP * (k / 16) * sizeof(int16_t)) +
           64;
}

/* ---- portable unpack ------------------------------------------------------------ */

static void unpack_portable(const uint8_t *row, tl_qg_tile *t, int r) {
    const int64_t k = t->k;
    if (!tl_qg_is_k(t->type)) {
        int8_t *q = (int8_t *)t->q + (size_t)r * k;
        float *d = t->d + (size_t)r * (k / 32);
        int32_t *ws = t->ws ? t->ws + (size_t)r * (k / 32) : NULL;
        uint8_t *aq = t->aq ? t->aq + (size_t)r * k : NULL;
        for (int64_t i = 0; i < k / 32; i++, q += 32) {
            if (t->type == TL_Q8_0) {
                const tl_block_q8_0 *b = (const tl_block_q8_0 *)row + i;
                memcpy(q, b->qs, 32);
                d[i] = tl_f16_to_f32(b->d);
            } else if (t->type == TL_Q4_0) {
                const tl_block_q4_0 *b = (const tl_block_q4_0 *)row + i;
                for (int j = 0; j < 16; j++) {
                    q[j] = (int8_t)((b->qs[j] & 0xF) - 8);
                    q[j + 16] = (int8_t)((b->qs[j] >> 4) - 8);
                }
                d[i] = tl_f16_to_f32(b->d);
            } else { /* Q5_0: the 5-bit value less 16 */
                const tl_block_q5_0 *b = (const tl_block_q5_0 *)row + i;
                uint32_t qh;
                memcpy(&qh, b->qh, 4);
                for (int j = 0; j < 16; j++) {
                    q[j] = (int8_t)(((b->qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)) - 16);
                    q[j + 16] = (int8_t)(((b->qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16);
                }
                d[i] = tl_f16_to_f32(b->d);
            }
            int sum = 0;
            for (int j = 0; j < 32; j++) {
                sum += q[j];
                if (aq) aq[32 * i + j] = (uint8_t)(q[j] < 0 ? -q[j] : q[j]);
            }
            if (ws) ws[i] = sum;
        }
        return;
    }
    const int64_t nsb = k / TL_QK;
    uint8_t *q = t->q + (size_t)r * k;
    int16_t *sc = t->sc + (size_t)r * (k / 16), *mn = t->mn + (size_t)r * (k / 16);
    float *d = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    for (int64_t i = 0; i < nsb; i++, q += TL_QK, sc += 16, mn += 16) {
        if (t->type == TL_Q6_K) {
            const tl_block_q6_K *b = (const tl_block_q6_K *)row + i;
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
                uint8_t *y = q + 128 * h;
                for (int l = 0; l < 32; l++) {
                    y[l] = (uint8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4));
                    y[l + 32] = (uint8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
                    y[l + 64] = (uint8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
                    y[l + 96] = (uint8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
                }
            }
            for (int g = 0; g < 16; g++) {
                sc[g] = b->scales[g];
                mn[g] = (int16_t)(32 * b->scales[g]);
            }
            d[i] = tl_f16_to_f32(b->d);
            dmin[i] = 0;
        } else {
            /* Q4_K and Q5_K share the first fields' layout up to qh */
            const tl_block_q4_K *b4 = (const tl_block_q4_K *)row + i;
            const tl_block_q5_K *b5 = (const tl_block_q5_K *)row + i;
            const int five = t->type == TL_Q5_K;
            const uint8_t *scales = five ? b5->scales : b4->scales, *qs = five ? b5->qs : b4->qs;
            for (int j = 0; j < 4; j++)
                for (int l = 0; l < 32; l++) {
                    int lo = qs[32 * j + l] & 0xF, hi = qs[32 * j + l] >> 4;
                    if (five) {
                        lo |= ((b5->qh[l] >> (2 * j)) & 1) << 4;
                        hi |= ((b5->qh[l] >> (2 * j + 1)) & 1) << 4;
                    }
                    q[64 * j + l] = (uint8_t)lo;
                    q[64 * j + 32 + l] = (uint8_t)hi;
                }
            for (int j = 0; j < 8; j++) {
                uint8_t s, m;
                tl_q_scale_min_k4(j, scales, &s, &m);
                sc[2 * j] = sc[2 * j + 1] = s;
                mn[2 * j] = mn[2 * j + 1] = m;
            }
            d[i] = tl_f16_to_f32(five ? b5->d : b4->d);
            dmin[i] = tl_f16_to_f32(five ? b5->dmin : b4->dmin);
        }
    }
}

/* ---- portable dot kernels: the arithmetic of qmatmul.c's dot_* ------------------ */

static void dot_b32_portable(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nb = k / 32;
    const int8_t *w = (const int8_t *)t->q + (size_t)r * k;
    const float *dw = t->d + (size_t)r * nb;
    for (int j = 0; j < 4; j++) {
        const int tok = 4 * g + j;
        const int8_t *x = a->qs + (size_t)tok * k;
        const float *da = a->d + (size_t)tok * nb;
        float sum = 0;
        for (int64_t i = 0; i < nb; i++) {
            int s = 0;
            for (int l = 0; l < 32; l++)
                s += w[32 * i + l] * x[32 * i + l];
            sum += (float)s * (dw[i] * da[i]);
        }
        out[j] = sum;
    }
}

static void dot_k_portable(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out) {
    const int64_t k = t->k, nsb = k / TL_QK;
    const uint8_t *w = t->q + (size_t)r * k;
    const int16_t *sc = t->sc + (size_t)r * (k / 16), *mn = t->mn + (size_t)r * (k / 16);
    const float *dw = t->d + (size_t)r * nsb, *dmin = t->dmin + (size_t)r * nsb;
    for (int j = 0; j < 4; j++) {
        const int tok = 4 * g + j;
        const int8_t *x = a->qs + (size_t)tok * k;
        float sum = 0;
        for (int64_t i = 0; i < nsb; i++) {
            const float ad = a->d[((size_t)g * nsb + i) * 4 + j];
            const int16_t *bs = a->bs + (((size_t)g * nsb + i) * 4 + j) * 16;
            int sumi = 0, summ = 0;
            for (int q = 0; q < 16; q++) {
                int s = 0;
                for (int l = 0; l < 16; l++)
                    s += w[TL_QK * i + 16 * q + l] * x[TL_QK * i + 16 * q + l];
                sumi += sc[16 * i + q] * s;
                summ += mn[16 * i + q] * bs[q];
            }
            if (t->type == TL_Q6_K) sum += ad * dw[i] * (float)(sumi - summ);
            else sum += ad * (dw[i] * (float)sumi - dmin[i] * (float)summ);
        }
        out[j] = sum;
    }
}

static void quant_a32_portable(const float *x, tl_block_a32 *y) { tl_quantize_a32(x, y, 32); }
static void quant_k_portable(const float *x, tl_block_q8_K *y) { tl_quantize_q8_K(x, y, TL_QK); }

const tl_qgemm_kernels tl_qgemm_portable = {TL_ISA_PORTABLE,    0,                4,
                                            quant_a32_portable, quant_k_portable, unpack_portable,
                                            dot_b32_portable,   dot_k_portable,   NULL,
                                            0,                  0,                0,
                                            NULL,               NULL};

const tl_qgemm_kernels *tl_qgemm_for(int isa) {
    if (isa > (int)tl_cpu_isa()) return NULL;
#if defined(__x86_64__) || defined(__i386__)
    if (isa >= TL_ISA_AVX512 && __builtin_cpu_supports("avx512vnni")) return &tl_qgemm_vnni512;
    if (isa >= TL_ISA_AVX2) return &tl_qgemm_avx2;
#endif
    return &tl_qgemm_portable;
}

const tl_qgemm_kernels *tl_qgemm_get(void) {
    const tl_qgemm_kernels *k = tl_qgemm_for((int)tl_cpu_isa());
    return k ? k : &tl_qgemm_portable;
}

/* ---- activation packing --------------------------------------------------------- */

/* tokens per group for this activation family and call of T tokens */
static int family_group(const tl_qgemm_kernels *kt, int kquant, int T) {
    if (kquant && kt->dot_k4 && T <= 4) return 4;
    return !kquant && kt->group_b32 ? kt->group_b32 : kt->group;
}

static void pack_layout(const tl_qgemm_kernels *kt, int kquant, tl_qg_acts *a, int T, int64_t k, void *scratch) {
    uint8_t *p = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    a->T = T;
    a->group = family_group(kt, kquant, T);
    a->interleaved = a->group >= 8;
    a->TP = (T + a->group - 1) / a->group * a->group;
    a->k = k;
    a->qs = (int8_t *)p;
    p += QG_ALIGN((size_t)a->TP * k);
    a->d = (float *)p;
    p += QG_ALIGN((size_t)a->TP * (k / 32) * sizeof(float));
    a->bs = (int16_t *)p;
}

/* n values (a multiple of 4) of one token, from value kk0 (a multiple of 4) on, into the pack at
 * rowq (the token's first value); flip: store the values + 128 (as bytes: the top bit flipped) */
static void put_values(const tl_qg_acts *a, int8_t *rowq, int64_t kk0, const int8_t *v, int n, int flip) {
    const uint32_t mask = flip ? 0x80808080u : 0;
    const size_t stride = a->interleaved ? 4 * (size_t)a->group : 4; /* bytes between chunks of 4 values */
    for (int c = 0; c < n; c += 4) {
        uint32_t w;
        memcpy(&w, v + c, 4);
        w ^= mask;
        memcpy(rowq + (size_t)(kk0 + c) / 4 * stride, &w, 4);
    }
}

/* token tok (< TP) of x[T, k] into the pack; padding tokens are zeros */
static void pack_token(const tl_qgemm_kernels *kt, int kquant, const float *x, tl_qg_acts *a, int tok) {
    const int64_t k = a->k;
    const float *xr = x + (size_t)tok * k;
    const int real = tok < a->T, G = a->group, g = tok / G, j = tok % G;
    /* where value kk of this token goes */
    int8_t *rowq = a->interleaved ? a->qs + (size_t)g * k * G + 4 * j : a->qs + (size_t)tok * k;
    if (kquant) {
        const int64_t nsb = k / TL_QK;
        for (int64_t i = 0; i < nsb; i++) {
            tl_block_q8_K b;
            if (real) kt->quant_k(xr + TL_QK * i, &b);
            else memset(&b, 0, sizeof b);
            put_values(a, rowq, TL_QK * i, b.qs, TL_QK, 0);
            a->d[((size_t)g * nsb + i) * G + j] = b.d;
            int16_t *bs = a->bs + ((size_t)g * nsb + i) * 16 * G;
            for (int q = 0; q < 16; q++)
                if (a->interleaved) bs[((q / 2) * G + j) * 2 + q % 2] = b.bsums[q];
                else bs[j * 16 + q] = b.bsums[q];
        }
    } else {
        const int64_t nb = k / 32;
        for (int64_t i = 0; i < nb; i++) {
            tl_block_a32 b;
            if (real) kt->quant_a32(xr + 32 * i, &b);
            else memset(&b, 0, sizeof b);
            put_values(a, rowq, 32 * i, b.qs, 32, kt->acts_u8);
            if (a->interleaved) a->d[((size_t)g * nb + i) * G + j] = b.d;
            else a->d[(size_t)tok * nb + i] = b.d;
        }
    }
}

/* ---- the driver ----------------------------------------------------------------- */

/* bytes of one canonical row of k values */
static size_t tile_row_bytes(int kquant, int abs, int64_t k) {
    return kquant ? (size_t)k + (size_t)(k / 16) * 4 + (size_t)(k / TL_QK) * 8
                  : (size_t)k * (abs ? 2 : 1) + (size_t)(k / 32) * (abs ? 4 : 8);
}

static void tile_layout(tl_qg_tile *t, uint32_t type, int abs, int64_t k, int rows, uint8_t *buf) {
    uint8_t *p = buf;
    t->type = type;
    t->k = k;
    t->n = rows;
    t->q = p;
    p += QG_ALIGN((size_t)rows * k);
    t->aq = NULL;
    if (abs && !tl_qg_is_k(type)) {
        t->aq = p;
        p += QG_ALIGN((size_t)rows * k);
    }
    if (tl_qg_is_k(type)) {
        t->sc = (int16_t *)p;
        p += QG_ALIGN((size_t)rows * (k / 16) * 2);
        t->mn = (int16_t *)p;
        p += QG_ALIGN((size_t)rows * (k / 16) * 2);
        t->d = (float *)p;
        p += QG_ALIGN((size_t)rows * (k / TL_QK) * 4);
        t->dmin = (float *)p;
        t->ws = NULL;
    } else {
        t->sc = t->mn = NULL;
        t->d = (float *)p;
        p += QG_ALIGN((size_t)rows * (k / 32) * 4);
        t->ws = abs ? NULL : (int32_t *)p;
        t->dmin = NULL;
    }
}

/* the tile's rows (up to RT) of matrix i: returns the matrix and first row of tile j */
static int tile_at(int n, const tl_qmat *const *Ws, int RT, int64_t j, int64_t *row0) {
    for (int i = 0; i < n; i++) {
        int64_t tiles = (Ws[i]->rows + RT - 1) / RT;
        if (j < tiles) {
            *row0 = j * RT;
            return i;
        }
        j -= tiles;
    }
    return -1;
}

int tl_qgemm_multi_with(const tl_qgemm_kernels *kt, int n, float *const *outs, const tl_qmat *const *Ws,
                        const float *x, int T, void *scratch) {
    const int64_t k = Ws[0]->cols;
    const int kquant = tl_qg_is_k(Ws[0]->type);
    /* tile rows: as many as fit in the per-thread tile (up to 16; the 64-byte alignment slack
     * of each array is counted) */
    const int abs = !kquant && kt->abs_b32;
    size_t rb = tile_row_bytes(kquant, abs, k);
    int RT = (int)((TL_QGEMM_TILE_BYTES - 7 * 64) / rb);
    if (RT < 1) return -1;
    if (RT > 16) RT = 16;
    if (!kquant && kt->dot_bn && RT > kt->rows_b32) RT -= RT % kt->rows_b32; /* whole dot_bn steps */
    int64_t tiles = 0, total = 0;
    for (int i = 0; i < n; i++) {
        tiles += (Ws[i]->rows + RT - 1) / RT;
        total += Ws[i]->rows;
    }
    tl_qg_acts a;
    pack_layout(kt, kquant, &a, T, k, scratch);
    const int G = a.TP / a.group;
    int nt = tl_kernel_threads(total * k * T);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#pragma omp for schedule(static)
        for (int tok = 0; tok < a.TP; tok++)
            pack_token(kt, kquant, x, &a, tok);
        _Alignas(64) uint8_t buf[TL_QGEMM_TILE_BYTES];
#pragma omp for schedule(static)
        for (int64_t j = 0; j < tiles; j++) {
            int64_t row0 = 0;
            int i = tile_at(n, Ws, RT, j, &row0);
            if (i < 0) continue;
            const tl_qmat *W = Ws[i];
            int rows = (int)(W->rows - row0 < RT ? W->rows - row0 : RT);
            tl_qg_tile t;
            tile_layout(&t, W->type, abs, k, rows, buf);
            for (int r = 0; r < rows; r++)
                kt->unpack(W->data + (size_t)(row0 + r) * W->row_bytes, &t, r);

            float *out = outs[i];
            const int64_t O = W->rows;
            /* the next tile's weights, fetched from memory while this one computes: a share per group */
            const uint8_t *next = NULL;
            size_t next_len = 0;
            if (j + 1 < tiles) {
                int64_t row1 = 0;
                int i1 = tile_at(n, Ws, RT, j + 1, &row1);
                int64_t rows1 = Ws[i1]->rows - row1 < RT ? Ws[i1]->rows - row1 : RT;
                next = Ws[i1]->data + (size_t)row1 * Ws[i1]->row_bytes;
                next_len = (size_t)rows1 * Ws[i1]->row_bytes;
            }
            for (int g = 0; g < G; g++) {
                for (size_t at = next_len * g / G; next && at < next_len * (g + 1) / G; at += 64)
                    __builtin_prefetch(next + at, 0, 2);
                for (int r = 0; r < rows;) {
                    float o[32];
                    int nr = 1;
                    if (kquant && a.group == 4 && kt->dot_k4) kt->dot_k4(&t, r, &a, g, o);
                    else if (kquant && kt->dot_k2 && r + 1 < rows) nr = 2, kt->dot_k2(&t, r, &a, g, o);
                    else if (kquant) kt->dot_k(&t, r, &a, g, o);
                    else if (kt->dot_bn && r + kt->rows_b32 <= rows) nr = kt->rows_b32, kt->dot_bn(&t, r, &a, g, o);
                    else kt->dot_b32(&t, r, &a, g, o);
                    for (int rr = 0; rr < nr; rr++, r++)
                        for (int jj = 0; jj < a.group && a.group * g + jj < T; jj++)
                            out[(size_t)(a.group * g + jj) * O + row0 + r] = o[rr * a.group + jj];
                }
            }
        }
    }
    return 0;
}

int tl_qgemm_multi(int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T, void *scratch) {
    return tl_qgemm_multi_with(tl_qgemm_get(), n, outs, Ws, x, T, scratch);
}
