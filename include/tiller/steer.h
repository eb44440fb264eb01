/*
 * control/steer: steering vectors (METHODS.md §1 "Steering vectors", §5
 * "llama.cpp control vector GGUF"). This module owns
 *
 *   steer.c       the vector (one direction per layer), building it from
 *                 positive/negative activations (mean difference, PCA of paired
 *                 differences), the edit hook that adds it to the residual stream,
 *                 and the llama.cpp control-vector GGUF file (write + checked read)
 *   steer_data.c  positive/negative text pairs from the supported sources
 *                 (statement,label CSV, the world's steering pairs, HH-RLHF
 *                 chosen/rejected) and `tl_steer_build_run`, which captures them
 *                 through a model and builds the vector
 *
 * Layer indexing. llama.cpp adds tensor direction.<il> (il = 1 .. n_layer - 1) to
 * the output of decoder block il (0-based), i.e. to what tiller calls
 * resid_post.il. So direction.L <-> resid_post.L, with the same L. Layer 0 has no
 * tensor in llama.cpp's format (its loader rejects direction.0), so a vector for
 * resid_post.0 cannot be stored and is refused at build time.
 *
 * Application (tl_steer_hook): for L in [first, last], resid_post.L += scale *
 * v_L at every position of every forward call (llama.cpp's semantics), or with
 * last_only at the last row of each forward call only (the reference's hook on
 * one layer: the newest token of each generation step; a prompt longer than the
 * session's max_batch is run in chunks, and then the last row of each chunk gets
 * it). The residual stream after block L feeds block L + 1, so the edit
 * propagates exactly as llama.cpp's ggml_add after the block.
 *
 * Shapes: C model width, L layers, N rows (statements), P pairs.
 */
#ifndef TL_CONTROL_STEER_H
#define TL_CONTROL_STEER_H

#include "tiller/model.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* A steering vector: one direction per layer (layout in src/control/steer_vec.h). Row 0
 * is always zero (llama.cpp never stores layer 0). */
typedef struct tl_steer_vec tl_steer_vec;

tl_status tl_steer_vec_new(int dim, int n_layers, const char *model_hint, tl_steer_vec **out);
void tl_steer_vec_free(tl_steer_vec *v);
/* Width C; the model's layer count L (directions for 1 .. L - 1); whether layer l has a
 * built direction (0: all zeros); that direction [C] (NULL outside 0 .. L - 1); the
 * controlvector.model_hint; the free text stored as tiller.steer.info (NULL when none). */
int tl_steer_vec_dim(const tl_steer_vec *v);
int tl_steer_vec_n_layers(const tl_steer_vec *v);
int tl_steer_vec_has(const tl_steer_vec *v, int layer);
const float *tl_steer_vec_direction(const tl_steer_vec *v, int layer);
const char *tl_steer_vec_model_hint(const tl_steer_vec *v);
const char *tl_steer_vec_info(const tl_steer_vec *v);

/* ---- building from activations ---------------------------------------------- */

typedef enum {
    TL_STEER_MEAN_DIFF = 0, /* the reference: mean(label 1) - mean(label 0) */
    TL_STEER_PCA = 1,       /* first principal axis of the paired differences pos_i - neg_i */
} tl_steer_method;
const char *tl_steer_method_name(tl_steer_method m);
tl_status tl_steer_method_parse(const char *s, tl_steer_method *out);

typedef enum {
    TL_STEER_NORM_STD = 0,  /* unit length times the std (n - 1) of all rows' projections (the reference) */
    TL_STEER_NORM_UNIT = 1, /* unit length (what llama.cpp's cvector-generator writes) */
} tl_steer_norm;

/* One layer's direction from activations A [N, C] (not centred) with labels y
 * [N] (0/1) and P pairs (pos[i], neg[i]: row indices, label 1 and label 0).
 * Only the first n_fit rows (and the pairs whose rows both lie there) choose the
 * direction; the norm uses all N rows (as the reference: train rows for the mean,
 * all rows for the projection std).
 *   MEAN_DIFF: v = mean(A[y = 1]) - mean(A[y = 0]) over the first n_fit rows.
 *   PCA:       D [P', C] = A[pos] - A[neg]; v = the top eigenvector of D^T D (the
 *              uncentred second moment, as llama.cpp's cvector-generator), signed
 *              so that v . mean(D) >= 0.
 * v is then normalised (norm). TL_E_ARG when a class or every pair is missing,
 * TL_E_NUMERIC when the direction is zero. */
tl_status tl_steer_direction(const float *A, const int64_t *y, int N, int C, const int *pos, const int *neg, int P,
                             int n_fit, tl_steer_method method, tl_steer_norm norm, float *v);

