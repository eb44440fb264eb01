/* dp.c: the data-parallel split of a training step and its ordered gradient sum (dp.h). */
#include "dp.h"

#include <math.h>
#include <string.h>

#include "base/base.h" /* internal: tl_errorf */
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
    if (s == TL_OK && accum % size && rank == 0)
        tl_logf(TL_LOG_WARN, "train: --accum %d is not a multiple of %d ranks: some ranks do more micro-batches "
                "per step than others", accum, size);
    if (s == TL_OK && rank == 0)
        tl_logf(TL_LOG_INFO, "train: data-parallel over %d ranks, %d threads each, %d micro-batches per step",
                size, (int)omp_get_max_threads(), accum);
    return s;
}

tl_status tl_dp_init(tl_dp *dp, int accum, size_t n_params) {
    memset(dp, 0, sizeof *dp);
    dp->accum = accum;
    dp->n = n_params;
    int64_t b, e;
    tl_dist_share(accum, &b, &e);
    dp->first = (int)b;
    dp->end = (int)e;
    dp->loss = tl_calloc((size_t)accum, sizeof *dp->loss);
    dp->used = tl_calloc((size_t)accum, sizeof *dp->used);
    if (!dp->loss || !dp->used) return tl_errorf(TL_E_NOMEM, "train: out of memory");
    int rank = tl_dist_rank(), size = tl_dist_size();
    if (rank == 0 && (accum > 1 || size > 1) && !(dp->scratch = tl_malloc_aligned(n_params * sizeof(float))))
        return tl_errorf(TL_E_NOMEM, "train: cannot allocate a second gradient buffer of %zu parameters", n_params);
    if (rank > 0 && dp->end > dp->first) {
        int k = dp->end - dp->first;
        if (!(dp->terms = tl_calloc((size_t)k, sizeof *dp->terms)))
            return tl_errorf(TL_E_NOMEM, "train: out of memory");
        for (int j = 0; j < k; j++)
            if (!(dp->terms[j] = tl_malloc_aligned(n_params * sizeof(float))))
                return tl_errorf(TL_E_NOMEM, "train: cannot allocate %d gradient buffers of %zu parameters", k,
                                 n_params);
    }
    return TL_OK;
}

void tl_dp_free(tl_dp *dp) {
    tl_free_aligned(dp->scratch);
    if (dp->terms)
        for (int j = 0; j < dp->end - dp->first; j++) tl_free_aligned(dp->terms[j]);
    tl_free(dp->terms);
    tl_free(dp->loss);
    tl_free(dp->used);
    memset(dp, 0, sizeof *dp);
}

void tl_dp_begin(tl_dp *dp, float *grads) {
    memset(grads, 0, dp->n * sizeof(float));
    memset(dp->loss, 0, (size_t)dp->accum * sizeof *dp->loss);
    memset(dp->used, 0, (size_t)dp->accum * sizeof *dp->used);
    dp->n_terms = 0;
}

int tl_dp_mine(const tl_dp *dp, int a) { return a >= dp->first && a < dp->end; }

/* Rank 0 folds as it goes: its first computed micro-batch lands in grads directly. */
static int folds_into_grads(const tl_dp *dp) { return tl_dist_rank() == 0; }

float *tl_dp_target(tl_dp *dp, int a, float *grads) {
    float *t;
    if (folds_into_grads(dp)) {
        int any = 0;
        for (int i = 0; i < a; i++) any |= dp->used[i] != 0;
        if (!any) return grads; /* still zero: the first gradient goes straight in */
        t = dp->scratch;
    } else {
        t = dp->terms[dp->n_terms];
    }
    memset(t, 0, dp->n * sizeof(float));
    return t;
}

void tl_dp_done(tl_dp *dp, int a, float *grads, float loss) {
    int first = 1;
    for (int i = 0; i < a; i++) first &= dp->used[i] == 0;
    dp->loss[a] = loss;
    dp->used[a] = 1;
    if (!isfinite(loss)) return; /* no backward ran; the step stops after the loss exchange */
    if (!folds_into_grads(dp)) {
        dp->n_terms++;
        return;
    }
    if (first) return;
    /* elementwise, so the same bits however it is vectorised or threaded */
    const float *s = dp->scratch;
    size_t n = dp->n;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) grads[i] += s[i];
}

tl_status tl_dp_exchange_losses(tl_dp *dp) {
    tl_status s = tl_dist_sum_disjoint(dp->loss, (size_t)dp->accum);
    return s ? s : tl_dist_sum_disjoint(dp->used, (size_t)dp->accum);
}

tl_status tl_dp_reduce(tl_dp *dp, float *grads) {
    int rank0_has_one = 0;
    for (int a = dp->first; a < dp->end; a++) rank0_has_one |= dp->used[a] != 0;
    /* only rank 0's answer matters (it is the one that adds) */
    return tl_dist_sum_ordered(grads, !rank0_has_one, dp->terms, dp->n_terms, dp->n, dp->scratch);
}
