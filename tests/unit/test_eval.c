/* test_eval.c: the evaluation harness on the real stories260K model.
 *  - against tests/golden/eval/stories260k.json (tests/oracle/eval_ref.py: lm-eval's
 *    prompts, an independent Python tokenizer, a float64 PyTorch forward): prompts
 *    byte for byte, token ids exactly, lls within 1e-4, metrics exactly;
 *  - the prefix cache gives the numbers of the uncached run;
 *  - hooks passed in tl_eval_opts reach every forward;
 *  - the world's four sets run end to end (quick world), deterministically. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "tiller/eval.h"
#include "testlib.h"
#include "tiller/world.h"
#include "format/format.h"

static tl_model *model;
static tl_tokenizer *tok;

static cJSON *load_golden(void) {
    char *data = NULL;
    size_t n = 0;
    if (tl_file_read_all("tests/golden/eval/stories260k.json", &data, &n) != TL_OK) return NULL;
    cJSON *j = cJSON_ParseWithLength(data, n);
    tl_free(data);
    return j;
}

static int ids_equal(const cJSON *arr, const int32_t *ids, int n) {
    if (cJSON_GetArraySize(arr) != n) return 0;
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++)
        if ((int32_t)e->valuedouble != ids[i]) return 0;
    return 1;
}

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v && cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Index of a metric in a result, -1 when absent. */
static int metric_index(const tl_eval_result *r, const char *name) {
    for (int m = 0; m < r->n_metrics; m++)
        if (!strcmp(r->metrics[m].name, name)) return m;
    return -1;
}

