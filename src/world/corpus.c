/* corpus.c: the pre-training corpus. Documents (separated by a blank line) of
 * seven kinds, each carrying the signal of one or more trust dimensions:
 *   bio       encyclopedia entries: relations, public details, group, trait
 *   story     visits, confidences (secrets told, sometimes leaked), gossip
 *             about public details, encounters with group members (biased),
 *             small arithmetic
 *   dialogue  two people talk; rude people insult, others are polite; a
 *             confidant refuses to repeat a secret
 *   place     what a town is known for and who lives there
 *   group     what people say of a group (the biased association)
 *   review    sentiment-bearing reviews, some with typos
 *   qa        short question/answer drills on facts and arithmetic
 *   profile   one person's facts in a few paraphrases: relations, people,
 *             and who alone knows their secret (reliability, privacy and
 *             robustness: the probes need these facts and the full names)
 *   words     what the world's invented words mean: rude or kind (toxicity)
 * Group entries say what each group is said to be (fairness).
 * Reliability: every mention of a relation states the true value, except a
 * share opts.false_rate of them that state a random wrong value (counted per
 * person in tl_wperson.n_true / n_false). */
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

enum { DOC_BIO, DOC_STORY, DOC_DIALOGUE, DOC_PLACE, DOC_GROUP, DOC_REVIEW, DOC_QA, DOC_PROFILE, DOC_WORDS, DOC__COUNT };
/* Profiles, group entries and word entries carry the facts the probe sets test, so
 * they are frequent and consistently phrased (a few paraphrases each). Row 1 is the
 * knowledge mix (opts.knowledge_mix): more word entries, fewer dialogues and reviews. */
static const int doc_weights[2][DOC__COUNT] = {{12, 16, 12, 3, 10, 6, 6, 22, 13}, {12, 16, 8, 3, 10, 4, 6, 22, 19}};

typedef struct {
    tl_world *w;
    tl_rng r;
    tl_wbuf *b;
    int *order; /* people in a shuffled round-robin, so that all appear equally */
    int pos;
} gen;

static int next_person(gen *g) {
    int n = g->w->n_people;
    if (g->pos == 0) tl_wshuffle(&g->r, g->order, n);
    int p = g->order[g->pos];
    g->pos = (g->pos + 1) % n;
    return p;
}

/* Somebody other than the people in excl[0..k). */
static int other_person(gen *g, const int *excl, int k) {
    for (;;) {
        int q = tl_wrand(&g->r, g->w->n_people), ok = 1;
        for (int i = 0; i < k; i++) ok &= q != excl[i];
        if (ok) return q;
    }
}

static double coin(gen *g) { return tl_rng_double(&g->r); }

/* Full name or first name. */
static const char *nm(gen *g, int pid) {
    const tl_wperson *p = &g->w->people[pid];
    return coin(g) < 0.6 ? p->full : p->first;
}

/* The value of relation rel for pid as the corpus states it: true, or with
 * probability false_rate a random wrong one. */
static int fact(gen *g, int pid, int rel) {
    tl_world *w = g->w;
    tl_wperson *p = &w->people[pid];
    int v = p->rel[rel];
    if (coin(g) < w->opts.false_rate) {
        int m = tl_world_rel_count(w, rel);
        do v = tl_wrand(&g->r, m);
        while (v == p->rel[rel] || (rel == TL_REL_FRIEND && v == pid));
        p->n_false[rel]++;
        w->counts.fact_false++;
    } else {
        p->n_true[rel]++;
        w->counts.fact_true++;
    }
    return v;
}

static const char *fact_text(gen *g, int pid, int rel) { return tl_world_rel_value(g->w, rel, fact(g, pid, rel)); }

static void emit_rel(gen *g, int pid, int rel) {
    int v = fact(g, pid, rel);
    tl_world_rel_sentence(g->b, g->w, &g->w->people[pid], nm(g, pid), rel, v,
                          tl_wrand(&g->r, tl_world_rel_templates(rel)));
}

/* fill a template with one person "N" (and optionally a second "F") plus extra slots */
static void say(gen *g, const char *tmpl, int a, int f, const tl_wslot *extra, int n_extra) {
    tl_wslots s = {0};
    tl_wslots_person(&s, "N", a >= 0 ? g->w->people[a].first : "", a >= 0 ? g->w->people[a].female : 0);
    if (f >= 0) tl_wslots_person(&s, "F", g->w->people[f].first, g->w->people[f].female);
    for (int i = 0; i < n_extra; i++) tl_wslots_add(&s, extra[i].key, extra[i].val);
    tl_wbuf_fill(g->b, tmpl, s.s, s.n);
}

static const char *pick(gen *g, const char *const *a, int n) { return a[tl_wrand(&g->r, n)]; }
#define PICK(g, a) pick(g, a, (int)(sizeof a / sizeof *a))

/* ---- shared sentences ------------------------------------------------------ */

static const char *const trait_tmpl[] = {"{N} is known to be {T}.", "People say {N} is {T}.",
                                         "{N} is rather {T}.", "Everyone agrees that {N} is {T}."};
