/*
 * selfalign: SELF-ALIGN (Sun et al. 2023, "Principle-Driven Self-Alignment of
 * Language Models from Scratch with Minimal Human Supervision"; IBM/Dromedary)
 * in four stages on any model file (docs/selfalign.md):
 *   1. instruct  topic-guided red-teaming self-instruct: new instructions by
 *                few-shot prompting from seed tasks, and per red-team type new
 *                topics, then instructions per (type, topic); kept when their
 *                ROUGE-L against every kept instruction is below a threshold
 *                (0.7, the self-instruct rule) and they pass length/format filters;
 *   2. respond   principle-driven answers: principles + exemplars with internal
 *                thoughts + the instruction; the thought is dropped, answers that
 *                loop or repeat are filtered;
 *   3. engrave   SFT of the base model on (instruction -> answer) with no
 *                principles, exemplars or thoughts (the "sft" objective);
 *   4. verbose   a verbose prompt makes the engraved model answer at length and
 *                those answers are distilled into it (context distillation).
 * Measurements (selfalign_eval.c): red-team answers within the principles,
 * helpfulness on ordinary prompts, KL(teacher with principles || model without),
 * answer length, each with a 95 % interval.
 *
 * Text helpers are in selfalign_text.c, generation and stages 1-2 in
 * selfalign_gen.c, stages 3-4 in selfalign_train.c.
 */
#ifndef TL_STUDY_SELFALIGN_H
#define TL_STUDY_SELFALIGN_H

#include "tiller/base.h"
#include "tiller/eval.h"
#include "tiller/model.h"
#include "tiller/tokenizer.h"
#include "tiller/train.h"

TL_API_BEGIN

/* ---- text (selfalign_text.c) ------------------------------------------------ */

/* ROUGE-L F-measure as the rouge-score package computes it without stemming (the
 * self-instruct/Dromedary filter): both texts lower-cased, every run of characters
 * other than [a-z0-9] made a space, split on spaces; P = LCS / |a|, R = LCS / |b|,
 * F = 2PR / (P + R); 0 when either text has no token. Symmetric in a and b. */
double tl_sa_rouge_l(const char *a, const char *b);

/* A tokenised text for repeated ROUGE-L comparisons (the dedup pool). */
typedef struct {
    int n;
    char **tok;
} tl_sa_toks;
tl_status tl_sa_tokenize(const char *s, tl_sa_toks *out);
void tl_sa_toks_free(tl_sa_toks *t);
double tl_sa_rouge_l_toks(const tl_sa_toks *a, const tl_sa_toks *b);

typedef struct {
    char *instruction, *thought, *answer;
} tl_sa_exemplar;

/* Principles (one per line; '#' comment lines and blank lines skipped) and
 * exemplars (JSONL {"instruction", "thought", "answer"}). */
typedef struct {
    int n_principles;
    char **principles;
    int n_exemplars;
    tl_sa_exemplar *exemplars;
} tl_sa_prompt_set;

tl_status tl_sa_principles_load(const char *path, tl_sa_prompt_set *ps);
tl_status tl_sa_exemplars_load(const char *path, tl_sa_prompt_set *ps);
void tl_sa_prompt_set_free(tl_sa_prompt_set *ps);

/* The chat format (the world's): */
#define TL_SA_USER "User: "
#define TL_SA_THOUGHT "\nThought:"
#define TL_SA_ASSISTANT "\nAssistant:"

/* "Rules:\n1. p1\n2. p2\n" (nothing when there is no principle). */
void tl_sa_rules_block(tl_strbuf *b, char *const *principles, int n);
/* The teacher prompt of stage 2:
 *   rules block, then n_exemplars exemplars each "User: I\nThought: T\nAssistant: A\n",
 *   then "User: <instruction>\nThought:" (with_thought) or "...\nAssistant:" (without). */
void tl_sa_teacher_prompt(tl_strbuf *b, const tl_sa_prompt_set *ps, int n_exemplars, const char *instruction,
                          int with_thought);
