/* stage_reversal.c: the reversal-curse experiment (issue 7 point 3) as a demo
 * stage: the demo's pre-trained model (last checkpoint of the series) fine-tuned
 * on the world's name <-> description facts with NTP, BICO and ABI
 * (tl_reversal_run), evaluated on N2D, D2N and their reverses. The test files are
 * thinned to rev_items items per subtask spread evenly over the file (the file
 * lists each person's paraphrases together, so the first N items would cover only
 * a few people); the training files are used whole. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/reversal.h"

#define PATH_CAP 4096

static const char *const train_files[] = {"p2d_prompts_train", "d2p_prompts_train", "both_prompts_train"};

/* Copy src to dst keeping k of its non-empty lines spread evenly (all when k <= 0). */
static tl_status thin_lines(const char *src, const char *dst, int k) {
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(src, &text, &len);
    if (s) return s;
    int n = 0;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n' && (i == 0 || text[i - 1] != '\n');
    if (len && text[len - 1] != '\n') n++;
    char **line = tl_malloc(sizeof(char *) * (size_t)(n + 1));
    size_t *ll = tl_malloc(sizeof(size_t) * (size_t)(n + 1));
    int *idx = tl_malloc(sizeof(int) * (size_t)(n + 1));
    tl_strbuf out = {0};
    if (!line || !ll || !idx) s = tl_errorf(TL_E_NOMEM, "out of memory");
    int m = 0;
    for (size_t i = 0; !s && i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n') j++;
        if (j > i && m < n) line[m] = text + i, ll[m++] = j - i;
        i = j + 1;
    }
    if (!s && m == 0) s = tl_errorf(TL_E_FORMAT, "%s: no items", src);
    int p = s ? 0 : tl_demo_pick(m, k, idx);
    for (int i = 0; i < p; i++) {
        tl_strbuf_append(&out, line[idx[i]], ll[idx[i]]);
        tl_strbuf_puts(&out, "\n");
    }
    if (!s) s = tl_strbuf_status(&out);
    if (!s) s = tl_file_write_atomic(dst, out.s, out.len);
    tl_strbuf_free(&out);
    tl_free(line);
    tl_free(ll);
    tl_free(idx);
    tl_free(text);
    return s;
}

typedef struct {
    tl_demo *d;
    int64_t base, done, total; /* training steps */
    char detail[160];
} rev_ui;

static void rev_stage(void *user, const char *msg) {
    rev_ui *ui = user;
    snprintf(ui->detail, sizeof ui->detail, "%s", msg);
    tl_demo_step(ui->d, ui->done, ui->total, -1, ui->detail);
}

static void rev_train(void *user, const tl_train_progress *p) {
    rev_ui *ui = user;
    if (p->step == 1 && ui->done > 0) ui->base = ui->done; /* a new run */
    ui->done = ui->base + p->step;
    char detail[200];
    snprintf(detail, sizeof detail, "%.60s loss %.3f", ui->detail, p->loss);
    tl_demo_step(ui->d, ui->done, ui->total, -1, detail);
}