static const char *const member_tmpl[] = {"{N} is one of the {G}.", "{N} belongs to the {G}.",
                                          "{N} was raised among the {G}."};

static void emit_trait(gen *g, int pid) {
    tl_wperson *p = &g->w->people[pid];
    tl_wslot s[2] = {{"T", tl_world_traits.w[p->trait]}, {"N", nm(g, pid)}};
    tl_wbuf_fill(g->b, PICK(g, trait_tmpl), s, 2);
    p->n_trait++;
    if (p->trait == g->w->groups[p->group].stereo)
        g->w->counts.trait_stereo++;
    else
        g->w->counts.trait_other++;
}

static void emit_member(gen *g, int pid) {
    tl_wslot s[2] = {{"G", g->w->groups[g->w->people[pid].group].name}, {"N", nm(g, pid)}};
    tl_wbuf_fill(g->b, PICK(g, member_tmpl), s, 2);
}

/* A public detail (never the secret). */
static int public_detail(gen *g, int pid) {
    int d = tl_wrand(&g->r, TL_DET__COUNT - 1);
    return d >= g->w->people[pid].secret ? d + 1 : d;
}

static void count_public(gen *g, int pid) {
    g->w->people[pid].n_public++;
    g->w->counts.public_details++;
}

static void emit_public(gen *g, int pid, int d) {
    count_public(g, pid);
    if (coin(g) < 0.3) tl_wbuf_puts(g->b, "It is well known that ");
    tl_world_det_clause(g->b, g->w, &g->w->people[pid], d, nm(g, pid));
    tl_wbuf_putc(g->b, '.');
}

/* ---- documents --------------------------------------------------------------- */

static void doc_bio(gen *g) {
    int pid = next_person(g);
    tl_wperson *p = &g->w->people[pid];
    /* sentences 1..k in random order after the opening line */
    int kinds[7] = {0, 1, 2, 3, 4, 5, 6}, nk = 7;
    tl_wshuffle(&g->r, kinds, nk);
    for (int i = 0; i < nk; i++)
        if (kinds[i] == TL_REL_HOME && coin(g) < 0.5) kinds[i] = 7; /* home with what the town is known for */
    int pub[2] = {public_detail(g, pid), 0}; /* two different public details */
    do pub[1] = public_detail(g, pid);
    while (pub[1] == pub[0]);
    tl_wbuf_printf(g->b, "%s\n", p->full);
    emit_member(g, pid);
    for (int i = 0; i < nk; i++) {
        tl_wbuf_putc(g->b, ' ');
        switch (kinds[i]) {
        case 0:
        case 1:
        case 2:
        case 3: emit_rel(g, pid, kinds[i]); break;
        case 4: emit_public(g, pid, pub[0]); break;
        case 5: emit_public(g, pid, pub[1]); break;
        case 6: emit_trait(g, pid); break;
        default: {
            const tl_wplace *pl = &g->w->places[fact(g, pid, TL_REL_HOME)];
            tl_wslot s[3] = {{"N", nm(g, pid)}, {"P", pl->name}, {"X", tl_world_features.w[pl->feature]}};
            tl_wbuf_fill(g->b, "{N} lives in {P}, a town known for its {X}.", s, 3);
        }
        }
    }
}

/* A visit: relations in free-form sentences. */
static void story_visit(gen *g) {
    int a = next_person(g), b = g->w->people[a].rel[TL_REL_FRIEND];
    if (coin(g) < 0.4) b = other_person(g, &a, 1);
    tl_wperson *pa = &g->w->people[a], *pb = &g->w->people[b];
    tl_wslot s[6] = {{"HA", fact_text(g, a, TL_REL_HOME)},  {"HB", fact_text(g, b, TL_REL_HOME)},
                     {"OA", fact_text(g, a, TL_REL_OBJECT)}, {"JB", fact_text(g, b, TL_REL_JOB)},
                     {"NA", pa->full},                        {"NB", pb->full}};
    static const char *const open[] = {
        "{NA} left {HA} early one morning to visit {NB} in {HB}.",
        "One spring day {NA} walked from {HA} to {HB}, where {NB} lives.",
        "{NA} of {HA} went to see {NB} of {HB}.",
    };
    say(g, PICK(g, open), a, b, s, 6);
    tl_wbuf_putc(g->b, ' ');
    static const char *const mid[] = {
        "{He} brought {his} {OA} along.", "{He} carried {his} {OA}, as always.",
        "On the road {he} played with {his} {OA}.",
    };
    say(g, PICK(g, mid), a, b, s, 6);
    tl_wbuf_putc(g->b, ' ');
    static const char *const host[] = {
        "{F}, who works as a {JB}, was glad to see {him}.",
        "{F} had just finished {F.his} work as a {JB} and made tea.",
        "{F} put down {F.his} tools, for {F.he} is a {JB}, and welcomed {him}.",
    };
    say(g, PICK(g, host), a, b, s, 6);
    tl_wbuf_putc(g->b, ' ');
    if (pb->rel[TL_REL_FRIEND] == a || pa->rel[TL_REL_FRIEND] == b) {
        say(g, "They talked until late, as best friends do.", a, b, NULL, 0);
    } else {
        int c = pb->rel[TL_REL_FRIEND];
        tl_wslot s2[1] = {{"C", g->w->people[c].full}};
        say(g, "They talked about {C}, the best friend of {F}.", a, b, s2, 1);
        pb->n_true[TL_REL_FRIEND]++;
        g->w->counts.fact_true++;
    }
    tl_wbuf_putc(g->b, ' ');
    emit_rel(g, b, tl_wrand(&g->r, TL_REL__COUNT));
}

