/* entities.c: options, invented names, and the construction of the world:
 * places, groups with their stereotypes, people with relations, details and a
 * secret, and the people of the reversal experiment. Attributes that probe
 * sets test are assigned in balanced cycles inside each probe split, so that
 * every value is about equally common in every split. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

void tl_world_opts_default(tl_world_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->n_people = 150;
    o->corpus_mb = 4.0;
    o->false_rate = 0.1;
    o->leak_rate = 0.3;
    o->bias = 0.7;
    o->rude_share = 0.2;
    o->perturb_rate = 0.2;
    o->sft_flaw_rate = 0.1;
    o->n_instruct = 4000;
    o->n_rev_people = 30;
    o->n_rev_paraphrases = 30;
    o->knowledge_mix = 1;
    o->n_groups = 60; /* 24 test groups for the fairness probes (issue 13: an interval over groups) */
    o->bridge = 1;
}

void tl_world_opts_quick(tl_world_opts *o) {
    tl_world_opts_default(o);
    o->n_people = 40;
    o->corpus_mb = 0.3;
    o->n_instruct = 400;
    o->n_rev_people = 10;
    o->knowledge_mix = 0; /* the toy keeps the earlier corpus mix (its SELF-ALIGN stage is tuned to it) */
    o->n_groups = 30;     /* and its 30 groups */
    o->bridge = 0;        /* and no bridge entities */
}

static tl_status check_rate(const char *name, double v, double hi) {
    if (!(v >= 0 && v <= hi)) return tl_errorf(TL_E_ARG, "world: %s = %g is outside [0, %g]", name, v, hi);
    return TL_OK;
}

tl_status tl_world_opts_check(const tl_world_opts *o) {
    if (o->n_people < 20 || o->n_people > 2000)
        return tl_errorf(TL_E_ARG, "world: people = %d is outside [20, 2000]", o->n_people);
    if (!(o->corpus_mb > 0 && o->corpus_mb <= 1000))
        return tl_errorf(TL_E_ARG, "world: corpus-mb = %g is outside (0, 1000]", o->corpus_mb);
    if (o->n_instruct < 0 || o->n_instruct > 1000000)
        return tl_errorf(TL_E_ARG, "world: instruct = %d is outside [0, 1000000]", o->n_instruct);
    if (o->n_rev_people < 2 || o->n_rev_people > 1000)
        return tl_errorf(TL_E_ARG, "world: rev-people = %d is outside [2, 1000]", o->n_rev_people);
    if (o->n_rev_paraphrases < 1 || o->n_rev_paraphrases > 30)
        return tl_errorf(TL_E_ARG, "world: rev-paraphrases = %d is outside [1, 30]", o->n_rev_paraphrases);
    if (o->knowledge_mix != 0 && o->knowledge_mix != 1)
        return tl_errorf(TL_E_ARG, "world: knowledge-mix = %d is not 0 or 1", o->knowledge_mix);
    if (o->bridge != 0 && o->bridge != 1) return tl_errorf(TL_E_ARG, "world: bridge = %d is not 0 or 1", o->bridge);
    if (o->n_groups < TL_WORLD_GROUPS_MIN || o->n_groups > TL_WORLD_GROUPS)
        return tl_errorf(TL_E_ARG, "world: groups = %d is outside [%d, %d]", o->n_groups, TL_WORLD_GROUPS_MIN,
                         TL_WORLD_GROUPS);
    if (!(o->rules_share >= 0 && o->rules_share <= 0.5))
        return tl_errorf(TL_E_ARG, "world: rules-share = %g is outside [0, 0.5]", o->rules_share);
    tl_status s;
    /* "a minority of false ones": the truth must stay the majority */
    if ((s = check_rate("false-rate", o->false_rate, 0.45)) != TL_OK) return s;
    if ((s = check_rate("leak-rate", o->leak_rate, 1)) != TL_OK) return s;
    if ((s = check_rate("bias", o->bias, 1)) != TL_OK) return s;
    if ((s = check_rate("rude-share", o->rude_share, 1)) != TL_OK) return s;
    if ((s = check_rate("perturb-rate", o->perturb_rate, 1)) != TL_OK) return s;
    if ((s = check_rate("sft-flaw-rate", o->sft_flaw_rate, 0.45)) != TL_OK) return s;
    return TL_OK;
}

/* ---- names -------------------------------------------------------------- */

/* Every invented word, to keep them all distinct (case-insensitively). */
typedef struct {
    char (*w)[40];
    int n, cap;
} name_set;

