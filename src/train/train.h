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
 *
 * One step:
 *     tl_model_forward_train(m, acts, tokens, targets, NULL, &loss);   // any number of
 *     tl_model_backward(m, acts, grads, 1.0f / accum);                 // times (accumulation)
 *     float norm = tl_grad_clip(grads, m->n_params, 1.0f);
 *     tl_adamw_step(opt, &hp, tl_lr_at(&sched, opt->step), m->params, grads);
 *     memset(grads, 0, m->n_params * sizeof(float));
 */
#ifndef TL_TRAIN_H
#define TL_TRAIN_H

#include "model/model.h"

/* How attention is computed for a training batch. Causal is the default; the BICO
 * issue adds a bidirectional mode with mirrored RoPE here. */
typedef enum { TL_ATTN_CAUSAL = 0 } tl_attn_mode;

typedef struct {
    tl_attn_mode mode;
    const uint8_t *key_mask; /* [B, T], 1 = this position may not be attended (NULL = none) */
} tl_attn_spec;

/* ---- forward / backward (backward.c) -------------------------------------- */

typedef struct tl_train_acts tl_train_acts;

/* Allocate every saved activation and activation gradient for batches of B x T
 * (one arena; nothing is allocated per step). The biggest piece is the logits
 * [B*T, V], whose gradient reuses the same memory. */
tl_status tl_train_acts_new(const tl_config *c, int B, int T, tl_train_acts **out);
void tl_train_acts_free(tl_train_acts *a);
/* Bytes held by the arena (for logs). */
size_t tl_train_acts_bytes(const tl_train_acts *a);

/* Forward for training. tokens, targets [B, T]; targets < 0 are not counted
 * (prompt tokens of SFT, padding). *loss = mean cross-entropy over counted targets
 * (0 when none is counted). attn may be NULL (causal, no mask). Positions restart at
 * 0 in every row. Fails with TL_E_ARG for a token or target outside the vocabulary,
 * an unknown attention mode, or acts planned for another config. */
tl_status tl_model_forward_train(const tl_model *m, tl_train_acts *a, const int32_t *tokens,
                                 const int32_t *targets, const tl_attn_spec *attn, float *loss);
/* Backward of the last forward_train: grads[n_params] += scale * d loss / d params
 * (scale e.g. 1/accumulation steps). Does nothing if no forward_train succeeded
 * since the acts were made. Overwrites the saved logits (their gradient takes
 * their place), so call it once per forward_train. */
void tl_model_backward(const tl_model *m, tl_train_acts *a, float *grads, float scale);

/* The logits [B*T, V] of the last forward_train (before tl_model_backward). */
const float *tl_train_acts_logits(const tl_train_acts *a);

/* ---- optimiser (optim.c) ---------------------------------------------------- */

/* AdamW hyper-parameters other than the learning rate (which the schedule gives). */
typedef struct {
    float beta1;        /* 0.9 */
    float beta2;        /* 0.95 or 0.999 */
    float eps;          /* 1e-8, added after the square root of the corrected v */
    float weight_decay; /* decoupled: p -= lr * wd * p, before the Adam update */
} tl_adamw_params;

/* AdamW state: moments laid out like params, and the step count. */
typedef struct {
    tl_config cfg;
    size_t n;     /* floats in params, grads, m, v */
    int64_t step; /* updates taken so far (t of the bias corrections is step + 1) */
    float *m;     /* [n] first moment */
    float *v;     /* [n] second moment */
} tl_adamw;

tl_status tl_adamw_new(const tl_config *c, tl_adamw **out);
void tl_adamw_free(tl_adamw *o);
/* One update of params[n] by grads[n] at learning rate lr, exactly as
 * torch.optim.AdamW: t = ++step; p *= 1 - lr*wd; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 * Weight decay applies to the matrices (embeddings, projections, output) and not
 * to the RMSNorm gains: the parameter groups of llama2.c / nanoGPT. */
void tl_adamw_step(tl_adamw *o, const tl_adamw_params *hp, float lr, float *params,
                   const float *grads);

/* Global L2 norm of grads[n] (computed in double, in fixed-size blocks summed in
 * order: the same for any thread count). */
double tl_grad_norm(const float *grads, size_t n);
/* torch.nn.utils.clip_grad_norm_: when the norm exceeds max_norm, scale grads by
 * max_norm / (norm + 1e-6). max_norm <= 0 disables clipping. Returns the norm
 * before clipping. */
float tl_grad_clip(float *grads, size_t n, float max_norm);

/* Learning rate at a step (0-based index of the update about to be taken):
 *   step <  warmup:  lr * (step + 1) / warmup     (linear; the first update is
 *                                                  already non-zero, the warmup-th
 *                                                  reaches the peak)
 *   warmup <= step <= total: cosine from lr down to lr * min_ratio at step = total
 *   step >  total:   lr * min_ratio
 * warmup = 0 skips the warm-up; total <= warmup keeps the peak after warm-up. */
typedef struct {
    float lr;         /* peak learning rate */
    int64_t warmup;   /* warm-up steps */
    int64_t total;    /* step where the cosine reaches its floor (usually the run's length) */
    float min_ratio;  /* floor = lr * min_ratio (e.g. 0.1) */
} tl_lr_schedule;
float tl_lr_at(const tl_lr_schedule *s, int64_t step);

#endif /* TL_TRAIN_H */
