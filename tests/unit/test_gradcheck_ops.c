/* Every kernel's backward against central finite differences, in double precision:
 * the double build of each kernel's portable reference (the same source as the
 * float kernels tiller runs, see src/kernels/generic.h). The loss is
 * L = sum(wout * forward(...)) with random wout, so d L / d out = wout.
 * Bar: max |analytic - numeric| / max |analytic| <= 1e-6 per tensor (eps = 1e-6).
 * Backward accumulation (+=) is checked by starting every gradient at 0.5.
 * matmul.c is float only: its backward is checked against the exact products
 * computed in double. */
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kernels_f64.h"
#include "testlib.h"

#define FD_EPS 1e-6
#define FD_BAR 1e-6
#define ACC0 0.5 /* every analytic gradient starts here, to check += */

static tl_rng rng;

static double *rnd(size_t n, double scale, double offset) {
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = offset + scale * (2.0 * tl_rng_double(&rng) - 1.0);
    return x;
}

static double *filled(size_t n, double v) {
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = v;
    return x;
}

static double dot(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Compare the analytic gradient g (offset by ACC0) of loss w.r.t. x[n] with central
 * differences; prints one line and checks the bar. */
static void fd_check(const char *name, double *x, const double *g, size_t n, loss_fn f, void *ctx) {
    double max_err = 0, max_g = 0;
    for (size_t i = 0; i < n; i++) {
        double save = x[i];
        x[i] = save + FD_EPS;
        double lp = f(ctx);
        x[i] = save - FD_EPS;
        double lm = f(ctx);
        x[i] = save;
        double fd = (lp - lm) / (2 * FD_EPS), an = g[i] - ACC0;
        double err = fabs(fd - an);
        if (!(err <= max_err)) max_err = err;
        if (fabs(an) > max_g) max_g = fabs(an);
    }
    double rel = max_err / (max_g > 1e-30 ? max_g : 1e-30);
    printf("  %-34s n=%-4zu max|grad| %.3e  max abs err %.2e  rel %.2e\n", name, n, max_g, max_err,
           rel);
    CHECK(rel <= FD_BAR && max_g > 0, "%s: relative error %.3g (max |grad| %.3g)", name, rel, max_g);
}

/* ---- rmsnorm ---- */
typedef struct {
    int T, C;
    double *inp, *w, *wout, *out, *rstd;
} rms_ctx;

static double rms_loss(void *p) {
    rms_ctx *c = p;
    tl_rmsnorm_forward_f64(c->out, c->rstd, c->inp, c->w, c->T, c->C, 1e-5f);
    return dot(c->out, c->wout, (size_t)c->T * c->C);
}

static void test_rmsnorm(void) {
    rms_ctx c = {5, 7, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)c.T * c.C;
    c.inp = rnd(n, 1, 0);
    c.w = rnd((size_t)c.C, 0.5, 1);
    c.wout = rnd(n, 1, 0);
    c.out = malloc(n * sizeof(double));
    c.rstd = malloc((size_t)c.T * sizeof(double));
    double *dinp = filled(n, ACC0), *dw = filled((size_t)c.C, ACC0);
    rms_loss(&c);
    tl_rmsnorm_backward_f64(dinp, dw, c.wout, c.inp, c.w, c.rstd, c.T, c.C);
    fd_check("rmsnorm d inp", c.inp, dinp, n, rms_loss, &c);
    fd_check("rmsnorm d w", c.w, dw, (size_t)c.C, rms_loss, &c);
    free(c.inp), free(c.w), free(c.wout), free(c.out), free(c.rstd), free(dinp), free(dw);
}

/* ---- rope ---- */
typedef struct {
    int T, nh, D, sign;
    tl_rope_layout layout;
    const int *pos;
    double *x, *wout, *tmp;
    const int *pos2; /* non-NULL: the 2-D rotation (tl_rope2d_forward) */
} rope_ctx;

static double rope_loss(void *p) {
    rope_ctx *c = p;
    size_t n = (size_t)c->T * c->nh * c->D;
    memcpy(c->tmp, c->x, n * sizeof(double));
    if (c->pos2)
        tl_rope2d_forward_f64(c->tmp, c->pos, c->pos2, c->T, c->nh, c->D, 10000.0f, c->layout, c->sign);
    else
        tl_rope_forward_f64(c->tmp, c->pos, c->T, c->nh, c->D, 10000.0f, c->layout, c->sign);
    return dot(c->tmp, c->wout, n);
}

/* 2-D RoPE (GLM-style, for ABI): d x by central differences, both layouts and signs. */
static void test_rope2d(void) {
    static const int pos[4] = {0, 3, 7, 100}, pos2[4] = {5, 3, 0, 2};
    for (int layout = 0; layout < 2; layout++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            rope_ctx c = {4, 3, 8, sign, (tl_rope_layout)layout, pos, NULL, NULL, NULL, pos2};
            size_t n = (size_t)c.T * c.nh * c.D;
            c.x = rnd(n, 1, 0);
            c.wout = rnd(n, 1, 0);
            c.tmp = malloc(n * sizeof(double));
            double *dx = malloc(n * sizeof(double));
            memcpy(dx, c.wout, n * sizeof(double));
            tl_rope2d_backward_f64(dx, c.pos, c.pos2, c.T, c.nh, c.D, 10000.0f, c.layout, c.sign);
            for (size_t i = 0; i < n; i++) dx[i] += ACC0;
            char name[64];
            snprintf(name, sizeof name, "rope2d d x (%s, sign %+d)", layout ? "half" : "interleaved", sign);
            fd_check(name, c.x, dx, n, rope_loss, &c);
            free(c.x), free(c.wout), free(c.tmp), free(dx);
        }
    }
}

