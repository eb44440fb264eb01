/* test_recontrol_reward.c: the Bradley-Terry loss and head gradient against PyTorch
 * (tests/oracle/reward_bt_ref.py -> tests/golden/recontrol/bt_ref.txt) and central
 * differences; heuristic rewards; preference-pair files (fields, HH-RLHF split, errors). */
#include <string.h>

#include "model/model.h" /* internal: the session and parameter layout */
#include "tiller/format.h"
#include "tiller/recontrol.h"
#include "testlib.h"

static double arrs[8][64];
static int lens[8];

static int load(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char name[32];
    int k = 0, n;
    while (k < 8 && fscanf(f, "%31s %d", name, &n) == 2 && n <= 64) {
        for (int i = 0; i < n; i++)
            if (fscanf(f, "%lf", &arrs[k][i]) != 1) return fclose(f), 0;
        lens[k++] = n;
    }
    fclose(f);
    return k == 8;
}

static void grab_row(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer, (void)pos0;
    memcpy(user, x + (size_t)(T - 1) * width, (size_t)width * sizeof(float));
}

/* The FLUENCY features against token-by-token decoding (one forward per token, the KV cache
 * kept): the mean final state over the response's tokens and the mean log-probability of
 * each response token (log-softmax in double) from the previous position's logits. */
