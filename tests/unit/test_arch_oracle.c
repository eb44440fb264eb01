/* Other block architectures (GPT-NeoX/Pythia, OLMo, Qwen2) against float64 logits from
 * tests/oracle/arch_ref.py, a transcription of each published architecture. Per case in
 * tests/golden/arch/: the weights are regenerated from tensors.txt with the oracle's integer
 * generator and written as a Hugging Face model.safetensors under the HF names (GPT-NeoX's fused
 * query_key_value in HF's per-head layout), beside the oracle's config.json; tiller loads the
 * directory, and its logits (prefill and token-by-token decode) must be within 1e-4 of the oracle's,
 * relative to max(|logit|, rms of the logits). The model is then saved as GGUF (llama.cpp's names:
 * gptneox attn_qkv as [q; k; v]) and read back to the same logits. Also: hook points by llama's
 * names, a refused model_type, refused training. */
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h"
#include "model/arch.h"
#include "testlib.h"
#include "tiller/analysis.h"
#include "tiller/train.h"
#include <unistd.h>

#define GOLDEN "tests/golden/arch"

typedef struct {
    int n, V;
    int32_t *tokens;
    float *logits;
} golden;

static int golden_read(const char *path, golden *g) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint32_t h[4];
    int ok = fread(h, 4, 4, f) == 4 && h[0] == 0x474C4C54u && h[1] == 1 && h[2] > 0 && h[2] < 4096 && h[3] > 0 &&
             h[3] < 1000000;
    if (ok) {
        g->n = (int)h[2];
        g->V = (int)h[3];
        g->tokens = malloc(sizeof(int32_t) * g->n);
        g->logits = malloc(sizeof(float) * (size_t)g->n * g->V);
        double *d = malloc(sizeof(double) * (size_t)g->n * g->V);
        ok = fread(g->tokens, 4, (size_t)g->n, f) == (size_t)g->n &&
             fread(d, 8, (size_t)g->n * g->V, f) == (size_t)g->n * g->V && fgetc(f) == EOF;
        for (size_t i = 0; ok && i < (size_t)g->n * g->V; i++) g->logits[i] = (float)d[i];
        free(d);
    }
    fclose(f);
    return ok;
}

/* the oracle's generator: splitmix64 over (FNV-1a(name) + i * golden ratio), i = 1.. */
static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001B3ull;
    return h;
}

static void gen(float *out, size_t n, const char *name, double offset, double scale) {
    uint64_t h = fnv1a(name);
    for (size_t i = 0; i < n; i++) {
        uint64_t z = h + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        double u = (double)(z >> 40) / 16777216.0;
        out[i] = (float)(offset + scale * (2.0 * u - 1.0));
    }
}

typedef struct {
    char name[128];
    int ndim;
    int64_t shape[2];
    double offset, scale;
} tensor_spec;

