/* recontrol_degenerate.c: degenerate variants of fluent replies (the same tokens shuffled, one
 * token repeated, a punctuation run, a cut to a few tokens, random vocabulary tokens), for a
 * reward model's training pairs (the fluent reply chosen over its variant, so that fluency is
 * part of what the judge prefers) and for its gaming check (the share of held-out fluent replies
 * the judge prefers over every one of their variants). Everything is drawn from a seed. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h" /* internal: tl_errorf */
#include "tiller/recontrol.h"
#include "tiller/tokenizer.h"

struct tl_degen {
    const tl_tokenizer *tok;
    int32_t *punct, *normal; /* punctuation tokens; every normal token (for NOISE) */
    int n_punct, n_normal;
};

static const char *const degen_names[TL_DEGEN__COUNT] = {"shuffle", "repeat", "punct", "truncate", "noise"};

const char *tl_degen_name(tl_degen_kind k) { return k >= 0 && k < TL_DEGEN__COUNT ? degen_names[k] : "?"; }

tl_status tl_degen_new(const tl_tokenizer *tok, tl_degen **out) {
    *out = NULL;
    int nv = tl_tokenizer_n_vocab(tok);
    tl_degen *g = tl_calloc(1, sizeof *g);
    if (!g || nv < 1 || !(g->normal = tl_malloc(sizeof(int32_t) * (size_t)nv)) ||
        !(g->punct = tl_malloc(sizeof(int32_t) * 8))) {
        tl_degen_free(g);
        return nv < 1 ? tl_errorf(TL_E_ARG, "degenerate replies: the tokenizer has no tokens")
                      : tl_errorf(TL_E_NOMEM, "degenerate replies: out of memory");
    }
    g->tok = tok;
    for (int32_t id = 0; id < nv; id++)
        if (tl_tokenizer_token_type(tok, id) == TL_TOKEN_NORMAL) g->normal[g->n_normal++] = id;
    static const char *const marks[] = {",", ".", "!", "?", "'", "-"};
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) {
        int32_t id = tl_tokenizer_find(tok, marks[i], 1);
        if (id >= 0) g->punct[g->n_punct++] = id;
    }
    if (g->n_normal == 0) {
        tl_degen_free(g);
        return tl_errorf(TL_E_ARG, "degenerate replies: the tokenizer has no normal tokens");
    }
    *out = g;
    return TL_OK;
}

void tl_degen_free(tl_degen *g) {
    if (!g) return;
    tl_free(g->punct), tl_free(g->normal), tl_free(g);
}

tl_status tl_degen_ids(const tl_degen *g, const int32_t *ids, int n, tl_degen_kind k, tl_rng *rng, int32_t *out,
                       int *n_out) {
    *n_out = 0;
    if (n < TL_DEGEN_MIN_TOKENS)
        return tl_errorf(TL_E_ARG, "degenerate replies: a reply of %d tokens (at least %d needed)", n,
                         TL_DEGEN_MIN_TOKENS);
    if (k == TL_DEGEN_PUNCT && g->n_punct == 0) k = TL_DEGEN_REPEAT; /* a vocabulary without , . ! ? ' - */
    switch (k) {
        case TL_DEGEN_SHUFFLE: {
            /* a permutation that differs from the reply whenever its tokens are not all equal */
            int differs = 0;
            for (int tries = 0; tries < 16 && !differs; tries++) {
                memcpy(out, ids, sizeof(int32_t) * (size_t)n);
                for (int i = n - 1; i > 0; i--) {
                    int j = (int)tl_rng_below(rng, (uint64_t)i + 1);
                    int32_t t = out[i];
                    out[i] = out[j], out[j] = t;
                }
                differs = memcmp(out, ids, sizeof(int32_t) * (size_t)n) != 0;
            }
            if (!differs) { /* 16 identity draws: rotate to the first position where a token changes */
                int s = 1;
                while (s < n && ids[s] == ids[0]) s++;
                for (int i = 0; i < n; i++) out[i] = ids[(i + s) % n];
            }
            *n_out = n;
            break;
        }
        case TL_DEGEN_REPEAT: {
            int32_t t = ids[tl_rng_below(rng, (uint64_t)n)];
            for (int i = 0; i < n; i++) out[i] = t;
            *n_out = n;
            break;
        }
        case TL_DEGEN_PUNCT: {
            int32_t t = g->punct[tl_rng_below(rng, (uint64_t)g->n_punct)];
            for (int i = 0; i < n; i++) out[i] = t;
            *n_out = n;
            break;
        }
        case TL_DEGEN_TRUNCATE: { /* 1 .. min(3, n / 4) tokens: no answer at all */
            int most = n / 4 < 3 ? n / 4 : 3;
            int keep = 1 + (int)tl_rng_below(rng, (uint64_t)most);
            memcpy(out, ids, sizeof(int32_t) * (size_t)keep);
            *n_out = keep;
            break;
        }
        case TL_DEGEN_NOISE:
            for (int i = 0; i < n; i++) out[i] = g->normal[tl_rng_below(rng, (uint64_t)g->n_normal)];
            *n_out = n;
            break;
        default:
            return tl_errorf(TL_E_ARG, "degenerate replies: unknown kind %d", (int)k);
    }
    return TL_OK;
}

