/*
 * eval: the evaluation harness. This module owns
 *   - the task loaders (task.c, load_real.c, load_world.c): TruthfulQA MC,
 *     ARC-Easy/Challenge, MMLU, MathQA from ../shared/data, and the synthetic
 *     world's evaluation sets (tiller world), each turned into items with the
 *     prompt templates of lm-evaluation-harness (few-shot contexts included);
 *   - scoring (score.c): multiple-choice log-likelihood the lm-evaluation-harness
 *     way, with the context's KV cache reused across choices, and generation
 *     (greedy or sampled) for the generation tasks;
 *   - metrics (metrics.c): acc, acc_norm, TruthfulQA mc1/mc2, stereotype
 *     preference, exact match, lexicon toxicity; means with standard errors;
 *   - the result files (report.c): one JSON summary, one CSV row per item.
 *
 * Every forward the harness runs goes through a session that gets a copy of
 * tl_eval_opts.hooks, so a caller (steering, RE-Control) can edit the
 * residual stream during evaluation without the harness knowing about it.
 *
 * Formulas (lm-evaluation-harness, EleutherAI, v0.4 task yaml + api/task.py):
 *   - a choice's log-likelihood ll = Σ log p(continuation tokens | context);
 *     the continuation tokens are those of tokenize(context + continuation)
 *     after the first len(tokenize(context)) tokens, where trailing whitespace
 *     of the context is first moved to the front of the continuation
 *     (lm-eval's _encode_pair). Both encodings start with BOS. When context +
 *     continuation do not fit the model's context, the input is cut on the
 *     left as lm-eval does (BOS and early context tokens are dropped).
 *   - acc = [argmax ll == gold]; acc_norm = [argmax ll / len(choice) == gold]
 *     with len in Unicode characters of the choice text without the target
 *     delimiter (Python's len(str) in lm-eval); ties go to the first choice.
 *   - TruthfulQA mc1 = [argmax over the mc1 choices is the true one];
 *     mc2 = Σ_true e^ll / Σ_all e^ll over the mc2 choices (labels as given in
 *     the file; lm-eval splits at the first false label, which is the same for
 *     files that list true answers first).
 *   - stderr of a mean = sample standard deviation (n - 1) / sqrt(n).
 */
#ifndef TL_EVAL_H
#define TL_EVAL_H

#include "tiller/model.h"
#include "tiller/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* How a task's items are scored, and which metrics it reports. */
typedef enum {
    TL_EVAL_KIND_MC = 0,     /* acc, acc_norm */
    TL_EVAL_KIND_TRUTHFUL,   /* mc1 (group 0 choices), mc2 (group 1 choices with labels) */
    TL_EVAL_KIND_PREFERENCE, /* choices: stereotype, anti-stereotype, unrelated -> stereotype, lm_score */
    TL_EVAL_KIND_CAPABILITY, /* acc, acc_norm over all items; em over the items that generate */
    TL_EVAL_KIND_TOXICITY,   /* toxicity rate of generations (lexicon) */
    TL_EVAL_KIND_UNSAFE_PAIR, /* choices: unsafe, safe reply -> unsafe (share preferring it), p_unsafe */
} tl_eval_kind;

/* One evaluation item. Choices are the texts doc_to_choice gives (acc_norm
 * divides by their length); the scored continuation is task->delim + choice. */
typedef struct {
    char *id;
    char *context; /* the whole prompt: description, few-shot examples, the question */
    int n_choices;
    char **choices;       /* [n_choices] */
    unsigned char *group; /* [n_choices] 0 or 1 (TruthfulQA: 0 = mc1, 1 = mc2) */
    unsigned char *label; /* [n_choices] 1 = a true answer (mc2) */
    int gold;             /* index of the right choice (within group 0), -1 when none */
    int generate;         /* 1: the item is also (or only) answered by generation */
    char *answer;         /* expected number for exact match, NULL when none */
} tl_eval_item;

typedef struct {
    char *name;   /* "arc_easy" */
    char *source; /* the file (or directory) the items came from */
    tl_eval_kind kind;
    const char *delim; /* between context and choice: " " (lm-eval's target_delimiter) or "" */
    int fewshot;       /* examples in each context */
    int n_items;
    tl_eval_item *items;
    int n_lexicon; /* toxicity phrases, lower-cased */
    char **lexicon;
} tl_eval_task;

/* Where loaders find their files. */
typedef struct {
    const char *data_dir;  /* a folder laid out like ../shared/data (real tasks) */
    const char *world_dir; /* a `tiller world` output folder (world_* tasks) */
    const char *file;      /* NULL, or a file replacing the task's default one */
    int fewshot;           /* examples per context (arc_*, mmlu, mathqa; others take 0) */
} tl_eval_load_opts;

/* The registered task names, in order, with one line of description each. */
int tl_eval_task_count(void);
const char *tl_eval_task_name(int i);
const char *tl_eval_task_help(int i);

/* Load a task by name. Malformed files fail with TL_E_FORMAT and a message
 * naming the file, the item (1-based line or array index) and the field. */
tl_status tl_eval_task_load(const char *name, const tl_eval_load_opts *o, tl_eval_task **out);
void tl_eval_task_free(tl_eval_task *t);

/* ---- running ------------------------------------------------------------ */

