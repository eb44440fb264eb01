/* llama2c.c: karpathy/llama2.c checkpoints, read and write.
 *
 * Version 0 (legacy, what run.c reads): int32 dim, hidden_dim, n_layers, n_heads,
 * n_kv_heads, vocab_size (negative: separate classifier), seq_len; then f32
 * tensors grouped by kind across layers: tok_embd, attn_norm[L], wq[L], wk[L],
 * wv[L], wo[L], ffn_norm[L], w1[L], w2[L], w3[L], final norm, two unused
 * freq_cis tables of seq_len * head_size / 2 floats each, then wcls if unshared.
 *
 * Version 1: uint32 magic 0x616b3432 ("ak42"), int32 version 1, the 7 ints,
 * uint8 shared_classifier, zero padding to 256 bytes; then f32 tensors in the
 * order attn_norm[L], ffn_norm[L], final norm, tok_embd, wq[L], wk[L], wv[L],
 * wo[L], w1[L], w2[L], w3[L], wcls if unshared. Version 2 (int8) is refused.
 *
 * Neither stores rope theta, norm eps or a head dim other than dim / n_heads:
 * the loader assumes 10000, 1e-5, dim / n_heads, and the writer refuses models
 * that differ. */
#include <string.h>

#include "format.h"
#include "model/qweights.h"

#define LLAMA2C_MAGIC 0x616b3432u

/* Kinds of per-layer tensor, as llama2.c groups them. */
enum { K_ATTN_NORM, K_WQ, K_WK, K_WV, K_WO, K_FFN_NORM, K_W1, K_W2, K_W3 };

/* base NULL (the size-counting pass): only *n, no pointer arithmetic on NULL. */
static float *layer_tensor(const tl_config *c, float *base, int l, int kind, size_t *n) {
    tl_layer_params p = {0};
    if (base) tl_params_layer(c, base, l, &p);
    size_t C = (size_t)c->dim, F = (size_t)c->hidden_dim, QD = (size_t)c->n_heads * c->head_dim,
           KD = (size_t)c->n_kv_heads * c->head_dim;
    switch (kind) {
    case K_ATTN_NORM: *n = C; return p.attn_norm;
    case K_WQ: *n = QD * C; return p.wq;
    case K_WK: *n = KD * C; return p.wk;
    case K_WV: *n = KD * C; return p.wv;
    case K_WO: *n = C * QD; return p.wo;
    case K_FFN_NORM: *n = C; return p.ffn_norm;
    case K_W1: *n = F * C; return p.w_gate;
    case K_W2: *n = C * F; return p.w_down;
    default: *n = F * C; return p.w_up; /* K_W3 */
    }
}

/* A plan step: a global tensor (kind < 0: -1 embd, -2 final norm, -3 cls, -4 skip n floats) or a kind across layers. */
typedef struct {
    int kind;
    size_t skip;
} plan_step;

static int make_plan(const tl_config *c, int version, plan_step *plan) {
    int n = 0;
    size_t freq = (size_t)c->seq_len * (size_t)c->head_dim / 2;
    if (version == 0) {
        int order[] = {-1, K_ATTN_NORM, K_WQ, K_WK, K_WV, K_WO, K_FFN_NORM, K_W1, K_W2, K_W3, -2};
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) plan[n++] = (plan_step){order[i], 0};
        plan[n++] = (plan_step){-4, 2 * freq};
    } else {
        int order[] = {K_ATTN_NORM, K_FFN_NORM, -2, -1, K_WQ, K_WK, K_WV, K_WO, K_W1, K_W2, K_W3};
        for (size_t i = 0; i < sizeof order / sizeof *order; i++) plan[n++] = (plan_step){order[i], 0};
    }
    if (!c->tied_embeddings) plan[n++] = (plan_step){-3, 0};
    return n;
}

