/* cpu.c: run-time CPU feature detection, the kernel table it selects, and the
 * threading helpers every kernel uses to size its parallel regions. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd.h"

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

const tl_simd *tl_simd_for(tl_isa isa) {
    if (isa > tl_cpu_isa()) return NULL;
    switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case TL_ISA_AVX512: return &tl_simd_avx512;
    case TL_ISA_AVX2: return &tl_simd_avx2;
#endif
    case TL_ISA_PORTABLE: return &tl_simd_portable;
    default: return NULL;
    }
}

const tl_simd *tl_simd_get(void) {
    const tl_simd *k = tl_simd_for(tl_cpu_isa());
    return k ? k : &tl_simd_portable;
}

int tl_kernel_threads(int64_t work) {
    if (work < TL_PAR_MIN_WORK || omp_in_parallel()) return 1;
    return omp_get_max_threads();
}

void tl_split_range(int n, int parts, int part, int align, int *begin, int *end) {
    /* whole aligned units, spread as evenly as possible; the last part takes the tail */
    int units = n / align, extra = units % parts, per = units / parts;
    int b = part * per + (part < extra ? part : extra);
    int e = b + per + (part < extra ? 1 : 0);
    *begin = b * align;
    *end = part == parts - 1 ? n : e * align;
}

void tl_cpu_model_name(char *buf, size_t cap) {
    snprintf(buf, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        const char *v = strchr(line, ':');
        if (!v) break;
        v++;
        while (*v == ' ' || *v == '\t') v++;
        snprintf(buf, cap, "%s", v);
        buf[strcspn(buf, "\n")] = 0;
        break;
    }
    fclose(f);
}
