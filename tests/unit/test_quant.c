/* test_quant.c: ggml block formats.
 *   - dequantization of random blocks of Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K is
 *     bit-identical to the numpy oracle written from the format spec
 *     (tests/oracle/quant_ref.py -> tests/golden/quant/dequant.bin);
 *   - quantization is bit-identical to ggml's own quantizer on the same random rows
 *     (tests/golden/quant/ggml_quant.bin, made with llama.cpp's libggml: see README there);
 *   - quantize -> dequantize errors are within each format's resolution;
 *   - the quantized matmul equals an f64 dot of the dequantized weights with the
 *     dequantized int8 activations, on every ISA table the CPU has (row lengths of 1, 2, 3
 *     and 5 super-blocks, odd row counts), and every table agrees with the portable kernels
 *     within 1e-6 of sum |w_i a_i| (the SIMD kernels sum floats in vector lanes, in another
 *     order; the integer dot products per block are exact in all of them);
 *   - decode's multi-row kernels give each row the same bits as the one-row dot products. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "base/base.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "testlib.h"

static uint32_t rd32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static void test_dequant_golden(void) {
    char *rawc = NULL;
    size_t size;
    CHECK_OK(tl_file_read_all("tests/golden/quant/dequant.bin", &rawc, &size));
    uint8_t *raw = (uint8_t *)rawc;
    if (!raw) return;
    CHECK(size > 12 && rd32(raw) == 0x51444c54 && rd32(raw + 4) == 1, "bad golden header");
    uint32_t n_types = rd32(raw + 8);
    size_t at = 12;
    for (uint32_t k = 0; k < n_types && at + 16 <= size; k++) {
        uint32_t type = rd32(raw + at), nb = rd32(raw + at + 4), bb = rd32(raw + at + 8), bv = rd32(raw + at + 12);
        at += 16;
        CHECK(tl_q_block_bytes(type) == bb && (uint32_t)tl_q_block_size(type) == bv, "type %u: block %u B / %u values",
              type, bb, bv);
        size_t n = (size_t)nb * bv;
        float *got = tl_malloc(n * sizeof *got);
        tl_dequantize_row(type, raw + at, got, (int64_t)n);
        const float *want = (const float *)(raw + at + (size_t)nb * bb); /* golden is 4-aligned? copy to be safe */
        size_t mism = 0;
        for (size_t i = 0; i < n; i++) {
            float w;
            memcpy(&w, (const uint8_t *)want + 4 * i, 4);
            uint32_t a, b;
            memcpy(&a, &got[i], 4);
            memcpy(&b, &w, 4);
            mism += a != b;
        }
        CHECK(mism == 0, "%s: %zu of %zu values differ from the numpy oracle", type == 8 ? "Q8_0" : "type", mism, n);
        printf("dequant type %u: %zu values bit-identical to the oracle: %s\n", type, n, mism ? "NO" : "yes");
        at += (size_t)nb * bb + n * 4;
        tl_free(got);
    }
    CHECK(at == size, "golden: %zu bytes parsed of %zu", at, size);
    tl_free(raw);
}

/* ggml's quantizer output on the same input (made outside the repo with llama.cpp's libggml-base) */
static void test_quant_golden(void) {
    const char *path = "tests/golden/quant/ggml_quant.bin";
    char *rawc = NULL;
    size_t size;
    CHECK_OK(tl_file_read_all(path, &rawc, &size));
    uint8_t *raw = (uint8_t *)rawc;
    if (!raw) return;
    /* u32 magic "TLGQ", u32 n_types, u32 n_values; f32 x[n_values]; per type: u32 type, u32 bytes, data */
    CHECK(rd32(raw) == 0x51474c54, "bad magic");
    uint32_t n_types = rd32(raw + 4), n = rd32(raw + 8);
    float *x = tl_malloc((size_t)n * sizeof *x);
    memcpy(x, raw + 12, (size_t)n * 4);
    size_t at = 12 + (size_t)n * 4;
    for (uint32_t k = 0; k < n_types; k++) {
        uint32_t type = rd32(raw + at), bytes = rd32(raw + at + 4);
        at += 8;
        CHECK(bytes == tl_q_row_bytes(type, n), "type %u: %u bytes", type, bytes);
        uint8_t *mine = tl_malloc(bytes);
        tl_quantize_row(type, x, mine, n);
        size_t diff = 0;
        for (uint32_t i = 0; i < bytes; i++)
            diff += mine[i] != raw[at + i];
        CHECK(diff == 0, "type %u: %zu of %u bytes differ from ggml's quantizer", type, diff, bytes);
        printf("quantize type %u: %u bytes, %zu differ from ggml's quantizer\n", type, bytes, diff);
        at += bytes;
        tl_free(mine);
    }
    tl_free(x);
    tl_free(raw);
}

