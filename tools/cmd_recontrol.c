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
#include "tiller/selfalign.h" /* tl_sa_wilson, tl_sa_mcnemar */

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
    /* the tokenizer owned is --tokenizer's when given, else the one the model file carries */
    if (tl_model_load(model_path, &l->model, tok_path ? NULL : &l->tok_owned)) return cli_fail();
    if (tok_path && tl_tokenizer_load(tok_path, &l->tok_owned)) return cli_fail();
    tl_status st = tl_model_pick_tokenizer(l->model, l->tok_owned, NULL, &l->tok); /* none, or too many tokens */
    if (st) return st == TL_E_ARG ? cli_failf(2, "%s", tl_last_error()) : cli_fail();
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
    if (done == 1) cli_progress_start(&g_prog, "decoding", total);
    cli_progress_update(&g_prog, done, method);
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
    else if (acc == acc)
        fprintf(stderr, "epoch %d: BT loss %.5f, validation accuracy %.3f\n", epoch, loss, acc);
    else
        fprintf(stderr, "epoch %d: BT loss %.5f\n", epoch, loss); /* no validation pairs */
}

/* "shuffle,repeat" -> kinds; the number of kinds, or -1 (an error printed) for an unknown name */
static int parse_degen_kinds(const char *list, tl_degen_kind *kinds) {
    int n = 0;
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int k = 0; k < TL_DEGEN__COUNT; k++)
            if (strlen(tl_degen_name((tl_degen_kind)k)) == len && !strncmp(p, tl_degen_name((tl_degen_kind)k), len))
                found = k;
        if (found < 0 || n == TL_DEGEN__COUNT) {
            cli_failf(2, "--degenerate: '%.*s' is not one of shuffle, repeat, punct, truncate, noise (each once)",
                      (int)len, p);
            return -1;
        }
        kinds[n++] = (tl_degen_kind)found;
        p += len + (p[len] == ',');
    }
    return n;
}

/* reward train --degenerate: the demo's judge recipe on any pairs (tl_reward_train_judge), and what
 * it measured */
static int train_judge(rc_loaded *L, tl_pref_pair *pp, int n, const tl_reward_train_opts *o, const tl_degen_kind *kinds,
                       int n_kinds, const char *out) {
    tl_judge_result jr;
    if (tl_reward_train_judge(L->model, L->tok, pp, n, o->val_share, kinds, n_kinds, o, out, &jr, NULL))
        return cli_fail();
    const tl_gaming_result *gr = &jr.gaming;
    tl_sa_stat a = tl_sa_wilson(jr.n_correct, jr.n_heldout), gc = tl_sa_wilson(gr->n_pass_all, gr->n);
    printf("%d train pairs + %d degenerate pairs: train acc %.3f -> %s\n", jr.n_train, jr.n_degen, jr.train_acc, out);
    printf("held out: accuracy %.3f [%.3f, %.3f] (%d of %d pairs, %d ties)\n", a.value, a.lo, a.hi, jr.n_correct,
           jr.n_heldout, jr.n_ties);
    printf("gaming check: %.3f [%.3f, %.3f] of %d held-out fluent replies scored above all %d degenerate variants "
           "(%d too short);",
           gc.value, gc.lo, gc.hi, gr->n, TL_DEGEN__COUNT, gr->n_skipped);
    for (int k = 0; k < TL_DEGEN__COUNT; k++)
        printf(" %s %.3f", tl_degen_name((tl_degen_kind)k), gr->n ? (double)gr->n_pass[k] / gr->n : 0.0);
    printf("\n");
    return 0;
}

