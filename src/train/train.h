/*
 * train: training in tiller's own engine.
 *
 *   backward.c   tl_train_acts (saved activations + their gradients, one arena sized
 *                from (config, B, T) once), tl_model_forward_train, tl_model_backward
 *   optim.c      AdamW (decoupled weight decay, bias correction), global-norm clipping,
 *                warm-up + cosine learning-rate schedule
 *   objective.c  objectives as pluggable pieces: each turns a batch of token rows into
 *                (inputs, targets, attention spec); NTP, SFT (loss mask); later BICO, ABI
 *   data.c       token files (uint16/uint32, mmapped) and shuffled batches by seed
 *   trainer.c    the loop: accumulation, schedule, logs, checkpoint series, resume
 *
 * Gradients and AdamW moments are flat buffers shaped like tl_model.params, so
 * the update is one loop and tl_params_layer() gives per-layer views of them.
 */
#ifndef TL_TRAIN_H
#define TL_TRAIN_H

#include "model/model.h"

/* How attention is computed for a training batch. Causal is the default; the BICO
 * issue adds a bidirectional mode with mirrored RoPE and masked keys here. */
typedef enum { TL_ATTN_CAUSAL = 0 } tl_attn_mode;

typedef struct {
    tl_attn_mode mode;
    const uint8_t *key_mask; /* [B, T], 1 = this position may not be attended (NULL = none) */
} tl_attn_spec;

typedef struct tl_train_acts tl_train_acts;

/* Allocate every saved activation and activation gradient for batches of B x T. */
tl_status tl_train_acts_new(const tl_config *c, int B, int T, tl_train_acts **out);
void tl_train_acts_free(tl_train_acts *a);

/* Forward for training. tokens, targets [B, T]; targets < 0 are not counted
 * (prompt tokens of SFT, padding). *loss = mean cross-entropy over counted targets. */
tl_status tl_model_forward_train(const tl_model *m, tl_train_acts *a, const int32_t *tokens,
                                 const int32_t *targets, const tl_attn_spec *attn, float *loss);
/* Backward of the last forward_train: grads[n_params] += d loss / d params
 * (scaled by `scale`, e.g. 1/accumulation steps). */
void tl_model_backward(const tl_model *m, tl_train_acts *a, float *grads, float scale);

#endif /* TL_TRAIN_H */
