/* stage_knowledge.c: does the model know the facts the probe sets depend on? The
 * behavioural test of the world's minimal pairs (tl_world_behave, issue 13 point 2)
 * at every captured checkpoint, run by the acts stage after its captures
 * (acts/knowledge.csv), and its report: a sentence computed from the data, a
 * table per checkpoint with Wilson intervals and n, a chart over the steps and a
 * chart of step 0 against the final checkpoint with error bars. A probe can only
 * find in the activations what the model knows; where this test is at chance, a
 * probe's failure says nothing about trust dynamics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/generate.h"
#include "truth_samples.h"

#define PATH_CAP 4096

/* The behavioural test on every dimension's test pairs of one loaded model. */
static tl_status behave_all(tl_demo *d, const tl_model *m, const tl_tokenizer *tok, tl_world_behave_result *r) {
    tl_status s = TL_OK;
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char rel[96], pairs[PATH_CAP];
        snprintf(rel, sizeof rel, "probes/%s_pairs.csv", tl_world_dim_names[k]);
        s = tl_demo_path(d, "world", rel, pairs, sizeof pairs);
        if (!s) s = tl_world_behave(m, tok, pairs, "test", 0, &r[k]);
    }
    return s;
}

tl_status tl_demo_knowledge_model(tl_demo *d, const char *path, tl_world_behave_result *r) {
    tl_model *m = NULL;
    tl_tokenizer *own = NULL;
    const tl_tokenizer *tok = NULL;
    tl_status s = tl_model_load(path, &m, &own);
    if (!s) s = tl_model_pick_tokenizer(m, NULL, own, &tok);
    if (!s) s = behave_all(d, m, tok, r);
    tl_tokenizer_free(own);
    tl_model_free(m);
    return s;
}

tl_status tl_demo_knowledge_run(tl_demo *d, const tl_ckpt_list *pick, const char *dir) {
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "dimension,checkpoint,step,split,n,correct,accuracy,lo95,hi95,mean_margin,balanced_accuracy,"
                         "boot_lo95,boot_hi95,n_clusters,n_true_shorter,n_equal_tokens,n_true_longer\n");
    tl_status s = TL_OK;
    for (int c = 0; c < pick->n && !s; c++) {
        tl_model *m = NULL;
        tl_tokenizer *own = NULL;
        const tl_tokenizer *tok = NULL;
        char detail[128];
        snprintf(detail, sizeof detail, "knowledge %s", pick->items[c].name);
        tl_demo_step(d, c, pick->n, -1, detail);
        s = tl_model_load(pick->items[c].path, &m, &own);
        if (!s) s = tl_model_pick_tokenizer(m, NULL, own, &tok);
        tl_world_behave_result r[TL_DIM__COUNT];
        if (!s) s = behave_all(d, m, tok, r);
        for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
            tl_strbuf_printf(&csv, "%s,", tl_world_dim_names[k]);
            tl_csv_field(&csv, pick->items[c].name);
            tl_strbuf_printf(&csv, ",%lld,test,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%d,%d,%d,%d\n",
                             (long long)pick->items[c].step, r[k].n, r[k].correct, r[k].acc, r[k].lo, r[k].hi,
                             r[k].mean_margin, r[k].bal_acc, r[k].boot_lo, r[k].boot_hi, r[k].n_clusters,
                             r[k].n_shorter, r[k].n_equal, r[k].n_longer);
        }
        char step[32]; /* the final checkpoint: a few pairs beside the world's truth (truth_samples.c) */
        snprintf(step, sizeof step, "%lld", (long long)pick->items[c].step);
        if (!s && c == pick->n - 1) s = tl_demo_truth_samples_run(d, m, tok, step, dir);
        tl_tokenizer_free(own);
        tl_model_free(m);
    }
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/knowledge.csv", dir);
    if (!s) s = tl_strbuf_status(&csv);
    if (!s) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    return s;
}

/* ---- the report ------------------------------------------------------------------ */

enum { MAXC = 256 };

typedef struct {
    int n_ckpt;
    double step[MAXC];
    char name[MAXC][64];
    double acc[TL_DIM__COUNT][MAXC], lo[TL_DIM__COUNT][MAXC], hi[TL_DIM__COUNT][MAXC];
    double raw[TL_DIM__COUNT][MAXC]; /* the raw accuracy (acc is the length-balanced one) */
    int n[TL_DIM__COUNT][MAXC], ncl[TL_DIM__COUNT][MAXC];
} know_table;

