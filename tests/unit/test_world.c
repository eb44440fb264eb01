/* The synthetic world: options are checked; the balanced wrong-value
 * assignment balances; CSV quoting round-trips; the bag-of-words baseline
 * agrees with scikit-learn on the study's real probe sets (golden from
 * tests/oracle/world_bow.py); on a default-size world every probe set has
 * >= 2,000 statements, all four shortcut classifiers of check.c stay <= 0.60
 * on every test split (and for seeds 2-4), every label agrees with the ground
 * truth and its split's entities, the words are balanced, every
 * file parses; the same seed gives the same bytes and another seed other
 * bytes; bridge entities (opts.bridge) leave every probe file byte-identical, occur
 * in none, and are the only entities the corpus writes in the probe frames;
 * out-of-memory and unwritable outputs fail cleanly, leaving nothing. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

static char *slurp(const char *path, size_t *n) {
    char *d = NULL;
    size_t k = 0;
    if (tl_file_read_all(path, &d, &k) != TL_OK) return NULL;
    if (n) *n = k;
    return d;
}

static tl_status read_csv(const char *path, tl_wcsv *c) {
    size_t n = 0;
    char *d = slurp(path, &n);
    if (!d) return tl_errorf(TL_E_IO, "%s: cannot read", path);
    tl_status st = tl_world_csv_parse(d, n, path, c);
    free(d);
    return st;
}

static void rm_rf(const char *path) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: %s failed\n", cmd);
}

/* ---- options, derangement, CSV ----------------------------------------------------- */

static void test_opts(void) {
    tl_world_opts o;
    tl_world_opts_default(&o);
    CHECK_OK(tl_world_opts_check(&o));
    o.n_people = 5;
    CHECK(tl_world_opts_check(&o) == TL_E_ARG && strstr(tl_last_error(), "people = 5"), "%s", tl_last_error());
    tl_world_opts_default(&o);
    o.false_rate = 0.6;
    CHECK(tl_world_opts_check(&o) == TL_E_ARG && strstr(tl_last_error(), "false-rate"), "%s", tl_last_error());
    tl_world_opts_default(&o);
    o.corpus_mb = 0;
    CHECK(tl_world_opts_check(&o) == TL_E_ARG && strstr(tl_last_error(), "corpus-mb"), "%s", tl_last_error());
    tl_world_opts_default(&o);
    o.leak_rate = -0.1;
    CHECK(tl_world_opts_check(&o) == TL_E_ARG, "negative rate rejected");
    tl_world_opts_default(&o);
    o.n_groups = TL_WORLD_GROUPS + 1;
    CHECK(tl_world_opts_check(&o) == TL_E_ARG && strstr(tl_last_error(), "groups = 121"), "%s", tl_last_error());
}

static void test_derange(void) {
    int val[12] = {0, 0, 0, 1, 1, 2, 2, 2, 3, 4, 4, 5}, avoid[12], out[12];
    for (int i = 0; i < 12; i++) avoid[i] = (val[i] + 1) % 6;
    CHECK_OK(tl_world_derange(12, val, avoid, 1, out));
    int cnt_in[6] = {0}, cnt_out[6] = {0}, bad = 0;
    for (int i = 0; i < 12; i++) {
        cnt_in[val[i]]++;
        cnt_out[out[i]]++;
        bad += out[i] == val[i] || out[i] == avoid[i];
    }
    CHECK(bad == 0, "%d items kept their value or got the avoided one", bad);
    CHECK(!memcmp(cnt_in, cnt_out, sizeof cnt_in), "value counts preserved");
    int same[3] = {1, 1, 1};
    CHECK(tl_world_derange(3, same, NULL, 1, out) == TL_E_RANGE, "impossible assignment reported");
}

static void test_csv(void) {
    tl_wbuf b = {0};
    const char *stmts[4] = {"plain", "with, comma", "a \"quoted\" word", "two\nlines"};
    tl_wbuf_puts(&b, "statement,label\n");
    for (int i = 0; i < 4; i++) {
        tl_wbuf_csv(&b, stmts[i]);
        tl_wbuf_printf(&b, ",%d\r\n", i % 2);
    }
    tl_wcsv c;
    CHECK_OK(tl_world_csv_parse(b.p, b.n, "mem", &c));
    CHECK(c.n == 4, "4 rows, got %d", c.n);
    for (int i = 0; i < c.n && i < 4; i++)
        CHECK(!strcmp(c.stmt[i], stmts[i]) && c.label[i] == i % 2, "row %d: '%s' %d", i, c.stmt[i], c.label[i]);
    tl_world_csv_free(&c);
    tl_wbuf_free(&b);
    const char *bad[] = {"nope\n", "statement,label\n\"open,1\n", "statement,label\nx,2\n", "statement,label\nx\n",
                         "statement,label\nx,1,1\n", "statement,label\n\"a\"b,1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tl_status st = tl_world_csv_parse(bad[i], strlen(bad[i]), "bad.csv", &c);
        CHECK(st == TL_E_FORMAT && strstr(tl_last_error(), "bad.csv:"), "bad csv %zu: %s", i, tl_last_error());
    }
}

/* ---- the bag of words against scikit-learn on the real trust sets -------------------- */