static void test_rope(void) {
    static const int pos[4] = {0, 3, 7, 100};
    for (int layout = 0; layout < 2; layout++) {
        for (int sign = -1; sign <= 1; sign += 2) {
            rope_ctx c = {4, 3, 8, sign, (tl_rope_layout)layout, pos, NULL, NULL, NULL, NULL};
            size_t n = (size_t)c.T * c.nh * c.D;
            c.x = rnd(n, 1, 0);
            c.wout = rnd(n, 1, 0);
            c.tmp = malloc(n * sizeof(double));
            /* rope backward runs in place on the incoming gradient */
            double *dx = malloc(n * sizeof(double));
            memcpy(dx, c.wout, n * sizeof(double));
            tl_rope_backward_f64(dx, c.pos, c.T, c.nh, c.D, 10000.0f, c.layout, c.sign);
            for (size_t i = 0; i < n; i++) dx[i] += ACC0;
            char name[64];
            snprintf(name, sizeof name, "rope d x (%s, sign %+d)", layout ? "half" : "interleaved",
                     sign);
            fd_check(name, c.x, dx, n, rope_loss, &c);
            free(c.x), free(c.wout), free(c.tmp), free(dx);
        }
    }
}

/* ---- swiglu ---- */
typedef struct {
    int64_t N;
    double *gate, *up, *wout, *out;
} swiglu_ctx;

static double swiglu_loss(void *p) {
    swiglu_ctx *c = p;
    tl_swiglu_forward_f64(c->out, c->gate, c->up, c->N);
    return dot(c->out, c->wout, (size_t)c->N);
}

static void test_swiglu(void) {
    swiglu_ctx c = {23, NULL, NULL, NULL, NULL};
    size_t n = (size_t)c.N;
    c.gate = rnd(n, 4, 0);
    c.up = rnd(n, 2, 0);
    c.wout = rnd(n, 1, 0);
    c.out = malloc(n * sizeof(double));
    double *dgate = filled(n, ACC0), *dup = filled(n, ACC0);
    tl_swiglu_backward_f64(dgate, dup, c.wout, c.gate, c.up, c.N);
    fd_check("swiglu d gate", c.gate, dgate, n, swiglu_loss, &c);
    fd_check("swiglu d up", c.up, dup, n, swiglu_loss, &c);
    free(c.gate), free(c.up), free(c.wout), free(c.out), free(dgate), free(dup);
}

