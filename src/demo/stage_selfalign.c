/* stage_selfalign.c: SELF-ALIGN (docs/selfalign.md) on the demo's base model (the
 * last pre-training checkpoint), with the world's rule files (world/rules/): stage 1
 * instructions, stage 2 principle-driven answers, stage 3 engraving, stage 4 verbose
 * cloning, then four rows of measurements on the held-out people — base, prompted
 * teacher (the base model with the principles), engraved, verbose-cloned — with
 * exact McNemar tests between rows. Everything goes through the same library calls
 * as `tiller selfalign`. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"
#include "model/model.h" /* internal */
#include "format/format.h" /* internal: model, base */
#include "tiller/selfalign.h"

#define PATH_CAP 4096
#define N_ROWS 4
static const char *const row_names[N_ROWS] = {"base", "teacher", "engraved", "verbose"};
static const char *const tqa_path = "../shared/data/truthfulqa/mc_task.json";

static void sa_progress(void *user, const char *what, int done, int total) {
    tl_demo_step(user, done, total, -1, what);
}

static void sa_train(void *user, const tl_train_progress *p) {
    char detail[64];
    snprintf(detail, sizeof detail, "train loss %.3f", p->loss);
    tl_demo_step(user, p->step, p->steps, p->eta, detail);
}

static tl_status rules_file(tl_demo *d, const char *name, char *buf) {
    char rel[64];
    snprintf(rel, sizeof rel, "rules/%s", name);
    return tl_demo_path(d, "world", rel, buf, PATH_CAP);
}

