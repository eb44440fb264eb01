/* bench_paired.c: decode against a read-bandwidth probe shaped like decode, round by round
 * (`tiller bench --paired R`, bench/f32_bandwidth.sh; issue 12's f32 share of read bandwidth).
 *
 * The old yardstick (tl_bench_memory_run: the best of 3 sweeps of 256 MiB, a few ms each, once
 * before the decode's best of 3 runs of about 0.45 s) can catch a peak of the host's bandwidth that
 * a long decode run never sees: on a shared host the bandwidth swings by +- 20 % within a minute.
 * Here each round times, back to back, the decode of n_gen tokens and probes that do what decode
 * does to memory without its arithmetic and barriers:
 *   - the same bytes: a buffer of the weights' size (every matrix once per "token"), swept n_gen
 *     times, so one probe lasts as long as one decode run;
 *   - the same threads (decode's count) and split: each thread reads an equal share every sweep,
 *     one parallel region a sweep as decode opens one a token;
 *   - read only, with three read loops (the four-stream table sum, a one-stream AVX-512 sum with
 *     four accumulators, glibc's memchr for a byte that is not there) on a 2 MiB-aligned buffer
 *     with MADV_HUGEPAGE, and a fourth probe over the model's own f32 matrices with decode's rows
 *     per thread (the pages decode reads, in the file's mapping).
 * The round's read bandwidth is the fastest of the four, so a decode share against it is never
 * inflated by a slow probe loop; the old probe is run in every round as well, to be printed beside.
 * Odd rounds time decode first, even rounds the probes first, so a drift of the host's bandwidth
 * within a round does not always favour the same side. */
#define _GNU_SOURCE
#include "format/format.h" /* internal: model, base */
#include "tiller/bench.h"

#include <omp.h>
#include <string.h>
#include <sys/mman.h>

#include "kernels/kernels.h"
#include "kernels/simd.h"
#include "model/qweights.h"

/* one contiguous range of f32 weights a thread reads */
typedef struct {
    const float *p;
    int64_t n;
} span;

static const float *f32_matrix(const float *w, const tl_qmat *q) {
    if (q && q->type != TL_Q_F32) return NULL;
    return q && q->data ? (const float *)q->data : w;
}

/* The ranges of thread `me` of `nth`: decode.c's split of every matrix (heads, C, F, V rows).
 * Returns the count, or -1 when a matrix is not f32 (the probe over the weights is then skipped). */
static int weight_spans(const tl_model *m, int me, int nth, span *sp, int cap) {
    const tl_config *c = &m->cfg;
    const tl_qweights *qw = m->qw;
    int D = c->head_dim, C = c->dim, F = c->hidden_dim, QD = c->n_heads * D, n = 0;
    int h0, h1, g0, g1, c0, c1, f0, f1, v0, v1;
    tl_split_range(c->n_heads, nth, me, 1, &h0, &h1);
    tl_split_range(c->n_kv_heads, nth, me, 1, &g0, &g1);
    tl_split_range(C, nth, me, 4, &c0, &c1);
    tl_split_range(F, nth, me, 16, &f0, &f1);
    tl_split_range(c->vocab_size, nth, me, 4, &v0, &v1);
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, m->params, l, &p);
        const tl_qmat *lq = qw ? tl_qweights_layer(qw, l) : NULL;
        const float *w[TL_QW__COUNT] = {p.wq, p.wk, p.wv, p.wo, p.w_gate, p.w_up, p.w_down};
        /* rows [lo, hi) of a matrix with I columns, per slot */
        const int lo[TL_QW__COUNT] = {h0 * D, g0 * D, g0 * D, c0, f0, f0, c0};
        const int hi[TL_QW__COUNT] = {h1 * D, g1 * D, g1 * D, c1, f1, f1, c1};
        const int I[TL_QW__COUNT] = {C, C, C, QD, C, C, F};
        for (int s = 0; s < TL_QW__COUNT; s++) {
            const float *f = f32_matrix(w[s], lq ? &lq[s] : NULL);
            if (!f || n >= cap) return -1;
            sp[n++] = (span){f + (int64_t)lo[s] * I[s], (int64_t)(hi[s] - lo[s]) * I[s]};
        }
    }
    tl_global_params g;
    tl_params_global(c, m->params, &g);
    const float *out = f32_matrix(g.output, qw ? &qw->output : NULL);
    if (!out || n >= cap) return -1;
    sp[n++] = (span){out + (int64_t)v0 * C, (int64_t)(v1 - v0) * C};
    return n;
}

