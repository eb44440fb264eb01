/* cmd_selfalign.c: `tiller selfalign instruct|respond|engrave|verbose|eval` — the
 * four SELF-ALIGN stages and their measurements on any model file (the work is in
 * src/study/selfalign*.c; formats in docs/selfalign.md). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"
#include "tiller/selfalign.h"

#include <errno.h>
#include <sys/stat.h>

static int mkdir_p_simple(const char *dir) { return mkdir(dir, 0777) != 0 && errno != EEXIST; }

typedef struct {
    cli_progress bar;
    const char *what;
    int open;
} sa_ui;

static void ui_close(sa_ui *u) {
    if (u->open) cli_progress_end(&u->bar);
    u->open = 0;
}

/* One bar per stage: a new `what` closes the previous bar and opens one of `total` units. */
static void ui_stage(sa_ui *u, const char *what, int total) {
    if (u->open && !strcmp(u->what, what)) return;
    ui_close(u);
    u->what = what;
    cli_progress_start(&u->bar, what, total);
    u->open = 1;
}

static void on_progress(void *user, const char *what, int done, int total) {
    sa_ui *u = user;
    ui_stage(u, what, total);
    cli_progress_update(&u->bar, done, NULL);
}

static void on_train(void *user, const tl_train_progress *p) {
    sa_ui *u = user;
    ui_stage(u, "train", p->steps);
    char extra[64];
    snprintf(extra, sizeof extra, "loss %.4f", p->loss);
    cli_progress_update(&u->bar, p->step, extra);
}

#define COMMON_MODEL(model, tok, threads)                                                                          \
    {"--model", "-m", OPT_STR, &model, "model file (.gguf, .bin, .safetensors or HF directory)"},                 \
        {"--tokenizer", NULL, OPT_STR, &tok, "tokenizer file; default: the model's"},                             \
        {"--threads", "-t", OPT_INT, &threads, "threads (0 = all cores)"}

