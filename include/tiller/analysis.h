/*
 * analysis: what tiller learns from a model's activations — the trust-dynamics
 * method of METHODS.md §1 (linear probes per layer per checkpoint, the
 * information plane). This module owns:
 *
 *   dataset.c    `statement,label` CSV files (labels 0/1) and their tokenisation
 *   capture.c    activation capture: named hook points, token reduction (last | mean),
 *                one statement per forward on per-worker sessions
 *   actstore.c   activation directories on disk and checkpoint series (layout below)
 *   linalg.c     dense helpers over OpenBLAS / LAPACK: standardisation, PCA, Cholesky
 *   logreg.c     L2-regularised logistic regression (Newton or L-BFGS), probe accuracy
 *   infoplane.c  information-plane estimators: binning (Shwartz-Ziv & Tishby) and the
 *                normalised HSIC of the reference code
 *   runs.c       probe / infoplane runs over a series, writing CSV, JSON and SVG
 *
 * An activation directory (one model, one dataset):
 *   <point>.npy   float32 [N, width]   e.g. resid_post.3.npy; one row per statement
 *   labels.npy    int64 [N]
 *   entities.npy  int64 [N], optional: the entity each row is about (the dataset's
 *                 `entity` column as ids), the clusters of the probes' bootstrap
 *   meta.json     {"format": "tiller-acts", model, dataset, tokenizer, step, points,
 *                  token, counts}; written last, so its presence marks the
 *                  directory complete (resume skips it)
 * A series directory holds one such directory per checkpoint (named after the
 * checkpoint file, e.g. ckpt-100/) and series.json listing them in step order.
 *
 * Shapes: N statements, d (or C) features, m training rows, k PCA dimensions.
 */
#ifndef TL_ANALYSIS_H
#define TL_ANALYSIS_H

#include "tiller/format.h"
#include "tiller/model.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* ---- datasets ---------------------------------------------------------------- */

typedef struct {
    char *path;
    int n;
    char **text;    /* [n] NUL-terminated statements */
    size_t *len;    /* [n] byte lengths */
    int64_t *label; /* [n] 0 or 1 */
    int *line;      /* [n] the line each row starts on, for messages */
    int *entity;    /* [n] the row's `entity` column as ids 0 .. n_entities - 1 (in order of first
                     * appearance), NULL when the file has no such column: the clusters of the
                     * probes' bootstrap intervals (rows about one entity are not independent) */
    char **entity_name; /* [n_entities] */
    int n_entities;
} tl_dataset;

/* Read a CSV file with a header naming a `statement` and a `label` column (any
 * order, other columns ignored; an `entity` column, when present, fills entity). Blank lines are skipped (as pandas does). Errors
 * name file:line: malformed CSV, a row with a different field count than the
 * header, a label other than 0 or 1, no rows. */
tl_status tl_dataset_load(const char *path, tl_dataset **out);
void tl_dataset_free(tl_dataset *d);

typedef struct {
    int n;
    int32_t **ids; /* [n][len[i]], BOS first */
    int *len;      /* [n] */
    int max_len;
    int64_t total; /* sum of len */
} tl_token_seqs;

/* A statement or steering text longer than this is refused before it is tokenised:
 * encoding time grows faster than linearly with a text's length (a 100 MB row took
 * minutes and gigabytes before the context check could fail), and 1 MiB is already
 * far beyond any context a forward pass on CPU could use. */
#define TL_TEXT_MAX_BYTES ((size_t)1 << 20)

/* Tokenise every statement with BOS (as the reference: tokenizer.encode adds it).
 * TL_E_RANGE naming file:line for a statement over TL_TEXT_MAX_BYTES. */
tl_status tl_dataset_tokenize(const tl_dataset *d, const tl_tokenizer *t, tl_token_seqs **out);
void tl_token_seqs_free(tl_token_seqs *s);

/* ---- capture ------------------------------------------------------------------ */

