/*
 * checkpoint.h: internal to src/train — the pieces of a run's directory that
 * trainer.c writes and reads back (checkpoint.c): optimiser state files, the
 * output-directory probe and the in-memory training log. The public training
 * API is train.h.
 */
#ifndef TL_TRAIN_CHECKPOINT_H
#define TL_TRAIN_CHECKPOINT_H

#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"

/* Everything besides parameters and moments that a resumed run must restore. */
typedef struct {
    int64_t step;             /* updates done */
    int64_t adam_step;        /* tl_adamw.step */
    int64_t tokens_seen;      /* input tokens trained on */
    tl_rng rng;               /* the objective's sampling stream */
    tl_batcher_state data;    /* the training batcher's position */
    double wall_time;         /* seconds of training so far, over all resumes */
    uint64_t data_fingerprint;
} tl_train_state;

/* DIR/optim-<step>.bin: a 128-byte header, params[n], m[n], v[n] (f32), FNV-1a checksum.
 * test_pause > 0 sleeps that long after params and m are written (test of a kill
 * during a checkpoint write). */
tl_status tl_train_state_write(const char *path, const tl_train_state *st, const float *params,
                               const float *m, const float *v, size_t n, double test_pause);
tl_status tl_train_state_read(const char *path, tl_train_state *st, float *params, float *m, float *v,
                              size_t n);
size_t tl_train_state_bytes(size_t n_params);

/* Create dir (and parents), prove it writable, and check the free space: an error when
 * less than need_now bytes are free, a warning when less than need_total. */
tl_status tl_train_dir_prepare(const char *dir, uint64_t need_now, uint64_t need_total);

/* train_log.csv kept in memory and rewritten atomically (rows keep their exact text,
 * so a resumed run's log is byte-identical up to the resume point). */
#define TL_TRAIN_LOG_HEADER "step,loss,val_loss,lr,grad_norm,tokens_per_s"
typedef struct {
    char **lines;
    int64_t *steps;
    int64_t n, cap;
} tl_train_log;
tl_status tl_train_log_add(tl_train_log *l, int64_t step, const char *line);
tl_status tl_train_log_write(const tl_train_log *l, const char *path);
/* Append the rows of an existing log with step <= max_step (none when the file is missing). */
tl_status tl_train_log_read(tl_train_log *l, const char *path, int64_t max_step);
void tl_train_log_free(tl_train_log *l);

#endif /* TL_TRAIN_CHECKPOINT_H */
