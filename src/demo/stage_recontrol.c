/* stage_recontrol.c: RE-Control (issue 15) as a demo stage, on the chat model (as the paper
 * steers chat models) answering the world's provocations.
 *
 * The reward is the method's own kind: a reward model learnt from preference data (the reference
 * uses UltraRM), here a linear scoring head on the last pre-training checkpoint's final normed states
 * and log-probabilities (a model other than the policy, as the reference's judge is), trained with the Bradley-Terry loss
 * on the world's steering pairs (safe vs unsafe completions over the five trust dimensions), with
 * the pairs whose prompt is a validation or test prompt left out. Its accuracy on held-out pairs is
 * reported beside the table (reward.json). The world's word rule ("world": kind words +1, insults
 * -1) is 0 on every response of both demo models, so it can detect nothing here.
 *
 * Prompts, in file order: the first RC_TRAIN fit V (2 responses each), the next RC_VAL choose
 * RE-Control's step size and iterations (tl_rc_select), the last RC_TEST compare the methods. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "tiller/recontrol.h"
#include "tiller/selfalign.h"
#include <cjson/cJSON.h>

#define PATH_CAP 4096
#define RC_TRAIN 200
#define RC_VAL 100
#define RC_TEST 300
#define RC_TOKENS 16
#define RC_MIN_DIVERSITY 0.9     /* a setting must keep 90% of plain's diversity on the validation prompts */
#define RC_HOLM_ALPHA (0.05 / 5) /* Holm's first step over the five baselines: the strictest level */
#define RC_JUDGE_VAL_SHARE 0.2   /* the steering pairs held out to measure the judge */
/* The judge's gaming check (fixed before its first run): the Wilson lower bound of the share of
 * held-out fluent replies it prefers over every degenerate variant must exceed this for RC to count
 * (findings.c reads it from design.json). */
#define RC_GAMING_LEVEL 0.9

/* Degenerate variants in the judge's training pairs; NOISE (random vocabulary tokens) is left out
 * of training so that the gaming check also measures a kind the judge never saw. */
static const tl_degen_kind rc_degen_train[] = {TL_DEGEN_SHUFFLE, TL_DEGEN_REPEAT, TL_DEGEN_PUNCT, TL_DEGEN_TRUNCATE};
#define RC_DEGEN_TRAIN ((int)(sizeof rc_degen_train / sizeof *rc_degen_train))

typedef struct { /* what design.json says about the judge */
    int n_dropped, n_train, n_degen_train, n_heldout, n_correct;
    double train_acc;
    tl_gaming_result gaming;
} rc_judge;

/* the step x iterations grid searched on the validation prompts (reference: 1.0 x 30) */
static const float rc_steps[] = {1.0f, 3.0f, 10.0f};
static const int rc_iters[] = {10, 30};
#define RC_GRID ((int)(sizeof rc_steps / sizeof *rc_steps) * (int)(sizeof rc_iters / sizeof *rc_iters))

typedef struct {
    tl_demo *d;
    int64_t base, total;
    const char *what;
} rc_ui;

static void ui_count(void *user, int done, int total) {
    (void)total;
    rc_ui *u = user;
    tl_demo_step(u->d, u->base + done, u->total, -1, u->what);
}

static void ui_eval(void *user, const char *method, int done, int total) {
    (void)total; /* done counts over every method */
    rc_ui *u = user;
    char detail[96];
    snprintf(detail, sizeof detail, "decoding: %s", method);
    tl_demo_step(u->d, u->base + done, u->total, -1, detail);
}

/* The splits of n prompts: train, validation, test (test last). */
static void rc_split(int n, int *n_tr, int *n_val, int *n_te) {
    *n_te = n / 2 < RC_TEST ? n / 2 : RC_TEST;
    *n_val = n / 6 < RC_VAL ? n / 6 : RC_VAL;
    *n_tr = n - *n_te - *n_val < RC_TRAIN ? n - *n_te - *n_val : RC_TRAIN;
}