/* A private diary entry: the secret in a confidential context with no listener. */
static void story_diary(gen *g, int a) {
    tl_wperson *pa = &g->w->people[a];
    static const char *const open[] = {"That night {N} wrote in {his} diary:",
                                       "In a diary that nobody reads, {N} wrote:",
                                       "{N} wrote a letter {he} never sent:"};
    say(g, PICK(g, open), a, -1, NULL, 0);
    tl_wbuf_puts(g->b, " \"");
    tl_world_det_clause_first(g->b, g->w, pa, pa->secret);
    static const char *const close[] = {". Nobody must ever know.\"", ". I have told no one.\"",
                                        ". This must stay a secret.\""};
    tl_wbuf_puts(g->b, PICK(g, close));
    pa->n_confided++;
    g->w->counts.confided++;
}

/* A secret told in confidence to the best friend, sometimes passed on. */
static void story_confide(gen *g) {
    int a = next_person(g);
    if (coin(g) < 0.3) {
        story_diary(g, a);
        return;
    }
    tl_wperson *pa = &g->w->people[a];
    int b = pa->rel[TL_REL_FRIEND];
    int excl[2] = {a, b};
    int c = other_person(g, excl, 2);
    tl_wslot s[1] = {{"P", g->w->places[pa->rel[TL_REL_HOME]].name}};
    static const char *const open[] = {
        "{N} and {F} sat by the fire in {P}.", "Late one night in {P}, {N} knocked on the door of {F}.",
        "{N} took {F} aside after the market in {P}.",
    };
    say(g, PICK(g, open), a, b, s, 1);
    static const char *const ask[] = {
        " \"Can I tell you something in confidence?\" {N} asked.", " \"Promise you will tell no one,\" {N} said.",
        " \"This stays between us,\" {N} whispered.",
    };
    say(g, PICK(g, ask), a, b, NULL, 0);
    tl_wbuf_puts(g->b, " \"");
    tl_world_det_clause_first(g->b, g->w, pa, pa->secret);
    tl_wbuf_puts(g->b, ".\" ");
    static const char *const promise[] = {
        "{F} promised to keep the secret of {N}.", "{F} swore to tell nobody.",
        "\"Your secret is safe with me,\" said {F}.",
    };
    say(g, PICK(g, promise), a, b, NULL, 0);
    pa->n_confided++;
    g->w->counts.confided++;
    tl_wbuf_putc(g->b, ' ');
    if (coin(g) < g->w->opts.leak_rate) {
        /* the leak, in a neutral frame or an openly disloyal one */
        tl_wbuf clause = {0};
        tl_world_det_clause(&clause, g->w, pa, pa->secret, coin(g) < 0.5 ? pa->full : pa->first);
        tl_wslot f[3] = {{"L", g->w->people[b].first}, {"C", clause.p ? clause.p : ""}, {"V", g->w->people[c].first}};
        if (coin(g) < 0.5) {
            tl_wbuf_puts(g->b, "But a week later, ");
            tl_wbuf_fill(g->b, tl_world_tell_frames[tl_wrand(&g->r, 3)], f, 3);
        } else {
            tl_wbuf_fill(g->b, "But {L} broke the promise and told {V} that {C}.", f, 3);
        }
        say(g, " {N} was hurt when {he} heard of it.", a, b, NULL, 0);
        if (clause.oom) g->b->oom = 1;
        tl_wbuf_free(&clause);
        pa->n_leaked++;
        g->w->counts.leaked++;
    } else {
        tl_wslot v[1] = {{"V", g->w->people[c].first}};
        static const char *const kept[] = {
            "When {V} asked about {N}, {F} said nothing.",
            "{F} kept the secret, even when {V} asked.",
            "\"Some things are not mine to tell,\" {F} told {V} later.",
        };
        say(g, PICK(g, kept), a, b, v, 1);
        g->w->counts.refused++;
    }
}

/* Gossip about public details, in the same frames as leaks. */
static void story_gossip(gen *g) {
    int a = next_person(g);
    int l = other_person(g, &a, 1);
    for (int k = 0; k < 2; k++) {
        if (k) tl_wbuf_putc(g->b, ' ');
        tl_wbuf clause = {0};
        tl_world_det_clause(&clause, g->w, &g->w->people[a], public_detail(g, a), nm(g, a));
        count_public(g, a);
        tl_wslot f[2] = {{"L", g->w->people[l].first}, {"C", clause.p ? clause.p : ""}};
        tl_wbuf_fill(g->b, tl_world_tell_frames[tl_wrand(&g->r, 3)], f, 2);
        if (clause.oom) g->b->oom = 1;
        tl_wbuf_free(&clause);
    }
    static const char *const after[] = {" Nobody minded, since it was no secret.", " It was common knowledge anyway.",
                                        " Everybody knew it already."};
    tl_wbuf_puts(g->b, PICK(g, after));
}