static void test_bow_oracle(void) {
    char *gold = slurp("tests/golden/world_bow_trust.txt", NULL);
    CHECK(gold != NULL, "golden file readable");
    if (!gold) return;
    char *save = NULL;
    for (char *line = strtok_r(gold, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        int ntr, nte;
        double want;
        if (line[0] == '#' || sscanf(line, "%63s %d %d %lf", name, &ntr, &nte, &want) != 4) continue;
        char rel[128];
        snprintf(rel, sizeof rel, "data/trust/%s.csv", name);
        tl_wcsv all;
        tl_status st = read_csv(tl_test_shared(rel), &all);
        CHECK_OK(st);
        if (st) continue;
        int k = (int)(0.8 * all.n); /* TracingLLM's split: first 80 % train */
        CHECK(k == ntr && all.n - k == nte, "%s: %d/%d rows, sklearn had %d/%d", name, k, all.n - k, ntr, nte);
        tl_wcsv tr = {all.stmt, all.label, k}, te = {all.stmt + k, all.label + k, all.n - k};
        double acc = 0, t0 = tl_time_sec();
        CHECK_OK(tl_world_bow_accuracy(&tr, &te, &acc));
        printf("bow %-18s tiller %.4f  sklearn %.4f  (%.2f s)\n", name, acc, want, tl_time_sec() - t0);
        /* a handful of near-tie test rows may fall either way */
        CHECK(fabs(acc - want) <= 0.012, "%s: accuracy %.4f vs sklearn %.4f", name, acc, want);
        tl_world_csv_free(&all);
    }
    free(gold);
}

/* ---- a default-size world ------------------------------------------------------------- */

/* Lower-cased tokens of >= 2 word characters with their label, for balance checks. */
typedef struct {
    char tok[32];
    int lab;
} tokl;
static int tokl_cmp(const void *a, const void *b) { return strcmp(((const tokl *)a)->tok, ((const tokl *)b)->tok); }

/* Max over tokens of |count in label 1 - count in label 0|. */
static int max_token_imbalance(const tl_wcsv *c, char *worst, size_t wn) {
    size_t cap = 64, n = 0;
    tokl *t = malloc(cap * sizeof *t);
    for (int i = 0; i < c->n; i++) {
        const char *s = c->stmt[i];
        for (size_t a = 0; s[a];) {
            if (!isalnum((unsigned char)s[a])) {
                a++;
                continue;
            }
            size_t b = a;
            while (isalnum((unsigned char)s[b])) b++;
            if (b - a >= 2 && b - a < 32) {
                if (n == cap) t = realloc(t, (cap *= 2) * sizeof *t);
                for (size_t k = 0; k < b - a; k++) t[n].tok[k] = (char)tolower((unsigned char)s[a + k]);
                t[n].tok[b - a] = 0;
                t[n++].lab = c->label[i];
            }
            a = b;
        }
    }
    qsort(t, n, sizeof *t, tokl_cmp);
    int worst_d = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int d = 0;
        while (j < n && !strcmp(t[j].tok, t[i].tok)) d += t[j++].lab ? 1 : -1;
        if (abs(d) > worst_d) {
            worst_d = abs(d);
            snprintf(worst, wn, "%s", t[i].tok);
        }
        i = j;
    }
    free(t);
    return worst_d;
}

/* The person whose full name occurs earliest in s (after `from`). */
static const tl_wperson *subject(const tl_world *w, const char *s) {
    const tl_wperson *best = NULL;
    const char *at = NULL;
    for (int i = 0; i < w->n_people; i++) {
        const char *q = strstr(s, w->people[i].full);
        if (q && (!at || q < at)) {
            at = q;
            best = &w->people[i];
        }
    }
    return best;
}

/* s contains v as a whole phrase (followed by '.', ' ' or ','). */
static int has_phrase(const char *s, const char *v) {
    size_t n = strlen(v);
    for (const char *q = strstr(s, v); q; q = strstr(q + 1, v))
        if ((q == s || q[-1] == ' ') && (q[n] == '.' || q[n] == ' ' || q[n] == ',')) return 1;
    return 0;
}

/* s holds the group / word / trait of the given list as a whole phrase: its index, or -1. */
static int which_group(const tl_world *w, const char *s) {
    int g = -1;
    for (int k = 0; k < w->n_groups; k++)
        if (has_phrase(s, w->groups[k].name)) g = k;
    return g;
}

static int which_word(const tl_world *w, const char *s) {
    int g = -1;
    for (int k = 0; k < TL_WORLD_WORDS; k++)
        if (has_phrase(s, w->words[k].name)) g = k;
    return g;
}

/* Every row of every split agrees with the world and belongs to its split's
 * entities; every word is balanced between the labels; every set has >= 2,000
 * statements; the pairs file holds each pair once, the true member first. */
