/* cmd_eval.c: `tiller eval` — benchmark a model on multiple-choice and generation
 * tasks (src/eval), print a table, write results.json and one CSV per task. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"
#include "steer_cli.h"

static void progress_cb(void *user, int done, int total) {
    cli_progress *p = user;
    if (p->total != total) p->total = total;
    cli_progress_update(p, done, NULL);
}

/* The --help text: what the harness does, the tasks and the metric rules. */
static void build_description(char *buf, size_t cap) {
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0, __VA_ARGS__)
    ADD("Scores a model on benchmark tasks the way lm-evaluation-harness does: for each choice, ll = sum of "
        "log p(continuation tokens | context), the continuation tokens being those of tokenize(context + "
        "continuation) after tokenize(context) (BOS first; the context's trailing spaces move to the "
        "continuation); the context is run once and its KV cache reused for every choice. Prints a table; "
        "with -o DIR writes DIR/results.json (each metric's mean, standard error and n, and the rules below) "
        "and DIR/<task>.csv (one row per item: id, gold, pred, pred_norm, metric values, lls, generation).\n\n"
        "tasks (--task T or T1,T2,...):\n");
    for (int i = 0; i < tl_eval_task_count(); i++)
        ADD("  %-18s %s\n", tl_eval_task_name(i), tl_eval_task_help(i));
    ADD("\nrules:\n");
    static const tl_eval_kind kinds[] = {TL_EVAL_KIND_MC, TL_EVAL_KIND_TRUTHFUL, TL_EVAL_KIND_PREFERENCE,
                                         TL_EVAL_KIND_CAPABILITY, TL_EVAL_KIND_TOXICITY,
                                         TL_EVAL_KIND_UNSAFE_PAIR};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        ADD("  - %s\n", tl_eval_kind_rule(kinds[k]));
    ADD("  - %s\n", tl_eval_generation_rule());
    ADD("  - acc_norm divides by the choice's length in characters (Python's len, as lm-eval); the standard "
        "error is the sample standard deviation / sqrt(n)");
#undef ADD
}

/* Split "a,b,c" into at most cap names (pointers into buf, which is modified). */
static int split_tasks(char *buf, char **names, int cap) {
    int n = 0;
    for (char *p = buf; p && *p && n < cap;) {
        char *c = strchr(p, ',');
        if (c) *c = 0;
        if (*p) names[n++] = p;
        p = c ? c + 1 : NULL;
    }
    return n;
}

static void print_table(const tl_eval_task *const *tasks, const tl_eval_result *const *res, int n) {
    printf("%-18s %6s  %-10s %8s %8s %8s\n", "task", "n", "metric", "value", "stderr", "seconds");
    for (int k = 0; k < n; k++) {
        for (int m = 0; m < res[k]->n_metrics; m++) {
            const tl_eval_metric *e = &res[k]->metrics[m];
            char v[32] = "-", s[32] = "-";
            if (isfinite(e->mean)) snprintf(v, sizeof v, "%.4f", e->mean);
            if (isfinite(e->stderr_)) snprintf(s, sizeof s, "%.4f", e->stderr_);
            if (m == 0)
                printf("%-18s %6d  %-10s %8s %8s %8.2f\n", tasks[k]->name, e->n, e->name, v, s, res[k]->seconds);
            else
                printf("%-18s %6d  %-10s %8s %8s\n", "", e->n, e->name, v, s);
        }
    }
}

#define MAX_TASKS 16

