/* forward.c: the inference session (activations + KV cache, allocated once) and
 * the forward pass, which reads top to bottom like the math and calls the hook
 * points by name. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "decode.h"
#include "finite_check.h"
#include "kernels/hmatmul.h"
#include "kernels/kernels.h"
#include "model.h"
#include "qweights.h"

static const char *hook_names[TL_HOOK__COUNT] = {"embed",      "resid_pre",  "attn_out", "mlp_out",
                                                 "resid_post", "final_norm", "logits"};

const char *tl_hook_name(tl_hook_point p) {
    return (p >= 0 && p < TL_HOOK__COUNT) ? hook_names[p] : "?";
}

static int hook_has_layer(tl_hook_point p) {
    return p == TL_HOOK_RESID_PRE || p == TL_HOOK_ATTN_OUT || p == TL_HOOK_MLP_OUT ||
           p == TL_HOOK_RESID_POST;
}

tl_status tl_hook_parse(const char *name, tl_hook_point *point, int *layer) {
    *layer = -1;
    for (int p = 0; p < TL_HOOK__COUNT; p++) {
        size_t n = strlen(hook_names[p]);
        if (strncmp(name, hook_names[p], n) != 0) continue;
        if (name[n] == 0) {
            *point = (tl_hook_point)p;
            return TL_OK;
        }
        if (name[n] == '.' && hook_has_layer((tl_hook_point)p)) {
            char *end;
            long l = strtol(name + n + 1, &end, 10);
            if (*end || end == name + n + 1 || l < 0 || l > 100000)
                return tl_errorf(TL_E_ARG, "hook point '%s': bad layer number", name);
            *point = (tl_hook_point)p;
            *layer = (int)l;
            return TL_OK;
        }
    }
    return tl_errorf(TL_E_ARG,
                     "unknown hook point '%s' (expected embed, resid_pre.L, attn_out.L, mlp_out.L, "
                     "resid_post.L, final_norm, logits)",
                     name);
}

tl_status tl_hooks_add(tl_hooks *hs, tl_hook_point point, int layer, tl_hook_fn fn, void *user) {
    if (hs->n >= TL_MAX_HOOKS) return tl_errorf(TL_E_RANGE, "too many hooks (max %d)", TL_MAX_HOOKS);
    hs->h[hs->n].point = point;
    hs->h[hs->n].layer = layer;
    hs->h[hs->n].fn = fn;
    hs->h[hs->n].user = user;
    hs->n++;
    return TL_OK;
}

/* Call every hook registered for (point, layer). */
static void run_hooks(const tl_hooks *hs, tl_hook_point point, int layer, float *x, int T, int width,
                      int pos0) {
    for (int i = 0; i < hs->n; i++)
        if (hs->h[i].point == point && (hs->h[i].layer < 0 || hs->h[i].layer == layer))
            hs->h[i].fn(hs->h[i].user, point, layer, x, T, width, pos0);
}

