/* cmd_recontrol.c: `tiller recontrol train|eval` (RE-Control: value network on final normed
 * states, test-time gradient ascent, the baselines) and `tiller reward train|score` (rewards
 * behind one interface). The work is in src/study/recontrol*.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"
#include "tiller/recontrol.h"

#define DEFAULT_INSTRUCTION                                                                                    \
    "A helpful, honest and harmless assistant answers politely and kindly.\n"

typedef struct {
    tl_model *model;
    tl_tokenizer *tok_owned;
    const tl_tokenizer *tok;
} rc_loaded;

static int rc_load(const char *model_path, const char *tok_path, rc_loaded *l) {
    memset(l, 0, sizeof *l);
    if (!model_path) return cli_failf(2, "-m MODEL is required (see --help)");
    if (tl_model_load(model_path, &l->model)) return cli_fail();
    if (tok_path) {
        if (tl_tokenizer_load(tok_path, &l->tok_owned)) return cli_fail();
        l->tok = l->tok_owned;
    } else {
        l->tok = tl_model_tokenizer(l->model);
    }
    if (!l->tok) return cli_failf(2, "%s carries no tokenizer: pass --tokenizer FILE", model_path);
    return 0;
}

static void rc_free(rc_loaded *l) {
    tl_tokenizer_free(l->tok_owned);
    tl_model_free(l->model);
}

/* What `recontrol train` and `eval` share: the model and tokenizer, the prompts, the reward. */
typedef struct {
    const char *model_path, *tok_path, *prompts, *tmpl, *reward_spec;
    int offset, n_prompts;
    rc_loaded L;
    tl_reward *rw;
    tl_rc_prompts P;
} rc_common;

/* Seven cli_opt rows for the shared options (the help texts that differ are arguments). */
#define RC_COMMON_OPTS(c, prompts_help, template_help, reward_help)                                            \
    {"--model", "-m", OPT_STR, &(c).model_path, "base model file"},                                            \
        {"--tokenizer", NULL, OPT_STR, &(c).tok_path, "tokenizer file; default: the model's"},                 \
        {"--prompts", NULL, OPT_STR, &(c).prompts, prompts_help},                                              \
        {"--template", NULL, OPT_STR, &(c).tmpl, template_help},                                               \
        {"--offset", NULL, OPT_INT, &(c).offset, "skip the first N prompts"},                                  \
        {"--n-prompts", NULL, OPT_INT, &(c).n_prompts, "prompts to use (0 = all)"},                            \
        {"--reward", NULL, OPT_STR, &(c).reward_spec, reward_help}

/* Load the model and tokenizer, open the reward, read the prompts: 0, or the exit code (the error
 * printed). rc_common_free undoes whatever was done. */
static int rc_common_open(rc_common *c) {
    int rc = rc_load(c->model_path, c->tok_path, &c->L);
    if (!rc && (tl_reward_open(c->reward_spec, &c->rw) ||
                tl_rc_prompts_load(c->prompts, c->tmpl, c->offset, c->n_prompts, &c->P)))
        rc = cli_fail();
    return rc;
}

static void rc_common_free(rc_common *c) {
    tl_rc_prompts_free(&c->P);
    tl_reward_free(c->rw);
    rc_free(&c->L);
}

static cli_progress g_prog;

static void train_progress(void *user, int done, int total) {
    (void)user;
    if (done == 1) cli_progress_start(&g_prog, "sampling", total);
    cli_progress_update(&g_prog, done, NULL);
    if (done == total) cli_progress_end(&g_prog);
}

static void fit_progress(void *user, int epoch, double tr, double val) {
    int every = *(int *)user;
    if (epoch == 1 || epoch % every == 0) fprintf(stderr, "epoch %d: train %.5f val %.5f\n", epoch, tr, val);
}

