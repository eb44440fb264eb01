/* bench_trust: issue 6 point 7 — capture + probes for C checkpoints x all layers
 * x the dimensions' statement sets, through the real code paths (tl_acts_run,
 * tl_acts_series_open, tl_probe_run), on one model file used as every checkpoint
 * of a C-checkpoint series (each checkpoint is loaded from the file again, as a
 * real series would be; the page cache keeps the file, as it would for a real
 * series written moments before). Activations go to a temporary directory that
 * is removed at the end.
 *
 *   bench_trust -m MODEL --data DIR [--dims a,b,...] [--ckpts 40] [--tokenizer FILE] [--limit N]
 *     bench_trust checkpoints=40 layers=8 dim=256 params=... dims=5 statements=5100 tokens=...
 *                 threads=2 capture_s=... probe_s=... total_s=...
 *
 * DIR holds <dim>.csv (a tiller world's probes/ directory: reliability, toxicity,
 * privacy, fairness, robustness by default). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"

int main(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *tok = NULL, *dims = "reliability,toxicity,privacy,fairness,robustness";
    int C = 40, limit = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) goto usage;
        if (!strcmp(a, "-m")) model = v;
        else if (!strcmp(a, "--data")) data = v;
        else if (!strcmp(a, "--dims")) dims = v;
        else if (!strcmp(a, "--tokenizer")) tok = v;
        else if (!strcmp(a, "--ckpts")) C = atoi(v);
        else if (!strcmp(a, "--limit")) limit = atoi(v);
        else goto usage;
        i++;
    }
    if (!model || !data || C < 1) goto usage;
    tl_model *m = NULL;
    if (tl_model_load(model, &m, NULL)) {
        fprintf(stderr, "bench_trust: %s\n", tl_last_error());
        return 1;
    }
    int L = m->cfg.n_layers, dim = m->cfg.dim;
    long long params = (long long)m->n_params;
    tl_model_free(m);
    char tmp[] = "/tmp/bench_trust_XXXXXX";
    if (!mkdtemp(tmp)) return 1;
    tl_ckpt_list l = {C, calloc((size_t)C, sizeof(tl_ckpt))};
    char(*names)[32] = calloc((size_t)C, sizeof *names);
    for (int c = 0; c < C; c++) {
        snprintf(names[c], sizeof names[c], "ckpt-%d", c);
        l.items[c] = (tl_ckpt){c, names[c], (char *)model};
    }
    double cap_s = 0, probe_s = 0;
    long long statements = 0, tokens = 0;
    int n_dims = 0, rc = 0;
    char dbuf[1024];
    snprintf(dbuf, sizeof dbuf, "%s", dims);
    for (char *d = strtok(dbuf, ","); d && !rc; d = strtok(NULL, ",")) {
        char csv[4096], out[4096], pout[4096];
        snprintf(csv, sizeof csv, "%s/%s.csv", data, d);
        snprintf(out, sizeof out, "%s/acts-%s", tmp, d);
        snprintf(pout, sizeof pout, "%s/probe-%s", tmp, d);
        tl_acts_run_opts ro = {0};
        ro.acts.points = "resid_post";
        ro.acts.limit = limit;
        ro.acts.truncate = 1;
        ro.tokenizer = tok;
        tl_acts_run_report rep;
        double t0 = tl_time_sec();
        tl_acts_series *s = NULL;
        if (tl_acts_run(&l, 1, csv, &ro, out, &rep) || tl_acts_series_open(out, &s)) {
            fprintf(stderr, "bench_trust: %s\n", tl_last_error());
            rc = 1;
            break;
        }
        double t1 = tl_time_sec();
        tl_probe_run_opts po = {0};
        tl_probe_opts_default(&po.probe);
        if (tl_probe_run(s, &po, pout)) {
            fprintf(stderr, "bench_trust: %s\n", tl_last_error());
            rc = 1;
        }
        double t2 = tl_time_sec();
        statements += s->items[0]->n;
        tokens += rep.tokens;
        cap_s += t1 - t0;
        probe_s += t2 - t1;
        fprintf(stderr, "%s: %d statements, %lld tokens over %d checkpoints: capture %.1f s, probes %.1f s\n", d,
                s->items[0]->n, (long long)rep.tokens, C, t1 - t0, t2 - t1);
        tl_acts_series_free(s);
        n_dims++;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench_trust: could not remove %s\n", tmp);
    free(l.items);
    free(names);
    if (rc) return rc;
    printf("bench_trust checkpoints=%d layers=%d dim=%d params=%lld dims=%d statements=%lld tokens=%lld threads=%d "
           "capture_s=%.1f probe_s=%.1f total_s=%.1f\n",
           C, L, dim, params, n_dims, statements, tokens, omp_get_max_threads(), cap_s, probe_s, cap_s + probe_s);
    return 0;
usage:
    fprintf(stderr, "usage: bench_trust -m MODEL --data DIR [--dims a,b,...] [--ckpts 40] [--tokenizer FILE] "
                    "[--limit N]\n");
    return 2;
}