/* The text of ids, as a reply: pieces decoded in order, with the leading space the reply had. */
static tl_status ids_text(const tl_tokenizer *tok, const int32_t *ids, int n, int lead_space, char **out) {
    tl_strbuf b = {0};
    if (lead_space) tl_strbuf_puts(&b, " ");
    char piece[256];
    for (int i = 0; i < n; i++) {
        size_t len = tl_tokenizer_decode_piece(tok, i ? ids[i - 1] : -1, ids[i], piece, sizeof piece);
        tl_strbuf_append(&b, piece, len < sizeof piece ? len : sizeof piece);
    }
    tl_status s = tl_strbuf_status(&b);
    *out = tl_strbuf_take(&b); /* the caller frees it with tl_free */
    if (s) return s;
    return *out ? TL_OK : tl_errorf(TL_E_NOMEM, "degenerate replies: out of memory");
}

static uint64_t mix(uint64_t seed, uint64_t i, uint64_t k) {
    uint64_t x = seed ^ (i + 1) * 0x9E3779B97F4A7C15ull ^ (k + 1) * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 31;
    return x * 0xBF58476D1CE4E5B9ull;
}

tl_status tl_degen_reply(const tl_degen *g, const char *reply, const tl_degen_kind *kinds, int n_kinds, uint64_t seed,
                         char **fluent, char **variants, int *ok) {
    *fluent = NULL, *ok = 0;
    for (int k = 0; k < n_kinds; k++) variants[k] = NULL;
    int lead = reply[0] == ' ';
    const char *body = reply + lead;
    int32_t *ids = NULL, *buf = NULL;
    size_t n = 0;
    tl_status s = tl_tokenizer_encode(g->tok, body, strlen(body), 0, &ids, &n);
    if (s) return s;
    if ((int)n < TL_DEGEN_MIN_TOKENS) goto done; /* too short to be made degenerate: skipped */
    if (!(buf = tl_malloc(sizeof(int32_t) * n))) {
        s = tl_errorf(TL_E_NOMEM, "degenerate replies: out of memory");
        goto done;
    }
    /* the fluent side: the reply cut after m tokens, m uniform in [ceil(n/2), n], as the policy's
     * replies are cut at a token budget; at least TL_DEGEN_MIN_TOKENS */
    tl_rng rng;
    tl_rng_seed(&rng, mix(seed, 0, TL_DEGEN__COUNT));
    int lo = ((int)n + 1) / 2 < TL_DEGEN_MIN_TOKENS ? TL_DEGEN_MIN_TOKENS : ((int)n + 1) / 2;
    int m = lo + (int)tl_rng_below(&rng, (uint64_t)((int)n - lo + 1));
    if ((s = ids_text(g->tok, ids, m, lead, fluent))) goto done;
    for (int k = 0; k < n_kinds; k++) {
        int nb;
        tl_rng_seed(&rng, mix(seed, 1, (uint64_t)kinds[k]));
        if ((s = tl_degen_ids(g, ids, m, kinds[k], &rng, buf, &nb)) ||
            (s = ids_text(g->tok, buf, nb, lead, &variants[k])))
            goto done;
    }
    *ok = 1;
done:
    if (s) {
        tl_free(*fluent), *fluent = NULL;
        for (int k = 0; k < n_kinds; k++) tl_free(variants[k]), variants[k] = NULL;
    }
    tl_free(ids), tl_free(buf);
    return s;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s);
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n + 1);
    return c;
}

