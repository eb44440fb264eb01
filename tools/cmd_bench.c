/* cmd_bench.c: `tiller bench`: prefill and decode speed of the benchmark shapes
 * (random weights) and of a real model file, against the machine's measured
 * memory bandwidth. The measuring is src/bench; this file parses and prints. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiller.h"
#include "cli.h"
#include "tiller/tokenizer.h"
#include "commands.h"

typedef struct {
    int json;
    int threads;
    const char *isa;
    double read_gbs; /* 0 when the probe was skipped */
} report;

/* Keep a JSON string valid whatever a name holds (CPU names, file paths). */
static void json_safe(char *s) {
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20) *s = ' ';
}

static void print_header(const report *rp) {
    char cpu[256];
    tl_cpu_model_name(cpu, sizeof cpu);
    json_safe(cpu);
    if (rp->json)
        printf("{\"kind\":\"machine\",\"cpu\":\"%s\",\"isa\":\"%s\",\"threads\":%d}\n", cpu,
               rp->isa, rp->threads);
    else
        printf("cpu: %s, kernels: %s, threads: %d\n", cpu, rp->isa, rp->threads);
}

static void print_memory(const report *rp, const tl_bench_memory *mem, size_t bytes) {
    if (rp->json)
        printf("{\"kind\":\"memory\",\"threads\":%d,\"array_mib\":%zu,\"read_gbs\":%.2f,"
               "\"triad_gbs\":%.2f}\n",
               rp->threads, bytes >> 20, mem->read_gbs, mem->triad_gbs);
    else
        printf("memory bandwidth: read %.1f GB/s, triad %.1f GB/s (%d threads, %zu MiB arrays)\n\n",
               mem->read_gbs, mem->triad_gbs, rp->threads, bytes >> 20);
}

static void print_result(const report *rp, const char *name, const tl_model *m,
                         const tl_bench_opts *o, const tl_bench_result *r,
                         const tl_bench_shape *target) {
    double share = rp->read_gbs > 0 ? r->decode_gbs / rp->read_gbs : 0.0;
    double tpp = target ? target->target_prefill : 0.0, ttg = target ? target->target_decode : 0.0;
    if (rp->json) {
        char safe[512];
        snprintf(safe, sizeof safe, "%s", name);
        json_safe(safe);
        name = safe;
        printf("{\"kind\":\"model\",\"model\":\"%s\",\"params\":%zu,\"isa\":\"%s\",\"threads\":%d,"
               "\"n_prompt\":%d,\"n_gen\":%d,\"prefill_tps\":%.1f,\"prefill_gflops\":%.1f,"
               "\"decode_tps\":%.1f,\"weight_mb\":%.2f,\"decode_gbs\":%.2f,\"bw_share\":%.3f,"
               "\"target_prefill_tps\":%.0f,\"target_decode_tps\":%.0f}\n",
               name, tl_model_n_params(m), rp->isa, rp->threads, o->n_prompt, o->n_gen, r->prefill_tps,
               r->prefill_gflops, r->decode_tps, r->weight_bytes / 1e6, r->decode_gbs, share, tpp,
               ttg);
        fflush(stdout);
        return;
    }
    char pp_t[48] = "", tg_t[48] = "", bw[48] = "";
    if (tpp > 0)
        snprintf(pp_t, sizeof pp_t, " (target %.0f: %s)", tpp,
                 r->prefill_tps >= tpp ? "met" : "MISSED");
    if (ttg > 0)
        snprintf(tg_t, sizeof tg_t, " (target %.0f: %s)", ttg,
                 r->decode_tps >= ttg ? "met" : "MISSED");
    if (share > 0) snprintf(bw, sizeof bw, ", %.0f%% of measured read bandwidth", 100.0 * share);
    printf("%s: %.2fM params, %.1f MB of weights per decoded token\n", name, tl_model_n_params(m) / 1e6,
           r->weight_bytes / 1e6);
    printf("  prefill pp%d: %8.1f tok/s  %6.1f GFLOP/s%s\n", o->n_prompt, r->prefill_tps,
           r->prefill_gflops, pp_t);
    printf("  decode  tg%d: %8.1f tok/s  %6.2f GB/s%s%s\n", o->n_gen, r->decode_tps, r->decode_gbs,
           bw, tg_t);
    fflush(stdout);
}

