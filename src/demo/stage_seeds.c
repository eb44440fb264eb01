/* stage_seeds.c: the probe and information-plane curves over pre-training seeds
 * (issue 13 point 6, `tiller demo --seeds K`). The main series (seed S) was
 * captured by the acts stage; seeds S+1 .. S+K-1 are pre-trained here with the
 * same preset (seeds/seed-<s>/pretrain), captured on the same probe sets at the
 * same checkpoint positions, and every seed (the main one included) is probed and
 * put through the information plane with the demo's settings. Per dimension and
 * checkpoint: the test accuracy of the layer chosen on validation and the corrected
 * HSIC I(X;T) of the middle layer, as mean, min and max over seeds (the bands).
 * Every seed's first and final checkpoints also take the behavioural knowledge test
 * (seeds/seeds_knowledge.csv): a band over seeds says little where a seed's model
 * never learnt the facts the probe sets depend on. With K = 1 (the default) the stage only says how to ask for bands. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h" /* internal: model, base */
#include "report/report.h"
#include "tiller/analysis.h"
#include "tiller/world.h"
#include "demo.h"

#define PATH_CAP 4096

static tl_status ensure_dir(const char *p) {
    if (tl_path_is_dir(p)) return TL_OK;
    if (mkdir(p, 0777) != 0 && !tl_path_is_dir(p)) return tl_errorf(TL_E_IO, "%s: cannot create directory", p);
    return TL_OK;
}

/* Capture the picked checkpoints of series dir `pre` on every probe set into acts_dir/<dim>. */
static tl_status capture_seed(tl_demo *d, const char *pre, const char *acts_dir) {
    tl_ckpt_list l = {0}, pick = {0};
    tl_status s = tl_series_list(pre, &l);
    if (!s && l.n == 0) s = tl_errorf(TL_E_FORMAT, "%s: no checkpoints", pre);
    int *idx = s ? NULL : tl_malloc(sizeof(int) * (size_t)l.n);
    pick.items = s ? NULL : tl_malloc(sizeof(tl_ckpt) * (size_t)l.n);
    if (!s && (!idx || !pick.items)) s = tl_errorf(TL_E_NOMEM, "out of memory");
    if (!s) {
        pick.n = tl_demo_pick(l.n, d->cfg.acts_ckpts, idx);
        for (int i = 0; i < pick.n; i++) pick.items[i] = l.items[idx[i]];
    }
    if (!s) s = ensure_dir(acts_dir);
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char csv[PATH_CAP], out[PATH_CAP], rel[64];
        snprintf(rel, sizeof rel, "%s.csv", tl_world_dim_names[k]);
        s = tl_demo_path(d, "acts", rel, csv, sizeof csv); /* the acts stage's probe sets */
        if (!s) s = tl_demo_fmt(out, sizeof out, "%s/%s", acts_dir, tl_world_dim_names[k]);
        tl_acts_run_opts o = {0};
        o.acts.points = "embed,resid_post";
        o.acts.reduce = TL_REDUCE_LAST;
        o.acts.truncate = 1;
        tl_acts_run_report rep;
        if (!s) s = tl_acts_run(&pick, 1, csv, &o, out, &rep);
    }
    tl_free(idx);
    tl_free(pick.items);
    tl_ckpt_list_free(&l);
    return s;
}

/* The behavioural knowledge test of series `pre`'s first and last checkpoints,
 * appended to csv as rows of seeds_knowledge.csv. */
static tl_status knowledge_seed(tl_demo *d, const char *pre, uint64_t seed, tl_strbuf *csv) {
    tl_ckpt_list l = {0};
    tl_status s = tl_series_list(pre, &l);
    if (!s && l.n == 0) s = tl_errorf(TL_E_FORMAT, "%s: no checkpoints", pre);
    for (int e = 0; e < 2 && !s; e++) {
        const tl_ckpt *c = &l.items[e ? l.n - 1 : 0];
        tl_world_behave_result r[TL_DIM__COUNT];
        s = tl_demo_knowledge_model(d, c->path, r);
        for (int k = 0; k < TL_DIM__COUNT && !s; k++)
            tl_strbuf_printf(csv, "%s,%llu,%lld,%d,%d,%.6f,%.6f,%.6f\n", tl_world_dim_names[k],
                             (unsigned long long)seed, (long long)c->step, r[k].n, r[k].n_clusters, r[k].bal_acc,
                             r[k].boot_lo, r[k].boot_hi);
    }
    tl_ckpt_list_free(&l);
    return s;
}

