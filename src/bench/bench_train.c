/* bench_train.c: the training-throughput protocol behind `tiller bench --train`
 * and the sgemm ceiling it is compared with (see bench.h). */
#include <omp.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/bench.h"
#include "kernels/simd.h" /* tl_blas_sgemm */
#include "tiller/train.h"

/* stories15M with tied embeddings (batch 8 x 256) and stories110M (batch 4 x
 * 256): the workloads PyTorch and llm.c were measured on (issue 4). */
static const tl_bench_train_shape train_shapes[] = {
    {"stories15M",
     {.dim = 288,
      .hidden_dim = 768,
      .n_layers = 6,
      .n_heads = 6,
      .n_kv_heads = 6,
      .vocab_size = 32000,
      .seq_len = 256,
      .tied_embeddings = 1},
     8,
     256,
     1300.0},
    {"stories110M",
     {.dim = 768,
      .hidden_dim = 2048,
      .n_layers = 12,
      .n_heads = 12,
      .n_kv_heads = 12,
      .vocab_size = 32000,
      .seq_len = 256,
      .tied_embeddings = 1},
     4,
     256,
     200.0},
};

const tl_bench_train_shape *tl_bench_train_shapes(int *n) {
    *n = (int)(sizeof train_shapes / sizeof *train_shapes);
    return train_shapes;
}

tl_status tl_bench_train(const tl_config *cfg, int B, int T, int steps, uint64_t seed,
                         tl_bench_train_result *r) {
    memset(r, 0, sizeof *r);
    if (B <= 0 || T <= 0 || steps <= 0)
        return tl_errorf(TL_E_ARG, "bench: batch %d, sequence %d and steps %d must be positive", B,
                         T, steps);
    tl_config c = *cfg;
    if (c.seq_len < T) c.seq_len = T;
    tl_config_defaults(&c);
    tl_model *m = NULL;
    tl_train_acts *a = NULL;
    tl_adamw *opt = NULL;
    float *grads = NULL;
    int32_t *tok = NULL, *tgt = NULL;
    size_t BT = (size_t)B * T;
    tl_status st = tl_model_new(&c, &m);
    if (!st) st = tl_train_acts_new(&m->cfg, B, T, &a);
    if (!st) st = tl_adamw_new(&m->cfg, &opt);
    if (!st) {
        grads = tl_malloc_aligned(m->n_params * sizeof(float));
        tok = tl_malloc(BT * sizeof(int32_t));
        tgt = tl_malloc(BT * sizeof(int32_t));
        if (!grads || !tok || !tgt) st = tl_errorf(TL_E_NOMEM, "bench: out of memory");
    }
    if (!st) {
        tl_model_init_random(m, seed);
        memset(grads, 0, m->n_params * sizeof(float));
        tl_rng rng;
        tl_rng_seed(&rng, seed + 1);
        for (size_t i = 0; i < BT; i++)
            tok[i] = (int32_t)tl_rng_below(&rng, (uint64_t)c.vocab_size);
        /* targets: the next token of each row; the last one counts for nothing */
        for (size_t i = 0; i < BT; i++) tgt[i] = (int)(i % T) == T - 1 ? -1 : tok[i + 1];
    }
    tl_adamw_params hp = {0.9f, 0.95f, 1e-8f, 0.1f};
    double t_fwd = 0, t_bwd = 0, t_opt = 0;
    /* step -1 is a warm-up: pages, caches and the thread pool */
    for (int s = -1; !st && s < steps; s++) {
        double t0 = tl_time_sec();
        st = tl_model_forward_train(m, a, tok, tgt, NULL, &r->loss);
        if (st) break;
        double t1 = tl_time_sec();
        tl_model_backward(m, a, grads, 1.0f);
        double t2 = tl_time_sec();
        tl_grad_clip(grads, m->n_params, 1.0f);
        tl_adamw_step(opt, &hp, 1e-4f, m->params, grads);
        memset(grads, 0, m->n_params * sizeof(float));
        double t3 = tl_time_sec();
        if (s >= 0) t_fwd += t1 - t0, t_bwd += t2 - t1, t_opt += t3 - t2;
    }
    if (!st) {
        double total = t_fwd + t_bwd + t_opt, tokens = (double)BT * steps;
        r->n_params = m->n_params;
        r->tokens_per_s = tokens / total;
        r->gflops = 6.0 * (double)m->n_params * tokens / total * 1e-9;
        r->fwd_ms = 1e3 * t_fwd / steps;
        r->bwd_ms = 1e3 * t_bwd / steps;
        r->opt_ms = 1e3 * t_opt / steps;
    }
    tl_free(tok);
    tl_free(tgt);
    tl_free_aligned(grads);
    tl_adamw_free(opt);
    tl_train_acts_free(a);
    tl_model_free(m);
    return st;
}

/* The ceiling: OpenBLAS sgemm the way tiller calls it (single-threaded, one
 * slice of rows per OpenMP thread), n x n x n, best of reps. */
tl_status tl_bench_sgemm(int n, int reps, double *gflops) {
    *gflops = 0.0;
    if (n < 64 || reps <= 0) return tl_errorf(TL_E_ARG, "bench: sgemm size %d", n);
    size_t bytes = (size_t)n * n * sizeof(float);
    float *A = tl_malloc_aligned(bytes), *Bm = tl_malloc_aligned(bytes),
          *C = tl_malloc_aligned(bytes);
    if (!A || !Bm || !C) {
        tl_free_aligned(A);
        tl_free_aligned(Bm);
        tl_free_aligned(C);
        return tl_errorf(TL_E_NOMEM, "bench: cannot allocate 3 x %zu MiB for sgemm", bytes >> 20);
    }
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)n * n; i++) A[i] = tl_rng_normal(&rng), Bm[i] = A[i] * 0.5f;
    double best = 1e30;
    for (int rep = 0; rep < reps + 1; rep++) { /* the first run is a warm-up */
        double t0 = tl_time_sec();
#pragma omp parallel
        {
            int nt = omp_get_num_threads(), id = omp_get_thread_num();
            int r0 = (int)((int64_t)n * id / nt), r1 = (int)((int64_t)n * (id + 1) / nt);
            if (r1 > r0)
                tl_blas_sgemm(0, 0, r1 - r0, n, n, 1.0f, A + (size_t)r0 * n, n, Bm, n, 0.0f,
                              C + (size_t)r0 * n, n);
        }
        double dt = tl_time_sec() - t0;
        if (rep > 0 && dt < best) best = dt;
    }
    *gflops = 2.0 * (double)n * n * n / best * 1e-9;
    tl_free_aligned(A);
    tl_free_aligned(Bm);
    tl_free_aligned(C);
    return TL_OK;
}
