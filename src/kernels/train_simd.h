/*
 * train_simd.h: the SIMD paths of the training kernels, chosen at run time by the
 * float entry points in attention.c, crossentropy.c and swiglu.c (same arguments, same
 * semantics; the tests compare them with the portable *_ref).
 */
#ifndef TL_TRAIN_SIMD_H
#define TL_TRAIN_SIMD_H

#include <stdint.h>

void tl_attention_train_forward_avx2(float *out, float *lse, const float *q, const float *k,
                                     const float *v, const uint8_t *key_mask, int B, int T, int H,
                                     int Hkv, int D, float *scratch, int n_scratch);
void tl_attention_train_backward_avx2(float *dq, float *dk, float *dv, const float *dout,
                                      const float *out, const float *q, const float *k,
                                      const float *v, const float *lse, const uint8_t *key_mask,
                                      int B, int T, int H, int Hkv, int D, float *scratch,
                                      int n_scratch);
/* floats of scratch per thread the AVX2 attention needs */
size_t tl_attention_train_scratch_avx2(int T, int D);

float tl_crossentropy_forward_avx2(float *losses, float *lse, const float *logits,
                                   const int32_t *targets, int N, int V);
void tl_crossentropy_backward_avx2(float *dlogits, const float *logits, const float *lse,
                                   const int32_t *targets, float dloss, int N, int V);

void tl_swiglu_forward_avx2(float *out, const float *gate, const float *up, int64_t N);
void tl_swiglu_backward_avx2(float *dgate, float *dup, const float *dout, const float *gate,
                             const float *up, int64_t N);

#endif /* TL_TRAIN_SIMD_H */
