/* stage_trust.c: the steering table of the trust-dynamics experiment as a demo
 * stage (issue 6 point 6). Capture, probes and the information plane are the
 * acts/probe/infoplane stages already, so tl_trust_dynamics_run runs with
 * steer_only: vectors from a few pre-training checkpoints (spread over log(1 +
 * step)) and from the chat model, added to the chat model at each scale, the
 * chat model scored on the world's trust and capability tasks. The report shows
 * the table, one chart per task and what the figures say, computed from
 * steering.csv. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/trust.h"
#include "demo.h"

#define PATH_CAP 4096

typedef struct {
    tl_demo *d;
    int64_t done, total;
} trust_ui;

/* tl_trust_dynamics_run's stage lines: one per vector built and per evaluation. */
static void trust_log(void *user, const char *msg) {
    trust_ui *ui = user;
    if (ui->done < ui->total) ui->done++;
    tl_demo_step(ui->d, ui->done, ui->total, -1, msg);
}

tl_status tl_demo_trust_run(tl_demo *d, const char *dir) {
    char series[PATH_CAP], world[PATH_CAP], chat[PATH_CAP], rel[64];
    snprintf(rel, sizeof rel, "ckpt-%d.gguf", d->cfg.sft_steps);
    tl_status s = tl_demo_path(d, "sft", rel, chat, sizeof chat);
    if (!s) s = tl_demo_path(d, "pretrain", NULL, series, sizeof series);
    if (!s) s = tl_demo_path(d, "world", NULL, world, sizeof world);
    if (s) return s;
    int n_nonzero = 0, n_mags = 0;
    double mags[32];
    for (const char *p = d->cfg.trust_scales; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        double x = fabs(strtod(p, NULL));
        int seen = x == 0;
        n_nonzero += x != 0;
        for (int j = 0; j < n_mags; j++) seen = seen || mags[j] == x;
        if (!seen && n_mags < 32) mags[n_mags++] = x;
    }
    int n_src = d->cfg.trust_sources + 1; /* the checkpoints and the chat model */
    tl_trust_opts o;
    tl_trust_opts_default(&o);
    o.random_dirs = 2; /* 3 in trust-dynamics; 2 keep the default demo within its 10 minutes (README) */
    /* a line per task's kept items (6), per vector (5 dimensions per source), the baseline, per random
     * direction of each vector's |scale|, and per steered evaluation (the 5 vectors the tasks measure) */
    trust_ui ui = {d, 0,
                   6 + 5 * (int64_t)n_src + 1 + 5 * (int64_t)o.random_dirs * n_mags +
                       5 * (int64_t)n_src * n_nonzero};
    o.series = series;
    o.chat = chat;
    o.world = world;
    o.out = dir;
    o.steer_only = 1; /* the acts, probe and infoplane stages did the rest */
    o.n_sources = d->cfg.trust_sources;
    o.scales = d->cfg.trust_scales;
    o.eval_limit = d->cfg.trust_limit;
    o.log = trust_log;
    o.log_user = &ui;
    return tl_trust_dynamics_run(&o);
}

/* ---- the report ------------------------------------------------------------------ */

#define MAX_SRC 16
#define MAX_SCALES 16
#define MAX_TASKS 16 /* "task (vector)" keys: 5 tasks with a vector, capability under each of 5 */

typedef struct {
    int n_src, n_scales, n_tasks;
    char src[MAX_SRC][64];
    long long step[MAX_SRC];
    double scale[MAX_SCALES];
    char task[MAX_TASKS][64], metric[MAX_TASKS][32]; /* "task (vector)" and its first metric */
    char tname[MAX_TASKS][64], tvec[MAX_TASKS][32];  /* the task and the vector's dimension ("" if none) */
    double v[MAX_SRC][MAX_SCALES][MAX_TASKS], se[MAX_SRC][MAX_SCALES][MAX_TASKS];
    double p[MAX_SRC][MAX_SCALES][MAX_TASKS]; /* paired test against the unsteered cell, NaN if none */
    double lo[MAX_SRC][MAX_SCALES][MAX_TASKS], hi[MAX_SRC][MAX_SCALES][MAX_TASKS]; /* the score's own 95 % */
    int has_base; /* scale 0 present: the unsteered chat model */
} steer_table;