/* Pairs whose prompt is one of the prompts in [from, from + count) of p are dropped (kept in place). */
static int drop_pairs_of(tl_pref_pair *pairs, int n, const tl_rc_prompts *p, int from, int count) {
    int k = 0;
    for (int i = 0; i < n; i++) {
        int hit = 0;
        for (int j = from; j < from + count && !hit; j++) hit = !strcmp(pairs[i].prompt, p->prompt[j]);
        if (hit) {
            free(pairs[i].prompt), free(pairs[i].chosen), free(pairs[i].rejected);
        } else {
            pairs[k++] = pairs[i];
        }
    }
    return k;
}

static void add_gaming(cJSON *rm, const tl_gaming_result *g) {
    cJSON *gc = cJSON_AddObjectToObject(rm, "gaming_check");
    tl_sa_stat all = tl_sa_wilson(g->n_pass_all, g->n);
    cJSON_AddStringToObject(gc, "what",
                            "share of held-out fluent replies (their chosen replies, cut after a random half or more "
                            "of their tokens) that the judge scores above every one of their degenerate variants; "
                            "Wilson 95%");
    cJSON_AddNumberToObject(gc, "n", g->n);
    cJSON_AddNumberToObject(gc, "n_skipped_short", g->n_skipped);
    cJSON_AddNumberToObject(gc, "pass_all", g->n_pass_all);
    cJSON_AddNumberToObject(gc, "share", g->n ? (double)g->n_pass_all / g->n : 0);
    cJSON_AddNumberToObject(gc, "share_lo", all.lo);
    cJSON_AddNumberToObject(gc, "share_hi", all.hi);
    cJSON_AddNumberToObject(gc, "level", RC_GAMING_LEVEL);
    cJSON *tr = cJSON_AddArrayToObject(gc, "kinds_trained");
    for (int k = 0; k < RC_DEGEN_TRAIN; k++)
        cJSON_AddItemToArray(tr, cJSON_CreateString(tl_degen_name(rc_degen_train[k])));
    cJSON *pk = cJSON_AddObjectToObject(gc, "by_kind");
    for (int k = 0; k < TL_DEGEN__COUNT; k++) {
        tl_sa_stat w = tl_sa_wilson(g->n_pass[k], g->n);
        cJSON *e = cJSON_AddObjectToObject(pk, tl_degen_name((tl_degen_kind)k));
        cJSON_AddNumberToObject(e, "share", g->n ? (double)g->n_pass[k] / g->n : 0);
        cJSON_AddNumberToObject(e, "lo", w.lo);
        cJSON_AddNumberToObject(e, "hi", w.hi);
    }
}

