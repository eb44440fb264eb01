/* bench_probe: linear-probe cost, to choose between the Newton and L-BFGS solvers
 * and to estimate a full trust-dynamics run (checkpoints x layers x datasets).
 *
 * Data: N statements x d features with a low-rank structure plus noise (like
 * residual streams), labels from a noisy linear rule; each "checkpoint" moves the
 * matrix a little (X_c = (1 - t) A + t B), as consecutive checkpoints do, so warm
 * starts see realistic changes. Each fit is standardise + tl_probe_fit (80/20).
 *
 *   bench_probe            per-fit times, one line per (N, d, solver, start):
 *     bench_probe N=1952 d=256 solver=newton start=warm fits=8 ms_per_fit=... iters=...
 *   bench_probe --run C L  a full run of C checkpoints x L layers over the five trust
 *                          datasets' sizes (d = 256 unless given as a third argument),
 *                          layers spread over the OpenMP threads like tl_probe_run:
 *     bench_probe run checkpoints=40 layers=8 d=256 threads=2 fits=1600 seconds=...
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"

typedef struct {
    int n, d;
    float *A, *B, *X; /* [n, d] */
    int64_t *y;
    double *Z;
} data;

static void make_data(data *D, int n, int d, uint64_t seed) {
    tl_rng r;
    tl_rng_seed(&r, seed);
    D->n = n;
    D->d = d;
    size_t nd = (size_t)n * d;
    D->A = malloc(nd * sizeof(float));
    D->B = malloc(nd * sizeof(float));
    D->X = malloc(nd * sizeof(float));
    D->Z = malloc(nd * sizeof(double));
    D->y = malloc((size_t)n * sizeof(int64_t));
    int k = 8; /* rank of the shared structure */
    float *U = malloc((size_t)n * k * sizeof(float)), *V = malloc((size_t)k * d * sizeof(float));
    for (size_t i = 0; i < (size_t)n * k; i++) U[i] = tl_rng_normal(&r);
    for (size_t i = 0; i < (size_t)k * d; i++) V[i] = tl_rng_normal(&r);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) {
            float s = 0;
            for (int t = 0; t < k; t++) s += U[i * k + t] * V[t * d + j];
            D->A[(size_t)i * d + j] = s + 0.5f * tl_rng_normal(&r);
            D->B[(size_t)i * d + j] = s + 0.5f * tl_rng_normal(&r);
        }
        D->y[i] = U[i * k] - 0.5f * U[i * k + 1] + 0.7f * tl_rng_normal(&r) > 0;
    }
    free(U);
    free(V);
}

static void free_data(data *D) {
    free(D->A);
    free(D->B);
    free(D->X);
    free(D->Z);
    free(D->y);
}

/* Checkpoint c of n_ckpt: interpolate, standardise, fit (warm: w carries over). */
static int fit_ckpt(data *D, int c, int n_ckpt, tl_solver sv, int warm, double *w) {
    float t = n_ckpt > 1 ? (float)c / (n_ckpt - 1) : 0;
    size_t nd = (size_t)D->n * D->d;
    for (size_t i = 0; i < nd; i++) D->X[i] = (1 - t) * D->A[i] + t * D->B[i];
    tl_standardize(D->X, D->n, D->d, D->Z);
    tl_probe_opts o;
    tl_probe_opts_default(&o);
    o.lr.solver = sv;
    if (!warm) memset(w, 0, sizeof(double) * (D->d + 1));
    tl_probe_result r;
    if (tl_probe_fit(D->Z, D->y, D->n, D->d, &o, w, &r)) {
        fprintf(stderr, "bench_probe: %s\n", tl_last_error());
        exit(1);
    }
    return r.iters;
}

static void per_fit(void) {
    int ns[] = {1952, 6514}, ds[] = {64, 256, 512, 1024};
    const int fits = 8;
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 4; b++) {
            data D;
            make_data(&D, ns[a], ds[b], 1234 + a * 10 + b);
            double *w = calloc((size_t)ds[b] + 1, sizeof *w);
            for (int sv = TL_SOLVER_NEWTON; sv <= TL_SOLVER_LBFGS; sv++)
                for (int warm = 0; warm < 2; warm++) {
                    /* L-BFGS takes hundreds of iterations here: only the small cases (the machine is shared) */
                    if (sv == TL_SOLVER_LBFGS && (size_t)ns[a] * ds[b] > 2000000) continue;
                    memset(w, 0, sizeof(double) * (ds[b] + 1));
                    fit_ckpt(&D, 0, 40, (tl_solver)sv, 0, w); /* start point for the warm runs */
                    double t0 = tl_time_sec();
                    long iters = 0;
                    for (int c = 1; c <= fits; c++) iters += fit_ckpt(&D, c, 40, (tl_solver)sv, warm, w);
                    double ms = (tl_time_sec() - t0) * 1e3 / fits;
                    printf("bench_probe N=%d d=%d solver=%s start=%s fits=%d ms_per_fit=%.2f iters=%.1f\n", ns[a],
                           ds[b], tl_solver_name((tl_solver)sv), warm ? "warm" : "cold", fits, ms,
                           (double)iters / fits);
                    fflush(stdout);
                }
            free(w);
            free_data(&D);
        }
}

static void full_run(int n_ckpt, int layers, int d) {
    int sizes[5] = {2346, 3642, 1952, 6514, 2263}; /* confaide sst2 stereoset toxigen truthfulqa_train */
    double t0 = tl_time_sec();
    for (int s = 0; s < 5; s++) {
#pragma omp parallel for schedule(dynamic, 1)
        for (int l = 0; l < layers; l++) {
            data D;
            make_data(&D, sizes[s], d, 99 + 100 * s + l);
            double *w = calloc((size_t)d + 1, sizeof *w);
            for (int c = 0; c < n_ckpt; c++) fit_ckpt(&D, c, n_ckpt, TL_SOLVER_AUTO, 1, w);
            free(w);
            free_data(&D);
        }
    }
    printf("bench_probe run checkpoints=%d layers=%d d=%d threads=%d fits=%d seconds=%.1f "
           "(includes generating the data)\n", n_ckpt, layers, d, omp_get_max_threads(), 5 * n_ckpt * layers,
           tl_time_sec() - t0);
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--run")) {
        full_run(atoi(argv[2]), atoi(argv[3]), argc > 4 ? atoi(argv[4]) : 256);
        return 0;
    }
    per_fit();
    return 0;
}
