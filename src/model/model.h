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

typedef enum {
    TL_ROPE_INTERLEAVED = 0, /* llama2.c / GGUF: rotate (x[2i], x[2i+1]) */
    TL_ROPE_HALF = 1,        /* Hugging Face / NeoX: rotate (x[i], x[i + D/2]) */
} tl_rope_layout;

typedef struct {
    int dim;         /* C: embedding width */
    int hidden_dim;  /* F: SwiGLU hidden width */
    int n_layers;    /* L */
    int n_heads;     /* H */
    int n_kv_heads;  /* Hkv (divides H): GQA when < H, MQA when 1 */
    int head_dim;    /* D: usually C / H */
    int vocab_size;  /* V */
    int seq_len;     /* maximum context */
    float rope_theta;
    float norm_eps;
    int tied_embeddings; /* output matrix is the token embedding */
    tl_rope_layout rope_layout;
} tl_config;

/* Fill defaults (head_dim = dim / n_heads, theta 10000, eps 1e-5) for fields left 0. */
void tl_config_defaults(tl_config *c);
/* Validate sizes against each other and against absurd values; names `what` (a file) in the message. */
tl_status tl_config_check(const tl_config *c, const char *what);

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
} tl_layer_params;

typedef struct {
    float *tok_embd; /* [V, C] */
    float *out_norm; /* [C] */
    float *output;   /* [V, C]; == tok_embd when tied */
} tl_global_params;

/* Number of floats in the flat parameter buffer for this config. 0 on overflow. */
size_t tl_params_count(const tl_config *c);
/* Views into a flat buffer laid out as: tok_embd, layers 0..L-1 (in the order of
 * tl_layer_params), out_norm, output (absent when tied). Works on weights,
 * gradients and optimiser moments alike. */
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
    tl_tokenizer *tok; /* owned; NULL when the file carries none */
    char *source;      /* path it was loaded from (owned), for messages */
    /* RoPE beyond theta (GGUF files of Llama 3.1 and linearly scaled models): the angle
     * of pair i at position p is p * rope_freq_scale * theta^(-2i/D) / rope_freqs[i]. */
    float rope_freq_scale; /* 1 = none (0 is read as 1) */
    float *rope_freqs;     /* [D/2] frequency factors (tensor rope_freqs.weight), owned; NULL = none */
    struct tl_qweights *qw; /* quantized weights (model/qweights.h), owned; NULL for f32 models */
    size_t params_mapped;   /* > 0: params is an anonymous mapping of this many bytes (tl_model_new_reserved) */
};

tl_status tl_model_new(const tl_config *c, tl_model **out);
/* The same, but the parameter buffer is reserved address space (zero pages, resident
 * only where written): quantized models keep their matrices in the file and write only
 * norms and any f32/f16 matrices into it. */
tl_status tl_model_new_reserved(const tl_config *c, tl_model **out);
/* A quantized model (qw != NULL): fill params with the dequantized matrices and drop qw,
 * for training and f32 saving (no-op for f32 models). */
tl_status tl_model_dequantize(tl_model *m);
void tl_model_free(tl_model *m);
/* Initialise parameters like llama2.c's train.py: N(0, 0.02), out projections
 * scaled by 1/sqrt(2L), norms at 1. Deterministic for a seed. */
void tl_model_init_random(tl_model *m, uint64_t seed);

/* Load any supported file, by extension or magic: .gguf, .bin (llama2.c),
 * .safetensors or a directory holding model.safetensors + config.json. */
tl_status tl_model_load(const char *path, tl_model **out);
/* Save by extension: .gguf, .bin, .safetensors (config.json beside it), or a directory
 * (existing, or a path without extension) for the HF pair. tl_model_save_opts
 * (format/format.h) chooses the tensor dtype and the llama2.c version. */
tl_status tl_model_save(const tl_model *m, const char *path);

/* ---- hook points --------------------------------------------------------- */

