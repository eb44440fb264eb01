/* Models loaded for inference (tl_model_load_mapped) keep their matrices as stored, in the mapped
 * file, for every format tiller reads — f32, f16 and bf16 GGUF, llama2.c .bin (versions 0 and 1)
 * and Hugging Face safetensors in f32, f16 and bf16:
 *   - every layer matrix, the embedding and the LM head are views into the file, of the file's
 *     type (safetensors' llama q/k too: their rows stay in HF's half-split order and the model
 *     rotates in that layout, rope_layout HALF);
 *   - the logits of a 16-token forward equal those of the copying loader (tl_model_load: the same
 *     values widened to f32 and, for HF, q/k rows permuted) up to the order of float additions
 *     (max |diff| <= 1e-5 x max |logit| + 1e-6);
 *   - writers refuse such a model (GGUF, .bin, safetensors: the f32 buffer holds only norms and a
 *     write would be zeros) and accept it after tl_model_dequantize, which reproduces the copying
 *     loader's weights exactly (HF q/k rows back in interleaved order, rope_layout INTERLEAVED).
 * And the finiteness checks that the mapped load leaves to the first forward pass
 * (model/finite_check.h): a NaN in a layer matrix of an f32 or f16 GGUF is refused by
 * tl_model_load at load and by the first tl_forward of a mapped model, both naming the tensor; a
 * NaN in the embedding table is still refused at load by both. */
#include <string.h>

#include "base/base.h"
#include "format/format.h"
#include "gguf/gguf.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "model/qweights.h"
#include "testlib.h"
#include "tiller/bench.h"

static const int32_t ids[16] = {1, 403, 407, 261, 378, 300, 25, 67, 89, 400, 2, 450, 12, 13, 14, 15};

static tl_status logits(const tl_model *m, float *out) {
    tl_session *s;
    tl_status st = tl_session_new(m, 64, 0, &s);
    if (st) return st;
    const float *lg;
    st = tl_forward(s, ids, 16, &lg);
    if (!st) memcpy(out, lg, sizeof(float) * (size_t)m->cfg.vocab_size);
    tl_session_free(s);
    return st;
}

static void one(const tl_model *orig, const char *path, tl_dtype dtype, uint32_t want_type, int version) {
    tl_save_opts o = {dtype, version};
    CHECK_OK(tl_model_save_opts(orig, NULL, path, &o));
    tl_model *copy = NULL, *m = NULL;
    CHECK_OK(tl_model_load(path, &copy, NULL));
    CHECK_OK(tl_model_load_mapped(path, &m, NULL));
    if (!copy || !m) goto done;
    int V = m->cfg.vocab_size, views = 0, total = 0;
    CHECK(m->qw != NULL, "%s: not kept as stored", path);
    if (!m->qw) goto done;
    for (int i = 0; i < m->cfg.n_layers * TL_QW__COUNT; i++, total++)
        views += m->qw->layers[i].type == want_type && m->qw->layers[i].data != NULL;
    CHECK(views == total, "%s: %d of %d layer matrices are views of type %u", path, views, total, want_type);
    CHECK(m->qw->tok_embd.data && m->qw->output.data && m->qw->tok_embd.type == want_type, "%s: embedding/output",
          path);
    float *a = tl_malloc(sizeof(float) * V), *b = tl_malloc(sizeof(float) * V);
    CHECK_OK(logits(copy, a));
    CHECK_OK(logits(m, b));
    double big = 0, diff = tl_test_max_abs(a, b, (size_t)V);
    for (int i = 0; i < V; i++) big = fabs(a[i]) > big ? fabs(a[i]) : big;
    CHECK(diff <= 1e-5 * big + 1e-6, "%s: mapped logits differ from the copying loader's by %g (max %g)", path, diff,
          big);
    char out[600];
    snprintf(out, sizeof out, "%s.re.bin", path);
    const char *outs[3] = {out, NULL, NULL};
    char out2[600], out3[600];
    snprintf(out2, sizeof out2, "%s.re.gguf", path);
    snprintf(out3, sizeof out3, "%s.re.safetensors", path);
    outs[1] = out2, outs[2] = out3;
    for (int k = 0; k < 3; k++) {
        tl_status st = tl_model_save(m, NULL, outs[k]);
        CHECK(st == TL_E_ARG && strstr(tl_last_error(), "dequantize it first") && !tl_path_exists(outs[k]),
              "%s: saving the mapped model as %s: %d %s", path, outs[k], (int)st, tl_last_error());
    }
    CHECK_OK(tl_model_dequantize(m));
    CHECK(m->cfg.rope_layout == copy->cfg.rope_layout &&
              memcmp(m->params, copy->params, sizeof(float) * m->n_params) == 0,
          "%s: dequantized weights (or RoPE layout) differ from the copying loader's", path);
    CHECK_OK(tl_model_save(m, NULL, out));
    remove(out);
    tl_free(a);
    tl_free(b);
done:
    tl_model_free(copy);
    tl_model_free(m);
}

