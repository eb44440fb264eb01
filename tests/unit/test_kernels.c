/* Kernels: every ISA table this CPU runs (portable, avx2, avx512 — called directly,
 * whatever TILLER_ISA says) and the dispatched kernels, against independent
 * double-precision computations in this file, on odd sizes (I, O, D not multiples
 * of 8 or 16; T = 1, 3, 17, 128).
 *
 * Tolerance: a float sum of n products may differ from the exact value by up to
 * about n * 2^-24 * sum|a_i b_i| (any summation order, FMA or not). Random data
 * gives far less, so every sum is checked at
 *     |got - exact| <= TOL * sum_i |a_i b_i| + 1e-30,   TOL = 1e-5,
 * which order-of-summation noise passes (n <= 300 here) and any wrong index,
 * missed tail or dropped term fails (those errors are O(1) in these units).
 * The AVX-512 GEMM (the one table with its own) is checked for every transpose
 * combination, with padded strides, across its tile and depth-block edges.
 * Exact equality is required where the code promises it: matmul_rows gives the
 * same bits whatever the row/token split (so results do not depend on the thread
 * count), tl_rope_table + tl_rope_apply equals tl_rope_forward, max is exact, and
 * repeated calls are bit-identical. */
#include <omp.h>
#include <string.h>

#include "kernels/simd.h"
#include "model/model.h"
#include "testlib.h"

#define TOL 1e-5

static tl_rng rng;

static float *rnd(size_t n) {
    float *p = malloc(n * sizeof(float) + 64);
    for (size_t i = 0; i < n; i++) p[i] = tl_rng_float(&rng) * 2.0f - 1.0f;
    return p;
}

/* worst |got - exact| / scale over n values */
static double scaled_err(const float *got, const double *exact, const double *scale, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - exact[i]) / (scale[i] + 1e-30);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* exact out[T, O] = bias + inp @ w^T and the scale sum|x w| + |bias| */
static void matmul_exact(double *out, double *scale, const float *inp, const float *w,
                         const float *bias, int T, int I, int O) {
    for (int t = 0; t < T; t++)
        for (int o = 0; o < O; o++) {
            double s = bias ? bias[o] : 0.0, a = bias ? fabs(bias[o]) : 0.0;
            for (int i = 0; i < I; i++) {
                double p = (double)inp[(size_t)t * I + i] * w[(size_t)o * I + i];
                s += p;
                a += fabs(p);
            }
            out[(size_t)t * O + o] = s;
            scale[(size_t)t * O + o] = a;
        }
}

static const int Ts[] = {1, 3, 17, 128};
static const int IOs[][2] = {{1, 1},   {7, 5},    {13, 9},    {33, 19}, {64, 16},
                             {67, 29}, {288, 37}, {100, 300}, {400, 97}};

static void test_matmul_rows(const tl_simd *k) {
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
        for (size_t b = 0; b < sizeof IOs / sizeof *IOs; b++) {
            int T = Ts[a], I = IOs[b][0], O = IOs[b][1];
            float *inp = rnd((size_t)T * I), *w = rnd((size_t)O * I), *bias = rnd((size_t)O);
            float *out = rnd((size_t)T * O), *out2 = rnd((size_t)T * O);
            double *ex = malloc(sizeof(double) * T * O), *sc = malloc(sizeof(double) * T * O);
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                const float *bb = with_bias ? bias : NULL;
                matmul_exact(ex, sc, inp, w, bb, T, I, O);
                k->matmul_rows(out, inp, w, bb, T, I, O, 0, O);
                double e = scaled_err(out, ex, sc, (size_t)T * O);
                CHECK(e <= TOL, "%s matmul_rows T=%d I=%d O=%d bias=%d: scaled error %g",
                      tl_isa_name(k->isa), T, I, O, with_bias, e);
                /* the same bits row by row and token by token, and nothing outside the rows written
                 */
                memcpy(out2, out, sizeof(float) * T * O);
                for (int o = 0; o < O; o++)
                    for (int t = 0; t < T; t++) out2[(size_t)t * O + o] = -7.0f;
                for (int o = 0; o < O; o++)
                    for (int t = 0; t < T; t++)
                        k->matmul_rows(out2 + (size_t)t * O, inp + (size_t)t * I, w, bb, 1, I, O, o,
                                       o + 1);
                CHECK(!memcmp(out, out2, sizeof(float) * T * O),
                      "%s matmul_rows T=%d I=%d O=%d: row-by-row result differs in bits",
                      tl_isa_name(k->isa), T, I, O);
                if (O >= 6) {
                    for (size_t i = 0; i < (size_t)T * O; i++) out2[i] = -7.0f;
                    k->matmul_rows(out2, inp, w, bb, T, I, O, 2, O - 3);
                    int ok = 1;
                    for (int t = 0; t < T; t++)
                        for (int o = 0; o < O; o++) {
                            float v = out2[(size_t)t * O + o];
                            if (o >= 2 && o < O - 3)
                                ok &= v == out[(size_t)t * O + o];
                            else
                                ok &= v == -7.0f;
                        }
                    CHECK(
                        ok,
                        "%s matmul_rows T=%d I=%d O=%d: sub-range [2, O-3) wrong or wrote outside",
                        tl_isa_name(k->isa), T, I, O);
                }
            }
            free(inp), free(w), free(bias), free(out), free(out2), free(ex), free(sc);
        }
}

