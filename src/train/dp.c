/* dp.c: the data-parallel split of a training step and its ordered gradient sum (dp.h). */
#include "dp.h"

#include <math.h>
#include <string.h>
#include <time.h>

#include "base/base.h" /* internal: tl_errorf */
#include "optim_shard.h"
#include "tiller/dist.h"

#include <omp.h>

tl_status tl_train_dist_check(int accum) {
    int size = tl_dist_size(), rank = tl_dist_rank();
    double *threads = tl_calloc((size_t)size, sizeof *threads);
    if (!threads) return tl_errorf(TL_E_NOMEM, "train: out of memory");
    threads[rank] = omp_get_max_threads();
    tl_status s = tl_dist_sum_disjoint(threads, (size_t)size);
    for (int r = 1; r < size && s == TL_OK; r++)
        if (threads[r] != threads[0])
            s = tl_errorf(TL_E_ARG, "train: rank %d has %d threads, rank 0 has %d: every rank must use the same "
                          "--threads", r, (int)threads[r], (int)threads[0]);
    tl_free(threads);
    if (s == TL_OK && accum < size)
        s = tl_errorf(TL_E_ARG, "train: %d ranks but only %d micro-batches per step (--accum): give --accum a "
                      "multiple of the rank count", size, accum);
    s = tl_dist_agree(s); /* every rank found the same: rank 0 alone reports it */
    if (s == TL_OK && accum % size && rank == 0)
        tl_logf(TL_LOG_WARN, "train: --accum %d is not a multiple of %d ranks: some ranks do more micro-batches "
                "per step than others", accum, size);
    if (s == TL_OK && rank == 0)
        tl_logf(TL_LOG_INFO, "train: data-parallel over %d ranks, %d threads each, %d micro-batches per step",
                size, (int)omp_get_max_threads(), accum);
    return s;
}

/* Shard bounds at the gradient norm's block bounds, so that each block sum is computed by
 * one rank exactly as one process computes it. */
static void shard_bounds(size_t n, int size, size_t *bounds) {
    size_t blk = tl_grad_norm_block(n);
    for (int r = 0; r <= size; r++) {
        size_t b = (size_t)TL_GRAD_NORM_BLOCKS * (size_t)r / (size_t)size, e = b * blk;
        bounds[r] = e < n ? e : n;
    }
}

tl_status tl_dp_init(tl_dp *dp, int accum, size_t n_params) {
    memset(dp, 0, sizeof *dp);
    dp->accum = accum;
    dp->n = n_params;
    dp->rank = tl_dist_rank();
    dp->size = tl_dist_size();
    dp->loss = tl_calloc((size_t)accum, sizeof *dp->loss);
    dp->used = tl_calloc((size_t)accum, sizeof *dp->used);
    dp->bounds = tl_calloc((size_t)dp->size + 1, sizeof *dp->bounds);
    if (!dp->loss || !dp->used || !dp->bounds) return tl_errorf(TL_E_NOMEM, "train: out of memory");
    shard_bounds(n_params, dp->size, dp->bounds);
    if (dp->size == 1) {
        if (accum > 1 && !(dp->scratch = tl_malloc_aligned(n_params * sizeof(float))))
            return tl_errorf(TL_E_NOMEM, "train: cannot allocate a second gradient buffer of %zu parameters",
                             n_params);
        return TL_OK;
    }
    size_t own = dp->bounds[dp->rank + 1] - dp->bounds[dp->rank];
    for (int p = 0; p < 2; p++) {
        if (!(dp->buf[p] = tl_malloc_aligned(n_params * sizeof(float))))
            return tl_errorf(TL_E_NOMEM, "train: cannot allocate two more gradient buffers of %zu parameters",
                             n_params);
        dp->from[p] = tl_calloc((size_t)dp->size, sizeof *dp->from[p]);
        dp->sends[p] = tl_calloc((size_t)dp->size, sizeof *dp->sends[p]);
        if (!dp->from[p] || !dp->sends[p]) return tl_errorf(TL_E_NOMEM, "train: out of memory");
        for (int r = 0; r < dp->size; r++)
            if (r != dp->rank && !(dp->from[p][r] = tl_malloc_aligned((own ? own : 1) * sizeof(float))))
                return tl_errorf(TL_E_NOMEM, "train: cannot allocate %d receive buffers of %zu parameters",
                                 2 * (dp->size - 1), own);
    }
    return TL_OK;
}

