/* AdamW, clipping and the schedule on their own: one AdamW step against the formula
 * computed by hand in double; which tensors decay; clip_grad_norm_ semantics; the
 * gradient norm is the same for 1 and 2 threads; schedule values at the edges; the
 * pieces of the data-parallel step (optim_shard.h) give the whole step's bits. */
#include <omp.h>
#include <string.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"
#include "train/optim_shard.h"

static void test_adamw(void) {
    tl_config c = {.dim = 4, .hidden_dim = 6, .n_layers = 1, .n_heads = 2, .vocab_size = 5,
                   .seq_len = 8};
    tl_config_defaults(&c);
    size_t n = tl_params_count(&c);
    tl_adamw *o = NULL;
    CHECK_OK(tl_adamw_new(&c, &o));
    if (!o) return;
    CHECK(o->n == n && o->step == 0, "fresh optimiser: n %zu step %lld", o->n, (long long)o->step);
    float *p = malloc(n * 4), *g = malloc(n * 4), *p0 = malloc(n * 4);
    tl_rng r;
    tl_rng_seed(&r, 7);
    for (size_t i = 0; i < n; i++) p[i] = p0[i] = tl_rng_normal(&r), g[i] = tl_rng_normal(&r);
    tl_adamw_params hp = {0.9f, 0.95f, 1e-8f, 0.1f};
    float lr[2] = {1e-2f, 3e-3f};
    tl_param_tensor ts[32];
    int nt = tl_params_tensors(&c, ts, 32);
    /* expected, in double: two steps with the same gradient */
    double *pe = malloc(n * 8), *m = calloc(n, 8), *v = calloc(n, 8);
    for (size_t i = 0; i < n; i++) pe[i] = p0[i];
    for (int s = 0; s < 2; s++) {
        tl_adamw_step(o, &hp, lr[s], p, g);
        double t = s + 1, bc1 = 1 - pow(0.9, t), bc2 = 1 - pow(0.95, t);
        for (int k = 0; k < nt; k++)
            for (int64_t j = 0; j < ts[k].rows * ts[k].cols; j++) {
                size_t i = ts[k].offset + (size_t)j;
                double wd = ts[k].n_dims == 2 ? (double)hp.weight_decay : 0.0;
                pe[i] *= 1 - (double)lr[s] * wd;
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.95 * v[i] + 0.05 * (double)g[i] * g[i];
                pe[i] -= (double)lr[s] / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + 1e-8);
            }
    }
    double err = 0;
    for (size_t i = 0; i < n; i++) err = fmax(err, fabs(p[i] - pe[i]));
    printf("AdamW two steps vs hand formula: max abs %.2e\n", err);
    CHECK(err < 1e-6 && o->step == 2, "AdamW differs by %.3g", err);
    /* with zero gradients only the decay moves parameters: matrices shrink, gains do not */
    tl_adamw *o2 = NULL;
    CHECK_OK(tl_adamw_new(&c, &o2));
    memcpy(p, p0, n * 4);
    memset(g, 0, n * 4);
    tl_adamw_step(o2, &hp, 0.5f, p, g);
    int ok = 1;
    for (int k = 0; k < nt; k++)
        for (int64_t j = 0; j < ts[k].rows * ts[k].cols; j++) {
            size_t i = ts[k].offset + (size_t)j;
            float want = ts[k].n_dims == 2 ? p0[i] * (1.0f - 0.05f) : p0[i];
            ok &= fabsf(p[i] - want) <= 1e-6f * fabsf(want);
        }
    CHECK(ok, "weight decay must apply to matrices only");
    tl_adamw_free(o);
    tl_adamw_free(o2);
    tl_adamw_free(NULL);
    free(p), free(g), free(p0), free(pe), free(m), free(v);
}

static void test_clip(void) {
    size_t n = 300001;
    float *g = malloc(n * 4), *g0 = malloc(n * 4);
    tl_rng r;
    tl_rng_seed(&r, 3);
    double ss = 0;
    for (size_t i = 0; i < n; i++) g[i] = g0[i] = tl_rng_normal(&r), ss += (double)g[i] * g[i];
    omp_set_num_threads(1);
    double n1 = tl_grad_norm(g, n);
    omp_set_num_threads(2);
    double n2 = tl_grad_norm(g, n);
    CHECK(n1 == n2, "norm differs across thread counts: %.17g %.17g", n1, n2);
    CHECK(fabs(n1 - sqrt(ss)) < 1e-9 * n1, "norm %.17g vs %.17g", n1, sqrt(ss));
    float before = tl_grad_clip(g, n, 1e9f);
    CHECK(!memcmp(g, g0, n * 4) && fabs(before - n1) < 1e-3, "no clip below max_norm");
    before = tl_grad_clip(g, n, 0.0f);
    CHECK(!memcmp(g, g0, n * 4), "max_norm 0 disables clipping");
    before = tl_grad_clip(g, n, 2.0f);
    double after = tl_grad_norm(g, n);
    printf("clip: norm %.4f -> %.6f (max 2)\n", before, after);
    CHECK(fabs(after - 2.0 * n1 / (n1 + 1e-6)) < 1e-5, "clipped norm %.8g", after);
    free(g), free(g0);
}