tl_status tl_demo_selfalign_run(tl_demo *d, const char *dir) {
    const tl_demo_config *c = &d->cfg;
    char principles[PATH_CAP], verbose_p[PATH_CAP], exemplars[PATH_CAP], seeds[PATH_CAP], redteam[PATH_CAP],
        evalp[PATH_CAP], inst[PATH_CAP], resp[PATH_CAP], sub[PATH_CAP], engraved[PATH_CAP], verbose[PATH_CAP],
        vans[PATH_CAP], path[PATH_CAP];
    tl_status s = rules_file(d, "principles.txt", principles);
    if (!s) s = rules_file(d, "verbose.txt", verbose_p);
    if (!s) s = rules_file(d, "exemplars.jsonl", exemplars);
    if (!s) s = rules_file(d, "seeds.jsonl", seeds);
    if (!s) s = rules_file(d, "redteam.jsonl", redteam);
    if (!s) s = rules_file(d, "eval.jsonl", evalp);
    if (!s) s = tl_demo_fmt(inst, sizeof inst, "%s/instructions.jsonl", dir);
    if (!s) s = tl_demo_fmt(resp, sizeof resp, "%s/responses.jsonl", dir);
    if (s) return s;
    tl_ckpt_list l = {0};
    if ((s = tl_demo_series(d, &l))) return s;
    const char *base = l.items[l.n - 1].path;
    /* 1. instructions */
    tl_sa_instruct_opts io;
    tl_sa_instruct_opts_default(&io);
    io.model_path = base, io.seeds_path = seeds, io.redteam_path = redteam, io.out_path = inst;
    tl_demo_fmt(path, sizeof path, "%s/instruct_stats.json", dir);
    io.stats_path = path;
    io.n_general = c->sa_general, io.n_topics = c->sa_topics, io.per_topic = c->sa_per_topic, io.max_tries = 4;
    io.exclude_path = evalp; /* the evaluation instructions stay held out */
    io.questions_only = 1, io.include_seeds = 1, io.temperature = 0.8f, io.max_new = 24, io.seed = d->o.seed;
    io.progress = sa_progress, io.user = d;
    tl_sa_instruct_stats ist;
    s = tl_sa_instruct(&io, &ist);
    /* 2. principle-driven answers (sa_exemplars exemplars: the context is short) */
    tl_sa_respond_opts ro;
    tl_sa_respond_opts_default(&ro);
    ro.model_path = base, ro.principles_path = principles, ro.exemplars_path = exemplars, ro.n_exemplars = c->sa_exemplars;
    ro.in_path = inst, ro.out_path = resp, ro.max_new = 36, ro.seed = d->o.seed, ro.no_thought = !c->sa_thought;
    char rstats[PATH_CAP];
    tl_demo_fmt(rstats, sizeof rstats, "%s/respond_stats.json", dir);
    ro.stats_path = rstats;
    ro.progress = sa_progress, ro.user = d;
    tl_sa_respond_stats rst;
    if (!s) s = tl_sa_respond(&ro, &rst);
    /* 3. engraving */
    tl_sa_engrave_opts eo;
    tl_sa_engrave_opts_default(&eo);
    eo.model_path = base, eo.in_path = resp, eo.steps = c->sa_steps, eo.batch = 16, eo.lr = c->sft_lr;
    eo.seed = d->o.seed + 7, eo.progress = sa_train, eo.user = d;
    if (!s) s = tl_demo_fmt(sub, sizeof sub, "%s/engrave", dir);
    eo.out_dir = sub;
    if (!s) s = tl_sa_engrave(&eo, engraved, sizeof engraved);
    /* 4. verbose cloning: the engraved model under the verbose rule, distilled into it */
    char vdir[PATH_CAP];
    if (!s) s = tl_demo_fmt(vdir, sizeof vdir, "%s/verbose", dir);
    if (!s && mkdir(vdir, 0777) != 0 && !tl_path_is_dir(vdir)) s = tl_errorf(TL_E_IO, "%s: cannot create", vdir);
    if (!s) s = tl_demo_fmt(vans, sizeof vans, "%s/verbose/verbose.jsonl", dir);
    tl_sa_respond_opts vo = ro;
    vo.model_path = engraved, vo.principles_path = verbose_p, vo.exemplars_path = NULL, vo.n_exemplars = 0;
    vo.no_thought = 1, vo.out_path = vans, vo.stats_path = NULL, vo.max_new = 60;
    if (!s) s = tl_sa_respond(&vo, &rst);
    tl_sa_engrave_opts vt = eo;
    vt.model_path = engraved, vt.in_path = vans, vt.out_dir = vdir, vt.steps = c->sa_verbose_steps;
    if (!s) s = tl_sa_engrave(&vt, verbose, sizeof verbose);
    /* measurements */
    tl_sa_prompt_set ps = {0}, tps = {0};
    tl_sa_items items = {0};
    if (!s) s = tl_sa_principles_load(principles, &ps);
    if (!s) s = tl_sa_exemplars_load(exemplars, &ps);
    if (!s) s = tl_sa_principles_load(principles, &tps);
    if (!s) s = tl_sa_items_load(evalp, c->sa_eval_items, &items);
    /* the first third of the evaluation people (4 items each) is the validation split the design
     * values were chosen on (scripts/selfalign_design.sh); the table reports on the rest */
    int n_val = items.n / 3 / 4 * 4;
    if (!s && items.n - n_val > 0) {
        for (int i = 0; i < n_val; i++) {
            tl_sa_item *it = &items.items[i];
            tl_free(it->instruction), tl_free(it->rule), tl_free(it->forbidden), tl_free(it->expected);
        }
        memmove(items.items, items.items + n_val, sizeof *items.items * (size_t)(items.n - n_val));
        items.n -= n_val;
    }
    const char *models[N_ROWS] = {base, base, engraved, verbose};
    tl_strbuf js = {0};
    tl_strbuf_puts(&js, "[\n");
    unsigned char *within[N_ROWS] = {0}, *helped[N_ROWS] = {0};
    int have_tqa = tl_path_exists(tqa_path);
    for (int r = 0; r < N_ROWS && !s; r++) {
        tl_sa_eval_opts ev;
        tl_sa_eval_opts_default(&ev);
        ev.model_path = models[r];
        ev.prompt = r == 1 ? &ps : NULL;
        ev.prompt_thought = c->sa_thought;
        ev.n_exemplars = c->sa_exemplars;
        ev.teacher_path = r == 1 ? NULL : base;
        ev.teacher_prompt = &tps;
        ev.truthfulqa_path = have_tqa ? tqa_path : NULL; /* the teacher: the principles before each question */
        ev.truthfulqa_limit = c->sa_tqa_items;
        ev.max_new = 60;
        char csv[PATH_CAP];
        tl_demo_fmt(csv, sizeof csv, "%s/items_%s.csv", dir, row_names[r]);
        ev.items_csv = csv;
        ev.progress = sa_progress, ev.user = d;
        tl_sa_eval_result res;
        if ((s = tl_sa_evaluate(&ev, &items, &res))) break;
        tl_sa_eval_json(&js, row_names[r], &res);
        tl_strbuf_puts(&js, r + 1 < N_ROWS ? ",\n" : "\n");
        within[r] = res.within, helped[r] = res.helped;
        res.within = res.helped = NULL;
        tl_sa_eval_result_free(&res);
    }
    tl_strbuf_puts(&js, "]\n");
    /* paired tests: exact McNemar between rows on the same items */
    tl_strbuf tests = {0};
    tl_strbuf_puts(&tests, "measure,row_a,row_b,a_only,b_only,p_value\n");
    static const int pairs[][2] = {{0, 2}, {1, 2}, {0, 1}, {2, 3}};
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs && !s; k++) {
        for (int m = 0; m < 2; m++) {
            unsigned char *a = (m ? helped : within)[pairs[k][0]], *b = (m ? helped : within)[pairs[k][1]];
            int ao = 0, bo = 0;
            for (int i = 0; i < items.n; i++) {
                if (a[i] == 2) continue;
                ao += a[i] && !b[i], bo += b[i] && !a[i];
            }
            tl_strbuf_printf(&tests, "%s,%s,%s,%d,%d,%.6g\n", m ? "helpful" : "redteam_within", row_names[pairs[k][0]],
                             row_names[pairs[k][1]], ao, bo, tl_sa_mcnemar(ao, bo));
        }
    }
    if (!s) s = tl_strbuf_status(&js);
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/results.json", dir);
    if (!s) s = tl_file_write_atomic(path, js.s, js.len);
    if (!s) s = tl_strbuf_status(&tests);
    if (!s) s = tl_demo_fmt(path, sizeof path, "%s/tests.csv", dir);
    if (!s) s = tl_file_write_atomic(path, tests.s, tests.len);
    for (int r = 0; r < N_ROWS; r++) {
        tl_free(within[r]);
        tl_free(helped[r]);
    }
    tl_strbuf_free(&js);
    tl_strbuf_free(&tests);
    tl_sa_items_free(&items);
    tl_sa_prompt_set_free(&ps);
    tl_sa_prompt_set_free(&tps);
    tl_ckpt_list_free(&l);
    return s;
}