/* Probe and information plane of one seed's captures; acc [C] and ixt [C] (middle layer) out. */
static tl_status analyse_seed(const char *acts, const char *out, double *acc, double *ixt, int *C_out, int64_t *steps) {
    tl_acts_series *ser = NULL;
    tl_status s = tl_acts_series_open(acts, &ser);
    if (s) return s;
    int C = ser->n, P = ser->items[0]->n_points;
    double *buf = tl_malloc(sizeof(double) * (size_t)C * (2 * P + 5)), *sel = buf ? buf + (size_t)C * P : NULL,
           *ix = buf ? sel + (size_t)C * 5 : NULL;
    if (!buf) s = tl_errorf(TL_E_NOMEM, "out of memory");
    char pout[PATH_CAP], iout[PATH_CAP];
    if (!s) s = tl_demo_fmt(pout, sizeof pout, "%s/probe", out);
    if (!s) s = tl_demo_fmt(iout, sizeof iout, "%s/infoplane", out);
    if (!s) s = ensure_dir(out);
    if (!s) {
        tl_probe_run_opts po = {0};
        tl_probe_opts_default(&po.probe);
        po.probe.val = 0.2; /* as the probe stage */
        po.acc_out = buf;
        po.sel_out = sel;
        s = tl_probe_run(ser, &po, pout);
    }
    if (!s) {
        tl_infoplane_opts io; /* as the infoplane stage */
        tl_infoplane_opts_default(&io);
        io.split = 1.0;
        io.hsic_rows = 1000;
        io.ixt_out = ix;
        s = tl_infoplane_run(ser, &io, iout);
    }
    char mid[32];
    snprintf(mid, sizeof mid, "resid_post.%d", (P - 1) / 2); /* points: embed, resid_post.0 .. L-1 */
    int pm = 0;
    for (int p = 0; p < P; p++)
        if (!strcmp(ser->items[0]->points[p], mid)) pm = p;
    for (int c = 0; c < C && !s; c++) {
        acc[c] = sel[(size_t)c * 5 + 2];
        ixt[c] = ix[(size_t)c * P + pm];
        steps[c] = ser->items[c]->step;
    }
    *C_out = C;
    tl_free(buf);
    tl_acts_series_free(ser);
    return s;
}

#define MAX_C 128

