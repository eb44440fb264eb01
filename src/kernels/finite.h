/*
 * finite.h: the load-time "are all weights finite?" scans, fast enough for multi-GB files:
 * an integer test of the exponent bits over blocks (auto-vectorised, no branch per value),
 * blocks split over OpenMP threads; the exact index of the first bad value is searched
 * only inside the first block that has one. Results do not depend on the thread count.
 */
#ifndef TL_KERNELS_FINITE_H
#define TL_KERNELS_FINITE_H

#include <stddef.h>
#include <stdint.h>

/* Index of the first non-finite (NaN or ±inf) value of n values, or -1. `type` is the ggml id of
 * F32 (0), F16 (1) or BF16 (30) (kernels/quant.h); x needs only 2-byte (halves) or 4-byte alignment. */
int64_t tl_first_nonfinite(uint32_t type, const void *x, int64_t n);

#endif /* TL_KERNELS_FINITE_H */