/* Build (shape) or load (file) one model, time it and print the result. */
static int bench_one(const report *rp, const char *name, const tl_bench_shape *shape,
                     const char *path, const tl_bench_opts *o) {
    tl_model *m = NULL;
    if (shape) {
        if (tl_model_new(&shape->cfg, &m)) return cli_fail();
        tl_model_init_random(m, o->seed);
    } else if (tl_model_load_mapped(path, &m, NULL)) {
        return cli_fail();
    }
    tl_bench_result r;
    tl_status st = tl_bench_model(m, o, &r);
    if (!st) print_result(rp, name, m, o, &r, shape ? shape : tl_bench_shape_find(name));
    tl_model_free(m);
    return st ? cli_fail() : 0;
}

/* --train: training throughput of the shapes against the measured sgemm ceiling. */
static int bench_train(const report *rp, const char *model, int steps) {
    int n, all = !strcmp(model, "all"), known = all;
    const tl_bench_train_shape *shapes = tl_bench_train_shapes(&n);
    for (int i = 0; i < n; i++) known |= !strcmp(model, shapes[i].name);
    if (!known)
        return cli_failf(2, "bench: --train measures stories15M, stories110M or all, not '%s'",
                         model);
    double sgemm = 0.0;
    if (tl_bench_sgemm(2048, 3, &sgemm)) return cli_fail();
    if (rp->json)
        printf("{\"kind\":\"sgemm\",\"threads\":%d,\"n\":2048,\"gflops\":%.1f}\n", rp->threads,
               sgemm);
    else
        printf("sgemm (OpenBLAS, 2048^3, one slice per thread): %.1f GFLOP/s\n\n", sgemm);
    for (int i = 0; i < n; i++) {
        const tl_bench_train_shape *sh = &shapes[i];
        if (!all && strcmp(model, sh->name) != 0) continue;
        tl_bench_train_result r;
        if (tl_bench_train(&sh->cfg, sh->batch, sh->seq, steps, 1234, &r)) return cli_fail();
        double share = sgemm > 0 ? r.gflops / sgemm : 0.0;
        if (rp->json)
            printf("{\"kind\":\"train\",\"model\":\"%s\",\"params\":%zu,\"isa\":\"%s\","
                   "\"threads\":%d,\"batch\":%d,\"seq\":%d,\"steps\":%d,\"tokens_per_s\":%.1f,"
                   "\"gflops\":%.1f,\"sgemm_share\":%.3f,\"fwd_ms\":%.1f,\"bwd_ms\":%.1f,"
                   "\"opt_ms\":%.1f,\"loss\":%.4f,\"target_tps\":%.0f}\n",
                   sh->name, r.n_params, rp->isa, rp->threads, sh->batch, sh->seq, steps,
                   r.tokens_per_s, r.gflops, share, r.fwd_ms, r.bwd_ms, r.opt_ms, r.loss,
                   sh->target_tps);
        else
            printf(
                "%s (tied, %.2fM params), batch %d x %d, forward + backward + AdamW:\n"
                "  %8.1f tok/s  %6.1f GFLOP/s = %.0f%% of sgemm (target %.0f tok/s: %s)\n"
                "  per step: forward %.0f ms, backward %.0f ms, clip + AdamW %.0f ms; loss %.3f\n",
                sh->name, r.n_params / 1e6, sh->batch, sh->seq, r.tokens_per_s, r.gflops,
                100.0 * share, sh->target_tps, r.tokens_per_s >= sh->target_tps ? "met" : "MISSED",
                r.fwd_ms, r.bwd_ms, r.opt_ms, r.loss);
        fflush(stdout);
    }
    return 0;
}

