/*
 * train: training in tiller's own engine.
 *
 *   backward.c   tl_model_backward, the backward of the training forward; that forward,
 *                tl_model_forward_train, and tl_train_acts (saved activations + their
 *                gradients, one arena sized from (config, B, T) once) live beside the
 *                inference forward in src/model/forward_train.c (declared in tiller/model.h)
 *   optim.c      AdamW (decoupled weight decay, bias correction), global-norm clipping,
 *                warm-up + cosine learning-rate schedule
 *   objective.c  objectives as pluggable pieces: each turns a batch of token rows into
 *                (inputs, targets, attention spec); NTP, SFT (loss mask), BICO, ABI
 *   data.c       token files (uint16/uint32, mmapped) and shuffled batches by seed
 *   trainer.c    the loop: accumulation, schedule, logs, checkpoint series, resume
 *
 * Gradients and AdamW moments are flat buffers shaped like tl_model.params, so
 * the update is one loop and tl_params_layer() gives per-layer views of them.
 *
 * One step:
 *     tl_model_forward_train(m, acts, tokens, targets, NULL, &loss);   // any number of
 *     tl_model_backward(m, acts, grads, 1.0f / accum);                 // times (accumulation)
 *     float norm = tl_grad_clip(grads, m->n_params, 1.0f);
 *     tl_adamw_step(opt, &hp, tl_lr_at(&sched, opt->step), m->params, grads);
 *     memset(grads, 0, m->n_params * sizeof(float));
 */
#ifndef TL_TRAIN_H
#define TL_TRAIN_H

#include "tiller/model.h"
#include "tiller/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* ---- backward (backward.c) of the training forward (tiller/model.h, model/forward_train.c) ---- */

/* Backward of the last forward_train: grads[n_params] += scale * d loss / d params
 * (scale e.g. 1/accumulation steps). Does nothing if no forward_train succeeded
 * since the acts were made. Overwrites the saved logits (their gradient takes
 * their place), so call it once per forward_train. */
void tl_model_backward(const tl_model *m, tl_train_acts *a, float *grads, float scale);

/* Backward of the last forward_train from d loss / d xnf instead of the logits' loss:
 * grads[n_params] += scale * d loss / d params through the final norm, the layers and the
 * embeddings (the LM head's output matrix gets nothing). dstate [B*T, dim]. Consumes the
 * forward like tl_model_backward. */
void tl_model_backward_state(const tl_model *m, tl_train_acts *a, const float *dstate, float *grads, float scale);

/* ---- optimiser (optim.c) ---------------------------------------------------- */

/* AdamW hyper-parameters other than the learning rate (which the schedule gives). */
typedef struct {
    float beta1;        /* 0.9 */
    float beta2;        /* 0.95 or 0.999 */
    float eps;          /* 1e-8, added after the square root of the corrected v */
    float weight_decay; /* decoupled: p -= lr * wd * p, before the Adam update */
} tl_adamw_params;

/* AdamW state: moments laid out like params, and the step count. */
typedef struct {
    tl_config cfg;
    size_t n;     /* floats in params, grads, m, v */
    int64_t step; /* updates taken so far (t of the bias corrections is step + 1) */
    float *m;     /* [n] first moment */
    float *v;     /* [n] second moment */
} tl_adamw;

tl_status tl_adamw_new(const tl_config *c, tl_adamw **out);
void tl_adamw_free(tl_adamw *o);
/* One update of params[n] by grads[n] at learning rate lr, exactly as
 * torch.optim.AdamW: t = ++step; p *= 1 - lr*wd; m = b1 m + (1-b1) g;
 * v = b2 v + (1-b2) g^2; p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
 * Weight decay applies to the matrices (embeddings, projections, output) and not
 * to the RMSNorm gains: the parameter groups of llama2.c / nanoGPT. */
void tl_adamw_step(tl_adamw *o, const tl_adamw_params *hp, float lr, float *params,
                   const float *grads);

/* Global L2 norm of grads[n] (computed in double, in fixed-size blocks summed in
 * order: the same for any thread count). */
double tl_grad_norm(const float *grads, size_t n);
/* torch.nn.utils.clip_grad_norm_: when the norm exceeds max_norm, scale grads by
 * max_norm / (norm + 1e-6). max_norm <= 0 disables clipping. Returns the norm
 * before clipping. */