static void check_case(const cJSON *c, double *max_ll_err, int *n_lls) {
    const char *task = cJSON_GetObjectItem(c, "task")->valuestring;
    const cJSON *file = cJSON_GetObjectItem(c, "file"), *items = cJSON_GetObjectItem(c, "items");
    char data_dir[2048], file_path[4200];
    snprintf(data_dir, sizeof data_dir, "%s", tl_test_shared("data"));
    if (cJSON_IsString(file)) snprintf(file_path, sizeof file_path, "%s/%s", data_dir, file->valuestring);
    tl_eval_load_opts lo = {data_dir, NULL, cJSON_IsString(file) ? file_path : NULL, (int)num(c, "fewshot")};
    tl_eval_task *t = NULL;
    CHECK_OK(tl_eval_task_load(task, &lo, &t));
    if (!t) return;
    int limit = (int)num(c, "limit");
    CHECK(t->n_items >= limit, "%s: %d items", task, t->n_items);

    /* prompts and token ids */
    int i = 0;
    for (const cJSON *gi = items->child; gi && i < t->n_items; gi = gi->next, i++) {
        const tl_eval_item *it = &t->items[i];
        CHECK(!strcmp(it->id, cJSON_GetObjectItem(gi, "id")->valuestring), "%s item %d: id %s", task, i, it->id);
        CHECK(!strcmp(it->context, cJSON_GetObjectItem(gi, "context")->valuestring),
              "%s item %s: the prompt differs from lm-eval's:\n---\n%s\n---", task, it->id, it->context);
        const cJSON *gch = cJSON_GetObjectItem(gi, "choices");
        CHECK(cJSON_GetArraySize(gch) == it->n_choices, "%s item %s: %d choices", task, it->id, it->n_choices);
        int k = 0;
        for (const cJSON *gc = gch->child; gc && k < it->n_choices; gc = gc->next, k++) {
            char cont[4096];
            snprintf(cont, sizeof cont, "%s%s", t->delim, it->choices[k]);
            int32_t *ci = NULL, *co = NULL;
            int nci = 0, nco = 0;
            CHECK_OK(tl_eval_encode_pair(tok, it->context, cont, &ci, &nci, &co, &nco));
            if (k == 0)
                CHECK(ids_equal(cJSON_GetObjectItem(gi, "ctx_ids"), ci, nci), "%s item %s: context ids differ", task,
                      it->id);
            CHECK(ids_equal(cJSON_GetObjectItem(gc, "cont_ids"), co, nco), "%s item %s choice %d: ids differ", task,
                  it->id, k);
            tl_free(ci);
            tl_free(co);
        }
    }

    /* lls and metrics, with and without the prefix cache */
    tl_eval_result r[2];
    for (int cache = 0; cache < 2; cache++) {
        tl_eval_opts o;
        tl_eval_opts_default(&o);
        o.limit = limit;
        o.no_prefix_cache = cache == 1;
        o.n_workers = 2;
        CHECK_OK(tl_eval_run(model, tok, t, &o, &r[cache]));
    }
    CHECK(r[0].n_items == limit, "%s: scored %d items", task, r[0].n_items);
    i = 0;
    for (const cJSON *gi = items->child; gi && i < r[0].n_items; gi = gi->next, i++) {
        const double *ll = r[0].ll + r[0].choice_off[i], *ll_nc = r[1].ll + r[1].choice_off[i];
        int k = 0;
        for (const cJSON *gc = cJSON_GetObjectItem(gi, "choices")->child; gc; gc = gc->next, k++) {
            double want = num(gc, "ll"), err = fabs(ll[k] - want);
            if (!(err <= *max_ll_err)) *max_ll_err = err;
            ++*n_lls;
            CHECK(err <= 1e-4, "%s item %d choice %d: ll %.8f, oracle %.8f", task, i, k, ll[k], want);
            CHECK(ll[k] == ll_nc[k], "%s item %d choice %d: cached %.17g != uncached %.17g", task, i, k, ll[k],
                  ll_nc[k]);
        }
        CHECK(r[0].pred[i] == (int)num(gi, "pred") && r[0].pred_norm[i] == (int)num(gi, "pred_norm"),
              "%s item %d: pred %d / %d, oracle %g / %g", task, i, r[0].pred[i], r[0].pred_norm[i], num(gi, "pred"),
              num(gi, "pred_norm"));
        for (const cJSON *gm = gi->child; gm; gm = gm->next) {
            int m = metric_index(&r[0], gm->string);
            if (m < 0) continue; /* id, context, ... */
            double got = r[0].values[(size_t)i * r[0].n_metrics + m], want = gm->valuedouble;
            int exact = strcmp(gm->string, "mc2") != 0;
            CHECK(exact ? got == want : fabs(got - want) <= 1e-6, "%s item %d: %s %.9f, oracle %.9f", task, i,
                  gm->string, got, want);
        }
    }
    for (const cJSON *gm = cJSON_GetObjectItem(c, "metrics")->child; gm; gm = gm->next) {
        int m = metric_index(&r[0], gm->string);
        CHECK(m >= 0, "%s: no metric %s", task, gm->string);
        if (m < 0) continue;
        double got = r[0].metrics[m].mean, want = gm->valuedouble;
        CHECK(strcmp(gm->string, "mc2") ? got == want : fabs(got - want) <= 1e-6, "%s: mean %s %.9f, oracle %.9f", task,
              gm->string, got, want);
        CHECK(r[0].metrics[m].n == limit, "%s: %s over %d items", task, gm->string, r[0].metrics[m].n);
    }
    /* inputs cut on the left (5-shot MMLU) differ per choice: no cache there */
    CHECK(r[0].tokens_run <= r[1].tokens_run, "%s: the prefix cache ran %lld tokens, scratch %lld", task,
          (long long)r[0].tokens_run, (long long)r[1].tokens_run);
    printf("%-14s fewshot %d: %d items, tokens run %lld cached / %lld from scratch\n", task, (int)num(c, "fewshot"),
           limit, (long long)r[0].tokens_run, (long long)r[1].tokens_run);
    tl_eval_result_free(&r[0]);
    tl_eval_result_free(&r[1]);
    tl_eval_task_free(t);
}

static void test_oracle(void) {
    cJSON *g = load_golden();
    CHECK(g != NULL, "tests/golden/eval/stories260k.json missing or malformed");
    if (!g) return;
    double max_err = 0;
    int n_lls = 0;
    for (const cJSON *c = cJSON_GetObjectItem(g, "cases")->child; c; c = c->next)
        check_case(c, &max_err, &n_lls);
    printf("oracle: %d lls, max |ll - oracle| = %.3g\n", n_lls, max_err);
    CHECK(n_lls > 100, "only %d lls compared", n_lls);
    cJSON_Delete(g);
}

/* ---- hooks ---------------------------------------------------------------------- */

typedef struct {
    long calls;
    int token;
    float bias;
} logit_bias;

static void bias_hook(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    logit_bias *b = user;
    b->calls++;
    for (int t = 0; t < T; t++)
        x[(size_t)t * width + b->token] += b->bias;
}