static void test_roundtrip(void) {
    const uint32_t types[] = {TL_Q8_0, TL_Q4_0, TL_Q4_K, TL_Q5_K, TL_Q6_K};
    /* worst |x - dq(q(x))| / max|x| per 32 values: about half a step of each format */
    const double tol[] = {0.5 / 127 + 1e-3, 1.0 / 8 + 1e-3, 0.1, 0.05, 0.025}; /* Q4_0: -max maps to -7/8 max */
    const int n = 1024;
    float x[1024], y[1024];
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (int i = 0; i < n; i++)
        x[i] = tl_rng_normal(&rng) * (i % 97 == 0 ? 5.0f : 1.0f);
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        uint8_t buf[2048];
        tl_quantize_row(types[k], x, buf, n);
        tl_dequantize_row(types[k], buf, y, n);
        double worst = 0, se = 0, sx = 0;
        for (int i = 0; i < n; i++) {
            double e = fabs((double)x[i] - y[i]);
            se += e * e;
            sx += (double)x[i] * x[i];
            int b0 = i / 32 * 32;
            double amax = 0;
            for (int j = b0; j < b0 + 32; j++)
                amax = fmax(amax, fabs(x[j]));
            worst = fmax(worst, e / amax);
        }
        CHECK(worst <= tol[k], "type %u: worst relative error %.4f > %.4f", types[k], worst, tol[k]);
        printf("roundtrip type %u: rms error / rms %.4f, worst per-32 relative %.4f\n", types[k], sqrt(se / sx), worst);
    }
}

static void test_matmul_shape(int O, int I, int T) {
    const uint32_t types[] = {TL_Q8_0, TL_Q4_0, TL_Q5_0, TL_Q5_1, TL_Q4_K, TL_Q5_K, TL_Q6_K};
    tl_rng rng;
    tl_rng_seed(&rng, 11);
    float *w = tl_malloc(sizeof(float) * O * I), *x = tl_malloc(sizeof(float) * T * I);
    float *wd = tl_malloc(sizeof(float) * O * I), *xd = tl_malloc(sizeof(float) * T * I);
    float *out = tl_malloc(sizeof(float) * T * O), *out_p = tl_malloc(sizeof(float) * T * O);
    for (int i = 0; i < O * I; i++)
        w[i] = tl_rng_normal(&rng) * 0.05f;
    for (int i = 0; i < T * I; i++)
        x[i] = tl_rng_normal(&rng);
    uint8_t *wq = tl_malloc(tl_q_row_bytes(TL_Q8_0, I) * O * 2);
    void *scratch = tl_malloc_aligned(tl_qmatmul_scratch(T, I));
    tl_block_q8_K *ak = tl_malloc(sizeof(tl_block_q8_K) * (I / TL_QK + 1));
    tl_block_a32 *a32 = tl_malloc(sizeof(tl_block_a32) * (I / 32));
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        uint32_t t = types[k];
        int kq = t == TL_Q4_K || t == TL_Q5_K || t == TL_Q6_K;
        if (I % tl_q_block_size(t)) continue;
        size_t rb = tl_q_row_bytes(t, I);
        if (t == TL_Q5_0 || t == TL_Q5_1) { /* no quantizer: random bytes with sane scales */
            for (size_t i = 0; i < rb * O; i++)
                wq[i] = (uint8_t)(tl_rng_u64(&rng) & 0xff);
            for (int b = 0; b < O * I / 32; b++) {
                uint16_t d = tl_f32_to_f16(0.01f), m = tl_f32_to_f16(-0.1f);
                memcpy(wq + (size_t)b * tl_q_block_bytes(t), &d, 2);
                if (t == TL_Q5_1) memcpy(wq + (size_t)b * tl_q_block_bytes(t) + 2, &m, 2);
            }
        } else {
            for (int o = 0; o < O; o++)
                tl_quantize_row(t, w + o * I, wq + o * rb, I);
        }
        for (int o = 0; o < O; o++)
            tl_dequantize_row(t, wq + o * rb, wd + o * I, I);
        /* the activations as the kernel sees them */
        for (int r = 0; r < T; r++) {
            if (kq) {
                tl_quantize_q8_K(x + r * I, ak, I);
                tl_dequantize_row(TL_Q8_K, ak, xd + r * I, I);
            } else {
                tl_quantize_a32(x + r * I, a32, I);
                for (int b = 0; b < I / 32; b++)
                    for (int j = 0; j < 32; j++)
                        xd[r * I + b * 32 + j] = a32[b].d * a32[b].qs[j];
            }
        }
        tl_qmat W = {t, wq, O, I, rb};
        tl_qmatmul_with(&tl_qdot_portable, out_p, x, T, &W, scratch);
        for (int isa = TL_ISA_PORTABLE; isa <= (int)tl_cpu_isa(); isa++) {
            const tl_qdot *kd = tl_qdot_for(isa);
            tl_qmatmul_with(kd, out, x, T, &W, scratch);
            double worst = 0, worst_p = 0;
            for (int r = 0; r < T; r++)
                for (int o = 0; o < O; o++) {
                    double ref = 0, scale = 0;
                    for (int i = 0; i < I; i++) {
                        ref += (double)wd[o * I + i] * xd[r * I + i];
                        scale += fabs((double)wd[o * I + i] * xd[r * I + i]);
                    }
                    worst = fmax(worst, fabs(out[r * O + o] - ref) / (scale + 1e-30));
                    worst_p = fmax(worst_p, fabs(out[r * O + o] - out_p[r * O + o]) / (scale + 1e-30));
                }
            CHECK(worst < 1e-5, "type %u isa %s, %d x %d: relative error %.3g against the f64 reference", t,
                  tl_isa_name(isa), O, I, worst);
            CHECK(worst_p < 1e-6, "type %u isa %s, %d x %d: differs from portable by %.3g of sum|terms|", t,
                  tl_isa_name(isa), O, I, worst_p);
            CHECK(isa != TL_ISA_PORTABLE || worst_p == 0, "portable table differs from itself");
            printf("qmatmul type %u %s %d x %d: max error / sum|terms| %.2e, vs portable %.2e\n", t, tl_isa_name(isa), O,
                   I, worst, worst_p);
        }
    }
    tl_free(w);
    tl_free(x);
    tl_free(wd);
    tl_free(xd);
    tl_free(out);
    tl_free(out_p);
    tl_free(wq);
    tl_free(ak);
    tl_free(a32);
    tl_free_aligned(scratch);
}