tl_status tl_degen_pairs(const tl_degen *g, const tl_pref_pair *src, int n, const tl_degen_kind *kinds, int n_kinds,
                         uint64_t seed, tl_pref_pair **out, int *n_out) {
    *out = NULL, *n_out = 0;
    if (n_kinds < 1) return tl_errorf(TL_E_ARG, "degenerate pairs: no kinds");
    tl_pref_pair *p = calloc((size_t)(n > 0 ? n : 1), sizeof *p);
    if (!p) return tl_errorf(TL_E_NOMEM, "degenerate pairs: out of memory");
    int k = 0;
    tl_status s = TL_OK;
    for (int i = 0; i < n && !s; i++) {
        /* one variant per reply, the kinds in turn: as many degenerate pairs as preference pairs */
        tl_degen_kind kind = kinds[i % n_kinds];
        char *fl = NULL, *var = NULL;
        int ok = 0;
        s = tl_degen_reply(g, src[i].chosen, &kind, 1, mix(seed, (uint64_t)i, 7), &fl, &var, &ok);
        if (!s && ok) {
            p[k].prompt = dup_str(src[i].prompt), p[k].chosen = dup_str(fl), p[k].rejected = dup_str(var);
            if (!p[k].prompt || !p[k].chosen || !p[k].rejected)
                s = tl_errorf(TL_E_NOMEM, "degenerate pairs: out of memory");
            k++;
        }
        tl_free(fl), tl_free(var);
    }
    if (s) {
        tl_pref_pairs_free(p, k);
        return s;
    }
    *out = p, *n_out = k;
    return TL_OK;
}

tl_status tl_degen_pairs_each_kind(const tl_degen *g, const tl_pref_pair *src, int n, const tl_degen_kind *kinds,
                                   int n_kinds, uint64_t seed, tl_pref_pair **out, int *n_out) {
    *out = NULL, *n_out = 0;
    tl_pref_pair *all = calloc((size_t)n * (size_t)(n_kinds > 0 ? n_kinds : 0) + 1, sizeof *all);
    if (!all) return tl_errorf(TL_E_NOMEM, "degenerate pairs: out of memory");
    int n_all = 0;
    tl_status s = n_kinds < 1 ? tl_errorf(TL_E_ARG, "degenerate pairs: no kinds") : TL_OK;
    for (int k = 0; k < n_kinds && !s; k++) {
        tl_pref_pair *pk = NULL;
        int nk = 0;
        if (!(s = tl_degen_pairs(g, src, n, &kinds[k], 1, seed + 1 + (uint64_t)k, &pk, &nk))) {
            memcpy(all + n_all, pk, sizeof *pk * (size_t)nk); /* the strings move into all */
            n_all += nk;
            free(pk);
        }
    }
    if (s) {
        tl_pref_pairs_free(all, n_all);
        return s;
    }
    *out = all, *n_out = n_all;
    return TL_OK;
}