/* Write model.safetensors (F32) into dir from tensors.txt. Returns 0 on failure. */
static int write_checkpoint(const char *list, const char *dir) {
    FILE *f = fopen(list, "r");
    if (!f) return 0;
    tensor_spec ts[256];
    int n = 0;
    char line[512];
    while (n < 256 && fgets(line, sizeof line, f)) {
        tensor_spec *t = &ts[n];
        int used = 0;
        long long d0 = 0, d1 = 1;
        if (sscanf(line, "%127s %d %lld%n", t->name, &t->ndim, &d0, &used) < 3) continue;
        char *rest = line + used;
        if (t->ndim == 2) d1 = strtoll(rest, &rest, 10);
        t->offset = strtod(rest, &rest);
        t->scale = strtod(rest, &rest);
        t->shape[0] = d0;
        t->shape[1] = d1;
        n++;
    }
    fclose(f);
    tl_strbuf hdr = {0};
    uint64_t at = 0;
    tl_strbuf_printf(&hdr, "{");
    for (int i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)ts[i].shape[0] * (uint64_t)ts[i].shape[1] * 4;
        if (ts[i].ndim == 2)
            tl_strbuf_printf(&hdr, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld,%lld],\"data_offsets\":[%llu,%llu]}",
                             i ? "," : "", ts[i].name, (long long)ts[i].shape[0], (long long)ts[i].shape[1],
                             (unsigned long long)at, (unsigned long long)(at + bytes));
        else
            tl_strbuf_printf(&hdr, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%lld],\"data_offsets\":[%llu,%llu]}",
                             i ? "," : "", ts[i].name, (long long)ts[i].shape[0], (unsigned long long)at,
                             (unsigned long long)(at + bytes));
        at += bytes;
    }
    tl_strbuf_printf(&hdr, "}");
    while (hdr.len % 8) tl_strbuf_printf(&hdr, " ");
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *o = fopen(path, "wb");
    if (!o) return 0;
    uint64_t hl = hdr.len;
    int ok = fwrite(&hl, 8, 1, o) == 1 && fwrite(hdr.s, 1, hdr.len, o) == hdr.len;
    for (int i = 0; i < n && ok; i++) {
        size_t cnt = (size_t)ts[i].shape[0] * (size_t)ts[i].shape[1];
        float *w = malloc(cnt * sizeof *w);
        gen(w, cnt, ts[i].name, ts[i].offset, ts[i].scale);
        ok = fwrite(w, 4, cnt, o) == cnt;
        free(w);
    }
    ok = fclose(o) == 0 && ok;
    tl_free(hdr.s);
    return ok && n > 0;
}

static int copy_file(const char *from, const char *to) {
    char *text = NULL;
    size_t n = 0;
    if (tl_file_read_all(from, &text, &n)) return 0;
    FILE *o = fopen(to, "wb");
    int ok = o && fwrite(text, 1, n, o) == n;
    if (o) ok = fclose(o) == 0 && ok;
    tl_free(text);
    return ok;
}

static void collect(void *user, const float *logits, int T, int V, int pos0) {
    memcpy((float *)user + (size_t)pos0 * V, logits, sizeof(float) * (size_t)T * V);
}

/* max |got - want| / max(|want|, rms(want)) over prefill and decode; -1 when a run failed */
static double compare(const tl_model *m, const golden *g, const char *what) {
    size_t n = (size_t)g->n * g->V;
    float *got = calloc(n, sizeof(float));
    double rms = 0, worst = 0;
    for (size_t i = 0; i < n; i++) rms += (double)g->logits[i] * g->logits[i];
    rms = sqrt(rms / (double)n);
    for (int decode = 0; decode < 2; decode++) {
        tl_session *s = NULL;
        CHECK_OK(tl_session_new(m, 64, 0, &s));
        if (!s) return -1;
        if (!decode) CHECK_OK(tl_forward_all(s, g->tokens, g->n, collect, got));
        else
            for (int t = 0; t < g->n; t++) {
                const float *lg = NULL;
                CHECK_OK(tl_forward(s, g->tokens + t, 1, &lg));
                if (lg) memcpy(got + (size_t)t * g->V, lg, sizeof(float) * g->V);
            }
        tl_session_free(s);
        double abs_err = tl_test_max_abs(got, g->logits, n), rel = tl_test_max_rel(got, g->logits, n, rms);
        printf("  %-22s %-7s max abs %.3g, max rel %.3g (floor rms %.3g)\n", what, decode ? "decode" : "prefill",
               abs_err, rel, rms);
        if (rel > worst || rel != rel) worst = rel;
    }
    free(got);
    return worst;
}

typedef struct {
    int calls[TL_HOOK__COUNT];
    int width_ok;
    int C;
} hook_count;

static void count_hook(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    (void)layer, (void)x, (void)T, (void)pos0;
    hook_count *h = user;
    h->calls[p]++;
    if (p != TL_HOOK_LOGITS && width != h->C) h->width_ok = 0;
}

