/* alloc.c: allocation wrappers. Every allocation in tiller goes through here so
 * tests can fail the n-th one (tl_alloc_fail_after) and reach every TL_E_NOMEM path. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "base.h"

/* Test hook, not library behaviour: 0 = never fail. */
static atomic_long tl_alloc_countdown;

void tl_alloc_fail_after(long n) { atomic_store(&tl_alloc_countdown, n); }

static int tl_alloc_should_fail(void) {
    long c = atomic_load(&tl_alloc_countdown);
    if (c <= 0) return 0;
    c = atomic_fetch_sub(&tl_alloc_countdown, 1);
    return c == 1;
}

void *tl_malloc(size_t n) {
    if (tl_alloc_should_fail()) return NULL;
    return malloc(n ? n : 1);
}

void *tl_calloc(size_t count, size_t size) {
    if (tl_alloc_should_fail()) return NULL;
    return calloc(count ? count : 1, size ? size : 1);
}

void *tl_realloc(void *p, size_t n) {
    if (tl_alloc_should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

void tl_free(void *p) { free(p); }

char *tl_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = tl_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Buffers from this size on (weights, KV caches) start on a 2 MiB boundary and
 * are offered to transparent huge pages: decode streams the weights, and with
 * 4 KiB pages every 4 KiB of every stream costs a TLB miss. */
#define TL_HUGE_MIN ((size_t)8 << 20)
#define TL_HUGE_PAGE ((size_t)2 << 20)

void *tl_malloc_aligned(size_t n) {
    if (tl_alloc_should_fail()) return NULL;
    void *p = NULL;
    size_t rounded = (n + 63) & ~(size_t)63;
    if (rounded < n) return NULL;
    size_t align = rounded >= TL_HUGE_MIN ? TL_HUGE_PAGE : 64;
    if (posix_memalign(&p, align, rounded ? rounded : 64) != 0) return NULL;
#ifdef MADV_HUGEPAGE
    /* advice only: where THP is off or unsupported this fails harmlessly */
    if (align == TL_HUGE_PAGE) (void)madvise(p, rounded & ~(TL_HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
    return p;
}

void tl_free_aligned(void *p) { free(p); }
