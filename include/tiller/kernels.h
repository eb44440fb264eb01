/*
 * tiller/kernels.h: what the numeric kernels show outside: the CPU's instruction set they run
 * on (chosen once at start; TILLER_ISA=portable|avx2|avx512 caps it) and the RoPE pair order
 * a model config names. The kernels themselves are internal (src/kernels/).
 */
#ifndef TILLER_KERNELS_H
#define TILLER_KERNELS_H

#include "tiller/base.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* The order of RoPE pairs in q/k rows (a model config field, read by the rope kernels). */
typedef enum {
    TL_ROPE_INTERLEAVED = 0, /* llama2.c / GGUF: rotate (x[2i], x[2i+1]) */
    TL_ROPE_HALF = 1,        /* Hugging Face / NeoX: rotate (x[i], x[i + D/2]) */
} tl_rope_layout;

typedef enum { TL_ISA_PORTABLE = 0, TL_ISA_AVX2 = 1, TL_ISA_AVX512 = 2 } tl_isa;
/* Best ISA this CPU supports (detected once; TILLER_ISA=portable|avx2|avx512
 * caps it, so tests can compare every path against the portable reference). */
tl_isa tl_cpu_isa(void);
const char *tl_isa_name(tl_isa isa);
/* The CPU's model name from /proc/cpuinfo ("unknown CPU" elsewhere), for reports. */
void tl_cpu_model_name(char *buf, size_t cap);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_KERNELS_H */
