/* test_recontrol_value.c: the RE-Control value network against PyTorch
 * (tests/oracle/recontrol_value_ref.py -> tests/golden/recontrol/value_ref.txt): V, the
 * Bellman loss and its parameter gradients (targets attached and detached), dV/dx, two
 * Adam steps; then central differences of a double-precision forward written here, the
 * GGUF round trip and bad files. */
#include <string.h>

#include "format/format.h"
#include "model/model.h" /* internal: the session and parameter layout */
#include "tiller/recontrol.h"
#include "testlib.h"

#define MAXA 16
static struct {
    char name[32];
    int n;
    double *v;
} arrs[MAXA];
static int n_arrs;

static int load_golden(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    while (n_arrs < MAXA && fscanf(f, "%31s %d", arrs[n_arrs].name, &arrs[n_arrs].n) == 2) {
        arrs[n_arrs].v = malloc(sizeof(double) * (size_t)arrs[n_arrs].n);
        for (int i = 0; i < arrs[n_arrs].n; i++)
            if (fscanf(f, "%lf", &arrs[n_arrs].v[i]) != 1) {
                fclose(f);
                return 0;
            }
        n_arrs++;
    }
    fclose(f);
    return 1;
}

static const double *arr(const char *name, int *n) {
    for (int i = 0; i < n_arrs; i++)
        if (!strcmp(arrs[i].name, name)) {
            if (n) *n = arrs[i].n;
            return arrs[i].v;
        }
    fprintf(stderr, "golden array %s missing\n", name);
    exit(1);
}

/* max |a - b| / max |b| */
static double rel_err(const float *a, const double *b, int n) {
    double m = 0, s = 1e-12;
    for (int i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        m = e > m ? e : m;
        s = fabs(b[i]) > s ? fabs(b[i]) : s;
    }
    return m / s;
}

/* An independent double-precision V, for finite differences. */
static double value_f64(const double *p, int d, int h, const double *x) {
    const double *w1 = p, *b1 = w1 + h * d, *w2 = b1 + h, *b2 = w2 + h * h, *w3 = b2 + h, *b3 = w3 + h;
    double a1[64], a2[64], v = b3[0];
    for (int i = 0; i < h; i++) {
        double z = b1[i];
        for (int j = 0; j < d; j++) z += w1[i * d + j] * x[j];
        a1[i] = z > 0 ? z : 0;
    }
    for (int i = 0; i < h; i++) {
        double z = b2[i];
        for (int j = 0; j < h; j++) z += w2[i * h + j] * a1[j];
        a2[i] = z > 0 ? z : 0;
    }
    for (int i = 0; i < h; i++) v += w3[i] * a2[i];
    return v;
}

static double bellman_f64(const double *p, int d, int h, const double *x, const int *lens, int B,
                          const double *reward) {
    double loss = 0;
    int o = 0;
    for (int b = 0; b < B; b++) {
        for (int t = o; t + 1 < o + lens[b]; t++) {
            double e = value_f64(p, d, h, x + t * d) - value_f64(p, d, h, x + (t + 1) * d);
            loss += e * e;
        }
        double e = value_f64(p, d, h, x + (o + lens[b] - 1) * d) - reward[b];
        loss += e * e;
        o += lens[b];
    }
    return loss / B;
}

