/* load_world.c: loaders for the evaluation sets of a synthetic world (`tiller
 * world --out DIR`, see DIR/README.md). The world's Q/A drills read
 * "Q: …\nA: …", so world_truth asks "Q: " + question + "\nA:" with " " + answer
 * choices (TruthfulQA's layout without the real-world primer). The JSONL sets
 * carry their own prompts and continuations (which start with a space), so
 * their delimiter is empty. */
#include <string.h>

#include "eval_internal.h"

/* The task's file: --file, or WORLD/<rel>. */
static tl_status world_file(const tl_eval_load_opts *o, const char *task, const char *rel, char **path) {
    if (o->fewshot > 0) return tl_errorf(TL_E_ARG, "%s: --fewshot is not used by the world tasks", task);
    if (o->file)
        *path = tl_strdup(o->file);
    else if (o->world_dir)
        *path = tl_eval_path(o->world_dir, rel);
    else
        return tl_errorf(TL_E_ARG, "%s: pass --world DIR (a `tiller world` output) or --file FILE", task);
    return *path ? TL_OK : tl_errorf(TL_E_NOMEM, "eval: out of memory");
}

static tl_status set_id(tl_eval_item *it, long line, const char *file) {
    char id[32];
    snprintf(id, sizeof id, "%ld", line);
    it->id = tl_strdup(id);
    return it->id ? TL_OK : tl_errorf(TL_E_NOMEM, "%s: out of memory", file);
}

/* Load a JSONL task: create it, then call line_fn for each line. */
static tl_status load_jsonl(const tl_eval_load_opts *o, const char *name, const char *rel, tl_eval_kind kind,
                            tl_eval_jsonl_fn line_fn, tl_eval_task **out) {
    *out = NULL;
    char *path;
    tl_eval_task *t = NULL;
    tl_status st = world_file(o, name, rel, &path);
    if (st) return st;
    st = tl_eval_task_new(name, path, kind, "", &t);
    tl_free(path);
    if (!st) st = tl_eval_jsonl_each(t->source, line_fn, t);
    if (!st && t->n_items == 0) st = tl_errorf(TL_E_FORMAT, "%s: no items", t->source);
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}

/* ---- truth ---------------------------------------------------------------------- */

tl_status tl_eval_load_world_truth(const tl_eval_load_opts *o, tl_eval_task **out) {
    *out = NULL;
    char *path;
    tl_status st = world_file(o, "world_truth", "eval/truth_mc.json", &path);
    if (st) return st;
    st = tl_eval_load_mc_task_json("world_truth", path, "", out);
    tl_free(path);
    return st;
}

/* ---- stereotype pairs ------------------------------------------------------------- */

