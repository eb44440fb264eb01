/* f32 GGUF models loaded for inference (tl_model_load_mapped) are used in place (zero copy):
 * every matrix is a view into the mapped file,
 * the f32 buffer holds only the norms, and
 *   - the logits of a 16-token forward are bit-identical to those of the same weights in the
 *     f32 buffer (the model before saving, and the loaded model after tl_model_dequantize);
 *   - tl_model_dequantize copies the matrices out (values equal to the file's), so training
 *     and the other writers of the f32 buffer see the real weights. */
#include <string.h>

#include "base/base.h"
#include "tiller/bench.h"
#include "format/format.h"
#include "model/model.h"
#include "model/qweights.h"
#include "testlib.h"

int main(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/inplace.gguf", tl_test_tmpdir());
    tl_model *orig = NULL, *m = NULL;
    CHECK_OK(tl_model_new(&tl_bench_shape_find("tiny256")->cfg, &orig));
    if (!orig) return tl_test_done();
    tl_model_init_random(orig, 1234);
    CHECK_OK(tl_model_save(orig, NULL, path));
    CHECK_OK(tl_model_load_mapped(path, &m, NULL));
    if (!m) return tl_test_done();
    int V = m->cfg.vocab_size, views = 0, total = 0;
    CHECK(m->qw != NULL, "f32 GGUF not kept in place");
    for (int i = 0; m->qw && i < m->cfg.n_layers * TL_QW__COUNT; i++, total++)
        views += m->qw->layers[i].type == TL_Q_F32 && m->qw->layers[i].data != NULL;
    CHECK(views == total && total > 0, "%d of %d layer matrices are views", views, total);
    CHECK(m->qw && m->qw->tok_embd.data && m->qw->output.data, "embedding / output not views");
    float *a = tl_malloc(sizeof(float) * V), *b = tl_malloc(sizeof(float) * V), *c = tl_malloc(sizeof(float) * V);
    CHECK(tl_test_last_logits(orig, a) == 0 && tl_test_last_logits(m, b) == 0, "forward: %s", tl_last_error());
    CHECK(memcmp(a, b, sizeof(float) * V) == 0, "in-place logits differ from the f32 buffer's");
    CHECK_OK(tl_model_dequantize(m));
    CHECK(m->qw == NULL && tl_test_last_logits(m, c) == 0, "forward after dequantize");
    CHECK(memcmp(a, c, sizeof(float) * V) == 0, "logits after dequantize differ");
    CHECK(m->n_params == orig->n_params && memcmp(m->params, orig->params, sizeof(float) * m->n_params) == 0,
          "dequantized parameters differ from the saved model's");
    tl_free(a);
    tl_free(b);
    tl_free(c);
    tl_model_free(m);
    tl_model_free(orig);
    remove(path);
    return tl_test_done();
}
