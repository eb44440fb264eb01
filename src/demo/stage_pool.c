/* stage_pool.c: last token vs mean pooling, side by side (the probe stage's
 * pooling table). The reference probes the last token's residual stream; a model
 * can know a fact (the behavioural test) while the last position does not carry it
 * linearly, since a minimal pair's members differ in the middle of the statement.
 * The mean over the statement's positions is the natural next representation. Both
 * are captured by the acts stage (acts/<dim> and acts/<dim>_mean) and probed with
 * the same protocol (layer chosen on validation, accuracy on test). Which pooling
 * to read is a protocol choice: the table reports the reference (last, fixed in
 * advance), the mean, and the pooling with the higher validation accuracy, never
 * one chosen on test. probe/pooling.csv holds the table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "format/format.h" /* internal: model, base */

#define PATH_CAP 4096

enum { POOL_LAST, POOL_MEAN, POOL__COUNT };
static const char *const pool_names[POOL__COUNT] = {"last", "mean"};

/* One row of probe_selection.csv (src/analysis/runs.c). */
typedef struct {
    double step, val, test, lo, hi, shuffled, majority, embed;
    double boot_lo, boot_hi; /* the bootstrap over entities (clusters): the interval the report shows */
    int n_test, n_clusters;
    char layer[64];
} sel_row;

/* The first and the last checkpoint's rows of DIR/probe_selection.csv. */
static tl_status read_selection(const char *dir, sel_row *first, sel_row *last) {
    char path[PATH_CAP];
    tl_status s = tl_demo_fmt(path, sizeof path, "%s/probe_selection.csv", dir);
    char *text = NULL;
    size_t len = 0;
    if (!s) s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, rows = 0, cbl = -1, cbh = -1, cnc = -1; /* the bootstrap's columns, found by name */
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank) continue;
        if (rec.n_fields < 11) { /* the columns after the 11th (random-init, bag-of-words) are not read here */
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected at least 11 fields, found %d", path, rec.line, rec.n_fields);
            break;
        }
        if (rows++ == 0) { /* the header */
            for (int i = 0; i < rec.n_fields; i++) {
                if (!strcmp(rec.fields[i], "boot_lo95")) cbl = i;
                if (!strcmp(rec.fields[i], "boot_hi95")) cbh = i;
                if (!strcmp(rec.fields[i], "n_clusters")) cnc = i;
            }
            if (cbl < 0 || cbh < 0 || cnc < 0) {
                s = tl_errorf(TL_E_FORMAT, "%s: no boot_lo95, boot_hi95 or n_clusters column", path);
                break;
            }
            continue;
        }
        if (rec.n_fields <= cbl || rec.n_fields <= cbh || rec.n_fields <= cnc) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: %d fields, fewer than the header's", path, rec.line, rec.n_fields);
            break;
        }
        sel_row q;
        const char *const *f = rec.fields;
        q.step = strtod(f[1], NULL);
        snprintf(q.layer, sizeof q.layer, "%s", f[2]);
        q.val = strtod(f[3], NULL);
        q.test = strtod(f[4], NULL);
        q.lo = strtod(f[5], NULL);
        q.hi = strtod(f[6], NULL);
        q.n_test = atoi(f[7]);
        q.shuffled = strtod(f[8], NULL);
        q.majority = strtod(f[9], NULL);
        q.embed = f[10][0] ? strtod(f[10], NULL) : NAN;
        q.boot_lo = f[cbl][0] ? strtod(f[cbl], NULL) : NAN;
        q.boot_hi = f[cbh][0] ? strtod(f[cbh], NULL) : NAN;
        q.n_clusters = atoi(f[cnc]);
        if (rows == 2) *first = q;
        *last = q;
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!s && rows < 2) s = tl_errorf(TL_E_FORMAT, "%s: no checkpoints", path);
    return s;
}

typedef struct {
    sel_row first[TL_DIM__COUNT][POOL__COUNT], last[TL_DIM__COUNT][POOL__COUNT];
} pool_table;

static tl_status read_table(const tl_demo *d, pool_table *t) {
    tl_status s = TL_OK;
    for (int k = 0; k < TL_DIM__COUNT && !s; k++)
        for (int p = 0; p < POOL__COUNT && !s; p++) {
            char rel[96], dir[PATH_CAP];
            snprintf(rel, sizeof rel, "%s%s", tl_world_dim_names[k], p == POOL_MEAN ? "_mean" : "");
            s = tl_demo_path(d, "probe", rel, dir, sizeof dir);
            if (!s) s = read_selection(dir, &t->first[k][p], &t->last[k][p]);
        }
    return s;
}

/* The pooling chosen on validation at the final checkpoint (a tie keeps the reference). */
static int chosen_pool(const pool_table *t, int k) {
    return t->last[k][POOL_MEAN].val > t->last[k][POOL_LAST].val ? POOL_MEAN : POOL_LAST;
}

