/*
 * qweights: the matrices of a quantized model, kept as stored (in the mapped file):
 * one tl_qmat (type + pointer) per matrix. A model with qw != NULL computes its
 * forward pass from these; its flat f32 buffer (reserved, see tl_model_new_reserved)
 * holds the norms and any matrix the file stores as F32/F16/BF16 (slot type TL_Q_F32).
 * Training and f32 saving need real f32 weights: tl_model_dequantize makes them.
 */
#ifndef TL_MODEL_QWEIGHTS_H
#define TL_MODEL_QWEIGHTS_H

#include "kernels/quant.h"
#include "model.h"

/* per-layer matrices, in tl_layer_params order without the norms */
typedef enum { TL_QW_Q = 0, TL_QW_K, TL_QW_V, TL_QW_O, TL_QW_GATE, TL_QW_UP, TL_QW_DOWN, TL_QW__COUNT } tl_qw_slot;

typedef struct tl_qweights {
    tl_qmat tok_embd; /* [V, C] */
    tl_qmat output;   /* [V, C]; a copy of tok_embd when tied */
    tl_qmat *layers;  /* [L][TL_QW__COUNT]; type TL_Q_F32: f32 values at data (in the file), else in the f32 buffer */
    void *owner;      /* keeps the data alive (the open GGUF file) */
    int qk_half_split; /* llama q/k rows in Hugging Face's order (cfg.rope_layout HALF until dequantized) */
    void (*release)(void *owner);
} tl_qweights;

tl_status tl_qweights_new(int n_layers, tl_qweights **out);
void tl_qweights_free(tl_qweights *q);
static inline const tl_qmat *tl_qweights_layer(const tl_qweights *q, int layer) {
    return q->layers + (size_t)layer * TL_QW__COUNT;
}
/* The slot of a matrix by its GGUF name (token_embd.weight, output.weight, blk.N.attn_q.weight, ...), or NULL. */
tl_qmat *tl_qweights_slot(tl_qweights *q, int n_layers, const char *name);
/* Are the model's matrices finite (f32/f16/bf16 values; quantized blocks' f16 scales)? Else
 * TL_E_NUMERIC naming the tensor. The norms (in the f32 buffer) are the caller's to check.
 * embd_only: only the token-embedding table (model/finite_check.h says why). */
tl_status tl_qweights_check_finite(const tl_model *m, const char *path, int embd_only);
/* Name of the most common quantized matrix type ("Q4_K", ...) or "f32". */
const char *tl_model_weight_type(const tl_model *m);

#endif /* TL_MODEL_QWEIGHTS_H */
