/* f16/bf16 matrices multiplied as stored (kernels/hmatmul.h) against the f32 reference matmul of
 * the same matrix dequantized (tl_dequantize_row: exact widening), for every ISA kernel this CPU
 * runs (portable, AVX2 + F16C, AVX-512): rows not a multiple of the 4-row tile, columns not a
 * multiple of the vector width (the scalar tail), 1..7 tokens, and the multi-matrix call. The
 * only difference allowed is the order of float additions: |err| <= 1e-5 * sum_i |w_i x_i| + 1e-7
 * per output. Also: a non-finite f16/bf16/f32 value is found at its index by tl_first_nonfinite. */
#include <math.h>
#include <string.h>

#include "base/base.h"
#include "kernels/finite.h"
#include "kernels/hmatmul.h"
#include "kernels/kernels.h"
#include "testlib.h"

static uint16_t to_half(uint32_t type, float f) { return type == TL_Q_BF16 ? tl_f32_to_bf16(f) : tl_f32_to_f16(f); }

static void one(uint32_t type, int O, int I, int T) {
    tl_rng rng;
    tl_rng_seed(&rng, (uint64_t)(O * 131 + I * 7 + T) ^ type);
    uint16_t *w = tl_malloc((size_t)O * I * 2);
    float *wf = tl_malloc((size_t)O * I * 4), *x = tl_malloc((size_t)T * I * 4), *ref = tl_malloc((size_t)T * O * 4),
          *out = tl_malloc((size_t)T * O * 4), *mag = tl_malloc((size_t)T * O * 4);
    for (int64_t i = 0; i < (int64_t)O * I; i++) w[i] = to_half(type, tl_rng_normal(&rng));
    for (int64_t i = 0; i < (int64_t)T * I; i++) x[i] = tl_rng_normal(&rng);
    tl_dequantize_row(type, w, wf, (int64_t)O * I);
    tl_matmul_forward_ref(ref, x, wf, NULL, T, I, O);
    for (int t = 0; t < T; t++)
        for (int o = 0; o < O; o++) {
            double m = 0;
            for (int i = 0; i < I; i++) m += fabs((double)wf[(int64_t)o * I + i] * x[(int64_t)t * I + i]);
            mag[(int64_t)t * O + o] = (float)m;
        }
    tl_qmat W = {type, (const uint8_t *)w, O, I, (size_t)I * 2};
    const int isas[3] = {TL_ISA_PORTABLE, TL_ISA_AVX2, TL_ISA_AVX512};
    for (int k = 0; k < 3; k++) {
        tl_hrows_fn fn = tl_hrows_for(isas[k]);
        if (!fn) continue;
        memset(out, 0xff, (size_t)T * O * 4); /* NaN: every output must be written */
        tl_hmatmul_with(fn, out, x, T, &W);
        double worst = 0;
        for (int64_t i = 0; i < (int64_t)T * O; i++) {
            double e = fabs((double)out[i] - ref[i]) / (1e-5 * mag[i] + 1e-7);
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
        }
        CHECK(worst <= 1.0, "%s isa %d O %d I %d T %d: error %.3g x the tolerance", type == TL_Q_F16 ? "f16" : "bf16",
              isas[k], O, I, T, worst);
    }
    /* two matrices sharing x, as q/k/v: the second is the first's rows from 1 on */
    tl_qmat W2 = {type, (const uint8_t *)(w + I), O - 1, I, (size_t)I * 2};
    float *out2 = tl_malloc((size_t)T * O * 4);
    float *const outs[2] = {out, out2};
    const tl_qmat *const Ws[2] = {&W, &W2};
    tl_hmatmul_multi(2, outs, Ws, x, T);
    int same = 1;
    for (int t = 0; t < T; t++)
        for (int o = 0; o + 1 < O; o++)
            same &= fabsf(out2[(int64_t)t * (O - 1) + o] - ref[(int64_t)t * O + o + 1]) <=
                    1e-5f * mag[(int64_t)t * O + o + 1] + 1e-7f;
    CHECK(same, "multi: the second matrix's outputs differ from the reference (O %d I %d T %d)", O, I, T);
    tl_free(out2);
    tl_free(w);
    tl_free(wf);
    tl_free(x);
    tl_free(ref);
    tl_free(out);
    tl_free(mag);
}

static void scan_finite(void) {
    enum { N = 100003 };
    uint16_t *h = tl_calloc(N, 2);
    float *f = tl_calloc(N, 4);
    CHECK(tl_first_nonfinite(TL_Q_F16, h, N) == -1 && tl_first_nonfinite(TL_Q_F32, f, N) == -1, "zeros flagged");
    const int64_t at[3] = {0, 77777, N - 1};
    for (int k = 0; k < 3; k++) {
        h[at[k]] = 0x7c00; /* f16 +inf */
        CHECK(tl_first_nonfinite(TL_Q_F16, h, N) == at[k], "f16 inf at %lld", (long long)at[k]);
        h[at[k]] = 0x7f81; /* bf16 NaN; as f16 a large finite value */
        CHECK(tl_first_nonfinite(TL_Q_BF16, h, N) == at[k], "bf16 NaN at %lld", (long long)at[k]);
        CHECK(tl_first_nonfinite(TL_Q_F16, h, N) == at[k], "0x7f81 is an f16 NaN too");
        h[at[k]] = 0x7bff; /* f16 max, finite */
        CHECK(tl_first_nonfinite(TL_Q_F16, h, N) == -1, "f16 65504 flagged");
        h[at[k]] = 0;
        f[at[k]] = -INFINITY;
        CHECK(tl_first_nonfinite(TL_Q_F32, f, N) == at[k], "f32 -inf at %lld", (long long)at[k]);
        f[at[k]] = 3.4e38f;
        CHECK(tl_first_nonfinite(TL_Q_F32, f, N) == -1, "f32 3.4e38 flagged");
        f[at[k]] = 0;
    }
    f[50000] = NAN, f[90000] = NAN; /* the first of two, whichever thread finds the second */
    CHECK(tl_first_nonfinite(TL_Q_F32, f, N) == 50000, "first of two NaNs");
    CHECK(tl_first_nonfinite(TL_Q_F32, f + 1, N - 1) == 49999, "unaligned start");
    tl_free(h);
    tl_free(f);
}

int main(void) {
    const int shapes[][3] = {{1, 16, 1}, {4, 64, 1}, {7, 37, 3}, {33, 256, 1}, {64, 768, 7}, {13, 100, 5}, {9, 1, 2}};
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        one(TL_Q_F16, shapes[i][0], shapes[i][1], shapes[i][2]);
        one(TL_Q_BF16, shapes[i][0], shapes[i][1], shapes[i][2]);
    }
    scan_finite();
    return tl_test_done();
}