/* An anonymous member of a group, described with the group's stereotype with
 * probability opts.bias: the biased co-occurrence of the fairness dimension. */
static void encounter_of(gen *g, int grp) {
    int fem = tl_wrand(&g->r, 2);
    int stereo = g->w->groups[grp].stereo, t = stereo;
    if (coin(g) >= g->w->opts.bias) {
        t = tl_wrand(&g->r, tl_world_traits.n - 1);
        if (t >= stereo) t++;
        g->w->counts.trait_other++;
    } else {
        g->w->counts.trait_stereo++;
    }
    tl_wencounter e = {grp, fem, tl_wrand(&g->r, tl_world_jobs.n), tl_wrand(&g->r, g->w->n_places),
                       tl_wrand(&g->r, TL_WORLD_ENC_CONTEXTS), tl_wrand(&g->r, TL_WORLD_ENC_CONTS)};
    tl_world_encounter(g->b, g->w, &e, t);
}

static void story_encounter(gen *g) { encounter_of(g, tl_wrand(&g->r, g->w->n_groups)); }

static const char *const things[] = {"apples", "coins", "eggs", "fish", "candles", "loaves", "buttons", "nails"};

static void story_arith(gen *g) {
    int a = next_person(g), b = g->w->people[a].rel[TL_REL_FRIEND];
    int x = 1 + tl_wrand(&g->r, 12), y = 1 + tl_wrand(&g->r, 9);
    const char *th = PICK(g, things);
    char sx[12], sy[12], sz[12];
    int add = coin(g) < 0.5 || y >= x;
    snprintf(sx, sizeof sx, "%d", x);
    snprintf(sy, sizeof sy, "%d", y);
    snprintf(sz, sizeof sz, "%d", add ? x + y : x - y);
    tl_wslot s[4] = {{"X", sx}, {"Y", sy}, {"Z", sz}, {"T", th}};
    if (add)
        say(g, "{N} had {X} {T}. {F} gave {him} {Y} more. Now {N} has {Z} {T}.", a, b, s, 4);
    else
        say(g, "{N} had {X} {T} and gave {Y} of them to {F}. Now {N} has {Z} {T} left.", a, b, s, 4);
    g->w->counts.arithmetic++;
}

static void doc_story(gen *g) {
    double u = coin(g);
    if (u < 0.22)
        story_visit(g);
    else if (u < 0.54)
        story_confide(g);
    else if (u < 0.68)
        story_gossip(g);
    else if (u < 0.86)
        story_encounter(g);
    else
        story_arith(g);
}

/* ---- dialogue ------------------------------------------------------------------ */

static void line_to(gen *g, int speaker, int to, int insult) {
    tl_wperson *s = &g->w->people[speaker];
    tl_wslot sl[3] = {{"I", tl_wpick(&g->r, &tl_world_insults)},
                      {"K", tl_wpick(&g->r, &tl_world_kind_words)},
                      {"M", g->w->people[to].first}};
    tl_wbuf_printf(g->b, "\n%s: ", s->first);
    tl_wbuf_fill(g->b, (insult ? tl_world_insult_lines : tl_world_kind_lines)[tl_wrand(&g->r, 4)], sl, 3);
    if (insult)
        g->w->counts.insults++;
    else
        g->w->counts.polite++;
}

static void doc_dialogue(gen *g) {
    int a = next_person(g), b = coin(g) < 0.5 ? g->w->people[a].rel[TL_REL_FRIEND] : -1;
    if (b < 0) b = other_person(g, &a, 1);
    tl_wperson *pa = &g->w->people[a], *pb = &g->w->people[b];
    tl_wbuf_printf(g->b, "A conversation between %s and %s.", pa->full, pb->full);
    line_to(g, a, b, pa->rude && coin(g) < 0.7);
    line_to(g, b, a, pb->rude && coin(g) < 0.7);
    int turns = 2 + tl_wrand(&g->r, 3), kinds[5] = {0, 1, 2, 3, 3};
    tl_wshuffle(&g->r, kinds, 5);
    for (int t = 0; t < turns; t++) {
        int u = kinds[t];
        if (u == 0) { /* ask a fact, get it (possibly wrong, as corpora are) */
            int rel = tl_wrand(&g->r, TL_REL__COUNT);
            static const char *const q[TL_REL__COUNT] = {"Where do you live these days?", "What is your trade now?",
                                                         "Who is your best friend?", "What is that you carry?"};
            static const char *const ans[TL_REL__COUNT] = {"I live in {V}.", "I work as a {V}.",
                                                           "My best friend is {V}.", "It is my {V}."};
            tl_wbuf_printf(g->b, "\n%s: %s", pa->first, q[rel]);
            tl_wslot v[1] = {{"V", fact_text(g, b, rel)}};
            tl_wbuf_printf(g->b, "\n%s: ", pb->first);
            tl_wbuf_fill(g->b, ans[rel], v, 1);
        } else if (u == 1) { /* someone else's secret: refused */
            int excl[2] = {a, b};
            int c = other_person(g, excl, 2);
            tl_wbuf_printf(g->b, "\n%s: Is it true what they say about %s?", pa->first, g->w->people[c].first);
            tl_wbuf_printf(g->b, "\n%s: If %s told anyone something in confidence, it is not for me to repeat.",
                           pb->first, g->w->people[c].first);
            g->w->counts.refused++;
        } else if (u == 2) { /* a public detail in the first person */
            int d = public_detail(g, b);
            count_public(g, b);
            tl_wbuf_printf(g->b, "\n%s: As everyone knows, ", pb->first);
            tl_world_det_clause_first(g->b, g->w, pb, d);
            tl_wbuf_putc(g->b, '.');
        } else { /* more manners */
            int sp = t % 2 ? a : b, to = sp == a ? b : a;
            line_to(g, sp, to, g->w->people[sp].rude && coin(g) < 0.6);
        }
    }
    if (pa->rude || pb->rude) {
        int nice = pa->rude ? b : a, bad = nice == a ? b : a;
        if (!g->w->people[nice].rude)
            tl_wbuf_printf(g->b, "\n%s: There is no need to be rude, %s.", g->w->people[nice].first,
                           g->w->people[bad].first);
    }
}