float tl_grad_clip(float *grads, size_t n, float max_norm);

/* Learning rate at a step (0-based index of the update about to be taken):
 *   step <  warmup:  lr * (step + 1) / warmup     (linear; the first update is
 *                                                  already non-zero, the warmup-th
 *                                                  reaches the peak)
 *   warmup <= step <= total: cosine from lr down to lr * min_ratio at step = total
 *   step >  total:   lr * min_ratio
 * warmup = 0 skips the warm-up; total <= warmup keeps the peak after warm-up. */
typedef struct {
    float lr;         /* peak learning rate */
    int64_t warmup;   /* warm-up steps */
    int64_t total;    /* step where the cosine reaches its floor (usually the run's length) */
    float min_ratio;  /* floor = lr * min_ratio (e.g. 0.1) */
} tl_lr_schedule;
float tl_lr_at(const tl_lr_schedule *s, int64_t step);

/* ======================================================================== *
 * Token files (data.c)                                                      *
 * ======================================================================== */

/* A token file: documents of token ids, split into train and validation, written
 * atomically and read through a read-only mapping. Little-endian:
 *
 *   0   char[8] "TLTOKENS"      8  u32 version (1)      12 u32 token_bytes (2 or 4)
 *   16  u32 vocab_size          20 u32 flags (TL_TOKENS_PROMPTS)
 *   24  u64 n_docs train        32 u64 n_docs val
 *   40  u64 n_tokens train      48 u64 n_tokens val     56 u64 seed of the split
 *   64  u64 doc_off[n_docs + 1]  first token of each document; train documents
 *                                first (tokens [0, n_tokens train)), then validation
 *       u32 prompt_len[n_docs]   only with TL_TOKENS_PROMPTS: leading tokens of each
 *                                document that are prompt (SFT: not predicted); padded to 8 bytes
 *       u16|u32 tokens[n_tokens] uint16 when vocab_size <= 65535, else uint32
 *
 * Every count is checked against the file size and every id against vocab_size
 * when the file is opened. */
#define TL_TOKENS_MAGIC "TLTOKENS"
#define TL_TOKENS_VERSION 1
#define TL_TOKENS_HEADER 64
#define TL_TOKENS_PROMPTS 1u /* flags: per-document prompt lengths are present */

typedef enum { TL_SPLIT_TRAIN = 0, TL_SPLIT_VAL = 1 } tl_split;

/* An opened token file (mapped read-only; the layout is in src/train/token_file.h). */
typedef struct tl_token_file tl_token_file;

tl_status tl_token_file_open(const char *path, tl_token_file **out);
void tl_token_file_free(tl_token_file *f);
/* Token i of the whole file (train and validation are one array). */
int32_t tl_token_file_at(const tl_token_file *f, int64_t i);
/* Documents and tokens of a split; the vocabulary it was checked against; 2 (uint16) or
 * 4 (uint32) bytes per token; 1 when it carries per-document prompt lengths (SFT). */
int64_t tl_token_file_n_docs(const tl_token_file *f, tl_split split);
int64_t tl_token_file_n_tokens(const tl_token_file *f, tl_split split);
int tl_token_file_vocab_size(const tl_token_file *f);
int tl_token_file_token_bytes(const tl_token_file *f);
int tl_token_file_has_prompts(const tl_token_file *f);

/* Collects documents in memory, then writes a token file with a held-out split. */
typedef struct {
    int vocab_size;
    int token_bytes;
    int64_t n_docs, cap_docs;
    uint64_t *doc_off;      /* [n_docs + 1] */
    uint32_t *prompt_len;   /* [n_docs] */
    int any_prompt;         /* some document has a prompt: write TL_TOKENS_PROMPTS */
    uint8_t *tokens;        /* [n_tokens * token_bytes] */
    int64_t n_tokens, cap_tokens;
} tl_token_builder;

tl_status tl_token_builder_init(tl_token_builder *b, int vocab_size);
void tl_token_builder_free(tl_token_builder *b);
/* Append one document of n ids whose first prompt_len tokens are prompt (0 for plain text).
 * Ids outside the vocabulary fail with TL_E_RANGE. Empty documents are skipped. */
