/* Training a model whose matrices are kept as stored (quantized GGUF, read by llama.cpp's
 * quantizer: tests/golden/quant/llamacpp):
 *   - the training forward refuses such a model with a message saying what to do, instead of
 *     training on the reserved (zero) f32 buffer;
 *   - tl_train_run (the one trainer behind `train`, `reversal`, `selfalign` and the demo's
 *     training stages) starts from the dequantized weights: one step at a learning rate
 *     (1e-30) writes a checkpoint whose every parameter equals tl_model_dequantize's value
 *     within 1e-20 (a run on zeroed matrices would write zeros there). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char buf[1024];
static const char *tmp(const char *name) {
    snprintf(buf, sizeof buf, "%s/%s", tl_test_tmpdir(), name);
    return buf;
}

static void make_data(const char *path) {
    tl_token_builder b;
    CHECK_OK(tl_token_builder_init(&b, 64));
    int32_t ids[40];
    for (int d = 0; d < 60; d++) {
        int n = 10 + d % 30;
        ids[0] = 1;
        for (int i = 1; i < n; i++) ids[i] = 2 + (d + 3 * i) % 62;
        CHECK_OK(tl_token_builder_add(&b, ids, (size_t)n, 0));
    }
    CHECK_OK(tl_token_builder_write(&b, path, 0.1, 1));
    tl_token_builder_free(&b);
}

static void refuses_as_stored(const char *path) {
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(path, &m, NULL));
    if (!m) return;
    CHECK(m->qw != NULL, "%s: not kept as stored", path);
    tl_train_acts *a = NULL;
    CHECK_OK(tl_train_acts_new(&m->cfg, 1, 8, &a));
    int32_t tok[8] = {1, 5, 9, 13, 17, 21, 25, 29}, tgt[8] = {5, 9, 13, 17, 21, 25, 29, 33};
    float loss = 0;
    tl_status s = a ? tl_model_forward_train(m, a, tok, tgt, NULL, &loss) : TL_E_NOMEM;
    CHECK(s == TL_E_ARG && strstr(tl_last_error(), "tl_model_dequantize"), "%s: forward_train on stored weights: %s",
          path, tl_last_error());
    CHECK_OK(tl_model_dequantize(m));
    s = a ? tl_model_forward_train(m, a, tok, tgt, NULL, &loss) : TL_E_NOMEM;
    CHECK(s == TL_OK && isfinite(loss), "%s: forward_train after dequantizing: %s", path, tl_last_error());
    tl_train_acts_free(a);
    tl_model_free(m);
}

static void trains_from_dequantized(const char *path, const char *data, const char *dir) {
    tl_train_opts o;
    tl_train_opts_defaults(&o);
    o.model_path = path;
    o.data_path = data;
    o.out_dir = dir;
    o.seq = 16;
    o.batch = 2;
    o.steps = 1;
    o.warmup = 0;
    o.lr = 1e-30f; /* (0 is refused) a step this small leaves every nonzero parameter as it was */
    o.weight_decay = 0;
    o.save_every = 1;
    o.eval_every = 0;
    CHECK_OK(tl_train_run(&o));
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/ckpt-1.gguf", dir);
    tl_model *want = NULL, *got = NULL;
    CHECK_OK(tl_model_load(path, &want, NULL));
    if (want) CHECK_OK(tl_model_dequantize(want));
    CHECK_OK(tl_model_load(ck, &got, NULL));
    if (!want || !got) goto done;
    CHECK(got->qw == NULL && got->n_params == want->n_params, "%s: checkpoint shape", ck);
    size_t differ = 0, zero = 0;
    for (size_t i = 0; i < want->n_params && got->n_params == want->n_params; i++) {
        differ += fabsf(got->params[i] - want->params[i]) > 1e-20f;
        zero += want->params[i] != 0 && got->params[i] == 0;
    }
    CHECK(differ == 0, "%s: %zu of %zu parameters differ from the dequantized file (%zu are zero)", ck, differ,
          want->n_params, zero);
done:
    tl_model_free(want);
    tl_model_free(got);
}

int main(void) {
    const char *files[] = {"tests/golden/quant/llamacpp/tiny-q8_0.gguf",
                           "tests/golden/quant/llamacpp/tiny-q4_k_m.gguf"};
    char data[1100];
    snprintf(data, sizeof data, "%s", tmp("data.tokens"));
    make_data(data);
    for (int i = 0; i < 2; i++) {
        refuses_as_stored(files[i]);
        trains_from_dequantized(files[i], data, tmp(i ? "run_q4" : "run_q8"));
    }
    nftw(tl_test_tmpdir(), rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return tl_test_done();
}