typedef enum {
    TL_REDUCE_LAST = 0, /* the last token's row (the reference) */
    TL_REDUCE_MEAN = 1, /* the mean over every position, BOS included */
} tl_reduce;
const char *tl_reduce_name(tl_reduce r);
tl_status tl_reduce_parse(const char *s, tl_reduce *out);

typedef struct {
    tl_hook_point point;
    int layer; /* -1 for points outside blocks */
    int width; /* C, or V for logits */
    char name[40];
} tl_act_point;

/* A comma-separated list of hook points: "resid_post" means every layer's
 * resid_post.L; "resid_post.3", "embed", "final_norm", ... as tl_hook_parse.
 * Layers beyond the model's are refused. *out is tl_malloc'ed. */
tl_status tl_act_points_parse(const char *spec, const tl_config *c, tl_act_point **out, int *n);

typedef struct tl_capturer tl_capturer;
/* n_workers sessions (each with a context of max_len), each running whole
 * statements with the forward's own threading off; n_workers 1 runs one
 * statement at a time with the forward's OpenMP threading instead. The rows do
 * not depend on n_workers (test_capture checks bit-identity). */
tl_status tl_capturer_new(const tl_model *m, const tl_act_point *pts, int n_pts, tl_reduce r, int max_len,
                          int n_workers, tl_capturer **out);
/* out[p] receives [n, pts[p].width] rows, one per sequence. */
tl_status tl_capturer_run(tl_capturer *c, const int32_t *const *seqs, const int *lens, int n,
                          float *const *out);
void tl_capturer_free(tl_capturer *c);

/* ---- activation directories and series ------------------------------------------ */

typedef void (*tl_progress_fn)(void *user, int64_t done, int64_t total);

typedef struct {
    const char *points; /* hook point list (tl_act_points_parse), default "resid_post" */
    tl_reduce reduce;
    int truncate;       /* keep the first n_ctx tokens of longer statements (else an error) */
    int n_workers;      /* 0 = choose from the model size and the thread count */
    int block;          /* statements captured between writes (0 = 256) */
    int split_ranks;    /* under MPI: every rank captures a share of each block, rank 0 writes */
    int limit;          /* > 0: only the first `limit` statements (file order) */
    tl_progress_fn progress;
    void *progress_user;
} tl_acts_opts;

/* Everything meta.json records about a capture, plus the labels. */
typedef struct {
    char *dir;
    char *name;        /* checkpoint name ("" for a single model) */
    int64_t step;      /* -1 when unknown */
    char *model, *dataset, *tokenizer, *token;
    char *points_spec; /* the hook point list as given (e.g. "resid_post") */
    int n;             /* statements */
    int n_points;
    char **points;     /* [n_points] names */
    int *width;        /* [n_points] */
    int64_t *labels;   /* [n] from labels.npy */
    int64_t *entities; /* [n] from entities.npy (the dataset's `entity` column as ids), NULL if absent */
    int64_t n_tokens, n_truncated;
} tl_acts_meta;

/* Capture dataset d (tokenised as toks) through model m into dir (created if
 * missing). If dir already holds a complete capture with the same settings it
 * is left as it is and *skipped = 1; a complete capture with other settings is
 * an error (TL_E_ARG) rather than silently replaced. */
tl_status tl_acts_capture(const tl_model *m, const char *model_path, int64_t step, const tl_dataset *d,
                          const tl_token_seqs *toks, const char *tok_path, const tl_acts_opts *o,
                          const char *dir, int *skipped);
/* Is dir a complete capture (meta.json present)? */
int tl_acts_complete(const char *dir);
/* For a complete capture in dir: TL_OK if it was made with these settings (files
 * compared by name, not path, so a run resumed from elsewhere matches), else
 * TL_E_ARG naming the difference. */
tl_status tl_acts_check_existing(const char *dir, const char *model_path, const char *data_path, int n,
                                 const char *spec, tl_reduce r);

