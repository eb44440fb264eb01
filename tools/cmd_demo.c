/* cmd_demo.c: `tiller demo` — the whole pipeline (src/demo) with a progress display. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

typedef struct {
    int live; /* redraw a status line (a terminal, or --progress) */
    int quiet;
    double last_draw;
} demo_ui;

static void clock_str(char *buf, size_t cap, double s) {
    if (!isfinite(s) || s < 0)
        snprintf(buf, cap, "-:--");
    else
        snprintf(buf, cap, "%d:%02d", (int)s / 60, (int)s % 60);
}

static void on_progress(void *user, const tl_demo_progress *p) {
    demo_ui *ui = user;
    if (ui->quiet) return;
    char el[16], eta[16];
    clock_str(el, sizeof el, p->elapsed);
    clock_str(eta, sizeof eta, p->eta);
    const char *clear = ui->live ? "\r\033[K" : "";
    switch (p->event) {
    case TL_DEMO_SKIPPED:
        fprintf(stderr, "%s[%d/%d] %-10s finished earlier (%.1f s), skipped\n", clear, p->stage + 1, p->n_stages,
                p->name, p->eta);
        break;
    case TL_DEMO_START:
        if (!ui->live) fprintf(stderr, "[%d/%d] %-10s running\n", p->stage + 1, p->n_stages, p->name);
        break;
    case TL_DEMO_DONE:
        fprintf(stderr, "%s[%d/%d] %-10s done in %s\n", clear, p->stage + 1, p->n_stages, p->name, el);
        break;
    case TL_DEMO_STEP: {
        double now = tl_time_sec();
        if (!ui->live || (now - ui->last_draw < 0.2 && p->done < p->total)) break;
        ui->last_draw = now;
        fprintf(stderr, "\r[%d/%d] %-10s step %lld/%lld  %s  eta %s  %s\033[K", p->stage + 1, p->n_stages, p->name,
                (long long)p->done, (long long)p->total, el, eta, p->detail ? p->detail : "");
        fflush(stderr);
        break;
    }
    }
}

/* OpenMP threads that wait at a barrier spin by default; on a machine whose cores are
 * busy with other work they then steal the cores the working threads need, and the
 * demo's many short parallel regions run up to ten times slower (measured: --quick at
 * 2 threads took 126 s spinning, 16 s passive, on a 2-core machine at load 8). libgomp
 * reads OMP_WAIT_POLICY when the program starts, so the demo re-executes itself once
 * with it set to passive, unless the user chose a policy. Results do not change. */
static void wait_policy_passive(int argc, char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    char **args = calloc((size_t)argc + 2, sizeof *args);
    if (!args) return;
    args[0] = "tiller";
    for (int i = 0; i < argc; i++)
        args[i + 1] = argv[i]; /* argv[0] is "demo" */
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", args); /* returns only on failure: carry on spinning */
    free(args);
}

