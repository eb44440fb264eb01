/* test_recontrol_reward.c: the Bradley-Terry loss and head gradient against PyTorch
 * (tests/oracle/reward_bt_ref.py -> tests/golden/recontrol/bt_ref.txt) and central
 * differences; heuristic rewards; preference-pair files (fields, HH-RLHF split, errors). */
#include <string.h>

#include "model/model.h" /* internal: the session and parameter layout */
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

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
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
    return tl_test_done();
}