/* C[M, N] = (acc ? C : 0) + op(A) @ op(B) with padded strides, every transpose combination,
 * sizes across the register tile (8 x 48) and the depth block (384) */
static void test_gemm(const tl_simd *k) {
    if (!k->gemm) return;
    static const int Ms[] = {1, 3, 17, 128, 137};
    static const int Ns[] = {1, 47, 49, 100};
    static const int Ks[] = {1, 7, 385, 800};
    for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
        for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
            for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++)
                for (int tr = 0; tr < 4; tr++) {
                    int M = Ms[a], N = Ns[b], K = Ks[c], ta = tr & 1, tb = tr >> 1;
                    if ((size_t)M * N * K > 4000000) continue;
                    int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
                    float *A = rnd((size_t)(ta ? K : M) * lda),
                          *B = rnd((size_t)(tb ? N : K) * ldb);
                    float *C = rnd((size_t)M * ldc), *C0 = malloc(sizeof(float) * M * ldc);
                    memcpy(C0, C, sizeof(float) * M * ldc);
                    double *ex = malloc(sizeof(double) * M * N),
                           *sc = malloc(sizeof(double) * M * N);
                    float *got = malloc(sizeof(float) * M * N);
                    int acc = (a + b + c + tr) & 1;
                    for (int m = 0; m < M; m++)
                        for (int n = 0; n < N; n++) {
                            double sum = acc ? C0[(size_t)m * ldc + n] : 0, abs_sum = fabs(sum);
                            for (int q = 0; q < K; q++) {
                                double av = ta ? A[(size_t)q * lda + m] : A[(size_t)m * lda + q];
                                double bv = tb ? B[(size_t)n * ldb + q] : B[(size_t)q * ldb + n];
                                sum += av * bv, abs_sum += fabs(av * bv);
                            }
                            ex[(size_t)m * N + n] = sum, sc[(size_t)m * N + n] = abs_sum;
                        }
                    k->gemm(M, N, K, A, lda, ta, B, ldb, tb, C, ldc, acc);
                    int pad_ok = 1;
                    for (int m = 0; m < M; m++) {
                        memcpy(got + (size_t)m * N, C + (size_t)m * ldc, sizeof(float) * N);
                        pad_ok &= C[(size_t)m * ldc + N] == C0[(size_t)m * ldc + N] &&
                                  C[(size_t)m * ldc + N + 1] == C0[(size_t)m * ldc + N + 1];
                    }
                    double e = scaled_err(got, ex, sc, (size_t)M * N);
                    CHECK(e <= TOL && pad_ok,
                          "%s gemm M=%d N=%d K=%d ta=%d tb=%d acc=%d: scaled error %g%s",
                          tl_isa_name(k->isa), M, N, K, ta, tb, acc, e,
                          pad_ok ? "" : ", wrote past column N");
                    free(A), free(B), free(C), free(C0), free(ex), free(sc), free(got);
                }
}