tl_status tl_demo_reversal_run(tl_demo *d, const char *dir) {
    char src[PATH_CAP], data[PATH_CAP], from[PATH_CAP], to[PATH_CAP], rel[96];
    tl_status s = tl_demo_path(d, "world", "reversal", src, sizeof src);
    if (!s) s = tl_demo_fmt(data, sizeof data, "%s/data", dir);
    if (s) return s;
    if (!tl_path_is_dir(data) && mkdir(data, 0777) != 0) return tl_errorf(TL_E_IO, "%s: cannot create directory", data);
    for (int i = 0; i < 3 + TL_REV_SUBTASKS && !s; i++) {
        const char *f = i < 3 ? train_files[i] : tl_reversal_subtask_files[i - 3];
        snprintf(rel, sizeof rel, "%s.jsonl", f);
        s = tl_demo_fmt(from, sizeof from, "%s/%s", src, rel);
        if (!s) s = tl_demo_fmt(to, sizeof to, "%s/%s", data, rel);
        if (!s) s = thin_lines(from, to, i < 3 ? 0 : d->cfg.rev_items);
    }
    tl_ckpt_list l = {0};
    if (!s) s = tl_demo_series(d, &l);
    if (s) return s;
    static const char *const objectives[] = {"ntp", "bico", "abi"};
    tl_reversal_opts o;
    tl_reversal_opts_default(&o);
    o.model_path = l.items[l.n - 1].path;
    o.data_dir = data;
    o.out_dir = dir;
    o.objectives = objectives;
    o.n_objectives = 3;
    o.eval_base = 1;
    o.n_seeds = d->cfg.rev_seeds;
    o.seed = d->o.seed;
    o.steps = d->cfg.rev_steps;
    o.batch = d->cfg.rev_batch;
    o.lr = d->cfg.rev_lr;
    rev_ui ui = {d, 0, 0, (int64_t)o.n_objectives * o.n_seeds * o.steps, ""};
    o.on_stage = rev_stage;
    o.on_train = rev_train;
    o.user = &ui;
    tl_reversal_result res;
    memset(&res, 0, sizeof res);
    s = tl_reversal_run(&o, &res);
    tl_reversal_result_free(&res);
    tl_ckpt_list_free(&l);
    return s;
}

/* ---- the report ------------------------------------------------------------------ */

#define MAX_ROWS 8

