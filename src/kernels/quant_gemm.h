/*
 * quant_gemm.h: the batched (prefill) quantized matmul, out[T, O] = x[T, I] @ dequant(W)^T for
 * T > 1 tokens, for Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K weights (what Q8_0, Q4_K_M and Q5_K_M files
 * hold; Q5_0 is llama.cpp's fallback for rows that are not whole K-quant blocks). Q5_1 keeps the per-row path.
 *
 * How it differs from the per-row dot products of qmatmul.c (which it replaces for T >= TL_QGEMM_MIN_T):
 *   1. the activation rows are quantized once per call exactly as the dot products do (tl_quantize_a32
 *      for the 32-value types, tl_quantize_q8_K for K-quants) and repacked in groups of 4 tokens (int8
 *      values contiguous per token) or 8 / 16 (interleaved), scales and group sums side by side;
 *   2. each weight row is unpacked once per call into a canonical form held in cache (a tile of a few
 *      rows): one byte per value in activation order (Q8_0 / Q4_0 / Q5_0: signed, q - 8 for Q4_0, q - 16 for Q5_0; K-quants:
 *      unsigned 0..63 with Q6_K's -32 moved into an offset term), an int16 scale per 16 values and an
 *      int16 offset multiplier per 16 values (Q4_K / Q5_K: the 6-bit min; Q6_K: 32 x scale);
 *   3. a micro-kernel dots canonical rows against a group of tokens with the integer instructions
 *      (AVX2: vpmaddubsw + vpmaddwd, 8 tokens in vector lanes: 4 rows at a time for the 32-value types,
 *      2 for K-quants, and for K-quant calls of T <= 4 tokens 1 row x 4 tokens in the rows layout;
 *      AVX-512 VNNI: vpdpbusd / vpmaddubsw + vpdpwssd, 16 tokens in lanes), so a
 *      weight block is unpacked once for the whole batch and read from cache once per group.
 * Threads split the output rows (of all matrices of a _multi call together) into tiles.
 *
 * Numerics. The integer sum of every block (32-value types) or super-block (K-quants) is exact, and
 * the float expression per block and the order over blocks are the portable dot product's
 * (qmatmul.c), so every table's result is bit-identical to tl_qdot_portable's (test_quant_gemm).
 */
#ifndef TL_KERNELS_QUANT_GEMM_H
#define TL_KERNELS_QUANT_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

/* From this many tokens on, tl_qmatmul / tl_qmatmul_multi use the batched kernel. */
#define TL_QGEMM_MIN_T 2
/* the canonical tile of unpacked weight rows lives on each thread's stack: this many bytes */
#define TL_QGEMM_TILE_BYTES (96 * 1024)

/* Packed activations of T tokens in groups of G tokens (TP = T rounded up to a whole group,
 * padding tokens zero). Two layouts, chosen by the kernel table (per activation family):
 *   rows (G = 4):          qs [TP][k]; d 32-value types [TP][k/32], K-quants [TP/4][k/256][4];
 *                          bs [TP/4][k/256][4][16] sums of 16 values;
 *   interleaved (G 8, 16): qs [TP/G][k/4][G][4] (4 consecutive values of each of G tokens side by side,
 *                          so that one vector holds G tokens); d [TP/G][k/32 or k/256][G];
 *                          bs [TP/G][k/256][8][G][2] (sums of groups 2p and 2p+1 of each token). */
typedef struct {
    int T, TP, group, interleaved;
    int64_t k;
    int8_t *qs;    /* int8 values (u8 = value + 128 when the table asks for it) */
    float *d;
    int16_t *bs;   /* K-quants only */
} tl_qg_acts;

