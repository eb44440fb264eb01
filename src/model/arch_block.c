/* arch_block.c: the GPT-NeoX block (parallel residual), beside forward.c's sequential block.
 * Hook points are the same as llama's: attn_out and mlp_out are the two branch outputs
 * (after their output biases), resid_pre/resid_post the stream around the block. */
#include "arch.h"
#include "kernels/kernels.h"

void tl_forward_parallel_block(tl_session *s, const tl_layer_params *p, int layer, int T) {
    const tl_config *c = &s->model->cfg;
    int C = c->dim, F = c->hidden_dim, H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim;
    int QD = H * D, KD = Hkv * D, pos0 = s->pos, R = tl_config_rope_dims(c);
    float *kc = s->key_cache + (int64_t)layer * s->n_ctx * KD;
    float *vc = s->value_cache + (int64_t)layer * s->n_ctx * KD;
    float *k_new = kc + (int64_t)pos0 * KD, *v_new = vc + (int64_t)pos0 * KD;

    /* attention branch: xb2 = wo attn(rope(wq n1 + bq), rope(wk n1 + bk), wv n1 + bv) + bo, n1 = ln1(x) */
    tl_arch_norm(c, s->xb, s->x, p->attn_norm, p->attn_norm_b, T, C);
    {
        float *const outs[3] = {s->q, k_new, v_new};
        const float *const ws[3] = {p->wq, p->wk, p->wv};
        const int Os[3] = {QD, KD, KD};
        tl_matmul_forward_multi(3, outs, ws, Os, s->xb, T, C);
    }
    tl_arch_qkv_finish(c, p, s->q, k_new, v_new, T);
    tl_rope_apply_dims(s->q, s->rope_cs, T, H, D, R, c->rope_layout);
    tl_rope_apply_dims(k_new, s->rope_cs, T, Hkv, D, R, c->rope_layout);
    tl_attention_forward(s->att, s->q, kc, vc, T, pos0, H, Hkv, D, KD, s->scores, s->n_ctx);
    tl_matmul_forward(s->xb2, s->att, p->wo, p->bo, T, QD, C);
    tl_session_run_hooks(s, TL_HOOK_ATTN_OUT, layer, s->xb2, T, C);

    /* MLP branch on the same input stream: xb = w_down gelu(w_up n2 + b_up) + b_down, n2 = ln2(x) */
    tl_arch_norm(c, s->xb, s->x, p->ffn_norm, p->ffn_norm_b, T, C);
    tl_matmul_forward(s->hb, s->xb, p->w_up, p->b_up, T, C, F);
    tl_gelu_exact(s->hb, (int64_t)T * F);
    tl_matmul_forward(s->xb, s->hb, p->w_down, p->b_down, T, F, C);
    tl_session_run_hooks(s, TL_HOOK_MLP_OUT, layer, s->xb, T, C);

    for (int64_t i = 0; i < (int64_t)T * C; i++) s->x[i] += s->xb2[i] + s->xb[i];
}
