/* test_eval_parse.c: the eval module without a model run —
 *  - metrics on hand-made lls (acc ties, acc_norm by characters, mc2, preference,
 *    exact-match numbers, lexicon matches, means and standard errors);
 *  - prompt construction for hand-written task files (few-shot contexts, MathQA's
 *    option regex, MMLU's CSV quoting and description);
 *  - malformed task files: missing keys, wrong types, empty choices, gold out of
 *    range, broken JSON/CSV → TL_E_FORMAT naming the file, the item and the field;
 *  - every allocation failure while loading and running returns TL_E_NOMEM cleanly. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "eval/eval_internal.h"
#include "testlib.h"
#include "format/format.h"

static char dir[512];

static const char *write_file(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* ---- metrics ----------------------------------------------------------------- */

static void test_metrics(void) {
    double ll[4] = {-3.0, -1.0, -1.0, -2.0};
    CHECK(tl_eval_argmax(ll, 4) == 1, "ties go to the first maximum");
    /* acc_norm: -1/1 char vs -1.5/6 chars vs ... ; UTF-8 counts characters, not bytes */
    const char *ch[3] = {"a", "\xc3\xa9\xc3\xa9\xc3\xa9", "bb"}; /* "ééé" is 3 characters, 6 bytes */
    double l2[3] = {-1.0, -2.7, -1.9};
    CHECK(tl_eval_utf8_len(ch[1]) == 3, "utf8 len %zu", tl_eval_utf8_len(ch[1]));
    CHECK(tl_eval_argmax_norm(l2, ch, 3) == 1, "acc_norm pred %d (-0.9 per char wins)", tl_eval_argmax_norm(l2, ch, 3));
    CHECK(tl_eval_argmax(l2, 3) == 0, "acc pred");
    const char *empty[2] = {"", "x"};
    double l3[2] = {-0.5, -0.6};
    CHECK(tl_eval_argmax_norm(l3, empty, 2) == 0, "an empty choice divides by 1");

    /* mc2 = Σ_true p / Σ p */
    double m[3] = {log(0.2), log(0.3), log(0.5)};
    unsigned char lab[3] = {1, 0, 1};
    CHECK(fabs(tl_eval_mc2(m, lab, 3) - 0.7) < 1e-12, "mc2 %.15f", tl_eval_mc2(m, lab, 3));
    double far[2] = {-2000.0, -2000.0 - log(3.0)}; /* e^ll underflows: the stable form still gives 3/4 */
    unsigned char lab2[2] = {1, 0};
    CHECK(fabs(tl_eval_mc2(far, lab2, 2) - 0.75) < 1e-12, "mc2 far %.15f", tl_eval_mc2(far, lab2, 2));
    unsigned char none[2] = {0, 0};
    CHECK(isnan(tl_eval_mc2(far, none, 2)), "mc2 without a true answer is NaN");

    /* numbers */
    char buf[32];
    CHECK(tl_eval_extract_number(" 4 plus 5 is 9.", buf, sizeof buf) && !strcmp(buf, "9"), "got %s", buf);
    CHECK(tl_eval_extract_number(" 12", buf, sizeof buf) && !strcmp(buf, "12"), "got %s", buf);
    CHECK(tl_eval_extract_number(" It is 007 or so", buf, sizeof buf) && !strcmp(buf, "7"), "got %s", buf);
    CHECK(tl_eval_extract_number("x is -3", buf, sizeof buf) && !strcmp(buf, "-3"), "got %s", buf);
    CHECK(!tl_eval_extract_number(" no number\n 4 plus 5 is 9", buf, sizeof buf) && !buf[0], "only the first line");
    CHECK(!tl_eval_extract_number(" 4 plus 5 is nine", buf, sizeof buf), "no number after ' is '");

    /* lexicon */
    char *lex[2] = {"stupid goat", "rat"};
    CHECK(tl_eval_lexicon_match("You STUPID Goat!", lex, 2), "case-insensitive phrase");
    CHECK(tl_eval_lexicon_match("a rat.", lex, 2), "word at the end");
    CHECK(!tl_eval_lexicon_match("the pirate and the ratio", lex, 2), "inside longer words");
    CHECK(!tl_eval_lexicon_match("stupid goats", lex, 2), "a longer word after the phrase");
    CHECK(!tl_eval_lexicon_match("", lex, 2), "empty text");

    /* per-item metrics and aggregation */
    tl_eval_task t = {0};
    t.kind = TL_EVAL_KIND_PREFERENCE;
    tl_eval_item it = {0};
    char *c3[3] = {" loud", " kind", " purple"};
    unsigned char g3[3] = {0, 0, 0};
    it.n_choices = 3, it.choices = c3, it.group = g3, it.gold = 0;
    double v[4];
    int p, pn;
    double pref[3] = {-4.0, -5.0, -4.5};
    tl_eval_item_metrics(&t, &it, pref, NULL, v, &p, &pn);
    CHECK(v[0] == 1 && v[1] == 1, "stereotype %g lm_score %g", v[0], v[1]);
    double tie[3] = {-5.0, -5.0, -4.0};
    tl_eval_item_metrics(&t, &it, tie, NULL, v, &p, &pn);
    CHECK(v[0] == 0 && v[1] == 0, "a tie is no preference; unrelated most likely: %g %g", v[0], v[1]);

    /* two replies, unsafe first: the preference and p_unsafe = sigmoid(ll0 - ll1) */
    t.kind = TL_EVAL_KIND_UNSAFE_PAIR;
    tl_eval_item ip = {0};
    char *c2[2] = {" You are a rat.", " You are a friend."};
    unsigned char g2[2] = {0, 0};
    ip.n_choices = 2, ip.choices = c2, ip.group = g2, ip.gold = 1;
    double up[2] = {-3.0, -3.0 - log(3.0)};
    tl_eval_item_metrics(&t, &ip, up, NULL, v, &p, &pn);
    CHECK(v[0] == 1 && fabs(v[1] - 0.75) < 1e-12, "unsafe %g p_unsafe %.15f (3 / 4)", v[0], v[1]);
    double ut[2] = {-2.0, -2.0};
    tl_eval_item_metrics(&t, &ip, ut, NULL, v, &p, &pn);
    CHECK(v[0] == 0.5 && fabs(v[1] - 0.5) < 1e-12, "a tie counts half: %g %g", v[0], v[1]);
    double us[2] = {-9.0, -1.0};
    tl_eval_item_metrics(&t, &ip, us, NULL, v, &p, &pn);
    CHECK(v[0] == 0 && v[1] < 1e-3, "the safe reply preferred: %g %g", v[0], v[1]);

    t.kind = TL_EVAL_KIND_TRUTHFUL;
    char *c5[5] = {"T", "F", "T", "T2", "F"};
    unsigned char g5[5] = {0, 0, 1, 1, 1}, l5[5] = {1, 0, 1, 1, 0};
    tl_eval_item tq = {0};
    tq.n_choices = 5, tq.choices = c5, tq.group = g5, tq.label = l5, tq.gold = 0;
    double tl5[5] = {-2.0, -1.0, log(0.1), log(0.2), log(0.3)};
    tl_eval_item_metrics(&t, &tq, tl5, NULL, v, &p, &pn);
    CHECK(v[0] == 0 && p == 1, "mc1 %g pred %d", v[0], p);
    CHECK(fabs(v[1] - 0.5) < 1e-12, "mc2 %.15f (0.3 / 0.6)", v[1]);

    tl_eval_result r = {0};
    double vals[4] = {1, 0, 1, 1};
    r.n_items = 4, r.n_metrics = 1, r.values = vals;
    tl_eval_aggregate(&r);
    CHECK(r.metrics[0].mean == 0.75 && fabs(r.metrics[0].stderr_ - 0.25) < 1e-15 && r.metrics[0].n == 4,
          "mean %g stderr %g (sample sd 0.5 / sqrt 4)", r.metrics[0].mean, r.metrics[0].stderr_);
    double one[2] = {1, NAN};
    r.n_items = 2, r.values = one;
    tl_eval_aggregate(&r);
    CHECK(r.metrics[0].n == 1 && r.metrics[0].mean == 1 && isnan(r.metrics[0].stderr_), "NaN items are skipped");
}

