/* stage_analysis.c: the analysis stages of the demo — activation capture over the
 * checkpoint series for the five trust dimensions' probe sets (tl_acts_run), probes
 * per checkpoint x layer (tl_probe_run), the information plane (tl_infoplane_run)
 * and the evaluation of the base and chat models on the world's sets
 * (tl_eval_run) — each with its report section. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/dist.h"
#include "tiller/eval.h"
#include "tiller/generate.h"
#include "study/trust_protocol.h" /* internal: tl_trust_bow */
#include "truth_samples.h"

#define PATH_CAP 4096

/* ---- activations -------------------------------------------------------------------- */

/* DIR/acts/<dim>.csv: the probe set the demo captures — 3k rows from the world's train
 * split, then k from its validation split, then k from its test split (each split has
 * entities of its own), so that the probes' 60 / 20 / 20 % split in file order is the
 * world's split by entity. */
static tl_status subset_csv(const char *const split_csv[3], int rows, const char *out, int *n_out) {
    tl_dataset *ds[3] = {0};
    tl_status s = TL_OK;
    for (int i = 0; i < 3 && !s; i++) s = tl_dataset_load(split_csv[i], &ds[i]);
    int k = rows / 5;
    if (!s) {
        if (k > ds[1]->n) k = ds[1]->n;
        if (k > ds[2]->n) k = ds[2]->n;
        if (3 * k > ds[0]->n) k = ds[0]->n / 3;
        if (k < 2) s = tl_errorf(TL_E_FORMAT, "%s: too few statements for a probe set", split_csv[0]);
    }
    tl_strbuf csv = {0};
    int ent = !s && ds[0]->entity && ds[1]->entity && ds[2]->entity; /* carried: the probes' bootstrap clusters */
    tl_strbuf_puts(&csv, ent ? "statement,label,entity\n" : "statement,label\n");
    for (int i = 0; !s && i < 5 * k; i++) {
        int part = i < 3 * k ? 0 : i < 4 * k ? 1 : 2, r = i - (part ? (part + 2) * k : 0);
        tl_csv_field(&csv, ds[part]->text[r]);
        tl_strbuf_printf(&csv, ",%d", (int)ds[part]->label[r]);
        if (ent) {
            tl_strbuf_puts(&csv, ",");
            tl_csv_field(&csv, ds[part]->entity_name[ds[part]->entity[r]]);
        }
        tl_strbuf_puts(&csv, "\n");
    }
    if (!s) s = tl_strbuf_status(&csv);
    if (!s) s = tl_file_write_atomic(out, csv.s, csv.len);
    *n_out = 5 * k;
    tl_strbuf_free(&csv);
    for (int i = 0; i < 3; i++) tl_dataset_free(ds[i]);
    return s;
}

typedef struct {
    tl_demo *d;
    int dim;
    int64_t done, total;
} acts_ui;

static void acts_event(void *user, int i, int n, const tl_ckpt *c, tl_acts_event e, double seconds) {
    acts_ui *ui = user;
    (void)i, (void)n, (void)seconds;
    if (e == TL_ACTS_START) return;
    ui->done++;
    char detail[96];
    snprintf(detail, sizeof detail, "%s %s", tl_world_dim_names[ui->dim], c->name);
    tl_demo_step(ui->d, ui->done, ui->total, -1, detail);
}