void tl_dp_free(tl_dp *dp) {
    tl_free_aligned(dp->scratch);
    int in_flight = dp->req[0] || dp->req[1];
    for (int p = 0; p < 2; p++) {
        tl_dist_req_abandon(&dp->req[p]);
        if (in_flight) continue; /* an error stopped the job mid-exchange: MPI may still use them */
        tl_free_aligned(dp->buf[p]);
        if (dp->from[p])
            for (int r = 0; r < dp->size; r++) tl_free_aligned(dp->from[p][r]);
        tl_free(dp->from[p]);
        tl_free(dp->sends[p]);
    }
    tl_free(dp->bounds);
    tl_free(dp->loss);
    tl_free(dp->used);
    memset(dp, 0, sizeof *dp);
}

static double cpu_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tl_dp_mark(tl_dp *dp, int ph) {
    double now = tl_time_sec(), cpu = cpu_sec();
    dp->t[ph] += now - dp->t_mark;
    dp->c[ph] += cpu - dp->c_mark;
    dp->t_mark = now;
    dp->c_mark = cpu;
}

void tl_dp_timeline(const tl_dp *dp, char *buf, size_t cap) {
    static const char *names[TL_DP_PHASES] = {"data", "compute", "zero", "exchange", "fold", "agree", "optim", "gather"};
    size_t len = 0;
    buf[0] = 0;
    for (int p = 0; p < TL_DP_PHASES && len < cap; p++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %.3f/%.3f", p ? " " : "", names[p], dp->t[p], dp->c[p]);
}

void tl_dp_begin(tl_dp *dp, float *grads) {
    memset(dp->t, 0, sizeof dp->t);
    memset(dp->c, 0, sizeof dp->c);
    dp->t_mark = tl_time_sec();
    dp->c_mark = cpu_sec();
    /* one process: the first backward adds into grads. N ranks: each shard of grads is
     * written by its first fold (a copy), and nothing reads grads outside this rank's shard */
    if (dp->size == 1) memset(grads, 0, dp->n * sizeof(float));
    memset(dp->loss, 0, (size_t)dp->accum * sizeof *dp->loss);
    memset(dp->used, 0, (size_t)dp->accum * sizeof *dp->used);
    dp->acc_empty = 1;
    dp->round = 0;
    tl_dp_mark(dp, TL_DP_ZERO);
}

int tl_dp_mine(const tl_dp *dp, int a) { return a % dp->size == dp->rank; }

float *tl_dp_target(tl_dp *dp, int a, float *grads) {
    if (dp->size == 1 && dp->acc_empty) return grads; /* still zero: the first gradient goes straight in */
    tl_dp_mark(dp, TL_DP_COMPUTE); /* the forward */
    /* N ranks: this round's buffer was last sent two rounds ago, an exchange completed at the
     * end of the previous round; meanwhile let MPI move the previous round's */
    float *g = dp->size == 1 ? dp->scratch : dp->buf[dp->round & 1];
    if (dp->size > 1) tl_dist_progress(dp->req[(dp->round & 1) ^ 1]);
    memset(g, 0, dp->n * sizeof(float));
    tl_dp_mark(dp, TL_DP_ZERO);
    return g;
}

/* acc[i] = t[i] for the first term of the step, acc[i] += t[i] after: elementwise, so the
 * same bits however it is vectorised or threaded. */
static void fold(tl_dp *dp, float *acc, const float *t, size_t n) {
    if (dp->acc_empty) memcpy(acc, t, n * sizeof *acc);
    else {
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) acc[i] += t[i];
    }
    dp->acc_empty = 0;
}

/* Complete round parity p's exchange and add its terms into this rank's shard of grads, in
 * micro-batch order (rank r's term is micro-batch round0 + r). */
static tl_status finish_round(tl_dp *dp, int p, float *grads) {
    tl_status s = tl_dist_wait(&dp->req[p]);
    tl_dp_mark(dp, TL_DP_EXCHANGE);
    dp->open[p] = 0;
    size_t lo = dp->bounds[dp->rank], own = dp->bounds[dp->rank + 1] - lo;
    for (int r = 0; r < dp->size && s == TL_OK; r++)
        if (dp->sends[p][r]) fold(dp, grads + lo, r == dp->rank ? dp->buf[p] + lo : dp->from[p][r], own);
    tl_dp_mark(dp, TL_DP_FOLD);
    return s;
}

