/* test_trust_protocol.c: the steering protocol's data side (src/study/trust_protocol.c)
 * on a quick world as `tiller world --quick` writes it, checked from the outside:
 *   - the fitting pairs come first, are about fitting people only, and every
 *     dimension's pairs keep their texts (a pair's safe and unsafe rows stay paired);
 *   - no evaluation item that survives the filter names a person of any fitting
 *     prompt (scanned naively here over every name) or contains a fitting question;
 *   - every task keeps items, and the toxicity task at least 4 per held-out person;
 *   - tl_trust_fit_frac makes tl_steer_build fit exactly the fitting rows;
 *   - the experiment's default hook is the reference's: the last position. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "study/trust_protocol.h"
#include "testlib.h"
#include "tiller/world.h"

static int names_person(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *q = strstr(text, name); q; q = strstr(q + 1, name)) {
        char a = q > text ? q[-1] : ' ', b = q[n];
        int wa = (a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z') || (a >= '0' && a <= '9') || a == '_';
        int wb = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_';
        if (!wa && !wb) return 1;
    }
    return 0;
}

int main(void) {
    tl_world_opts wo;
    tl_world_opts_quick(&wo);
    char dir[512], pairs[600];
    snprintf(dir, sizeof dir, "%s/world", tl_test_tmpdir());
    tl_world_summary sum;
    CHECK_OK(tl_world_generate(&wo, dir, &sum));
    snprintf(pairs, sizeof pairs, "%s/steering/pairs.jsonl", dir);

    tl_trust_people pp;
    CHECK_OK(tl_trust_people_load(dir, &pp));
    CHECK(pp.n == wo.n_people, "people: %d, world has %d", pp.n, wo.n_people);
    unsigned char *fit = calloc((size_t)pp.n, 1), *excluded = calloc((size_t)pp.n, 1),
                  *mentioned = calloc((size_t)pp.n, 1);
    tl_trust_people_split(&pp, 0.4, 1, fit);
    int n_fit_people = 0;
    for (int i = 0; i < pp.n; i++) n_fit_people += fit[i];
    CHECK(n_fit_people == (int)(0.4 * pp.n + 0.5), "fitting people %d of %d", n_fit_people, pp.n);

    char *questions[4096];
    int n_q = 0;
    for (int d = 0; d < TL_DIM__COUNT; d++) {
        tl_steer_data *sd = NULL, *orig = NULL;
        CHECK_OK(tl_steer_data_load(pairs, tl_world_dim_names[d], 0, &sd));
        CHECK_OK(tl_steer_data_load(pairs, tl_world_dim_names[d], 0, &orig));
        if (!sd || !orig) continue;
        int P = sd->n_pairs, n_fit = 0;
        CHECK_OK(tl_trust_order_pairs(sd, &pp, fit, 0.4, 7 + (uint64_t)d, &n_fit, mentioned));
        CHECK(sd->n_pairs == P && sd->n == 2 * P && n_fit > 1 && n_fit < P, "%s: %d of %d pairs fit",
              tl_world_dim_names[d], n_fit, P);
        /* every original pair is still there, safe with its unsafe */
        int found = 0;
        for (int i = 0; i < P; i++)
            for (int j = 0; j < P; j++)
                if (!strcmp(orig->text[orig->pos[i]], sd->text[sd->pos[j]]) &&
                    !strcmp(orig->text[orig->neg[i]], sd->text[sd->neg[j]]) && sd->label[sd->pos[j]] == 1 &&
                    sd->label[sd->neg[j]] == 0) {
                    found++;
                    break;
                }
        CHECK(found == P, "%s: %d of %d pairs kept their texts", tl_world_dim_names[d], found, P);
        /* fitting pairs first: the first person of a fitting prompt is a fitting person, of a held-out one not */
        for (int j = 0; j < P; j++) {
            char q[1024];
            tl_trust_question(sd->text[sd->pos[j]], q, sizeof q);
            int who = tl_trust_first_person(&pp, q);
            if (who >= 0) CHECK(fit[who] == (j < n_fit), "%s pair %d (%s): person %d, fit %d", tl_world_dim_names[d], j, q, who, fit[who]);
        }
        /* rows pos, neg by pair, so the first floor(frac * N) rows are exactly the fitting pairs */
        double frac = tl_trust_fit_frac(n_fit, P);
        CHECK((int)(frac * sd->n) == 2 * n_fit, "%s: fit_frac %.17g gives %d rows for %d pairs", tl_world_dim_names[d],
              frac, (int)(frac * sd->n), n_fit);
        for (int i = 0; i < pp.n; i++) excluded[i] |= mentioned[i];
        for (int j = 0; j < n_fit && n_q < 4096; j++) {
            char q[1024];
            tl_trust_question(sd->text[sd->pos[j]], q, sizeof q);
            questions[n_q++] = strdup(q);
        }
        /* independent: every person a fitting prompt names is excluded */
        for (int j = 0; j < n_fit; j++) {
            char q[1024];
            tl_trust_question(sd->text[sd->pos[j]], q, sizeof q);
            for (int i = 0; i < pp.n; i++)
                if (names_person(q, pp.full[i]) || names_person(q, pp.first[i]))
                    CHECK(mentioned[i], "%s: '%s' names person %d, not marked", tl_world_dim_names[d], q, i);
        }
        tl_steer_data_free(sd);
        tl_steer_data_free(orig);
    }
    int n_excl = 0;
    for (int i = 0; i < pp.n; i++) n_excl += excluded[i];
    printf("people %d, fitting %d, excluded from evaluation %d, fitting questions %d\n", pp.n, n_fit_people, n_excl,
           n_q);

    const char *tasks[] = {"world_truth", "world_stereotype", "world_toxicity", "world_capability"};
    tl_eval_load_opts lo = {"../shared/data", dir, NULL, 0};
    for (int k = 0; k < 4; k++) {
        tl_eval_task *t = NULL;
        CHECK_OK(tl_eval_task_load(tasks[k], &lo, &t));
        if (!t) continue;
        int total = 0;
        tl_trust_filter_items(t, &pp, excluded, questions, n_q, &total);
        int kept = t->n_items, bad = 0;
        for (int i = 0; i < kept; i++) {
            const char *ctx = t->items[i].context;
            for (int p = 0; p < pp.n; p++)
                if (excluded[p] && (names_person(ctx, pp.full[p]) || names_person(ctx, pp.first[p]))) bad++;
            for (int q = 0; q < n_q; q++)
                if (strstr(ctx, questions[q])) bad++;
        }
        /* the dropped items (past n_items) each name an excluded person or a fitting question */
        int unjust = 0;
        for (int i = kept; i < total; i++) {
            const char *ctx = t->items[i].context;
            int why = 0;
            for (int p = 0; p < pp.n && !why; p++)
                why = excluded[p] && (names_person(ctx, pp.full[p]) || names_person(ctx, pp.first[p]));
            for (int q = 0; q < n_q && !why; q++) why = strstr(ctx, questions[q]) != NULL;
            unjust += !why;
        }
        printf("%-18s kept %d of %d items\n", tasks[k], kept, total);
        CHECK(bad == 0, "%s: %d kept items share a person or prompt with the fitting pairs", tasks[k], bad);
        CHECK(unjust == 0, "%s: %d items dropped without cause", tasks[k], unjust);
        CHECK(kept > 0, "%s: nothing kept", tasks[k]);
        if (k == 2) CHECK(kept >= 4 * (pp.n - n_excl), "toxicity: %d items for %d held-out people", kept, pp.n - n_excl);
        if (k == 0) CHECK(kept < total, "truth: nothing dropped");
        t->n_items = total;
        tl_eval_task_free(t);
    }
    for (int q = 0; q < n_q; q++) free(questions[q]);

    /* the validation / test split of the evaluation items: fixed by the seed, stratified (every
     * stratum's halves within one item), halves within one item overall, and not the items' order */
    {
        enum { NS = 301 };
        double strat[NS];
        unsigned char a[NS], b[NS], c[NS];
        for (int i = 0; i < NS; i++) strat[i] = i % 7 == 0 ? NAN : (i * 37 % 11 < 3 ? 1.0 : (i % 5 == 0 ? 0.5 : 0.0));
        CHECK_OK(tl_trust_split_items(strat, NS, 42, a));
        CHECK_OK(tl_trust_split_items(strat, NS, 42, b));
        CHECK_OK(tl_trust_split_items(strat, NS, 43, c));
        CHECK(memcmp(a, b, NS) == 0, "split: the same seed gives another split");
        int diff_seed = 0, n_test = 0, by_index = 0;
        for (int i = 0; i < NS; i++) diff_seed += a[i] != c[i], n_test += a[i], by_index += a[i] == (i % 2);
        CHECK(diff_seed > NS / 4, "split: seeds 42 and 43 differ in only %d items", diff_seed);
        CHECK(n_test == NS / 2 || n_test == NS / 2 + 1, "split: %d of %d items in the test half", n_test, NS);
        CHECK(by_index > NS / 4 && by_index < 3 * NS / 4, "split: %d of %d items follow the index parity", by_index,
              NS);
        const double strata[4] = {0.0, 0.5, 1.0, NAN};
        for (int q = 0; q < 4; q++) {
            int t = 0, v = 0;
            for (int i = 0; i < NS; i++)
                if (q == 3 ? isnan(strat[i]) : strat[i] == strata[q]) t += a[i], v += !a[i];
            CHECK(t + v > 10 && abs(t - v) <= 1, "split: stratum %d has %d test and %d validation items", q, t, v);
        }
        printf("split: %d of %d items in the test half, strata balanced within one item\n", n_test, NS);
    }

    /* the reference's hook by default */
    tl_trust_opts o;
    tl_trust_opts_default(&o);
    CHECK(o.last_only == 1 && o.n_sources == 2 && o.fit_share > 0 && o.fit_share < 1 && !o.no_norm_match,
          "defaults: last_only %d, sources %d, fit share %g, norm match %d", o.last_only, o.n_sources, o.fit_share,
          !o.no_norm_match);

    /* a broken world.json is an error naming the file */
    char wj[700];
    snprintf(wj, sizeof wj, "%s/world.json", dir);
    FILE *f = fopen(wj, "w");
    if (f) {
        fputs("{\"people\": [{\"id\": 0}]}", f);
        fclose(f);
    }
    tl_trust_people bad_pp;
    CHECK(tl_trust_people_load(dir, &bad_pp) == TL_E_FORMAT && strstr(tl_last_error(), "world.json"),
          "bad world.json: %s", tl_last_error());
    tl_trust_people_free(&pp);
    free(fit);
    free(excluded);
    free(mentioned);
    return tl_test_done();
}
