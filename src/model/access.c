/* access.c: the accessors and heap constructors of the public API (tiller/model.h), so that
 * code outside the library never reads struct fields. */
#include "model.h"

const tl_config *tl_model_config(const tl_model *m) { return &m->cfg; }
const char *tl_model_source(const tl_model *m) { return m->source; }
size_t tl_model_n_params(const tl_model *m) { return m->n_params; }

tl_hooks *tl_session_hooks(tl_session *s) { return &s->hooks; }
void tl_hooks_clear(tl_hooks *hs) { hs->n = 0; }
int tl_session_n_ctx(const tl_session *s) { return s->n_ctx; }
int tl_session_pos(const tl_session *s) { return s->pos; }
const tl_model *tl_session_model(const tl_session *s) { return s->model; }

tl_status tl_sampler_new(const tl_sampler_params *p, int vocab, tl_sampler **out) {
    *out = NULL;
    tl_sampler *s = tl_calloc(1, sizeof *s);
    if (!s) return tl_errorf(TL_E_NOMEM, "sampler: out of memory");
    tl_status st = tl_sampler_init(s, p, vocab);
    if (st) {
        tl_free(s);
        return st;
    }
    *out = s;
    return TL_OK;
}

void tl_sampler_delete(tl_sampler *s) {
    if (!s) return;
    tl_sampler_free(s);
    tl_free(s);
}
