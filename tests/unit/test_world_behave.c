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
    {"test", "The girl gave her friend a big hug.", "The girl gave her friend a cup."},
    {"test", "They played together in the garden all day.", "They played together in the sky."},
    {"test", "Mom baked a cake.", "Mom baked a shoe."},
};
#define N_PAIRS ((int)(sizeof pairs / sizeof *pairs))

/* ent: 0 = no entity column, 1 = one entity per pair, 2 = a single entity for all */
static void write_pairs_ent(const char *path, int swap, int same, int ent) {
    FILE *f = fopen(path, "w");
    fprintf(f, "split,true_statement,false_statement%s\n", ent ? ",entity" : "");
    for (int i = 0; i < N_PAIRS; i++) {
        fprintf(f, "%s,\"%s\",\"%s\"", pairs[i][0], pairs[i][1 + swap], same ? pairs[i][1 + swap] : pairs[i][2 - swap]);
        if (ent) fprintf(f, ",e%d", ent == 1 ? i : 0);
        fprintf(f, "\n");
    }
    fclose(f);
}

static void write_pairs(const char *path, int swap, int same) { write_pairs_ent(path, swap, same, 0); }

static int n_tokens(const tl_tokenizer *tok, const char *text) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (tl_tokenizer_encode(tok, text, strlen(text), TL_TOK_ADD_BOS, &ids, &n)) return -1;
    tl_free(ids);
    return (int)n;
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
    double hits[3] = {0, 0, 0}, cnt[3] = {0, 0, 0}; /* by sign of tokens(true) - tokens(false) */
    for (int i = 0; i < N_PAIRS; i++) {
        if (strcmp(pairs[i][0], "test")) continue;
        double a = logp(m, tok, pairs[i][1]), b = logp(m, tok, pairs[i][2]);
        CHECK(isfinite(a) && isfinite(b) && a != b, "pair %d: %g %g", i, a, b);
        want += a > b;
        n_test++;
        int ta = n_tokens(tok, pairs[i][1]), tb = n_tokens(tok, pairs[i][2]), sg = (ta > tb) - (ta < tb);
        hits[sg + 1] += a > b, cnt[sg + 1] += 1;
    }
    /* the length-balanced accuracy from its definition (docs/analysis.md): the strata whose true
     * member is shorter and longer weigh equally, the equal-length pairs by their share */
    double w0 = cnt[1] / n_test, bal = cnt[0] && cnt[2] ? (cnt[1] ? w0 * hits[1] / cnt[1] : 0) +
                                                               (1 - w0) * (hits[0] / cnt[0] + hits[2] / cnt[2]) / 2
                                                         : (hits[0] + hits[1] + hits[2]) / n_test;
    tl_world_behave_result r, q;
    CHECK_OK(tl_world_behave(m, tok, path, "test", 0, &r));
    printf("test split: %d of %d right (independent: %d), acc %.3f [%.3f, %.3f], margin %.3f\n", r.correct, r.n, want,
           r.acc, r.lo, r.hi, r.mean_margin);
    CHECK(r.n == n_test && r.correct == want, "%d of %d, independent %d of %d", r.correct, r.n, want, n_test);
    CHECK(r.lo <= r.acc && r.acc <= r.hi && r.lo >= 0 && r.hi <= 1, "interval");
    printf("strata (true shorter / equal / longer): %d %d %d (independent %g %g %g); balanced %.4f (independent "
           "%.4f) [%.3f, %.3f] over %d clusters\n", r.n_shorter, r.n_equal, r.n_longer, cnt[0], cnt[1], cnt[2],
           r.bal_acc, bal, r.boot_lo, r.boot_hi, r.n_clusters);
    CHECK(r.n_shorter == cnt[0] && r.n_equal == cnt[1] && r.n_longer == cnt[2], "strata");
    CHECK(fabs(r.bal_acc - bal) < 1e-12, "balanced accuracy %.6f, independent %.6f", r.bal_acc, bal);
    CHECK(r.boot_lo <= r.bal_acc + 1e-12 && r.bal_acc <= r.boot_hi + 1e-12 && r.boot_lo >= 0 && r.boot_hi <= 1 &&
              r.n_clusters == n_test, "bootstrap interval [%g, %g] around %g, %d clusters", r.boot_lo, r.boot_hi,
          r.bal_acc, r.n_clusters);
    /* an entity column with one entity per pair is the same resampling as none; a single entity
     * for every pair leaves nothing to resample: the interval shrinks to the estimate */
    write_pairs_ent(path, 0, 0, 1);
    CHECK_OK(tl_world_behave(m, tok, path, "test", 0, &q));
    CHECK(q.bal_acc == r.bal_acc && q.boot_lo == r.boot_lo && q.boot_hi == r.boot_hi && q.n_clusters == n_test,
          "one entity per pair: [%g, %g] vs [%g, %g]", q.boot_lo, q.boot_hi, r.boot_lo, r.boot_hi);
    write_pairs_ent(path, 0, 0, 2);
    CHECK_OK(tl_world_behave(m, tok, path, "test", 0, &q));
    CHECK(q.n_clusters == 1 && fabs(q.boot_lo - q.bal_acc) < 1e-12 && fabs(q.boot_hi - q.bal_acc) < 1e-12,
          "one entity: [%g, %g] around %g", q.boot_lo, q.boot_hi, q.bal_acc);
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
