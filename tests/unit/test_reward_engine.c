/* test_reward_engine.c: the reward model trained whole (src/study/reward_engine.c) and the
 * backward entered from the final normed state (tl_model_backward_state, src/train):
 *   - against PyTorch (tests/oracle/reward_engine_ref.py -> tests/golden/recontrol/engine_ref.txt):
 *     the BT loss, the gradient of every engine tensor (max |C - torch| / max |torch| <= 1e-4
 *     per tensor; the LM head's output matrix gets exactly 0) and of the head;
 *   - central differences of the float loss for random entries of every tensor and the head,
 *     untied and tied (eps 1e-2; bar 2e-2 * max |analytic of the tensor| + 1e-4, the
 *     float noise of the difference, as test_gradcheck_model);
 *   - padding after each row's last token changes nothing (bit for bit);
 *   - tl_model_backward_state with dstate = d CE / d xnf reproduces tl_model_backward below
 *     the LM head (the two entries share one path);
 *   - tl_reward_train_engine learns a separable toy preference on stories260K (held-out
 *     accuracy), writes the head and the engine, and model:HEAD scores with the tuned engine;
 *   - bad input fails with a status. */
#include <string.h>
#include <unistd.h>

#include "format/format.h" /* internal: model */
#include "model/model.h"
#include "testlib.h"
#include "tiller/recontrol.h"
#include "tiller/train.h"

static double *arr[10];
static int len[10];

static int load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char name[32];
    int k = 0, n;
    while (k < 10 && fscanf(f, "%31s %d", name, &n) == 2 && n > 0 && n < 1000000) {
        arr[k] = malloc(sizeof(double) * (size_t)n);
        for (int i = 0; i < n; i++)
            if (fscanf(f, "%lf", &arr[k][i]) != 1) return fclose(f), 0;
        len[k++] = n;
    }
    fclose(f);
    return k == 10;
}

static double loss_of(tl_model *m, tl_train_acts *a, const int32_t *tok, const int *last, const float *w) {
    double l = NAN;
    CHECK_OK(tl_reward_bt_engine_grad(m, a, tok, last, w, 0.25f, NULL, NULL, &l, NULL));
    return l;
}

/* central differences over ENTRIES random entries per tensor and every head weight */
static void fd_check(tl_model *m, tl_train_acts *a, const int32_t *tok, const int *last, float *w, const char *what) {
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    int d = m->cfg.dim;
    float *g = calloc(m->n_params, sizeof(float)), gw[64];
    double l0;
    CHECK_OK(tl_reward_bt_engine_grad(m, a, tok, last, w, 0.25f, g, gw, &l0, NULL));
    tl_param_tensor ts[64];
    int nt = tl_params_tensors(&m->cfg, ts, 64);
    const float eps = 1e-2f;
    double worst_ratio = 0;
    for (int i = 0; i < nt; i++) {
        size_t n = (size_t)(ts[i].rows * ts[i].cols);
        double gmax = 0, worst = 0;
        for (size_t j = 0; j < n; j++) gmax = fmax(gmax, fabs(g[ts[i].offset + j]));
        for (int e = 0; e < 4; e++) {
            size_t j = ts[i].offset + tl_rng_below(&rng, n);
            float keep = m->params[j];
            m->params[j] = keep + eps;
            double lp = loss_of(m, a, tok, last, w);
            m->params[j] = keep - eps;
            double lm = loss_of(m, a, tok, last, w);
            m->params[j] = keep;
            worst = fmax(worst, fabs((lp - lm) / (2.0 * eps) - g[j]));
        }
        double bar = 2e-2 * gmax + 1e-4;
        worst_ratio = fmax(worst_ratio, worst / bar);
        CHECK(worst <= bar, "%s: %s: |numeric - analytic| %.3g > %.3g", what, ts[i].name, worst, bar);
    }
    double hw = 0;
    for (int j = 0; j < d; j++) {
        float keep = w[j];
        w[j] = keep + eps;
        double lp = loss_of(m, a, tok, last, w);
        w[j] = keep - eps;
        double lm = loss_of(m, a, tok, last, w);
        w[j] = keep;
        hw = fmax(hw, fabs((lp - lm) / (2.0 * eps) - gw[j]));
    }
    printf("%s: finite differences: worst |num - ana| / bar over tensors %.3f; head max err %.2e\n", what,
           worst_ratio, hw);
    CHECK(hw < 1e-3, "%s: head finite differences %g", what, hw);
    free(g);
}

