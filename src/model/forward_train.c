/* forward_train.c: the training forward (batched [B, T], saving what backward needs),
 * beside the inference forward (forward.c): the same math, one kernel call per line over
 * the same per-layer parameter views (tl_params_layer). Its backward, which mirrors it line
 * by line in reverse, is train/backward.c; the saved activations are in forward_train.h. */
#include <omp.h>
#include <string.h>

#include "forward_train.h"

tl_status tl_train_acts_new(const tl_config *c, int B, int T, tl_train_acts **out) {
    *out = NULL;
    if (B <= 0 || T <= 0 || B > (1 << 16) || T > (1 << 20) || (int64_t)B * T > (1 << 24))
        return tl_errorf(TL_E_ARG, "training batch %d x %d: sizes must be positive and B*T <= 2^24",
                         B, T);
    tl_status st = tl_config_check(c, "training config");
    if (st) return st;
    if (c->arch != TL_ARCH_LLAMA) /* the forward below is llama's; others are inference-only (model/arch.h) */
        return tl_errorf(TL_E_UNSUPPORTED, "training a %s model is not supported (tiller trains llama models; %s "
                         "models can be run, probed and steered)", tl_arch_name(c->arch), tl_arch_name(c->arch));
    tl_train_acts *a = tl_calloc(1, sizeof *a);
    if (!a) return tl_errorf(TL_E_NOMEM, "training activations: out of memory");
    a->cfg = *c;
    a->B = B;
    a->T = T;
    a->BT = B * T;
    a->n_threads = omp_get_max_threads();
    size_t L = (size_t)c->n_layers, BT = (size_t)a->BT, C = (size_t)c->dim,
           F = (size_t)c->hidden_dim, QD = (size_t)c->n_heads * c->head_dim,
           KD = (size_t)c->n_kv_heads * c->head_dim, V = (size_t)c->vocab_size,
           H = (size_t)c->n_heads;
    /* The size table: one row per buffer, in floats (ints and bytes are rounded up
     * to floats); the pointer walk below follows it. */
    struct {
        void **ptr;
        size_t n1, n2, n3; /* floats = n1 * n2 * n3, each factor checked */
    } plan[] = {
        {(void **)&a->resid, L + 1, BT, C}, {(void **)&a->resid_mid, L, BT, C},
        {(void **)&a->xn1, L, BT, C},       {(void **)&a->rstd1, L, BT, 1},
        {(void **)&a->q, L, BT, QD},        {(void **)&a->k, L, BT, KD},
        {(void **)&a->v, L, BT, KD},        {(void **)&a->att, L, BT, QD},
        {(void **)&a->att_lse, L, BT, H},   {(void **)&a->xn2, L, BT, C},
        {(void **)&a->rstd2, L, BT, 1},     {(void **)&a->gate, L, BT, F},
        {(void **)&a->up, L, BT, F},        {(void **)&a->hid, L, BT, F},
        {(void **)&a->xnf, BT, C, 1},       {(void **)&a->rstdf, BT, 1, 1},
        {(void **)&a->logits, BT, V, 1},    {(void **)&a->ce_lse, BT, 1, 1},
        {(void **)&a->dres, BT, C, 1},      {(void **)&a->dxn, BT, C, 1},
        {(void **)&a->dq, BT, QD, 1},       {(void **)&a->dk, BT, KD, 1},
        {(void **)&a->dv, BT, KD, 1},       {(void **)&a->datt, BT, QD, 1},
        {(void **)&a->dgate, BT, F, 1},     {(void **)&a->dup, BT, F, 1},
        {(void **)&a->dhid, BT, F, 1},      {(void **)&a->scratch, (size_t)a->n_threads, tl_attention_train_scratch(T, c->head_dim), 1},
        {(void **)&a->tokens, BT, 1, 1},    {(void **)&a->targets, BT, 1, 1},
        {(void **)&a->pos, BT, 1, 1},       {(void **)&a->key_mask, BT, 1, 1},
        {(void **)&a->pos2, BT, 1, 1},      {(void **)&a->dim_pos2, (size_t)c->head_dim, 1, 1},
        {(void **)&a->prefix, (size_t)B, 1, 1},
    };
    enum { N_PLAN = sizeof plan / sizeof plan[0] };
    size_t sizes[N_PLAN], total = 0;
    int ok = 1;
    for (int i = 0; i < N_PLAN; i++) {
        size_t n;
        ok &= tl_mul_size(plan[i].n1, plan[i].n2, &n) && tl_mul_size(n, plan[i].n3, &n);
        sizes[i] = (n + 15) & ~(size_t)15; /* every buffer 64-byte aligned */
        ok &= tl_add_size(total, sizes[i], &total);
    }
    ok &= tl_mul_size(total, sizeof(float), &a->bytes);
    if (!ok) {
        tl_free(a);
        return tl_errorf(TL_E_RANGE, "training activations for %d x %d tokens: size overflows", B, T);
    }
    a->arena = tl_malloc_aligned(a->bytes);
    if (!a->arena) {
        size_t mib = a->bytes >> 20;
        tl_free(a);
        return tl_errorf(TL_E_NOMEM, "training activations for %d x %d tokens: cannot allocate %zu MiB",
                         B, T, mib);
    }
    float *p = a->arena;
    for (int i = 0; i < N_PLAN; i++) {
        *plan[i].ptr = p;
        p += sizes[i];
    }
    for (int i = 0; i < a->BT; i++) a->pos[i] = i % T;
    tl_rope2d_dims(a->dim_pos2, c->head_dim, c->rope_layout);
    *out = a;
    return TL_OK;
}

