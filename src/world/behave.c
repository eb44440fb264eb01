/* behave.c: does a model know the facts behind a probe set? The behavioural
 * test of issue 13, point 2: for each minimal pair of <dim>_pairs.csv (probes.c)
 * the model scores both statements, log p(statement | BOS) summed over its
 * tokens, and is right when the member true of the world gets the higher
 * log-probability. Accuracy with its Wilson 95 % interval and n; a random-init
 * model is at about 0.5, since the members of a pair are built from the same
 * multiset of values.
 *
 * The scoring is the evaluation harness's (src/eval): each pair is a two-choice
 * item with an empty context (only BOS), so every statement is scored from its
 * first token; the true member is the first choice in even pairs and the second
 * in odd ones, so ties (which a constant model would produce) count half right
 * on average instead of all right. */
#include <string.h>

#include "analysis/stats.h" /* internal: Wilson */
#include "eval/eval_internal.h"
#include "tiller/world.h"

static tl_status load_pairs(const char *path, const char *split, tl_eval_task **out) {
    *out = NULL;
    char *text = NULL;
    size_t len = 0;
    tl_status st = tl_file_read_all(path, &text, &len);
    if (st) return st;
    tl_eval_task *t = NULL;
    st = tl_eval_task_new("world_pairs", path, TL_EVAL_KIND_MC, "", &t);
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    int header = 1, k = 0;
    while (!st) {
        tl_csv_record rec;
        int got = 0;
        if ((st = tl_csv_next(&r, &rec, &got)) || !got) break;
        if (rec.blank) continue;
        const char *const *f = rec.fields;
        if (header) {
            header = 0;
            if (rec.n_fields != 3 || strcmp(f[0], "split") || strcmp(f[1], "true_statement") ||
                strcmp(f[2], "false_statement"))
                st = tl_errorf(TL_E_FORMAT, "%s:%d: expected the header split,true_statement,false_statement", path,
                               rec.line);
        } else if (rec.n_fields != 3) {
            st = tl_errorf(TL_E_FORMAT, "%s:%d: expected 3 fields, found %d", path, rec.line, rec.n_fields);
        } else if (!split || !strcmp(f[0], split)) {
            tl_eval_item *it = NULL;
            if (!(st = tl_eval_task_add(t, 2, &it))) {
                int g = k++ % 2; /* where the true member goes */
                it->context = tl_strdup("");
                it->choices[g] = tl_strdup(f[1]);
                it->choices[1 - g] = tl_strdup(f[2]);
                it->gold = g;
                if (!it->context || !it->choices[0] || !it->choices[1])
                    st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            }
        }
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!st && t->n_items == 0)
        st = tl_errorf(TL_E_FORMAT, "%s: no pairs%s%s", path, split ? " in split " : "", split ? split : "");
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_world_behave(const tl_model *m, const tl_tokenizer *tok, const char *pairs_csv, const char *split,
                          int limit, tl_world_behave_result *r) {
    memset(r, 0, sizeof *r);
    tl_eval_task *t = NULL;
    tl_status st = load_pairs(pairs_csv, split, &t);
    if (st) return st;
    tl_eval_opts eo;
    tl_eval_opts_default(&eo);
    eo.limit = limit;
    tl_eval_result res;
    memset(&res, 0, sizeof res);
    st = tl_eval_run(m, tok, t, &eo, &res);
    if (!st) {
        double margin = 0;
        for (int i = 0; i < res.n_items; i++) {
            const double *ll = res.ll + res.choice_off[i];
            int g = t->items[i].gold;
            double d = ll[g] - ll[1 - g];
            r->correct += d > 0 ? 2 : d == 0 ? 1 : 0; /* half-units: a tie is half right */
            margin += d;
        }
        r->n = res.n_items;
        r->correct /= 2; /* rounds ties down; exact when there are none */
        r->acc = r->n ? (double)r->correct / r->n : 0;
        r->mean_margin = r->n ? margin / r->n : 0;
        tl_wilson(r->correct, r->n, TL_Z95, &r->lo, &r->hi);
    }
    tl_eval_result_free(&res);
    tl_eval_task_free(t);
    return st ? tl_error_prefix(st, "%s", pairs_csv) : TL_OK;
}
