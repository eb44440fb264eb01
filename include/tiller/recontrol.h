/*
 * recontrol.h: RE-Control (Kong et al. 2024; ../shared/docs/METHODS.md section 2)
 * as library calls.
 *
 * The language model is a dynamical system whose state is the final normed hidden
 * state h_t (the `final_norm` hook point, the LM head's input). A value network
 * V(h) (MLP d -> h -> h -> 1, ReLU) is fitted by Bellman consistency on states
 * recorded along sampled responses: V(h_t) ~ V(h_{t+1}), V(h_last) ~ reward. At
 * test time, before each next-token distribution, h is moved by `iters` steps of
 * gradient ascent on V with step `step`, and the logits are computed from the
 * edited state.
 *
 * Files: recontrol_value.c (the network, its Bellman loss, Adam, GGUF),
 * recontrol_reward.c (rewards behind one interface), recontrol_decode.c (the
 * final_norm edit hook and the decoding methods), recontrol_eval.c (the
 * experiment: methods x prompts -> metrics, CSV / JSON / table / SVG).
 */
#ifndef TL_STUDY_RECONTROL_H
#define TL_STUDY_RECONTROL_H

#include "tiller/base.h"
#include "tiller/model.h"
#include "tiller/tokenizer.h"

TL_API_BEGIN

/* ---- value network (recontrol_value.c) ------------------------------------ */

/* Parameters in one flat buffer, the order of the reference's nn.Linear layers:
 *   w1 [h, d], b1 [h], w2 [h, h], b2 [h], w3 [1, h], b3 [1].
 * Gradients and Adam moments use the same layout. */
typedef struct {
    int d, h;
    size_t n_params;
    float *params; /* owned */
    float *w1, *b1, *w2, *b2, *w3, *b3; /* views into params */
} tl_value_net;

size_t tl_value_param_count(int d, int h);
/* d in 1 .. 1<<16, h in 1 .. 1<<15. Parameters initialised as torch's nn.Linear
 * default (uniform +-1/sqrt(fan_in) for weights and biases), from seed. */
tl_status tl_value_new(int d, int h, uint64_t seed, tl_value_net **out);
void tl_value_free(tl_value_net *v);

/* Activations of a batch of N states, allocated once for a capacity and reused. */
typedef struct {
    int cap;
    float *z1, *z2; /* [cap, h] pre-activations */
    float *a1, *a2; /* [cap, h] ReLU outputs */
    float *g1, *g2; /* [cap, h] gradient scratch */
    float *out;     /* [cap] V */
} tl_value_ws;
tl_status tl_value_ws_new(const tl_value_net *v, int cap, tl_value_ws *ws);
void tl_value_ws_free(tl_value_ws *ws);

/* out[N] = V(x[N, d]); keeps the activations in ws for the backward (N <= ws->cap). */
void tl_value_forward(const tl_value_net *v, tl_value_ws *ws, const float *x, int N, float *out);
/* Given dL/dV [N] after tl_value_forward on the same x: grads[n_params] += dL/dparams
 * (NULL: skip) and dx[N, d] += dL/dx (NULL: skip). */
void tl_value_backward(const tl_value_net *v, tl_value_ws *ws, const float *x, const float *dout, int N,
                       float *grads, float *dx);

/* The Bellman-consistency loss of the reference's train_value_model.py over B
 * sequences of states x (sequence b is rows off[b] .. off[b+1]-1), reward[b]:
 *   L = [ sum_b sum_{t < n_b - 1} (V(x_t) - V(x_{t+1}))^2 + sum_b (V(x_last) - reward_b)^2 ] / B.
 * The terminal term uses the last state of each sequence (the paper's V(s_T) = r; the
 * reference's mask.argmax picks the first valid index instead, see docs/recontrol.md).
 * detach_next = 0 lets the gradient reach both V(x_t) and V(x_{t+1}), as the
 * reference's training loop; 1 treats V(x_{t+1}) as a constant (its evaluation loop;
 * the loss value is the same). Returns L; grads (may be NULL) += dL/dparams. ws must
 * hold off[B] rows. */
double tl_value_bellman(const tl_value_net *v, tl_value_ws *ws, const float *x, const int *off, const float *reward,
                        int B, int detach_next, float *grads);

