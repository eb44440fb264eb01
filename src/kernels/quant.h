/*
 * quant.h: ggml's quantized block formats (Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K),
 * their dequantization and reference quantization, and the matmul that multiplies a
 * quantized weight matrix with f32 activations.
 *
 * Block layouts are byte-for-byte ggml's (ggml-common.h), so a GGUF tensor's data is
 * used in place. All blocks are little-endian and byte-packed; d/dmin are IEEE halves.
 *   Q8_0  32 values, 34 B: d; int8 qs[32].                         x = d * q
 *   Q4_0  32 values, 18 B: d; qs[16] (low nibbles = 0..15, high = 16..31).  x = d * (q - 8)
 *   Q5_0  32 values, 22 B: d; qh[4] (bit j = 5th bit of value j); qs[16].   x = d * (q - 16)
 *   Q5_1  32 values, 24 B: d, m; qh[4]; qs[16].                             x = d * q + m
 *   Q4_K 256 values, 144 B: d, dmin; scales[12] (8 x 6-bit scale + 8 x 6-bit min);
 *        qs[128] (per 64 values: 32 low nibbles, then 32 high).  x = d*sc*q - dmin*m
 *   Q5_K 256 values, 176 B: d, dmin; scales[12]; qh[32]; qs[128].  as Q4_K with a 5th bit
 *   Q6_K 256 values, 210 B: ql[128]; qh[64]; int8 scales[16]; d.   x = d * sc * (q - 32)
 * Dequantization follows ggml's reference formulas operation for operation in float
 * (so results are bit-identical); quantization follows ggml's reference quantizers
 * (quantize_row_*_ref: what llama-quantize does without an importance matrix).
 *
 * The matmul quantizes each activation row as ggml does for the dot product — to
 * 32-value int8 blocks for the Q8_0, Q4_0, Q5_0 and Q5_1 types, to 256-value Q8_K blocks for K-quants —
 * and accumulates integer dot products per block; one ISA table (portable C, AVX2,
 * AVX-512) chosen at run time as the f32 kernels are (TILLER_ISA caps it).
 * Tolerance between tables: the integer dot products per block are exact in every table; the
 * portable code then sums floats one block at a time, the SIMD kernels in vector lanes with one
 * FMA per block, so a table's output may differ from the portable one by rounding: at most
 * 1e-6 x sum_i |w_i a_i| (test_quant checks it; seen: below 1e-7).
 */
#ifndef TL_KERNELS_QUANT_H
#define TL_KERNELS_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* ggml type ids (as stored in GGUF) of the formats tiller computes with. */
enum {
    TL_Q_F32 = 0,
    TL_Q_F16 = 1,
    TL_Q4_0 = 2,
    TL_Q5_0 = 6,
    TL_Q5_1 = 7,
    TL_Q8_0 = 8,
    TL_Q4_K = 12,
    TL_Q5_K = 13,
    TL_Q6_K = 14,
    TL_Q8_K = 15,
    TL_Q_BF16 = 30,
};

#define TL_QK 256 /* values per K-quant super-block */

typedef struct {
    uint16_t d;
    int8_t qs[32];
} tl_block_q8_0;
typedef struct {
    uint16_t d;
    uint8_t qs[16];
} tl_block_q4_0;
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[16];
} tl_block_q5_0;
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} tl_block_q5_1;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[128];
} tl_block_q4_K;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[32];
    uint8_t qs[128];
} tl_block_q5_K;
typedef struct {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];
    uint16_t d;
} tl_block_q6_K;
/* activations for K-quant dot products (ggml's block_q8_K) */
typedef struct {
    float d;
    int8_t qs[256];
    int16_t bsums[16]; /* sums of qs in groups of 16 */
} tl_block_q8_K;
/* activations for the 32-value types: tiller's own (never stored in files) */
typedef struct {
    float d;
    int32_t sum; /* sum of qs, for the offset of Q5_1 */
    int8_t qs[32];
} tl_block_a32;

/* Is `type` one tiller dequantizes / multiplies (the list above, not F32/F16/BF16)? */
int tl_q_supported(uint32_t type);
/* Values per block (1 for F32/F16/BF16) and bytes per block; 0 for unknown types. */
int tl_q_block_size(uint32_t type);
size_t tl_q_block_bytes(uint32_t type);
/* Bytes of one row of n values (n a multiple of the block size). */
size_t tl_q_row_bytes(uint32_t type, int64_t n);
/* Can tiller write this type (tl_quantize_row)? Q8_0, Q4_0, Q4_K, Q5_K, Q6_K. */
int tl_q_can_quantize(uint32_t type);