tl_status tl_acts_open(const char *dir, tl_acts_meta **out);
void tl_acts_meta_free(tl_acts_meta *a);
/* Load point p as float32 [n, width], checking the shape against meta.json. */
tl_status tl_acts_load_point(const tl_acts_meta *a, int p, tl_npy **out);
int tl_acts_find_point(const tl_acts_meta *a, const char *name); /* -1 if absent */

typedef struct {
    int64_t step;
    char *name; /* file name without extension, e.g. "ckpt-100" */
    char *path; /* the model file */
} tl_ckpt;

typedef struct {
    int n;
    tl_ckpt *items; /* sorted by step */
} tl_ckpt_list;

/* The checkpoints of a series: DIR/manifest.json (tiller train) when present, else every
 * checkpoint in DIR named with its step — ckpt-<N>.<ext> or *step<N>*.<ext> model files
 * (.gguf, .bin, .safetensors) and Hugging Face revision directories (step1000/ with config.json);
 * or, when DIR is a .csv file, its step,path records (paths relative to the CSV). Sorted by step;
 * two checkpoints for one step are an error. */
tl_status tl_series_list(const char *dir, tl_ckpt_list *out);
void tl_ckpt_list_free(tl_ckpt_list *l);

/* Write DIR/series.json naming the complete captures among `ckpts` (atomically). */
tl_status tl_series_write_index(const char *dir, const tl_ckpt_list *ckpts);

/* Capture a dataset file through one model (ckpts of one, series = 0: into
 * out_dir itself) or through every checkpoint of a series (into out_dir/<name>/,
 * rewriting out_dir/series.json after each). Complete captures with the same
 * settings are skipped without loading their model. The tokenizer is `tokenizer`
 * or else each model's own. */
typedef enum { TL_ACTS_START, TL_ACTS_SKIPPED, TL_ACTS_DONE } tl_acts_event;
typedef struct {
    tl_acts_opts acts;
    const char *tokenizer;
    void (*on_ckpt)(void *user, int i, int n, const tl_ckpt *c, tl_acts_event e, double seconds);
    void *user;
} tl_acts_run_opts;
typedef struct {
    int captured, skipped;
    int64_t tokens;
    double seconds;
} tl_acts_run_report;
tl_status tl_acts_run(const tl_ckpt_list *ckpts, int series, const char *data_path, const tl_acts_run_opts *o,
                      const char *out_dir, tl_acts_run_report *rep);

typedef struct {
    int n;
    tl_acts_meta **items; /* in step order */
} tl_acts_series;

/* DIR is either one capture (meta.json) or a series: the directories named by
 * DIR/series.json, or else every subdirectory holding a meta.json, by step. All
 * must share points, widths, row count and labels. */
tl_status tl_acts_series_open(const char *dir, tl_acts_series **out);
void tl_acts_series_free(tl_acts_series *s);

/* ---- dense helpers (linalg.c) ------------------------------------------------------ */

/* Z[n, d] = (X - mean) / std per column over all n rows, std with n - 1 in the
 * denominator (torch.std, as the reference). A constant column becomes zeros
 * (the reference would divide by zero). */
void tl_standardize(const float *X, int n, int d, double *Z);

/* Cholesky factor of a symmetric positive definite A [n, n] in place (lower
 * triangle), then its inverse (full, symmetric). TL_E_NUMERIC if not PD. */
tl_status tl_spd_inverse(double *A, int n);

/* PCA of the rows of Z [n, d] (centred here): the k leading principal axes,
 * each signed so that its largest-magnitude entry is positive, and the scores
 * S [n, k] = (Z - mean) @ axes; eigval[k] are the covariance eigenvalues
 * (divided by n - 1), descending. Uses the d x d covariance or, when n < d, the
 * n x n Gram matrix. */
tl_status tl_pca(const double *Z, int n, int d, int k, double *S, double *eigval);

/* ---- logistic regression (logreg.c) ------------------------------------------------- */