static void test_vector_loops(const tl_simd *k) {
    const tl_simd *p = &tl_simd_portable;
    const char *isa = tl_isa_name(k->isa);
    {
        int n = 1003; /* sum reads four quarters side by side, then a tail */
        float *a = rnd((size_t)n);
        double s = 0, sa = 0;
        for (int i = 0; i < n; i++) s += a[i], sa += fabs(a[i]);
        double e = fabs(k->sum(a, n) - s) / sa;
        CHECK(e <= TOL, "%s sum n=%d: scaled error %g", isa, n, e);
        free(a);
    }
    for (int n = 1; n <= 70; n += (n < 20 ? 1 : 7)) {
        float *a = rnd((size_t)n), *b = rnd((size_t)n), *y = rnd((size_t)n),
              *y2 = malloc(sizeof(float) * n);
        double ex = 0, sc = 0, sq = 0;
        for (int i = 0; i < n; i++) {
            ex += (double)a[i] * b[i];
            sc += fabs((double)a[i] * b[i]);
            sq += (double)a[i] * a[i];
        }
        double e = fabs(k->dot(a, b, n) - ex) / sc;
        CHECK(e <= TOL, "%s dot n=%d: scaled error %g", isa, n, e);
        e = fabs(k->sumsq(a, n) - sq) / sq;
        CHECK(e <= TOL, "%s sumsq n=%d: relative error %g", isa, n, e);
        double s = 0, sa = 0;
        for (int i = 0; i < n; i++) s += a[i], sa += fabs(a[i]);
        e = fabs(k->sum(a, n) - s) / sa;
        CHECK(e <= TOL, "%s sum n=%d: scaled error %g", isa, n, e);
        CHECK(k->max(a, n) == p->max(a, n), "%s max n=%d", isa, n);

        /* axpy (one rounding, FMA or not: within 1 ulp of |y| + |a x|) */
        memcpy(y2, y, sizeof(float) * n);
        k->axpy(y2, 0.37f, a, n);
        int ok = 1;
        for (int i = 0; i < n; i++) {
            double want = (double)y[i] + 0.37 * a[i];
            ok &= fabs(y2[i] - want) <= 2e-7 * (fabs(y[i]) + fabs(0.37 * a[i]));
        }
        CHECK(ok, "%s axpy n=%d", isa, n);
        /* scale_mul: (x r) w exactly as the reference rounds it */
        k->scale_mul(y2, a, 1.7f, b, n);
        p->scale_mul(y, a, 1.7f, b, n);
        CHECK(!memcmp(y, y2, sizeof(float) * n), "%s scale_mul n=%d differs from the reference",
              isa, n);
        memcpy(y2, y, sizeof(float) * n);
        k->scale(y2, 0.5f, n);
        p->scale(y, 0.5f, n);
        CHECK(!memcmp(y, y2, sizeof(float) * n), "%s scale n=%d", isa, n);
        k->add(y2, a, n);
        p->add(y, a, n);
        CHECK(!memcmp(y, y2, sizeof(float) * n), "%s add n=%d", isa, n);
        free(a), free(b), free(y), free(y2);
    }
}

/* attention's inner loops: n keys at row stride `stride`, head dim D */
static void test_attention_loops(const tl_simd *k) {
    static const int Ds[] = {1, 5, 8, 13, 16, 31, 48, 64, 67, 100};
    static const int ns[] = {1, 3, 4, 9, 130};
    for (size_t a = 0; a < sizeof Ds / sizeof *Ds; a++)
        for (size_t b = 0; b < sizeof ns / sizeof *ns; b++) {
            int D = Ds[a], n = ns[b], stride = D * 3 + 1;
            float *q = rnd((size_t)D), *kv = rnd((size_t)n * stride), *att = rnd((size_t)n),
                  *out = rnd((size_t)D + 16);
            double *ex = malloc(sizeof(double) * (n > D ? n : D)),
                   *sc = malloc(sizeof(double) * (n > D ? n : D));
            for (int j = 0; j < n; j++) {
                ex[j] = sc[j] = 0;
                for (int d = 0; d < D; d++) {
                    double pr = (double)q[d] * kv[(size_t)j * stride + d] * 0.25;
                    ex[j] += pr;
                    sc[j] += fabs(pr);
                }
            }
            k->attn_scores(att, q, kv, n, stride, D, 0.25f);
            double e = scaled_err(att, ex, sc, (size_t)n);
            CHECK(e <= TOL, "%s attn_scores D=%d n=%d: scaled error %g", tl_isa_name(k->isa), D, n,
                  e);
            for (int d = 0; d < D; d++) {
                ex[d] = sc[d] = 0;
                for (int j = 0; j < n; j++) {
                    double pr = (double)att[j] * kv[(size_t)j * stride + d];
                    ex[d] += pr;
                    sc[d] += fabs(pr);
                }
            }
            out[D] = 42.0f;
            k->attn_wsum(out, att, kv, n, stride, D);
            e = scaled_err(out, ex, sc, (size_t)D);
            CHECK(e <= TOL && out[D] == 42.0f, "%s attn_wsum D=%d n=%d: scaled error %g, guard %g",
                  tl_isa_name(k->isa), D, n, e, (double)out[D]);
            free(q), free(kv), free(att), free(out), free(ex), free(sc);
        }
}

