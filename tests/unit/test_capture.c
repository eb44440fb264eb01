/* Activation capture.
 *   - tiny_llama against the PyTorch float64 oracle (tests/oracle/capture_ref.py):
 *     embed, resid_post.L, final_norm; last token and mean over tokens;
 *   - stories260K: the capturer's rows equal a hand-made hook on a plain prefill
 *     forward of each statement alone (bit for bit) and token-by-token decode
 *     (1e-5); one worker and two workers give identical rows;
 *   - activation directories: files, labels, meta.json, resume (a complete
 *     capture is skipped, other settings are refused, a directory without
 *     meta.json is captured again); series listing by step and manifest.json.
 * TILLER_CAPTURE_KEEP=1 keeps the tiny_llama capture (with tokens.txt) for
 * `capture_ref.py --check DIR`, which loads it with numpy. */
#include <omp.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "testlib.h"

typedef struct {
    float *rows; /* [n_ctx, C] by position */
    int width;
} grab;

static void grab_fn(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    grab *g = user;
    memcpy(g->rows + (size_t)pos0 * width, x, (size_t)T * width * sizeof(float));
}

/* A dataset in memory (no CSV) whose statements are the given token sequences. */
static tl_dataset *fake_dataset(const char *path, int n) {
    tl_dataset *d = tl_calloc(1, sizeof *d);
    d->path = tl_strdup(path);
    d->n = n;
    d->text = tl_calloc((size_t)n, sizeof *d->text);
    d->len = tl_calloc((size_t)n, sizeof *d->len);
    d->label = tl_calloc((size_t)n, sizeof *d->label);
    d->line = tl_calloc((size_t)n, sizeof *d->line);
    for (int i = 0; i < n; i++) {
        d->text[i] = tl_strdup("x");
        d->label[i] = (i * 7) % 3 == 0;
        d->line[i] = i + 2;
    }
    return d;
}

static tl_token_seqs *seqs_of(int32_t **ids, int *len, int n) {
    tl_token_seqs *s = tl_calloc(1, sizeof *s);
    s->n = n;
    s->ids = tl_calloc((size_t)n, sizeof *s->ids);
    s->len = tl_calloc((size_t)n, sizeof *s->len);
    for (int i = 0; i < n; i++) {
        s->ids[i] = tl_malloc((size_t)len[i] * sizeof(int32_t));
        memcpy(s->ids[i], ids[i], (size_t)len[i] * sizeof(int32_t));
        s->len[i] = len[i];
        if (len[i] > s->max_len) s->max_len = len[i];
        s->total += len[i];
    }
    return s;
}

