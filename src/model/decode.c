/* decode.c: the forward pass of one token (decode, T = 1) in a single OpenMP parallel region.
 *
 * Decode reads every weight once per token; at 90 GB/s a stories110M-shape matrix takes 25-130 us.
 * forward.c's general path opens a parallel region per matmul (5 a layer, 61 a token there), each
 * a fork and a join, with one thread alone in the norms, RoPE and residual adds between them. Here
 * the threads stay together for the whole token, each keeps the same share of every matrix's rows
 * (so it streams the same weight slices token after token), and they wait for each other only where
 * the data need it, four barriers a layer:
 *
 *   each thread: xn = norm(x) into its own buffer (C values: cheaper than a barrier);
 *                q, k, v rows of its heads, their biases, clipping and RoPE, then the attention of
 *                its heads (which read only its own kv heads when the heads split evenly over the
 *                threads; otherwise a barrier comes first)
 *   barrier      wo: its share of the rows of C, added to x there
 *   barrier      xn = norm(x); gate and up: its share of the rows of F; silu(gate) * up there
 *   barrier      w_down: its share of the rows of C, added to x there
 *   barrier      (the next layer); after the last: xn = norm(x), its rows of the LM head.
 *
 * Every value is computed by the kernel forward.c's path uses, on the same inputs: the row kernels
 * give a row the same bits whatever rows are taken with it, and the rest is per row, per head or
 * per element. So the logits are bit-identical to forward.c's, for any thread count. */
#include <omp.h>
#include <string.h>

#include "arch.h"
#include "decode.h"
#include "kernels/hmatmul.h"
#include "kernels/kernels.h"
#include "kernels/simd.h" /* tl_kernel_threads, tl_split_range */
#include "qweights.h"

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

static int64_t widest_input(const tl_config *c) {
    int64_t w = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    return (int64_t)c->n_heads * c->head_dim > w ? (int64_t)c->n_heads * c->head_dim : w;
}

size_t tl_decode_scratch_bytes(const tl_model *m) {
    size_t slot = round64((size_t)m->cfg.dim * sizeof(float));
    if (m->qw) slot += 2 * round64(tl_qmatmul_scratch(1, widest_input(&m->cfg)));
    return slot;
}

int tl_decode_supported(const tl_session *s) {
    const tl_arch_traits *tr = tl_arch_traits_of(s->model->cfg.arch);
    return s->hooks.n == 0 && s->dec_scratch && !tr->parallel && tr->gated_mlp && !tr->out_bias;
}

/* One matrix as forward.c's linear() sees it: f32 (from the file or the f32 buffer), f16/bf16 or
 * quantized. */
typedef struct {
    const float *f32;
    const tl_qmat *q; /* f16/bf16 or quantized; NULL for f32 */
    int I;
} dmat;

static dmat mat_of(const float *w, const tl_qmat *q, int I) {
    dmat d = {w, NULL, I};
    if (q && q->type != TL_Q_F32)
        d.q = q;
    else if (q && q->data)
        d.f32 = (const float *)q->data;
    return d;
}

/* A thread's own buffers: the normed input, and the current input quantized (per activation kind:
 * 32-blocks or Q8_K), made the first time a quantized matrix of that kind needs it. */
typedef struct {
    float *xn;
    void *acts[2];
    int acts_ok[2];
} thr;

static void new_input(thr *t) { t->acts_ok[0] = t->acts_ok[1] = 0; }

/* out[o] = x . w[o, :] for o in [o0, o1) */
static void rows(thr *t, float *out, const float *x, const dmat *w, int o0, int o1) {
    if (!w->q)
        tl_matmul_rows1(out, x, w->f32, w->I, o0, o1);
    else if (tl_h_type(w->q->type))
        tl_hmatmul_rows1(out, x, w->q, o0, o1);
    else {
        int kind = tl_qmatmul_act_kind(w->q->type);
        if (!t->acts_ok[kind]) tl_qmatmul_acts1(w->q->type, x, w->I, t->acts[kind]);
        t->acts_ok[kind] = 1;
        tl_qmatmul_rows1(out, w->q, t->acts[kind], o0, o1);
    }
}

static void add_range(float *x, const float *b, int lo, int hi) {
    if (b)
        for (int i = lo; i < hi; i++) x[i] += b[i];
}

static void clamp_range(float *x, int lo, int hi, float lim) {
    if (lim > 0.0f) tl_clamp(x + lo, hi - lo, lim);
}

/* A barrier of the decode's own team. With one thread there is none to wait for, and the caller may
 * itself be a thread of another team (the eval harness runs a session per OpenMP worker): an orphaned
 * barrier would bind to that team and make the workers wait for each other's layers. */
static void sync_team(int nth) {
    if (nth > 1) {
#pragma omp barrier
    }
}

