/* pick_tokenizer.c: "the tokenizer given (--tokenizer), else the one the model's file carries",
 * with the checks every caller needs, written once. */
#include "base/base.h"
#include "tiller/generate.h"

tl_status tl_model_pick_tokenizer(const tl_model *m, const tl_tokenizer *given, const tl_tokenizer *own,
                                  const tl_tokenizer **out) {
    *out = NULL;
    if (!m) return tl_errorf(TL_E_ARG, "pick tokenizer: no model");
    const char *name = tl_model_source(m) ? tl_model_source(m) : "the model";
    const tl_tokenizer *t = given ? given : own;
    if (!t) return tl_errorf(TL_E_ARG, "%s carries no tokenizer: pass one (--tokenizer FILE)", name);
    int nv = tl_tokenizer_n_vocab(t), V = tl_model_config(m)->vocab_size;
    if (nv > V)
        return tl_errorf(TL_E_FORMAT, "%s: the tokenizer has %d tokens but the model's vocabulary is %d", name, nv, V);
    *out = t;
    return TL_OK;
}
