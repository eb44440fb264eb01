/* qweights.c: the quantized matrices of a model (see qweights.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/finite.h"
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

/* Stored row r goes to row r, or (head_dim D > 0: a llama q/k matrix kept in Hugging Face's
 * half-split order) to its interleaved row, as format.h's tl_rope_hf_row_to_interleaved. */
static int64_t dest_row(int64_t r, int D) {
    if (D <= 0) return r;
    int64_t head = r / D, w = r % D, half = D / 2;
    return head * D + 2 * (w % half) + w / half;
}

static void dequant_into(const tl_qmat *w, float *dst, int D) {
    if (w->type == TL_Q_F32 && !w->data) return; /* already there */
    for (int64_t r = 0; r < w->rows; r++)
        tl_dequantize_row(w->type, w->data + (size_t)r * w->row_bytes, dst + dest_row(r, D) * w->cols, w->cols);
}

static const char *slot_names[TL_QW__COUNT] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                              "ffn_gate", "ffn_up", "ffn_down"};

tl_qmat *tl_qweights_slot(tl_qweights *q, int n_layers, const char *name) {
    int layer, n = 0;
    char slot[32];
    if (!strcmp(name, "token_embd.weight")) return &q->tok_embd;
    if (!strcmp(name, "output.weight")) return &q->output;
    if (sscanf(name, "blk.%d.%31[a-z_].weight%n", &layer, slot, &n) != 2 || name[n] || layer < 0 || layer >= n_layers)
        return NULL;
    for (int k = 0; k < TL_QW__COUNT; k++)
        if (!strcmp(slot, slot_names[k])) return &q->layers[(size_t)layer * TL_QW__COUNT + k];
    return NULL;
}

tl_status tl_model_dequantize(tl_model *m) {
    tl_qweights *q = m->qw;
    if (!q) return TL_OK;
    const tl_config *c = &m->cfg;
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    dequant_into(&q->tok_embd, g.tok_embd, 0);
    if (!c->tied_embeddings) dequant_into(&q->output, g.output, 0);
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        float *dst[TL_QW__COUNT] = {p.wq, p.wk, p.wv, p.wo, p.w_gate, p.w_up, p.w_down};
        for (int k = 0; k < TL_QW__COUNT; k++) {
            const tl_qmat *w = &tl_qweights_layer(q, l)[k];
            /* HF order kept in the mapping: back to interleaved rows (copies already are in HF order too) */
            int D = q->qk_half_split && (k == TL_QW_Q || k == TL_QW_K) ? c->head_dim : 0;
            if (D && !w->data) { /* a misaligned q/k copied into the buffer in HF order: permute through a temp */
                size_t bytes = (size_t)(w->rows * w->cols) * sizeof(float);
                float *tmp = tl_malloc(bytes);
                if (!tmp) return tl_errorf(TL_E_NOMEM, "dequantize: out of memory");
                memcpy(tmp, dst[k], bytes);
                tl_qmat t = {TL_Q_F32, (const uint8_t *)tmp, w->rows, w->cols, (size_t)w->cols * sizeof(float)};
                dequant_into(&t, dst[k], D);
                tl_free(tmp);
            } else
                dequant_into(w, dst[k], D);
        }
    }
    if (q->qk_half_split) m->cfg.rope_layout = TL_ROPE_INTERLEAVED;
    tl_qweights_free(q);
    m->qw = NULL;
    return TL_OK;
}


/* One matrix: f32 values (in the view, else at f32) all finite, or every block's scales finite. */
static tl_status check_matrix(const tl_qmat *w, const float *f32, const char *path, const char *name) {
    if (w->type == TL_Q_F32 || w->type == TL_Q_F16 || w->type == TL_Q_BF16) {
        const void *v = w->data ? (const void *)w->data : (const void *)f32;
        uint32_t t = w->data ? w->type : TL_Q_F32; /* no data: converted into the f32 buffer */
        int64_t i = tl_first_nonfinite(t, v, w->rows * w->cols);
        if (i < 0) return TL_OK;
        float bad;
        tl_dequantize_row(t, (const uint8_t *)v + (size_t)i * (t == TL_Q_F32 ? 4 : 2), &bad, 1);
        return tl_errorf(TL_E_NUMERIC, "%s: tensor '%s' has a non-finite weight (%g at index %lld)", path, name,
                         (double)bad, (long long)i);
    }
    int64_t nb = w->rows * (w->cols / tl_q_block_size(w->type)), bad = tl_q_first_bad_scale(w->type, w->data, nb);
    if (bad >= 0)
        return tl_errorf(TL_E_NUMERIC, "%s: tensor '%s' has a non-finite scale in block %lld", path, name,
                         (long long)bad);
    return TL_OK;
}

tl_status tl_qweights_check_finite(const tl_model *m, const char *path, int embd_only) {
    const tl_qweights *q = m->qw;
    const tl_config *c = &m->cfg;
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    tl_status s = check_matrix(&q->tok_embd, g.tok_embd, path, "token_embd.weight");
    if (embd_only) return s;
    if (!s && !c->tied_embeddings) s = check_matrix(&q->output, g.output, path, "output.weight");
    for (int l = 0; l < c->n_layers && !s; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        const float *f32[TL_QW__COUNT] = {p.wq, p.wk, p.wv, p.wo, p.w_gate, p.w_up, p.w_down};
        for (int k = 0; k < TL_QW__COUNT && !s; k++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", l, slot_names[k]);
            s = check_matrix(&tl_qweights_layer(q, l)[k], f32[k], path, name);
        }
    }
    return s;
}

const char *tl_model_weight_type(const tl_model *m) {
    static const struct {
        uint32_t t;
        const char *name;
    } names[] = {{TL_Q8_0, "Q8_0"}, {TL_Q4_0, "Q4_0"}, {TL_Q5_0, "Q5_0"}, {TL_Q5_1, "Q5_1"},
                 {TL_Q4_K, "Q4_K"}, {TL_Q5_K, "Q5_K"}, {TL_Q6_K, "Q6_K"}, {TL_Q_F16, "F16"}, {TL_Q_BF16, "BF16"}};
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
