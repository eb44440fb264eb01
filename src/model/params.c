/* params.c: configuration checks and the flat parameter layout (one size table,
 * one pointer walk) shared by weights, gradients and optimiser moments. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "arch.h"
#include "model.h"

void tl_config_defaults(tl_config *c) {
    if (c->n_kv_heads <= 0) c->n_kv_heads = c->n_heads;
    if (c->head_dim <= 0 && c->n_heads > 0) c->head_dim = c->dim / c->n_heads;
    if (c->rope_theta <= 0.0f) c->rope_theta = 10000.0f;
    if (c->norm_eps <= 0.0f) c->norm_eps = 1e-5f;
}

tl_status tl_config_check(const tl_config *c, const char *what) {
#define BAD(field, cond)                                                                           \
    if (cond) return tl_errorf(TL_E_FORMAT, "%s: invalid %s = %d", what, #field, (int)c->field)
    BAD(dim, c->dim <= 0 || c->dim > (1 << 16));
    BAD(hidden_dim, c->hidden_dim <= 0 || c->hidden_dim > (1 << 18));
    BAD(n_layers, c->n_layers <= 0 || c->n_layers > 1024);
    BAD(n_heads, c->n_heads <= 0 || c->n_heads > 1024);
    BAD(n_kv_heads, c->n_kv_heads <= 0 || c->n_kv_heads > c->n_heads);
    BAD(head_dim, c->head_dim <= 0 || c->head_dim > 1024 || (c->head_dim & 1));
    BAD(vocab_size, c->vocab_size <= 0 || c->vocab_size > (1 << 24));
    BAD(seq_len, c->seq_len <= 0 || c->seq_len > (1 << 24));
#undef BAD
    if (c->n_heads % c->n_kv_heads)
        return tl_errorf(TL_E_FORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d", what,
                         c->n_heads, c->n_kv_heads);
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta))
        return tl_errorf(TL_E_FORMAT, "%s: invalid rope_theta %g", what, (double)c->rope_theta);
    if (!(c->norm_eps > 0.0f) || !(c->norm_eps < 1.0f))
        return tl_errorf(TL_E_FORMAT, "%s: invalid norm_eps %g", what, (double)c->norm_eps);
    if ((unsigned)c->arch >= TL_ARCH__COUNT)
        return tl_errorf(TL_E_FORMAT, "%s: unknown architecture %d", what, (int)c->arch);
    if (c->rope_dims < 0 || c->rope_dims > c->head_dim || (c->rope_dims & 1))
        return tl_errorf(TL_E_FORMAT, "%s: invalid rope_dims %d (even, at most head_dim %d)", what, c->rope_dims,
                         c->head_dim);
    if (!(c->clip_qkv >= 0.0f) || !isfinite(c->clip_qkv))
        return tl_errorf(TL_E_FORMAT, "%s: invalid clip_qkv %g", what, (double)c->clip_qkv);
    if (tl_params_count(c) == 0)
        return tl_errorf(TL_E_FORMAT, "%s: parameter count overflows", what);
    return TL_OK;
}

/* The size table: floats per tensor of one layer, in tl_layer_params order; 0 for a tensor the
 * architecture lacks (a llama layer has the first 9 only, so its layout predates the others). */
#define N_SLOTS 17
static const char *slot_names[N_SLOTS] = {
    "attn_norm.weight", "attn_q.weight",  "attn_k.weight",   "attn_v.weight",    "attn_output.weight",
    "ffn_norm.weight",  "ffn_gate.weight", "ffn_up.weight",  "ffn_down.weight",  "attn_norm.bias",
    "attn_q.bias",      "attn_k.bias",    "attn_v.bias",     "attn_output.bias", "ffn_norm.bias",
    "ffn_up.bias",      "ffn_down.bias"};