tl_status tl_demo_acts_run(tl_demo *d, const char *dir) {
    tl_ckpt_list l = {0}, pick = {0};
    tl_status s = tl_demo_series(d, &l);
    if (s) return s;
    int *idx = tl_malloc(sizeof(int) * (size_t)l.n);
    pick.items = tl_malloc(sizeof(tl_ckpt) * (size_t)l.n);
    if (!idx || !pick.items) s = tl_errorf(TL_E_NOMEM, "out of memory");
    if (!s) {
        pick.n = tl_demo_pick(l.n, d->cfg.acts_ckpts, idx);
        for (int i = 0; i < pick.n; i++)
            pick.items[i] = l.items[idx[i]];
    }
    /* every dimension twice: the last token (the reference) into acts/<dim>, the mean over the
     * statement's positions into acts/<dim>_mean (the probe stage reports both) */
    acts_ui ui = {d, 0, 0, (int64_t)pick.n * TL_DIM__COUNT * 2};
    for (int q = 0; q < 2 * TL_DIM__COUNT && !s; q++) {
        int k = q % TL_DIM__COUNT, mean = q >= TL_DIM__COUNT;
        char splits[3][PATH_CAP], rel[96], csv[PATH_CAP], out[PATH_CAP];
        const char *dim = tl_world_dim_names[k], *split_csv[3] = {splits[0], splits[1], splits[2]};
        int n = 0;
        for (int i = 0; i < 3 && !s; i++) {
            snprintf(rel, sizeof rel, "probes/%s_%s.csv", dim, tl_world_split_names[i]);
            s = tl_demo_path(d, "world", rel, splits[i], sizeof splits[i]);
        }
        tl_demo_fmt(csv, sizeof csv, "%s/%s.csv", dir, dim);
        tl_demo_fmt(out, sizeof out, "%s/%s%s", dir, dim, mean ? "_mean" : "");
        if (!s && !tl_path_exists(csv) && tl_dist_rank() == 0) s = subset_csv(split_csv, d->cfg.probe_rows, csv, &n);
        s = tl_dist_agree(s); /* under mpirun rank 0 writes the subset the ranks then read */
        tl_acts_run_opts o = {0};
        o.acts.points = "embed,resid_post"; /* embed: the embedding-layer baseline of the probes */
        o.acts.reduce = mean ? TL_REDUCE_MEAN : TL_REDUCE_LAST;
        o.acts.truncate = 1; /* a statement longer than the context keeps its first n_ctx tokens */
        o.on_ckpt = acts_event;
        o.user = &ui;
        ui.dim = k;
        tl_acts_run_report rep;
        if (!s) s = tl_acts_run(&pick, 1, csv, &o, out, &rep);
    }
    if (!s) s = tl_demo_knowledge_run(d, &pick, dir);
    tl_free(idx);
    tl_free(pick.items); /* the items belong to l */
    tl_ckpt_list_free(&l);
    return s;
}

tl_status tl_demo_acts_report(tl_demo *d, const char *dir, tl_html *h) {
    tl_html_para(h, NULL,
                 "The last token's residual stream after every layer (resid_post), captured for each "
                 "statement of the five probe sets at %d checkpoints of the series (acts/<dimension>/"
                 "<checkpoint>/*.npy, NumPy format), and the mean over the statement's positions "
                 "(acts/<dimension>_mean/, the probe stage's second representation).",
                 d->cfg.acts_ckpts);
    tl_html_table_begin(h, (const char *[]){"dimension", "statements", "checkpoints", "hook points"}, 4);
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        char path[PATH_CAP];
        tl_demo_fmt(path, sizeof path, "%s/%s", dir, tl_world_dim_names[k]);
        tl_acts_series *s = NULL;
        tl_status st = tl_acts_series_open(path, &s);
        if (st) return st;
        char a[32], b[32], c[32];
        snprintf(a, sizeof a, "%d", s->items[0]->n);
        snprintf(b, sizeof b, "%d", s->n);
        snprintf(c, sizeof c, "%d", s->items[0]->n_points);
        const char *cells[4] = {tl_world_dim_names[k], a, b, c};
        tl_html_table_row(h, cells, 4);
        tl_acts_series_free(s);
    }
    tl_html_table_end(h);
    return tl_demo_knowledge_report(d, dir, h);
}

/* ---- probes ---------------------------------------------------------------------------- */

static void run_progress(void *user, int64_t done, int64_t total) { (void)user, (void)done, (void)total; }

/* The probes of one token reduction: probe/<dim>[_mean]/ per dimension and
 * probe/probe_best[_mean].csv, the chosen layer per checkpoint per dimension. */