/* the dispatched tl_matmul_forward (row kernel for small T, sgemm slices for large T) */
static void test_matmul_dispatch(void) {
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
        for (size_t b = 0; b < sizeof IOs / sizeof *IOs; b++) {
            int T = Ts[a], I = IOs[b][0], O = IOs[b][1];
            float *inp = rnd((size_t)T * I), *w = rnd((size_t)O * I), *bias = rnd((size_t)O);
            float *out = rnd((size_t)T * O), *ref = rnd((size_t)T * O), *again = rnd((size_t)T * O);
            double *ex = malloc(sizeof(double) * T * O), *sc = malloc(sizeof(double) * T * O);
            matmul_exact(ex, sc, inp, w, bias, T, I, O);
            tl_matmul_forward(out, inp, w, bias, T, I, O);
            tl_matmul_forward_ref(ref, inp, w, bias, T, I, O);
            double e = scaled_err(out, ex, sc, (size_t)T * O),
                   er = scaled_err(ref, ex, sc, (size_t)T * O);
            CHECK(e <= TOL, "tl_matmul_forward T=%d I=%d O=%d: scaled error %g", T, I, O, e);
            CHECK(er <= TOL, "tl_matmul_forward_ref T=%d I=%d O=%d: scaled error %g", T, I, O, er);
            tl_matmul_forward(again, inp, w, bias, T, I, O);
            CHECK(!memcmp(out, again, sizeof(float) * T * O),
                  "tl_matmul_forward T=%d I=%d O=%d not repeatable", T, I, O);
            free(inp), free(w), free(bias), free(out), free(ref), free(again), free(ex), free(sc);
        }
}

/* many tokens with a wide input: the row kernel works through the tokens in
 * L2-sized chunks (several calls here), the GEMM paths in depth blocks */
static void test_matmul_long(void) {
    int T = 300, I = 700, O = 45;
    float *inp = rnd((size_t)T * I), *w = rnd((size_t)O * I), *bias = rnd((size_t)O),
          *out = rnd((size_t)T * O);
    double *ex = malloc(sizeof(double) * T * O), *sc = malloc(sizeof(double) * T * O);
    matmul_exact(ex, sc, inp, w, bias, T, I, O);
    tl_matmul_forward(out, inp, w, bias, T, I, O);
    double e = scaled_err(out, ex, sc, (size_t)T * O);
    CHECK(e <= TOL, "tl_matmul_forward T=%d I=%d O=%d: scaled error %g", T, I, O, e);
    free(inp), free(w), free(bias), free(out), free(ex), free(sc);
}