tl_status tl_dp_done(tl_dp *dp, int a, float *grads, int used, int computed, float loss) {
    tl_dp_mark(dp, TL_DP_COMPUTE);
    dp->used[a] = used != 0;
    if (computed) dp->loss[a] = loss;
    if (dp->size == 1) {
        if (!computed || !isfinite(loss)) return TL_OK; /* no backward ran; the step stops after the loss check */
        if (dp->acc_empty) dp->acc_empty = 0; /* the backward wrote straight into grads */
        else fold(dp, grads, dp->scratch, dp->n);
        tl_dp_mark(dp, TL_DP_FOLD);
        return TL_OK;
    }
    if (a % dp->size != dp->size - 1 && a != dp->accum - 1) return TL_OK; /* the round is not complete */
    /* The round's micro-batches round0 .. a: rank r computed round0 + r. Who sends is known to
     * every rank (used), whether or not a backward failed: the message pattern must not depend
     * on one rank's state. A failed backward sends garbage; the step stops at the loss check. */
    int round0 = a - a % dp->size, p = dp->round & 1;
    for (int r = 0; r < dp->size; r++) dp->sends[p][r] = round0 + r <= a && dp->used[round0 + r];
    tl_status s = tl_dist_exchange_start(dp->buf[p], dp->bounds, dp->sends[p], dp->from[p], &dp->req[p]);
    if (s) return s;
    dp->open[p] = 1;
    dp->round++;
    tl_dp_mark(dp, TL_DP_EXCHANGE);
    if (dp->open[p ^ 1] && (s = finish_round(dp, p ^ 1, grads))) return s; /* the previous round, in order */
    if (a == dp->accum - 1) s = finish_round(dp, p, grads); /* the step needs all of its gradient now */
    return s;
}

tl_status tl_dp_exchange_losses(tl_dp *dp) { return tl_dist_sum_disjoint(dp->loss, (size_t)dp->accum); }

tl_status tl_dp_update(tl_dp *dp, tl_adamw *opt, const tl_adamw_params *hp, float lr, float max_norm,
                       float *params, float *grads, double *norm) {
    if (dp->size == 1) {
        *norm = tl_grad_clip(grads, dp->n, max_norm);
        if (isfinite(*norm)) tl_adamw_step(opt, hp, lr, params, grads);
        tl_dp_mark(dp, TL_DP_OPTIM);
        return TL_OK;
    }
    /* tl_grad_clip and tl_adamw_step, each rank on its own shard (optim_shard.h) */
    double part[TL_GRAD_NORM_BLOCKS] = {0};
    int b0 = (int)((size_t)TL_GRAD_NORM_BLOCKS * (size_t)dp->rank / (size_t)dp->size),
        b1 = (int)((size_t)TL_GRAD_NORM_BLOCKS * (size_t)(dp->rank + 1) / (size_t)dp->size);
    tl_grad_norm_parts(grads, dp->n, b0, b1, part);
    tl_status s = tl_dist_sum_disjoint(part, TL_GRAD_NORM_BLOCKS); /* each slot from one rank: exact */
    if (s) return s;
    double total = 0;
    for (int b = 0; b < TL_GRAD_NORM_BLOCKS; b++) total += part[b];
    double full = sqrt(total);
    *norm = (float)full;
    if (!isfinite(*norm)) return TL_OK;
    size_t lo = dp->bounds[dp->rank], hi = dp->bounds[dp->rank + 1];
    if (max_norm > 0) { /* as tl_grad_clip */
        float coef = (float)((double)max_norm / (full + 1e-6));
        if (coef < 1.0f) {
#pragma omp parallel for schedule(static) if (hi - lo > 65536)
            for (size_t i = lo; i < hi; i++) grads[i] *= coef;
        }
    }
    tl_adamw_step_range(opt, hp, lr, params, grads, lo, hi);
    tl_dp_mark(dp, TL_DP_OPTIM);
    s = tl_dist_allgather_shards(params, dp->bounds);
    tl_dp_mark(dp, TL_DP_GATHER);
    return s;
}

tl_status tl_dp_gather_moments(tl_dp *dp, tl_adamw *opt) {
    tl_status s = tl_dist_gather_shards(opt->m, dp->bounds);
    return s ? s : tl_dist_gather_shards(opt->v, dp->bounds);
}
