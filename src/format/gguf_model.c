/* gguf_model.c: Llama models as GGUF, the way llama.cpp reads them:
 * general.architecture = "llama", hyper-parameters under llama.*, tensors
 * named as in tl_params_tensors (token_embd.weight, blk.N.attn_q.weight, ...,
 * output_norm.weight, output.weight unless tied: llama.cpp then uses
 * token_embd). GGUF lists dims innermost first, so a [rows, cols] matrix has
 * ne = {cols, rows}. q/k rows are in the interleaved RoPE order in both
 * tiller and GGUF, so no permutation happens here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "format.h"
#include "tiller/tokenizer.h"
#include "tokenizer/tok_gguf.h"
#include "kernels/quant.h"
#include "model/arch.h"
#include "model/qweights.h"

/* Fetch an integer hyper-parameter; `need` = 0 keeps *out when absent. */
static tl_status hparam(const tl_gguf *g, const char *key, int need, int lo, int hi, int *out) {
    if (!need && !tl_gguf_find(g, key)) return TL_OK;
    int64_t v;
    tl_status s = tl_gguf_get_int(g, key, lo, hi, &v);
    if (!s) *out = (int)v;
    return s;
}

static tl_status fparam(const tl_gguf *g, const char *key, float *out) {
    if (!tl_gguf_find(g, key)) return TL_OK;
    double v;
    tl_status s = tl_gguf_get_float(g, key, &v);
    if (!s) *out = (float)v;
    return s;
}

/* RoPE scaling as llama.cpp reads it: type (default "linear"; "none" disables),
 * factor (llama.rope.scaling.factor, or the older llama.rope.scale_linear) giving
 * freq_scale = 1 / factor. YaRN and LongRoPE change more than the angles: refused. */
static tl_status read_rope_scaling(const tl_gguf *g, float *freq_scale) {
    *freq_scale = 1.0f;
    int none = 0;
    if (tl_gguf_find(g, "llama.rope.scaling.type")) {
        tl_gguf_str st;
        tl_status s = tl_gguf_get_str(g, "llama.rope.scaling.type", &st);
        if (s) return s;
        none = tl_gguf_str_eq(st, "none");
        if (!none && !tl_gguf_str_eq(st, "linear"))
            return tl_errorf(TL_E_UNSUPPORTED, "%s: llama.rope.scaling.type '%.*s' is not supported (none, linear)",
                             g->path, (int)(st.n > 32 ? 32 : st.n), st.s);
    }
    float factor = 0.0f;
    tl_status s = fparam(g, "llama.rope.scale_linear", &factor);
    if (!s) s = fparam(g, "llama.rope.scaling.factor", &factor);
    if (s) return s;
    if (!(factor >= 0.0f) || !isfinite(factor))
        return tl_errorf(TL_E_FORMAT, "%s: invalid RoPE scaling factor %g", g->path, (double)factor);
    if (!none && factor != 0.0f) *freq_scale = 1.0f / factor;
    return TL_OK;
}

/* Llama 3.1's per-pair frequency factors (rope_freqs.weight, [D/2] f32), owned copy in *out. */
static tl_status read_rope_freqs(const tl_gguf *g, int head_dim, float **out) {
    *out = NULL;
    const tl_gguf_tensor *t = tl_gguf_find_tensor(g, "rope_freqs.weight");
    if (!t) return TL_OK;
    if (t->type != TL_GGML_F32 || t->n_elements != (uint64_t)head_dim / 2)
        return tl_errorf(TL_E_FORMAT, "%s: tensor 'rope_freqs.weight' must be %d f32 values (has %llu of type %s)",
                         g->path, head_dim / 2, (unsigned long long)t->n_elements, tl_ggml_type_name(t->type));
    float *f = tl_malloc((size_t)head_dim / 2 * sizeof *f);
    if (!f) return tl_errorf(TL_E_NOMEM, "%s: out of memory", g->path);
    memcpy(f, t->data, (size_t)head_dim / 2 * sizeof *f);
    for (int i = 0; i < head_dim / 2; i++)
        if (!(f[i] > 0.0f) || !isfinite(f[i])) {
            tl_free(f);
            return tl_errorf(TL_E_FORMAT, "%s: rope_freqs.weight[%d] = %g is not a positive number", g->path, i,
                             (double)f[i]);
        }
    *out = f;
    return TL_OK;
}

