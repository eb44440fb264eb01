/* task.c: the task registry, building items, few-shot contexts, and the small
 * string / JSON helpers the loaders share. */
#include <string.h>

#include "eval_internal.h"

/* ---- registry ------------------------------------------------------------- */

typedef tl_status (*loader_fn)(const tl_eval_load_opts *o, tl_eval_task **out);

static const struct {
    const char *name;
    loader_fn load;
    const char *help;
} registry[] = {
    {"truthfulqa_mc", tl_eval_load_truthfulqa,
     "TruthfulQA mc1 + mc2 (DATA/truthfulqa/mc_task.json), lm-eval's 6-shot QA primer"},
    {"arc_easy", tl_eval_load_arc_easy, "ARC-Easy dev (DATA/capability/arc/ARC-Easy-Dev.jsonl): acc, acc_norm"},
    {"arc_challenge", tl_eval_load_arc_challenge,
     "ARC-Challenge dev (DATA/capability/arc/ARC-Challenge-Dev.jsonl): acc, acc_norm"},
    {"mmlu", tl_eval_load_mmlu, "MMLU test CSVs (DATA/capability/mmlu/*.csv; few-shot from mmlu_dev/): acc, acc_norm"},
    {"mathqa", tl_eval_load_mathqa, "MathQA (DATA/capability/mathqa/dev_first500.json): acc, acc_norm"},
    {"world_truth", tl_eval_load_world_truth, "world eval/truth_mc.json as 'Q: ...\\nA:': mc1, mc2"},
    {"world_stereotype", tl_eval_load_world_stereotype,
     "world eval/stereotype_pairs.jsonl: share of items preferring the stereotype; lm_score"},
    {"world_capability", tl_eval_load_world_capability,
     "world eval/capability_mc.jsonl: acc, acc_norm; arithmetic also by greedy exact match (em)"},
    {"world_toxicity", tl_eval_load_world_toxicity,
     "world eval/toxicity_prompts.jsonl: share of generations with a phrase of eval/toxic_lexicon.txt"},
    {"world_toxicity_pair", tl_eval_load_world_toxicity_pair,
     "world eval/toxicity_pairs.jsonl: share of provocations where the insulting reply outscores the kind one"},
    {"world_privacy", tl_eval_load_world_privacy,
     "world eval/privacy_pairs.jsonl: share of questions where the reply leaking the secret outscores a public one"},
    {"world_sentiment", tl_eval_load_world_sentiment,
     "world eval/robustness_mc.jsonl: sentiment of a review's verdict with typos (robustness): acc, acc_norm"},
    {"world_truth_hop", tl_eval_load_world_truth_hop,
     "world eval/truth_hop.jsonl: facts about a person's best friend, truth vs a wrong value (reliability): acc"},
};
#define N_TASKS ((int)(sizeof registry / sizeof *registry))

int tl_eval_task_count(void) { return N_TASKS; }
const char *tl_eval_task_name(int i) { return i >= 0 && i < N_TASKS ? registry[i].name : NULL; }
const char *tl_eval_task_help(int i) { return i >= 0 && i < N_TASKS ? registry[i].help : NULL; }

tl_status tl_eval_task_load(const char *name, const tl_eval_load_opts *o, tl_eval_task **out) {
    *out = NULL;
    if (o->fewshot < 0) return tl_errorf(TL_E_ARG, "eval: --fewshot %d must be >= 0", o->fewshot);
    for (int i = 0; i < N_TASKS; i++)
        if (strcmp(name, registry[i].name) == 0) return registry[i].load(o, out);
    tl_strbuf b = {0};
    for (int i = 0; i < N_TASKS; i++) {
        tl_strbuf_puts(&b, i ? ", " : "");
        tl_strbuf_puts(&b, registry[i].name);
    }
    tl_status st = tl_errorf(TL_E_ARG, "eval: unknown task '%s' (known: %s)", name, b.s ? b.s : "?");
    tl_strbuf_free(&b);
    return st;
}

char *tl_eval_path(const char *dir, const char *rel) {
    tl_strbuf b = {0};
    tl_strbuf_puts(&b, dir);
    if (b.len && b.s[b.len - 1] != '/') tl_strbuf_puts(&b, "/");
    tl_strbuf_puts(&b, rel);
    return tl_strbuf_take(&b);
}

/* ---- tasks and items ------------------------------------------------------ */

tl_status tl_eval_task_new(const char *name, const char *source, tl_eval_kind kind, const char *delim,
                           tl_eval_task **out) {
    *out = NULL;
    tl_eval_task *t = tl_calloc(1, sizeof *t);
    if (!t) return tl_errorf(TL_E_NOMEM, "eval: out of memory");
    t->name = tl_strdup(name);
    t->source = tl_strdup(source);
    t->kind = kind;
    t->delim = delim;
    if (!t->name || !t->source) {
        tl_eval_task_free(t);
        return tl_errorf(TL_E_NOMEM, "eval: out of memory");
    }
    *out = t;
    return TL_OK;
}

void tl_eval_item_clear(tl_eval_item *it) {
    tl_free(it->id);
    tl_free(it->context);
    for (int c = 0; c < it->n_choices; c++)
        tl_free(it->choices ? it->choices[c] : NULL);
    tl_free(it->choices);
    tl_free(it->group);
    tl_free(it->label);
    tl_free(it->answer);
    memset(it, 0, sizeof *it);
}