enum { K_SUM4, K_SUM1, K_MEMCHR, K_WEIGHTS };

static float read_range(int kernel, const float *x, int64_t n) {
    const tl_simd *k = tl_simd_get();
    switch (kernel) {
#if defined(__x86_64__) || defined(__i386__)
        case K_SUM1:
            if (k->isa == TL_ISA_AVX512) return tl_stream_sum1_avx512(x, n);
            return k->sum(x, n);
#endif
        case K_MEMCHR: /* the buffer holds 1.0f (bytes 00 00 80 3f): 0x5a is never found */
            return memchr(x, 0x5a, (size_t)n * sizeof(float)) ? 1.0f : 0.0f;
        default:
            return k->sum(x, n);
    }
}

/* seconds for `sweeps` reads of the buffer (or of the weights' spans) by nth threads */
static double probe(int kernel, const float *buf, int64_t n, span *const *sp, const int *nsp, int nth, int sweeps) {
    volatile float sink = 0.0f;
    double t0 = tl_time_sec();
    for (int w = 0; w < sweeps; w++) {
        float part[64] = {0};
#pragma omp parallel num_threads(nth)
        {
            int me = omp_get_thread_num(), p = omp_get_num_threads();
            float s = 0.0f;
            if (kernel == K_WEIGHTS)
                for (int i = 0; i < nsp[me]; i++) s += read_range(K_SUM4, sp[me][i].p, sp[me][i].n);
            else {
                int64_t b = n * me / p / 16 * 16, e = me + 1 == p ? n : n * (me + 1) / p / 16 * 16;
                s = read_range(kernel, buf + b, e - b);
            }
            part[me] = s;
        }
        for (int i = 0; i < nth; i++) sink += part[i];
    }
    (void)sink;
    return tl_time_sec() - t0;
}

static double decode_run(tl_session *s, const int32_t *tok, const tl_bench_opts *o, tl_status *st) {
    tl_session_reset(s);
    *st = tl_forward(s, tok, o->n_prompt, NULL);
    double t0 = tl_time_sec();
    for (int i = 0; !*st && i < o->n_gen; i++) *st = tl_forward(s, tok + o->n_prompt + i, 1, NULL);
    return tl_time_sec() - t0;
}

