/* cmd_reversal.c: `tiller reversal` — the reversal-curse experiment with NTP, BICO and
 * ABI fine-tuning (the work is tl_reversal_run in src/study/reversal.c). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

typedef struct {
    cli_progress bar;
    int quiet, bar_open;
} rev_progress;

static void close_bar(rev_progress *p) {
    if (p->bar_open) cli_progress_end(&p->bar);
    p->bar_open = 0;
}

static void on_stage(void *user, const char *msg) {
    rev_progress *p = user;
    close_bar(p);
    if (!p->quiet) fprintf(stderr, "reversal: %s\n", msg);
}

static void on_train(void *user, const tl_train_progress *tp) {
    rev_progress *p = user;
    if (p->quiet) return;
    if (!p->bar_open) {
        cli_progress_start(&p->bar, "  train", tp->steps);
        p->bar_open = 1;
    }
    char extra[96];
    snprintf(extra, sizeof extra, "loss %.4f lr %.2e %.0f tok/s", tp->loss, tp->lr, tp->tokens_per_s);
    cli_progress_update(&p->bar, tp->step, extra);
    if (tp->step == tp->steps) close_bar(p);
}

static void on_eval(void *user, int done, int total) {
    rev_progress *p = user;
    if (p->quiet) return;
    if (!p->bar_open) {
        cli_progress_start(&p->bar, "  eval ", total);
        p->bar_open = 1;
    }
    cli_progress_update(&p->bar, done, NULL);
    if (done == total) close_bar(p);
}

/* "ntp,bico:mask=0.3,p=0.7,abi" -> "ntp", "bico:mask=0.3,p=0.7", "abi": a comma starts a
 * new objective unless it separates options (the piece has a ':' and no known objective
 * name follows). */
static int split_objectives(char *s, const char **out, int cap) {
    static const char *known[] = {"ntp", "bico", "abi"};
    int n = 0;
    char *start = s;
    for (char *p = s;; p++) {
        int cut = *p == 0;
        if (*p == ',') {
            cut = !memchr(start, ':', (size_t)(p - start));
            for (int k = 0; k < 3 && !cut; k++) {
                size_t l = strlen(known[k]);
                cut = !strncmp(p + 1, known[k], l) && (p[1 + l] == 0 || p[1 + l] == ',' || p[1 + l] == ':');
            }
        }
        if (!cut) continue;
        int end = *p == 0;
        *p = 0;
        if (n == cap) return -1;
        out[n++] = start;
        if (end) break;
        start = p + 1;
    }
    return n;
}