static void layer_sizes(const tl_config *c, size_t sz[N_SLOTS]) {
    const tl_arch_traits *a = tl_arch_traits_of(c->arch);
    size_t C = (size_t)c->dim, F = (size_t)c->hidden_dim;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    size_t norm = a->norm == TL_NORM_LAYER_NOPARAM ? 0 : C, norm_b = a->norm == TL_NORM_LAYER ? C : 0;
    sz[0] = norm;                     /* attn_norm */
    sz[1] = QD * C;                   /* wq */
    sz[2] = KD * C;                   /* wk */
    sz[3] = KD * C;                   /* wv */
    sz[4] = C * QD;                   /* wo */
    sz[5] = norm;                     /* ffn_norm */
    sz[6] = a->gated_mlp ? F * C : 0; /* w_gate */
    sz[7] = F * C;                    /* w_up */
    sz[8] = C * F;                    /* w_down */
    sz[9] = norm_b;                   /* attn_norm_b */
    sz[10] = a->qkv_bias ? QD : 0;    /* bq */
    sz[11] = a->qkv_bias ? KD : 0;    /* bk */
    sz[12] = a->qkv_bias ? KD : 0;    /* bv */
    sz[13] = a->out_bias ? C : 0;     /* bo */
    sz[14] = norm_b;                  /* ffn_norm_b */
    sz[15] = a->out_bias ? F : 0;     /* b_up */
    sz[16] = a->out_bias ? C : 0;     /* b_down */
}

static size_t layer_count(const tl_config *c) {
    size_t sz[N_SLOTS], n = 0;
    layer_sizes(c, sz);
    for (int i = 0; i < N_SLOTS; i++) n += sz[i];
    return n;
}

/* floats of the final norm's weight and bias */
static size_t out_norm_size(const tl_config *c) {
    return tl_arch_traits_of(c->arch)->norm == TL_NORM_LAYER_NOPARAM ? 0 : (size_t)c->dim;
}
static size_t out_norm_b_size(const tl_config *c) {
    return tl_arch_traits_of(c->arch)->norm == TL_NORM_LAYER ? (size_t)c->dim : 0;
}

size_t tl_params_count(const tl_config *c) {
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->vocab_size <= 0)
        return 0;
    /* every factor is < 2^24 after tl_config_check, so products fit; check anyway */
    size_t emb, per_layer = layer_count(c), layers, n;
    if (!tl_mul_size((size_t)c->vocab_size, (size_t)c->dim, &emb)) return 0;
    if (!tl_mul_size(per_layer, (size_t)c->n_layers, &layers)) return 0;
    if (!tl_add_size(emb, layers, &n) || !tl_add_size(n, out_norm_size(c) + out_norm_b_size(c), &n)) return 0;
    if (!c->tied_embeddings && !tl_add_size(n, emb, &n)) return 0;
    return n;
}

/* Offsets (in floats) of the global tensors: tok_embd, out_norm, output, out_norm_b. */
static void global_offsets(const tl_config *c, size_t off[4]) {
    size_t emb = (size_t)c->vocab_size * c->dim;
    off[0] = 0;
    off[1] = emb + layer_count(c) * (size_t)c->n_layers;
    off[2] = c->tied_embeddings ? 0 : off[1] + out_norm_size(c);
    off[3] = off[1] + out_norm_size(c) + (c->tied_embeddings ? 0 : emb);
}

/* Offsets (in floats) of one layer's tensors, in tl_layer_params order. */
static void layer_offsets(const tl_config *c, int layer, size_t off[N_SLOTS], size_t sz[N_SLOTS]) {
    layer_sizes(c, sz);
    size_t at = (size_t)c->vocab_size * c->dim + layer_count(c) * (size_t)layer;
    for (int i = 0; i < N_SLOTS; i++) {
        off[i] = at;
        at += sz[i];
    }
}

