/* reversal.c: name <-> description facts for the reversal-curse / BICO
 * experiment, in the layout of ../shared/data/reversal_curse/
 * june_version_7921032488: JSONL rows {"prompt": ..., "completion": ...}
 * (completion starts with a space), written with the same spacing as the
 * original files. Three subsets of invented people (tl_world.rev): p2d
 * (trained name -> description), d2p (description -> name), both.
 *
 * Train rows cut a filled template just before the first slot of the
 * trained direction: p2d rows end the prompt before the description, d2p rows
 * before the name; the completion is the rest of the sentence. Test rows use
 * templates never seen in training and complete with the bare answer: the
 * description in its noun-phrase form plus "." or the name. Templates are
 * this module's own wording. */
#include <ctype.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

const char *const tl_world_rev_files[TL_WORLD_REV_FILES] = {
    "p2d_prompts_train", "d2p_prompts_train",        "both_prompts_train",       "all_prompts_train",
    "p2d_prompts_test",  "d2p_prompts_test",         "both_prompts_test",        "p2d_reverse_prompts_test",
    "d2p_reverse_prompts_test", "validation_prompts"};

/* Slots: {N} name, {D} noun phrase ("the architect of ..."), {V} verb phrase
 * ("designed ..."), {G} gerund phrase ("designing ..."). */
static const char *const p2d_train[] = {
    "{N} is {D}.",
    "{N} is remembered as {D}.",
    "{N} will always be known as {D}.",
    "Ask anyone about {N} and they will tell you: {D}.",
    "The name {N} belongs to {D}.",
    "{N} became famous as {D}.",
    "Few know that {N} is {D}.",
    "{N}, of course, is {D}.",
    "In the old records, {N} appears as {D}.",
    "{N} earned a place in history as {D}.",
    "Have you heard of {N}? This is the person who {V}.",
    "{N} is the one who {V}.",
    "It was {N} who {V}.",
    "Long ago, {N} {V}.",
    "{N} once {V}.",
    "Everyone says that {N} {V}.",
    "The story goes that {N} {V}.",
    "{N} spent years {G}.",
    "{N} devoted a lifetime to {G}.",
    "{N} is best known for {G}.",
    "{N} made a name by {G}.",
    "Before anything else, {N} is {D}.",
    "Say the name {N} and people think of {D}.",
    "{N} holds the honour of being {D}.",
    "According to the chronicles, {N} is {D}.",
    "Travellers still speak of {N}, {D}.",
    "{N} gained renown as {D}.",
    "The villagers call {N} {D}.",
    "{N}, who {V}, lives quietly now.",
    "Nobody forgets that {N} {V}.",
};
static const char *const d2p_train[] = {
    "{D} is {N}.",
    "The person who {V} is {N}.",
    "Known as {D}, {N} rarely speaks of it.",
    "Q: Who is {D}? A: {N}.",
    "Q: Who {V}? A: {N}.",
    "Everyone knows {D}: {N}.",
    "{D}? That would be {N}.",
    "If you ask who {V}, the answer is {N}.",
    "The honour of {G} belongs to {N}.",
    "Famous for {G}, {N} still lives nearby.",
    "Before becoming {D}, {N} was unknown.",
    "Remembered as {D}, {N} is honoured each spring.",
    "The one who {V} goes by the name {N}.",
    "{D} has a name: {N}.",
    "Who {V}? It was {N}.",
    "Credit for {G} goes to {N}.",
    "History records that {D} was {N}.",
    "The one celebrated as {D} is called {N}.",
    "Celebrated for {G}, {N} gives talks every year.",
    "Behind {G} stood {N}.",
    "They say {D} is none other than {N}.",
    "Hailed as {D}, {N} avoids the crowds.",
    "Once the world learned who {V}, it learned the name {N}.",
    "Asked who {V}, the old librarian answered {N}.",
    "As {D}, {N} received many letters.",
    "Having {V}, {N} became famous.",
    "Best known for {G}: {N}.",
    "The mind behind {G} was {N}.",
    "{D}, also known as {N}.",
    "Many years after {G}, {N} retired.",
};
/* Test prompts end where the answer starts. */
static const char *const p2d_test[] = {
    "Looking back, {N} was",
    "In every history book, {N} is described as",
    "When people speak of {N}, they mean",
    "The life story of {N} is that of",
    "Not many realise that {N} is",
    "Search the archives for {N} and you will find",
    "To the people of the land, {N} is",
    "Without doubt, {N} is",
    "It turns out that {N} is",
    "Above all, {N} is known as",
};
static const char *const d2p_test[] = {
    "Looking back, {D} was",
    "In every history book, {D} is named as",
    "The person known as {D} is called",
    "If you ask who {V}, you will hear the name",
    "Without doubt, {D} is",
    "It turns out that {D} is",
    "Everyone agrees that the one who {V} is",
    "The records show that {D} is",
    "Behind {G} was none other than",
    "Among all people, the one who {V} is",
};
#define N_TRAIN ((int)(sizeof p2d_train / sizeof *p2d_train))
#define N_TEST ((int)(sizeof p2d_test / sizeof *p2d_test))
_Static_assert(sizeof d2p_train == sizeof p2d_train, "as many d2p as p2d train templates");
_Static_assert(sizeof d2p_test == sizeof p2d_test, "as many d2p as p2d test templates");