static void test_matmul(void) {
    test_matmul_shape(13, 512, 3);
    test_matmul_shape(7, 768, 1);
    test_matmul_shape(5, 256, 2);
    test_matmul_shape(9, 1280, 1);
    test_matmul_shape(3, 288, 1); /* 9 blocks of 32: an odd count for the two-block Q8_0 kernels */
    test_matmul_shape(11, 288, 1); /* the same in the 4-row decode kernel (2 groups of 4 rows + 3) */
}

/* Decode's multi-row kernels (tl_qdot.rows: rows a quarter of the range apart, R at a time, the
 * left-over rows one at a time) give every row the same bits as the table's one-row dot product,
 * for every type they take, on every table: row ranges of 1 to 23 rows starting anywhere (counts
 * not divisible by 4, so the left-over path runs beside the 4-row one), rows of 288 values (9
 * blocks of 32: an odd count), 256 and 768 (1 and 3 super-blocks). Q5_0/Q5_1 weights are random
 * bytes with sane scales; the others quantized from random floats. */
static void test_rows_bits_shape(int I) {
    const uint32_t types[] = {TL_Q8_0, TL_Q4_0, TL_Q5_0, TL_Q5_1, TL_Q4_K, TL_Q5_K, TL_Q6_K};
    enum { O = 23 };
    const int ranges[][2] = {{0, 23}, {0, 1}, {5, 6}, {1, 4}, {0, 8}, {3, 20}, {2, 15}, {7, 16}, {0, 22}, {1, 23}};
    tl_rng rng;
    tl_rng_seed(&rng, 17 + I);
    float *w = tl_malloc(sizeof(float) * O * I), *x = tl_malloc(sizeof(float) * I);
    for (int i = 0; i < O * I; i++) w[i] = tl_rng_normal(&rng) * 0.05f;
    for (int i = 0; i < I; i++) x[i] = tl_rng_normal(&rng);
    uint8_t *wq = tl_malloc(tl_q_row_bytes(TL_Q8_0, I) * O);
    tl_block_q8_K *ak = tl_malloc(sizeof(tl_block_q8_K) * (I / TL_QK + 1));
    tl_block_a32 *a32 = tl_malloc(sizeof(tl_block_a32) * (I / 32));
    tl_quantize_a32(x, a32, I);
    if (I % TL_QK == 0) tl_quantize_q8_K(x, ak, I);
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        uint32_t t = types[k];
        int kq = t == TL_Q4_K || t == TL_Q5_K || t == TL_Q6_K;
        if (I % tl_q_block_size(t)) continue;
        size_t rb = tl_q_row_bytes(t, I);
        if (t == TL_Q5_0 || t == TL_Q5_1) {
            for (size_t i = 0; i < rb * O; i++) wq[i] = (uint8_t)(tl_rng_u64(&rng) & 0xff);
            for (int b = 0; b < O * I / 32; b++) {
                uint16_t d = tl_f32_to_f16(0.01f), m = tl_f32_to_f16(-0.1f);
                memcpy(wq + (size_t)b * tl_q_block_bytes(t), &d, 2);
                if (t == TL_Q5_1) memcpy(wq + (size_t)b * tl_q_block_bytes(t) + 2, &m, 2);
            }
        } else {
            for (int o = 0; o < O; o++) tl_quantize_row(t, w + o * I, wq + o * rb, I);
        }
        const void *act = kq ? (const void *)ak : (const void *)a32;
        for (int isa = TL_ISA_PORTABLE; isa <= (int)tl_cpu_isa(); isa++) {
            const tl_qdot *kd = tl_qdot_for(isa);
            if (!kd || !kd->rows) continue;
            float one[O];
            for (int o = 0; o < O; o++) {
                const uint8_t *wr = wq + (size_t)o * rb;
                switch (t) {
                    case TL_Q8_0:
                        one[o] = kd->q8_0(I, wr, act);
                        break;
                    case TL_Q4_0:
                        one[o] = kd->q4_0(I, wr, act);
                        break;
                    case TL_Q5_0:
                        one[o] = kd->q5_0(I, wr, act);
                        break;
                    case TL_Q5_1:
                        one[o] = kd->q5_1(I, wr, act);
                        break;
                    case TL_Q4_K:
                        one[o] = kd->q4_K(I, wr, act);
                        break;
                    case TL_Q5_K:
                        one[o] = kd->q5_K(I, wr, act);
                        break;
                    default:
                        one[o] = kd->q6_K(I, wr, act);
                        break;
                }
            }
            int taken = 1, differ = 0;
            for (size_t g = 0; g < sizeof ranges / sizeof *ranges; g++) {
                int o0 = ranges[g][0], o1 = ranges[g][1];
                float got[O + 1];
                got[o1 - o0] = 12345.0f; /* must stay: nothing written past the range */
                if (!kd->rows(t, I, wq + (size_t)o0 * rb, rb, o1 - o0, act, got)) {
                    taken = 0;
                    break;
                }
                differ += memcmp(got, one + o0, sizeof(float) * (o1 - o0)) != 0 || got[o1 - o0] != 12345.0f;
            }
            CHECK(!differ,
                  "rows kernel of table %s, type %u, %d columns: %d of %zu row ranges differ from the one-row "
                  "dot products",
                  tl_isa_name(isa), t, I, differ, sizeof ranges / sizeof *ranges);
            printf("rows kernel %s type %u, %d columns: %s\n", tl_isa_name(isa), t, I,
                   !taken   ? "not taken (one row at a time)"
                   : differ ? "DIFFERS"
                            : "every row the same bits");
        }
    }
    tl_free(w);
    tl_free(x);
    tl_free(wq);
    tl_free(ak);
    tl_free(a32);
}