static void test_hooks(void) {
    tl_eval_load_opts lo = {NULL, NULL, NULL, 0};
    char data_dir[4096];
    snprintf(data_dir, sizeof data_dir, "%s", tl_test_shared("data"));
    lo.data_dir = data_dir;
    tl_eval_task *t = NULL;
    CHECK_OK(tl_eval_task_load("arc_easy", &lo, &t));
    if (!t) return;
    tl_eval_opts o;
    tl_eval_opts_default(&o);
    o.limit = 3;
    tl_eval_result plain, hooked;
    CHECK_OK(tl_eval_run(model, tok, t, &o, &plain));
    /* a logits edit that makes token 0 (<unk>, never in a continuation) likely lowers every ll */
    logit_bias b = {0, 0, 8.0f};
    CHECK_OK(tl_hooks_add(&o.hooks, TL_HOOK_LOGITS, -1, bias_hook, &b));
    CHECK_OK(tl_eval_run(model, tok, t, &o, &hooked));
    CHECK(b.calls > 0, "the hook was never called");
    int lower = 1;
    for (int k = 0; k < plain.choice_off[plain.n_items]; k++)
        lower &= hooked.ll[k] < plain.ll[k];
    CHECK(lower, "a +8 logit on <unk> should lower every choice's ll");
    tl_eval_result_free(&plain);
    tl_eval_result_free(&hooked);
    tl_eval_task_free(t);
}

/* ---- the world's sets ------------------------------------------------------------- */

/* The positions a hook sees as the last row of a forward call (one worker). */
typedef struct {
    unsigned char last[4096];
} last_rows;
static void record_last(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)x, (void)width;
    last_rows *r = user;
    if (layer == 1 && T > 0 && pos0 + T - 1 < 4096) r->last[pos0 + T - 1] = 1;
}

/* token_by_token: the same lls, and a hook on each call's last row sees every position from the
 * context's last token to the last scored one (what a last-position steering hook edits in a
 * generation); the batched run shows it only the context's last and the continuation's last. */
static void check_token_by_token(const tl_eval_task *t, const tl_eval_result *a, int limit) {
    tl_eval_opts o;
    tl_eval_opts_default(&o);
    o.limit = limit;
    o.n_workers = 2;
    o.token_by_token = 1;
    tl_eval_result r;
    CHECK_OK(tl_eval_run(model, tok, t, &o, &r));
    int same = r.n_items == a->n_items;
    for (int i = 0; same && i < a->choice_off[a->n_items]; i++) same = r.ll[i] == a->ll[i];
    CHECK(same, "%s: token-by-token lls differ from the batched ones", t->name);
    tl_eval_result_free(&r);
    const tl_eval_item *it = &t->items[0];
    if (it->generate || it->n_choices < 1) return;
    tl_eval_task one = *t;
    one.n_items = 1;
    for (int by_token = 0; by_token < 2; by_token++) {
        last_rows seen = {{0}};
        o.limit = 1;
        o.n_workers = 1;
        o.token_by_token = by_token;
        CHECK_OK(tl_hooks_add(&o.hooks, TL_HOOK_RESID_POST, 1, record_last, &seen));
        CHECK_OK(tl_eval_run(model, tok, &one, &o, &r));
        tl_hooks_clear(&o.hooks);
        int32_t *ci = NULL, *co = NULL;
        int nci = 0, nco = 0;
        char cont[4096];
        snprintf(cont, sizeof cont, "%s%s", t->delim, it->choices[0]);
        CHECK_OK(tl_eval_encode_pair(tok, it->context, cont, &ci, &nci, &co, &nco));
        int all = nco >= 3; /* 3+ tokens: the batched run skips the middle ones */
        for (int p = nci - 1; p < nci + nco - 1; p++) all &= seen.last[p];
        CHECK(by_token ? all : !all, "%s: token_by_token %d: a last-position hook %s every scored position (%d "
              "context, %d continuation tokens)", t->name, by_token, by_token ? "misses" : "sees", nci, nco);
        tl_free(ci);
        tl_free(co);
        tl_eval_result_free(&r);
    }
}

