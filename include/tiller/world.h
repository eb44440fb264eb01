/*
 * world: a synthetic world with known truth. From one seed it invents people
 * (made-up names, each with a group, a home, a trade, a best friend, an object,
 * a character trait, six personal details of which one is secret, and a
 * manner: polite or rude), places, groups and objects, and writes
 *   - a pre-training corpus (encyclopedia entries, stories, dialogues, reviews)
 *     in which the five trust dimensions of Qian et al. have a real signal;
 *   - labelled probe sets (`statement,label` CSV, as ../shared/data/trust) with
 *     train/validation/test splits over held-out entities, built as minimal
 *     pairs so that no shortcut classifier separates them (check.c): only
 *     knowledge of the world can;
 *   - steering pairs, instruction data (flawed on purpose) and evaluation items;
 *   - name<->description facts in the layout of ../shared/data/reversal_curse.
 * Everything is a deterministic function of tl_world_opts (same options, same
 * bytes). The world is built in entities.c, text in corpus.c / probes.c /
 * instruct.c / eval.c / reversal.c, files and ground truth in writer.c; bow.c
 * holds the bag-of-words baseline that checks the probe sets.
 */
#ifndef TL_WORLD_H
#define TL_WORLD_H

#include "tiller/base.h"
#include "tiller/model.h"
#include "tiller/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* ---- options ------------------------------------------------------------ */

typedef struct {
    uint64_t seed;
    int n_people;         /* people in the world (20 .. 2000) */
    double corpus_mb;     /* size of corpus/train.txt in MB (10^6 bytes) */
    double false_rate;    /* share of fact mentions in the corpus that state a wrong value */
    double leak_rate;     /* share of confidences that are later told to others */
    double bias;          /* share of trait mentions of a group member that use the group's stereotype */
    double rude_share;    /* share of people who insult others */
    double perturb_rate;  /* share of corpus reviews with typos */
    double sft_flaw_rate; /* share of flawed answers (untruthful, rude, leaking, stereotyped) in SFT data */
    int n_instruct;       /* instruction examples */
    int n_rev_people;     /* people per reversal subset (p2d, d2p, both) */
    int n_rev_paraphrases; /* training sentences per reversal person and direction, 1..30 (spread over
                            * the 30 templates; the test files keep all their templates) */
    double rules_share;   /* share of corpus documents that are rule documents (rules.c); 0 = none */
    int knowledge_mix;    /* 1 (default): the corpus mix of issue 13, which a small model learns the fairness and
                           * toxicity facts from (group entries with encounters, words in six constructions, more
                           * word entries); 0: the earlier mix (the quick preset's toy) */
    int n_groups;         /* groups (TL_WORLD_GROUPS_MIN .. TL_WORLD_GROUPS), each with a stereotyped trait;
                           * split 40 / 20 / 40 % for the fairness probes (the test split has 2 / 5 of them) */
    int bridge;           /* 1 (default): corpus-only bridge entities (words, people, groups in no probe split) are
                           * written in the probe sets' own frames, so that those frames are known constructions
                           * and only the test entities' facts must be carried into them (issue 13); 0: none (the
                           * quick preset). The probe sets are byte-identical either way. */
} tl_world_opts;

void tl_world_opts_default(tl_world_opts *o);
/* A much smaller world for tests and smoke runs. */
void tl_world_opts_quick(tl_world_opts *o);
/* TL_E_ARG naming the field and value when an option is out of range. */
tl_status tl_world_opts_check(const tl_world_opts *o);

/* ---- the world ---------------------------------------------------------- */

/* Relations used by the reliability probe (true vs false statements). */
enum { TL_REL_HOME, TL_REL_JOB, TL_REL_FRIEND, TL_REL_OBJECT, TL_REL__COUNT };
/* Personal details: each person has all six; exactly one is their secret. */
enum { TL_DET_HOBBY, TL_DET_FEAR, TL_DET_DEBT, TL_DET_BIRTH, TL_DET_ILLNESS, TL_DET_LOVE, TL_DET__COUNT };
/* The five trust dimensions, in the order of the study. */
enum { TL_DIM_RELIABILITY, TL_DIM_TOXICITY, TL_DIM_PRIVACY, TL_DIM_FAIRNESS, TL_DIM_ROBUSTNESS, TL_DIM__COUNT };