/* The gradient of V at one state: V(x) returned, dx[d] = dV/dx. ws needs cap >= 1. */
float tl_value_grad_input(const tl_value_net *v, tl_value_ws *ws, const float *x, float *dx);

/* torch.optim.Adam (no weight decay): m, v moments, step count. */
typedef struct {
    float *m, *v;
    long step;
    size_t n;
} tl_value_adam;
tl_status tl_value_adam_new(size_t n, tl_value_adam *a);
void tl_value_adam_free(tl_value_adam *a);
void tl_value_adam_step(tl_value_adam *a, float *params, const float *grads, float lr);

/* GGUF: general.architecture "recontrol_value", recontrol.input_dim / hidden_dim,
 * tensors fc1.weight [h, d], fc1.bias, fc2.weight, fc2.bias, fc3.weight [1, h], fc3.bias
 * (the reference's state_dict names), F32. */
tl_status tl_value_save(const tl_value_net *v, const char *path);
/* V and, when dir is not NULL, the static-editing direction [d] (tensor static_re.direction) in one file. */
tl_status tl_value_save_with_direction(const tl_value_net *v, const float *dir, const char *path);
tl_status tl_value_load(const char *path, tl_value_net **out);

/* Fitting V on recorded sequences: shuffled batches of sequences, Adam, a held-out
 * share of sequences for validation; the parameters of the epoch with the lowest
 * validation loss are kept. */
typedef struct {
    int epochs;       /* reference: up to 100 */
    int batch;        /* sequences per batch; reference 512 */
    float lr;         /* reference 1e-4 default, README 1e-3 */
    double val_share; /* sequences held out (0 .. 0.9) */
    uint64_t seed;
    int detach_next;  /* 0 as the reference's training loop */
    void (*progress)(void *user, int epoch, double train_loss, double val_loss);
    void *user;
} tl_value_fit_opts;
void tl_value_fit_opts_default(tl_value_fit_opts *o);
typedef struct {
    double train_loss, val_loss; /* of the kept epoch */
    int best_epoch;              /* 1-based */
} tl_value_fit_result;
tl_status tl_value_fit(tl_value_net *v, const float *x, const int *off, const float *reward, int n_seq,
                       const tl_value_fit_opts *o, tl_value_fit_result *res);

/* ---- test-time intervention (recontrol_decode.c) --------------------------- */

/* The final_norm edit hook: for the newest row of each forward call, `iters` steps
 * of x <- x + step * dV/dx. Owns its scratch (allocated at init, nothing per token). */
typedef struct {
    const tl_value_net *v;
    float step;
    int iters;
    tl_value_ws ws;
    float *dx; /* [d] */
    long n_edits;
    double sum_gain; /* sum over edits of V(after) - V(before), for reports */
} tl_recontrol_hook;
/* TL_E_ARG (naming value_path) when the value network's input size is not the model's dim. */
tl_status tl_recontrol_hook_init(tl_recontrol_hook *h, const tl_value_net *v, const tl_model *m, float step,
                                 int iters, const char *value_path);
void tl_recontrol_hook_free(tl_recontrol_hook *h);
tl_status tl_recontrol_attach(tl_recontrol_hook *h, tl_hooks *hooks);


/* ---- rewards (recontrol_reward.c) --------------------------------------------
 * One interface for every reward r(prompt, response):
 *   "lexicon"          built-in English helpful/harmless word lists: (#positive - #negative) words
 *                      per response, scaled by 10 / (words + 10);
 *   "lexicon:FILE"     the same with `word weight` lines from FILE;
 *   "world"            the synthetic world's rule: kind words and positive adjectives of
 *                      src/world/vocab.c count +1, insults and negative adjectives -1 (same scaling);
 *   "model:HEAD.gguf"  a reward model: the engine's final normed state at the last token of
 *                      prompt + response, through a scalar head (tiller reward train). */
typedef struct tl_reward tl_reward;
tl_status tl_reward_open(const char *spec, tl_reward **out);
void tl_reward_free(tl_reward *r);
/* A reward that scores exactly as r on its own scratch, so that threads can score at once; it
 * shares r's read-only parts (word lists, engine, head): free it before r. */
tl_status tl_reward_clone(const tl_reward *r, tl_reward **out);
const char *tl_reward_name(const tl_reward *r);
/* *out = r(prompt, response); TL_E_NUMERIC when the reward is not finite. */
tl_status tl_reward_score(tl_reward *r, const char *prompt, const char *response, double *out);

