/* cpu.c: run-time CPU feature detection for kernel dispatch. */
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static tl_isa tl_detect_isa(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    tl_isa best = TL_ISA_PORTABLE;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = TL_ISA_AVX2;
    if (best == TL_ISA_AVX2 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq"))
        best = TL_ISA_AVX512;
#else
    tl_isa best = TL_ISA_PORTABLE;
#endif
    /* A cap for testing and benchmarking each path; never raises above the CPU's. */
    const char *cap = getenv("TILLER_ISA");
    if (cap) {
        tl_isa want = best;
        if (!strcmp(cap, "portable")) want = TL_ISA_PORTABLE;
        else if (!strcmp(cap, "avx2")) want = TL_ISA_AVX2;
        else if (!strcmp(cap, "avx512")) want = TL_ISA_AVX512;
        if (want < best) best = want;
    }
    return best;
}

tl_isa tl_cpu_isa(void) {
    static int detected = -1; /* set once; every thread computes the same value */
    int v = __atomic_load_n(&detected, __ATOMIC_RELAXED);
    if (v < 0) {
        v = (int)tl_detect_isa();
        __atomic_store_n(&detected, v, __ATOMIC_RELAXED);
    }
    return (tl_isa)v;
}

const char *tl_isa_name(tl_isa isa) {
    switch (isa) {
    case TL_ISA_AVX512: return "avx512";
    case TL_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}