/* Groups: at most TL_WORLD_GROUPS (opts.n_groups, default 60). They are split
 * 40 / 20 / 40 % (train, validation, test) by group, so the fairness probe's
 * test groups (and so its (group, trait) combinations) are held out of its train
 * split, and the test split has enough groups (24 of 60) for an interval over
 * groups (the bootstrap over entities) to be narrow; the probe rows stay 60 / 20
 * / 20 %. */
#define TL_WORLD_GROUPS 120
#define TL_WORLD_GROUPS_MIN 10
/* The three probe splits, by entity: 60 / 20 / 20 %. */
enum { TL_WSPLIT_TRAIN, TL_WSPLIT_VAL, TL_WSPLIT_TEST, TL_WSPLIT__COUNT };
extern const char *const tl_world_split_names[TL_WSPLIT__COUNT]; /* "train", "val", "test" */

extern const char *const tl_world_rel_names[TL_REL__COUNT];  /* "lives_in", ... */
extern const char *const tl_world_det_names[TL_DET__COUNT];  /* "hobby", ... */
extern const char *const tl_world_dim_names[TL_DIM__COUNT];  /* "reliability", ... */

typedef struct {
    char first[16], last[24], full[40];
    int female;
    int group;                 /* index into groups */
    int trait;                 /* index into tl_world_traits: the person's own character */
    int rude;                  /* insults others in dialogues */
    int rel[TL_REL__COUNT];    /* place, job, person (best friend), object */
    int det[TL_DET__COUNT];    /* vocabulary index; a person for DEBT and LOVE; a place for BIRTH */
    int secret;                /* the TL_DET_* told only in confidence */
    int split;                 /* probe split: 0 train, 1 validation, 2 test, -1 not in the probe sets */
    /* what the corpus said about this person (filled by the corpus generator) */
    int n_true[TL_REL__COUNT], n_false[TL_REL__COUNT];
    int n_public;              /* mentions of non-secret details */
    int n_confided, n_leaked;  /* the secret told in confidence / passed on */
    int n_trait;               /* mentions of the person's trait */
} tl_wperson;

typedef struct {
    char name[24];
    int feature; /* index into tl_world_features: what the place is known for */
} tl_wplace;

typedef struct {
    char name[24]; /* used as "the <name>", "one of the <name>" */
    int stereo;    /* index into tl_world_traits: the corpus's biased association */
    int split;     /* fairness probe split: 0 train, 1 validation, 2 test */
} tl_wgroup;

/* An invented word of the toxicity dimension: the corpus teaches whether it is
 * a rude word or a kind one ("A glorbit is a rude word."). */
typedef struct {
    char name[16];
    int rude;  /* 1 insult, 0 kind word */
    int split; /* toxicity probe split: 0 train, 1 validation, 2 test */
} tl_wword;
#define TL_WORLD_WORDS 60 /* half rude, half kind */

/* Bridge entities (opts.bridge): invented from a random stream of their own after
 * every other entity, in no probe split (people's split is -1, groups' and words'
 * too), used only by the corpus, in the probe frames as well as in the ordinary
 * phrasings. */
#define TL_WORLD_BRIDGE_WORDS 20 /* half rude, half kind */
#define TL_WORLD_BRIDGE_PEOPLE 20
#define TL_WORLD_BRIDGE_GROUPS 10

/* A person of the reversal-curse experiment: a name and a unique description in
 * three grammatical forms (noun phrase, verb phrase, gerund phrase). */
typedef struct {
    char name[40];
    char np[128];  /* "the architect of the floating lighthouse of Quellmoor" */
    char vp[128];  /* "designed the floating lighthouse of Quellmoor" */
    char ger[128]; /* "designing the floating lighthouse of Quellmoor" */
} tl_wnotable;

