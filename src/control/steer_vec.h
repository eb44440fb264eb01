/* steer_vec.h (internal): the layout of a steering vector (steer.c), read by the
 * control and study modules and the tests; the public accessors are in tiller/steer.h. */
#ifndef TL_CONTROL_STEER_VEC_H
#define TL_CONTROL_STEER_VEC_H

#include "tiller/steer.h"

struct tl_steer_vec {
    int dim;            /* C */
    int n_layers;       /* L (the model's): directions for 1 .. L - 1 */
    float *dir;         /* [L, C] */
    unsigned char *set; /* [L] 1 where a direction was built (0: all zeros) */
    char *model_hint;   /* controlvector.model_hint ("llama") */
    char *info;         /* free text stored as tiller.steer.info (how it was built), may be NULL */
};

#endif /* TL_CONTROL_STEER_VEC_H */