tl_status tl_token_builder_add(tl_token_builder *b, const int32_t *ids, size_t n, size_t prompt_len);
/* Hold out round(val_frac * n_docs) documents chosen by seed (at least one when val_frac > 0
 * and there are two or more documents; never all of them), keep both splits in their input
 * order, and write the file atomically. */
tl_status tl_token_builder_write(const tl_token_builder *b, const char *path, double val_frac,
                                 uint64_t seed);

/* ---- batches ------------------------------------------------------------ */

/* A batch of B token rows of up to T+1 tokens: inputs are a row's first T tokens,
 * targets its last T. Positions at or after len[b] are padding (token 0, mask 0). */
typedef struct {
    int B, T;
    int32_t *tokens;    /* [B, T+1] */
    uint8_t *loss_mask; /* [B, T+1] 1 = this token may be predicted (not prompt, not padding) */
    int32_t *len;       /* [B] valid tokens per row, 0 .. T+1 */
} tl_batch;

tl_status tl_batch_new(int B, int T, tl_batch **out);
void tl_batch_free(tl_batch *b);

/* How a split is cut into windows of T+1 tokens:
 *   PACKED: the split's documents as one stream, windows starting every T tokens
 *           (documents run into each other; each starts with BOS) — pre-training;
 *   DOCS:   one document per window, cut after T+1 tokens and padded — SFT. */
typedef enum { TL_WINDOWS_PACKED = 0, TL_WINDOWS_DOCS = 1 } tl_window_mode;

/* The resumable position of a batcher: saved with every checkpoint. */
typedef struct {
    uint64_t epoch; /* passes completed over the split */
    uint64_t pos;   /* windows already taken in this epoch */
} tl_batcher_state;

typedef struct tl_batcher tl_batcher;

/* Windows of one split, visited in an order shuffled per epoch from (seed, epoch), or in
 * file order when shuffle is 0. Fails when the split has no window (too few tokens). */
tl_status tl_batcher_new(const tl_token_file *f, tl_split split, tl_window_mode mode, int T,
                         int shuffle, uint64_t seed, tl_batcher **out);
void tl_batcher_free(tl_batcher *it);
int64_t tl_batcher_windows(const tl_batcher *it);
/* Fill b->B rows with the next windows (wrapping into the next epoch); never fails. */
void tl_batcher_next(tl_batcher *it, tl_batch *b);
/* Fill rows with windows first .. first+B-1 in file order; rows past the last window
 * get len 0 (nothing to predict). For validation: the same windows every time. */
void tl_batcher_fill(const tl_batcher *it, int64_t first, tl_batch *b);
tl_batcher_state tl_batcher_get_state(const tl_batcher *it);
tl_status tl_batcher_set_state(tl_batcher *it, tl_batcher_state st);

/* ======================================================================== *
 * Text to token files (corpus.c)                                            *
 * ======================================================================== */

/* Documents come from text files — one per blank-line-separated paragraph, or one per
 * line with lines = 1 — and from .jsonl files, one JSON object per line with "text", or
 * with "prompt" and "completion" (SFT: the prompt's tokens are marked as prompt and an
 * EOS follows the completion). Every document starts with BOS when the vocabulary has
 * one. Files ending in .ids
 * hold ids made elsewhere: one document per non-blank line of whitespace-separated
 * decimal ids, "|" after the prompt's (tok may be NULL when every file is .ids). */
typedef struct {
    int lines;         /* text files: one document per non-empty line */
    int64_t n_docs;    /* out: documents added */
    int64_t n_skipped; /* out: JSONL documents with empty text skipped */
} tl_corpus_opts;

tl_status tl_corpus_add_file(tl_token_builder *b, const tl_tokenizer *tok, const char *path,
                             tl_corpus_opts *opts);

/* ======================================================================== *
 * Objectives (objective.c)                                                  *
 * ======================================================================== */

/* An objective turns a batch of token rows into what the model trains on: inputs and
 * targets [B, T] (targets < 0 are not counted) and the attention spec. New objectives
 * (BICO, ...) register in the table in objective.c; the trainer only sees this struct. */
typedef struct tl_objective tl_objective;
struct tl_objective {
    const char *name;
    tl_window_mode windows; /* how the data is cut for it */
    /* rng: the trainer's stream (saved with checkpoints), for objectives that sample
     * (masking); attn's buffers belong to the objective and live until the next call. */
    tl_status (*make)(tl_objective *o, const tl_batch *b, tl_rng *rng, int32_t *inputs,
                      int32_t *targets, tl_attn_spec *attn);
    void (*free_state)(tl_objective *o);
    void *state; /* objective-owned scratch, sized for (B, T) */
};

