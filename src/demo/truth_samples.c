/* truth_samples.c: a few probe statements shown beside their ground truth from
 * the world (issue 13 point 7). For each dimension, a few test pairs of
 * world/probes/<dim>_pairs.csv: both statements, the label each carries in the
 * probe set, which one is true in the world, the final checkpoint's log p of
 * each and which it prefers — so a reader sees on examples what the behavioural
 * accuracy and the probe accuracy measure. Written by the acts stage
 * (acts/knowledge_samples.csv, the final checkpoint only: a few statements) and
 * shown in its report section. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "eval/eval_internal.h" /* internal: tl_eval_task_new / _add */
#include "format/format.h"      /* internal: model, base */
#include "tiller/eval.h"
#include "truth_samples.h"

#define PATH_CAP 4096
#define PER_DIM 3 /* pairs shown per dimension */

/* The label of `statement` in a probe CSV (statement,label), or -1. */
static int probe_label(const tl_dataset *ds, const char *statement) {
    for (int i = 0; ds && i < ds->n; i++)
        if (!strcmp(ds->text[i], statement)) return (int)ds->label[i];
    return -1;
}

/* PER_DIM test pairs spread over the split: true and false statement. */
static tl_status pick_pairs(const char *path, char *pairs[PER_DIM][2], int *n_out) {
    *n_out = 0;
    tl_table t;
    int exists;
    tl_status s = tl_table_read(path, &t, &exists);
    if (s) return s;
    if (!exists) return tl_errorf(TL_E_IO, "%s: no such file", path);
    int c_split = tl_table_col(&t, "split"), c_true = tl_table_col(&t, "true_statement"),
        c_false = tl_table_col(&t, "false_statement");
    if (c_split < 0 || c_true < 0 || c_false < 0) {
        tl_table_free(&t);
        return tl_errorf(TL_E_FORMAT, "%s: expected the columns split, true_statement and false_statement", path);
    }
    int n_test = 0;
    for (int r = 0; r < t.n_rows; r++) n_test += !strcmp(tl_table_cell(&t, r, c_split), "test");
    for (int r = 0, k = 0; r < t.n_rows && *n_out < PER_DIM && !s; r++) {
        if (strcmp(tl_table_cell(&t, r, c_split), "test")) continue;
        if (k++ != (int)((long long)*n_out * n_test / PER_DIM)) continue;
        pairs[*n_out][0] = tl_strdup(tl_table_cell(&t, r, c_true));
        pairs[*n_out][1] = tl_strdup(tl_table_cell(&t, r, c_false));
        if (!pairs[*n_out][0] || !pairs[*n_out][1]) s = tl_errorf(TL_E_NOMEM, "out of memory");
        ++*n_out;
    }
    tl_table_free(&t);
    return s;
}

tl_status tl_demo_truth_samples_run(tl_demo *d, const tl_model *m, const tl_tokenizer *tok, const char *step,
                                    const char *dir) {
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "dimension,pair,step,statement,true_in_world,probe_label,logp,model_prefers\n");
    tl_status s = TL_OK;
    for (int k = 0; k < TL_DIM__COUNT && !s; k++) {
        char rel[128], path[PATH_CAP], test[PATH_CAP];
        char *pairs[PER_DIM][2] = {{0}};
        int n = 0;
        snprintf(rel, sizeof rel, "probes/%s_pairs.csv", tl_world_dim_names[k]);
        s = tl_demo_path(d, "world", rel, path, sizeof path);
        snprintf(rel, sizeof rel, "probes/%s_test.csv", tl_world_dim_names[k]);
        if (!s) s = tl_demo_path(d, "world", rel, test, sizeof test);
        if (!s) s = pick_pairs(path, pairs, &n);
        tl_dataset *ds = NULL;
        if (!s) s = tl_dataset_load(test, &ds);
        /* each pair as a two-choice item with an empty context: the choices' log p(statement | BOS) */
        tl_eval_task *t = NULL;
        if (!s && n > 0) s = tl_eval_task_new("truth_samples", path, TL_EVAL_KIND_MC, "", &t);
        for (int i = 0; i < n && !s; i++) {
            tl_eval_item *it = NULL;
            if ((s = tl_eval_task_add(t, 2, &it))) break;
            it->context = tl_strdup("");
            it->choices[0] = tl_strdup(pairs[i][0]);
            it->choices[1] = tl_strdup(pairs[i][1]);
            it->gold = 0;
            if (!it->context || !it->choices[0] || !it->choices[1]) s = tl_errorf(TL_E_NOMEM, "out of memory");
        }
        tl_eval_result res;
        memset(&res, 0, sizeof res);
        if (!s && t) {
            tl_eval_opts eo;
            tl_eval_opts_default(&eo);
            s = tl_eval_run(m, tok, t, &eo, &res);
        }
        for (int i = 0; i < n && !s && i < res.n_items; i++) {
            const double *ll = res.ll + res.choice_off[i];
            for (int c = 0; c < 2; c++) {
                tl_strbuf_printf(&csv, "%s,%d,%s,", tl_world_dim_names[k], i + 1, step);
                tl_csv_field(&csv, pairs[i][c]);
                tl_strbuf_printf(&csv, ",%d,%d,%.4f,%d\n", c == 0, probe_label(ds, pairs[i][c]), ll[c],
                                 ll[c] > ll[1 - c]);
            }
        }
        tl_eval_result_free(&res);
        tl_eval_task_free(t);
        tl_dataset_free(ds);
        for (int i = 0; i < PER_DIM; i++) tl_free(pairs[i][0]), tl_free(pairs[i][1]);
    }
    char path[PATH_CAP];
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/knowledge_samples.csv", dir);
    if (!s) s = tl_strbuf_status(&csv);
    if (!s) s = tl_file_write_atomic(path, csv.s, csv.len);
    tl_strbuf_free(&csv);
    return s;
}

