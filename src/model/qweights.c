/* qweights.c: the quantized matrices of a model (see qweights.h). */
#include <string.h>

#include "qweights.h"

tl_status tl_qweights_new(int n_layers, tl_qweights **out) {
    *out = NULL;
    tl_qweights *q = tl_calloc(1, sizeof *q);
    if (q) q->layers = tl_calloc((size_t)n_layers * TL_QW__COUNT, sizeof *q->layers);
    if (!q || !q->layers) {
        if (q) tl_free(q);
        return tl_errorf(TL_E_NOMEM, "quantized weights: out of memory");
    }
    *out = q;
    return TL_OK;
}

void tl_qweights_free(tl_qweights *q) {
    if (!q) return;
    if (q->release) q->release(q->owner);
    tl_free(q->layers);
    tl_free(q);
}

static void dequant_into(const tl_qmat *w, float *dst) {
    if (w->type == TL_Q_F32) return; /* already there */
    for (int64_t r = 0; r < w->rows; r++)
        tl_dequantize_row(w->type, w->data + (size_t)r * w->row_bytes, dst + r * w->cols, w->cols);
}

tl_status tl_model_dequantize(tl_model *m) {
    tl_qweights *q = m->qw;
    if (!q) return TL_OK;
    const tl_config *c = &m->cfg;
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    dequant_into(&q->tok_embd, g.tok_embd);
    if (!c->tied_embeddings) dequant_into(&q->output, g.output);
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        float *dst[TL_QW__COUNT] = {p.wq, p.wk, p.wv, p.wo, p.w_gate, p.w_up, p.w_down};
        for (int k = 0; k < TL_QW__COUNT; k++)
            dequant_into(&tl_qweights_layer(q, l)[k], dst[k]);
    }
    tl_qweights_free(q);
    m->qw = NULL;
    return TL_OK;
}

const char *tl_model_weight_type(const tl_model *m) {
    static const struct {
        uint32_t t;
        const char *name;
    } names[] = {{TL_Q8_0, "Q8_0"}, {TL_Q4_0, "Q4_0"}, {TL_Q5_0, "Q5_0"}, {TL_Q5_1, "Q5_1"},
                 {TL_Q4_K, "Q4_K"}, {TL_Q5_K, "Q5_K"}, {TL_Q6_K, "Q6_K"}};
    if (!m->qw) return "f32";
    int best = -1, best_n = 0;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        int n = 0;
        for (int i = 0; i < m->cfg.n_layers * TL_QW__COUNT; i++)
            n += m->qw->layers[i].type == names[k].t;
        if (n > best_n) {
            best_n = n;
            best = (int)k;
        }
    }
    return best >= 0 ? names[best].name : "f32";
}
