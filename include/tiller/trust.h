/*
 * study/trust: the trust-dynamics experiment in one call (issue 6 point 6,
 * METHODS.md §1): over a checkpoint series, per dimension, activation capture,
 * probe accuracy (heatmap + curves) and the information plane; then the
 * steering table: vectors built from a few checkpoints of the series (and from
 * the chat model itself), applied to the chat model at several scales, scored on
 * trust and capability tasks of the evaluation harness.
 *
 * Output files in OUT (fixed names, for `tiller demo`'s report):
 *   acts/<dim>/...                 captures (resumable: a rerun skips complete ones)
 *   <dim>/probe_accuracy.csv, probe.json, probe_heatmap.svg, probe_curves.svg
 *   <dim>/infoplane.csv, infoplane.json, infoplane_binning.svg, infoplane_hsic.svg
 *   vectors/<source>.gguf          the steering vectors (llama.cpp control vectors)
 *   steering.csv                   source,step,scale,task,metric,value,stderr,n, the paired test against
 *                                  the unsteered cell, Holm's p, the vector, raw scale and added norm
 *   steering.json                  the same with the settings
 *   steering_<task>.svg            task's first metric against the scale, one line per source
 *   summary.json, summary.md       per dimension: where probe accuracy first passes the
 *                                  threshold, the best probe, whether I(X;T) rises then
 *                                  falls per layer; the steering table in Markdown
 * With steer_only, only vectors/, steering.* and the summary (steering table only).
 */
#ifndef TL_CONTROL_TRUST_H
#define TL_CONTROL_TRUST_H

#include "tiller/analysis.h"
#include "tiller/steer.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

typedef struct {
    const char *series;    /* checkpoint series (a tiller train run directory, HF revisions) or one model file, required */
    const char *chat;      /* the chat model that is steered and evaluated, required */
    const char *out;       /* output directory, required */
    const char *world;     /* a `tiller world` directory: default data, pairs and world_* tasks */
    const char *data_dir;  /* statement,label CSVs, one per dimension (default world/probes) */
    const char *dims;      /* comma list of dimensions = CSV base names (NULL = every <name>.csv in
                            * data_dir whose name is not <other>_train / <other>_test of another file) */
    const char *tokenizer; /* NULL = each model's own */
    int acts_limit;        /* statements per dimension (0 = all) */
    double threshold;      /* probe accuracy the summary looks for (0.9) */
    tl_estimator est;      /* information-plane estimators (binning + HSIC) */
    int hsic_rows;         /* HSIC on at most this many training rows (0 = all) */
    int no_random_baseline; /* 1: skip the random-init-of-the-same-shape probe baseline */
    int random_seeds;       /* random-init models (weight seeds 1 .. K) behind that baseline (0 = 3) */
    /* steering */
    int no_steer;         /* 1: skip the steering table */
    int steer_only;       /* 1: only the steering table: no capture, probes or information plane (a
                           * caller that ran them already, e.g. tiller demo); data_dir and dims unused */
    const char *pairs;    /* pair file (tl_steer_data_load; default world/steering/pairs.jsonl) */
    const char *pair_dim; /* keep only this dimension of world pairs (NULL = all) */
    const char *sources;  /* comma list of checkpoint steps (NULL = n_sources spread log-wise) */
    int n_sources;        /* automatic sources from the series (2): the checkpoints nearest to j/n of the
                           * last step, j = 1..n (2: mid-training and final) */
    const char *scales;   /* comma list (-4,-2,0,2,4) */
    const char *layers;   /* steered layers I-J (NULL = the middle layer, n_layers / 2, as the reference's 16 of 32) */
    int last_only;        /* 1 (default): add at the last position only (the reference's token_pos = -1);
                           * 0: every position (llama.cpp's control vectors) */
    double fit_share;     /* share of the world's people whose pairs fit the vectors (0.4); evaluation items
                           * about them are dropped, so fitting and evaluation share no person or prompt */
    uint64_t seed;        /* of the people split and the pair order (1) */
    int no_norm_match;    /* 0 (default): every source's vector is rescaled to the norm of the chat model's
                           * vector of the same dimension, so one scale means the same push for every source */
    double alpha;         /* level of the marked cells, after Holm's correction over every steered cell (0.05) */
    tl_steer_method method;
    tl_steer_norm norm;    /* std (the reference) or unit */
    int random_dirs;       /* random directions of the same norm as each steering vector, added as it is at every
                            * |scale| of the sweep: the baseline for "any push of that size moves the score"
                            * (3; 0 = none, and then no task can pass F3's rule; docs/steering.md) */
    int cost_every_scale;  /* 0 (default): tasks without a dimension (capability, the cost of a push) are scored
                            * under each vector at the sweep's two extreme scales only (the largest push of each
                            * sign), with their paired tests; 1: at every scale */
    const char *tasks;     /* eval tasks (NULL = world_truth_hop, world_stereotype, world_toxicity_pair,
                            * world_privacy, world_sentiment, world_capability) */
    const char *eval_data; /* shared/data-like folder for real tasks (NULL = ../shared/data) */
    int eval_limit;        /* items per task (0 = all) */
    int max_new;           /* generation length of generation tasks (0 = 32) */
    void (*log)(void *user, const char *msg); /* stage messages (NULL = none) */
    void *log_user;
} tl_trust_opts;

void tl_trust_opts_default(tl_trust_opts *o);

/* Run the experiment; see the file list above. Every input is checked before
 * model time is spent where possible (files exist, dimensions found, tasks load,
 * scales parse). */
tl_status tl_trust_dynamics_run(const tl_trust_opts *o);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_CONTROL_TRUST_H */
