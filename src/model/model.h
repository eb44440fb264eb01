/*
 * model: the Llama-family model — configuration, the parameter layout (one
 * flat f32 buffer walked by a size table, shared by weights, gradients and
 * AdamW moments), the forward pass with named hook points, the KV cache, and
 * sampling. Formats (src/format) fill a tl_model; this module owns it.
 *
 * Canonical layout conventions (what every loader converts to):
 *   - matrices are row-major [out, in]: y = x @ W^T;
 *   - q/k rows are in the interleaved-pair RoPE order of llama2.c / GGUF
 *     (pairs (2i, 2i+1) rotate together). Hugging Face checkpoints use the
 *     half-split order; src/format/safetensors.c permutes their q/k rows on
 *     load and back on save, so cfg.rope_layout of a loaded model is
 *     interleaved unless a caller deliberately asks for the other kernel.
 */
#ifndef TL_MODEL_H
#define TL_MODEL_H

#include "base/base.h"
#include "kernels/kernels.h"
#include "tiller/model.h" /* the public part: config, hooks, session, sampling */

/* Views of one layer's parameters inside a flat buffer. */
typedef struct {
    float *attn_norm; /* [C] */
    float *wq;        /* [H*D, C] */
    float *wk;        /* [Hkv*D, C] */
    float *wv;        /* [Hkv*D, C] */
    float *wo;        /* [C, H*D] */
    float *ffn_norm;  /* [C] */
    float *w_gate;    /* [F, C]  (w1) */
    float *w_up;      /* [F, C]  (w3) */
    float *w_down;    /* [C, F]  (w2) */
    /* Only in some architectures (model/arch.h; NULL otherwise, and so are attn_norm/ffn_norm
     * for OLMo's non-parametric norms and w_gate for GPT-NeoX's GELU MLP). Stored after w_down,
     * so a llama layer's layout is the one above. */
    float *attn_norm_b; /* [C] LayerNorm bias */
    float *bq;          /* [H*D] */
    float *bk;          /* [Hkv*D] */
    float *bv;          /* [Hkv*D] */
    float *bo;          /* [C] */
    float *ffn_norm_b;  /* [C] */
    float *b_up;        /* [F] */
    float *b_down;      /* [C] */
} tl_layer_params;

typedef struct {
    float *tok_embd; /* [V, C] */
    float *out_norm; /* [C] */
    float *output;   /* [V, C]; == tok_embd when tied */
    float *out_norm_b; /* [C] final LayerNorm bias (GPT-NeoX), after everything else; else NULL */
} tl_global_params;

/* Number of floats in the flat parameter buffer for this config. 0 on overflow. */
size_t tl_params_count(const tl_config *c);
/* Views into a flat buffer laid out as: tok_embd, layers 0..L-1 (in the order of
 * tl_layer_params, tensors the architecture lacks taking no room), out_norm, output
 * (absent when tied), out_norm_b. Works on weights, gradients and optimiser moments alike. */
void tl_params_global(const tl_config *c, float *base, tl_global_params *g);
void tl_params_layer(const tl_config *c, float *base, int layer, tl_layer_params *p);

/* One named tensor of the layout, for formats that store tensors by name. */
typedef struct {
    char name[64];   /* GGUF name, e.g. "blk.3.attn_q.weight" */
    size_t offset;   /* in floats, into the flat buffer */
    int n_dims;      /* 1 or 2 */
    int64_t rows;    /* out features (1 for vectors) */
    int64_t cols;    /* in features / length */
} tl_param_tensor;
/* Enumerate the layout's tensors (GGUF names). Returns the count; fills up to cap. */
int tl_params_tensors(const tl_config *c, tl_param_tensor *out, int cap);

/* The model: config plus one owned parameter buffer. */
struct tl_model {
    tl_config cfg;
    float *params;   /* [tl_params_count(cfg)], 64-byte aligned, owned */
    size_t n_params;
    char *source;    /* path it was loaded from (owned), for messages */
    /* RoPE beyond theta (GGUF files of Llama 3.1 and linearly scaled models): the angle
     * of pair i at position p is p * rope_freq_scale * theta^(-2i/D) / rope_freqs[i]. */
    float rope_freq_scale; /* 1 = none (0 is read as 1) */
    float *rope_freqs;     /* [D/2] frequency factors (tensor rope_freqs.weight), owned; NULL = none */
    struct tl_qweights *qw; /* quantized weights (model/qweights.h), owned; NULL for f32 models */
    size_t params_mapped;   /* > 0: params is an anonymous mapping of this many bytes (tl_model_new_reserved) */
    int matrices_unchecked; /* mapped load: finiteness of qw's matrices is left to the first forward (finite_check.h) */
};

/* The same as tl_model_new, but the parameter buffer is reserved address space (zero pages,
 * resident only where written): quantized models keep their matrices in the file and write
 * only norms and any f32/f16 matrices into it. */
tl_status tl_model_new_reserved(const tl_config *c, tl_model **out);
/* ---- inference session: activations + KV cache ---------------------------- */

struct tl_session {
    const tl_model *model;
    int max_batch; /* most tokens one forward call takes */
    int n_ctx;     /* KV cache length */
    int pos;       /* tokens already in the cache */
    int n_threads;
    /* activations, one arena, sized from (config, max_batch) */
    float *x;      /* [B, C] residual stream */
    float *xb;     /* [B, C] normed input */
    float *xb2;    /* [B, C] block output (attn_out / mlp_out) */
    float *q;      /* [B, H*D] */
    float *att;    /* [B, H*D] attention output before wo */
    float *hb;     /* [B, F] gate */
    float *hb2;    /* [B, F] up */
    float *scores; /* [threads, n_ctx] attention scores scratch */
    float *logits; /* [B, V] */
    float *key_cache;   /* [L, n_ctx, Hkv*D] */
    float *value_cache; /* [L, n_ctx, Hkv*D] */
    int *positions;     /* [B] */
    float *rope_cs;     /* [B, D/2, 2] RoPE cos/sin of the chunk's positions */
    float *arena;
    void *qscratch;     /* quantized models: int8 activations for tl_qmatmul; else NULL */
    void *dec_scratch;  /* [n_threads][dec_slot] bytes: each thread's buffers in decode.c */
    size_t dec_slot;
    int matrices_verified; /* the first forward pass checked the model's matrices_unchecked (finite_check.h) */
    tl_hooks hooks;
};

/* ---- sampling ------------------------------------------------------------- */

struct tl_sampler {
    tl_sampler_params p;
    tl_rng rng;
    int V;
    float *probs;   /* [V] */
    void *sorted;   /* [V] (probability, id) pairs for top-k / top-p */
};

/* In place (the public tl_sampler_new allocates one). */
tl_status tl_sampler_init(tl_sampler *s, const tl_sampler_params *p, int vocab);
void tl_sampler_free(tl_sampler *s);

#endif /* TL_MODEL_H */
