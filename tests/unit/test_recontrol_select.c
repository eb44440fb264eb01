/* test_recontrol_select.c: choosing RE-Control's step size and iterations on validation prompts
 * (tl_rc_select) and the power figure (tl_rc_min_effect).
 * - tl_rc_min_effect against scipy.stats.norm.ppf (tests/oracle/recontrol_power_ref.py ->
 *   tests/golden/recontrol/power.tsv); NAN for arguments out of range.
 * - tl_rc_select on stories260K with a word-list reward and a random value network: every
 *   setting's mean reward and diversity, and plain decoding's, equal an independent run of the
 *   generator and the reward; the chosen setting follows the rule (the highest reward among the
 *   settings keeping the diversity share; none: the most diverse); bad arguments are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h" /* internal: cfg.dim */
#include "testlib.h"
#include "tiller/format.h"
#include "tiller/recontrol.h"

static void test_power(void) {
    FILE *f = fopen("tests/golden/recontrol/power.tsv", "r");
    CHECK(f != NULL, "cannot read tests/golden/recontrol/power.tsv");
    if (!f) return;
    int n, rows = 0;
    double a, pw, want, worst = 0;
    while (fscanf(f, "%d %lf %lf %lf", &n, &a, &pw, &want) == 4) {
        double got = tl_rc_min_effect(n, a, pw), err = fabs(got - want) / fabs(want);
        if (err > worst) worst = err;
        CHECK(err < 1e-8, "min effect n %d alpha %g power %g: %.12g, scipy %.12g", n, a, pw, got, want);
        rows++;
    }
    fclose(f);
    CHECK(rows == 8, "%d golden rows", rows);
    printf("tl_rc_min_effect vs scipy: %d cases, max relative error %.2e\n", rows, worst);
    CHECK(isnan(tl_rc_min_effect(1, 0.05, 0.8)), "n = 1 accepted");
    CHECK(isnan(tl_rc_min_effect(10, 0, 0.8)), "alpha 0 accepted");
    CHECK(isnan(tl_rc_min_effect(10, 0.05, 1)), "power 1 accepted");
}

/* mean reward and diversity of one method over the prompts, computed here without tl_rc_select */
static void independent(const tl_model *m, const tl_tokenizer *tok, const tl_rc_prompts *p, tl_reward *rw,
                        const tl_rc_gen_opts *go, double *reward, double *div) {
    tl_rc_gen *g = NULL;
    CHECK_OK(tl_rc_gen_new(m, tok, 0, go, &g));
    *reward = 0, *div = 0;
    for (int i = 0; g && i < p->n; i++) {
        const char *text;
        int nt;
        double sec, r;
        CHECK_OK(tl_rc_generate(g, p->prompt[i], &text, &nt, NULL, &sec));
        CHECK_OK(tl_reward_score(rw, p->prompt[i], text, &r));
        *reward += r / p->n, *div += tl_rc_diversity(text) / p->n;
    }
    tl_rc_gen_free(g);
}

