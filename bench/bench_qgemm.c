/* bench_qgemm: prefill's batched quantized products (kernels/quant_gemm.c) alone, per weight type,
 * shape and kernel table: out[T, O] = x[T, I] @ dequant(W)^T with W in L2/L3 or memory as the model's
 * would be (one matrix, multiplied again and again). Time is the best of REPS calls, wall and
 * process CPU (at 1 thread the CPU time is the one to read on a loaded machine, where the wall time of
 * a long call includes other jobs' time slices); threads are the OpenMP default (OMP_NUM_THREADS).
 * One JSON line per (table, type, shape): microseconds per call and multiply-adds per CPU second.
 *
 *   bench_qgemm [T [REPS [TYPES [SHAPE [TABLE]]]]]
 * TYPES: comma list of q8_0,q4_0,q5_0,q4_k,q5_k,q6_k (default q8_0,q4_k,q6_k); SHAPE (e.g. 2048x2048, rows
 * x columns) and TABLE (portable, avx2, vnni512) restrict the run ("" = all). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_gemm.h"

typedef struct {
    const char *name;
    int O, I; /* rows (outputs), columns (inputs) */
} shape;

typedef struct {
    const char *name;
    uint32_t type;
} qtype;

static double cpu_sec(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *table_name(const tl_qgemm_kernels *k) {
    return k == &tl_qgemm_vnni512 ? "vnni512" : k == &tl_qgemm_avx2 ? "avx2" : "portable";
}

int main(int argc, char **argv) {
    int T = argc > 1 ? atoi(argv[1]) : 64, reps = argc > 2 ? atoi(argv[2]) : 10;
    const char *want = argc > 3 ? argv[3] : "q8_0,q4_k,q6_k";
    const char *only_shape = argc > 4 && argv[4][0] ? argv[4] : NULL,
               *only_table = argc > 5 && argv[5][0] ? argv[5] : NULL;
    if (T < 2 || T > 4096 || reps < 1) return 2;
    const shape shapes[] = {{"288x288", 288, 288},     {"768x288", 768, 288},    {"768x768", 768, 768},
                            {"2048x768", 2048, 768},   {"768x2048", 768, 2048},  {"2048x2048", 2048, 2048},
                            {"5632x2048", 5632, 2048}, {"2048x5632", 2048, 5632}};
    const qtype types[] = {{"q8_0", TL_Q8_0}, {"q4_0", TL_Q4_0}, {"q5_0", TL_Q5_0},
                           {"q4_k", TL_Q4_K}, {"q5_k", TL_Q5_K}, {"q6_k", TL_Q6_K}};
    const int ns = (int)(sizeof shapes / sizeof *shapes), nt = (int)(sizeof types / sizeof *types);
    const int maxO = 5632, maxI = 5632;
    uint8_t *w = tl_malloc_aligned((size_t)maxO * maxI + (1u << 20));
    float *row = tl_malloc(sizeof(float) * maxI), *x = tl_malloc_aligned(sizeof(float) * T * maxI);
    float *out = tl_malloc_aligned(sizeof(float) * T * maxO);
    void *scratch = tl_malloc_aligned(tl_qgemm_scratch(T, maxI));
    if (!w || !row || !x || !out || !scratch) return 1;
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)T * maxI; i++) x[i] = tl_rng_normal(&rng);
    for (int ti = 0; ti < nt; ti++) {
        if (!strstr(want, types[ti].name)) continue;
        uint32_t type = types[ti].type;
        for (int si = 0; si < ns; si++) {
            int O = shapes[si].O, I = shapes[si].I;
            if (only_shape && strcmp(only_shape, shapes[si].name)) continue;
            if (I % tl_q_block_size(type)) continue;
            size_t rb = tl_q_row_bytes(type, I);
            for (int o = 0; o < O; o++) {
                uint8_t *wr = w + (size_t)o * rb;
                if (tl_q_can_quantize(type)) {
                    for (int i = 0; i < I; i++) row[i] = tl_rng_normal(&rng) * 0.02f;
                    tl_quantize_row(type, row, wr, I);
                    continue;
                }
                /* Q5_0 (no quantizer in tiller): random bytes, each block's leading f16 scale finite */
                size_t bb = tl_q_block_bytes(type);
                for (size_t b = 0; b < rb; b++) wr[b] = (uint8_t)tl_rng_u64(&rng);
                for (size_t b = 0; b < rb; b += bb) {
                    uint16_t d = tl_f32_to_f16(0.001f + 0.01f * tl_rng_float(&rng));
                    memcpy(wr + b, &d, 2);
                }
            }
            tl_qmat W = {type, w, O, I, rb};
            const tl_qmat *Ws[1] = {&W};
            float *outs[1] = {out};
            for (int isa = TL_ISA_PORTABLE; isa <= (int)tl_cpu_isa(); isa++) {
                const tl_qgemm_kernels *k = tl_qgemm_for(isa);
                if (!k || (isa > TL_ISA_PORTABLE && k == &tl_qgemm_portable)) continue;
                if (isa == TL_ISA_AVX512 && k == &tl_qgemm_avx2) continue; /* no VNNI: the same table twice */
                if (only_table ? strcmp(only_table, table_name(k)) : k == &tl_qgemm_portable) continue;
                double best = 1e30, best_cpu = 1e30;
                tl_qgemm_multi_with(k, 1, outs, Ws, x, T, scratch); /* warm-up */
                for (int r = 0; r < reps; r++) {
                    double t0 = tl_time_sec(), c0 = cpu_sec();
                    tl_qgemm_multi_with(k, 1, outs, Ws, x, T, scratch);
                    double dt = tl_time_sec() - t0, dc = cpu_sec() - c0;
                    if (dt < best) best = dt;
                    if (dc < best_cpu) best_cpu = dc;
                }
                printf("{\"bench\":\"qgemm\",\"table\":\"%s\",\"type\":\"%s\",\"shape\":\"%s\",\"T\":%d,\"threads\":%d,"
                       "\"us\":%.1f,\"cpu_us\":%.1f,\"gmacs_cpu\":%.2f}\n",
                       table_name(k), types[ti].name, shapes[si].name, T, omp_get_max_threads(), best * 1e6,
                       best_cpu * 1e6, (double)O * I * T / best_cpu * 1e-9);
                fflush(stdout);
            }
        }
    }
    tl_free_aligned(w);
    tl_free(row);
    tl_free_aligned(x);
    tl_free_aligned(out);
    tl_free_aligned(scratch);
    return 0;
}