static void test_rows_bits(void) {
    test_rows_bits_shape(288); /* 9 blocks of 32 (no K-quants) */
    test_rows_bits_shape(256);
    test_rows_bits_shape(768);
}

/* every table's activation quantizer writes the portable tl_quantize_q8_K's bytes: random
 * blocks, an all-zero block, a block whose largest magnitude comes twice with both signs, and
 * values that land on .5 after scaling (round half to even) */
static void test_quantize_q8_K_tables(void) {
    enum { NB = 6, N = NB * TL_QK };
    tl_rng rng;
    tl_rng_seed(&rng, 5);
    float *x = tl_malloc(sizeof(float) * N);
    for (int i = 0; i < N; i++)
        x[i] = tl_rng_normal(&rng) * (i < TL_QK ? 1e-3f : 3.0f);
    for (int i = TL_QK; i < 2 * TL_QK; i++)
        x[i] = 0;
    x[2 * TL_QK + 7] = -9.0f, x[2 * TL_QK + 100] = 9.0f;                               /* max = -9: first wins */
    for (int i = 3 * TL_QK; i < 4 * TL_QK; i++) x[i] = (float)((i % 255) - 127) * 0.5f; /* halves after scaling */
    x[3 * TL_QK] = -127.0f;
    tl_block_q8_K ref[NB], got[NB];
    memset(ref, 0x55, sizeof ref);
    tl_quantize_q8_K(x, ref, N);
    for (int isa = TL_ISA_PORTABLE; isa <= (int)tl_cpu_isa(); isa++) {
        const tl_qdot *k = tl_qdot_for(isa);
        if (!k || !k->quantize_q8_K) continue;
        memset(got, 0x55, sizeof got);
        k->quantize_q8_K(x, got, N);
        CHECK(memcmp(ref, got, sizeof ref) == 0, "quantize_q8_K of table %s differs from the portable one",
              tl_isa_name(isa));
        printf("quantize_q8_K %s: %d blocks identical to portable: %s\n", tl_isa_name(isa), NB,
               memcmp(ref, got, sizeof ref) ? "NO" : "yes");
    }
    tl_free(x);
}