tl_status tl_session_new(const tl_model *m, int n_ctx, int max_batch, tl_session **out) {
    *out = NULL;
    const tl_config *c = &m->cfg;
    if (n_ctx <= 0) n_ctx = c->seq_len;
    if (n_ctx > (1 << 20)) return tl_errorf(TL_E_RANGE, "context length %d is too large", n_ctx);
    if (max_batch <= 0) max_batch = 512;
    if (max_batch > n_ctx) max_batch = n_ctx;
    tl_session *s = tl_calloc(1, sizeof *s);
    if (!s) return tl_errorf(TL_E_NOMEM, "session: out of memory");
    s->model = m;
    s->n_ctx = n_ctx;
    s->max_batch = max_batch;
    s->n_threads = omp_get_max_threads();
    size_t B = (size_t)max_batch, C = (size_t)c->dim, F = (size_t)c->hidden_dim,
           QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t sizes[] = {B * C, B * C, B * C, B * QD, B * QD, B * F, B * F,
                      (size_t)s->n_threads * n_ctx, B * (size_t)c->vocab_size,
                      (size_t)c->n_layers * n_ctx * KD, (size_t)c->n_layers * n_ctx * KD,
                      B * (size_t)c->head_dim};
    float **ptrs[] = {&s->x,      &s->xb,     &s->xb2,       &s->q,         &s->att,        &s->hb,
                      &s->hb2,    &s->scores, &s->logits,    &s->key_cache, &s->value_cache,
                      &s->rope_cs};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        total += (sizes[i] + 15) & ~(size_t)15; /* keep every buffer 64-byte aligned */
    s->arena = tl_malloc_aligned(total * sizeof(float));
    s->positions = tl_malloc(B * sizeof(int));
    if (m->qw) {
        size_t widest = C > F ? C : F;
        if (QD > widest) widest = QD;
        s->qscratch = tl_malloc_aligned(tl_qmatmul_scratch(max_batch, (int64_t)widest));
    }
    s->dec_slot = tl_decode_scratch_bytes(m);
    s->dec_scratch = tl_malloc_aligned((size_t)s->n_threads * s->dec_slot);
    if (!s->arena || !s->positions || (m->qw && !s->qscratch) || !s->dec_scratch) {
        tl_session_free(s);
        return tl_errorf(TL_E_NOMEM, "session: cannot allocate %zu MiB of activations",
                         total * sizeof(float) >> 20);
    }
    float *p = s->arena;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *ptrs[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    *out = s;
    return TL_OK;
}

void tl_session_free(tl_session *s) {
    if (!s) return;
    tl_free_aligned(s->arena);
    tl_free_aligned(s->qscratch);
    tl_free_aligned(s->dec_scratch);
    tl_free(s->positions);
    tl_free(s);
}

void tl_session_reset(tl_session *s) { s->pos = 0; }

static void residual_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* out[T, O] = x[T, I] @ W^T with W the f32 matrix w, or the quantized q when there is one. */
static void linear(tl_session *s, float *out, const float *x, const float *w, const tl_qmat *q, int T, int I, int O) {
    if (q && tl_h_type(q->type)) tl_hmatmul(out, x, T, q); /* f16/bf16 kept as stored */
    else if (q && q->type != TL_Q_F32) tl_qmatmul(out, x, T, q, s->qscratch);
    else tl_matmul_forward(out, x, q && q->data ? (const float *)q->data : w, NULL, T, I, O);
}

/* n matrices sharing x (q/k/v, gate/up): one pass when all are f32 or all quantized */
static void linear_multi(tl_session *s, int n, float *const *outs, const float *const *ws, const tl_qmat *const *qs,
                         const int *Os, const float *x, int T, int I) {
    int nq = 0, nh = 0;
    for (int i = 0; i < n; i++) {
        nh += qs[i] && tl_h_type(qs[i]->type);
        nq += qs[i] && qs[i]->type != TL_Q_F32 && !tl_h_type(qs[i]->type);
    }
    if (nh == n) tl_hmatmul_multi(n, outs, qs, x, T);
    else if (nq == 0 && nh == 0) {
        const float *w[4]; /* f32 matrices in the mapping where the file is used in place */
        for (int i = 0; i < n && i < 4; i++) w[i] = qs[i] && qs[i]->data ? (const float *)qs[i]->data : ws[i];
        tl_matmul_forward_multi(n, outs, w, Os, x, T, I);
    }
    else if (nq == n) tl_qmatmul_multi(n, outs, qs, x, T, s->qscratch);
    else
        for (int i = 0; i < n; i++) linear(s, outs[i], x, ws[i], qs[i], T, I, Os[i]);
}

/* One chunk of T <= max_batch tokens at positions s->pos ...; computes logits for the
 * last row only (all_logits = 0) or for every row (all_logits = 1). */
static void forward_chunk(tl_session *s, const int32_t *tokens, int T, int all_logits) {
    const tl_model *m = s->model;
    const tl_config *c = &m->cfg;
    const tl_hooks *hs = &s->hooks;
    int C = c->dim, F = c->hidden_dim, H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim;
    int QD = H * D, KD = Hkv * D, pos0 = s->pos, R = tl_config_rope_dims(c);
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    for (int t = 0; t < T; t++) s->positions[t] = pos0 + t;
    /* cos/sin of every (position, pair), shared by all layers' q and k */
    if (m->rope_freqs || (m->rope_freq_scale != 0.0f && m->rope_freq_scale != 1.0f))
        tl_rope_table_scaled(s->rope_cs, s->positions, T, R, c->rope_theta,
                             m->rope_freq_scale != 0.0f ? m->rope_freq_scale : 1.0f, m->rope_freqs, +1);
    else
        tl_rope_table(s->rope_cs, s->positions, T, R, c->rope_theta, +1);

    const tl_qweights *qw = m->qw;
    for (int t = 0; t < T; t++) {
        if (qw && qw->tok_embd.type != TL_Q_F32)
            tl_dequantize_row(qw->tok_embd.type, qw->tok_embd.data + (size_t)tokens[t] * qw->tok_embd.row_bytes,
                              s->x + (int64_t)t * C, C);
        else
            memcpy(s->x + (int64_t)t * C,
                   (qw && qw->tok_embd.data ? (const float *)qw->tok_embd.data : g.tok_embd) + (int64_t)tokens[t] * C,
                   (size_t)C * sizeof(float));
    }
    run_hooks(hs, TL_HOOK_EMBED, -1, s->x, T, C, pos0);
    if (T == 1 && tl_decode_supported(s)) { /* decode: one parallel region for the token */
        tl_decode_token(s);
        s->pos += T;
        return;
    }

    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        const tl_qmat *lq = qw ? tl_qweights_layer(qw, l) : NULL; /* [TL_QW__COUNT] or NULL */
#define QW(slot) (lq ? &lq[slot] : NULL)
        float *kc = s->key_cache + (int64_t)l * s->n_ctx * KD;
        float *vc = s->value_cache + (int64_t)l * s->n_ctx * KD;
        float *k_new = kc + (int64_t)pos0 * KD, *v_new = vc + (int64_t)pos0 * KD;
        run_hooks(hs, TL_HOOK_RESID_PRE, l, s->x, T, C, pos0);
        if (tl_arch_traits_of(c->arch)->parallel) { /* GPT-NeoX: model/arch_block.c */
            tl_forward_parallel_block(s, &p, l, T);
            run_hooks(hs, TL_HOOK_RESID_POST, l, s->x, T, C, pos0);
            continue;
        }

        /* attention: x += wo(attn(rope(wq xn), rope(wk xn), wv xn)) with xn = rmsnorm(x) */
        tl_arch_norm(c, s->xb, s->x, p.attn_norm, p.attn_norm_b, T, C);
        {
            float *const outs[3] = {s->q, k_new, v_new};
            const float *const ws[3] = {p.wq, p.wk, p.wv};
            const tl_qmat *const qs[3] = {QW(TL_QW_Q), QW(TL_QW_K), QW(TL_QW_V)};
            const int Os[3] = {QD, KD, KD};
            linear_multi(s, 3, outs, ws, qs, Os, s->xb, T, C); /* q, k, v */
        }
        tl_arch_qkv_finish(c, &p, s->q, k_new, v_new, T); /* biases, clipping (qwen2, olmo) */
        tl_rope_apply_dims(s->q, s->rope_cs, T, H, D, R, c->rope_layout);
        tl_rope_apply_dims(k_new, s->rope_cs, T, Hkv, D, R, c->rope_layout);
        tl_attention_forward(s->att, s->q, kc, vc, T, pos0, H, Hkv, D, KD, s->scores, s->n_ctx);
        linear(s, s->xb2, s->att, p.wo, QW(TL_QW_O), T, QD, C);
        run_hooks(hs, TL_HOOK_ATTN_OUT, l, s->xb2, T, C, pos0);
        residual_add(s->x, s->xb2, (int64_t)T * C);

        /* MLP: x += w_down(silu(w_gate xn) * w_up xn) with xn = rmsnorm(x) */
        tl_arch_norm(c, s->xb, s->x, p.ffn_norm, p.ffn_norm_b, T, C);
        {
            float *const outs[2] = {s->hb, s->hb2};
            const float *const ws[2] = {p.w_gate, p.w_up};
            const tl_qmat *const qs[2] = {QW(TL_QW_GATE), QW(TL_QW_UP)};
            const int Os[2] = {F, F};
            linear_multi(s, 2, outs, ws, qs, Os, s->xb, T, C); /* gate, up */
        }
        tl_swiglu_forward(s->hb, s->hb, s->hb2, (int64_t)T * F);
        linear(s, s->xb2, s->hb, p.w_down, QW(TL_QW_DOWN), T, F, C);
#undef QW
        run_hooks(hs, TL_HOOK_MLP_OUT, l, s->xb2, T, C, pos0);
        residual_add(s->x, s->xb2, (int64_t)T * C);
        run_hooks(hs, TL_HOOK_RESID_POST, l, s->x, T, C, pos0);
    }

    /* Final norm and LM head, for every row or only the newest. */
    int first = all_logits ? 0 : T - 1, n = T - first;
    float *x_rows = s->x + (int64_t)first * C;
    tl_arch_norm(c, s->xb, x_rows, g.out_norm, g.out_norm_b, n, C);
    run_hooks(hs, TL_HOOK_FINAL_NORM, -1, s->xb, n, C, pos0 + first);
    linear(s, s->logits, s->xb, g.output, qw ? &qw->output : NULL, n, C, c->vocab_size);
    run_hooks(hs, TL_HOOK_LOGITS, -1, s->logits, n, c->vocab_size, pos0 + first);
    s->pos += T;
}