typedef struct {
    int limit;                  /* first N items only (0 = all) */
    int n_ctx;                  /* session context (0 = the model's seq_len) */
    int no_prefix_cache;        /* 1: run context + continuation from scratch for every choice */
    tl_hooks hooks;             /* copied into every session the harness creates */
    tl_sampler_params sampling; /* toxicity generations; temperature 0 = greedy. Item i uses seed + i.
                                 * Exact-match items are always answered greedily. */
    int max_new_tokens;         /* generation length cap (0 = 32) */
    int n_workers;              /* items scored in parallel, one session each (0 = auto, see tl_eval_workers) */
    int token_by_token;         /* 1: a choice's continuation is run one token per forward call after the
                                 * context (same logits), so a hook on the last position of each call edits
                                 * every scored position, as it edits every step of a generation */
    void (*progress)(void *user, int done, int total);
    void *progress_user;
} tl_eval_opts;

/* Defaults: everything 0 except greedy sampling (top_p 1) and 32 new tokens. */
void tl_eval_opts_default(tl_eval_opts *o);

#define TL_EVAL_MAX_METRICS 4

typedef struct {
    const char *name; /* "acc" */
    double mean;      /* NaN when no item has the metric */
    double stderr_;   /* NaN when n < 2 */
    int n;            /* items that have the metric */
} tl_eval_metric;

typedef struct {
    int n_items; /* items scored (after --limit) */
    int n_metrics;
    tl_eval_metric metrics[TL_EVAL_MAX_METRICS];
    double *values;    /* [n_items, n_metrics] per-item metric values, NaN = not applicable */
    int *choice_off;   /* [n_items + 1] offsets into ll / n_tokens */
    double *ll;        /* [Σ n_choices] log-likelihood of each choice */
    int *n_tokens;     /* [Σ n_choices] continuation tokens of each choice */
    int *pred;         /* [n_items] argmax ll (group 0), -1 when the item has no choices */
    int *pred_norm;    /* [n_items] argmax ll / len, -1 when none */
    char **generation; /* [n_items] generated text, NULL for items that do not generate */
    double seconds;
    int64_t tokens_run; /* tokens sent through the model */
} tl_eval_result;

/* The workers tl_eval_run uses: o->n_workers, or when 0, all OpenMP threads for
 * models up to 64 Mi parameters (their forwards are too short to split well) and 1
 * for larger ones or when hooks are set (a hook then never runs on two threads at
 * once; set n_workers > 1 explicitly for hooks that are thread-safe). Never more
 * than the items. Results do not depend on the worker count. */
int tl_eval_workers(const tl_model *m, const tl_eval_opts *o, int n_items);

/* Score every item (up to o->limit) of a task. tok must match the model's vocabulary. */
tl_status tl_eval_run(const tl_model *m, const tl_tokenizer *tok, const tl_eval_task *t, const tl_eval_opts *o,
                      tl_eval_result *out);
void tl_eval_result_free(tl_eval_result *r);

/* ---- pieces, exposed for tests and other modules ------------------------- */

/* lm-eval's split: *ctx = tokenize(context') with BOS, *cont = tokenize(context' +
 * continuation') with BOS minus its first len(*ctx) tokens (possibly none), where
 * context' is context without trailing whitespace and continuation' = that
 * whitespace + continuation. Arrays are tl_malloc'ed; free with tl_free. */
tl_status tl_eval_encode_pair(const tl_tokenizer *tok, const char *context, const char *continuation, int32_t **ctx,
                              int *n_ctx, int32_t **cont, int *n_cont);

/* Per-item metrics from choice log-likelihoods (pure functions of their inputs). */
int tl_eval_argmax(const double *ll, int n);
/* argmax of ll[i] / (characters of choices[i]); a choice of length 0 divides by 1. */
int tl_eval_argmax_norm(const double *ll, const char *const *choices, int n);
/* Σ_true e^ll / Σ e^ll, computed stably; NaN when no choice or no true label. */
double tl_eval_mc2(const double *ll, const unsigned char *label, int n);
/* Unicode characters of a UTF-8 string (continuation bytes not counted). */
size_t tl_eval_utf8_len(const char *s);
/* 1 when text contains a lexicon phrase (ASCII case-insensitive) bounded by
 * characters that are not ASCII letters or digits. */
int tl_eval_lexicon_match(const char *text, char *const *lexicon, int n_lexicon);
/* The answer number of an arithmetic reply: in the first line, the first integer
 * after the first " is ", or else the first integer of the line. Writes it to
 * buf (NUL-terminated, "" when none) and returns 1 when found. */
int tl_eval_extract_number(const char *text, char *buf, size_t cap);

/* ---- output -------------------------------------------------------------- */

/* One sentence stating how a task kind's metrics are computed (for --help and results.json). */
const char *tl_eval_kind_rule(tl_eval_kind kind);
/* How generations are made and where they stop. */
const char *tl_eval_generation_rule(void);

/* Run metadata for the JSON header. */
typedef struct {
    const char *model;
    const char *tokenizer;
    int limit, fewshot, n_ctx, no_prefix_cache, max_new_tokens;
    tl_sampler_params sampling;
    const char *steer; /* NULL, or how the residual stream was edited (e.g. "v.gguf x 2 at layers 1-3") */
} tl_eval_meta;

/* results.json: {"model", ..., "tasks": {name: {"n", "metrics": {m: {"value",
 * "stderr", "n"}}, ...}}}. Written atomically. */
tl_status tl_eval_write_json(const char *path, const tl_eval_meta *meta, const tl_eval_task *const *tasks,
                             const tl_eval_result *const *results, int n_tasks);
/* One row per item: id, gold, pred, pred_norm, the metric values, the choices'
 * token counts and lls (per group: ll_i, or mc1_ll_i / mc2_ll_i), and the
 * generation when the task generates. Written atomically. */
tl_status tl_eval_write_csv(const char *path, const tl_eval_task *t, const tl_eval_result *r);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_EVAL_H */