static int cmd_rc_train(int argc, char **argv) {
    rc_common c = {.reward_spec = "lexicon", .n_prompts = 64};
    const char *out = NULL;
    int samples = 4, n_new = 32, hidden = 256, epochs = 100, batch = 512, threads = 0;
    float lr = 1e-3f, temp = 0.7f, top_p = 0.95f, val = 0.2f;
    int top_k = 50;
    uint64_t seed = 1;
    cli_opt opts[] = {
        RC_COMMON_OPTS(c, "prompt file (.jsonl with prompt or HH-RLHF rows, .json SHP / HarmfulQA, text)",
                       "template for bare questions (%s = question); default \"User: %s\\nAssistant:\"",
                       "reward: lexicon | lexicon:FILE | world | model:HEAD.gguf"),
        {"--samples", NULL, OPT_INT, &samples, "responses sampled per prompt"},
        {"--n-predict", "-n", OPT_INT, &n_new, "tokens per response at most"},
        {"--temp", NULL, OPT_FLOAT, &temp, "sampling temperature (reference 0.7)"},
        {"--top-k", NULL, OPT_INT, &top_k, "top-k (reference 50)"},
        {"--top-p", NULL, OPT_FLOAT, &top_p, "top-p (reference 0.95)"},
        {"--hidden", NULL, OPT_INT, &hidden, "value network width (reference 4096)"},
        {"--epochs", NULL, OPT_INT, &epochs, "epochs (reference up to 100)"},
        {"--batch", NULL, OPT_INT, &batch, "sequences per batch (reference 512)"},
        {"--lr", NULL, OPT_FLOAT, &lr, "Adam learning rate (reference 1e-4 default, 1e-3 in its README)"},
        {"--val", NULL, OPT_FLOAT, &val, "share of sequences held out; the epoch with the lowest loss on them is kept"},
        {"--seed", NULL, OPT_U64, &seed, "seed (sampling, split, initialisation)"},
        {"--out", "-o", OPT_STR, &out, "value network GGUF to write"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
    };
    cli_spec spec = {"tiller recontrol train -m MODEL --prompts FILE --reward SPEC -o VALUE.gguf [options]",
                     "Samples responses from the base model, records the final normed state before every response "
                     "token and the terminal reward, and fits the value network V (MLP d -> h -> h -> 1, ReLU) by "
                     "Bellman consistency: V(h_t) ~ V(h_t+1), V(h_last) ~ reward (targets not detached, as the "
                     "reference's training loop), Adam. Also stores the static-editing direction. Progress on stderr.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!c.prompts || !out) return cli_failf(2, "--prompts and -o are required (see --help)");
    if (samples < 1 || n_new < 1 || hidden < 1 || epochs < 1 || batch < 1 || c.n_prompts < 0 || c.offset < 0)
        return cli_failf(2, "--samples, -n, --hidden, --epochs, --batch must be >= 1; --n-prompts, --offset >= 0");
    cli_set_threads(threads);
    int rc = rc_common_open(&c);
    if (!rc) {
        int every = epochs / 10 > 0 ? epochs / 10 : 1;
        tl_rc_train_opts o = {0};
        o.out_path = out, o.samples = samples, o.n_new = n_new, o.hidden = hidden;
        o.sampler = (tl_sampler_params){temp, top_k, top_p, seed};
        tl_value_fit_opts_default(&o.fit);
        o.fit.epochs = epochs, o.fit.batch = batch, o.fit.lr = lr, o.fit.val_share = val, o.fit.seed = seed;
        o.fit.progress = fit_progress, o.fit.user = &every;
        o.progress = train_progress;
        tl_rc_train_result r;
        double t0 = tl_time_sec();
        if (tl_rc_train(c.L.model, c.L.tok, &c.P, c.rw, &o, &r)) rc = cli_fail();
        else
            printf("%d responses (%d states) from %d prompts, reward %.4f +- %.4f (sd); V: best epoch %d, train %.5f, "
                   "val %.5f; %.1f s -> %s\n",
                   r.n_seq, r.n_states, c.P.n, r.reward_mean, r.reward_sd, r.fit.best_epoch, r.fit.train_loss,
                   r.fit.val_loss, tl_time_sec() - t0, out);
    }
    rc_common_free(&c);
    return rc;
}

static unsigned parse_methods(const char *list, int *bad) {
    unsigned m = 0;
    *bad = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < TL_RC__COUNT && strcmp(tok, tl_rc_method_names[k])) k++;
        if (k == TL_RC__COUNT) *bad = 1;
        else m |= 1u << k;
    }
    return m;
}

static void eval_progress(void *user, const char *method, int done, int total) {
    (void)user;
    if (done == 1) cli_progress_start(&g_prog, method, total);
    cli_progress_update(&g_prog, done, NULL);
    if (done == total) cli_progress_end(&g_prog);
}