tl_status tl_demo_truth_samples_report(tl_demo *d, const char *dir, tl_html *h) {
    (void)d;
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/knowledge_samples.csv", dir);
    tl_table t;
    int exists;
    tl_status s = tl_table_read(path, &t, &exists);
    if (s || !exists) return s; /* no file: a directory made before this table existed */
    static const char *const names[8] = {"dimension",     "pair",        "step", "statement",
                                         "true_in_world", "probe_label", "logp", "model_prefers"};
    int c[8];
    for (int i = 0; i < 8 && !s; i++)
        if ((c[i] = tl_table_col(&t, names[i])) < 0) s = tl_errorf(TL_E_FORMAT, "%s: no column '%s'", path, names[i]);
    if (s) {
        tl_table_free(&t);
        return s;
    }
    tl_html_heading(h, "Samples: probe statements beside the world's truth");
    tl_html_para(h, NULL,
                 "A few test pairs per dimension (acts/knowledge_samples.csv): each statement, whether it is true "
                 "in the world (world/probes/<dimension>_pairs.csv), the label it carries in the probe set (-1: not "
                 "in the test split's file), and the final checkpoint's log p(statement | BOS); the model is right "
                 "on a pair when it prefers the true member. The label is what a probe must read from the "
                 "activations; for robustness and half of toxicity it is 0 on the true member.");
    const char *hd[7] = {"dimension",   "pair",  "statement",       "true in the world",
                         "probe label", "log p", "model prefers it"};
    tl_html_table_begin(h, hd, 7);
    for (int r = 0; r < t.n_rows; r++) {
        const char *v[8];
        for (int i = 0; i < 8; i++) v[i] = tl_table_cell(&t, r, c[i]);
        const char *cells[7] = {v[0], v[1], v[3], atoi(v[4]) ? "yes" : "no", v[5], v[6], atoi(v[7]) ? "yes" : "no"};
        tl_html_table_row(h, cells, 7);
    }
    tl_html_table_end(h);
    tl_table_free(&t);
    return s;
}

/* ---- the evaluation section: answers and generations beside the world's truth ---------------------- */

/* Column `name` of a per-item CSV's rows, as strings: rows[i] for the first n rows. */
static tl_status item_column(const char *path, const char *name, int n, char (*rows)[512], int *got_rows) {
    *got_rows = 0;
    tl_table t;
    int exists;
    tl_status s = tl_table_read(path, &t, &exists);
    if (s) return s;
    if (!exists) return tl_errorf(TL_E_IO, "%s: no such file", path);
    int c = tl_table_col(&t, name);
    if (c < 0) s = tl_errorf(TL_E_FORMAT, "%s: no column '%s'", path, name);
    for (int r = 0; !s && r < t.n_rows && *got_rows < n; r++)
        snprintf(rows[(*got_rows)++], 512, "%s", tl_table_cell(&t, r, c));
    tl_table_free(&t);
    return s;
}

/* The k-th key of a JSON object (the loaders keep the file's order), or "?". */
static const char *nth_key(const cJSON *o, int k) {
    const cJSON *e = cJSON_GetArrayItem(o, k);
    return e && e->string ? e->string : "?";
}