/* ---- attention (training) ---- */
typedef struct {
    int B, T, H, Hkv, D;
    const uint8_t *mask;
    double *q, *k, *v, *wout, *out, *lse, *scratch;
    int n_scratch;
} attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    tl_attention_train_forward_f64(c->out, c->lse, c->q, c->k, c->v, c->mask, c->B, c->T, c->H,
                                   c->Hkv, c->D, c->scratch, c->n_scratch);
    return dot(c->out, c->wout, (size_t)c->B * c->T * c->H * c->D);
}

static void test_attention(const uint8_t *mask, const char *what) {
    attn_ctx c = {2, 5, 4, 2, 6, mask, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    size_t nq = (size_t)c.B * c.T * c.H * c.D, nk = (size_t)c.B * c.T * c.Hkv * c.D;
    c.q = rnd(nq, 1, 0);
    c.k = rnd(nk, 1, 0);
    c.v = rnd(nk, 1, 0);
    c.wout = rnd(nq, 1, 0);
    c.out = malloc(nq * sizeof(double));
    c.lse = malloc((size_t)c.B * c.H * c.T * sizeof(double));
    c.n_scratch = omp_get_max_threads();
    c.scratch = malloc((size_t)c.n_scratch * tl_attention_train_scratch(c.T, c.D) * sizeof(double));
    attn_loss(&c);
    double *dq = filled(nq, ACC0), *dk = filled(nk, ACC0), *dv = filled(nk, ACC0);
    tl_attention_train_backward_f64(dq, dk, dv, c.wout, c.out, c.q, c.k, c.v, c.lse, c.mask, c.B,
                                    c.T, c.H, c.Hkv, c.D, c.scratch, c.n_scratch);
    char name[64];
    snprintf(name, sizeof name, "attention d q (%s)", what);
    fd_check(name, c.q, dq, nq, attn_loss, &c);
    snprintf(name, sizeof name, "attention d k (%s)", what);
    fd_check(name, c.k, dk, nk, attn_loss, &c);
    snprintf(name, sizeof name, "attention d v (%s)", what);
    fd_check(name, c.v, dv, nk, attn_loss, &c);
    if (mask) {
        /* sequence 1 hides key 0: query 0 sees nothing, gets 0 and passes no gradient */
        int ok = 1;
        for (int h = 0; h < c.H; h++)
            for (int d = 0; d < c.D; d++) {
                size_t i = (((size_t)1 * c.T + 0) * c.H + h) * c.D + d;
                ok &= c.out[i] == 0 && dq[i] == ACC0;
            }
        CHECK(ok, "a query that sees no key must output 0 and get no gradient");
        CHECK(isinf(c.lse[(size_t)1 * c.H * c.T]) && c.lse[(size_t)1 * c.H * c.T] < 0,
              "its lse must be -inf");
    }
    free(c.q), free(c.k), free(c.v), free(c.wout), free(c.out), free(c.lse), free(c.scratch);
    free(dq), free(dk), free(dv);
}

/* ---- attention, general form: bidirectional prefix, positions, mirrored pair ---- */
typedef struct {
    int B, T, H, Hkv, D;
    const tl_attn_vis *vis;
    double *q, *k, *qm, *km, *v, *wout, *out, *lse, *scratch;
    int n_scratch;
} attn_ex_ctx;

static double attn_ex_loss(void *p) {
    attn_ex_ctx *c = p;
    tl_attention_train_forward_ex_f64(c->out, c->lse, c->q, c->k, c->qm, c->km, c->v, c->vis, c->B,
                                      c->T, c->H, c->Hkv, c->D, c->scratch, c->n_scratch);
    return dot(c->out, c->wout, (size_t)c->B * c->T * c->H * c->D);
}

/* qm, km are free inputs here (in the model they are q, k rotated by -theta), so every
 * one of the five gradients is checked on its own. */
static void test_attention_ex(const tl_attn_vis *vis, const char *what) {
    attn_ex_ctx c = {2, 5, 4, 2, 6, vis, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0};
    size_t nq = (size_t)c.B * c.T * c.H * c.D, nk = (size_t)c.B * c.T * c.Hkv * c.D;
    c.q = rnd(nq, 1, 0), c.qm = rnd(nq, 1, 0);
    c.k = rnd(nk, 1, 0), c.km = rnd(nk, 1, 0), c.v = rnd(nk, 1, 0);
    c.wout = rnd(nq, 1, 0);
    c.out = malloc(nq * sizeof(double));
    c.lse = malloc((size_t)c.B * c.H * c.T * sizeof(double));
    c.n_scratch = omp_get_max_threads();
    c.scratch = malloc((size_t)c.n_scratch * tl_attention_train_scratch(c.T, c.D) * sizeof(double));
    attn_ex_loss(&c);
    double *dq = filled(nq, ACC0), *dqm = filled(nq, ACC0), *dk = filled(nk, ACC0),
           *dkm = filled(nk, ACC0), *dv = filled(nk, ACC0);
    tl_attention_train_backward_ex_f64(dq, dk, dqm, dkm, dv, c.wout, c.out, c.q, c.k, c.qm, c.km,
                                       c.v, c.lse, vis, c.B, c.T, c.H, c.Hkv, c.D, c.scratch,
                                       c.n_scratch);
    struct {
        const char *n;
        double *x, *g;
        size_t len;
    } t[] = {{"q", c.q, dq, nq}, {"k", c.k, dk, nk}, {"qm", c.qm, dqm, nq},
             {"km", c.km, dkm, nk}, {"v", c.v, dv, nk}};
    for (int i = 0; i < 5; i++) {
        char name[80];
        snprintf(name, sizeof name, "attention d %s (%s)", t[i].n, what);
        fd_check(name, t[i].x, t[i].g, t[i].len, attn_ex_loss, &c);
    }
    free(c.q), free(c.k), free(c.qm), free(c.km), free(c.v), free(c.wout), free(c.out), free(c.lse);
    free(c.scratch), free(dq), free(dqm), free(dk), free(dkm), free(dv);
}

/* Which pairs the general form scores with the mirrored pair: without a prefix it is
 * the causal kernel bit for bit; qm = q, km = k equals no mirrored pair; a different
 * km changes exactly the queries that see a key after them. */
static void test_attention_ex_cases(void) {
    int B = 2, T = 7, H = 2, Hkv = 1, D = 4;
    size_t nq = (size_t)B * T * H * D, nk = (size_t)B * T * Hkv * D, nl = (size_t)B * H * T;
    double *q = rnd(nq, 1, 0), *k = rnd(nk, 1, 0), *v = rnd(nk, 1, 0), *km = rnd(nk, 1, 0);
    double *o1 = malloc(nq * sizeof(double)), *o2 = malloc(nq * sizeof(double));
    double *l1 = malloc(nl * sizeof(double)), *l2 = malloc(nl * sizeof(double));
    int ns = omp_get_max_threads();
    double *scr = malloc((size_t)ns * tl_attention_train_scratch(T, D) * sizeof(double));
    static const uint8_t mask[14] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0};
    tl_attn_vis causal = {mask, NULL, NULL, NULL, NULL};
    tl_attention_train_forward_ex_f64(o1, l1, q, k, NULL, NULL, v, &causal, B, T, H, Hkv, D, scr, ns);
    tl_attention_train_forward_f64(o2, l2, q, k, v, mask, B, T, H, Hkv, D, scr, ns);
    CHECK(!memcmp(o1, o2, nq * sizeof(double)), "general form without prefix != causal kernel");
    int prefix[2] = {T, 3};
    tl_attn_vis bidir = {mask, prefix, NULL, NULL, NULL};
    tl_attention_train_forward_ex_f64(o1, l1, q, k, q, k, v, &bidir, B, T, H, Hkv, D, scr, ns);
    tl_attention_train_forward_ex_f64(o2, l2, q, k, NULL, NULL, v, &bidir, B, T, H, Hkv, D, scr, ns);
    CHECK(!memcmp(o1, o2, nq * sizeof(double)), "qm = q, km = k must equal no mirrored pair");
    /* a mirrored key changes the result only for queries that see a key after them:
     * sequence 1 (prefix 3) query 4 sees keys 0..4 (none after it) */
    tl_attention_train_forward_ex_f64(o1, l1, q, k, q, km, v, &bidir, B, T, H, Hkv, D, scr, ns);
    size_t r = (((size_t)1 * T + 4) * H) * D, r0 = (((size_t)1 * T + 0) * H) * D;
    CHECK(!memcmp(o1 + r, o2 + r, (size_t)H * D * sizeof(double)),
          "a query with no key after it must not use the mirrored pair");
    CHECK(memcmp(o1 + r0, o2 + r0, (size_t)H * D * sizeof(double)) != 0,
          "query 0 of a bidirectional prefix must use the mirrored pair for keys 1, 2");
    free(q), free(k), free(v), free(km), free(o1), free(o2), free(l1), free(l2), free(scr);
}

