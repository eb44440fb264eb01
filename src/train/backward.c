/* backward.c: the backward pass of the training forward (model/forward_train.c), which it
 * mirrors line by line in reverse, reading the saved activations through forward_train.h.
 * Same math as src/model/forward.c: one kernel call per line, per-layer views from
 * tl_params_layer. */
#include <omp.h>
#include <string.h>

#include "model/forward_train.h"
#include "tiller/train.h" /* tl_model_backward */

/* Gradient buffers are zeroed before each backward kernel accumulates into them. */
static void zero(float *x, int64_t n) {
    enum { CHUNK = 1 << 16 };
    int64_t nc = (n + CHUNK - 1) / CHUNK;
#pragma omp parallel for schedule(static) if (nc > 4)
    for (int64_t c = 0; c < nc; c++) {
        int64_t i0 = c * CHUNK, len = n - i0 < CHUNK ? n - i0 : CHUNK;
        memset(x + i0, 0, (size_t)len * sizeof(float));
    }
}

static void backward_from_state(const tl_model *m, tl_train_acts *a, float *grads);

void tl_model_backward(const tl_model *m, tl_train_acts *a, float *grads, float scale) {
    if (!a->ready) return;
    a->ready = 0;
    const tl_config *c = &m->cfg;
    int BT = a->BT, C = c->dim, V = c->vocab_size;
    tl_global_params g, dg;
    tl_params_global(c, m->params, &g);
    tl_params_global(c, grads, &dg); /* tied: dg.output == dg.tok_embd, both gradients land there */

    /* loss = mean CE(logits); logits = xnf @ output^T; xnf = rmsnorm(resid[L]) */
    float *dlogits = a->logits; /* in place */
    tl_crossentropy_backward(dlogits, a->logits, a->ce_lse, a->targets, scale, BT, V);
    zero(a->dxn, (int64_t)BT * C);
    tl_matmul_backward(a->dxn, dg.output, NULL, dlogits, a->xnf, g.output, BT, C, V);
    backward_from_state(m, a, grads);
}

void tl_model_backward_state(const tl_model *m, tl_train_acts *a, const float *dstate, float *grads, float scale) {
    if (!a->ready) return;
    a->ready = 0;
    int64_t n = (int64_t)a->BT * m->cfg.dim;
    for (int64_t i = 0; i < n; i++) a->dxn[i] = scale * dstate[i];
    backward_from_state(m, a, grads);
}

/* From a->dxn = d loss / d xnf [BT, C] (the final normed state) down to the embeddings:
 * the part of the backward every head shares (the LM head above, a scalar head through
 * tl_model_backward_state). */
static void backward_from_state(const tl_model *m, tl_train_acts *a, float *grads) {
    const tl_config *c = &m->cfg;
    int B = a->B, T = a->T, BT = a->BT, C = c->dim, F = c->hidden_dim, H = c->n_heads,
        Hkv = c->n_kv_heads, D = c->head_dim, QD = H * D, KD = Hkv * D;
    const int *pos2 = a->custom_pos2 ? a->pos2 : NULL;
    tl_attn_vis vis = {a->has_mask ? a->key_mask : NULL, a->bidir ? a->prefix : NULL,
                       a->custom_pos ? a->pos : NULL, pos2, pos2 ? a->dim_pos2 : NULL};
    tl_global_params g, dg;
    tl_params_global(c, m->params, &g);
    tl_params_global(c, grads, &dg);
    float *top = a->resid + (int64_t)c->n_layers * BT * C;
    zero(a->dres, (int64_t)BT * C);
    tl_rmsnorm_backward(a->dres, dg.out_norm, a->dxn, top, g.out_norm, a->rstdf, BT, C);

    for (int l = c->n_layers - 1; l >= 0; l--) {
        tl_layer_params p, dp;
        tl_params_layer(c, m->params, l, &p);
        tl_params_layer(c, grads, l, &dp);
        tl_train_layer_acts s;
        tl_train_acts_layer(a, l, &s);
        /* MLP; dres is d next, and becomes d resid_mid (the residual passes it through) */
        zero(a->dhid, (int64_t)BT * F);
        tl_matmul_backward(a->dhid, dp.w_down, NULL, a->dres, s.hid, p.w_down, BT, F, C);
        zero(a->dgate, (int64_t)BT * F);
        zero(a->dup, (int64_t)BT * F);
        tl_swiglu_backward(a->dgate, a->dup, a->dhid, s.gate, s.up, (int64_t)BT * F);
        zero(a->dxn, (int64_t)BT * C);
        tl_matmul_backward(a->dxn, dp.w_gate, NULL, a->dgate, s.xn2, p.w_gate, BT, C, F);
        tl_matmul_backward(a->dxn, dp.w_up, NULL, a->dup, s.xn2, p.w_up, BT, C, F);
        tl_rmsnorm_backward(a->dres, dp.ffn_norm, a->dxn, s.resid_mid, p.ffn_norm, s.rstd2, BT, C);
        /* attention; dres becomes d resid */
        zero(a->datt, (int64_t)BT * QD);
        tl_matmul_backward(a->datt, dp.wo, NULL, a->dres, s.att, p.wo, BT, QD, C);
        zero(a->dq, (int64_t)BT * QD);
        zero(a->dk, (int64_t)BT * KD);
        zero(a->dv, (int64_t)BT * KD);
        const float *qm = NULL, *km = NULL;
        float *dqm = NULL, *dkm = NULL;
        if (a->mirror) {
            qm = a->qm + (int64_t)l * BT * QD, km = a->km + (int64_t)l * BT * KD;
            dqm = a->dqm, dkm = a->dkm;
            zero(dqm, (int64_t)BT * QD);
            zero(dkm, (int64_t)BT * KD);
        }
        tl_attention_train_backward_ex(a->dq, a->dk, dqm, dkm, a->dv, a->datt, s.att, s.q, s.k, qm,
                                       km, s.v, s.att_lse, &vis, B, T, H, Hkv, D, a->scratch,
                                       a->n_threads);
        tl_train_rope(a->dq, a->pos, pos2, BT, H, D, c, -1); /* backward of a rotation: the opposite one */
        tl_train_rope(a->dk, a->pos, pos2, BT, Hkv, D, c, -1);
        if (a->mirror) { /* the mirrored pair's gradients join the plain ones */
            tl_train_rope(dqm, a->pos, pos2, BT, H, D, c, +1);
            tl_train_rope(dkm, a->pos, pos2, BT, Hkv, D, c, +1);
            tl_train_add(a->dq, a->dq, dqm, (int64_t)BT * QD);
            tl_train_add(a->dk, a->dk, dkm, (int64_t)BT * KD);
        }
        zero(a->dxn, (int64_t)BT * C);
        tl_matmul_backward(a->dxn, dp.wq, NULL, a->dq, s.xn1, p.wq, BT, C, QD);
        tl_matmul_backward(a->dxn, dp.wk, NULL, a->dk, s.xn1, p.wk, BT, C, KD);
        tl_matmul_backward(a->dxn, dp.wv, NULL, a->dv, s.xn1, p.wv, BT, C, KD);
        tl_rmsnorm_backward(a->dres, dp.attn_norm, a->dxn, s.resid, p.attn_norm, s.rstd1, BT, C);
    }
    tl_embedding_backward(dg.tok_embd, a->dres, a->tokens, BT, C);
}