tl_status tl_bench_paired(const tl_model *m, const tl_bench_opts *o, int rounds, size_t old_probe_bytes,
                          tl_bench_pair *out) {
    const tl_config *c = &m->cfg;
    if (rounds <= 0 || o->n_prompt <= 0 || o->n_gen <= 0)
        return tl_errorf(TL_E_ARG, "bench: %d paired rounds, prompt %d, gen %d must be positive", rounds, o->n_prompt,
                         o->n_gen);
    if (o->n_prompt + o->n_gen > c->seq_len)
        return tl_errorf(TL_E_RANGE, "bench: %d prompt + %d generated tokens exceed the model's context of %d",
                         o->n_prompt, o->n_gen, c->seq_len);
    tl_bench_result base;
    tl_bench_opts one = *o;
    one.reps = 1;
    tl_status st = tl_bench_model(m, &one, &base); /* the weight bytes per token; warms everything */
    if (st) return st;
    /* decode's thread count (decode.c: the per-matmul threshold on q/k/v) */
    int nth = tl_kernel_threads((int64_t)c->dim * (c->n_heads + 2 * c->n_kv_heads) * c->head_dim);
    if (nth > omp_get_max_threads()) nth = omp_get_max_threads();
    if (nth > 64) nth = 64;
    size_t huge = (size_t)2 << 20, bytes = ((size_t)base.weight_bytes + huge - 1) / huge * huge;
    int64_t n = (int64_t)(bytes / sizeof(float));
    float *buf = tl_malloc_aligned(bytes + huge);
    int32_t *tok = tl_malloc((size_t)(o->n_prompt + o->n_gen) * sizeof(int32_t));
    span *sp[64] = {0};
    int nsp[64] = {0}, cap = 8 * c->n_layers + 8, weights_ok = 1;
    tl_session *s = NULL;
    if (!buf || !tok) st = tl_errorf(TL_E_NOMEM, "bench: cannot allocate %zu MiB for the read probe", bytes >> 20);
    for (int i = 0; !st && i < nth; i++) {
        sp[i] = tl_malloc((size_t)cap * sizeof(span));
        if (!sp[i])
            st = tl_errorf(TL_E_NOMEM, "bench: out of memory");
        else if ((nsp[i] = weight_spans(m, i, nth, sp[i], cap)) < 0)
            weights_ok = 0;
    }
    if (!st) st = tl_session_new(m, o->n_prompt + o->n_gen, o->n_prompt, &s);
    float *x = buf ? (float *)(((uintptr_t)buf + huge - 1) & ~(uintptr_t)(huge - 1)) : NULL;
    if (!st) {
#ifdef MADV_HUGEPAGE
        madvise(x, bytes, MADV_HUGEPAGE); /* 2 MiB pages where the kernel allows: the fastest sweep */
#endif
        /* each thread first touches the part it reads */
#pragma omp parallel for num_threads(nth) schedule(static)
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
        tl_rng rng;
        tl_rng_seed(&rng, o->seed);
        for (int i = 0; i < o->n_prompt + o->n_gen; i++) tok[i] = (int32_t)tl_rng_below(&rng, (uint64_t)c->vocab_size);
        for (int k = K_SUM4; k <= K_WEIGHTS; k++) /* warm-up */
            if (k != K_WEIGHTS || weights_ok) probe(k, x, n, sp, nsp, nth, 1);
    }
    for (int r = 0; !st && r < rounds; r++) {
        tl_bench_pair *pr = &out[r];
        memset(pr, 0, sizeof *pr);
        pr->threads = nth;
        pr->weight_bytes = base.weight_bytes;
        pr->probe_bytes = (double)bytes;
        double t_dec = 0.0;
        if (r % 2 == 0) t_dec = decode_run(s, tok, o, &st);
        for (int k = K_SUM4; !st && k <= K_WEIGHTS; k++) {
            if (k == K_WEIGHTS && !weights_ok) continue;
            double t = probe(k, x, n, sp, nsp, nth, o->n_gen);
            pr->probe_gbs[k] = (k == K_WEIGHTS ? base.weight_bytes : (double)bytes) * o->n_gen / t * 1e-9;
            if (pr->probe_gbs[k] > pr->read_gbs) pr->read_gbs = pr->probe_gbs[k];
        }
        if (!st && r % 2 == 1) t_dec = decode_run(s, tok, o, &st);
        tl_bench_memory old;
        if (!st && old_probe_bytes) st = tl_bench_memory_run(old_probe_bytes, 3, &old);
        if (st) break;
        pr->old_read_gbs = old_probe_bytes ? old.read_gbs : 0.0;
        pr->decode_tps = o->n_gen / t_dec;
        pr->decode_gbs = base.weight_bytes * pr->decode_tps * 1e-9;
    }
    tl_session_free(s);
    for (int i = 0; i < 64; i++) tl_free(sp[i]);
    tl_free(tok);
    tl_free_aligned(buf);
    return st;
}
