/*
 * demo: `tiller demo` — the whole study on a laptop, as a pipeline of stages with
 * cached, resumable outputs, ending in one self-contained DIR/report.html.
 *
 *   world -> tokenizer -> data -> pretrain -> sft -> samples -> acts -> probe
 *         -> infoplane -> eval -> trust -> reversal            -> report.html
 *
 * Each stage is one row of the table in demo.c: a directory name, a section
 * title, a run function and a report function. A stage owns DIR/<name>/ and
 * nothing else; its run function writes there (reading earlier stages' files
 * through tl_demo_path), and the runner writes DIR/<name>/stage.json last,
 * listing every file of the directory with its size. A stage with stage.json is
 * finished: a re-run checks its files against the list (a truncated or missing
 * file is an error naming it) and skips it. A stage that runs makes the
 * directories of every later stage go away first (they were made from older
 * inputs). Stages marked resumable (training, capture) keep their partial
 * outputs and continue them (tl_train_run's resume, tl_acts_run's skip of
 * complete captures); the others start from an empty directory.
 *
 * The report is rebuilt at the end of every run from the finished stages'
 * files: each report function appends one section (tl_html) and writes the
 * data of each chart it draws as CSV beside the chart's SVG in its directory.
 *
 * Adding a stage (see docs/ARCHITECTURE.md, "Adding a demo stage"): write
 * tl_demo_<name>_run and tl_demo_<name>_report in src/demo/stage_<name>.c,
 * declare them below, add a row to the table in demo.c, and, if it needs
 * settings, fields in tl_demo_config with values in both presets.
 *
 * Everything is a deterministic function of (seed, preset, thread count): two
 * runs write identical checkpoints.
 */
#ifndef TL_DEMO_H
#define TL_DEMO_H

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "report/report.h"
#include "tiller/world.h"
#include "tiller/demo.h" /* options, progress, tl_demo_run */

/* Sizes of one demo run (a preset: tl_demo_config_default or _quick). */
typedef struct {
    tl_world_opts world;
    int vocab_size; /* BPE tokenizer size */
    /* the model */
    int dim, hidden, layers, heads, kv_heads, seq;
    /* pre-training */
    int batch, steps, warmup, n_ckpt, eval_every;
    float lr;
    /* supervised fine-tuning into the chat model */
    int sft_batch, sft_steps, sft_warmup;
    float sft_lr;
    /* samples */
    int sample_ckpts;  /* checkpoints sampled (log-spaced in the series, first and last included) */
    int sample_tokens; /* new tokens per sample */
    /* analysis */
    int acts_ckpts; /* checkpoints captured (0 = every checkpoint of the series) */
    int probe_rows; /* statements per probe set: 4/5 from its train split, 1/5 from its test split */
    int eval_limit; /* items per evaluation task (0 = all) */
    /* steering table (trust stage): vectors from trust_sources pre-training checkpoints
     * (log-spread) and from the chat model, added to the chat model at each scale */
    int trust_sources;
    const char *trust_scales; /* comma list, in std units of the difference (tl_trust_opts.scales) */
    int trust_limit;          /* items per evaluation task */
    /* reversal curse (reversal stage): the pre-trained model fine-tuned with ntp, bico and abi on
     * the world's reversal facts (world.n_rev_people people per subset) */
    int rev_steps, rev_batch, rev_seeds;
    int rev_items; /* test items per subtask, spread over the people (0 = all) */
    int rev_choices; /* candidates per item: people in blocks of this many (0 = all) */
    float rev_lr;
    /* SELF-ALIGN (selfalign stage) on the base model with the world's rule files */
    int sa_general, sa_topics, sa_per_topic; /* stage 1 */
    int sa_steps, sa_verbose_steps;          /* stages 3 and 4 (SFT steps, batch 16) */
    int sa_eval_items, sa_tqa_items;         /* world evaluation items, TruthfulQA items (0 = all) */
    int sa_thought;                          /* stage 2 asks for an internal thought (the quick preset's toy
                                              * model never learns the format: it answers directly) */
    int sa_exemplars;                        /* exemplars in the stage-2 prompt; with sa_steps chosen on the
                                              * validation people (scripts/selfalign_design.sh) */
    int seeds; /* pre-training seeds of the seeds stage's bands (tl_demo_opts.seeds; 1 = none added) */
} tl_demo_config;

void tl_demo_config_default(tl_demo_config *c, uint64_t seed);
void tl_demo_config_quick(tl_demo_config *c, uint64_t seed);


/* ---- the stage table ------------------------------------------------------ */

typedef struct tl_demo tl_demo;