/* q/k/v-style fused matmuls equal separate calls (same bits on the row-kernel path) */
static void test_matmul_multi(void) {
    int I = 97, Os[3] = {150, 37, 37};
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++) {
        int T = Ts[a];
        float *inp = rnd((size_t)T * I), *w[3], *o1[3], *o2[3];
        for (int j = 0; j < 3; j++) {
            w[j] = rnd((size_t)Os[j] * I);
            o1[j] = rnd((size_t)T * Os[j]);
            o2[j] = rnd((size_t)T * Os[j]);
            tl_matmul_forward(o1[j], inp, w[j], NULL, T, I, Os[j]);
        }
        tl_matmul_forward_multi(3, o2, (const float *const *)w, Os, inp, T, I);
        for (int j = 0; j < 3; j++) {
            double e = tl_test_max_abs(o1[j], o2[j], (size_t)T * Os[j]);
            if (T <= tl_simd_get()->rows_max_T)
                CHECK(e == 0,
                      "matmul_forward_multi T=%d matrix %d differs from a single call by %g", T, j,
                      e);
            else
                CHECK(e <= 1e-5,
                      "matmul_forward_multi T=%d matrix %d differs from a single call by %g", T, j,
                      e);
            free(w[j]), free(o1[j]), free(o2[j]);
        }
        free(inp);
    }
}

/* big enough to cross the threading threshold: 1 and 2 threads agree */
static void test_matmul_threads(void) {
    int I = 300, O = 517;
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++) {
        int T = Ts[a];
        float *inp = rnd((size_t)T * I), *w = rnd((size_t)O * I);
        float *o1 = malloc(sizeof(float) * T * O), *o2 = malloc(sizeof(float) * T * O);
        int saved = omp_get_max_threads();
        omp_set_num_threads(1);
        tl_matmul_forward(o1, inp, w, NULL, T, I, O);
        omp_set_num_threads(2);
        tl_matmul_forward(o2, inp, w, NULL, T, I, O);
        omp_set_num_threads(saved);
        if (T < 8) /* the row kernel promises the same bits for any split */
            CHECK(!memcmp(o1, o2, sizeof(float) * T * O), "T=%d: 1 and 2 threads differ in bits",
                  T);
        else
            CHECK(tl_test_max_abs(o1, o2, (size_t)T * O) <= 1e-4,
                  "T=%d: 1 and 2 threads differ by %g", T, tl_test_max_abs(o1, o2, (size_t)T * O));
        free(inp), free(w), free(o1), free(o2);
    }
}

/* dinp += dout @ w, dw += dout^T @ inp, dbias += sum_t dout, onto non-zero gradients */
static void test_matmul_backward(void) {
    for (size_t a = 0; a < sizeof Ts / sizeof *Ts; a++)
        for (size_t b = 0; b < sizeof IOs / sizeof *IOs; b++) {
            int T = Ts[a], I = IOs[b][0], O = IOs[b][1];
            float *inp = rnd((size_t)T * I), *w = rnd((size_t)O * I), *dout = rnd((size_t)T * O);
            float *dinp = rnd((size_t)T * I), *dw = rnd((size_t)O * I), *db = rnd((size_t)O);
            double *ei = malloc(sizeof(double) * T * I), *si = malloc(sizeof(double) * T * I);
            double *ew = malloc(sizeof(double) * O * I), *sw = malloc(sizeof(double) * O * I);
            double *eb = malloc(sizeof(double) * O), *sb = malloc(sizeof(double) * O);
            for (int t = 0; t < T; t++)
                for (int i = 0; i < I; i++) {
                    double s = dinp[(size_t)t * I + i], sa = fabs(s);
                    for (int o = 0; o < O; o++) {
                        double p = (double)dout[(size_t)t * O + o] * w[(size_t)o * I + i];
                        s += p, sa += fabs(p);
                    }
                    ei[(size_t)t * I + i] = s, si[(size_t)t * I + i] = sa;
                }
            for (int o = 0; o < O; o++) {
                for (int i = 0; i < I; i++) {
                    double s = dw[(size_t)o * I + i], sa = fabs(s);
                    for (int t = 0; t < T; t++) {
                        double p = (double)dout[(size_t)t * O + o] * inp[(size_t)t * I + i];
                        s += p, sa += fabs(p);
                    }
                    ew[(size_t)o * I + i] = s, sw[(size_t)o * I + i] = sa;
                }
                double s = db[o], sa = fabs(s);
                for (int t = 0; t < T; t++)
                    s += dout[(size_t)t * O + o], sa += fabs(dout[(size_t)t * O + o]);
                eb[o] = s, sb[o] = sa;
            }
            float *dw0 = malloc(sizeof(float) * O * I);
            memcpy(dw0, dw, sizeof(float) * O * I);
            tl_matmul_backward(dinp, dw, db, dout, inp, w, T, I, O);
            double e1 = scaled_err(dinp, ei, si, (size_t)T * I),
                   e2 = scaled_err(dw, ew, sw, (size_t)O * I),
                   e3 = scaled_err(db, eb, sb, (size_t)O);
            CHECK(e1 <= TOL && e2 <= TOL && e3 <= TOL,
                  "matmul_backward T=%d I=%d O=%d: scaled errors dinp %g dw %g dbias %g", T, I, O,
                  e1, e2, e3);
            /* only dw requested (dinp, dbias NULL): dw accumulates the same delta again */
            float *dw2 = malloc(sizeof(float) * O * I);
            memcpy(dw2, dw, sizeof(float) * O * I);
            tl_matmul_backward(NULL, dw2, NULL, dout, inp, w, T, I, O);
            for (size_t i = 0; i < (size_t)O * I; i++) ew[i] = (double)dw[i] + (ew[i] - dw0[i]);
            double e4 = scaled_err(dw2, ew, sw, (size_t)O * I);
            CHECK(e4 <= TOL, "matmul_backward dw only T=%d I=%d O=%d: scaled error %g", T, I, O,
                  e4);
            free(dw0);
            free(dw2);
            free(inp), free(w), free(dout), free(dinp), free(dw), free(db);
            free(ei), free(si), free(ew), free(sw), free(eb), free(sb);
        }
}