static tl_status probe_pool(tl_demo *d, const char *dir, int mean) {
    tl_status s = TL_OK;
    const char *suffix = mean ? "_mean" : "";
    /* best point per checkpoint, per dimension: the summary chart's data */
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "dimension,checkpoint,step,best_point,accuracy,lo95,hi95,val_accuracy,boot_lo95,boot_hi95,"
                         "n_clusters\n");
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        const char *dim = tl_world_dim_names[k];
        char acts[PATH_CAP], out[PATH_CAP], rel[96];
        snprintf(rel, sizeof rel, "%s%s", dim, suffix);
        s = tl_demo_path(d, "acts", rel, acts, sizeof acts);
        tl_demo_fmt(out, sizeof out, "%s/%s", dir, rel);
        tl_acts_series *ser = NULL;
        if (!s) s = tl_acts_series_open(acts, &ser);
        if (s) break;
        int C = ser->n, P = ser->items[0]->n_points;
        double *acc = tl_malloc(sizeof(double) * (size_t)C * (P + 8)), *sel = acc ? acc + (size_t)C * P : NULL;
        tl_probe_run_opts o = {0};
        tl_probe_opts_default(&o.probe);
        o.probe.val = 0.2; /* train 60 % | validation 20 % | test 20 %: the layer is chosen on validation */
        o.acc_out = acc;
        o.sel_out = sel;
        o.boot_out = sel ? sel + (size_t)C * 5 : NULL;
        o.progress = run_progress;
        /* bag of words on the same statements and split, drawn beside the curve (and in probe_selection.csv) */
        char set[PATH_CAP];
        int bow_n = 0;
        if (!s) s = tl_demo_path(d, "acts", NULL, set, sizeof set);
        if (!s) s = tl_demo_fmt(set + strlen(set), sizeof set - strlen(set), "/%s.csv", dim);
        if (!s) s = tl_trust_bow(set, 0, 0.8, o.probe.val, &o.bow_acc, &bow_n);
        tl_demo_step(d, k + (mean ? TL_DIM__COUNT : 0), 2 * TL_DIM__COUNT, -1, rel);
        s = acc ? tl_probe_run(ser, &o, out) : tl_errorf(TL_E_NOMEM, "out of memory");
        for (int c = 0; c < C && !s; c++) {
            const double *q = sel + (size_t)c * 5; /* layer, validation, test, lower, upper (Wilson) */
            const double *b = sel + (size_t)C * 5 + (size_t)c * 3; /* bootstrap lower, upper, clusters */
            tl_strbuf_printf(&csv, "%s,", dim);
            tl_csv_field(&csv, ser->items[c]->name);
            tl_strbuf_printf(&csv, ",%lld,%s,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d\n", (long long)ser->items[c]->step,
                             ser->items[0]->points[(int)q[0]], q[2], q[3], q[4], q[1], b[0], b[1], (int)b[2]);
        }
        tl_free(acc);
        tl_acts_series_free(ser);
    }
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/probe_best%s.csv", dir, suffix);
    if (!s) s = tl_strbuf_status(&csv);
    if (!s && tl_dist_rank() == 0) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    return s;
}

tl_status tl_demo_probe_run(tl_demo *d, const char *dir) {
    tl_status s = probe_pool(d, dir, 0);
    if (!s) s = probe_pool(d, dir, 1);
    if (!s && tl_dist_rank() == 0) s = tl_demo_pool_table(d, dir);
    return s;
}