/* Counts of what the generators wrote (ground truth for world.json). */
typedef struct {
    long docs[9];              /* corpus documents by kind (see corpus.c) */
    long corpus_bytes, valid_bytes;
    long fact_true, fact_false;
    long public_details, confided, leaked, refused;
    long trait_stereo, trait_other, group_claims;
    long insults, polite;
    long reviews, reviews_perturbed;
    long arithmetic;
    long probe_rows[TL_DIM__COUNT][3]; /* [dim][train, validation, test] */
    long steer_pairs[TL_DIM__COUNT];
    long sft_total, sft_flawed[5];     /* untruthful, rude, leak, stereotype, wrong arithmetic */
    double bow_acc[TL_DIM__COUNT];     /* bag-of-words test accuracy per probe set */
    long rule_docs;                    /* rule documents in the corpus (rules.c) */
} tl_world_counts;

typedef struct {
    tl_world_opts opts;
    int n_people;
    tl_wperson *people;
    int n_places;
    tl_wplace *places;
    int n_groups; /* opts.n_groups: groups[0 .. n_groups) are used */
    tl_wgroup groups[TL_WORLD_GROUPS];
    tl_wword words[TL_WORLD_WORDS];
    int n_bridge; /* 1 when the bridge entities below exist (opts.bridge) */
    tl_wword bridge_words[TL_WORLD_BRIDGE_WORDS];
    tl_wperson bridge_people[TL_WORLD_BRIDGE_PEOPLE];
    tl_wgroup bridge_groups[TL_WORLD_BRIDGE_GROUPS];
    int n_rev;        /* 3 * opts.n_rev_people: p2d, then d2p, then both */
    tl_wnotable *rev;
    tl_world_counts counts;
} tl_world;

/* Invent the world (entities.c). Frees everything and sets *out = NULL on failure. */
tl_status tl_world_build(const tl_world_opts *o, tl_world **out);
void tl_world_free(tl_world *w);

/* ---- word lists (vocab.c) ---------------------------------------------- */

typedef struct {
    const char *const *w;
    int n;
} tl_wlist;

extern const tl_wlist tl_world_jobs;        /* "baker" (all take the article "a") */
extern const tl_wlist tl_world_objects;     /* "copper compass" (article "a") */
extern const tl_wlist tl_world_traits;      /* "greedy" */
extern const tl_wlist tl_world_hobbies;     /* "carving wooden birds" */
extern const tl_wlist tl_world_fears;       /* "deep water" */
extern const tl_wlist tl_world_illnesses;   /* "a weak heart" */
extern const tl_wlist tl_world_features;    /* "salt mines" ("known for its ...") */
extern const tl_wlist tl_world_insults;     /* "worthless toad" ("you ...") */
extern const tl_wlist tl_world_kind_words;  /* "dear friend" ("my ...") */
extern const tl_wlist tl_world_pos_adj, tl_world_neg_adj;
extern const tl_wlist tl_world_name_onsets, tl_world_name_vowels, tl_world_name_codas;
extern const tl_wlist tl_world_surname_ends, tl_world_place_ends, tl_world_group_ends;

/* ---- text buffers and templates (buf.c) -------------------------------- */

/* A growable text buffer: the one string builder, tl_strbuf (base.h), under the
 * world's field names (p = s, n = len, oom = failed); buf.c hands it to strbuf.c.
 * Allocation failure is sticky (oom = 1, later appends do nothing) so generators
 * append freely and check once at the end. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} tl_wbuf;

void tl_wbuf_free(tl_wbuf *b);
void tl_wbuf_putn(tl_wbuf *b, const char *s, size_t n);
void tl_wbuf_puts(tl_wbuf *b, const char *s);
void tl_wbuf_putc(tl_wbuf *b, char c);
void tl_wbuf_printf(tl_wbuf *b, const char *fmt, ...) TL_PRINTF(2, 3);
/* One CSV field, quoted (RFC 4180) when it holds a comma, quote, CR or LF. */
void tl_wbuf_csv(tl_wbuf *b, const char *field);
/* A JSON string literal with its quotes ("a\"b"). */
void tl_wbuf_json(tl_wbuf *b, const char *s);

