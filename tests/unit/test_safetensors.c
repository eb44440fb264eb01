/* A Hugging Face checkpoint (tests/golden/tiny_llama: GQA, head_dim 12 != 100/6,
 * rope theta 50000, untied, tensors in F16/BF16/F32) against float64 logits from
 * tests/oracle/llama_ref.py (a transcription of transformers' modeling_llama):
 * prefill (one call) and token-by-token decode each within 1e-4 relative. Also
 * checks the q/k row permutation against the half-split RoPE kernel and the
 * two path forms (directory, .safetensors file). */
#include <string.h>

#include "format/format.h"
#include "testlib.h"

#define GOLDEN_DIR "tests/golden/tiny_llama"
/* Relative errors divide by max(|want|, REL_FLOOR): the golden logits have rms
 * ~1, so 0.1 only shields the few logits near zero from 0/0 blow-ups. */
#define REL_FLOOR 0.1

typedef struct {
    int n, V;
    int32_t *tokens;
    float *logits; /* [n, V] (the float64 golden rounded to float) */
} golden;

static int golden_read(const char *path, golden *g) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    uint32_t h[4];
    int ok = fread(h, 4, 4, f) == 4 && h[0] == 0x474C4C54u && h[1] == 1 && h[2] > 0 && h[2] < 4096 &&
             h[3] > 0 && h[3] < 1000000;
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

static void collect_logits(void *user, const float *logits, int T, int V, int pos0) {
    memcpy((float *)user + (size_t)pos0 * V, logits, sizeof(float) * (size_t)T * V);
}

/* Logits of every position: in one call (prefill) or one token per call (decode). */
static void run_logits(const tl_model *m, const golden *g, int decode, float *out) {
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    if (!s) return;
    if (!decode) {
        CHECK_OK(tl_forward_all(s, g->tokens, g->n, collect_logits, out));
    } else {
        for (int t = 0; t < g->n; t++) {
            const float *lg = NULL;
            CHECK_OK(tl_forward(s, g->tokens + t, 1, &lg));
            if (lg) memcpy(out + (size_t)t * g->V, lg, sizeof(float) * g->V);
        }
    }
    tl_session_free(s);
}

static void check_against_golden(const tl_model *m, const golden *g) {
    size_t n = (size_t)g->n * g->V;
    float *got = calloc(n, sizeof(float));
    const char *mode[2] = {"prefill", "decode"};
    for (int decode = 0; decode < 2; decode++) {
        run_logits(m, g, decode, got);
        double abs_err = tl_test_max_abs(got, g->logits, n);
        double rel_err = tl_test_max_rel(got, g->logits, n, REL_FLOOR);
        printf("tiny_llama %s vs float64 oracle: max abs %.3g, max rel %.3g (floor %.2g)\n", mode[decode],
               abs_err, rel_err, REL_FLOOR);
        CHECK(rel_err <= 1e-4, "%s max rel error %g", mode[decode], rel_err);
    }
    free(got);
}

/* The permutation is a bijection within each head, pairing HF rows (i, i + D/2)
 * into interleaved rows (2i, 2i + 1). */
static void test_permutation(void) {
    int bad = 0;
    for (int D = 2; D <= 16; D += 2) {
        int seen[64] = {0};
        for (int r = 0; r < 3 * D; r++) {
            int64_t c = tl_rope_hf_row_to_interleaved(r, D);
            if (c < 0 || c >= 3 * D || c / D != r / D || seen[c]++) bad++;
            int w = r % D, half = D / 2;
            if (w < half && c % D != 2 * w) bad++;
            if (w >= half && c % D != 2 * (w - half) + 1) bad++;
        }
    }
    CHECK(bad == 0, "%d permutation violations", bad);
}

/* Undoing the permutation and running the half-split RoPE kernel must give the
 * same logits: the permutation and the kernels agree on which rows pair up. */
static void test_half_layout(const tl_model *m, const golden *g) {
    tl_model *h = NULL;
    CHECK_OK(tl_model_new(&m->cfg, &h));
    if (!h) return;
    memcpy(h->params, m->params, sizeof(float) * m->n_params);
    h->cfg.rope_layout = TL_ROPE_HALF;
    const tl_config *c = &m->cfg;
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params src, dst;
        tl_params_layer(c, m->params, l, &src);
        tl_params_layer(c, h->params, l, &dst);
        for (int k = 0; k < 2; k++) {
            int rows = (k ? c->n_kv_heads : c->n_heads) * c->head_dim;
            const float *s = k ? src.wk : src.wq;
            float *d = k ? dst.wk : dst.wq;
            for (int r = 0; r < rows; r++)
                memcpy(d + (size_t)r * c->dim, s + tl_rope_hf_row_to_interleaved(r, c->head_dim) * c->dim,
                       sizeof(float) * c->dim);
        }
    }
    size_t n = (size_t)g->n * g->V;
    float *a = calloc(n, sizeof(float)), *b = calloc(n, sizeof(float));
    run_logits(m, g, 0, a);
    run_logits(h, g, 0, b);
    double err = tl_test_max_abs(a, b, n);
    printf("interleaved (permuted rows) vs half-split kernel (HF rows): max abs %.3g\n", err);
    CHECK(err <= 1e-5, "layouts disagree by %g", err);
    free(a);
    free(b);
    tl_model_free(h);
}

int main(void) {
    golden g = {0};
    CHECK(golden_read(GOLDEN_DIR "/logits.bin", &g), "cannot read %s/logits.bin", GOLDEN_DIR);
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(GOLDEN_DIR, &m, NULL));
    if (!m || !g.n) return tl_test_done();
    const tl_config *c = &m->cfg;
    CHECK(c->dim == 100 && c->hidden_dim == 68 && c->n_layers == 3 && c->n_heads == 6 &&
              c->n_kv_heads == 2 && c->head_dim == 12 && c->vocab_size == 97 && c->seq_len == 64 &&
              !c->tied_embeddings && c->rope_theta == 50000.0f && c->norm_eps == 1e-6f,
          "config dim %d F %d L %d H %d Hkv %d D %d V %d S %d tied %d theta %g eps %g", c->dim,
          c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim, c->vocab_size,
          c->seq_len, c->tied_embeddings, (double)c->rope_theta, (double)c->norm_eps);
    CHECK(g.V == c->vocab_size && g.n == 32, "golden %d x %d", g.n, g.V);
    check_against_golden(m, &g);

    /* the .safetensors file form finds config.json beside it and loads the same weights */
    tl_model *m2 = NULL;
    CHECK_OK(tl_model_load(GOLDEN_DIR "/model.safetensors", &m2, NULL));
    CHECK(m2 && m2->n_params == m->n_params &&
              !memcmp(m2->params, m->params, sizeof(float) * m->n_params),
          "file form loads different weights");
    tl_model_free(m2);

    test_permutation();
    test_half_layout(m, &g);

    tl_model_free(m);
    free(g.tokens);
    free(g.logits);
    return tl_test_done();
}
