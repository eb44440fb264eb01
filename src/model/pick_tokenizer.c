/* pick_tokenizer.c: "the tokenizer given (--tokenizer), else the model's own", with the
 * checks every caller needs, written once. */
#include "model.h"

tl_status tl_model_pick_tokenizer(const tl_model *m, const tl_tokenizer *given, const tl_tokenizer **out) {
    *out = NULL;
    if (!m) return tl_errorf(TL_E_ARG, "pick tokenizer: no model");
    const char *name = m->source ? m->source : "the model";
    const tl_tokenizer *t = given ? given : m->tok;
    if (!t) return tl_errorf(TL_E_ARG, "%s carries no tokenizer: pass one (--tokenizer FILE)", name);
    int nv = tl_tokenizer_n_vocab(t);
    if (nv > m->cfg.vocab_size)
        return tl_errorf(TL_E_FORMAT, "%s: the tokenizer has %d tokens but the model's vocabulary is %d", name, nv,
                         m->cfg.vocab_size);
    *out = t;
    return TL_OK;
}