/* "<arch>.<suffix>": llama.cpp prefixes every hyper-parameter with general.architecture */
static const char *akey(char *buf, size_t cap, tl_arch a, const char *suffix) {
    snprintf(buf, cap, "%s.%s", tl_arch_name(a), suffix);
    return buf;
}

/* The keys each architecture's converter writes beyond llama's (llama.cpp's convert_hf_to_gguf):
 * gptneox: rope.dimension_count = rotary_pct * head_dim, use_parallel_residual, the LayerNorm eps
 * as attention.layer_norm_epsilon; olmo: LayerNorm eps likewise, attention.clamp_kqv; qwen2:
 * llama's keys. None of them permutes q/k rows: their RoPE rotates halves (TL_ROPE_HALF). */
static tl_status read_arch_keys(const tl_gguf *g, tl_config *c, int rope_dims) {
    char k[96];
    tl_status s = TL_OK;
    if (c->arch == TL_ARCH_LLAMA) {
        if (rope_dims != c->head_dim)
            return tl_errorf(TL_E_UNSUPPORTED, "%s: llama.rope.dimension_count %d != head dim %d (partial RoPE)",
                             g->path, rope_dims, c->head_dim);
        return fparam(g, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps);
    }
    c->rope_layout = TL_ROPE_HALF;
    c->rope_dims = rope_dims == c->head_dim ? 0 : rope_dims;
    if (c->arch == TL_ARCH_QWEN2) return fparam(g, akey(k, sizeof k, c->arch, "attention.layer_norm_rms_epsilon"), &c->norm_eps);
    if ((s = fparam(g, akey(k, sizeof k, c->arch, "attention.layer_norm_epsilon"), &c->norm_eps))) return s;
    if (c->arch == TL_ARCH_OLMO) return fparam(g, akey(k, sizeof k, c->arch, "attention.clamp_kqv"), &c->clip_qkv);
    /* gptneox */
    const char *par = akey(k, sizeof k, c->arch, "use_parallel_residual");
    if (tl_gguf_find(g, par)) {
        int v;
        if ((s = tl_gguf_get_bool(g, par, &v))) return s;
        if (!v)
            return tl_errorf(TL_E_UNSUPPORTED, "%s: %s = false is not supported (Pythia's blocks are parallel)", g->path,
                             par);
    }
    return TL_OK;
}

