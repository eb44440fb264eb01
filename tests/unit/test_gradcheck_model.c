/* The whole model's backward (float) on tiny models, tied and untied, with ignored
 * targets and a key mask: a handful of random entries of every tensor against
 * central differences of the float loss (eps 1e-2; bar: |numeric - analytic| <=
 * 2e-2 * max|analytic of the tensor| + 1e-4, the float noise of the difference).
 * Also: gradients bit-identical run to run; `scale` and accumulation; the training
 * forward gives the inference forward's logits on stories260K (5e-5 abs: the
 * attention kernels sum in different orders); bad input fails with
 * a status; every allocation failure of tl_train_acts_new is reported. */
#include <omp.h>
#include <string.h>

#include "format/format.h"
#include "testlib.h"
#include "tiller/train.h"

#define ENTRIES 4 /* random entries checked per tensor */

static tl_rng rng;

static float loss_of(tl_model *m, tl_train_acts *a, const int32_t *tok, const int32_t *tgt,
                     const tl_attn_spec *attn) {
    float loss = NAN;
    CHECK_OK(tl_model_forward_train(m, a, tok, tgt, attn, &loss));
    return loss;
}

/* kind 0: causal; 1: bidirectional with mirrored RoPE (BICO); 2: a bidirectional prefix
 * with moved positions (ABI's layout: row 0 = context 0,1,3,4 then positions 1,2 again);
 * 3: the prefix with GLM-style 2-D positions (ABI pos=2d: row 0 = Part A 0,1,2,3 with the
 * mask at 2, then Part B at ids (2, 2)) */
static void gradcheck(int tied, const uint8_t *mask, int kind) {
    tl_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .vocab_size = 11, .seq_len = 16, .rope_theta = 10000.0f, .norm_eps = 1e-5f,
                   .tied_embeddings = tied};
    int B = 2, T = 5;
    tl_model *m = NULL;
    tl_train_acts *a = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    CHECK_OK(tl_train_acts_new(&m->cfg, B, T, &a));
    if (!m || !a) return;
    /* weights larger than the usual 0.02 so every gradient is well above float noise */
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.4f * tl_rng_normal(&rng);
    tl_param_tensor ts[64];
    int nt = tl_params_tensors(&m->cfg, ts, 64);
    for (int i = 0; i < nt; i++)
        if (ts[i].n_dims == 1)
            for (int64_t j = 0; j < ts[i].cols; j++)
                m->params[ts[i].offset + j] = 1.0f + 0.3f * tl_rng_normal(&rng);
    int32_t tok[10], tgt[10];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)tl_rng_below(&rng, 11);
    for (int i = 0; i < B * T; i++) tgt[i] = (int32_t)tl_rng_below(&rng, 11);
    tgt[1] = -1;
    tgt[7] = -1;
    static const int prefix[2] = {4, 2};
    static const int pos[10] = {0, 1, 3, 4, 1, 0, 1, 2, 3, 4};
    tl_attn_spec spec = {.mode = kind ? TL_ATTN_BIDIR : TL_ATTN_CAUSAL, .key_mask = mask};
    static const int pos_a[10] = {0, 1, 2, 3, 2, 0, 1, 2, 3, 4}, pos2_a[10] = {0, 1, 2, 3, 2, 0, 1, 1, 2, 3};
    if (kind == 2) spec.prefix = prefix, spec.pos = pos;
    if (kind == 3) spec.prefix = prefix, spec.pos = pos_a, spec.pos2 = pos2_a;
    const tl_attn_spec *attn = mask || kind ? &spec : NULL;

    float *grads = calloc(m->n_params, sizeof(float));
    loss_of(m, a, tok, tgt, attn);
    tl_model_backward(m, a, grads, 1.0f);

    printf("%s model%s%s:\n", tied ? "tied" : "untied", mask ? " with key mask" : "",
           kind == 1   ? ", bidirectional (mirrored RoPE)"
           : kind == 2 ? ", prefix + positions"
           : kind == 3 ? ", prefix + 2-D positions"
                       : "");
    const float eps = 1e-2f;
    for (int i = 0; i < nt; i++) {
        size_t n = (size_t)(ts[i].rows * ts[i].cols);
        double gmax = 0;
        for (size_t j = 0; j < n; j++) gmax = fmax(gmax, fabs(grads[ts[i].offset + j]));
        double worst = 0;
        for (int e = 0; e < ENTRIES; e++) {
            size_t j = ts[i].offset + tl_rng_below(&rng, n);
            float save = m->params[j];
            m->params[j] = save + eps;
            double lp = loss_of(m, a, tok, tgt, attn);
            m->params[j] = save - eps;
            double lm = loss_of(m, a, tok, tgt, attn);
            m->params[j] = save;
            double fd = (lp - lm) / (2.0 * eps);
            double err = fabs(fd - grads[j]);
            worst = fmax(worst, err);
            CHECK(err <= 2e-2 * gmax + 1e-4, "%s[%zu]: analytic %.6g numeric %.6g", ts[i].name,
                  j - ts[i].offset, grads[j], fd);
        }
        printf("  %-24s max|grad| %.3e  worst |numeric - analytic| %.2e\n", ts[i].name, gmax, worst);
        CHECK(gmax > 1e-4, "%s: gradient is (nearly) zero", ts[i].name);
    }

    /* bit-identical run to run; scale and accumulation */
    float *g2 = calloc(m->n_params, sizeof(float));
    loss_of(m, a, tok, tgt, attn);
    tl_model_backward(m, a, g2, 1.0f);
    CHECK(!memcmp(grads, g2, m->n_params * sizeof(float)), "gradients differ between two runs");
    loss_of(m, a, tok, tgt, attn);
    tl_model_backward(m, a, g2, 0.5f);
    tl_model_backward(m, a, g2, 0.5f); /* no forward since: does nothing */
    double err = 0;
    for (size_t i = 0; i < m->n_params; i++) err = fmax(err, fabs(g2[i] - 1.5 * grads[i]));
    CHECK(err <= 1e-6, "grads + 0.5 * grads: max error %.3g", err);
    /* one thread agrees with the default count (kernels here do not depend on the split;
     * matmul may sum in another order) */
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    memset(g2, 0, m->n_params * sizeof(float));
    loss_of(m, a, tok, tgt, attn);
    tl_model_backward(m, a, g2, 1.0f);
    omp_set_num_threads(threads);
    double gmax = 0;
    err = 0;
    for (size_t i = 0; i < m->n_params; i++)
        err = fmax(err, fabs(g2[i] - grads[i])), gmax = fmax(gmax, fabs(grads[i]));
    printf("  1 thread vs %d: max |difference| %.2e (max |grad| %.2e)\n", threads, err, gmax);
    CHECK(err <= 1e-5 * gmax, "1 thread vs %d threads: %.3g", threads, err);
    free(grads);
    free(g2);
    tl_train_acts_free(a);
    tl_model_free(m);
}