/* The training kernel (float) on one sequence equals the inference kernel over a KV cache. */
static void test_attention_matches_inference(void) {
    int T = 9, H = 4, Hkv = 2, D = 8, QD = H * D, KD = Hkv * D;
    float *q = malloc(sizeof(float) * T * QD), *k = malloc(sizeof(float) * T * KD),
          *v = malloc(sizeof(float) * T * KD), *o1 = malloc(sizeof(float) * T * QD),
          *o2 = malloc(sizeof(float) * T * QD), *lse = malloc(sizeof(float) * T * H);
    int nt = omp_get_max_threads();
    float *scratch = malloc(sizeof(float) * nt * tl_attention_train_scratch(T, D));
    for (int i = 0; i < T * QD; i++) q[i] = tl_rng_normal(&rng);
    for (int i = 0; i < T * KD; i++) k[i] = tl_rng_normal(&rng), v[i] = tl_rng_normal(&rng);
    tl_attention_train_forward(o1, lse, q, k, v, NULL, 1, T, H, Hkv, D, scratch, nt);
    tl_attention_forward(o2, q, k, v, T, 0, H, Hkv, D, KD, scratch, T);
    double err = tl_test_max_abs(o1, o2, (size_t)T * QD);
    printf("  attention train vs inference kernel: max abs diff %.2e\n", err);
    CHECK(err <= 1e-5, "training attention differs from inference attention by %.3g", err);
    free(q), free(k), free(v), free(o1), free(o2), free(lse), free(scratch);
}

