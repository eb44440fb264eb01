/* bench_matmul: the matmuls of one stories15M training step (B x T = 8 x 256 tokens,
 * every layer's q, k, v, o, gate, up, down and the untied LM head), forward and
 * backward (dinp and dw), timed with the default thread count. Prints one JSON line:
 * GFLOP/s of each direction and the tokens/s that the matmuls alone would allow. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "kernels/kernels.h"

typedef struct {
    int I, O, count; /* count: how many of this shape one step runs */
} shape;

int main(int argc, char **argv) {
    int N = argc > 1 ? atoi(argv[1]) : 2048; /* tokens in the step */
    if (N < 1) return 2;
    const shape shapes[] = {
        {288, 288, 4 * 6}, {288, 768, 2 * 6}, {768, 288, 1 * 6}, {288, 32000, 1}};
    int ns = (int)(sizeof shapes / sizeof *shapes);
    size_t maxw = 0, maxio = 0;
    for (int s = 0; s < ns; s++) {
        size_t w = (size_t)shapes[s].I * shapes[s].O,
               io = (size_t)N * (shapes[s].I > shapes[s].O ? shapes[s].I : shapes[s].O);
        if (w > maxw) maxw = w;
        if (io > maxio) maxio = io;
    }
    float *w = tl_malloc_aligned(maxw * 4), *dw = tl_malloc_aligned(maxw * 4);
    float *x = tl_malloc_aligned(maxio * 4), *y = tl_malloc_aligned(maxio * 4);
    float *dx = tl_malloc_aligned(maxio * 4), *dy = tl_malloc_aligned(maxio * 4);
    if (!w || !dw || !x || !y || !dx || !dy) return 1;
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    for (size_t i = 0; i < maxw; i++) w[i] = tl_rng_float(&rng) - 0.5f, dw[i] = 0;
    for (size_t i = 0; i < maxio; i++) x[i] = tl_rng_float(&rng) - 0.5f, dy[i] = x[i], dx[i] = 0;

    double fwd = 0, bwd = 0, flops = 0;
    for (int s = 0; s < ns; s++) {
        int I = shapes[s].I, O = shapes[s].O;
        double best_f = 1e30, best_b = 1e30;
        for (int rep = 0; rep < 4; rep++) { /* the first is a warm-up */
            double t0 = tl_time_sec();
            tl_matmul_forward(y, x, w, NULL, N, I, O);
            double t1 = tl_time_sec();
            tl_matmul_backward(dx, dw, NULL, dy, x, w, N, I, O);
            double t2 = tl_time_sec();
            if (rep && t1 - t0 < best_f) best_f = t1 - t0;
            if (rep && t2 - t1 < best_b) best_b = t2 - t1;
        }
        fwd += best_f * shapes[s].count;
        bwd += best_b * shapes[s].count;
        flops += 2.0 * N * I * O * shapes[s].count;
    }
    printf("{\"bench\":\"matmul_train_stories15M\",\"isa\":\"%s\",\"threads\":%d,\"tokens\":%d,"
           "\"fwd_ms\":%.2f,\"bwd_ms\":%.2f,\"fwd_gflops\":%.1f,\"bwd_gflops\":%.1f,"
           "\"matmul_only_tok_s\":%.0f}\n",
           tl_isa_name(tl_cpu_isa()), omp_get_max_threads(), N, fwd * 1e3, bwd * 1e3,
           flops / fwd * 1e-9, 2 * flops / bwd * 1e-9, N / (fwd + bwd));
    tl_free_aligned(w), tl_free_aligned(dw), tl_free_aligned(x), tl_free_aligned(y);
    tl_free_aligned(dx), tl_free_aligned(dy);
    return 0;
}
