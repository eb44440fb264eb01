/* test_quant_gemm.c: the batched quantized matmul (kernels/quant_gemm.c) against the per-row dot
 * products of the portable table (qmatmul.c), on random blocks of Q8_0, Q4_0, Q5_0, Q4_K, Q5_K and Q6_K
 * (half the rows from the reference quantizer, half random bytes with finite scales, so every
 * nibble, high bit, scale and min occurs), ragged sizes (rows not a multiple of the tile, tokens
 * not a multiple of 4 or 8, rows not a multiple of the AVX2 table's 4-row step, an odd number of
 * 32-value blocks), on every ISA table the CPU has — the AVX2 table is run on an AVX-512 machine
 * through tl_qgemm_for(TL_ISA_AVX2):
 *   - every type on every table: bit-identical to the portable per-row kernel (random bytes give
 *     Q8_0 weights of -128, whose |w| the AVX2 sign trick must take as 128);
 *   - each table's activation quantizers are bit-identical to the reference ones;
 *   - a _multi call equals one call per matrix, 1 and 2 threads give the same bits, and
 *     tl_qmatmul routes T >= TL_QGEMM_MIN_T to the batched kernel. */
#include <omp.h>
#include <string.h>

#include "base/base.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_gemm.h"
#include "testlib.h"

static const char *type_name(uint32_t t) {
    switch (t) {
    case TL_Q8_0: return "Q8_0";
    case TL_Q4_0: return "Q4_0";
    case TL_Q5_0: return "Q5_0";
    case TL_Q4_K: return "Q4_K";
    case TL_Q5_K: return "Q5_K";
    case TL_Q6_K: return "Q6_K";
    default: return "?";
    }
}

/* rows x k weights of `type`: even rows quantized from normals, odd rows random bytes whose f16
 * scales are set to small finite values */
static uint8_t *random_weights(tl_rng *rng, uint32_t type, int rows, int k) {
    size_t rb = tl_q_row_bytes(type, k), bb = tl_q_block_bytes(type);
    uint8_t *w = tl_malloc(rb * rows);
    float *f = tl_malloc(sizeof(float) * k);
    for (int r = 0; r < rows; r++) {
        uint8_t *row = w + rb * r;
        if (r % 2 == 0 && tl_q_can_quantize(type)) {
            for (int i = 0; i < k; i++)
                f[i] = tl_rng_normal(rng) * 0.05f * (i % 61 == 0 ? 8.0f : 1.0f);
            tl_quantize_row(type, f, row, k);
            continue;
        }
        for (size_t i = 0; i < rb; i++)
            row[i] = (uint8_t)(tl_rng_u64(rng) & 0xff);
        for (size_t b = 0; b < rb / bb; b++) {
            uint8_t *blk = row + b * bb;
            uint16_t d = tl_f32_to_f16(0.001f + 0.01f * tl_rng_float(rng));
            uint16_t m = tl_f32_to_f16(0.002f * tl_rng_float(rng));
            if (type == TL_Q6_K) memcpy(blk + offsetof(tl_block_q6_K, d), &d, 2);
            else memcpy(blk, &d, 2);
            if (type == TL_Q4_K || type == TL_Q5_K) memcpy(blk + 2, &m, 2);
            if (type == TL_Q8_0) blk[2 + b % 32] = 0x80; /* a -128 in every block */
        }
    }
    tl_free(f);
    return w;
}

