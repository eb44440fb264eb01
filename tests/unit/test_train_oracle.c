/* Training step against PyTorch (tests/oracle/train_ref.py -> tests/golden/train_ref.bin):
 * a random untied GQA Llama with odd sizes (dim 40, hidden 76, 2 layers, 4 heads,
 * 2 kv heads, vocab 67, theta 20000), one batch 3 x 11 with ignored targets.
 *   - the loss and every parameter gradient: max |C - torch| / max |torch| <= 1e-4 per
 *     tensor (max abs and that ratio printed for each);
 *   - 10 steps of AdamW (weight decay, clipping at 1.0, warm-up + cosine): the loss
 *     before each step, after the last, and the gradient norms within 1e-4 relative;
 *   - learning: 150 AdamW steps on that one batch drive the loss from ~5.06 below 0.01
 *     (memorisation of 28 random targets);
 *   - the loss and gradients are bit-identical from run to run. */
#include <string.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"

#define MAGIC 0x52544C54u /* "TLTR" */

typedef struct {
    const uint8_t *p, *end;
    int bad;
} reader;

static void take(reader *r, void *dst, size_t n) {
    if (r->bad || (size_t)(r->end - r->p) < n) {
        r->bad = 1;
        memset(dst, 0, n);
        return;
    }
    memcpy(dst, r->p, n);
    r->p += n;
}

typedef struct {
    tl_config cfg;
    int B, T, n_steps, warmup, total;
    float lr, min_ratio, beta1, beta2, eps, wd, clip;
    int64_t n;
    float *params, *grads;
    int32_t *tokens, *targets;
    double loss, *losses, *norms;
} golden;

static int load_golden(const char *path, golden *g) {
    char *data = NULL;
    size_t size = 0;
    CHECK_OK(tl_file_read_all(path, &data, &size));
    if (!data) return 0;
    reader r = {(const uint8_t *)data, (const uint8_t *)data + size, 0};
    uint32_t hdr[2];
    int32_t iv[13];
    float fv[9];
    take(&r, hdr, sizeof hdr);
    take(&r, iv, sizeof iv);
    take(&r, fv, sizeof fv);
    take(&r, &g->n, sizeof g->n);
    CHECK(!r.bad && hdr[0] == MAGIC && hdr[1] == 1, "%s: bad magic/version %08x %u", path, hdr[0],
          hdr[1]);
    tl_config c = {.dim = iv[0], .hidden_dim = iv[1], .n_layers = iv[2], .n_heads = iv[3],
                   .n_kv_heads = iv[4], .vocab_size = iv[5], .seq_len = iv[6],
                   .tied_embeddings = iv[7], .rope_theta = fv[0], .norm_eps = fv[1]};
    tl_config_defaults(&c);
    g->cfg = c;
    g->B = iv[8], g->T = iv[9], g->n_steps = iv[10], g->warmup = iv[11], g->total = iv[12];
    g->lr = fv[2], g->min_ratio = fv[3], g->beta1 = fv[4], g->beta2 = fv[5], g->eps = fv[6];
    g->wd = fv[7], g->clip = fv[8];
    int ok = !r.bad && tl_config_check(&c, path) == TL_OK && (size_t)g->n == tl_params_count(&c) &&
             g->B > 0 && g->T > 0 && g->n_steps > 0 && g->n_steps < 1000;
    CHECK(ok, "%s: inconsistent header", path);
    if (!ok) {
        free(data);
        return 0;
    }
    size_t n = (size_t)g->n, bt = (size_t)g->B * g->T;
    g->params = malloc(n * 4), g->grads = malloc(n * 4);
    g->tokens = malloc(bt * 4), g->targets = malloc(bt * 4);
    g->losses = malloc(((size_t)g->n_steps + 1) * 8), g->norms = malloc((size_t)g->n_steps * 8);
    take(&r, g->params, n * 4);
    take(&r, g->tokens, bt * 4);
    take(&r, g->targets, bt * 4);
    take(&r, &g->loss, 8);
    take(&r, g->grads, n * 4);
    take(&r, g->losses, ((size_t)g->n_steps + 1) * 8);
    take(&r, g->norms, (size_t)g->n_steps * 8);
    CHECK(!r.bad && r.p == r.end, "%s: truncated or trailing bytes", path);
    free(data);
    return !r.bad;
}

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-30); }

