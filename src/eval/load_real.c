/* load_real.c: loaders for the real benchmark files in ../shared/data, with the
 * prompt templates of lm-evaluation-harness (EleutherAI, lm_eval/tasks/…):
 *   truthfulqa_mc1/mc2.yaml  QA primer + "\n\nQ: " + question + "\nA:", choices " " + answer
 *   arc_easy/arc_challenge   "Question: " + question + "\nAnswer:", choices " " + text
 *   mmlu _default_template   description "The following are multiple choice questions (with
 *                            answers) about <subject>.\n\n" + question.strip() + "\nA. …\nB. …
 *                            \nC. …\nD. …\nAnswer:", choices " A" … " D", few-shot from the
 *                            dev split (first_n)
 *   mathqa.yaml + utils.py   "Question: " + Problem + "\nAnswer:", choices parsed from
 *                            `options` with the regex [abcd] \) .*?, |e \) .*?$ and
 *                            c[4:].rstrip(" ,")
 * Few-shot examples for ARC and MathQA come from the same file (the first k
 * items other than the one asked): lm-eval samples them from the train split,
 * which is not in ../shared/data. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "eval_internal.h"

/* lm-eval's truthfulqa prompt_qa (the TruthfulQA authors' QA primer). */
static const char truthfulqa_primer[] =
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain.\n\n";

static const char *data_dir(const tl_eval_load_opts *o) { return o->data_dir ? o->data_dir : "../shared/data"; }

/* The task's file: --file, or DATA/<rel>. */
static tl_status task_file(const tl_eval_load_opts *o, const char *rel, char **path) {
    *path = o->file ? tl_strdup(o->file) : tl_eval_path(data_dir(o), rel);
    return *path ? TL_OK : tl_errorf(TL_E_NOMEM, "eval: out of memory");
}

static tl_status no_fewshot(const tl_eval_load_opts *o, const char *task) {
    if (o->fewshot > 0)
        return tl_errorf(TL_E_ARG, "%s: --fewshot is not used by this task (its prompt is fixed)", task);
    return TL_OK;
}

/* ---- TruthfulQA mc_task.json layout ---------------------------------------- */

/* Copy the keys of a {"answer": 0/1} object into choices [first, first + n). */
static tl_status targets(tl_eval_item *it, const cJSON *obj, int first, int group, const char *path, long item,
                         const char *key) {
    int c = first;
    for (const cJSON *e = obj->child; e; e = e->next, c++) {
        if (!cJSON_IsNumber(e) || (e->valuedouble != 0 && e->valuedouble != 1))
            return tl_errorf(TL_E_FORMAT, "%s: item %ld: %s: the value of '%.40s' is not 0 or 1", path, item, key,
                             e->string);
        it->choices[c] = tl_strdup(e->string);
        if (!it->choices[c]) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        it->group[c] = (unsigned char)group;
        it->label[c] = e->valuedouble == 1;
    }
    return TL_OK;
}

