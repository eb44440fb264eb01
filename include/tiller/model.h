/*
 * tiller/model.h: the Llama-family model (config, load/save in tiller/format.h), the
 * inference session (KV cache, forward with named hook points), sampling and scoring of
 * token ids. Handles are opaque: read them through the accessors below.
 *
 * Generation with a tokenizer (tl_generate) and an example are in tiller/generate.h.
 */
#ifndef TILLER_MODEL_H
#define TILLER_MODEL_H

#include "tiller/base.h"
#include "tiller/kernels.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* The block architecture: which norm, which MLP, which biases, and how attention and MLP meet the
 * residual stream (model/arch.c holds one row of traits per value). Files say it by name:
 * general.architecture in GGUF, model_type in config.json. */
typedef enum {
    TL_ARCH_LLAMA = 0, /* RMSNorm, SwiGLU, no biases (also TinyLlama, SmolLM, Mistral-style dense models) */
    TL_ARCH_QWEN2,     /* llama plus q/k/v biases (Qwen2, Qwen2.5) */
    TL_ARCH_GPTNEOX,   /* Pythia: LayerNorm with bias, parallel attention + GELU MLP, partial RoPE, biases */
    TL_ARCH_OLMO,      /* OLMo (1B/7B, first release): non-parametric LayerNorm, SwiGLU, no biases, clip_qkv */
    TL_ARCH__COUNT
} tl_arch;
/* "llama", "qwen2", "gptneox", "olmo" (GGUF's general.architecture names). */
const char *tl_arch_name(tl_arch a);
/* The inverse of tl_arch_name; TL_E_UNSUPPORTED naming the supported ones otherwise. */
tl_status tl_arch_parse(const char *name, tl_arch *out);

typedef struct {
    int dim;         /* C: embedding width */
    int hidden_dim;  /* F: MLP hidden width (SwiGLU or GELU) */
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
    tl_arch arch;    /* 0 = llama (zero-initialised configs stay llama) */
    int rope_dims;   /* leading dims of each head that RoPE rotates (0 = head_dim; GPT-NeoX's rotary_pct) */
    float clip_qkv;  /* clamp q, k, v to [-clip_qkv, clip_qkv] after projection (OLMo; 0 = none) */
} tl_config;

/* Fill defaults (head_dim = dim / n_heads, theta 10000, eps 1e-5) for fields left 0. */
void tl_config_defaults(tl_config *c);
/* Validate sizes against each other and against absurd values; names `what` (a file) in the message. */
tl_status tl_config_check(const tl_config *c, const char *what);

/* ---- the model ------------------------------------------------------------ */

tl_status tl_model_new(const tl_config *c, tl_model **out);
void tl_model_free(tl_model *m);
/* A quantized model: fill the parameters with the dequantized matrices and drop the quantized
 * ones, for training and f32 saving (a no-op for f32 models). */
tl_status tl_model_dequantize(tl_model *m);
/* Initialise parameters like llama2.c's train.py: N(0, 0.02), out projections
 * scaled by 1/sqrt(2L), norms at 1. Deterministic for a seed. */
void tl_model_init_random(tl_model *m, uint64_t seed);

/* Accessors. The config is the model's (borrowed). A model holds no tokenizer: the loader
 * hands the one its file carries to the caller beside it (tl_model_load in tiller/format.h). */
const tl_config *tl_model_config(const tl_model *m);
const char *tl_model_source(const tl_model *m); /* the path it was loaded from, or NULL */
size_t tl_model_n_params(const tl_model *m);    /* floats in the parameter buffer */

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
void tl_hooks_clear(tl_hooks *hs); /* remove every hook */

/* ---- inference session: activations + KV cache ---------------------------- */

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

/* Accessors: the hooks a forward calls (add with tl_hooks_add; the session owns the table),
 * the cache length, the tokens already in the cache, the model. */
tl_hooks *tl_session_hooks(tl_session *s);
int tl_session_n_ctx(const tl_session *s);
int tl_session_pos(const tl_session *s);
const tl_model *tl_session_model(const tl_session *s);