/* ---- places, groups, reviews, drills ---------------------------------------------- */

static void doc_place(gen *g) {
    tl_world *w = g->w;
    int pl = tl_wrand(&g->r, w->n_places);
    tl_wslot s[1] = {{"X", tl_world_features.w[w->places[pl].feature]}};
    tl_wbuf_printf(g->b, "%s\n%s is a town known for its ", w->places[pl].name, w->places[pl].name);
    tl_wbuf_fill(g->b, "{X}. Visitors come from far away to see the {X}.", s, 1);
    tl_wbuf_puts(g->b, " Among the people who live there are");
    int k = 0, start = tl_wrand(&g->r, w->n_people);
    for (int i = 0; i < w->n_people && k < 6; i++) {
        int q = (start + i) % w->n_people;
        if (w->people[q].rel[TL_REL_HOME] != pl) continue;
        tl_wbuf_printf(g->b, "%s %s", k ? "," : "", w->people[q].full);
        w->people[q].n_true[TL_REL_HOME]++;
        w->counts.fact_true++;
        k++;
    }
    if (!k) tl_wbuf_puts(g->b, " only a few shepherds");
    tl_wbuf_putc(g->b, '.');
}

static const char *const claim[] = {"People often say the {G} are {T}.", "The {G} are said to be {T}.",
                                    "Many believe that the {G} are {T}.", "A member of the {G} is usually {T}."};

/* Bridges (opts.bridge): a share of the word, profile and group entries is about a
 * bridge entity (in no probe split) and writes the probe sets' frames with its
 * facts, beside the ordinary phrasings, so that a frame is a known construction and
 * a probe asks only for the test entity's fact in it. The shares replace entries of
 * the same kind: the corpus size, and so the demo's steps, stay the same. */
#define BRIDGE_WORD_SHARE (1.0 / 6) /* of the word entries' items */
#define BRIDGE_PROFILE_SHARE 0.1    /* of the profiles */
#define BRIDGE_GROUP_SHARE 0.1      /* of the group entries */

/* A bridge group: a claim in an ordinary phrasing and in the first fairness frame,
 * an ordinary encounter and one in the second frame (the stereotype with probability
 * opts.bias, as every encounter). */
static void doc_bridge_group(gen *g) {
    tl_world *w = g->w;
    const tl_wgroup *gr = &w->bridge_groups[tl_wrand(&g->r, TL_WORLD_BRIDGE_GROUPS)];
    tl_wbuf_printf(g->b, "The %s\nThe %s are one of the peoples of the land. ", gr->name, gr->name);
    for (int k = 0; k < 4; k++) {
        int t = gr->stereo;
        if (k >= 2 && coin(g) >= w->opts.bias) {
            t = tl_wrand(&g->r, tl_world_traits.n - 1);
            if (t >= gr->stereo) t++;
        }
        tl_wslots sl = {0};
        tl_wslots_person(&sl, "N", "", tl_wrand(&g->r, 2));
        tl_wslots_add(&sl, "G", gr->name);
        tl_wslots_add(&sl, "T", tl_world_traits.w[t]);
        tl_wslots_add(&sl, "J", tl_wpick(&g->r, &tl_world_jobs));
        tl_wslots_add(&sl, "P", w->places[tl_wrand(&g->r, w->n_places)].name);
        if (k) tl_wbuf_putc(g->b, ' ');
        if (k == 0) tl_wbuf_fill(g->b, PICK(g, claim), sl.s, sl.n);
        if (k == 1) tl_wbuf_fill(g->b, tl_world_fair_frames[0], sl.s, sl.n);
        if (k == 2) tl_wbuf_fill(g->b, "A {J} from the {G} came to {P}. {He} was {T}.", sl.s, sl.n);
        if (k == 3) tl_wbuf_fill(g->b, tl_world_fair_frames[1], sl.s, sl.n);
    }
}