typedef enum { TL_SOLVER_AUTO = 0, TL_SOLVER_NEWTON = 1, TL_SOLVER_LBFGS = 2 } tl_solver;
const char *tl_solver_name(tl_solver s);
tl_status tl_solver_parse(const char *s, tl_solver *out);

typedef struct {
    double C;        /* inverse L2 strength, sklearn's C (1.0) */
    double tol;      /* stop when max |gradient| <= tol * n (default 1e-10); Newton also counts a fit
                        as converged at the optimum to rounding (tl_logreg_info.decrement) */
    int max_iter;    /* Newton or L-BFGS iterations (default 10000) */
    tl_solver solver;
} tl_logreg_opts;
void tl_logreg_opts_default(tl_logreg_opts *o);

typedef struct {
    int iters;
    int converged;
    double loss;      /* the objective at the solution */
    double grad_max;  /* max |gradient| at the solution */
    tl_solver solver; /* the solver used (AUTO resolved) */
    double decrement; /* Newton, short of the gradient tolerance: g^T H^-1 g / 2, the fall in the
                         objective still possible; converged if within its rounding (0 otherwise,
                         NaN for L-BFGS) */
} tl_logreg_info;

/* Minimise sum_i log(1 + exp(-s_i (w.x_i + b))) + |w|^2 / (2C) (s_i = 2 y_i - 1;
 * the intercept b is not penalised): sklearn's LogisticRegression objective.
 * X [n, d] row-major, y [n] in {0, 1} with both classes present. w [d + 1] holds
 * (w, b); its input value is the starting point (zeros for a cold start). */
tl_status tl_logreg_fit(const double *X, const int64_t *y, int n, int d, const tl_logreg_opts *o, double *w,
                        tl_logreg_info *info);
/* Fraction of rows where (w.x + b > 0) == y, as sklearn's predict. */
double tl_logreg_accuracy(const double *X, const int64_t *y, int n, int d, const double *w);

/* ---- probes ------------------------------------------------------------------------ */

typedef struct {
    tl_logreg_opts lr;
    double split;  /* train fraction: the first floor(split * N) rows train (0.8) */
    double val;    /* > 0: the last floor(val * N) of those rows validate instead (train | val | test) */
    int folds;     /* > 1: contiguous k-fold in file order instead of the split */
    int warm;      /* warm-start from the previous checkpoint's weights of the same point */
} tl_probe_opts;
void tl_probe_opts_default(tl_probe_opts *o);

typedef struct {
    double acc;       /* test accuracy (mean over folds) */
    double train_acc; /* training accuracy (mean over folds) */
    double val_acc;   /* validation accuracy (val > 0; else NaN) */
    int n_val, n_test; /* rows (n_test: of the split; 0 with folds) */
    int iters;        /* solver iterations (summed over folds) */
    int converged;    /* every fit converged */
} tl_probe_result;

/* Probe one standardised matrix Z [n, d]. w [d + 1] is the warm start on input
 * and the (last fold's) weights on output. */
tl_status tl_probe_fit(const double *Z, const int64_t *y, int n, int d, const tl_probe_opts *o, double *w,
                       tl_probe_result *r);

/* ---- information plane (infoplane.c) --------------------------------------------------- */

/* Symbols of n rows of k ints: equal rows share an id; ids count 0.. in order of
 * first appearance. *n_sym = the number of distinct rows. */
tl_status tl_symbols(const int32_t *rows, int n, int k, int32_t *ids, int *n_sym);
/* Entropy in bits of a labelling ids [n] (ids in 0 .. n - 1), and of a pair of
 * labellings (any int32 values). */
double tl_entropy_bits(const int32_t *ids, int n);
tl_status tl_joint_entropy_bits(const int32_t *a, const int32_t *b, int n, double *h);
/* Equal-width bins per column: bins[i, j] = floor((S[i, j] - min_j) / (max_j - min_j) * B),
 * the column's maximum in bin B - 1; a constant column is all bin 0. */
