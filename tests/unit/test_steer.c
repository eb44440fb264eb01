/* Steering vectors (src/control/steer.c): the directions against hand-computed
 * ones, the edit hook (resid_post.L changes by exactly A * v_L, earlier layers not
 * at all, scale 0 leaves logits bit-identical, last-only touches one row), the
 * control-vector GGUF round trip and its validation on broken files, shape
 * checks, and building from text pairs through the real stories260K model. */
#include <cjson/cJSON.h>
#include <string.h>

#include "tiller/steer.h"
#include "control/steer_vec.h"
#include "format/format.h"
#include "testlib.h"
#include "tiller/tokenizer.h"

typedef struct {
    float *buf; /* [T, C] */
    int layer;
} grab;

static void grab_fn(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    (void)p;
    (void)pos0;
    grab *g = user;
    if (layer == g->layer) memcpy(g->buf, x, (size_t)T * width * sizeof(float));
}

/* Run toks with an optional steering hook, grabbing resid_post.layer after it. */
static void run(const tl_model *m, const tl_steer_hook *h, const int32_t *toks, int N, int layer, float *rows,
                float *logits) {
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 64, 0, &s));
    if (!s) return;
    if (h) CHECK_OK(tl_steer_attach(h, &s->hooks));
    grab g = {rows, layer};
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_RESID_POST, -1, grab_fn, &g));
    const float *lg = NULL;
    CHECK_OK(tl_forward(s, toks, N, &lg));
    if (lg) memcpy(logits, lg, sizeof(float) * m->cfg.vocab_size);
    tl_session_free(s);
}

static int load_fails_with(const char *path, const char *needle) {
    tl_steer_vec *v = NULL;
    tl_status s = tl_steer_load(path, &v);
    tl_steer_vec_free(v);
    const char *msg = tl_last_error();
    int ok = s != TL_OK && strstr(msg, path) && strstr(msg, needle);
    if (!ok) fprintf(stderr, "  %s: status %d, message: %s\n", path, s, msg);
    return ok;
}

/* A GGUF with the given architecture and tensors direction.<names[i]> of lens[i] floats. */
static void write_cv(const char *path, const char *arch, int layer_count, const char *const *names, const int *lens,
                     int n, uint32_t type) {
    tl_gguf_writer *w = NULL;
    CHECK_OK(tl_gguf_writer_new(&w));
    static float data[512]; /* enough for the 200 x 2 matrix */
    for (int i = 0; i < 512; i++) data[i] = 0.01f * i;
    tl_gguf_write_str(w, "general.architecture", arch);
    tl_gguf_write_str(w, "controlvector.model_hint", "llama");
    int32_t lc = layer_count;
    tl_gguf_write_scalar(w, "controlvector.layer_count", TL_GGUF_I32, &lc);
    for (int i = 0; i < n; i++) {
        int64_t ne[2] = {lens[i], 2};
        tl_gguf_write_tensor(w, names[i], type, lens[i] > 128 ? 2 : 1, ne, data);
    }
    CHECK_OK(tl_gguf_writer_save(w, path));
    tl_gguf_writer_free(w);
}

/* Allocation-failure sweep (as test_analysis_alloc): the k-th allocation fails for
 * k = 1, 2, ... until the call succeeds; every failure must be TL_E_NOMEM (and, under
 * ASan, leak nothing). */
typedef struct {
    const char *path, *out, *pairs;
    const tl_model *m;
    const tl_tokenizer *tok;
    const tl_steer_data *d;
} sweep_ctx;

static tl_status call_load(const sweep_ctx *c) {
    tl_steer_vec *v = NULL;
    tl_status s = tl_steer_load(c->path, &v);
    tl_steer_vec_free(v);
    return s;
}

static tl_status call_save(const sweep_ctx *c) {
    tl_steer_vec *v = NULL;
    tl_status s = tl_steer_vec_new(8, 3, "llama", &v);
    if (s == TL_OK) s = tl_steer_save(v, c->out);
    tl_steer_vec_free(v);
    return s;
}

static tl_status call_pairs(const sweep_ctx *c) {
    tl_steer_data *d = NULL;
    tl_status s = tl_steer_data_load(c->pairs, NULL, 0, &d);
    tl_steer_data_free(d);
    return s;
}