static void test_oracle(void) {
    tl_model *m = NULL;
    CHECK_OK(tl_model_load("tests/golden/tiny_llama", &m, NULL));
    char *raw;
    size_t size;
    CHECK_OK(tl_file_read_all("tests/golden/capture/tiny_llama.bin", &raw, &size));
    if (!m || !raw) return;
    uint32_t hdr[5];
    memcpy(hdr, raw, sizeof hdr);
    int n = (int)hdr[2], np = (int)hdr[3], C = (int)hdr[4];
    CHECK(hdr[0] == 0x43414c54 && C == m->cfg.dim && np == 5, "golden header");
    int32_t *lens = (int32_t *)(raw + 20), *tok = lens + n;
    int total = 0;
    for (int i = 0; i < n; i++) total += lens[i];
    /* the f64 block follows the int32 tokens, so it may be misaligned: copy it out */
    double *last = malloc(sizeof(double) * 2 * np * n * C), *mean = last + (size_t)np * n * C;
    memcpy(last, tok + total, sizeof(double) * 2 * np * n * C);
    int32_t **ids = malloc(sizeof *ids * n);
    for (int i = 0, off = 0; i < n; off += lens[i], i++) ids[i] = tok + off;
    tl_act_point *pts;
    int n_pts;
    CHECK_OK(tl_act_points_parse("embed, resid_post ,final_norm", &m->cfg, &pts, &n_pts));
    CHECK(n_pts == 5 && !strcmp(pts[1].name, "resid_post.0") && !strcmp(pts[4].name, "final_norm"), "points");
    for (int r = 0; r < 2; r++) {
        float *out[5];
        for (int p = 0; p < 5; p++) out[p] = calloc((size_t)n * C, sizeof(float));
        tl_capturer *c = NULL;
        CHECK_OK(tl_capturer_new(m, pts, n_pts, r ? TL_REDUCE_MEAN : TL_REDUCE_LAST, 24, 2, &c));
        CHECK_OK(tl_capturer_run(c, (const int32_t *const *)ids, lens, n, out));
        double worst = 0;
        for (int p = 0; p < 5; p++)
            for (size_t i = 0; i < (size_t)n * C; i++) {
                double want = (r ? mean : last)[(size_t)p * n * C + i], e = fabs(out[p][i] - want) / fmax(1, fabs(want));
                if (!(e <= worst)) worst = e;
            }
        CHECK(worst < 5e-5, "tiny_llama %s: max error %.3g against the float64 oracle", r ? "mean" : "last", worst);
        printf("tiny_llama vs PyTorch float64 oracle, token %s: max error %.2e over %d points x %d statements\n",
               r ? "mean" : "last", worst, n_pts, n);
        tl_capturer_free(c);
        for (int p = 0; p < 5; p++) free(out[p]);
    }
    /* the same through an activation directory, kept for capture_ref.py --check */
    {
        const char *keep = getenv("TILLER_CAPTURE_KEEP");
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tiny_acts", tl_test_tmpdir());
        tl_dataset *d = fake_dataset("tiny.csv", n);
        tl_token_seqs *ts = seqs_of(ids, lens, n);
        tl_acts_opts o = {.points = "embed,resid_post,final_norm", .reduce = TL_REDUCE_LAST, .block = 5};
        int skipped;
        CHECK_OK(tl_acts_capture(m, "tests/golden/tiny_llama", -1, d, ts, NULL, &o, dir, &skipped));
        char tp[600];
        snprintf(tp, sizeof tp, "%s/tokens.txt", dir);
        FILE *f = fopen(tp, "w");
        for (int i = 0; i < n; i++)
            for (int t = 0; t < lens[i]; t++) fprintf(f, "%d%c", ids[i][t], t + 1 < lens[i] ? ' ' : '\n');
        fclose(f);
        if (keep) printf("kept %s: run /usr/bin/python3 tests/oracle/capture_ref.py --check %s\n", dir, dir);
        tl_dataset_free(d);
        tl_token_seqs_free(ts);
    }
    free(ids);
    free(last);
    tl_free(pts);
    tl_free(raw);
    tl_model_free(m);
}