/* --save: write the random-weight model of a shape (for llama.cpp to time the same file). */
static int save_shape(const char *name, const char *out, const char *dtype_s, const char *tok_path, uint64_t seed) {
    const tl_bench_shape *sh = tl_bench_shape_find(name);
    if (!sh || !sh->cfg.dim)
        return cli_failf(2, "bench --save: '%s' is not a shape (stories15M, stories110M, tinyllama, tiny256, pythia70m, "
                         "pythia160m)", name);
    tl_save_opts so = {TL_DTYPE_F32, 0};
    if (tl_dtype_parse(dtype_s, &so.dtype)) return cli_failf(2, "--dtype: %s", tl_last_error());
    tl_model *m = NULL;
    if (tl_model_new(&sh->cfg, &m)) return cli_fail();
    tl_model_init_random(m, seed);
    tl_tokenizer *tok = NULL; /* saved with the model */
    if (tok_path) {
        if (tl_tokenizer_load(tok_path, &tok)) {
            tl_model_free(m);
            return cli_fail();
        }
        if (tl_tokenizer_n_vocab(tok) != sh->cfg.vocab_size) {
            int nv = tl_tokenizer_n_vocab(tok);
            tl_tokenizer_free(tok);
            tl_model_free(m);
            return cli_failf(1, "%s: %d tokens, the shape's vocabulary is %d", tok_path, nv, sh->cfg.vocab_size);
        }
    }
    tl_status s = tl_model_save_opts(m, tok, out, &so);
    tl_tokenizer_free(tok);
    tl_model_free(m);
    if (s) return cli_fail();
    printf("%s: random %s (seed %llu), %s\n", out, name, (unsigned long long)seed, tl_dtype_name(so.dtype));
    return 0;
}