static int cmd_reward_train(int argc, char **argv) {
    const char *model_path = NULL, *tok_path = NULL, *data = NULL, *out = NULL, *features = "last", *degen = NULL;
    int max_rows = 0, epochs = 0, threads = 0, freeze = 0, batch = 8, max_len = 128;
    float lr = 1e-2f, engine_lr = 1e-4f, val = 0.2f;
    uint64_t seed = 1;
    cli_opt opts[] = {
        {"--model", "-m", OPT_STR, &model_path, "the engine (its final normed state is the feature)"},
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer file; default: the model's"},
        {"--data", NULL, OPT_STR, &data,
         "pairs JSONL: {\"prompt\",\"chosen\",\"rejected\"}, HH-RLHF rows, or the world's "
         "{\"prompt\",\"safe\",\"unsafe\"}"},
        {"--max", NULL, OPT_INT, &max_rows, "rows to use (0 = all)"},
        {"--freeze", NULL, OPT_FLAG, &freeze, "keep the engine frozen: only the head learns (features computed once)"},
        {"--features", NULL, OPT_STR, &features,
         "with --freeze: last (the last token's final normed state) or fluency "
         "(that, the response's mean state and its mean log-probability)"},
        {"--degenerate", NULL, OPT_STR, &degen,
         "with --freeze: also train on each training pair's chosen reply over "
         "degenerate variants of it, these kinds (comma list of shuffle, repeat, "
         "punct, truncate, noise; the demo uses the first four), then print the "
         "held-out accuracy and the gaming check"},
        {"--epochs", NULL, OPT_INT, &epochs,
         "epochs over the pairs (0 = 4 when fine-tuning, 300 full-batch steps with --freeze)"},
        {"--lr", NULL, OPT_FLOAT, &lr, "Adam learning rate of the head"},
        {"--engine-lr", NULL, OPT_FLOAT, &engine_lr, "Adam learning rate of the engine (fine-tuning)"},
        {"--batch", NULL, OPT_INT, &batch, "pairs per step (fine-tuning)"},
        {"--max-len", NULL, OPT_INT, &max_len, "tokens per text, BOS + the tail of prompt + response (fine-tuning)"},
        {"--val", NULL, OPT_FLOAT, &val, "share of pairs held out for the accuracy (and the choice of epoch)"},
        {"--seed", NULL, OPT_U64, &seed, "split and order seed"},
        {"--out", "-o", OPT_STR, &out,
         "reward head GGUF to write (use as --reward model:FILE); fine-tuning also "
         "writes the engine beside it as FILE.engine.gguf"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
    };
    cli_spec spec = {"tiller reward train -m MODEL --data PAIRS.jsonl -o HEAD.gguf [options]",
                     "A reward model: the engine with a scalar head r = w . h + b on the final normed state h of "
                     "the last token of prompt + response, trained with the Bradley-Terry loss "
                     "-log sigmoid(r_chosen - r_rejected). By default the whole model is fine-tuned (Adam on the "
                     "engine and the head, the epoch with the best validation accuracy kept); --freeze trains the "
                     "head alone on a frozen engine.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!data || !out) return cli_failf(2, "--data and -o are required (see --help)");
    if (batch < 1 || batch > 4096) return cli_failf(2, "--batch %d: expected 1 .. 4096", batch);
    if (max_len < 2) return cli_failf(2, "--max-len %d: expected at least 2", max_len);
    int feat = !strcmp(features, "last")      ? TL_REWARD_FEAT_LAST
               : !strcmp(features, "fluency") ? TL_REWARD_FEAT_FLUENCY
                                              : -1;
    if (feat < 0) return cli_failf(2, "--features '%s': expected last or fluency", features);
    if ((feat != TL_REWARD_FEAT_LAST || degen) && !freeze)
        return cli_failf(2, "--features fluency and --degenerate train the head alone: add --freeze");
    tl_degen_kind kinds[TL_DEGEN__COUNT];
    int n_kinds = degen ? parse_degen_kinds(degen, kinds) : 0;
    if (n_kinds < 0) return 2;
    if (degen && n_kinds == 0) return cli_failf(2, "--degenerate: no kinds given");
    if (degen && !(val > 0 && val < 1)) return cli_failf(2, "--degenerate needs held-out pairs: --val between 0 and 1");
    if (epochs == 0) epochs = freeze ? 300 : 4;
    cli_set_threads(threads);
    rc_loaded L;
    int rc = rc_load(model_path, tok_path, &L);
    tl_pref_pair *pp = NULL;
    int n = 0;
    if (!rc && tl_pref_pairs_load(data, max_rows, &pp, &n)) rc = cli_fail();
    if (!rc) {
        tl_reward_train_opts o = {.model_path = model_path, .epochs = epochs, .lr = lr, .val_share = val,
                                  .seed = seed, .progress = bt_progress, .engine_lr = engine_lr, .batch = batch,
                                  .max_len = max_len, .freeze = freeze, .features = feat};
        tl_reward_train_result r;
        if (degen)
            rc = train_judge(&L, pp, n, &o, kinds, n_kinds, out);
        else if (freeze ? tl_reward_train(L.model, L.tok, pp, n, &o, out, &r)
                        : tl_reward_train_engine(L.model, L.tok, pp, n, &o, out, &r))
            rc = cli_fail();
        else if (freeze)
            printf("%d train / %d validation pairs: train loss %.4f acc %.3f, validation loss %.4f acc %.3f -> %s\n",
                   r.n_train, r.n_val, r.train_loss, r.train_acc, r.val_loss, r.val_acc, out);
        else
            printf("%d train / %d validation pairs, engine fine-tuned: epoch %d kept, train loss %.4f acc %.3f, "
                   "validation acc %.3f -> %s (+ engine)\n",
                   r.n_train, r.n_val, r.best_epoch, r.train_loss, r.train_acc, r.val_acc, out);
    }
    tl_pref_pairs_free(pp, n);
    rc_free(&L);
    return rc;
}

static void pairs_progress(void *user, int done, int total) {
    (void)user;
    if (done == 50 || (done < 50 && done == total)) cli_progress_start(&g_prog, "pairs", total);
    cli_progress_update(&g_prog, done, NULL);
    if (done == total) cli_progress_end(&g_prog);
}

/* Held-out accuracy of one or two rewards on the same pairs (Wilson interval; exact McNemar
 * between the two). */
static int cmd_reward_eval(int argc, char **argv) {
    const char *spec_s = NULL, *spec2 = NULL, *data = NULL, *out = NULL;
    int offset = 0, max_rows = 0, threads = 0;
    cli_opt opts[] = {
        {"--reward", NULL, OPT_STR, &spec_s, "lexicon | lexicon:FILE | world | model:HEAD.gguf"},
        {"--compare", NULL, OPT_STR, &spec2, "a second reward on the same pairs (paired McNemar test)"},
        {"--data", NULL, OPT_STR, &data, "pairs JSONL (as reward train)"},
        {"--offset", NULL, OPT_INT, &offset, "skip this many pairs first (keep the test pairs apart from training)"},
        {"--max", NULL, OPT_INT, &max_rows, "pairs to use after the offset (0 = all)"},
        {"--out", "-o", OPT_STR, &out, "JSON to write (optional)"},
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"},
    };
    cli_spec spec = {"tiller reward eval --reward SPEC --data PAIRS.jsonl [--offset K --max N] [--compare SPEC2]",
                     "Accuracy of a reward on preference pairs: the share with r(chosen) > r(rejected), with its "
                     "Wilson 95 % interval and n (ties count as wrong and are reported).",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!spec_s || !data) return cli_failf(2, "--reward and --data are required (see --help)");
    if (offset < 0 || max_rows < 0) return cli_failf(2, "--offset and --max must be >= 0");
    cli_set_threads(threads);
    tl_pref_pair *pp = NULL;
    int n = 0, rc = 0;
    tl_reward *r[2] = {NULL, NULL};
    const char *names[2] = {spec_s, spec2};
    int ok[2] = {0, 0}, tie[2] = {0, 0}, nr = spec2 ? 2 : 1, b = 0, c = 0;
    if (tl_pref_pairs_load(data, max_rows ? offset + max_rows : 0, &pp, &n)) return cli_fail();
    if (offset >= n) {
        tl_pref_pairs_free(pp, n);
        return cli_failf(1, "%s: --offset %d leaves no pairs (the file has %d)", data, offset, n);
    }
    int m = n - offset;
    unsigned char *right = calloc((size_t)2 * m, 1);
    if (!right) rc = cli_failf(1, "out of memory");
    for (int k = 0; !rc && k < nr; k++) {
        if (tl_reward_open(names[k], &r[k])) {
            rc = cli_fail();
            break;
        }
        for (int i = 0; i < m; i++) { /* per pair, for the paired test */
            int o1, t1;
            if (tl_reward_accuracy(r[k], pp + offset + i, 1, &o1, &t1, NULL, NULL)) {
                rc = cli_fail();
                break;
            }
            right[(size_t)k * m + i] = (unsigned char)o1;
            ok[k] += o1, tie[k] += t1;
            pairs_progress(NULL, i + 1, m);
        }
    }
    if (!rc) {
        tl_strbuf js = {0};
        tl_strbuf_printf(&js, "{\"data\": \"%s\", \"offset\": %d, \"n\": %d, \"rewards\": [", data, offset, m);
        for (int k = 0; k < nr; k++) {
            tl_sa_stat st = tl_sa_wilson(ok[k], m);
            printf("%s: accuracy %.3f [%.3f, %.3f] (%d of %d pairs, %d ties)\n", names[k], st.value, st.lo, st.hi,
                   ok[k], m, tie[k]);
            tl_strbuf_printf(&js, "%s{\"reward\": \"%s\", \"correct\": %d, \"ties\": %d, \"accuracy\": %.6f, "
                                  "\"lo\": %.6f, \"hi\": %.6f}",
                             k ? ", " : "", names[k], ok[k], tie[k], st.value, st.lo, st.hi);
        }
        tl_strbuf_puts(&js, "]");
        if (nr == 2) {
            for (int i = 0; i < m; i++) b += right[i] && !right[m + i], c += !right[i] && right[m + i];
            double p = tl_sa_mcnemar(b, c);
            printf("paired: %d pairs only the first ranks right, %d only the second; exact McNemar p = %.3g\n", b, c, p);
            tl_strbuf_printf(&js, ", \"only_first\": %d, \"only_second\": %d, \"mcnemar_p\": %.6g", b, c, p);
        }
        tl_strbuf_puts(&js, "}\n");
        if (out && (tl_strbuf_status(&js) || tl_file_write_atomic(out, js.s, js.len))) rc = cli_fail();
        tl_strbuf_free(&js);
    }
    free(right);
    tl_reward_free(r[0]), tl_reward_free(r[1]);
    tl_pref_pairs_free(pp, n);
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
    if (argc >= 2 && !strcmp(argv[1], "eval")) return cmd_reward_eval(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
    fprintf(f, "usage: tiller reward <subcommand> [options]\n\n"
               "subcommands:\n"
               "  train    a reward model (engine + scalar head, Bradley-Terry) from preference pairs\n"
               "  score    r(prompt, response) for any reward: lexicon, lexicon:FILE, world, model:HEAD.gguf\n"
               "  eval     accuracy of a reward on held-out preference pairs (Wilson interval; McNemar vs a second)\n");
    if (f == stdout) return 0;
    if (argc >= 2) fprintf(stderr, "tiller: unknown reward subcommand '%s'\n", argv[1]);
    return 2;
}
