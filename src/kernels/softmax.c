/* softmax.c: numerically stable softmax in place. The max and the final scaling
 * are vector loops; exp stays libm's expf, so values match the reference up to
 * the order of the sum. */
#include <math.h>

#include "simd.h"

/* shapes: x [n] */
void tl_softmax(float *x, int n) {
    const tl_simd *k = tl_simd_get();
    float mx = k->max(x, n);
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    k->scale(x, 1.0f / sum, n);
}