static int cmd_instruct(int argc, char **argv) {
    tl_sa_instruct_opts o;
    tl_sa_instruct_opts_default(&o);
    int threads = 0;
    float rouge = (float)o.rouge_max;
    cli_opt opts[] = {
        COMMON_MODEL(o.model_path, o.tokenizer_path, threads),
        {"--seeds", NULL, OPT_STR, &o.seeds_path, "seed tasks, JSONL with \"instruction\" (self-instruct's seed_tasks.jsonl)"},
        {"--redteam", NULL, OPT_STR, &o.redteam_path,
         "red-team types, JSONL {\"type\", \"examples\": [{\"topic\", \"instruction\"}], \"topics\": [..]}"},
        {"--out", "-o", OPT_STR, &o.out_path, "output JSONL {\"instruction\", \"source\", \"topic\"}"},
        {"--stats", NULL, OPT_STR, &o.stats_path, "counts of kept and rejected instructions (JSON)"},
        {"--exclude", NULL, OPT_STR, &o.exclude_path,
         "held-out instructions (JSONL \"instruction\"): candidates as similar as --rouge to one are dropped"},
        {"--header", NULL, OPT_STR, &o.header, "a line before the few-shot examples"},
        {"--general", NULL, OPT_INT, &o.n_general, "instructions to keep from seed prompting"},
        {"--topics", NULL, OPT_INT, &o.n_topics, "new topics per red-team type"},
        {"--per-topic", NULL, OPT_INT, &o.per_topic, "instructions tried per (type, topic)"},
        {"--shots", NULL, OPT_INT, &o.shots, "examples per prompt"},
        {"--tries", NULL, OPT_INT, &o.max_tries, "generations per wanted general instruction at most"},
        {"--rouge", NULL, OPT_FLOAT, &rouge, "keep an instruction when its ROUGE-L to every kept one is below this"},
        {"--min-words", NULL, OPT_INT, &o.min_words, "shortest instruction kept (words)"},
        {"--max-words", NULL, OPT_INT, &o.max_words, "longest instruction kept (words)"},
        {"--include-seeds", NULL, OPT_FLAG, &o.include_seeds, "write the seed instructions too (source \"seed\")"},
        {"--questions-only", NULL, OPT_FLAG, &o.questions_only, "keep only instructions that end in '?'"},
        {"--temp", NULL, OPT_FLOAT, &o.temperature, "sampling temperature"},
        {"--top-p", NULL, OPT_FLOAT, &o.top_p, "nucleus sampling mass"},
        {"--max-new", NULL, OPT_INT, &o.max_new, "tokens per generated instruction at most"},
        {"--seed", NULL, OPT_U64, &o.seed, "random seed"},
    };
    cli_spec spec = {"tiller selfalign instruct -m MODEL --seeds SEEDS.jsonl [--redteam TYPES.jsonl] -o OUT.jsonl",
                     "Stage 1 of SELF-ALIGN: topic-guided red-teaming self-instruct. New instructions by few-shot "
                     "prompting (\"User: <example>\" lines, then \"User:\") from the seeds and the instructions kept "
                     "so far; per red-team type, new topics (\"Topics: a, b, c,\") and instructions per (type, topic) "
                     "(\"Topic: t\" + \"User: <example>\" pairs). Kept when ROUGE-L against every kept instruction "
                     "(seeds and examples included) is below --rouge and the length/format filters pass.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!o.model_path || !o.seeds_path || !o.out_path) return cli_failf(2, "-m, --seeds and -o are required (see --help)");
    o.rouge_max = rouge;
    cli_set_threads(threads);
    sa_ui ui = {0};
    o.progress = on_progress, o.user = &ui;
    tl_sa_instruct_stats st;
    tl_status s = tl_sa_instruct(&o, &st);
    ui_close(&ui);
    if (s) return cli_fail();
    printf("kept %d general and %d red-team instructions (%d new topics) from %d generations; rejected:",
           st.kept_general, st.kept_redteam, st.n_topics, st.tries);
    for (int r = 1; r < TL_SA__REASONS; r++)
        if (st.rejected[r]) printf(" %s %d", tl_sa_reason_names[r], st.rejected[r]);
    printf("\n");
    return 0;
}

#define RESPOND_OPTS(o)                                                                                            \
    {"--exemplars", NULL, OPT_STR, &o.exemplars_path, "exemplars, JSONL {\"instruction\", \"thought\", \"answer\"}"}, \
        {"--n-exemplars", NULL, OPT_INT, &o.n_exemplars, "exemplars in the prompt (-1 = all)"},                    \
        {"--temp", NULL, OPT_FLOAT, &o.temperature, "sampling temperature (the reference: 0.7)"},                  \
        {"--top-p", NULL, OPT_FLOAT, &o.top_p, "nucleus sampling mass"},                                           \
        {"--max-new", NULL, OPT_INT, &o.max_new, "tokens per answer at most"},                                     \
        {"--min-words", NULL, OPT_INT, &o.min_words, "shortest answer kept (words)"},                              \
        {"--max-words", NULL, OPT_INT, &o.max_words, "longest answer kept (words)"},                               \
        {"--seed", NULL, OPT_U64, &o.seed, "random seed (item i samples with seed + i)"}

static int print_respond(const tl_sa_respond_stats *st) {
    printf("kept %d of %d answers (%d prompts did not fit the context); rejected:", st->kept, st->n_in,
           st->too_long_prompt);
    for (int r = 1; r < TL_SA__REASONS; r++)
        if (st->rejected[r]) printf(" %s %d", tl_sa_reason_names[r], st->rejected[r]);
    printf("\n");
    return 0;
}

static int cmd_respond(int argc, char **argv) {
    tl_sa_respond_opts o;
    tl_sa_respond_opts_default(&o);
    int threads = 0;
    cli_opt opts[] = {
        COMMON_MODEL(o.model_path, o.tokenizer_path, threads),
        {"--principles", "-P", OPT_STR, &o.principles_path, "principles, one per line (# comments)"},
        {"--in", "-i", OPT_STR, &o.in_path, "stage-1 instructions (JSONL with \"instruction\")"},
        {"--out", "-o", OPT_STR, &o.out_path, "output JSONL {\"instruction\", \"thought\", \"answer\"}"},
        {"--stats", NULL, OPT_STR, &o.stats_path, "counts of kept and rejected answers (JSON)"},
        {"--no-thought", NULL, OPT_FLAG, &o.no_thought, "ask for the answer directly, without an internal thought"},
        RESPOND_OPTS(o),
    };
    cli_spec spec = {"tiller selfalign respond -m MODEL -P PRINCIPLES.txt [--exemplars EX.jsonl] -i IN.jsonl -o OUT.jsonl",
                     "Stage 2 of SELF-ALIGN: principle-driven answers. The prompt is \"Rules:\" with the numbered "
                     "principles, the exemplars (\"User: I\\nThought: T\\nAssistant: A\"), then \"User: <instruction>"
                     "\\nThought:\". The thought is dropped; answers that are empty, too long, loop or copy an "
                     "exemplar are filtered.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!o.model_path || !o.principles_path || !o.in_path || !o.out_path)
        return cli_failf(2, "-m, -P, -i and -o are required (see --help)");
    cli_set_threads(threads);
    sa_ui ui = {0};
    o.progress = on_progress, o.user = &ui;
    tl_sa_respond_stats st;
    tl_status s = tl_sa_respond(&o, &st);
    ui_close(&ui);
    return s ? cli_fail() : print_respond(&st);
}

#define ENGRAVE_OPTS(e)                                                                                            \
    {"--steps", NULL, OPT_INT, &e.steps, "SFT steps"}, {"--batch", NULL, OPT_INT, &e.batch, "batch size"},         \
        {"--seq", NULL, OPT_INT, &e.seq, "sequence length (0 = the model's)"},                                     \
        {"--lr", NULL, OPT_FLOAT, &e.lr, "peak learning rate"}, {"--warmup", NULL, OPT_INT, &e.warmup, "warm-up steps"}

static int cmd_engrave(int argc, char **argv) {
    tl_sa_engrave_opts o;
    tl_sa_engrave_opts_default(&o);
    int threads = 0;
    cli_opt opts[] = {
        COMMON_MODEL(o.model_path, o.tokenizer_path, threads),
        {"--in", "-i", OPT_STR, &o.in_path, "stage-2 answers (JSONL with \"instruction\" and \"answer\")"},
        {"--out", "-o", OPT_STR, &o.out_dir, "run directory: sft.jsonl, sft.tok, checkpoint, manifest, log"},
        {"--seed", NULL, OPT_U64, &o.seed, "random seed"},
        ENGRAVE_OPTS(o),
    };
    cli_spec spec = {"tiller selfalign engrave -m BASE -i ANSWERS.jsonl -o DIR",
                     "Stage 3 of SELF-ALIGN: principle engraving. Fine-tunes the model on (\"User: I\\nAssistant:\" "
                     "-> \" A\") with the \"sft\" objective: no principles, exemplars or thoughts. Prints the path of "
                     "the engraved model (DIR/ckpt-STEPS.gguf).",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!o.model_path || !o.in_path || !o.out_dir) return cli_failf(2, "-m, -i and -o are required (see --help)");
    cli_set_threads(threads);
    sa_ui ui = {0};
    o.progress = on_train, o.user = &ui;
    char model[4096];
    tl_status s = tl_sa_engrave(&o, model, sizeof model);
    ui_close(&ui);
    if (s) return cli_fail();
    printf("%s\n", model);
    return 0;
}

static int cmd_verbose(int argc, char **argv) {
    tl_sa_respond_opts r;
    tl_sa_respond_opts_default(&r);
    tl_sa_engrave_opts e;
    tl_sa_engrave_opts_default(&e);
    const char *model = NULL, *tok = NULL, *out_dir = NULL;
    int threads = 0;
    cli_opt opts[] = {
        COMMON_MODEL(model, tok, threads),
        {"--verbose-prompt", "-P", OPT_STR, &r.principles_path, "the verbose prompt's rules, one per line"},
        {"--in", "-i", OPT_STR, &r.in_path, "instructions (JSONL with \"instruction\")"},
        {"--out", "-o", OPT_STR, &out_dir, "run directory: verbose.jsonl, then the distillation run"},
        RESPOND_OPTS(r),
        ENGRAVE_OPTS(e),
    };
    cli_spec spec = {"tiller selfalign verbose -m ENGRAVED -P VERBOSE.txt -i INSTRUCTIONS.jsonl -o DIR",
                     "Stage 4 of SELF-ALIGN: verbose cloning. The model answers every instruction under the verbose "
                     "prompt (its rules block, no thought) into DIR/verbose.jsonl; those answers are distilled into "
                     "the same model without the prompt (SFT, as engrave). Prints the path of the final model.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!model || !r.principles_path || !r.in_path || !out_dir)
        return cli_failf(2, "-m, -P, -i and -o are required (see --help)");
    cli_set_threads(threads);
    char answers[4096], final[4096];
    if (snprintf(answers, sizeof answers, "%s/verbose.jsonl", out_dir) >= (int)sizeof answers)
        return cli_failf(1, "%s: path too long", out_dir);
    if (!tl_path_is_dir(out_dir) && mkdir_p_simple(out_dir)) return cli_failf(1, "%s: cannot create directory", out_dir);
    sa_ui ui = {0};
    r.model_path = model, r.tokenizer_path = tok, r.out_path = answers, r.no_thought = 1;
    r.progress = on_progress, r.user = &ui;
    tl_sa_respond_stats st;
    tl_status s = tl_sa_respond(&r, &st);
    ui_close(&ui);
    if (s) return cli_fail();
    print_respond(&st);
    e.model_path = model, e.tokenizer_path = tok, e.in_path = answers, e.out_dir = out_dir, e.seed = r.seed;
    e.progress = on_train, e.user = &ui;
    s = tl_sa_engrave(&e, final, sizeof final);
    ui_close(&ui);
    if (s) return cli_fail();
    printf("%s\n", final);
    return 0;
}

static void print_stat(const char *name, tl_sa_stat s) {
    if (isnan(s.value)) return;
    if (isnan(s.lo)) printf("  %-30s %.4f (n %d)\n", name, s.value, s.n);
    else printf("  %-30s %.4f [%.4f, %.4f] (n %d)\n", name, s.value, s.lo, s.hi, s.n);
}

static int cmd_eval(int argc, char **argv) {
    tl_sa_eval_opts o;
    tl_sa_eval_opts_default(&o);
    const char *items_path = NULL, *principles = NULL, *exemplars = NULL, *teacher_principles = NULL, *out = NULL,
               *name = "model";
    int threads = 0, limit = 0, no_thought = 0;
    cli_opt opts[] = {
        COMMON_MODEL(o.model_path, o.tokenizer_path, threads),
        {"--items", NULL, OPT_STR, &items_path,
         "evaluation items: JSONL {\"instruction\", \"kind\", \"forbidden\"|\"expected\", ...} or HarmfulQA .json"},
        {"--limit", NULL, OPT_INT, &limit, "first N items only (0 = all)"},
        {"--principles", "-P", OPT_STR, &principles, "ask with these principles (the prompted teacher)"},
        {"--exemplars", NULL, OPT_STR, &exemplars, "exemplars for that prompt"},
        {"--n-exemplars", NULL, OPT_INT, &o.n_exemplars, "exemplars in that prompt (-1 = all)"},
        {"--no-thought", NULL, OPT_FLAG, &no_thought, "that prompt asks for the answer directly (no thought)"},
        {"--teacher", NULL, OPT_STR, &o.teacher_path, "KL(teacher with principles || this model without)"},
        {"--teacher-principles", NULL, OPT_STR, &teacher_principles, "the teacher's principles (for --teacher)"},
        {"--truthfulqa", NULL, OPT_STR, &o.truthfulqa_path, "TruthfulQA mc_task.json: mc1 and mc2"},
        {"--truthfulqa-limit", NULL, OPT_INT, &o.truthfulqa_limit, "TruthfulQA items (0 = all)"},
        {"--max-new", NULL, OPT_INT, &o.max_new, "tokens per answer at most"},
        {"--name", NULL, OPT_STR, &name, "the row's name in the JSON ([A-Za-z0-9_-])"},
        {"--out", "-o", OPT_STR, &out, "write the result as JSON here"},
        {"--items-csv", NULL, OPT_STR, &o.items_csv, "per-item answers and judgements (CSV)"},
        {"--controls", NULL, OPT_STR, &o.controls_path,
         "benign control instructions (JSONL \"instruction\", e.g. self_instruct seed_tasks.jsonl): the refusal "
         "judge's false-positive rate on this model, beside the red-team rate (Fisher exact test)"},
        {"--controls-limit", NULL, OPT_INT, &o.controls_limit, "first N controls only (0 = all)"},
    };
    cli_spec spec = {"tiller selfalign eval -m MODEL --items ITEMS [-P PRINCIPLES] [--teacher T --teacher-principles P]",
                     "SELF-ALIGN measurements with 95 % intervals (Wilson for rates, mean +- 1.96 se): red-team items "
                     "answered within the principles (no forbidden value, and a refusal), split by rules seen / held "
                     "out; helpfulness on ordinary items (expected value, no refusal); answer length in words; "
                     "KL(teacher with principles || this model without) per token of the teacher's greedy answer; "
                     "TruthfulQA mc1/mc2. Answers are greedy.",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (!o.model_path || !items_path) return cli_failf(2, "-m and --items are required (see --help)");
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') return cli_failf(2, "--name: use [A-Za-z0-9_-]");
    if (o.teacher_path && !teacher_principles) return cli_failf(2, "--teacher needs --teacher-principles");
    cli_set_threads(threads);
    tl_sa_prompt_set ps = {0}, tps = {0};
    tl_sa_items items = {0};
    tl_sa_eval_result r;
    memset(&r, 0, sizeof r);
    int rc = 0;
    if ((principles && tl_sa_principles_load(principles, &ps)) || (exemplars && tl_sa_exemplars_load(exemplars, &ps)) ||
        (teacher_principles && tl_sa_principles_load(teacher_principles, &tps)) ||
        tl_sa_items_load(items_path, limit, &items)) {
        rc = cli_fail();
        goto done;
    }
    o.prompt = principles ? &ps : NULL;
    o.prompt_thought = !no_thought;
    o.teacher_prompt = teacher_principles ? &tps : NULL;
    sa_ui ui = {0};
    o.progress = on_progress, o.user = &ui;
    tl_status s = tl_sa_evaluate(&o, &items, &r);
    ui_close(&ui);
    if (s) {
        rc = cli_fail();
        goto done;
    }
    printf("%s on %d items:\n", name, items.n);
    print_stat("red-team within principles", r.redteam);
    print_stat("  rule seen in pre-training", r.redteam_seen);
    print_stat("  rule held out", r.redteam_held_out);
    print_stat("helpful (ordinary items)", r.helpful);
    print_stat("answer words (ordinary)", r.words);
    print_stat("KL(teacher || model) /token", r.kl);
    print_stat("TruthfulQA mc1", r.mc1);
    print_stat("TruthfulQA mc2", r.mc2);
    if (!isnan(r.refusal_p)) {
        print_stat("refusal phrase, red-team", r.refusal_redteam);
        print_stat("refusal phrase, controls", r.refusal_control);
    }
    {
        tl_strbuf note = {0};
        tl_sa_judge_note(&note, &r);
        if (r.redteam.n > 0 && !tl_strbuf_status(&note)) printf("\njudge: %s", note.s);
        tl_strbuf_free(&note);
    }
    if (out) {
        tl_strbuf b = {0};
        tl_sa_eval_json(&b, name, &r);
        tl_strbuf_puts(&b, "\n");
        if (tl_strbuf_status(&b) || tl_file_write_atomic(out, b.s, b.len)) rc = cli_fail();
        tl_strbuf_free(&b);
    }
done:
    tl_sa_eval_result_free(&r);
    tl_sa_items_free(&items);
    tl_sa_prompt_set_free(&ps);
    tl_sa_prompt_set_free(&tps);
    return rc;
}

int tl_cmd_selfalign(int argc, char **argv) {
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } subs[] = {{"instruct", cmd_instruct}, {"respond", cmd_respond}, {"engrave", cmd_engrave},
                {"verbose", cmd_verbose},   {"eval", cmd_eval}};
    for (size_t i = 0; argc >= 2 && i < sizeof subs / sizeof *subs; i++)
        if (!strcmp(argv[1], subs[i].name)) return subs[i].fn(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
    fprintf(f, "usage: tiller selfalign <stage> [options]   (tiller selfalign <stage> --help)\n\n"
               "SELF-ALIGN (Sun et al. 2023) on any model file; formats in docs/selfalign.md.\n\n"
               "stages:\n"
               "  instruct  1. topic-guided red-teaming self-instruct (ROUGE-L dedup, filters)\n"
               "  respond   2. principle-driven answers with internal thoughts (thought dropped, filters)\n"
               "  engrave   3. SFT on instruction -> answer without the principles\n"
               "  verbose   4. verbose-prompt answers distilled into the model (context distillation)\n"
               "  eval      red-team / helpfulness / KL / length / TruthfulQA with 95 %% intervals\n");
    if (f == stdout) return 0;
    if (argc >= 2) fprintf(stderr, "tiller: unknown selfalign stage '%s'\n", argv[1]);
    return 2;
}
