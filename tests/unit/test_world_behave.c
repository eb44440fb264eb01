/* The behavioural test of the probe sets (src/world/behave.c) on the real
 * stories260K model: the pair accuracy counts a pair right exactly when the
 * true member's log p(statement | BOS), computed here independently by one
 * full forward per statement, is the larger; swapping the columns turns
 * accuracy a into 1 - a; identical members are ties (half right); the split
 * filter and the limit select rows; a malformed file fails naming it. */
#include <math.h>
#include <string.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

static const char *pairs[][3] = {
    {"test", "Once upon a time, there was a little girl.", "Once upon a time, there was a little stone."},
    {"test", "The cat sat on the mat.", "The mat sat on the cat."},
    {"test", "She was very happy.", "She was very purple."},
    {"train", "He liked to play with his ball.", "He liked to play with his cloud."},
    {"test", "Tom and Sue went to the park.", "Tom and Sue went to the moon."},
    {"test", "The dog barked at the bird.", "The bird barked at the dog."},
    {"val", "It was a sunny day.", "It was a sunny night."},
};
#define N_PAIRS ((int)(sizeof pairs / sizeof *pairs))

static void write_pairs(const char *path, int swap, int same) {
    FILE *f = fopen(path, "w");
    fprintf(f, "split,true_statement,false_statement\n");
    for (int i = 0; i < N_PAIRS; i++)
        fprintf(f, "%s,\"%s\",\"%s\"\n", pairs[i][0], pairs[i][1 + swap], same ? pairs[i][1 + swap] : pairs[i][2 - swap]);
    fclose(f);
}

/* log p(text | BOS), one forward over the whole statement. */
static double logp(const tl_model *m, const tl_tokenizer *tok, const char *text) {
    int32_t *ids = NULL;
    size_t n = 0;
    tl_session *s = NULL;
    double ll = NAN;
    if (tl_tokenizer_encode(tok, text, strlen(text), TL_TOK_ADD_BOS, &ids, &n) || tl_session_new(m, 0, 0, &s))
        goto done;
    int V = tl_model_config(m)->vocab_size;
    ll = 0;
    for (size_t t = 1; t < n; t++) { /* logits after tokens [0, t) predict token t */
        const float *logits = NULL;
        tl_session_reset(s);
        if (tl_forward(s, ids, (int)t, &logits)) {
            ll = NAN;
            break;
        }
        double mx = -INFINITY, z = 0;
        for (int v = 0; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
        for (int v = 0; v < V; v++) z += exp(logits[v] - mx);
        ll += logits[ids[t]] - mx - log(z);
    }
done:
    tl_session_free(s);
    tl_free(ids);
    return ll;
}

int main(void) {
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    if (tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL) != TL_OK ||
        tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok) != TL_OK) {
        printf("SKIP: stories260K not available (%s)\n", tl_last_error());
        return 77;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/pairs.csv", tl_test_tmpdir());
    write_pairs(path, 0, 0);
    int want = 0, n_test = 0;
    for (int i = 0; i < N_PAIRS; i++) {
        if (strcmp(pairs[i][0], "test")) continue;
        double a = logp(m, tok, pairs[i][1]), b = logp(m, tok, pairs[i][2]);
        CHECK(isfinite(a) && isfinite(b) && a != b, "pair %d: %g %g", i, a, b);
        want += a > b;
        n_test++;
    }
    tl_world_behave_result r, q;
    CHECK_OK(tl_world_behave(m, tok, path, "test", 0, &r));
    printf("test split: %d of %d right (independent: %d), acc %.3f [%.3f, %.3f], margin %.3f\n", r.correct, r.n, want,
           r.acc, r.lo, r.hi, r.mean_margin);
    CHECK(r.n == n_test && r.correct == want, "%d of %d, independent %d of %d", r.correct, r.n, want, n_test);
    CHECK(r.lo <= r.acc && r.acc <= r.hi && r.lo >= 0 && r.hi <= 1, "interval");
    write_pairs(path, 1, 0);
    CHECK_OK(tl_world_behave(m, tok, path, "test", 0, &q));
    CHECK(q.n == r.n && q.correct == r.n - r.correct && fabs(q.mean_margin + r.mean_margin) < 1e-9,
          "swapped: %d of %d", q.correct, q.n);
    write_pairs(path, 0, 1);
    CHECK_OK(tl_world_behave(m, tok, path, NULL, 0, &q));
    CHECK(q.n == N_PAIRS && q.correct == N_PAIRS / 2 && q.mean_margin == 0, "ties: %d of %d", q.correct, q.n);
    CHECK_OK(tl_world_behave(m, tok, path, NULL, 2, &q));
    CHECK(q.n == 2 && q.correct == 1, "limit 2: %d of %d", q.correct, q.n);
    CHECK(tl_world_behave(m, tok, path, "nosuch", 0, &q) == TL_E_FORMAT && strstr(tl_last_error(), "pairs.csv"),
          "no pairs in a split: %s", tl_last_error());
    FILE *f = fopen(path, "w");
    fprintf(f, "statement,label\na,1\n");
    fclose(f);
    CHECK(tl_world_behave(m, tok, path, NULL, 0, &q) == TL_E_FORMAT && strstr(tl_last_error(), "pairs.csv") &&
              strstr(tl_last_error(), "header"),
          "bad header: %s", tl_last_error());
    CHECK(tl_world_behave(m, tok, "no/such/pairs.csv", NULL, 0, &q) == TL_E_IO, "missing file");
    tl_tokenizer_free(tok);
    tl_model_free(m);
    return tl_test_done();
}