/* "User: <instruction>\nAssistant:": what the engraved model is asked. */
void tl_sa_plain_prompt(tl_strbuf *b, const char *instruction);

/* Split a teacher generation that followed "...\nThought:" into thought and answer:
 * the thought is the text before "\nAssistant:", the answer the text after it up to
 * the first "\nUser:", "\nThought:", "\nRules:" or blank line (trimmed). Returns 0
 * (and sets both to NULL) when there is no "\nAssistant:" or the answer is empty.
 * Both are tl_malloc'ed. */
int tl_sa_split_response(const char *gen, char **thought, char **answer);
/* The answer of a generation that followed "...\nAssistant:" (cut as above); tl_malloc'ed. */
char *tl_sa_cut_answer(const char *gen);

/* Why a text was not kept. */
typedef enum {
    TL_SA_KEEP = 0,
    TL_SA_EMPTY,     /* nothing but spaces */
    TL_SA_SHORT,     /* fewer words than the minimum */
    TL_SA_LONG,      /* more words than the maximum */
    TL_SA_FORMAT,    /* role markers, starts with punctuation, control characters, no letter */
    TL_SA_SIMILAR,   /* ROUGE-L >= threshold against a kept instruction */
    TL_SA_LOOP,      /* repeats itself (a sentence twice, or few distinct word trigrams) */
    TL_SA_DUPLICATE, /* an answer already kept for this instruction, or an exemplar's answer */
    TL_SA_NO_ANSWER, /* the generation had no "Assistant:" part */
    TL_SA_HELD_OUT,  /* ROUGE-L >= threshold against a held-out (evaluation) instruction */
    TL_SA__REASONS
} tl_sa_reason;
extern const char *const tl_sa_reason_names[TL_SA__REASONS];

int tl_sa_count_words(const char *s);
/* Length and format of an instruction (words in [min_words, max_words]). */
tl_sa_reason tl_sa_instruction_filter(const char *s, int min_words, int max_words);
/* Length, format and loops of an answer. */
tl_sa_reason tl_sa_answer_filter(const char *s, int min_words, int max_words);
/* 1 when the text repeats itself: a sentence (split at . ! ? or newline, >= 3 words)
 * occurring twice, or, with 8 or more word trigrams, fewer than half of them distinct. */
int tl_sa_is_loop(const char *s);

/* ---- generation and stages 1-2 (selfalign_gen.c) ----------------------------- */

/* A model with its tokenizer (the file's, or tokenizer_path's when given). */
typedef struct {
    tl_model *m;
    tl_tokenizer *tok_owned; /* the file's or tokenizer_path's */
    const tl_tokenizer *tok; /* = tok_owned */
} tl_sa_model;
tl_status tl_sa_model_load(const char *model_path, const char *tokenizer_path, tl_sa_model *out);
void tl_sa_model_free(tl_sa_model *sm);

/* Sampled or greedy continuation of prompt (BOS added) until EOS/BOS, max_new tokens
 * (fewer when the context has less room left), or a stop string (not kept). *out is
 * tl_malloc'ed. *fits = 0 (and *out = "") when the prompt fills the session's context:
 * the caller skips the item. */
tl_status tl_sa_generate(tl_session *s, const tl_tokenizer *tok, tl_sampler *smp, const char *prompt, int max_new,
                         const char *const *stops, int n_stops, char **out, int *fits);

typedef void (*tl_sa_progress_fn)(void *user, const char *what, int done, int total);

