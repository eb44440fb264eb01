/*
 * kernels_f64.h: the double-precision build of each kernel's portable reference
 * (the same source as the float kernels, see generic.h). Only tests use these: the
 * finite-difference checks of every backward run in double. Shapes and semantics
 * are those of the float functions in kernels.h.
 */
#ifndef TL_KERNELS_F64_H
#define TL_KERNELS_F64_H

#include <stdint.h>

#include "kernels.h"

void tl_rmsnorm_forward_f64(double *out, double *rstd, const double *inp, const double *w, int T,
                            int C, float eps);
void tl_rmsnorm_backward_f64(double *dinp, double *dw, const double *dout, const double *inp,
                             const double *w, const double *rstd, int T, int C);

void tl_rope_forward_f64(double *x, const int *pos, int T, int nh, int D, float theta,
                         tl_rope_layout layout, int sign);
void tl_rope_backward_f64(double *dx, const int *pos, int T, int nh, int D, float theta,
                          tl_rope_layout layout, int sign);

void tl_rope2d_forward_f64(double *x, const int *pos, const int *pos2, int T, int nh, int D, float theta,
                           tl_rope_layout layout, int sign);
void tl_rope2d_backward_f64(double *dx, const int *pos, const int *pos2, int T, int nh, int D, float theta,
                            tl_rope_layout layout, int sign);

void tl_swiglu_forward_f64(double *out, const double *gate, const double *up, int64_t N);
void tl_swiglu_backward_f64(double *dgate, double *dup, const double *dout, const double *gate,
                            const double *up, int64_t N);

void tl_attention_train_forward_f64(double *out, double *lse, const double *q, const double *k,
                                    const double *v, const uint8_t *key_mask, int B, int T, int H,
                                    int Hkv, int D, double *scratch, int n_scratch);
void tl_attention_train_backward_f64(double *dq, double *dk, double *dv, const double *dout,
                                     const double *out, const double *q, const double *k,
                                     const double *v, const double *lse, const uint8_t *key_mask,
                                     int B, int T, int H, int Hkv, int D, double *scratch,
                                     int n_scratch);

void tl_attention_train_forward_ex_f64(double *out, double *lse, const double *q,
                                       const double *k, const double *qm, const double *km,
                                       const double *v, const tl_attn_vis *vis, int B, int T,
                                       int H, int Hkv, int D, double *scratch, int n_scratch);
void tl_attention_train_backward_ex_f64(double *dq, double *dk, double *dqm, double *dkm,
                                        double *dv, const double *dout, const double *out,
                                        const double *q, const double *k, const double *qm,
                                        const double *km, const double *v, const double *lse,
                                        const tl_attn_vis *vis, int B, int T, int H, int Hkv,
                                        int D, double *scratch, int n_scratch);

void tl_embedding_forward_f64(double *out, const double *table, const int32_t *tokens, int N, int C);
void tl_embedding_backward_f64(double *dtable, const double *dout, const int32_t *tokens, int N,
                               int C);

double tl_crossentropy_forward_f64(double *losses, double *lse, const double *logits,
                                   const int32_t *targets, int N, int V);
void tl_crossentropy_backward_f64(double *dlogits, const double *logits, const double *lse,
                                  const int32_t *targets, double dloss, int N, int V);

#endif /* TL_KERNELS_F64_H */