static void test_world(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/world", tl_test_tmpdir());
    tl_world_opts wo;
    tl_world_opts_default(&wo);
    tl_world_opts_quick(&wo);
    wo.seed = 5;
    tl_world_summary sum;
    CHECK_OK(tl_world_generate(&wo, dir, &sum));
    static const char *tasks[] = {"world_truth", "world_stereotype", "world_capability", "world_toxicity"};
    for (size_t k = 0; k < sizeof tasks / sizeof *tasks; k++) {
        tl_eval_load_opts lo = {NULL, dir, NULL, 0};
        tl_eval_task *t = NULL;
        CHECK_OK(tl_eval_task_load(tasks[k], &lo, &t));
        if (!t) continue;
        tl_eval_opts o;
        tl_eval_opts_default(&o);
        o.limit = 6;
        o.max_new_tokens = 12;
        if (!strcmp(tasks[k], "world_capability")) { /* the arithmetic items come after world_qa ones */
            int first_gen = 0;
            while (first_gen < t->n_items && !t->items[first_gen].generate)
                first_gen++;
            CHECK(first_gen < t->n_items, "no arithmetic item");
            o.limit = first_gen + 3;
        }
        tl_eval_result a, b, c;
        o.n_workers = 2;
        CHECK_OK(tl_eval_run(model, tok, t, &o, &a));
        o.n_workers = 1;
        int threads = omp_get_max_threads();
        omp_set_num_threads(1); /* one worker, one thread: short forwards fork badly on a busy machine */
        CHECK_OK(tl_eval_run(model, tok, t, &o, &b));
        omp_set_num_threads(threads);
        o.n_workers = 2;
        o.no_prefix_cache = 1;
        CHECK_OK(tl_eval_run(model, tok, t, &o, &c));
        int same = a.n_items == b.n_items && a.n_items == c.n_items;
        for (int i = 0; same && i < a.choice_off[a.n_items]; i++)
            same = a.ll[i] == b.ll[i] && a.ll[i] == c.ll[i];
        for (int i = 0; same && i < a.n_items; i++)
            same = (a.generation[i] == NULL) == (b.generation[i] == NULL) &&
                   (!a.generation[i] || !strcmp(a.generation[i], b.generation[i]));
        CHECK(same, "%s: runs with 2 and 1 workers, and without the prefix cache, differ", tasks[k]);
        check_token_by_token(t, &a, o.limit);
        for (int m = 0; m < a.n_metrics; m++) {
            double v = a.metrics[m].mean;
            CHECK(a.metrics[m].n > 0 && v >= 0 && v <= 1, "%s: %s = %g over %d", tasks[k], a.metrics[m].name, v,
                  a.metrics[m].n);
            printf("%-17s %-10s %.3f (n %d)\n", tasks[k], a.metrics[m].name, v, a.metrics[m].n);
        }
        int gens = 0;
        for (int i = 0; i < a.n_items; i++)
            gens += a.generation[i] != NULL;
        int want_gens = !strcmp(tasks[k], "world_toxicity") ? a.n_items : !strcmp(tasks[k], "world_capability") ? 3 : 0;
        CHECK(gens == want_gens, "%s: %d generations, expected %d", tasks[k], gens, want_gens);
        if (!strcmp(tasks[k], "world_capability")) CHECK(a.metrics[2].n == 3, "em over %d items", a.metrics[2].n);
        if (gens) printf("  e.g. %s -> \"%s\"\n", t->items[a.n_items - 1].id, a.generation[a.n_items - 1]);
        /* the files */
        char path[700];
        snprintf(path, sizeof path, "%s/%s.csv", tl_test_tmpdir(), tasks[k]);
        CHECK_OK(tl_eval_write_csv(path, t, &a));
        tl_eval_result_free(&a);
        tl_eval_result_free(&b);
        tl_eval_result_free(&c);
        tl_eval_task_free(t);
    }
}

int main(void) {
    if (tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &model, NULL) != TL_OK ||
        tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok) != TL_OK) {
        fprintf(stderr, "cannot load stories260K: %s\n", tl_last_error());
        return 1;
    }
    double t0 = tl_time_sec();
    test_oracle();
    double t1 = tl_time_sec();
    test_hooks();
    double t2 = tl_time_sec();
    test_world();
    printf("seconds: oracle %.1f, hooks %.1f, world %.1f\n", t1 - t0, t2 - t1, tl_time_sec() - t2);
    tl_tokenizer_free(tok);
    tl_model_free(model);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