static void test_type(uint32_t type, int k) {
    const int O = 37, Ts[] = {2, 3, 5, 8, 12, 13, 21, 40};
    tl_rng rng;
    tl_rng_seed(&rng, 100 + type);
    uint8_t *w = random_weights(&rng, type, O, k);
    tl_qmat W = {type, w, O, k, tl_q_row_bytes(type, k)};
    for (size_t ti = 0; ti < sizeof Ts / sizeof *Ts; ti++) {
        int T = Ts[ti];
        float *x = tl_malloc(sizeof(float) * T * k), *ref = tl_malloc(sizeof(float) * T * O);
        float *got = tl_malloc(sizeof(float) * T * O);
        for (int i = 0; i < T * k; i++)
            x[i] = tl_rng_normal(&rng) * (i % 53 == 0 ? 6.0f : 1.0f);
        void *scratch = tl_malloc_aligned(tl_qmatmul_scratch(T, k));
        tl_qmatmul_with(&tl_qdot_portable, ref, x, T, &W, scratch); /* the per-row reference */
        for (int isa = TL_ISA_PORTABLE; isa <= (int)tl_cpu_isa(); isa++) {
            const tl_qgemm_kernels *kt = tl_qgemm_for(isa);
            if (isa > TL_ISA_PORTABLE && kt == &tl_qgemm_portable) continue;
            const char *name = kt == &tl_qgemm_vnni512 ? "avx512vnni" : tl_isa_name(kt->isa);
            memset(got, 0xff, sizeof(float) * T * O);
            float *outs[1] = {got};
            const tl_qmat *Ws[1] = {&W};
            CHECK(tl_qgemm_multi_with(kt, 1, outs, Ws, x, T, scratch) == 0, "%s %s: refused", type_name(type), name);
            size_t diff = 0;
            for (int i = 0; i < T * O; i++)
                diff += memcmp(&got[i], &ref[i], 4) != 0;
            CHECK(diff == 0, "%s %s T=%d k=%d: %zu of %d outputs differ from the per-row portable kernel",
                  type_name(type), name, T, k, diff, T * O);
            if (T == 40) printf("%s %-10s k=%4d: bit-identical to the per-row portable kernel (T=2..40)\n",
                                type_name(type), name, k);
        }
        /* routing: tl_qmatmul uses the batched kernel of the CPU's table */
        float *routed = tl_malloc(sizeof(float) * T * O);
        tl_qmatmul(routed, x, T, &W, scratch);
        float *outs[1] = {got};
        const tl_qmat *Ws[1] = {&W};
        tl_qgemm_multi_with(tl_qgemm_get(), 1, outs, Ws, x, T, scratch);
        CHECK(memcmp(routed, got, sizeof(float) * T * O) == 0, "%s T=%d: tl_qmatmul is not the batched kernel",
              type_name(type), T);
        tl_free(routed);
        tl_free_aligned(scratch);
        tl_free(x);
        tl_free(ref);
        tl_free(got);
    }
    tl_free(w);
}

/* q/k/v-like: three matrices of one type family in one call, thread counts 1 and 2 */
static void test_multi(uint32_t type, int k) {
    const int T = 7, Os[3] = {45, 16, 3};
    tl_rng rng;
    tl_rng_seed(&rng, 7 + type);
    uint8_t *w[3];
    tl_qmat W[3];
    float *one[3], *multi[3], *multi1[3];
    for (int i = 0; i < 3; i++) {
        w[i] = random_weights(&rng, type, Os[i], k);
        W[i] = (tl_qmat){type, w[i], Os[i], k, tl_q_row_bytes(type, k)};
        one[i] = tl_malloc(sizeof(float) * T * Os[i]);
        multi[i] = tl_malloc(sizeof(float) * T * Os[i]);
        multi1[i] = tl_malloc(sizeof(float) * T * Os[i]);
    }
    float *x = tl_malloc(sizeof(float) * T * k);
    for (int i = 0; i < T * k; i++)
        x[i] = tl_rng_normal(&rng);
    void *scratch = tl_malloc_aligned(tl_qmatmul_scratch(T, k));
    const tl_qmat *Ws[3] = {&W[0], &W[1], &W[2]};
    for (int i = 0; i < 3; i++)
        tl_qgemm_multi(1, &one[i], &Ws[i], x, T, scratch);
    int saved = omp_get_max_threads();
    omp_set_num_threads(2);
    tl_qmatmul_multi(3, multi, Ws, x, T, scratch);
    omp_set_num_threads(1);
    tl_qmatmul_multi(3, multi1, Ws, x, T, scratch);
    omp_set_num_threads(saved);
    for (int i = 0; i < 3; i++) {
        CHECK(memcmp(one[i], multi[i], sizeof(float) * T * Os[i]) == 0, "%s: multi matrix %d differs from one call",
              type_name(type), i);
        CHECK(memcmp(multi1[i], multi[i], sizeof(float) * T * Os[i]) == 0, "%s: 1 and 2 threads differ (matrix %d)",
              type_name(type), i);
        tl_free(w[i]);
        tl_free(one[i]);
        tl_free(multi[i]);
        tl_free(multi1[i]);
    }
    tl_free(x);
    tl_free_aligned(scratch);
}