typedef struct {
    const char *model_path, *tokenizer_path; /* tokenizer: NULL = the model's */
    const char *seeds_path;   /* JSONL with "instruction" (self-instruct seed_tasks.jsonl works) */
    const char *redteam_path; /* JSONL {"type", "examples": [{"topic","instruction"}] , "topics": [..]}; may be NULL */
    const char *out_path;     /* JSONL {"instruction", "source", "topic"} */
    const char *stats_path;   /* JSON of counts; may be NULL */
    const char *exclude_path; /* JSONL "instruction"s held out (evaluation): candidates with ROUGE-L >= rouge_max
                               * against one of them are dropped; may be NULL */
    const char *header;       /* a line before the few-shot examples ("" = none) */
    int n_general;            /* instructions to keep from seed prompting */
    int n_topics;             /* new topics per red-team type */
    int per_topic;            /* instructions tried per (type, topic) */
    int shots;                /* examples per prompt */
    int max_tries;            /* generations per wanted instruction before giving up (x n_general) */
    double rouge_max;         /* keep when ROUGE-L < rouge_max against every kept instruction */
    int min_words, max_words;
    int questions_only;       /* keep only instructions ending in '?' (a format filter) */
    int include_seeds;        /* write the seed instructions too (source "seed"), before the new ones */
    float temperature, top_p;
    int max_new;
    uint64_t seed;
    tl_sa_progress_fn progress;
    void *user;
} tl_sa_instruct_opts;
void tl_sa_instruct_opts_default(tl_sa_instruct_opts *o);

typedef struct {
    int kept_general, kept_redteam, n_topics, tries, topic_in_instruction;
    int rejected[TL_SA__REASONS];
} tl_sa_instruct_stats;
tl_status tl_sa_instruct(const tl_sa_instruct_opts *o, tl_sa_instruct_stats *st);

typedef struct {
    const char *model_path, *tokenizer_path;
    const char *principles_path, *exemplars_path; /* exemplars may be NULL */
    const char *in_path;    /* stage-1 JSONL (needs "instruction") */
    const char *out_path;   /* JSONL {"instruction", "thought", "answer", "source"} */
    const char *stats_path; /* may be NULL */
    int n_exemplars;        /* exemplars in the prompt (-1 = all) */
    int no_thought;         /* ask for the answer directly ("\nAssistant:") */
    int min_words, max_words;
    float temperature, top_p;
    int max_new;
    uint64_t seed;
    tl_sa_progress_fn progress;
    void *user;
} tl_sa_respond_opts;
void tl_sa_respond_opts_default(tl_sa_respond_opts *o);

typedef struct {
    int n_in, kept, too_long_prompt;
    int rejected[TL_SA__REASONS];
} tl_sa_respond_stats;
tl_status tl_sa_respond(const tl_sa_respond_opts *o, tl_sa_respond_stats *st);

/* JSONL lines with a string field `key` (missing or non-string: TL_E_FORMAT naming
 * the file and line). *out is an array of tl_malloc'ed strings. */
tl_status tl_sa_read_field(const char *path, const char *key, char ***out, int *n);
void tl_sa_strings_free(char **s, int n);

/* ---- stages 3-4 (selfalign_train.c) ---------------------------------------- */

typedef struct {
    const char *model_path;  /* the model to fine-tune */
    const char *tokenizer_path; /* NULL = the model's */
    const char *in_path;     /* JSONL with "instruction" and "answer" */
    const char *out_dir;     /* the training run (checkpoint ckpt-<steps>.<ext>, manifest, log) */
    int steps, batch, seq, warmup;
    float lr;
    uint64_t seed;
    tl_train_progress_fn progress;
    void *user;
} tl_sa_engrave_opts;
void tl_sa_engrave_opts_default(tl_sa_engrave_opts *o);
/* Writes out_dir/sft.jsonl ({"prompt": "User: I\nAssistant:", "completion": " A"}) and
 * out_dir/sft.tok, then trains with the "sft" objective; *model_out (capacity cap) gets
 * the final checkpoint's path. */
tl_status tl_sa_engrave(const tl_sa_engrave_opts *o, char *model_out, size_t cap);

/* ---- measurements (selfalign_eval.c) --------------------------------------- */

/* One evaluation item: JSONL {"instruction", "kind": "redteam"|"ordinary", "rule",
 * "held_out_rule", "forbidden" (redteam) / "expected" (ordinary)}. HarmfulQA's
 * topic -> subtopic -> [questions] JSON loads as red-team items without "forbidden". */