static tl_status read_config(const tl_gguf *g, tl_config *c, int *rope_dims) {
    tl_gguf_str arch;
    tl_status s = tl_gguf_get_str(g, "general.architecture", &arch);
    if (s) return s;
    memset(c, 0, sizeof *c);
    char name[32], k[96];
    snprintf(name, sizeof name, "%.*s", (int)(arch.n < 31 ? arch.n : 31), arch.s);
    if (arch.n >= 31 || tl_arch_parse(name, &c->arch))
        return tl_errorf(TL_E_UNSUPPORTED,
                         "%s: general.architecture '%.*s' is not supported (llama, qwen2, gptneox, olmo)", g->path,
                         (int)(arch.n > 64 ? 64 : arch.n), arch.s);
    c->rope_layout = TL_ROPE_INTERLEAVED;
    const int big = 1 << 24;
    tl_arch a = c->arch;
    if ((s = hparam(g, akey(k, sizeof k, a, "embedding_length"), 1, 1, big, &c->dim)) ||
        (s = hparam(g, akey(k, sizeof k, a, "feed_forward_length"), 1, 1, big, &c->hidden_dim)) ||
        (s = hparam(g, akey(k, sizeof k, a, "block_count"), 1, 1, big, &c->n_layers)) ||
        (s = hparam(g, akey(k, sizeof k, a, "attention.head_count"), 1, 1, big, &c->n_heads)) ||
        (s = hparam(g, akey(k, sizeof k, a, "context_length"), 1, 1, big, &c->seq_len)))
        return s;
    c->n_kv_heads = c->n_heads;
    if ((s = hparam(g, akey(k, sizeof k, a, "attention.head_count_kv"), 0, 1, big, &c->n_kv_heads))) return s;
    c->head_dim = c->dim / c->n_heads;
    if ((s = hparam(g, akey(k, sizeof k, a, "attention.key_length"), 0, 1, big, &c->head_dim))) return s;
    int vlen = c->head_dim;
    if ((s = hparam(g, akey(k, sizeof k, a, "attention.value_length"), 0, 1, big, &vlen))) return s;
    if (vlen != c->head_dim)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: %s.attention.value_length %d differs from key_length %d", g->path,
                         name, vlen, c->head_dim);
    *rope_dims = c->head_dim;
    if ((s = hparam(g, akey(k, sizeof k, a, "rope.dimension_count"), 0, 1, big, rope_dims))) return s;
    if (*rope_dims > c->head_dim || (*rope_dims & 1))
        return tl_errorf(TL_E_FORMAT, "%s: %s.rope.dimension_count %d is odd or exceeds the head dim %d", g->path,
                         name, *rope_dims, c->head_dim);
    c->rope_theta = 10000.0f;
    c->norm_eps = 1e-5f;
    if ((s = fparam(g, akey(k, sizeof k, a, "rope.freq_base"), &c->rope_theta)) ||
        (s = read_arch_keys(g, c, *rope_dims)))
        return s;
    const tl_gguf_tensor *emb = tl_gguf_find_tensor(g, "token_embd.weight");
    if (!emb) return tl_errorf(TL_E_FORMAT, "%s: missing tensor 'token_embd.weight'", g->path);
    if (emb->n_dims != 2 || emb->ne[1] > big)
        return tl_errorf(TL_E_FORMAT, "%s: tensor 'token_embd.weight' is not a [vocab, dim] matrix", g->path);
    c->vocab_size = (int)emb->ne[1];
    int kv_vocab = c->vocab_size;
    if ((s = hparam(g, akey(k, sizeof k, a, "vocab_size"), 0, 1, big, &kv_vocab))) return s;
    if (kv_vocab != c->vocab_size)
        return tl_errorf(TL_E_FORMAT, "%s: %s.vocab_size %d != token_embd.weight rows %d", g->path, name, kv_vocab,
                         c->vocab_size);
    c->tied_embeddings = tl_gguf_find_tensor(g, "output.weight") == NULL;
    return tl_config_check(c, g->path);
}

/* Copy one tensor into the flat buffer, converting to f32. */
static tl_status read_tensor(const tl_gguf *g, const tl_param_tensor *p, float *dst) {
    const tl_gguf_tensor *t = tl_gguf_find_tensor(g, p->name);
    if (!t) return tl_errorf(TL_E_FORMAT, "%s: missing tensor '%s'", g->path, p->name);
    /* a vector may come as [n] or [n, 1]; a matrix must be {cols, rows} */
    int ok = t->ne[0] == p->cols && t->ne[1] == p->rows && t->ne[2] == 1 && t->ne[3] == 1 &&
             (p->n_dims == 1 ? t->n_dims <= 2 : t->n_dims == 2);
    if (!ok)
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld] (ne, innermost first), "
                         "expected [%lld, %lld]",
                         g->path, p->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                         (long long)t->ne[3], (long long)p->cols, (long long)p->rows);
    size_t n = (size_t)t->n_elements;
    const uint8_t *src = t->data;
    switch (t->type) {
    case TL_GGML_F32: memcpy(dst, src, n * 4); break;
    case TL_GGML_F16:
    case TL_GGML_BF16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = t->type == TL_GGML_F16 ? tl_f16_to_f32(h) : tl_bf16_to_f32(h);
        }
        break;
    default:
        return tl_errorf(TL_E_UNSUPPORTED, "%s: tensor '%s' has type %s (tiller reads F32, F16 and BF16)", g->path,
                         p->name, tl_ggml_type_name(t->type));
    }
    return TL_OK;
}