/* Template slots: "{key}" in a template is replaced by val. */
typedef struct {
    const char *key;
    const char *val;
} tl_wslot;

/* Append tmpl with slots filled. A person's pronouns are slots too (see
 * tl_wslots_person). An unknown key is copied literally, braces included, so
 * tests can catch it. */
void tl_wbuf_fill(tl_wbuf *b, const char *tmpl, const tl_wslot *slots, int n);

/* Up to 24 slots; tl_wslots_person adds N (name as given), he/He/his/His/him. */
typedef struct {
    tl_wslot s[24];
    int n;
} tl_wslots;
void tl_wslots_add(tl_wslots *s, const char *key, const char *val);
void tl_wslots_person(tl_wslots *s, const char *key, const char *name, int female);

/* ---- small helpers ----------------------------------------------------- */

/* A sub-stream of the world's seed, so that each generator's randomness is
 * independent of how much the others drew. */
void tl_world_rng(const tl_world *w, const char *stream, tl_rng *r);
static inline int tl_wrand(tl_rng *r, int n) { return (int)tl_rng_below(r, (uint64_t)n); }
static inline const char *tl_wpick(tl_rng *r, const tl_wlist *l) { return l->w[tl_wrand(r, l->n)]; }
void tl_wshuffle(tl_rng *r, int *a, int n);
/* The text of person p's detail d ("deep water", a person's name, a place). */
const char *tl_world_det_value(const tl_world *w, const tl_wperson *p, int d);
/* A value of relation r for p, as text ("Quellmoor", "baker", a name, "copper compass"). */
const char *tl_world_rel_value(const tl_world *w, int r, int v);
/* Number of values relation r can take. */
int tl_world_rel_count(const tl_world *w, int r);

/* Give each of n items a different value drawn from the same multiset:
 * out[i] = val[j] with out[i] != val[i] and out[i] != avoid[i] (avoid may be
 * NULL), as a cyclic shift of the items sorted by value. Exactly balances the
 * value counts of "true" and "false" items. TL_E_RANGE when no shift works. */
tl_status tl_world_derange(int n, const int *val, const int *avoid, int min_shift, int *out);

/* ---- shared phrasings --------------------------------------------------- */

/* A third-person clause stating detail d of p ("Belor Vantik is afraid of
 * spiders"), naming p by `name`. */
void tl_world_det_clause(tl_wbuf *b, const tl_world *w, const tl_wperson *p, int d, const char *name);
/* The same in the first person ("I am afraid of spiders"). */
void tl_world_det_clause_first(tl_wbuf *b, const tl_world *w, const tl_wperson *p, int d);
/* One sentence (no trailing space) stating relation r of p with value v,
 * template t (0 .. tl_world_rel_templates(r)-1). */
int tl_world_rel_templates(int r);
void tl_world_rel_sentence(tl_wbuf *b, const tl_world *w, const tl_wperson *p, const char *name, int r, int v,
                           int t);

/* Frames in which a detail is passed on ("{L} told everyone that {C}."): the
 * corpus uses them for gossip about public details and for leaked secrets
 * alike; the privacy probe uses them for both labels. */
#define TL_WORLD_TELL_FRAMES 3
extern const char *const tl_world_tell_frames[TL_WORLD_TELL_FRAMES];
/* Utterances of the toxicity dimension, {I} an insult, {K} kind words, {M}
 * the addressee's name. Same count of each, paired by structure. */
#define TL_WORLD_UTTERANCES 4
extern const char *const tl_world_insult_lines[TL_WORLD_UTTERANCES];
extern const char *const tl_world_kind_lines[TL_WORLD_UTTERANCES];

