/* test_gguf_llamacpp.c: GGUF features of files llama.cpp's tools write.
 *   - Llama 3.1 RoPE frequency factors (rope_freqs.weight): the tiny256 model (seed 1234) with
 *     factors 1 .. 8 and freq_base 500000 gives the logits llama.cpp gives on the same file
 *     (tests/golden/quant/llamacpp/rope_freqs.logits, see README.md there);
 *   - rope_freqs all equal to 2 and linear scaling with factor 2 (llama.rope.scaling.*) give
 *     identical logits, and both differ from no scaling;
 *   - YaRN is refused by name; a rope_freqs tensor of the wrong length is refused;
 *   - an absent special token written as 0xFFFFFFFF (llama.cpp's LLAMA_TOKEN_NULL) means none.
 * TILLER_KEEP=1 keeps rope_freqs.gguf in the test's temporary directory (to make the golden). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "tiller/bench.h"
#include "format/format.h"
#include "model/model.h"
#include "testlib.h"
#include "tiller/tokenizer.h"

static double max_diff(const float *a, const float *b, int n, double *range) {
    double worst = 0, lo = b[0], hi = b[0];
    for (int i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)a[i] - b[i]));
        lo = fmin(lo, b[i]);
        hi = fmax(hi, b[i]);
    }
    if (range) *range = hi - lo;
    return worst;
}

static tl_model *tiny(void) {
    tl_model *m = NULL;
    tl_config c = tl_bench_shape_find("tiny256")->cfg;
    c.rope_theta = 500000.0f;
    CHECK_OK(tl_model_new(&c, &m));
    if (m) tl_model_init_random(m, 1234);
    return m;
}

/* save m (with vocab tok) to path and load it back */
static tl_model *round_trip(const tl_model *m, const tl_tokenizer *tok, const char *path) {
    tl_model *back = NULL;
    CHECK_OK(tl_model_save(m, tok, path));
    CHECK_OK(tl_model_load(path, &back, NULL));
    return back;
}

static void test_rope_freqs(void) {
    char path[512];
    const char *dir = tl_test_tmpdir();
    tl_model *m = tiny();
    if (!m) return;
    int V = m->cfg.vocab_size, half = m->cfg.head_dim / 2;
    float *a = tl_malloc(sizeof(float) * V), *b = tl_malloc(sizeof(float) * V), *none = tl_malloc(sizeof(float) * V);
    CHECK(tl_test_last_logits(m, none) == 0, "forward");
    tl_tokenizer *vocab = NULL; /* llama.cpp needs a vocab */
    CHECK_OK(tl_tokenizer_load("../shared/models/stories260K/tok512.bin", &vocab));

    /* Llama 3.1-like factors: 1 for high frequencies rising to 8 for low ones */
    m->rope_freqs = tl_malloc(sizeof(float) * half);
    for (int i = 0; i < half; i++)
        m->rope_freqs[i] = 1.0f + 7.0f * (float)i / (float)(half - 1);
    snprintf(path, sizeof path, "%s/rope_freqs.gguf", dir);
    tl_model *r = round_trip(m, vocab, path);
    CHECK(r && r->rope_freqs && r->rope_freqs[half - 1] == 8.0f, "rope_freqs read back");
    if (r && tl_test_last_logits(r, a) == 0) {
        char *ref = NULL;
        size_t size = 0;
        CHECK_OK(tl_file_read_all("tests/golden/quant/llamacpp/rope_freqs.logits", &ref, &size));
        if (ref && size == sizeof(float) * (size_t)V) {
            double range, d = max_diff(a, (const float *)ref, V, &range),
                          d0 = max_diff(none, (const float *)ref, V, NULL);
            CHECK(d < 1e-3 * range, "rope_freqs: logits differ from llama.cpp's by %.3g (range %.3g)", d, range);
            CHECK(d0 > 10 * d, "without the factors the logits should be far off (%.3g vs %.3g)", d0, d);
            printf("rope_freqs vs llama.cpp: max |diff| %.2e of a logit range %.3g (without the factors: %.2e)\n", d,
                   range, d0);
        } else {
            CHECK(0, "rope_freqs.logits: %zu bytes", size);
        }
        tl_free(ref);
    }
    tl_model_free(r);

    /* factors all 2 == linear scaling by 2 */
    for (int i = 0; i < half; i++)
        m->rope_freqs[i] = 2.0f;
    snprintf(path, sizeof path, "%s/rope_freqs2.gguf", dir);
    r = round_trip(m, vocab, path);
    CHECK(r && tl_test_last_logits(r, a) == 0, "factors 2");
    tl_model_free(r);
    tl_free(m->rope_freqs);
    m->rope_freqs = NULL;
    m->rope_freq_scale = 0.5f;
    snprintf(path, sizeof path, "%s/linear.gguf", dir);
    r = round_trip(m, vocab, path);
    CHECK(r && r->rope_freq_scale == 0.5f, "linear scaling read back (%g)", r ? (double)r->rope_freq_scale : 0.0);
    CHECK(r && tl_test_last_logits(r, b) == 0, "linear");
    CHECK(max_diff(a, b, V, NULL) == 0, "rope_freqs 2 and linear factor 2 differ by %.3g", max_diff(a, b, V, NULL));
    CHECK(max_diff(a, none, V, NULL) > 0, "scaling changed nothing");
    tl_model_free(r);
    tl_tokenizer_free(vocab);
    tl_model_free(m);
    tl_free(a);
    tl_free(b);
    tl_free(none);
}