/* --paired R: decode against a decode-shaped read probe in each of R rounds (bench_paired.c). */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) { /* sorts v */
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static int bench_paired(const report *rp, const char *model, const tl_bench_opts *o, int rounds, size_t old_bytes) {
    const tl_bench_shape *shape = tl_bench_shape_find(model);
    tl_model *m = NULL;
    if (shape && shape->cfg.dim) {
        if (tl_model_new(&shape->cfg, &m)) return cli_fail();
        tl_model_init_random(m, o->seed);
    } else if (tl_model_load_mapped(model, &m, NULL)) {
        return cli_fail();
    }
    tl_bench_pair pr[256];
    tl_status st = tl_bench_paired(m, o, rounds, old_bytes, pr);
    tl_model_free(m);
    if (st) return cli_fail();
    if (!rp->json)
        printf("decode tg%d against read probes of the weights' size (%.0f MB, %d sweeps, %d threads) and the old "
               "probe (%zu MiB, best of 3)\n"
               "round  sum4 GB/s  sum1 GB/s  memchr GB/s  weights GB/s  read GB/s  old GB/s  decode tok/s  "
               "decode GB/s  share  share of old\n",
               o->n_gen, pr[0].probe_bytes / 1e6, o->n_gen, pr[0].threads, old_bytes >> 20);
    double shares[256], old_shares[256], reads[256], tps[256]; /* per round, for the medians */
    for (int r = 0; r < rounds; r++) {
        const tl_bench_pair *p = &pr[r];
        double share = p->decode_gbs / p->read_gbs, old = p->old_read_gbs > 0 ? p->decode_gbs / p->old_read_gbs : 0;
        shares[r] = share, old_shares[r] = old, reads[r] = p->read_gbs, tps[r] = p->decode_tps;
        if (rp->json)
            printf("{\"kind\":\"paired\",\"round\":%d,\"threads\":%d,\"n_gen\":%d,\"weight_mb\":%.2f,"
                   "\"probe_mb\":%.2f,\"sum4_gbs\":%.2f,\"sum1_gbs\":%.2f,\"memchr_gbs\":%.2f,\"weights_gbs\":%.2f,"
                   "\"read_gbs\":%.2f,\"old_read_gbs\":%.2f,\"decode_tps\":%.2f,\"decode_gbs\":%.2f,"
                   "\"share\":%.4f,\"share_old\":%.4f}\n",
                   r + 1, p->threads, o->n_gen, p->weight_bytes / 1e6, p->probe_bytes / 1e6, p->probe_gbs[0],
                   p->probe_gbs[1], p->probe_gbs[2], p->probe_gbs[3], p->read_gbs, p->old_read_gbs, p->decode_tps,
                   p->decode_gbs, share, old);
        else
            printf("%5d  %9.1f  %9.1f  %11.1f  %12.1f  %9.1f  %8.1f  %12.1f  %11.1f  %4.0f %%  %8.0f %%\n", r + 1,
                   p->probe_gbs[0], p->probe_gbs[1], p->probe_gbs[2], p->probe_gbs[3], p->read_gbs, p->old_read_gbs,
                   p->decode_tps, p->decode_gbs, 100 * share, 100 * old);
    }
    double ms = median(shares, rounds), mo = median(old_shares, rounds), mr = median(reads, rounds),
           mt = median(tps, rounds);
    if (rp->json)
        printf("{\"kind\":\"paired_median\",\"rounds\":%d,\"read_gbs\":%.2f,\"decode_tps\":%.2f,\"share\":%.4f,"
               "\"share_old\":%.4f}\n",
               rounds, mr, mt, ms, mo);
    else
        printf("median of %d rounds: read %.1f GB/s, decode %.1f tok/s, share %.0f %% (of the old probe: %.0f %%)\n",
               rounds, mr, mt, 100 * ms, 100 * mo);
    return 0;
}

int tl_cmd_bench(int argc, char **argv) {
    const char *model = "all", *path260k = NULL;
    const char *save = NULL, *dtype_s = "f32", *tok_path = NULL;
    int threads = 2, json = 0, no_memory = 0, mem_mib = 256, train = 0, steps = 3, paired = -1;
    tl_bench_opts o;
    tl_bench_opts_default(&o);
    const cli_opt opts[] = {
        {"--threads", "-t", OPT_INT, &threads, "threads (OpenMP)"},
        {"--model", "-m", OPT_STR, &model,
         "stories15M, stories110M (random weights of that shape), stories260K (the file below), "
         "a model file, or all"},
        {"--stories260k", NULL, OPT_STR, &path260k, "path of the real stories260K model (default: models/stories260K/stories260K.bin in "
                                                      "$TILLER_SHARED, else ../shared from here or beside the repository)"},
        {"--prompt", "-p", OPT_INT, &o.n_prompt, "prompt tokens (prefill)"},
        {"--gen", "-n", OPT_INT, &o.n_gen, "tokens decoded one at a time after the prompt"},
        {"--reps", "-r", OPT_INT, &o.reps, "timed runs per figure (the best is kept)"},
        {"--mem-mib", NULL, OPT_INT, &mem_mib, "array size of the memory-bandwidth probe, MiB"},
        {"--no-memory", NULL, OPT_FLAG, &no_memory, "skip the memory-bandwidth probe"},
        {"--paired", NULL, OPT_INT, &paired,
         "N rounds of one decode run (-n tokens) beside read probes shaped like it (the weights' size, decode's "
         "threads and split, as long as the decode) and the old probe, per round and median (one --model; -1: off)"},
        {"--train", NULL, OPT_FLAG, &train,
         "measure training instead: forward + backward + AdamW tokens/s and GFLOP/s of the "
         "stories15M (8 x 256) and stories110M (4 x 256) shapes, tied, against measured sgemm"},
        {"--steps", NULL, OPT_INT, &steps, "timed training steps per shape (--train)"},
        {"--json", NULL, OPT_FLAG, &json, "one JSON object per line instead of text"},
        {"--save", NULL, OPT_STR, &save,
         "write the random-weight model of --model (a shape, also tinyllama or tiny256) to this file and exit"},
        {"--dtype", NULL, OPT_STR, &dtype_s, "tensor type for --save (f32, f16, q8_0, q4_k, ... as convert)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "vocabulary to embed with --save (its size must match the shape)"},
        {"--seed", NULL, OPT_U64, &o.seed, "seed of the random weights"},
    };
    const cli_spec spec = {
        "tiller bench [-t THREADS] [--model NAME|FILE] [--train [--steps N]] [--json]",
        "Measures inference speed: prefill (a prompt in one call, tokens/s) and decode (tokens one "
        "at a time after the prompt, tokens/s, and the GB/s of weights that reads), for random-"
        "weight models of the stories15M and stories110M shapes and for the real stories260K, "
        "against targets and against the memory bandwidth the machine shows with the same "
        "threads. With --train: training throughput (6 x params x tokens GFLOP/s) against the "
        "machine's sgemm. Set TILLER_ISA=avx2 (or portable) to measure a narrower kernel path.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        NULL,
        0,
        NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (threads < 1 || threads > 1024)
        return cli_failf(2, "bench: --threads %d must be 1..1024", threads);
    if (o.n_prompt < 1 || o.n_gen < 1 || o.reps < 1)
        return cli_failf(2, "bench: --prompt, --gen and --reps must be at least 1");
    if (steps < 1 || steps > 1000) return cli_failf(2, "bench: --steps %d must be 1..1000", steps);
    if (mem_mib < 1 || mem_mib > 8192)
        return cli_failf(2, "bench: --mem-mib %d must be 1..8192", mem_mib);
    if (paired != -1 && (paired < 1 || paired > 256))
        return cli_failf(2, "bench: --paired %d must be 1..256", paired);
    if (paired != -1 && !strcmp(model, "all"))
        return cli_failf(2, "bench: --paired needs one --model (a shape or a file)");
    cli_set_threads(threads);
    if (save) return save_shape(model, save, dtype_s, tok_path, o.seed);
    setvbuf(stdout, NULL, _IOLBF, 0); /* each result as it is measured, also into a file or pipe */

    if (!strcmp(model, "all") || !strcmp(model, "stories260K")) { /* checked before minutes of benchmarks */
        int default_path = !path260k;
        if (!path260k) path260k = cli_shared_path("models/stories260K/stories260K.bin");
        if (default_path && access(path260k, F_OK) != 0)
            return cli_failf(1, "%s: no such file (the default; --stories260k FILE or TILLER_SHARED sets it)", path260k);
    }
    report rp = {json, omp_get_max_threads(), tl_isa_name(tl_cpu_isa()), 0.0};
    print_header(&rp);
    if (train) return bench_train(&rp, model, steps);
    if (paired != -1) /* the old probe runs in each round, unless --no-memory */
        return bench_paired(&rp, !strcmp(model, "stories260K") ? path260k : model, &o, paired,
                            no_memory ? 0 : (size_t)mem_mib << 20);
    if (!no_memory) {
        tl_bench_memory mem;
        size_t bytes = (size_t)mem_mib << 20;
        if (tl_bench_memory_run(bytes, 3, &mem)) return cli_fail();
        rp.read_gbs = mem.read_gbs;
        print_memory(&rp, &mem, bytes);
    }

    int all = !strcmp(model, "all");
    int n_shapes, done = 0;
    const tl_bench_shape *shapes = tl_bench_shapes(&n_shapes);
    cli_progress bar; /* not on a terminal: a line every few seconds (results go to stdout) */
    cli_progress_start(&bar, "bench", all ? n_shapes + 1 : 1);
    bar.enabled = !bar.tty;
    for (int i = 0; i < n_shapes; i++) {
        if (!all && strcmp(model, shapes[i].name) != 0) continue;
        if (bench_one(&rp, shapes[i].name, &shapes[i], NULL, &o)) return 1;
        cli_progress_update(&bar, ++done, shapes[i].name);
    }
    if (all || !strcmp(model, "stories260K")) {
        if (bench_one(&rp, "stories260K", NULL, path260k, &o)) return 1;
        done++;
    }
    if (!done) {
        if (bench_one(&rp, model, NULL, model, &o)) return 1;
    }
    cli_progress_end(&bar);
    return 0;
}