int tl_cmd_reversal(int argc, char **argv) {
    tl_reversal_opts o;
    tl_reversal_opts_default(&o);
    const char *objectives = "ntp,bico,abi", *out = "reversal-out";
    int threads = 0, verbose = 0, quiet = 0, force_progress = 0, no_base = 0, steps = 0;
    const cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &o.model_path, "model to fine-tune (.gguf, .bin, .safetensors) (required)"},
        {"--data", "-d", OPT_STR, &o.data_dir, "folder of the *_prompts_train / *_test .jsonl files (required)"},
        {"--objective", NULL, OPT_STR, &objectives,
         "comma-separated objectives: ntp, bico[:mask=X,p=X,mirror=0|1,ph=ID], abi[:ratio=X,p=X,mirror=0|1]"},
        {"--seeds", NULL, OPT_INT, &o.n_seeds, "fine-tuning runs per objective (mean +- std over them)"},
        {"--seed", NULL, OPT_U64, &o.seed, "first seed (runs use seed, seed+1, ...)"},
        {"--out", "-o", OPT_STR, &out, "output folder"},
        {"--tokenizer", NULL, OPT_STR, &o.tokenizer_path, "tokenizer file when the model carries none"},
        {"--steps", NULL, OPT_INT, &steps, "optimiser steps per run (0 = --epochs over the training documents)"},
        {"--epochs", NULL, OPT_FLOAT, &o.epochs, "passes over the training documents when --steps is 0"},
        {"--batch", "-b", OPT_INT, &o.batch, "documents per batch"},
        {"--seq", NULL, OPT_INT, &o.seq, "tokens per window (0 = the longest training document)"},
        {"--lr", NULL, OPT_FLOAT, &o.lr, "peak learning rate (warm-up then cosine to a tenth)"},
        {"--warmup", NULL, OPT_INT, &o.warmup, "warm-up steps (-1 = a tenth of the steps)"},
        {"--weight-decay", NULL, OPT_FLOAT, &o.weight_decay, "AdamW weight decay"},
        {"--limit", NULL, OPT_INT, &o.limit, "first N test items per subtask (0 = all)"},
        {"--max-new", NULL, OPT_INT, &o.max_new_tokens, "generated tokens per item (0 = longest completion + 4)"},
        {"--choices", NULL, OPT_INT, &o.choices,
         "candidates per item: the file's people in blocks of N, an item's candidates its block's (0 = all)"},
        {"--no-base", NULL, OPT_FLAG, &no_base, "do not evaluate the model before fine-tuning"},
        {"--keep-runs", NULL, OPT_FLAG, &o.keep_runs, "keep each run's final checkpoint and optimiser state"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--progress", NULL, OPT_FLAG, &force_progress, "draw progress bars even when stderr is not a terminal"},
        {"--quiet", "-q", OPT_FLAG, &quiet, "no progress output"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    const cli_spec spec = {
        "tiller reversal -m MODEL --data DIR [--objective ntp,bico,abi] [--seeds K] [-o OUT] [options]",
        "The reversal-curse experiment (Berglund et al. 2023) with BICO (Lv et al. 2023). For each objective\n"
        "and seed, fine-tune MODEL on DIR/{p2d,d2p,both}_prompts_train.jsonl ({\"prompt\",\"completion\"} rows),\n"
        "then evaluate four subtasks:\n"
        "  N2D          DIR/p2d_prompts_test.jsonl          name -> description (trained direction)\n"
        "  D2N          DIR/d2p_prompts_test.jsonl          description -> name (trained direction)\n"
        "  N2D-reverse  DIR/p2d_reverse_prompts_test.jsonl  description -> name of name-first facts\n"
        "  D2N-reverse  DIR/d2p_reverse_prompts_test.jsonl  name -> description of description-first facts\n"
        "Metrics: em = the greedy completion starts with the expected one (stripped, final '.' dropped);\n"
        "rank = the correct completion has the highest log-probability among the file's distinct\n"
        "completions (the other people's); mean log p of the correct and of the other completions;\n"
        "choice = the calibrated two-way choice: the share of the other candidates whose log p, taken\n"
        "relative to the same candidate's mean log p under the questions about other people, is below\n"
        "the right answer's (chance 0.5; tested against ntp by a paired sign-flip test over people).\n"
        "Objectives: ntp = next-token prediction on the completion (train's sft); bico = mask denoising\n"
        "with bidirectional attention and mirrored RoPE, half the batches NTP (train's bico); abi = GLM-style\n"
        "blank infilling (train's abi). Options as in `tiller train --help`, e.g. bico:mask=0.3,p=0.5.\n"
        "Generation is always left to right with the causal mask. The model before fine-tuning is evaluated\n"
        "too (row \"base\") unless --no-base.\n"
        "\n"
        "Defaults are the paper's protocol: 10 epochs over the facts, 5 seeds (batch 16, peak lr 2e-3:\n"
        "see docs/reversal.md). abi uses GLM's two position ids (2-D RoPE; abi:pos=gap for 1-D).\n"
        "\n"
        "OUT receives results.csv (objective x subtask: mean and std of each metric over seeds, and 95%\n"
        "bootstrap intervals over people for em, rank and choice, with the difference against ntp, its p\n"
        "and the smallest difference detectable with 80% power), per_seed.csv,\n"
        "results.json (settings, results, example generations), table.txt (the table printed on stdout),\n"
        "reversal_choice.svg, reversal_em.svg and reversal_rank.svg (bar charts with 95% bootstrap\n"
        "intervals over people and the chance level), items/ (per-item CSVs with the\n"
        "generations) and runs/<objective>-seed<k>/ (train_log.csv, manifest.json).\n"
        "Data for it: `tiller world --out W` writes W/reversal/; the original files are in\n"
        "../shared/data/reversal_curse/june_version_7921032488/.",
        opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    cli_log_init(verbose);
    cli_set_threads(threads);
    if (!o.model_path) return cli_failf(2, "reversal: missing -m MODEL");
    if (!o.data_dir) return cli_failf(2, "reversal: missing --data DIR");
    if (o.n_seeds < 1) return cli_failf(2, "reversal: --seeds %d must be >= 1", o.n_seeds);
    if (steps < 0) return cli_failf(2, "reversal: --steps %d must be >= 0", steps);
    char *objs = strdup(objectives);
    const char *list[16];
    int n = objs ? split_objectives(objs, list, 16) : -1;
    if (n <= 0) {
        free(objs);
        return cli_failf(2, "reversal: --objective '%s': expected up to 16 of ntp, bico[:...], abi[:...]", objectives);
    }
    o.objectives = list;
    o.n_objectives = n;
    o.out_dir = out;
    o.steps = steps;
    o.eval_base = !no_base;
    rev_progress ps = {.quiet = quiet};
    if (force_progress) setenv("TILLER_PROGRESS", "1", 1);
    o.on_stage = on_stage;
    o.on_train = on_train;
    o.on_eval = on_eval;
    o.user = &ps;
    tl_reversal_result res;
    tl_status st = tl_reversal_run(&o, &res);
    close_bar(&ps);
    free(objs);
    if (st) return cli_fail();
    tl_strbuf b = {0};
    st = tl_reversal_table(&res, &b);
    if (!st) {
        printf("%s", b.s);
        printf("%lld steps of %d x %d per run on %d training documents, %.1f s; results in %s\n",
               (long long)res.steps, res.batch, res.seq, res.n_train_docs, res.seconds, out);
    }
    tl_strbuf_free(&b);
    tl_reversal_result_free(&res);
    return st ? cli_fail() : 0;
}