/* Canonical weight rows of one tile (rows r < n of one matrix). */
typedef struct {
    uint32_t type;
    int64_t k;
    int n;
    uint8_t *q;   /* [n][k] */
    int16_t *sc;  /* K-quants: [n][k / 16] */
    int16_t *mn;  /* K-quants: [n][k / 16] */
    float *d;     /* [n][k / 32] (32-value types) or [n][k / 256] */
    float *dmin;  /* K-quants: [n][k / 256] */
    int32_t *ws;  /* 32-value types, tables without abs_b32: [n][k / 32] sums of each block's values; else NULL */
    uint8_t *aq;  /* 32-value types, tables with abs_b32: [n][k] |values| (|-128| = 128); else NULL */
} tl_qg_tile;

/* One ISA's kernels. */
typedef struct {
    int isa;      /* tl_isa */
    int acts_u8;  /* the 32-value kernels want activations as unsigned value + 128 */
    int group;    /* tokens per dot call: 4 (rows layout; the portable table) or 8, 16 (interleaved layout) */
    /* one block of activations, bit-identical to tl_quantize_a32 (32 values) / tl_quantize_q8_K (256) */
    void (*quant_a32)(const float *x, tl_block_a32 *y);
    void (*quant_k)(const float *x, tl_block_q8_K *y);
    /* unpack weight row `row` (k values of `type`) into row r of the tile */
    void (*unpack)(const uint8_t *row, tl_qg_tile *t, int r);
    /* out[j] = (canonical row r) . (token group * g + j), j < group */
    void (*dot_b32)(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out);
    void (*dot_k)(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out);
    /* rows r and r + 1 at once (each activation vector loaded once for both; long rows then stream
     * half as many bytes from L2): out[0..group) row r, out[group..2 group) row r + 1; or NULL */
    void (*dot_k2)(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out);
    /* 32-value types only, when nonzero: their tokens per group (else `group`), and dot_bn, rows
     * r .. r + rows_b32 - 1 at once (out[rr * group_b32 + j]; rows_b32 x group_b32 <= 32); abs_b32:
     * the tile holds |values| (aq) instead of block sums (ws); unpack fills whichever is there */
    int group_b32, rows_b32, abs_b32;
    void (*dot_bn)(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out);
    /* K-quants, calls of T <= 4 tokens, when nonzero: 1 row x 4 tokens in the rows layout (group 4),
     * where a wider group would be mostly padding */
    void (*dot_k4)(const tl_qg_tile *t, int r, const tl_qg_acts *a, int g, float *out);
} tl_qgemm_kernels;

extern const tl_qgemm_kernels tl_qgemm_portable;
extern const tl_qgemm_kernels tl_qgemm_avx2;
extern const tl_qgemm_kernels tl_qgemm_vnni512;
/* The table for an ISA (NULL when the CPU lacks it; AVX-512 without VNNI gets AVX2's), the one in use. */
const tl_qgemm_kernels *tl_qgemm_for(int isa);
const tl_qgemm_kernels *tl_qgemm_get(void);

/* Does the batched kernel take weights of this type (Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K)? */
int tl_qgemm_supported(uint32_t type);
/* Bytes of scratch for T tokens of `cols` values (64-byte aligned by the caller). */
size_t tl_qgemm_scratch(int T, int64_t cols);
/* outs[i][T, Ws[i]->rows] = x[T, cols] @ dequant(Ws[i])^T for n matrices of the same cols, all of one
 * activation family (all K-quants or all 32-value types) and supported. Returns 0, or -1 (nothing
 * written) when a row is too long for the tile. Threads: OpenMP over row tiles. */
int tl_qgemm_multi_with(const tl_qgemm_kernels *k, int n, float *const *outs, const tl_qmat *const *Ws,
                        const float *x, int T, void *scratch);
int tl_qgemm_multi(int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T, void *scratch);

/* helpers shared by the ISA files */
static inline int tl_qg_is_k(uint32_t type) { return type == TL_Q4_K || type == TL_Q5_K || type == TL_Q6_K; }

#endif /* TL_KERNELS_QUANT_GEMM_H */
