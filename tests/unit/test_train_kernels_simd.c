/* The SIMD paths of the training kernels (attention, cross-entropy, SwiGLU) against their
 * portable references (*_ref), on awkward sizes: head dims not a multiple of 8, T not
 * a multiple of the query block, GQA, key masks (one query seeing nothing), a
 * vocabulary not a multiple of 8, ignored targets. Also: bit-identical results for 1
 * and 2 threads. Tolerance: 2e-5 of the largest value (the paths sum in other orders
 * and the SIMD exp is within 2 ulp). On a CPU without AVX2 both sides are the
 * reference and the checks pass trivially (the ISA is printed). */
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "testlib.h"

static tl_rng rng;

static float *rnd(size_t n, float scale) {
    float *x = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = scale * tl_rng_normal(&rng);
    return x;
}

static float *zeros(size_t n) { return calloc(n, sizeof(float)); }

static double max_abs_val(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

/* max |a - b| / max |b|, with -inf == -inf */
static double rel_err(const float *a, const float *b, size_t n) {
    double m = 0, s = max_abs_val(b, n);
    for (size_t i = 0; i < n; i++) {
        if (isinf(a[i]) || isinf(b[i])) {
            if (a[i] != b[i]) m = INFINITY;
            continue;
        }
        m = fmax(m, fabs(a[i] - b[i]));
    }
    return m / (s > 0 ? s : 1);
}

static void check_attention(int B, int T, int H, int Hkv, int D, const uint8_t *mask, float qscale) {
    size_t nq = (size_t)B * T * H * D, nk = (size_t)B * T * Hkv * D, nl = (size_t)B * H * T;
    int nt = omp_get_max_threads();
    float *scratch = malloc(sizeof(float) * nt * tl_attention_train_scratch(T, D));
    float *q = rnd(nq, qscale), *k = rnd(nk, 1), *v = rnd(nk, 1), *dout = rnd(nq, 1);
    float *o1 = zeros(nq), *o2 = zeros(nq), *l1 = zeros(nl), *l2 = zeros(nl);
    tl_attention_train_forward(o1, l1, q, k, v, mask, B, T, H, Hkv, D, scratch, nt);
    tl_attention_train_forward_ref(o2, l2, q, k, v, mask, B, T, H, Hkv, D, scratch, nt);
    double eo = rel_err(o1, o2, nq), el = rel_err(l1, l2, nl);
    float *g1[3] = {zeros(nq), zeros(nk), zeros(nk)}, *g2[3] = {zeros(nq), zeros(nk), zeros(nk)};
    tl_attention_train_backward(g1[0], g1[1], g1[2], dout, o1, q, k, v, l1, mask, B, T, H, Hkv, D,
                                scratch, nt);
    tl_attention_train_backward_ref(g2[0], g2[1], g2[2], dout, o2, q, k, v, l2, mask, B, T, H, Hkv,
                                    D, scratch, nt);
    double eq = rel_err(g1[0], g2[0], nq), ek = rel_err(g1[1], g2[1], nk),
           ev = rel_err(g1[2], g2[2], nk);
    printf("attention B%d T%d H%d Hkv%d D%d%s: out %.1e lse %.1e dq %.1e dk %.1e dv %.1e\n", B, T, H,
           Hkv, D, mask ? " masked" : "", eo, el, eq, ek, ev);
    CHECK(eo < 2e-5 && el < 2e-5 && eq < 2e-5 && ek < 2e-5 && ev < 2e-5,
          "attention SIMD vs reference: %.3g %.3g %.3g %.3g %.3g", eo, el, eq, ek, ev);
    /* 1 thread gives the same bits */
    float *o3 = zeros(nq), *l3 = zeros(nl), *g3[3] = {zeros(nq), zeros(nk), zeros(nk)};
    omp_set_num_threads(1);
    tl_attention_train_forward(o3, l3, q, k, v, mask, B, T, H, Hkv, D, scratch, nt);
    tl_attention_train_backward(g3[0], g3[1], g3[2], dout, o3, q, k, v, l3, mask, B, T, H, Hkv, D,
                                scratch, nt);
    omp_set_num_threads(nt);
    CHECK(!memcmp(o3, o1, nq * 4) && !memcmp(l3, l1, nl * 4) && !memcmp(g3[0], g1[0], nq * 4) &&
              !memcmp(g3[1], g1[1], nk * 4) && !memcmp(g3[2], g1[2], nk * 4),
          "attention differs between 1 and %d threads", nt);
    free(scratch), free(q), free(k), free(v), free(dout), free(o1), free(o2), free(o3);
    free(l1), free(l2), free(l3);
    for (int i = 0; i < 3; i++) free(g1[i]), free(g2[i]), free(g3[i]);
}

static void check_crossentropy(int N, int V) {
    size_t n = (size_t)N * V;
    float *x = rnd(n, 4), *lse1 = zeros((size_t)N), *lse2 = zeros((size_t)N);
    float *ls1 = zeros((size_t)N), *ls2 = zeros((size_t)N), *d1 = zeros(n), *d2 = zeros(n);
    int32_t *tg = malloc(sizeof(int32_t) * N);
    for (int i = 0; i < N; i++) tg[i] = i % 7 == 3 ? -1 : (int32_t)tl_rng_below(&rng, (uint64_t)V);
    float m1 = tl_crossentropy_forward(ls1, lse1, x, tg, N, V);
    float m2 = tl_crossentropy_forward_ref(ls2, lse2, x, tg, N, V);
    tl_crossentropy_backward(d1, x, lse1, tg, 0.7f, N, V);
    tl_crossentropy_backward_ref(d2, x, lse2, tg, 0.7f, N, V);
    double em = fabs(m1 - m2) / fabs(m2), el = rel_err(lse1, lse2, (size_t)N),
           ed = rel_err(d1, d2, n);
    printf("cross-entropy N%d V%d: mean %.1e lse %.1e dlogits %.1e\n", N, V, em, el, ed);
    CHECK(em < 2e-6 && el < 2e-6 && ed < 2e-5, "cross-entropy SIMD vs reference: %.3g %.3g %.3g",
          em, el, ed);
    free(x), free(lse1), free(lse2), free(ls1), free(ls2), free(d1), free(d2), free(tg);
}

static void check_swiglu(int64_t N) {
    size_t n = (size_t)N;
    float *g = rnd(n, 5), *u = rnd(n, 2), *d = rnd(n, 1), *o1 = zeros(n), *o2 = zeros(n);
    float *dg1 = rnd(n, 1), *du1 = rnd(n, 1), *dg2 = malloc(n * 4), *du2 = malloc(n * 4);
    memcpy(dg2, dg1, n * 4);
    memcpy(du2, du1, n * 4);
    tl_swiglu_forward(o1, g, u, N);
    tl_swiglu_forward_ref(o2, g, u, N);
    tl_swiglu_backward(dg1, du1, d, g, u, N);
    tl_swiglu_backward_ref(dg2, du2, d, g, u, N);
    double eo = rel_err(o1, o2, n), eg = rel_err(dg1, dg2, n), eu = rel_err(du1, du2, n);
    printf("swiglu N%lld: out %.1e dgate %.1e dup %.1e\n", (long long)N, eo, eg, eu);
    CHECK(eo < 2e-6 && eg < 2e-6 && eu < 2e-6, "swiglu SIMD vs reference: %.3g %.3g %.3g", eo, eg, eu);
    /* in place (out == gate) */
    memcpy(o2, g, n * 4);
    tl_swiglu_forward(o2, o2, u, N);
    CHECK(!memcmp(o1, o2, n * 4), "swiglu in place differs");
    free(g), free(u), free(d), free(o1), free(o2), free(dg1), free(du1), free(dg2), free(du2);
}

int main(void) {
    tl_rng_seed(&rng, 99);
    printf("ISA: %s\n", tl_isa_name(tl_cpu_isa()));
    check_attention(2, 5, 4, 2, 6, NULL, 1.0f);
    check_attention(2, 37, 6, 3, 10, NULL, 2.0f);
    check_attention(3, 70, 4, 1, 48, NULL, 1.0f);
    check_attention(1, 64, 2, 2, 16, NULL, 3.0f);
    uint8_t mask[2 * 37];
    for (int i = 0; i < 2 * 37; i++) mask[i] = tl_rng_below(&rng, 4) == 0;
    mask[37] = 1; /* sequence 1: query 0 sees no key */
    check_attention(2, 37, 6, 3, 10, mask, 1.0f);
    check_swiglu(13);
    check_swiglu(100003);
    check_crossentropy(9, 67);
    check_crossentropy(5, 32000);
    check_crossentropy(3, 7);
    return tl_test_done();
}
