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
    o.choices = d->cfg.rev_choices;
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

/* results.csv read by column name: per row (objective) and subtask */
enum { C_EM, C_EM_LO, C_EM_HI, C_RANK, C_RANK_LO, C_RANK_HI, C_CH, C_CH_LO, C_CH_HI, C_D, C_D_LO, C_D_HI, C_P, C_MDE,
       C_EM_D, C_EM_D_LO, C_EM_D_HI, C_RCH, C_N, C_PEOPLE, C_CAND, C_ALPHA, C__COUNT };
static const char *const col_names[C__COUNT] = {
    "em_mean",        "em_ci_lo",     "em_ci_hi",        "rank_mean",      "rank_ci_lo",      "rank_ci_hi",
    "choice_mean",    "choice_ci_lo", "choice_ci_hi",    "choice_vs_ntp",  "choice_vs_ntp_lo", "choice_vs_ntp_hi",
    "choice_vs_ntp_p", "choice_vs_ntp_mde", "em_vs_ntp", "em_vs_ntp_lo",   "em_vs_ntp_hi",    "rank_chance",
    "n_items",        "people",       "candidates",      "mde_alpha"};

typedef struct {
    int n_rows, seeds;
    char name[MAX_ROWS][64];
    double v[MAX_ROWS][TL_REV_SUBTASKS][C__COUNT];
} rev_table;

static tl_status read_results(const char *path, rev_table *rt) {
    tl_table t;
    int have = 0;
    tl_status s = tl_table_read(path, &t, &have);
    if (s) return s;
    if (!have) return tl_errorf(TL_E_IO, "%s: no such file", path);
    int co = tl_table_col(&t, "objective"), cs = tl_table_col(&t, "subtask"), cseeds = tl_table_col(&t, "seeds"),
        col[C__COUNT];
    for (int c = 0; c < C__COUNT && !s; c++)
        if ((col[c] = tl_table_col(&t, col_names[c])) < 0)
            s = tl_errorf(TL_E_FORMAT, "%s: no column '%s' (written by an older tiller?)", path, col_names[c]);
    if (!s && (co < 0 || cs < 0 || cseeds < 0)) s = tl_errorf(TL_E_FORMAT, "%s: needs objective, subtask, seeds", path);
    memset(rt, 0, sizeof *rt);
    for (int r = 0; r < t.n_rows && !s; r++) {
        const char *obj = tl_table_cell(&t, r, co), *sub = tl_table_cell(&t, r, cs);
        int q = -1, k = -1;
        for (int i = 0; i < rt->n_rows; i++)
            if (!strcmp(rt->name[i], obj)) q = i;
        if (q < 0 && rt->n_rows < MAX_ROWS) snprintf(rt->name[q = rt->n_rows++], sizeof rt->name[0], "%s", obj);
        for (int i = 0; i < TL_REV_SUBTASKS; i++)
            if (!strcmp(sub, tl_reversal_subtask_names[i])) k = i;
        if (q < 0 || k < 0) {
            s = tl_errorf(TL_E_FORMAT, "%s: row %d: unknown subtask '%s' or too many objectives", path, r + 2, sub);
            break;
        }
        if (strcmp(obj, "base")) rt->seeds = (int)tl_table_num(&t, r, cseeds);
        for (int c = 0; c < C__COUNT; c++) rt->v[q][k][c] = tl_table_num(&t, r, col[c]);
    }
    tl_table_free(&t);
    if (!s && rt->n_rows == 0) s = tl_errorf(TL_E_FORMAT, "%s: no results", path);
    return s;
}

static int row_of(const rev_table *rt, const char *name) {
    for (int q = 0; q < rt->n_rows; q++)
        if (!strcmp(rt->name[q], name)) return q;
    return -1;
}

