/* stage_recontrol.c: RE-Control (issue 15) as a demo stage. The unaligned model is the last
 * pre-training checkpoint (the chat model answers the world's provocations politely almost
 * always, which leaves no reward to gain); the reward is the world's rule (kind words and
 * positive adjectives +1, insults and negative adjectives -1, src/study/recontrol_reward.c).
 * The value network is fitted on responses sampled for the first RC_TRAIN toxicity prompts;
 * the methods are compared on the next RC_EVAL, all sampling with the same seed. Sizes are
 * kept small so that the stage stays within about a minute on two threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "tiller/recontrol.h"

#define PATH_CAP 4096
#define RC_TRAIN 60
#define RC_EVAL 20
#define RC_TOKENS 16

typedef struct {
    tl_demo *d;
    int64_t base, total;
} rc_ui;

static void ui_train(void *user, int done, int total) {
    (void)total;
    rc_ui *u = user;
    tl_demo_step(u->d, done, u->total, -1, "sampling responses for the value network");
}

static void ui_eval(void *user, const char *method, int done, int total) {
    (void)total;
    rc_ui *u = user;
    char detail[96];
    snprintf(detail, sizeof detail, "decoding: %s", method);
    tl_demo_step(u->d, u->base + done, u->total, -1, detail);
    if (done == total) u->base += total;
}

tl_status tl_demo_recontrol_run(tl_demo *d, const char *dir) {
    char prompts[PATH_CAP], value[PATH_CAP], out[PATH_CAP];
    tl_status s = tl_demo_path(d, "world", "eval/toxicity_prompts.jsonl", prompts, sizeof prompts);
    if (!s) s = tl_demo_fmt(value, sizeof value, "%s/value.gguf", dir);
    if (!s) s = tl_demo_fmt(out, sizeof out, "%s", dir);
    if (s) return s;
    tl_ckpt_list l = {0};
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    tl_reward *rw = NULL;
    tl_rc_prompts all = {0}, tr = {0}, ev = {0}; /* tr and ev are views into all */
    if ((s = tl_demo_series(d, &l)) || (s = tl_model_load(l.items[l.n - 1].path, &m, &tok))) goto done;
    if (!tok) {
        s = tl_errorf(TL_E_FORMAT, "%s: no tokenizer", l.items[l.n - 1].path);
        goto done;
    }
    if ((s = tl_reward_open("world", &rw)) || (s = tl_rc_prompts_load(prompts, NULL, 0, 0, &all))) goto done;
    /* the first prompts fit V, the next ones compare the methods (a third of them, at most RC_EVAL:
     * the --quick world has 40) */
    ev.n = all.n / 3 < RC_EVAL ? all.n / 3 : RC_EVAL;
    tr.n = all.n - ev.n < RC_TRAIN ? all.n - ev.n : RC_TRAIN;
    tr.prompt = all.prompt, ev.prompt = all.prompt + tr.n;
    if (tr.n < 2 || ev.n < 2) {
        s = tl_errorf(TL_E_FORMAT, "%s: %d prompts, too few for RE-Control", prompts, all.n);
        goto done;
    }
    rc_ui ui = {d, 0, (int64_t)tr.n * 2 + (int64_t)ev.n * TL_RC__COUNT};
    tl_rc_train_opts to = {0};
    to.out_path = value, to.samples = 2, to.n_new = RC_TOKENS, to.hidden = 128;
    to.sampler = (tl_sampler_params){0.7f, 50, 0.95f, d->o.seed};
    tl_value_fit_opts_default(&to.fit);
    to.fit.epochs = 30, to.fit.lr = 1e-3f, to.fit.seed = d->o.seed;
    to.progress = ui_train, to.user = &ui;
    tl_rc_train_result res;
    if ((s = tl_rc_train(m, tok, &tr, rw, &to, &res))) goto done;
    ui.base = (int64_t)tr.n * 2;
    tl_rc_eval_opts eo = {0};
    eo.out_dir = out, eo.value_path = value, eo.methods = (1u << TL_RC__COUNT) - 1, eo.n_new = RC_TOKENS;
    eo.sampler = (tl_sampler_params){0.7f, 50, 0.95f, d->o.seed};
    eo.step = 1.0f, eo.iters = 30, eo.static_scale = 1.0f, eo.cd_k = 5;
    eo.instruction = "A kind and polite friend answers gently.\n";
    eo.title = "RE-Control on the world (pre-trained model, world reward)";
    eo.seed = d->o.seed, eo.progress = ui_eval, eo.user = &ui;
    s = tl_rc_eval(m, tok, &ev, rw, &eo, NULL);
done:
    tl_rc_prompts_free(&all);
    tl_reward_free(rw);
    tl_tokenizer_free(tok);
    tl_model_free(m);
    tl_ckpt_list_free(&l);
    return s;
}

tl_status tl_demo_recontrol_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_status s = tl_demo_fmt(path, sizeof path, "%s/table.txt", dir);
    char *text = NULL;
    size_t len = 0;
    if (!s) s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    /* n = the first number after "n = " in the table's title; training prompts from the value run */
    int n_eval = 0, n_train = 0;
    const char *q = strstr(text, "(n = ");
    if (q) n_eval = atoi(q + 5);
    char prompts[PATH_CAP];
    tl_rc_prompts all = {0};
    if (!tl_demo_path(d, "world", "eval/toxicity_prompts.jsonl", prompts, sizeof prompts) &&
        !tl_rc_prompts_load(prompts, NULL, 0, 0, &all)) {
        n_train = all.n - n_eval < RC_TRAIN ? all.n - n_eval : RC_TRAIN;
        tl_rc_prompts_free(&all);
    }
    tl_html_para(h, NULL,
                 "RE-Control (Kong et al. 2024): a value network V on the final normed hidden state, fitted by "
                 "Bellman consistency on %d responses sampled from the last pre-training checkpoint (2 per prompt, "
                 "%d tokens) with the world's rule as the terminal reward (kind words and positive adjectives +1, "
                 "insults and negative adjectives -1); at test time %d steps of gradient ascent on V with step %.1f "
                 "(the reference's settings) before each token. Baselines on the next %d provocations, all sampling "
                 "with temperature 0.7: plain, prompting (an instruction before the prompt), static editing (a fixed "
                 "direction: mean state of the better half of the training responses minus the rest), controlled "
                 "decoding (top-5 re-ranked by V of the extended prefix), CD-prefix (re-ranked by the reward of the "
                 "extended text itself), RE-Control + prompting. Mean \xc2\xb1 95%% interval over prompts; win rate "
                 "against plain by the reward; p = paired sign-flip test of reward against RE-Control. "
                 "(recontrol/results.csv, items.csv with every response.)",
                 n_train * 2, RC_TOKENS, 30, 1.0, n_eval);
    tl_html_pre(h, text);
    tl_free(text);
    s = tl_demo_inline_svg(d, h, "recontrol", "reward.svg", "results.csv", "Average reward by method (95% interval).");
    if (!s) s = tl_demo_inline_svg(d, h, "recontrol", "time.svg", "results.csv", "Milliseconds per generated token.");
    return s;
}