/* ---- sampling ------------------------------------------------------------- */

typedef struct {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    uint64_t seed;
} tl_sampler_params;

typedef struct tl_sampler tl_sampler;
tl_status tl_sampler_new(const tl_sampler_params *p, int vocab, tl_sampler **out);
void tl_sampler_delete(tl_sampler *s);
int32_t tl_sampler_sample(tl_sampler *s, const float *logits);

/* ---- the training forward (forward_train.c; its backward is in tiller/train.h) ---- */

/* How attention is computed for a training batch.
 *   CAUSAL: query t sees keys 0..t (minus the key mask).
 *   BIDIR:  query t of row b also sees every key j < prefix[b] (prefix NULL: the whole
 *           row, BICO); keys after the query — in RoPE position — are scored with
 *           q and k rotated by -theta (mirrored RoPE, METHODS.md section 3), unless
 *           plain_rope (an ablation: ordinary RoPE for every pair).
 * pos gives each token's RoPE position (ABI keeps a span's original positions after
 * moving it); NULL = 0..T-1. With pos in CAUSAL mode, a key positioned after its query
 * is mirrored too. */
typedef enum { TL_ATTN_CAUSAL = 0, TL_ATTN_BIDIR = 1 } tl_attn_mode;

typedef struct {
    tl_attn_mode mode;
    const uint8_t *key_mask; /* [B, T], 1 = this position may not be attended (NULL = none) */
    const int *prefix;       /* [B] BIDIR: bidirectional keys per row, 0..T (NULL = T) */
    const int *pos;          /* [B, T] RoPE positions, each 0 .. 2^20 (NULL = 0..T-1) */
    const int *pos2;         /* [B, T] second position id (GLM-style 2-D RoPE: the odd rotary
                              * pairs turn by pos2, the even ones by pos; needs pos), or NULL */
    int plain_rope;          /* 1: never mirror (ablation) */
} tl_attn_spec;

typedef struct tl_train_acts tl_train_acts;

/* Allocate every saved activation and activation gradient for batches of B x T
 * (one arena; nothing is allocated per step). The biggest piece is the logits
 * [B*T, V], whose gradient reuses the same memory. */
tl_status tl_train_acts_new(const tl_config *c, int B, int T, tl_train_acts **out);
void tl_train_acts_free(tl_train_acts *a);
/* Bytes held by the arena and, once a batch needed it, the mirrored-RoPE buffers (for logs). */
size_t tl_train_acts_bytes(const tl_train_acts *a);

/* Forward for training. tokens, targets [B, T]; targets < 0 are not counted
 * (prompt tokens of SFT, padding). *loss = mean cross-entropy over counted targets
 * (0 when none is counted). attn may be NULL (causal, no mask). Positions restart at
 * 0 in every row. Fails with TL_E_ARG for a token or target outside the vocabulary,
 * an unknown attention mode, or acts planned for another config. */
tl_status tl_model_forward_train(const tl_model *m, tl_train_acts *a, const int32_t *tokens,
                                 const int32_t *targets, const tl_attn_spec *attn, float *loss);
/* The logits [B*T, V] of the last forward_train (before tl_model_backward). */
const float *tl_train_acts_logits(const tl_train_acts *a);
/* The final normed state xnf [B*T, dim] of the last forward_train (the LM head's input;
 * a scalar head, e.g. a reward model's, reads it). */
const float *tl_train_acts_state(const tl_train_acts *a);
/* The rows B and columns T the activations were planned for. */
void tl_train_acts_shape(const tl_train_acts *a, int *B, int *T);
/* ---- scoring -------------------------------------------------------------- */

/* Log-probabilities of `cont` tokens following `ctx` tokens (ctx should start with
 * BOS): logp[i] = log p(cont[i] | ctx, cont[<i]). Resets the session first. */
tl_status tl_score_tokens(tl_session *s, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
                          double *logp);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_MODEL_H */