tl_status tl_demo_seeds_run(tl_demo *d, const char *dir) {
    int K = d->cfg.seeds;
    if (K <= 1) return TL_OK; /* the report says how to ask for bands */
    if (K > 16) return tl_errorf(TL_E_ARG, "demo: %d seeds (at most 16)", K);
    double(*acc)[TL_DIM__COUNT][MAX_C] = tl_calloc(16, sizeof *acc), (*ixt)[TL_DIM__COUNT][MAX_C] = tl_calloc(16, sizeof *ixt);
    int64_t steps[MAX_C];
    int C = 0;
    tl_status s = acc && ixt ? TL_OK : tl_errorf(TL_E_NOMEM, "out of memory");
    tl_strbuf per = {0};
    tl_strbuf_puts(&per, "dimension,seed,step,probe_test_acc,ixt_hsic_corrected_mid_layer\n");
    tl_strbuf know = {0};
    tl_strbuf_puts(&know, "dimension,seed,step,n_pairs,n_entities,balanced_accuracy,boot_lo95,boot_hi95\n");
    for (int j = 0; j < K && j < 16 && !s; j++) {
        uint64_t seed = d->o.seed + (uint64_t)j;
        char sdir[PATH_CAP], pre[PATH_CAP], acts[PATH_CAP];
        s = tl_demo_fmt(sdir, sizeof sdir, "%s/seed-%llu", dir, (unsigned long long)seed);
        if (!s) s = ensure_dir(sdir);
        if (!s && j > 0) { /* another pre-training run of the same preset */
            tl_demo dj = *d;
            dj.o.seed = seed;
            s = tl_demo_fmt(pre, sizeof pre, "%s/pretrain", sdir);
            if (!s) s = ensure_dir(pre);
            if (!s) s = tl_demo_pretrain_run(&dj, pre);
            if (!s) s = tl_demo_fmt(acts, sizeof acts, "%s/acts", sdir);
            if (!s) s = capture_seed(d, pre, acts);
        } else if (!s) {
            s = tl_demo_path(d, "acts", NULL, acts, sizeof acts); /* the main series, captured already */
            if (!s) s = tl_demo_path(d, "pretrain", NULL, pre, sizeof pre);
        }
        if (!s) s = knowledge_seed(d, pre, seed, &know);
        for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
            char a[PATH_CAP], o[PATH_CAP];
            int Cj = 0;
            s = tl_demo_fmt(a, sizeof a, "%s/%s", acts, tl_world_dim_names[k]);
            if (!s) s = tl_demo_fmt(o, sizeof o, "%s/%s", sdir, tl_world_dim_names[k]);
            tl_demo_step(d, (int64_t)j * TL_DIM__COUNT + k, (int64_t)K * TL_DIM__COUNT, -1, tl_world_dim_names[k]);
            double a1[MAX_C], x1[MAX_C];
            int64_t st[MAX_C];
            if (!s) s = analyse_seed(a, o, a1, x1, &Cj, st);
            if (!s && (Cj > MAX_C || (C && Cj != C)))
                s = tl_errorf(TL_E_FORMAT, "%s: %d checkpoints, the main series has %d", a, Cj, C);
            for (int c = 0; c < Cj && !s; c++) {
                acc[j][k][c] = a1[c], ixt[j][k][c] = x1[c], steps[c] = st[c];
                tl_strbuf_printf(&per, "%s,%llu,%lld,%.6f,%.6f\n", tl_world_dim_names[k], (unsigned long long)seed,
                                 (long long)st[c], a1[c], x1[c]);
            }
            C = Cj;
        }
    }
    /* the bands: mean, min, max over seeds per dimension and checkpoint; one chart per quantity */
    tl_strbuf bands = {0};
    tl_strbuf_puts(&bands, "dimension,step,quantity,mean,min,max,seeds\n");
    for (int q = 0; q < 2 && !s; q++)
        for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
            double x[MAX_C], y[3][MAX_C];
            for (int c = 0; c < C; c++) {
                double sum = 0, lo = INFINITY, hi = -INFINITY;
                for (int j = 0; j < K; j++) {
                    double v = q ? ixt[j][k][c] : acc[j][k][c];
                    sum += v, lo = fmin(lo, v), hi = fmax(hi, v);
                }
                x[c] = (double)steps[c];
                y[0][c] = sum / K, y[1][c] = lo, y[2][c] = hi;
                tl_strbuf_printf(&bands, "%s,%lld,%s,%.6f,%.6f,%.6f,%d\n", tl_world_dim_names[k], (long long)steps[c],
                                 q ? "ixt_hsic_corrected_mid_layer" : "probe_test_acc", sum / K, lo, hi, K);
            }
            /* the mean over seeds with the range over seeds as its bars; min and max dashed beside it */
            tl_chart_series ser[3] = {{"mean (bars: min to max over seeds)", x, y[0], C}, {"min", x, y[1], C},
                                      {"max", x, y[2], C}};
            tl_chart_style sty[3] = {{y[1], y[2], 0}, {NULL, NULL, 1}, {NULL, NULL, 1}};
            char title[200], path[PATH_CAP];
            snprintf(title, sizeof title, "%s: %s, n = %d seeds", tl_world_dim_names[k],
                     q ? "corrected HSIC I(X;T), middle layer" : "probe test accuracy (layer chosen on validation)", K);
            tl_chart ch = {title, "step", q ? "I(X;T) - shuffled" : "test accuracy", 0, 0, TL_AXIS_LOG1P, 0, 0};
            if (!q) ch.y_max = 1; /* accuracy on its whole range */
            tl_strbuf svg = {0};
            s = tl_svg_line_chart_styled(&svg, &ch, ser, sty, 3);
            if (!s)
                s = tl_demo_fmt(path, sizeof path, "%s/seeds_%s_%s.svg", dir, q ? "infoplane" : "probe",
                                tl_world_dim_names[k]);
            if (!s) s = tl_svg_save(&svg, path);
            tl_strbuf_free(&svg);
        }
    char path[PATH_CAP];
    if (!s) s = tl_strbuf_status(&per);
    if (!s) s = tl_strbuf_status(&bands);
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/seeds.csv", dir);
    if (!s) s = tl_file_write_atomic(path, per.s, per.len);
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/seeds_bands.csv", dir);
    if (!s) s = tl_file_write_atomic(path, bands.s, bands.len);
    if (!s) s = tl_strbuf_status(&know);
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/seeds_knowledge.csv", dir);
    if (!s) s = tl_file_write_atomic(path, know.s, know.len);
    tl_strbuf_free(&know);
    tl_strbuf_free(&per);
    tl_strbuf_free(&bands);
    tl_free(acc);
    tl_free(ixt);
    return s;
}