void tl_params_global(const tl_config *c, float *base, tl_global_params *g) {
    size_t off[4];
    global_offsets(c, off);
    g->tok_embd = base + off[0];
    g->out_norm = out_norm_size(c) ? base + off[1] : NULL;
    g->output = base + off[2];
    g->out_norm_b = out_norm_b_size(c) ? base + off[3] : NULL;
}

void tl_params_layer(const tl_config *c, float *base, int layer, tl_layer_params *p) {
    size_t off[N_SLOTS], sz[N_SLOTS];
    layer_offsets(c, layer, off, sz);
    float **dst[N_SLOTS] = {&p->attn_norm,   &p->wq, &p->wk, &p->wv, &p->wo,         &p->ffn_norm,
                            &p->w_gate,      &p->w_up, &p->w_down, &p->attn_norm_b, &p->bq,
                            &p->bk,          &p->bv, &p->bo, &p->ffn_norm_b,         &p->b_up,
                            &p->b_down};
    for (int i = 0; i < N_SLOTS; i++) *dst[i] = sz[i] ? base + off[i] : NULL;
}

int tl_params_tensors(const tl_config *c, tl_param_tensor *out, int cap) {
    const tl_arch_traits *a = tl_arch_traits_of(c->arch);
    int64_t C = c->dim, F = c->hidden_dim, QD = (int64_t)c->n_heads * c->head_dim,
            KD = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t rows[N_SLOTS] = {1, QD, KD, KD, C, 1, F, F, C, 1, 1, 1, 1, 1, 1, 1, 1};
    int64_t cols[N_SLOTS] = {C, C, C, C, QD, C, C, C, F, C, QD, KD, KD, C, C, F, C};
    int n = 0;
#define ADD(nm, off, r, cc)                                                                        \
    do {                                                                                           \
        if (n < cap) {                                                                             \
            snprintf(out[n].name, sizeof out[n].name, "%s", nm);                                   \
            out[n].offset = (off);                                                                 \
            out[n].n_dims = (r) == 1 ? 1 : 2;                                                      \
            out[n].rows = (r);                                                                     \
            out[n].cols = (cc);                                                                    \
        }                                                                                          \
        n++;                                                                                       \
    } while (0)
    size_t g[4];
    global_offsets(c, g);
    ADD("token_embd.weight", g[0], c->vocab_size, C);
    for (int l = 0; l < c->n_layers; l++) {
        size_t off[N_SLOTS], sz[N_SLOTS];
        layer_offsets(c, l, off, sz);
        for (int i = 0; i < N_SLOTS; i++) {
            char nm[64];
            if (!sz[i]) continue;
            if (a->fused_qkv && (i == 1 || i == 10)) { /* q, k, v are adjacent: one [q; k; v] tensor */
                snprintf(nm, sizeof nm, "blk.%d.attn_qkv.%s", l, i == 1 ? "weight" : "bias");
                if (i == 1) ADD(nm, off[i], QD + 2 * KD, C);
                else ADD(nm, off[i], 1, QD + 2 * KD);
                i += 2;
                continue;
            }
            snprintf(nm, sizeof nm, "blk.%d.%s", l, slot_names[i]);
            ADD(nm, off[i], rows[i], cols[i]);
        }
    }
    if (out_norm_size(c)) ADD("output_norm.weight", g[1], 1, C);
    if (!c->tied_embeddings) ADD("output.weight", g[2], c->vocab_size, C);
    if (out_norm_b_size(c)) ADD("output_norm.bias", g[3], 1, C);
#undef ADD
    return n;
}

/* A model with a checked config and no parameter buffer yet; *bytes = the buffer's size. */
static tl_status model_shell(const tl_config *c, tl_model **out, size_t *bytes) {
    *out = NULL;
    tl_config cfg = *c;
    tl_config_defaults(&cfg);
    tl_status s = tl_config_check(&cfg, "model config");
    if (s) return s;
    size_t n = tl_params_count(&cfg);
    if (!tl_mul_size(n, sizeof(float), bytes)) return tl_errorf(TL_E_NOMEM, "model: %zu parameters overflow", n);
    tl_model *m = tl_calloc(1, sizeof *m);
    if (!m) return tl_errorf(TL_E_NOMEM, "model: out of memory");
    m->cfg = cfg;
    m->n_params = n;
    *out = m;
    return TL_OK;
}

