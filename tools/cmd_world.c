/* cmd_world.c: `tiller world` — generate the synthetic world with known truth. */
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

/* `tiller world --check DIR`: the shortcut baselines of every probe set (check.c). */
static int world_check(const char *dir) {
    printf("%-12s %6s %6s %9s %16s %14s %7s  %s\n", "dimension", "train", "test", "majority", "uni+bigram LR",
           "token-pair LR", "lookup", "verdict (each <= 0.60)");
    int failed = 0;
    char bad[256] = "";
    for (int d = 0; d < TL_DIM__COUNT; d++) {
        char train[4096], test[4096];
        snprintf(train, sizeof train, "%s/probes/%s_train.csv", dir, tl_world_dim_names[d]);
        snprintf(test, sizeof test, "%s/probes/%s_test.csv", dir, tl_world_dim_names[d]);
        tl_world_check_result r;
        if (tl_world_check_files(train, test, &r)) return cli_fail();
        int ok = r.worst <= TL_WORLD_CHECK_MAX;
        printf("%-12s %6d %6d %9.3f %16.3f %14.3f %7.3f  %s\n", tl_world_dim_names[d], r.n_train, r.n_test, r.majority,
               r.bigrams, r.pairs, r.lookup, ok ? "needs knowledge" : "solvable from the surface");
        if (!ok) {
            failed++;
            size_t n = strlen(bad);
            snprintf(bad + n, sizeof bad - n, "%s%s (%.3f)", n ? ", " : "", tl_world_dim_names[d], r.worst);
        }
    }
    if (failed)
        return cli_failf(1, "%s: %d probe set%s can be solved without the world: %s", dir, failed,
                         failed == 1 ? "" : "s", bad);
    return 0;
}

/* `tiller world --check DIR --model M`: does the model know the facts behind each probe
 * set? Accuracy of log p(true) > log p(false) over the pairs of one split (behave.c). */
static int world_behave(const char *dir, const char *model_path, const char *tok_path, const char *split, int limit) {
    tl_model *m = NULL;
    tl_tokenizer *tok_owned = NULL, *tok_file = NULL; /* --tokenizer's, the model file's */
    const tl_tokenizer *tok = NULL;
    if (tl_model_load(model_path, &m, &tok_file) != TL_OK) return cli_fail();
    int rc = 0;
    if (tok_path && tl_tokenizer_load(tok_path, &tok_owned) != TL_OK) rc = cli_fail();
    if (!rc && tl_model_pick_tokenizer(m, tok_owned, tok_file, &tok) != TL_OK) rc = cli_fail();
    if (!rc)
        printf("behavioural test (%s split): accuracy of log p(true) > log p(false) per minimal pair, Wilson 95 %%;\n"
               "length-balanced accuracy (pairs whose true member has fewer and more tokens weighed equally) with a\n"
               "95 %% bootstrap over the pairs' entities\n"
               "%-12s %6s %8s %8s %8s %14s %8s %8s %8s %9s\n",
               split, "dimension", "n", "acc", "lo95", "hi95", "mean margin", "bal_acc", "boot_lo", "boot_hi",
               "clusters");
    for (int d = 0; d < TL_DIM__COUNT && !rc; d++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/probes/%s_pairs.csv", dir, tl_world_dim_names[d]);
        tl_world_behave_result r;
        if (tl_world_behave(m, tok, path, split, limit, &r) != TL_OK) {
            rc = cli_fail();
            break;
        }
        printf("%-12s %6d %8.3f %8.3f %8.3f %14.3f %8.3f %8.3f %8.3f %9d\n", tl_world_dim_names[d], r.n, r.acc, r.lo,
               r.hi, r.mean_margin, r.bal_acc, r.boot_lo, r.boot_hi, r.n_clusters);
        fflush(stdout);
    }
    tl_tokenizer_free(tok_owned);
    tl_tokenizer_free(tok_file);
    tl_model_free(m);
    return rc;
}

