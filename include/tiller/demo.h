/*
 * tiller/demo.h: `tiller demo` as a call: the whole study (world, tokenizer, pre-training
 * series, chat fine-tune, samples, activations, probes, information plane, evaluation,
 * steering table, reversal curse) as cached, resumable stages in one directory, ending in
 * DIR/report.html. Deterministic for (seed, preset, thread count).
 */
#ifndef TILLER_DEMO_H
#define TILLER_DEMO_H

#include "tiller/base.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

typedef enum { TL_DEMO_START, TL_DEMO_STEP, TL_DEMO_SKIPPED, TL_DEMO_DONE } tl_demo_event;

/* What the progress callback sees. */
typedef struct {
    tl_demo_event event;
    int stage, n_stages; /* 0-based index, table size */
    const char *name;    /* the stage's directory name */
    int64_t done, total; /* units of the stage (training steps, checkpoints, items); total 0 = unknown */
    double elapsed;      /* seconds in this stage */
    double eta;          /* seconds left in this stage (NaN = unknown) */
    const char *detail;  /* e.g. "loss 2.31", may be NULL */
} tl_demo_progress;
typedef void (*tl_demo_progress_fn)(void *user, const tl_demo_progress *p);

typedef struct {
    const char *out_dir;
    int quick; /* the quick preset */
    uint64_t seed;
    int threads; /* recorded in demo.json (results are identical only at the same count) */
    int seeds;   /* pre-training seeds behind the probe and information-plane bands (0 or 1: one, the default) */
    tl_demo_progress_fn progress;
    void *progress_user;
} tl_demo_opts;

typedef struct {
    int n_run, n_skipped; /* stages */
    int n_sections;       /* report sections */
    double seconds;
    char report[4096]; /* path of report.html */
} tl_demo_summary;

/* Run (or continue) the pipeline in o->out_dir and write report.html. Errors
 * name the stage and the file. DIR/demo.json records the seed and preset; a DIR
 * made with other settings is refused rather than mixed. */
tl_status tl_demo_run(const tl_demo_opts *o, tl_demo_summary *sum);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_DEMO_H */