/* Preference pairs {"prompt","chosen","rejected"} from JSONL. HH-RLHF rows without "prompt"
 * are split at the last "\n\nAssistant:" the two transcripts share. A row with neither
 * gives TL_E_FORMAT naming file:line and the missing field. */
typedef struct {
    char *prompt, *chosen, *rejected;
} tl_pref_pair;
tl_status tl_pref_pairs_load(const char *path, int max_rows, tl_pref_pair **out, int *n_out);
void tl_pref_pairs_free(tl_pref_pair *p, int n);
/* Shuffle p[n] in place (Fisher-Yates from seed) and return the training count n - (int)(held_out
 * * n): the first ones train, the rest are held out. */
int tl_pref_pairs_split(tl_pref_pair *p, int n, double held_out, uint64_t seed);

/* The reward model's head: r = w . h + b on the final normed state h [d] of the last
 * token (BOS + prompt + response), trained with the Bradley-Terry loss
 *   L = mean over pairs of -log sigmoid(r_chosen - r_rejected)
 * by Adam on the head (the engine is frozen: features computed once). */
typedef struct {
    const char *model_path; /* stored in the head file: the engine it reads */
    int epochs;
    float lr;
    double val_share;
    uint64_t seed;
    void (*progress)(void *user, int epoch, double train_loss, double val_acc); /* val_acc NaN: no validation */
    void *user;
    /* tl_reward_train_engine only */
    float engine_lr; /* Adam on the engine's parameters */
    int batch;       /* pairs per step */
    int max_len;     /* tokens per text: BOS + the tail of prompt + response (<= the model's context) */
    int freeze;      /* 1: the engine stays as it is (only the head learns) */
    int features;    /* tl_reward_train only: TL_REWARD_FEAT_LAST (0) or TL_REWARD_FEAT_FLUENCY */
} tl_reward_train_opts;
typedef struct {
    int n_train, n_val;
    double train_loss, train_acc, val_loss, val_acc;
    int best_epoch; /* tl_reward_train_engine: the epoch kept (highest validation accuracy) */
} tl_reward_train_result;
/* BT loss and head gradient over n pairs of features fc, fr [n, d]: returns the loss,
 * gw[d] = dL/dw, *gb = dL/db (gw may be NULL). */
double tl_reward_bt_loss(const float *w, float b, const float *fc, const float *fr, int n, int d, float *gw,
                         float *gb);
/* The final normed state at the last token of text (BOS added). */
tl_status tl_final_state(tl_session *s, const tl_tokenizer *tok, const char *text, float *h);
/* What the frozen-engine head reads (the head file's reward.features; absent = LAST):
 *   LAST     the final normed state at the last token of prompt + response [d];
 *   FLUENCY  that, the mean final normed state over the response's tokens [d], and the mean
 *            log-probability the engine gives the response's tokens [1]: [2d + 1], so that a
 *            head can prefer fluent text (the state at one token says little about it). */
enum { TL_REWARD_FEAT_LAST = 0, TL_REWARD_FEAT_FLUENCY = 1 };
int tl_reward_feature_dim(int features, int d);
tl_status tl_reward_features(tl_session *s, const tl_tokenizer *tok, const char *prompt, const char *response,
                             int features, float *out);
tl_status tl_reward_train(const tl_model *m, const tl_tokenizer *tok, const tl_pref_pair *pairs, int n,
                          const tl_reward_train_opts *o, const char *out_path, tl_reward_train_result *res);

/* ---- the reward model trained whole (reward_engine.c) --------------------------
 * The engine and the head fine-tuned together with the Bradley-Terry loss: the gradient
 * d L / d h at each text's last final normed state flows into the engine through
 * tl_model_backward_state. */
struct tl_train_acts;
/* One batch: tokens [B, T] (B = the acts' rows: 2i chosen, 2i+1 rejected), last[B] = index of
 * each row's last token (later positions are padding, unseen under the causal mask). *loss =
 * mean BT loss over the B/2 pairs, *n_correct = pairs with r_chosen > r_rejected (either may
 * be NULL). With grads non-NULL: grads[n_params] += dL/dparams, gw[d + 1] = (dL/dw, dL/db = 0). */