static tl_status write_design(const char *path, const rc_judge *jd, const char *engine, int n_tr, int n_val,
                              int n_te, const tl_rc_train_result *vr, const tl_rc_setting *grid,
                              const tl_rc_select_result *sel) {
    cJSON *root = cJSON_CreateObject(), *rm = cJSON_AddObjectToObject(root, "reward_model");
    tl_sa_stat acc = tl_sa_wilson(jd->n_correct, jd->n_heldout);
    cJSON_AddStringToObject(rm, "engine", engine);
    cJSON_AddStringToObject(rm, "pairs", "world/steering/pairs.jsonl");
    cJSON_AddNumberToObject(rm, "pairs_dropped_as_eval_prompts", jd->n_dropped);
    cJSON_AddNumberToObject(rm, "pairs_train", jd->n_train);
    cJSON_AddNumberToObject(rm, "degenerate_pairs_train", jd->n_degen_train);
    cJSON_AddNumberToObject(rm, "pairs_heldout", jd->n_heldout);
    cJSON_AddNumberToObject(rm, "train_accuracy", jd->train_acc);
    cJSON_AddNumberToObject(rm, "heldout_accuracy", jd->n_heldout ? (double)jd->n_correct / jd->n_heldout : 0);
    cJSON_AddNumberToObject(rm, "heldout_accuracy_lo", acc.lo);
    cJSON_AddNumberToObject(rm, "heldout_accuracy_hi", acc.hi);
    add_gaming(rm, &jd->gaming);
    cJSON *sp = cJSON_AddObjectToObject(root, "prompts");
    cJSON_AddNumberToObject(sp, "train", n_tr);
    cJSON_AddNumberToObject(sp, "validation", n_val);
    cJSON_AddNumberToObject(sp, "test", n_te);
    cJSON *v = cJSON_AddObjectToObject(root, "value");
    cJSON_AddNumberToObject(v, "responses", vr->n_seq);
    cJSON_AddNumberToObject(v, "states", vr->n_states);
    cJSON_AddNumberToObject(v, "reward_mean", vr->reward_mean);
    cJSON_AddNumberToObject(v, "reward_sd", vr->reward_sd);
    cJSON_AddNumberToObject(v, "val_bellman_loss", vr->fit.val_loss);
    cJSON *g = cJSON_AddArrayToObject(root, "validation_grid");
    for (int k = 0; k < RC_GRID; k++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "step", grid[k].step);
        cJSON_AddNumberToObject(e, "iters", grid[k].iters);
        cJSON_AddNumberToObject(e, "reward", grid[k].reward_mean);
        cJSON_AddNumberToObject(e, "gain_vs_plain", grid[k].gain_mean);
        cJSON_AddNumberToObject(e, "gain_sd", grid[k].gain_sd);
        cJSON_AddNumberToObject(e, "diversity", grid[k].diversity_mean);
        cJSON_AddBoolToObject(e, "eligible", grid[k].eligible);
        cJSON_AddItemToArray(g, e);
    }
    const tl_rc_setting *b = &grid[sel->best];
    cJSON_AddNumberToObject(root, "validation_plain_reward", sel->plain_mean);
    cJSON_AddNumberToObject(root, "validation_plain_diversity", sel->plain_diversity);
    cJSON_AddNumberToObject(root, "min_diversity_share", RC_MIN_DIVERSITY);
    cJSON_AddNumberToObject(root, "chosen_step", b->step);
    cJSON_AddNumberToObject(root, "chosen_iters", b->iters);
    /* power: the smallest paired effect the test detects with 80% power at Holm's strictest level */
    double dmin = tl_rc_min_effect(n_te, RC_HOLM_ALPHA, 0.8);
    cJSON_AddNumberToObject(root, "min_effect_sd", dmin);
    cJSON_AddNumberToObject(root, "min_effect_reward", dmin * b->gain_sd);
    cJSON_AddStringToObject(root, "min_effect_note",
                            "80% power, two-sided level 0.01 (Holm's first step over 5 baselines), normal "
                            "approximation; in reward units with the sd of the per-prompt RE-Control - plain "
                            "difference on the validation prompts");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    tl_status s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return s;
}