tl_status tl_eval_load_mc_task_json(const char *name, const char *path, const char *primer, tl_eval_task **out) {
    *out = NULL;
    cJSON *root = NULL;
    tl_eval_task *t = NULL;
    tl_status st = tl_file_read_json(path, &root);
    if (!st && !cJSON_IsArray(root)) st = tl_errorf(TL_E_FORMAT, "%s: expected a JSON array of items", path);
    if (!st) st = tl_eval_task_new(name, path, TL_EVAL_KIND_TRUTHFUL, " ", &t);
    long item = 0;
    for (const cJSON *e = root ? root->child : NULL; e && !st; e = e->next) {
        item++;
        const char *q;
        const cJSON *mc1, *mc2;
        if (!cJSON_IsObject(e)) {
            st = tl_errorf(TL_E_FORMAT, "%s: item %ld: expected an object", path, item);
            break;
        }
        if ((st = tl_eval_json_str(e, "question", path, item, &q)) ||
            (st = tl_eval_json_obj(e, "mc1_targets", path, item, &mc1)) ||
            (st = tl_eval_json_obj(e, "mc2_targets", path, item, &mc2)))
            break;
        int n1 = cJSON_GetArraySize(mc1), n2 = cJSON_GetArraySize(mc2);
        if (n1 < 1 || n2 < 1) {
            st = tl_errorf(TL_E_FORMAT, "%s: item %ld: %s has no choices", path, item,
                           n1 < 1 ? "mc1_targets" : "mc2_targets");
            break;
        }
        tl_eval_item *it;
        if ((st = tl_eval_task_add(t, n1 + n2, &it)) || (st = targets(it, mc1, 0, 0, path, item, "mc1_targets")) ||
            (st = targets(it, mc2, n1, 1, path, item, "mc2_targets")))
            break;
        int n_true1 = 0, n_true2 = 0;
        for (int c = 0; c < n1; c++)
            if (it->label[c]) n_true1++, it->gold = c;
        for (int c = n1; c < n1 + n2; c++)
            n_true2 += it->label[c];
        if (n_true1 != 1) {
            st = tl_errorf(TL_E_FORMAT, "%s: item %ld: mc1_targets has %d true answers, expected exactly 1", path, item,
                           n_true1);
            break;
        }
        if (n_true2 < 1) {
            st = tl_errorf(TL_E_FORMAT, "%s: item %ld: mc2_targets has no true answer", path, item);
            break;
        }
        tl_strbuf b = {0};
        tl_strbuf_puts(&b, primer);
        tl_strbuf_puts(&b, "Q: ");
        tl_strbuf_puts(&b, q);
        tl_strbuf_puts(&b, "\nA:");
        it->context = tl_strbuf_take(&b);
        char id[32];
        snprintf(id, sizeof id, "%ld", item);
        it->id = tl_strdup(id);
        if (!it->context || !it->id) st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    if (!st && t->n_items == 0) st = tl_errorf(TL_E_FORMAT, "%s: no items", path);
    cJSON_Delete(root);
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_eval_load_truthfulqa(const tl_eval_load_opts *o, tl_eval_task **out) {
    *out = NULL;
    char *path;
    tl_status st = no_fewshot(o, "truthfulqa_mc");
    if (st || (st = task_file(o, "truthfulqa/mc_task.json", &path))) return st;
    st = tl_eval_load_mc_task_json("truthfulqa_mc", path, truthfulqa_primer, out);
    tl_free(path);
    return st;
}

/* ---- ARC ------------------------------------------------------------------------ */

static tl_status arc_line(void *user, const cJSON *obj, long line) {
    tl_eval_task *t = user;
    const char *path = t->source, *id, *stem, *key;
    const cJSON *q, *choices;
    tl_status st;
    if ((st = tl_eval_json_str(obj, "id", path, line, &id)) ||
        (st = tl_eval_json_obj(obj, "question", path, line, &q)) ||
        (st = tl_eval_json_str(q, "stem", path, line, &stem)) ||
        (st = tl_eval_json_arr(q, "choices", path, line, &choices)) ||
        (st = tl_eval_json_str(obj, "answerKey", path, line, &key)))
        return st;
    int n = cJSON_GetArraySize(choices);
    if (n < 1) return tl_errorf(TL_E_FORMAT, "%s: item %ld: question.choices is empty", path, line);
    tl_eval_item *it;
    if ((st = tl_eval_task_add(t, n, &it))) return st;
    int c = 0;
    for (const cJSON *e = choices->child; e; e = e->next, c++) {
        const char *text, *label;
        if (!cJSON_IsObject(e))
            return tl_errorf(TL_E_FORMAT, "%s: item %ld: question.choices[%d] is not an object", path, line, c);
        if ((st = tl_eval_json_str(e, "text", path, line, &text)) ||
            (st = tl_eval_json_str(e, "label", path, line, &label)))
            return st;
        if (!(it->choices[c] = tl_strdup(text))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        if (it->gold < 0 && strcmp(label, key) == 0) it->gold = c;
    }
    if (it->gold < 0)
        return tl_errorf(TL_E_FORMAT, "%s: item %ld: answerKey '%.20s' is not one of the choice labels", path, line,
                         key);
    tl_strbuf b = {0};
    tl_strbuf_puts(&b, "Question: ");
    tl_strbuf_puts(&b, stem);
    tl_strbuf_puts(&b, "\nAnswer:");
    it->context = tl_strbuf_take(&b);
    it->id = tl_strdup(id);
    if (!it->context || !it->id) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    return TL_OK;
}

static tl_status load_arc(const tl_eval_load_opts *o, const char *name, const char *rel, tl_eval_task **out) {
    *out = NULL;
    char *path;
    tl_eval_task *t = NULL;
    tl_status st = task_file(o, rel, &path);
    if (st) return st;
    st = tl_eval_task_new(name, path, TL_EVAL_KIND_MC, " ", &t);
    tl_free(path);
    if (!st) st = tl_eval_jsonl_each(t->source, arc_line, t);
    if (!st && t->n_items == 0) st = tl_errorf(TL_E_FORMAT, "%s: no items", t->source);
    if (!st && o->fewshot > 0) st = tl_eval_apply_fewshot(t, "", t->items, t->n_items, o->fewshot);
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_eval_load_arc_easy(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_arc(o, "arc_easy", "capability/arc/ARC-Easy-Dev.jsonl", out);
}

tl_status tl_eval_load_arc_challenge(const tl_eval_load_opts *o, tl_eval_task **out) {
    return load_arc(o, "arc_challenge", "capability/arc/ARC-Challenge-Dev.jsonl", out);
}

/* ---- MMLU ---------------------------------------------------------------------------- */

static const char *ascii_ws = " \t\n\r\v\f";

/* Python's str.strip() for ASCII whitespace, as a new string. */
static char *strip_dup(const char *s) {
    while (*s && strchr(ascii_ws, *s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && strchr(ascii_ws, s[n - 1]))
        n--;
    char *r = tl_malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

/* "dir/high_school_geography_test.csv" -> "high_school_geography". */
static char *mmlu_subject(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".csv") == 0) n -= 4;
    static const char *suffixes[] = {"_test", "_dev", "_val"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strncmp(base + n - k, suffixes[i], k) == 0) {
            n -= k;
            break;
        }
    }
    char *r = tl_malloc(n + 1);
    if (r) {
        memcpy(r, base, n);
        r[n] = 0;
    }
    return r;
}

/* Read one MMLU CSV (no header: question,A,B,C,D,answer) into t, ids "<subject>/<row>". */
static tl_status mmlu_csv(tl_eval_task *t, const char *path, const char *subject) {
    char *data = NULL;
    size_t n = 0;
    tl_status st = tl_file_read_all(path, &data, &n);
    if (st) return st;
    tl_csv_reader r;
    tl_csv_init(&r, path, data, n);
    long row_no = 0;
    static const char *letters[] = {"A", "B", "C", "D"};
    while (!st) {
        tl_csv_record rec;
        int got = 0;
        if ((st = tl_csv_next(&r, &rec, &got)) || !got) break;
        if (rec.blank) continue; /* blank lines */
        long at = rec.line;
        row_no++;
        struct {
            int n;
            const char *const *f;
        } row = {rec.n_fields, rec.fields};
        const char *ans = row.n == 6 ? row.f[5] : "";
        if (row.n != 6) {
            st = tl_errorf(TL_E_FORMAT, "%s: line %ld: %d fields, expected 6 (question,A,B,C,D,answer)", path, at,
                           row.n);
        } else if (strlen(ans) != 1 || ans[0] < 'A' || ans[0] > 'D') {
            st = tl_errorf(TL_E_FORMAT, "%s: line %ld: answer '%.20s' is not one of A, B, C, D", path, at, ans);
        }
        tl_eval_item *it = NULL;
        if (!st) st = tl_eval_task_add(t, 4, &it);
        if (!st) {
            it->gold = ans[0] - 'A';
            char *q = strip_dup(row.f[0]);
            tl_strbuf b = {0};
            tl_strbuf_puts(&b, q ? q : "");
            for (int c = 0; c < 4; c++) {
                tl_strbuf_puts(&b, "\n");
                tl_strbuf_puts(&b, letters[c]);
                tl_strbuf_puts(&b, ". ");
                tl_strbuf_puts(&b, row.f[1 + c]);
                it->choices[c] = tl_strdup(letters[c]);
            }
            tl_strbuf_puts(&b, "\nAnswer:");
            it->context = tl_strbuf_take(&b);
            if (!q) tl_free(it->context), it->context = NULL;
            tl_free(q);
            char id[64];
            snprintf(id, sizeof id, "%.40s/%ld", subject, row_no);
            it->id = tl_strdup(id);
            if (!it->context || !it->id || !it->choices[0] || !it->choices[1] || !it->choices[2] || !it->choices[3])
                st = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        }
    }
    tl_csv_free(&r);
    tl_free(data);
    if (!st && row_no == 0) st = tl_errorf(TL_E_FORMAT, "%s: no items", path);
    return st;
}

/* Move every item of src to the end of dst (src is left empty). */
static tl_status move_items(tl_eval_task *dst, tl_eval_task *src) {
    for (int i = 0; i < src->n_items; i++) {
        tl_eval_item *it;
        tl_status st = tl_eval_task_add(dst, 0, &it);
        if (st) return st;
        *it = src->items[i];
        memset(&src->items[i], 0, sizeof src->items[i]);
    }
    return TL_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The CSV files of a directory, sorted by name. */
static tl_status list_csv(const char *dir, char ***out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d) return tl_errorf(TL_E_IO, "%s: cannot open the directory", dir);
    char **v = NULL;
    int n = 0, cap = 0;
    tl_status st = TL_OK;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".csv") != 0) continue;
        if (n == cap) {
            int nc = cap ? 2 * cap : 16;
            char **v2 = tl_realloc(v, sizeof(char *) * (size_t)nc);
            if (!v2) {
                st = tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
                break;
            }
            v = v2;
            cap = nc;
        }
        if (!(v[n] = tl_eval_path(dir, e->d_name))) {
            st = tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
            break;
        }
        n++;
    }
    closedir(d);
    if (!st && n == 0) st = tl_errorf(TL_E_FORMAT, "%s: no .csv files", dir);
    if (st) {
        for (int i = 0; i < n; i++)
            tl_free(v[i]);
        tl_free(v);
        return st;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_str);
    *out = v;
    *n_out = n;
    return TL_OK;
}

