/*
 * simd_impl.h: the body of the AVX2 and AVX-512 kernel tables (see simd.h),
 * written once over a small vector vocabulary. The including file defines:
 *   VW             floats per vector (8 or 16)
 *   vf             the vector type
 *   MM_RB, V_TB    the matmul register tile: MM_RB weight rows (<= 4) x V_TB tokens
 *   v_zero() v_load(p) v_loadn(p, n) v_store(p, v) v_storen(p, v, n)
 *   v_fma(a, b, c) = a * b + c, v_add, v_mul, v_set1, v_max
 *   v_hsum4(a, b, c, d) -> __m128 {sum(a), sum(b), sum(c), sum(d)}, each by a fixed
 *                          tree that does not depend on the other three inputs
 *   v_hsum(a) -> float
 *   SIMD_SUFFIX    avx2 | avx512, and SIMD_ISA (the tl_isa value)
 * v_loadn/v_storen touch only the first n (< VW) floats; the rest load as 0.
 */
#ifndef SIMD_SUFFIX
#error "include simd_impl.h from matmul_avx2.c or matmul_avx512.c"
#endif

#define SIMD_CAT2(a, b) a##_##b
#define SIMD_CAT(a, b) SIMD_CAT2(a, b)
#define SIMD_FN(name) SIMD_CAT(name, SIMD_SUFFIX)

/* Decode (T = 1) streams weights from memory; software prefetch keeps more cache-line
 * requests in flight than the hardware prefetcher alone, which stops at every 4 KiB page
 * boundary. A block reads its rb rows side by side, MM_PF_FLOATS ahead in each row; past a
 * row's end the prefetch goes on in the same row of the next block (rb rows further), so the
 * stream keeps about rb * MM_PF_FLOATS floats in flight across row ends instead of stopping
 * at them (rows are only 768-2048 floats in the stories shapes). 512, 768, 1024 and 1536 measured
 * within noise of each other on one core (72-76 % of the read probe; the old in-row 512: 50-66 %). */
#ifndef MM_PF_HINT
#define MM_PF_HINT _MM_HINT_T0
#endif
#ifndef MM_PF_FLOATS
#define MM_PF_FLOATS 1024
#endif

/* One block: rows o .. o+rb-1, tokens t0 .. t0+tb-1, the whole inner dimension.
 * rb and tb are compile-time constants at every call site, so the accumulator
 * array lives in registers. The reduction of each (row, token) accumulator is
 * the same whatever rb and tb are (v_hsum4 lanes are independent). */
