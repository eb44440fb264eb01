/* bench_loadab: decode of one f32/f16 model file (.gguf or llama2.c .bin) loaded twice, A = the
 * matrices used in the file's mapping (TL_LOAD_MAPPED, the loader before the eighth session), B = as
 * tl_model_load_mapped loads it now (TL_LOAD_IN_PLACE: the file read whole into anonymous 2 MiB
 * pages), timed token by token in alternating blocks (ABBA) in one process, so that both see the
 * same load of a shared machine. Prints per-token wall-time quantiles, CPU time per token, their
 * ratios (> 1: B faster), and the process's AnonHugePages / FilePmdMapped (smaps_rollup).
 *
 *   bench_loadab FILE [ROUNDS [BLOCK]]      (threads: OMP_NUM_THREADS; defaults 20 rounds of 8) */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/format.h"
#include "tiller.h"

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int rounds = argc > 2 ? atoi(argv[2]) : 20, block = argc > 3 ? atoi(argv[3]) : 8;
    tl_model *m[2];
    int bin = !strcmp(tl_path_ext(argv[1]), ".bin");
    double load_wall[2], load_cpu[2];
    for (int v = 0; v < 2; v++) {
        load_wall[v] = tl_time_sec(), load_cpu[v] = cpu_now();
        int mode = v ? TL_LOAD_IN_PLACE : TL_LOAD_MAPPED;
        tl_status st =
            bin ? tl_llama2c_load_ex(argv[1], mode, &m[v]) : tl_gguf_model_load_ex(argv[1], mode, &m[v], NULL);
        if (st) return fprintf(stderr, "%s\n", tl_last_error()), 1;
        load_wall[v] = tl_time_sec() - load_wall[v], load_cpu[v] = cpu_now() - load_cpu[v];
    }
    int n_ctx = 256;
    tl_session *s[2];
    for (int v = 0; v < 2; v++)
        if (tl_session_new(m[v], n_ctx, 1, &s[v])) return 1;
    int n = rounds * block;
    double *t[2], cpu[2] = {0, 0}, wall[2] = {0, 0};
    t[0] = calloc((size_t)n, sizeof(double));
    t[1] = calloc((size_t)n, sizeof(double));
    int pos[2] = {0, 0}, k[2] = {0, 0};
    int32_t tok = 1;
    for (int v = 0; v < 2; v++) /* warm-up: fault everything in */
        for (int i = 0; i < 4; i++) tl_forward(s[v], &tok, 1, NULL), pos[v]++;
    for (int r = 0; r < rounds; r++) {
        for (int h = 0; h < 2; h++) {
            int v = (r % 2) ^ h; /* ABBA order */
            for (int i = 0; i < block; i++) {
                if (pos[v] >= n_ctx - 1) tl_session_reset(s[v]), pos[v] = 0;
                tok = (int32_t)(1 + (pos[v] * 7919) % 31000);
                double c0 = cpu_now(), t0 = tl_time_sec();
                tl_forward(s[v], &tok, 1, NULL);
                double dt = tl_time_sec() - t0;
                cpu[v] += cpu_now() - c0;
                wall[v] += dt;
                t[v][k[v]++] = dt;
                pos[v]++;
            }
        }
    }
    const char *name[2] = {"map", "copy"};
    for (int v = 0; v < 2; v++) {
        qsort(t[v], (size_t)n, sizeof(double), cmp);
        printf("%-4s load %.3f s (cpu %.3f s)  ", name[v], load_wall[v], load_cpu[v]);
        printf("tokens %d  ms/token p10 %.3f p25 %.3f median %.3f  mean %.3f  cpu ms/token %.3f\n", n,
               1e3 * t[v][n / 10], 1e3 * t[v][n / 4], 1e3 * t[v][n / 2], 1e3 * wall[v] / n, 1e3 * cpu[v] / n);
    }
    printf("copy/map speed: p10 %.3f median %.3f mean %.3f cpu %.3f\n", t[0][n / 10] / t[1][n / 10],
           t[0][n / 2] / t[1][n / 2], wall[0] / wall[1], cpu[0] / cpu[1]);
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "AnonHugePages") || strstr(line, "Rss:") || strstr(line, "FilePmdMapped")) fputs(line, stdout);
    if (f) fclose(f);
    for (int v = 0; v < 2; v++) tl_session_free(s[v]), tl_model_free(m[v]);
    free(t[0]);
    free(t[1]);
    return 0;
}