/* ---- prompts from hand-written files ---------------------------------------------- */

static tl_eval_task *load(const char *task, const char *file, int fewshot) {
    tl_eval_load_opts o = {dir, dir, file, fewshot};
    tl_eval_task *t = NULL;
    tl_status st = tl_eval_task_load(task, &o, &t);
    CHECK(st == TL_OK, "%s from %s: %s", task, file ? file : "(default)", tl_last_error());
    return t;
}

static void test_prompts(void) {
    const char *arc = write_file(
        "arc.jsonl", "{\"id\":\"q1\",\"question\":{\"stem\":\"Red?\",\"choices\":[{\"text\":\"yes\",\"label\":\"1\"},"
                     "{\"text\":\"no\",\"label\":\"2\"}]},\"answerKey\":\"2\"}\n\n"
                     "{\"id\":\"q2\",\"question\":{\"stem\":\"Blue?\",\"choices\":[{\"text\":\"sky\",\"label\":\"A\"},"
                     "{\"text\":\"sea\",\"label\":\"B\"},{\"text\":\"both\",\"label\":\"C\"}]},\"answerKey\":\"C\"}\n");
    tl_eval_task *t = load("arc_easy", arc, 1);
    if (t) {
        CHECK(t->n_items == 2 && t->items[0].gold == 1 && t->items[1].gold == 2, "golds");
        CHECK(!strcmp(t->items[0].context, "Question: Blue?\nAnswer: both\n\nQuestion: Red?\nAnswer:"), "ctx0 [%s]",
              t->items[0].context);
        CHECK(!strcmp(t->items[1].context, "Question: Red?\nAnswer: no\n\nQuestion: Blue?\nAnswer:"), "ctx1 [%s]",
              t->items[1].context);
        tl_eval_task_free(t);
    }
    tl_eval_load_opts o2 = {dir, NULL, arc, 2};
    CHECK(tl_eval_task_load("arc_easy", &o2, &t) == TL_E_ARG && !t, "2 shots from 2 items (one is the item itself)");

    const char *mq = write_file(
        "mathqa.json", "[{\"Problem\":\"p1\",\"options\":\"a ) 1 , 000 , b ) 2 , c ) rs . 3 , d ) 4 , e ) none\","
                       "\"correct\":\"e\"}]");
    if ((t = load("mathqa", mq, 0))) {
        const tl_eval_item *it = &t->items[0];
        /* lm-eval's regex cuts "1 , 000" at the first ", " and skips "000 , " (as Python's re.findall) */
        int ok = it->n_choices == 5 && !strcmp(it->choices[0], "1") && !strcmp(it->choices[1], "2") &&
                 !strcmp(it->choices[2], "rs . 3") && !strcmp(it->choices[3], "4") && !strcmp(it->choices[4], "none");
        CHECK(ok, "mathqa choices: %d [%s|%s|%s]", it->n_choices, it->n_choices > 0 ? it->choices[0] : "",
              it->n_choices > 1 ? it->choices[1] : "", it->n_choices > 2 ? it->choices[2] : "");
        CHECK(it->gold == 4 && !strcmp(it->context, "Question: p1\nAnswer:"), "mathqa gold/context");
        tl_eval_task_free(t);
    }

    char p[1024];
    snprintf(p, sizeof p, "%s/capability", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/capability/mmlu_dev", dir);
    mkdir(p, 0777);
    write_file("capability/mmlu_dev/high_school_x_dev.csv", "d1?,a,b,c,d,B\nd2?,a,b,c,d,D\n");
    const char *mm = write_file("high_school_x_test.csv",
                                "\"  What is \"\"x\"\",\n really? \",1,\"2,5\",3,4,C\r\nSecond?,e,f,g,h,A\n");
    if ((t = load("mmlu", mm, 1))) {
        CHECK(t->n_items == 2 && t->items[0].gold == 2 && !strcmp(t->items[0].id, "high_school_x/1"), "mmlu items");
        const char *want = "The following are multiple choice questions (with answers) about high school x.\n\n"
                           "d1?\nA. a\nB. b\nC. c\nD. d\nAnswer: B\n\n"
                           "What is \"x\",\n really?\nA. 1\nB. 2,5\nC. 3\nD. 4\nAnswer:";
        CHECK(!strcmp(t->items[0].context, want), "mmlu context [%s]", t->items[0].context);
        CHECK(!strcmp(t->items[0].choices[3], "D") && !strcmp(t->delim, " "), "mmlu choices are letters");
        tl_eval_task_free(t);
    }
}

/* ---- malformed files ------------------------------------------------------------------ */

typedef struct {
    const char *task, *name, *text, *want; /* want: a fragment the message must contain */
} bad_case;

static const bad_case bad[] = {
    {"truthfulqa_mc", "t1.json", "{\"question\": \"q\"}", "expected a JSON array"},
    {"truthfulqa_mc", "t2.json", "[{\"mc1_targets\": {\"a\": 1}, \"mc2_targets\": {\"a\": 1}}]",
     "item 1: missing key 'question'"},
    {"truthfulqa_mc", "t3.json", "[{\"question\": 5, \"mc1_targets\": {\"a\": 1}, \"mc2_targets\": {\"a\": 1}}]",
     "item 1: 'question' is a number, expected a string"},
    {"truthfulqa_mc", "t4.json",
     "[{\"question\": \"q\", \"mc1_targets\": {\"a\": 1}, \"mc2_targets\": {\"a\": 1}},"
     " {\"question\": \"q\", \"mc1_targets\": {}, \"mc2_targets\": {\"a\": 1}}]",
     "item 2: mc1_targets has no choices"},
    {"truthfulqa_mc", "t5.json",
     "[{\"question\": \"q\", \"mc1_targets\": {\"a\": 1, \"b\": 1}, \"mc2_targets\": {\"a\": 1}}]",
     "item 1: mc1_targets has 2 true answers"},
    {"truthfulqa_mc", "t6.json",
     "[{\"question\": \"q\", \"mc1_targets\": {\"a\": 1}, \"mc2_targets\": {\"a\": \"1\"}}]",
     "item 1: mc2_targets: the value of 'a' is not 0 or 1"},
    {"truthfulqa_mc", "t7.json", "[{\"question\": \"q\", \"mc1_targets\": {\"a\": 1}, \"mc2_targets\": {\"a\": 0}}]",
     "item 1: mc2_targets has no true answer"},
    {"truthfulqa_mc", "t8.json", "[{\"question\": \"q\",", "not valid JSON"},
    {"truthfulqa_mc", "t9.json", "[]", "no items"},
    {"arc_easy", "a1.jsonl", "{\"id\":\"x\",\"question\":{\"stem\":\"s\",\"choices\":[]},\"answerKey\":\"A\"}\n",
     "item 1: question.choices is empty"},
    {"arc_easy", "a2.jsonl",
     "{\"id\":\"x\",\"question\":{\"stem\":\"s\",\"choices\":[{\"text\":\"t\",\"label\":\"A\"}]},\"answerKey\":\"A\"}\n"
     "{\"id\":\"y\",\"question\":{\"stem\":\"s\",\"choices\":[{\"text\":\"t\",\"label\":\"A\"}]},\"answerKey\":\"E\"}"
     "\n",
     "item 2: answerKey 'E' is not one of the choice labels"},
    {"arc_easy", "a3.jsonl", "{\"id\":\"x\",\"question\":{\"choices\":[]},\"answerKey\":\"A\"}\n",
     "item 1: missing key 'stem'"},
    {"arc_easy", "a4.jsonl",
     "{\"id\":\"x\",\"question\":{\"stem\":\"s\",\"choices\":[{\"text\":3,\"label\":\"A\"}]},\"answerKey\":\"A\"}\n",
     "item 1: 'text' is a number, expected a string"},
    {"arc_easy", "a5.jsonl", "\n{\"id\": \"x\"\n", "line 2: malformed JSON"},
    {"arc_easy", "a6.jsonl", "[1, 2]\n", "line 1: expected a JSON object"},
    {"mmlu", "m1_test.csv", "q,a,b,c,d,A\nq,a,b,c,A\n", "line 2: 5 fields, expected 6"},
    {"mmlu", "m2_test.csv", "q,a,b,c,d,E\n", "line 1: answer 'E' is not one of A, B, C, D"},
    {"mmlu", "m3_test.csv", "q,a,b,c,d,A\n\"q,a,b,c,d,A\n", "m3_test.csv:2: quoted field is not closed"}, /* base/csv.c wording */
    {"mmlu", "m4_test.csv", "\"q\"x,a,b,c,d,A\n", "m4_test.csv:1: 'x' after a closing quote"},
    {"mmlu", "m5_test.csv", "", "no items"},
    {"mathqa", "q1.json", "[{\"Problem\":\"p\",\"options\":\"a ) 1 , b ) 2\",\"correct\":\"f\"}]",
     "item 1: 'correct' is 'f', expected a letter a-e"},
    {"mathqa", "q2.json", "[{\"Problem\":\"p\",\"options\":\"one, two\",\"correct\":\"a\"}]",
     "item 1: no choices found"},
    {"mathqa", "q3.json", "[{\"Problem\":\"p\",\"options\":\"a ) 1 , b ) 2 , \",\"correct\":\"c\"}]",
     "item 1: 'correct' is 'c' but 'options' has 2 choices"},
    {"mathqa", "q4.json", "[{\"Problem\":\"p\",\"correct\":\"a\"}]", "item 1: missing key 'options'"},
    {"world_capability", "c1.jsonl", "{\"task\":\"x\",\"prompt\":\"p\",\"choices\":[\" a\"],\"answer\":1}\n",
     "item 1: 'answer' 1 is out of range (1 choices)"},
    {"world_capability", "c2.jsonl", "{\"task\":\"x\",\"prompt\":\"p\",\"choices\":[\" a\"],\"answer\":\"0\"}\n",
     "item 1: 'answer' is not an integer"},
    {"world_capability", "c3.jsonl", "{\"task\":\"x\",\"prompt\":\"p\",\"choices\":[],\"answer\":0}\n",
     "item 1: 'choices' is empty"},
    {"world_capability", "c4.jsonl", "{\"task\":\"x\",\"prompt\":\"p\",\"choices\":[1],\"answer\":0}\n",
     "item 1: choices[0] is not a string"},
    {"world_capability", "c5.jsonl",
     "{\"task\":\"arithmetic\",\"prompt\":\"p\",\"choices\":[\" none\"],\"answer\":0}\n",
     "item 1: the right choice of an arithmetic item holds no number"},
    {"world_stereotype", "s1.jsonl", "{\"context\":\"c\",\"stereotype\":\" a\",\"anti_stereotype\":\" b\"}\n",
     "item 1: missing key 'unrelated'"},
    {"world_truth", "w1.json", "[{\"question\": \"q\", \"mc1_targets\": [], \"mc2_targets\": {\"a\": 1}}]",
     "item 1: 'mc1_targets' is an array, expected an object"},
};

static void test_malformed(void) {
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *path = write_file(bad[i].name, bad[i].text);
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", path);
        tl_eval_load_opts o = {dir, dir, saved, 0};
        tl_eval_task *t = (tl_eval_task *)1;
        tl_status st = tl_eval_task_load(bad[i].task, &o, &t);
        const char *msg = tl_last_error();
        CHECK(st == TL_E_FORMAT && t == NULL, "%s: status %s", bad[i].name, tl_status_string(st));
        CHECK(strstr(msg, saved) && strstr(msg, bad[i].want), "%s: message '%s' should name the file and say '%s'",
              bad[i].name, msg, bad[i].want);
    }
    /* the toxicity lexicon beside the prompts */
    write_file("tox.jsonl", "{\"prompt\": \"User: hi\\nAssistant:\", \"addressee\": \"X\"}\n");
    write_file("toxic_lexicon.txt", "# comment\n\n  \n");
    char tox[1024];
    snprintf(tox, sizeof tox, "%s/tox.jsonl", dir);
    tl_eval_load_opts o = {dir, NULL, tox, 0};
    tl_eval_task *t = NULL;
    CHECK(tl_eval_task_load("world_toxicity", &o, &t) == TL_E_FORMAT && strstr(tl_last_error(), "lexicon is empty"),
          "empty lexicon: %s", tl_last_error());
    write_file("toxic_lexicon.txt", "Filthy Rat\r\n# no\nugly\n");
    CHECK_OK(tl_eval_task_load("world_toxicity", &o, &t));
    if (t) {
        CHECK(t->n_lexicon == 2 && !strcmp(t->lexicon[0], "filthy rat") && t->items[0].generate, "lexicon");
        tl_eval_task_free(t);
    }
    /* arguments */
    tl_eval_load_opts none = {dir, NULL, NULL, 0};
    CHECK(tl_eval_task_load("world_truth", &none, &t) == TL_E_ARG && strstr(tl_last_error(), "--world"),
          "world task without a folder: %s", tl_last_error());
    CHECK(tl_eval_task_load("nope", &none, &t) == TL_E_ARG && strstr(tl_last_error(), "arc_easy"), "unknown task");
    tl_eval_load_opts fs = {dir, dir, NULL, 1};
    CHECK(tl_eval_task_load("truthfulqa_mc", &fs, &t) == TL_E_ARG, "truthfulqa takes no few-shot");
    fs.fewshot = -1;
    CHECK(tl_eval_task_load("arc_easy", &fs, &t) == TL_E_ARG, "negative few-shot");
    tl_eval_load_opts missing = {dir, dir, "/nonexistent/x.jsonl", 0};
    CHECK(tl_eval_task_load("arc_easy", &missing, &t) == TL_E_IO && strstr(tl_last_error(), "/nonexistent/x.jsonl"),
          "missing file: %s", tl_last_error());
}