int tl_cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *task_arg = NULL, *out_dir = NULL;
    const char *data_dir = NULL, *world_dir = NULL, *file = NULL;
    int workers = 0, limit = 0, fewshot = 0, n_ctx = 0, max_new = 32, top_k = 0, threads = 0, no_cache = 0, verbose = 0;
    float temp = 0.0f, top_p = 1.0f;
    uint64_t seed = 0;
    cli_steer steer = CLI_STEER_INIT;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model_path, "model file (.gguf, .bin, .safetensors or HF directory)"},
        {"--task", NULL, OPT_STR, &task_arg, "task name, or several separated by commas"},
        {"--out", "-o", OPT_STR, &out_dir, "write results.json and <task>.csv into this directory"},
        {"--limit", NULL, OPT_INT, &limit, "score only the first N items of each task (0 = all)"},
        {"--fewshot", NULL, OPT_INT, &fewshot, "examples in each context (arc_*, mmlu, mathqa)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file when the model carries none"},
        {"--data", NULL, OPT_STR, &data_dir, "folder laid out like shared/data, for the real tasks (default: $TILLER_SHARED/data, else "
                                             "../shared/data from here or beside the repository of this binary)"},
        {"--world", NULL, OPT_STR, &world_dir, "a `tiller world` output folder, for the world_* tasks"},
        {"--file", NULL, OPT_STR, &file, "read the (single) task's items from this file instead"},
        {"--ctx", NULL, OPT_INT, &n_ctx, "context length (0 = the model's); longer inputs are cut on the left"},
        {"--max-new", NULL, OPT_INT, &max_new, "most tokens generated per item (generation tasks)"},
        {"--temp", NULL, OPT_FLOAT, &temp, "generation temperature; 0 = greedy"},
        {"--top-k", NULL, OPT_INT, &top_k, "generation: keep the k most likely tokens (0 = off)"},
        {"--top-p", NULL, OPT_FLOAT, &top_p, "generation: nucleus mass (1 = off)"},
        {"--seed", NULL, OPT_U64, &seed, "generation seed (item i uses seed + i)"},
        {"--no-cache", NULL, OPT_FLAG, &no_cache, "run context + continuation from scratch for every choice"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
        {"--workers", NULL, OPT_INT, &workers,
         "items scored in parallel (0 = auto: every thread for models up to 64M parameters, else 1)"},
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
        CLI_STEER_OPTS(steer),
    };
    char desc[6000];
    build_description(desc, sizeof desc);
    cli_spec spec = {"tiller eval -m MODEL --task T[,T2...] [-o DIR] [--limit N] [--fewshot K] [options]",
                     desc,
                     opts,
                     (int)(sizeof opts / sizeof *opts),
                     NULL,
                     0,
                     NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!model_path) return cli_failf(2, "eval: -m MODEL is required (see --help)");
    if (!task_arg) return cli_failf(2, "eval: --task T is required (see --help for the list)");
    if (limit < 0) return cli_failf(2, "eval: --limit must be >= 0 (got %d)", limit);
    if (fewshot < 0) return cli_failf(2, "eval: --fewshot must be >= 0 (got %d)", fewshot);
    if (n_ctx < 0) return cli_failf(2, "eval: --ctx must be >= 0 (got %d)", n_ctx);
    if (max_new < 1) return cli_failf(2, "eval: --max-new must be >= 1 (got %d)", max_new);
    if (threads < 0) return cli_failf(2, "eval: -t must be >= 0 (got %d)", threads);
    if (workers < 0) return cli_failf(2, "eval: --workers must be >= 0 (got %d)", workers);
    char task_buf[512];
    if (strlen(task_arg) >= sizeof task_buf) return cli_failf(2, "eval: --task list too long");
    strcpy(task_buf, task_arg);
    char *names[MAX_TASKS];
    int n_tasks = split_tasks(task_buf, names, MAX_TASKS);
    if (n_tasks == 0) return cli_failf(2, "eval: --task is empty");
    if (file && n_tasks > 1) return cli_failf(2, "eval: --file applies to a single task");
    cli_log_init(verbose);
    cli_set_threads(threads);

    tl_model *model = NULL;
    tl_tokenizer *tok_owned = NULL, *tok_file = NULL; /* --tokenizer's, the model file's */
    const tl_tokenizer *tok = NULL;
    tl_eval_task *tasks[MAX_TASKS] = {0};
    tl_eval_result results[MAX_TASKS];
    memset(results, 0, sizeof results);
    int rc = 0, n_done = 0;
    /* load every task first: a malformed file fails before any model time is spent */
    int default_data = !data_dir;
    if (!data_dir) data_dir = cli_shared_path("data");
    tl_eval_load_opts lo = {data_dir, world_dir, file, fewshot};
    for (int k = 0; k < n_tasks && !rc; k++)
        if (tl_eval_task_load(names[k], &lo, &tasks[k]) != TL_OK)
            rc = default_data && access(data_dir, F_OK) != 0
                     ? cli_failf(1, "%s (the default data folder; --data DIR or TILLER_SHARED sets it)", tl_last_error())
                     : cli_fail();
    if (!rc && tl_model_load(model_path, &model, &tok_file) != TL_OK) rc = cli_fail();
    if (!rc && tok_path && tl_tokenizer_load(tok_path, &tok_owned) != TL_OK) rc = cli_fail();
    if (!rc) {
        tl_status pick = tl_model_pick_tokenizer(model, tok_owned, tok_file, &tok);
        if (pick) rc = pick == TL_E_ARG ? cli_failf(2, "eval: %s", tl_last_error()) : cli_fail();
    }
    if (!rc && out_dir && mkdir(out_dir, 0777) != 0 && errno != EEXIST)
        rc = cli_failf(1, "eval: cannot create %s: %s", out_dir, strerror(errno));

    tl_eval_opts eo;
    tl_eval_opts_default(&eo);
    eo.limit = limit;
    eo.n_ctx = n_ctx;
    eo.no_prefix_cache = no_cache;
    eo.max_new_tokens = max_new;
    /* the steering hook only reads its vector, so items may still run in parallel */
    if (!rc && steer.file && workers == 0) eo.n_workers = tl_eval_workers(model, &eo, 1 << 30);
    else eo.n_workers = workers;
    if (!rc) rc = cli_steer_setup(&steer, model, &eo.hooks);
    eo.sampling = (tl_sampler_params){temp, top_k, top_p, seed};
    cli_progress prog;
    eo.progress = progress_cb;
    eo.progress_user = &prog;
    for (int k = 0; k < n_tasks && !rc; k++) {
        cli_progress_start(&prog, tasks[k]->name, tasks[k]->n_items);
        tl_status st = tl_eval_run(model, tok, tasks[k], &eo, &results[k]);
        cli_progress_end(&prog);
        if (st) {
            rc = cli_fail();
            break;
        }
        n_done++;
        tl_logf(TL_LOG_INFO, "%s: %d items in %.2f s, %lld tokens (%.0f tok/s)", tasks[k]->name, results[k].n_items,
                results[k].seconds, (long long)results[k].tokens_run,
                (double)results[k].tokens_run / (results[k].seconds + 1e-9));
        if (out_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s.csv", out_dir, tasks[k]->name);
            if (tl_eval_write_csv(path, tasks[k], &results[k]) != TL_OK) rc = cli_fail();
        }
    }
    const tl_eval_task *ct[MAX_TASKS];
    const tl_eval_result *cr[MAX_TASKS];
    for (int k = 0; k < n_done; k++)
        ct[k] = tasks[k], cr[k] = &results[k];
    if (!rc) {
        print_table(ct, cr, n_done);
        if (out_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/results.json", out_dir);
            tl_eval_meta meta = {model_path, tok_path, limit,      fewshot, n_ctx ? n_ctx : tl_model_config(model)->seq_len,
                                 no_cache,   max_new,  eo.sampling, NULL};
            char steer_desc[4200];
            if (steer.file) {
                snprintf(steer_desc, sizeof steer_desc, "%s x %g at layers %d-%d, %s positions", steer.file,
                         (double)steer.scale, steer.hook.first, steer.hook.last, steer.last_only ? "last" : "all");
                meta.steer = steer_desc;
            }
            if (tl_eval_write_json(path, &meta, ct, cr, n_done) != TL_OK) rc = cli_fail();
        }
    }
    for (int k = 0; k < n_tasks; k++) {
        tl_eval_result_free(&results[k]);
        tl_eval_task_free(tasks[k]);
    }
    tl_tokenizer_free(tok_owned);
    tl_tokenizer_free(tok_file);
    cli_steer_free(&steer);
    tl_model_free(model);
    return rc;
}
