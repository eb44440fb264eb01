/* The reversal experiment's pieces (src/study/reversal.c): the exact-match rule, a data
 * file turned into an eval task (distinct completions as choices, gold = the row's own),
 * and the errors for malformed files. The whole run is tested through the CLI
 * (tests/cli/test_reversal.sh). */
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/reversal.h"
#include "testlib.h"

static const char *write_file(const char *name, const char *text) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tl_test_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void test_exact_match(void) {
    static const struct {
        const char *gen, *want;
        int hit;
    } cases[] = {
        {" Daphne Barrington", " Daphne Barrington", 1},
        {" Daphne Barrington, who directed it.", " Daphne Barrington", 1}, /* the model may go on */
        {"Daphne Barrington", " Daphne Barrington", 1},                    /* leading space not required */
        {" the architect of the lighthouse", " the architect of the lighthouse.", 1}, /* final '.' dropped */
        {" the architect of the lighthouse.", " the architect of the lighthouse.", 1},
        {" Daphne", " Daphne Barrington", 0},                   /* a prefix of the answer is not enough */
        {" daphne barrington", " Daphne Barrington", 0},        /* case matters */
        {" The name is Daphne Barrington", " Daphne Barrington", 0},
        {"", " Daphne Barrington", 0},
        {" anything", " ", 0}, /* an empty expectation never matches */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK(tl_reversal_exact_match(cases[i].gen, cases[i].want) == cases[i].hit, "em('%s', '%s') != %d",
              cases[i].gen, cases[i].want, cases[i].hit);
    CHECK(!tl_reversal_exact_match(NULL, " x"), "no generation is no match");
}

static void test_load(void) {
    const char *p = write_file("ok.jsonl", "{\"prompt\": \"A is\", \"completion\": \" x.\"}\n"
                                           "\n"
                                           "{\"prompt\": \"B is\", \"completion\": \" y.\"}\n"
                                           "{\"prompt\": \"Also A is\", \"completion\": \" x.\"}\n");
    tl_eval_task *t = NULL;
    CHECK_OK(tl_reversal_load_task(p, "N2D", &t));
    if (t) {
        CHECK(t->n_items == 3 && t->items[0].n_choices == 2, "3 items of 2 choices, got %d of %d", t->n_items,
              t->n_items ? t->items[0].n_choices : -1);
        CHECK(t->items[0].gold == 0 && t->items[1].gold == 1 && t->items[2].gold == 0, "gold = the row's own");
        CHECK(!strcmp(t->items[2].context, "Also A is") && !strcmp(t->items[1].choices[1], " y."),
              "contexts and choices as in the file");
        CHECK(t->items[0].generate && !strcmp(t->delim, "") && t->kind == TL_EVAL_KIND_CAPABILITY,
              "generating capability items, no delimiter");
    }
    tl_eval_task_free(t);
    static const struct {
        const char *name, *text, *msg;
    } bad[] = {
        {"b1.jsonl", "{\"prompt\": \"A\", \"completion\": \" x\"}\n{\"prompt\": \"B\", \"completion\": \n", "line 2"},
        {"b2.jsonl", "{\"prompt\": \"A\", \"answer\": \" x\"}\n", "completion"},
        {"b3.jsonl", "{\"prompt\": 3, \"completion\": \" x\"}\n", "prompt"},
        {"b4.jsonl", "{\"prompt\": \"A\", \"completion\": \"  \"}\n", "empty"},
        {"b5.jsonl", "{\"prompt\": \"A\", \"completion\": \" x\"}\n{\"prompt\": \"B\", \"completion\": \" x\"}\n",
         "same completion"},
        {"b6.jsonl", "\n\n", "no rows"},
        {"b7.jsonl", "[1, 2]\n", "object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = write_file(bad[i].name, bad[i].text);
        t = NULL;
        tl_status st = tl_reversal_load_task(p, "x", &t);
        CHECK(st != TL_OK && !t, "%s must fail", bad[i].name);
        CHECK(strstr(tl_last_error(), bad[i].name) && strstr(tl_last_error(), bad[i].msg),
              "%s: message '%s' lacks the file or '%s'", bad[i].name, tl_last_error(), bad[i].msg);
        printf("  %s\n", tl_last_error());
    }
    t = NULL;
    CHECK(tl_reversal_load_task("/nonexistent/x.jsonl", "x", &t) != TL_OK && !t, "a missing file must fail");
}

int main(void) {
    test_exact_match();
    test_load();
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