tl_status tl_reward_gaming_check(tl_reward *r, const tl_degen *g, const tl_pref_pair *src, int n, uint64_t seed,
                                 tl_gaming_result *res) {
    memset(res, 0, sizeof *res);
    tl_degen_kind kinds[TL_DEGEN__COUNT];
    for (int k = 0; k < TL_DEGEN__COUNT; k++) kinds[k] = (tl_degen_kind)k;
    char *fl = NULL, *var[TL_DEGEN__COUNT] = {0};
    tl_status s = TL_OK;
    for (int i = 0; i < n && !s; i++) {
        int ok = 0;
        if ((s = tl_degen_reply(g, src[i].chosen, kinds, TL_DEGEN__COUNT, mix(seed, (uint64_t)i, 11), &fl, var, &ok)))
            break;
        if (!ok) {
            res->n_skipped++;
            continue;
        }
        double rf, rv;
        int all = 1;
        s = tl_reward_score(r, src[i].prompt, fl, &rf);
        for (int k = 0; k < TL_DEGEN__COUNT && !s; k++) {
            if ((s = tl_reward_score(r, src[i].prompt, var[k], &rv))) break;
            int pass = rf > rv; /* a tie is a failure: the judge must prefer the fluent reply */
            res->n_pass[k] += pass;
            all &= pass;
        }
        if (!s) res->n++, res->n_pass_all += all;
        tl_free(fl), fl = NULL;
        for (int k = 0; k < TL_DEGEN__COUNT; k++) tl_free(var[k]), var[k] = NULL;
    }
    tl_free(fl);
    for (int k = 0; k < TL_DEGEN__COUNT; k++) tl_free(var[k]);
    return s;
}

tl_status tl_reward_train_judge(const tl_model *m, const tl_tokenizer *tok, tl_pref_pair *pairs, int n, double held_out,
                                const tl_degen_kind *kinds, int n_kinds, const tl_reward_train_opts *o,
                                const char *head_path, tl_judge_result *res, tl_reward **judge) {
    memset(res, 0, sizeof *res);
    if (judge) *judge = NULL;
    res->n_train = tl_pref_pairs_split(pairs, n, held_out, o->seed), res->n_heldout = n - res->n_train;
    if (res->n_train < 1 || res->n_heldout < 1)
        return tl_errorf(TL_E_ARG, "judge: %d pairs leave %d to train and %d held out", n, res->n_train,
                         res->n_heldout);
    tl_degen *g = NULL;
    tl_pref_pair *dg = NULL, *train = NULL;
    tl_reward *r = NULL;
    size_t cap = strlen(head_path) + 7;
    char *spec = malloc(cap);
    tl_status s = spec ? tl_degen_new(tok, &g) : tl_errorf(TL_E_NOMEM, "judge: out of memory");
    if (!s) s = tl_degen_pairs_each_kind(g, pairs, res->n_train, kinds, n_kinds, o->seed, &dg, &res->n_degen);
    if (!s && !(train = malloc(sizeof *train * (size_t)(res->n_train + res->n_degen))))
        s = tl_errorf(TL_E_NOMEM, "judge: out of memory");
    if (!s) {
        memcpy(train, pairs, sizeof *train * (size_t)res->n_train); /* views: pairs and dg keep the strings */
        memcpy(train + res->n_train, dg, sizeof *train * (size_t)res->n_degen);
        tl_reward_train_opts ot = *o;
        ot.val_share = 0;
        tl_reward_train_result tr;
        s = tl_reward_train(m, tok, train, res->n_train + res->n_degen, &ot, head_path, &tr);
        res->train_acc = s ? 0 : tr.train_acc;
    }
    if (!s) snprintf(spec, cap, "model:%s", head_path), s = tl_reward_open(spec, &r);
    if (!s) s = tl_reward_accuracy(r, pairs + res->n_train, res->n_heldout, &res->n_correct, &res->n_ties, NULL, NULL);
    if (!s) s = tl_reward_gaming_check(r, g, pairs + res->n_train, res->n_heldout, o->seed + 2, &res->gaming);
    if (!s && judge) *judge = r, r = NULL;
    tl_reward_free(r);
    free(train), free(spec);
    tl_pref_pairs_free(dg, res->n_degen);
    tl_degen_free(g);
    return s;
}