/* Are the matrices used as stored, in the mapping (quantized always; f32, f16 and bf16 when
 * in_place: no copy), rather than converted into the f32 buffer? */
static int keep_as_stored(const tl_gguf *g, const tl_param_tensor *pt, int n, int in_place) {
    for (int i = 0; i < n; i++) {
        const tl_gguf_tensor *t = pt[i].n_dims == 2 ? tl_gguf_find_tensor(g, pt[i].name) : NULL;
        if (t && (in_place || tl_q_supported(t->type))) return 1;
    }
    return 0;
}

static void release_gguf(void *g) { tl_gguf_close(g); }

/* The view of one matrix: quantized types stay in the file; F32/F16/BF16 go to the f32 buffer. */
static tl_status view_matrix(const tl_gguf *g, const tl_param_tensor *p, float *params, int in_place, tl_qmat *q) {
    const tl_gguf_tensor *t = tl_gguf_find_tensor(g, p->name);
    if (t && tl_q_supported(t->type)) {
        if (t->n_dims != 2 || t->ne[0] != p->cols || t->ne[1] != p->rows)
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s' has shape [%lld, %lld] (ne), expected [%lld, %lld]", g->path,
                             p->name, (long long)t->ne[0], (long long)t->ne[1], (long long)p->cols,
                             (long long)p->rows);
        q->type = t->type;
        q->data = t->data;
        q->rows = p->rows;
        q->cols = p->cols;
        q->row_bytes = tl_q_row_bytes(t->type, p->cols);
        return TL_OK;
    }
    if (t && t->type != TL_GGML_F32 && t->type != TL_GGML_F16 && t->type != TL_GGML_BF16)
        return tl_errorf(TL_E_UNSUPPORTED,
                         "%s: tensor '%s' has type %s (tiller reads F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, "
                         "Q5_K and Q6_K)",
                         g->path, p->name, tl_ggml_type_name(t->type));
    q->type = TL_Q_F32;
    q->rows = p->rows;
    q->cols = p->cols;
    q->row_bytes = (size_t)p->cols * sizeof(float);
    /* an f32, f16 or bf16 matrix is used in place (GGUF data is aligned), no copy in the f32
     * buffer; f16/bf16 are widened on the fly (kernels/hmatmul.h) */
    size_t esz = t && t->type == TL_GGML_F32 ? 4 : 2;
    if (in_place && t && ((uintptr_t)t->data & (esz - 1)) == 0 && t->n_dims == 2 && t->ne[0] == p->cols &&
        t->ne[1] == p->rows) {
        q->type = t->type == TL_GGML_F32 ? TL_Q_F32 : t->type == TL_GGML_F16 ? TL_Q_F16 : TL_Q_BF16;
        q->row_bytes = (size_t)p->cols * esz;
        q->data = t->data;
        return TL_OK;
    }
    return read_tensor(g, p, params + p->offset);
}

/* A quantized or f32 file: matrices stay in the mapping (which the model then owns), norms
 * and F16/BF16 matrices are read into the reserved f32 buffer. */