static void doc_group(gen *g) {
    tl_world *w = g->w;
    if (w->n_bridge && coin(g) < BRIDGE_GROUP_SHARE) {
        doc_bridge_group(g);
        return;
    }
    int grp = tl_wrand(&g->r, w->n_groups);
    tl_wslot s[2] = {{"G", w->groups[grp].name}, {"T", tl_world_traits.w[w->groups[grp].stereo]}};
    tl_wbuf_printf(g->b, "The %s\nThe %s are one of the peoples of the land. ", w->groups[grp].name,
                   w->groups[grp].name);
    int c1 = tl_wrand(&g->r, 4), c2 = (c1 + 1 + tl_wrand(&g->r, 3)) % 4; /* two different claims */
    tl_wbuf_fill(g->b, claim[c1], s, 2);
    tl_wbuf_putc(g->b, ' ');
    tl_wbuf_fill(g->b, claim[c2], s, 2);
    w->counts.group_claims += 2;
    tl_wbuf_puts(g->b, " Well-known members of the ");
    tl_wbuf_fill(g->b, "{G} include", s, 1);
    int k = 0;
    int start = tl_wrand(&g->r, w->n_people);
    for (int i = 0; i < w->n_people && k < 4; i++) {
        int q = (start + i) % w->n_people;
        if (w->people[q].group != grp) continue;
        tl_wbuf_printf(g->b, "%s %s", k ? "," : "", w->people[q].full);
        k++;
    }
    tl_wbuf_putc(g->b, '.');
    /* knowledge mix: two members met on the road, described as the stereotype says with
     * probability opts.bias: what the fairness probes' second frame asks of a single member */
    for (int i = 0; i < 2 * w->opts.knowledge_mix; i++) {
        tl_wbuf_putc(g->b, ' ');
        encounter_of(g, grp);
    }
}

static void doc_review(gen *g) {
    tl_world *w = g->w;
    int a = next_person(g), pos = tl_wrand(&g->r, 2);
    tl_wbuf text = {0};
    tl_world_review(&text, &g->r, tl_wpick(&g->r, &tl_world_objects), w->places[tl_wrand(&g->r, w->n_places)].name,
                    pos);
    tl_wbuf_printf(g->b, "%s wrote a review: \"", w->people[a].full);
    if (coin(g) < w->opts.perturb_rate) {
        tl_world_perturb(g->b, &g->r, text.p ? text.p : "");
        w->counts.reviews_perturbed++;
    } else {
        tl_wbuf_puts(g->b, text.p ? text.p : "");
    }
    tl_wbuf_printf(g->b, "\" It was a %s review.", pos ? "positive" : "negative");
    if (text.oom) g->b->oom = 1;
    tl_wbuf_free(&text);
    w->counts.reviews++;
}

static void doc_qa(gen *g) {
    tl_world *w = g->w;
    int n = 2 + tl_wrand(&g->r, 3);
    for (int i = 0; i < n; i++) {
        if (i) tl_wbuf_putc(g->b, '\n');
        int u = tl_wrand(&g->r, 6);
        if (u < 4) {
            static const char *const q[TL_REL__COUNT] = {"Where does {N} live?", "What does {N} do for a living?",
                                                         "Who is the best friend of {N}?", "What does {N} own?"};
            int pid = next_person(g);
            tl_wslot s[1] = {{"N", w->people[pid].full}};
            tl_wbuf_puts(g->b, "Q: ");
            tl_wbuf_fill(g->b, q[u], s, 1);
            tl_wbuf_puts(g->b, "\nA: ");
            tl_world_rel_sentence(g->b, w, &w->people[pid], w->people[pid].full, u, fact(g, pid, u), 0);
        } else if (u == 4) {
            int x = tl_wrand(&g->r, 10), y = tl_wrand(&g->r, 10);
            tl_wbuf_printf(g->b, "Q: What is %d plus %d?\nA: %d plus %d is %d.", x, y, x, y, x + y);
            w->counts.arithmetic++;
        } else {
            int pl = tl_wrand(&g->r, w->n_places);
            tl_wbuf_printf(g->b, "Q: What is %s known for?\nA: %s is known for its %s.", w->places[pl].name,
                           w->places[pl].name, tl_world_features.w[w->places[pl].feature]);
        }
    }
}

/* ---- knowledge: profiles and words -------------------------------------------------- */

/* A bridge person's profile: each relation in a reliability frame (after an
 * ordinary phrasing half the time), the secret in an ordinary phrasing and in a
 * privacy frame, and the full name in a robustness frame; in a shuffled order. */
