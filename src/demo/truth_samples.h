/* truth_samples: a few probe statements beside their ground truth from the world,
 * the probe label and the final checkpoint's preference (truth_samples.c). */
#ifndef TL_DEMO_TRUTH_SAMPLES_H
#define TL_DEMO_TRUTH_SAMPLES_H

#include "demo.h"

/* dir/knowledge_samples.csv from model m (the checkpoint at `step`). */
tl_status tl_demo_truth_samples_run(tl_demo *d, const tl_model *m, const tl_tokenizer *tok, const char *step,
                                    const char *dir);
/* Its table in the report (nothing when the file is absent). */
tl_status tl_demo_truth_samples_report(tl_demo *d, const char *dir, tl_html *h);

/* In the evaluation section: the first world_truth items (the world's answer beside each model's
 * choice) and the chat model's first replies to provocations, from dir = DIR/eval. */
tl_status tl_demo_eval_samples_report(tl_demo *d, const char *dir, tl_html *h);

#endif /* TL_DEMO_TRUTH_SAMPLES_H */