/* ---- embedding ---- */
typedef struct {
    int N, C;
    const int32_t *tokens;
    double *table, *wout, *out;
} emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *c = p;
    tl_embedding_forward_f64(c->out, c->table, c->tokens, c->N, c->C);
    return dot(c->out, c->wout, (size_t)c->N * c->C);
}

static void test_embedding(void) {
    static const int32_t tokens[7] = {3, 1, 3, 0, 5, 3, 1}; /* repeats; 2 and 4 unused */
    emb_ctx c = {7, 5, tokens, NULL, NULL, NULL};
    size_t nt = 6 * 5;
    c.table = rnd(nt, 1, 0);
    c.wout = rnd((size_t)c.N * c.C, 1, 0);
    c.out = malloc((size_t)c.N * c.C * sizeof(double));
    double *dt = filled(nt, ACC0);
    tl_embedding_backward_f64(dt, c.wout, c.tokens, c.N, c.C);
    fd_check("embedding d table", c.table, dt, nt, emb_loss, &c);
    free(c.table), free(c.wout), free(c.out), free(dt);
}

/* ---- cross-entropy ---- */
typedef struct {
    int N, V;
    const int32_t *targets;
    double *logits, *lse, *losses;
    double dloss;
} ce_ctx;

static double ce_loss(void *p) {
    ce_ctx *c = p;
    return c->dloss * tl_crossentropy_forward_f64(c->losses, c->lse, c->logits, c->targets, c->N, c->V);
}