int main(void) {
    test_oracle();

    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (!m) return tl_test_done();
    const int n = 9, C = m->cfg.dim, L = m->cfg.n_layers;
    int lens[9] = {1, 12, 5, 30, 2, 17, 9, 40, 3};
    int32_t *ids[9];
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (int i = 0; i < n; i++) {
        ids[i] = malloc(sizeof(int32_t) * lens[i]);
        ids[i][0] = 1;
        for (int t = 1; t < lens[i]; t++) ids[i][t] = 3 + (int32_t)tl_rng_below(&rng, 509);
    }
    tl_act_point *pts;
    int n_pts;
    CHECK_OK(tl_act_points_parse("resid_post", &m->cfg, &pts, &n_pts));
    CHECK(n_pts == L, "resid_post expands to %d points", n_pts);
    /* bad point lists */
    {
        tl_act_point *bad;
        int nb;
        CHECK(tl_act_points_parse("resid_post.5", &m->cfg, &bad, &nb) == TL_E_ARG && strstr(tl_last_error(), "5 layers"),
              "layer 5 of 5: %s", tl_last_error());
        CHECK(tl_act_points_parse("embed,embed", &m->cfg, &bad, &nb) == TL_E_ARG, "duplicate point");
        CHECK(tl_act_points_parse("resid_post,,embed", &m->cfg, &bad, &nb) == TL_E_ARG, "empty entry");
        CHECK(tl_act_points_parse("resid_mid", &m->cfg, &bad, &nb) == TL_E_ARG, "unknown point");
    }

    /* rows from the capturer, with 1 and 2 workers */
    float *rows1[5], *rows2[5], *mean1[5];
    for (int p = 0; p < L; p++) {
        rows1[p] = calloc((size_t)n * C, sizeof(float));
        rows2[p] = calloc((size_t)n * C, sizeof(float));
        mean1[p] = calloc((size_t)n * C, sizeof(float));
    }
    omp_set_num_threads(2);
    tl_capturer *c1 = NULL, *c2 = NULL, *cm = NULL;
    CHECK_OK(tl_capturer_new(m, pts, n_pts, TL_REDUCE_LAST, 40, 1, &c1));
    CHECK_OK(tl_capturer_new(m, pts, n_pts, TL_REDUCE_LAST, 40, 2, &c2));
    CHECK_OK(tl_capturer_new(m, pts, n_pts, TL_REDUCE_MEAN, 40, 2, &cm));
    CHECK_OK(tl_capturer_run(c1, (const int32_t *const *)ids, lens, n, rows1));
    CHECK_OK(tl_capturer_run(c2, (const int32_t *const *)ids, lens, n, rows2));
    CHECK_OK(tl_capturer_run(cm, (const int32_t *const *)ids, lens, n, mean1));
    int same = 1;
    for (int p = 0; p < L; p++) same &= !memcmp(rows1[p], rows2[p], sizeof(float) * n * C);
    CHECK(same, "1 and 2 workers give different rows");
    /* errors: an id outside the vocabulary, a statement longer than the capturer's context */
    {
        int32_t badtok[2] = {1, 512};
        const int32_t *b[1] = {badtok};
        int bl[1] = {2}, longl[1] = {41};
        CHECK(tl_capturer_run(c1, b, bl, 1, rows1) == TL_E_ARG && strstr(tl_last_error(), "512"), "bad id: %s",
              tl_last_error());
        CHECK(tl_capturer_run(c1, (const int32_t *const *)ids + 7, longl, 1, rows1) == TL_E_RANGE, "too long");
    }

    /* each statement alone with a plain hook: prefill (bit for bit) and decode (1e-5) */
    double worst_pre = 0, worst_dec = 0, worst_mean = 0;
    for (int mode = 0; mode < 2; mode++) {
        tl_session *s = NULL;
        CHECK_OK(tl_session_new(m, 64, 0, &s));
        grab g[5];
        for (int l = 0; l < L; l++) {
            g[l].rows = calloc((size_t)64 * C, sizeof(float));
            g[l].width = C;
            CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_RESID_POST, l, grab_fn, &g[l]));
        }
        for (int i = 0; i < n; i++) {
            tl_session_reset(s);
            if (mode == 0) CHECK_OK(tl_forward(s, ids[i], lens[i], NULL));
            else
                for (int t = 0; t < lens[i]; t++) CHECK_OK(tl_forward(s, ids[i] + t, 1, NULL));
            for (int l = 0; l < L; l++) {
                const float *want = g[l].rows + (size_t)(lens[i] - 1) * C, *got = rows2[l] + (size_t)i * C;
                double e = tl_test_max_abs(got, want, (size_t)C);
                if (mode == 0) worst_pre = fmax(worst_pre, e);
                else worst_dec = fmax(worst_dec, e);
                if (mode == 0) {
                    float mrow[512];
                    for (int j = 0; j < C; j++) {
                        double acc = 0;
                        for (int t = 0; t < lens[i]; t++) acc += g[l].rows[(size_t)t * C + j];
                        mrow[j] = (float)(acc / lens[i]);
                    }
                    worst_mean = fmax(worst_mean, tl_test_max_abs(mean1[l] + (size_t)i * C, mrow, (size_t)C));
                }
            }
        }
        for (int l = 0; l < L; l++) free(g[l].rows);
        tl_session_free(s);
    }
    CHECK(worst_pre == 0, "capturer vs a plain prefill hook: max diff %g (want bit-identical)", worst_pre);
    CHECK(worst_dec < 1e-5, "capturer vs token-by-token decode: max diff %g", worst_dec);
    CHECK(worst_mean == 0, "mean over tokens differs from the hand-computed mean by %g", worst_mean);
    printf("stories260K: capturer vs per-statement prefill %.1e, vs decode %.1e, mean %.1e; 1 vs 2 workers %s\n",
           worst_pre, worst_dec, worst_mean, same ? "identical" : "DIFFERENT");

    /* activation directory, resume */
    char dir[512], meta[600];
    snprintf(dir, sizeof dir, "%s/acts", tl_test_tmpdir());
    snprintf(meta, sizeof meta, "%s/meta.json", dir);
    tl_dataset *d = fake_dataset("data/fake.csv", n);
    tl_token_seqs *ts = seqs_of(ids, lens, n);
    tl_acts_opts o = {.points = "resid_post", .reduce = TL_REDUCE_LAST, .block = 4};
    int skipped = -1;
    CHECK_OK(tl_acts_capture(m, "models/stories260K.bin", 120, d, ts, "tok512.bin", &o, dir, &skipped));
    CHECK(skipped == 0 && tl_acts_complete(dir), "first capture: skipped %d", skipped);
    tl_acts_meta *a = NULL;
    CHECK_OK(tl_acts_open(dir, &a));
    if (a) {
        CHECK(a->n == n && a->n_points == L && a->step == 120 && !strcmp(a->token, "last") && a->n_tokens == 119 &&
                  !strcmp(a->name, "acts") && !strcmp(a->tokenizer, "tok512.bin"),
              "meta: n %d points %d step %lld tokens %lld name %s", a->n, a->n_points, (long long)a->step,
              (long long)a->n_tokens, a->name);
        int lab_ok = 1;
        for (int i = 0; i < n; i++) lab_ok &= a->labels[i] == d->label[i];
        CHECK(lab_ok, "labels.npy differs from the dataset's labels");
        for (int p = 0; p < L; p++) {
            tl_npy *x = NULL;
            CHECK_OK(tl_acts_load_point(a, p, &x));
            CHECK(x && !memcmp(x->data, rows1[p], sizeof(float) * n * C), "%s.npy differs from the capturer's rows",
                  a->points[p]);
            tl_npy_free(x);
        }
        CHECK(tl_acts_find_point(a, "resid_post.4") == 4 && tl_acts_find_point(a, "embed") == -1, "find_point");
    }
    tl_acts_meta_free(a);
    struct stat st0, st1;
    stat(meta, &st0);
    CHECK_OK(tl_acts_capture(m, "elsewhere/stories260K.bin", 120, d, ts, "tok512.bin", &o, dir, &skipped));
    stat(meta, &st1);
    CHECK(skipped == 1 && st0.st_mtim.tv_nsec == st1.st_mtim.tv_nsec && st0.st_ino == st1.st_ino,
          "a complete capture was not skipped (skipped %d)", skipped);
    o.reduce = TL_REDUCE_MEAN;
    CHECK(tl_acts_capture(m, "models/stories260K.bin", 120, d, ts, NULL, &o, dir, &skipped) == TL_E_ARG &&
              strstr(tl_last_error(), "token reduction (last, now mean)"),
          "other settings: %s", tl_last_error());
    o.reduce = TL_REDUCE_LAST;
    o.points = "resid_post.0";
    CHECK(tl_acts_capture(m, "models/stories260K.bin", 120, d, ts, NULL, &o, dir, &skipped) == TL_E_ARG &&
              strstr(tl_last_error(), "hook points"),
          "other points: %s", tl_last_error());
    o.points = "resid_post";
    remove(meta); /* an interrupted capture: everything but the done marker */
    CHECK_OK(tl_acts_capture(m, "models/stories260K.bin", 120, d, ts, NULL, &o, dir, &skipped));
    CHECK(skipped == 0 && tl_acts_complete(dir), "a directory without meta.json was not captured again");
    /* too long for the model's context: an error naming file:line, or truncation */
    {
        int32_t *big = calloc(600, sizeof(int32_t));
        big[0] = 1;
        int32_t *bids[1] = {big};
        int blen[1] = {600};
        tl_dataset *d1 = fake_dataset("long.csv", 1);
        tl_token_seqs *t1 = seqs_of(bids, blen, 1);
        char dir2[600];
        snprintf(dir2, sizeof dir2, "%s/long", tl_test_tmpdir());
        CHECK(tl_acts_capture(m, "m.bin", -1, d1, t1, NULL, &o, dir2, &skipped) == TL_E_RANGE &&
                  strstr(tl_last_error(), "long.csv:2: the statement has 600 tokens"),
              "too long: %s", tl_last_error());
        CHECK(!tl_path_exists(dir2), "a refused capture created its directory");
        o.truncate = 1;
        CHECK_OK(tl_acts_capture(m, "m.bin", -1, d1, t1, NULL, &o, dir2, &skipped));
        tl_acts_meta *b = NULL;
        CHECK_OK(tl_acts_open(dir2, &b));
        CHECK(b && b->n_truncated == 1 && b->n_tokens == 512 && b->step == -1, "truncation recorded");
        tl_acts_meta_free(b);
        o.truncate = 0;
        tl_dataset_free(d1);
        tl_token_seqs_free(t1);
        free(big);
    }

    /* series: checkpoints by step (numerically), or from manifest.json */
    {
        char sdir[600], path[700];
        snprintf(sdir, sizeof sdir, "%s/run", tl_test_tmpdir());
        mkdir(sdir, 0777);
        const char *files[] = {"ckpt-10.bin", "ckpt-2.bin", "ckpt-100.bin", "optim-2.bin", "notes.txt"};
        for (int i = 0; i < 5; i++) {
            snprintf(path, sizeof path, "%s/%s", sdir, files[i]);
            if (i < 3) CHECK_OK(tl_model_save(m, NULL, path));
            else fclose(fopen(path, "w"));
        }
        tl_ckpt_list l;
        CHECK_OK(tl_series_list(sdir, &l));
        CHECK(l.n == 3 && l.items[0].step == 2 && l.items[1].step == 10 && l.items[2].step == 100 &&
                  !strcmp(l.items[2].name, "ckpt-100"),
              "series by step: %d items", l.n);
        /* capture two of them, index, reopen as a series */
        char out[600], sub[700];
        snprintf(out, sizeof out, "%s/acts_series", tl_test_tmpdir());
        mkdir(out, 0777);
        for (int i = 0; i < 2; i++) {
            tl_model *mi = NULL;
            CHECK_OK(tl_model_load(l.items[i].path, &mi, NULL));
            snprintf(sub, sizeof sub, "%s/%s", out, l.items[i].name);
            if (mi) CHECK_OK(tl_acts_capture(mi, l.items[i].path, l.items[i].step, d, ts, NULL, &o, sub, &skipped));
            tl_model_free(mi);
        }
        CHECK_OK(tl_series_write_index(out, &l));
        tl_acts_series *ser = NULL;
        CHECK_OK(tl_acts_series_open(out, &ser));
        CHECK(ser && ser->n == 2 && ser->items[0]->step == 2 && ser->items[1]->step == 10, "series of 2 captures");
        tl_acts_series_free(ser);
        /* without series.json: subdirectories by step */
        snprintf(path, sizeof path, "%s/series.json", out);
        remove(path);
        CHECK_OK(tl_acts_series_open(out, &ser));
        CHECK(ser && ser->n == 2 && ser->items[1]->step == 10, "series from subdirectories");
        tl_acts_series_free(ser);
        tl_ckpt_list_free(&l);
        /* a manifest names the checkpoints */
        snprintf(path, sizeof path, "%s/manifest.json", sdir);
        FILE *f = fopen(path, "w");
        fputs("{\"format\": \"tiller-train\", \"checkpoints\": [{\"step\": 100, \"model\": \"ckpt-100.bin\"},"
              " {\"step\": 10, \"model\": \"ckpt-10.bin\"}]}", f);
        fclose(f);
        CHECK_OK(tl_series_list(sdir, &l));
        CHECK(l.n == 2 && l.items[0].step == 10 && l.items[1].step == 100, "manifest series");
        tl_ckpt_list_free(&l);
        f = fopen(path, "w");
        fputs("{\"format\": \"tiller-train\", \"checkpoints\": [{\"step\": \"x\", \"model\": \"ckpt-100.bin\"}]}", f);
        fclose(f);
        CHECK(tl_series_list(sdir, &l) == TL_E_FORMAT && strstr(tl_last_error(), "manifest.json: \"step\""),
              "bad manifest: %s", tl_last_error());
        snprintf(path, sizeof path, "%s/empty", tl_test_tmpdir());
        mkdir(path, 0777);
        CHECK(tl_series_list(path, &l) == TL_E_FORMAT && strstr(tl_last_error(), "no checkpoints"), "empty dir: %s",
              tl_last_error());
        CHECK(tl_acts_series_open(path, &ser) == TL_E_FORMAT && strstr(tl_last_error(), "no activations"),
              "empty acts dir: %s", tl_last_error());
    }

    tl_dataset_free(d);
    tl_token_seqs_free(ts);
    tl_capturer_free(c1);
    tl_capturer_free(c2);
    tl_capturer_free(cm);
    for (int p = 0; p < L; p++) {
        free(rows1[p]);
        free(rows2[p]);
        free(mean1[p]);
    }
    for (int i = 0; i < n; i++) free(ids[i]);
    tl_free(pts);
    tl_model_free(m);
    if (!getenv("TILLER_CAPTURE_KEEP")) tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