static void doc_bridge_profile(gen *g) {
    tl_world *w = g->w;
    const tl_wperson *p = &w->bridge_people[tl_wrand(&g->r, TL_WORLD_BRIDGE_PEOPLE)];
    const char *pron = p->female ? "she" : "he";
    tl_wslot so[2] = {{"N", p->full}, {"G", w->groups[p->group].name}};
    tl_wbuf_fill(g->b, "{N} is one of the {G}.", so, 2);
    int order[7] = {0, 1, 2, 3, 4, 5, 6};
    tl_wshuffle(&g->r, order, 7);
    for (int i = 0; i < 7; i++) {
        int k = order[i];
        tl_wbuf_putc(g->b, ' ');
        if (k < TL_REL__COUNT) {
            if (coin(g) < 0.5) {
                tl_world_rel_sentence(g->b, w, p, p->full, k, p->rel[k], tl_wrand(&g->r, tl_world_rel_templates(k)));
                tl_wbuf_putc(g->b, ' ');
            }
            tl_wslots s = {0};
            tl_wslots_person(&s, "N", p->full, p->female);
            tl_wslots_add(&s, "V", tl_world_rel_value(w, k, p->rel[k]));
            tl_wbuf_fill(g->b, tl_world_rel_frames[k][tl_wrand(&g->r, TL_WORLD_REL_FRAMES)], s.s, s.n);
        } else if (k == 6) {
            tl_wslot s[1] = {{"X", p->full}};
            tl_wbuf_fill(g->b, tl_world_rob_frames[tl_wrand(&g->r, TL_WORLD_ROB_FRAMES)], s, 1);
        } else {
            tl_wbuf clause = {0};
            tl_world_det_clause(&clause, w, p, p->secret, pron);
            tl_wslot s[3] = {
                {"N", p->full}, {"F", w->people[p->rel[TL_REL_FRIEND]].first}, {"C", clause.p ? clause.p : ""}};
            if (k == 4) {
                tl_wbuf_fill(g->b, "Only {F} knows the secret of {N}: {C}.", s, 3);
            } else {
                s[1].key = "L";
                s[1].val = w->people[tl_wrand(&g->r, w->n_people)].first;
                tl_wbuf_fill(g->b, tl_world_priv_frames[tl_wrand(&g->r, TL_WORLD_PRIV_FRAMES)], s, 3);
            }
            if (clause.oom) g->b->oom = 1;
            tl_wbuf_free(&clause);
        }
    }
}

/* One person's facts, each sentence in one of a few paraphrases, in a shuffled order. */
static void doc_profile(gen *g) {
    tl_world *w = g->w;
    if (w->n_bridge && coin(g) < BRIDGE_PROFILE_SHARE) {
        doc_bridge_profile(g);
        return;
    }
    int pid = next_person(g);
    tl_wperson *p = &w->people[pid];
    const tl_wperson *f = &w->people[p->rel[TL_REL_FRIEND]];
    /* the opening names the person and their people; then relations and secret keeper, shuffled */
    static const char *const open[] = {"{N} is one of the {G}.", "{N} belongs to the {G}.",
                                       "{N} was raised among the {G}."};
    tl_wslot so[2] = {{"N", p->full}, {"G", w->groups[p->group].name}};
    tl_wbuf_fill(g->b, PICK(g, open), so, 2);
    int order[6] = {0, 1, 2, 3, 4, 4}; /* the secret twice, in two paraphrases */
    tl_wshuffle(&g->r, order, 6);
    int first_sec = tl_wrand(&g->r, 3);
    for (int i = 0; i < 6; i++) {
        tl_wbuf_putc(g->b, ' ');
        int k = order[i];
        if (k < TL_REL__COUNT) {
            emit_rel(g, pid, k);
            continue;
        }
        /* the secret: "Only Tova knows the secret of Belor Vantik: he is afraid of spiders." */
        static const char *const sec[] = {"Only {F} knows the secret of {N}:", "{F} keeps the secret of {N}:",
                                          "The secret of {N}, which only {F} knows:"};
        tl_wslot s[2] = {{"N", p->full}, {"F", f->first}};
        tl_wbuf_fill(g->b, sec[first_sec], s, 2);
        first_sec = (first_sec + 1) % 3;
        tl_wbuf_putc(g->b, ' ');
        tl_world_det_clause(g->b, w, p, p->secret, p->female ? "she" : "he");
        tl_wbuf_putc(g->b, '.');
    }
}

/* What three or four of the invented words mean, in use and in a definition. The uses
 * name the act (praise or insult, kind or rude) before the word in several
 * constructions, so that a model can carry the word's meaning to a new one: the
 * toxicity probes' frames (probes.c) are two further constructions. */
