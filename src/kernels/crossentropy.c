/* crossentropy.c: softmax cross-entropy of logits against target ids, averaged over
 * the rows whose target is counted (target >= 0); forward/backward.
 * Written once over `real` (see generic.h): float for tiller, double for the gradient checks. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "crossentropy.c"
#include "generic.h"
#include "train_simd.h"

float tl_crossentropy_forward(float *losses, float *lse, const float *logits,
                              const int32_t *targets, int N, int V) {
    if (tl_cpu_isa() >= TL_ISA_AVX2)
        return tl_crossentropy_forward_avx2(losses, lse, logits, targets, N, V);
    return tl_crossentropy_forward_ref(losses, lse, logits, targets, N, V);
}

void tl_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                              const int32_t *targets, float dloss, int N, int V) {
    if (tl_cpu_isa() >= TL_ISA_AVX2)
        tl_crossentropy_backward_avx2(dlogits, logits, lse, targets, dloss, N, V);
    else
        tl_crossentropy_backward_ref(dlogits, logits, lse, targets, dloss, N, V);
}
#else

/* shapes: losses [N] (0 where not counted; may be NULL), lse [N] (log-sum-exp of each
 * row, saved for backward), logits [N, V], targets [N] (< 0 = not counted, else < V).
 * Returns the mean loss over counted rows (0 when none). Sums run in double and in
 * row order, so the mean is the same for any thread count. */
real TL_REF(tl_crossentropy_forward)(real *losses, real *lse, const real *logits,
                                    const int32_t *targets, int N, int V) {
#pragma omp parallel for schedule(static) if ((int64_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        const real *x = logits + (int64_t)n * V;
        real mx = x[0];
        for (int i = 1; i < V; i++)
            if (x[i] > mx) mx = x[i];
        double sum = 0;
        for (int i = 0; i < V; i++) sum += (double)rexp_(x[i] - mx);
        lse[n] = mx + (real)log(sum);
        if (losses) losses[n] = targets[n] >= 0 ? lse[n] - x[targets[n]] : 0;
    }
    double total = 0;
    int counted = 0;
    for (int n = 0; n < N; n++) {
        if (targets[n] < 0) continue;
        total += (double)(lse[n] - logits[(int64_t)n * V + targets[n]]);
        counted++;
    }
    return counted ? (real)(total / counted) : 0;
}

/* shapes: dlogits [N, V], logits [N, V], lse [N], targets [N].
 * dlogits = dloss / n_counted * (softmax(logits) - onehot(target)), 0 in rows not
 * counted: the gradient of dloss * mean loss. Unlike other backwards this WRITES
 * rather than accumulates, so that dlogits may be the logits buffer itself (the
 * [N, V] logits of a 32000-word vocabulary are the biggest activation; their
 * gradient reuses the memory). */
void TL_REF(tl_crossentropy_backward)(real *dlogits, const real *logits, const real *lse,
                                     const int32_t *targets, real dloss, int N, int V) {
    int counted = 0;
    for (int n = 0; n < N; n++) counted += targets[n] >= 0;
    real dl = counted ? dloss / (real)counted : 0;
#pragma omp parallel for schedule(static) if ((int64_t)N * V > 65536)
    for (int n = 0; n < N; n++) {
        const real *x = logits + (int64_t)n * V;
        real *dx = dlogits + (int64_t)n * V;
        if (targets[n] < 0) {
            memset(dx, 0, (size_t)V * sizeof(real));
            continue;
        }
        real l = lse[n];
        for (int i = 0; i < V; i++) dx[i] = dl * rexp_(x[i] - l);
        dx[targets[n]] -= dl;
    }
}

#endif /* TL_GENERIC_BODY */