int main(void) {
    CHECK(load_golden("tests/golden/recontrol/value_ref.txt"), "cannot read the golden file");
    const double *dims = arr("dims", NULL);
    int d = (int)dims[0], h = (int)dims[1], B = (int)dims[2], np;
    const double *lens_d = arr("lens", NULL), *xd = arr("x", NULL), *rd = arr("reward", NULL);
    const double *pd = arr("params", &np);
    int lens[8], off[9] = {0};
    for (int b = 0; b < B; b++) lens[b] = (int)lens_d[b], off[b + 1] = off[b] + lens[b];
    int N = off[B];
    float x[64 * 8], reward[8];
    for (int i = 0; i < N * d; i++) x[i] = (float)xd[i];
    for (int b = 0; b < B; b++) reward[b] = (float)rd[b];

    tl_value_net *v = NULL;
    CHECK_OK(tl_value_new(d, h, 7, &v));
    CHECK((int)v->n_params == np, "parameter count %zu vs torch %d", v->n_params, np);
    for (int i = 0; i < np; i++) v->params[i] = (float)pd[i];
    tl_value_ws ws;
    CHECK_OK(tl_value_ws_new(v, N, &ws));

    float vals[64];
    tl_value_forward(v, &ws, x, N, vals);
    double e = rel_err(vals, arr("values", NULL), N);
    printf("V: rel err %.2e\n", e);
    CHECK(e < 1e-5, "V differs from torch: %g", e);

    float *grads = calloc((size_t)np, sizeof(float));
    for (int det = 0; det < 2; det++) {
        char ln[32], gn[32];
        snprintf(ln, sizeof ln, "loss_detach%d", det);
        snprintf(gn, sizeof gn, "grads_detach%d", det);
        memset(grads, 0, sizeof(float) * (size_t)np);
        double loss = tl_value_bellman(v, &ws, x, off, reward, B, det, grads);
        double lt = arr(ln, NULL)[0];
        double eg = rel_err(grads, arr(gn, NULL), np);
        printf("detach=%d: loss %.9f (torch %.9f), grads rel err %.2e\n", det, loss, lt, eg);
        CHECK(fabs(loss - lt) < 1e-5 * (1 + fabs(lt)), "loss %g vs %g", loss, lt);
        CHECK(eg < 1e-5, "gradients differ from torch (detach=%d): %g", det, eg);
    }

    /* dV/dx at every state */
    float dx[64];
    const double *dvdx = arr("dvdx", NULL);
    double ex = 0;
    for (int i = 0; i < N; i++) {
        float val = tl_value_grad_input(v, &ws, x + i * d, dx);
        CHECK(fabs(val - vals[i]) < 1e-6, "grad_input's V %g vs forward %g", val, vals[i]);
        double r = rel_err(dx, dvdx + i * d, d);
        ex = r > ex ? r : ex;
    }
    printf("dV/dx: rel err %.2e\n", ex);
    CHECK(ex < 1e-5, "dV/dx differs from autograd: %g", ex);

    /* finite differences of the Bellman loss and of V w.r.t. x, in double */
    double *p64 = malloc(sizeof(double) * (size_t)np), x64[64 * 8], r64[8];
    for (int i = 0; i < np; i++) p64[i] = v->params[i];
    for (int i = 0; i < N * d; i++) x64[i] = x[i];
    for (int b = 0; b < B; b++) r64[b] = reward[b];
    memset(grads, 0, sizeof(float) * (size_t)np);
    tl_value_bellman(v, &ws, x, off, reward, B, 0, grads);
    double fd_err = 0, gmax = 1e-12;
    for (int i = 0; i < np; i++) {
        double keep = p64[i], eps = 1e-6;
        p64[i] = keep + eps;
        double lp = bellman_f64(p64, d, h, x64, lens, B, r64);
        p64[i] = keep - eps;
        double lm = bellman_f64(p64, d, h, x64, lens, B, r64);
        p64[i] = keep;
        double fd = (lp - lm) / (2 * eps);
        fd_err = fabs(fd - grads[i]) > fd_err ? fabs(fd - grads[i]) : fd_err;
        gmax = fabs(fd) > gmax ? fabs(fd) : gmax;
    }
    printf("Bellman grads vs central differences (double): max err / max |g| = %.2e\n", fd_err / gmax);
    CHECK(fd_err / gmax < 1e-5, "finite differences: %g", fd_err / gmax);
    double fx_err = 0, fxmax = 1e-12;
    for (int i = 0; i < N; i++) {
        tl_value_grad_input(v, &ws, x + i * d, dx);
        for (int j = 0; j < d; j++) {
            double keep = x64[i * d + j], eps = 1e-6;
            x64[i * d + j] = keep + eps;
            double vp = value_f64(p64, d, h, x64 + i * d);
            x64[i * d + j] = keep - eps;
            double vm = value_f64(p64, d, h, x64 + i * d);
            x64[i * d + j] = keep;
            double fd = (vp - vm) / (2 * eps);
            fx_err = fabs(fd - dx[j]) > fx_err ? fabs(fd - dx[j]) : fx_err;
            fxmax = fabs(fd) > fxmax ? fabs(fd) : fxmax;
        }
    }
    printf("dV/dx vs central differences (double): %.2e\n", fx_err / fxmax);
    CHECK(fx_err / fxmax < 1e-5, "finite differences of dV/dx: %g", fx_err / fxmax);

    /* two Adam steps (lr 1e-3) */
    tl_value_adam adam;
    CHECK_OK(tl_value_adam_new(v->n_params, &adam));
    for (int step = 1; step <= 2; step++) {
        memset(grads, 0, sizeof(float) * (size_t)np);
        tl_value_bellman(v, &ws, x, off, reward, B, 0, grads);
        tl_value_adam_step(&adam, v->params, grads, 1e-3f);
        char pn[32];
        snprintf(pn, sizeof pn, "params_step%d", step);
        const double *pt = arr(pn, NULL);
        double m = 0;
        for (int i = 0; i < np; i++) m = fabs(v->params[i] - pt[i]) > m ? fabs(v->params[i] - pt[i]) : m;
        printf("Adam step %d: max |param - torch| %.2e\n", step, m);
        CHECK(m < 1e-6, "Adam step %d: %g", step, m);
    }
    double la = tl_value_bellman(v, &ws, x, off, reward, B, 0, NULL), lat = arr("loss_after2", NULL)[0];
    CHECK(fabs(la - lat) < 1e-5 * (1 + fabs(lat)), "loss after 2 steps %g vs %g", la, lat);
    tl_value_adam_free(&adam);

    /* GGUF round trip, and bad files */
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/v.gguf", tl_test_tmpdir());
    CHECK_OK(tl_value_save(v, path));
    tl_value_net *w = NULL;
    CHECK_OK(tl_value_load(path, &w));
    CHECK(w && w->d == d && w->h == h && !memcmp(w->params, v->params, sizeof(float) * (size_t)np),
          "round trip changed the network");
    tl_value_free(w);
    w = NULL;
    snprintf(bad, sizeof bad, "%s/notvalue.gguf", tl_test_tmpdir());
    {
        tl_gguf_writer *gw = NULL;
        CHECK_OK(tl_gguf_writer_new(&gw));
        tl_gguf_write_str(gw, "general.architecture", "llama");
        CHECK_OK(tl_gguf_writer_save(gw, bad));
        tl_gguf_writer_free(gw);
    }
    CHECK(tl_value_load(bad, &w) == TL_E_FORMAT && w == NULL, "a non-value GGUF must be refused");
    CHECK(strstr(tl_last_error(), "not a value network") != NULL, "message: %s", tl_last_error());
    v->params[3] = NAN;
    CHECK_OK(tl_value_save(v, bad));
    CHECK(tl_value_load(bad, &w) == TL_E_FORMAT, "a NaN parameter must be refused");
    CHECK(strstr(tl_last_error(), "non-finite") != NULL, "message: %s", tl_last_error());
    v->params[3] = 0.1f;

    /* fitting refuses NaN rewards */
    tl_value_fit_opts fo;
    tl_value_fit_opts_default(&fo);
    fo.epochs = 2;
    tl_value_fit_result fr;
    reward[1] = NAN;
    CHECK(tl_value_fit(v, x, off, reward, B, &fo, &fr) == TL_E_ARG, "NaN reward must be refused");
    reward[1] = (float)rd[1];
    /* and learns: without a held-out part (the kept epoch is then the best training loss),
     * 300 epochs of Adam lower the Bellman loss well below its start */
    double l0 = tl_value_bellman(v, &ws, x, off, reward, B, 0, NULL);
    fo.epochs = 300, fo.batch = 4, fo.val_share = 0;
    CHECK_OK(tl_value_fit(v, x, off, reward, B, &fo, &fr));
    double l1 = tl_value_bellman(v, &ws, x, off, reward, B, 0, NULL);
    printf("fit: loss %.4f -> %.4f (best epoch %d)\n", l0, l1, fr.best_epoch);
    CHECK(l1 < 0.2 * l0, "fitting did not lower the loss: %g -> %g", l0, l1);

    tl_value_ws_free(&ws);
    tl_value_free(v);
    free(grads);
    free(p64);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