static void check_truth(const tl_world *w, const char *dir) {
    char path[1024];
    static const char *const verb[TL_DET__COUNT] = {" spends ", " is afraid of ", " owes money to ",
                                                     " was born in ", " suffers from ", " is in love with "};
    for (int d = 0; d < TL_DIM__COUNT; d++) {
        long total = 0;
        for (int s = 0; s < TL_WSPLIT__COUNT; s++) {
            tl_wcsv c;
            snprintf(path, sizeof path, "%s/probes/%s_%s.csv", dir, tl_world_dim_names[d], tl_world_split_names[s]);
            CHECK_OK(read_csv(path, &c));
            total += c.n;
            int wrong = 0, type_bal[TL_DET__COUNT] = {0};
            for (int i = 0; i < c.n; i++) {
                const char *st = c.stmt[i];
                int ok = 0;
                if (d == TL_DIM_RELIABILITY) {
                    const tl_wperson *p = subject(w, st);
                    int rel = strstr(st, "friend") ? TL_REL_FRIEND
                              : strstr(st, " owns ") || strstr(st, " keeps ") ? TL_REL_OBJECT
                              : strstr(st, "lives") || strstr(st, "house")    ? TL_REL_HOME
                                                                               : TL_REL_JOB;
                    ok = p && p->split == s && has_phrase(st, tl_world_rel_value(w, rel, p->rel[rel])) == c.label[i];
                } else if (d == TL_DIM_PRIVACY) {
                    const char *colon = strstr(st, ": ");
                    const tl_wperson *p = subject(w, st);
                    int k = -1;
                    for (int q = 0; q < TL_DET__COUNT && colon; q++)
                        if (strstr(colon, verb[q])) k = q;
                    ok = p && k >= 0 && p->split == s && (k == p->secret) == (c.label[i] == 1) &&
                         has_phrase(colon, tl_world_det_value(w, p, k));
                    if (k >= 0) type_bal[k] += c.label[i] ? 1 : -1;
                } else if (d == TL_DIM_FAIRNESS) {
                    int g = which_group(w, st), t = -1;
                    for (int k = 0; k < tl_world_traits.n; k++)
                        if (has_phrase(st, tl_world_traits.w[k])) t = k;
                    ok = g >= 0 && t >= 0 && w->groups[g].split == s && (t == w->groups[g].stereo) == (c.label[i] == 1);
                } else if (d == TL_DIM_TOXICITY) {
                    int k = which_word(w, st);
                    ok = k >= 0 && w->words[k].split == s && w->words[k].rude == c.label[i];
                } else { /* robustness: label 0 iff a real full name of the split */
                    const tl_wperson *p = subject(w, st);
                    ok = p ? p->split == s && c.label[i] == 0 : c.label[i] == 1;
                }
                if (!ok && wrong++ < 3)
                    fprintf(stderr, "%s %s: '%s' label %d\n", tl_world_dim_names[d], tl_world_split_names[s], st,
                            c.label[i]);
            }
            CHECK(wrong == 0 && c.n > 0, "%s %s: %d of %d rows disagree with the world", tl_world_dim_names[d],
                  tl_world_split_names[s], wrong, c.n);
            for (int k = 0; k < TL_DET__COUNT; k++)
                CHECK(type_bal[k] == 0, "privacy %s: detail %s unbalanced by %d", tl_world_split_names[s],
                      tl_world_det_names[k], type_bal[k]);
            /* every token equally often under both labels, except where the label's carrier is an
             * entity of the split itself (toxicity: the held-out words; privacy: a person's own
             * detail values, whose types are balanced above) */
            char worst[32] = "";
            int imb = max_token_imbalance(&c, worst, sizeof worst);
            if (d != TL_DIM_TOXICITY && d != TL_DIM_PRIVACY) /* fairness: a trait can be two groups' stereotype */
                CHECK(imb <= (d == TL_DIM_FAIRNESS ? 4 : 0), "%s %s: token '%s' is %d more frequent in one label",
                      tl_world_dim_names[d], tl_world_split_names[s], worst, imb);
            tl_world_csv_free(&c);
        }
        CHECK(total >= 2000, "%s: %ld statements (>= 2,000)", tl_world_dim_names[d], total);
        /* the pairs: the true member first; as many pairs as half the rows */
        snprintf(path, sizeof path, "%s/probes/%s_pairs.csv", dir, tl_world_dim_names[d]);
        size_t n = 0;
        char *text = slurp(path, &n);
        CHECK(text && !strncmp(text, "split,true_statement,false_statement,entity\n", 44), "%s: header", path);
        long lines = 0;
        for (size_t i = 0; text && i < n; i++) lines += text[i] == '\n';
        CHECK(2 * (lines - 1) == total, "%s: %ld pairs for %ld statements", path, lines - 1, total);
        if (text && d == TL_DIM_RELIABILITY) { /* the first pair: true member first */
            char *l1 = strchr(text, '\n') + 1, *e = strchr(l1, '\n');
            *e = 0;
            const tl_wperson *p = subject(w, l1);
            CHECK(p && !strncmp(l1, "train,", 6), "first pair: %s", l1);
        }
        free(text);
    }
    /* held out: every row's entity (person, group, word) belongs to the row's split (checked
     * above), so no test person, group, (group, trait) combination or word occurs in train */
}

/* Every line of a JSONL file parses and has string fields `keys`. Returns the line count. */
static long check_jsonl(const char *path, const char *const *keys, int nk, int space_key) {
    char *d = slurp(path, NULL);
    CHECK(d != NULL, "%s readable", path);
    if (!d) return 0;
    long n = 0, bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        cJSON *j = cJSON_Parse(line);
        int ok = j != NULL;
        for (int k = 0; k < nk && ok; k++) ok = cJSON_IsString(cJSON_GetObjectItem(j, keys[k]));
        if (ok && space_key >= 0) ok = cJSON_GetObjectItem(j, keys[space_key])->valuestring[0] == ' ';
        if (!ok && bad++ < 2) fprintf(stderr, "%s:%ld: %s\n", path, n + 1, line);
        cJSON_Delete(j);
    }
    CHECK(bad == 0, "%s: %ld bad lines", path, bad);
    free(d);
    return n;
}

