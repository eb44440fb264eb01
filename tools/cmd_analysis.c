/* cmd_analysis.c: `tiller acts` (activation capture), `tiller probe` (linear
 * probes per layer per checkpoint) and `tiller infoplane` (mutual-information
 * estimates): parse, call src/analysis, print. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiller.h"
#include "cli.h"
#include "commands.h"
#include "tiller/dist.h"

/* ---- tiller acts ------------------------------------------------------------------ */

typedef struct {
    cli_progress bar;
    char label[160];
} acts_ui;

static void acts_progress(void *user, int64_t done, int64_t total) {
    acts_ui *ui = user;
    ui->bar.total = total; /* known only once the statements are tokenised */
    cli_progress_update(&ui->bar, done, NULL);
}

static void acts_event(void *user, int i, int n, const tl_ckpt *c, tl_acts_event e, double seconds) {
    acts_ui *ui = user;
    const char *name = c->name[0] ? c->name : c->path;
    if (e == TL_ACTS_SKIPPED) {
        fprintf(stderr, "[%d/%d] %s: already captured, skipped\n", i + 1, n, name);
    } else if (e == TL_ACTS_START) {
        snprintf(ui->label, sizeof ui->label, "[%d/%d] %s", i + 1, n, name);
        cli_progress_start(&ui->bar, ui->label, 0);
    } else {
        cli_progress_end(&ui->bar);
        fprintf(stderr, "[%d/%d] %s: captured in %.1f s\n", i + 1, n, name, seconds);
    }
}

int tl_cmd_acts(int argc, char **argv) {
    const char *model = NULL, *series = NULL, *data = NULL, *tok = NULL, *points = "resid_post", *token = "last",
               *out = NULL;
    int threads = 0, workers = 0, truncate = 0, verbose = 0, limit = 0;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model, "one model (.gguf, .bin, .safetensors or HF directory)"},
        {"--series", NULL, OPT_STR, &series, "a training run: DIR/manifest.json, or every DIR/ckpt-<step>.<ext>"},
        {"--data", NULL, OPT_STR, &data, "statement,label CSV file (labels 0/1)"},
        {"--tokenizer", NULL, OPT_STR, &tok, "tokenizer (.bin, .gguf, tokenizer.json); default: each model's own"},
        {"--points", NULL, OPT_STR, &points, "hook points, comma-separated: resid_post (every layer), resid_post.3, "
                                             "embed, attn_out, mlp_out, resid_pre, final_norm"},
        {"--token", NULL, OPT_STR, &token, "reduce over tokens: last (the reference) or mean (BOS included)"},
        {"--out", "-o", OPT_STR, &out, "output directory (a series: one subdirectory per checkpoint)"},
        {"--truncate", NULL, OPT_FLAG, &truncate, "keep the first n_ctx tokens of longer statements (else an error)"},
        {"--limit", NULL, OPT_INT, &limit, "only the first N statements of the file (0 = all)"},
        {"--workers", NULL, OPT_INT, &workers, "statements run in parallel (0 = auto: threads for small models)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    cli_spec spec = {
        "tiller acts -m MODEL|--series DIR --data FILE.csv [--tokenizer FILE] [--points resid_post] "
        "[--token last|mean] -o DIR",
        "Captures activations: each statement is tokenised with BOS and run alone (no padding, as the\n"
        "reference); the chosen hook points are reduced over tokens and stored as DIR/<point>.npy\n"
        "(float32 [statements, width]), with DIR/labels.npy (int64) and DIR/meta.json, written last.\n"
        "A directory that already holds a complete capture with the same settings is skipped, so an\n"
        "interrupted series resumes where it stopped; DIR/series.json lists the completed checkpoints.",
        opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!model == !series) return cli_failf(2, "give exactly one of -m MODEL and --series DIR (see --help)");
    if (!data || !out) return cli_failf(2, "--data FILE.csv and -o DIR are required (see --help)");
    if (threads < 0 || workers < 0 || limit < 0) return cli_failf(2, "--threads, --workers and --limit must be >= 0");
    tl_acts_run_opts o = {0};
    if (tl_reduce_parse(token, &o.acts.reduce)) return cli_failf(2, "--token: %s", tl_last_error());
    cli_log_init(verbose);
    cli_set_threads(threads);
    acts_ui ui = {0};
    o.acts.points = points;
    o.acts.truncate = truncate;
    o.acts.limit = limit;
    o.acts.n_workers = workers;
    o.acts.progress = acts_progress;
    o.acts.progress_user = &ui;
    o.tokenizer = tok;
    o.on_ckpt = acts_event;
    o.user = &ui;
    if (tl_dist_rank() > 0) { /* under mpirun rank 0 speaks for the job */
        o.acts.progress = NULL;
        o.on_ckpt = NULL;
    }
    tl_ckpt_list l = {0};
    tl_ckpt one = {-1, "", (char *)model};
    if (series) {
        if (tl_series_list(series, &l)) return cli_fail();
    } else {
        l.n = 1;
        l.items = &one;
    }
    tl_acts_run_report rep;
    tl_status s = tl_acts_run(&l, series != NULL, data, &o, out, &rep);
    if (ui.bar.tty && s) fprintf(stderr, "\n");
    if (series) tl_ckpt_list_free(&l);
    if (s) return cli_fail();
    if (tl_dist_rank() > 0) return 0;
    printf("%s: %d checkpoint%s captured, %d skipped (complete), %lld tokens, %.1f s\n", out, rep.captured,
           rep.captured == 1 ? "" : "s", rep.skipped, (long long)rep.tokens, rep.seconds);
    return 0;
}