static void test_select(void) {
    const char *mp = "../shared/models/stories260K/stories260K.bin", *tp = "../shared/models/stories260K/tok512.bin";
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    if (tl_model_load(mp, &m, NULL) || tl_tokenizer_load(tp, &tok)) {
        CHECK(0, "stories260K is needed (scripts/deps.sh test)");
        return;
    }
    char lex[] = "/tmp/tiller-test-rcselect-XXXXXX";
    int fd = mkstemp(lex);
    CHECK(fd >= 0, "mkstemp");
    const char *words = "the 1\nhappy 2\nsad -2\nand -1\nwas 0.5\n";
    CHECK(write(fd, words, strlen(words)) == (ssize_t)strlen(words), "write the word list");
    close(fd);
    char spec[64];
    snprintf(spec, sizeof spec, "lexicon:%s", lex);
    tl_reward *rw = NULL;
    CHECK_OK(tl_reward_open(spec, &rw));
    tl_value_net *v = NULL;
    CHECK_OK(tl_value_new(m->cfg.dim, 16, 7, &v));
    char *texts[] = {"Once upon a time", "Lily went to the park", "The cat was", "Tom had a big red ball",
                     "One day, a little bird"};
    tl_rc_prompts p = {texts, 5};
    tl_rc_setting grid[4] = {
        {.step = 0.5f, .iters = 1}, {.step = 4, .iters = 5}, {.step = 50, .iters = 10}, {.step = 500, .iters = 30}};
    tl_rc_select_opts o = {12, {0.8f, 40, 0.95f, 3}, 0.9, NULL, NULL};
    tl_rc_select_result res;
    CHECK_OK(tl_rc_select(m, tok, &p, rw, v, &o, grid, 4, &res));
    CHECK(res.n == 5 && res.best >= 0 && res.best < 4, "n %d best %d", res.n, res.best);

    tl_rc_gen_opts go = {0};
    go.method = TL_RC_PLAIN, go.n_new = o.n_new, go.sampler = o.sampler, go.value = v;
    double r, dv;
    independent(m, tok, &p, rw, &go, &r, &dv);
    CHECK(fabs(r - res.plain_mean) < 1e-12 && fabs(dv - res.plain_diversity) < 1e-12,
          "plain: select %g / %g, independent %g / %g", res.plain_mean, res.plain_diversity, r, dv);
    int n_elig = 0, want = -1;
    go.method = TL_RC_RECONTROL;
    for (int k = 0; k < 4; k++) {
        go.step = grid[k].step, go.iters = grid[k].iters;
        independent(m, tok, &p, rw, &go, &r, &dv);
        printf("step %g x %d: reward %.4f diversity %.3f (plain %.4f / %.3f)%s\n", (double)grid[k].step, grid[k].iters,
               grid[k].reward_mean, grid[k].diversity_mean, res.plain_mean, res.plain_diversity,
               grid[k].eligible ? "" : " not eligible");
        CHECK(fabs(r - grid[k].reward_mean) < 1e-12, "setting %d: reward %g, independent %g", k, grid[k].reward_mean,
              r);
        CHECK(fabs(dv - grid[k].diversity_mean) < 1e-12, "setting %d: diversity %g, independent %g", k,
              grid[k].diversity_mean, dv);
        CHECK(fabs(grid[k].gain_mean - (grid[k].reward_mean - res.plain_mean)) < 1e-9, "setting %d: gain", k);
        int el = dv >= 0.9 * res.plain_diversity;
        CHECK(el == grid[k].eligible, "setting %d: eligible %d, want %d", k, grid[k].eligible, el);
        n_elig += el;
        if (el && (want < 0 || r > grid[want].reward_mean)) want = k;
    }
    if (want < 0)
        for (int k = 0; k < 4; k++)
            if (want < 0 || grid[k].diversity_mean > grid[want].diversity_mean) want = k;
    CHECK(res.best == want, "chose %d, the rule gives %d (%d eligible)", res.best, want, n_elig);
    /* the step changes the text: the largest differs from the smallest */
    CHECK(grid[0].reward_mean != grid[3].reward_mean || grid[0].diversity_mean != grid[3].diversity_mean,
          "step 0.5 x 1 and 500 x 30 give the same responses");

    /* share 0: every setting eligible, the highest reward wins */
    o.min_diversity_share = 0;
    CHECK_OK(tl_rc_select(m, tok, &p, rw, v, &o, grid, 4, &res));
    int top = 0;
    for (int k = 1; k < 4; k++)
        if (grid[k].reward_mean > grid[top].reward_mean) top = k;
    CHECK(res.best == top, "share 0: chose %d, the highest reward is %d", res.best, top);

    /* bad arguments */
    o.min_diversity_share = 1.5;
    CHECK(tl_rc_select(m, tok, &p, rw, v, &o, grid, 4, &res) == TL_E_ARG, "share 1.5 accepted");
    o.min_diversity_share = 0.9;
    CHECK(tl_rc_select(m, tok, &p, rw, v, &o, grid, 0, &res) == TL_E_ARG, "an empty grid accepted");
    tl_rc_setting bad[1] = {{.step = 0, .iters = 5}};
    CHECK(tl_rc_select(m, tok, &p, rw, v, &o, bad, 1, &res) == TL_E_ARG, "step 0 accepted");
    bad[0].step = 1, bad[0].iters = 0;
    CHECK(tl_rc_select(m, tok, &p, rw, v, &o, bad, 1, &res) == TL_E_ARG, "0 iterations accepted");
    tl_rc_prompts one = {texts, 1};
    CHECK(tl_rc_select(m, tok, &one, rw, v, &o, grid, 4, &res) == TL_E_ARG, "one validation prompt accepted");

    remove(lex);
    tl_value_free(v);
    tl_reward_free(rw);
    tl_tokenizer_free(tok);
    tl_model_free(m);
}

int main(void) {
    test_power();
    test_select();
    return tl_test_done();
}