/* full attention kernel vs double: GQA (H = 6, Hkv = 2), prefill at pos0 = 0 and
 * pos0 = 5, and decode (T = 1) deep into the cache */
static void test_attention(void) {
    int H = 6, Hkv = 2, D = 13, kvs = Hkv * D + 3;
    int cases[][2] = {{17, 0}, {3, 5}, {1, 40}, {128, 0}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int T = cases[c][0], pos0 = cases[c][1], Tk = pos0 + T;
        float *q = rnd((size_t)T * H * D), *k = rnd((size_t)Tk * kvs), *v = rnd((size_t)Tk * kvs);
        float *out = rnd((size_t)T * H * D), *scratch = malloc(sizeof(float) * 8 * Tk);
        double *ex = calloc((size_t)T * H * D, sizeof(double)),
               *sc = calloc((size_t)T * H * D, sizeof(double));
        double *p = malloc(sizeof(double) * Tk);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                int kh = h / (H / Hkv), n = pos0 + t + 1;
                double mx = -1e300, sum = 0;
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int d = 0; d < D; d++)
                        s += (double)q[((size_t)t * H + h) * D + d] *
                             k[(size_t)j * kvs + kh * D + d];
                    p[j] = s / sqrt((double)D);
                    if (p[j] > mx) mx = p[j];
                }
                for (int j = 0; j < n; j++) sum += p[j] = exp(p[j] - mx);
                for (int d = 0; d < D; d++) {
                    size_t o = ((size_t)t * H + h) * D + d;
                    for (int j = 0; j < n; j++) {
                        double pr = p[j] / sum * v[(size_t)j * kvs + kh * D + d];
                        ex[o] += pr;
                        sc[o] += fabs(pr);
                    }
                }
            }
        tl_attention_forward(out, q, k, v, T, pos0, H, Hkv, D, kvs, scratch, Tk);
        double e = scaled_err(out, ex, sc, (size_t)T * H * D);
        CHECK(e <= 1e-5, "attention T=%d pos0=%d: scaled error %g", T, pos0, e);
        free(q), free(k), free(v), free(out), free(scratch), free(ex), free(sc), free(p);
    }
}