tl_status tl_demo_reversal_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/results.csv", dir);
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    /* results.csv: objective,spec,subtask,file,n_items,seeds,em_mean,em_std,rank_mean,rank_std,... */
    char name[MAX_ROWS][64];
    double em[MAX_ROWS][TL_REV_SUBTASKS][2], rk[MAX_ROWS][TL_REV_SUBTASKS][2];
    /* intervals over people: ci[row][subtask][metric 0 em, 1 rank] = {lo, hi}; vs[...] =
     * {difference against ntp, lo, hi, p} (NaN when absent) */
    double ci[MAX_ROWS][TL_REV_SUBTASKS][2][2], vs[MAX_ROWS][TL_REV_SUBTASKS][2][4];
    int people = 0;
    for (int i = 0; i < MAX_ROWS; i++)
        for (int k = 0; k < TL_REV_SUBTASKS; k++)
            for (int m = 0; m < 2; m++) {
                ci[i][k][m][0] = ci[i][k][m][1] = NAN;
                for (int j = 0; j < 4; j++) vs[i][k][m][j] = NAN;
            }
    int n_rows = 0, n_items[TL_REV_SUBTASKS] = {0}, seeds = 0;
    for (int i = 0; i < MAX_ROWS; i++)
        for (int k = 0; k < TL_REV_SUBTASKS; k++) em[i][k][0] = em[i][k][1] = rk[i][k][0] = rk[i][k][1] = NAN;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, row = 0;
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || row++ == 0) continue;
        if (rec.n_fields < 10) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 14 fields, found %d", path, rec.line, rec.n_fields);
            break;
        }
        int q = -1, k = -1;
        for (int i = 0; i < n_rows; i++)
            if (!strcmp(name[i], rec.fields[0])) q = i;
        if (q < 0 && n_rows < MAX_ROWS) snprintf(name[q = n_rows++], sizeof name[0], "%s", rec.fields[0]);
        for (int i = 0; i < TL_REV_SUBTASKS; i++)
            if (!strcmp(rec.fields[2], tl_reversal_subtask_names[i])) k = i;
        if (q < 0 || k < 0) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: unknown subtask '%s' or too many rows", path, rec.line, rec.fields[2]);
            break;
        }
        n_items[k] = atoi(rec.fields[4]);
        if (strcmp(name[q], "base")) seeds = atoi(rec.fields[5]);
        em[q][k][0] = strtod(rec.fields[6], NULL), em[q][k][1] = strtod(rec.fields[7], NULL);
        rk[q][k][0] = strtod(rec.fields[8], NULL), rk[q][k][1] = strtod(rec.fields[9], NULL);
        if (rec.n_fields >= 27) { /* the intervals over people (results.csv since issue 14) */
            people = atoi(rec.fields[14]);
            for (int m = 0; m < 2; m++) {
                ci[q][k][m][0] = strtod(rec.fields[15 + 2 * m], NULL);
                ci[q][k][m][1] = strtod(rec.fields[16 + 2 * m], NULL);
                for (int j = 0; j < 4; j++) {
                    const char *f = rec.fields[19 + 4 * m + j];
                    vs[q][k][m][j] = *f ? strtod(f, NULL) : NAN;
                }
            }
        }
    }
    tl_csv_free(&r);
    tl_free(text);
    if (s) return s;
    if (n_rows == 0) return tl_errorf(TL_E_FORMAT, "%s: no results", path);
    tl_html_para(h, NULL,
                 "The reversal curse (Berglund et al. 2023) and BICO (Lv et al. 2023) on the world's invented "
                 "people: the last pre-training checkpoint fine-tuned %d steps (batch %d, peak lr %g) on facts "
                 "stated name-first (p2d), description-first (d2p) or both, once per objective and seed (%d "
                 "seeds), with next-token prediction (ntp), BICO mask denoising with bidirectional attention "
                 "and mirrored RoPE (bico), and GLM-style blank infilling (abi); base = before fine-tuning. "
                 "N2D and D2N ask in the trained direction, N2D-reverse and D2N-reverse in the other (%d test "
                 "items each, spread over the people). em: the greedy completion starts with the expected one; "
                 "rank: the correct completion is the most likely among all people's. Mean \xc2\xb1 std over "
                 "seeds, and in brackets the 95%% bootstrap interval over the %d people of a subtask "
                 "(reversal/results.csv, per-item generations in reversal/items/). A smaller preset than the "
                 "documented run of docs/reversal.md (10 epochs, 30 people per subset, 5 seeds).",
                 d->cfg.rev_steps, d->cfg.rev_batch, d->cfg.rev_lr, seeds, n_items[0], people);
    const char *hdr[1 + 2 * TL_REV_SUBTASKS];
    char hb[2 * TL_REV_SUBTASKS][48];
    hdr[0] = "objective";
    for (int k = 0; k < TL_REV_SUBTASKS; k++) {
        snprintf(hb[2 * k], sizeof hb[0], "%s em", tl_reversal_subtask_names[k]);
        snprintf(hb[2 * k + 1], sizeof hb[0], "%s rank", tl_reversal_subtask_names[k]);
        hdr[1 + 2 * k] = hb[2 * k], hdr[2 + 2 * k] = hb[2 * k + 1];
    }
    tl_html_table_begin(h, hdr, 1 + 2 * TL_REV_SUBTASKS);
    for (int q = 0; q < n_rows; q++) {
        char cb[1 + 2 * TL_REV_SUBTASKS][80];
        const char *cells[1 + 2 * TL_REV_SUBTASKS];
        snprintf(cb[0], sizeof cb[0], "%s", name[q]);
        for (int k = 0; k < TL_REV_SUBTASKS; k++) {
            snprintf(cb[1 + 2 * k], sizeof cb[0], "%.3f \xc2\xb1 %.3f [%.2f, %.2f]", em[q][k][0], em[q][k][1],
                     ci[q][k][0][0], ci[q][k][0][1]);
            snprintf(cb[2 + 2 * k], sizeof cb[0], "%.3f \xc2\xb1 %.3f [%.2f, %.2f]", rk[q][k][0], rk[q][k][1],
                     ci[q][k][1][0], ci[q][k][1][1]);
        }
        for (int c = 0; c < 1 + 2 * TL_REV_SUBTASKS; c++) cells[c] = cb[c];
        tl_html_table_row(h, cells, 1 + 2 * TL_REV_SUBTASKS);
    }
    tl_html_table_end(h);
    /* what the table says, from the numbers: the curse under ntp, and what bico/abi change */
    int ntp = -1, bico = -1, abi = -1;
    for (int q = 0; q < n_rows; q++) {
        if (!strcmp(name[q], "ntp")) ntp = q;
        if (!strcmp(name[q], "bico")) bico = q;
        if (!strcmp(name[q], "abi")) abi = q;
    }
    if (ntp >= 0) {
        tl_strbuf msg = {0};
        tl_strbuf_printf(&msg,
                         "With NTP, N2D exact match is %.3f and rank accuracy %.3f in the trained direction, "
                         "against %.3f and %.3f for N2D-reverse (rank by chance: 1/%d)",
                         em[ntp][0][0], rk[ntp][0][0], em[ntp][2][0], rk[ntp][2][0], d->cfg.world.n_rev_people);
        double chance = 1.0 / d->cfg.world.n_rev_people;
        if (em[ntp][0][0] < 0.2 && rk[ntp][0][0] < 2 * chance)
            tl_strbuf_puts(&msg, ": the facts were not learnt in the trained direction at this size, so the table "
                                 "says nothing about the reversal curse");
        else if (em[ntp][2][0] < 0.5 * em[ntp][0][0] && rk[ntp][2][0] < 0.5 * rk[ntp][0][0])
            tl_strbuf_puts(&msg, ": learnt one way, not the other (the reversal curse)");
        else
            tl_strbuf_puts(&msg, ": no reversal curse at this size");
        const int others[2] = {bico, abi};
        for (int j = 0; j < 2; j++) {
            int q = others[j];
            if (q < 0) continue;
            tl_strbuf_printf(&msg, ". %s: N2D-reverse em %.3f, rank %.3f (%+.3f and %+.3f against NTP; N2D %.3f, %.3f)",
                             name[q], em[q][2][0], rk[q][2][0], em[q][2][0] - em[ntp][2][0],
                             rk[q][2][0] - rk[ntp][2][0], em[q][0][0], rk[q][0][0]);
            /* the verdict from the paired interval over people: does it exclude 0? */
            const double *dr = vs[q][2][1], *e = vs[q][2][0], *t = vs[q][0][0];
            if (!isnan(dr[1])) {
                const char *v = dr[1] > 0 ? "above NTP" : dr[2] < 0 ? "below NTP" : "not distinguishable from NTP";
                tl_strbuf_printf(&msg, "; N2D-reverse rank minus NTP %+.3f, 95%% interval over people [%+.3f, %+.3f]",
                                 dr[0], dr[1], dr[2]);
                if (!isnan(dr[3])) tl_strbuf_printf(&msg, ", p = %.3f", dr[3]);
                tl_strbuf_printf(&msg, ": %s", v);
                if (!isnan(e[1]))
                    tl_strbuf_printf(&msg, "; exact match on the reverse %s", e[1] > 0 ? "above NTP" : "not above NTP");
                if (!isnan(t[2]) && t[2] < 0)
                    tl_strbuf_printf(&msg, "; it lowers N2D exact match (%+.3f [%+.3f, %+.3f])", t[0], t[1], t[2]);
            }
        }
        tl_strbuf_puts(&msg, ".");
        if (!tl_strbuf_status(&msg)) tl_html_para(h, NULL, "%s", msg.s);
        tl_strbuf_free(&msg);
    }
    s = tl_demo_inline_svg(d, h, "reversal", "reversal_em.svg", "results.csv",
                           "Exact match per subtask and objective (mean \xc2\xb1 std over seeds)");
    if (!s)
        s = tl_demo_inline_svg(d, h, "reversal", "reversal_rank.svg", "results.csv",
                               "Rank accuracy per subtask and objective (mean \xc2\xb1 std over seeds)");
    return s;
}