static void test_gradients(const golden *g, tl_model *m, tl_train_acts *a) {
    memcpy(m->params, g->params, (size_t)g->n * sizeof(float));
    float loss;
    CHECK_OK(tl_model_forward_train(m, a, g->tokens, g->targets, NULL, &loss));
    printf("loss: tiller %.7f  torch %.7f  rel %.2e\n", loss, g->loss, rel(loss, g->loss));
    CHECK(rel(loss, g->loss) <= 1e-4, "loss %.7g vs %.7g", loss, g->loss);
    float *grads = calloc((size_t)g->n, sizeof(float));
    tl_model_backward(m, a, grads, 1.0f);
    tl_param_tensor ts[64];
    int nt = tl_params_tensors(&m->cfg, ts, 64);
    double worst = 0;
    printf("%-26s %10s %10s %10s\n", "gradient", "max|torch|", "max abs", "rel");
    for (int i = 0; i < nt; i++) {
        size_t n = (size_t)(ts[i].rows * ts[i].cols);
        const float *want = g->grads + ts[i].offset, *got = grads + ts[i].offset;
        double mx = 0;
        for (size_t j = 0; j < n; j++) mx = fmax(mx, fabs(want[j]));
        double abs_err = tl_test_max_abs(got, want, n), r = abs_err / mx;
        worst = fmax(worst, r);
        printf("%-26s %10.3e %10.2e %10.2e\n", ts[i].name, mx, abs_err, r);
        CHECK(r <= 1e-4 && mx > 0, "%s: relative error %.3g", ts[i].name, r);
    }
    printf("worst gradient relative error %.2e (bar 1e-4)\n", worst);
    /* bit-identical on a second run */
    float *g2 = calloc((size_t)g->n, sizeof(float)), loss2;
    CHECK_OK(tl_model_forward_train(m, a, g->tokens, g->targets, NULL, &loss2));
    tl_model_backward(m, a, g2, 1.0f);
    CHECK(loss2 == loss && !memcmp(g2, grads, (size_t)g->n * sizeof(float)),
          "second run differs");
    free(grads);
    free(g2);
}

/* Train on the golden batch; losses[0..steps] and norms[0..steps-1] out. */
static void train(const golden *g, tl_model *m, tl_train_acts *a, const tl_lr_schedule *sched,
                  int steps, double *losses, double *norms) {
    memcpy(m->params, g->params, (size_t)g->n * sizeof(float));
    tl_adamw *opt = NULL;
    CHECK_OK(tl_adamw_new(&m->cfg, &opt));
    float *grads = calloc((size_t)g->n, sizeof(float));
    if (!opt) return;
    tl_adamw_params hp = {g->beta1, g->beta2, g->eps, g->wd};
    for (int s = 0; s <= steps; s++) {
        float loss;
        CHECK_OK(tl_model_forward_train(m, a, g->tokens, g->targets, NULL, &loss));
        losses[s] = loss;
        if (s == steps) break;
        tl_model_backward(m, a, grads, 1.0f);
        norms[s] = tl_grad_clip(grads, (size_t)g->n, g->clip);
        tl_adamw_step(opt, &hp, tl_lr_at(sched, opt->step), m->params, grads);
        memset(grads, 0, (size_t)g->n * sizeof(float));
    }
    CHECK(opt->step == steps, "optimiser step count %lld", (long long)opt->step);
    tl_adamw_free(opt);
    free(grads);
}

static void test_adamw_steps(const golden *g, tl_model *m, tl_train_acts *a) {
    tl_lr_schedule sched = {g->lr, g->warmup, g->total, g->min_ratio};
    int n = g->n_steps;
    double *losses = calloc((size_t)n + 1, 8), *norms = calloc((size_t)n, 8);
    train(g, m, a, &sched, n, losses, norms);
    double worst = 0;
    printf("step  loss tiller   loss torch    rel       |grad| tiller |grad| torch\n");
    for (int s = 0; s <= n; s++) {
        double r = rel(losses[s], g->losses[s]);
        worst = fmax(worst, r);
        if (s < n) {
            double rn = rel(norms[s], g->norms[s]);
            worst = fmax(worst, rn);
            printf("%4d  %.7f   %.7f   %.2e  %.6f      %.6f\n", s, losses[s], g->losses[s], r,
                   norms[s], g->norms[s]);
        } else {
            printf("%4d  %.7f   %.7f   %.2e\n", s, losses[s], g->losses[s], r);
        }
    }
    printf("AdamW trajectory: worst relative error %.2e (bar 1e-4)\n", worst);
    CHECK(worst <= 1e-4, "AdamW trajectory differs from torch by %.3g", worst);
    free(losses);
    free(norms);
}

static void test_overfit(const golden *g, tl_model *m, tl_train_acts *a) {
    enum { STEPS = 150 };
    tl_lr_schedule sched = {1e-2f, 10, STEPS, 0.1f};
    double losses[STEPS + 1], norms[STEPS];
    train(g, m, a, &sched, STEPS, losses, norms);
    printf("overfit one batch: loss %.4f -> %.4f after %d steps (bar < 0.01)\n", losses[0],
           losses[STEPS], STEPS);
    CHECK(losses[STEPS] < 0.01, "final loss %.4f", losses[STEPS]);
}

int main(void) {
    golden g;
    memset(&g, 0, sizeof g);
    if (!load_golden("tests/golden/train_ref.bin", &g)) return tl_test_done();
    tl_model *m = NULL;
    tl_train_acts *a = NULL;
    CHECK_OK(tl_model_new(&g.cfg, &m));
    CHECK_OK(tl_train_acts_new(&g.cfg, g.B, g.T, &a));
    if (m && a) {
        test_gradients(&g, m, a);
        test_adamw_steps(&g, m, a);
        test_overfit(&g, m, a);
    }
    tl_train_acts_free(a);
    tl_model_free(m);
    free(g.params), free(g.grads), free(g.tokens), free(g.targets), free(g.losses), free(g.norms);
    return tl_test_done();
}