/* probe_best.csv -> one series per dimension (step, best accuracy). */
tl_status tl_demo_probe_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/probe_best.csv", dir);
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    enum { MAXC = 1024 };
    double *x = tl_calloc((size_t)TL_DIM__COUNT * MAXC, sizeof(double)),
           *y = tl_calloc((size_t)TL_DIM__COUNT * MAXC, sizeof(double)),
           *lo = tl_calloc((size_t)TL_DIM__COUNT * MAXC * 2, sizeof(double));
    double *hi = lo ? lo + TL_DIM__COUNT * MAXC : NULL;
    int n[TL_DIM__COUNT] = {0}, ncl[TL_DIM__COUNT] = {0};
    if (!x || !y || !lo) s = tl_errorf(TL_E_NOMEM, "out of memory");
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, row = 0;
    while (!s && (s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || row++ == 0) continue;
        if (rec.n_fields != 11) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 11 fields", path, rec.line);
            break;
        }
        for (int k = 0; k < TL_DIM__COUNT; k++)
            if (!strcmp(rec.fields[0], tl_world_dim_names[k]) && n[k] < MAXC) {
                /* the interval reported: the cluster bootstrap over the test rows' entities */
                x[k * MAXC + n[k]] = strtod(rec.fields[2], NULL);
                lo[k * MAXC + n[k]] = strtod(rec.fields[8], NULL);
                hi[k * MAXC + n[k]] = strtod(rec.fields[9], NULL);
                ncl[k] = atoi(rec.fields[10]);
                y[k * MAXC + n[k]++] = strtod(rec.fields[4], NULL);
            }
    }
    tl_csv_free(&r);
    tl_strbuf svg = {0}, csv = {0};
    if (!s) {
        tl_chart_series ser[TL_DIM__COUNT];
        tl_chart_style sty[TL_DIM__COUNT]; /* each point with its 95 % interval as a bar */
        for (int k = 0; k < TL_DIM__COUNT; k++) {
            ser[k] = (tl_chart_series){tl_world_dim_names[k], x + k * MAXC, y + k * MAXC, n[k]};
            sty[k] = (tl_chart_style){lo + k * MAXC, hi + k * MAXC, 0};
        }
        tl_chart c = {.title = "Probe accuracy over pre-training (layer chosen on validation, test split, bars 95 %)",
                      .x_label = "step",
                      .y_label = "test accuracy (axis from 0)",
                      .x_scale = TL_AXIS_LOG1P,
                      .width = 760,
                      .height = 400,
                      .y_min = 0.0,
                      .y_max = 1.0};
        s = tl_svg_line_chart_styled(&svg, &c, ser, sty, TL_DIM__COUNT);
        tl_strbuf_append(&csv, text, len);
        /* the finding, computed from probe_best.csv: first and last checkpoint with their
         * Wilson intervals, and the first checkpoint whose lower bound reaches 0.9 */
        tl_strbuf f = {0};
        for (int k = 0; k < TL_DIM__COUNT; k++) {
            if (!n[k]) continue;
            int a = k * MAXC, z = k * MAXC + n[k] - 1, first = -1;
            for (int i = 0; i < n[k] && first < 0; i++)
                if (lo[a + i] >= 0.9) first = i;
            tl_strbuf_printf(&f, "%s %.2f [%.2f, %.2f] at step %.0f (%.2f [%.2f, %.2f] at step %.0f; %d clusters); ",
                             tl_world_dim_names[k], y[z], lo[z], hi[z], x[z], y[a], lo[a], hi[a], x[a], ncl[k]);
            if (first >= 0) tl_strbuf_printf(&f, "lower bound >= 0.9 from step %.0f. ", x[a + first]);
            else tl_strbuf_puts(&f, "the lower bound never reaches 0.9. ");
        }
        tl_html_para(h, "finding",
                     "Finding (test accuracy of the layer chosen on validation at the last and the first "
                     "checkpoint, 95 %% cluster bootstrap intervals over the test rows' entities (people, groups, "
                     "words: rows about one entity are not independent; probe_best.csv keeps the narrower row-level "
                     "Wilson interval beside it); \"lower bound >= 0.9\" is the first checkpoint whose "
                     "interval's lower bound reaches 0.9): %s"
                     "Where the interval at the last step overlaps its step-0 (random-init) interval, the probe "
                     "shows no learning on that dimension; where the behavioural test (Activations section) is "
                     "at chance, the model does not know the facts the set depends on.",
                     f.s ? f.s : "no probe results. ");
        tl_strbuf_free(&f);
        tl_html_para(h, NULL,
                     "For each trust dimension, an L2 logistic-regression probe per layer per "
                     "checkpoint (standardised features; in file order the first 60 %% of the statements "
                     "train, the next 20 %% validate, the last 20 %%, people, groups or words the probe never saw, test). "
                     "Per checkpoint the layer is chosen on validation; the curve is its test accuracy. "
                     "Per dimension below: that curve with its cluster bootstrap 95 %% interval and the baselines "
                     "(shuffled training labels at the chosen layer, the majority class, the embedding "
                     "layer; the step-0 checkpoint is the random-init model of the same shape).");
        if (!s) s = tl_demo_chart(d, h, "probe_best_chart", &svg, &csv,
                                  "Probe accuracy per checkpoint, 95 % intervals as bars (n = test rows: "
                                  "probe/<dimension>/probe_selection.csv)");
    }
    cJSON *wj = NULL;
    const cJSON *bow = NULL;
    char wpath[PATH_CAP];
    if (!s && !tl_demo_path(d, "world", "world.json", wpath, sizeof wpath) && !tl_file_read_json(wpath, &wj))
        bow = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(wj, "counts"), "bow_test_accuracy");
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char svgp[128], csvp[128], cap[128];
        snprintf(svgp, sizeof svgp, "%s/probe_selected.svg", tl_world_dim_names[k]);
        snprintf(csvp, sizeof csvp, "%s/probe_selection.csv", tl_world_dim_names[k]);
        snprintf(cap, sizeof cap, "%s: probe chosen on validation, 95 %% interval and baselines",
                 tl_world_dim_names[k]);
        tl_html_heading(h, tl_world_dim_names[k]);
        if (bow) /* the surface baseline beside the curve: the world's bag of words on the same set */
            tl_html_para(h, NULL, "Bag of words (unigram logistic regression on the statements, world train split "
                         "-> test split): %.3f.",
                         cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(bow, tl_world_dim_names[k])));
        s = tl_demo_inline_svg(d, h, "probe", svgp, csvp, cap);
        if (s) break;
        snprintf(svgp, sizeof svgp, "%s/probe_heatmap.svg", tl_world_dim_names[k]);
        snprintf(csvp, sizeof csvp, "%s/probe_accuracy.csv", tl_world_dim_names[k]);
        snprintf(cap, sizeof cap, "%s: probe accuracy, checkpoint x layer", tl_world_dim_names[k]);
        s = tl_demo_inline_svg(d, h, "probe", svgp, csvp, cap);
    }
    if (!s) s = tl_demo_pool_report(d, dir, h);
    cJSON_Delete(wj);
    tl_strbuf_free(&svg);
    tl_strbuf_free(&csv);
    tl_free(x);
    tl_free(y);
    tl_free(lo);
    tl_free(text);
    return s;
}

