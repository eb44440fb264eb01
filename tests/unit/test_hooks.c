/* Hook points: capture sees the same activations in prefill and decode; an edit
 * hook changes the output exactly as the same change applied by hand would; a
 * zero edit changes nothing; hook names parse. Uses the real stories260K model. */
#include <string.h>

#include "format/format.h"
#include "testlib.h"

typedef struct {
    float *buf; /* [n_ctx, C] rows by absolute position */
    int width;
    int calls;
} capture;

static void capture_fn(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    capture *c = user;
    c->calls++;
    memcpy(c->buf + (size_t)pos0 * width, x, (size_t)T * width * sizeof(float));
}

typedef struct {
    const float *v; /* [C] */
    float scale;
} add_vec;

static void add_fn(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    add_vec *a = user;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < width; i++) x[(size_t)t * width + i] += a->scale * a->v[i];
}

int main(void) {
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (!m) return tl_test_done();
    int C = m->cfg.dim, V = m->cfg.vocab_size, N = 12;
    int32_t toks[12] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};

    /* hook names */
    tl_hook_point pt;
    int layer;
    CHECK_OK(tl_hook_parse("resid_post.3", &pt, &layer));
    CHECK(pt == TL_HOOK_RESID_POST && layer == 3, "parsed %d %d", pt, layer);
    CHECK_OK(tl_hook_parse("final_norm", &pt, &layer));
    CHECK(pt == TL_HOOK_FINAL_NORM && layer == -1, "parsed %d %d", pt, layer);
    CHECK(tl_hook_parse("resid_post.x", &pt, &layer) == TL_E_ARG, "bad layer rejected");
    CHECK(tl_hook_parse("logits.2", &pt, &layer) == TL_E_ARG, "logits has no layer");
    CHECK(tl_hook_parse("nonsense", &pt, &layer) == TL_E_ARG, "unknown point rejected");

    /* capture resid_post.2 in prefill and in decode: identical */
    float *pre = calloc((size_t)N * C, sizeof(float)), *dec = calloc((size_t)N * C, sizeof(float));
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 64, 0, &s));
    capture cp = {pre, C, 0};
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_RESID_POST, 2, capture_fn, &cp));
    const float *lg;
    CHECK_OK(tl_forward(s, toks, N, &lg));
    float *base_logits = malloc(sizeof(float) * V);
    memcpy(base_logits, lg, sizeof(float) * V);
    CHECK(cp.calls == 1, "one call for one prefill chunk, got %d", cp.calls);
    tl_session_reset(s);
    cp.buf = dec;
    cp.calls = 0;
    for (int t = 0; t < N; t++) CHECK_OK(tl_forward(s, toks + t, 1, &lg));
    CHECK(cp.calls == N, "one call per decode step, got %d", cp.calls);
    double err = tl_test_max_abs(pre, dec, (size_t)N * C);
    CHECK(err < 1e-5, "prefill vs decode capture differ by %g", err);
    tl_session_free(s);

    /* a zero edit on every layer's resid_post leaves the logits unchanged */
    float *zero = calloc((size_t)C, sizeof(float));
    add_vec z = {zero, 1.0f};
    CHECK_OK(tl_session_new(m, 64, 0, &s));
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_RESID_POST, -1, add_fn, &z));
    CHECK_OK(tl_forward(s, toks, N, &lg));
    CHECK(tl_test_max_abs(lg, base_logits, (size_t)V) == 0.0, "zero edit changed logits");
    tl_session_free(s);

    /* editing final_norm: logits equal output-matrix @ (h + v), computed by hand */
    float *v = malloc(sizeof(float) * C);
    for (int i = 0; i < C; i++) v[i] = 0.1f * (float)((i % 7) - 3);
    add_vec a = {v, 2.0f};
    capture fin = {calloc((size_t)64 * C, sizeof(float)), C, 0};
    CHECK_OK(tl_session_new(m, 64, 0, &s));
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, add_fn, &a));
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, capture_fn, &fin)); /* sees the edited row */
    CHECK_OK(tl_forward(s, toks, N, &lg));
    tl_global_params g;
    tl_params_global(&m->cfg, m->params, &g);
    const float *h = fin.buf + (size_t)(N - 1) * C;
    double worst = 0;
    for (int o = 0; o < V; o++) {
        double acc = 0;
        for (int i = 0; i < C; i++) acc += (double)g.output[(size_t)o * C + i] * h[i];
        double d = fabs(acc - lg[o]);
        if (d > worst) worst = d;
    }
    CHECK(worst < 1e-4, "edited final_norm does not drive the logits (err %g)", worst);
    CHECK(tl_test_max_abs(lg, base_logits, (size_t)V) > 1e-3, "edit had no effect");
    tl_session_free(s);

    /* an edit at resid_post.1 changes the output; the same edit at another layer differs */
    CHECK_OK(tl_session_new(m, 64, 0, &s));
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_RESID_POST, 1, add_fn, &a));
    CHECK_OK(tl_forward(s, toks, N, &lg));
    CHECK(tl_test_max_abs(lg, base_logits, (size_t)V) > 1e-3, "resid_post.1 edit had no effect");
    tl_session_free(s);

    free(pre); free(dec); free(base_logits); free(zero); free(v); free(fin.buf);
    tl_model_free(m);
    return tl_test_done();
}