/* Forward_train logits == inference logits (tl_forward_all) for each sequence. */
typedef struct {
    float *dst;
    int V;
} collect;

static void collect_logits(void *user, const float *logits, int T, int V, int pos0) {
    collect *c = user;
    memcpy(c->dst + (size_t)pos0 * V, logits, (size_t)T * V * sizeof(float));
}

static void test_matches_inference(void) {
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (!m) return;
    int B = 3, T = 40, V = m->cfg.vocab_size; /* T > 32: several query blocks */
    tl_train_acts *a = NULL;
    CHECK_OK(tl_train_acts_new(&m->cfg, B, T, &a));
    int32_t tok[120], tgt[120];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)tl_rng_below(&rng, (uint64_t)V), tgt[i] = -1;
    float loss;
    CHECK_OK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss));
    CHECK(loss == 0, "no counted target: loss %g", loss);
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, T, 0, &s));
    float *want = malloc(sizeof(float) * T * V);
    double worst = 0;
    for (int b = 0; b < B; b++) {
        tl_session_reset(s);
        collect cl = {want, V};
        CHECK_OK(tl_forward_all(s, tok + b * T, T, collect_logits, &cl));
        worst = fmax(worst, tl_test_max_abs(tl_train_acts_logits(a) + (size_t)b * T * V, want,
                                            (size_t)T * V));
    }
    printf("stories260K: training forward vs inference logits, max abs diff %.2e\n", worst);
    CHECK(worst <= 5e-5, "training and inference logits differ by %.3g", worst);
    /* the loss is the mean cross-entropy of those logits */
    for (int i = 0; i < B * T; i++) tgt[i] = i % 5 == 0 ? -1 : tok[(i + 1) % (B * T)];
    CHECK_OK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss));
    const float *lg = tl_train_acts_logits(a);
    double sum = 0;
    int cnt = 0;
    for (int i = 0; i < B * T; i++) {
        if (tgt[i] < 0) continue;
        double mx = -INFINITY, se = 0;
        for (int j = 0; j < V; j++) mx = fmax(mx, lg[(size_t)i * V + j]);
        for (int j = 0; j < V; j++) se += exp(lg[(size_t)i * V + j] - mx);
        sum += mx + log(se) - lg[(size_t)i * V + tgt[i]];
        cnt++;
    }
    CHECK(fabs(loss - sum / cnt) < 1e-5, "loss %.7g, recomputed %.7g", loss, sum / cnt);
    free(want);
    tl_session_free(s);
    tl_train_acts_free(a);
    tl_model_free(m);
}