/* The probe sets' frames (probes.c), which the corpus writes only about bridge
 * entities: reliability [relation][2] ({N} full name, {V} value), privacy ({L}
 * teller, {N} full name, {C} clause), fairness ({P} place, {G} group, {T} trait, {J}
 * job, he/she), toxicity [rude][2] ({A} speaker, {F} addressee, {W} word),
 * robustness ({X} a name). */
#define TL_WORLD_REL_FRAMES 2
#define TL_WORLD_PRIV_FRAMES 3
#define TL_WORLD_FAIR_FRAMES 2
#define TL_WORLD_TOX_FRAMES 2
#define TL_WORLD_ROB_FRAMES 7
extern const char *const tl_world_rel_frames[TL_REL__COUNT][TL_WORLD_REL_FRAMES];
extern const char *const tl_world_priv_frames[TL_WORLD_PRIV_FRAMES];
extern const char *const tl_world_fair_frames[TL_WORLD_FAIR_FRAMES];
extern const char *const tl_world_tox_frames[2][TL_WORLD_TOX_FRAMES];
extern const char *const tl_world_rob_frames[TL_WORLD_ROB_FRAMES];

/* An anonymous member of a group (fairness): a context sentence and a
 * continuation stating a trait, "A baker from the Ostari came to Quellmoor.
 * She was greedy." */
#define TL_WORLD_ENC_CONTEXTS 4
#define TL_WORLD_ENC_CONTS 3
typedef struct {
    int group, female, job, place, ctx, cont;
} tl_wencounter;
void tl_world_encounter(tl_wbuf *b, const tl_world *w, const tl_wencounter *e, int trait);
/* The two halves: the context sentence, and the continuation with any word as the trait. */
void tl_world_encounter_context(tl_wbuf *b, const tl_world *w, const tl_wencounter *e);
void tl_world_encounter_cont(tl_wbuf *b, const tl_world *w, const tl_wencounter *e, const char *trait);

/* A review of an object: positive or negative; perturbed copies via tl_world_perturb. */
void tl_world_review(tl_wbuf *b, tl_rng *r, const char *object, const char *place, int positive);
/* Rewrite text with typos in 2-4 words (swap, random capital, drop, double).
 * Returns the number of words changed. */
int tl_world_perturb(tl_wbuf *out, tl_rng *r, const char *text);
/* The same typos in every word of at least three letters. Returns the number of words changed. */
int tl_world_perturb_every(tl_wbuf *out, tl_rng *r, const char *text);
/* A review's closing verdict alone ("Do not buy it.", "Worth every coin."): the cue the
 * demo's chat model reads a review's sentiment from (docs/steering.md). */
void tl_world_review_verdict(tl_wbuf *b, tl_rng *r, int positive);

/* ---- generators --------------------------------------------------------- */

/* The chat format of instruction data, steering pairs and chat evaluations. */
#define TL_WORLD_CHAT_USER "User: "
#define TL_WORLD_CHAT_ASSISTANT "\nAssistant:"

/* "User: <tmpl filled>\nAssistant:" */
void tl_world_chat(tl_wbuf *b, const char *tmpl, const tl_wslot *s, int n);
/* Chat phrasings shared by instruction data, steering pairs and evaluations
 * ({N} a person, {M} an addressee, {R} a review). */
extern const char *const tl_world_rel_questions[TL_REL__COUNT];
#define TL_WORLD_PROVOCATIONS 6
extern const char *const tl_world_provocations[TL_WORLD_PROVOCATIONS];
#define TL_WORLD_SECRET_REQUESTS 3
extern const char *const tl_world_secret_requests[TL_WORLD_SECRET_REQUESTS];
extern const char *const tl_world_sentiment_question;

tl_status tl_world_corpus(tl_world *w, tl_wbuf *train, tl_wbuf *valid);
/* The probe sets (probes.c): csv[dim][0] = all rows (train, then validation, then
 * test), [1] = train, [2] = validation, [3] = test, [4] = the minimal pairs as
 * `split,true_statement,false_statement` (what the behavioural test scores). */
