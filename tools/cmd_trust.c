/* cmd_trust.c: `tiller trust-dynamics` — the trust-dynamics experiment in one
 * command (src/study/trust.c): probes, information plane and the steering
 * table; prints the Markdown summary. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

static void log_line(void *user, const char *msg) {
    (void)user;
    fprintf(stderr, "trust-dynamics: %s\n", msg);
}

int tl_cmd_trust_dynamics(int argc, char **argv) {
    tl_trust_opts o;
    tl_trust_opts_default(&o);
    const char *est = "both", *method = "mean_diff", *norm = "std";
    float threshold = (float)o.threshold;
    int threads = 0, quiet = 0, all_positions = 0, last_only_flag = 0;
    float fit_share = (float)o.fit_share, alpha = (float)o.alpha;
    cli_opt opts[] = {
        {"--series", NULL, OPT_STR, &o.series,
         "checkpoint series (a tiller train run directory) or one model file (required)"},
        {"--chat", NULL, OPT_STR, &o.chat,
         "the chat (fine-tuned) model that is steered and evaluated (required unless --no-steer)"},
        {"--out", "-o", OPT_STR, &o.out, "output directory (required)"},
        {"--world", NULL, OPT_STR, &o.world,
         "a tiller world directory: probe data (probes/), steering pairs and the world_* tasks"},
        {"--data", NULL, OPT_STR, &o.data_dir,
         "directory of statement,label CSVs, one per dimension (default WORLD/probes)"},
        {"--dims", NULL, OPT_STR, &o.dims, "dimensions = CSV names, comma-separated (default: every CSV in --data)"},
        {"--tokenizer", NULL, OPT_STR, &o.tokenizer, "tokenizer file (default: each model's own)"},
        {"--limit", NULL, OPT_INT, &o.acts_limit, "statements per dimension (0 = all)"},
        {"--threshold", NULL, OPT_FLOAT, &threshold, "probe accuracy the summary looks for"},
        {"--estimator", NULL, OPT_STR, &est, "information plane: binning, hsic or both"},
        {"--hsic-rows", NULL, OPT_INT, &o.hsic_rows, "HSIC on at most N training rows (0 = all; memory N^2)"},
        {"--no-random-baseline", NULL, OPT_FLAG, &o.no_random_baseline,
         "skip the probe baseline of a random-init model of the same shape (OUT/random-init/)"},
        {"--random-seeds", NULL, OPT_INT, &o.random_seeds,
         "random-init models (weight seeds 1..N) behind that baseline: their mean, each seed's accuracy and the "
         "envelope of their intervals (0 = 3)"},
        {"--no-steer", NULL, OPT_FLAG, &o.no_steer, "skip the steering table"},
        {"--steer-only", NULL, OPT_FLAG, &o.steer_only,
         "only the steering table: no capture, probes or information plane (when they were run already)"},
        {"--pairs", NULL, OPT_STR, &o.pairs,
         "steering pairs (.csv, world pairs .jsonl, HH-RLHF .jsonl; default "
         "WORLD/steering/pairs.jsonl)"},
        {"--pair-dim", NULL, OPT_STR, &o.pair_dim, "world pairs: only this dimension (default all)"},
        {"--sources", NULL, OPT_STR, &o.sources,
         "checkpoint steps the vectors come from, comma-separated (default: "
         "--n-sources checkpoints nearest to j/n of the last step, j = 1..n); the chat model is always added"},
        {"--n-sources", NULL, OPT_INT, &o.n_sources, "automatic source checkpoints (2: mid-training and final)"},
        {"--scales", NULL, OPT_STR, &o.scales, "steering scales, comma-separated"},
        {"--steer-layers", NULL, OPT_STR, &o.layers, "steered layers I-J (default: the middle layer, n_layers / 2)"},
        {"--steer-all-positions", NULL, OPT_FLAG, &all_positions,
         "add at every position (llama.cpp's control vectors) instead of the last one of each forward call (the "
         "reference's token_pos = -1, the default)"},
        {"--steer-last-only", NULL, OPT_FLAG, &last_only_flag,
         "the last position only (the default; kept for scripts)"},
        {"--fit-share", NULL, OPT_FLOAT, &fit_share,
         "share of the world's people whose pairs fit the vectors (0.4); evaluation items about them are dropped"},
        {"--seed", NULL, OPT_U64, &o.seed, "seed of the people split and the pair order"},
        {"--no-norm-match", NULL, OPT_FLAG, &o.no_norm_match,
         "keep each source's vector at its own norm (default: rescale to the chat vector's norm of the same "
         "dimension)"},
        {"--alpha", NULL, OPT_FLOAT, &alpha, "level of the marked cells, Holm-corrected over all steered cells"},
        {"--method", NULL, OPT_STR, &method, "steering vector: mean_diff (the reference) or pca"},
        {"--norm", NULL, OPT_STR, &norm,
         "vector length: std (unit times the std of the projections, the reference) or unit"},
        {"--tasks", NULL, OPT_STR, &o.tasks,
         "eval tasks (default world_truth_hop,world_stereotype,world_toxicity_pair,world_privacy,world_sentiment,"
         "world_capability)"},
        {"--random-dirs", NULL, OPT_INT, &o.random_dirs,
         "random directions of each vector's norm, added as it is at every |scale|: the baseline a steered cell must "
         "beat (default 3; 0 = none)"},
        {"--cost-every-scale", NULL, OPT_FLAG, &o.cost_every_scale,
         "score the capability task (the cost of each push) at every scale (default: at the two extreme scales)"},
        {"--eval-data", NULL, OPT_STR, &o.eval_data, "folder laid out like shared/data, for real eval tasks"},
        {"--eval-limit", NULL, OPT_INT, &o.eval_limit, "items per eval task (0 = all)"},
        {"--max-new", NULL, OPT_INT, &o.max_new, "tokens generated per item by generation tasks (0 = 32)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--quiet", "-q", OPT_FLAG, &quiet, "no stage messages on stderr"},
    };
    cli_spec spec = {
        "tiller trust-dynamics --series DIR --chat MODEL (--world DIR | --data DIR --pairs FILE --tasks T) -o OUT\n"
        "       tiller trust-dynamics --series DIR|MODEL --data DIR --no-steer -o OUT",
        "The trust-dynamics experiment (Qian et al. 2024; docs/analysis.md and docs/steering.md; "
        "../shared/docs/METHODS.md section 1) in one command. Per dimension "
        "(one statement,label CSV each): resid_post activations of every checkpoint at the last token "
        "(OUT/acts/<dim>/, resumable), linear probes (OUT/<dim>/probe_accuracy.csv, probe.json, "
        "probe_heatmap.svg, probe_curves.svg) and the information plane (OUT/<dim>/infoplane.csv, "
        "infoplane.json, infoplane_binning.svg, infoplane_hsic.svg), as tiller acts / probe / infoplane do. "
        "Then the steering table, the reference protocol (docs/steering.md): one vector per dimension from each "
        "source (a mid-training checkpoint, the final one, the chat model), fitted on the pairs about a share of "
        "the world's people (OUT/vectors/<source>_<dim>.gguf, llama.cpp control vectors), rescaled to the chat "
        "vector's norm, added at the last position of the middle layer of the chat model at each scale; the chat "
        "model scored on evaluation items about the other people (trust: truth, stereotype, toxicity under their "
        "own dimension's vector; capability under every vector) -> OUT/steering.csv (source,step,scale,task,"
        "metric,value,stderr,n, paired test against the unsteered cell, Holm's p, vector, raw scale, added norm, the "
        "score's own 95 % interval, and the same on a validation and a test half of the items; beside each steered "
        "cell the mean of --random-dirs random directions of the same norm added the same way, with the paired "
        "test against it), steering_random.csv (each random direction's score), steering.json, "
        "steering_<task>.svg. The unsteered chat model is evaluated once and is the scale-0 row. "
        "OUT/summary.md (printed) and summary.json give, per dimension, the first checkpoint and layer where probe "
        "accuracy reaches the threshold, the best probe beside its baselines (random-init models of the same "
        "shape, 3 weight seeds, probed the same way; bag of words on the same split; shuffled training labels; the "
        "majority class), and how many layers' I(X;T) rises then falls. "
        "With --data ../shared/data/trust and --no-steer it runs on the real trust sets and any model file.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        NULL,
        0,
        NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!o.series || !o.out) return cli_failf(2, "trust-dynamics: --series and -o are required");
    if (!o.chat && !o.no_steer) return cli_failf(2, "trust-dynamics: steering needs --chat MODEL (or --no-steer)");
    if (!o.world && !o.data_dir) return cli_failf(2, "trust-dynamics: give --world DIR or --data DIR");
    if (!o.world && !o.no_steer && (!o.pairs || !o.tasks))
        return cli_failf(2,
                         "trust-dynamics: without --world, steering needs --pairs FILE and --tasks T (or --no-steer)");
    if (o.acts_limit < 0 || o.eval_limit < 0 || o.hsic_rows < 0 || o.n_sources < 1 || o.max_new < 0 || threads < 0 ||
        o.random_seeds < 0 || o.random_seeds > 16 || o.random_dirs < 0)
        return cli_failf(2, "trust-dynamics: --limit, --eval-limit, --hsic-rows, --max-new, --random-dirs, -t must "
                            "be >= 0, --n-sources >= 1 and --random-seeds 0 .. 16");
    if (tl_estimator_parse(est, &o.est)) return cli_failf(2, "--estimator: %s", tl_last_error());
    if (tl_steer_method_parse(method, &o.method)) return cli_failf(2, "--method: %s", tl_last_error());
    if (!strcmp(norm, "unit")) o.norm = TL_STEER_NORM_UNIT;
    else if (strcmp(norm, "std")) return cli_failf(2, "--norm: expected std or unit (got '%s')", norm);
    o.threshold = threshold;
    o.fit_share = fit_share;
    o.alpha = alpha;
    if (all_positions && last_only_flag)
        return cli_failf(2, "trust-dynamics: --steer-all-positions and --steer-last-only contradict each other");
    o.last_only = !all_positions;
    if (!quiet) o.log = log_line;
    cli_set_threads(threads);
    if (tl_trust_dynamics_run(&o)) return cli_fail();
    char path[4096];
    snprintf(path, sizeof path, "%s/summary.md", o.out);
    FILE *f = fopen(path, "r");
    if (!f) return cli_failf(1, "%s: cannot read the summary", path);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}