/* One subject: its test items with the description and k dev examples. */
static tl_status mmlu_subject_items(tl_eval_task *t, const tl_eval_load_opts *o, const char *path) {
    char *subject = mmlu_subject(path), *dev_path = NULL;
    tl_eval_task *sub = NULL, *dev = NULL;
    tl_strbuf desc = {0};
    tl_status st = subject ? tl_eval_task_new("mmlu", path, TL_EVAL_KIND_MC, " ", &sub)
                           : tl_errorf(TL_E_NOMEM, "eval: out of memory");
    if (!st) st = mmlu_csv(sub, path, subject);
    if (!st && o->fewshot > 0) {
        tl_strbuf b = {0};
        tl_strbuf_puts(&b, "capability/mmlu_dev/");
        tl_strbuf_puts(&b, subject);
        tl_strbuf_puts(&b, "_dev.csv");
        char *rel = tl_strbuf_take(&b);
        dev_path = rel ? tl_eval_path(data_dir(o), rel) : NULL;
        tl_free(rel);
        st = dev_path ? tl_eval_task_new("mmlu", dev_path, TL_EVAL_KIND_MC, " ", &dev)
                      : tl_errorf(TL_E_NOMEM, "eval: out of memory");
        if (!st) st = mmlu_csv(dev, dev_path, subject);
    }
    if (!st) {
        tl_strbuf_puts(&desc, "The following are multiple choice questions (with answers) about ");
        for (const char *c = subject; *c; c++)
            tl_strbuf_append(&desc, *c == '_' ? " " : c, 1);
        tl_strbuf_puts(&desc, ".\n\n");
        if (desc.failed) st = tl_errorf(TL_E_NOMEM, "eval: out of memory");
    }
    if (!st) st = tl_eval_apply_fewshot(sub, desc.s, dev ? dev->items : NULL, dev ? dev->n_items : 0, o->fewshot);
    if (!st) st = move_items(t, sub);
    tl_strbuf_free(&desc);
    tl_eval_task_free(dev);
    tl_eval_task_free(sub);
    tl_free(dev_path);
    tl_free(subject);
    return st;
}