/* Write a NaN (f32 or f16 by the tensor's type) over value `at` of tensor `name` in a GGUF. */
static void poison(const char *path, const char *name, int64_t at) {
    char *buf = NULL;
    size_t n = 0;
    tl_gguf *g = NULL;
    CHECK_OK(tl_file_read_all(path, &buf, &n));
    CHECK_OK(tl_gguf_open(path, &g));
    const tl_gguf_tensor *t = g ? tl_gguf_find_tensor(g, name) : NULL;
    CHECK(t != NULL, "%s: no tensor %s", path, name);
    if (buf && t) {
        size_t esz = t->type == TL_GGML_F32 ? 4 : 2, off = g->data_offset + t->offset + (size_t)at * esz;
        const float nanf = NAN;
        const uint16_t nanh = 0x7e00;
        memcpy(buf + off, esz == 4 ? (const void *)&nanf : (const void *)&nanh, esz);
        tl_gguf_close(g);
        g = NULL;
        CHECK_OK(tl_file_write_atomic(path, buf, n));
    }
    tl_gguf_close(g);
    tl_free(buf);
}

static void nan_checks(const tl_model *orig, const char *path, tl_dtype dtype) {
    tl_save_opts o = {dtype, 0};
    CHECK_OK(tl_model_save_opts(orig, NULL, path, &o));
    poison(path, "blk.1.ffn_up.weight", 77);
    tl_model *m = NULL;
    tl_status st = tl_model_load(path, &m, NULL);
    CHECK(st == TL_E_NUMERIC && strstr(tl_last_error(), "blk.1.ffn_up.weight") && strstr(tl_last_error(), path),
          "copying load of a NaN matrix: %d %s", (int)st, tl_last_error());
    tl_model_free(m);
    m = NULL;
    CHECK_OK(tl_model_load_mapped(path, &m, NULL)); /* the matrices are checked by the first forward */
    if (m) {
        float *lg = tl_malloc(sizeof(float) * (size_t)m->cfg.vocab_size);
        st = logits(m, lg);
        CHECK(st == TL_E_NUMERIC && strstr(tl_last_error(), "blk.1.ffn_up.weight") &&
                  strstr(tl_last_error(), "non-finite weight") && strstr(tl_last_error(), path),
              "first forward of a mapped NaN matrix: %d %s", (int)st, tl_last_error());
        tl_free(lg);
        tl_model_free(m);
        m = NULL;
    }
    CHECK_OK(tl_model_save_opts(orig, NULL, path, &o));
    poison(path, "token_embd.weight", 5 * orig->cfg.dim + 3); /* a row no forward of `ids` reads */
    st = tl_model_load_mapped(path, &m, NULL);
    CHECK(st == TL_E_NUMERIC && strstr(tl_last_error(), "token_embd.weight") && !m,
          "mapped load of a NaN embedding row: %d %s", (int)st, tl_last_error());
    tl_model_free(m);
    remove(path);
}

int main(void) {
    const char *dir = tl_test_tmpdir();
    tl_config c = tl_bench_shape_find("tiny256")->cfg;
    c.n_layers = 2;
    tl_model *orig = NULL;
    CHECK_OK(tl_model_new(&c, &orig));
    if (!orig) return tl_test_done();
    tl_model_init_random(orig, 99);
    char p[512];
    snprintf(p, sizeof p, "%s/m32.gguf", dir), one(orig, p, TL_DTYPE_F32, TL_Q_F32, 0);
    snprintf(p, sizeof p, "%s/m16.gguf", dir), one(orig, p, TL_DTYPE_F16, TL_Q_F16, 0);
    snprintf(p, sizeof p, "%s/mb16.gguf", dir), one(orig, p, TL_DTYPE_BF16, TL_Q_BF16, 0);
    snprintf(p, sizeof p, "%s/v0.bin", dir), one(orig, p, TL_DTYPE_F32, TL_Q_F32, 0);
    snprintf(p, sizeof p, "%s/v1.bin", dir), one(orig, p, TL_DTYPE_F32, TL_Q_F32, 1);
    snprintf(p, sizeof p, "%s/hf32", dir), one(orig, p, TL_DTYPE_F32, TL_Q_F32, 0);
    snprintf(p, sizeof p, "%s/hf16", dir), one(orig, p, TL_DTYPE_F16, TL_Q_F16, 0);
    snprintf(p, sizeof p, "%s/hfb16", dir), one(orig, p, TL_DTYPE_BF16, TL_Q_BF16, 0);
    snprintf(p, sizeof p, "%s/nan32.gguf", dir), nan_checks(orig, p, TL_DTYPE_F32);
    snprintf(p, sizeof p, "%s/nan16.gguf", dir), nan_checks(orig, p, TL_DTYPE_F16);
    tl_model_free(orig);
    tl_test_rmtree(dir);
    return tl_test_done();
}
