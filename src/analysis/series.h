/* series.h: where a checkpoint series comes from besides tiller's own ckpt-<step> files
 * (series.c; tl_series_list in actstore.c dispatches here). */
#ifndef TL_ANALYSIS_SERIES_H
#define TL_ANALYSIS_SERIES_H

#include <stdint.h>

#include "tiller/analysis.h"

/* The step in a file or directory name that says it: "ckpt-<N>", or "step<N>" anywhere in the
 * name, with an optional '-' or '_' after "step" ("step1000", "pythia-70m-step1000.gguf",
 * "rev_step-2000"). 1 and *step set when found. */
int tl_series_name_step(const char *name, int64_t *step);

/* A manifest CSV: one "step,path" record per checkpoint (a "step,path" header line is allowed),
 * paths relative to the CSV's directory unless absolute; each path must exist (a model file or a
 * Hugging Face directory). Checkpoints are named "step<N>". Errors name the file and line. */
tl_status tl_series_from_csv(const char *csv, tl_ckpt_list *out);

#endif /* TL_ANALYSIS_SERIES_H */