void tl_bin_columns(const double *S, int n, int k, int B, int32_t *bins);

/* Symbols of the rows of A [m, d]: projected to k PCA dimensions (all d when
 * k >= d), binned by tl_bin_columns into B bins, distinct rows counted. */
tl_status tl_binned_symbols(const double *A, int m, int d, int k, int B, int32_t *ids, int *n_sym);

typedef struct {
    double i_xt, i_yt;      /* bits */
    double h_t, h_x, h_y;   /* bits */
    int n_sym_t, n_sym_x;
} tl_binning_result;

/* The binning estimator on T [m, d] (standardised), inputs x_ids [m] (symbols of
 * X), labels y [m]: T is projected to k PCA dimensions and binned into B
 * equal-width bins per dimension; each distinct binned row is a symbol.
 * I(T;X) = H(T) - H(T|X) = H(T) + H(X) - H(T,X) (= H(T) when the x_ids are
 * distinct), I(T;Y) = H(T) - sum_y p(y) H(T|Y=y). If k >= d, T is binned without
 * projection. */
tl_status tl_binning_estimate(const double *T, const int32_t *x_ids, const int64_t *y, int m, int d, int k,
                              int B, tl_binning_result *r);
/* Symbols of X for the binning estimator: rows of X [m, d] that are bit-identical
 * share an id (the same statement gives the same activations). */
tl_status tl_symbols_exact(const double *X, int m, int d, int32_t *ids, int *n_sym);

/* Normalised HSIC of the reference (mi_estimators.py): with the Gaussian kernel
 * K_ij = exp(-|a_i - a_j|^2 / (2 sigma^2 d)), Kc = K H (H = I - 11^T/m),
 * R = Kc (Kc + eps m I)^-1. tl_hsic_r fills R [m, m] for A [m, d]. */
tl_status tl_hsic_r(const double *A, int m, int d, double sigma, double eps, double *R);
/* The same by the literal formula with an LU solve (8/3 m^3 flops against m^3 for
 * tl_hsic_r's Cholesky route): its fallback when K + eps m I is not numerically
 * positive definite, and a cross-check in the tests. */
tl_status tl_hsic_r_lu(const double *A, int m, int d, double sigma, double eps, double *R);
/* sum_ij (Ra o Rb^T)_ij = trace(Ra Rb), the estimate for a pair of variables. */
double tl_hsic_pair(const double *Ra, const double *Rb, int m);

/* ---- runs over series (runs.c) ------------------------------------------------------------ */

typedef struct {
    tl_probe_opts probe;
    tl_progress_fn progress;
    void *progress_user;
    double *acc_out; /* optional: receives the [checkpoints, points] test accuracies */
    /* the protocol (probe.val > 0): layer chosen on validation, accuracy on test */
    double threshold;  /* "first checkpoint whose selected layer's 95 % lower bound >= threshold" (0.9);
                        * the bound is the cluster bootstrap's */
    uint64_t seed;     /* of the shuffled-label baseline and the bootstrap */
    double *sel_out;   /* optional: [checkpoints, 5]: layer chosen on validation, its validation accuracy,
                        * test accuracy, Wilson 95 % lower and upper bounds */
    int first_c;       /* out: that first checkpoint, -1 if none */
    int best_c, best_p; /* out: the (checkpoint, point) with the best validation accuracy */
    double best_test, best_lo, best_hi; /* out: its test accuracy and 95 % interval */
    int n_test;        /* out: test rows */
    /* the cluster bootstrap (2,000 replicates, percentile 95 %) of each chosen layer's test accuracy
     * over the test rows' entities (the capture's entities.npy; without it every row is a cluster):
     * rows about one person, group or word are not independent, and the Wilson interval (sel_out,
     * test_lo95) treats them as if they were */
    double *boot_out;  /* optional: [checkpoints, 3]: bootstrap lower, upper bound, clusters */
    double best_boot_lo, best_boot_hi; /* out: the bootstrap interval of the best (checkpoint, point) */
    int n_clusters;    /* out: clusters among the test rows */
    /* optional baselines drawn beside the curve of probe_selected.svg (and written to
     * probe_selection.csv); 0 or NaN = none. Without random_init_acc, a first checkpoint at
     * step 0 is the random-init model of the same shape and is drawn as that baseline. */
    double bow_acc;                                      /* bag of words on the same split */
    double random_init_acc, random_init_lo, random_init_hi; /* a random-init model, with its interval */
} tl_probe_run_opts;

