/* params.c: configuration checks and the flat parameter layout (one size table,
 * one pointer walk) shared by weights, gradients and optimiser moments. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

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
    if (tl_params_count(c) == 0)
        return tl_errorf(TL_E_FORMAT, "%s: parameter count overflows", what);
    return TL_OK;
}

/* The size table: floats per tensor of one layer, in tl_layer_params order. */
static void layer_sizes(const tl_config *c, size_t sz[9]) {
    size_t C = (size_t)c->dim, F = (size_t)c->hidden_dim;
    size_t QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    sz[0] = C;      /* attn_norm */
    sz[1] = QD * C; /* wq */
    sz[2] = KD * C; /* wk */
    sz[3] = KD * C; /* wv */
    sz[4] = C * QD; /* wo */
    sz[5] = C;      /* ffn_norm */
    sz[6] = F * C;  /* w_gate */
    sz[7] = F * C;  /* w_up */
    sz[8] = C * F;  /* w_down */
}

static size_t layer_count(const tl_config *c) {
    size_t sz[9], n = 0;
    layer_sizes(c, sz);
    for (int i = 0; i < 9; i++) n += sz[i];
    return n;
}

size_t tl_params_count(const tl_config *c) {
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 ||
        c->n_kv_heads <= 0 || c->head_dim <= 0 || c->vocab_size <= 0)
        return 0;
    /* every factor is < 2^24 after tl_config_check, so products fit; check anyway */
    size_t emb, per_layer = layer_count(c), layers, n;
    if (!tl_mul_size((size_t)c->vocab_size, (size_t)c->dim, &emb)) return 0;
    if (!tl_mul_size(per_layer, (size_t)c->n_layers, &layers)) return 0;
    if (!tl_add_size(emb, layers, &n) || !tl_add_size(n, (size_t)c->dim, &n)) return 0;
    if (!c->tied_embeddings && !tl_add_size(n, emb, &n)) return 0;
    return n;
}

/* Offsets (in floats) of the global tensors: tok_embd, out_norm, output. */
static void global_offsets(const tl_config *c, size_t off[3]) {
    size_t emb = (size_t)c->vocab_size * c->dim;
    off[0] = 0;
    off[1] = emb + layer_count(c) * (size_t)c->n_layers;
    off[2] = c->tied_embeddings ? 0 : off[1] + (size_t)c->dim;
}

/* Offsets (in floats) of one layer's tensors, in tl_layer_params order. */
static void layer_offsets(const tl_config *c, int layer, size_t off[9]) {
    size_t sz[9];
    layer_sizes(c, sz);
    size_t at = (size_t)c->vocab_size * c->dim + layer_count(c) * (size_t)layer;
    for (int i = 0; i < 9; i++) {
        off[i] = at;
        at += sz[i];
    }
}

void tl_params_global(const tl_config *c, float *base, tl_global_params *g) {
    size_t off[3];
    global_offsets(c, off);
    g->tok_embd = base + off[0];
    g->out_norm = base + off[1];
    g->output = base + off[2];
}

void tl_params_layer(const tl_config *c, float *base, int layer, tl_layer_params *p) {
    size_t off[9];
    layer_offsets(c, layer, off);
    float **dst[9] = {&p->attn_norm, &p->wq, &p->wk, &p->wv, &p->wo,
                      &p->ffn_norm,  &p->w_gate, &p->w_up, &p->w_down};
    for (int i = 0; i < 9; i++) *dst[i] = base + off[i];
}

int tl_params_tensors(const tl_config *c, tl_param_tensor *out, int cap) {
    static const char *layer_names[9] = {"attn_norm", "attn_q", "attn_k",   "attn_v",  "attn_output",
                                         "ffn_norm",  "ffn_gate", "ffn_up", "ffn_down"};
    int64_t C = c->dim, F = c->hidden_dim, QD = (int64_t)c->n_heads * c->head_dim,
            KD = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t rows[9] = {1, QD, KD, KD, C, 1, F, F, C};
    int64_t cols[9] = {C, C, C, C, QD, C, C, C, F};
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
    size_t g[3];
    global_offsets(c, g);
    ADD("token_embd.weight", g[0], c->vocab_size, C);
    for (int l = 0; l < c->n_layers; l++) {
        size_t off[9];
        layer_offsets(c, l, off);
        for (int i = 0; i < 9; i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blk.%d.%s.weight", l, layer_names[i]);
            ADD(nm, off[i], rows[i], cols[i]);
        }
    }
    ADD("output_norm.weight", g[1], 1, C);
    if (!c->tied_embeddings) ADD("output.weight", g[2], c->vocab_size, C);
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
    tl_tokenizer_free(m->tok);
    tl_free(m->source);
    tl_free(m);
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
        for (size_t i = 0; i < C; i++) p.attn_norm[i] = p.ffn_norm[i] = 1.0f;
        for (size_t i = 0; i < QD * C; i++) p.wq[i] = std * tl_rng_normal(&rng);
        for (size_t i = 0; i < KD * C; i++) p.wk[i] = std * tl_rng_normal(&rng);
        for (size_t i = 0; i < KD * C; i++) p.wv[i] = std * tl_rng_normal(&rng);
        for (size_t i = 0; i < C * QD; i++) p.wo[i] = proj_std * tl_rng_normal(&rng);
        for (size_t i = 0; i < F * C; i++) p.w_gate[i] = std * tl_rng_normal(&rng);
        for (size_t i = 0; i < F * C; i++) p.w_up[i] = std * tl_rng_normal(&rng);
        for (size_t i = 0; i < C * F; i++) p.w_down[i] = proj_std * tl_rng_normal(&rng);
    }
    for (int i = 0; i < c->dim; i++) g.out_norm[i] = 1.0f;
    if (!c->tied_embeddings)
        for (size_t i = 0; i < emb; i++) g.output[i] = std * tl_rng_normal(&rng);
}