void tl_train_acts_free(tl_train_acts *a) {
    if (!a) return;
    tl_free_aligned(a->mirror_arena);
    tl_free_aligned(a->arena);
    tl_free(a);
}

size_t tl_train_acts_bytes(const tl_train_acts *a) { return a->bytes + a->mirror_bytes; }

/* The mirrored pair's buffers, made once (a causal-only run never pays for them). */
static tl_status mirror_buffers(tl_train_acts *a) {
    if (a->mirror_arena) return TL_OK;
    const tl_config *c = &a->cfg;
    size_t L = (size_t)c->n_layers, BT = (size_t)a->BT, QD = (size_t)c->n_heads * c->head_dim,
           KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t nq = (BT * QD + 15) & ~(size_t)15, nk = (BT * KD + 15) & ~(size_t)15;
    size_t n = (L + 1) * (nq + nk); /* sizes are bounded by the main arena's checks */
    a->mirror_arena = tl_malloc_aligned(n * sizeof(float));
    if (!a->mirror_arena)
        return tl_errorf(TL_E_NOMEM, "training activations: cannot allocate %zu MiB for mirrored RoPE",
                         (n * sizeof(float)) >> 20);
    a->mirror_bytes = n * sizeof(float);
    float *p = a->mirror_arena;
    a->qm = p, p += L * nq;
    a->km = p, p += L * nk;
    a->dqm = p, p += nq;
    a->dkm = p;
    return TL_OK;
}

const float *tl_train_acts_logits(const tl_train_acts *a) { return a->logits; }