tl_status tl_reward_bt_engine_grad(const tl_model *m, struct tl_train_acts *a, const int32_t *tokens,
                                   const int *last, const float *w, float b, float *grads, float *gw, double *loss,
                                   int *n_correct);
/* Trains m in place (dequantized first) with a head; the epoch with the highest validation
 * accuracy is kept. Writes out_path (the head, general.architecture = reward_head) and, unless
 * o->freeze, the engine beside it as <out without .gguf>.engine.gguf (the head names it). */
tl_status tl_reward_train_engine(tl_model *m, const tl_tokenizer *tok, const tl_pref_pair *pairs, int n,
                                 const tl_reward_train_opts *o, const char *out_path, tl_reward_train_result *res);
/* Pairs ranked right by a reward: *n_correct with r(chosen) > r(rejected), *n_tie equal. */
tl_status tl_reward_accuracy(tl_reward *r, const tl_pref_pair *pairs, int n, int *n_correct, int *n_tie,
                             void (*progress)(void *user, int done, int total), void *user);

/* ---- degenerate replies and the judge's gaming check (recontrol_degenerate.c) -----------
 * Variants of a fluent reply that no judge should prefer to it, built on its tokens from a
 * seed: SHUFFLE (the same tokens in another order), REPEAT (one of its tokens n times), PUNCT
 * (one of , . ! ? ' - n times), TRUNCATE (its first 1 .. min(3, n/4) tokens), NOISE (n tokens
 * drawn uniformly from the vocabulary's normal tokens). n = the reply's tokens. */
typedef enum {
    TL_DEGEN_SHUFFLE,
    TL_DEGEN_REPEAT,
    TL_DEGEN_PUNCT,
    TL_DEGEN_TRUNCATE,
    TL_DEGEN_NOISE,
    TL_DEGEN__COUNT
} tl_degen_kind;
#define TL_DEGEN_MIN_TOKENS 4 /* shorter replies are skipped */
const char *tl_degen_name(tl_degen_kind k);
typedef struct tl_degen tl_degen; /* a tokenizer's punctuation and normal-token tables */
tl_status tl_degen_new(const tl_tokenizer *tok, tl_degen **out);
void tl_degen_free(tl_degen *g);
/* One variant of ids[n] (n >= TL_DEGEN_MIN_TOKENS) into out (room for n ids), *n_out ids. */
tl_status tl_degen_ids(const tl_degen *g, const int32_t *ids, int n, tl_degen_kind k, tl_rng *rng, int32_t *out,
                       int *n_out);
/* A reply's fluent side (the reply cut after m tokens, m uniform in [max(4, ceil(n/2)), n], as a
 * policy's replies are cut at a token budget) and one variant of it per kind, as texts (tl_free
 * each); *ok = 0 (and nothing allocated) when the reply has fewer than TL_DEGEN_MIN_TOKENS tokens. */
tl_status tl_degen_reply(const tl_degen *g, const char *reply, const tl_degen_kind *kinds, int n_kinds, uint64_t seed,
                         char **fluent, char **variants, int *ok);
/* Training pairs: for pair i, prompt, chosen = the fluent side of its chosen reply, rejected =
 * its variant of kind kinds[i % n_kinds]. Replies too short are skipped (*n_out <= n). */
tl_status tl_degen_pairs(const tl_degen *g, const tl_pref_pair *src, int n, const tl_degen_kind *kinds, int n_kinds,
                         uint64_t seed, tl_pref_pair **out, int *n_out);
/* The judge's training recipe: for each kinds[k] in turn, every pair's chosen reply over one variant
 * of that kind (tl_degen_pairs with seed + 1 + k), kind after kind: up to n_kinds x n pairs. */
tl_status tl_degen_pairs_each_kind(const tl_degen *g, const tl_pref_pair *src, int n, const tl_degen_kind *kinds,
                                   int n_kinds, uint64_t seed, tl_pref_pair **out, int *n_out);
/* The gaming check: for each pair's chosen reply, does the reward score its fluent side above
 * every one of its TL_DEGEN__COUNT variants (a tie counts as not)? */
typedef struct {
    int n;                        /* replies checked */
    int n_pass_all;               /* preferred over all variants */
    int n_pass[TL_DEGEN__COUNT];  /* preferred over the variant of each kind */
    int n_skipped;                /* replies under TL_DEGEN_MIN_TOKENS tokens */
} tl_gaming_result;
tl_status tl_reward_gaming_check(tl_reward *r, const tl_degen *g, const tl_pref_pair *src, int n, uint64_t seed,
                                 tl_gaming_result *res);
