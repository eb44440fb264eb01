/* trust_protocol.h (internal): the data side of the reference steering protocol
 * (issue 13 point 5, docs/steering.md "The protocol"):
 *   - the world's people (world.json), split once into fitting and held-out people;
 *   - each dimension's pairs ordered so that the fitting pairs come first (pairs about
 *     a fitting person; pairs about nobody by a seeded shuffle at the same share);
 *   - evaluation items kept only when their prompt names no person that occurs in any
 *     fitting pair and contains no fitting pair's question (disjoint items). */
#ifndef TL_STUDY_TRUST_PROTOCOL_H
#define TL_STUDY_TRUST_PROTOCOL_H

#include "tiller/eval.h"
#include "tiller/steer.h"

typedef struct {
    int n;
    char **full;  /* [n] "Shaides Braxdale" */
    char **first; /* [n] "Shaides" (matched as a whole word: the toxicity prompts name people by it) */
} tl_trust_people;

/* world.json's "people"[*].name; a missing or malformed file is an error naming it. */
tl_status tl_trust_people_load(const char *world_dir, tl_trust_people *p);
void tl_trust_people_free(tl_trust_people *p);

/* fit[i] = 1 for round(share * n) people chosen by a shuffle seeded with seed. */
void tl_trust_people_split(const tl_trust_people *p, double share, uint64_t seed, unsigned char *fit);

/* The first person text names (full name, or first name as a word), earliest
 * position first; -1 when none. */
int tl_trust_first_person(const tl_trust_people *p, const char *text);

/* Reorder d's pairs (rows become pos, neg, pos, ... by pair) so the fitting pairs
 * come first, in a seeded shuffled order, then the others: a pair whose prompt
 * (its positive text up to "\nAssistant:") names a person is fitting iff that
 * person has fit[] set; pairs naming nobody are fitting for the first
 * round(share * count) of a seeded shuffle. *n_fit receives the fitting pairs;
 * mentioned[] (size p->n, may be NULL) gets 1 for every person the user text of a
 * fitting pair's prompt names (the people the fitting prompts are about; a person
 * named only in a completion, e.g. as someone's friend, is not counted). */
tl_status tl_trust_order_pairs(tl_steer_data *d, const tl_trust_people *p, const unsigned char *fit, double share,
                               uint64_t seed, int *n_fit, unsigned char *mentioned);

/* The fit fraction that makes tl_steer_build fit on exactly the first n_fit pairs. */
double tl_trust_fit_frac(int n_fit, int n_pairs);

/* Keep the items of t whose context names no person with excluded[] set and
 * contains none of the questions (the user text of the fitting pairs' prompts,
 * n_q of them); kept items move to the front in their order and t->n_items
 * becomes their count. *n_total receives the count before (restore it before
 * tl_eval_task_free, which frees all of them). */
void tl_trust_filter_items(tl_eval_task *t, const tl_trust_people *p, const unsigned char *excluded,
                           char *const *questions, int n_q, int *n_total);

/* A validation / test split of n evaluation items, stratified on strat[i] (the unsteered
 * model's score of item i; NaN is a stratum of its own) and fixed by seed: the items are
 * ordered by stratum, in a seeded shuffled order within each, and alternately given to
 * the test and the validation half from a seeded start. Every stratum's halves differ by
 * at most one item; is_test[i] = 1 for the test half. A selection among steered cells is
 * made on the validation half and reported on the test half (docs/steering.md). */
tl_status tl_trust_split_items(const double *strat, int n, uint64_t seed, unsigned char *is_test);

/* The user question of a chat prompt "User: Q\nAssistant:..." (Q copied into
 * buf), or the text itself up to its first newline. */
void tl_trust_question(const char *text, char *buf, size_t cap);

/* ---- shared by trust.c and trust_steer.c ---- */
#include "tiller/trust.h"
#define TL_TRUST_PATH_CAP 4096
tl_status tl_trust_make_dir(const char *dir);
/* A progress line to o->log (nothing when it is NULL). */
void tl_trust_say(const tl_trust_opts *o, const char *fmt, ...) TL_PRINTF(2, 3);
tl_status tl_trust_join(char *buf, const char *a, const char *b); /* buf holds TL_TRUST_PATH_CAP */
/* Split a comma list into at most cap trimmed, non-empty items (copied into buf). */
int tl_trust_split_list(const char *s, char *buf, size_t cap_buf, char **items, int cap);
/* Baselines (trust_baselines.c): bag-of-words test accuracy on csv's first `limit` rows
 * (0 = all) split as tl_probe_run (train: first split - val, test: from split); a
 * random-init model of the last checkpoint's shape with weight seed `seed`
 * (OUT/random-init/random-init-s<seed>.gguf, made once) as a one-item checkpoint list. */
tl_status tl_trust_bow(const char *csv, int limit, double split, double val, double *acc, int *n_test);
tl_status tl_trust_random_model(const tl_trust_opts *o, const tl_ckpt_list *ckpts, int seed, tl_ckpt_list *out);
/* The steering table (trust_steer.c): inputs checked first, then run; md gets its Markdown. */
tl_status tl_trust_steering_precheck(const tl_trust_opts *o, const tl_ckpt_list *ckpts);
tl_status tl_trust_steering(const tl_trust_opts *o, const tl_ckpt_list *ckpts, tl_strbuf *md);

#endif /* TL_STUDY_TRUST_PROTOCOL_H */
