/* test_recontrol_hook.c: the RE-Control edit at `final_norm` on a small random model:
 * zero iterations change nothing; with iterations V of the edited state rises and the
 * logits are the LM head applied to the edited state (the edit happens before the
 * logits); the decode path allocates nothing per token; a value network for another
 * hidden size is refused. */
#include <string.h>

#include "model/model.h" /* internal: the session and parameter layout */
#include "tiller/recontrol.h"
#include "testlib.h"

typedef struct {
    float *h;
    int d;
} grab;

static void grab_fn(void *user, tl_hook_point p, int l, float *x, int T, int w, int pos0) {
    (void)p, (void)l, (void)pos0;
    grab *g = user;
    memcpy(g->h, x + (size_t)(T - 1) * w, sizeof(float) * (size_t)w);
}

int main(void) {
    tl_config c = {0};
    c.dim = 32, c.hidden_dim = 64, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.vocab_size = 50, c.seq_len = 32;
    tl_config_defaults(&c);
    tl_model *m = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    tl_model_init_random(m, 3);
    tl_value_net *v = NULL;
    CHECK_OK(tl_value_new(c.dim, 16, 5, &v));
    int32_t toks[4] = {1, 7, 9, 3};
    float plain[50], edited[50], h_plain[32], h_edit[32];

    /* plain logits and state */
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    grab g = {h_plain, c.dim};
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, grab_fn, &g));
    const float *lg;
    CHECK_OK(tl_forward(s, toks, 4, &lg));
    memcpy(plain, lg, sizeof plain);
    tl_session_free(s);

    for (int iters = 0; iters <= 10; iters += 10) {
        tl_recontrol_hook h;
        CHECK_OK(tl_session_new(m, 0, 0, &s));
        CHECK_OK(tl_recontrol_hook_init(&h, v, m, 0.5f, iters, "v.gguf"));
        CHECK_OK(tl_recontrol_attach(&h, &s->hooks));
        grab ge = {h_edit, c.dim}; /* after the edit: hooks run in the order added */
        CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, grab_fn, &ge));
        CHECK_OK(tl_forward(s, toks, 4, &lg));
        memcpy(edited, lg, sizeof edited);
        float v0, v1;
        tl_value_ws ws;
        CHECK_OK(tl_value_ws_new(v, 1, &ws));
        tl_value_forward(v, &ws, h_plain, 1, &v0);
        tl_value_forward(v, &ws, h_edit, 1, &v1);
        tl_value_ws_free(&ws);
        double diff = 0;
        for (int i = 0; i < 50; i++) diff = fmax(diff, fabs(plain[i] - edited[i]));
        if (iters == 0) {
            CHECK(diff == 0, "zero iterations changed the logits by %g", diff);
        } else {
            printf("V: %.5f -> %.5f after %d steps; logits moved by %.4f\n", v0, v1, iters, diff);
            CHECK(v1 > v0, "gradient ascent did not raise V: %g -> %g", v0, v1);
            CHECK(diff > 0, "the edit did not reach the logits");
            /* logits = output[V, C] @ edited state */
            tl_global_params gp;
            tl_params_global(&c, m->params, &gp);
            double e = 0;
            for (int i = 0; i < 50; i++) {
                double z = 0;
                for (int j = 0; j < c.dim; j++) z += (double)gp.output[(size_t)i * c.dim + j] * h_edit[j];
                e = fmax(e, fabs(z - edited[i]));
            }
            CHECK(e < 1e-4, "logits are not the LM head of the edited state: %g", e);
            /* decode steps allocate nothing: an armed allocation fault survives them */
            tl_alloc_fail_after(1);
            for (int t = 0; t < 5; t++) {
                int32_t id = 5 + t;
                CHECK_OK(tl_forward(s, &id, 1, &lg));
            }
            void *p = tl_malloc(16);
            CHECK(p == NULL, "an allocation happened during decoding");
            tl_free(p);
            tl_alloc_fail_after(0);
            CHECK(h.n_edits == 6, "one edit per forward call, got %ld", h.n_edits);
        }
        tl_recontrol_hook_free(&h);
        tl_session_free(s);
    }
    /* another hidden size */
    tl_value_net *w = NULL;
    tl_recontrol_hook h;
    CHECK_OK(tl_value_new(c.dim + 1, 8, 1, &w));
    CHECK(tl_recontrol_hook_init(&h, w, m, 1.0f, 30, "other.gguf") == TL_E_ARG, "size mismatch must be refused");
    CHECK(strstr(tl_last_error(), "other.gguf") && strstr(tl_last_error(), "33") && strstr(tl_last_error(), "32"),
          "message: %s", tl_last_error());
    tl_value_free(w);
    tl_value_free(v);
    tl_model_free(m);
    return tl_test_done();
}