static tl_status stereo_line(void *user, const cJSON *obj, long line) {
    tl_eval_task *t = user;
    const char *f = t->source, *ctx, *s[3];
    static const char *keys[3] = {"stereotype", "anti_stereotype", "unrelated"};
    tl_status st = tl_eval_json_str(obj, "context", f, line, &ctx);
    for (int c = 0; c < 3 && !st; c++)
        st = tl_eval_json_str(obj, keys[c], f, line, &s[c]);
    tl_eval_item *it;
    if (st || (st = tl_eval_task_add(t, 3, &it))) return st;
    for (int c = 0; c < 3; c++)
        if (!(it->choices[c] = tl_strdup(s[c]))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    it->gold = 0;
    it->context = tl_strdup(ctx);
    if (!it->context) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    return set_id(it, line, f);
}

tl_status tl_eval_load_world_stereotype(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_jsonl(o, "world_stereotype", "eval/stereotype_pairs.jsonl", TL_EVAL_KIND_PREFERENCE, stereo_line, out);
}

/* ---- capability -------------------------------------------------------------------- */

static tl_status capability_line(void *user, const cJSON *obj, long line) {
    tl_eval_task *t = user;
    const char *f = t->source, *task, *prompt;
    const cJSON *choices, *ans = cJSON_GetObjectItemCaseSensitive(obj, "answer");
    tl_status st;
    if ((st = tl_eval_json_str(obj, "task", f, line, &task)) ||
        (st = tl_eval_json_str(obj, "prompt", f, line, &prompt)) ||
        (st = tl_eval_json_arr(obj, "choices", f, line, &choices)))
        return st;
    int n = cJSON_GetArraySize(choices);
    if (n < 1) return tl_errorf(TL_E_FORMAT, "%s: item %ld: 'choices' is empty", f, line);
    if (!ans) return tl_errorf(TL_E_FORMAT, "%s: item %ld: missing key 'answer'", f, line);
    if (!cJSON_IsNumber(ans) || ans->valuedouble != (double)(int)ans->valuedouble)
        return tl_errorf(TL_E_FORMAT, "%s: item %ld: 'answer' is not an integer", f, line);
    if (ans->valueint < 0 || ans->valueint >= n)
        return tl_errorf(TL_E_FORMAT, "%s: item %ld: 'answer' %d is out of range (%d choices)", f, line, ans->valueint,
                         n);
    tl_eval_item *it;
    if ((st = tl_eval_task_add(t, n, &it))) return st;
    int c = 0;
    for (const cJSON *e = choices->child; e; e = e->next, c++) {
        if (!cJSON_IsString(e)) return tl_errorf(TL_E_FORMAT, "%s: item %ld: choices[%d] is not a string", f, line, c);
        if (!(it->choices[c] = tl_strdup(e->valuestring))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    }
    it->gold = ans->valueint;
    if (!(it->context = tl_strdup(prompt))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    if (strcmp(task, "arithmetic") == 0) { /* also answered by greedy generation */
        char num[64];
        if (!tl_eval_extract_number(it->choices[it->gold], num, sizeof num))
            return tl_errorf(TL_E_FORMAT, "%s: item %ld: the right choice of an arithmetic item holds no number", f,
                             line);
        it->generate = 1;
        if (!(it->answer = tl_strdup(num))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    }
    return set_id(it, line, f);
}

tl_status tl_eval_load_world_capability(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_jsonl(o, "world_capability", "eval/capability_mc.jsonl", TL_EVAL_KIND_CAPABILITY, capability_line, out);
}

/* ---- toxicity ------------------------------------------------------------------------ */

static tl_status toxicity_line(void *user, const cJSON *obj, long line) {
    tl_eval_task *t = user;
    const char *prompt;
    tl_eval_item *it;
    tl_status st = tl_eval_json_str(obj, "prompt", t->source, line, &prompt);
    if (st || (st = tl_eval_task_add(t, 0, &it))) return st;
    it->generate = 1;
    if (!(it->context = tl_strdup(prompt))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", t->source);
    return set_id(it, line, t->source);
}

/* One phrase per line, trimmed and lower-cased; blank lines and '#' comments skipped. */
static tl_status load_lexicon(tl_eval_task *t, const char *path) {
    char *data = NULL;
    size_t n = 0;
    tl_status st = tl_file_read_all(path, &data, &n);
    if (st) return st;
    int cap = 0;
    for (char *p = data, *end = data + n; p < end && !st;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        char *a = p, *b = e;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
            b--;
        p = nl ? nl + 1 : end;
        if (a == b || *a == '#') continue;
        if (t->n_lexicon == cap) {
            int nc = cap ? 2 * cap : 16;
            char **v = tl_realloc(t->lexicon, sizeof(char *) * (size_t)nc);
            if (!v) {
                st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
                break;
            }
            t->lexicon = v;
            cap = nc;
        }
        char *w = tl_malloc((size_t)(b - a) + 1);
        if (!w) {
            st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            break;
        }
        for (size_t i = 0; i < (size_t)(b - a); i++)
            w[i] = (a[i] >= 'A' && a[i] <= 'Z') ? (char)(a[i] + 32) : a[i];
        w[b - a] = 0;
        t->lexicon[t->n_lexicon++] = w;
    }
    tl_free(data);
    if (!st && t->n_lexicon == 0) st = tl_errorf(TL_E_FORMAT, "%s: the lexicon is empty", path);
    return st;
}

tl_status tl_eval_load_world_toxicity(const tl_eval_load_opts *o, tl_eval_task **out) {
    tl_status st =
        load_jsonl(o, "world_toxicity", "eval/toxicity_prompts.jsonl", TL_EVAL_KIND_TOXICITY, toxicity_line, out);
    if (st) return st;
    /* the lexicon sits beside the prompts: WORLD/eval/ or the directory of --file */
    const char *src = (*out)->source, *slash = strrchr(src, '/');
    tl_strbuf b = {0};
    if (slash) tl_strbuf_append(&b, src, (size_t)(slash - src) + 1);
    tl_strbuf_puts(&b, "toxic_lexicon.txt");
    char *lex = tl_strbuf_take(&b);
    st = lex ? load_lexicon(*out, lex) : tl_errorf(TL_E_NOMEM, "eval: out of memory");
    tl_free(lex);
    if (st) {
        tl_eval_task_free(*out);
        *out = NULL;
    }
    return st;
}

/* ---- two-reply items and perturbed sentiment (the steering table's tasks) ------------- */

/* {"prompt", "unsafe", "safe", ...}: choices unsafe, safe; the safe one is gold. */
static tl_status unsafe_pair_line(void *user, const cJSON *obj, long line) {
    tl_eval_task *t = user;
    const char *f = t->source, *prompt, *reply[2];
    tl_status st = tl_eval_json_str(obj, "prompt", f, line, &prompt);
    if (!st) st = tl_eval_json_str(obj, "unsafe", f, line, &reply[0]);
    if (!st) st = tl_eval_json_str(obj, "safe", f, line, &reply[1]);
    if (!st && !strcmp(reply[0], reply[1]))
        st = tl_errorf(TL_E_FORMAT, "%s: item %ld: 'unsafe' and 'safe' are the same text", f, line);
    tl_eval_item *it;
    if (st || (st = tl_eval_task_add(t, 2, &it))) return st;
    for (int c = 0; c < 2; c++)
        if (!(it->choices[c] = tl_strdup(reply[c]))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    it->gold = 1;
    if (!(it->context = tl_strdup(prompt))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f);
    return set_id(it, line, f);
}

tl_status tl_eval_load_world_toxicity_pair(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_jsonl(o, "world_toxicity_pair", "eval/toxicity_pairs.jsonl", TL_EVAL_KIND_UNSAFE_PAIR, unsafe_pair_line,
                      out);
}

tl_status tl_eval_load_world_privacy(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_jsonl(o, "world_privacy", "eval/privacy_pairs.jsonl", TL_EVAL_KIND_UNSAFE_PAIR, unsafe_pair_line, out);
}

tl_status tl_eval_load_world_sentiment(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_jsonl(o, "world_sentiment", "eval/robustness_mc.jsonl", TL_EVAL_KIND_MC, capability_line, out);
}

tl_status tl_eval_load_world_truth_hop(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_jsonl(o, "world_truth_hop", "eval/truth_hop.jsonl", TL_EVAL_KIND_MC, capability_line, out);
}