static tl_status load_quantized(tl_gguf *g, const tl_config *c, const tl_param_tensor *pt, int n, int in_place,
                                tl_model **out) {
    tl_model *m;
    tl_status s = tl_model_new_reserved(c, &m);
    if (s) return s;
    if ((s = tl_qweights_new(c->n_layers, &m->qw))) goto fail;
    for (int i = 0; i < n && !s; i++) {
        const tl_param_tensor *p = &pt[i];
        if (p->n_dims == 1) {
            s = read_tensor(g, p, m->params + p->offset);
            continue;
        }
        tl_qmat *q = tl_qweights_slot(m->qw, c->n_layers, p->name);
        if (!q) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor '%s' has no place in the model", g->path, p->name);
            break;
        }
        s = view_matrix(g, p, m->params, in_place, q);
    }
    if (s) goto fail;
    if (c->tied_embeddings) m->qw->output = m->qw->tok_embd;
#ifdef MADV_POPULATE_READ
    /* The matrices are views of the mapping, and the first forward pass reads all of them: build the
     * page tables in one call rather than by ~60k fault-around faults (TinyLlama f32: 0.25-0.3 s
     * instead of 0.5-0.8 s of system time). Advisory: older kernels say EINVAL, and nothing changes. */
    (void)madvise((void *)g->map.data, g->map.size, MADV_POPULATE_READ);
#endif
    *out = m;
    return TL_OK;
fail:
    tl_model_free(m);
    return s;
}

tl_status tl_gguf_model_load(const char *path, tl_model **out, tl_tokenizer **tok) {
    return tl_gguf_model_load_ex(path, 0, out, tok);
}

tl_status tl_gguf_model_load_ex(const char *path, int in_place, tl_model **out, tl_tokenizer **tok) {
    *out = NULL;
    if (tok) *tok = NULL;
    tl_gguf *g;
    tl_status s = tl_gguf_open(path, &g);
    if (s) return s;
    tl_config c;
    int rope_dims;
    tl_model *m = NULL;
    tl_tokenizer *vocab = NULL; /* the file's, handed to the caller beside the model */
    tl_param_tensor *pt = NULL;
    if ((s = read_config(g, &c, &rope_dims)) != TL_OK) goto done;
    tl_config_defaults(&c);
    int n = tl_params_tensors(&c, NULL, 0);
    pt = tl_malloc((size_t)n * sizeof *pt);
    if (!pt) {
        s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        goto done;
    }
    tl_params_tensors(&c, pt, n);
    /* GPT-NeoX's fused QKV is split into wq/wk/wv on load, so its matrices are never used as stored */
    int fused = tl_arch_traits_of(c.arch)->fused_qkv;
    int quantized = keep_as_stored(g, pt, n, in_place && !fused);
    if (quantized && fused) {
        s = tl_errorf(TL_E_UNSUPPORTED, "%s: quantized %s files are not supported yet (convert the f16/f32 GGUF or the "
                      "Hugging Face checkpoint)", path, tl_arch_name(c.arch));
        goto done;
    }
    if ((s = quantized ? load_quantized(g, &c, pt, n, in_place, &m) : tl_model_new(&c, &m)) != TL_OK) goto done;
    if ((s = read_rope_scaling(g, &m->rope_freq_scale)) || (s = read_rope_freqs(g, c.head_dim, &m->rope_freqs)))
        goto done;
    for (int i = 0; i < n && !s && !quantized; i++) s = read_tensor(g, &pt[i], m->params + pt[i].offset);
    if (s) goto done;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        int known = 0;
        for (int k = 0; k < n && !known; k++) known = !strcmp(g->tensors[i].name, pt[k].name);
        if (!strcmp(g->tensors[i].name, "rope_freqs.weight")) known = 1;
        /* a block past llama.block_count means the count is wrong, and the model would be garbage */
        unsigned blk;
        if (!known && sscanf(g->tensors[i].name, "blk.%u.", &blk) == 1 && blk >= (unsigned)c.n_layers) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor '%s' belongs to block %u, but llama.block_count is %d", path,
                          g->tensors[i].name, blk, c.n_layers);
            goto done;
        }
        if (!known) tl_logf(TL_LOG_WARN, "%s: ignoring tensor '%s'", path, g->tensors[i].name);
    }
    if (tl_gguf_find(g, "tokenizer.ggml.model")) {
        if ((s = tl_tokenizer_from_gguf(g, &vocab)) != TL_OK) goto done;
        if (tl_tokenizer_n_vocab(vocab) != c.vocab_size) {
            s = tl_errorf(TL_E_FORMAT, "%s: the vocabulary has %d tokens but token_embd.weight has %d rows", path,
                          tl_tokenizer_n_vocab(vocab), c.vocab_size);
            goto done;
        }
    }
    if (!(m->source = tl_strdup(path))) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    if (quantized) { /* the model's matrices point into the mapping: it keeps the file open */
        m->qw->owner = g;
        m->qw->release = release_gguf;
        g = NULL;
    }
