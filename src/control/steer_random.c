/* steer_random.c: a random steering direction with the norms of a given vector, the control
 * for "any push of that size moves the score" (docs/steering.md, "The random-direction
 * baseline"). Added by the same hook at the same scale, it perturbs the residual stream
 * exactly as much as the vector it copies, in a direction that carries no dimension. */
#include <math.h>
#include <stdio.h>

#include "control/steer_vec.h"
#include "format/format.h" /* internal: errors, allocation */

tl_status tl_steer_random_like(const tl_steer_vec *like, int first, int last, uint64_t seed, tl_steer_vec **out) {
    *out = NULL;
    if (first < 1 || last < first || last >= like->n_layers)
        return tl_errorf(TL_E_ARG, "random steering direction: layers %d-%d outside 1-%d", first, last,
                         like->n_layers - 1);
    tl_steer_vec *v;
    tl_status s = tl_steer_vec_new(like->dim, like->n_layers, like->model_hint, &v);
    if (s) return s;
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int l = first; l <= last; l++) { /* one stream, layer by layer: deterministic for the seed */
        const float *src = like->dir + (size_t)l * like->dim;
        float *dst = v->dir + (size_t)l * v->dim;
        double want = 0, got = 0;
        for (int i = 0; i < v->dim; i++) {
            want += (double)src[i] * src[i];
            dst[i] = tl_rng_normal(&rng); /* isotropic: a uniform direction on the sphere once normalised */
            got += (double)dst[i] * dst[i];
        }
        double f = got > 0 ? sqrt(want / got) : 0;
        for (int i = 0; i < v->dim; i++) dst[i] = (float)(dst[i] * f);
        v->set[l] = like->set[l] && want > 0;
    }
    char info[160];
    snprintf(info, sizeof info, "random direction (Gaussian, seed %llu) with the norms of another vector, layers %d-%d",
             (unsigned long long)seed, first, last);
    if (!(v->info = tl_strdup(info))) {
        tl_steer_vec_free(v);
        return tl_errorf(TL_E_NOMEM, "random steering direction: out of memory");
    }
    *out = v;
    return TL_OK;
}