/* ---- information plane -------------------------------------------------------------------- */

tl_status tl_demo_infoplane_run(tl_demo *d, const char *dir) {
    tl_status s = TL_OK;
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        const char *dim = tl_world_dim_names[k];
        char acts[PATH_CAP], out[PATH_CAP];
        s = tl_demo_path(d, "acts", dim, acts, sizeof acts);
        tl_demo_fmt(out, sizeof out, "%s/%s", dir, dim);
        tl_acts_series *ser = NULL;
        if (!s) s = tl_acts_series_open(acts, &ser);
        if (s) break;
        tl_infoplane_opts o;
        tl_infoplane_opts_default(&o);
        /* both estimators on every captured row (the information plane holds nothing out): >= 1,000 rows
         * with the demo's probe_rows; HSIC (the reference's, m^3 per cell) on the first 1,000 */
        o.split = 1.0;
        o.hsic_rows = 1000;
        tl_demo_step(d, k, TL_DIM__COUNT, -1, dim);
        s = tl_infoplane_run(ser, &o, out);
        tl_acts_series_free(ser);
    }
    return s;
}

tl_status tl_demo_infoplane_report(tl_demo *d, const char *dir, tl_html *h) {
    tl_html_para(h, NULL,
                 "I(X;T) and I(T;Y) of each layer's representation T with the input X and the label Y, "
                 "per checkpoint, by normalised HSIC (the reference's estimator) and binning (T projected "
                 "to 2 principal components, 30 bins each); charts show the raw estimates, "
                 "infoplane.csv also the values with shuffled labels and the corrected differences, and "
                 "the binning saturation (distinct symbols / rows). Every value has a 95 %% interval, the "
                 "estimate +- 1.96 standard errors from 50 bootstrap resamples of the rows' entities (the "
                 "charts' bars; lo/hi columns, n and clusters in infoplane.csv). Whether I(X;T) rises then falls and "
                 "whether I(T;Y) increases is decided per layer by a permutation test over checkpoint "
                 "order on the corrected values (infoplane_tests.csv); see docs/analysis.md. Colour = "
                 "training step.");
    tl_status s = TL_OK;
    tl_strbuf f = {0};
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) { /* the finding: verdicts from infoplane_tests.csv */
        char path[PATH_CAP];
        tl_demo_fmt(path, sizeof path, "%s/%s/infoplane_tests.csv", dir, tl_world_dim_names[k]);
        if (!tl_path_exists(path)) continue; /* fewer than 3 checkpoints: no test */
        char *text = NULL;
        size_t len = 0;
        if ((s = tl_file_read_all(path, &text, &len))) break;
        tl_csv_reader r;
        tl_csv_init(&r, path, text, len);
        tl_csv_record rec;
        int got, row = 0, rise = 0, incr = 0, layers = 0;
        while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
            if (rec.blank || row++ == 0 || rec.n_fields < 10 || strcmp(rec.fields[1], "hsic")) continue;
            int yes = !strcmp(rec.fields[9], "yes");
            if (strstr(rec.fields[2], "rises")) rise += yes, layers++;
            else incr += yes;
        }
        tl_csv_free(&r);
        tl_free(text);
        tl_strbuf_printf(&f, "%s: I(X;T) rises then falls in %d of %d points, I(T;Y) increases in %d of %d. ",
                         tl_world_dim_names[k], rise, layers, incr, layers);
    }
    if (!s && f.s)
        tl_html_para(h, "finding",
                     "Finding (normalised HSIC, shuffle-corrected; permutation tests over checkpoint order, p <= "
                     "0.05 per point, so about 1 point in 20 passes by chance): %s",
                     f.s);
    tl_strbuf_free(&f);
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char svgp[128], csvp[128], cap[128];
        snprintf(svgp, sizeof svgp, "%s/infoplane_binning.svg", tl_world_dim_names[k]);
        snprintf(csvp, sizeof csvp, "%s/infoplane.csv", tl_world_dim_names[k]);
        snprintf(cap, sizeof cap, "%s: information plane", tl_world_dim_names[k]);
        tl_html_heading(h, tl_world_dim_names[k]);
        s = tl_demo_inline_svg(d, h, "infoplane", svgp, csvp, cap);
        /* HSIC, the reference's estimator and the one the tests and the finding read, beside binning */
        char hsic[PATH_CAP];
        snprintf(svgp, sizeof svgp, "%s/infoplane_hsic.svg", tl_world_dim_names[k]);
        snprintf(cap, sizeof cap, "%s: information plane, normalised HSIC", tl_world_dim_names[k]);
        if (!s && !tl_demo_fmt(hsic, sizeof hsic, "%s/%s", dir, svgp) && tl_path_exists(hsic))
            s = tl_demo_inline_svg(d, h, "infoplane", svgp, csvp, cap);
    }
    return s;
}