static void test_oracle(void) {
    CHECK(load("tests/golden/recontrol/engine_ref.txt"), "cannot read tests/golden/recontrol/engine_ref.txt");
    if (!arr[9]) return;
    /* config params tokens last w b loss grads gw gb */
    const double *cf = arr[0];
    tl_config c = {.dim = (int)cf[0], .hidden_dim = (int)cf[1], .n_layers = (int)cf[2], .n_heads = (int)cf[3],
                   .n_kv_heads = (int)cf[4], .vocab_size = (int)cf[5], .seq_len = (int)cf[6],
                   .rope_theta = (float)cf[9], .norm_eps = (float)cf[10]};
    tl_config_defaults(&c);
    int NP = (int)cf[7], T = (int)cf[8], B = 2 * NP, d = c.dim;
    tl_model *m = NULL;
    tl_train_acts *a = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    CHECK_OK(tl_train_acts_new(&m->cfg, B, T, &a));
    if (!m || !a) return;
    CHECK(len[1] == (int)m->n_params, "golden has %d parameters, model %zu", len[1], m->n_params);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = (float)arr[1][i];
    int32_t tok[256];
    int last[64];
    float w[64], gw[65];
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)arr[2][i];
    for (int i = 0; i < B; i++) last[i] = (int)arr[3][i];
    for (int j = 0; j < d; j++) w[j] = (float)arr[4][j];
    float *g = calloc(m->n_params, sizeof(float));
    double loss;
    CHECK_OK(tl_reward_bt_engine_grad(m, a, tok, last, w, (float)arr[5][0], g, gw, &loss, NULL));
    printf("BT loss through the engine: tiller %.9f torch %.9f\n", loss, arr[6][0]);
    CHECK(fabs(loss - arr[6][0]) <= 1e-5 * fabs(arr[6][0]), "loss %.9g vs %.9g", loss, arr[6][0]);
    tl_param_tensor ts[64];
    int nt = tl_params_tensors(&m->cfg, ts, 64);
    double worst = 0;
    for (int i = 0; i < nt; i++) {
        size_t n = (size_t)(ts[i].rows * ts[i].cols);
        double emax = 0, tmax = 0;
        for (size_t j = 0; j < n; j++) {
            emax = fmax(emax, fabs(g[ts[i].offset + j] - arr[7][ts[i].offset + j]));
            tmax = fmax(tmax, fabs(arr[7][ts[i].offset + j]));
        }
        if (!strcmp(ts[i].name, "output.weight") || !strcmp(ts[i].name, "output")) {
            CHECK(emax == 0 && tmax == 0, "the LM head's output matrix must get no gradient (%g)", emax);
            continue;
        }
        double r = emax / fmax(tmax, 1e-30);
        worst = fmax(worst, r);
        CHECK(r <= 1e-4, "%s: max |C - torch| %.3g = %.3g of max |torch| %.3g", ts[i].name, emax, r, tmax);
    }
    double eh = 0;
    for (int j = 0; j < d; j++) eh = fmax(eh, fabs(gw[j] - arr[8][j]));
    printf("engine gradients vs torch: worst max|err|/max|torch| over %d tensors %.2e; head max err %.2e; "
           "dL/db %g (torch %g)\n", nt, worst, eh, gw[d], arr[9][0]);
    CHECK(eh < 1e-6, "head gradient %g", eh);
    CHECK(gw[d] == 0 && fabs(arr[9][0]) < 1e-12, "dL/db %g vs %g", gw[d], arr[9][0]);

    /* padding after the last token: nothing changes */
    int32_t tok2[256];
    memcpy(tok2, tok, sizeof tok);
    for (int r = 0; r < B; r++)
        for (int t = last[r] + 1; t < T; t++) tok2[r * T + t] = (tok2[r * T + t] + 5) % c.vocab_size;
    float *g2 = calloc(m->n_params, sizeof(float)), gw2[65];
    double loss2;
    CHECK_OK(tl_reward_bt_engine_grad(m, a, tok2, last, w, (float)arr[5][0], g2, gw2, &loss2, NULL));
    CHECK(loss2 == loss && !memcmp(g, g2, m->n_params * sizeof(float)) && !memcmp(gw, gw2, sizeof(float) * (size_t)d),
          "padding changed the loss or gradients");

    fd_check(m, a, tok, last, w, "untied");

    /* bad input */
    int badlast[64];
    memcpy(badlast, last, sizeof last);
    badlast[2] = T;
    CHECK(tl_reward_bt_engine_grad(m, a, tok, badlast, w, 0, g, gw, &loss, NULL) == TL_E_ARG, "last >= T accepted");
    free(g), free(g2);
    tl_train_acts_free(a);
    tl_model_free(m);

    /* tied embeddings: the state's gradient reaches the shared matrix through the embedding only */
    c.tied_embeddings = 1;
    CHECK_OK(tl_model_new(&c, &m));
    CHECK_OK(tl_train_acts_new(&m->cfg, B, T, &a));
    if (!m || !a) return;
    tl_rng rng;
    tl_rng_seed(&rng, 3);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.4f * tl_rng_normal(&rng);
    nt = tl_params_tensors(&m->cfg, ts, 64);
    for (int i = 0; i < nt; i++)
        if (ts[i].n_dims == 1)
            for (int64_t j = 0; j < ts[i].cols; j++) m->params[ts[i].offset + j] = 1.0f + 0.3f * tl_rng_normal(&rng);
    fd_check(m, a, tok, last, w, "tied");
    tl_train_acts_free(a);
    tl_model_free(m);
}