/* ---- tiller probe ------------------------------------------------------------------- */

static void run_progress(void *user, int64_t done, int64_t total) {
    cli_progress *bar = user;
    bar->total = total;
    cli_progress_update(bar, done, NULL);
}

/* The accuracy matrix on stdout: every point when few, else the best point per checkpoint. */
static void print_matrix(const tl_acts_series *s, const double *acc) {
    const tl_acts_meta *a0 = s->items[0];
    int P = a0->n_points, wide = P > 10;
    printf("%-16s", "checkpoint");
    if (wide) printf(" best point        accuracy\n");
    else
        for (int p = 0; p < P; p++) printf(" %12.12s", a0->points[p]);
    if (!wide) printf("\n");
    int first = s->n > 40 ? s->n - 40 : 0;
    if (first) printf("(the last 40 of %d checkpoints)\n", s->n);
    for (int c = first; c < s->n; c++) {
        printf("%-16.16s", s->items[c]->name[0] ? s->items[c]->name : "model");
        const double *row = acc + (size_t)c * P;
        if (wide) {
            int b = 0;
            for (int p = 1; p < P; p++)
                if (row[p] > row[b]) b = p;
            printf(" %-17s %.4f\n", a0->points[b], row[b]);
        } else {
            for (int p = 0; p < P; p++) printf(" %12.4f", row[p]);
            printf("\n");
        }
    }
}

