/* score.c: log-probability of a continuation given a context, from one forward
 * pass over ctx + cont (the lm-evaluation-harness way). */
#include <math.h>
#include <string.h>

#include "model.h"

typedef struct {
    const int32_t *all; /* ctx + cont */
    int n_ctx, n_all;
    double *logp;
} score_state;

/* Row at absolute position p predicts token p+1. */
static void score_rows(void *user, const float *logits, int T, int V, int pos0) {
    score_state *st = user;
    for (int t = 0; t < T; t++) {
        int p = pos0 + t, next = p + 1;
        if (next < st->n_ctx || next >= st->n_all) continue;
        const float *row = logits + (size_t)t * V;
        double mx = row[0], sum = 0;
        for (int i = 1; i < V; i++)
            if (row[i] > mx) mx = row[i];
        for (int i = 0; i < V; i++) sum += exp((double)row[i] - mx);
        st->logp[next - st->n_ctx] = (double)row[st->all[next]] - mx - log(sum);
    }
}

tl_status tl_score_tokens(tl_session *s, const int32_t *ctx, int n_ctx, const int32_t *cont, int n_cont,
                          double *logp) {
    if (n_ctx <= 0) return tl_errorf(TL_E_ARG, "score: the context needs at least one token (BOS)");
    if (n_cont <= 0) return tl_errorf(TL_E_ARG, "score: empty continuation");
    int n = n_ctx + n_cont;
    if (n > s->n_ctx)
        return tl_errorf(TL_E_RANGE, "score: %d tokens exceed the context of %d", n, s->n_ctx);
    int32_t *all = tl_malloc((size_t)n * sizeof(int32_t));
    if (!all) return tl_errorf(TL_E_NOMEM, "score: out of memory");
    memcpy(all, ctx, (size_t)n_ctx * sizeof(int32_t));
    memcpy(all + n_ctx, cont, (size_t)n_cont * sizeof(int32_t));
    score_state st = {all, n_ctx, n, logp};
    tl_session_reset(s);
    /* the last token's row predicts nothing we score: run n - 1 tokens */
    tl_status r = tl_forward_all(s, all, n - 1, score_rows, &st);
    tl_free(all);
    return r;
}