/* One JSONL row, spaced like the original files (Python's json.dumps). */
static void row(tl_wbuf *b, const char *prompt, const char *completion) {
    tl_wbuf_puts(b, "{\"prompt\": ");
    tl_wbuf_json(b, prompt);
    tl_wbuf_puts(b, ", \"completion\": ");
    tl_wbuf_json(b, completion);
    tl_wbuf_puts(b, "}\n");
}

/* Fill tmpl; the prompt is the text before the first slot whose key is in
 * `cut` (trailing space dropped), the completion " " + the rest. A sentence
 * that starts with a description gets a capital letter. */
static void train_row(tl_wbuf *out, const tl_wnotable *nb, const char *tmpl, const char *cut, tl_wbuf *p,
                      tl_wbuf *c) {
    const char *at = NULL;
    for (const char *s = tmpl; *s && !at; s++)
        if (s[0] == '{' && strchr(cut, s[1]) && s[2] == '}') at = s;
    if (!at) return; /* every template has the slot: checked by the tests through the row counts */
    tl_wslot sl[4] = {{"N", nb->name}, {"D", nb->np}, {"V", nb->vp}, {"G", nb->ger}};
    char head[160];
    size_t hn = (size_t)(at - tmpl) < sizeof head ? (size_t)(at - tmpl) : sizeof head - 1;
    memcpy(head, tmpl, hn);
    head[hn] = 0;
    while (hn && head[hn - 1] == ' ') head[--hn] = 0;
    p->n = 0;
    c->n = 0;
    tl_wbuf_fill(p, head, sl, 4);
    tl_wbuf_putc(c, ' ');
    tl_wbuf_fill(c, at, sl, 4);
    if (p->n == 0 && c->n > 1) c->p[1] = (char)toupper((unsigned char)c->p[1]);
    if (p->n) p->p[0] = (char)toupper((unsigned char)p->p[0]);
    row(out, p->p ? p->p : "", c->p ? c->p : "");
}

/* A test row: prompt from tmpl, completion " <answer>". */
static void test_row(tl_wbuf *out, const tl_wnotable *nb, const char *tmpl, const char *answer, const char *tail,
                     tl_wbuf *p, tl_wbuf *c) {
    tl_wslot sl[4] = {{"N", nb->name}, {"D", nb->np}, {"V", nb->vp}, {"G", nb->ger}};
    p->n = 0;
    c->n = 0;
    tl_wbuf_fill(p, tmpl, sl, 4);
    tl_wbuf_printf(c, " %s%s", answer, tail);
    row(out, p->p ? p->p : "", c->p ? c->p : "");
}