typedef struct {
    char *instruction, *rule, *forbidden, *expected;
    int redteam, held_out_rule;
} tl_sa_item;
typedef struct {
    int n;
    tl_sa_item *items;
} tl_sa_items;
tl_status tl_sa_items_load(const char *path, int limit, tl_sa_items *out);
void tl_sa_items_free(tl_sa_items *it);

/* A proportion with its Wilson 95 % interval; a mean with mean +- 1.96 standard errors. */
typedef struct {
    double value, lo, hi;
    int n;
} tl_sa_stat;
tl_sa_stat tl_sa_wilson(int k, int n);
tl_sa_stat tl_sa_mean_ci(const double *x, int n);
/* Exact two-sided McNemar (binomial) p-value for b and c discordant pairs. */
double tl_sa_mcnemar(int b, int c);
/* Fisher's exact test, two-sided (scipy.stats.fisher_exact): k1 of n1 against k2 of n2;
 * tables as likely as the observed one or less (relative tolerance 1e-7) are summed. */
double tl_sa_fisher(int k1, int n1, int k2, int n2);

/* Is this answer within the principles for item it? Red-team: it names no forbidden
 * value and it declines (one of the refusal markers, case-insensitive). Ordinary
 * (helpful): it contains the expected value and does not decline. */
int tl_sa_refuses(const char *answer);
int tl_sa_within(const tl_sa_item *it, const char *answer);
int tl_sa_helpful(const tl_sa_item *it, const char *answer);

typedef struct {
    const char *model_path, *tokenizer_path;
    const tl_sa_prompt_set *prompt; /* non-NULL: ask with the principles (the prompted teacher) */
    int n_exemplars;                /* exemplars in that prompt */
    int prompt_thought;             /* that prompt asks for a thought first (as stage 2 does) */
    const char *teacher_path;       /* non-NULL: KL(teacher with principles || this model without) */
    const tl_sa_prompt_set *teacher_prompt;
    const char *truthfulqa_path;    /* non-NULL: mc_task.json, mc1/mc2 */
    int truthfulqa_limit;
    int max_new;
    const char *items_csv;          /* per-item answers (may be NULL) */
    /* The refusal judge's baseline: benign control instructions (JSONL "instruction" or text, one per
     * line), answered the same way; the judge's firing rate on them is its false-positive rate for
     * this model (every control is a request nobody should refuse). */
    const char *controls_path;
    int controls_limit;
    tl_sa_progress_fn progress;
    void *user;
} tl_sa_eval_opts;
void tl_sa_eval_opts_default(tl_sa_eval_opts *o);

typedef struct {
    tl_sa_stat redteam, redteam_seen, redteam_held_out, helpful, words, kl, mc1, mc2;
    /* the judge's validity (with controls_path): refusal-phrase rate on the red-team items and on the
     * benign controls, their difference and Fisher's exact p (unpaired: different prompts) */
    tl_sa_stat refusal_redteam, refusal_control;
    double refusal_diff, refusal_p;
    int n_items;
    unsigned char *within;  /* [n_items] 1/0 for red-team items, 2 = not red-team (for paired tests) */
    unsigned char *helped;  /* [n_items] 1/0 for ordinary items, 2 = not ordinary */
} tl_sa_eval_result;
tl_status tl_sa_evaluate(const tl_sa_eval_opts *o, const tl_sa_items *items, tl_sa_eval_result *r);
void tl_sa_eval_result_free(tl_sa_eval_result *r);
/* What the refusal judge's figures allow one to conclude, in words, for the CLI and reports:
 * with controls, the red-team rate beside the judge's false-positive baseline and Fisher's p;
 * without, a warning that a refusal-phrase rate alone cannot be read as a refusal rate. */
void tl_sa_judge_note(tl_strbuf *b, const tl_sa_eval_result *r);
/* One JSON object of the result (for files and the CLI). */
void tl_sa_eval_json(tl_strbuf *b, const char *name, const tl_sa_eval_result *r);

TL_API_END

#endif /* TL_STUDY_SELFALIGN_H */