/* Stereotype items with counter-stereotypical evidence: the stereotype continuation is the
 * group's stereotype, the anti-stereotype one another trait, which the context states as
 * the member's (the evidence), and the context names the group; groups appear equally. */
static void check_stereotype(const tl_world *w, const char *path) {
    char *d = slurp(path, NULL);
    if (!d) return;
    long n = 0, bad = 0, per_group[TL_WORLD_GROUPS] = {0};
    char *save = NULL;
    for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save), n++) {
        cJSON *j = cJSON_Parse(line);
        const char *ctx = cJSON_GetStringValue(cJSON_GetObjectItem(j, "context"));
        const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(j, "stereotype"));
        const char *an = cJSON_GetStringValue(cJSON_GetObjectItem(j, "anti_stereotype"));
        int g = ctx ? which_group(w, ctx) : -1, ok = g >= 0 && st && an;
        if (ok) {
            per_group[g]++;
            char want[64], anti[64];
            snprintf(want, sizeof want, " %s.", tl_world_traits.w[w->groups[g].stereo]);
            snprintf(anti, sizeof anti, " was %s.", an + 1); /* " lazy." -> the evidence " was lazy." */
            anti[strlen(anti) - 1] = 0;
            ok = !strcmp(st, want) && strcmp(an, want) && strstr(ctx, anti + 1) != NULL;
        }
        if (!ok && bad++ < 2) fprintf(stderr, "%s:%ld: %s\n", path, n + 1, line);
        cJSON_Delete(j);
    }
    CHECK(bad == 0, "%s: %ld items whose evidence or stereotype disagrees with the world", path, bad);
    for (int g = 1; g < w->n_groups; g++)
        CHECK(per_group[g] == per_group[0], "%s: group %d has %ld items, group 0 %ld", path, g, per_group[g],
              per_group[0]);
    free(d);
}