static int cmd_rc_eval(int argc, char **argv) {
    rc_common c = {.reward_spec = "lexicon", .n_prompts = 32};
    const char *value = NULL, *out = NULL, *methods = "plain,prompting,static_re,cd,cd_prefix,recontrol,recontrol_prompting",
               *instruction = DEFAULT_INSTRUCTION, *title = NULL;
    int n_new = 32, iters = 30, cd_k = 10, threads = 0, top_k = 0;
    float step = 1.0f, static_scale = 1.0f, temp = 0.0f, top_p = 1.0f;
    uint64_t seed = 1;
    cli_opt opts[] = {
        RC_COMMON_OPTS(c, "prompt file (as recontrol train); use rows not used for training",
                       "template for bare questions (%s = question)", "reward for the metrics, CD-prefix and the win rate"),
        {"--value", NULL, OPT_STR, &value, "value network GGUF (tiller recontrol train)"},
        {"--methods", NULL, OPT_STR, &methods, "comma list of plain, prompting, static_re, cd, cd_prefix, recontrol, recontrol_prompting"},
        {"--step-size", NULL, OPT_FLOAT, &step, "RE-Control step size (reference 1.0)"},
        {"--iters", NULL, OPT_INT, &iters, "RE-Control iterations (reference 30)"},
        {"--static-scale", NULL, OPT_FLOAT, &static_scale, "scale of the static editing direction"},
        {"--cd-k", NULL, OPT_INT, &cd_k, "candidates re-ranked by CD / CD-prefix"},
        {"--instruction", NULL, OPT_STR, &instruction, "text put before the prompt by the prompting methods"},
        {"--n-predict", "-n", OPT_INT, &n_new, "tokens per response at most"},
        {"--temp", NULL, OPT_FLOAT, &temp, "temperature for every method (0 = greedy)"},
        {"--top-k", NULL, OPT_INT, &top_k, "top-k (0 = off)"},
        {"--top-p", NULL, OPT_FLOAT, &top_p, "top-p (1 = off)"},
        {"--seed", NULL, OPT_U64, &seed, "seed (sampling, permutation test)"},
        {"--title", NULL, OPT_STR, &title, "title of the table and charts"},
        {"--out", "-o", OPT_STR, &out, "output directory"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
    };
    cli_spec spec = {"tiller recontrol eval -m MODEL --value VALUE.gguf --prompts FILE --reward SPEC -o DIR [options]",
                     "Runs each decoding method on each prompt and writes DIR/results.csv (mean and 95% CI over "
                     "prompts of reward, diversity, coherence, win rate vs plain by the reward, ms per token; paired "
                     "sign-flip p-value of each method's reward vs RE-Control), items.csv, results.json, table.txt "
                     "(also printed) and reward.svg, winrate.svg, time.svg.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!c.prompts || !out) return cli_failf(2, "--prompts and -o are required (see --help)");
    int bad;
    unsigned mask = parse_methods(methods, &bad);
    if (bad) return cli_failf(2, "--methods: unknown method in '%s'", methods);
    if (!value && (mask & ((1u << TL_RC_RECONTROL) | (1u << TL_RC_RECONTROL_PROMPT) | (1u << TL_RC_CD) |
                           (1u << TL_RC_STATIC))))
        return cli_failf(2, "--value is required for recontrol, cd and static_re");
    if (n_new < 1 || iters < 0 || cd_k < 1) return cli_failf(2, "-n >= 1, --iters >= 0, --cd-k >= 1");
    cli_set_threads(threads);
    int rc = rc_common_open(&c);
    if (!rc) {
        tl_rc_eval_opts o = {0};
        o.out_dir = out, o.value_path = value, o.methods = mask, o.n_new = n_new;
        o.sampler = (tl_sampler_params){temp, top_k, top_p, seed};
        o.step = step, o.iters = iters, o.static_scale = static_scale, o.cd_k = cd_k, o.instruction = instruction;
        o.title = title, o.seed = seed, o.progress = eval_progress;
        char *table = NULL;
        if (tl_rc_eval(c.L.model, c.L.tok, &c.P, c.rw, &o, &table)) rc = cli_fail();
        else if (table) printf("%s", table);
        free(table);
    }
    rc_common_free(&c);
    return rc;
}

int tl_cmd_recontrol(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return cmd_rc_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "eval")) return cmd_rc_eval(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
    fprintf(f, "usage: tiller recontrol <subcommand> [options]   (tiller recontrol <subcommand> --help)\n\n"
               "subcommands:\n"
               "  train    sample responses, record final normed states + rewards, fit the value network\n"
               "  eval     plain, prompting, static editing, CD, CD-prefix, RE-Control (+ prompting) side by side\n\n"
               "Apply a value network while generating: tiller generate --recontrol VALUE.gguf --step-size A --iters N.\n");
    if (f == stdout) return 0;
    if (argc >= 2) fprintf(stderr, "tiller: unknown recontrol subcommand '%s'\n", argv[1]);
    return 2;
}

/* ---- reward ------------------------------------------------------------------------ */

static void bt_progress(void *user, int epoch, double loss, double acc) {
    (void)user;
    if (epoch < 0) fprintf(stderr, "features: %d pairs\n", -epoch);
    else fprintf(stderr, "epoch %d: BT loss %.5f, validation accuracy %.3f\n", epoch, loss, acc);
}

static int cmd_reward_train(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *data = NULL, *out = NULL;
    int max_rows = 0, epochs = 300, threads = 0;
    float lr = 1e-2f, val = 0.2f;
    uint64_t seed = 1;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model_path, "the engine (its final normed state is the feature)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file; default: the model's"},
        {"--data", NULL, OPT_STR, &data, "pairs JSONL: {\"prompt\",\"chosen\",\"rejected\"}, HH-RLHF rows, or the world's {\"prompt\",\"safe\",\"unsafe\"}"},
        {"--max", NULL, OPT_INT, &max_rows, "rows to use (0 = all)"},
        {"--epochs", NULL, OPT_INT, &epochs, "full-batch Adam steps"},
        {"--lr", NULL, OPT_FLOAT, &lr, "Adam learning rate"},
        {"--val", NULL, OPT_FLOAT, &val, "share of pairs held out for the accuracy"},
        {"--seed", NULL, OPT_U64, &seed, "split seed"},
        {"--out", "-o", OPT_STR, &out, "reward head GGUF to write (use as --reward model:FILE)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
    };
    cli_spec spec = {"tiller reward train -m MODEL --data PAIRS.jsonl -o HEAD.gguf [options]",
                     "A reward model: r = w . h + b on the final normed state h of the last token of prompt + "
                     "response, trained with the Bradley-Terry loss -log sigmoid(r_chosen - r_rejected). The engine "
                     "is frozen (its features are computed once); the head is trained by Adam.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!data || !out) return cli_failf(2, "--data and -o are required (see --help)");
    cli_set_threads(threads);
    rc_loaded L;
    int rc = rc_load(model_path, tok_path, &L);
    tl_pref_pair *pp = NULL;
    int n = 0;
    if (!rc && tl_pref_pairs_load(data, max_rows, &pp, &n)) rc = cli_fail();
    if (!rc) {
        tl_reward_train_opts o = {model_path, epochs, lr, val, seed, bt_progress, NULL};
        tl_reward_train_result r;
        if (tl_reward_train(L.model, L.tok, pp, n, &o, out, &r)) rc = cli_fail();
        else
            printf("%d train / %d validation pairs: train loss %.4f acc %.3f, validation loss %.4f acc %.3f -> %s\n",
                   r.n_train, r.n_val, r.train_loss, r.train_acc, r.val_loss, r.val_acc, out);
    }
    tl_pref_pairs_free(pp, n);
    rc_free(&L);
    return rc;
}

static int cmd_reward_score(int argc, char **argv) {
    const char *spec_s = "lexicon", *prompt = "", *resp = NULL;
    int threads = 0;
    cli_opt opts[] = {
        {"--reward", NULL, OPT_STR, &spec_s, "lexicon | lexicon:FILE | world | model:HEAD.gguf"},
        {"--prompt", "-p", OPT_STR, &prompt, "the prompt"},
        {"--response", "-r", OPT_STR, &resp, "the response to score"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
    };
    cli_spec spec = {"tiller reward score --reward SPEC -p PROMPT -r RESPONSE", "Prints r(prompt, response).", opts,
                     (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!resp) return cli_failf(2, "-r RESPONSE is required");
    cli_set_threads(threads);
    tl_reward *r = NULL;
    double v;
    if (tl_reward_open(spec_s, &r) || tl_reward_score(r, prompt, resp, &v)) {
        tl_reward_free(r);
        return cli_fail();
    }
    printf("%.6f\n", v);
    tl_reward_free(r);
    return 0;
}

int tl_cmd_reward(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return cmd_reward_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "score")) return cmd_reward_score(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
    fprintf(f, "usage: tiller reward <subcommand> [options]\n\n"
               "subcommands:\n"
               "  train    a reward model (engine + scalar head, Bradley-Terry) from preference pairs\n"
               "  score    r(prompt, response) for any reward: lexicon, lexicon:FILE, world, model:HEAD.gguf\n");
    if (f == stdout) return 0;
    if (argc >= 2) fprintf(stderr, "tiller: unknown reward subcommand '%s'\n", argv[1]);
    return 2;
}