/* each table's activation quantizers against tl_quantize_a32 / tl_quantize_q8_K, bit for bit, on
 * normal rows, rows with an outlier, rows whose scaled values sit exactly on rounding ties, and zeros */
static void test_act_quant(void) {
    tl_rng rng;
    tl_rng_seed(&rng, 5);
    float x[TL_QK];
    for (int isa = TL_ISA_PORTABLE; isa <= (int)tl_cpu_isa(); isa++) {
        const tl_qgemm_kernels *kt = tl_qgemm_for(isa);
        size_t bad = 0;
        for (int trial = 0; trial < 200; trial++) {
            int kind = trial % 4;
            for (int i = 0; i < TL_QK; i++) {
                if (kind == 0) x[i] = tl_rng_normal(&rng);
                else if (kind == 1) x[i] = tl_rng_normal(&rng) * (i == trial % TL_QK ? 50.0f : 0.01f);
                else if (kind == 2) x[i] = 0.5f * (float)((int)tl_rng_below(&rng, 255) - 127); /* halves */
                else x[i] = 0.0f;
            }
            if (kind == 2) { /* scales of exactly 1: amax 127 (a32), max -127 (q8_K) on the first block */
                x[5] = 127.0f;
                x[9] = -127.0f;
                x[3] = -127.0f;
            }
            tl_block_q8_K kr, kg;
            tl_quantize_q8_K(x, &kr, TL_QK);
            kt->quant_k(x, &kg);
            bad += memcmp(&kr, &kg, sizeof kr) != 0;
            for (int b = 0; b < TL_QK / 32; b++) {
                tl_block_a32 ar, ag;
                tl_quantize_a32(x + 32 * b, &ar, 32);
                kt->quant_a32(x + 32 * b, &ag);
                bad += memcmp(&ar, &ag, sizeof ar) != 0;
            }
        }
        CHECK(bad == 0, "isa %s: %zu activation blocks differ from the reference quantizers", tl_isa_name(isa), bad);
        printf("activation quantizers, %s table: 200 x (1 q8_K + 8 a32) blocks bit-identical: %s\n",
               tl_isa_name(kt->isa), bad ? "NO" : "yes");
    }
}

int main(void) {
    printf("cpu table: %s\n", tl_qgemm_get() == &tl_qgemm_vnni512 ? "avx512vnni" : tl_isa_name(tl_cpu_isa()));
    test_act_quant();
    test_type(TL_Q8_0, 288); /* 9 blocks: an odd tail for the two-block VNNI step */
    test_type(TL_Q8_0, 1024);
    test_type(TL_Q4_0, 288);
    test_type(TL_Q4_0, 768);
    test_type(TL_Q5_0, 288);
    test_type(TL_Q4_K, 768);
    test_type(TL_Q5_K, 512);
    test_type(TL_Q6_K, 768);
    test_multi(TL_Q8_0, 320);
    test_multi(TL_Q4_K, 512);
    test_multi(TL_Q6_K, 256);
    return tl_test_done();
}