static void test_crossentropy(void) {
    static const int32_t targets[6] = {2, -1, 0, 8, -100, 5};
    ce_ctx c = {6, 9, targets, NULL, NULL, NULL, 1.7};
    size_t n = (size_t)c.N * c.V;
    c.logits = rnd(n, 3, 0);
    c.lse = malloc((size_t)c.N * sizeof(double));
    c.losses = malloc((size_t)c.N * sizeof(double));
    double mean = tl_crossentropy_forward_f64(c.losses, c.lse, c.logits, c.targets, c.N, c.V);
    /* the loss itself, computed directly */
    double want = 0;
    int counted = 0;
    for (int r = 0; r < c.N; r++) {
        if (targets[r] < 0) continue;
        double s = 0;
        for (int i = 0; i < c.V; i++) s += exp(c.logits[r * c.V + i]);
        want += log(s) - c.logits[r * c.V + targets[r]];
        counted++;
    }
    want /= counted;
    CHECK(fabs(mean - want) < 1e-12, "cross-entropy mean %.15g, direct %.15g", mean, want);
    CHECK(c.losses[1] == 0 && c.losses[4] == 0, "ignored rows must have loss 0");
    double *dl = malloc(n * sizeof(double));
    tl_crossentropy_backward_f64(dl, c.logits, c.lse, c.targets, c.dloss, c.N, c.V);
    for (size_t i = 0; i < n; i++) dl[i] += ACC0; /* backward writes; fd_check subtracts ACC0 */
    fd_check("cross-entropy d logits", c.logits, dl, n, ce_loss, &c);
    /* in place gives the same (fd_check left lse of the perturbed logits: redo it) */
    tl_crossentropy_forward_f64(NULL, c.lse, c.logits, c.targets, c.N, c.V);
    double *inplace = malloc(n * sizeof(double));
    memcpy(inplace, c.logits, n * sizeof(double));
    tl_crossentropy_backward_f64(inplace, inplace, c.lse, c.targets, c.dloss, c.N, c.V);
    int same = 1;
    for (size_t i = 0; i < n; i++) same &= inplace[i] + ACC0 == dl[i];
    CHECK(same, "in-place cross-entropy backward differs");
    /* nothing counted: loss 0, gradient 0 */
    static const int32_t none[6] = {-1, -1, -1, -1, -1, -1};
    double m0 = tl_crossentropy_forward_f64(NULL, c.lse, c.logits, none, c.N, c.V);
    tl_crossentropy_backward_f64(dl, c.logits, c.lse, none, 1.0, c.N, c.V);
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(dl[i]));
    CHECK(m0 == 0 && mx == 0, "no counted target: loss %g, max |grad| %g", m0, mx);
    free(c.logits), free(c.lse), free(c.losses), free(dl), free(inplace);
}