static void one_case(const char *name, tl_arch want_arch) {
    char gdir[512], path[1100], dir[1024];
    snprintf(gdir, sizeof gdir, GOLDEN "/%s", name);
    golden g = {0};
    snprintf(path, sizeof path, "%s/logits.bin", gdir);
    CHECK(golden_read(path, &g), "cannot read %s", path);
    if (!g.n) return;
    snprintf(dir, sizeof dir, "%s/%s", tl_test_tmpdir(), name);
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    snprintf(path, sizeof path, "%s/tensors.txt", gdir);
    CHECK(write_checkpoint(path, dir), "writing the checkpoint of %s", name);
    char from[1024], to[1100];
    snprintf(from, sizeof from, "%s/config.json", gdir);
    snprintf(to, sizeof to, "%s/config.json", dir);
    CHECK(copy_file(from, to), "copy %s", from);

    tl_model *m = NULL;
    CHECK_OK(tl_model_load(dir, &m, NULL));
    if (!m) return;
    const tl_config *c = tl_model_config(m);
    CHECK(c->arch == want_arch, "%s: arch %s", name, tl_arch_name(c->arch));
    printf("%s (%s): dim %d, %d layers, %d heads (%d kv), F %d, rope dims %d, V %d\n", name, tl_arch_name(c->arch),
           c->dim, c->n_layers, c->n_heads, c->n_kv_heads, c->hidden_dim, tl_config_rope_dims(c), c->vocab_size);
    double e = compare(m, &g, "safetensors");
    CHECK(e >= 0 && e <= 1e-4, "%s: max rel error %g vs the float64 oracle", name, e);

    /* hooks: the same names as llama, one call per layer for per-layer points */
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 64, 0, &s));
    hook_count hc = {{0}, 1, c->dim};
    for (int p = 0; p < TL_HOOK__COUNT && s; p++) CHECK_OK(tl_hooks_add(tl_session_hooks(s), (tl_hook_point)p, -1, count_hook, &hc));
    if (s) CHECK_OK(tl_forward(s, g.tokens, g.n, NULL));
    CHECK(hc.calls[TL_HOOK_ATTN_OUT] == c->n_layers && hc.calls[TL_HOOK_MLP_OUT] == c->n_layers &&
              hc.calls[TL_HOOK_RESID_PRE] == c->n_layers && hc.calls[TL_HOOK_RESID_POST] == c->n_layers &&
              hc.calls[TL_HOOK_EMBED] == 1 && hc.calls[TL_HOOK_FINAL_NORM] == 1 && hc.calls[TL_HOOK_LOGITS] == 1,
          "%s: hook calls attn_out %d mlp_out %d", name, hc.calls[TL_HOOK_ATTN_OUT], hc.calls[TL_HOOK_MLP_OUT]);
    CHECK(hc.width_ok, "%s: a hook saw a width other than dim", name);
    tl_session_free(s);

    /* GGUF as llama.cpp names it, and back */
    snprintf(path, sizeof path, "%s/%s.gguf", tl_test_tmpdir(), name);
    CHECK_OK(tl_model_save(m, NULL, path));
    tl_model *m2 = NULL;
    CHECK_OK(tl_model_load(path, &m2, NULL));
    if (m2) {
        const tl_config *c2 = tl_model_config(m2);
        CHECK(c2->arch == c->arch && c2->rope_dims == c->rope_dims && c2->clip_qkv == c->clip_qkv &&
                  c2->tied_embeddings == c->tied_embeddings && c2->norm_eps == c->norm_eps,
              "%s: GGUF config differs", name);
        double e2 = compare(m2, &g, "gguf (f32) round trip");
        CHECK(e2 >= 0 && e2 <= 1e-4, "%s: GGUF max rel error %g", name, e2);
    }
    /* quantized (Q8_0) GGUF: qwen2 and olmo keep their matrices quantized (biases, norms f32); gptneox is refused */
    snprintf(path, sizeof path, "%s/%s-q8.gguf", tl_test_tmpdir(), name);
    tl_save_opts so = {TL_DTYPE_Q8_0, 0};
    CHECK_OK(tl_model_save_opts(m, NULL, path, &so));
    tl_model *mq = NULL;
    tl_status qs = tl_model_load(path, &mq, NULL);
    if (tl_arch_traits_of(c->arch)->fused_qkv) {
        CHECK(qs == TL_E_UNSUPPORTED && strstr(tl_last_error(), "quantized gptneox"), "%s: q8_0 not refused: %s", name,
              tl_last_error());
    } else {
        CHECK(qs == TL_OK, "%s: q8_0 load: %s", name, tl_last_error());
        if (mq) {
            double eq = compare(mq, &g, "gguf q8_0");
            CHECK(eq >= 0 && eq <= 3e-2, "%s: Q8_0 max rel error %g", name, eq);
        }
    }
    tl_model_free(mq);
    /* training is llama-only: refused by name */
    tl_train_acts *ta = NULL;
    tl_status st = tl_train_acts_new(c, 1, 8, &ta);
    CHECK(st == TL_E_UNSUPPORTED && strstr(tl_last_error(), tl_arch_name(c->arch)), "%s: training not refused: %s",
          name, tl_last_error());
    tl_model_free(m2);
    tl_model_free(m);
    free(g.tokens);
    free(g.logits);
}

