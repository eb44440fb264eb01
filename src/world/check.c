/* check.c: can a probe set be solved without knowing the world? Four shortcut
 * classifiers, each trained on the set's train split and scored on its test
 * split (issue 13, point 1): the majority class, logistic regression on
 * unigrams + bigrams, logistic regression on unigrams + every pair of tokens
 * (conjunctions such as (group, trait)), and a lookup table of token pairs. A
 * set whose statements need knowledge keeps all four at or below 0.60. */
#include <ctype.h>
#include <string.h>

#include "base/base.h" /* internal */
#include "tiller/world.h"

/* ---- the lookup table: token pair -> label counts over the training rows
 * --------- */

typedef struct {
    char **key;
    int *count; /* [cap][2] */
    size_t cap, n;
} pair_table;

static uint64_t hash_key(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The counts of key, added when `add`; NULL when absent (or out of memory:
 * *oom). */
static int *table_get(pair_table *t, const char *key, int add, int *oom) {
    if (add && 2 * (t->n + 1) > t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 4096;
        char **k = tl_calloc(cap, sizeof *k);
        int *c = tl_calloc(cap * 2, sizeof *c);
        if (!k || !c) {
            tl_free(k);
            tl_free(c);
            *oom = 1;
            return NULL;
        }
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->key[i])
                continue;
            size_t j = hash_key(t->key[i]) & (cap - 1);
            while (k[j])
                j = (j + 1) & (cap - 1);
            k[j] = t->key[i];
            c[2 * j] = t->count[2 * i];
            c[2 * j + 1] = t->count[2 * i + 1];
        }
        tl_free(t->key);
        tl_free(t->count);
        t->key = k;
        t->count = c;
        t->cap = cap;
    }
    if (!t->cap)
        return NULL;
    size_t j = hash_key(key) & (t->cap - 1);
    while (t->key[j]) {
        if (!strcmp(t->key[j], key))
            return t->count + 2 * j;
        j = (j + 1) & (t->cap - 1);
    }
    if (!add)
        return NULL;
    if (!(t->key[j] = tl_strdup(key))) {
        *oom = 1;
        return NULL;
    }
    t->n++;
    return t->count + 2 * j;
}

static void table_free(pair_table *t) {
    for (size_t i = 0; i < t->cap; i++)
        tl_free(t->key[i]);
    tl_free(t->key);
    tl_free(t->count);
}

enum { MAX_TOKS = 128, TOK_LEN = 64 };

/* The distinct lower-cased tokens (2+ word characters) of s, as bow.c reads
 * them. */
static int tokens(const char *s, char toks[MAX_TOKS][TOK_LEN]) {
    int nt = 0;
    for (size_t a = 0; s[a] && nt < MAX_TOKS;) {
        if (!(isalnum((unsigned char)s[a]) || s[a] == '_')) {
            a++;
            continue;
        }
        size_t b = a;
        while (isalnum((unsigned char)s[b]) || s[b] == '_')
            b++;
        size_t n = b - a < TOK_LEN ? b - a : TOK_LEN - 1;
        for (size_t k = 0; k < n; k++)
            toks[nt][k] = (char)tolower((unsigned char)s[a + k]);
        toks[nt][n] = 0;
        a = b;
        int dup = n < 2;
        for (int k = 0; k < nt && !dup; k++)
            dup = !strcmp(toks[k], toks[nt]);
        if (!dup)
            nt++;
    }
    return nt;
}

/* Every unordered token pair of row s: add its label (train) or vote (test). */
static int visit_pairs(pair_table *t, const char *s, int label, double *vote, int *oom) {
    char toks[MAX_TOKS][TOK_LEN], key[2 * TOK_LEN + 2];
    int nt = tokens(s, toks), seen = 0;
    for (int a = 0; a < nt && !*oom; a++)
        for (int b = a + 1; b < nt && !*oom; b++) {
            int o = strcmp(toks[a], toks[b]);
            snprintf(key, sizeof key, "%.63s|%.63s", o < 0 ? toks[a] : toks[b], o < 0 ? toks[b] : toks[a]);
            int *c = table_get(t, key, vote == NULL, oom);
            if (!c)
                continue;
            if (!vote) {
                c[label]++;
            } else if (c[0] + c[1]) { /* each seen pair votes its training share of
                                         label 1 minus 1/2 */
                *vote += (double)c[1] / (c[0] + c[1]) - 0.5;
                seen++;
            }
        }
    return seen;
}

static tl_status lookup_accuracy(const tl_wcsv *train, const tl_wcsv *test, int majority, double *acc) {
    pair_table t = {0};
    int oom = 0, ok = 0;
    for (int i = 0; i < train->n && !oom; i++)
        visit_pairs(&t, train->stmt[i], train->label[i] != 0, NULL, &oom);
    for (int i = 0; i < test->n && !oom; i++) {
        double vote = 0;
        int seen = visit_pairs(&t, test->stmt[i], 0, &vote, &oom);
        int guess = seen && vote != 0 ? vote > 0 : majority;
        ok += guess == (test->label[i] != 0);
    }
    table_free(&t);
    if (oom)
        return tl_errorf(TL_E_NOMEM, "lookup table: out of memory");
    *acc = (double)ok / test->n;
    return TL_OK;
}

tl_status tl_world_check_split(const tl_wcsv *train, const tl_wcsv *test, tl_world_check_result *r) {
    memset(r, 0, sizeof *r);
    r->n_train = train->n;
    r->n_test = test->n;
    if (train->n < 2 || test->n < 1)
        return tl_errorf(TL_E_ARG, "check: need >= 2 train and >= 1 test rows (got %d, %d)", train->n, test->n);
    int ones = 0, test_ones = 0;
    for (int i = 0; i < train->n; i++)
        ones += train->label[i] != 0;
    for (int i = 0; i < test->n; i++)
        test_ones += test->label[i] != 0;
    int majority = 2 * ones >= train->n;
    r->majority = (double)(majority ? test_ones : test->n - test_ones) / test->n;
    tl_status s = tl_world_bow_accuracy_with(train, test, TL_BOW_BIGRAMS, &r->bigrams);
    if (!s)
        s = tl_world_bow_accuracy_with(train, test, TL_BOW_PAIRS, &r->pairs);
    if (!s)
        s = lookup_accuracy(train, test, majority, &r->lookup);
    r->worst = r->majority;
    if (r->bigrams > r->worst)
        r->worst = r->bigrams;
    if (r->pairs > r->worst)
        r->worst = r->pairs;
    if (r->lookup > r->worst)
        r->worst = r->lookup;
    return s;
}

tl_status tl_world_check_files(const char *train_csv, const char *test_csv, tl_world_check_result *r) {
    memset(r, 0, sizeof *r);
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    tl_wcsv tr = {0}, te = {0};
    tl_status st = tl_file_read_all(train_csv, &a, &na);
    if (!st)
        st = tl_file_read_all(test_csv, &b, &nb);
    if (!st)
        st = tl_world_csv_parse(a, na, train_csv, &tr);
    if (!st)
        st = tl_world_csv_parse(b, nb, test_csv, &te);
    if (!st)
        st = tl_world_check_split(&tr, &te, r);
    if (st)
        st = tl_error_prefix(st, "%s", test_csv);
    tl_world_csv_free(&tr);
    tl_world_csv_free(&te);
    tl_free(a);
    tl_free(b);
    return st;
}