tl_status tl_demo_reversal_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/results.csv", dir);
    rev_table *rt = tl_calloc(1, sizeof *rt);
    if (!rt) return tl_errorf(TL_E_NOMEM, "out of memory");
    tl_status s = read_results(path, rt);
    if (s) {
        tl_free(rt);
        return s;
    }
    const double *v0 = rt->v[0][TL_REV_N2D_REVERSE];
    tl_html_para(h, NULL,
                 "The reversal curse (Berglund et al. 2023) and BICO (Lv et al. 2023) on the world's invented "
                 "people: the last pre-training checkpoint fine-tuned %d steps (batch %d, peak lr %g) on facts "
                 "stated name-first (p2d), description-first (d2p) or both, once per objective and seed (%d "
                 "seed%s), with next-token prediction (ntp), BICO mask denoising with bidirectional attention "
                 "and mirrored RoPE (bico), and GLM-style blank infilling (abi); base = before fine-tuning. "
                 "N2D and D2N ask in the trained direction, N2D-reverse and D2N-reverse in the other (%.0f test "
                 "items each, %.0f people, %.3g paraphrased questions a person). Primary measure, fixed before this "
                 "run (docs/reversal.md): the calibrated two-way choice, the share of the item's other candidates "
                 "(the %.0f people of its block) whose log-probability, taken relative to the same candidate's "
                 "mean under the questions about other people, is below the right answer's; chance 0.5 for any "
                 "model whose preferences do not depend on whom the question is about. Beside it the paper's "
                 "exact match of the greedy completion, and rank (the right answer most likely of its "
                 "candidates). Brackets: 95%% bootstrap interval over people (reversal/results.csv, per-item "
                 "log-probabilities and generations in reversal/items/).",
                 d->cfg.rev_steps, d->cfg.rev_batch, d->cfg.rev_lr, rt->seeds, rt->seeds == 1 ? "" : "s",
                 v0[C_N], v0[C_PEOPLE], v0[C_PEOPLE] > 0 ? v0[C_N] / v0[C_PEOPLE] : NAN, v0[C_CAND]);
    /* table 1: every measure per objective and subtask */
    enum { NC = 1 + 3 * TL_REV_SUBTASKS };
    const char *hdr[NC];
    char hb[NC][48], cb[NC][80];
    const char *cells[NC];
    hdr[0] = "objective";
    static const char *const mname[3] = {"choice", "em", "rank"};
    for (int k = 0; k < TL_REV_SUBTASKS; k++)
        for (int m = 0; m < 3; m++) {
            snprintf(hb[1 + 3 * k + m], sizeof hb[0], "%s %s", tl_reversal_subtask_names[k], mname[m]);
            hdr[1 + 3 * k + m] = hb[1 + 3 * k + m];
        }
    tl_html_table_begin(h, hdr, NC);
    for (int q = 0; q <= rt->n_rows; q++) {
        snprintf(cb[0], sizeof cb[0], "%s", q < rt->n_rows ? rt->name[q] : "chance");
        for (int k = 0; k < TL_REV_SUBTASKS; k++) {
            static const int at[3][3] = {{C_CH, C_CH_LO, C_CH_HI}, {C_EM, C_EM_LO, C_EM_HI}, {C_RANK, C_RANK_LO, C_RANK_HI}};
            for (int m = 0; m < 3; m++) {
                char *c = cb[1 + 3 * k + m];
                if (q == rt->n_rows) { /* the chance row */
                    snprintf(c, sizeof cb[0], "%.3f", m == 0 ? 0.5 : m == 1 ? 0.0 : rt->v[0][k][C_RCH]);
                    continue;
                }
                const double *x = rt->v[q][k];
                if (isnan(x[at[m][0]])) snprintf(c, sizeof cb[0], "n/a");
                else snprintf(c, sizeof cb[0], "%.3f [%.2f, %.2f]", x[at[m][0]], x[at[m][1]], x[at[m][2]]);
            }
        }
        for (int c = 0; c < NC; c++) cells[c] = cb[c];
        tl_html_table_row(h, cells, NC);
    }
    tl_html_table_end(h);
    /* table 2: the primary measure against ntp */
    int ntp = row_of(rt, "ntp");
    if (ntp >= 0) {
        const char *h2[1 + TL_REV_SUBTASKS];
        char hb2[TL_REV_SUBTASKS][48], cb2[1 + TL_REV_SUBTASKS][120];
        h2[0] = "objective";
        for (int k = 0; k < TL_REV_SUBTASKS; k++) {
            snprintf(hb2[k], sizeof hb2[0], "%s: choice minus ntp", tl_reversal_subtask_names[k]);
            h2[1 + k] = hb2[k];
        }
        tl_html_para(h, NULL,
                     "The calibrated choice minus NTP's on the same items: 95%% bootstrap interval over people, p of "
                     "the paired sign-flip test over people, and the smallest difference the test detects with 80%% "
                     "power at level %.4g (Bonferroni over the comparisons; from the spread of the per-person "
                     "differences).",
                     rt->v[ntp][0][C_ALPHA]);
        tl_html_table_begin(h, h2, 1 + TL_REV_SUBTASKS);
        for (int q = 0; q < rt->n_rows; q++) {
            if (q == ntp || !strcmp(rt->name[q], "base")) continue;
            snprintf(cb2[0], sizeof cb2[0], "%s", rt->name[q]);
            for (int k = 0; k < TL_REV_SUBTASKS; k++) {
                const double *x = rt->v[q][k];
                if (isnan(x[C_D])) snprintf(cb2[1 + k], sizeof cb2[0], "n/a");
                else
                    snprintf(cb2[1 + k], sizeof cb2[0], "%+.3f [%+.3f, %+.3f], p = %.2g, detectable %.3f", x[C_D],
                             x[C_D_LO], x[C_D_HI], x[C_P], x[C_MDE]);
            }
            const char *c2[1 + TL_REV_SUBTASKS];
            for (int c = 0; c <= TL_REV_SUBTASKS; c++) c2[c] = cb2[c];
            tl_html_table_row(h, c2, 1 + TL_REV_SUBTASKS);
        }
        tl_html_table_end(h);
        /* what the tables say, from the numbers */
        const double *nf = rt->v[ntp][TL_REV_N2D], *nr = rt->v[ntp][TL_REV_N2D_REVERSE];
        tl_strbuf msg = {0};
        tl_strbuf_printf(&msg,
                         "With NTP, N2D exact match is %.3f and the calibrated choice %.3f in the trained direction, "
                         "against %.3f and %.3f for N2D-reverse (chance 0 and 0.5)",
                         nf[C_EM], nf[C_CH], nr[C_EM], nr[C_CH]);
        if (!(nf[C_EM_LO] > 0))
            tl_strbuf_puts(&msg, ": the facts were not learnt in the trained direction, so the table says nothing "
                                 "about the reversal curse");
        else if (nr[C_CH_HI] < nf[C_CH_LO] && nr[C_EM] < 0.5 * nf[C_EM])
            tl_strbuf_puts(&msg, ": learnt one way, much less the other (the reversal curse)");
        else
            tl_strbuf_puts(&msg, ": no reversal curse at this size");
        for (int q = 0; q < rt->n_rows; q++) {
            if (q == ntp || !strcmp(rt->name[q], "base")) continue;
            for (int k = TL_REV_N2D_REVERSE; k <= TL_REV_D2N_REVERSE; k++) {
                const double *x = rt->v[q][k];
                if (isnan(x[C_D])) continue;
                const char *verdict = x[C_P] <= 0.05 && x[C_D] > 0   ? "above NTP (uncorrected)"
                                      : x[C_P] <= 0.05 && x[C_D] < 0 ? "below NTP (uncorrected)"
                                                                     : "not distinguishable from NTP";
                tl_strbuf_printf(&msg, ". %s, %s: calibrated choice %.3f [%.3f, %.3f], %+.3f against NTP "
                                       "[%+.3f, %+.3f], sign-flip p = %.2g: %s; exact match %.3f",
                                 rt->name[q], tl_reversal_subtask_names[k], x[C_CH], x[C_CH_LO], x[C_CH_HI], x[C_D],
                                 x[C_D_LO], x[C_D_HI], x[C_P], verdict, x[C_EM]);
            }
            const double *t = rt->v[q][TL_REV_N2D];
            if (t[C_EM_D_HI] < 0)
                tl_strbuf_printf(&msg, "; %s lowers N2D exact match (%+.3f [%+.3f, %+.3f])", rt->name[q], t[C_EM_D],
                                 t[C_EM_D_LO], t[C_EM_D_HI]);
        }
        tl_strbuf_puts(&msg, ". The verdict with Holm's correction is R in the findings table.");
        if (!tl_strbuf_status(&msg)) tl_html_para(h, NULL, "%s", msg.s);
        tl_strbuf_free(&msg);
    }
    tl_free(rt);
    s = tl_demo_inline_svg(d, h, "reversal", "reversal_choice.svg", "results.csv",
                           "Calibrated two-way choice per subtask and objective (primary measure; dashed: chance)");
    if (!s)
        s = tl_demo_inline_svg(d, h, "reversal", "reversal_em.svg", "results.csv",
                               "Exact match per subtask and objective (the paper's measure)");
    if (!s)
        s = tl_demo_inline_svg(d, h, "reversal", "reversal_rank.svg", "results.csv",
                               "Rank accuracy per subtask and objective (dashed: chance, 1 / candidates)");
    return s;
}