static void test_errors(void) {
    tl_config c = {.dim = 8, .hidden_dim = 12, .n_layers = 1, .n_heads = 2, .vocab_size = 7,
                   .seq_len = 8};
    tl_model *m = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    tl_train_acts *a = NULL;
    CHECK(tl_train_acts_new(&m->cfg, 0, 4, &a) == TL_E_ARG && !a, "B = 0 must fail");
    CHECK(tl_train_acts_new(&m->cfg, 2, -1, &a) == TL_E_ARG && !a, "T < 0 must fail");
    CHECK_OK(tl_train_acts_new(&m->cfg, 1, 4, &a));
    int32_t tok[4] = {1, 2, 3, 4}, tgt[4] = {2, 3, 4, -1};
    float loss;
    tok[2] = 7;
    CHECK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss) == TL_E_ARG, "token 7 >= V");
    printf("  bad token: %s\n", tl_last_error());
    tok[2] = -3;
    CHECK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss) == TL_E_ARG, "token < 0");
    tok[2] = 3;
    tgt[0] = 9;
    CHECK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss) == TL_E_ARG, "target 9 >= V");
    printf("  bad target: %s\n", tl_last_error());
    tgt[0] = 2;
    tl_attn_spec bad = {.mode = (tl_attn_mode)7};
    CHECK(tl_model_forward_train(m, a, tok, tgt, &bad, &loss) == TL_E_ARG, "unknown attention mode");
    int bad_prefix[1] = {99};
    tl_attn_spec badp = {.mode = TL_ATTN_BIDIR, .prefix = bad_prefix};
    CHECK(tl_model_forward_train(m, a, tok, tgt, &badp, &loss) == TL_E_ARG, "prefix > T");
    printf("  bad prefix: %s\n", tl_last_error());
    /* a failed forward leaves nothing for backward */
    float *g = calloc(m->n_params, sizeof(float));
    tl_model_backward(m, a, g, 1.0f);
    int zero = 1;
    for (size_t i = 0; i < m->n_params; i++) zero &= g[i] == 0;
    CHECK(zero, "backward after a failed forward must do nothing");
    tl_config c2 = c;
    c2.hidden_dim = 16;
    tl_model *m2 = NULL;
    CHECK_OK(tl_model_new(&c2, &m2));
    CHECK(tl_model_forward_train(m2, a, tok, tgt, NULL, &loss) == TL_E_ARG, "acts of another shape");
    printf("  other shape: %s\n", tl_last_error());
    tl_train_acts_free(a);
    /* every allocation failure of tl_train_acts_new is reported and leaks nothing */
    for (long n = 1; n <= 3; n++) {
        tl_alloc_fail_after(n);
        tl_status st = tl_train_acts_new(&m->cfg, 2, 4, &a);
        tl_alloc_fail_after(0);
        CHECK((st == TL_E_NOMEM && !a) || st == TL_OK, "allocation %ld: status %d", n, (int)st);
        tl_train_acts_free(a);
        a = NULL;
    }
    free(g);
    tl_model_free(m);
    tl_model_free(m2);
}

int main(void) {
    tl_rng_seed(&rng, 42);
    gradcheck(0, NULL, 0);
    gradcheck(1, NULL, 0);
    static const uint8_t mask[10] = {0, 1, 0, 0, 1, 1, 0, 0, 0, 0};
    gradcheck(0, mask, 0);
    gradcheck(0, mask, 1);
    gradcheck(1, NULL, 2);
    gradcheck(0, NULL, 3);
    test_matches_inference();
    test_errors();
    return tl_test_done();
}
