/* arch.c: the traits of each block architecture and the math only non-llama blocks use. */
#include <math.h>
#include <string.h>

#include "arch.h"
#include "kernels/kernels.h"

static const tl_arch_traits traits[TL_ARCH__COUNT] = {
    /*            name       norm                   qkv_b out_b gated par fused train */
    [TL_ARCH_LLAMA] = {"llama", TL_NORM_RMS, 0, 0, 1, 0, 0, 1},
    [TL_ARCH_QWEN2] = {"qwen2", TL_NORM_RMS, 1, 0, 1, 0, 0, 0},
    [TL_ARCH_GPTNEOX] = {"gptneox", TL_NORM_LAYER, 1, 1, 0, 1, 1, 0},
    [TL_ARCH_OLMO] = {"olmo", TL_NORM_LAYER_NOPARAM, 0, 0, 1, 0, 0, 0},
};

const tl_arch_traits *tl_arch_traits_of(tl_arch a) {
    return (unsigned)a < TL_ARCH__COUNT ? &traits[a] : &traits[TL_ARCH_LLAMA];
}

const char *tl_arch_name(tl_arch a) { return (unsigned)a < TL_ARCH__COUNT ? traits[a].name : "?"; }

tl_status tl_arch_parse(const char *name, tl_arch *out) {
    for (int a = 0; a < TL_ARCH__COUNT; a++)
        if (!strcmp(name, traits[a].name)) {
            *out = (tl_arch)a;
            return TL_OK;
        }
    return tl_errorf(TL_E_UNSUPPORTED, "architecture '%.64s' is not supported (llama, qwen2, gptneox, olmo)", name);
}

/* LayerNorm of one row, mean and variance in double (biased variance, as torch). */
static void layernorm_row(float *out, const float *x, const float *w, const float *b, int C, float eps) {
    double mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= C;
    for (int i = 0; i < C; i++) var += ((double)x[i] - mean) * ((double)x[i] - mean);
    float inv = (float)(1.0 / sqrt(var / C + (double)eps)), m = (float)mean;
    for (int i = 0; i < C; i++) {
        float y = (x[i] - m) * inv;
        if (w) y *= w[i];
        if (b) y += b[i];
        out[i] = y;
    }
}

void tl_arch_norm(const tl_config *c, float *out, const float *x, const float *w, const float *b, int T, int C) {
    tl_norm_kind k = tl_arch_traits_of(c->arch)->norm;
    if (k == TL_NORM_RMS) {
        tl_rmsnorm_forward(out, NULL, x, w, T, C, c->norm_eps);
        return;
    }
#pragma omp parallel for schedule(static) if (T > 1)
    for (int t = 0; t < T; t++)
        layernorm_row(out + (int64_t)t * C, x + (int64_t)t * C, k == TL_NORM_LAYER ? w : NULL,
                      k == TL_NORM_LAYER ? b : NULL, C, c->norm_eps);
}

void tl_add_bias(float *x, const float *b, int T, int n) {
    if (!b) return;
    for (int t = 0; t < T; t++) {
        float *row = x + (int64_t)t * n;
        for (int i = 0; i < n; i++) row[i] += b[i];
    }
}

void tl_clamp(float *x, int64_t n, float lim) {
    for (int64_t i = 0; i < n; i++) x[i] = x[i] < -lim ? -lim : x[i] > lim ? lim : x[i];
}

void tl_gelu_exact(float *x, int64_t n) {
#pragma omp parallel for schedule(static) if (n > 4096)
    for (int64_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

void tl_arch_qkv_finish(const tl_config *c, const tl_layer_params *p, float *q, float *k, float *v, int T) {
    int QD = c->n_heads * c->head_dim, KD = c->n_kv_heads * c->head_dim;
    tl_add_bias(q, p->bq, T, QD);
    tl_add_bias(k, p->bk, T, KD);
    tl_add_bias(v, p->bv, T, KD);
    if (c->clip_qkv > 0.0f) {
        tl_clamp(q, (int64_t)T * QD, c->clip_qkv);
        tl_clamp(k, (int64_t)T * KD, c->clip_qkv);
        tl_clamp(v, (int64_t)T * KD, c->clip_qkv);
    }
}