done:
    tl_free(pt);
    tl_gguf_close(g);
    if (s) {
        tl_tokenizer_free(vocab);
        tl_model_free(m);
        return s;
    }
    *out = m;
    if (tok) *tok = vocab;
    else tl_tokenizer_free(vocab);
    return TL_OK;
}

/* ggml type and llama.cpp's general.file_type (llama_ftype) of a dtype */
static void dtype_types(tl_dtype d, uint32_t *ggml, uint32_t *ftype) {
    switch (d) {
    case TL_DTYPE_F16: *ggml = TL_GGML_F16, *ftype = 1; break;
    case TL_DTYPE_BF16: *ggml = TL_GGML_BF16, *ftype = 32; break;
    case TL_DTYPE_Q8_0: *ggml = TL_Q8_0, *ftype = 7; break;
    case TL_DTYPE_Q4_0: *ggml = TL_Q4_0, *ftype = 2; break;
    case TL_DTYPE_Q4_K: *ggml = TL_Q4_K, *ftype = 14; break; /* MOSTLY_Q4_K_S: every matrix Q4_K */
    case TL_DTYPE_Q5_K: *ggml = TL_Q5_K, *ftype = 16; break; /* MOSTLY_Q5_K_S */
    case TL_DTYPE_Q6_K: *ggml = TL_Q6_K, *ftype = 18; break;
    default: *ggml = TL_GGML_F32, *ftype = 0; break;
    }
}

/* The type a matrix with rows of `cols` values is written in: the asked type when its
 * blocks fit, else Q8_0 (blocks of 32), else F16 — as llama.cpp falls back for K-quants. */
static uint32_t matrix_type(uint32_t want, int64_t cols) {
    if (!tl_q_can_quantize(want) || cols % tl_q_block_size(want) == 0) return want;
    return cols % 32 == 0 ? TL_Q8_0 : TL_GGML_F16;
}