static int find_or_add(char (*names)[64], int *n, int cap, const char *name) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], name)) return i;
    if (*n == cap) return -1;
    snprintf(names[*n], 64, "%s", name);
    return (*n)++;
}

/* steering.csv (source,step,scale,task,metric,value,stderr,n) -> the first metric of each
 * task per source and scale. */
static tl_status read_steering(const char *path, steer_table *t) {
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    memset(t, 0, sizeof *t);
    for (int a = 0; a < MAX_SRC; a++)
        for (int b = 0; b < MAX_SCALES; b++)
            for (int c = 0; c < MAX_TASKS; c++)
                t->v[a][b][c] = t->se[a][b][c] = t->p[a][b][c] = t->lo[a][b][c] = t->hi[a][b][c] = NAN;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, row = 0;
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || row++ == 0) continue;
        if (rec.n_fields < 8) { /* later fields: the paired test against the unsteered model */
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 8 or more fields, found %d", path, rec.line, rec.n_fields);
            break;
        }
        int q = find_or_add(t->src, &t->n_src, MAX_SRC, rec.fields[0]);
        char key[64]; /* task (vector): a task is scored under its own dimension's vector, capability under each */
        if (rec.n_fields >= 15 && rec.fields[14][0]) snprintf(key, sizeof key, "%s (%s)", rec.fields[3], rec.fields[14]);
        else snprintf(key, sizeof key, "%s", rec.fields[3]);
        int k = find_or_add(t->task, &t->n_tasks, MAX_TASKS, key);
        if (k >= 0) {
            snprintf(t->tname[k], sizeof t->tname[k], "%s", rec.fields[3]);
            snprintf(t->tvec[k], sizeof t->tvec[k], "%s", rec.n_fields >= 15 ? rec.fields[14] : "");
        }
        if (q < 0 || k < 0) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: more than %d sources or %d tasks", path, rec.line, MAX_SRC, MAX_TASKS);
            break;
        }
        t->step[q] = strtoll(rec.fields[1], NULL, 10);
        if (!t->metric[k][0]) snprintf(t->metric[k], sizeof t->metric[k], "%s", rec.fields[4]);
        if (strcmp(t->metric[k], rec.fields[4])) continue;
        double sc = strtod(rec.fields[2], NULL);
        int si = -1;
        for (int i = 0; i < t->n_scales; i++)
            if (t->scale[i] == sc) si = i;
        if (si < 0 && t->n_scales < MAX_SCALES) {
            si = t->n_scales++;
            t->scale[si] = sc;
        }
        if (si < 0) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: more than %d scales", path, rec.line, MAX_SCALES);
            break;
        }
        if (sc == 0) t->has_base = 1;
        t->v[q][si][k] = rec.fields[5][0] ? strtod(rec.fields[5], NULL) : NAN;
        t->se[q][si][k] = rec.fields[6][0] ? strtod(rec.fields[6], NULL) : NAN;
        /* the Holm-corrected p (field 14) when present, else the uncorrected one */
        if (rec.n_fields >= 14 && rec.fields[13][0]) t->p[q][si][k] = strtod(rec.fields[13], NULL);
        else if (rec.n_fields >= 12 && rec.fields[11][0]) t->p[q][si][k] = strtod(rec.fields[11], NULL);
        if (rec.n_fields >= 19 && rec.fields[17][0] && rec.fields[18][0]) /* value_lo95, value_hi95 */
            t->lo[q][si][k] = strtod(rec.fields[17], NULL), t->hi[q][si][k] = strtod(rec.fields[18], NULL);
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!s && (t->n_src == 0 || t->n_tasks == 0 || !t->has_base))
        s = tl_errorf(TL_E_FORMAT, "%s: no rows, or no scale-0 (unsteered) row", path);
    /* scales in increasing order (the table's rows) */
    for (int i = 1; !s && i < t->n_scales; i++)
        for (int j = i; j > 0 && t->scale[j] < t->scale[j - 1]; j--) {
            double x = t->scale[j];
            t->scale[j] = t->scale[j - 1], t->scale[j - 1] = x;
            for (int q = 0; q < t->n_src; q++)
                for (int k = 0; k < t->n_tasks; k++) {
                    double(*arr[5])[MAX_SCALES][MAX_TASKS] = {t->v, t->se, t->p, t->lo, t->hi};
                    for (int m = 0; m < 5; m++) {
                        double a = arr[m][q][j][k];
                        arr[m][q][j][k] = arr[m][q][j - 1][k], arr[m][q][j - 1][k] = a;
                    }
                }
        }
    return s;
}