/* The judge recipe (the demo's RE-Control stage, `tiller reward train --degenerate`): pairs[n]
 * shuffled and split (tl_pref_pairs_split with held_out and o->seed); a frozen-engine head
 * (tl_reward_train, nothing held out inside it) trained on the training pairs plus
 * tl_degen_pairs_each_kind(kinds, o->seed) of their chosen replies, written to head_path; then
 * the head opened as "model:head_path", its accuracy on the held-out pairs, and the gaming check
 * on their chosen replies (seed o->seed + 2). *judge (may be NULL) receives the opened reward. */
typedef struct {
    int n_train, n_heldout, n_degen; /* preference pairs trained on / held out; degenerate pairs */
    int n_correct, n_ties;           /* on the held-out pairs */
    double train_acc;
    tl_gaming_result gaming;
} tl_judge_result;
tl_status tl_reward_train_judge(const tl_model *m, const tl_tokenizer *tok, tl_pref_pair *pairs, int n, double held_out,
                                const tl_degen_kind *kinds, int n_kinds, const tl_reward_train_opts *o,
                                const char *head_path, tl_judge_result *res, tl_reward **judge);

/* ---- decoding methods (recontrol_decode.c) ----------------------------------- */
typedef enum {
    TL_RC_PLAIN = 0,   /* the base model */
    TL_RC_PROMPT,      /* a helpful/harmless instruction before the prompt */
    TL_RC_STATIC,      /* a fixed vector added to the final normed state (static representation editing) */
    TL_RC_CD,          /* controlled decoding: the top-k next tokens re-ranked by V of the extended prefix */
    TL_RC_CD_PREFIX,   /* the same, ranked by the reward of the extended prefix text */
    TL_RC_RECONTROL,   /* gradient ascent on V at every step */
    TL_RC_RECONTROL_PROMPT,
    TL_RC__COUNT
} tl_rc_method;
extern const char *const tl_rc_method_names[TL_RC__COUNT]; /* "plain", "prompting", ... */

typedef struct {
    tl_rc_method method;
    int n_new;                 /* tokens to generate at most */
    tl_sampler_params sampler; /* the same for every method */
    const tl_value_net *value; /* RE-Control, CD */
    float step;                /* RE-Control step size (reference 1.0) */
    int iters;                 /* RE-Control iterations (reference 30) */
    const float *static_vec;   /* [d] for TL_RC_STATIC */
    float static_scale;
    int cd_k;                  /* candidates for CD / CD-prefix */
    tl_reward *cd_reward;      /* CD-prefix scorer */
    const char *instruction;   /* prepended for the prompting methods */
} tl_rc_gen_opts;

/* A generator: one session, sampler and scratch, reused for every prompt (nothing is
 * allocated per token). */
typedef struct tl_rc_gen tl_rc_gen;
tl_status tl_rc_gen_new(const tl_model *m, const tl_tokenizer *tok, int n_ctx, const tl_rc_gen_opts *o,
                        tl_rc_gen **out);
void tl_rc_gen_free(tl_rc_gen *g);
/* Generates the response to prompt. *text (owned by g, valid until the next call) is the
 * response; states (NULL: skip) receives the final normed state before each generated
 * token, [n_tokens, d] (space for n_new rows); *seconds the wall time of the decoding. */
tl_status tl_rc_generate(tl_rc_gen *g, const char *prompt, const char **text, int *n_tokens, float *states,
                         double *seconds);

/* ---- the experiment (recontrol_eval.c) ----------------------------------------- */

/* Prompts from a file, by form: .jsonl rows with "prompt" (used as is), or HH-RLHF rows
 * (the transcript up to the last "\n\nAssistant:"; "chosen" kept as the reference answer);
 * .json: SHP rows {"history"} or HarmfulQA's nested lists of questions; other files: one
 * question per line. Questions (not already prompts) go through template, where "%s" is
 * the question (default "User: %s\nAssistant:", the world's chat format). Rows offset ..
 * offset + max - 1 (max <= 0: all). */
typedef struct {
    char **prompt;
    int n;
} tl_rc_prompts;
tl_status tl_rc_prompts_load(const char *path, const char *tmpl, int offset, int max, tl_rc_prompts *out);
void tl_rc_prompts_free(tl_rc_prompts *p);