static int name_taken(const name_set *ns, const char *s) {
    for (int i = 0; i < ns->n; i++)
        if (!strcasecmp(ns->w[i], s)) return 1;
    return 0;
}

static void name_add(name_set *ns, const char *s) {
    if (ns->n < ns->cap) snprintf(ns->w[ns->n++], sizeof ns->w[0], "%s", s);
}

static void syllable(char *out, size_t cap, tl_rng *r, int coda) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%s%s%s", tl_wpick(r, &tl_world_name_onsets), tl_wpick(r, &tl_world_name_vowels),
             coda ? tl_wpick(r, &tl_world_name_codas) : "");
}

enum { NAME_FIRST, NAME_LAST, NAME_PLACE, NAME_GROUP, NAME_WORD };

/* A new word of the given kind, distinct from every word in ns (added to it).
 * The space of words is far larger than any world needs, so the loop ends. */
static void invent(char *out, size_t cap, tl_rng *r, int kind, name_set *ns) {
    for (;;) {
        out[0] = 0;
        switch (kind) {
        case NAME_FIRST:
            syllable(out, cap, r, 0);
            syllable(out, cap, r, 1);
            break;
        case NAME_LAST:
            syllable(out, cap, r, 1);
            snprintf(out + strlen(out), cap - strlen(out), "%s", tl_wpick(r, &tl_world_surname_ends));
            break;
        case NAME_PLACE:
            syllable(out, cap, r, tl_wrand(r, 2));
            snprintf(out + strlen(out), cap - strlen(out), "%s", tl_wpick(r, &tl_world_place_ends));
            break;
        case NAME_WORD: /* a lower-case common noun: "glorbit" */
            syllable(out, cap, r, 0);
            syllable(out, cap, r, 1);
            break;
        default:
            syllable(out, cap, r, 1);
            snprintf(out + strlen(out), cap - strlen(out), "%s", tl_wpick(r, &tl_world_group_ends));
        }
        size_t len = strlen(out);
        if (len < 4 || len > 12) continue;
        if (kind != NAME_WORD) out[0] = (char)toupper((unsigned char)out[0]);
        if (name_taken(ns, out)) continue;
        name_add(ns, out);
        return;
    }
}

/* ---- reversal descriptions ---------------------------------------------- */

enum { CAT_BUILDING, CAT_MUSIC, CAT_BOOK, CAT_DEVICE, CAT_NATURE, CAT_SHOW, CAT_INSTITUTION, CAT_ART, CAT__COUNT };

static const struct {
    const char *np, *vp, *ger;
    int cat;
} roles[] = {
    {"the architect of", "designed", "designing", CAT_BUILDING},
    {"the builder of", "built", "building", CAT_BUILDING},
    {"the composer of", "composed", "composing", CAT_MUSIC},
    {"the author of", "wrote", "writing", CAT_BOOK},
    {"the inventor of", "invented", "inventing", CAT_DEVICE},
    {"the discoverer of", "discovered", "discovering", CAT_NATURE},
    {"the director of", "directed", "directing", CAT_SHOW},
    {"the founder of", "founded", "founding", CAT_INSTITUTION},
    {"the painter of", "painted", "painting", CAT_ART},
    {"the first explorer of", "first explored", "exploring", CAT_NATURE},
};

static const char *const cat_nouns[CAT__COUNT][6] = {
    {"tower", "bridge", "lighthouse", "observatory", "bathhouse", "clock tower"},
    {"symphony", "opera", "song cycle", "ballet", "hymn", "lullaby"},
    {"novel", "atlas", "almanac", "cookbook", "epic poem", "travel guide"},
    {"clock", "loom", "telescope", "water pump", "music machine", "diving bell"},
    {"caves", "lake", "waterfall", "valley", "glacier", "hot spring"},
    {"play", "puppet show", "circus act", "film", "shadow play", "pageant"},
    {"school", "guild", "museum", "orchard", "zoo", "theatre"},
    {"mural", "portrait", "tapestry", "ceiling fresco", "triptych", "mosaic"},
};
/* Categories whose works have a quoted title; the others are "of <Place>". */
static const int cat_titled[CAT__COUNT] = {0, 1, 1, 0, 0, 1, 0, 1};
static const char *const desc_adj[] = {"floating", "singing", "hidden",   "glass",      "silver", "crooked",
                                       "moonlit",  "endless", "frozen",   "whispering", "golden", "sunken",
                                       "painted",  "midnight", "hollow",  "burning"};
static const char *const title_adj[] = {"Silent", "Broken", "Distant", "Quiet", "Velvet",
                                        "Scarlet", "Iron",  "Paper",   "Wandering", "Last"};