int tl_cmd_probe(int argc, char **argv) {
    const char *acts = NULL, *out = NULL, *solver = "auto";
    float C = 1.0f, split = 0.8f, tol = 1e-10f, val = 0.2f, threshold = 0.9f;
    int folds = 0, max_iter = 10000, no_warm = 0, threads = 0, verbose = 0, seed = 1;
    cli_opt opts[] = {
        {"--acts", NULL, OPT_STR, &acts, "activation directory or series (from tiller acts)"},
        {"--out", "-o", OPT_STR, &out, "output directory"},
        {"--C", NULL, OPT_FLOAT, &C, "inverse L2 strength, sklearn's C"},
        {"--split", NULL, OPT_FLOAT, &split, "the first floor(split x N) statements train, the rest test"},
        {"--val", NULL, OPT_FLOAT, &val, "the last floor(val x N) of those validate (0: the reference's train/test)"},
        {"--threshold", NULL, OPT_FLOAT, &threshold, "accuracy whose first crossing (95 % lower bound) is reported"},
        {"--seed", NULL, OPT_INT, &seed, "seed of the shuffled-label baseline"},
        {"--folds", NULL, OPT_INT, &folds, "K > 1: contiguous K-fold cross-validation instead of the split"},
        {"--solver", NULL, OPT_STR, &solver, "auto (Newton up to 4096 features, else L-BFGS), newton or lbfgs"},
        {"--tol", NULL, OPT_FLOAT, &tol, "stop when max |gradient| <= tol x training rows"},
        {"--max-iter", NULL, OPT_INT, &max_iter, "solver iterations at most"},
        {"--no-warm", NULL, OPT_FLAG, &no_warm, "start every fit from zero (default: the last checkpoint's weights)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    cli_spec spec = {
        "tiller probe --acts DIR -o DIR [--C 1.0] [--split 0.8] [--val 0.2] [--folds K]",
        "Linear probes, one per hook point per checkpoint, as the reference (docs/analysis.md;\n"
        "../shared/docs/METHODS.md section 1): features\n"
        "standardised over all statements, L2 logistic regression with C = 1 and a fitted, unpenalised\n"
        "intercept, solved to convergence (the reference stops sklearn's lbfgs after 100 iterations).\n"
        "Rows in file order: the first 60 % train, the next 20 % validate, the last 20 % test\n"
        "(--val 0: the reference's 80 % train, 20 % test). Per checkpoint the layer is chosen on\n"
        "validation and its test accuracy reported with a Wilson 95 % interval, beside baselines\n"
        "(shuffled training labels at that layer, the majority class, the embed point if captured).\n"
        "Writes probe_accuracy.csv (test, checkpoint x point), probe.json, probe_selection.csv,\n"
        "probe_heatmap.svg, probe_curves.svg and probe_selected.svg.",
        opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!acts || !out) return cli_failf(2, "--acts DIR and -o DIR are required (see --help)");
    tl_probe_run_opts o = {0};
    tl_probe_opts_default(&o.probe);
    if (tl_solver_parse(solver, &o.probe.lr.solver)) return cli_failf(2, "--solver: %s", tl_last_error());
    if (!(C > 0) || !(split > 0 && split < 1) || folds < 0 || folds == 1 || !(tol > 0) || max_iter < 1 || threads < 0 ||
        !(val >= 0 && val < split) || !(threshold > 0 && threshold <= 1) || seed < 0)
        return cli_failf(2, "bad value: --C %g (> 0), --split %g (0 .. 1), --val %g (0 .. split), --folds %d (0 or "
                         ">= 2), --tol %g (> 0), --max-iter %d (>= 1), --threshold %g (0 .. 1]", (double)C,
                         (double)split, (double)val, folds, (double)tol, max_iter, (double)threshold);
    o.probe.val = val;
    o.threshold = threshold;
    o.seed = (uint64_t)seed;
    o.probe.lr.C = C;
    o.probe.split = split;
    o.probe.folds = folds;
    o.probe.lr.tol = tol;
    o.probe.lr.max_iter = max_iter;
    o.probe.warm = !no_warm;
    cli_log_init(verbose);
    cli_set_threads(threads);
    tl_acts_series *s = NULL;
    if (tl_acts_series_open(acts, &s)) return cli_fail();
    cli_progress bar;
    cli_progress_start(&bar, "probe", 1);
    o.progress = tl_dist_rank() == 0 ? run_progress : NULL;
    o.progress_user = &bar;
    double t0 = tl_time_sec();
    double *acc = malloc(sizeof(double) * (size_t)s->n * s->items[0]->n_points);
    o.acc_out = acc;
    tl_status st = acc ? tl_probe_run(s, &o, out) : TL_E_NOMEM;
    cli_progress_end(&bar);
    if (st) {
        free(acc);
        tl_acts_series_free(s);
        return st == TL_E_NOMEM && !acc ? cli_failf(1, "out of memory") : cli_fail();
    }
    if (tl_dist_rank() == 0) print_matrix(s, acc);
    free(acc);
    if (o.probe.val > 0 && folds <= 1 && tl_dist_rank() == 0)
        printf("best on validation: %s %s, test accuracy %.3f [%.3f, %.3f] (95 %% Wilson, n = %d); first checkpoint "
               "with lower bound >= %.2f: %s\n",
               s->items[o.best_c]->name, s->items[0]->points[o.best_p], o.best_test, o.best_lo, o.best_hi, o.n_test,
               (double)threshold, o.first_c >= 0 ? s->items[o.first_c]->name : "none");
    if (tl_dist_rank() > 0) {
        tl_acts_series_free(s);
        return 0;
    }
    printf("%s: probed %d checkpoint%s x %d points in %.2f s; wrote probe_accuracy.csv, probe.json, "
           "probe_heatmap.svg, probe_curves.svg\n", out, s->n, s->n == 1 ? "" : "s", s->items[0]->n_points,
           tl_time_sec() - t0);
    tl_acts_series_free(s);
    return 0;
}

/* ---- tiller infoplane ---------------------------------------------------------------- */

int tl_cmd_infoplane(int argc, char **argv) {
    tl_infoplane_opts o;
    tl_infoplane_opts_default(&o);
    const char *acts = NULL, *out = NULL, *est = "both", *x_mode = "exact";
    float split = (float)o.split, sigma = (float)o.sigma, eps = (float)o.eps;
    int threads = 0, verbose = 0, seed = (int)o.seed;
    cli_opt opts[] = {
        {"--acts", NULL, OPT_STR, &acts, "activation directory or series (from tiller acts)"},
        {"--out", "-o", OPT_STR, &out, "output directory"},
        {"--estimator", NULL, OPT_STR, &est, "binning (Shwartz-Ziv & Tishby), hsic (the reference code) or both"},
        {"--pca-dims", NULL, OPT_INT, &o.pca_dims, "binning: T is projected to this many principal components"},
        {"--bins", NULL, OPT_INT, &o.bins, "binning: equal-width bins per component"},
        {"--x", NULL, OPT_STR, &x_mode, "binning: X symbols are the exact inputs (exact) or binned PCA (binned)"},
        {"--x-point", NULL, OPT_STR, &o.x_point, "the input representation X"},
        {"--split", NULL, OPT_FLOAT, &split, "the first floor(split x N) statements are used (the training rows)"},
        {"--sigma", NULL, OPT_FLOAT, &sigma, "HSIC: Gaussian kernel width (times sqrt(features))"},
        {"--eps", NULL, OPT_FLOAT, &eps, "HSIC: regulariser, times the number of rows"},
        {"--hsic-rows", NULL, OPT_INT, &o.hsic_rows, "HSIC: use only the first N rows (0 = all; cost grows as N^3)"},
        {"--panels", NULL, OPT_STR, &o.panels, "hook points drawn in the scatter (up to 4; default: a spread)"},
        {"--shuffles", NULL, OPT_INT, &o.shuffles, "bias correction: shuffles of Y / X's rows averaged and subtracted (binning; HSIC's mean over "
                                                        "all shuffles is exact)"},
        {"--seed", NULL, OPT_INT, &seed, "seed of the shuffles, the permutation tests and the bootstrap"},
        {"--boot", NULL, OPT_INT, &o.boot, "bootstrap resamples of the 95 % intervals (0 = none)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    cli_spec spec = {
        "tiller infoplane --acts DIR -o DIR [--estimator binning|hsic|both] [--pca-dims k] [--bins B]",
        "Mutual information of each hook point's representation T with the input X (X = the\n"
        "standardised resid_post.0 activations) and the labels Y, per checkpoint, on the training\n"
        "rows. binning: T projected to k principal components, B equal-width bins per component over\n"
        "its range, each distinct binned row a symbol; I(X;T) = H(T) - H(T|X) (= H(T) for distinct\n"
        "inputs), I(T;Y) = H(T) - H(T|Y), in bits. hsic: the reference's normalised HSIC (Gaussian\n"
        "kernel, sigma 50, eps 1e-5; m x m matrices). Each estimate comes with its mean over\n"
        "--shuffles shuffles of Y (of X's rows for I(X;T)), and the difference (the bias-corrected\n"
        "value). Every value has a 95 % interval, +-1.96 standard errors from --boot resamples of the\n"
        "rows' entities (entities.npy; else the rows). Binning warns when T has more than m/2 distinct symbols\n"
        "(saturated). With 3 or more\n"
        "checkpoints, infoplane_tests.csv gives per point a permutation test over checkpoint order\n"
        "of 'I(X;T) rises then falls' and 'I(T;Y) increases' on the corrected values. Writes\n"
        "infoplane.csv, infoplane_tests.csv, infoplane.json and infoplane_<estimator>.svg.",
        opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!acts || !out) return cli_failf(2, "--acts DIR and -o DIR are required (see --help)");
    if (tl_estimator_parse(est, &o.est)) return cli_failf(2, "--estimator: %s", tl_last_error());
    if (strcmp(x_mode, "exact") && strcmp(x_mode, "binned"))
        return cli_failf(2, "--x: '%s' is not exact or binned", x_mode);
    o.x_binned = !strcmp(x_mode, "binned");
    if (o.pca_dims < 1 || o.pca_dims > 64 || o.bins < 1 || o.bins > 100000 || !(split > 0 && split <= 1) ||
        !(sigma > 0) || !(eps > 0) || o.hsic_rows < 0 || threads < 0 || o.shuffles < 0 || o.shuffles > 10000 ||
        seed < 0 || o.boot < 0 || o.boot > 100000)
        return cli_failf(2, "bad value: --pca-dims %d (1 .. 64), --bins %d (1 .. 100000), --split %g (0 .. 1], "
                         "--sigma %g, --eps %g (> 0), --hsic-rows %d (>= 0), --shuffles %d (0 .. 10000), --seed %d, "
                         "--boot %d (0 .. 100000)",
                         o.pca_dims, o.bins, (double)split, (double)sigma, (double)eps, o.hsic_rows, o.shuffles, seed,
                         o.boot);
    o.seed = (uint64_t)seed;
    o.split = split;
    o.sigma = sigma;
    o.eps = eps;
    cli_log_init(verbose);
    cli_set_threads(threads);
    tl_acts_series *s = NULL;
    if (tl_acts_series_open(acts, &s)) return cli_fail();
    cli_progress bar;
    cli_progress_start(&bar, "infoplane", 1);
    o.progress = tl_dist_rank() == 0 ? run_progress : NULL;
    o.progress_user = &bar;
    double t0 = tl_time_sec();
    tl_status st = tl_infoplane_run(s, &o, out);
    cli_progress_end(&bar);
    if (st == TL_OK && tl_dist_rank() == 0)
        printf("%s: %d checkpoint%s x %d points (%s) in %.2f s; wrote infoplane.csv, infoplane.json and charts\n",
               out, s->n, s->n == 1 ? "" : "s", s->items[0]->n_points, est, tl_time_sec() - t0);
    tl_acts_series_free(s);
    return st ? cli_fail() : 0;
}
