/* test_steer_random: the random-direction baseline of the steering table (tl_steer_random_like,
 * docs/steering.md): it has the norms of the vector it copies at every steered layer and zeros
 * elsewhere, is the same for a seed and different across seeds, and is a uniformly random
 * direction (cosines with any fixed vector centred on 0 with variance 1 / C). */
#include <math.h>
#include <string.h>

#include "control/steer_vec.h"
#include "testlib.h"
#include "tiller/base.h"
#include "tiller/steer.h"

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* A "steering vector" of width C, L layers, with a fixed non-random shape at layers 1 .. L - 1
 * (layer l's norm l + 0.5; layer 3, when present, left at zero). */
static tl_steer_vec *fixed_vec(int C, int L) {
    tl_steer_vec *v = NULL;
    if (tl_steer_vec_new(C, L, "llama", &v)) return NULL;
    for (int l = 1; l < L; l++) {
        if (l == 3) continue;
        float *d = v->dir + (size_t)l * C;
        for (int i = 0; i < C; i++) d[i] = (float)((i % 7) - 3 + 0.25 * l); /* a structured direction */
        double n = sqrt(dot(d, d, C));
        for (int i = 0; i < C; i++) d[i] = (float)(d[i] / n * (l + 0.5));
        v->set[l] = 1;
    }
    return v;
}

int main(void) {
    enum { C = 1024, L = 5 };
    tl_steer_vec *like = fixed_vec(C, L);
    CHECK(like != NULL, "fixed vector");
    if (!like) return tl_test_done();

    /* norms: layers 1 .. 3 of like, 4 untouched; layer 3 is zero in like, so zero and unset here */
    tl_steer_vec *a = NULL, *b = NULL, *c = NULL;
    CHECK_OK(tl_steer_random_like(like, 1, 3, 42, &a));
    CHECK_OK(tl_steer_random_like(like, 1, 3, 42, &b));
    CHECK_OK(tl_steer_random_like(like, 1, 3, 43, &c));
    if (!a || !b || !c) return tl_test_done();
    CHECK(tl_steer_vec_dim(a) == C && tl_steer_vec_n_layers(a) == L, "shape %d x %d", tl_steer_vec_dim(a),
          tl_steer_vec_n_layers(a));
    for (int l = 0; l < L; l++) {
        const float *ra = tl_steer_vec_direction(a, l), *lk = tl_steer_vec_direction(like, l);
        double want = l >= 1 && l <= 3 ? sqrt(dot(lk, lk, C)) : 0, got = sqrt(dot(ra, ra, C));
        CHECK(fabs(got - want) <= 1e-6 * (want > 0 ? want : 1), "layer %d: norm %.9g, want %.9g", l, got, want);
        CHECK(tl_steer_vec_has(a, l) == (l >= 1 && l <= 3 && l != 3), "layer %d: set %d", l, tl_steer_vec_has(a, l));
    }
    /* deterministic for a seed, different across seeds */
    CHECK(!memcmp(a->dir, b->dir, sizeof(float) * C * L), "the same seed gave different directions");
    const float *a1 = tl_steer_vec_direction(a, 1), *c1 = tl_steer_vec_direction(c, 1),
                *l1 = tl_steer_vec_direction(like, 1), *a2 = tl_steer_vec_direction(a, 2);
    double na = sqrt(dot(a1, a1, C)), nc = sqrt(dot(c1, c1, C)), nl = sqrt(dot(l1, l1, C)), na2 = sqrt(dot(a2, a2, C));
    /* nearly orthogonal to the vector it copies, to another seed's, and across layers: |cos| of two
     * independent uniform directions in C dimensions is about 1 / sqrt(C) = 0.031; 5 of those */
    double bound = 5 / sqrt((double)C);
    double cos_like = dot(a1, l1, C) / (na * nl), cos_seed = dot(a1, c1, C) / (na * nc);
    double cos_layer = dot(a1, a2, C) / (na * na2);
    CHECK(fabs(cos_like) < bound, "cos with the copied vector %.4f (bound %.4f)", cos_like, bound);
    CHECK(fabs(cos_seed) < bound, "cos across seeds %.4f", cos_seed);
    CHECK(fabs(cos_layer) < bound, "cos across layers %.4f", cos_layer);
    tl_steer_vec_free(a), tl_steer_vec_free(b), tl_steer_vec_free(c);

    /* uniform on the sphere: over 400 seeds, cos with the copied direction has mean ~ 0 and variance
     * ~ 1 / C (for a uniform direction exactly 1 / C); the mean's standard error is 1 / sqrt(400 C) */
    enum { S = 400 };
    double sum = 0, sum2 = 0;
    for (int k = 0; k < S; k++) {
        tl_steer_vec *r = NULL;
        CHECK_OK(tl_steer_random_like(like, 1, 1, 1000 + (uint64_t)k, &r));
        if (!r) break;
        const float *r1 = tl_steer_vec_direction(r, 1);
        double cs = dot(r1, l1, C) / (sqrt(dot(r1, r1, C)) * nl);
        sum += cs, sum2 += cs * cs;
        CHECK(!tl_steer_vec_has(r, 2) && dot(tl_steer_vec_direction(r, 2), tl_steer_vec_direction(r, 2), C) == 0,
              "layer 2 outside the range 1-1 is not zero");
        tl_steer_vec_free(r);
    }
    double mean = sum / S, var = sum2 / S - mean * mean;
    CHECK(fabs(mean) < 4 / sqrt((double)S * C), "mean cos %.5f", mean);
    CHECK(var > 0.75 / C && var < 1.25 / C, "var of cos %.3g, want about %.3g", var, 1.0 / C);

    /* the range must lie in 1 .. L - 1 */
    tl_steer_vec *bad = NULL;
    CHECK(tl_steer_random_like(like, 0, 2, 1, &bad) == TL_E_ARG && !bad, "layer 0 accepted");
    CHECK(tl_steer_random_like(like, 2, L, 1, &bad) == TL_E_ARG && !bad, "layer L accepted");
    CHECK(tl_steer_random_like(like, 3, 2, 1, &bad) == TL_E_ARG && !bad, "an empty range accepted");
    tl_steer_vec_free(like);
    return tl_test_done();
}