static void check_features(void) {
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    const char *prompt = "Once upon a time, Lily", *resp = " saw a big dog in the park.";
    int d = m->cfg.dim, D = tl_reward_feature_dim(TL_REWARD_FEAT_FLUENCY, d);
    CHECK(D == 2 * d + 1 && tl_reward_feature_dim(TL_REWARD_FEAT_LAST, d) == d, "feature dims");
    float *f = calloc((size_t)D, sizeof *f), *last = calloc((size_t)d, sizeof *last), *h = calloc((size_t)d, sizeof *h);
    CHECK_OK(tl_reward_features(s, tok, prompt, resp, TL_REWARD_FEAT_FLUENCY, f));
    CHECK_OK(tl_reward_features(s, tok, prompt, resp, TL_REWARD_FEAT_LAST, last));
    char text[256];
    snprintf(text, sizeof text, "%s%s", prompt, resp);
    float *ref_last = calloc((size_t)d, sizeof *ref_last);
    CHECK_OK(tl_final_state(s, tok, text, ref_last));
    CHECK(!memcmp(last, ref_last, sizeof(float) * (size_t)d), "LAST features differ from tl_final_state");
    /* reference: token by token */
    int32_t *ids = NULL, *pids = NULL;
    size_t n = 0, np = 0;
    CHECK_OK(tl_tokenizer_encode(tok, text, strlen(text), TL_TOK_ADD_BOS, &ids, &n));
    CHECK_OK(tl_tokenizer_encode(tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &pids, &np));
    CHECK(np < n, "prompt %zu tokens of %zu", np, n);
    double *mean = calloc((size_t)d, sizeof *mean), lp = 0;
    int rows = 0;
    tl_session_reset(s);
    CHECK_OK(tl_hooks_add(&s->hooks, TL_HOOK_FINAL_NORM, -1, grab_row, h));
    const float *lg = NULL;
    for (size_t t = 0; t < n; t++) {
        if (t >= np && lg) { /* lg: the logits of position t - 1 */
            double mx = lg[0], z = 0;
            for (int v = 1; v < m->cfg.vocab_size; v++) mx = lg[v] > mx ? lg[v] : mx;
            for (int v = 0; v < m->cfg.vocab_size; v++) z += exp((double)lg[v] - mx);
            lp += lg[ids[t]] - mx - log(z);
        }
        CHECK_OK(tl_forward(s, ids + t, 1, &lg));
        if (t >= np) {
            for (int j = 0; j < d; j++) mean[j] += h[j];
            rows++;
        }
    }
    s->hooks.n = 0;
    double e_last = 0, e_mean = 0;
    for (int j = 0; j < d; j++) {
        e_last = fmax(e_last, fabs(f[j] - h[j]));
        e_mean = fmax(e_mean, fabs(f[d + j] - mean[j] / rows));
    }
    double e_lp = fabs(f[2 * d] - lp / rows);
    printf("FLUENCY features vs token by token (%d response tokens): last %.2e, mean state %.2e, mean log-prob %.4f "
           "(err %.2e)\n",
           rows, e_last, e_mean, lp / rows, e_lp);
    CHECK(e_last < 1e-4 && e_mean < 1e-4 && e_lp < 1e-4, "features differ: %g %g %g", e_last, e_mean, e_lp);
    CHECK(lp / rows < -0.01, "a mean log-probability of %g", lp / rows);
    free(f), free(last), free(h), free(ref_last), free(mean);
    tl_free(ids), tl_free(pids);
    tl_session_free(s);
    tl_tokenizer_free(tok);
    tl_model_free(m);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A FLUENCY reward scores a response to the prompt it scored last from that prompt's cached keys
 * and values, and a clone scores on its own session: both must give exactly the numbers of a
 * reward that runs every text from scratch (a fresh one per call), in any order of prompts. */
static void check_cache_and_clone(void) {
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    if (!m || !tok) return;
    char dir[] = "/tmp/tiller-test-rwcache-XXXXXX", engine[256], head[256], spec[300];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(engine, sizeof engine, "%s/engine.gguf", dir);
    snprintf(head, sizeof head, "%s/head.gguf", dir);
    snprintf(spec, sizeof spec, "model:%s", head);
    CHECK_OK(tl_model_save(m, tok, engine));
    tl_pref_pair pp[4] = {{"Lily saw", " a big dog.", " dog dog dog"},
                          {"Lily saw", " a red ball.", " ball ball"},
                          {"Tom ate", " a cake.", " cake ,,,"},
                          {"Tom ate", " an apple.", " apple apple"}};
    tl_reward_train_opts o = {0};
    o.model_path = engine, o.epochs = 5, o.lr = 1e-2f, o.seed = 3, o.features = TL_REWARD_FEAT_FLUENCY;
    tl_reward_train_result res;
    CHECK_OK(tl_reward_train(m, tok, pp, 4, &o, head, &res));
    /* the same prompt again and again (cache hits), another prompt, back, an empty response */
    static const char *calls[][2] = {
        {"Once upon a time, Lily", " saw a big dog."}, {"Once upon a time, Lily", " saw a big dog in the park."},
        {"Once upon a time, Lily", " went home"},      {"Tom ate", " a cake."},
        {"Once upon a time, Lily", " saw a big dog."}, {"Once upon a time, Lily", ""},
        {"Once upon a time, Lily", " smiled."}};
    enum { NC = sizeof calls / sizeof *calls };
    tl_reward *cached = NULL, *clone = NULL;
    CHECK_OK(tl_reward_open(spec, &cached));
    if (cached) CHECK_OK(tl_reward_clone(cached, &clone));
    int same = 0;
    for (int i = 0; cached && clone && i < NC; i++) {
        tl_reward *fresh = NULL;
        double a = 0, b = 0, c = 0;
        CHECK_OK(tl_reward_open(spec, &fresh));
        if (fresh) CHECK_OK(tl_reward_score(fresh, calls[i][0], calls[i][1], &a));
        CHECK_OK(tl_reward_score(cached, calls[i][0], calls[i][1], &b));
        CHECK_OK(tl_reward_score(clone, calls[NC - 1 - i][0], calls[NC - 1 - i][1], &c)); /* reversed order */
        tl_reward_free(fresh);
        CHECK(a == b, "call %d: cached %.17g, from scratch %.17g", i, b, a);
        same += a == b;
    }
    for (int i = 0; cached && clone && i < NC; i++) { /* the clone again, in order: its scores too */
        double a = 0, c = 0;
        CHECK_OK(tl_reward_score(cached, calls[i][0], calls[i][1], &a));
        CHECK_OK(tl_reward_score(clone, calls[i][0], calls[i][1], &c));
        CHECK(a == c, "call %d: clone %.17g, original %.17g", i, c, a);
    }
    printf("FLUENCY reward with the prompt cache: %d of %d calls bit-identical to scoring from scratch\n", same, NC);
    tl_reward_free(clone);
    tl_reward_free(cached);
    remove(head), remove(engine);
    tl_test_rmtree(dir);
    tl_tokenizer_free(tok);
    tl_model_free(m);
}

int main(void) {
    /* order in the golden: dims fc fr w b loss gw gb */
    CHECK(load("tests/golden/recontrol/bt_ref.txt"), "cannot read the golden file");
    int N = (int)arrs[0][0], D = (int)arrs[0][1];
    float fc[64], fr[64], w[8], gw[8], gb;
    for (int i = 0; i < N * D; i++) fc[i] = (float)arrs[1][i], fr[i] = (float)arrs[2][i];
    for (int j = 0; j < D; j++) w[j] = (float)arrs[3][j];
    double loss = tl_reward_bt_loss(w, (float)arrs[4][0], fc, fr, N, D, gw, &gb);
    printf("BT loss %.9f (torch %.9f)\n", loss, arrs[5][0]);
    CHECK(fabs(loss - arrs[5][0]) < 1e-6, "loss %g vs %g", loss, arrs[5][0]);
    double e = 0;
    for (int j = 0; j < D; j++) e = fmax(e, fabs(gw[j] - arrs[6][j]));
    printf("dL/dw max err %.2e; dL/db %g (torch %g)\n", e, gb, arrs[7][0]);
    CHECK(e < 1e-6, "dL/dw differs from torch: %g", e);
    CHECK(fabs(gb - arrs[7][0]) < 1e-9, "dL/db %g vs %g", gb, arrs[7][0]);
    /* central differences */
    double fd_err = 0;
    for (int j = 0; j < D; j++) {
        float keep = w[j], eps = 1e-3f;
        w[j] = keep + eps;
        double lp = tl_reward_bt_loss(w, 0, fc, fr, N, D, NULL, NULL);
        w[j] = keep - eps;
        double lm = tl_reward_bt_loss(w, 0, fc, fr, N, D, NULL, NULL);
        w[j] = keep;
        fd_err = fmax(fd_err, fabs((lp - lm) / (2.0 * eps) - gw[j]));
    }
    printf("dL/dw vs central differences: %.2e\n", fd_err);
    CHECK(fd_err < 1e-4, "finite differences: %g", fd_err);

    /* heuristic rewards */
    tl_reward *r = NULL;
    double v1, v2, v3;
    CHECK_OK(tl_reward_open("world", &r));
    CHECK_OK(tl_reward_score(r, "p", " Come and sit with me, my kind soul.", &v1));
    CHECK_OK(tl_reward_score(r, "p", " Get out of my sight, you filthy rat.", &v2));
    CHECK_OK(tl_reward_score(r, "p", " It is my copper compass.", &v3));
    printf("world reward: kind %.3f, insult %.3f, neutral %.3f\n", v1, v2, v3);
    CHECK(v1 > 0 && v2 < 0 && v3 == 0, "world rule: %g %g %g", v1, v2, v3);
    tl_reward_free(r);
    CHECK_OK(tl_reward_open("lexicon", &r));
    CHECK_OK(tl_reward_score(r, "p", "I am sorry, I can help you find legal advice.", &v1));
    CHECK_OK(tl_reward_score(r, "p", "Steal the gun and kill him.", &v2));
    CHECK(v1 > 0 && v2 < 0, "lexicon: %g %g", v1, v2);
    /* word boundaries: "skill" does not contain the word "kill" */
    CHECK_OK(tl_reward_score(r, "p", "skill", &v3));
    CHECK(v3 == 0, "word boundary: %g", v3);
    tl_reward_free(r);
    r = NULL;
    CHECK(tl_reward_open("nonsense", &r) == TL_E_ARG && !r, "unknown reward spec must fail");

    const char *dir = tl_test_tmpdir();
    char p1[512], p2[512], p3[512], p4[512];
    snprintf(p1, sizeof p1, "%s/lex.txt", dir);
    write_file(p1, "good 1\nbad nan\n");
    CHECK(tl_reward_open("lexicon:/nonexistent/x.txt", &r) == TL_E_IO, "missing word list");
    char spec[600];
    snprintf(spec, sizeof spec, "lexicon:%s", p1);
    CHECK(tl_reward_open(spec, &r) == TL_E_FORMAT, "a NaN weight must be refused");
    CHECK(strstr(tl_last_error(), ":2:") != NULL, "message names the line: %s", tl_last_error());

    /* preference pairs */
    tl_pref_pair *pp = NULL;
    int n = 0;
    snprintf(p2, sizeof p2, "%s/pairs.jsonl", dir);
    write_file(p2, "{\"prompt\": \"Q\", \"chosen\": \" yes\", \"rejected\": \" no\"}\n"
                   "{\"chosen\": \"\\n\\nHuman: hi\\n\\nAssistant: hello\", \"rejected\": \"\\n\\nHuman: hi\\n\\nAssistant: go away\"}\n"
                   "{\"prompt\": \"W\", \"safe\": \" kind\", \"unsafe\": \" rude\"}\n");
    CHECK_OK(tl_pref_pairs_load(p2, 0, &pp, &n));
    CHECK(n == 3, "3 pairs, got %d", n);
    if (n == 3) {
        CHECK(!strcmp(pp[1].prompt, "\n\nHuman: hi\n\nAssistant:") && !strcmp(pp[1].chosen, " hello") &&
                  !strcmp(pp[1].rejected, " go away"),
              "HH split: [%s] [%s] [%s]", pp[1].prompt, pp[1].chosen, pp[1].rejected);
        CHECK(!strcmp(pp[2].chosen, " kind") && !strcmp(pp[2].rejected, " rude"), "safe/unsafe aliases");
    }
    tl_pref_pairs_free(pp, n);
    snprintf(p3, sizeof p3, "%s/nofields.jsonl", dir);
    write_file(p3, "{\"prompt\": \"Q\", \"chosen\": \" yes\", \"rejected\": \" no\"}\n{\"prompt\": \"Q\", \"answer\": 1}\n");
    CHECK(tl_pref_pairs_load(p3, 0, &pp, &n) == TL_E_FORMAT, "rows without the fields must be refused");
    CHECK(strstr(tl_last_error(), "nofields.jsonl:2") && strstr(tl_last_error(), "chosen"), "message: %s",
          tl_last_error());
    snprintf(p4, sizeof p4, "%s/noprompt.jsonl", dir);
    write_file(p4, "{\"chosen\": \"a\", \"rejected\": \"b\"}\n");
    CHECK(tl_pref_pairs_load(p4, 0, &pp, &n) == TL_E_FORMAT, "no prompt and not HH must be refused");
    CHECK(strstr(tl_last_error(), "prompt") != NULL, "message: %s", tl_last_error());
    tl_test_rmtree(dir);
    check_features();
    check_cache_and_clone();
    return tl_test_done();
}