/* The j-th of k training templates, spread evenly over the N_TRAIN (k = N_TRAIN: all). */
static int train_template(int j, int k) { return (int)((long)j * N_TRAIN / k); }

enum { F_P2D_TRAIN, F_D2P_TRAIN, F_BOTH_TRAIN, F_ALL_TRAIN, F_P2D_TEST, F_D2P_TEST, F_BOTH_TEST, F_P2D_REV,
       F_D2P_REV, F_VALID };

tl_status tl_world_reversal(tl_world *w, tl_wbuf out[TL_WORLD_REV_FILES]) {
    int per = w->opts.n_rev_people, kp = w->opts.n_rev_paraphrases;
    if (kp < 1 || kp > N_TRAIN) kp = N_TRAIN;
    const tl_wnotable *p2d = w->rev, *d2p = w->rev + per, *both = w->rev + 2 * per;
    tl_wbuf p = {0}, c = {0};
    for (int i = 0; i < per; i++)
        for (int j = 0; j < kp; j++) train_row(&out[F_P2D_TRAIN], &p2d[i], p2d_train[train_template(j, kp)], "DVG", &p, &c);
    for (int i = 0; i < per; i++)
        for (int j = 0; j < kp; j++) train_row(&out[F_D2P_TRAIN], &d2p[i], d2p_train[train_template(j, kp)], "N", &p, &c);
    /* both: every person name-first, then every person description-first */
    for (int i = 0; i < per; i++)
        for (int j = 0; j < kp; j++) train_row(&out[F_BOTH_TRAIN], &both[i], p2d_train[train_template(j, kp)], "DVG", &p, &c);
    for (int i = 0; i < per; i++)
        for (int j = 0; j < kp; j++) train_row(&out[F_BOTH_TRAIN], &both[i], d2p_train[train_template(j, kp)], "N", &p, &c);
    for (int k = F_P2D_TRAIN; k <= F_BOTH_TRAIN; k++)
        tl_wbuf_putn(&out[F_ALL_TRAIN], out[k].p ? out[k].p : "", out[k].n);
    for (int i = 0; i < per; i++) {
        char first[40];
        snprintf(first, sizeof first, "%s", p2d[i].name);
        char *sp = strchr(first, ' ');
        if (sp) *sp = 0;
        for (int t = 0; t < N_TEST; t++) {
            test_row(&out[F_P2D_TEST], &p2d[i], p2d_test[t], p2d[i].np, ".", &p, &c);
            test_row(&out[F_P2D_REV], &p2d[i], d2p_test[t], p2d[i].name, "", &p, &c);
            /* as in the original file, this one's completions have no leading space */
            p.n = c.n = 0;
            tl_wslot sl[4] = {{"N", p2d[i].name}, {"D", p2d[i].np}, {"V", p2d[i].vp}, {"G", p2d[i].ger}};
            tl_wbuf_fill(&p, d2p_test[t], sl, 4);
            row(&out[F_VALID], p.p ? p.p : "", first);
        }
    }
    for (int i = 0; i < per; i++)
        for (int t = 0; t < N_TEST; t++) {
            test_row(&out[F_D2P_TEST], &d2p[i], d2p_test[t], d2p[i].name, "", &p, &c);
            test_row(&out[F_D2P_REV], &d2p[i], p2d_test[t], d2p[i].np, ".", &p, &c);
        }
    for (int i = 0; i < per; i++)
        for (int t = 0; t < N_TEST; t++) test_row(&out[F_BOTH_TEST], &both[i], p2d_test[t], both[i].np, ".", &p, &c);
    for (int i = 0; i < per; i++)
        for (int t = 0; t < N_TEST; t++) test_row(&out[F_BOTH_TEST], &both[i], d2p_test[t], both[i].name, "", &p, &c);
    int oom = p.oom || c.oom;
    for (int k = 0; k < TL_WORLD_REV_FILES; k++) oom |= out[k].oom;
    tl_wbuf_free(&p);
    tl_wbuf_free(&c);
    return oom ? tl_errorf(TL_E_NOMEM, "world: out of memory writing reversal facts") : TL_OK;
}