/* A random direction with like's norms (steer_random.c): for each layer l in first .. last,
 * C independent standard normal draws (tl_rng seeded with seed, layers in order) rescaled to
 * |like_l|, so it is a uniformly random direction of that norm; other layers are zero. The
 * baseline for "any push of that size moves the score" (docs/steering.md). */
tl_status tl_steer_random_like(const tl_steer_vec *like, int first, int last, uint64_t seed, tl_steer_vec **out);

/* ---- application --------------------------------------------------------------- */

typedef struct {
    const tl_steer_vec *vec;
    float scale; /* A */
    int first;   /* layers first .. last (inclusive) */
    int last;
    int last_only; /* 1: only the last row of each forward call (the reference) */
} tl_steer_hook;

/* Check that vec fits the model (same width and layer count) and that the layer
 * range lies in 1 .. L - 1; `what` names the vector file in messages. */
tl_status tl_steer_check(const tl_steer_hook *h, const tl_config *c, const char *what);
/* Register h on hooks (resid_post of every layer; the hook skips layers outside
 * the range). h must outlive every session the hooks are copied into. The hook
 * only reads h, so it may run on several sessions at once. */
tl_status tl_steer_attach(const tl_steer_hook *h, tl_hooks *hooks);
/* Parse a layer range "I-J", "I" or "all" (= 1 .. n_layers - 1). */
tl_status tl_steer_parse_layers(const char *s, int n_layers, int *first, int *last);

/* ---- llama.cpp control-vector GGUF ---------------------------------------------- */

/* Write general.architecture = "controlvector", controlvector.model_hint,
 * controlvector.layer_count (int32, = L - 1) and one f32 tensor direction.<il>
 * [C] for il = 1 .. L - 1 (zeros where no direction was built, which llama.cpp
 * treats as no edit), plus tiller.steer.info. Atomically. */
tl_status tl_steer_save(const tl_steer_vec *v, const char *path);
/* Read and validate a control-vector GGUF: the architecture, the hint (a string),
 * layer_count, every direction.<il> for il = 1 .. layer_count present once, 1-D,
 * f32 (f16 is converted), all of the same length, no other tensors. Errors name
 * the file. n_layers = layer_count + 1. */
tl_status tl_steer_load(const char *path, tl_steer_vec **out);

/* ---- building from text pairs (steer_data.c) ---------------------------------- */

/* Positive/negative texts. rows alternate or not; pos[i]/neg[i] index them. */
typedef struct {
    char *path;
    int n;          /* rows */
    char **text;    /* [n] */
    int64_t *label; /* [n] 1 = positive (safe, truthful, chosen), 0 = negative */
    int n_pairs;
    int *pos, *neg; /* [n_pairs] */
    int full_fit;   /* the reference fits on every row for this file (truthfulqa_train) */
} tl_steer_data;

/* Load pairs from:
 *   *.csv    statement,label: the k-th label-1 row pairs with the k-th label-0 row
 *            (file order; the world's steering/pairs.csv is safe, unsafe, safe, ...);
 *   *.jsonl  {"prompt", "safe", "unsafe"[, "dimension"]} (tiller world's
 *            steering/pairs.jsonl: texts prompt + completion) or {"chosen",
 *            "rejected"} (HH-RLHF); rows are positive, negative per pair.
 * dimension (jsonl with a "dimension" field) keeps only those pairs (NULL = all);
 * limit > 0 keeps the first `limit` pairs. Errors name file:line. */
tl_status tl_steer_data_load(const char *path, const char *dimension, int limit, tl_steer_data **out);
void tl_steer_data_free(tl_steer_data *d);

typedef struct {
    const char *layers; /* layer range to build (tl_steer_parse_layers; NULL = all) */
    tl_steer_method method;
    tl_steer_norm norm;
    double fit_frac; /* rows choosing the direction: first floor(frac * N); <= 0 = the
                      * reference (0.5, or 1 for truthfulqa_train) */
    int last_token;  /* 1 = last token (the reference), 0 = mean over positions */
    int n_workers;   /* capture workers (0 = the thread count) */
} tl_steer_build_opts;
void tl_steer_build_opts_default(tl_steer_build_opts *o);

/* Tokenise d with BOS (keeping BOS + the last n_ctx - 1 tokens of longer texts,
 * where chosen and rejected differ), capture resid_post at the chosen layers of
 * m, build one direction per layer. */
tl_status tl_steer_build(const tl_model *m, const tl_tokenizer *tok, const tl_steer_data *d,
                         const tl_steer_build_opts *o, tl_steer_vec **out);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_CONTROL_STEER_H */
