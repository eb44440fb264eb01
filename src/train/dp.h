/*
 * dp.h: internal to src/train — data parallelism for the trainer loop.
 *
 * A step's `accum` micro-batches are split over the ranks in contiguous blocks
 * (tl_dist_share). Every rank still draws every micro-batch from the batcher and
 * the objective (cheap), so data position, objective RNG and token counts stay the
 * same on every rank; only forward and backward are divided.
 *
 * The exact formulation: a micro-batch's gradient is computed into a zeroed buffer
 * (the first one straight into the zeroed `grads`), and the micro-batch gradients
 * are added one at a time in micro-batch order. One process does exactly that
 * (grads += scratch after each later micro-batch); N ranks send their micro-batch
 * gradients to rank 0, which adds them in the same order (tl_dist_sum_ordered) and
 * broadcasts the sum. So `mpirun -np N tiller train --batch B --accum A` is
 * bit-identical to `tiller train --batch B --accum A` for any N <= A at the same
 * thread count per process (docs/scale-out.md).
 */
#ifndef TL_TRAIN_DP_H
#define TL_TRAIN_DP_H

#include "tiller/train.h"

typedef struct {
    int accum;           /* micro-batches per step, over all ranks */
    int first, end;      /* this rank's micro-batches [first, end) */
    size_t n;            /* parameters */
    float *scratch;      /* [n] rank 0: a later micro-batch's gradient, or one received */
    float **terms;       /* [end - first][n] ranks > 0: each micro-batch's gradient */
    int n_terms;         /* terms filled this step */
    double *loss;        /* [accum] loss of each micro-batch (filled by its rank, else 0) */
    double *used;        /* [accum] 1 when it had a token to predict */
} tl_dp;

/* Collective, before training: every rank must use the same thread count (kernels sum in
 * an order that depends on it, and the ranks must take identical optimiser steps). */
tl_status tl_train_dist_check(int accum);
tl_status tl_dp_init(tl_dp *dp, int accum, size_t n_params);
void tl_dp_free(tl_dp *dp);
/* Start a step: zero grads, forget last step's terms and losses. */
void tl_dp_begin(tl_dp *dp, float *grads);
int tl_dp_mine(const tl_dp *dp, int a);
/* The zeroed buffer micro-batch a's backward accumulates into. */
float *tl_dp_target(tl_dp *dp, int a, float *grads);
/* Micro-batch a's backward is done (its loss is `loss`): fold it into grads (rank 0). */
void tl_dp_done(tl_dp *dp, int a, float *grads, float loss);
/* Collective: every rank learns every micro-batch's loss (dp->loss, dp->used). */
tl_status tl_dp_exchange_losses(tl_dp *dp);
/* Collective: grads on every rank = the ordered sum of all micro-batch gradients. */
tl_status tl_dp_reduce(tl_dp *dp, float *grads);

#endif /* TL_TRAIN_DP_H */
