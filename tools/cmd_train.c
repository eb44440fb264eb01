/* cmd_train.c: `tiller train` — pre-train or fine-tune with checkpoints, logs and resume. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"
#include "tiller/dist.h"

typedef struct {
    cli_progress bar;
    int quiet, tty;
    tl_train_progress last;
    double last_val;
} progress_state;

static void on_progress(void *user, const tl_train_progress *p) {
    progress_state *ps = user;
    if (ps->bar.total == 0) { /* a resumed run learns its length and start here */
        ps->bar.total = p->steps;
        ps->bar.first = p->step - 1;
    }
    ps->last = *p;
    if (!isnan(p->val_loss)) ps->last_val = p->val_loss;
    if (ps->quiet) return;
    /* a permanent line at evaluations, checkpoints and the end; the live bar in between */
    if (!isnan(p->val_loss) || p->saved || p->step == p->steps) {
        char val[32] = "-";
        if (!isnan(p->val_loss)) snprintf(val, sizeof val, "%.4f", p->val_loss);
        int el = (int)p->elapsed, eta = (int)p->eta;
        fprintf(stderr, "%sstep %lld/%lld  loss %.4f  val %s  lr %.3e  grad %.3f  %.0f tok/s  %d:%02d eta %d:%02d%s\n",
                ps->bar.tty ? "\r\033[K" : "", (long long)p->step, (long long)p->steps, p->loss, val, p->lr,
                p->grad_norm, p->tokens_per_s, el / 60, el % 60, eta / 60, eta % 60, p->saved ? "  (checkpoint)" : "");
    }
    char extra[160];
    snprintf(extra, sizeof extra, "loss %.4f lr %.2e %.0f tok/s", p->loss, p->lr, p->tokens_per_s);
    cli_progress_update(&ps->bar, p->step, extra);
}

/* "log:K" -> K */
static int parse_schedule(const char *s, int *k) {
    if (strncmp(s, "log:", 4) != 0) return -1;
    char *end;
    long v = strtol(s + 4, &end, 10);
    if (end == s + 4 || *end || v < 2 || v > 1000000) return -1;
    *k = (int)v;
    return 0;
}

/* With --resume everything comes from DIR/manifest.json; only these may be given. */
static const char *resume_allowed[] = {"--resume", "--data", "-d", "--stop-at", "--threads", "-t", "--progress", "--quiet", "-q",
                                       "--verbose", "-v", "--test-inf-step", "--test-save-pause"};

static int check_resume_flags(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) continue;
        size_t n = strcspn(a, "=");
        int ok = 0;
        for (size_t k = 0; k < sizeof resume_allowed / sizeof *resume_allowed; k++)
            if (strlen(resume_allowed[k]) == n && !strncmp(a, resume_allowed[k], n)) ok = 1;
        if (!ok)
            return cli_failf(2, "train: '%.*s' cannot be combined with --resume: the run's settings come from "
                             "DIR/manifest.json", (int)n, a);
    }
    return 0;
}