/* The token of s->x (embedded) at position s->pos, thread `me` of `nth`; logits into s->logits. */
static void decode_body(tl_session *s, int me, int nth) {
    const tl_model *m = s->model;
    const tl_config *c = &m->cfg;
    const tl_qweights *qw = m->qw;
    int C = c->dim, F = c->hidden_dim, H = c->n_heads, Hkv = c->n_kv_heads, D = c->head_dim;
    int QD = H * D, KD = Hkv * D, pos0 = s->pos, R = tl_config_rope_dims(c), V = c->vocab_size;
    uint8_t *slot = (uint8_t *)s->dec_scratch + (size_t)me * s->dec_slot;
    size_t acts_bytes = qw ? round64(tl_qmatmul_scratch(1, widest_input(c))) : 0;
    thr t = {(float *)slot, {NULL, NULL}, {0, 0}};
    if (qw) {
        t.acts[0] = slot + round64((size_t)C * sizeof(float));
        t.acts[1] = (uint8_t *)t.acts[0] + acts_bytes;
    }
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    /* this thread's shares, the same for every layer and every token */
    int h0, h1, g0, g1, c0, c1, f0, f1, v0, v1;
    tl_split_range(H, nth, me, 1, &h0, &h1);
    tl_split_range(Hkv, nth, me, 1, &g0, &g1);
    tl_split_range(C, nth, me, 4, &c0, &c1);
    tl_split_range(F, nth, me, 16, &f0, &f1); /* whole vectors of the SwiGLU kernel */
    tl_split_range(V, nth, me, 4, &v0, &v1);
    /* contiguous even splits: the q heads [h0, h1) are exactly the groups of the kv heads [g0, g1) */
    int own_kv = H % nth == 0 && Hkv % nth == 0;
    float *att_scratch = s->scores + (int64_t)me * s->n_ctx;

    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        const tl_qmat *lq = qw ? tl_qweights_layer(qw, l) : NULL;
#define QW(slot) (lq ? &lq[slot] : NULL)
        float *kc = s->key_cache + (int64_t)l * s->n_ctx * KD;
        float *vc = s->value_cache + (int64_t)l * s->n_ctx * KD;
        float *k_new = kc + (int64_t)pos0 * KD, *v_new = vc + (int64_t)pos0 * KD;

        /* attention of this thread's heads */
        tl_arch_norm(c, t.xn, s->x, p.attn_norm, p.attn_norm_b, 1, C);
        new_input(&t);
        dmat wq = mat_of(p.wq, QW(TL_QW_Q), C), wk = mat_of(p.wk, QW(TL_QW_K), C), wv = mat_of(p.wv, QW(TL_QW_V), C);
        rows(&t, s->q, t.xn, &wq, h0 * D, h1 * D);
        rows(&t, k_new, t.xn, &wk, g0 * D, g1 * D);
        rows(&t, v_new, t.xn, &wv, g0 * D, g1 * D);
        /* tl_arch_qkv_finish, on this thread's rows */
        add_range(s->q, p.bq, h0 * D, h1 * D);
        add_range(k_new, p.bk, g0 * D, g1 * D);
        add_range(v_new, p.bv, g0 * D, g1 * D);
        clamp_range(s->q, h0 * D, h1 * D, c->clip_qkv);
        clamp_range(k_new, g0 * D, g1 * D, c->clip_qkv);
        clamp_range(v_new, g0 * D, g1 * D, c->clip_qkv);
        tl_rope_apply_dims(s->q + h0 * D, s->rope_cs, 1, h1 - h0, D, R, c->rope_layout);
        tl_rope_apply_dims(k_new + g0 * D, s->rope_cs, 1, g1 - g0, D, R, c->rope_layout);
        if (!own_kv) sync_team(nth);
        tl_attention_heads1(s->att, s->q, kc, vc, pos0, H, Hkv, D, KD, h0, h1, att_scratch);
        sync_team(nth);
        /* x += wo att, this thread's rows */
        new_input(&t);
        dmat wo = mat_of(p.wo, QW(TL_QW_O), QD);
        rows(&t, s->xb2, s->att, &wo, c0, c1);
        for (int i = c0; i < c1; i++) s->x[i] += s->xb2[i];
        sync_team(nth);
        /* MLP: hb = silu(w_gate xn) * w_up xn on this thread's share of F */
        tl_arch_norm(c, t.xn, s->x, p.ffn_norm, p.ffn_norm_b, 1, C);
        new_input(&t);
        dmat wg = mat_of(p.w_gate, QW(TL_QW_GATE), C), wu = mat_of(p.w_up, QW(TL_QW_UP), C);
        rows(&t, s->hb, t.xn, &wg, f0, f1);
        rows(&t, s->hb2, t.xn, &wu, f0, f1);
        tl_swiglu_forward(s->hb + f0, s->hb + f0, s->hb2 + f0, f1 - f0);
        sync_team(nth);
        /* x += w_down hb, this thread's rows */
        new_input(&t);
        dmat wd = mat_of(p.w_down, QW(TL_QW_DOWN), F);
        rows(&t, s->xb2, s->hb, &wd, c0, c1);
        for (int i = c0; i < c1; i++) s->x[i] += s->xb2[i];
        sync_team(nth);
#undef QW
    }

    /* final norm (each thread its own copy) and this thread's rows of the LM head */
    tl_arch_norm(c, t.xn, s->x, g.out_norm, g.out_norm_b, 1, C);
    if (me == 0) memcpy(s->xb, t.xn, (size_t)C * sizeof(float)); /* as forward.c leaves it */
    new_input(&t);
    dmat wout = mat_of(g.output, qw ? &qw->output : NULL, C);
    rows(&t, s->logits, t.xn, &wout, v0, v1);
}

void tl_decode_token(tl_session *s) {
    const tl_config *c = &s->model->cfg;
    /* the same threshold as the per-matmul path: a tiny model's decode stays on one thread */
    int64_t qkv = (int64_t)c->dim * (c->n_heads + 2 * c->n_kv_heads) * c->head_dim;
    int nth = tl_kernel_threads(qkv);
    if (nth > s->n_threads) nth = s->n_threads; /* the per-thread scratch */
    if (nth <= 1) {
        decode_body(s, 0, 1);
        return;
    }
#pragma omp parallel num_threads(nth)
    decode_body(s, omp_get_thread_num(), omp_get_num_threads());
}