static inline __attribute__((always_inline)) void
SIMD_FN(mm_block_rs)(float *out, const float *inp, const float *w, const float *bias, int I, int O,
                     int o, int t0, const int rb, const int tb, const int rs) {
    vf acc[4][V_TB]; /* rows beyond rb unused */
    const float *wr[4];
    const float *xr[V_TB];
#pragma GCC unroll 8
    for (int r = 0; r < rb; r++) wr[r] = w + (int64_t)(o + r * rs) * I;
#pragma GCC unroll 8
    for (int t = 0; t < tb; t++) xr[t] = inp + (int64_t)(t0 + t) * I;
#pragma GCC unroll 8
    for (int r = 0; r < rb; r++)
#pragma GCC unroll 8
        for (int t = 0; t < tb; t++) acc[r][t] = v_zero();
    /* 64-byte steps (one cache line of each row, one prefetch), then single vectors.
     * Each accumulator takes its vectors in order either way, so the sums are the
     * same bits as a plain vector-by-vector loop. */
    const int pf = t0 == 0;                     /* later token blocks find the rows in L1 */
    enum { CL = 64 / (int)sizeof(float) / VW }; /* vectors per cache line */
    int i = 0;
    for (; i + CL * VW <= I; i += CL * VW) {
        /* the address may lie past the matrix: a prefetch never faults */
        /* rows rs > 1 apart: each row's stream goes on into its next row, right after it */
        int64_t pf_at = rs > 1 || i + MM_PF_FLOATS < I ? i + MM_PF_FLOATS : i + MM_PF_FLOATS + (int64_t)(rb - 1) * I;
#pragma GCC unroll 8
        for (int r = 0; r < rb; r++)
            if (pf) _mm_prefetch((const char *)(wr[r] + pf_at), MM_PF_HINT);
#pragma GCC unroll 2
        for (int c = 0; c < CL; c++) {
            vf xv[V_TB];
#pragma GCC unroll 8
            for (int t = 0; t < tb; t++) xv[t] = v_load(xr[t] + i + c * VW);
#pragma GCC unroll 8
            for (int r = 0; r < rb; r++) {
                vf wv = v_load(wr[r] + i + c * VW);
#pragma GCC unroll 8
                for (int t = 0; t < tb; t++) acc[r][t] = v_fma(wv, xv[t], acc[r][t]);
            }
        }
    }
    for (; i + VW <= I; i += VW) {
        vf xv[V_TB];
#pragma GCC unroll 8
        for (int t = 0; t < tb; t++) xv[t] = v_load(xr[t] + i);
#pragma GCC unroll 8
        for (int r = 0; r < rb; r++) {
            vf wv = v_load(wr[r] + i);
#pragma GCC unroll 8
            for (int t = 0; t < tb; t++) acc[r][t] = v_fma(wv, xv[t], acc[r][t]);
        }
    }
    if (i < I) {
        int n = I - i;
        vf xv[V_TB];
#pragma GCC unroll 8
        for (int t = 0; t < tb; t++) xv[t] = v_loadn(xr[t] + i, n);
#pragma GCC unroll 8
        for (int r = 0; r < rb; r++) {
            vf wv = v_loadn(wr[r] + i, n);
#pragma GCC unroll 8
            for (int t = 0; t < tb; t++) acc[r][t] = v_fma(wv, xv[t], acc[r][t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < tb; t++) {
        float *dst = out + (int64_t)(t0 + t) * O + o;
        vf z = v_zero();
        __m128 sum = v_hsum4(acc[0][t], rb > 1 ? acc[1][t] : z, rb > 2 ? acc[2][t] : z,
                             rb > 3 ? acc[3][t] : z);
        if (rb == 4 && rs == 1) {
            if (bias) sum = _mm_add_ps(sum, _mm_loadu_ps(bias + o));
            _mm_storeu_ps(dst, sum);
        } else {
            float v[4];
            _mm_storeu_ps(v, sum);
#pragma GCC unroll 4
            for (int r = 0; r < rb; r++) dst[r * rs] = bias ? v[r] + bias[o + r * rs] : v[r];
        }
    }
}

/* rows o .. o+rb-1 side by side (rs = 1) */
static inline __attribute__((always_inline)) void
SIMD_FN(mm_block)(float *out, const float *inp, const float *w, const float *bias, int I, int O,
                  int o, int t0, const int rb, const int tb) {
    SIMD_FN(mm_block_rs)(out, inp, w, bias, I, O, o, t0, rb, tb, 1);
}

/* shapes: out [T, O] (row stride O), inp [T, I], w [O, I], bias [O] or NULL; rows [o0, o1).
 * With at least V_TB tokens, blocks of MM_RB rows (the register tile that suits the
 * ISA) take every token while the rows are in L1; with fewer (decode), blocks of 4
 * rows keep four weight streams in flight. */
static void SIMD_FN(matmul_rows)(float *out, const float *inp, const float *w, const float *bias,
                                 int T, int I, int O, int o0, int o1) {
    int o = o0;
    if (T >= V_TB) {
        int tfull = T / V_TB * V_TB;
        for (; o + MM_RB <= o1; o += MM_RB) {
            for (int t = 0; t < tfull; t += V_TB)
                SIMD_FN(mm_block)(out, inp, w, bias, I, O, o, t, MM_RB, V_TB);
            for (int t = tfull; t < T; t++)
                SIMD_FN(mm_block)(out, inp, w, bias, I, O, o, t, MM_RB, 1);
        }
        for (; o < o1; o++) {
            for (int t = 0; t < tfull; t += V_TB)
                SIMD_FN(mm_block)(out, inp, w, bias, I, O, o, t, 1, V_TB);
            for (int t = tfull; t < T; t++) SIMD_FN(mm_block)(out, inp, w, bias, I, O, o, t, 1, 1);
        }
        return;
    }
    if (T == 1) {
        /* one token (decode): the 4 rows of a block are a quarter of the range apart (o + j,
         * o + q + j, ...), so the block reads four long sequential streams that the hardware
         * prefetcher follows, where 4 neighbouring rows (a few KiB each) are short streams it
         * keeps losing (as quant_vnni512.c's v_rows). Each row's sum is the same either way. */
        int q = (o1 - o) / 4;
        for (int j = 0; j < q; j++) SIMD_FN(mm_block_rs)(out, inp, w, bias, I, O, o + j, 0, 4, 1, q);
        o += 4 * q;
    }
    for (; o + 4 <= o1; o += 4)
        for (int t = 0; t < T; t++) SIMD_FN(mm_block)(out, inp, w, bias, I, O, o, t, 4, 1);
    for (; o < o1; o++)
        for (int t = 0; t < T; t++) SIMD_FN(mm_block)(out, inp, w, bias, I, O, o, t, 1, 1);
}

/* att[j] = scale * q . k_j: four keys at a time so one v_hsum4 reduces four dot products */
static void SIMD_FN(attn_scores)(float *att, const float *q, const float *k, int n, int stride,
                                 int D, float scale) {
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const float *k0 = k + (int64_t)j * stride, *k1 = k0 + stride, *k2 = k1 + stride,
                    *k3 = k2 + stride;
        vf a0 = v_zero(), a1 = v_zero(), a2 = v_zero(), a3 = v_zero();
        int d = 0;
        for (; d + VW <= D; d += VW) {
            vf qv = v_load(q + d);
            a0 = v_fma(qv, v_load(k0 + d), a0);
            a1 = v_fma(qv, v_load(k1 + d), a1);
            a2 = v_fma(qv, v_load(k2 + d), a2);
            a3 = v_fma(qv, v_load(k3 + d), a3);
        }
        if (d < D) {
            int r = D - d;
            vf qv = v_loadn(q + d, r);
            a0 = v_fma(qv, v_loadn(k0 + d, r), a0);
            a1 = v_fma(qv, v_loadn(k1 + d, r), a1);
            a2 = v_fma(qv, v_loadn(k2 + d, r), a2);
            a3 = v_fma(qv, v_loadn(k3 + d, r), a3);
        }
        _mm_storeu_ps(att + j, _mm_mul_ps(v_hsum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
    }
    for (; j < n; j++) {
        const float *kj = k + (int64_t)j * stride;
        vf a0 = v_zero();
        int d = 0;
        for (; d + VW <= D; d += VW) a0 = v_fma(v_load(q + d), v_load(kj + d), a0);
        if (d < D) a0 = v_fma(v_loadn(q + d, D - d), v_loadn(kj + d, D - d), a0);
        att[j] = _mm_cvtss_f32(v_hsum4(a0, v_zero(), v_zero(), v_zero())) * scale;
    }
}

/* out = sum_j att[j] v_j, with up to four vectors of out held in registers across all keys */
static void SIMD_FN(attn_wsum)(float *out, const float *att, const float *v, int n, int stride,
                               int D) {
    for (int d0 = 0; d0 < D; d0 += 4 * VW) {
        int w = D - d0 < 4 * VW ? D - d0 : 4 * VW; /* floats in this strip */
        vf o0 = v_zero(), o1 = v_zero(), o2 = v_zero(), o3 = v_zero();
        if (w == 4 * VW) {
            for (int j = 0; j < n; j++) {
                const float *vj = v + (int64_t)j * stride + d0;
                vf a = v_set1(att[j]);
                o0 = v_fma(a, v_load(vj), o0);
                o1 = v_fma(a, v_load(vj + VW), o1);
                o2 = v_fma(a, v_load(vj + 2 * VW), o2);
                o3 = v_fma(a, v_load(vj + 3 * VW), o3);
            }
            v_store(out + d0, o0);
            v_store(out + d0 + VW, o1);
            v_store(out + d0 + 2 * VW, o2);
            v_store(out + d0 + 3 * VW, o3);
            continue;
        }
        /* a partial strip: whole vectors first, then a masked one */
        int nv = w / VW, r = w % VW;
        for (int j = 0; j < n; j++) {
            const float *vj = v + (int64_t)j * stride + d0;
            vf a = v_set1(att[j]);
            if (nv > 0) o0 = v_fma(a, v_load(vj), o0);
            if (nv > 1) o1 = v_fma(a, v_load(vj + VW), o1);
            if (nv > 2) o2 = v_fma(a, v_load(vj + 2 * VW), o2);
            if (r) o3 = v_fma(a, v_loadn(vj + nv * VW, r), o3);
        }
        if (nv > 0) v_store(out + d0, o0);
        if (nv > 1) v_store(out + d0 + VW, o1);
        if (nv > 2) v_store(out + d0 + 2 * VW, o2);
        if (r) v_storen(out + d0 + nv * VW, o3, r);
    }
}

static float SIMD_FN(dot)(const float *a, const float *b, int n) {
    vf s0 = v_zero(), s1 = v_zero();
    int i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        s0 = v_fma(v_load(a + i), v_load(b + i), s0);
        s1 = v_fma(v_load(a + i + VW), v_load(b + i + VW), s1);
    }
    if (i + VW <= n) {
        s0 = v_fma(v_load(a + i), v_load(b + i), s0);
        i += VW;
    }
    if (i < n) s1 = v_fma(v_loadn(a + i, n - i), v_loadn(b + i, n - i), s1);
    return v_hsum(v_add(s0, s1));
}

static void SIMD_FN(axpy)(float *y, float a, const float *x, int n) {
    vf av = v_set1(a);
    int i = 0;
    for (; i + VW <= n; i += VW) v_store(y + i, v_fma(av, v_load(x + i), v_load(y + i)));
    if (i < n) v_storen(y + i, v_fma(av, v_loadn(x + i, n - i), v_loadn(y + i, n - i)), n - i);
}

static float SIMD_FN(sumsq)(const float *x, int n) {
    vf s0 = v_zero(), s1 = v_zero();
    int i = 0;
    for (; i + 2 * VW <= n; i += 2 * VW) {
        vf a = v_load(x + i), b = v_load(x + i + VW);
        s0 = v_fma(a, a, s0);
        s1 = v_fma(b, b, s1);
    }
    if (i + VW <= n) {
        vf a = v_load(x + i);
        s0 = v_fma(a, a, s0);
        i += VW;
    }
    if (i < n) {
        vf a = v_loadn(x + i, n - i);
        s1 = v_fma(a, a, s1);
    }
    return v_hsum(v_add(s0, s1));
}

static void SIMD_FN(scale_mul)(float *y, const float *x, float r, const float *w, int n) {
    vf rv = v_set1(r);
    int i = 0;
    for (; i + VW <= n; i += VW) v_store(y + i, v_mul(v_mul(v_load(x + i), rv), v_load(w + i)));
    if (i < n)
        v_storen(y + i, v_mul(v_mul(v_loadn(x + i, n - i), rv), v_loadn(w + i, n - i)), n - i);
}

static float SIMD_FN(max)(const float *x, int n) {
    float m = x[0];
    int i = 0;
    if (n >= VW) {
        vf mv = v_load(x);
        for (i = VW; i + VW <= n; i += VW) mv = v_max(mv, v_load(x + i));
        float lanes[VW];
        v_store(lanes, mv);
        for (int k = 0; k < VW; k++)
            if (lanes[k] > m) m = lanes[k];
    }
    for (; i < n; i++)
        if (x[i] > m) m = x[i];
    return m;
}

static void SIMD_FN(scale)(float *x, float s, int n) {
    vf sv = v_set1(s);
    int i = 0;
    for (; i + VW <= n; i += VW) v_store(x + i, v_mul(v_load(x + i), sv));
    for (; i < n; i++) x[i] *= s;
}

static void SIMD_FN(add)(float *x, const float *y, int64_t n) {
    int64_t i = 0;
    for (; i + VW <= n; i += VW) v_store(x + i, v_add(v_load(x + i), v_load(y + i)));
    for (; i < n; i++) x[i] += y[i];
}

/* For the bandwidth probe: the four quarters of x are read side by side, which keeps
 * more cache-line requests in flight than one stream (as the matmul's four rows do). */
static float SIMD_FN(sum)(const float *x, int64_t n) {
    int64_t q = n / 4 / VW * VW;
    const float *x1 = x + q, *x2 = x + 2 * q, *x3 = x + 3 * q;
    vf s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
    for (int64_t i = 0; i < q; i += VW) {
        s0 = v_add(s0, v_load(x + i));
        s1 = v_add(s1, v_load(x1 + i));
        s2 = v_add(s2, v_load(x2 + i));
        s3 = v_add(s3, v_load(x3 + i));
    }
    float s = v_hsum(v_add(v_add(s0, s1), v_add(s2, s3)));
    for (int64_t i = 4 * q; i < n; i++) s += x[i];
    return s;
}

const tl_simd SIMD_CAT(tl_simd, SIMD_SUFFIX) = {
    .isa = SIMD_ISA,
    .rows_max_T = SIMD_ROWS_MAX_T,
    .matmul_rows = SIMD_FN(matmul_rows),
#ifdef SIMD_GEMM
    .gemm = SIMD_GEMM,
#endif
    .attn_scores = SIMD_FN(attn_scores),
    .attn_wsum = SIMD_FN(attn_wsum),
    .dot = SIMD_FN(dot),
    .axpy = SIMD_FN(axpy),
    .sumsq = SIMD_FN(sumsq),
    .scale_mul = SIMD_FN(scale_mul),
    .max = SIMD_FN(max),
    .scale = SIMD_FN(scale),
    .add = SIMD_FN(add),
    .sum = SIMD_FN(sum),
};
