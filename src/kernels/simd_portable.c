/* simd_portable.c: the plain-C table of inner loops (see simd.h): the reference
 * that the AVX2 and AVX-512 tables are tested against, and the path on CPUs
 * without them. Loops are written in the order of the original reference kernels. */
#include "simd.h"

/* shapes: out [T, O], inp [T, I], w [O, I], bias [O] or NULL; rows [o0, o1) */
static void matmul_rows_portable(float *out, const float *inp, const float *w, const float *bias,
                                 int T, int I, int O, int o0, int o1) {
    for (int o = o0; o < o1; o++) {
        const float *wr = w + (int64_t)o * I;
        for (int t = 0; t < T; t++) {
            const float *x = inp + (int64_t)t * I;
            float acc = bias ? bias[o] : 0.0f;
            for (int i = 0; i < I; i++) acc += x[i] * wr[i];
            out[(int64_t)t * O + o] = acc;
        }
    }
}

static void attn_scores_portable(float *att, const float *q, const float *k, int n, int stride,
                                 int D, float scale) {
    for (int j = 0; j < n; j++) {
        const float *kj = k + (int64_t)j * stride;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += q[d] * kj[d];
        att[j] = s * scale;
    }
}

static void attn_wsum_portable(float *out, const float *att, const float *v, int n, int stride,
                               int D) {
    for (int d = 0; d < D; d++) out[d] = 0.0f;
    for (int j = 0; j < n; j++) {
        const float *vj = v + (int64_t)j * stride;
        float a = att[j];
        for (int d = 0; d < D; d++) out[d] += a * vj[d];
    }
}

static float dot_portable(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static void axpy_portable(float *y, float a, const float *x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static float sumsq_portable(const float *x, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

static void scale_mul_portable(float *y, const float *x, float r, const float *w, int n) {
    for (int i = 0; i < n; i++) y[i] = x[i] * r * w[i];
}

static float max_portable(const float *x, int n) {
    float m = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

static void scale_portable(float *x, float s, int n) {
    for (int i = 0; i < n; i++) x[i] *= s;
}

static void add_portable(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

static float sum_portable(const float *x, int64_t n) {
    /* four chains so the bandwidth probe is not limited by add latency */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i];
        s1 += x[i + 1];
        s2 += x[i + 2];
        s3 += x[i + 3];
    }
    for (; i < n; i++) s0 += x[i];
    return (s0 + s1) + (s2 + s3);
}

const tl_simd tl_simd_portable = {
    .isa = TL_ISA_PORTABLE,
    .rows_max_T = 8,
    .matmul_rows = matmul_rows_portable,
    .attn_scores = attn_scores_portable,
    .attn_wsum = attn_wsum_portable,
    .dot = dot_portable,
    .axpy = axpy_portable,
    .sumsq = sumsq_portable,
    .scale_mul = scale_mul_portable,
    .max = max_portable,
    .scale = scale_portable,
    .add = add_portable,
    .sum = sum_portable,
};