tl_status tl_demo_pool_table(tl_demo *d, const char *dir) {
    pool_table *t = tl_calloc(1, sizeof *t);
    if (!t) return tl_errorf(TL_E_NOMEM, "out of memory");
    tl_status s = read_table(d, t);
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "dimension,checkpoint,step,pool,layer,val_acc,test_acc,test_lo95,test_hi95,n_test,"
                         "shuffled_labels_acc,majority_acc,embed_acc,chosen_on_validation,boot_lo95,boot_hi95,"
                         "n_clusters\n");
    for (int k = 0; k < TL_DIM__COUNT && !s; k++)
        for (int c = 0; c < 2; c++)
            for (int p = 0; p < POOL__COUNT; p++) {
                const sel_row *q = c ? &t->last[k][p] : &t->first[k][p];
                tl_strbuf_printf(&csv, "%s,%s,%.0f,%s,", tl_world_dim_names[k], c ? "final" : "first", q->step,
                                 pool_names[p]);
                tl_csv_field(&csv, q->layer);
                tl_strbuf_printf(&csv, ",%.6f,%.6f,%.6f,%.6f,%d,%.6f,%.6f,", q->val, q->test, q->lo, q->hi, q->n_test,
                                 q->shuffled, q->majority);
                if (isfinite(q->embed)) tl_strbuf_printf(&csv, "%.6f", q->embed);
                tl_strbuf_printf(&csv, ",%d,", c && chosen_pool(t, k) == p);
                if (isfinite(q->boot_lo)) tl_strbuf_printf(&csv, "%.6f", q->boot_lo);
                tl_strbuf_puts(&csv, ",");
                if (isfinite(q->boot_hi)) tl_strbuf_printf(&csv, "%.6f", q->boot_hi);
                tl_strbuf_printf(&csv, ",%d\n", q->n_clusters);
            }
    char path[PATH_CAP];
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/pooling.csv", dir);
    if (!s) s = tl_strbuf_status(&csv);
    if (!s) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    tl_free(t);
    return s;
}

/* The test accuracy with the bootstrap interval over entities, as the probe chart and F1 show it. */
static void cell(char *buf, size_t cap, const sel_row *q) {
    snprintf(buf, cap, "%.3f [%.3f, %.3f]", q->test, q->boot_lo, q->boot_hi);
}

tl_status tl_demo_pool_report(tl_demo *d, const char *dir, tl_html *h) {
    (void)dir;
    pool_table *t = tl_calloc(1, sizeof *t);
    if (!t) return tl_errorf(TL_E_NOMEM, "out of memory");
    tl_status s = read_table(d, t);
    if (s) {
        tl_free(t);
        return s;
    }
    tl_html_heading(h, "Last token vs mean pooling");
    /* the finding: per dimension, does either pooling's final interval clear its step-0 interval? */
    tl_strbuf f = {0};
    int n_sep[POOL__COUNT] = {0};
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        for (int p = 0; p < POOL__COUNT; p++) n_sep[p] += t->last[k][p].boot_lo > t->first[k][p].boot_hi;
        tl_strbuf_printf(&f, "%s%s last %.2f, mean %.2f", k ? "; " : "", tl_world_dim_names[k],
                         t->last[k][POOL_LAST].test, t->last[k][POOL_MEAN].test);
    }
    tl_html_para(h, "finding",
                 "Finding (test accuracy at the final checkpoint, layer chosen on validation): %s. The final "
                 "interval lies above the step-0 (random-init) interval for %d of 5 dimensions with the last "
                 "token and for %d of 5 with the mean over the statement's positions (95 %% intervals by the "
                 "bootstrap over entities, as the probe chart and F1 use; the table gives the test rows and "
                 "entities; the Wilson intervals, which treat rows as independent, are in probe/pooling.csv).",
                 f.s ? f.s : "", n_sep[POOL_LAST], n_sep[POOL_MEAN]);
    tl_strbuf_free(&f);
    tl_html_para(h, NULL,
                 "The reference probes the last token's residual stream (fixed in advance: the curves above). The "
                 "members of a minimal pair differ in the middle of the statement, so a model can know the fact "
                 "(behavioural test, Activations section) while the last position does not carry it linearly; the "
                 "mean over the statement's positions (BOS included, acts/<dimension>_mean) is the next "
                 "representation to try, probed with the same protocol (probe/<dimension>_mean/). The last "
                 "column is the pooling with the higher validation accuracy at the final checkpoint (a tie keeps "
                 "the last token): a choice made on validation, never on test. Baselines: the same probe at step "
                 "0 (a random-init model of the same shape), the embedding layer (the mean of the token "
                 "embeddings is a bag of embeddings), shuffled training labels and the majority class. "
                 "probe/pooling.csv has every figure.");
    const char *hd[9] = {"dimension",          "last token (final)", "mean (final)",     "last, step 0",
                         "mean, step 0",       "embedding: last / mean", "shuffled labels: last / mean",
                         "chosen on validation", "n (test rows / entities)"};
    tl_html_table_begin(h, hd, 9);
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        char cb[9][96];
        const char *cells[9];
        int ch = chosen_pool(t, k);
        snprintf(cb[0], sizeof cb[0], "%s", tl_world_dim_names[k]);
        cell(cb[1], sizeof cb[1], &t->last[k][POOL_LAST]);
        cell(cb[2], sizeof cb[2], &t->last[k][POOL_MEAN]);
        cell(cb[3], sizeof cb[3], &t->first[k][POOL_LAST]);
        cell(cb[4], sizeof cb[4], &t->first[k][POOL_MEAN]);
        snprintf(cb[5], sizeof cb[5], "%.3f / %.3f", t->last[k][POOL_LAST].embed, t->last[k][POOL_MEAN].embed);
        snprintf(cb[6], sizeof cb[6], "%.3f / %.3f", t->last[k][POOL_LAST].shuffled, t->last[k][POOL_MEAN].shuffled);
        snprintf(cb[7], sizeof cb[7], "%s: %.3f (val %.3f vs %.3f)", pool_names[ch], t->last[k][ch].test,
                 t->last[k][POOL_LAST].val, t->last[k][POOL_MEAN].val);
        snprintf(cb[8], sizeof cb[8], "%d / %d", t->last[k][POOL_LAST].n_test, t->last[k][POOL_LAST].n_clusters);
        for (int i = 0; i < 9; i++) cells[i] = cb[i];
        tl_html_table_row(h, cells, 9);
    }
    tl_html_table_end(h);
    tl_free(t);
    return TL_OK;
}