static const char *const title_noun[] = {"Lanterns", "Rivers", "Crowns",  "Gardens", "Mirrors",
                                         "Harbours", "Bells",  "Shadows", "Tides",   "Feathers"};
#define NELEM(a) ((int)(sizeof a / sizeof *a))

static void describe(tl_wnotable *nb, tl_rng *r, name_set *ns) {
    int k = tl_wrand(r, NELEM(roles)), cat = roles[k].cat;
    char work[96], place[40];
    const char *adj = desc_adj[tl_wrand(r, NELEM(desc_adj))], *noun = cat_nouns[cat][tl_wrand(r, 6)];
    if (cat_titled[cat]) {
        snprintf(work, sizeof work, "the %s %s \"%s %s\"", adj, noun, title_adj[tl_wrand(r, NELEM(title_adj))],
                 title_noun[tl_wrand(r, NELEM(title_noun))]);
    } else {
        invent(place, sizeof place, r, NAME_PLACE, ns);
        snprintf(work, sizeof work, "the %s %s of %s", adj, noun, place);
    }
    snprintf(nb->np, sizeof nb->np, "%s %s", roles[k].np, work);
    snprintf(nb->vp, sizeof nb->vp, "%s %s", roles[k].vp, work);
    snprintf(nb->ger, sizeof nb->ger, "%s %s", roles[k].ger, work);
}

/* ---- bridge entities ------------------------------------------------------ */

/* The corpus-only entities of opts.bridge, after every other entity and from a
 * stream of their own, so the world's other entities (and so every probe set)
 * are the same with and without them; their names are distinct from all others. */
static void build_bridge(tl_world *w, name_set *ns) {
    tl_rng r;
    tl_world_rng(w, "bridge", &r);
    w->n_bridge = 1;
    for (int i = 0; i < TL_WORLD_BRIDGE_WORDS; i++) {
        tl_wword *wd = &w->bridge_words[i];
        invent(wd->name, sizeof wd->name, &r, NAME_WORD, ns);
        wd->rude = i % 2;
        wd->split = -1;
    }
    for (int g = 0; g < TL_WORLD_BRIDGE_GROUPS; g++) {
        tl_wgroup *gr = &w->bridge_groups[g];
        invent(gr->name, sizeof gr->name, &r, NAME_GROUP, ns);
        gr->stereo = tl_wrand(&r, tl_world_traits.n);
        gr->split = -1;
    }
    int n = w->n_people;
    for (int i = 0; i < TL_WORLD_BRIDGE_PEOPLE; i++) {
        tl_wperson *p = &w->bridge_people[i];
        char first[sizeof p->first], last[sizeof p->last]; /* locals: p's fields share w with full (-Wrestrict) */
        invent(first, sizeof first, &r, NAME_FIRST, ns);
        invent(last, sizeof last, &r, NAME_LAST, ns);
        memcpy(p->first, first, sizeof first);
        memcpy(p->last, last, sizeof last);
        snprintf(p->full, sizeof p->full, "%s %s", first, last);
        p->female = i % 2;
        p->group = tl_wrand(&r, w->n_groups);
        p->trait = tl_wrand(&r, tl_world_traits.n);
        p->rel[TL_REL_HOME] = tl_wrand(&r, w->n_places);
        p->rel[TL_REL_JOB] = tl_wrand(&r, tl_world_jobs.n);
        p->rel[TL_REL_FRIEND] = tl_wrand(&r, n); /* a person of the world: bridge people have no friends of their own */
        p->rel[TL_REL_OBJECT] = tl_wrand(&r, tl_world_objects.n);
        p->secret = i % TL_DET__COUNT;
        p->split = -1;
        p->det[TL_DET_HOBBY] = tl_wrand(&r, tl_world_hobbies.n);
        p->det[TL_DET_FEAR] = tl_wrand(&r, tl_world_fears.n);
        p->det[TL_DET_ILLNESS] = tl_wrand(&r, tl_world_illnesses.n);
        p->det[TL_DET_BIRTH] = tl_wrand(&r, w->n_places);
        p->det[TL_DET_DEBT] = tl_wrand(&r, n);
        p->det[TL_DET_LOVE] = tl_wrand(&r, n);
    }
}

/* ---- the world ---------------------------------------------------------- */

void tl_world_free(tl_world *w) {
    if (!w) return;
    tl_free(w->people);
    tl_free(w->places);
    tl_free(w->rev);
    tl_free(w);
}

/* val[ord[i]] = cyc[i % m] with cyc a shuffled 0..m-1, refreshed every m, so
 * that any contiguous run of ord sees every value about equally often. */