/* The table's rows of the random-direction baseline (steering_random.csv, the mean over the directions
 * of the chat vector's norm): at every scale, each task's own vector at |scale| (the unsteered model at
 * 0); *n_dirs: how many directions. No file (an older run): no rows. */
static tl_status random_rows(const char *dir, const steer_table *t, int z, tl_html *h, int *n_dirs) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/steering_random.csv", dir);
    tl_table r;
    int have;
    tl_status s = tl_table_read(path, &r, &have);
    if (s || !have) return s;
    int ct = tl_table_col(&r, "template"), cv = tl_table_col(&r, "vector"), csc = tl_table_col(&r, "scale"),
        ctk = tl_table_col(&r, "task"), cm = tl_table_col(&r, "metric"), cd = tl_table_col(&r, "direction"),
        cval = tl_table_col(&r, "value"), clo = tl_table_col(&r, "lo95"), chi = tl_table_col(&r, "hi95");
    if (ct < 0 || cv < 0 || csc < 0 || ctk < 0 || cm < 0 || cd < 0 || cval < 0 || clo < 0 || chi < 0) {
        tl_table_free(&r);
        return tl_errorf(TL_E_FORMAT, "%s: needs the columns template, vector, scale, task, metric, direction, "
                         "value, lo95, hi95", path);
    }
    *n_dirs = 0;
    int any = 0; /* a mean row: the baseline was run */
    for (int i = 0; i < r.n_rows; i++)
        if (strcmp(tl_table_cell(&r, i, cd), "mean")) {
            int di = (int)tl_table_num(&r, i, cd) + 1;
            if (di > *n_dirs) *n_dirs = di;
        } else any = 1;
    for (int si = 0; si < t->n_scales; si++) {
        char cb[2 + MAX_TASKS][48];
        const char *cells[2 + MAX_TASKS];
        snprintf(cb[0], sizeof cb[0], "random x%d, same norm", *n_dirs);
        snprintf(cb[1], sizeof cb[1], "%g", t->scale[si]);
        for (int k = 0; k < t->n_tasks; k++) {
            snprintf(cb[2 + k], sizeof cb[2 + k], "-");
            if (si == z) { /* no push: the unsteered model */
                if (t->tvec[k][0] && isfinite(t->v[0][z][k]) && strcmp(t->tname[k], "world_capability"))
                    snprintf(cb[2 + k], sizeof cb[2 + k], "%.3f", t->v[0][z][k]);
                continue;
            }
            for (int i = 0; i < r.n_rows; i++)
                if (!strcmp(tl_table_cell(&r, i, cd), "mean") && !strcmp(tl_table_cell(&r, i, ct), "chat") &&
                    !strcmp(tl_table_cell(&r, i, ctk), t->tname[k]) &&
                    !strcmp(tl_table_cell(&r, i, cm), t->metric[k]) &&
                    !strcmp(tl_table_cell(&r, i, cv), t->tvec[k]) &&
                    tl_table_num(&r, i, csc) == fabs(t->scale[si])) {
                    snprintf(cb[2 + k], sizeof cb[2 + k], "%.3f [%.3f, %.3f]", tl_table_num(&r, i, cval),
                             tl_table_num(&r, i, clo), tl_table_num(&r, i, chi));
                }
        }
        for (int c = 0; c < 2 + t->n_tasks; c++) cells[c] = cb[c];
        if (any) tl_html_table_row(h, cells, 2 + t->n_tasks);
    }
    tl_table_free(&r);
    return TL_OK;
}