/* Probe every point of every checkpoint of the series; write to out_dir:
 * probe_accuracy.csv (checkpoint x point), probe.json, probe_heatmap.svg and
 * probe_curves.svg. With probe.val > 0 also probe_selection.csv and
 * probe_selected.svg: per checkpoint the layer chosen on validation, its test
 * accuracy with a Wilson 95 % interval, and beside it the baselines (shuffled
 * training labels at that layer, the majority class, the `embed` point if
 * captured). */
tl_status tl_probe_run(const tl_acts_series *s, tl_probe_run_opts *o, const char *out_dir);

typedef enum { TL_EST_BINNING = 1, TL_EST_HSIC = 2, TL_EST_BOTH = 3 } tl_estimator;
tl_status tl_estimator_parse(const char *s, tl_estimator *out);

typedef struct {
    tl_estimator est;
    double split;        /* the training rows: first floor(split * N) (0.8) */
    const char *x_point; /* the input representation X (resid_post.0) */
    int pca_dims;        /* binning: k */
    int bins;            /* binning: B */
    int x_binned;        /* binning: X = binned PCA of x_point (else exact rows) */
    double sigma, eps;   /* HSIC: 50, 1e-5 */
    int hsic_rows;       /* HSIC: use only the first rows of the training set (0 = all) */
    const char *panels;  /* points drawn in the info-plane scatter (NULL = a spread of layers) */
    tl_progress_fn progress;
    void *progress_user;
    double *ixt_out;     /* optional: receives [checkpoints, points] I(X;T), HSIC (else binning), shuffle-corrected */
    double *iyt_out;     /* optional: the same for I(T;Y) */
    int shuffles;        /* bias correction: shuffles of Y (and of X's rows) averaged and subtracted (10) */
    uint64_t seed;       /* of the shuffles and the Monte Carlo permutation tests */
    double alpha;        /* level of the per-point verdicts (0.05) */
    double *p_rise_out;  /* optional: [points] p of "I(X;T) rises then falls" (the estimator of ixt_out) */
    double *p_incr_out;  /* optional: [points] p of "I(T;Y) increases" */
    double max_saturation; /* out: the largest distinct-symbols / m of binning's T (0 without binning) */
    /* 95 % percentile intervals of every estimate: a bootstrap over the rows' entities (entities.npy;
     * without it over rows) with this many resamples (200; 0 = none), seeded by seed; binning's
     * shuffle-corrected values use boot_shuffles shuffles of each resample (2) */
    int boot, boot_shuffles;
    double *ixt_ci_out;  /* optional: [checkpoints, points, 2] lower, upper bound of ixt_out's value */
    double *iyt_ci_out;  /* optional: the same for iyt_out */
} tl_infoplane_opts;
void tl_infoplane_opts_default(tl_infoplane_opts *o);

/* Both estimators for every point of every checkpoint, each with its mean under
 * shuffles (subtracted: the corrected values); per point, permutation tests over
 * checkpoint order of "I(X;T) rises then falls" and "I(T;Y) increases" on the
 * corrected values (3 or more checkpoints). Writes infoplane.csv,
 * infoplane_tests.csv, infoplane.json and infoplane_<estimator>.svg to out_dir;
 * warns when binning's T has more than m / 2 distinct symbols (saturation). */
tl_status tl_infoplane_run(const tl_acts_series *s, tl_infoplane_opts *o, const char *out_dir);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_ANALYSIS_H */