static void test_norm_rope_softmax(void) {
    int T = 3, C = 37;
    float *x = rnd((size_t)T * C), *w = rnd((size_t)C), *y = malloc(sizeof(float) * T * C), rstd[3];
    tl_rmsnorm_forward(y, rstd, x, w, T, C, 1e-5f);
    double worst = 0;
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int i = 0; i < C; i++) ss += (double)x[t * C + i] * x[t * C + i];
        double r = 1.0 / sqrt(ss / C + 1e-5);
        for (int i = 0; i < C; i++) {
            double e = fabs(y[t * C + i] - x[t * C + i] * r * w[i]) /
                       (fabs(x[t * C + i] * r * w[i]) + 1e-6);
            if (e > worst) worst = e;
        }
        CHECK(fabs(rstd[t] - r) <= 1e-6 * r, "rmsnorm rstd[%d] %g vs %g", t, (double)rstd[t], r);
    }
    CHECK(worst <= 1e-5, "rmsnorm relative error %g", worst);

    /* rope: table + apply gives exactly the one-call result, both layouts */
    int nh = 3, D = 10, pos[3] = {0, 7, 300};
    float *r1 = rnd((size_t)T * nh * D), *r2 = malloc(sizeof(float) * T * nh * D), cs[3 * 10];
    for (int layout = 0; layout < 2; layout++) {
        memcpy(r2, r1, sizeof(float) * T * nh * D);
        tl_rope_forward(r1, pos, T, nh, D, 10000.0f, (tl_rope_layout)layout, +1);
        tl_rope_table(cs, pos, T, D, 10000.0f, +1);
        tl_rope_apply(r2, cs, T, nh, D, (tl_rope_layout)layout);
        CHECK(!memcmp(r1, r2, sizeof(float) * T * nh * D), "rope table+apply differs (layout %d)",
              layout);
    }

    for (int n = 1; n < 80; n += 13) {
        float *s = rnd((size_t)n);
        double mx = -1e300, sum = 0, worst_s = 0;
        for (int i = 0; i < n; i++) s[i] *= 20, mx = s[i] > mx ? s[i] : mx;
        for (int i = 0; i < n; i++) sum += exp(s[i] - mx);
        double *want = malloc(sizeof(double) * n);
        for (int i = 0; i < n; i++) want[i] = exp(s[i] - mx) / sum;
        tl_softmax(s, n);
        for (int i = 0; i < n; i++) {
            double e = fabs(s[i] - want[i]);
            if (e > worst_s) worst_s = e;
        }
        CHECK(worst_s <= 1e-6, "softmax n=%d: max abs error %g", n, worst_s);
        free(s), free(want);
    }
    free(x), free(w), free(y), free(r1), free(r2);
}

/* A session's attention scratch is sized for the thread count at its creation: a
 * forward with more threads is refused with a message, never run past the scratch. */
static void test_session_threads(void) {
    tl_config c = {.dim = 32, .hidden_dim = 48, .n_layers = 1, .n_heads = 4, .vocab_size = 50,
                   .seq_len = 16};
    tl_model *m = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    if (!m) return;
    tl_model_init_random(m, 7);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    int32_t tok[2] = {3, 4};
    CHECK_OK(tl_forward(s, tok, 2, NULL));
    omp_set_num_threads(2);
    CHECK(tl_forward(s, tok, 1, NULL) == TL_E_ARG, "forward with more threads than the session's");
    CHECK(strstr(tl_last_error(), "threads") != NULL, "message: %s", tl_last_error());
    omp_set_num_threads(saved);
    tl_session_free(s);
    tl_model_free(m);
}

int main(void) {
    tl_rng_seed(&rng, 42);
    static const tl_isa isas[] = {TL_ISA_PORTABLE, TL_ISA_AVX2, TL_ISA_AVX512};
    for (size_t i = 0; i < sizeof isas / sizeof *isas; i++) {
        const tl_simd *k = tl_simd_for(isas[i]);
        if (!k) {
            printf("%s: not available on this CPU (or capped by TILLER_ISA), skipped\n",
                   tl_isa_name(isas[i]));
            continue;
        }
        printf("testing the %s table\n", tl_isa_name(isas[i]));
        CHECK(k->isa == isas[i], "table for %s reports %s", tl_isa_name(isas[i]),
              tl_isa_name(k->isa));
        test_matmul_rows(k);
        test_gemm(k);
        test_vector_loops(k);
        test_attention_loops(k);
    }
    printf("dispatched kernels use %s\n", tl_isa_name(tl_cpu_isa()));
    test_matmul_dispatch();
    test_matmul_long();
    test_matmul_multi();
    test_matmul_threads();
    test_matmul_backward();
    test_attention();
    test_norm_rope_softmax();
    test_session_threads();
    return tl_test_done();
}