/* Index of the first of nb blocks of a quantized type whose f16 scale or min is not finite, or -1. */
int64_t tl_q_first_bad_scale(uint32_t type, const void *data, int64_t nb);
/* Dequantize n values (a multiple of the block size) of F32/F16/BF16 or a quantized type. */
void tl_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
/* ggml's reference quantizer for Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, Q8_K (n a multiple of the block). */
void tl_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* A quantized matrix [rows, cols] stored row after row (row_bytes each). */
typedef struct {
    uint32_t type;
    const uint8_t *data;
    int64_t rows, cols;
    size_t row_bytes;
} tl_qmat;

/* Bytes of activation scratch tl_qmatmul needs for T rows of `cols` values of any type. */
size_t tl_qmatmul_scratch(int T, int64_t cols);
/* out[t, o] = x[t, :] . dequant(W[o, :]) for t < T, o < W->rows, with x quantized to
 * int8 blocks first (see above). shapes: out [T, rows], x [T, cols]; scratch of
 * tl_qmatmul_scratch(T, cols) bytes, 64-byte aligned. Threads: OpenMP over rows. */
void tl_qmatmul(float *out, const float *x, int T, const tl_qmat *W, void *scratch);
/* The same for several matrices sharing x (q/k/v, gate/up): one quantization of x. */
void tl_qmatmul_multi(int n, float *const *outs, const tl_qmat *const *Ws, const float *x, int T, void *scratch);

/* One token's rows on the calling thread (decode splits a matrix's rows over its own threads,
 * model/decode.c): the activation row x [cols] quantized for weights of `type` into acts
 * (tl_qmatmul_scratch(1, cols) bytes), then out[o] for o in [o0, o1) from it, the same bits as
 * tl_qmatmul with T = 1 for any split of the rows. Two types share a quantized row when
 * tl_qmatmul_act_kind says the same. */
int tl_qmatmul_act_kind(uint32_t type);
void tl_qmatmul_acts1(uint32_t type, const float *x, int64_t cols, void *acts);
void tl_qmatmul_rows1(float *out, const tl_qmat *W, const void *acts, int64_t o0, int64_t o1);

/* ---- internals shared by the ISA files ------------------------------------- */

/* One ISA's dot products: weight row (n values) . quantized activation row. */
typedef struct {
    int isa; /* tl_isa */
    float (*q8_0)(int n, const void *w, const tl_block_a32 *a);
    float (*q4_0)(int n, const void *w, const tl_block_a32 *a);
    float (*q5_0)(int n, const void *w, const tl_block_a32 *a);
    float (*q5_1)(int n, const void *w, const tl_block_a32 *a);
    float (*q4_K)(int n, const void *w, const tl_block_q8_K *a);
    float (*q5_K)(int n, const void *w, const tl_block_q8_K *a);
    float (*q6_K)(int n, const void *w, const tl_block_q8_K *a);
    /* Decode (one activation row): out[r] = row r . a for rows [0, nrows) of a `type` matrix,
     * several rows at a time (sharing the activation loads); returns 0, computing nothing, for a
     * type it has no such kernel for. NULL when the table has none at all. */
    int (*rows)(uint32_t type, int n, const uint8_t *w, size_t row_bytes, int64_t nrows, const void *a, float *out);
    /* tl_quantize_q8_K, bit for bit, vectorised; NULL: the portable one */
    void (*quantize_q8_K)(const float *x, tl_block_q8_K *y, int64_t n);
} tl_qdot;
extern const tl_qdot tl_qdot_portable;
extern const tl_qdot tl_qdot_avx2;
extern const tl_qdot tl_qdot_vnni512; /* AVX-512 + VNNI (quant_vnni512.c) */
/* The table for an ISA (NULL when the CPU lacks it) and the one in use. */
const tl_qdot *tl_qdot_for(int isa);
const tl_qdot *tl_qdot_get(void);
/* The matmul with a given table (tests compare tables). */
void tl_qmatmul_with(const tl_qdot *k, float *out, const float *x, int T, const tl_qmat *W, void *scratch);

/* Activation quantizers (portable; also used by the tests). */
void tl_quantize_a32(const float *x, tl_block_a32 *y, int64_t n);
void tl_quantize_q8_K(const float *x, tl_block_q8_K *y, int64_t n);

/* the 6-bit scale and min of sub-block j of a Q4_K/Q5_K super-block */
static inline void tl_q_scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

#endif /* TL_KERNELS_QUANT_H */