void tl_eval_task_free(tl_eval_task *t) {
    if (!t) return;
    for (int i = 0; i < t->n_items; i++)
        tl_eval_item_clear(&t->items[i]);
    tl_free(t->items);
    for (int i = 0; i < t->n_lexicon; i++)
        tl_free(t->lexicon[i]);
    tl_free(t->lexicon);
    tl_free(t->name);
    tl_free(t->source);
    tl_free(t);
}

tl_status tl_eval_task_add(tl_eval_task *t, int n_choices, tl_eval_item **out) {
    *out = NULL;
    if ((t->n_items & (t->n_items - 1)) == 0) { /* grow at powers of two */
        size_t cap = t->n_items ? 2 * (size_t)t->n_items : 1;
        tl_eval_item *p = tl_realloc(t->items, cap * sizeof *p);
        if (!p) return tl_errorf(TL_E_NOMEM, "%s: out of memory", t->source);
        t->items = p;
    }
    tl_eval_item *it = &t->items[t->n_items];
    memset(it, 0, sizeof *it);
    it->gold = -1;
    if (n_choices > 0) {
        it->choices = tl_calloc((size_t)n_choices, sizeof(char *));
        it->group = tl_calloc((size_t)n_choices, 1);
        it->label = tl_calloc((size_t)n_choices, 1);
        if (!it->choices || !it->group || !it->label) {
            tl_eval_item_clear(it);
            return tl_errorf(TL_E_NOMEM, "%s: out of memory", t->source);
        }
        it->n_choices = n_choices;
    }
    t->n_items++;
    *out = it;
    return TL_OK;
}

tl_status tl_eval_apply_fewshot(tl_eval_task *t, const char *description, const tl_eval_item *pool, int n_pool, int k) {
    int self = pool == t->items;
    if (k > 0 && n_pool - self < k)
        return tl_errorf(TL_E_ARG, "%s: --fewshot %d needs %d examples but %d are available", t->source, k, k,
                         n_pool - self);
    char **ctx = tl_calloc(t->n_items ? (size_t)t->n_items : 1, sizeof(char *));
    if (!ctx) return tl_errorf(TL_E_NOMEM, "%s: out of memory", t->source);
    tl_status st = TL_OK;
    for (int i = 0; i < t->n_items && !st; i++) {
        tl_strbuf b = {0};
        tl_strbuf_puts(&b, description ? description : "");
        for (int j = 0, used = 0; used < k && j < n_pool; j++) {
            if (self && j == i) continue;
            const tl_eval_item *ex = &pool[j];
            tl_strbuf_puts(&b, ex->context);
            tl_strbuf_puts(&b, t->delim);
            tl_strbuf_puts(&b, ex->choices[ex->gold]);
            tl_strbuf_puts(&b, "\n\n");
            used++;
        }
        tl_strbuf_puts(&b, t->items[i].context);
        ctx[i] = tl_strbuf_take(&b);
        if (!ctx[i]) st = tl_errorf(TL_E_NOMEM, "%s: out of memory", t->source);
    }
    for (int i = 0; i < t->n_items; i++) {
        if (st) {
            tl_free(ctx[i]);
        } else {
            tl_free(t->items[i].context);
            t->items[i].context = ctx[i];
        }
    }
    tl_free(ctx);
    if (!st) t->fewshot = k;
    return st;
}

/* ---- JSON ------------------------------------------------------------------- */

static const char *json_type_name(const cJSON *v) {
    if (!v) return "missing";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "an array";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "invalid";
}

static tl_status json_get(const cJSON *obj, const char *key, const char *file, long item, const char *want,
                          cJSON_bool (*is)(const cJSON *), const cJSON **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return tl_errorf(TL_E_FORMAT, "%s: item %ld: missing key '%s'", file, item, key);
    if (!is(v))
        return tl_errorf(TL_E_FORMAT, "%s: item %ld: '%s' is %s, expected %s", file, item, key, json_type_name(v),
                         want);
    *out = v;
    return TL_OK;
}

tl_status tl_eval_json_str(const cJSON *obj, const char *key, const char *file, long item, const char **out) {
    const cJSON *v;
    tl_status st = json_get(obj, key, file, item, "a string", cJSON_IsString, &v);
    if (!st) *out = v->valuestring;
    return st;
}

tl_status tl_eval_json_obj(const cJSON *obj, const char *key, const char *file, long item, const cJSON **out) {
    return json_get(obj, key, file, item, "an object", cJSON_IsObject, out);
}

tl_status tl_eval_json_arr(const cJSON *obj, const char *key, const char *file, long item, const cJSON **out) {
    return json_get(obj, key, file, item, "an array", cJSON_IsArray, out);
}


tl_status tl_eval_jsonl_each(const char *path, tl_eval_jsonl_fn fn, void *user) {
    char *data = NULL;
    size_t n = 0;
    tl_status st = tl_file_read_all(path, &data, &n);
    if (st) return st;
    const char *p = data, *end = data + n;
    long line = 0;
    while (p < end && !st) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < e && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < e) {
            cJSON *obj = cJSON_ParseWithLength(p, (size_t)(e - p));
            if (!obj)
                st = tl_errorf(TL_E_FORMAT, "%s: line %ld: malformed JSON", path, line);
            else if (!cJSON_IsObject(obj))
                st = tl_errorf(TL_E_FORMAT, "%s: line %ld: expected a JSON object", path, line);
            else
                st = fn(user, obj, line);
            cJSON_Delete(obj);
        }
        p = nl ? nl + 1 : end;
    }
    tl_free(data);
    return st;
}
