/* Round trips between formats: every conversion that can represent a model must
 * give back the same config, bit-identical weights and bit-identical logits.
 *   - tiny_llama (HF, theta 50000, head_dim != C/H): .safetensors dir -> file ->
 *     dir; llama2.c cannot store it, so .bin is refused and leaves no file;
 *   - stories260K (llama2.c v0, tied): .bin -> HF dir -> .bin v0 -> .bin v1 -> .safetensors;
 *   - a random theta-10000 untied GQA model: .safetensors -> .bin v1 -> .safetensors;
 *   - f16 / bf16 storage: the loaded weights are the rounded originals, and a
 *     second save writes the same bytes;
 *   - every allocation failure while loading or saving returns TL_E_NOMEM cleanly.
 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h"
#include "testlib.h"

#define NTOK 24

static char tmp[512];

static const char *tmp_path(const char *name) {
    static char buf[4][640];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static void collect(void *user, const float *logits, int T, int V, int pos0) {
    memcpy((float *)user + (size_t)pos0 * V, logits, sizeof(float) * (size_t)T * V);
}

/* Logits at NTOK positions of a fixed token sequence. */
static float *logits_of(const tl_model *m) {
    int V = m->cfg.vocab_size;
    int32_t tok[NTOK];
    for (int i = 0; i < NTOK; i++) tok[i] = (int32_t)((i * 37 + 5) % V);
    float *out = calloc((size_t)NTOK * V, sizeof(float));
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, NTOK, 0, &s));
    if (s) CHECK_OK(tl_forward_all(s, tok, NTOK, collect, out));
    tl_session_free(s);
    return out;
}

static int config_equal(const tl_config *a, const tl_config *b) {
    return a->dim == b->dim && a->hidden_dim == b->hidden_dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim &&
           a->vocab_size == b->vocab_size && a->seq_len == b->seq_len &&
           a->rope_theta == b->rope_theta && a->norm_eps == b->norm_eps &&
           a->tied_embeddings == b->tied_embeddings && a->rope_layout == b->rope_layout;
}

/* Save `m` to path, load it back and compare everything with `ref`. */
static tl_model *round_trip(const tl_model *m, const tl_model *ref, const float *ref_logits,
                            const char *path, int version) {
    tl_save_opts o = {TL_DTYPE_F32, version};
    CHECK_OK(tl_model_save_opts(m, NULL, path, &o));
    tl_model *back = NULL;
    CHECK_OK(tl_model_load(path, &back, NULL));
    if (!back) return NULL;
    CHECK(config_equal(&back->cfg, &ref->cfg), "%s: config differs", path);
    CHECK(back->n_params == ref->n_params &&
              !memcmp(back->params, ref->params, sizeof(float) * ref->n_params),
          "%s: weights differ", path);
    float *lg = logits_of(back);
    size_t n = (size_t)NTOK * ref->cfg.vocab_size;
    CHECK(!memcmp(lg, ref_logits, sizeof(float) * n), "%s: logits differ (max abs %g)", path,
          tl_test_max_abs(lg, ref_logits, n));
    free(lg);
    return back;
}