/* A config.json whose model_type tiller does not implement is refused naming it. */
static void refusals(void) {
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/olmo2", tl_test_tmpdir());
    CHECK(mkdir(dir, 0755) == 0, "mkdir %s", dir);
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"model_type\": \"olmo2\", \"hidden_size\": 64}\n", f);
    fclose(f);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    f = fopen(path, "wb");
    uint64_t hl = 8;
    fwrite(&hl, 8, 1, f);
    fputs("{}      ", f);
    fclose(f);
    tl_model *m = NULL;
    tl_status st = tl_model_load(dir, &m, NULL);
    CHECK(st == TL_E_UNSUPPORTED && strstr(tl_last_error(), "olmo2") && strstr(tl_last_error(), "gpt_neox"),
          "olmo2 not refused clearly: %s", tl_last_error());
    tl_model_free(m);
}

/* Hugging Face revision directories (step<N>/ with config.json, as Pythia's revisions are saved)
 * form a series sorted by step; directories without config.json are not checkpoints. */
static void revision_series(void) {
    char revs[1024], link[1100], target[1100];
    snprintf(revs, sizeof revs, "%s/revs", tl_test_tmpdir());
    CHECK(mkdir(revs, 0755) == 0, "mkdir %s", revs);
    snprintf(target, sizeof target, "%s/pythia70m", tl_test_tmpdir());
    const char *names[3] = {"step100", "step20", "step7-empty"};
    for (int i = 0; i < 3; i++) {
        snprintf(link, sizeof link, "%s/%s", revs, names[i]);
        if (i < 2) CHECK(symlink(target, link) == 0, "symlink %s", link);
        else CHECK(mkdir(link, 0755) == 0, "mkdir %s", link);
    }
    tl_ckpt_list l = {0};
    CHECK_OK(tl_series_list(revs, &l));
    CHECK(l.n == 2 && l.items[0].step == 20 && l.items[1].step == 100 && !strcmp(l.items[0].name, "step20"),
          "revision series: %d checkpoints", l.n);
    if (l.n == 2) {
        tl_model *m = NULL;
        CHECK_OK(tl_model_load(l.items[1].path, &m, NULL));
        CHECK(m && tl_model_config(m)->arch == TL_ARCH_GPTNEOX, "step100 is not gptneox");
        tl_model_free(m);
    }
    tl_ckpt_list_free(&l);
}

int main(void) {
    one_case("pythia70m", TL_ARCH_GPTNEOX);
    one_case("pythia160m", TL_ARCH_GPTNEOX);
    one_case("olmo1b", TL_ARCH_OLMO);
    one_case("qwen2_05b", TL_ARCH_QWEN2);
    refusals();
    revision_series();
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
