/*
 * optim_shard.h: internal to src/train — the optimiser's pieces on a range of the
 * parameters, for the data-parallel step in which each rank updates its own shard
 * (dp.c). Each piece computes exactly what the whole-buffer function computes on
 * that range, so a sharded step gives the same bits as tl_grad_clip + tl_adamw_step.
 */
#ifndef TL_TRAIN_OPTIM_SHARD_H
#define TL_TRAIN_OPTIM_SHARD_H

#include <stddef.h>

#include "tiller/train.h"

/* tl_grad_norm sums squares in this many blocks of tl_grad_norm_block(n) floats
 * (the last one shorter), then adds the block sums in block order. */
enum { TL_GRAD_NORM_BLOCKS = 256 };
size_t tl_grad_norm_block(size_t n);
/* part[b] = the sum of squares of block b, for b in [b0, b1) (the other slots untouched). */
void tl_grad_norm_parts(const float *grads, size_t n, int b0, int b1, double *part);
/* tl_adamw_step restricted to params[lo, hi): the step count still advances by one. */
void tl_adamw_step_range(tl_adamw *o, const tl_adamw_params *hp, float lr, float *params, const float *grads,
                         size_t lo, size_t hi);

#endif /* TL_TRAIN_OPTIM_SHARD_H */
