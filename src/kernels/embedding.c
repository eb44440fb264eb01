/* embedding.c: token embedding lookup; forward/backward.
 * Written once over `real` (see generic.h): float for tiller, double for the gradient checks. */
#ifndef TL_GENERIC_BODY
#define TL_GENERIC_SELF "embedding.c"
#include "generic.h"
#else

/* shapes: out [N, C], table [V, C], tokens [N] (each in [0, V): callers check) */
void TL_FN(tl_embedding_forward)(real *out, const real *table, const int32_t *tokens, int N, int C) {
    for (int n = 0; n < N; n++)
        memcpy(out + (int64_t)n * C, table + (int64_t)tokens[n] * C, (size_t)C * sizeof(real));
}

/* shapes: dtable [V, C] (accumulated), dout [N, C], tokens [N].
 * Rows repeat tokens, so threads split the columns, not the rows: every entry of
 * dtable is summed by one thread in row order, the same for any thread count. */
void TL_FN(tl_embedding_backward)(real *dtable, const real *dout, const int32_t *tokens, int N,
                                  int C) {
    enum { BLK = 64 };
#pragma omp parallel for schedule(static) if ((int64_t)N * C > 65536)
    for (int i0 = 0; i0 < C; i0 += BLK) {
        int i1 = i0 + BLK < C ? i0 + BLK : C;
        for (int n = 0; n < N; n++) {
            real *d = dtable + (int64_t)tokens[n] * C;
            const real *g = dout + (int64_t)n * C;
            for (int i = i0; i < i1; i++) d[i] += g[i];
        }
    }
}

#endif /* TL_GENERIC_BODY */