typedef enum {
    TL_HOOK_EMBED = 0,   /* [T, C] token embeddings */
    TL_HOOK_RESID_PRE,   /* [T, C] residual stream entering block L */
    TL_HOOK_ATTN_OUT,    /* [T, C] attention output (after wo) of block L */
    TL_HOOK_MLP_OUT,     /* [T, C] MLP output of block L */
    TL_HOOK_RESID_POST,  /* [T, C] residual stream leaving block L */
    TL_HOOK_FINAL_NORM,  /* [T, C] after the final RMSNorm (input of the LM head) */
    TL_HOOK_LOGITS,      /* [T, V] */
    TL_HOOK__COUNT
} tl_hook_point;

/* A hook sees x[T, width] for T consecutive positions pos0 .. pos0+T-1 and may
 * change it in place (edit) or copy it out (capture). `layer` is -1 for
 * points outside blocks. */
typedef void (*tl_hook_fn)(void *user, tl_hook_point point, int layer, float *x, int T, int width,
                           int pos0);

#define TL_MAX_HOOKS 16
typedef struct {
    int n;
    struct {
        tl_hook_point point;
        int layer; /* -1 = every layer (for per-layer points) */
        tl_hook_fn fn;
        void *user;
    } h[TL_MAX_HOOKS];
} tl_hooks;

/* Parse "resid_post.3", "embed", "logits", "final_norm" ... layer = -1 when the
 * point has no layer or the name gives none ("resid_post" = all layers). */
tl_status tl_hook_parse(const char *name, tl_hook_point *point, int *layer);
const char *tl_hook_name(tl_hook_point p);
tl_status tl_hooks_add(tl_hooks *hs, tl_hook_point point, int layer, tl_hook_fn fn, void *user);

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
    tl_hooks hooks;
};

/* n_ctx <= 0 means the model's seq_len. max_batch <= 0 means 512 (capped at n_ctx). */
tl_status tl_session_new(const tl_model *m, int n_ctx, int max_batch, tl_session **out);
void tl_session_free(tl_session *s);
void tl_session_reset(tl_session *s); /* forget the cache */

/* Run T tokens at positions s->pos .. s->pos+T-1 through the model, appending to
 * the KV cache (T may exceed max_batch: it is processed in chunks). Only the
 * final token's logits are computed; *last_logits points at them ([V], owned by
 * the session, valid until the next call). Fails with TL_E_RANGE when the
 * tokens do not fit in the cache, TL_E_ARG for an id outside the vocabulary. */
tl_status tl_forward(tl_session *s, const int32_t *tokens, int T, const float **last_logits);
/* Same, but computes the logits of every position and hands them to fn chunk by
 * chunk (rows pos0 .. pos0+T-1), for scoring and training-free evaluation. */
typedef void (*tl_logits_fn)(void *user, const float *logits, int T, int V, int pos0);
tl_status tl_forward_all(tl_session *s, const int32_t *tokens, int T, tl_logits_fn fn, void *user);

/* ---- sampling ------------------------------------------------------------- */

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t seed;
} tl_sampler_params;

typedef struct {
    tl_sampler_params p;
    tl_rng rng;
    int V;
    float *probs;   /* [V] */
    void *sorted;   /* [V] (probability, id) pairs for top-k / top-p */
} tl_sampler;

tl_status tl_sampler_init(tl_sampler *s, const tl_sampler_params *p, int vocab);
void tl_sampler_free(tl_sampler *s);
int32_t tl_sampler_sample(tl_sampler *s, const float *logits);

/* ---- scoring -------------------------------------------------------------- */

/* Log-probabilities of `cont` tokens following `ctx` tokens (ctx should start with
 * BOS): logp[i] = log p(cont[i] | ctx, cont[<i]). Resets the session first. */
tl_status tl_score_tokens(tl_session *s, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
                          double *logp);

#endif /* TL_MODEL_H */