tl_status tl_model_new(const tl_config *c, tl_model **out) {
    size_t bytes;
    tl_status s = model_shell(c, out, &bytes);
    if (s) return s;
    tl_model *m = *out;
    if (!(m->params = tl_malloc_aligned(bytes))) {
        size_t n = m->n_params;
        tl_free(m);
        *out = NULL;
        return tl_errorf(TL_E_NOMEM, "model: cannot allocate %zu parameters", n);
    }
    memset(m->params, 0, bytes);
    return TL_OK;
}

tl_status tl_model_new_reserved(const tl_config *c, tl_model **out) {
    size_t bytes;
    tl_status s = model_shell(c, out, &bytes);
    if (s) return s;
    tl_model *m = *out;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
        size_t n = m->n_params;
        tl_free(m);
        *out = NULL;
        return tl_errorf(TL_E_NOMEM, "model: cannot reserve %zu parameters", n);
    }
    m->params = p;
    m->params_mapped = bytes;
    return TL_OK;
}

void tl_qweights_free(struct tl_qweights *q); /* model/qweights.h */

void tl_model_free(tl_model *m) {
    if (!m) return;
    tl_qweights_free(m->qw);
    if (m->params_mapped) munmap(m->params, m->params_mapped);
    else tl_free_aligned(m->params);
    tl_free(m->rope_freqs);
    tl_free(m->source);
    tl_free(m);
}

/* Fill n values with N(0, std), or with `value` when std is 0; nothing when x is NULL (absent). */
static void fill(float *x, size_t n, float std, float value, tl_rng *rng) {
    if (!x) return;
    for (size_t i = 0; i < n; i++) x[i] = std > 0.0f ? std * tl_rng_normal(rng) : value;
}

void tl_model_init_random(tl_model *m, uint64_t seed) {
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    const tl_config *c = &m->cfg;
    float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)c->n_layers);
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    size_t emb = (size_t)c->vocab_size * c->dim;
    for (size_t i = 0; i < emb; i++) g.tok_embd[i] = std * tl_rng_normal(&rng);
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
        size_t C = (size_t)c->dim, F = (size_t)c->hidden_dim;
        fill(p.attn_norm, C, 0.0f, 1.0f, &rng);
        fill(p.ffn_norm, C, 0.0f, 1.0f, &rng);
        fill(p.wq, QD * C, std, 0, &rng);
        fill(p.wk, KD * C, std, 0, &rng);
        fill(p.wv, KD * C, std, 0, &rng);
        fill(p.wo, C * QD, proj_std, 0, &rng);
        fill(p.w_gate, F * C, std, 0, &rng);
        fill(p.w_up, F * C, std, 0, &rng);
        fill(p.w_down, C * F, proj_std, 0, &rng);
        /* biases start at zero, as in GPT-NeoX's and Qwen2's initialisation */
        float *biases[8] = {p.attn_norm_b, p.bq, p.bk, p.bv, p.bo, p.ffn_norm_b, p.b_up, p.b_down};
        size_t sizes[8] = {C, QD, KD, KD, C, C, F, C};
        for (int i = 0; i < 8; i++) fill(biases[i], sizes[i], 0.0f, 0.0f, &rng);
    }
    fill(g.out_norm, (size_t)c->dim, 0.0f, 1.0f, &rng);
    fill(g.out_norm_b, (size_t)c->dim, 0.0f, 0.0f, &rng);
    if (!c->tied_embeddings)
        for (size_t i = 0; i < emb; i++) g.output[i] = std * tl_rng_normal(&rng);
}