/* tl_qmatmul_multi over Q4_K + Q4_K + Q6_K matrices (q, k, v of a Q4_K_M file), large enough to be
 * split over the threads by bytes: each output equals its own portable matmul within 1e-6 of
 * sum|terms|, rows at the split included */
static void test_matmul_multi(void) {
    const int I = 1024, rows[3] = {37, 11, 29};
    const uint32_t types[3] = {TL_Q4_K, TL_Q4_K, TL_Q6_K};
    tl_rng rng;
    tl_rng_seed(&rng, 9);
    float *w = tl_malloc(sizeof(float) * 37 * I), *x = tl_malloc(sizeof(float) * I);
    for (int i = 0; i < I; i++)
        x[i] = tl_rng_normal(&rng);
    uint8_t *wq[3];
    tl_qmat W[3];
    float *out[3], *ref[3];
    for (int m = 0; m < 3; m++) {
        size_t rb = tl_q_row_bytes(types[m], I);
        for (int i = 0; i < rows[m] * I; i++)
            w[i] = tl_rng_normal(&rng) * 0.05f;
        wq[m] = tl_malloc(rb * rows[m]);
        for (int o = 0; o < rows[m]; o++)
            tl_quantize_row(types[m], w + o * I, wq[m] + o * rb, I);
        W[m] = (tl_qmat){types[m], wq[m], rows[m], I, rb};
        out[m] = tl_malloc(sizeof(float) * rows[m]);
        ref[m] = tl_malloc(sizeof(float) * rows[m]);
    }
    void *scratch = tl_malloc_aligned(tl_qmatmul_scratch(1, I));
    for (int m = 0; m < 3; m++)
        tl_qmatmul_with(&tl_qdot_portable, ref[m], x, 1, &W[m], scratch);
    const tl_qmat *const Ws[3] = {&W[0], &W[1], &W[2]};
    tl_qmatmul_multi(3, out, Ws, x, 1, scratch);
    double worst = 0;
    for (int m = 0; m < 3; m++)
        for (int o = 0; o < rows[m]; o++) {
            float *wd = tl_malloc(sizeof(float) * I);
            tl_dequantize_row(types[m], wq[m] + o * W[m].row_bytes, wd, I);
            double scale = 0;
            for (int i = 0; i < I; i++)
                scale += fabs((double)wd[i] * x[i]);
            tl_free(wd);
            worst = fmax(worst, fabs(out[m][o] - ref[m][o]) / scale);
        }
    CHECK(worst < 1e-6, "qmatmul_multi differs from the portable matmuls by %.3g of sum|terms|", worst);
    printf("qmatmul_multi (%d threads available): vs portable %.2e\n", omp_get_max_threads(), worst);
    for (int m = 0; m < 3; m++) {
        tl_free(wq[m]);
        tl_free(out[m]);
        tl_free(ref[m]);
    }
    tl_free(w);
    tl_free(x);
    tl_free_aligned(scratch);
}

int main(void) {
    test_dequant_golden();
    test_quant_golden();
    test_roundtrip();
    test_matmul();
    test_rows_bits();
    test_quantize_q8_K_tables();
    test_matmul_multi();
    return tl_test_done();
}