tl_status tl_eval_load_mmlu(const tl_eval_load_opts *o, tl_eval_task **out) {
    *out = NULL;
    char *path, **files = NULL;
    int n_files = 0;
    tl_eval_task *t = NULL;
    tl_status st = task_file(o, "capability/mmlu", &path);
    if (st) return st;
    if (tl_path_is_dir(path)) {
        st = list_csv(path, &files, &n_files);
    } else {
        files = tl_malloc(sizeof(char *));
        if (files && (files[0] = tl_strdup(path)) != NULL)
            n_files = 1;
        else
            st = tl_errorf(TL_E_NOMEM, "eval: out of memory");
    }
    if (!st) st = tl_eval_task_new("mmlu", path, TL_EVAL_KIND_MC, " ", &t);
    for (int i = 0; i < n_files && !st; i++)
        st = mmlu_subject_items(t, o, files[i]);
    if (!st) t->fewshot = o->fewshot;
    for (int i = 0; i < n_files; i++)
        tl_free(files[i]);
    tl_free(files);
    tl_free(path);
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}

/* ---- MathQA ---------------------------------------------------------------------------- */

/* re.findall(r"[abcd] \) .*?, |e \) .*?$", options) then c[4:].rstrip(" ,"), as
 * lm-eval's mathqa utils; '.' does not match a newline, '$' matches at the end
 * or before a final newline. Returns the number of choices (up to cap). */