static tl_status call_build(const sweep_ctx *c) {
    tl_steer_build_opts o;
    tl_steer_build_opts_default(&o);
    o.layers = "1-2";
    o.n_workers = 1;
    o.method = TL_STEER_PCA;
    tl_steer_vec *v = NULL;
    tl_status s = tl_steer_build(c->m, c->tok, c->d, &o, &v);
    tl_steer_vec_free(v);
    return s;
}

static void sweep(const char *what, tl_status (*fn)(const sweep_ctx *), const sweep_ctx *c) {
    for (long k = 1; k < 100000; k++) {
        tl_alloc_fail_after(k);
        tl_status s = fn(c);
        tl_alloc_fail_after(0);
        if (s == TL_OK) {
            CHECK(k > 1, "%s: succeeded with its first allocation failing", what);
            return;
        }
        if (s != TL_E_NOMEM) {
            CHECK(0, "%s: allocation %ld failing gave status %d: %s", what, k, s, tl_last_error());
            return;
        }
    }
    CHECK(0, "%s: never succeeded", what);
}

/* The PyTorch oracle (tests/oracle/steer_ref.py): the reference's mean difference and
 * the PCA variant on stories260K's activations of the first 80 stereoset rows. */
static void check_oracle(const tl_model *m, const tl_tokenizer *tok, const char *dir) {
    char *text = NULL;
    size_t n = 0;
    CHECK_OK(tl_file_read_all("tests/golden/steer/stereo80.json", &text, &n));
    char csv[512];
    snprintf(csv, sizeof csv, "%s/stereo80.csv", dir);
    /* header + the first 80 rows (no quoted line breaks there, as test_analysis's slice) */
    char *src = NULL;
    size_t sn = 0;
    CHECK_OK(tl_file_read_all(tl_test_shared("data/trust/stereoset.csv"), &src, &sn));
    if (!text || !src) {
        tl_free(text);
        tl_free(src);
        return;
    }
    size_t cut = 0;
    for (int lines = 0; cut < sn && lines < 81; cut++)
        if (src[cut] == '\n') lines++;
    CHECK_OK(tl_file_write_atomic(csv, src, cut));
    tl_free(src);
    cJSON *g = cJSON_ParseWithLength(text, n);
    tl_free(text);
    tl_steer_data *d = NULL;
    CHECK_OK(tl_steer_data_load(csv, NULL, 0, &d));
    for (int meth = 0; meth < 2 && d && g; meth++) {
        tl_steer_build_opts o;
        tl_steer_build_opts_default(&o);
        o.method = meth ? TL_STEER_PCA : TL_STEER_MEAN_DIFF;
        tl_steer_vec *v = NULL;
        CHECK_OK(tl_steer_build(m, tok, d, &o, &v));
        for (int L = 1; v && L < m->cfg.n_layers; L++) {
            char key[16];
            snprintf(key, sizeof key, "%d", L);
            const cJSON *arr = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "layers"), key),
                                                   meth ? "pca" : "mean_diff");
            CHECK(cJSON_GetArraySize(arr) == m->cfg.dim, "golden layer %d has %d values", L, cJSON_GetArraySize(arr));
            double err = 0, big = 0;
            for (int j = 0; j < m->cfg.dim && j < cJSON_GetArraySize(arr); j++) {
                double want = cJSON_GetArrayItem(arr, j)->valuedouble;
                double e = fabs(v->dir[(size_t)L * m->cfg.dim + j] - want);
                if (e > err) err = e;
                if (fabs(want) > big) big = fabs(want);
            }
            CHECK(big > 0 && err <= 1e-5 * big, "%s layer %d: max error %g of max %g", meth ? "pca" : "mean_diff", L,
                  err, big);
        }
        tl_steer_vec_free(v);
    }
    tl_steer_data_free(d);
    cJSON_Delete(g);
}

