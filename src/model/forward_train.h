/* forward_train.h (internal): the saved activations of the training forward
 * (model/forward_train.c), which its backward (train/backward.c) reads, and the
 * per-layer views both walk. The public part (tl_train_acts_new, tl_model_forward_train,
 * tl_attn_spec) is in tiller/model.h; tl_model_backward is in tiller/train.h. */
#ifndef TL_MODEL_FORWARD_TRAIN_H
#define TL_MODEL_FORWARD_TRAIN_H

#include "kernels/kernels.h"
#include "model.h"

/* Every buffer lives in one arena planned from (config, B, T). Saved activations
 * are per layer ([L, ...], layer-major); gradients of activations are needed one
 * layer at a time, so there is one set, reused from the top layer down. */
struct tl_train_acts {
    tl_config cfg;
    int B, T, BT;
    int n_threads;
    int ready; /* a forward_train succeeded and backward has not consumed it */
    /* saved by forward_train */
    float *resid;     /* [L+1, BT, C] residual stream entering layer l (l = L: the final norm) */
    float *resid_mid; /* [L, BT, C] residual stream after the attention block */
    float *xn1;       /* [L, BT, C] rmsnorm(resid) (input of wq, wk, wv) */
    float *rstd1;     /* [L, BT] */
    float *q;         /* [L, BT, H*D] rotated */
    float *k;         /* [L, BT, Hkv*D] rotated */
    float *v;         /* [L, BT, Hkv*D] */
    float *att;       /* [L, BT, H*D] attention output (input of wo) */
    float *att_lse;   /* [L, B, H, T] log-sum-exp of each query */
    float *xn2;       /* [L, BT, C] rmsnorm(resid_mid) (input of w_gate, w_up) */
    float *rstd2;     /* [L, BT] */
    float *gate;      /* [L, BT, F] */
    float *up;        /* [L, BT, F] */
    float *hid;       /* [L, BT, F] silu(gate) * up (input of w_down) */
    float *xnf;       /* [BT, C] final norm (input of the LM head) */
    float *rstdf;     /* [BT] */
    float *logits;    /* [BT, V]; backward turns it into d logits in place */
    float *ce_lse;    /* [BT] */
    /* gradients of activations, one layer at a time */
    float *dres;  /* [BT, C] d loss / d residual stream, flowing down */
    float *dxn;   /* [BT, C] d rmsnorm output */
    float *dq;    /* [BT, H*D] */
    float *dk;    /* [BT, Hkv*D] */
    float *dv;    /* [BT, Hkv*D] */
    float *datt;  /* [BT, H*D] */
    float *dgate; /* [BT, F] */
    float *dup;   /* [BT, F] */
    float *dhid;  /* [BT, F] */
    float *scratch; /* [threads, tl_attention_train_scratch(T, D)] attention work space */
    /* inputs of the last forward, copied (backward needs them after the caller moves on) */
    int32_t *tokens;   /* [BT] */
    int32_t *targets;  /* [BT] */
    int *pos;          /* [BT] RoPE position of each row (default: index within its sequence) */
    int *pos2;         /* [BT] second position id (2-D RoPE), when custom_pos2 */
    uint8_t *dim_pos2; /* [head_dim] the dims the odd rotary pairs occupy (tl_rope2d_dims) */
    uint8_t *key_mask; /* [BT] */
    int *prefix;       /* [B] bidirectional keys per sequence (BIDIR mode) */
    int has_mask;
    int bidir;         /* the last forward used prefix */
    int mirror;        /* the last forward used the mirrored pair (qm, km) */
    int custom_pos;    /* the last forward's positions came from the spec */
    int custom_pos2;   /* the last forward used 2-D positions (spec pos2) */
    void *arena;
    size_t bytes;
    /* the mirrored-RoPE pair, allocated on the first forward that needs it:
     * qm [L, BT, H*D], km [L, BT, Hkv*D] saved; dqm [BT, H*D], dkm [BT, Hkv*D] */
    float *qm, *km, *dqm, *dkm;
    void *mirror_arena;
    size_t mirror_bytes;
};

/* Per-layer views of the saved activations. */
typedef struct {
    float *resid, *resid_mid, *next, *xn1, *rstd1, *q, *k, *v, *att, *att_lse, *xn2, *rstd2, *gate,
        *up, *hid;
} tl_train_layer_acts;
void tl_train_acts_layer(const tl_train_acts *a, int l, tl_train_layer_acts *s);

/* out = a + b (the residual connection; its backward passes the gradient to both). */
void tl_train_add(float *out, const float *a, const float *b, int64_t n);

/* RoPE of x [n, nh, D] by sign: 1-D at pos, or 2-D (pos2 non-NULL: GLM-style, the odd
 * pairs turn by pos2). */
void tl_train_rope(float *x, const int *pos, const int *pos2, int n, int nh, int D, const tl_config *c, int sign);

#endif /* TL_MODEL_FORWARD_TRAIN_H */