int tl_cmd_demo(int argc, char **argv) {
    const char *out = "demo";
    uint64_t seed = 1;
    int quick = 0, threads = 0, quiet = 0, force = 0, verbose = 0, seeds = 1;
    const cli_opt opts[] = {
        {"--out", "-o", OPT_STR, &out, "output directory: one subdirectory per stage, demo.json, report.html, DIR/findings.md and .json"},
        {"--quick", NULL, OPT_FLAG, &quick, "toy sizes (what the test suite runs, 10-20 s)"},
        {"--seed", "-s", OPT_U64, &seed, "seed of everything: world, initialisation, data order, samples"},
        {"--seeds", NULL, OPT_INT, &seeds,
         "pre-training seeds (S, S+1, ...) behind the bands of the probe and information-plane curves (1: none "
         "added; docs/analysis.md gives the K = 3 preset's time)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores); identical results need the same count"},
        {"--progress", NULL, OPT_FLAG, &force, "draw the live status line even when stderr is not a terminal"},
        {"--quiet", "-q", OPT_FLAG, &quiet, "no progress output"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    const cli_spec spec = {
        "tiller demo [--out DIR] [--quick] [--seed S] [--seeds K] [-t THREADS]",
        "Runs the whole study on this machine, with nothing from outside, and writes DIR/report.html:\n"
        "  1 world      a synthetic world with known truth (tiller world)\n"
        "  2 tokenizer  a BPE tokenizer trained on its corpus (tiller tokenizer train)\n"
        "  3 data       token files for pre-training and SFT (tiller data)\n"
        "  4 pretrain   a small Llama pre-trained with a log-spaced checkpoint series (tiller train)\n"
        "  5 sft        the chat model: the base model fine-tuned on the world's instruction data\n"
        "  6 samples    generations at a few checkpoints and from the chat model\n"
        "  7 acts       activations over the series for the five trust dimensions' probe sets (tiller acts)\n"
        "  8 probe      probe accuracy per checkpoint x layer (tiller probe)\n"
        "  9 infoplane  the information plane per checkpoint (tiller infoplane)\n"
        " 10 eval       the base and chat models on the world's evaluation sets (tiller eval)\n"
        " 11 trust      the steering table: vectors from a few pre-training checkpoints and from the chat\n"
        "               model added to the chat model at a few scales -> trust and capability metrics\n"
        "               (tiller trust-dynamics --steer-only)\n"
        " 12 reversal   the reversal curse: the pre-trained model fine-tuned on the world's name <->\n"
        "               description facts with ntp, bico and abi, four subtasks (tiller reversal)\n"
        " 13 recontrol  RE-Control: a value network on the pre-trained model's final states, test-time\n"
        "               gradient ascent vs prompting, static editing, CD, CD-prefix (tiller recontrol)\n"
        "Each stage writes DIR/<stage>/ and, last, DIR/<stage>/stage.json listing its files. Re-running\n"
        "skips finished stages (after checking their files' sizes: a damaged file is an error naming it;\n"
        "delete the stage's directory to redo it) and continues an interrupted one: a killed pre-training\n"
        "resumes from its latest checkpoint and gives the same checkpoints as an uninterrupted run (same\n"
        "thread count). report.html is rebuilt at the end of every run; it is self-contained (inline CSS and\n"
        "SVG, no scripts, nothing fetched) and every chart's data sits beside it as CSV. So are\n"
        "DIR/findings.md and DIR/findings.json: the study's findings computed from the run, each with its\n"
        "test and a verdict by the rule in docs/analysis.md.\n"
        "Defaults take 9-13 minutes on two cores, --quick 10-20 s (measured in the README).\n"
        "DIR/demo.json records the seed and preset; a DIR made with other settings is refused.\n"
        "Under MPI (mpirun -np N tiller demo -t 1 ...) acts, probe and infoplane split their work over the\n"
        "ranks and write the files of one process; rank 0 runs the other stages alone while the rest wait\n"
        "idle, and alone writes the markers and the report (docs/scale-out.md).\n"
        "Unless OMP_WAIT_POLICY is set, the demo runs with OMP_WAIT_POLICY=passive (idle threads sleep\n"
        "instead of spinning), which keeps other work on the machine from slowing it many times over.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        NULL,
        0,
        NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    wait_policy_passive(argc, argv);
    if (threads < 0) return cli_failf(2, "demo: --threads %d (>= 0)", threads);
    if (seeds < 1 || seeds > 16) return cli_failf(2, "demo: --seeds %d (1 to 16)", seeds);
    if (!*out) return cli_failf(2, "demo: --out is empty");
    cli_log_init(verbose);
    cli_set_threads(threads);
    if (tl_dist_rank() > 0) quiet = 1, force = 0; /* under mpirun rank 0 speaks for the job */
    demo_ui ui = {.live = !quiet && (isatty(2) || force), .quiet = quiet};
    tl_demo_opts o = {.out_dir = out,
                      .quick = quick,
                      .seed = seed,
                      .threads = threads,
                      .seeds = seeds,
                      .progress = on_progress,
                      .progress_user = &ui};
    if (!threads) o.threads = omp_get_max_threads();
    tl_demo_summary sum;
    tl_status s = tl_demo_run(&o, &sum);
    if (ui.live) fprintf(stderr, "\r\033[K");
    if (s) return cli_fail();
    if (tl_dist_rank() > 0) return 0;
    printf("demo: %d stage%s run, %d skipped (finished earlier), %.1f s; report: %s (%d sections)\n", sum.n_run,
           sum.n_run == 1 ? "" : "s", sum.n_skipped, sum.seconds, sum.report, sum.n_sections);
    return 0;
}