static tl_status read_knowledge(const char *path, know_table *t) {
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    memset(t, 0, sizeof *t);
    for (int k = 0; k < TL_DIM__COUNT; k++)
        for (int c = 0; c < MAXC; c++) t->acc[k][c] = t->lo[k][c] = t->hi[k][c] = NAN;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, row = 0;
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || row++ == 0) continue;
        if (rec.n_fields != 17) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 17 fields, found %d", path, rec.line, rec.n_fields);
            break;
        }
        int k = -1, c = -1;
        for (int q = 0; q < TL_DIM__COUNT; q++)
            if (!strcmp(rec.fields[0], tl_world_dim_names[q])) k = q;
        for (int q = 0; q < t->n_ckpt; q++)
            if (!strcmp(t->name[q], rec.fields[1])) c = q;
        if (c < 0 && t->n_ckpt < MAXC) {
            c = t->n_ckpt++;
            snprintf(t->name[c], sizeof t->name[c], "%s", rec.fields[1]);
            t->step[c] = strtod(rec.fields[2], NULL);
        }
        if (k < 0 || c < 0) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: unknown dimension '%s' or too many checkpoints", path, rec.line,
                          rec.fields[0]);
            break;
        }
        /* reported: the length-balanced accuracy with its cluster bootstrap interval */
        t->n[k][c] = atoi(rec.fields[4]);
        t->raw[k][c] = strtod(rec.fields[6], NULL);
        t->acc[k][c] = strtod(rec.fields[10], NULL);
        t->lo[k][c] = strtod(rec.fields[11], NULL);
        t->hi[k][c] = strtod(rec.fields[12], NULL);
        t->ncl[k][c] = atoi(rec.fields[13]);
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!s && t->n_ckpt == 0) s = tl_errorf(TL_E_FORMAT, "%s: no rows", path);
    return s;
}

