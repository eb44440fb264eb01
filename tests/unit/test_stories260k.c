/* The real stories260K model (llama2.c legacy .bin, GQA, tied embeddings) against
 * goldens from an independent PyTorch implementation: logits at positions 0..31
 * (max abs error <= 1e-4), greedy tokens exact, prefill == token-by-token decode. */
#include <string.h>

#include "format/format.h"
#include "testlib.h"

#define NPOS 32

static int read_ints(const char *path, int32_t *out, int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    while (n < cap && fscanf(f, "%d", &out[n]) == 1) n++;
    fclose(f);
    return n;
}

static int read_floats(const char *path, float *out, int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    int n = 0;
    while (n < cap && fscanf(f, "%f", &out[n]) == 1) n++;
    fclose(f);
    return n;
}

typedef struct {
    float *dst;
    int V;
} collect;

static void collect_logits(void *user, const float *logits, int T, int V, int pos0) {
    collect *c = user;
    memcpy(c->dst + (size_t)pos0 * V, logits, (size_t)T * V * sizeof(float));
}

int main(void) {
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (!m) return tl_test_done();
    CHECK(m->cfg.dim == 64 && m->cfg.n_layers == 5 && m->cfg.n_kv_heads == 4 && m->cfg.tied_embeddings,
          "config dim %d layers %d kv %d", m->cfg.dim, m->cfg.n_layers, m->cfg.n_kv_heads);
    int V = m->cfg.vocab_size;

    int32_t golden[256];
    int ng = read_ints(tl_test_shared("models/stories260K/golden/greedy_1.tokens.txt"), golden, 256);
    CHECK(ng == 200, "golden token count %d (BOS + 199 generated)", ng);
    float *want = malloc(sizeof(float) * NPOS * V), *got = calloc(NPOS * (size_t)V, sizeof(float));
    int nf = read_floats(tl_test_shared("models/stories260K/golden/greedy_1.logits32.txt"), want, NPOS * V);
    CHECK(nf == NPOS * V, "golden logit count %d", nf);

    /* prefill: all 32 positions in one call */
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    collect c = {got, V};
    CHECK_OK(tl_forward_all(s, golden, NPOS, collect_logits, &c));
    double err = tl_test_max_abs(got, want, (size_t)NPOS * V);
    printf("prefill logits max abs error vs PyTorch golden: %.3g\n", err);
    CHECK(err <= 1e-4, "prefill max abs error %g", err);

    /* decode: one token at a time */
    tl_session_reset(s);
    for (int t = 0; t < NPOS; t++) {
        const float *lg;
        CHECK_OK(tl_forward(s, golden + t, 1, &lg));
        memcpy(got + (size_t)t * V, lg, sizeof(float) * V);
    }
    err = tl_test_max_abs(got, want, (size_t)NPOS * V);
    printf("decode logits max abs error vs PyTorch golden: %.3g\n", err);
    CHECK(err <= 1e-4, "decode max abs error %g", err);

    /* greedy generation: 200 tokens after BOS */
    tl_session_reset(s);
    int32_t tok = 1, mismatches = 0, first_bad = -1;
    for (int t = 1; t < ng; t++) {
        const float *lg;
        CHECK_OK(tl_forward(s, &tok, 1, &lg));
        int32_t best = 0;
        for (int i = 1; i < V; i++)
            if (lg[i] > lg[best]) best = i;
        if (best != golden[t] && first_bad < 0) first_bad = t;
        mismatches += best != golden[t];
        tok = golden[t];
    }
    printf("greedy tokens: %d of %d equal the golden\n", ng - 1 - mismatches, ng - 1);
    CHECK(mismatches == 0, "first mismatch at position %d", first_bad);

    /* scoring: log p(golden[1..31] | BOS) equals log_softmax of the golden logits */
    double logp[NPOS - 1], worst = 0;
    CHECK_OK(tl_score_tokens(s, golden, 1, golden + 1, NPOS - 1, logp));
    for (int t = 0; t < NPOS - 1; t++) {
        const float *row = want + (size_t)t * V;
        double mx = row[0], z = 0;
        for (int i = 1; i < V; i++) mx = row[i] > mx ? row[i] : mx;
        for (int i = 0; i < V; i++) z += exp(row[i] - mx);
        double ref = row[golden[t + 1]] - mx - log(z), d = fabs(ref - logp[t]);
        worst = d > worst ? d : worst;
    }
    printf("score log-probs max abs error vs golden: %.3g\n", worst);
    CHECK(worst < 1e-4, "score error %g", worst);

    /* the context bound is enforced */
    tl_session_reset(s);
    int32_t *many = calloc(600, sizeof(int32_t));
    CHECK(tl_forward(s, many, 600, NULL) == TL_E_RANGE, "600 tokens into a 512 context");
    free(many);

    tl_session_free(s);
    tl_model_free(m);
    free(want);
    free(got);
    return tl_test_done();
}
