/* test_decode.c: the one-region decode (model/decode.c) against forward.c's per-matmul path.
 * Each model takes a 5-token prompt, then decodes 10 tokens one at a time, in two sessions: a plain
 * one (decode.c) and one with a hook that does nothing (a hook sends every forward through
 * forward.c's general path). The logits must be the same bits at every step, for 1 to 4 threads
 * (3 and 4 do not divide the kv heads of the GQA shape: the barrier before attention; 2 does: each
 * thread attends with its own kv heads), and the same bits for every thread count. Models: random
 * tiny256-shape weights, MHA 4/4 and GQA 4/2, in memory (f32) and saved and mapped as f16, bf16,
 * Q8_0, Q4_0 and Q4_K GGUF; the Qwen2 block (q/k/v biases) and the OLMo block (LayerNorm without
 * parameters, q/k/v clipping) in f32. */
#include <omp.h>
#include <string.h>

#include "base/base.h"
#include "model/decode.h"
#include "model/model.h"
#include "testlib.h"
#include "tiller/bench.h"
#include "tiller/format.h"

#define PROMPT 5
#define STEPS 10

static void nothing(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    (void)user, (void)p, (void)layer, (void)x, (void)T, (void)width, (void)pos0;
}

/* logits of the decode steps [steps, V] of one session, `hooked` or not; non-zero on a failed forward
 * or when decode.c is (not) taken where it should (not) be (no CHECK here: workers of a team call it) */
static int run_n(const tl_model *m, int threads, int hooked, int steps, float *out) {
    omp_set_num_threads(threads);
    tl_session *s = NULL;
    if (tl_session_new(m, 64, 0, &s)) return 1;
    if (hooked) tl_hooks_add(&s->hooks, TL_HOOK_RESID_POST, 0, nothing, NULL);
    int V = m->cfg.vocab_size, bad = 0;
    int32_t toks[PROMPT + STEPS];
    for (int i = 0; i < PROMPT + STEPS; i++) toks[i] = (int32_t)((7 + 131 * i) % V);
    const float *lg;
    bad |= tl_forward(s, toks, PROMPT, &lg) != TL_OK;
    for (int i = 0; i < steps && !bad; i++) {
        bad |= tl_decode_supported(s) != !hooked;
        bad |= tl_forward(s, toks + PROMPT + i, 1, &lg) != TL_OK;
        if (!bad) memcpy(out + (size_t)i * V, lg, sizeof(float) * (size_t)V);
    }
    tl_session_free(s);
    return bad;
}

static int run(const tl_model *m, int threads, int hooked, float *out) { return run_n(m, threads, hooked, STEPS, out); }

/* Sessions decoding on the threads of a team of the caller's (the eval harness runs a session per
 * OpenMP worker): each decodes on its own thread, with the same logits, and a worker that decodes
 * fewer tokens must not leave the other waiting at a barrier of the decode. */
static void inside_team(const char *name, const tl_model *m, const float *ref) {
    size_t n = (size_t)STEPS * m->cfg.vocab_size;
    float *out[2] = {tl_malloc(n * sizeof(float)), tl_malloc(n * sizeof(float))};
    int bad[2] = {1, 1};
#pragma omp parallel num_threads(2)
    {
        int me = omp_get_thread_num();
        if (me < 2) bad[me] = run_n(m, 1, 0, me ? STEPS / 2 : STEPS, out[me]);
    }
    CHECK(!bad[0] && !bad[1], "%s: forward inside a team: %s", name, tl_last_error());
    CHECK(!bad[0] && memcmp(out[0], ref, n * sizeof(float)) == 0, "%s: worker 0's logits differ", name);
    CHECK(!bad[1] && memcmp(out[1], ref, n / 2 * sizeof(float)) == 0, "%s: worker 1's logits differ", name);
    tl_free(out[0]), tl_free(out[1]);
}

static void check_model(const char *name, const tl_model *m) {
    size_t n = (size_t)STEPS * m->cfg.vocab_size;
    float *ref = tl_malloc(n * sizeof(float)), *a = tl_malloc(n * sizeof(float)), *b = tl_malloc(n * sizeof(float));
    CHECK(run(m, 1, 1, ref) == 0, "%s: forward failed or took the wrong path: %s", name, tl_last_error());
    for (int t = 1; t <= 4; t++) {
        CHECK(run(m, t, 0, a) == 0 && run(m, t, 1, b) == 0, "%s: forward failed or took the wrong path: %s", name,
              tl_last_error());
        CHECK(memcmp(a, b, n * sizeof(float)) == 0, "%s, %d threads: decode.c's logits differ from forward.c's", name,
              t);
        CHECK(memcmp(a, ref, n * sizeof(float)) == 0, "%s: %d threads differ from 1", name, t);
        double sum = 0;
        for (size_t i = 0; i < n; i++) sum += a[i] * a[i];
        CHECK(sum > 0 && sum < 1e30, "%s: logits all zero or not finite (sum of squares %g)", name, sum);
    }
    inside_team(name, m, ref);
    tl_free(ref), tl_free(a), tl_free(b);
}

static void saved(const char *dir, const char *name, const tl_model *orig, tl_dtype dtype) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gguf", dir, name);
    tl_save_opts o = {dtype, 0};
    CHECK_OK(tl_model_save_opts(orig, NULL, path, &o));
    tl_model *m = NULL;
    CHECK_OK(tl_model_load_mapped(path, &m, NULL));
    if (m) check_model(name, m);
    tl_model_free(m);
    remove(path);
}

int main(void) {
    const char *dir = tl_test_tmpdir();
    tl_config base = tl_bench_shape_find("tiny256")->cfg;
    base.n_layers = 2;
    for (int gqa = 0; gqa < 2; gqa++) {
        tl_config c = base;
        c.n_kv_heads = gqa ? 2 : 4;
        tl_model *m = NULL;
        CHECK_OK(tl_model_new(&c, &m));
        if (!m) continue;
        tl_model_init_random(m, 5 + gqa);
        const char *tag = gqa ? "gqa" : "mha";
        char name[64];
        snprintf(name, sizeof name, "%s f32", tag), check_model(name, m);
        snprintf(name, sizeof name, "%s-f16", tag), saved(dir, name, m, TL_DTYPE_F16);
        snprintf(name, sizeof name, "%s-bf16", tag), saved(dir, name, m, TL_DTYPE_BF16);
        snprintf(name, sizeof name, "%s-q8_0", tag), saved(dir, name, m, TL_DTYPE_Q8_0);
        snprintf(name, sizeof name, "%s-q4_0", tag), saved(dir, name, m, TL_DTYPE_Q4_0);
        snprintf(name, sizeof name, "%s-q4_k", tag), saved(dir, name, m, TL_DTYPE_Q4_K);
        tl_model_free(m);
    }
    for (int a = 0; a < 2; a++) {
        tl_config c = base;
        c.n_kv_heads = 2;
        c.arch = a ? TL_ARCH_OLMO : TL_ARCH_QWEN2;
        if (a) c.clip_qkv = 0.05f; /* small enough to clip some of the random model's q/k/v */
        tl_model *m = NULL;
        CHECK_OK(tl_model_new(&c, &m));
        if (!m) continue;
        tl_model_init_random(m, 11);
        check_model(a ? "olmo f32" : "qwen2 f32", m);
        tl_model_free(m);
    }
    tl_test_rmtree(dir);
    return tl_test_done();
}