tl_status tl_demo_knowledge_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/knowledge.csv", dir);
    know_table *t = tl_calloc(1, sizeof *t);
    if (!t) return tl_errorf(TL_E_NOMEM, "out of memory");
    tl_status s = read_knowledge(path, t);
    if (s) {
        tl_free(t);
        return s;
    }
    tl_html_heading(h, "Does the model know the facts? (behavioural test)");
    int z = t->n_ckpt - 1, known = 0;
    tl_strbuf f = {0};
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        known += t->lo[k][z] >= 0.5 && t->acc[k][z] >= TL_DEMO_KNOW_MIN;
        tl_strbuf_printf(&f, "%s%s %.2f [%.2f, %.2f] over %d entities (step 0: %.2f [%.2f, %.2f])", k ? "; " : "",
                         tl_world_dim_names[k], t->acc[k][z], t->lo[k][z], t->hi[k][z], t->ncl[k][z], t->acc[k][0],
                         t->lo[k][0], t->hi[k][0]);
    }
    tl_html_para(h, "finding",
                 "Finding: at the final checkpoint (step %.0f) the model gives the true member of a test minimal "
                 "pair the higher log-probability in %s (length-balanced accuracy, 95 %% cluster bootstrap "
                 "interval over the pairs' entities, n = %d or more pairs each); %d of 5 dimensions reach %.2f "
                 "with a lower bound above chance. A random-init model should be at about 0.5. Where a dimension "
                 "stays near 0.5 the model does not know the facts its probe set depends on, and no probe result "
                 "on that set can say anything about trust dynamics.",
                 t->step[z], f.s ? f.s : "", t->n[0][z], known, TL_DEMO_KNOW_MIN);
    tl_strbuf_free(&f);
    tl_html_para(h, NULL,
                 "Each pair of world/probes/<dimension>_pairs.csv (test split: people, groups and words the "
                 "probes never train on) is one statement true of the world and its minimal-pair twin; the model "
                 "scores each by log p(statement | BOS), and is right when the true one scores higher "
                 "(tl_world_behave; `tiller world --check DIR --model M` prints the same for any model). "
                 "A random-init model prefers the member with fewer tokens, so the raw share of pairs won "
                 "measures how often the true member is the shorter; the accuracy reported weighs the pairs whose "
                 "true member is shorter and those whose true member is longer equally (length-balanced), and its "
                 "interval resamples the entities (people, groups, rude words), since pairs about one entity are "
                 "not independent. acts/knowledge.csv has every checkpoint, with the raw accuracy and its Wilson "
                 "interval beside these.");
    const char *hd[1 + TL_DIM__COUNT + 1];
    hd[0] = "checkpoint (step)";
    for (int k = 0; k < TL_DIM__COUNT; k++) hd[1 + k] = tl_world_dim_names[k];
    hd[1 + TL_DIM__COUNT] = "n (pairs)";
    tl_html_table_begin(h, hd, 2 + TL_DIM__COUNT);
    for (int c = 0; c < t->n_ckpt; c++) {
        char cb[2 + TL_DIM__COUNT][64];
        const char *cells[2 + TL_DIM__COUNT];
        snprintf(cb[0], sizeof cb[0], "%.0f", t->step[c]);
        for (int k = 0; k < TL_DIM__COUNT; k++)
            snprintf(cb[1 + k], sizeof cb[1 + k], "%.3f [%.3f, %.3f]", t->acc[k][c], t->lo[k][c], t->hi[k][c]);
        snprintf(cb[1 + TL_DIM__COUNT], sizeof cb[0], "%d-%d", t->n[TL_DIM_TOXICITY][c], t->n[TL_DIM_RELIABILITY][c]);
        (void)t->raw;
        for (int i = 0; i < 2 + TL_DIM__COUNT; i++) cells[i] = cb[i];
        tl_html_table_row(h, cells, 2 + TL_DIM__COUNT);
    }
    tl_html_table_end(h);
    /* over the steps: the accuracy per dimension and chance */
    tl_strbuf svg = {0}, csv = {0};
    double chance_x[2] = {t->step[0], t->step[z]}, chance_y[2] = {0.5, 0.5};
    tl_chart_series ser[TL_DIM__COUNT + 1];
    for (int k = 0; k < TL_DIM__COUNT; k++) ser[k] = (tl_chart_series){tl_world_dim_names[k], t->step, t->acc[k], t->n_ckpt};
    ser[TL_DIM__COUNT] = (tl_chart_series){"chance (0.5)", chance_x, chance_y, 2};
    int n_lo = t->n[0][z], n_hi = t->n[0][z];
    for (int k = 1; k < TL_DIM__COUNT; k++) {
        if (t->n[k][z] < n_lo) n_lo = t->n[k][z];
        if (t->n[k][z] > n_hi) n_hi = t->n[k][z];
    }
    char title[128];
    snprintf(title, sizeof title, "Behavioural accuracy on the test pairs over pre-training (n = %d-%d pairs)", n_lo,
             n_hi);
    tl_chart ch = {.title = title,
                   .x_label = "step",
                   .y_label = "share of pairs with log p(true) > log p(false) (axis from 0)",
                   .x_scale = TL_AXIS_LOG1P,
                   .width = 760,
                   .height = 400,
                   .y_min = 0.0,
                   .y_max = 1.0};
    tl_chart_style sty[TL_DIM__COUNT + 1] = {{0}}; /* Wilson 95 % error bars on every point; chance dashed */
    for (int k = 0; k < TL_DIM__COUNT; k++) sty[k] = (tl_chart_style){t->lo[k], t->hi[k], 0};
    sty[TL_DIM__COUNT].dashed = 1;
    s = tl_svg_line_chart_styled(&svg, &ch, ser, sty, TL_DIM__COUNT + 1);
    char *text = NULL;
    size_t len = 0;
    if (!s) s = tl_file_read_all(path, &text, &len);
    if (!s) tl_strbuf_append(&csv, text, len);
    tl_free(text);
    char cap[256];
    snprintf(cap, sizeof cap,
             "Behavioural accuracy per checkpoint (test pairs, n = %d-%d per dimension; bars: Wilson 95 %% "
             "intervals, also in the table and the CSV)",
             n_lo, n_hi);
    if (!s) s = tl_demo_chart(d, h, "knowledge_chart", &svg, &csv, cap);
    /* step 0 against the final checkpoint, with the Wilson intervals as error bars */
    tl_strbuf_free(&svg);
    tl_strbuf_free(&csv);
    double y0[TL_DIM__COUNT], e0[TL_DIM__COUNT], y1[TL_DIM__COUNT], e1[TL_DIM__COUNT];
    tl_strbuf_puts(&csv, "dimension,model,balanced_accuracy,boot_lo95,boot_hi95,n\n");
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        y0[k] = t->acc[k][0], e0[k] = (t->hi[k][0] - t->lo[k][0]) / 2;
        y1[k] = t->acc[k][z], e1[k] = (t->hi[k][z] - t->lo[k][z]) / 2;
        tl_strbuf_printf(&csv, "%s,step %.0f,%.6f,%.6f,%.6f,%d\n", tl_world_dim_names[k], t->step[0], y0[k],
                         t->lo[k][0], t->hi[k][0], t->n[k][0]);
        tl_strbuf_printf(&csv, "%s,step %.0f,%.6f,%.6f,%.6f,%d\n", tl_world_dim_names[k], t->step[z], y1[k],
                         t->lo[k][z], t->hi[k][z], t->n[k][z]);
    }
    char n0[64], n1[64];
    snprintf(n0, sizeof n0, "step %.0f (random init)", t->step[0]);
    snprintf(n1, sizeof n1, "step %.0f (final)", t->step[z]);
    tl_bar_series bars[2] = {{n0, y0, e0}, {n1, y1, e1}};
    tl_chart bc = {.title = "Behavioural accuracy: random init vs the final checkpoint (n in the CSV)",
                   .y_label = "length-balanced accuracy (axis from 0), bars: bootstrap 95 % over entities",
                   .width = 760,
                   .height = 360,
                   .y_min = 0.0,
                   .y_max = 1.0};
    if (!s) s = tl_svg_bar_chart(&svg, &bc, tl_world_dim_names, TL_DIM__COUNT, bars, 2);
    if (!s) s = tl_demo_chart(d, h, "knowledge_bars", &svg, &csv,
                              "Behavioural accuracy (length-balanced) at step 0 and at the final checkpoint, 95 % "
                              "cluster bootstrap error bars");
    tl_strbuf_free(&svg);
    tl_strbuf_free(&csv);
    tl_free(t);
    if (!s) s = tl_demo_truth_samples_report(d, dir, h);
    return s;
}