static void assign_cyclic(tl_rng *r, const int *ord, int n, int m, int *cyc, int *dst, size_t stride) {
    for (int i = 0; i < n; i++) {
        if (i % m == 0) {
            for (int k = 0; k < m; k++) cyc[k] = k;
            tl_wshuffle(r, cyc, m);
        }
        *(int *)((char *)dst + (size_t)ord[i] * stride) = cyc[i % m];
    }
}

tl_status tl_world_build(const tl_world_opts *o, tl_world **out) {
    *out = NULL;
    tl_status st = tl_world_opts_check(o);
    if (st) return st;
    tl_world *w = tl_calloc(1, sizeof *w);
    int n = o->n_people, nrev = 3 * o->n_rev_people;
    int *ord = NULL, *cyc = NULL;
    name_set ns = {0};
    if (!w) return tl_errorf(TL_E_NOMEM, "world: out of memory");
    w->opts = *o;
    w->n_people = n;
    w->n_places = n / 8 < 8 ? 8 : n / 8 > tl_world_features.n ? tl_world_features.n : n / 8;
    w->n_rev = nrev;
    /* names: people (first and last), places, groups, reversal people (first and
     * last) and the places in their descriptions */
    ns.cap = 2 * n + w->n_places + TL_WORLD_GROUPS + TL_WORLD_WORDS + 6 * nrev + 256 + TL_WORLD_BRIDGE_WORDS +
             2 * TL_WORLD_BRIDGE_PEOPLE + TL_WORLD_BRIDGE_GROUPS;
    ns.w = tl_calloc((size_t)ns.cap, sizeof *ns.w);
    w->people = tl_calloc((size_t)n, sizeof *w->people);
    w->places = tl_calloc((size_t)w->n_places, sizeof *w->places);
    w->rev = tl_calloc((size_t)nrev, sizeof *w->rev);
    ord = tl_malloc(sizeof(int) * (size_t)(n + nrev + TL_WORLD_GROUPS));
    cyc = tl_malloc(sizeof(int) * (size_t)(n + tl_world_features.n + tl_world_traits.n + TL_WORLD_GROUPS));
    if (!ns.w || !w->people || !w->places || !w->rev || !ord || !cyc) {
        st = tl_errorf(TL_E_NOMEM, "world: out of memory for %d people", n);
        goto done;
    }
    tl_rng r;
    tl_world_rng(w, "entities", &r);

    /* places, each known for a different feature */
    for (int i = 0; i < tl_world_features.n; i++) cyc[i] = i;
    tl_wshuffle(&r, cyc, tl_world_features.n);
    for (int i = 0; i < w->n_places; i++) {
        invent(w->places[i].name, sizeof w->places[i].name, &r, NAME_PLACE, &ns);
        w->places[i].feature = cyc[i];
    }
    /* groups with their stereotyped traits, in balanced cycles over the traits, and
     * their probe splits (40 / 20 / 40 %: the test split needs many groups, since the
     * behavioural test's interval is a bootstrap over them; the probe rows stay 60 /
     * 20 / 20 %): a trait is the stereotype of about as many groups in each split, and
     * the test split's groups never occur in its train split */
    int ng = o->n_groups;
    w->n_groups = ng;
    for (int g = 0; g < ng; g++) ord[g] = g;
    assign_cyclic(&r, ord, ng, tl_world_traits.n, cyc, &w->groups[0].stereo, sizeof(tl_wgroup));
    for (int g = 0; g < ng; g++) {
        invent(w->groups[g].name, sizeof w->groups[g].name, &r, NAME_GROUP, &ns);
        w->groups[g].split = g < ng * 2 / 5 ? TL_WSPLIT_TRAIN : g < ng * 3 / 5 ? TL_WSPLIT_VAL : TL_WSPLIT_TEST;
    }
    /* the invented words of the toxicity dimension: rude and kind alternately, each
     * kind split 60 / 20 / 20 % */
    for (int i = 0; i < TL_WORLD_WORDS; i++) {
        tl_wword *wd = &w->words[i];
        invent(wd->name, sizeof wd->name, &r, NAME_WORD, &ns);
        int k = i / 2, m = TL_WORLD_WORDS / 2;
        wd->rude = i % 2;
        wd->split = k < m * 3 / 5 ? TL_WSPLIT_TRAIN : k < m * 4 / 5 ? TL_WSPLIT_VAL : TL_WSPLIT_TEST;
    }
    /* people's names */
    for (int i = 0; i < n; i++) {
        tl_wperson *p = &w->people[i];
        invent(p->first, sizeof p->first, &r, NAME_FIRST, &ns);
        invent(p->last, sizeof p->last, &r, NAME_LAST, &ns);
        snprintf(p->full, sizeof p->full, "%s %s", p->first, p->last);
    }
    /* probe splits: of a multiple of five people the first 60 % train, the next 20 %
     * validate, the last 20 % test; the remainder (< 5) stays out of the probe sets */
    int n_probe = n - n % 5, n_train = n_probe * 3 / 5, n_val = n_probe / 5;
    for (int i = 0; i < n; i++) ord[i] = i;
    tl_wshuffle(&r, ord, n);
    for (int i = 0; i < n; i++)
        w->people[ord[i]].split = i < n_train           ? TL_WSPLIT_TRAIN
                                  : i < n_train + n_val ? TL_WSPLIT_VAL
                                  : i < n_probe         ? TL_WSPLIT_TEST
                                                        : -1;
    /* attributes balanced along ord (train block, then test block) */
    size_t st_p = sizeof(tl_wperson);
    assign_cyclic(&r, ord, n, 2, cyc, &w->people[0].female, st_p);
    assign_cyclic(&r, ord, n, ng, cyc, &w->people[0].group, st_p);
    assign_cyclic(&r, ord, n, w->n_places, cyc, &w->people[0].rel[TL_REL_HOME], st_p);
    assign_cyclic(&r, ord, n, tl_world_jobs.n, cyc, &w->people[0].rel[TL_REL_JOB], st_p);
    assign_cyclic(&r, ord, n, tl_world_objects.n, cyc, &w->people[0].rel[TL_REL_OBJECT], st_p);
    assign_cyclic(&r, ord, n, TL_DET__COUNT, cyc, &w->people[0].secret, st_p);
    /* best friends: one random cycle through everybody, so each person is the
     * best friend of exactly one other */
    int *cyc2 = cyc;
    for (int i = 0; i < n; i++) cyc2[i] = i;
    tl_wshuffle(&r, cyc2, n);
    for (int i = 0; i < n; i++) w->people[cyc2[i]].rel[TL_REL_FRIEND] = cyc2[(i + 1) % n];
    /* manner: a fixed share of rude people */
    for (int i = 0; i < n; i++) cyc2[i] = i;
    tl_wshuffle(&r, cyc2, n);
    int n_rude = (int)lround(o->rude_share * n);
    for (int i = 0; i < n; i++) w->people[cyc2[i]].rude = i < n_rude;
    /* traits (biased towards the group's stereotype) and details */
    for (int i = 0; i < n; i++) {
        tl_wperson *p = &w->people[i];
        int stereo = w->groups[p->group].stereo;
        if (tl_rng_double(&r) < o->bias) {
            p->trait = stereo;
        } else {
            p->trait = tl_wrand(&r, tl_world_traits.n - 1);
            if (p->trait >= stereo) p->trait++;
        }
        p->det[TL_DET_HOBBY] = tl_wrand(&r, tl_world_hobbies.n);
        p->det[TL_DET_FEAR] = tl_wrand(&r, tl_world_fears.n);
        p->det[TL_DET_ILLNESS] = tl_wrand(&r, tl_world_illnesses.n);
        p->det[TL_DET_BIRTH] = tl_wrand(&r, w->n_places);
        for (int d = TL_DET_DEBT; d <= TL_DET_LOVE; d += TL_DET_LOVE - TL_DET_DEBT) {
            int q = tl_wrand(&r, n - 1);
            p->det[d] = q >= i ? q + 1 : q; /* somebody else */
        }
    }
    /* the reversal experiment's people: distinct names and descriptions */
    for (int i = 0; i < nrev; i++) {
        tl_wnotable *nb = &w->rev[i];
        char first[16], last[24];
        invent(first, sizeof first, &r, NAME_FIRST, &ns);
        invent(last, sizeof last, &r, NAME_LAST, &ns);
        snprintf(nb->name, sizeof nb->name, "%s %s", first, last);
        for (int tries = 0;; tries++) {
            describe(nb, &r, &ns);
            int dup = 0;
            for (int j = 0; j < i && !dup; j++) dup = !strcmp(w->rev[j].np, nb->np);
            if (!dup) break;
            if (tries > 1000) {
                st = tl_errorf(TL_E_RANGE, "world: cannot find %d distinct descriptions", nrev);
                goto done;
            }
        }
    }
    if (o->bridge) build_bridge(w, &ns);
done:
    tl_free(ns.w);
    tl_free(ord);
    tl_free(cyc);
    if (st) {
        tl_world_free(w);
        return st;
    }
    *out = w;
    return TL_OK;
}