/* out = a + b (the residual connection; its backward passes the gradient to both). */
void tl_train_add(float *out, const float *a, const float *b, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static int same_shape(const tl_config *a, const tl_config *b) {
    return a->dim == b->dim && a->hidden_dim == b->hidden_dim && a->n_layers == b->n_layers &&
           a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads &&
           a->head_dim == b->head_dim && a->vocab_size == b->vocab_size;
}

/* RoPE by sign, 1-D or 2-D (forward_train.h). */
void tl_train_rope(float *x, const int *pos, const int *pos2, int n, int nh, int D, const tl_config *c, int sign) {
    if (pos2) tl_rope2d_forward(x, pos, pos2, n, nh, D, c->rope_theta, c->rope_layout, sign);
    else tl_rope_forward(x, pos, n, nh, D, c->rope_theta, c->rope_layout, sign);
}

/* Per-layer views of the saved activations (forward_train.h). */
void tl_train_acts_layer(const tl_train_acts *a, int l, tl_train_layer_acts *s) {
    const tl_config *c = &a->cfg;
    int64_t BT = a->BT, C = c->dim, F = c->hidden_dim, QD = (int64_t)c->n_heads * c->head_dim,
            KD = (int64_t)c->n_kv_heads * c->head_dim;
    s->resid = a->resid + l * BT * C;
    s->next = a->resid + (l + 1) * BT * C;
    s->resid_mid = a->resid_mid + l * BT * C;
    s->xn1 = a->xn1 + l * BT * C;
    s->rstd1 = a->rstd1 + l * BT;
    s->q = a->q + l * BT * QD;
    s->k = a->k + l * BT * KD;
    s->v = a->v + l * BT * KD;
    s->att = a->att + l * BT * QD;
    s->att_lse = a->att_lse + l * BT * c->n_heads;
    s->xn2 = a->xn2 + l * BT * C;
    s->rstd2 = a->rstd2 + l * BT;
    s->gate = a->gate + l * BT * F;
    s->up = a->up + l * BT * F;
    s->hid = a->hid + l * BT * F;
}

tl_status tl_model_forward_train(const tl_model *m, tl_train_acts *a, const int32_t *tokens,
                                 const int32_t *targets, const tl_attn_spec *attn, float *loss) {
    const tl_config *c = &m->cfg;
    a->ready = 0;
    /* a model whose matrices stay as stored (quantized, or views into a mapped file) has no
     * trainable f32 copy of them: training it would read reserved zeros */
    if (m->qw)
        return tl_errorf(TL_E_ARG, "forward_train: %s keeps its weight matrices as stored (quantized or mapped); "
                                   "call tl_model_dequantize before training it",
                         m->source ? m->source : "the model");
    if (!same_shape(c, &a->cfg))
        return tl_errorf(TL_E_ARG, "forward_train: activations were planned for another model shape");
    if (attn && attn->mode != TL_ATTN_CAUSAL && attn->mode != TL_ATTN_BIDIR)
        return tl_errorf(TL_E_ARG, "forward_train: unknown attention mode %d", (int)attn->mode);
    int B = a->B, T = a->T, BT = a->BT, C = c->dim, F = c->hidden_dim, H = c->n_heads,
        Hkv = c->n_kv_heads, D = c->head_dim, V = c->vocab_size, QD = H * D, KD = Hkv * D;
    for (int i = 0; i < BT; i++) {
        if (tokens[i] < 0 || tokens[i] >= V)
            return tl_errorf(TL_E_ARG, "forward_train: token id %d at [%d, %d] is outside the vocabulary (%d)",
                             tokens[i], i / T, i % T, V);
        if (targets[i] >= V)
            return tl_errorf(TL_E_ARG, "forward_train: target id %d at [%d, %d] is outside the vocabulary (%d)",
                             targets[i], i / T, i % T, V);
    }
    if (attn && attn->mode == TL_ATTN_BIDIR && attn->prefix)
        for (int b = 0; b < B; b++)
            if (attn->prefix[b] < 0 || attn->prefix[b] > T)
                return tl_errorf(TL_E_ARG, "forward_train: prefix %d of row %d is outside 0..%d",
                                 attn->prefix[b], b, T);
    if (attn && attn->pos)
        for (int i = 0; i < BT; i++)
            if (attn->pos[i] < 0 || attn->pos[i] > (1 << 20))
                return tl_errorf(TL_E_ARG, "forward_train: position %d at [%d, %d] is outside 0..2^20",
                                 attn->pos[i], i / T, i % T);
    if (attn && attn->pos2 && !attn->pos)
        return tl_errorf(TL_E_ARG, "forward_train: 2-D positions (pos2) need pos");
    if (attn && attn->pos2)
        for (int i = 0; i < BT; i++)
            if (attn->pos2[i] < 0 || attn->pos2[i] > (1 << 20))
                return tl_errorf(TL_E_ARG, "forward_train: second position %d at [%d, %d] is outside 0..2^20",
                                 attn->pos2[i], i / T, i % T);
    int bidir = attn && attn->mode == TL_ATTN_BIDIR;
    int mirror = attn && !attn->plain_rope && (bidir || attn->pos);
    if (mirror) {
        tl_status st = mirror_buffers(a);
        if (st) return st;
    }
    memcpy(a->tokens, tokens, (size_t)BT * sizeof *tokens);
    memcpy(a->targets, targets, (size_t)BT * sizeof *targets);
    a->has_mask = attn && attn->key_mask;
    if (a->has_mask) memcpy(a->key_mask, attn->key_mask, (size_t)BT);
    for (int i = 0; i < BT; i++) a->pos[i] = attn && attn->pos ? attn->pos[i] : i % T;
    for (int b = 0; b < B; b++) a->prefix[b] = bidir && attn->prefix ? attn->prefix[b] : T;
    a->bidir = bidir;
    a->mirror = mirror;
    a->custom_pos = attn && attn->pos;
    a->custom_pos2 = attn && attn->pos2;
    if (a->custom_pos2) memcpy(a->pos2, attn->pos2, (size_t)BT * sizeof *a->pos2);
    const int *pos2 = a->custom_pos2 ? a->pos2 : NULL;
    /* pos is passed only when it is not the default, so the plain causal case keeps the
     * SIMD path */
    tl_attn_vis vis = {a->has_mask ? a->key_mask : NULL, bidir ? a->prefix : NULL,
                       attn && attn->pos ? a->pos : NULL, pos2, pos2 ? a->dim_pos2 : NULL};
    const float *qm = NULL, *km = NULL;
    tl_global_params g;
    tl_params_global(c, m->params, &g);

    tl_embedding_forward(a->resid, g.tok_embd, a->tokens, BT, C);
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        tl_train_layer_acts s;
        tl_train_acts_layer(a, l, &s);
        /* attention: resid_mid = resid + wo(attn(tl_train_rope(wq xn1), tl_train_rope(wk xn1), wv xn1)) */
        tl_rmsnorm_forward(s.xn1, s.rstd1, s.resid, p.attn_norm, BT, C, c->norm_eps);
        tl_matmul_forward(s.q, s.xn1, p.wq, NULL, BT, C, QD);
        tl_matmul_forward(s.k, s.xn1, p.wk, NULL, BT, C, KD);
        tl_matmul_forward(s.v, s.xn1, p.wv, NULL, BT, C, KD);
        if (mirror) { /* qm = R_{-pos} (wq xn1), km = R_{-pos} (wk xn1) */
            float *lqm = a->qm + (int64_t)l * BT * QD, *lkm = a->km + (int64_t)l * BT * KD;
            memcpy(lqm, s.q, (size_t)BT * QD * sizeof(float));
            memcpy(lkm, s.k, (size_t)BT * KD * sizeof(float));
            tl_train_rope(lqm, a->pos, pos2, BT, H, D, c, -1);
            tl_train_rope(lkm, a->pos, pos2, BT, Hkv, D, c, -1);
            qm = lqm, km = lkm;
        }
        tl_train_rope(s.q, a->pos, pos2, BT, H, D, c, +1);
        tl_train_rope(s.k, a->pos, pos2, BT, Hkv, D, c, +1);
        tl_attention_train_forward_ex(s.att, s.att_lse, s.q, s.k, qm, km, s.v, &vis, B, T, H, Hkv, D,
                                      a->scratch, a->n_threads);
        tl_matmul_forward(s.resid_mid, s.att, p.wo, NULL, BT, QD, C);
        tl_train_add(s.resid_mid, s.resid_mid, s.resid, (int64_t)BT * C);
        /* MLP: next = resid_mid + w_down(silu(w_gate xn2) * w_up xn2) */
        tl_rmsnorm_forward(s.xn2, s.rstd2, s.resid_mid, p.ffn_norm, BT, C, c->norm_eps);
        tl_matmul_forward(s.gate, s.xn2, p.w_gate, NULL, BT, C, F);
        tl_matmul_forward(s.up, s.xn2, p.w_up, NULL, BT, C, F);
        tl_swiglu_forward(s.hid, s.gate, s.up, (int64_t)BT * F);
        tl_matmul_forward(s.next, s.hid, p.w_down, NULL, BT, F, C);
        tl_train_add(s.next, s.next, s.resid_mid, (int64_t)BT * C);
    }
    float *top = a->resid + (int64_t)c->n_layers * BT * C;
    tl_rmsnorm_forward(a->xnf, a->rstdf, top, g.out_norm, BT, C, c->norm_eps);
    tl_matmul_forward(a->logits, a->xnf, g.output, NULL, BT, C, V);
    *loss = tl_crossentropy_forward(NULL, a->ce_lse, a->logits, a->targets, BT, V);
    a->ready = 1;
    return TL_OK;
}

const float *tl_train_acts_state(const tl_train_acts *a) { return a->xnf; }

void tl_train_acts_shape(const tl_train_acts *a, int *B, int *T) { *B = a->B, *T = a->T; }
