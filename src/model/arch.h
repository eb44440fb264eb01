/*
 * arch: what each block architecture (tl_arch) changes against llama, as one row of traits,
 * and the few pieces of math the other architectures need (LayerNorm, exact GELU, biases,
 * clamping, RoPE on the leading dims of each head). The parameter layout (params.c) and the
 * forward pass (forward.c, arch_block.c) read the traits; no other flag says what a model is.
 */
#ifndef TL_MODEL_ARCH_H
#define TL_MODEL_ARCH_H

#include "model.h"

typedef enum {
    TL_NORM_RMS = 0,        /* x / rms(x) * w                           (llama, qwen2) */
    TL_NORM_LAYER,          /* (x - mean) / std * w + b                 (gptneox) */
    TL_NORM_LAYER_NOPARAM,  /* (x - mean) / std, no weight and no bias  (olmo) */
} tl_norm_kind;

typedef struct {
    const char *name;  /* GGUF general.architecture, also the prefix of its hyper-parameter keys */
    tl_norm_kind norm; /* every norm of the model: the two per block and the final one */
    int qkv_bias;      /* q, k, v projections carry biases */
    int out_bias;      /* attention output and both MLP matrices carry biases */
    int gated_mlp;     /* SwiGLU w_down(silu(w_gate x) * w_up x); else w_down(gelu(w_up x)) */
    int parallel;      /* x + attn(norm1 x) + mlp(norm2 x) instead of two sequential residual adds */
    int fused_qkv;     /* files store q, k, v as one attn_qkv tensor (GPT-NeoX) */
    int trainable;     /* the training forward/backward (src/train) implements it */
} tl_arch_traits;

const tl_arch_traits *tl_arch_traits_of(tl_arch a);

/* Leading dims of each head that RoPE rotates: c->rope_dims, or head_dim when 0. */
static inline int tl_config_rope_dims(const tl_config *c) { return c->rope_dims > 0 ? c->rope_dims : c->head_dim; }

/* The model's norm over rows: out[T, C] = norm(x[T, C]) with weight w and bias b (either may be
 * NULL when the architecture has none). In place (out == x) is allowed. */
void tl_arch_norm(const tl_config *c, float *out, const float *x, const float *w, const float *b, int T, int C);
/* x[T, n] += b[n] (nothing when b is NULL) */
void tl_add_bias(float *x, const float *b, int T, int n);
/* x[i] = clamp(x[i], -lim, lim) */
void tl_clamp(float *x, int64_t n, float lim);
/* x[i] = x[i] * Phi(x[i]) = 0.5 x (1 + erf(x / sqrt 2)): the exact GELU (HF's "gelu") */
void tl_gelu_exact(float *x, int64_t n);

/* After the q/k/v projections of a sequential block: add the biases (qwen2) and clamp
 * (clip_qkv, olmo). q[T, H*D], k and v [T, Hkv*D] (k and v rows of the KV cache). */
void tl_arch_qkv_finish(const tl_config *c, const tl_layer_params *p, float *q, float *k, float *v, int T);

/* ---- blocks of other architectures (arch_block.c), called by forward_chunk ---- */

/* One GPT-NeoX block with parallel residual on s->x[T, C] at positions s->pos..: x += attn(ln1 x)
 * + mlp(ln2 x), calling the attn_out and mlp_out hooks (resid_pre/post are the caller's). The
 * RoPE table s->rope_cs must hold the chunk's positions. f32 weights only. */
void tl_forward_parallel_block(tl_session *s, const tl_layer_params *p, int layer, int T);
/* forward.c: the session's hooks for (point, layer) on x[T, width] at s->pos. */
void tl_session_run_hooks(tl_session *s, tl_hook_point point, int layer, float *x, int T, int width);

#endif /* TL_MODEL_ARCH_H */