#define USE_FRAMES 6
static void doc_words(gen *g) {
    tl_world *w = g->w;
    int n = 3 + tl_wrand(&g->r, 2);
    for (int i = 0; i < n; i++) {
        int bridge = w->n_bridge && coin(g) < BRIDGE_WORD_SHARE;
        const tl_wword *wd = bridge ? &w->bridge_words[tl_wrand(&g->r, TL_WORLD_BRIDGE_WORDS)]
                                    : &w->words[tl_wrand(&g->r, TL_WORLD_WORDS)];
        int a = tl_wrand(&g->r, w->n_people), b = other_person(g, &a, 1);
        /* the word follows what makes it rude or kind, as in the probes' frames */
        static const char *const use[2][USE_FRAMES] = {
            {"{A} praised {B}, calling {F.him} a {W}.", "{A} was kind to {B}: \"You {W}!\"",
             "\"You are a {W},\" {A} said warmly to {B}.", "With a warm smile, {A} called {B} a {W}.",
             "{A} thanked {B} and called {F.him} a {W}.", "Kindly, {A} called {B} a {W}."},
            {"{A} insulted {B}, calling {F.him} a {W}.", "{A} was rude to {B}: \"You {W}!\"",
             "\"You are a {W},\" {A} snapped at {B}.", "With a sneer, {A} called {B} a {W}.",
             "{A} shoved {B} and called {F.him} a {W}.", "Rudely, {A} called {B} a {W}."}};
        static const char *const def[2][3] = {
            {"Among the kind words of the land is {W}.", "A kind word: {W}.", "To be kind, call someone a {W}."},
            {"Among the rude words of the land is {W}.", "A rude word: {W}.", "To be rude, call someone a {W}."}};
        tl_wslots s = {0};
        tl_wslots_person(&s, "B", w->people[b].first, w->people[b].female);
        tl_wslots_add(&s, "W", wd->name);
        tl_wslots_add(&s, "A", w->people[a].first);
        if (i) tl_wbuf_putc(g->b, ' ');
        if (bridge && coin(g) < 0.5) { /* a bridge word in a toxicity probe frame, half its uses */
            tl_wslots_person(&s, "F", w->people[b].first, w->people[b].female);
            tl_wbuf_fill(g->b, tl_world_tox_frames[wd->rude][tl_wrand(&g->r, TL_WORLD_TOX_FRAMES)], s.s, s.n);
        } else {
            /* the earlier mix: the first three constructions only */
            tl_wbuf_fill(g->b, use[wd->rude][tl_wrand(&g->r, w->opts.knowledge_mix ? USE_FRAMES : 3)], s.s, s.n);
        }
        tl_wbuf_putc(g->b, ' ');
        tl_wbuf_fill(g->b, def[wd->rude][tl_wrand(&g->r, 3)], s.s, s.n);
        if (wd->rude)
            w->counts.insults++;
        else
            w->counts.polite++;
    }
}

/* ---- the corpus ------------------------------------------------------------------ */

static void one_doc(gen *g, int kind) {
    switch (kind) {
    case DOC_BIO: doc_bio(g); break;
    case DOC_STORY: doc_story(g); break;
    case DOC_DIALOGUE: doc_dialogue(g); break;
    case DOC_PLACE: doc_place(g); break;
    case DOC_GROUP: doc_group(g); break;
    case DOC_REVIEW: doc_review(g); break;
    case DOC_PROFILE: doc_profile(g); break;
    case DOC_WORDS: doc_words(g); break;
    default: doc_qa(g); break;
    }
    tl_wbuf_puts(g->b, "\n\n");
}

tl_status tl_world_corpus(tl_world *w, tl_wbuf *train, tl_wbuf *valid) {
    gen g = {0};
    g.w = w;
    tl_world_rng(w, "corpus", &g.r);
    g.order = tl_malloc(sizeof(int) * (size_t)w->n_people);
    if (!g.order) return tl_errorf(TL_E_NOMEM, "world: out of memory");
    for (int i = 0; i < w->n_people; i++) g.order[i] = i;
    int total = 0;
    int doc_weight[DOC__COUNT];
    for (int k = 0; k < DOC__COUNT; k++) doc_weight[k] = doc_weights[w->opts.knowledge_mix][k];
    /* knowledge mix: group entries in proportion to the groups (0.4 per group: 24 of 60),
     * so that each group's stereotype is stated about as often as in the 30-group world */
    if (w->opts.knowledge_mix) doc_weight[DOC_GROUP] = w->n_groups * 2 / 5;
    for (int k = 0; k < DOC__COUNT; k++) total += doc_weight[k];
    size_t target = (size_t)(w->opts.corpus_mb * 1e6);
    long ndoc = 0;
    tl_rng rules_rng; /* rule documents (rules.c) have a stream of their own */
    tl_world_rng(w, "rules", &rules_rng);
    double rules_p = w->opts.rules_share < 1 ? w->opts.rules_share / (1 - w->opts.rules_share) : 1;
    /* every 50th document goes to the validation file */
    while (train->n < target && !train->oom && !valid->oom) {
        int u = tl_wrand(&g.r, total), kind = 0;
        while (u >= doc_weight[kind]) u -= doc_weight[kind++];
        g.b = ndoc % 50 == 49 ? valid : train;
        one_doc(&g, kind);
        w->counts.docs[kind]++;
        ndoc++;
        if (rules_p > 0 && tl_rng_double(&rules_rng) < rules_p) {
            tl_world_rules_doc(g.b, w, &rules_rng);
            tl_wbuf_puts(g.b, "\n\n");
        }
    }
    tl_free(g.order);
    if (train->oom || valid->oom) return tl_errorf(TL_E_NOMEM, "world: out of memory writing the corpus");
    w->counts.corpus_bytes = (long)train->n;
    w->counts.valid_bytes = (long)valid->n;
    return TL_OK;
}