/* ---- evaluation ------------------------------------------------------------------------------- */

static const char *const eval_tasks[] = {"world_truth", "world_capability", "world_stereotype", "world_toxicity"};
#define N_EVAL_TASKS ((int)(sizeof eval_tasks / sizeof *eval_tasks))

typedef struct {
    tl_demo *d;
    int64_t base, total;
} eval_ui;

static void eval_progress(void *user, int done, int total) {
    eval_ui *ui = user;
    (void)total;
    tl_demo_step(ui->d, ui->base + done, ui->total, -1, NULL);
}

static tl_status eval_model(tl_demo *d, const char *model_path, const char *name, const char *dir, tl_strbuf *sum,
                            eval_ui *ui) {
    char world[PATH_CAP], out[PATH_CAP];
    tl_status s = tl_demo_path(d, "world", NULL, world, sizeof world);
    if (s) return s;
    tl_model *m = NULL;
    tl_tokenizer *own = NULL;
    if ((s = tl_model_load(model_path, &m, &own))) return s;
    const tl_tokenizer *tok = NULL;
    if ((s = tl_model_pick_tokenizer(m, NULL, own, &tok))) {
        tl_tokenizer_free(own);
        tl_model_free(m);
        return s;
    }
    tl_eval_task *tasks[N_EVAL_TASKS] = {0};
    tl_eval_result res[N_EVAL_TASKS];
    memset(res, 0, sizeof res);
    tl_demo_fmt(out, sizeof out, "%s/%s", dir, name);
    if (!tl_path_is_dir(out) && mkdir(out, 0777) != 0) s = tl_errorf(TL_E_IO, "%s: cannot create directory", out);
    int done = 0;
    for (int t = 0; t < N_EVAL_TASKS && !s; t++) {
        tl_eval_load_opts lo = {.world_dir = world};
        if ((s = tl_eval_task_load(eval_tasks[t], &lo, &tasks[t]))) break;
        tl_eval_opts eo;
        tl_eval_opts_default(&eo);
        eo.limit = d->cfg.eval_limit;
        eo.progress = eval_progress;
        eo.progress_user = ui;
        if ((s = tl_eval_run(m, tok, tasks[t], &eo, &res[t]))) break;
        done = t + 1;
        ui->base += res[t].n_items;
        char csv[PATH_CAP];
        tl_demo_fmt(csv, sizeof csv, "%s/%s.csv", out, eval_tasks[t]);
        if ((s = tl_eval_write_csv(csv, tasks[t], &res[t]))) break;
        for (int k = 0; k < res[t].n_metrics; k++) {
            const tl_eval_metric *mt = &res[t].metrics[k];
            tl_strbuf_printf(sum, "%s,%s,%s,%.6g,%.6g,%d\n", name, eval_tasks[t], mt->name, mt->mean, mt->stderr_,
                             mt->n);
        }
    }
    if (!s) {
        char json[PATH_CAP];
        tl_demo_fmt(json, sizeof json, "%s/results.json", out);
        tl_eval_meta meta = {.model = model_path, .tokenizer = "(the model's own)", .limit = d->cfg.eval_limit};
        const tl_eval_task *tp[N_EVAL_TASKS];
        const tl_eval_result *rp[N_EVAL_TASKS];
        for (int t = 0; t < done; t++)
            tp[t] = tasks[t], rp[t] = &res[t];
        s = tl_eval_write_json(json, &meta, tp, rp, done);
    }
    for (int t = 0; t < N_EVAL_TASKS; t++) {
        tl_eval_result_free(&res[t]);
        tl_eval_task_free(tasks[t]);
    }
    tl_tokenizer_free(own);
    tl_model_free(m);
    return s;
}