/* Walk the plan, calling visit(dst, n floats) for each stored tensor in file order. */
typedef int (*visit_fn)(void *ctx, float *dst, size_t n);
static int walk(const tl_config *c, float *base, int version, visit_fn visit, void *ctx) {
    plan_step plan[16];
    int np = make_plan(c, version, plan);
    tl_global_params g = {0};
    if (base) tl_params_global(c, base, &g); /* NULL: counting sizes only */
    size_t emb = (size_t)c->vocab_size * c->dim;
    for (int i = 0; i < np; i++) {
        int k = plan[i].kind;
        if (k == -1) { if (visit(ctx, g.tok_embd, emb)) return 1; }
        else if (k == -2) { if (visit(ctx, g.out_norm, (size_t)c->dim)) return 1; }
        else if (k == -3) { if (visit(ctx, g.output, emb)) return 1; }
        else if (k == -4) { if (visit(ctx, NULL, plan[i].skip)) return 1; }
        else
            for (int l = 0; l < c->n_layers; l++) {
                size_t n;
                float *dst = layer_tensor(c, base, l, k, &n);
                if (visit(ctx, dst, n)) return 1;
            }
    }
    return 0;
}

typedef struct {
    const uint8_t *p;
    size_t left;
} reader;

static int read_visit(void *ctx, float *dst, size_t n) {
    reader *r = ctx;
    if (n > r->left / 4) return 1;
    if (dst) memcpy(dst, r->p, n * 4);
    r->p += n * 4;
    r->left -= n * 4;
    return 0;
}

static int count_visit(void *ctx, float *dst, size_t n) {
    size_t *total = ctx;
    *total += n;
    return 0;
}

/* ---- mapped (zero copy): the matrices stay in the file, the norms are copied ---- */

typedef struct {
    const uint8_t *p; /* file position of the next tensor */
    float **dst;      /* [n] where each stored tensor would go in the flat buffer ... */
    const uint8_t **src; /* ... and where it is in the file */
    int n, cap;
} mapper;

static int map_visit(void *ctx, float *dst, size_t n) {
    mapper *mp = ctx;
    if (dst && mp->n < mp->cap) {
        mp->dst[mp->n] = dst;
        mp->src[mp->n++] = mp->p;
    }
    mp->p += n * 4;
    return 0;
}

static const uint8_t *mapped_src(const mapper *mp, const float *dst) {
    for (int i = 0; i < mp->n; i++)
        if (mp->dst[i] == dst) return mp->src[i];
    return NULL;
}

static void release_map(void *fm) {
    tl_file_map_close(fm);
    tl_free(fm);
}

static void view(tl_qmat *q, const uint8_t *src, int64_t rows, int64_t cols) {
    *q = (tl_qmat){TL_Q_F32, src, rows, cols, (size_t)cols * sizeof(float)};
}

/* The model of a checked header whose weights are fm->data + header: every matrix a view into
 * the file (f32, 4-byte aligned at offset 28 or 256), norms copied into the reserved buffer. The
 * model takes the mapping (freed with it, or here on failure). */
static tl_status load_mapped(const char *path, const tl_config *c, int version, tl_file_map *fm, size_t header,
                             tl_model **out) {
    tl_model *m = NULL;
    tl_file_map *owned = tl_malloc(sizeof *owned);
    mapper mp = {fm->data + header, NULL, NULL, 0, 9 * c->n_layers + 8};
    mp.dst = tl_malloc(sizeof *mp.dst * (size_t)mp.cap);
    mp.src = tl_malloc(sizeof *mp.src * (size_t)mp.cap);
    tl_status s = !owned || !mp.dst || !mp.src ? tl_errorf(TL_E_NOMEM, "%s: out of memory", path) : TL_OK;
    if (!s) s = tl_model_new_reserved(c, &m);
    if (!s) s = tl_qweights_new(c->n_layers, &m->qw);
    if (s) {
        tl_free(owned);
        tl_free(mp.dst);
        tl_free(mp.src);
        tl_model_free(m);
        tl_file_map_close(fm);
        return s;
    }
    walk(c, m->params, version, map_visit, &mp);
    int64_t C = c->dim, F = c->hidden_dim, QD = (int64_t)c->n_heads * c->head_dim, KD = (int64_t)c->n_kv_heads * c->head_dim;
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        tl_qmat *q = m->qw->layers + (size_t)l * TL_QW__COUNT;
        view(&q[TL_QW_Q], mapped_src(&mp, p.wq), QD, C);
        view(&q[TL_QW_K], mapped_src(&mp, p.wk), KD, C);
        view(&q[TL_QW_V], mapped_src(&mp, p.wv), KD, C);
        view(&q[TL_QW_O], mapped_src(&mp, p.wo), C, QD);
        view(&q[TL_QW_GATE], mapped_src(&mp, p.w_gate), F, C);
        view(&q[TL_QW_UP], mapped_src(&mp, p.w_up), F, C);
        view(&q[TL_QW_DOWN], mapped_src(&mp, p.w_down), C, F);
        memcpy(p.attn_norm, mapped_src(&mp, p.attn_norm), (size_t)C * 4);
        memcpy(p.ffn_norm, mapped_src(&mp, p.ffn_norm), (size_t)C * 4);
    }
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    view(&m->qw->tok_embd, mapped_src(&mp, g.tok_embd), c->vocab_size, C);
    if (c->tied_embeddings) m->qw->output = m->qw->tok_embd;
    else view(&m->qw->output, mapped_src(&mp, g.output), c->vocab_size, C);
    memcpy(g.out_norm, mapped_src(&mp, g.out_norm), (size_t)C * 4);
    tl_free(mp.dst);
    tl_free(mp.src);
    *owned = *fm;
    m->qw->owner = owned;
    m->qw->release = release_map;
    *out = m;
    return TL_OK;
}