typedef struct {
    const char *out_path;      /* value network GGUF */
    int samples;               /* responses per prompt */
    int n_new;
    tl_sampler_params sampler; /* reference: temperature 0.7, top-k 50, top-p 0.95 */
    int hidden;                /* value network width (reference 4096) */
    tl_value_fit_opts fit;
    void (*progress)(void *user, int done, int total);
    void *user;
} tl_rc_train_opts;
typedef struct {
    int n_seq, n_states;
    double reward_mean, reward_sd;
    tl_value_fit_result fit;
} tl_rc_train_result;
/* Samples responses, records the final normed states and the terminal reward, fits V and
 * saves it with the static-editing direction (mean state of the responses with reward
 * above the median minus the mean of the rest, tensor static_re.direction). */
tl_status tl_rc_train(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, tl_reward *reward,
                      const tl_rc_train_opts *o, tl_rc_train_result *res);
/* The static direction stored beside V (TL_E_FORMAT when the file has none). dir[d]. */
tl_status tl_value_load_static(const char *path, int d, float *dir);

typedef struct {
    const char *out_dir;
    const char *value_path;
    unsigned methods;          /* bit mask of tl_rc_method */
    int n_new;
    tl_sampler_params sampler;
    float step;
    int iters;
    float static_scale;
    int cd_k;
    const char *instruction;
    const char *title;         /* for the table and charts */
    uint64_t seed;             /* permutation test */
    /* done of total responses over every method (the methods run side by side on the threads;
     * method: the one whose response came last); calls are serialised */
    void (*progress)(void *user, const char *method, int done, int total);
    void *user;
} tl_rc_eval_opts;
/* Runs every method on every prompt (the same results for any thread count); writes OUT/results.csv, items.csv, results.json,
 * table.txt, reward.svg, winrate.svg, time.svg. The table is also returned (owned by the
 * caller) when table is not NULL. */
tl_status tl_rc_eval(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, tl_reward *reward,
                     const tl_rc_eval_opts *o, char **table);

/* ---- choosing RE-Control's settings on validation prompts (recontrol_select.c) ---- */

typedef struct {
    float step; /* in: step size */
    int iters;  /* in: iterations */
    double reward_mean;       /* out: RE-Control's mean reward on the validation prompts */
    double diversity_mean;    /* out: its mean diversity (tl_rc_diversity) */
    int eligible;             /* out: diversity_mean >= min_diversity_share x plain's */
    double gain_mean, gain_sd; /* out: mean and sd over prompts of (RE-Control - plain) reward */
} tl_rc_setting;
typedef struct {
    int n_new;
    tl_sampler_params sampler; /* as the test run: every setting and plain start from the same seed */
    double min_diversity_share; /* a setting is eligible when its diversity is >= this x plain's (0: all) */
    void (*progress)(void *user, int done, int total);
    void *user;
} tl_rc_select_opts;
typedef struct {
    int best;          /* index into the grid */
    int n;             /* validation prompts */
    double plain_mean; /* plain decoding's mean reward on them */
    double plain_diversity;
} tl_rc_select_result;
/* Runs plain decoding and RE-Control at each (step, iters) of grid on the validation prompts and
 * picks, among the settings that keep the text as diverse as o->min_diversity_share x plain's (the
 * paper's requirement that diversity be kept: a step too large degenerates into repeated tokens
 * that a learnt reward can still score highly), the one with the highest mean reward (a tie keeps
 * the earlier one). When none is eligible, the most diverse setting. */
tl_status tl_rc_select(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *val, tl_reward *reward,
                       const tl_value_net *v, const tl_rc_select_opts *o, tl_rc_setting *grid, int n_grid,
                       tl_rc_select_result *res);
/* The reference's diversity of a response: prod_{n=2..4} (1 - rep_n / 100) over whitespace tokens. */
double tl_rc_diversity(const char *text);
/* The smallest standardised paired effect (mean difference / sd of the differences) that a
 * two-sided test at level alpha detects with the given power over n prompts (normal
 * approximation): (z_{1-alpha/2} + z_power) / sqrt(n). NAN for arguments out of range. */
double tl_rc_min_effect(int n, double alpha, double power);

TL_API_END

#endif