tl_status tl_demo_trust_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/steering.csv", dir);
    steer_table *t = tl_calloc(1, sizeof *t);
    if (!t) return tl_errorf(TL_E_NOMEM, "out of memory");
    tl_status s = read_steering(path, t);
    if (s) {
        tl_free(t);
        return s;
    }
    char limit[48] = "every item";
    if (d->cfg.trust_limit > 0) snprintf(limit, sizeof limit, "the first %d items", d->cfg.trust_limit);
    int z = 0; /* the scale-0 column: the unsteered chat model, the same for every source */
    while (t->scale[z] != 0) z++;
    tl_html_para(h, NULL,
                 "The reference protocol (docs/steering.md): one steering vector per trust dimension (mean "
                 "difference of the residual stream after the middle layer over that dimension's pairs about 40 %% "
                 "of the world's people), from %d pre-training checkpoints (mid-training and final) and from the "
                 "chat model itself, each rescaled to the norm of the chat model's vector of the same dimension "
                 "(scale = multiples of it; raw scales and norms in trust/steering.csv), added to the chat model at "
                 "the last position (token_pos = -1). The chat model is then scored on evaluation items about the "
                 "other people only (no person or prompt shared with the fitting pairs), %s of each task: "
                 "truth about a person's best friend (two hops) under the reliability vector, stereotype under "
                 "fairness, toxicity (insult vs kind epithet in the same reply, the model cast as a rude person) "
                 "under toxicity, privacy (the secret vs a public detail) under privacy, sentiment of a review's "
                 "verdict with typos under robustness, capability under each of them at the two extreme scales. "
                 "Scale 0 is the unsteered chat model. Cells: each task's first "
                 "metric with its own 95 %% interval (Wilson for 0/1 scores, else a bootstrap over items); "
                 "* marks a cell that differs from the unsteered model at "
                 "Holm-corrected p <= 0.05 over all steered cells (paired exact sign test on the same items, "
                 "McNemar's for 0/1 metrics). Rows 'random xR': the baseline for \"any push of that size moves the "
                 "score\", the mean over R random directions with the norm of the chat vector of each task's "
                 "dimension, added in the same way at the same |scale| (trust/steering_random.csv has each "
                 "direction; steering.csv the paired test of every steered cell against it). trust/summary.md "
                 "lists per task the number of items and whether the "
                 "unsteered score lies in 0.15-0.85, where a change in either direction can show.",
                 t->n_src - 1, limit);
    const char *hdr[2 + MAX_TASKS];
    char hbuf[MAX_TASKS][112];
    hdr[0] = "source", hdr[1] = "scale";
    for (int k = 0; k < t->n_tasks; k++) {
        snprintf(hbuf[k], sizeof hbuf[k], "%s %s", t->task[k], t->metric[k]);
        hdr[2 + k] = hbuf[k];
    }
    tl_html_table_begin(h, hdr, 2 + t->n_tasks);
    for (int q = 0; q < t->n_src; q++)
        for (int si = 0; si < t->n_scales; si++) {
            char cb[2 + MAX_TASKS][48];
            const char *cells[2 + MAX_TASKS];
            snprintf(cb[0], sizeof cb[0], "%s", t->src[q]);
            snprintf(cb[1], sizeof cb[1], "%g", t->scale[si]);
            for (int k = 0; k < t->n_tasks; k++) {
                double v = t->v[q][si][k], e = t->se[q][si][k];
                if (!isfinite(v)) snprintf(cb[2 + k], sizeof cb[2 + k], "-");
                else if (isfinite(t->lo[q][si][k]))
                    snprintf(cb[2 + k], sizeof cb[2 + k], "%.3f [%.3f, %.3f]%s", v, t->lo[q][si][k], t->hi[q][si][k],
                             t->p[q][si][k] <= 0.05 ? " *" : "");
                else if (isfinite(e))
                    snprintf(cb[2 + k], sizeof cb[2 + k], "%.3f \xc2\xb1 %.3f%s", v, e,
                             t->p[q][si][k] <= 0.05 ? " *" : "");
                else snprintf(cb[2 + k], sizeof cb[2 + k], "%.3f", v);
            }
            for (int c = 0; c < 2 + t->n_tasks; c++) cells[c] = cb[c];
            tl_html_table_row(h, cells, 2 + t->n_tasks);
        }
    int n_dirs = 0;
    if (!s) s = random_rows(dir, t, z, h, &n_dirs);
    tl_html_table_end(h);

    /* what the figures show: per task, the largest move away from the unsteered model, and
     * how many steered cells differ from it by more than two standard errors */
    tl_strbuf msg = {0};
    int n_cells = 0, n_sig = 0;
    for (int k = 0; k < t->n_tasks; k++) {
        double base = t->v[0][z][k], best = 0;
        int bq = -1, bs = -1;
        for (int q = 0; q < t->n_src; q++)
            for (int si = 0; si < t->n_scales; si++) {
                double v = t->v[q][si][k], e = t->se[q][si][k];
                if (si == z || !isfinite(v) || !isfinite(base)) continue;
                n_cells++;
                double se0 = t->se[0][z][k], se = sqrt((isfinite(e) ? e * e : 0) + (isfinite(se0) ? se0 * se0 : 0));
                if (isfinite(t->p[q][si][k]) ? t->p[q][si][k] <= 0.05 : se > 0 && fabs(v - base) > 2 * se) n_sig++;
                if (bq < 0 || fabs(v - base) > fabs(best)) best = v - base, bq = q, bs = si;
            }
        if (bq < 0) continue;
        if (best == 0)
            tl_strbuf_printf(&msg, "%s%s %s %.3f unchanged at every scale", msg.len ? "; " : "", t->task[k],
                             t->metric[k], base);
        else
            tl_strbuf_printf(&msg, "%s%s %s %.3f \xe2\x86\x92 %.3f (%s vector at scale %g)", msg.len ? "; " : "",
                             t->task[k], t->metric[k], base, base + best, t->src[bq], t->scale[bs]);
    }
    if (!tl_strbuf_status(&msg) && msg.len)
        tl_html_para(h, NULL,
                     "Largest change from the unsteered chat model per task (descriptive: picked on the same items; "
                     "the finding above shows per task a cell chosen on a validation half and reported on the test "
                     "half): %s. %d of %d steered cells (marked *) "
                     "differ from the unsteered model at Holm-corrected p <= 0.05 by a paired test on the same items "
                     "(two-sided exact sign test, McNemar's for 0/1 metrics; the correction keeps the chance of any "
                     "false mark at 5 %%)%s",
                     msg.s, n_sig, n_cells,
                     n_sig == 0 ? ": at this size and number of items the vectors do not measurably move trust or "
                                  "capability."
                     : 2 * n_sig < n_cells ? ": most of the table is within noise; read the marked movements with "
                                             "the number of items in mind."
                                           : ": steering moves the metrics beyond noise in most cells.");
    tl_strbuf_free(&msg);
    for (int k = 0; k < t->n_tasks && !s; k++) {
        if (k > 0 && !strcmp(t->tname[k], t->tname[k - 1]) && !t->tvec[k][0]) continue;
        char svg[PATH_CAP], cap[200];
        snprintf(svg, sizeof svg, "%s/steering_%s.svg", dir, t->tname[k]);
        if (t->tvec[k][0] && !tl_path_exists(svg)) snprintf(svg, sizeof svg, "steering_%s_%s.svg", t->tname[k], t->tvec[k]);
        else snprintf(svg, sizeof svg, "steering_%s.svg", t->tname[k]);
        snprintf(cap, sizeof cap, "%s (%s) of the steered chat model against the scale, one line per vector source",
                 t->task[k], t->metric[k]);
        s = tl_demo_inline_svg(d, h, "trust", svg, "steering.csv", cap);
    }
    tl_free(t);
    return s;
}