int main(void) {
    /* ---- directions on a hand-made matrix: 6 rows x 3 features ---- */
    {
        const float A[18] = {1, 2, 0, 0, 0, 1, 3, 2, 0, 1, 0, 1, 9, 9, 9, -9, -9, -9};
        const int64_t y[6] = {1, 0, 1, 0, 1, 0};
        const int pos[3] = {0, 2, 4}, neg[3] = {1, 3, 5};
        float v[3];
        /* first 4 rows: mean(y=1) = (2,2,0), mean(y=0) = (0.5,0,1): d = (1.5,2,-1), unit */
        CHECK_OK(tl_steer_direction(A, y, 6, 3, pos, neg, 3, 4, TL_STEER_MEAN_DIFF, TL_STEER_NORM_UNIT, v));
        double n = sqrt(1.5 * 1.5 + 4 + 1);
        CHECK(fabs(v[0] - 1.5 / n) < 1e-6 && fabs(v[1] - 2 / n) < 1e-6 && fabs(v[2] + 1 / n) < 1e-6,
              "mean diff %g %g %g", v[0], v[1], v[2]);
        /* std norm: times the std (n - 1) of all 6 rows' projections */
        float w[3];
        CHECK_OK(tl_steer_direction(A, y, 6, 3, pos, neg, 3, 4, TL_STEER_MEAN_DIFF, TL_STEER_NORM_STD, w));
        double p[6], mean = 0, var = 0;
        for (int i = 0; i < 6; i++) {
            p[i] = (A[3 * i] * 1.5 + A[3 * i + 1] * 2 - A[3 * i + 2]) / n;
            mean += p[i] / 6;
        }
        for (int i = 0; i < 6; i++) var += (p[i] - mean) * (p[i] - mean) / 5;
        CHECK(fabs(w[1] / v[1] - sqrt(var)) < 1e-5, "std scale %g, want %g", w[1] / v[1], sqrt(var));
        /* PCA of differences that are all multiples of (0, 3, 4): that axis, signed with the mean */
        const float B[12] = {0, 3, 4, 0, 0, 0, 0, -6, -8, 0, 0, 0};
        int64_t yb[8];
        int pb[4], nb[4];
        /* 8 rows: pair i is (B_i + 1, 1), so its difference is B_i */
        float R[24];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 3; j++) R[6 * i + j] = B[3 * i + j] + 1, R[6 * i + 3 + j] = 1;
            pb[i] = 2 * i, nb[i] = 2 * i + 1;
            yb[2 * i] = 1, yb[2 * i + 1] = 0;
        }
        CHECK_OK(tl_steer_direction(R, yb, 8, 3, pb, nb, 4, 8, TL_STEER_PCA, TL_STEER_NORM_UNIT, v));
        /* mean difference (0, -0.75, -1) -> the axis points to -(0, 3, 4)/5 */
        CHECK(fabs(v[0]) < 1e-6 && fabs(v[1] + 0.6) < 1e-6 && fabs(v[2] + 0.8) < 1e-6, "pca %g %g %g", v[0], v[1],
              v[2]);
        const int64_t one[2] = {1, 1};
        CHECK(tl_steer_direction(A, one, 2, 3, pos, neg, 0, 2, TL_STEER_MEAN_DIFF, TL_STEER_NORM_UNIT, v) == TL_E_ARG,
              "one class refused");
        CHECK(tl_steer_direction(A, y, 6, 3, pos, neg, 3, 1, TL_STEER_PCA, TL_STEER_NORM_UNIT, v) == TL_E_ARG,
              "no pair in the fit rows refused");
    }

    /* ---- layer ranges ---- */
    int f, l;
    CHECK_OK(tl_steer_parse_layers("2-3", 5, &f, &l));
    CHECK(f == 2 && l == 3, "2-3 -> %d-%d", f, l);
    CHECK_OK(tl_steer_parse_layers("all", 5, &f, &l));
    CHECK(f == 1 && l == 4, "all -> %d-%d", f, l);
    CHECK(tl_steer_parse_layers("0-2", 5, &f, &l) == TL_E_ARG, "layer 0 refused");
    CHECK(tl_steer_parse_layers("2-5", 5, &f, &l) == TL_E_ARG, "layer 5 of 5 refused");
    CHECK(tl_steer_parse_layers("2-x", 5, &f, &l) == TL_E_ARG, "garbage refused");

    /* ---- the hook on stories260K ---- */
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (!m) return tl_test_done();
    int C = m->cfg.dim, V = m->cfg.vocab_size, L = m->cfg.n_layers, N = 9;
    const int32_t toks[9] = {1, 403, 407, 261, 378, 432, 383, 286, 261};
    tl_steer_vec *vec = NULL;
    CHECK_OK(tl_steer_vec_new(C, L, "llama", &vec));
    tl_rng rng;
    tl_rng_seed(&rng, 7);
    for (int il = 1; il < L; il++) {
        for (int j = 0; j < C; j++) vec->dir[(size_t)il * C + j] = tl_rng_normal(&rng);
        vec->set[il] = 1;
    }
    float *base = malloc(sizeof(float) * N * C), *steered = malloc(sizeof(float) * N * C);
    float *base_lg = malloc(sizeof(float) * V), *lg = malloc(sizeof(float) * V);
    tl_steer_hook h = {vec, 0.75f, 2, 3, 0};
    CHECK_OK(tl_steer_check(&h, &m->cfg, "test"));
    /* resid_post.2 (the first steered layer) moves by exactly 0.75 v_2 at every row */
    run(m, NULL, toks, N, 2, base, base_lg);
    run(m, &h, toks, N, 2, steered, lg);
    double worst = 0;
    for (int t = 0; t < N; t++)
        for (int j = 0; j < C; j++) {
            double want = base[t * C + j] + 0.75f * vec->dir[2 * C + j];
            double e = fabs(steered[t * C + j] - want) / (1 + fabs(want));
            if (e > worst) worst = e;
        }
    CHECK(worst < 1e-6, "resid_post.2 changed by A v with error %g", worst);
    CHECK(tl_test_max_abs(lg, base_lg, (size_t)V) > 1e-3, "steering did not change the logits");
    /* resid_post.1 (before the range) is untouched, bit for bit */
    run(m, NULL, toks, N, 1, base, base_lg);
    run(m, &h, toks, N, 1, steered, lg);
    CHECK(memcmp(base, steered, sizeof(float) * N * C) == 0, "resid_post.1 changed");
    /* last_only: only the last row of resid_post.2 moves */
    h.last_only = 1;
    run(m, NULL, toks, N, 2, base, base_lg);
    run(m, &h, toks, N, 2, steered, lg);
    CHECK(memcmp(base, steered, sizeof(float) * (N - 1) * C) == 0, "last_only changed earlier rows");
    CHECK(tl_test_max_abs(steered + (N - 1) * C, base + (N - 1) * C, (size_t)C) > 0.1, "last_only: last row unchanged");
    /* scale 0: bit-identical logits */
    h.last_only = 0;
    h.scale = 0;
    h.first = 1;
    h.last = L - 1;
    run(m, &h, toks, N, 2, steered, lg);
    CHECK(memcmp(lg, base_lg, sizeof(float) * V) == 0, "scale 0 changed the logits");

    /* shape checks */
    tl_steer_vec *other = NULL;
    CHECK_OK(tl_steer_vec_new(C + 1, L, "llama", &other));
    tl_steer_hook ho = {other, 1, 1, 2, 0};
    CHECK(tl_steer_check(&ho, &m->cfg, "wide.gguf") == TL_E_ARG && strstr(tl_last_error(), "wide.gguf"),
          "a wider vector is refused: %s", tl_last_error());
    tl_steer_vec_free(other);
    CHECK_OK(tl_steer_vec_new(C, L + 1, "llama", &other));
    ho.vec = other;
    CHECK(tl_steer_check(&ho, &m->cfg, "deep.gguf") == TL_E_ARG, "a deeper vector is refused");
    tl_steer_vec_free(other);
    h.first = 0;
    CHECK(tl_steer_check(&h, &m->cfg, "x") == TL_E_ARG, "layer 0 refused by check");

    /* ---- GGUF round trip ---- */
    const char *dir = tl_test_tmpdir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/v.gguf", dir);
    vec->info = strdup("made by test_steer");
    CHECK_OK(tl_steer_save(vec, path));
    tl_steer_vec *back = NULL;
    CHECK_OK(tl_steer_load(path, &back));
    if (back) {
        CHECK(back->dim == C && back->n_layers == L && !strcmp(back->model_hint, "llama"), "shape %d %d %s", back->dim,
              back->n_layers, back->model_hint);
        CHECK(memcmp(back->dir, vec->dir, sizeof(float) * C * L) == 0, "directions differ after the round trip");
        CHECK(back->info && !strcmp(back->info, "made by test_steer"), "info lost");
        CHECK(back->set[0] == 0 && back->set[1] == 1, "set flags");
    }
    tl_steer_vec_free(back);
    /* the metadata llama.cpp reads */
    tl_gguf *g = NULL;
    CHECK_OK(tl_gguf_open(path, &g));
    if (g) {
        tl_gguf_str s;
        int64_t lc;
        CHECK_OK(tl_gguf_get_str(g, "general.architecture", &s));
        CHECK(tl_gguf_str_eq(s, "controlvector"), "architecture");
        CHECK_OK(tl_gguf_get_int(g, "controlvector.layer_count", 0, 100, &lc));
        CHECK(lc == L - 1, "layer_count %lld", (long long)lc);
        CHECK(tl_gguf_find(g, "controlvector.layer_count")->type == TL_GGUF_I32, "layer_count is int32");
        CHECK(g->n_tensors == (uint64_t)(L - 1) && !tl_gguf_find_tensor(g, "direction.0") &&
                  tl_gguf_find_tensor(g, "direction.4") && tl_gguf_find_tensor(g, "direction.4")->type == TL_GGML_F32,
              "tensors direction.1 .. direction.%d, f32", L - 1);
        tl_gguf_close(g);
    }

    /* ---- broken files ---- */
    const char *n3[3] = {"direction.1", "direction.2", "direction.3"};
    const int len3[3] = {8, 8, 8}, lenbad[3] = {8, 7, 8};
    snprintf(bad, sizeof bad, "%s/arch.gguf", dir);
    write_cv(bad, "llama", 3, n3, len3, 3, TL_GGML_F32);
    CHECK(load_fails_with(bad, "not 'controlvector'"), "wrong architecture");
    snprintf(bad, sizeof bad, "%s/len.gguf", dir);
    write_cv(bad, "controlvector", 3, n3, lenbad, 3, TL_GGML_F32);
    CHECK(load_fails_with(bad, "direction.2' has 7 elements"), "wrong length");
    snprintf(bad, sizeof bad, "%s/missing.gguf", dir);
    write_cv(bad, "controlvector", 3, n3, len3, 2, TL_GGML_F32);
    CHECK(load_fails_with(bad, "direction.3 is missing"), "missing tensor");
    const char *n0[2] = {"direction.0", "direction.1"};
    snprintf(bad, sizeof bad, "%s/zero.gguf", dir);
    write_cv(bad, "controlvector", 1, n0, len3, 2, TL_GGML_F32);
    CHECK(load_fails_with(bad, "direction.0"), "layer 0 tensor");
    const char *nx[1] = {"token_embd.weight"};
    snprintf(bad, sizeof bad, "%s/other.gguf", dir);
    write_cv(bad, "controlvector", 1, nx, len3, 1, TL_GGML_F32);
    CHECK(load_fails_with(bad, "token_embd.weight"), "foreign tensor");
    const int len2d[1] = {200};
    snprintf(bad, sizeof bad, "%s/matrix.gguf", dir);
    write_cv(bad, "controlvector", 1, n3, len2d, 1, TL_GGML_F32);
    CHECK(load_fails_with(bad, "1-D"), "2-D tensor");
    snprintf(bad, sizeof bad, "%s/none.gguf", dir);
    write_cv(bad, "controlvector", 2, n3, len3, 0, TL_GGML_F32);
    CHECK(load_fails_with(bad, "no direction tensors"), "no tensors");
    snprintf(bad, sizeof bad, "%s/absent.gguf", dir);
    CHECK(load_fails_with(bad, "absent.gguf"), "absent file");
    /* truncated copies of a good file: every prefix fails cleanly */
    {
        char *data;
        size_t size;
        CHECK_OK(tl_file_read_all(path, &data, &size));
        int clean = 1;
        for (size_t cut = 0; cut < size; cut += 1 + size / 40) {
            snprintf(bad, sizeof bad, "%s/trunc.gguf", dir);
            CHECK_OK(tl_file_write_atomic(bad, data, cut));
            tl_steer_vec *t = NULL;
            if (tl_steer_load(bad, &t) == TL_OK) clean = 0;
            tl_steer_vec_free(t);
        }
        CHECK(clean, "a truncated control vector loaded");
        tl_free(data);
    }

    /* ---- building from text pairs through the model ---- */
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    snprintf(bad, sizeof bad, "%s/pairs.jsonl", dir);
    FILE *fp = fopen(bad, "w");
    const char *words[6] = {"happy", "sad", "big", "small", "good", "bad"};
    for (int i = 0; i < 12; i++)
        fprintf(fp,
                "{\"dimension\": \"%s\", \"prompt\": \"The cat was\", \"safe\": \" %s and kind.\", \"unsafe\": \" %s "
                "and mean.\"}\n",
                i % 2 ? "a" : "b", words[i % 6], words[(i + 1) % 6]);
    fclose(fp);
    tl_steer_data *d = NULL;
    CHECK_OK(tl_steer_data_load(bad, NULL, 0, &d));
    if (d && tok) {
        CHECK(d->n == 24 && d->n_pairs == 12 && d->label[0] == 1 && d->label[1] == 0, "24 rows, 12 pairs");
        tl_steer_build_opts o;
        tl_steer_build_opts_default(&o);
        o.layers = "2-3";
        tl_steer_vec *b1 = NULL, *b2 = NULL;
        CHECK_OK(tl_steer_build(m, tok, d, &o, &b1));
        o.n_workers = 1;
        CHECK_OK(tl_steer_build(m, tok, d, &o, &b2));
        if (b1 && b2) {
            CHECK(b1->set[2] && b1->set[3] && !b1->set[1] && !b1->set[4], "layers 2-3 built only");
            CHECK(memcmp(b1->dir, b2->dir, sizeof(float) * C * L) == 0, "workers changed the vector");
            double nn = 0;
            for (int j = 0; j < C; j++) nn += b1->dir[2 * C + j] * b1->dir[2 * C + j];
            CHECK(nn > 0, "zero direction");
        }
        tl_steer_vec_free(b1);
        tl_steer_vec_free(b2);
    }
    tl_steer_data_free(d);
    d = NULL;
    CHECK_OK(tl_steer_data_load(bad, "a", 0, &d));
    CHECK(d && d->n_pairs == 6, "dimension filter");
    tl_steer_data_free(d);
    d = NULL;
    CHECK(tl_steer_data_load(bad, "zzz", 0, &d) == TL_E_FORMAT, "no pairs of that dimension");
    fp = fopen(bad, "w");
    fprintf(fp, "{\"chosen\": \"a\", \"rejected\": \"b\"}\n\n{\"chosen\": \"a\"}\n");
    fclose(fp);
    CHECK(tl_steer_data_load(bad, NULL, 0, &d) == TL_E_FORMAT && strstr(tl_last_error(), "pairs.jsonl:3"),
          "a line without rejected names file:line: %s", tl_last_error());

    if (tok) check_oracle(m, tok, dir);

    /* allocation failures */
    {
        char pj[512], outp[512];
        snprintf(pj, sizeof pj, "%s/sweep.jsonl", dir);
        snprintf(outp, sizeof outp, "%s/sweep.gguf", dir);
        fp = fopen(pj, "w");
        for (int i = 0; i < 4; i++)
            fprintf(fp, "{\"prompt\": \"Once\", \"safe\": \" %s day\", \"unsafe\": \" %s night\"}\n", words[i],
                    words[i + 1]);
        fclose(fp);
        tl_steer_data *sd = NULL;
        CHECK_OK(tl_steer_data_load(pj, NULL, 0, &sd));
        sweep_ctx c = {path, outp, pj, m, tok, sd};
        sweep("tl_steer_load", call_load, &c);
        sweep("tl_steer_save", call_save, &c);
        sweep("tl_steer_data_load", call_pairs, &c);
        if (sd && tok) sweep("tl_steer_build", call_build, &c);
        tl_steer_data_free(sd);
    }

    /* CSV: the k-th label-1 row pairs with the k-th label-0 row; every row is kept (the mean uses them
     * all); truthfulqa_train fits on all rows, as the reference */
    snprintf(bad, sizeof bad, "%s/truthfulqa_train.csv", dir);
    fp = fopen(bad, "w");
    fprintf(fp, "statement,label\na,1\nb,1\nc,0\nd,1\ne,0\nf,1\n");
    fclose(fp);
    CHECK_OK(tl_steer_data_load(bad, NULL, 0, &d));
    if (d) {
        CHECK(d->n == 6 && d->n_pairs == 2 && d->pos[0] == 0 && d->neg[0] == 2 && d->pos[1] == 1 && d->neg[1] == 4,
              "csv pairs: n %d, pairs %d", d->n, d->n_pairs);
        CHECK(d->full_fit == 1, "truthfulqa_train fits on every row");
    }
    tl_steer_data_free(d);
    d = NULL;
    CHECK_OK(tl_steer_data_load(bad, NULL, 1, &d));
    CHECK(d && d->n == 2 && d->n_pairs == 1, "--limit 1 keeps the first pair's rows only");
    tl_steer_data_free(d);
    d = NULL;

    tl_tokenizer_free(tok);
    tl_steer_vec_free(vec);
    tl_model_free(m);
    free(base);
    free(steered);
    free(base_lg);
    free(lg);
    tl_test_rmtree(dir);
    return tl_test_done();
}