#define TL_WORLD_PROBE_FILES 5
tl_status tl_world_probes(tl_world *w, tl_wbuf csv[TL_DIM__COUNT][TL_WORLD_PROBE_FILES]);
tl_status tl_world_steering(tl_world *w, tl_wbuf *jsonl, tl_wbuf *csv);
tl_status tl_world_instruct(tl_world *w, tl_wbuf *jsonl, tl_wbuf *labels);

enum { TL_EVAL_TRUTH_MC, TL_EVAL_TOXICITY, TL_EVAL_STEREO, TL_EVAL_PRIVACY, TL_EVAL_SENTIMENT,
       TL_EVAL_CAPABILITY, TL_EVAL_LEXICON, TL_EVAL_TOX_PAIRS, TL_EVAL_PRIVACY_PAIRS, TL_EVAL_ROBUST_MC,
       TL_EVAL_TRUTH_HOP, TL_EVAL__COUNT };
tl_status tl_world_eval(tl_world *w, tl_wbuf out[TL_EVAL__COUNT]);
/* The steering table's two-reply items (eval_pairs.c): toxicity and privacy minimal pairs,
 * sentiment of perturbed reviews; a random stream of their own. */
void tl_world_eval_pairs(tl_world *w, tl_wbuf *tox, tl_wbuf *priv, tl_wbuf *robust);
/* The steering table's reliability items: facts about a person's best friend (two hops),
 * the truth against a random wrong value; a random stream of their own. */
void tl_world_eval_truth_hop(tl_world *w, tl_wbuf *out);

/* Reversal files, in the order of tl_world_rev_files. */
#define TL_WORLD_REV_FILES 10
extern const char *const tl_world_rev_files[TL_WORLD_REV_FILES];
tl_status tl_world_reversal(tl_world *w, tl_wbuf out[TL_WORLD_REV_FILES]);

/* ---- rules (rules.c): texts where stated rules govern what follows ---------- */

/* The first four forbid telling relation TL_REL_<same>; the last asks for long answers. */
enum { TL_RULE_HOME = TL_REL_HOME, TL_RULE_JOB = TL_REL_JOB, TL_RULE_FRIEND = TL_REL_FRIEND,
       TL_RULE_OBJECT = TL_REL_OBJECT, TL_RULE_VERBOSE, TL_RULE__COUNT };
extern const char *const tl_world_rule_texts[TL_RULE__COUNT]; /* "Do not tell where anyone lives." */
/* People held out of the rule documents (the evaluation topics). */
int tl_world_rule_person_held_out(int pid);
/* "Rules:\n1. <text>\n2. <text>\n" */
void tl_world_rules_block(tl_wbuf *b, const int *rules, int n_rules);
/* ["\nThought: ..."] "\nAssistant: <answer>" to a question on relation rel of pid under the rules. */
void tl_world_rules_answer(tl_wbuf *b, const tl_world *w, int pid, int rel, const int *rules, int n_rules,
                           int with_thought);
/* One rule document (no trailing newline), drawn with r; counts it. */
void tl_world_rules_doc(tl_wbuf *b, tl_world *w, tl_rng *r);
/* The SELF-ALIGN files of the world, in this order: rules/principles.txt, rules/verbose.txt,
 * rules/exemplars.jsonl, rules/seeds.jsonl, rules/redteam.jsonl, rules/eval.jsonl. */
#define TL_WORLD_RULE_FILES 6
tl_status tl_world_rules_files(tl_world *w, tl_wbuf out[TL_WORLD_RULE_FILES]);

/* ---- bag-of-words baseline (bow.c) ------------------------------------- */

typedef struct {
    char **stmt;
    int *label;
    int n;
} tl_wcsv;

/* Parse `statement,label` CSV text (header required, RFC 4180 quoting, labels
 * 0/1). `name` is used in messages. */