/* tl_model_backward_state(dstate = d CE / d xnf) == tl_model_backward, except the output matrix */
static void test_shared_path(void) {
    tl_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 11,
                   .seq_len = 16, .rope_theta = 10000.0f, .norm_eps = 1e-5f};
    tl_config_defaults(&c);
    int B = 2, T = 5, BT = B * T, C = c.dim, V = c.vocab_size;
    tl_model *m = NULL;
    tl_train_acts *a = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    CHECK_OK(tl_train_acts_new(&m->cfg, B, T, &a));
    if (!m || !a) return;
    tl_rng rng;
    tl_rng_seed(&rng, 11);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.3f * tl_rng_normal(&rng);
    int32_t tok[10], tgt[10];
    for (int i = 0; i < BT; i++) tok[i] = (int32_t)tl_rng_below(&rng, V), tgt[i] = (int32_t)tl_rng_below(&rng, V);
    float loss, *g1 = calloc(m->n_params, sizeof(float)), *g2 = calloc(m->n_params, sizeof(float));
    CHECK_OK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss));
    /* d CE / d xnf by hand: (softmax - onehot) / BT @ output */
    const float *lg = tl_train_acts_logits(a);
    tl_global_params gp;
    tl_params_global(&c, m->params, &gp);
    float *ds = calloc((size_t)BT * C, sizeof(float));
    for (int i = 0; i < BT; i++) {
        double mx = lg[i * V], z = 0;
        for (int v = 1; v < V; v++) mx = fmax(mx, lg[i * V + v]);
        for (int v = 0; v < V; v++) z += exp(lg[i * V + v] - mx);
        for (int v = 0; v < V; v++) {
            double p = exp(lg[i * V + v] - mx) / z - (v == tgt[i]);
            for (int j = 0; j < C; j++) ds[i * C + j] += (float)(p / BT * gp.output[(size_t)v * C + j]);
        }
    }
    tl_model_backward_state(m, a, ds, g2, 1.0f);
    CHECK_OK(tl_model_forward_train(m, a, tok, tgt, NULL, &loss));
    tl_model_backward(m, a, g1, 1.0f);
    tl_param_tensor ts[64];
    int nt = tl_params_tensors(&m->cfg, ts, 64);
    double worst = 0;
    for (int i = 0; i < nt; i++) {
        if (!strcmp(ts[i].name, "output.weight") || !strcmp(ts[i].name, "output")) continue;
        size_t n = (size_t)(ts[i].rows * ts[i].cols);
        double e = 0, mx = 0;
        for (size_t j = 0; j < n; j++)
            e = fmax(e, fabs(g1[ts[i].offset + j] - g2[ts[i].offset + j])), mx = fmax(mx, fabs(g1[ts[i].offset + j]));
        worst = fmax(worst, e / fmax(mx, 1e-30));
    }
    printf("backward from the state vs from the logits: worst relative difference %.2e\n", worst);
    CHECK(worst < 1e-4, "the two backward entries disagree: %g", worst);
    free(g1), free(g2), free(ds);
    tl_train_acts_free(a);
    tl_model_free(m);
}

