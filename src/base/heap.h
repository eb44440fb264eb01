/*
 * heap.h: one binary max-heap, generated per element type so the comparison
 * inlines (the tokenizers' merge loops run it per symbol pair).
 *
 *   TL_HEAP_DEFINE(name, T, CTX, ABOVE)
 *
 * defines `static void name_push(CTX ctx, T *v, size_t *n, T x)` and
 * `static T name_pop(CTX ctx, T *v, size_t *n)` over caller-owned storage
 * v[0 .. *n) (push needs room for one more element). ABOVE(ctx, a, b) is an
 * expression over pointers a and b that is true when *a ranks above *b.
 */
#ifndef TL_HEAP_H
#define TL_HEAP_H

#include <stddef.h>

#define TL_HEAP_DEFINE(name, T, CTX, ABOVE)                                                        \
    static inline void name##_push(CTX ctx, T *v, size_t *n, T x) {                                \
        (void)ctx;                                                                                 \
        size_t i = (*n)++;                                                                         \
        while (i > 0) {                                                                            \
            size_t p = (i - 1) / 2;                                                                \
            const T *a = &x, *b = &v[p];                                                           \
            if (!(ABOVE(ctx, a, b))) break;                                                        \
            v[i] = v[p];                                                                           \
            i = p;                                                                                 \
        }                                                                                          \
        v[i] = x;                                                                                  \
    }                                                                                              \
    static inline T name##_pop(CTX ctx, T *v, size_t *n) {                                         \
        (void)ctx;                                                                                 \
        T top = v[0], last = v[--(*n)];                                                            \
        size_t i = 0, m = *n;                                                                      \
        for (;;) {                                                                                 \
            size_t l = 2 * i + 1, r = l + 1, best = i;                                             \
            const T *bv = &last;                                                                   \
            if (l < m && (ABOVE(ctx, (&v[l]), bv))) {                                              \
                best = l;                                                                          \
                bv = &v[l];                                                                        \
            }                                                                                      \
            if (r < m && (ABOVE(ctx, (&v[r]), bv))) best = r;                                      \
            if (best == i) break;                                                                  \
            v[i] = v[best];                                                                        \
            i = best;                                                                              \
        }                                                                                          \
        if (m) v[i] = last;                                                                        \
        return top;                                                                                \
    }

#endif /* TL_HEAP_H */
