/* A control vector records the architecture of the model it was built on as
 * controlvector.model_hint (llama.cpp's general.architecture names): "gptneox" for a GPT-NeoX
 * model, "llama" for a llama one (it used to say "llama" for every model). */
#include <string.h>

#include "format/format.h"
#include "testlib.h"
#include "tiller/steer.h"
#include "tiller/tokenizer.h"

static void one(tl_arch arch, const char *want, const tl_tokenizer *tok, const tl_steer_data *d) {
    tl_config c = {.dim = 64, .hidden_dim = 128, .n_layers = 3, .n_heads = 4, .n_kv_heads = 4, .vocab_size = 512,
                   .seq_len = 64, .arch = arch};
    if (arch != TL_ARCH_LLAMA) c.rope_layout = TL_ROPE_HALF, c.rope_dims = 8;
    tl_model *m = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    if (!m) return;
    tl_model_init_random(m, 5);
    tl_steer_build_opts o;
    tl_steer_build_opts_default(&o);
    tl_steer_vec *v = NULL;
    CHECK_OK(tl_steer_build(m, tok, d, &o, &v));
    CHECK(v && !strcmp(tl_steer_vec_model_hint(v), want), "model_hint '%s', want '%s'",
          v ? tl_steer_vec_model_hint(v) : "(none)", want);
    tl_steer_vec_free(v);
    tl_model_free(m);
}

int main(void) {
    tl_tokenizer *tok = NULL;
    tl_steer_data *d = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    CHECK_OK(tl_steer_data_load("tests/golden/steer_llamacpp/pairs.csv", NULL, 0, &d));
    if (tok && d) {
        one(TL_ARCH_GPTNEOX, "gptneox", tok, d);
        one(TL_ARCH_LLAMA, "llama", tok, d);
    }
    tl_steer_data_free(d);
    tl_tokenizer_free(tok);
    return tl_test_done();
}