tl_status tl_gguf_model_save(const tl_model *m, const tl_tokenizer *tok, const char *path, tl_dtype dtype) {
    const tl_config *c = &m->cfg;
    uint32_t tensor_type, file_type;
    if ((unsigned)dtype > TL_DTYPE_Q6_K) return tl_errorf(TL_E_ARG, "%s: unknown dtype %d", path, (int)dtype);
    if (m->qw)
        return tl_errorf(TL_E_ARG, "%s: the model keeps its matrices as stored in its file (quantized or mapped): dequantize it first (tl_model_dequantize)",
                         path);
    dtype_types(dtype, &tensor_type, &file_type);
    if (c->rope_layout != (c->arch == TL_ARCH_LLAMA ? TL_ROPE_INTERLEAVED : TL_ROPE_HALF))
        return tl_errorf(TL_E_UNSUPPORTED, "%s: GGUF %s models use %s RoPE pairs", path, tl_arch_name(c->arch),
                         c->arch == TL_ARCH_LLAMA ? "interleaved" : "half-split");
    if (tok && tl_tokenizer_n_vocab(tok) != c->vocab_size)
        return tl_errorf(TL_E_ARG, "%s: the tokenizer has %d tokens but the model's vocabulary is %d", path,
                         tl_tokenizer_n_vocab(tok), c->vocab_size);
    tl_gguf_writer *w;
    tl_status s = tl_gguf_writer_new(&w);
    if (s) return s;
    const char *slash = m->source ? strrchr(m->source, '/') : NULL;
    tl_arch a = c->arch;
    char k[96];
    s = tl_gguf_write_str(w, "general.architecture", tl_arch_name(a));
    if (!s) s = tl_gguf_write_str(w, "general.name", slash ? slash + 1 : m->source ? m->source : "tiller");
    if (!s) s = tl_gguf_write_u32(w, "general.file_type", file_type);
    if (!s && tl_dtype_is_quantized(dtype)) s = tl_gguf_write_u32(w, "general.quantization_version", 2);
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "context_length"), (uint32_t)c->seq_len);
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "embedding_length"), (uint32_t)c->dim);
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "block_count"), (uint32_t)c->n_layers);
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "feed_forward_length"), (uint32_t)c->hidden_dim);
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "attention.head_count"), (uint32_t)c->n_heads);
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "attention.head_count_kv"), (uint32_t)c->n_kv_heads);
    if (!s) s = tl_gguf_write_f32(w, akey(k, sizeof k, a, "rope.freq_base"), c->rope_theta);
    if (!s)
        s = tl_gguf_write_f32(w,
                              akey(k, sizeof k, a,
                                   tl_arch_traits_of(a)->norm == TL_NORM_RMS ? "attention.layer_norm_rms_epsilon"
                                                                             : "attention.layer_norm_epsilon"),
                              c->norm_eps);
    if (!s)
        s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "rope.dimension_count"),
                              (uint32_t)(c->rope_dims > 0 ? c->rope_dims : c->head_dim));
    if (!s && a == TL_ARCH_GPTNEOX) s = tl_gguf_write_bool(w, akey(k, sizeof k, a, "use_parallel_residual"), 1);
    if (!s && c->clip_qkv > 0.0f) s = tl_gguf_write_f32(w, akey(k, sizeof k, a, "attention.clamp_kqv"), c->clip_qkv);
    if (!s && c->head_dim * c->n_heads != c->dim) {
        s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "attention.key_length"), (uint32_t)c->head_dim);
        if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "attention.value_length"), (uint32_t)c->head_dim);
    }
    if (!s) s = tl_gguf_write_u32(w, akey(k, sizeof k, a, "vocab_size"), (uint32_t)c->vocab_size);
    if (!s && m->rope_freq_scale != 0.0f && m->rope_freq_scale != 1.0f) {
        s = tl_gguf_write_str(w, akey(k, sizeof k, a, "rope.scaling.type"), "linear");
        if (!s) s = tl_gguf_write_f32(w, akey(k, sizeof k, a, "rope.scaling.factor"), 1.0f / m->rope_freq_scale);
    }
    if (!s && m->rope_freqs) {
        int64_t ne[1] = {c->head_dim / 2};
        s = tl_gguf_write_tensor(w, "rope_freqs.weight", TL_GGML_F32, 1, ne, m->rope_freqs);
    }
    if (!s && tok) s = tl_tokenizer_write_gguf(tok, w);
    int n = tl_params_tensors(c, NULL, 0);
    tl_param_tensor *pt = tl_malloc((size_t)n * sizeof *pt);
    if (!pt && !s) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    if (!s) tl_params_tensors(c, pt, n);
    for (int i = 0; i < n && !s; i++) {
        int64_t ne[2] = {pt[i].cols, pt[i].rows};
        /* vectors stay F32, as llama.cpp's converters keep norms */
        uint32_t type = pt[i].n_dims == 1 ? TL_GGML_F32 : matrix_type(tensor_type, pt[i].cols);
        s = tl_gguf_write_tensor(w, pt[i].name, type, pt[i].n_dims, ne, m->params + pt[i].offset);
    }
    if (!s) s = tl_gguf_writer_save(w, path);
    tl_free(pt);
    tl_gguf_writer_free(w);
    return s;
}