tl_status tl_llama2c_load(const char *path, tl_model **out) { return tl_llama2c_load_ex(path, 0, out); }

tl_status tl_llama2c_load_ex(const char *path, int in_place, tl_model **out) {
    *out = NULL;
    tl_file_map fm;
    tl_status s = tl_file_map_open(path, &fm);
    if (s) return s;
    int32_t h[7];
    int version = 0;
    size_t header = 28;
    int shared;
    if (fm.size >= 8 && *(const uint32_t *)fm.data == LLAMA2C_MAGIC) {
        int32_t v;
        memcpy(&v, fm.data + 4, 4);
        if (v != 1) {
            tl_file_map_close(&fm);
            return tl_errorf(v == 2 ? TL_E_UNSUPPORTED : TL_E_FORMAT,
                             "%s: llama2.c version %d is not supported (f32 versions 0 and 1 are)",
                             path, (int)v);
        }
        if (fm.size < 256) {
            size_t n = fm.size;
            tl_file_map_close(&fm);
            return tl_errorf(TL_E_FORMAT, "%s: truncated llama2.c v1 header (%zu bytes < 256)", path, n);
        }
        version = 1;
        memcpy(h, fm.data + 8, sizeof h);
        shared = fm.data[36] != 0;
        header = 256;
    } else {
        if (fm.size < 28) {
            size_t n = fm.size;
            tl_file_map_close(&fm);
            return tl_errorf(TL_E_FORMAT, "%s: truncated llama2.c header (%zu bytes < 28)", path, n);
        }
        memcpy(h, fm.data, sizeof h);
        shared = h[5] > 0;
        if (h[5] < 0 && h[5] != INT32_MIN) h[5] = -h[5]; /* negative: unshared classifier */
    }
    /* Every header field must be positive as stored: tl_config_defaults would
     * otherwise quietly replace a bad n_kv_heads with n_heads. */
    static const char *fields[7] = {"dim",         "hidden_dim", "n_layers", "n_heads",
                                    "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++)
        if (h[i] <= 0) {
            tl_file_map_close(&fm);
            return tl_errorf(TL_E_FORMAT, "%s: header field %s = %d is not positive", path, fields[i],
                             (int)h[i]);
        }
    tl_config c = {0};
    c.dim = h[0];
    c.hidden_dim = h[1];
    c.n_layers = h[2];
    c.n_heads = h[3];
    c.n_kv_heads = h[4];
    c.vocab_size = h[5];
    c.seq_len = h[6];
    c.tied_embeddings = shared;
    c.rope_layout = TL_ROPE_INTERLEAVED;
    if (c.n_heads <= 0 || c.dim <= 0 || c.dim % c.n_heads) {
        tl_file_map_close(&fm);
        return tl_errorf(TL_E_FORMAT, "%s: dim %d is not a positive multiple of n_heads %d", path,
                         c.dim, c.n_heads);
    }
    tl_config_defaults(&c);
    if ((s = tl_config_check(&c, path)) != TL_OK) {
        tl_file_map_close(&fm);
        return s;
    }
    size_t expect = 0;
    walk(&c, NULL, version, count_visit, &expect);
    if (expect > (fm.size - header) / 4 || (fm.size - header) != expect * 4) {
        tl_status e = tl_errorf(TL_E_FORMAT,
                                "%s: file has %zu bytes of weights, the header (dim %d, layers %d, "
                                "vocab %d) needs %zu",
                                path, fm.size - header, c.dim, c.n_layers, c.vocab_size, expect * 4);
        tl_file_map_close(&fm);
        return e;
    }
    tl_model *m;
    if (in_place) {
        if ((s = load_mapped(path, &c, version, &fm, header, &m)) != TL_OK) return s;
        if (!(m->source = tl_strdup(path))) {
            tl_model_free(m);
            return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        }
        *out = m;
        return TL_OK;
    }
    if ((s = tl_model_new(&c, &m)) != TL_OK) {
        tl_file_map_close(&fm);
        return s;
    }
    reader r = {fm.data + header, fm.size - header};
    walk(&c, m->params, version, read_visit, &r);
    tl_file_map_close(&fm);
    m->source = tl_strdup(path);
    *out = m;
    return TL_OK;
}

typedef struct {
    tl_out_file *o;
    tl_status s;
} writer;

static int write_visit(void *ctx, float *src, size_t n) {
    writer *w = ctx;
    if (src) {
        w->s = tl_out_write(w->o, src, n * 4);
    } else { /* the unused freq_cis tables: zeros */
        static const float zeros[256];
        while (n && w->s == TL_OK) {
            size_t k = n < 256 ? n : 256;
            w->s = tl_out_write(w->o, zeros, k * 4);
            n -= k;
        }
    }
    return w->s != TL_OK;
}

tl_status tl_llama2c_save(const tl_model *m, const char *path, int version) {
    const tl_config *c = &m->cfg;
    if (c->arch != TL_ARCH_LLAMA)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: llama2.c .bin holds llama models only (this is %s: save it as .gguf)",
                         path, tl_arch_name(c->arch));
    if (version != 0 && version != 1)
        return tl_errorf(TL_E_ARG, "%s: llama2.c version %d cannot be written (0 or 1)", path, version);
    if (m->qw) /* its f32 buffer holds only the norms: the matrices would be written as zeros */
        return tl_errorf(TL_E_ARG, "%s: the model keeps its matrices as stored in its file (quantized or mapped): "
                         "dequantize it first (tl_model_dequantize)", path);
    if (c->head_dim * c->n_heads != c->dim)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: llama2.c needs head_dim = dim / n_heads (%d != %d / %d)",
                         path, c->head_dim, c->dim, c->n_heads);
    if (c->rope_theta != 10000.0f)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: llama2.c stores no rope theta and assumes 10000 (model has %g)",
                         path, (double)c->rope_theta);
    if (c->rope_layout != TL_ROPE_INTERLEAVED)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: llama2.c uses interleaved RoPE pairs", path);
    tl_out_file o;
    tl_status s = tl_out_open(&o, path);
    if (s) return s;
    int32_t h[7] = {c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->vocab_size, c->seq_len};
    if (version == 0) {
        if (!c->tied_embeddings) h[5] = -h[5];
        s = tl_out_write(&o, h, sizeof h);
    } else {
        uint8_t hdr[256] = {0};
        uint32_t magic = LLAMA2C_MAGIC;
        int32_t v = 1;
        memcpy(hdr, &magic, 4);
        memcpy(hdr + 4, &v, 4);
        memcpy(hdr + 8, h, sizeof h);
        hdr[36] = (uint8_t)(c->tied_embeddings != 0);
        s = tl_out_write(&o, hdr, sizeof hdr);
    }
    writer w = {&o, s};
    if (s == TL_OK) walk(c, m->params, version, write_visit, &w);
    if (w.s != TL_OK) {
        tl_out_abort(&o);
        return w.s;
    }
    return tl_out_commit(&o);
}