#define EVAL_SHOWN 4

tl_status tl_demo_eval_samples_report(tl_demo *d, const char *dir, tl_html *h) {
    char truth[PATH_CAP], prompts[PATH_CAP], path[PATH_CAP];
    tl_status s = tl_demo_path(d, "world", "eval/truth_mc.json", truth, sizeof truth);
    if (!s) s = tl_demo_path(d, "world", "eval/toxicity_prompts.jsonl", prompts, sizeof prompts);
    if (s) return s;
    char(*gold)[512] = tl_calloc(4 * EVAL_SHOWN, sizeof *gold), (*pb)[512] = gold + EVAL_SHOWN,
    (*pc)[512] = pb + EVAL_SHOWN, (*gen)[512] = pc + EVAL_SHOWN;
    if (!gold) return tl_errorf(TL_E_NOMEM, "out of memory");
    int n = 0, nb = 0, nc = 0;
    tl_demo_fmt(path, sizeof path, "%s/chat/world_truth.csv", dir);
    if (!s) s = item_column(path, "gold", EVAL_SHOWN, gold, &n);
    if (!s) s = item_column(path, "pred", EVAL_SHOWN, pc, &nc);
    tl_demo_fmt(path, sizeof path, "%s/base/world_truth.csv", dir);
    if (!s) s = item_column(path, "pred", EVAL_SHOWN, pb, &nb);
    cJSON *j = NULL;
    if (!s) s = tl_file_read_json(truth, &j);
    if (!s) {
        tl_html_heading(h, "Samples: answers beside the world's truth");
        tl_html_para(h, NULL,
                     "The first world_truth items: the question, the answer true in the world "
                     "(world/eval/truth_mc.json), and the answer each model scores highest (eval/<model>/"
                     "world_truth.csv, pred).");
        const char *hd[4] = {"question", "true in the world", "base model's choice", "chat model's choice"};
        tl_html_table_begin(h, hd, 4);
        for (int i = 0; i < n && i < nb && i < nc; i++) {
            const cJSON *it = cJSON_GetArrayItem(j, i);
            const cJSON *mc1 = cJSON_GetObjectItemCaseSensitive(it, "mc1_targets");
            const char *q = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "question"));
            char b[600], c[600];
            int g = atoi(gold[i]), xb = atoi(pb[i]), xc = atoi(pc[i]);
            snprintf(b, sizeof b, "%s (%s)", nth_key(mc1, xb), xb == g ? "right" : "wrong");
            snprintf(c, sizeof c, "%s (%s)", nth_key(mc1, xc), xc == g ? "right" : "wrong");
            const char *cells[4] = {q ? q : "?", nth_key(mc1, g), b, c};
            tl_html_table_row(h, cells, 4);
        }
        tl_html_table_end(h);
    }
    cJSON_Delete(j);
    /* generations: the chat model's replies to provocations, with the lexicon's verdict */
    char(*tox)[512] = gold; /* reuse: the gold column is no longer needed */
    int ng = 0, nt = 0;
    tl_demo_fmt(path, sizeof path, "%s/chat/world_toxicity.csv", dir);
    if (!s && tl_path_exists(path)) {
        s = item_column(path, "generation", EVAL_SHOWN, gen, &ng);
        if (!s) s = item_column(path, "toxicity", EVAL_SHOWN, tox, &nt);
        char *text = NULL;
        size_t len = 0;
        if (!s) s = tl_file_read_all(prompts, &text, &len);
        if (!s) {
            tl_html_para(h, NULL,
                         "The chat model's first replies to the world's provocations (eval/chat/world_toxicity.csv): "
                         "an insult is a phrase of world/eval/toxic_lexicon.txt, the world's definition of one.");
            const char *hd[3] = {"prompt", "the chat model's reply", "insult (world lexicon)"};
            tl_html_table_begin(h, hd, 3);
            char *line = text;
            for (int i = 0; i < ng && i < nt && line && *line; i++) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = 0;
                cJSON *pj = cJSON_Parse(line);
                const char *pr = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pj, "prompt"));
                const char *cells[3] = {pr ? pr : "?", gen[i], atof(tox[i]) > 0 ? "yes" : "no"};
                tl_html_table_row(h, cells, 3);
                cJSON_Delete(pj);
                line = nl ? nl + 1 : NULL;
            }
            tl_html_table_end(h);
        }
        tl_free(text);
    }
    tl_free(gold);
    return s;
}