static int mathqa_choices(const char *s, char **out, int cap, int *oom) {
    size_t len = strlen(s), i = 0;
    int n = 0;
    while (i < len) {
        size_t body = i + 4, end = 0; /* match is s[i, end) */
        int arrow = i + 3 < len && s[i + 1] == ' ' && s[i + 2] == ')' && s[i + 3] == ' ';
        if (arrow && strchr("abcd", s[i])) { /* [abcd] \) .*?, : up to the first ", " on the line */
            for (size_t j = body; j + 1 < len && s[j] != '\n'; j++)
                if (s[j] == ',' && s[j + 1] == ' ') {
                    end = j + 2;
                    break;
                }
        }
        if (!end && arrow && s[i] == 'e') { /* e \) .*?$ : the rest, if no newline but a final one */
            const char *nl = memchr(s + body, '\n', len - body);
            if (!nl)
                end = len;
            else if ((size_t)(nl - s) == len - 1)
                end = len - 1;
        }
        if (!end) {
            i++;
            continue;
        }
        size_t a = i + 4, b = end;
        while (b > a && (s[b - 1] == ' ' || s[b - 1] == ','))
            b--;
        if (n < cap) {
            out[n] = tl_malloc(b - a + 1);
            if (!out[n]) {
                *oom = 1;
                return n;
            }
            memcpy(out[n], s + a, b - a);
            out[n][b - a] = 0;
        }
        n++;
        i = end > i ? end : i + 1;
    }
    return n;
}

tl_status tl_eval_load_mathqa(const tl_eval_load_opts *o, tl_eval_task **out) {
    *out = NULL;
    char *path;
    cJSON *root = NULL;
    tl_eval_task *t = NULL;
    tl_status st = task_file(o, "capability/mathqa/dev_first500.json", &path);
    if (st) return st;
    st = tl_eval_task_new("mathqa", path, TL_EVAL_KIND_MC, " ", &t);
    tl_free(path);
    if (!st) st = tl_file_read_json(t->source, &root);
    if (!st && !cJSON_IsArray(root)) st = tl_errorf(TL_E_FORMAT, "%s: expected a JSON array of items", t->source);
    long item = 0;
    for (const cJSON *e = root ? root->child : NULL; e && !st; e = e->next) {
        item++;
        const char *problem, *options, *correct, *file = t->source;
        if (!cJSON_IsObject(e)) {
            st = tl_errorf(TL_E_FORMAT, "%s: item %ld: expected an object", file, item);
            break;
        }
        if ((st = tl_eval_json_str(e, "Problem", file, item, &problem)) ||
            (st = tl_eval_json_str(e, "options", file, item, &options)) ||
            (st = tl_eval_json_str(e, "correct", file, item, &correct)))
            break;
        if (strlen(correct) != 1 || correct[0] < 'a' || correct[0] > 'e') {
            st = tl_errorf(TL_E_FORMAT, "%s: item %ld: 'correct' is '%.20s', expected a letter a-e", file, item,
                           correct);
            break;
        }
        char *ch[8] = {0};
        int oom = 0, n = mathqa_choices(options, ch, 8, &oom);
        if (oom || n > 8 || n < 1 || correct[0] - 'a' >= n) {
            for (int c = 0; c < 8; c++)
                tl_free(ch[c]);
            if (oom)
                st = tl_errorf(TL_E_NOMEM, "%s: out of memory", file);
            else if (n < 1)
                st = tl_errorf(TL_E_FORMAT, "%s: item %ld: no choices found in 'options'", file, item);
            else if (n > 8)
                st = tl_errorf(TL_E_FORMAT, "%s: item %ld: %d choices in 'options' (at most 8)", file, item, n);
            else
                st = tl_errorf(TL_E_FORMAT, "%s: item %ld: 'correct' is '%s' but 'options' has %d choices", file, item,
                               correct, n);
            break;
        }
        tl_eval_item *it;
        if ((st = tl_eval_task_add(t, n, &it))) {
            for (int c = 0; c < 8; c++)
                tl_free(ch[c]);
            break;
        }
        for (int c = 0; c < n; c++)
            it->choices[c] = ch[c];
        it->gold = correct[0] - 'a';
        tl_strbuf b = {0};
        tl_strbuf_puts(&b, "Question: ");
        tl_strbuf_puts(&b, problem);
        tl_strbuf_puts(&b, "\nAnswer:");
        it->context = tl_strbuf_take(&b);
        char id[32];
        snprintf(id, sizeof id, "%ld", item);
        it->id = tl_strdup(id);
        if (!it->context || !it->id) st = tl_errorf(TL_E_NOMEM, "%s: out of memory", file);
    }
    if (!st && t->n_items == 0) st = tl_errorf(TL_E_FORMAT, "%s: no items", t->source);
    if (!st && o->fewshot > 0) st = tl_eval_apply_fewshot(t, "", t->items, t->n_items, o->fewshot);
    cJSON_Delete(root);
    if (st) {
        tl_eval_task_free(t);
        return st;
    }
    *out = t;
    return TL_OK;
}