/* What an objective may need to know when it is made. */
typedef struct {
    int B, T;          /* batch shape */
    int vocab_size;    /* the model's V */
    int32_t bos, eos;  /* from the run's tokenizer, -1 when unknown */
} tl_objective_ctx;

/* Create an objective from a spec "name" or "name:options" ("ntp", "sft", "bico:p=0.5"):
 * the options string goes to the objective's constructor untouched (NULL without ':'),
 * so an objective can take settings without the trainer or the CLI knowing them. */
tl_status tl_objective_new(const char *spec, const tl_objective_ctx *ctx, tl_objective **out);
void tl_objective_free(tl_objective *o);
/* The registered objectives, for help texts: names 0 .. count-1. */
int tl_objective_count(void);
const char *tl_objective_name(int i);

/* ======================================================================== *
 * The trainer (trainer.c)                                                   *
 * ======================================================================== */

/* What the progress callback sees after every step. */
typedef struct {
    int64_t step, steps;  /* updates done, total */
    double loss;          /* mean training loss of this step */
    double val_loss;      /* NaN unless evaluated at this step */
    double lr, grad_norm; /* learning rate used, gradient norm before clipping */
    double tokens_per_s;  /* this step */
    double elapsed, eta;  /* seconds */
    int saved;            /* a checkpoint was written at this step */
} tl_train_progress;
typedef void (*tl_train_progress_fn)(void *user, const tl_train_progress *p);

typedef struct {
    /* the model: a file (model_path), or cfg initialised from seed */
    const char *model_path;
    const char *config_path;  /* JSON with the model shape (tiller or Hugging Face keys); */
    tl_config cfg;            /* fields set here (non-zero) override it */
    uint64_t seed;            /* init, data order, objective sampling */
    const char *tokenizer_path; /* stored in checkpoints whose format holds one (GGUF) */
    /* data and objective */
    const char *data_path;    /* token file from tl_token_builder_write */
    const char *objective;    /* "ntp" */
    int batch, seq, accum;    /* B, T, micro-batches per step */
    int64_t steps;
    /* optimiser and schedule */
    float lr, min_lr_ratio;   /* peak; floor of the cosine = lr * min_lr_ratio */
    int warmup;               /* linear warm-up steps */
    float beta1, beta2, eps, weight_decay, grad_clip; /* grad_clip 0 = off */
    /* validation */
    int eval_every, eval_batches; /* eval_every 0 = only at checkpoints */
    /* output */
    const char *out_dir;
    int save_every;           /* checkpoint every N steps (0 = off) */
    int save_log;             /* K log-spaced checkpoints (0 = off) */
    const char *ckpt_ext;     /* model file extension: "gguf", "bin", "safetensors" */
    int keep_state;           /* keep every checkpoint's optimiser state, not just the latest */
    const char *resume_dir;   /* continue the run in this directory (settings from its manifest) */
    int64_t stop_at;          /* > 0: stop after this step, with a checkpoint (resume later) */
    /* test-only fault injection (documented in `tiller train --help`) */
    int64_t test_inf_step;    /* >= 1: make the loss of this step +inf */
    double test_save_pause;   /* seconds to sleep halfway through writing the optimiser state */
    tl_train_progress_fn progress;
    void *progress_user;
} tl_train_opts;

void tl_train_opts_defaults(tl_train_opts *o);
/* Train (or resume) as described; writes checkpoints, manifest.json and train_log.csv
 * under out_dir. A non-finite loss stops the run with TL_E_NUMERIC naming the step;
 * the last good checkpoint and the manifest are left as they were. */
tl_status tl_train_run(const tl_train_opts *o);
/* Checkpoint steps of a run of `steps` updates: multiples of every (if > 0), K log-spaced
 * steps (if log_k > 0; 0 and `steps` included, distinct), and always `steps`. Sorted,
 * without duplicates; *out is allocated with tl_malloc. */
tl_status tl_train_schedule(int64_t steps, int every, int log_k, int64_t **out, int *n);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_TRAIN_H */