tl_status tl_demo_eval_run(tl_demo *d, const char *dir) {
    tl_ckpt_list l = {0};
    char chat[PATH_CAP], rel[64];
    snprintf(rel, sizeof rel, "ckpt-%d.gguf", d->cfg.sft_steps);
    tl_status s = tl_demo_path(d, "sft", rel, chat, sizeof chat);
    if (!s) s = tl_demo_series(d, &l);
    if (s) return s;
    tl_strbuf sum = {0};
    tl_strbuf_puts(&sum, "model,task,metric,value,stderr,n\n");
    eval_ui ui = {d, 0, 2LL * N_EVAL_TASKS * d->cfg.eval_limit};
    s = eval_model(d, l.items[l.n - 1].path, "base", dir, &sum, &ui);
    if (!s) s = eval_model(d, chat, "chat", dir, &sum, &ui);
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/summary.csv", dir);
    if (!s) s = tl_strbuf_status(&sum);
    if (!s) s = tl_file_write_atomic(path, sum.s, sum.len);
    tl_strbuf_free(&sum);
    tl_ckpt_list_free(&l);
    return s;
}

tl_status tl_demo_eval_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/summary.csv", dir);
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    tl_html_para(h, NULL,
                 "The base model (last pre-training checkpoint) and the chat model on the world's "
                 "evaluation sets, the lm-evaluation-harness way (first %d items of each; "
                 "eval/<model>/results.json and one CSV row per item). world_truth: mc1/mc2 on true vs "
                 "false facts; world_capability: questions and arithmetic unrelated to trust; "
                 "world_stereotype: share preferring the group's stereotype over the trait the context "
                 "states (0 = follows the evidence); world_toxicity: share "
                 "of replies to provocations with an insult.",
                 d->cfg.eval_limit);
    tl_html_table_begin(h, (const char *[]){"model", "task", "metric", "value", "stderr", "n"}, 6);
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, row = 0;
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || row++ == 0) continue;
        if (rec.n_fields != 6) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 6 fields", path, rec.line);
            break;
        }
        /* the CSV keeps 6 significant digits; the page shows 3 decimals, as every other table */
        char value[32], stderr_[32];
        const char *cells[6] = {rec.fields[0], rec.fields[1], rec.fields[2], value, stderr_, rec.fields[5]};
        snprintf(value, sizeof value, "%.3f", strtod(rec.fields[3], NULL));
        snprintf(stderr_, sizeof stderr_, "%.3f", strtod(rec.fields[4], NULL));
        tl_html_table_row(h, cells, 6);
    }
    tl_html_table_end(h);
    tl_csv_free(&r);
    tl_free(text);
    if (!s) s = tl_demo_eval_samples_report(d, dir, h); /* answers beside the world's truth (truth_samples.c) */
    return s;
}