static void test_schedule(void) {
    tl_lr_schedule s = {1e-3f, 10, 110, 0.1f};
    CHECK(fabsf(tl_lr_at(&s, 0) - 1e-4f) < 1e-9f, "step 0: %g", tl_lr_at(&s, 0));
    CHECK(fabsf(tl_lr_at(&s, 9) - 1e-3f) < 1e-9f, "step 9: %g", tl_lr_at(&s, 9));
    CHECK(fabsf(tl_lr_at(&s, 10) - 1e-3f) < 1e-9f, "step 10: %g", tl_lr_at(&s, 10));
    CHECK(fabsf(tl_lr_at(&s, 60) - 5.5e-4f) < 1e-9f, "midpoint: %g", tl_lr_at(&s, 60));
    CHECK(fabsf(tl_lr_at(&s, 110) - 1e-4f) < 1e-9f, "end: %g", tl_lr_at(&s, 110));
    CHECK(fabsf(tl_lr_at(&s, 500) - 1e-4f) < 1e-9f, "after: %g", tl_lr_at(&s, 500));
    for (int64_t t = 10; t < 110; t++)
        CHECK(tl_lr_at(&s, t + 1) <= tl_lr_at(&s, t), "not decreasing at %lld", (long long)t);
    tl_lr_schedule flat = {2e-3f, 0, 0, 0.0f};
    CHECK(tl_lr_at(&flat, 0) == 2e-3f && tl_lr_at(&flat, 1000) == 2e-3f, "constant schedule");
}

/* Under MPI each rank updates its own range of the parameters (src/train/dp.c): the ranges,
 * cut anywhere (here inside tensors), must give exactly the whole-buffer step, and the norm's
 * block sums added in block order exactly tl_grad_norm. */
static void test_shards(void) {
    tl_config c = {.dim = 8, .hidden_dim = 12, .n_layers = 2, .n_heads = 2, .vocab_size = 11, .seq_len = 8};
    tl_config_defaults(&c);
    size_t n = tl_params_count(&c);
    tl_adamw *whole = NULL, *part = NULL;
    CHECK_OK(tl_adamw_new(&c, &whole));
    CHECK_OK(tl_adamw_new(&c, &part));
    if (!whole || !part) return;
    float *p1 = malloc(n * 4), *p2 = malloc(n * 4), *g = malloc(n * 4);
    tl_rng r;
    tl_rng_seed(&r, 11);
    for (size_t i = 0; i < n; i++) p1[i] = p2[i] = tl_rng_normal(&r), g[i] = tl_rng_normal(&r) * 1e-2f;
    tl_adamw_params hp = {0.9f, 0.95f, 1e-8f, 0.1f};
    size_t cut[4] = {0, n / 3 + 1, 2 * n / 3 + 5, n}; /* three ranges, not at tensor bounds */
    for (int step = 0; step < 3; step++) {
        tl_adamw_step(whole, &hp, 1e-2f, p1, g);
        for (int k = 0; k < 3; k++) {
            if (k) part->step--; /* one step over the ranges, as each rank counts it once */
            tl_adamw_step_range(part, &hp, 1e-2f, p2, g, cut[k], cut[k + 1]);
        }
    }
    CHECK(!memcmp(p1, p2, n * 4) && !memcmp(whole->m, part->m, n * 4) && !memcmp(whole->v, part->v, n * 4),
          "AdamW over three ranges differs from the whole step");
    CHECK(part->step == 3, "step count %lld after 3 sharded steps", (long long)part->step);
    double parts[TL_GRAD_NORM_BLOCKS] = {0}, total = 0;
    tl_grad_norm_parts(g, n, 0, 100, parts);
    tl_grad_norm_parts(g, n, 100, TL_GRAD_NORM_BLOCKS, parts);
    for (int b = 0; b < TL_GRAD_NORM_BLOCKS; b++) total += parts[b];
    CHECK(sqrt(total) == tl_grad_norm(g, n), "norm from block sums %.17g vs %.17g", sqrt(total), tl_grad_norm(g, n));
    free(p1), free(p2), free(g);
    tl_adamw_free(whole);
    tl_adamw_free(part);
}

int main(void) {
    test_adamw();
    test_shards();
    test_clip();
    test_schedule();
    return tl_test_done();
}