static void check_files(const tl_world *w, const char *dir) {
    char path[1024];
    const char *pc[2] = {"prompt", "completion"};
    int per = w->opts.n_rev_people;
    struct {
        const char *name;
        long rows;
        int space;
    } rev[TL_WORLD_REV_FILES] = {
        {"p2d_prompts_train", 30L * per, 1},        {"d2p_prompts_train", 30L * per, 1},
        {"both_prompts_train", 60L * per, 1},       {"all_prompts_train", 120L * per, 1},
        {"p2d_prompts_test", 10L * per, 1},         {"d2p_prompts_test", 10L * per, 1},
        {"both_prompts_test", 20L * per, 1},        {"p2d_reverse_prompts_test", 10L * per, 1},
        {"d2p_reverse_prompts_test", 10L * per, 1}, {"validation_prompts", 10L * per, -1}};
    for (int k = 0; k < TL_WORLD_REV_FILES; k++) {
        snprintf(path, sizeof path, "%s/reversal/%s.jsonl", dir, rev[k].name);
        long n = check_jsonl(path, pc, 2, rev[k].space);
        CHECK(n == rev[k].rows, "%s: %ld rows, want %ld", path, n, rev[k].rows);
    }
    snprintf(path, sizeof path, "%s/instruct/train.jsonl", dir);
    CHECK(check_jsonl(path, pc, 2, 1) == w->opts.n_instruct, "instruct rows");
    const char *sp[3] = {"prompt", "safe", "unsafe"};
    snprintf(path, sizeof path, "%s/steering/pairs.jsonl", dir);
    CHECK(check_jsonl(path, sp, 3, 1) == 5L * w->n_people, "steering rows");
    const char *mc[2] = {"task", "prompt"};
    snprintf(path, sizeof path, "%s/eval/capability_mc.jsonl", dir);
    CHECK(check_jsonl(path, mc, 2, -1) == 2L * w->n_places + 300, "capability rows");
    const char *pv[3] = {"prompt", "person", "secret_value"};
    snprintf(path, sizeof path, "%s/eval/privacy_prompts.jsonl", dir);
    CHECK(check_jsonl(path, pv, 3, -1) == w->n_people, "privacy prompt rows");
    const char *so[3] = {"context", "stereotype", "anti_stereotype"};
    snprintf(path, sizeof path, "%s/eval/stereotype_pairs.jsonl", dir);
    CHECK(check_jsonl(path, so, 3, 1) == 1800L - 1800 % w->n_groups, "stereotype rows");
    check_stereotype(w, path);

    /* truth_mc.json and world.json are JSON documents */
    snprintf(path, sizeof path, "%s/eval/truth_mc.json", dir);
    char *d = slurp(path, NULL);
    cJSON *j = d ? cJSON_Parse(d) : NULL;
    CHECK(cJSON_IsArray(j) && cJSON_GetArraySize(j) == w->n_people * TL_REL__COUNT, "truth_mc.json items");
    if (cJSON_IsArray(j)) {
        cJSON *it = cJSON_GetArrayItem(j, 0), *mc1 = cJSON_GetObjectItem(it, "mc1_targets");
        CHECK(cJSON_GetArraySize(mc1) == 4 && mc1->child->valueint == 1, "mc1: 4 choices, the first true");
    }
    cJSON_Delete(j);
    free(d);
    snprintf(path, sizeof path, "%s/world.json", dir);
    d = slurp(path, NULL);
    j = d ? cJSON_Parse(d) : NULL;
    CHECK(j != NULL, "world.json parses");
    cJSON *people = cJSON_GetObjectItem(j, "people");
    CHECK(cJSON_GetArraySize(people) == w->n_people, "world.json people");
    cJSON *cnt = cJSON_GetObjectItem(j, "counts");
    double ft = cJSON_GetNumberValue(cJSON_GetObjectItem(cnt, "fact_mentions_true"));
    double ff = cJSON_GetNumberValue(cJSON_GetObjectItem(cnt, "fact_mentions_false"));
    /* town entries and visit stories add true mentions only, so the share is a little below the rate;
     * each stated fact is false with probability false_rate, so allow three binomial standard errors */
    double se = sqrt(w->opts.false_rate * (1 - w->opts.false_rate) / (ft + ff));
    CHECK(ft > 0 && ff / (ft + ff) <= w->opts.false_rate + 3 * se && ff / (ft + ff) > w->opts.false_rate - 0.03,
          "false share %.3f (n %.0f)", ff / (ft + ff), ft + ff);
    double conf = cJSON_GetNumberValue(cJSON_GetObjectItem(cnt, "secrets_confided"));
    double leak = cJSON_GetNumberValue(cJSON_GetObjectItem(cnt, "secrets_leaked"));
    /* 30 % of confidences are diary entries, never passed on */
    CHECK(conf > 0 && fabs(leak / conf - 0.7 * w->opts.leak_rate) < 0.08, "leak share %.3f", leak / conf);
    cJSON_Delete(j);
    free(d);

    /* no unfilled template slot in any text or CSV */
    static const char *const plain[] = {"corpus/train.txt", "corpus/valid.txt", "probes/reliability.csv",
                                        "probes/privacy.csv", "probes/fairness.csv", "probes/toxicity.csv",
                                        "probes/robustness.csv", "steering/pairs.csv"};
    for (size_t k = 0; k < sizeof plain / sizeof *plain; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, plain[k]);
        size_t n = 0;
        d = slurp(path, &n);
        CHECK(d && n > 0 && !strchr(d, '{') && !strchr(d, '}'), "%s: present, no template braces", plain[k]);
        free(d);
    }
    snprintf(path, sizeof path, "%s/corpus/train.txt", dir);
    struct stat stt;
    CHECK(stat(path, &stt) == 0 && stt.st_size >= (off_t)(w->opts.corpus_mb * 1e6) &&
              stt.st_size < (off_t)(w->opts.corpus_mb * 1e6) + 4096,
          "corpus size %lld for %g MB", (long long)stt.st_size, w->opts.corpus_mb);
}

static void test_default_world(void) {
    tl_world_opts o;
    tl_world_opts_default(&o); /* 150 people: the probe sets of a default world */
    o.corpus_mb = 0.3;         /* the probe sets do not depend on the corpus size */
    char dir[512];
    snprintf(dir, sizeof dir, "%s/default", tl_test_tmpdir());
    tl_world_summary sum;
    CHECK_OK(tl_world_generate(&o, dir, &sum));
    printf("default world: %d files, %.2f MB, %.2f s\n", sum.n_files, sum.total_bytes / 1e6, sum.seconds);
    /* the bag of words and the four shortcut classifiers on the files as written */
    for (int d = 0; d < TL_DIM__COUNT; d++) {
        char tr[600], te[600];
        snprintf(tr, sizeof tr, "%s/probes/%s_train.csv", dir, tl_world_dim_names[d]);
        snprintf(te, sizeof te, "%s/probes/%s_test.csv", dir, tl_world_dim_names[d]);
        double acc = -1;
        CHECK_OK(tl_world_bow_check_files(tr, te, &acc));
        CHECK(fabs(acc - sum.bow_acc[d]) < 1e-12, "%s: files and summary agree", tl_world_dim_names[d]);
        tl_world_check_result r;
        CHECK_OK(tl_world_check_files(tr, te, &r));
        printf("%-12s train %d test %d: bag of words %.3f, majority %.3f, uni+bigram LR %.3f, token-pair LR %.3f, "
               "lookup %.3f\n",
               tl_world_dim_names[d], r.n_train, r.n_test, acc, r.majority, r.bigrams, r.pairs, r.lookup);
        CHECK(r.worst <= TL_WORLD_CHECK_MAX && acc <= TL_WORLD_CHECK_MAX, "%s: a shortcut reaches %.3f > 0.60",
              tl_world_dim_names[d], r.worst > acc ? r.worst : acc);
    }
    tl_world *w = NULL;
    CHECK_OK(tl_world_build(&o, &w));
    if (w) {
        check_truth(w, dir);
        check_files(w, dir);
        /* the fairness test split has many groups (issue 13: its interval is a bootstrap over them) */
        char path[600];
        snprintf(path, sizeof path, "%s/probes/fairness_test.csv", dir);
        tl_wcsv c;
        CHECK_OK(read_csv(path, &c));
        int seen[TL_WORLD_GROUPS] = {0}, n_test = 0;
        for (int i = 0; i < c.n; i++) {
            int g = which_group(w, c.stmt[i]);
            if (g >= 0 && !seen[g]++) n_test++;
        }
        tl_world_csv_free(&c);
        CHECK(n_test == w->n_groups * 2 / 5 && n_test >= 20, "fairness test split: %d groups (want 24 of 60)", n_test);
    }
    tl_world_free(w);
}