/* The knowledge table of the report: per seed, the first and final checkpoints' behavioural
 * accuracy on every dimension, and a sentence counting the seeds whose final checkpoint
 * reaches TL_DEMO_KNOW_MIN on every dimension (point estimate; lower bound). */
static tl_status knowledge_report(const char *dir, int K, tl_html *h) {
    char path[PATH_CAP], *text = NULL;
    size_t len = 0;
    tl_status s = tl_demo_fmt(path, sizeof path, "%s/seeds_knowledge.csv", dir);
    if (!s) s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    enum { MAXS = 16 };
    double acc[MAXS][2][TL_DIM__COUNT], lo[MAXS][2][TL_DIM__COUNT], hi[MAXS][2][TL_DIM__COUNT];
    long long seed[MAXS], step[MAXS][2];
    int n_seed = 0, rows = 0;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got;
    while (!s && (s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || rows++ == 0) continue;
        int k = -1, j = -1;
        for (int q = 0; q < TL_DIM__COUNT && rec.n_fields == 8; q++)
            if (!strcmp(rec.fields[0], tl_world_dim_names[q])) k = q;
        long long sd = rec.n_fields == 8 ? strtoll(rec.fields[1], NULL, 10) : 0;
        for (int q = 0; q < n_seed; q++)
            if (seed[q] == sd) j = q;
        if (k >= 0 && j < 0 && n_seed < MAXS) j = n_seed++, seed[j] = sd, step[j][0] = step[j][1] = -1;
        if (k < 0 || j < 0) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected dimension,seed,step,...,boot_hi95 (8 fields)", path, rec.line);
            break;
        }
        long long st = strtoll(rec.fields[2], NULL, 10);
        int e = step[j][0] >= 0 && step[j][0] != st; /* the first step seen is the first checkpoint */
        if (!e)
            step[j][0] = st;
        else
            step[j][1] = st;
        acc[j][e][k] = strtod(rec.fields[5], NULL), lo[j][e][k] = strtod(rec.fields[6], NULL);
        hi[j][e][k] = strtod(rec.fields[7], NULL);
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!s && n_seed != K) s = tl_errorf(TL_E_FORMAT, "%s: %d seeds, expected %d", path, n_seed, K);
    for (int j = 0; j < n_seed && !s; j++)
        if (step[j][1] < 0) s = tl_errorf(TL_E_FORMAT, "%s: seed %lld has one checkpoint", path, seed[j]);
    if (s) return s;
    int n_all = 0, n_all_lo = 0;
    for (int j = 0; j < n_seed; j++) {
        int all = 1, all_lo = 1;
        for (int k = 0; k < TL_DIM__COUNT; k++)
            all &= acc[j][1][k] >= TL_DEMO_KNOW_MIN, all_lo &= lo[j][1][k] >= TL_DEMO_KNOW_MIN;
        n_all += all, n_all_lo += all_lo;
    }
    tl_html_para(h, "finding",
                 "Knowledge over seeds: the final checkpoint knows every dimension's facts (length-balanced "
                 "behavioural accuracy on the test pairs >= %.2f) at %d of %d seeds; with the 95 %% bootstrap "
                 "interval's lower bound >= %.2f at %d of %d (seeds/seeds_knowledge.csv). Bands over seeds mix "
                 "models that know the facts with any that do not; read them beside this table.",
                 TL_DEMO_KNOW_MIN, n_all, K, TL_DEMO_KNOW_MIN, n_all_lo, K);
    const char *hd[2 + TL_DIM__COUNT] = {"seed", "step"};
    for (int k = 0; k < TL_DIM__COUNT; k++) hd[2 + k] = tl_world_dim_names[k];
    tl_html_table_begin(h, hd, 2 + TL_DIM__COUNT);
    for (int j = 0; j < n_seed; j++)
        for (int e = 0; e < 2; e++) {
            char cb[2 + TL_DIM__COUNT][64];
            const char *cells[2 + TL_DIM__COUNT];
            snprintf(cb[0], sizeof cb[0], "%lld", seed[j]);
            snprintf(cb[1], sizeof cb[1], "%lld", step[j][e]);
            for (int k = 0; k < TL_DIM__COUNT; k++)
                snprintf(cb[2 + k], sizeof cb[2 + k], "%.3f [%.3f, %.3f]", acc[j][e][k], lo[j][e][k], hi[j][e][k]);
            for (int i = 0; i < 2 + TL_DIM__COUNT; i++) cells[i] = cb[i];
            tl_html_table_row(h, cells, 2 + TL_DIM__COUNT);
        }
    tl_html_table_end(h);
    return TL_OK;
}

