/* test_quant_model.c: quantized GGUF models written by llama.cpp's quantizer
 * (tests/golden/quant/llamacpp: see README.md there for how they were made).
 *   - each loads with its matrices kept quantized (Q8_0, Q4_0, Q4_K_M = Q4_K + Q6_K (+ Q5_0
 *     fallbacks), Q5_K_M = Q5_K + Q6_K), GQA 4/2;
 *   - the last-position logits of a fixed 16-token sequence agree with llama.cpp's on the same
 *     file (max |diff| / logit range below 2e-2: llama.cpp keeps an F16 KV cache and its own
 *     activation quantization);
 *   - and with tiller's f32 forward of the same weights dequantized (tl_model_dequantize):
 *     the only difference there is the int8 activation quantization;
 *   - tiller's writer on the original f32 weights (regenerated: `tiller bench -m tiny256 --save`,
 *     seed 1234) produces tensors byte-identical to llama.cpp's wherever both chose the same
 *     type (Q8_0 everywhere for q8_0; Q4_0 / Q4_K / Q5_K matrices of the *_M mixes). */
#include <math.h>
#include <string.h>

#include "base/base.h"
#include "tiller/bench.h"
#include "format/format.h"
#include "kernels/quant.h"
#include "model/model.h"
#include "model/qweights.h"
#include "testlib.h"

/* max |a - b| / (max b - min b) */
static double rel_diff(const float *a, const float *b, int n) {
    double lo = b[0], hi = b[0], worst = 0;
    for (int i = 0; i < n; i++) {
        lo = fmin(lo, b[i]);
        hi = fmax(hi, b[i]);
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    }
    return worst / (hi - lo);
}

static void one(const char *name, uint32_t main_type) {
    char path[256], lpath[256];
    snprintf(path, sizeof path, "tests/golden/quant/llamacpp/tiny-%s.gguf", name);
    snprintf(lpath, sizeof lpath, "tests/golden/quant/llamacpp/tiny-%s.logits", name);
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(path, &m, NULL));
    if (!m) return;
    CHECK(m->qw != NULL, "%s: not kept quantized", name);
    CHECK(m->cfg.n_kv_heads == 2 && m->cfg.n_heads == 4, "%s: GQA config", name);
    int V = m->cfg.vocab_size;
    CHECK(m->qw && tl_qweights_layer(m->qw, 0)[TL_QW_Q].type == main_type, "%s: attn_q type %u", name,
          m->qw ? tl_qweights_layer(m->qw, 0)[TL_QW_Q].type : 0);
    float *mine = tl_malloc(sizeof(float) * V), *f32 = tl_malloc(sizeof(float) * V);
    char *ref = NULL;
    size_t size = 0;
    CHECK_OK(tl_file_read_all(lpath, &ref, &size));
    CHECK(size == sizeof(float) * (size_t)V, "%s: %zu bytes of logits", lpath, size);
    CHECK(tl_test_last_logits(m, mine) == 0, "%s: forward failed: %s", name, tl_last_error());
    double d_ll = ref && size == sizeof(float) * (size_t)V ? rel_diff(mine, (const float *)ref, V) : 1;
    CHECK(d_ll < 2e-2, "%s: logits differ from llama.cpp's by %.3g of their range", name, d_ll);
    /* tiller's own f32 path on the dequantized weights */
    CHECK_OK(tl_model_dequantize(m));
    CHECK(m->qw == NULL && tl_test_last_logits(m, f32) == 0, "%s: f32 forward", name);
    double d_f32 = rel_diff(mine, f32, V);
    CHECK(d_f32 < 1e-2, "%s: quantized forward differs from f32 on the same weights by %.3g", name, d_f32);
    /* tiller's quantizer on the original weights against llama.cpp's file, tensor by tensor */
    char out[512];
    snprintf(out, sizeof out, "%s/tiller-%s.gguf", tl_test_tmpdir(), name);
    tl_model *orig = NULL;
    CHECK_OK(tl_model_new(&tl_bench_shape_find("tiny256")->cfg, &orig));
    tl_model_init_random(orig, 1234);
    tl_save_opts so = {main_type == TL_Q8_0   ? TL_DTYPE_Q8_0
                       : main_type == TL_Q4_0 ? TL_DTYPE_Q4_0
                       : main_type == TL_Q4_K ? TL_DTYPE_Q4_K
                                              : TL_DTYPE_Q5_K,
                       0};
    CHECK_OK(tl_model_save_opts(orig, NULL, out, &so));
    tl_gguf *gl = NULL, *gt = NULL;
    CHECK_OK(tl_gguf_open(path, &gl));
    CHECK_OK(tl_gguf_open(out, &gt));
    int same = 0, compared = 0;
    for (uint64_t i = 0; gl && gt && i < gl->n_tensors; i++) {
        const tl_gguf_tensor *a = &gl->tensors[i], *b = tl_gguf_find_tensor(gt, a->name);
        if (!b || a->type != b->type || a->n_dims != 2) continue;
        compared++;
        same += a->nbytes == b->nbytes && !memcmp(a->data, b->data, a->nbytes);
    }
    CHECK(compared >= 4 && same == compared, "%s: %d of %d tensors of the same type are byte-identical", name, same,
          compared);
    tl_gguf_close(gl);
    tl_gguf_close(gt);
    tl_model_free(orig);
    printf("%-7s vs llama.cpp %.2e | vs tiller f32 on the dequantized weights %.2e (max |diff| / logit range) | "
           "tiller-written %s: %d of %d same-type matrices byte-identical to llama.cpp's\n",
           name, d_ll, d_f32, tl_dtype_name(so.dtype), same, compared);
    tl_model_free(m);
    tl_free(ref);
    tl_free(mine);
    tl_free(f32);
}

int main(void) {
    one("q8_0", TL_Q8_0);
    one("q4_0", TL_Q4_0);
    one("q4_k_m", TL_Q4_K);
    one("q5_k_m", TL_Q5_K);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