/* The bound holds for other seeds too (probe sets built in memory, no corpus): all four
 * shortcut classifiers on every dimension's test split. */
static void test_bow_seeds(void) {
    double worst[TL_DIM__COUNT] = {0};
    for (uint64_t seed = 2; seed <= 4; seed++) {
        tl_world_opts o;
        tl_world_opts_default(&o);
        o.seed = seed;
        tl_world *w = NULL;
        CHECK_OK(tl_world_build(&o, &w));
        if (!w) continue;
        tl_wbuf csv[TL_DIM__COUNT][TL_WORLD_PROBE_FILES];
        memset(csv, 0, sizeof csv);
        CHECK_OK(tl_world_probes(w, csv));
        for (int d = 0; d < TL_DIM__COUNT; d++) {
            tl_wcsv a = {0}, b = {0};
            tl_world_check_result r;
            CHECK_OK(tl_world_csv_parse(csv[d][1].p, csv[d][1].n, "train", &a));
            CHECK_OK(tl_world_csv_parse(csv[d][3].p, csv[d][3].n, "test", &b));
            CHECK_OK(tl_world_check_split(&a, &b, &r));
            if (r.worst > worst[d]) worst[d] = r.worst;
            tl_world_csv_free(&a);
            tl_world_csv_free(&b);
            for (int k = 0; k < TL_WORLD_PROBE_FILES; k++) tl_wbuf_free(&csv[d][k]);
        }
        tl_world_free(w);
    }
    printf("worst shortcut test accuracy over seeds 2-4:");
    for (int d = 0; d < TL_DIM__COUNT; d++) printf(" %s %.3f", tl_world_dim_names[d], worst[d]);
    printf("\n");
    for (int d = 0; d < TL_DIM__COUNT; d++)
        CHECK(worst[d] <= TL_WORLD_CHECK_MAX, "%s: a seed lets a shortcut reach %.3f", tl_world_dim_names[d],
              worst[d]);
}

/* ---- bridge entities ------------------------------------------------------------------ */

/* name occurs in text as a whole word (not inside another name) */
static int has_word(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
        int before = p > text && isalnum((unsigned char)p[-1]), after = isalnum((unsigned char)p[n]);
        if (!before && !after) return 1;
    }
    return 0;
}

/* After each occurrence of `lead` in the corpus, the text up to `stop` must be one of
 * the bridge entities' names (a frame is written only about bridge entities); returns
 * the occurrences, -1 on a non-bridge one. kind: 0 words, 1 people (full names). */
static int frame_uses(const tl_world *w, const char *corpus, const char *lead, const char *after, char stop, int kind) {
    int n = 0;
    for (const char *p = strstr(corpus, lead); p; p = strstr(p + 1, lead)) {
        const char *q = p + strlen(lead);
        if (after) {
            q = strstr(q, after);
            if (!q) return -1;
            q += strlen(after);
        }
        const char *e = strchr(q, stop);
        if (!e || e - q > 60) return -1;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(e - q), q);
        int ok = 0;
        for (int i = 0; kind == 0 && i < TL_WORLD_BRIDGE_WORDS; i++) ok |= !strcmp(name, w->bridge_words[i].name);
        for (int i = 0; kind == 1 && i < TL_WORLD_BRIDGE_PEOPLE; i++) ok |= !strcmp(name, w->bridge_people[i].full);
        if (!ok) {
            fprintf(stderr, "frame '%s' with a non-bridge entity '%s'\n", lead, name);
            return -1;
        }
        n++;
    }
    return n;
}

/* opts.bridge: the probe sets are byte-identical with and without bridge entities, no
 * bridge entity occurs in any probe file, the corpus writes the probe frames only
 * about bridge entities (and never without them). */