/* A GGUF written key by key (for the cases tiller's model writer never produces). */
static void write_variant(const char *path, const char *scaling_type, int freqs_len, uint32_t pad_id) {
    tl_model *m = tiny();
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load("../shared/models/stories260K/tok512.bin", &tok));
    char base[512];
    snprintf(base, sizeof base, "%s.base.gguf", path);
    CHECK_OK(tl_model_save(m, tok, base));
    tl_gguf *g = NULL;
    CHECK_OK(tl_gguf_open(base, &g));
    tl_gguf_writer *w = NULL;
    CHECK_OK(tl_gguf_writer_new(&w));
    for (uint64_t i = 0; g && i < g->n_kv; i++) { /* copy every key but the padding id */
        const tl_gguf_kv *kv = &g->kv[i];
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.n, kv->key.s);
        if (!strcmp(key, "tokenizer.ggml.padding_token_id")) continue;
        if (kv->type == TL_GGUF_STRING) {
            tl_gguf_str s;
            tl_gguf_get_str(g, key, &s);
            tl_gguf_write_strn(w, key, s.s, s.n);
        } else if (kv->type == TL_GGUF_ARRAY && kv->arr_type == TL_GGUF_STRING) {
            tl_gguf_iter it;
            tl_gguf_str s;
            const char **strs = tl_malloc(sizeof *strs * kv->n);
            char **own = tl_malloc(sizeof *own * kv->n);
            tl_gguf_iter_init(kv, &it);
            for (uint64_t k = 0; tl_gguf_iter_next(&it, &s); k++) {
                own[k] = tl_malloc(s.n + 1);
                memcpy(own[k], s.s, s.n);
                own[k][s.n] = 0;
                strs[k] = own[k];
            }
            tl_gguf_write_arr_str(w, key, strs, NULL, kv->n);
            for (uint64_t k = 0; k < kv->n; k++)
                tl_free(own[k]);
            tl_free(own);
            tl_free(strs);
        } else if (kv->type == TL_GGUF_ARRAY) {
            tl_gguf_write_arr(w, key, kv->arr_type, kv->data, kv->n);
        } else {
            tl_gguf_write_scalar(w, key, kv->type, kv->data);
        }
    }
    tl_gguf_write_u32(w, "tokenizer.ggml.padding_token_id", pad_id);
    if (scaling_type) tl_gguf_write_str(w, "llama.rope.scaling.type", scaling_type);
    float freqs[64];
    for (int i = 0; i < 64; i++)
        freqs[i] = 1.0f;
    int64_t ne1[1] = {freqs_len};
    if (freqs_len) tl_gguf_write_tensor(w, "rope_freqs.weight", TL_GGML_F32, 1, ne1, freqs);
    for (uint64_t i = 0; g && i < g->n_tensors; i++) {
        const tl_gguf_tensor *t = &g->tensors[i];
        tl_gguf_write_tensor(w, t->name, t->type, (int)t->n_dims, t->ne, (const float *)t->data);
    }
    CHECK_OK(tl_gguf_writer_save(w, path));
    tl_gguf_writer_free(w);
    tl_gguf_close(g);
    tl_tokenizer_free(tok);
    tl_model_free(m);
}

static void test_refusals_and_null_tokens(void) {
    char path[512];
    const char *dir = tl_test_tmpdir();
    tl_model *m = NULL;
    snprintf(path, sizeof path, "%s/null_pad.gguf", dir);
    write_variant(path, NULL, 0, 0xFFFFFFFFu);
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_model_load(path, &m, &tok));
    CHECK(m && tok && tl_tokenizer_bos(tok) == 1, "0xFFFFFFFF padding id: loads, BOS intact");
    tl_tokenizer_free(tok);
    tl_model_free(m);
    m = NULL;
    snprintf(path, sizeof path, "%s/bad_pad.gguf", dir);
    write_variant(path, NULL, 0, 100000u);
    CHECK(tl_model_load(path, &m, NULL) == TL_E_FORMAT && strstr(tl_last_error(), "padding_token_id"),
          "an out-of-range padding id other than 0xFFFFFFFF is refused: %s", tl_last_error());
    tl_model_free(m);
    m = NULL;
    snprintf(path, sizeof path, "%s/yarn.gguf", dir);
    write_variant(path, "yarn", 0, 0xFFFFFFFFu);
    CHECK(tl_model_load(path, &m, NULL) == TL_E_UNSUPPORTED && strstr(tl_last_error(), "'yarn' is not supported"), "yarn: %s",
          tl_last_error());
    tl_model_free(m);
    m = NULL;
    snprintf(path, sizeof path, "%s/freqs_len.gguf", dir);
    write_variant(path, NULL, 7, 0xFFFFFFFFu);
    CHECK(tl_model_load(path, &m, NULL) == TL_E_FORMAT && strstr(tl_last_error(), "rope_freqs.weight"), "rope_freqs of 7: %s",
          tl_last_error());
    tl_model_free(m);
}

int main(void) {
    test_rope_freqs();
    test_refusals_and_null_tokens();
    if (!getenv("TILLER_KEEP"))
        tl_test_rmtree(tl_test_tmpdir());
    else
        printf("kept %s\n", tl_test_tmpdir());
    return tl_test_done();
}