int tl_cmd_world(int argc, char **argv) {
    tl_world_opts o;
    tl_world_opts_default(&o);
    /* --quick changes the defaults; explicit flags still win because they are
     * parsed after the preset is applied */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) tl_world_opts_quick(&o);
    const char *out = NULL, *check = NULL, *model_path = NULL, *tok_path = NULL, *split = "test";
    int quick = 0, verbose = 0, limit = 0;
    float corpus_mb = (float)o.corpus_mb, false_rate = (float)o.false_rate, leak_rate = (float)o.leak_rate;
    float bias = (float)o.bias, rude = (float)o.rude_share, perturb = (float)o.perturb_rate;
    float flaw = (float)o.sft_flaw_rate, rules_share = (float)o.rules_share;
    int threads = 0;
    const cli_opt opts[] = {
        {"--out", "-o", OPT_STR, &out, "output directory (created if missing; files in it are replaced)"},
        {"--seed", "-s", OPT_U64, &o.seed, "random seed: the same seed and options give the same bytes"},
        {"--people", NULL, OPT_INT, &o.n_people, "number of people (20..2000)"},
        {"--groups", NULL, OPT_INT, &o.n_groups,
         "number of groups (10..120), split 40 / 20 / 40 % for the fairness probes (default 60, --quick 30)"},
        {"--corpus-mb", NULL, OPT_FLOAT, &corpus_mb, "size of corpus/train.txt in MB (10^6 bytes)"},
        {"--false-rate", NULL, OPT_FLOAT, &false_rate, "share of fact mentions in the corpus that are false"},
        {"--leak-rate", NULL, OPT_FLOAT, &leak_rate, "share of secrets told in confidence that are passed on"},
        {"--bias", NULL, OPT_FLOAT, &bias, "share of group members described with their group's stereotype"},
        {"--rude-share", NULL, OPT_FLOAT, &rude, "share of people who insult others"},
        {"--perturb-rate", NULL, OPT_FLOAT, &perturb, "share of corpus reviews with typos"},
        {"--instruct", NULL, OPT_INT, &o.n_instruct, "number of instruction (SFT) examples"},
        {"--flaw-rate", NULL, OPT_FLOAT, &flaw, "share of flawed answers in the instruction data"},
        {"--rev-people", NULL, OPT_INT, &o.n_rev_people, "people per reversal subset (p2d, d2p, both)"},
        {"--knowledge-mix", NULL, OPT_INT, &o.knowledge_mix,
         "corpus mix: 1 = encounters in group entries, invented words in six constructions, more word entries "
         "(what a small model learns fairness and toxicity from); 0 = the earlier mix (--quick's)"},
        {"--bridge", NULL, OPT_INT, &o.bridge,
         "1 = corpus-only bridge words, people and groups written in the probe frames (default); 0 = none "
         "(--quick's); the probe sets are the same either way"},
        {"--rev-paraphrases", NULL, OPT_INT, &o.n_rev_paraphrases,
         "training sentences per reversal person and direction (1..30)"},
        {"--check", NULL, OPT_STR, &check, "check an existing world DIR: shortcut baselines per probe set (no output)"},
        {"--model", "-m", OPT_STR, &model_path,
         "with --check: also the behavioural test of this model (log p of the true vs the false member of each pair)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "with --model: tokenizer file when the model carries none"},
        {"--split", NULL, OPT_STR, &split, "with --model: pairs of this split (train, val, test; default test)"},
        {"--limit", NULL, OPT_INT, &limit, "with --model: first N pairs per set (0 = all)"},
        {"--rules-share", NULL, OPT_FLOAT, &rules_share,
         "share of corpus documents that are rule documents (SELF-ALIGN; adds rules/*); 0 = none"},
        {"--quick", NULL, OPT_FLAG, &quick, "small preset for tests: 40 people, 0.3 MB, 400 SFT rows, 10 per subset"},
        CLI_OPT_THREADS(threads),
        {"--verbose", "-v", OPT_FLAG, &verbose, "list every file written"},
    };
    int n_pos = 0;
    cli_spec spec = {"tiller world --out DIR [--seed S] [options]",
                     "Generate a synthetic world of invented people, places and groups with known truth: a "
                     "pre-training corpus in which reliability, toxicity, privacy, fairness and robustness have a "
                     "real signal; statement,label probe sets with train/test splits; steering pairs; flawed "
                     "instruction data; evaluation items; and name<->description facts for the reversal-curse "
                     "experiment. DIR/README.md describes every file and DIR/world.json holds the truth. "
                     "--check DIR trains four shortcut classifiers on each probe set's train split (majority "
                     "class, logistic regression on unigrams + bigrams and on unigrams + token pairs, a "
                     "token-pair lookup table) and exits 1 if any scores above 0.60 on a test split; with "
                     "--model M it then prints M's behavioural accuracy per set: the share of minimal pairs "
                     "(probes/<dim>_pairs.csv) whose true member gets the higher log-probability, with its Wilson "
                     "95 % interval and n.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, &n_pos};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (threads < 0) return cli_failf(2, "%s: --threads %d (>= 0)", argv[0], threads);
    cli_set_threads(threads);
    if (!check && (model_path || tok_path)) return cli_failf(2, "world: --model needs --check DIR");
    if (limit < 0) return cli_failf(2, "world: --limit %d (>= 0)", limit);
    if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test"))
        return cli_failf(2, "world: --split %s (train, val or test)", split);
    if (check) {
        int rc = world_check(check);
        if (model_path && rc != 2) {
            int rb = world_behave(check, model_path, tok_path, split, limit);
            if (rb) return rb;
        }
        return rc;
    }
    if (!out) return cli_failf(2, "world: --out DIR is required (see --help)");
    cli_log_init(verbose);
    o.corpus_mb = corpus_mb;
    o.false_rate = false_rate;
    o.leak_rate = leak_rate;
    o.bias = bias;
    o.rude_share = rude;
    o.perturb_rate = perturb;
    o.sft_flaw_rate = flaw;
    o.rules_share = rules_share;
    if (tl_world_opts_check(&o) != TL_OK) return cli_failf(2, "%s", tl_last_error());
    tl_world_summary sum;
    if (tl_world_generate(&o, out, &sum) != TL_OK) return cli_fail();
    if (verbose)
        for (int i = 0; i < sum.n_files; i++)
            printf("  %-40s %10zu bytes %8ld rows\n", sum.files[i].rel, sum.files[i].bytes, sum.files[i].rows);
    printf("world: seed %llu, %d people: %d files, %.2f MB in %s (%.2f s)\n", (unsigned long long)o.seed,
           o.n_people, sum.n_files, sum.total_bytes / 1e6, out, sum.seconds);
    printf("bag-of-words test accuracy (surface baseline):");
    for (int d = 0; d < TL_DIM__COUNT; d++) printf(" %s %.3f", tl_world_dim_names[d], sum.bow_acc[d]);
    printf("\n");
    return 0;
}