static tl_status check_tokens(const tl_session *s, const int32_t *tokens, int T) {
    if (T <= 0) return tl_errorf(TL_E_ARG, "forward: no tokens");
    if (omp_get_max_threads() > s->n_threads)
        return tl_errorf(TL_E_ARG,
                         "forward: %d threads, but the session's scratch was sized for %d "
                         "(create the session after setting the thread count)",
                         omp_get_max_threads(), s->n_threads);
    if ((int64_t)s->pos + T > s->n_ctx)
        return tl_errorf(TL_E_RANGE, "forward: %d tokens at position %d exceed the context of %d",
                         T, s->pos, s->n_ctx);
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= s->model->cfg.vocab_size)
            return tl_errorf(TL_E_ARG, "forward: token id %d at index %d is outside the vocabulary (%d)",
                             tokens[t], t, s->model->cfg.vocab_size);
    return TL_OK;
}

tl_status tl_forward(tl_session *s, const int32_t *tokens, int T, const float **last_logits) {
    tl_status st = check_tokens(s, tokens, T);
    if (st) return st;
    for (int done = 0; done < T;) {
        int n = T - done < s->max_batch ? T - done : s->max_batch;
        forward_chunk(s, tokens + done, n, 0);
        done += n;
        if (s->model->matrices_unchecked && !s->matrices_verified &&
            (st = tl_session_check_first_logits(s, s->logits, 1)) != TL_OK)
            return st;
    }
    if (last_logits) *last_logits = s->logits;
    return TL_OK;
}

tl_status tl_forward_all(tl_session *s, const int32_t *tokens, int T, tl_logits_fn fn, void *user) {
    tl_status st = check_tokens(s, tokens, T);
    if (st) return st;
    for (int done = 0; done < T;) {
        int n = T - done < s->max_batch ? T - done : s->max_batch;
        int pos0 = s->pos;
        forward_chunk(s, tokens + done, n, 1);
        if (s->model->matrices_unchecked && !s->matrices_verified &&
            (st = tl_session_check_first_logits(s, s->logits, n)) != TL_OK)
            return st;
        if (fn) fn(user, s->logits, n, s->model->cfg.vocab_size, pos0);
        done += n;
    }
    return TL_OK;
}

/* For the blocks of other architectures (model/arch_block.c): the hooks and the linear layers. */
void tl_session_run_hooks(tl_session *s, tl_hook_point point, int layer, float *x, int T, int width) {
    run_hooks(&s->hooks, point, layer, x, T, width, s->pos);
}
