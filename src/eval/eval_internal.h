/* eval_internal.h: helpers shared by the eval module's files (not for other modules). */
#ifndef TL_EVAL_INTERNAL_H
#define TL_EVAL_INTERNAL_H

#include <cjson/cJSON.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/eval.h"

/* ---- building a task (task.c) ---------------------------------------------- */
tl_status tl_eval_task_new(const char *name, const char *source, tl_eval_kind kind, const char *delim,
                           tl_eval_task **out);
/* Append a zeroed item with room for n_choices choices (0 = none). */
tl_status tl_eval_task_add(tl_eval_task *t, int n_choices, tl_eval_item **out);
void tl_eval_item_clear(tl_eval_item *it);
/* Replace each item's context (its doc_to_text) by description + the first k
 * examples of pool (skipping the item itself when pool == t->items), each
 * written doc_to_text + delim + gold choice, joined and followed by "\n\n"
 * (lm-eval's fewshot_delimiter), then the item's own text. */
tl_status tl_eval_apply_fewshot(tl_eval_task *t, const char *description, const tl_eval_item *pool, int n_pool, int k);
/* "<dir>/<rel>" (tl_malloc'ed), or NULL when out of memory. */
char *tl_eval_path(const char *dir, const char *rel);

/* ---- JSON fields with messages naming file, item and key (task.c) ---------- */
tl_status tl_eval_json_str(const cJSON *obj, const char *key, const char *file, long item, const char **out);
tl_status tl_eval_json_obj(const cJSON *obj, const char *key, const char *file, long item, const cJSON **out);
tl_status tl_eval_json_arr(const cJSON *obj, const char *key, const char *file, long item, const cJSON **out);
/* Call fn for every non-blank line of a JSON Lines file with the parsed object
 * and its 1-based line number. Stops at the first failure. */
typedef tl_status (*tl_eval_jsonl_fn)(void *user, const cJSON *obj, long line);
tl_status tl_eval_jsonl_each(const char *path, tl_eval_jsonl_fn fn, void *user);

/* ---- loaders (one per task) ------------------------------------------------ */
tl_status tl_eval_load_truthfulqa(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_arc_easy(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_arc_challenge(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_mmlu(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_mathqa(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_truth(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_stereotype(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_capability(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_toxicity(const tl_eval_load_opts *o, tl_eval_task **out);
/* The steering table's two-reply tasks and perturbed sentiment (world eval/{toxicity,privacy}_pairs.jsonl,
 * eval/robustness_mc.jsonl). */
tl_status tl_eval_load_world_toxicity_pair(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_privacy(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_sentiment(const tl_eval_load_opts *o, tl_eval_task **out);
tl_status tl_eval_load_world_truth_hop(const tl_eval_load_opts *o, tl_eval_task **out);

/* The TruthfulQA MC items of a mc_task.json-layout file (shared by truthfulqa_mc
 * and world_truth): context = primer + "Q: " + question + "\nA:". */
tl_status tl_eval_load_mc_task_json(const char *name, const char *path, const char *primer, tl_eval_task **out);

/* ---- metrics (metrics.c) ---------------------------------------------------- */
/* Fill names[0 .. n) with the metrics of a task kind; returns n (<= TL_EVAL_MAX_METRICS). */
int tl_eval_metric_names(tl_eval_kind kind, const char **names);
/* One item's metric values (NaN = not applicable) and predictions, from its
 * choices' lls (in item order, group 0 first) and its generation (NULL when none). */
void tl_eval_item_metrics(const tl_eval_task *t, const tl_eval_item *it, const double *ll, const char *generation,
                          double *values, int *pred, int *pred_norm);
/* Means, standard errors and counts of r->values into r->metrics. */
void tl_eval_aggregate(tl_eval_result *r);

#endif