/* ---- matmul (float only: checked against the exact products in double) ---- */
static void test_matmul(void) {
    int T = 7, I = 13, O = 11;
    float *inp = malloc(sizeof(float) * T * I), *w = malloc(sizeof(float) * O * I),
          *dout = malloc(sizeof(float) * T * O), *dinp = malloc(sizeof(float) * T * I),
          *dw = malloc(sizeof(float) * O * I), *db = malloc(sizeof(float) * O);
    for (int i = 0; i < T * I; i++) inp[i] = tl_rng_normal(&rng), dinp[i] = 0.5f;
    for (int i = 0; i < O * I; i++) w[i] = tl_rng_normal(&rng), dw[i] = 0.5f;
    for (int i = 0; i < T * O; i++) dout[i] = tl_rng_normal(&rng);
    for (int i = 0; i < O; i++) db[i] = 0.5f;
    tl_matmul_backward(dinp, dw, db, dout, inp, w, T, I, O);
    double e1 = 0, e2 = 0, e3 = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < I; i++) {
            double s = 0.5;
            for (int o = 0; o < O; o++) s += (double)dout[t * O + o] * w[o * I + i];
            e1 = fmax(e1, fabs(s - dinp[t * I + i]) / fmax(1, fabs(s)));
        }
    for (int o = 0; o < O; o++) {
        double sb = 0.5;
        for (int i = 0; i < I; i++) {
            double s = 0.5;
            for (int t = 0; t < T; t++) s += (double)dout[t * O + o] * inp[t * I + i];
            e2 = fmax(e2, fabs(s - dw[o * I + i]) / fmax(1, fabs(s)));
        }
        for (int t = 0; t < T; t++) sb += dout[t * O + o];
        e3 = fmax(e3, fabs(sb - db[o]) / fmax(1, fabs(sb)));
    }
    printf("  matmul (float) d inp %.2e  d w %.2e  d bias %.2e (vs exact double)\n", e1, e2, e3);
    CHECK(e1 < 1e-5 && e2 < 1e-5 && e3 < 1e-5, "matmul backward errors %.3g %.3g %.3g", e1, e2, e3);
    free(inp), free(w), free(dout), free(dinp), free(dw), free(db);
}

int main(void) {
    tl_rng_seed(&rng, 1234);
    test_rmsnorm();
    test_rope();
    test_rope2d();
    test_swiglu();
    test_attention(NULL, "causal");
    static const uint8_t mask[2 * 5] = {0, 0, 1, 0, 0, /* */ 1, 0, 0, 1, 0};
    test_attention(mask, "causal + key mask");
    test_attention_matches_inference();
    int prefix[2] = {5, 3};
    tl_attn_vis bidir = {NULL, NULL, NULL, NULL, NULL}, both = {mask, prefix, NULL, NULL, NULL};
    static const int pos[10] = {0, 1, 3, 4, 1, 0, 1, 2, 3, 4};
    tl_attn_vis moved = {NULL, prefix, pos, NULL, NULL};
    bidir.prefix = (const int[2]){5, 5};
    test_attention_ex(&bidir, "bidirectional, mirrored");
    test_attention_ex(&both, "prefix + key mask, mirrored");
    test_attention_ex(&moved, "prefix + moved positions");
    /* 2-D positions (ABI, GLM-style): rows laid out as Part A then Part B, and a row
     * whose second ids disagree with the first, so the halves split often */
    static const int p1[10] = {0, 1, 2, 1, 1, /* */ 0, 1, 2, 3, 4}, p2[10] = {0, 1, 2, 1, 2, /* */ 4, 0, 3, 1, 2};
    static uint8_t dims_i[6], dims_h[6];
    tl_rope2d_dims(dims_i, 6, TL_ROPE_INTERLEAVED);
    tl_rope2d_dims(dims_h, 6, TL_ROPE_HALF);
    tl_attn_vis two_i = {NULL, (const int[2]){3, 5}, p1, p2, dims_i};
    tl_attn_vis two_h = {mask, (const int[2]){3, 2}, p1, p2, dims_h};
    test_attention_ex(&two_i, "2-D positions, interleaved dims");
    test_attention_ex(&two_h, "2-D positions, half dims, key mask");
    test_attention_ex_cases();
    test_embedding();
    test_crossentropy();
    test_matmul();
    return tl_test_done();
}