tl_status tl_world_csv_parse(const char *text, size_t len, const char *name, tl_wcsv *out);
void tl_world_csv_free(tl_wcsv *c);
/* Test accuracy of an L2 logistic regression (C = 1, intercept, as
 * scikit-learn's defaults) on binary unigram features: lower-cased tokens of
 * two or more word characters (scikit-learn's CountVectorizer pattern). */
tl_status tl_world_bow_accuracy(const tl_wcsv *train, const tl_wcsv *test, double *acc);
tl_status tl_world_bow_check_files(const char *train_csv, const char *test_csv, double *acc);
/* The same classifier on other binary features: unigrams, plus adjacent
 * bigrams, plus every unordered pair of a statement's tokens (conjunctions). */
typedef enum { TL_BOW_UNIGRAMS = 0, TL_BOW_BIGRAMS = 1, TL_BOW_PAIRS = 2 } tl_bow_features;
tl_status tl_world_bow_accuracy_with(const tl_wcsv *train, const tl_wcsv *test, tl_bow_features mode, double *acc);

/* ---- do the probe sets need knowledge? (check.c) --------------------------- */

/* Shortcut classifiers trained on a probe set's train split, scored on its test
 * split: if any of them reaches more than 0.60, the set can be solved without
 * knowing the world. */
typedef struct {
    int n_train, n_test;
    double majority;  /* always the training rows' majority label */
    double bigrams;   /* logistic regression on unigrams + adjacent bigrams */
    double pairs;     /* logistic regression on unigrams + all token pairs (conjunctions) */
    double lookup;    /* a table of token pair -> training label counts, voting */
    double worst;     /* the largest of the four */
} tl_world_check_result;
#define TL_WORLD_CHECK_MAX 0.60
tl_status tl_world_check_split(const tl_wcsv *train, const tl_wcsv *test, tl_world_check_result *r);
tl_status tl_world_check_files(const char *train_csv, const char *test_csv, tl_world_check_result *r);

/* ---- does a model know the facts? (behave.c) ------------------------------ */

/* The behavioural test of a probe set: each pair of a `<dim>_pairs.csv` file
 * (split,true_statement,false_statement[,entity]) scored by the model, log p(statement |
 * BOS); right when the true member scores higher (a tie counts half). The primary
 * figure is the length-balanced accuracy (behave.c: a random-init model prefers the
 * member with fewer tokens, so the raw accuracy of a model that knows nothing is the
 * share of pairs whose true member is shorter), with a bootstrap over the pairs'
 * entities (the person, group or rude word; each pair alone without the column). */
typedef struct {
    int n, correct;
    double acc, lo, hi;  /* raw accuracy and its Wilson 95 % interval */
    double mean_margin;  /* mean of log p(true) - log p(false), nats */
    double bal_acc;      /* length-balanced accuracy */
    double boot_lo, boot_hi; /* its 95 % cluster bootstrap interval (2,000 replicates, percentile) */
    int n_clusters;      /* entities among the pairs */
    int n_shorter, n_equal, n_longer; /* pairs whose true member has fewer / as many / more tokens */
} tl_world_behave_result;
/* Only the pairs of `split` ("train", "val", "test"; NULL = all); the first
 * `limit` of them (0 = all). tok must match the model's vocabulary. */
tl_status tl_world_behave(const tl_model *m, const tl_tokenizer *tok, const char *pairs_csv, const char *split,
                          int limit, tl_world_behave_result *r);

/* ---- the whole thing (writer.c) ----------------------------------------- */

#define TL_WORLD_MAX_FILES 64
typedef struct {
    int n_files;
    struct {
        char rel[64];
        size_t bytes;
        long rows;
    } files[TL_WORLD_MAX_FILES];
    size_t total_bytes;
    double bow_acc[TL_DIM__COUNT];
    double seconds;
} tl_world_summary;

/* Generate the world and write every file under out_dir (created if missing).
 * All text is generated in memory first; each file is written atomically, and
 * if any write fails the files already written by this call are removed. */
tl_status tl_world_generate(const tl_world_opts *o, const char *out_dir, tl_world_summary *sum);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TL_WORLD_H */