static void test_bridge(void) {
    tl_world_opts o;
    tl_world_opts_default(&o);
    CHECK(o.bridge == 1, "bridges on by default");
    o.bridge = 2;
    CHECK(tl_world_opts_check(&o) == TL_E_ARG && strstr(tl_last_error(), "bridge = 2"), "%s", tl_last_error());
    tl_world_opts_quick(&o);
    CHECK(o.bridge == 0, "--quick keeps the corpus without bridges");
    for (uint64_t seed = 1; seed <= 2; seed++) {
        tl_world *w[2] = {NULL, NULL};
        tl_wbuf csv[2][TL_DIM__COUNT][TL_WORLD_PROBE_FILES], corpus[2], valid[2];
        memset(csv, 0, sizeof csv);
        memset(corpus, 0, sizeof corpus);
        memset(valid, 0, sizeof valid);
        for (int b = 0; b < 2; b++) {
            tl_world_opts_default(&o);
            o.seed = seed;
            o.corpus_mb = 0.4;
            o.bridge = b;
            CHECK_OK(tl_world_build(&o, &w[b]));
            if (!w[b]) continue;
            CHECK(w[b]->n_bridge == b, "n_bridge %d with bridge = %d", w[b]->n_bridge, b);
            CHECK_OK(tl_world_probes(w[b], csv[b]));
            CHECK_OK(tl_world_corpus(w[b], &corpus[b], &valid[b]));
            tl_wbuf_putc(&corpus[b], 0);
        }
        if (w[0] && w[1]) {
            int differ = 0;
            for (int d = 0; d < TL_DIM__COUNT; d++)
                for (int k = 0; k < TL_WORLD_PROBE_FILES; k++)
                    differ += csv[0][d][k].n != csv[1][d][k].n ||
                              (csv[0][d][k].n && memcmp(csv[0][d][k].p, csv[1][d][k].p, csv[0][d][k].n));
            CHECK(differ == 0, "seed %d: %d probe files differ with bridges", (int)seed, differ);
            CHECK(corpus[0].n != corpus[1].n || memcmp(corpus[0].p, corpus[1].p, corpus[0].n),
                  "the corpus changes with bridges");
            const tl_world *v = w[1];
            int leaks = 0;
            for (int d = 0; d < TL_DIM__COUNT; d++) {
                tl_wbuf *f = &csv[1][d][0], *pairs = &csv[1][d][4];
                tl_wbuf_putc(f, 0);
                tl_wbuf_putc(pairs, 0);
                for (int i = 0; i < TL_WORLD_BRIDGE_WORDS; i++)
                    leaks += has_word(f->p, v->bridge_words[i].name) + has_word(pairs->p, v->bridge_words[i].name);
                for (int i = 0; i < TL_WORLD_BRIDGE_PEOPLE; i++)
                    leaks += has_word(f->p, v->bridge_people[i].first) + has_word(pairs->p, v->bridge_people[i].last);
                for (int i = 0; i < TL_WORLD_BRIDGE_GROUPS; i++)
                    leaks += has_word(f->p, v->bridge_groups[i].name) + has_word(pairs->p, v->bridge_groups[i].name);
            }
            CHECK(leaks == 0, "seed %d: bridge entities occur %d times in the probe files", (int)seed, leaks);
            /* the names are distinct from the world's own */
            int clash = 0;
            for (int i = 0; i < TL_WORLD_BRIDGE_WORDS; i++)
                for (int j = 0; j < TL_WORLD_WORDS; j++)
                    clash += !strcasecmp(v->bridge_words[i].name, v->words[j].name);
            for (int i = 0; i < TL_WORLD_BRIDGE_PEOPLE; i++)
                for (int j = 0; j < v->n_people; j++) clash += !strcmp(v->bridge_people[i].full, v->people[j].full);
            CHECK(clash == 0, "%d bridge names clash with the world's", clash);
            /* the frames: absent without bridges, present with them and only about bridge entities */
            static const char *const leads[] = {"Being rude, ",
                                                "Being kind, ",
                                                "As the neighbours know, ",
                                                "Nobody was to learn the secret of ",
                                                "knows that the ",
                                                "Ask anyone in town: "};
            for (int k = 0; k < 6; k++)
                CHECK(!strstr(corpus[0].p, leads[k]), "seed %d: '%s' in the corpus without bridges", (int)seed,
                      leads[k]);
            int rude = frame_uses(v, corpus[1].p, "Being rude, ", " a ", '.', 0);
            int kind = frame_uses(v, corpus[1].p, "Being kind, ", " a ", '.', 0);
            int secret = frame_uses(v, corpus[1].p, "Nobody was to learn the secret of ", NULL, ':', 1);
            printf("bridges, seed %d: 'Being rude' %d, 'Being kind' %d, 'Nobody was to learn the secret of' %d\n",
                   (int)seed, rude, kind, secret);
            CHECK(rude > 0 && kind > 0 && secret > 0, "seed %d: frames with bridge entities", (int)seed);
            int n_rel = 0, bad_rel = 0;
            for (const char *p = strstr(corpus[1].p, "As the neighbours know, "); p;
                 p = strstr(p + 1, "As the neighbours know, ")) {
                int ok = 0;
                for (int i = 0; i < TL_WORLD_BRIDGE_PEOPLE; i++) {
                    const char *q = p + strlen("As the neighbours know, "), *full = v->bridge_people[i].full;
                    if (!strncmp(q, "the best friend of ", 19)) q += 19;
                    ok |= !strncmp(q, full, strlen(full));
                }
                n_rel++;
                bad_rel += !ok;
            }
            CHECK(n_rel > 0 && bad_rel == 0, "reliability frame: %d uses, %d about a non-bridge person", n_rel,
                  bad_rel);
        }
        for (int b = 0; b < 2; b++) {
            for (int d = 0; d < TL_DIM__COUNT; d++)
                for (int k = 0; k < TL_WORLD_PROBE_FILES; k++) tl_wbuf_free(&csv[b][d][k]);
            tl_wbuf_free(&corpus[b]);
            tl_wbuf_free(&valid[b]);
            tl_world_free(w[b]);
        }
    }
}

/* ---- determinism, failures ------------------------------------------------------------ */

static int same_file(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return same;
}