/* A chain of formats: each model is saved and reloaded from the previous one. */
static void chain(const char *label, tl_model *orig, const char **paths, const int *versions, int n) {
    float *ref = logits_of(orig);
    const tl_model *cur = orig;
    tl_model *prev = NULL;
    for (int i = 0; i < n; i++) {
        tl_model *next = round_trip(cur, orig, ref, tmp_path(paths[i]), versions[i]);
        if (!next) break;
        tl_model_free(prev);
        prev = next;
        cur = next;
    }
    printf("%s: %d conversions, weights and logits bit-identical: %s\n", label, n,
           tl_test_failed ? "NO" : "yes");
    tl_model_free(prev);
    free(ref);
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static int file_bytes(const char *path, char **data, size_t *n) {
    return tl_file_read_all(path, data, n) == TL_OK;
}

static void test_narrow(const tl_model *m, tl_dtype dt, uint16_t (*to)(float), float (*from)(uint16_t)) {
    const char *name = dt == TL_DTYPE_F16 ? "narrow_f16" : "narrow_bf16";
    char p1[640], p2[700];
    snprintf(p1, sizeof p1, "%s", tmp_path(name));
    snprintf(p2, sizeof p2, "%s_again", p1);
    tl_save_opts o = {dt, 0};
    CHECK_OK(tl_model_save_opts(m, NULL, p1, &o));
    tl_model *a = NULL;
    CHECK_OK(tl_model_load(p1, &a, NULL));
    if (!a) return;
    size_t bad = 0;
    for (size_t i = 0; i < m->n_params; i++) bad += a->params[i] != from(to(m->params[i]));
    CHECK(bad == 0, "%s: %zu weights are not the rounded originals", name, bad);
    CHECK_OK(tl_model_save_opts(a, NULL, p2, &o));
    char *x = NULL, *y = NULL, path[800];
    size_t nx = 0, ny = 0;
    snprintf(path, sizeof path, "%s/model.safetensors", p1);
    CHECK(file_bytes(path, &x, &nx), "read %s", path);
    snprintf(path, sizeof path, "%s/model.safetensors", p2);
    CHECK(file_bytes(path, &y, &ny), "read %s", path);
    CHECK(x && y && nx == ny && !memcmp(x, y, nx), "%s: second save differs", name);
    printf("%s: %zu bytes, weights = rounded originals, re-save byte-identical\n", name, nx);
    tl_free(x);
    tl_free(y);
    tl_model_free(a);
}

/* Fail the k-th allocation for k = 1, 2, ... until the operation no longer
 * reaches the failure: each attempt must fail cleanly with TL_E_NOMEM (ASan
 * checks for leaks) and leave no output behind. */
static void test_alloc_failures(const tl_model *m, const char *load_path) {
    int k, nomem = 0, other = 0;
    for (k = 1; k < 10000; k++) {
        tl_model *x = NULL;
        tl_alloc_fail_after(k);
        tl_status s = tl_model_load(load_path, &x, NULL);
        tl_alloc_fail_after(0);
        tl_model_free(x);
        if (s == TL_OK) break;
        if (s == TL_E_NOMEM) nomem++;
        else other++;
    }
    printf("load with allocation k failing: %d NOMEM, %d other, succeeds from k = %d\n", nomem, other, k);
    CHECK(other == 0 && nomem > 0, "load under allocation failure: %d non-NOMEM", other);
    nomem = other = 0;
    const char *out = tmp_path("nomem_out");
    for (k = 1; k < 10000; k++) {
        tl_alloc_fail_after(k);
        tl_status s = tl_model_save(m, NULL, out);
        tl_alloc_fail_after(0);
        if (s == TL_OK) break;
        if (s == TL_E_NOMEM) nomem++;
        else other++;
        CHECK(!tl_path_exists(out), "failed save left %s", out);
    }
    printf("save with allocation k failing: %d NOMEM, %d other, succeeds from k = %d\n", nomem, other, k);
    CHECK(other == 0 && nomem > 0, "save under allocation failure: %d non-NOMEM", other);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "%s", tl_test_tmpdir());

    /* tiny_llama: only HF-side formats can hold it */
    tl_model *tiny = NULL;
    CHECK_OK(tl_model_load("tests/golden/tiny_llama", &tiny, NULL));
    if (tiny) {
        const char *p[] = {"tiny_dir", "tiny.safetensors", "tiny_dir2"};
        const int v[] = {0, 0, 0};
        chain("tiny_llama (.safetensors chain)", tiny, p, v, 3);
        int before = dir_entries(tmp);
        tl_status s = tl_model_save(tiny, NULL, tmp_path("tiny.bin"));
        CHECK(s == TL_E_UNSUPPORTED, "saving theta 50000 as .bin: %s", tl_status_string(s));
        CHECK(strstr(tl_last_error(), "tiny.bin") != NULL, "message names the file: %s", tl_last_error());
        CHECK(dir_entries(tmp) == before, "refused .bin left files behind");
        test_narrow(tiny, TL_DTYPE_F16, tl_f32_to_f16, tl_f16_to_f32);
        test_narrow(tiny, TL_DTYPE_BF16, tl_f32_to_bf16, tl_bf16_to_f32);
        test_alloc_failures(tiny, "tests/golden/tiny_llama");
    }

    /* stories260K: llama2.c v0, tied, GQA */
    tl_model *st = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &st, NULL));
    if (st) {
        const char *p[] = {"s260k_hf", "s260k_v0.bin", "s260k_v1.bin", "s260k.safetensors", "s260k_last.bin"};
        const int v[] = {0, 0, 1, 0, 0};
        chain("stories260K (.bin <-> .safetensors chain)", st, p, v, 5);
    }

    /* a random theta-10000 model that llama2.c can hold: untied, GQA */
    tl_config c = {.dim = 48, .hidden_dim = 100, .n_layers = 2, .n_heads = 6, .n_kv_heads = 3,
                   .vocab_size = 61, .seq_len = 64, .norm_eps = 1e-5f, .rope_theta = 10000.0f};
    tl_model *r = NULL;
    CHECK_OK(tl_model_new(&c, &r));
    if (r) {
        tl_model_init_random(r, 7);
        const char *p[] = {"rand.safetensors", "rand_v1.bin", "rand_hf", "rand_v0.bin", "rand_hf2"};
        const int v[] = {0, 1, 0, 0, 0};
        chain("random theta-10000 untied (.safetensors <-> .bin chain)", r, p, v, 5);
    }

    /* unknown output extensions are refused and create nothing */
    if (st) {
        int before = dir_entries(tmp);
        CHECK(tl_model_save(st, NULL, tmp_path("x.onnx")) == TL_E_ARG, "unknown extension accepted");
        tl_save_opts o = {TL_DTYPE_F16, 0};
        CHECK(tl_model_save_opts(st, NULL, tmp_path("x.bin"), &o) == TL_E_UNSUPPORTED, "f16 .bin accepted");
        CHECK(dir_entries(tmp) == before, "refused saves left files behind");
    }

    tl_model_free(tiny);
    tl_model_free(st);
    tl_model_free(r);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
