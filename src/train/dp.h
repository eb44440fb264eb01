/*
 * dp.h: internal to src/train — data parallelism for the trainer loop.
 *
 * A step's `accum` micro-batches are dealt to the ranks round-robin (micro-batch a
 * to rank a mod N). Every rank still draws every micro-batch from the batcher and
 * the objective (cheap), so data position, objective RNG and token counts stay the
 * same on every rank; only forward and backward are divided.
 *
 * The exact formulation: a micro-batch's gradient is computed into a zeroed buffer,
 * and the micro-batch gradients are added one at a time in micro-batch order (the
 * first one copied, not added to zeros). One process does exactly that (the first
 * straight into `grads`, each later one into `scratch`, then grads += scratch).
 * Under N ranks the parameters are cut into N shards (at the bounds of the
 * gradient norm's blocks) and each rank owns one: after each round of N
 * micro-batches, every rank sends each other rank that rank's shard of its
 * gradient, and each owner adds the round's terms into its shard of `grads` in
 * micro-batch order (elementwise, so the same bits as one process). The exchange of a
 * round runs while the next round computes (below). The gradient
 * norm is added from per-block sums in block order, and each rank clips and takes
 * the AdamW step on its own shard; the updated parameters are then copied to every
 * rank, and the optimiser moments gathered on rank 0 when it writes a checkpoint.
 * So `mpirun -np N tiller train --batch B --accum A` is bit-identical to
 * `tiller train --batch B --accum A` for any N <= A at the same thread count per
 * process (docs/scale-out.md).
 */
#ifndef TL_TRAIN_DP_H
#define TL_TRAIN_DP_H

#include "tiller/train.h"

/* Where a step's wall time goes on this rank (tl_dp_mark; `train --verbose` logs it per step). */
enum {
    TL_DP_DATA,     /* batcher and objective: every micro-batch, on every rank */
    TL_DP_COMPUTE,  /* forward and backward of this rank's micro-batches */
    TL_DP_ZERO,     /* zeroing the per-micro-batch gradient buffer */
    TL_DP_EXCHANGE, /* the shard exchange after each round: transfer and waiting for the slowest rank */
    TL_DP_FOLD,     /* adding the round's terms in micro-batch order */
    TL_DP_AGREE,    /* the status and loss exchange: waiting for the slowest rank */
    TL_DP_OPTIM,    /* norm parts, their exchange, clip and AdamW on this rank's shard */
    TL_DP_GATHER,   /* the all-gather of the updated parameters */
    TL_DP_PHASES
};

typedef struct {
    int accum;        /* micro-batches per step, over all ranks */
    int rank, size;   /* this process in the job */
    size_t n;         /* parameters */
    size_t *bounds;   /* [size + 1] rank r owns parameters [bounds[r], bounds[r+1]) */
    float *scratch;   /* [n] one process: a later micro-batch's gradient */
    /* N ranks, double-buffered by round parity p: round k's exchange is in flight while round
     * k + 1 computes, and is completed and folded at the end of round k + 1 (the last round of a
     * step at once). So a rank waits for another only when it is a whole round ahead. */
    float *buf[2];              /* [n] this rank's micro-batch gradient */
    float **from[2];            /* [size][own shard] the terms other ranks sent */
    int *sends[2];              /* [size] which ranks send in that round */
    int open[2];                /* a round started and not yet folded */
    struct tl_dist_req *req[2]; /* its exchange in flight */
    int round;                  /* rounds started this step */
    int acc_empty;    /* no gradient folded into grads yet this step */
    double *loss;     /* [accum] loss of each micro-batch (filled by its rank, else 0) */
    double *used;     /* [accum] 1 when it had a token to predict (every rank knows) */
    double t_mark, c_mark;  /* wall and process CPU seconds at the last mark */
    double t[TL_DP_PHASES]; /* wall seconds of the current step per phase */
    double c[TL_DP_PHASES]; /* process CPU seconds (all threads) of the current step per phase */
} tl_dp;

/* Collective, before training: every rank must use the same thread count (kernels sum in
 * an order that depends on it, and the ranks must take identical optimiser steps). */
tl_status tl_train_dist_check(int accum);
tl_status tl_dp_init(tl_dp *dp, int accum, size_t n_params);
void tl_dp_free(tl_dp *dp);
/* Add the seconds since the last mark (or tl_dp_begin) to phase `ph` of this step. */
void tl_dp_mark(tl_dp *dp, int ph);
/* "data 0.010/0.010 compute 3.100/3.050 ..." (wall/CPU seconds) for this step, into buf. */
void tl_dp_timeline(const tl_dp *dp, char *buf, size_t cap);
/* Start a step: zero grads, forget last step's losses. */
void tl_dp_begin(tl_dp *dp, float *grads);
int tl_dp_mine(const tl_dp *dp, int a);
/* The zeroed buffer micro-batch a's backward accumulates into. */
float *tl_dp_target(tl_dp *dp, int a, float *grads);
/* Every rank, for every micro-batch a in order: `used` = it had a token to predict;
 * `computed` = this rank ran its backward into tl_dp_target (its loss is `loss`).
 * Folds it into grads; under MPI collective at the end of each round of N micro-batches,
 * so a rank that fails must still call it (with computed = 0) for the rest of the step. */
tl_status tl_dp_done(tl_dp *dp, int a, float *grads, int used, int computed, float loss);
/* Collective: every rank learns every micro-batch's loss (dp->loss). */
tl_status tl_dp_exchange_losses(tl_dp *dp);
/* Collective: clip grads to max_norm (0: no clip) and take the AdamW step; params are
 * then the same on every rank. *norm = the gradient norm before clipping. */
tl_status tl_dp_update(tl_dp *dp, tl_adamw *opt, const tl_adamw_params *hp, float lr, float max_norm,
                       float *params, float *grads, double *norm);
/* Collective: rank 0's optimiser moments complete (before it writes the state). */
tl_status tl_dp_gather_moments(tl_dp *dp, tl_adamw *opt);

#endif /* TL_TRAIN_DP_H */
