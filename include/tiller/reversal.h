/*
 * reversal.h: the reversal-curse experiment (Berglund et al. 2023) with BICO and
 * ABI fine-tuning (Lv et al. 2023; METHODS.md section 3), as one library call.
 *
 * tl_reversal_run fine-tunes a model on a folder of name <-> description facts,
 * once per (objective, seed), with the trainer (tl_train_run), and evaluates four
 * subtasks with the eval harness (tl_eval_run):
 *
 *   N2D          p2d_prompts_test          name -> description, trained direction
 *   D2N          d2p_prompts_test          description -> name, trained direction
 *   N2D-reverse  p2d_reverse_prompts_test  description -> name of a fact trained name first
 *   D2N-reverse  d2p_reverse_prompts_test  name -> description of a fact trained description first
 *
 * Metrics per subtask (mean over items, then mean and sample std over seeds; for em and
 * rank also a 95 % bootstrap interval over people and the paired difference against
 * ntp with its interval and p, see tl_reversal_row):
 *   em          exact match of the greedy completion: the generation, leading
 *               whitespace removed, starts with the expected completion stripped of
 *               surrounding whitespace and a final "." (the model may go on after it);
 *   rank        the correct completion has the highest log-probability among the
 *               distinct completions of the file (the other people's);
 *   logp        mean log p(correct completion | prompt), summed over its tokens;
 *   logp_other  mean over items of the mean log p of the other completions;
 *   choice      (the primary measure, docs/reversal.md) the calibrated two-way choice:
 *               the share of the item's other candidates whose calibrated log p is below
 *               the right answer's, a candidate's calibrated log p being its log p under
 *               this prompt minus its mean log p under the prompts about other people
 *               (tl_reversal_choice_scores). Chance 0.5 for any model whose preferences
 *               do not depend on which person the prompt is about.
 * Candidates: with opts.choices = k > 0 the file's people (distinct completions, in order
 * of appearance) form blocks of k (the last block takes the remainder), and an item's
 * candidates are its block's completions (rank's chance: 1 / block size); 0 = every
 * completion of the file.
 *
 * Training data: p2d_prompts_train, d2p_prompts_train and both_prompts_train
 * (.jsonl, {"prompt","completion"}), tokenized into OUT/train.tokens (BOS, prompt
 * marked as prompt, EOS after the completion). Objectives:
 *   ntp   next-token prediction on the completion (the trainer's `sft`);
 *   bico  the trainer's `bico[:options]` (mask denoising, bidirectional attention
 *         with mirrored RoPE, NTP on the other batches);
 *   abi   the trainer's `abi[:options]` (GLM-style blank infilling).
 * Generation after any of them is left to right with the causal mask.
 *
 * Files written to OUT: results.csv (one row per objective x subtask; after the means
 * and stds: people, em/rank 95 % intervals over people, and the difference against ntp
 * with its interval and bootstrap p), per_seed.csv,
 * results.json (settings, results, example generations), table.txt (the text table),
 * reversal_choice.svg, reversal_em.svg and reversal_rank.svg (grouped bars with the 95 %
 * bootstrap interval over people, and the chance level as a dashed line), items/ (one
 * per-item CSV per objective, seed and subtask; ':' and ',' of options become '_' in
 * file names), runs/<objective>-seed<k>/ (the
 * trainer's train_log.csv and manifest.json; checkpoints removed unless keep_runs).
 */
#ifndef TL_EVAL_REVERSAL_H
#define TL_EVAL_REVERSAL_H

#include "tiller/bootstrap.h"
#include "tiller/eval.h"
#include "tiller/train.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

enum { TL_REV_N2D, TL_REV_D2N, TL_REV_N2D_REVERSE, TL_REV_D2N_REVERSE, TL_REV_SUBTASKS };
enum { TL_REV_EM, TL_REV_RANK, TL_REV_LOGP, TL_REV_LOGP_OTHER, TL_REV_CHOICE, TL_REV_METRICS };
/* the per-item measures with intervals and tests: [0] em, [1] rank, [2] choice */
enum { TL_REV_TESTED = 3 };
extern const int tl_reversal_tested_metric[TL_REV_TESTED]; /* TL_REV_EM, TL_REV_RANK, TL_REV_CHOICE */

extern const char *const tl_reversal_subtask_names[TL_REV_SUBTASKS]; /* "N2D", ... */
extern const char *const tl_reversal_subtask_files[TL_REV_SUBTASKS]; /* "p2d_prompts_test", ... */
extern const char *const tl_reversal_metric_names[TL_REV_METRICS];   /* "em", "rank", ... */

typedef struct {
    const char *model_path;     /* the model to fine-tune (required) */
    const char *tokenizer_path; /* NULL: the model file's own tokenizer */
    const char *data_dir;       /* holds the *_prompts_train / *_test .jsonl files */
    const char *out_dir;        /* created if missing; results are replaced */
    const char *const *objectives; /* "ntp", "bico", "abi", with options "bico:mask=0.3" */
    int n_objectives;
    int eval_base;              /* also evaluate the model before fine-tuning (row "base") */
    int n_seeds;                /* fine-tuning runs per objective, seeds seed .. seed+n-1 */
    uint64_t seed;
    /* fine-tuning (tl_train_opts) */
    int64_t steps;              /* 0: ceil(epochs * training documents / batch) */
    float epochs;
    int batch;
    int seq;                    /* 0: the longest training document, capped at the model's context */
    float lr, weight_decay;
    int warmup;                 /* -1: steps / 10 */
    /* evaluation */
    int limit;                  /* first N items per subtask (0 = all) */
    int max_new_tokens;         /* 0: the longest expected completion + 4 tokens */
    int choices;                /* candidates per item: blocks of k people (0 = all; see above) */
    int keep_runs;              /* keep each run's checkpoint and optimiser state */
    /* progress (any may be NULL): a stage line, each training step, eval items */
    void (*on_stage)(void *user, const char *msg);
    tl_train_progress_fn on_train;
    void (*on_eval)(void *user, int done, int total);
    void *user;
} tl_reversal_opts;