int tl_cmd_train(int argc, char **argv) {
    tl_train_opts o;
    tl_train_opts_defaults(&o);
    const char *schedule = NULL, *format = o.ckpt_ext;
    int threads = 0, verbose = 0, quiet = 0, force_progress = 0, untied = 0, steps = (int)o.steps, test_inf = -1, stop_at = 0;
    float test_pause = 0;
    /* the objectives registered in src/train/objective.c: ntp (next token), sft (completion only), ... */
    char objective_help[256] = "training objective:";
    for (int i = 0; i < tl_objective_count(); i++) {
        size_t n = strlen(objective_help);
        snprintf(objective_help + n, sizeof objective_help - n, "%s %s", i ? "," : "", tl_objective_name(i));
    }
    const cli_opt opts[] = {
        {"--data", "-d", OPT_STR, &o.data_path, "token file from `tiller data` (required)"},
        {"--out", "-o", OPT_STR, &o.out_dir, "run directory: checkpoints, manifest.json, train_log.csv (required)"},
        {"--model", "-m", OPT_STR, &o.model_path, "start from this model file (.gguf, .bin, .safetensors)"},
        {"--config", NULL, OPT_STR, &o.config_path, "model shape as JSON (tiller or Hugging Face config.json keys)"},
        {"--dim", NULL, OPT_INT, &o.cfg.dim, "new model: width C"},
        {"--hidden", NULL, OPT_INT, &o.cfg.hidden_dim, "new model: SwiGLU hidden width F"},
        {"--layers", NULL, OPT_INT, &o.cfg.n_layers, "new model: layers"},
        {"--heads", NULL, OPT_INT, &o.cfg.n_heads, "new model: query heads"},
        {"--kv-heads", NULL, OPT_INT, &o.cfg.n_kv_heads, "new model: key/value heads (0 = --heads)"},
        {"--vocab", NULL, OPT_INT, &o.cfg.vocab_size, "new model: vocabulary (0 = the token file's)"},
        {"--seq", NULL, OPT_INT, &o.seq, "training sequence length T (and a new model's context; 0 = the model's)"},
        {"--untied", NULL, OPT_FLAG, &untied, "new model: separate output matrix (default: tied to the embedding)"},
        {"--tokenizer", NULL, OPT_STR, &o.tokenizer_path, "tokenizer to store in the checkpoints (GGUF keeps it)"},
        {"--seed", NULL, OPT_U64, &o.seed, "seed of the initialisation, data order and objective sampling"},
        {"--objective", NULL, OPT_STR, &o.objective, objective_help},
        {"--batch", "-b", OPT_INT, &o.batch, "sequences per micro-batch B"},
        {"--accum", NULL, OPT_INT, &o.accum, "micro-batches accumulated per step"},
        {"--steps", NULL, OPT_INT, &steps, "optimiser steps"},
        {"--lr", NULL, OPT_FLOAT, &o.lr, "peak learning rate"},
        {"--min-lr-ratio", NULL, OPT_FLOAT, &o.min_lr_ratio, "cosine floor as a fraction of --lr"},
        {"--warmup", NULL, OPT_INT, &o.warmup, "linear warm-up steps"},
        {"--beta1", NULL, OPT_FLOAT, &o.beta1, "AdamW beta1"},
        {"--beta2", NULL, OPT_FLOAT, &o.beta2, "AdamW beta2"},
        {"--eps", NULL, OPT_FLOAT, &o.eps, "AdamW epsilon"},
        {"--weight-decay", NULL, OPT_FLOAT, &o.weight_decay, "AdamW decoupled weight decay (matrices only)"},
        {"--grad-clip", NULL, OPT_FLOAT, &o.grad_clip, "global gradient-norm clip (0 = off)"},
        {"--eval-every", NULL, OPT_INT, &o.eval_every, "validation loss every N steps (0 = only at checkpoints)"},
        {"--eval-batches", NULL, OPT_INT, &o.eval_batches, "validation batches per evaluation"},
        {"--save-every", NULL, OPT_INT, &o.save_every, "checkpoint every N steps (the last step is always saved)"},
        {"--save-schedule", NULL, OPT_STR, &schedule, "log:K = K log-spaced checkpoints, step 0 and the last included"},
        {"--format", NULL, OPT_STR, &format, "checkpoint model format: gguf, bin (llama2.c) or safetensors"},
        {"--keep-state", NULL, OPT_FLAG, &o.keep_state, "keep every checkpoint's optimiser state (default: the latest)"},
        {"--resume", NULL, OPT_STR, &o.resume_dir, "continue the run in DIR bit-exactly (settings from its manifest)"},
        {"--stop-at", NULL, OPT_INT, &stop_at, "stop after step N with a checkpoint, to --resume later (0 = run to the end)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores; a resume must use the run's count)"},
        {"--progress", NULL, OPT_FLAG, &force_progress, "draw the progress line even when stderr is not a terminal"},
        {"--quiet", "-q", OPT_FLAG, &quiet, "no progress output"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
        {"--test-inf-step", NULL, OPT_INT, &test_inf, "TEST ONLY: make the training loss of step K +inf"},
        {"--test-save-pause", NULL, OPT_FLOAT, &test_pause,
         "TEST ONLY: sleep X s halfway through writing each optimiser state"},
    };
    const cli_spec spec = {
        "tiller train -d DATA -o DIR (-m MODEL | --config JSON | --dim .. --layers ..) [options]\n"
        "       tiller train --resume DIR",
        "Train a model with next-token prediction (pre-training) or SFT on a token file.\n"
        "One step = --accum micro-batches of --batch x --seq tokens, gradient-norm clipping,\n"
        "a linear warm-up then cosine decay of the learning rate, and one AdamW update.\n"
        "\n"
        "DIR receives ckpt-<step>.<format> (the model), optim-<step>.bin (exact parameters,\n"
        "AdamW moments, RNG and data position; only the latest is kept unless --keep-state),\n"
        "train_log.csv (step,loss,val_loss,lr,grad_norm,tokens_per_s) and manifest.json\n"
        "(settings, seed, and per checkpoint: step, tokens, train/val loss, lr, wall time).\n"
        "Every file is written to a temporary name and renamed; the manifest is rewritten\n"
        "only once a checkpoint's files exist, so a killed run can always be resumed.\n"
        "--resume DIR continues from the manifest's latest checkpoint and reproduces the\n"
        "uninterrupted run exactly (same thread count).\n"
        "\n"
        "Under MPI (mpirun -np N tiller train ...; see `tiller --version`) the --accum\n"
        "micro-batches of a step are split over the N ranks (N <= --accum) and their\n"
        "gradients summed in micro-batch order: checkpoints are bit-identical to one process\n"
        "with the same --batch, --accum and --threads. Rank 0 writes every file; a run may\n"
        "be resumed with another rank count. docs/scale-out.md has the details.\n"
        "\n"
        "Objectives take options as name:key=value,...:\n"
        "  ntp   next-token prediction over packed windows (pre-training)\n"
        "  sft   one document per window, loss on the completion only\n"
        "  bico  BICO (Lv et al. 2023): per batch, with probability p, mask a fraction of each\n"
        "        document's tokens, hide them as keys, attend bidirectionally with mirrored\n"
        "        RoPE and predict each masked token from the position before it; otherwise\n"
        "        sft. Options: mask=0.15 p=0.5 mirror=1 (0 = plain RoPE) ph=0 (placeholder id)\n"
        "  abi   GLM-style blank infilling: per batch, with probability p, cut one span per\n"
        "        document, attend the rest bidirectionally and regenerate the span left to\n"
        "        right after it (tokens keep their original positions); otherwise sft.\n"
        "        Options: ratio=0.15 (mean span fraction) p=0.5 mirror=1\n"
        "\n"
        "A NaN or infinite loss or gradient stops training with exit code 1, naming the step;\n"
        "the last checkpoint is kept. An unwritable DIR or too little free space for one\n"
        "checkpoint is reported before training starts.\n"
        "The --test-* options inject faults for the test suite and are not for normal use.",
        opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    cli_log_init(verbose);
    cli_set_threads(threads);
    if (o.resume_dir && (code = check_resume_flags(argc, argv)) != 0) return code;
    if (!o.resume_dir) {
        if (!o.data_path) return cli_failf(2, "train: missing -d DATA (a token file from `tiller data`)");
        if (!o.out_dir) return cli_failf(2, "train: missing -o DIR");
        if (!o.model_path && !o.config_path && (!o.cfg.dim || !o.cfg.n_layers || !o.cfg.n_heads || !o.cfg.hidden_dim))
            return cli_failf(2, "train: give -m MODEL, --config JSON, or --dim, --hidden, --layers and --heads");
        if (o.model_path && (o.config_path || o.cfg.dim || o.cfg.hidden_dim || o.cfg.n_layers || o.cfg.n_heads ||
                             o.cfg.n_kv_heads || o.cfg.vocab_size || untied))
            return cli_failf(2, "train: -m MODEL fixes the model's shape; drop --config/--dim/--layers/...");
        if (schedule && parse_schedule(schedule, &o.save_log) != 0)
            return cli_failf(2, "train: --save-schedule '%s' (expected log:K with K >= 2)", schedule);
        if (o.save_every < 0) return cli_failf(2, "train: --save-every %d", o.save_every);
        if (!o.model_path && !o.config_path && !o.seq)
            return cli_failf(2, "train: a new model needs --seq (its context length)");
        o.cfg.tied_embeddings = !untied;
        o.cfg.seq_len = o.seq;
        o.ckpt_ext = format;
        o.steps = steps;
    }
    if (stop_at < 0) return cli_failf(2, "train: --stop-at %d", stop_at);
    o.stop_at = stop_at;
    if (test_inf >= 0) o.test_inf_step = test_inf;
    o.test_save_pause = test_pause;
    if (tl_dist_rank() > 0) quiet = 1; /* under mpirun rank 0 speaks for the job */
    progress_state ps = {.quiet = quiet, .last_val = NAN};
    if (!quiet) {
        if (force_progress) setenv("TILLER_PROGRESS", "1", 1);
        cli_progress_start(&ps.bar, "train", o.resume_dir ? 0 : o.steps);
    }
    o.progress = on_progress;
    o.progress_user = &ps;
    tl_status s = tl_train_run(&o);
    if (!quiet) cli_progress_end(&ps.bar);
    if (s) return cli_fail();
    if (tl_dist_rank() > 0) return 0;
    const char *dir = o.resume_dir ? o.resume_dir : o.out_dir;
    if (ps.last.step > 0 && ps.last.step < ps.last.steps)
        printf("stopped at step %lld of %lld; continue with: tiller train --resume %s\n", (long long)ps.last.step,
               (long long)ps.last.steps, dir);
    else if (ps.last.step > 0)
        printf("trained to step %lld: loss %.4f, val loss %s%.4f; checkpoints and manifest.json in %s\n",
               (long long)ps.last.step, ps.last.loss, isnan(ps.last_val) ? "n/a " : "",
               isnan(ps.last_val) ? 0.0 : ps.last_val, dir);
    else
        printf("nothing to do: the run in %s is complete\n", dir);
    return 0;
}