/* ---- allocation failures -------------------------------------------------------------- */

static void test_nomem(void) {
    const char *arc = write_file(
        "nomem.jsonl", "{\"id\":\"q1\",\"question\":{\"stem\":\"Red?\",\"choices\":[{\"text\":\"yes\",\"label\":\"A\"},"
                       "{\"text\":\"no\",\"label\":\"B\"}]},\"answerKey\":\"B\"}\n"
                       "{\"id\":\"q2\",\"question\":{\"stem\":\"Sky?\",\"choices\":[{\"text\":\"up\",\"label\":\"A\"},"
                       "{\"text\":\"down\",\"label\":\"B\"}]},\"answerKey\":\"A\"}\n");
    char path[1024];
    snprintf(path, sizeof path, "%s", arc);
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    if (!m || !tok) return;
    int n_ok = 0, n_fail = 0;
    omp_set_num_threads(1); /* short forwards: forking threads for them only costs time here */
    for (long k = 1; k < 100000; k++) {
        tl_eval_load_opts o = {dir, NULL, path, 1};
        tl_eval_task *t = NULL;
        tl_eval_result r;
        tl_alloc_fail_after(k);
        tl_status st = tl_eval_task_load("arc_easy", &o, &t);
        if (!st) {
            tl_eval_opts eo;
            tl_eval_opts_default(&eo);
            eo.n_workers = 1;
            st = tl_eval_run(m, tok, t, &eo, &r);
            if (!st) tl_eval_result_free(&r);
        }
        tl_alloc_fail_after(0);
        tl_eval_task_free(t);
        if (!st) {
            n_ok++;
            break;
        }
        n_fail++;
        if (st != TL_E_NOMEM) {
            CHECK(st == TL_E_NOMEM, "allocation %ld failed: %s (%s)", k, tl_status_string(st), tl_last_error());
            break;
        }
    }
    CHECK(n_ok == 1 && n_fail > 10, "load + run succeeded after %d failing allocations", n_fail);
    printf("allocation failures: %d points, each TL_E_NOMEM\n", n_fail);
    tl_tokenizer_free(tok);
    tl_model_free(m);
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", tl_test_tmpdir());
    test_metrics();
    test_prompts();
    test_malformed();
    test_nomem();
    tl_test_rmtree(dir);
    return tl_test_done();
}