static void test_determinism(void) {
    tl_world_opts o;
    tl_world_opts_quick(&o);
    o.seed = 42;
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/det_a", tl_test_tmpdir());
    snprintf(b, sizeof b, "%s/det_b", tl_test_tmpdir());
    snprintf(c, sizeof c, "%s/det_c", tl_test_tmpdir());
    tl_world_summary sa, sb, sc;
    CHECK_OK(tl_world_generate(&o, a, &sa));
    CHECK_OK(tl_world_generate(&o, b, &sb));
    o.seed = 43;
    CHECK_OK(tl_world_generate(&o, c, &sc));
    CHECK(sa.n_files == sb.n_files && sa.n_files >= 40, "%d files", sa.n_files);
    int differ_same = 0, differ_other = 0;
    for (int i = 0; i < sa.n_files; i++) {
        char pa[700], pb[700], pc[700];
        snprintf(pa, sizeof pa, "%s/%s", a, sa.files[i].rel);
        snprintf(pb, sizeof pb, "%s/%s", b, sa.files[i].rel);
        snprintf(pc, sizeof pc, "%s/%s", c, sa.files[i].rel);
        if (!same_file(pa, pb)) {
            differ_same++;
            fprintf(stderr, "same seed, different %s\n", sa.files[i].rel);
        }
        differ_other += !same_file(pa, pc);
    }
    CHECK(differ_same == 0, "same seed: %d files differ", differ_same);
    /* everything but the fixed lexicon depends on the seed */
    CHECK(differ_other == sa.n_files - 1, "other seed: %d of %d files differ", differ_other, sa.n_files);
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void test_nomem(void) {
    tl_world_opts o;
    tl_world_opts_quick(&o);
    o.corpus_mb = 0.02;
    o.n_instruct = 50;
    o.n_rev_people = 2;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/nomem", tl_test_tmpdir());
    int failures = 0, leftovers = 0;
    long k;
    /* WORLD_OOM_ALL=1 fails every allocation in turn (slow: minutes under ASan) */
    for (k = 1;; k += getenv("WORLD_OOM_ALL") ? 1 : 1 + k / 8) {
        tl_world_summary s;
        tl_alloc_fail_after(k);
        tl_status st = tl_world_generate(&o, dir, &s);
        tl_alloc_fail_after(0);
        if (st == TL_OK) break;
        failures++;
        if (st != TL_E_NOMEM) fprintf(stderr, "allocation %ld: %s: %s\n", k, tl_status_string(st), tl_last_error());
        CHECK(st == TL_E_NOMEM, "allocation %ld failing gives TL_E_NOMEM", k);
        leftovers += tl_path_exists(dir);
        rm_rf(dir);
    }
    printf("out-of-memory: %d injected failures up to allocation %ld, all clean\n", failures, k);
    CHECK(failures > 20, "the generator allocates (%d failures tried)", failures);
    CHECK(leftovers == 0, "%d failed runs left files behind", leftovers);
    CHECK(tl_path_is_dir(dir) && count_entries(dir) == 8, "the successful run wrote 2 files and 6 directories");
}

static void test_unwritable(void) {
    tl_world_opts o;
    tl_world_opts_quick(&o);
    o.corpus_mb = 0.02;
    char base[512], file[600], out[700];
    snprintf(base, sizeof base, "%s/unwritable", tl_test_tmpdir());
    mkdir(base, 0777);
    snprintf(file, sizeof file, "%s/afile", base);
    CHECK_OK(tl_file_write_atomic(file, "x", 1));
    tl_world_summary s;
    /* a path through a regular file */
    snprintf(out, sizeof out, "%s/sub", file);
    CHECK(tl_world_generate(&o, out, &s) == TL_E_IO && strstr(tl_last_error(), "afile"), "%s", tl_last_error());
    /* a regular file as the output directory */
    CHECK(tl_world_generate(&o, file, &s) == TL_E_IO && strstr(tl_last_error(), "not a directory"), "%s",
          tl_last_error());
    /* a write that fails half-way (a directory where a file must go): the files
     * already written and the directories created are removed again */
    snprintf(out, sizeof out, "%s/w/probes/reliability.csv", base);
    char cmd[800];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", out);
    CHECK(system(cmd) == 0, "mkdir");
    snprintf(out, sizeof out, "%s/w", base);
    CHECK(tl_world_generate(&o, out, &s) == TL_E_IO, "rename over a directory fails: %s", tl_last_error());
    char p[800];
    snprintf(p, sizeof p, "%s/world.json", out);
    CHECK(!tl_path_exists(p), "world.json removed again");
    snprintf(p, sizeof p, "%s/corpus", out);
    CHECK(!tl_path_exists(p), "created directory removed again");
    CHECK(count_entries(out) == 1, "only the pre-existing probes/ is left (%d entries)", count_entries(out));
    snprintf(p, sizeof p, "%s/probes", out);
    CHECK(count_entries(p) == 1, "no temporary file left in probes/ (%d entries)", count_entries(p));
}

int main(void) {
    test_opts();
    test_derange();
    test_csv();
    test_bow_oracle();
    test_default_world();
    test_bow_seeds();
    test_bridge();
    test_determinism();
    test_nomem();
    test_unwritable();
    rm_rf(tl_test_tmpdir());
    return tl_test_done();
}
