/* bench_train: training throughput at the stories15M shape (dim 288, 6 layers, 6 heads,
 * hidden 768, vocab 32000, tied embeddings), batch 8 x 256 by default: forward +
 * backward + clipping + AdamW on random tokens. Prints one line:
 *   bench_train B=8 T=256 threads=2 steps=3 tokens_per_s=... gflops=... fwd_ms=... bwd_ms=... opt_ms=...
 * GFLOP/s counts 6 * params * tokens per step (the usual estimate, attention excluded).
 *   bench_train [B T steps]
 * The whole-step figures come from tl_bench_train (`tiller bench --train` prints them for
 * both shapes with the sgemm ceiling). With --kernels, times the non-matmul kernels of one step at that shape instead, one
 * line each (ms per call summed over the layers). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/bench.h"
#include "kernels/kernels.h"
#include "tiller/train.h"

static tl_config stories15m(void) {
    tl_config c = {.dim = 288, .hidden_dim = 768, .n_layers = 6, .n_heads = 6, .n_kv_heads = 6,
                   .vocab_size = 32000, .seq_len = 256, .tied_embeddings = 1};
    tl_config_defaults(&c);
    return c;
}

static float *rnd(size_t n, tl_rng *r) {
    float *x = tl_malloc_aligned(n * sizeof(float));
    for (size_t i = 0; i < n; i++) x[i] = tl_rng_normal(r);
    return x;
}

/* the fastest of `reps` runs (the machine is shared: the minimum is the least noisy) */
#define TIME(label, reps, stmt)                                                                    \
    do {                                                                                           \
        double best_ = 1e30;                                                                       \
        for (int r_ = 0; r_ < (reps); r_++) {                                                      \
            double t0_ = tl_time_sec();                                                            \
            stmt;                                                                                  \
            double t_ = tl_time_sec() - t0_;                                                       \
            if (t_ < best_) best_ = t_;                                                            \
        }                                                                                          \
        printf("bench_train_kernel name=%s ms=%.2f\n", label, 1e3 * best_);                       \
    } while (0)

static int bench_kernels(int B, int T) {
    tl_config c = stories15m();
    int BT = B * T, C = c.dim, F = c.hidden_dim, H = c.n_heads, D = c.head_dim, V = c.vocab_size,
        L = c.n_layers;
    tl_rng r;
    tl_rng_seed(&r, 1);
    float *x = rnd((size_t)BT * C, &r), *y = rnd((size_t)BT * C, &r), *w = rnd((size_t)C, &r);
    float *rstd = rnd((size_t)BT, &r), *dx = rnd((size_t)BT * C, &r), *dw = rnd((size_t)C, &r);
    float *q = rnd((size_t)BT * C, &r), *k = rnd((size_t)BT * C, &r), *v = rnd((size_t)BT * C, &r);
    float *o = rnd((size_t)BT * C, &r), *lse = rnd((size_t)BT * H, &r);
    float *dq = rnd((size_t)BT * C, &r), *dk = rnd((size_t)BT * C, &r), *dv = rnd((size_t)BT * C, &r);
    int nt = omp_get_max_threads();
    float *scratch = rnd((size_t)nt * tl_attention_train_scratch(T, D), &r);
    float *g = rnd((size_t)BT * F, &r), *u = rnd((size_t)BT * F, &r), *h = rnd((size_t)BT * F, &r);
    float *dg = rnd((size_t)BT * F, &r), *du = rnd((size_t)BT * F, &r);
    float *logits = rnd((size_t)BT * V, &r), *clse = rnd((size_t)BT, &r);
    int *pos = malloc(sizeof(int) * BT);
    int32_t *tg = malloc(sizeof(int32_t) * BT);
    for (int i = 0; i < BT; i++) pos[i] = i % T, tg[i] = (int32_t)tl_rng_below(&r, (uint64_t)V);
    /* per step: 2L+1 rmsnorms, 2L ropes (q and k), L attentions, L swiglus, 1 CE */
    TIME("rmsnorm_fwd_x13", 5, for (int i = 0; i < 2 * L + 1; i++)
                                   tl_rmsnorm_forward(y, rstd, x, w, BT, C, 1e-5f));
    TIME("rmsnorm_bwd_x13", 5, for (int i = 0; i < 2 * L + 1; i++)
                                   tl_rmsnorm_backward(dx, dw, y, x, w, rstd, BT, C));
    TIME("rope_fwd_x12", 5, for (int i = 0; i < 2 * L; i++)
                                tl_rope_forward(q, pos, BT, H, D, 10000.0f, TL_ROPE_INTERLEAVED, 1));
    TIME("attn_fwd_x6", 5, for (int i = 0; i < L; i++)
                               tl_attention_train_forward(o, lse, q, k, v, NULL, B, T, H, H, D, scratch,
                                                          nt));
    TIME("attn_bwd_x6", 5, for (int i = 0; i < L; i++)
                               tl_attention_train_backward(dq, dk, dv, y, o, q, k, v, lse, NULL, B,
                                                           T, H, H, D, scratch, nt));
    TIME("swiglu_fwd_x6", 5, for (int i = 0; i < L; i++)
                                 tl_swiglu_forward(h, g, u, (int64_t)BT * F));
    TIME("swiglu_bwd_x6", 5, for (int i = 0; i < L; i++)
                                 tl_swiglu_backward(dg, du, h, g, u, (int64_t)BT * F));
    TIME("ce_fwd", 5, tl_crossentropy_forward(NULL, clse, logits, tg, BT, V));
    TIME("ce_bwd_inplace", 5, tl_crossentropy_backward(logits, logits, clse, tg, 1.0f, BT, V));
    return 0;
}

int main(int argc, char **argv) {
    int kernels = argc > 1 && !strcmp(argv[1], "--kernels");
    if (kernels) argc--, argv++;
    int B = argc > 1 ? atoi(argv[1]) : 8, T = argc > 2 ? atoi(argv[2]) : 256,
        steps = argc > 3 ? atoi(argv[3]) : 3;
    if (B <= 0 || T <= 0 || steps <= 0) {
        fprintf(stderr, "usage: bench_train [--kernels] [B T steps]\n");
        return 2;
    }
    if (kernels) return bench_kernels(B, T);
    /* the measuring is tl_bench_train (src/bench), the same as `tiller bench --train` */
    tl_config c = stories15m();
    tl_bench_train_result r;
    if (tl_bench_train(&c, B, T, steps, 1, &r)) {
        fprintf(stderr, "bench_train: %s\n", tl_last_error());
        return 1;
    }
    printf("bench_train B=%d T=%d threads=%d steps=%d params=%zu tokens_per_s=%.0f gflops=%.1f "
           "fwd_ms=%.0f bwd_ms=%.0f opt_ms=%.0f loss=%.4f isa=%s\n",
           B, T, omp_get_max_threads(), steps, r.n_params, r.tokens_per_s, r.gflops, r.fwd_ms,
           r.bwd_ms, r.opt_ms, r.loss, tl_isa_name(tl_cpu_isa()));
    return 0;
}
