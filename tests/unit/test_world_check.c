/* The probe-set check (src/world/check.c) on sets built to fail or pass it:
 * - a label carried by one word: every classifier but the majority finds it;
 * - a label carried by a (group, trait) conjunction, XOR-like, with every
 *   combination in training: unigrams + bigrams stay near chance, the
 * token-pair regression and the lookup table solve it (the fairness failure of
 * issue 13);
 * - the same conjunctions held out (test combinations absent from training)
 *   and facts about held-out entities: all four at or below 0.60.
 * Plus the majority baseline on an unbalanced split and a missing file. */
#include <string.h>

#include "testlib.h"
#include "tiller/world.h"

typedef struct {
    char *stmt[4096];
    int label[4096];
    int n;
} rows;

static void add(rows *r, int label, const char *fmt, ...) TL_PRINTF(3, 4);
static void add(rows *r, int label, const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->stmt[r->n] = strdup(buf);
    r->label[r->n++] = label;
}

static tl_wcsv view(rows *r) { return (tl_wcsv){r->stmt, r->label, r->n}; }

static void release(rows *r) {
    for (int i = 0; i < r->n; i++)
        free(r->stmt[i]);
    r->n = 0;
}

static const char *groups[] = {"alder", "birch", "cedar", "dogwood", "elm", "fir"};
static const char *traits[] = {"careful", "greedy", "honest", "lazy", "loud", "quiet"};

int main(void) {
    static rows tr, te;
    tl_world_check_result r;
    /* one word carries the label */
    for (int i = 0; i < 400; i++) {
        rows *d = i < 320 ? &tr : &te;
        add(d, i % 2, "person%d said something %s today", i, i % 2 ? "kind" : "cruel");
    }
    tl_wcsv a = view(&tr), b = view(&te);
    CHECK_OK(tl_world_check_split(&a, &b, &r));
    printf("one word: majority %.3f bigrams %.3f pairs %.3f lookup %.3f\n", r.majority, r.bigrams, r.pairs, r.lookup);
    CHECK(r.bigrams > 0.95 && r.pairs > 0.95 && r.lookup > 0.95 && fabs(r.majority - 0.5) < 1e-12,
          "a label in one word is found");
    CHECK(r.worst > TL_WORLD_CHECK_MAX, "worst %.3f", r.worst);
    release(&tr);
    release(&te);
    /* a (group, trait) conjunction, every combination in training */
    for (int i = 0; i < 720; i++) {
        int g = i % 6, t = (i / 6) % 6, label = (g + t) % 2;
        add(i % 5 == 4 ? &te : &tr, label, "people of %s are %s, says person%d", groups[g], traits[t], i);
    }
    a = view(&tr);
    b = view(&te);
    CHECK_OK(tl_world_check_split(&a, &b, &r));
    printf("conjunction, seen combinations: majority %.3f bigrams %.3f pairs "
           "%.3f lookup %.3f\n",
           r.majority, r.bigrams, r.pairs, r.lookup);
    CHECK(r.bigrams < 0.65, "unigrams + bigrams cannot see a conjunction: %.3f", r.bigrams);
    CHECK(r.pairs > 0.95 && r.lookup > 0.95, "pairs %.3f and lookup %.3f solve seen conjunctions", r.pairs, r.lookup);
    release(&tr);
    release(&te);
    /* held-out combinations: 30 groups x 30 traits, each combination's label a random bit,
     * one combination in six only in the test split; plus facts about held-out entities:
     * minimal pairs whose label is a fact of the world */
    for (int g = 0; g < 30; g++)
        for (int t = 0; t < 30; t++) {
            uint32_t h = (uint32_t)(g * 31 + t * 17 + 5) * 2654435761u;
            int label = (h >> 15) & 1, held = (g + 2 * t) % 6 == 0;
            add(held ? &te : &tr, label, "people of group%d are trait%d", g, t);
            add(held ? &te : &tr, label, "in group%d everyone is trait%d", g, t);
        }
    for (int e = 0; e < 300; e++) { /* person e lives in town (e * 7 % 11); the
                                       false member names another */
        rows *d = e < 240 ? &tr : &te;
        int town = e * 7 % 11, other = (town + 1 + e % 10) % 11;
        add(d, 1, "entity%d lives in town%d", e, town);
        add(d, 0, "entity%d lives in town%d", e, other);
    }
    a = view(&tr);
    b = view(&te);
    CHECK_OK(tl_world_check_split(&a, &b, &r));
    printf("held out: n %d / %d, majority %.3f bigrams %.3f pairs %.3f lookup "
           "%.3f\n",
           r.n_train, r.n_test, r.majority, r.bigrams, r.pairs, r.lookup);
    CHECK(r.worst <= TL_WORLD_CHECK_MAX, "held-out combinations and entities: worst %.3f", r.worst);
    release(&tr);
    release(&te);
    /* majority: from the training rows, scored on the test rows */
    for (int i = 0; i < 40; i++)
        add(i < 30 ? &tr : &te, i < 20 || i >= 37, "row %d", i);
    a = view(&tr);
    b = view(&te);
    CHECK_OK(tl_world_check_split(&a, &b, &r));
    CHECK(fabs(r.majority - 0.3) < 1e-12, "majority of training (1) on a test split with 3 of 10 ones: %.3f",
          r.majority);
    release(&tr);
    release(&te);
    CHECK(tl_world_check_files("no/such_train.csv", "no/such_test.csv", &r) == TL_E_IO, "missing file");
    CHECK(strstr(tl_last_error(), "such_train.csv") != NULL, "the file is named: %s", tl_last_error());
    return tl_test_done();
}