typedef struct {
    const char *name;  /* directory under DIR, and the report section's id */
    const char *title; /* report section title */
    int resumable;     /* keep partial outputs when re-run (else start from an empty directory) */
    tl_status (*run)(tl_demo *d, const char *dir);
    /* append the section's body (the runner has opened it); may be NULL */
    tl_status (*report)(tl_demo *d, const char *dir, tl_html *h);
} tl_demo_stage;

/* The table, in pipeline order. */
int tl_demo_stage_count(void);
const tl_demo_stage *tl_demo_stage_at(int i);

/* The run's context, as stages see it. */
struct tl_demo {
    tl_demo_opts o;
    tl_demo_config cfg;
    int stage;      /* index of the running stage */
    double t_stage; /* its start (tl_time_sec) */
};

/* "DIR/<stage>/<rel>" (rel may be NULL: the stage directory). TL_E_RANGE when it does not fit. */
tl_status tl_demo_path(const tl_demo *d, const char *stage, const char *rel, char *buf, size_t cap);
/* snprintf into a path buffer: TL_E_RANGE (with a message) when it does not fit. */
tl_status tl_demo_fmt(char *buf, size_t cap, const char *fmt, ...) TL_PRINTF(3, 4);
/* Report progress inside the running stage (ETA from the rate so far unless eta >= 0). */
void tl_demo_step(tl_demo *d, int64_t done, int64_t total, double eta, const char *detail);
/* The pre-training series (DIR/pretrain/manifest.json), sorted by step. */
tl_status tl_demo_series(const tl_demo *d, tl_ckpt_list *out);
/* k indices of n spread evenly (first and last included; all of them when k <= 0 or k >= n). */
int tl_demo_pick(int n, int k, int *idx);
/* Write a chart: DIR/<stage>/<name>.svg and <name>.csv, and inline the SVG in the
 * report with a caption naming the CSV. */
tl_status tl_demo_chart(const tl_demo *d, tl_html *h, const char *name, const tl_strbuf *svg, const tl_strbuf *csv,
                        const char *caption);
/* Inline an SVG file of a stage's directory, naming its data file in the caption. */
tl_status tl_demo_inline_svg(const tl_demo *d, tl_html *h, const char *stage, const char *svg_rel, const char *csv_rel,
                             const char *caption);

/* ---- stages (stage_*.c) --------------------------------------------------- */

tl_status tl_demo_world_run(tl_demo *d, const char *dir);
tl_status tl_demo_world_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_tokenizer_run(tl_demo *d, const char *dir);
tl_status tl_demo_tokenizer_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_data_run(tl_demo *d, const char *dir);
tl_status tl_demo_data_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_pretrain_run(tl_demo *d, const char *dir);
tl_status tl_demo_pretrain_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_sft_run(tl_demo *d, const char *dir);
tl_status tl_demo_sft_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_samples_run(tl_demo *d, const char *dir);
tl_status tl_demo_samples_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_acts_run(tl_demo *d, const char *dir);
tl_status tl_demo_acts_report(tl_demo *d, const char *dir, tl_html *h);
/* The behavioural test of the probe sets' facts at the captured checkpoints (stage_knowledge.c;
 * run and reported by the acts stage): acts/knowledge.csv. */
#define TL_DEMO_KNOW_MIN 0.80 /* the capability requirement of issue 13 on the final checkpoint */
tl_status tl_demo_knowledge_run(tl_demo *d, const tl_ckpt_list *pick, const char *dir);
/* The behavioural test (tl_world_behave) of the model file at `path` on every dimension's
 * test pairs (world/probes/<dim>_pairs.csv): r[TL_DIM__COUNT] out. */
tl_status tl_demo_knowledge_model(tl_demo *d, const char *path, tl_world_behave_result *r);
tl_status tl_demo_knowledge_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_probe_run(tl_demo *d, const char *dir);
tl_status tl_demo_probe_report(tl_demo *d, const char *dir, tl_html *h);
/* Last token vs mean pooling (stage_pool.c; written and reported by the probe stage): probe/pooling.csv. */
tl_status tl_demo_pool_table(tl_demo *d, const char *dir);
tl_status tl_demo_pool_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_infoplane_run(tl_demo *d, const char *dir);
tl_status tl_demo_infoplane_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_seeds_run(tl_demo *d, const char *dir);
tl_status tl_demo_seeds_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_eval_run(tl_demo *d, const char *dir);
tl_status tl_demo_eval_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_trust_run(tl_demo *d, const char *dir);
tl_status tl_demo_trust_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_reversal_run(tl_demo *d, const char *dir);
tl_status tl_demo_reversal_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_recontrol_run(tl_demo *d, const char *dir);
tl_status tl_demo_recontrol_report(tl_demo *d, const char *dir, tl_html *h);
tl_status tl_demo_selfalign_run(tl_demo *d, const char *dir);
tl_status tl_demo_selfalign_report(tl_demo *d, const char *dir, tl_html *h);

#endif /* TL_DEMO_H */