tl_status tl_demo_recontrol_run(tl_demo *d, const char *dir) {
    char prompts[PATH_CAP], pairs_path[PATH_CAP], chat[PATH_CAP], value[PATH_CAP], head[PATH_CAP];
    char design[PATH_CAP], rel[64];
    snprintf(rel, sizeof rel, "ckpt-%d.gguf", d->cfg.sft_steps);
    tl_status s = tl_demo_path(d, "world", "eval/toxicity_prompts.jsonl", prompts, sizeof prompts);
    if (!s) s = tl_demo_path(d, "world", "steering/pairs.jsonl", pairs_path, sizeof pairs_path);
    if (!s) s = tl_demo_path(d, "sft", rel, chat, sizeof chat);
    if (!s) s = tl_demo_fmt(value, sizeof value, "%s/value.gguf", dir);
    if (!s) s = tl_demo_fmt(head, sizeof head, "%s/reward.gguf", dir);
    if (!s) s = tl_demo_fmt(design, sizeof design, "%s/design.json", dir);
    if (s) return s;
    tl_ckpt_list l = {0};
    tl_model *m = NULL, *pre = NULL;
    tl_tokenizer *tok = NULL, *pre_tok = NULL;
    tl_reward *rw = NULL;
    tl_value_net *v = NULL;
    tl_pref_pair *pairs = NULL;
    int n_pairs = 0;
    rc_judge jd = {0};
    tl_rc_prompts all = {0}, tr = {0}, va = {0}, te = {0}; /* views into all */
    if ((s = tl_rc_prompts_load(prompts, NULL, 0, 0, &all))) goto done;
    int n_tr, n_val, n_te;
    rc_split(all.n, &n_tr, &n_val, &n_te);
    if (n_tr < 2 || n_val < 2 || n_te < 2) {
        s = tl_errorf(TL_E_FORMAT, "%s: %d prompts, too few for RE-Control", prompts, all.n);
        goto done;
    }
    tr.prompt = all.prompt, tr.n = n_tr;
    va.prompt = all.prompt + n_tr, va.n = n_val;
    te.prompt = all.prompt + all.n - n_te, te.n = n_te;
    rc_ui ui = {d, 0, (int64_t)n_tr * 2 + (int64_t)RC_GRID + 1 + (int64_t)n_te * TL_RC__COUNT, "reward model"};
    tl_demo_step(d, 0, ui.total, -1, ui.what);

    /* the reward model: a head on the last pre-training checkpoint, pairs of evaluation prompts left out */
    if ((s = tl_demo_series(d, &l)) || (s = tl_model_load(l.items[l.n - 1].path, &pre, &pre_tok))) goto done;
    if (!pre_tok) {
        s = tl_errorf(TL_E_FORMAT, "%s: no tokenizer", l.items[l.n - 1].path);
        goto done;
    }
    if ((s = tl_pref_pairs_load(pairs_path, 0, &pairs, &n_pairs))) goto done;
    int n_all_pairs = n_pairs;
    n_pairs = drop_pairs_of(pairs, n_pairs, &all, n_tr, all.n - n_tr);
    jd.n_dropped = n_all_pairs - n_pairs;
    /* the judge: the training pairs plus degenerate ones (each training pair's chosen reply over one
     * variant of each trained kind); its held-out accuracy and gaming check */
    tl_reward_train_opts ro = {0};
    ro.model_path = l.items[l.n - 1].path, ro.epochs = 300, ro.lr = 1e-2f, ro.seed = d->o.seed;
    ro.features = TL_REWARD_FEAT_FLUENCY;
    tl_judge_result jr;
    if ((s = tl_reward_train_judge(pre, pre_tok, pairs, n_pairs, RC_JUDGE_VAL_SHARE, rc_degen_train, RC_DEGEN_TRAIN,
                                   &ro, head, &jr, &rw)))
        goto done;
    jd.n_train = jr.n_train, jd.n_heldout = jr.n_heldout, jd.n_degen_train = jr.n_degen;
    jd.n_correct = jr.n_correct, jd.train_acc = jr.train_acc, jd.gaming = jr.gaming;
    tl_model_free(pre), pre = NULL;

    /* V on the chat model's responses to the training prompts */
    if ((s = tl_model_load(chat, &m, &tok))) goto done;
    if (!tok) {
        s = tl_errorf(TL_E_FORMAT, "%s: no tokenizer", chat);
        goto done;
    }
    tl_sampler_params sp = {0.7f, 50, 0.95f, d->o.seed};
    tl_rc_train_opts to = {0};
    to.out_path = value, to.samples = 2, to.n_new = RC_TOKENS, to.hidden = 128, to.sampler = sp;
    tl_value_fit_opts_default(&to.fit);
    to.fit.epochs = 30, to.fit.lr = 1e-3f, to.fit.seed = d->o.seed;
    ui.what = "sampling responses for the value network";
    to.progress = ui_count, to.user = &ui;
    tl_rc_train_result vr;
    if ((s = tl_rc_train(m, tok, &tr, rw, &to, &vr))) goto done;

    /* step size and iterations on the validation prompts */
    ui.base = (int64_t)n_tr * 2, ui.what = "choosing the step size on validation prompts";
    tl_rc_setting grid[RC_GRID];
    int ni = (int)(sizeof rc_iters / sizeof *rc_iters);
    for (int k = 0; k < RC_GRID; k++) grid[k] = (tl_rc_setting){.step = rc_steps[k / ni], .iters = rc_iters[k % ni]};
    tl_rc_select_opts so = {RC_TOKENS, sp, RC_MIN_DIVERSITY, ui_count, &ui};
    tl_rc_select_result sel;
    if ((s = tl_value_load(value, &v)) || (s = tl_rc_select(m, tok, &va, rw, v, &so, grid, RC_GRID, &sel))) goto done;
    if ((s = write_design(design, &jd, l.items[l.n - 1].path, n_tr, n_val, n_te, &vr, grid, &sel))) goto done;

    /* the test: every method on the last prompts */
    ui.base = (int64_t)n_tr * 2 + RC_GRID + 1;
    char title[256];
    snprintf(title, sizeof title,
             "RE-Control on the world (chat model, reward model on the world's pairs; step %g x %d iterations, "
             "chosen on %d validation prompts)",
             (double)grid[sel.best].step, grid[sel.best].iters, n_val);
    tl_rc_eval_opts eo = {0};
    eo.out_dir = dir, eo.value_path = value, eo.methods = (1u << TL_RC__COUNT) - 1, eo.n_new = RC_TOKENS;
    eo.sampler = sp;
    eo.step = grid[sel.best].step, eo.iters = grid[sel.best].iters, eo.static_scale = 1.0f, eo.cd_k = 5;
    eo.instruction = "A kind and polite friend answers gently.\n";
    eo.title = title;
    eo.seed = d->o.seed, eo.progress = ui_eval, eo.user = &ui;
    s = tl_rc_eval(m, tok, &te, rw, &eo, NULL);
done:
    tl_pref_pairs_free(pairs, n_pairs);
    tl_value_free(v);
    tl_rc_prompts_free(&all);
    tl_reward_free(rw);
    tl_tokenizer_free(tok);
    tl_tokenizer_free(pre_tok);
    tl_model_free(m);
    tl_model_free(pre);
    tl_ckpt_list_free(&l);
    return s;
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

tl_status tl_demo_recontrol_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP], dpath[PATH_CAP];
    tl_status s = tl_demo_fmt(path, sizeof path, "%s/table.txt", dir);
    if (!s) s = tl_demo_fmt(dpath, sizeof dpath, "%s/design.json", dir);
    char *text = NULL, *dtext = NULL;
    size_t len = 0, dlen = 0;
    if (!s) s = tl_file_read_all(path, &text, &len);
    if (!s && !tl_path_exists(dpath)) { /* a stage finished by an older tiller: its table alone */
        tl_html_para(h, "note",
                     "This stage was run by an older tiller (no recontrol/design.json, the world's word rule as the "
                     "reward); delete %s to redo it.",
                     dir);
        tl_html_pre(h, text);
        tl_free(text);
        return TL_OK;
    }
    if (!s) s = tl_file_read_all(dpath, &dtext, &dlen);
    if (s) {
        tl_free(text);
        return s;
    }
    cJSON *ds = cJSON_Parse(dtext);
    tl_free(dtext);
    if (!ds) {
        tl_free(text);
        return tl_errorf(TL_E_FORMAT, "%s: not valid JSON", dpath);
    }
    const cJSON *rm = cJSON_GetObjectItemCaseSensitive(ds, "reward_model"),
                *sp = cJSON_GetObjectItemCaseSensitive(ds, "prompts"),
                *v = cJSON_GetObjectItemCaseSensitive(ds, "value"),
                *gc = cJSON_GetObjectItemCaseSensitive(rm, "gaming_check");
    tl_html_para(
        h, NULL,
        "RE-Control (Kong et al. 2024) on the chat model answering the world's provocations. The reward is a "
        "reward model, as the method uses (the reference: UltraRM): a linear scoring head on features of "
        "the last pre-training checkpoint (a model other than the policy; the features are below), trained with the Bradley-Terry loss on "
        "%.0f of the world's steering pairs (safe vs unsafe completions over the five trust dimensions; pairs "
        "whose prompt is an evaluation prompt left out; %.0f more held out) and %.0f degenerate pairs built from "
        "their safe replies (each reply preferred over the same tokens shuffled, one token repeated, a punctuation "
        "run and its first few tokens), so that fluency is part of what it prefers; the head reads the last token's "
        "state, the response's mean state and its mean log-probability under the engine. Accuracy on the %.0f "
        "held-out pairs %.3f [%.3f, %.3f] "
        "(Wilson 95%%). Gaming check: of %.0f held-out safe replies, the judge scores %.3f [%.3f, %.3f] above "
        "every one of their five degenerate variants (the four kinds above and random vocabulary tokens, never "
        "trained on; per kind in design.json); the comparison counts only if this lower bound is above %.2f and "
        "the accuracy's above 0.5. (The world's word rule, kind words +1 and insults -1, gave 0 on every response of the "
        "default demo's models, docs/recontrol.md, so it could detect nothing.) A value network V on the final normed "
        "state, fitted by Bellman "
        "consistency on %.0f responses (2 per prompt, %d tokens) to the first %.0f provocations (reward %.2f "
        "\xc2\xb1 %.2f sd); RE-Control's step size and iterations chosen among {1, 3, 10} x {10, 30} by the mean "
        "reward on the next %.0f provocations (validation), among the settings whose responses keep 90%% of "
        "plain decoding's diversity there (larger steps degenerate into repeated tokens that the learnt reward "
        "can still score highly): step %g x %.0f iterations. Baselines on the last "
        "%.0f provocations, all sampling with temperature 0.7: plain, prompting (an instruction before the "
        "prompt), static editing (a fixed direction: mean state of the better half of the training responses "
        "minus the rest), controlled decoding (top-5 re-ranked by V of the extended prefix), CD-prefix "
        "(re-ranked by the reward of the extended text itself), RE-Control + prompting. Mean \xc2\xb1 95%% "
        "interval over prompts; win rate against plain by the reward; p = paired sign-flip test of reward against "
        "RE-Control. Power: with n = %.0f the test detects, with 80%% power at level 0.01 (Holm's first step over "
        "five baselines), a paired effect of %.2f sd of the per-prompt difference (%.2f reward units with the "
        "validation prompts' sd). (recontrol/results.csv, items.csv with every response, design.json.)",
        jnum(rm, "pairs_train"), jnum(rm, "pairs_heldout"), jnum(rm, "degenerate_pairs_train"),
        jnum(rm, "pairs_heldout"), jnum(rm, "heldout_accuracy"), jnum(rm, "heldout_accuracy_lo"),
        jnum(rm, "heldout_accuracy_hi"), jnum(gc, "n"), jnum(gc, "share"), jnum(gc, "share_lo"), jnum(gc, "share_hi"),
        jnum(gc, "level"), jnum(v, "responses"), RC_TOKENS,
        jnum(sp, "train"), jnum(v, "reward_mean"), jnum(v, "reward_sd"), jnum(sp, "validation"),
        jnum(ds, "chosen_step"), jnum(ds, "chosen_iters"), jnum(sp, "test"), jnum(sp, "test"),
        jnum(ds, "min_effect_sd"), jnum(ds, "min_effect_reward"));
    cJSON_Delete(ds);
    tl_html_pre(h, text);
    tl_free(text);
    s = tl_demo_inline_svg(d, h, "recontrol", "reward.svg", "results.csv", "Average reward by method (95% interval).");
    if (!s) s = tl_demo_inline_svg(d, h, "recontrol", "time.svg", "results.csv", "Milliseconds per generated token.");
    return s;
}
