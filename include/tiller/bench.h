/*
 * bench: the performance harness behind `tiller bench`. It owns the benchmark
 * model shapes (random weights, built in memory), the timing protocol for
 * prefill and decode, and the memory-bandwidth probe that decode is compared
 * with. It measures and returns numbers; the CLI prints them.
 *
 * Protocol (llama-bench's pp/tg, with the decode after the prompt):
 *   prefill  n_prompt tokens in one tl_forward call; tokens/s, best of reps runs
 *            after one warm-up run;
 *   decode   after an untimed prefill, n_gen tl_forward calls of one token each;
 *            tokens/s, best of reps runs. Weight traffic per decoded token is
 *            every parameter except the token-embedding table (one row of it is
 *            read), so effective GB/s = that many bytes x tokens/s.
 */
#ifndef TL_BENCH_H
#define TL_BENCH_H

#include "tiller/model.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* A benchmark model shape with the targets it is measured against (2 threads, f32). */
typedef struct {
    const char *name;      /* "stories15M" */
    tl_config cfg;         /* untied output, seq_len >= 256 */
    double target_prefill; /* tokens/s for a 128-token prompt (0 = none) */
    double target_decode;  /* tokens/s */
} tl_bench_shape;

/* The built-in shapes (stories15M, stories110M); *n receives the count. */
const tl_bench_shape *tl_bench_shapes(int *n);
/* Targets for a model that is loaded rather than built (stories260K), by name; NULL if none. */
const tl_bench_shape *tl_bench_shape_find(const char *name);

typedef struct {
    int n_prompt; /* tokens in the prompt (default 128) */
    int n_gen;    /* tokens decoded one at a time (default 128) */
    int reps;     /* timed runs; the best is kept (default 3) */
    uint64_t seed;
} tl_bench_opts;
void tl_bench_opts_default(tl_bench_opts *o);

typedef struct {
    double prefill_tps;    /* tokens/s */
    double decode_tps;     /* tokens/s */
    double prefill_gflops; /* 2 x multiply-adds of the matmuls / time */
    double weight_bytes;   /* weight bytes read per decoded token */
    double decode_gbs;     /* weight_bytes x decode_tps / 1e9 */
} tl_bench_result;

/* Time prefill and decode of model m with the calling thread count. Needs
 * n_prompt + n_gen <= the model's seq_len. */
tl_status tl_bench_model(const tl_model *m, const tl_bench_opts *o, tl_bench_result *r);

typedef struct {
    double read_gbs;  /* sum over an array, best of runs */
    double triad_gbs; /* a = b + s c, counting 3 x 4 bytes an element like STREAM */
} tl_bench_memory;
/* Measure memory bandwidth with the calling thread count on arrays of `bytes`
 * each (choose well above the last-level cache). */
tl_status tl_bench_memory_run(size_t bytes, int reps, tl_bench_memory *r);

/* Decode against a read probe shaped like decode, round by round (bench_paired.c): each round
 * times one decode of n_gen tokens after the prompt, n_gen sweeps of a buffer of the weights' size
 * by decode's threads with three read loops, n_gen sweeps of the model's own f32 matrices with
 * decode's rows per thread, and the old probe (old_probe_bytes, best of 3; 0 skips it). */
typedef struct {
    double probe_gbs[4];  /* sum of 4 streams, sum of 1 stream, memchr, the weights (0: not all f32) */
    double read_gbs;      /* the fastest of probe_gbs: the round's read bandwidth */
    double old_read_gbs;  /* tl_bench_memory_run's read figure in the same round */
    double decode_tps;    /* one run of n_gen tokens */
    double decode_gbs;    /* weight_bytes x decode_tps / 1e9 */
    double weight_bytes;  /* per decoded token */
    double probe_bytes;   /* the buffer swept per "token" (the weights rounded up to 2 MiB) */
    int threads;          /* decode's and the probes' */
} tl_bench_pair;
tl_status tl_bench_paired(const tl_model *m, const tl_bench_opts *o, int rounds, size_t old_probe_bytes,
                          tl_bench_pair *out /* [rounds] */);

/* Training throughput (`tiller bench --train`, bench_train.c): forward + backward +
 * clipping + AdamW on random tokens, allocated once, timed over `steps` steps after
 * one warm-up step. GFLOP/s counts 6 x parameters x tokens (attention excluded). */
typedef struct {
    const char *name; /* "stories15M" */
    tl_config cfg;    /* tied embeddings */
    int batch, seq;   /* the workload: B x T tokens a step */
    double target_tps;
} tl_bench_train_shape;
const tl_bench_train_shape *tl_bench_train_shapes(int *n);

typedef struct {
    size_t n_params;
    double tokens_per_s, gflops;
    double fwd_ms, bwd_ms, opt_ms; /* per step */
    float loss;                    /* of the last step (a sanity figure: ~ln V at random init) */
} tl_bench_train_result;
tl_status tl_bench_train(const tl_config *cfg, int B, int T, int steps, uint64_t seed,
                         tl_bench_train_result *r);

/* OpenBLAS sgemm n x n x n as tiller calls it (one single-threaded slice per OpenMP
 * thread), GFLOP/s, best of reps: the ceiling training throughput is compared with. */
tl_status tl_bench_sgemm(int n, int reps, double *gflops);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_BENCH_H */