/* learning: chosen responses end in one word, rejected in another; held-out accuracy */
static void test_train(void) {
    const char *mp = "../shared/models/stories260K/stories260K.bin", *tp = "../shared/models/stories260K/tok512.bin";
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    if (tl_model_load(mp, &m, NULL) || tl_tokenizer_load(tp, &tok)) {
        printf("SKIP training: %s not found\n", mp);
        CHECK(0, "stories260K is needed (scripts/deps.sh test)");
        return;
    }
    static const char *subj[] = {"Lily", "Tom", "The dog", "A bird", "Mom", "The cat", "Ben", "Sue"};
    static const char *verb[] = {"went to the park", "saw a tree", "had a ball", "ate a cake", "played outside"};
    enum { N = 80 };
    tl_pref_pair pp[N];
    char buf[3][128];
    for (int i = 0; i < N; i++) {
        snprintf(buf[0], sizeof buf[0], "%s %s.", subj[i % 8], verb[i % 5]);
        snprintf(buf[1], sizeof buf[1], " It was happy and smiled.");
        snprintf(buf[2], sizeof buf[2], " It was sad and cried.");
        if (i % 3 == 0) snprintf(buf[1], sizeof buf[1], " They were happy and glad."), snprintf(buf[2], sizeof buf[2], " They were sad and scared.");
        pp[i].prompt = strdup(buf[0]), pp[i].chosen = strdup(buf[1]), pp[i].rejected = strdup(buf[2]);
    }
    char dir[] = "/tmp/tiller-test-rwengine-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char head[256], engine[256], spec[300];
    snprintf(head, sizeof head, "%s/h.gguf", dir);
    snprintf(engine, sizeof engine, "%s/h.engine.gguf", dir);
    tl_reward_train_opts o = {mp, 3, 1e-2f, 0.25, 5, NULL, NULL, 1e-3f, 8, 32, 0, 0};
    tl_reward_train_result r;
    float before = m->params[100];
    CHECK_OK(tl_reward_train_engine(m, tok, pp, N, &o, head, &r));
    printf("toy preference on stories260K: %d train / %d validation pairs, epoch %d kept, train acc %.3f, "
           "validation acc %.3f\n", r.n_train, r.n_val, r.best_epoch, r.train_acc, r.val_acc);
    CHECK(r.n_train == 60 && r.n_val == 20, "split %d / %d", r.n_train, r.n_val);
    CHECK(r.val_acc >= 0.9, "the held-out pairs are not learnt: %g", r.val_acc);
    CHECK(m->params[100] != before, "the engine did not change");
    FILE *f = fopen(engine, "rb");
    CHECK(f != NULL, "no engine file %s", engine);
    if (f) fclose(f);
    /* the head reads the tuned engine beside it: its accuracy on all pairs matches */
    snprintf(spec, sizeof spec, "model:%s", head);
    tl_reward *rw = NULL;
    CHECK_OK(tl_reward_open(spec, &rw));
    int ok = 0, tie = 0;
    if (rw) CHECK_OK(tl_reward_accuracy(rw, pp, N, &ok, &tie, NULL, NULL));
    printf("model:HEAD on all %d pairs: %d right, %d ties\n", N, ok, tie);
    CHECK(ok >= 0.9 * N, "the saved reward model ranks %d of %d", ok, N);
    tl_reward_free(rw);
    /* bad options */
    tl_reward_train_opts bad = o;
    bad.engine_lr = 0;
    CHECK(tl_reward_train_engine(m, tok, pp, N, &bad, head, &r) == TL_E_ARG, "engine lr 0 accepted");
    bad = o, bad.batch = 5000;
    CHECK(tl_reward_train_engine(m, tok, pp, N, &bad, head, &r) == TL_E_ARG, "batch 5000 accepted");
    remove(head), remove(engine), rmdir(dir);
    for (int i = 0; i < N; i++) free(pp[i].prompt), free(pp[i].chosen), free(pp[i].rejected);
    tl_tokenizer_free(tok);
    tl_model_free(m);
}

int main(void) {
    test_oracle();
    test_shared_path();
    test_train();
    for (int k = 0; k < 10; k++) free(arr[k]);
    return tl_test_done();
}
