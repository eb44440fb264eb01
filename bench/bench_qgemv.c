/* bench_qgemv: decode's matrix-vector products (T = 1) alone, per weight type and shape, for
 * every kernel table the CPU has. Two regimes per (type, shape):
 *   hot  - the first rows of the matrix (at most 512 KiB of them), multiplied again and again:
 *          they sit in L2, so this is the kernel's compute throughput (GB/s it can digest);
 *   cold - enough copies of the matrix to fill MIB MiB, multiplied one after the other: every
 *          weight comes from DRAM, as in a real decode of a model larger than the caches.
 * Times are the best of REPS passes, cold ones per matrix copy (robust to other jobs on a shared
 * machine). Threads: the OpenMP default (OMP_NUM_THREADS). One JSON line per (table, type, shape, regime).
 *
 *   bench_qgemv [MIB [REPS [TYPES [SHAPE [TABLE [cold]]]]]]
 * TYPES: comma list of f32,q8_0,q4_k,q5_k,q6_k (default all); SHAPE (e.g. 768x768) and TABLE (avx2,
 * vnni512) restrict the run to one shape and table, and then only the hot figure is measured (for
 * `perf stat`: cycles per call without the set-up around it) unless `cold` follows. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"

typedef struct {
    const char *name;
    int O, I; /* rows (outputs), columns (inputs) */
} shape;

typedef struct {
    const char *name;
    uint32_t type;
} qtype;

static double run(const tl_qdot *k, uint32_t type, const uint8_t *w, size_t mat_bytes, int copies, int O, int I,
                  const float *x, float *out, void *scratch, int reps) {
    double best = 1e30;
    if (copies == 1) reps *= 10; /* hot: many short timings, the best is the undisturbed one */
    /* each copy timed alone (its weights are not in the caches: the copies before it evicted
     * them), so that one undisturbed multiplication is enough on a loaded machine */
    for (int r = 0; r < reps; r++) {
        for (int c = 0; c < copies; c++) {
            const uint8_t *wc = w + (size_t)c * mat_bytes;
            double t0 = tl_time_sec();
            if (type == TL_Q_F32) {
                tl_matmul_forward(out, x, (const float *)wc, NULL, 1, I, O);
            } else {
                tl_qmat W = {type, wc, O, I, tl_q_row_bytes(type, I)};
                tl_qmatmul_with(k, out, x, 1, &W, scratch);
            }
            double dt = tl_time_sec() - t0;
            if (dt < best) best = dt;
        }
    }
    return best;
}

int main(int argc, char **argv) {
    int mib = argc > 1 ? atoi(argv[1]) : 256, reps = argc > 2 ? atoi(argv[2]) : 5;
    const char *want = argc > 3 ? argv[3] : "f32,q8_0,q4_k,q5_k,q6_k";
    const char *only_shape = argc > 4 ? argv[4] : NULL, *only_table = argc > 5 ? argv[5] : NULL;
    int want_cold = !only_table || (argc > 6 && !strcmp(argv[6], "cold"));
    if (mib < 1 || reps < 1) return 2;
    const shape shapes[] = {{"768x768", 768, 768},      {"2048x768", 2048, 768},   {"768x2048", 768, 2048},
                            {"32000x768", 32000, 768},  {"2048x2048", 2048, 2048}, {"5632x2048", 5632, 2048},
                            {"2048x5632", 2048, 5632}, {"32000x2048", 32000, 2048}};
    const qtype types[] = {{"f32", TL_Q_F32}, {"q8_0", TL_Q8_0}, {"q4_k", TL_Q4_K}, {"q5_k", TL_Q5_K}, {"q6_k", TL_Q6_K}};
    const int ns = (int)(sizeof shapes / sizeof *shapes), nt = (int)(sizeof types / sizeof *types);
    const size_t total = (size_t)mib << 20;
    uint8_t *buf = tl_malloc_aligned(total + (64u << 20));
    float *src = tl_malloc_aligned(sizeof(float) * 32000 * 2048 / 8), *x = tl_malloc_aligned(sizeof(float) * 8192);
    float *out = tl_malloc_aligned(sizeof(float) * 32000);
    void *scratch = tl_malloc_aligned(tl_qmatmul_scratch(1, 8192));
    if (!buf || !src || !x || !out || !scratch) return 1;
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (int i = 0; i < 8192; i++) x[i] = tl_rng_normal(&rng);
    for (size_t i = 0; i < (size_t)32000 * 2048 / 8; i++) src[i] = tl_rng_normal(&rng) * 0.02f;

    for (int ti = 0; ti < nt; ti++) {
        if (!strstr(want, types[ti].name)) continue;
        uint32_t type = types[ti].type;
        for (int si = 0; si < ns; si++) {
            int O = shapes[si].O, I = shapes[si].I;
            if (only_shape && strcmp(only_shape, shapes[si].name)) continue;
            size_t rb = type == TL_Q_F32 ? (size_t)I * 4 : tl_q_row_bytes(type, I), mat = rb * O;
            if (mat > total) continue;
            /* one matrix from the random rows (reused cyclically: quantizing is slow), then copies */
            for (int o = 0; o < O; o++) {
                const float *row = src + ((size_t)o * I) % ((size_t)32000 * 2048 / 8 - (size_t)I);
                if (type == TL_Q_F32) memcpy(buf + o * rb, row, rb);
                else tl_quantize_row(type, row, buf + o * rb, I);
            }
            int copies = want_cold ? (int)(total / mat) : 1;
            for (int c = 1; c < copies; c++) memcpy(buf + (size_t)c * mat, buf, mat);
            for (int isa = TL_ISA_PORTABLE + 1; isa <= (int)tl_cpu_isa(); isa++) {
                const tl_qdot *k = tl_qdot_for(isa);
                if (!k || (type == TL_Q_F32 && isa != (int)tl_cpu_isa())) continue;
                const char *table = type == TL_Q_F32 ? tl_isa_name(tl_cpu_isa())
                                    : k == &tl_qdot_vnni512 ? "vnni512"
                                                            : tl_isa_name(isa);
                if (only_table && strcmp(only_table, table)) continue;
                int Oh = (int)((512u << 10) / rb) < O ? (int)((512u << 10) / rb) : O;
                double hot = run(k, type, buf, mat, 1, Oh, I, x, out, scratch, reps * 20) * O / Oh;
                double cold = !want_cold ? 0 : run(k, type, buf, mat, copies, O, I, x, out, scratch, reps);
                printf("{\"bench\":\"qgemv\",\"table\":\"%s\",\"type\":\"%s\",\"shape\":\"%s\",\"threads\":%d,"
                       "\"mb\":%.2f,\"hot_us\":%.1f,\"hot_gbs\":%.1f,\"cold_us\":%.1f,\"cold_gbs\":%.1f}\n",
                       table, types[ti].name, shapes[si].name, omp_get_max_threads(), mat / 1e6, hot * 1e6, mat / hot * 1e-9,
                       cold * 1e6, cold > 0 ? mat / cold * 1e-9 : 0.0);
                fflush(stdout);
            }
        }
    }
    tl_free_aligned(buf);
    tl_free_aligned(src);
    tl_free_aligned(x);
    tl_free_aligned(out);
    tl_free_aligned(scratch);
    return 0;
}