void tl_reversal_opts_default(tl_reversal_opts *o);

/* One objective's results. */
typedef struct {
    char name[64];    /* the objective as given ("ntp", "bico:mask=0.3", ...) or "base" */
    char spec[160];   /* the trainer objective spec used ("sft", "bico:mask=0.3", "" for base) */
    int n_seeds;
    double *per_seed; /* [n_seeds][TL_REV_SUBTASKS][TL_REV_METRICS] */
    double *final_loss; /* [n_seeds] training loss of the last step (NaN for base) */
    double mean[TL_REV_SUBTASKS][TL_REV_METRICS];
    double std[TL_REV_SUBTASKS][TL_REV_METRICS]; /* sample std over seeds; 0 for one seed */
    /* per item, mean over seeds: [n_items[s]][TL_REV_TESTED] = {em, rank, choice} (for the intervals) */
    double *items[TL_REV_SUBTASKS];
    /* 95 % percentile-bootstrap intervals over people ([0] em, [1] rank): each test item
     * belongs to one person (its gold completion), people are resampled (2000
     * replicates); the statistic is the item mean of the seed-averaged hits; [2] choice
     * (NaN bounds when the measure is undefined: fewer than 3 people per block) */
    tl_boot_ci ci[TL_REV_SUBTASKS][TL_REV_TESTED];
    /* the same for the paired difference against the ntp row (same items); has_vs_ntp
     * is 0 for base, ntp itself, or when there is no ntp row */
    int has_vs_ntp;
    tl_boot_ci vs_ntp[TL_REV_SUBTASKS][TL_REV_TESTED];
    /* the paired sign-flip test over people of the difference against ntp
     * (tl_signflip_clusters, 20000 draws), and the smallest difference it detects with 80 %
     * power at level 0.05 / comparisons (Bonferroni over the compared objectives x the two
     * reversed subtasks): (z(1 - a/2) + z(0.8)) x SD of the per-person differences / sqrt(people) */
    double p_signflip[TL_REV_SUBTASKS][TL_REV_TESTED], mde[TL_REV_SUBTASKS][TL_REV_TESTED];
} tl_reversal_row;

typedef struct {
    int n_rows;
    tl_reversal_row *rows;
    int n_items[TL_REV_SUBTASKS];
    double chance_rank[TL_REV_SUBTASKS]; /* mean over items of 1 / candidates */
    int candidates[TL_REV_SUBTASKS];     /* the largest candidate set of an item */
    double mde_alpha;                    /* the level of the power statement */
    int n_train_docs;
    int64_t steps;
    int batch, seq;
    double seconds;
} tl_reversal_result;

/* Run the experiment described by o; writes the files listed above into o->out_dir
 * (the summary files last, each atomically). res may be NULL; otherwise free it with
 * tl_reversal_result_free. Missing or malformed data files, a model without a
 * tokenizer, unknown objectives or options fail before any training, naming the file
 * (and line) or the option. */
tl_status tl_reversal_run(const tl_reversal_opts *o, tl_reversal_result *res);
void tl_reversal_result_free(tl_reversal_result *r);

/* The text table (the calibrated choice with its test first, then exact match and rank accuracy). */
tl_status tl_reversal_table(const tl_reversal_result *r, tl_strbuf *out);

/* The exact-match rule above: 1 when generation matches expected. */
int tl_reversal_exact_match(const char *generation, const char *expected);

/* One data file as an eval task: items = rows (context = prompt), choices = the file's
 * distinct completions in order of appearance, gold = the row's own. Kind capability,
 * delimiter "" (completions start with a space), every item generates. */
tl_status tl_reversal_load_task(const char *path, const char *name, tl_eval_task **out);
/* The same with blocks of k people (k = 0: all): an item's choices are its block's
 * completions; person [n_rows] (may be NULL) receives each item's person (the index of its
 * completion among the file's distinct ones) and first [n_rows] (may be NULL) the person of
 * its first choice (choice c is person first + c). Allocated with tl_malloc. */
tl_status tl_reversal_load_task_blocks(const char *path, const char *name, int k, tl_eval_task **out, int **person,
                                       int **first);

/* The calibrated two-way choice score of each item. Item i has the candidates off[i] ..
 * off[i+1]-1, with person ids cand[] and log-probabilities ll[] at the same offsets, and its
 * right answer is person gold[i] (one of its candidates). Candidate p's calibrated score at
 * item i = ll_i(p) minus the mean of ll_j(p) over the items j that have p as a candidate and
 * whose right answer is neither p nor gold[i]; score[i] = the share of i's other candidates
 * whose calibrated score is below the right answer's (ties count 1/2). NaN where such a mean
 * has no item (fewer than three people share the candidates) or i has one candidate. */
void tl_reversal_choice_scores(const double *ll, const int *cand, const int *off, const int *gold, int n_items,
                               double *score);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_EVAL_REVERSAL_H */