tl_status tl_demo_seeds_report(tl_demo *d, const char *dir, tl_html *h) {
    int K = d->cfg.seeds;
    if (K <= 1) {
        tl_html_para(h, NULL,
                     "One pre-training seed (the default, for time): the curves above have no band over seeds. "
                     "`tiller demo --seeds K` pre-trains K - 1 more series with seeds S+1 .. S+K-1 and draws the "
                     "probe and information-plane curves as mean, min and max over the K seeds "
                     "(docs/analysis.md gives the K = 3 preset's measured time).");
        return TL_OK;
    }
    tl_html_para(h, NULL,
                 "%d pre-training runs of the same preset with seeds %llu .. %llu, captured on the same probe sets "
                 "at the same checkpoint positions and analysed with the same settings. Bands: mean, min and max "
                 "over the seeds (seeds/seeds_bands.csv; per seed: seeds/seeds.csv). A difference between "
                 "checkpoints smaller than the band's width is not a trend of training.",
                 K, (unsigned long long)d->o.seed, (unsigned long long)(d->o.seed + (uint64_t)K - 1));
    tl_status s = knowledge_report(dir, K, h);
    for (int q = 0; q < 2 && !s; q++)
        for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
            char svg[96], cap[200];
            snprintf(svg, sizeof svg, "seeds_%s_%s.svg", q ? "infoplane" : "probe", tl_world_dim_names[k]);
            snprintf(cap, sizeof cap, "%s: %s over %d seeds (mean, min, max)", tl_world_dim_names[k],
                     q ? "corrected HSIC I(X;T) of the middle layer" : "probe test accuracy", K);
            s = tl_demo_inline_svg(d, h, "seeds", svg, "seeds_bands.csv", cap);
        }
    return s;
}