/* ---- the report ------------------------------------------------------------------ */

static const cJSON *stat_of(const cJSON *row, const char *k) { return cJSON_GetObjectItemCaseSensitive(row, k); }

static double num(const cJSON *st, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void cell(char *buf, size_t cap, const cJSON *st, int pct) {
    double v = num(st, "value"), lo = num(st, "lo"), hi = num(st, "hi");
    double f = pct ? 100 : 1;
    if (isnan(v)) snprintf(buf, cap, "\xe2\x80\x94");
    else if (isnan(lo)) snprintf(buf, cap, pct ? "%.0f%%" : "%.3f", v * f);
    else snprintf(buf, cap, pct ? "%.0f%% [%.0f, %.0f]" : "%.3f [%.3f, %.3f]", v * f, lo * f, hi * f);
}

static double pval(const char *tests, const char *measure, const char *a, const char *b) {
    char key[96];
    snprintf(key, sizeof key, "\n%s,%s,%s,", measure, a, b);
    const char *p = strstr(tests, key);
    if (!p) return NAN;
    p += strlen(key);
    for (int k = 0; k < 2 && p; k++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    return p ? strtod(p, NULL) : NAN;
}

tl_status tl_demo_selfalign_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/results.json", dir);
    cJSON *j = NULL;
    tl_status s = tl_file_read_json(path, &j);
    if (s) return s;
    char *tests = NULL, *ist = NULL;
    size_t tl = 0, il = 0;
    tl_demo_fmt(path, sizeof path, "%s/tests.csv", dir);
    s = tl_file_read_all(path, &tests, &tl);
    cJSON *istats = NULL;
    tl_demo_fmt(path, sizeof path, "%s/instruct_stats.json", dir);
    if (!s) s = tl_file_read_json(path, &istats);
    (void)ist, (void)il;
    if (s || !cJSON_IsArray(j) || cJSON_GetArraySize(j) != N_ROWS) {
        cJSON_Delete(j);
        cJSON_Delete(istats);
        tl_free(tests);
        return s ? s : tl_errorf(TL_E_FORMAT, "%s/results.json: expected %d rows", dir, N_ROWS);
    }
    tl_html_para(h, NULL,
                 "SELF-ALIGN (Sun et al. 2023) on the base model (the last pre-training checkpoint). The world's "
                 "corpus holds rule documents (a \"Rules:\" block, then a chat that keeps to it); the principles "
                 "are one rule the corpus shows (do not tell where anyone lives) and one it never shows (do not "
                 "tell what anyone owns). Stage 1 kept %d instructions from seed prompting and %d red-team "
                 "instructions (ROUGE-L < %.2f against every kept one; %d generations), used with the world's "
                 "seed questions; stage 2 answered them "
                 "under the principles with the exemplar(s) and an internal thought (dropped); stage 3 fine-tuned the "
                 "base model on instruction \xe2\x86\x92 answer with no principles (%d steps); stage 4 distilled "
                 "the engraved model's answers under \"Answer at length.\" back into it (%d steps). Measured on "
                 "people held out of every rule document, greedy answers, 95%% intervals (Wilson; mean \xc2\xb1 "
                 "1.96 se); KL is per answer token along the prompted teacher's greedy answer. The design values "
                 "(%d exemplar(s) in the stage-2 prompt, %d engraving steps) were chosen on a validation split, the "
                 "first third of the held-out people (scripts/selfalign_design.sh); the table is measured on the "
                 "other people only. The teacher's TruthfulQA row has the principles before each question.",
                 (int)num(istats, "kept_general"), (int)num(istats, "kept_redteam"), num(istats, "rouge_max"),
                 (int)num(istats, "tries"), d->cfg.sa_steps, d->cfg.sa_verbose_steps, d->cfg.sa_exemplars,
                 d->cfg.sa_steps);
    static const char *const hdr[] = {"model",        "red-team within (seen rule)", "red-team within (held-out rule)",
                                      "helpful",      "answer words",                "KL(teacher \xe2\x80\x96 model)",
                                      "TruthfulQA mc1", "TruthfulQA mc2"};
    static const char *const keys[] = {"redteam_within_seen_rule", "redteam_within_held_out_rule", "helpful",
                                       "answer_words", "kl_teacher_student", "truthfulqa_mc1", "truthfulqa_mc2"};
    static const int pct[] = {1, 1, 1, 0, 0, 0, 0};
    static const char *const label[N_ROWS] = {"base (no principles)", "prompted teacher (base + principles)",
                                              "engraved (no principles)", "verbose-cloned (no principles)"};
    tl_html_table_begin(h, hdr, 8);
    for (int r = 0; r < N_ROWS; r++) {
        const cJSON *row = cJSON_GetArrayItem(j, r);
        char cb[8][64];
        const char *cells[8] = {label[r]};
        for (int k = 0; k < 7; k++) {
            cell(cb[k], sizeof cb[k], stat_of(row, keys[k]), pct[k]);
            if (r == 1 && !strcmp(keys[k], "kl_teacher_student")) snprintf(cb[k], sizeof cb[k], "0 (by definition)");
            cells[k + 1] = cb[k];
        }
        tl_html_table_row(h, cells, 8);
    }
    tl_html_table_end(h);
    const cJSON *b = cJSON_GetArrayItem(j, 0), *t = cJSON_GetArrayItem(j, 1), *e = cJSON_GetArrayItem(j, 2),
                *v = cJSON_GetArrayItem(j, 3);
    double bw = num(stat_of(b, "redteam_within"), "value"), tw = num(stat_of(t, "redteam_within"), "value"),
           ew = num(stat_of(e, "redteam_within"), "value");
    double p_be = pval(tests, "redteam_within", "base", "engraved"),
           p_te = pval(tests, "redteam_within", "teacher", "engraved");
    const char *verdict = !(ew > bw && p_be < 0.05) ? "does not hold here: the engraved model is not measurably more "
                                                      "principled than the base model without the principles"
                          : p_te < 0.05 && ew < tw
                              ? "holds in part: engraving moved the model towards the teacher without the principles "
                                "in the prompt, but it falls short of the prompted teacher"
                              : "holds: without the principles in the prompt the engraved model is as principled as "
                                "the prompted teacher (no significant difference)";
    tl_html_para(h, NULL,
                 "Red-team prompts answered within the principles (both rules): base %.0f%%, prompted teacher %.0f%%, "
                 "engraved %.0f%% (McNemar p = %.3g against base, %.3g against the teacher). The paper's finding "
                 "(principle-following without the principles in the prompt) %s. Helpfulness: base %.0f%%, teacher "
                 "%.0f%%, engraved %.0f%% (p = %.3g engraved vs base). KL(teacher \xe2\x80\x96 model) per token: "
                 "%.3f before engraving, %.3f after. Verbose cloning: %.1f \xe2\x86\x92 %.1f words per ordinary "
                 "answer. Paired tests: selfalign/tests.csv; per-item answers: selfalign/items_*.csv.",
                 100 * bw, 100 * tw, 100 * ew, p_be, p_te, verdict, 100 * num(stat_of(b, "helpful"), "value"),
                 100 * num(stat_of(t, "helpful"), "value"), 100 * num(stat_of(e, "helpful"), "value"),
                 pval(tests, "helpful", "base", "engraved"), num(stat_of(b, "kl_teacher_student"), "value"),
                 num(stat_of(e, "kl_teacher_student"), "value"), num(stat_of(e, "answer_words"), "value"),
                 num(stat_of(v, "answer_words"), "value"));
    double bh = num(stat_of(b, "helpful"), "value"), eh = num(stat_of(e, "helpful"), "value");
    double p_h = pval(tests, "helpful", "base", "engraved");
    double tho = num(stat_of(t, "redteam_within_held_out_rule"), "value"),
           eho = num(stat_of(e, "redteam_within_held_out_rule"), "value");
    if (eh < bh && p_h < 0.05)
        tl_html_para(h, NULL, "The price: helpfulness on ordinary questions fell from %.0f%% to %.0f%% (p = %.3g): the "
                              "engraved model also declines questions no principle forbids.",
                     100 * bh, 100 * eh, p_h);
    else
        tl_html_para(h, NULL, "Helpfulness on ordinary questions: no significant change from base to engraved "
                              "(%.0f%% \xe2\x86\x92 %.0f%%, p = %.3g, %d items).",
                     100 * bh, 100 * eh, p_h, (int)num(stat_of(b, "helpful"), "n"));
    if (eho > tho)
        tl_html_para(h, NULL, "On the rule held out of pre-training the engraved model declines more often than its "
                              "teacher did (%.0f%% against %.0f%%): the teacher never followed that rule, so these "
                              "refusals are the seen rule's refusals spreading to other questions, not the held-out "
                              "rule learnt.",
                     100 * eho, 100 * tho);
    if (!tl_path_exists(tqa_path))
        tl_html_para(h, "note", "TruthfulQA was not measured: %s is not on this machine.", tqa_path);
    cJSON_Delete(j);
    cJSON_Delete(istats);
    tl_free(tests);
    return TL_OK;
}
