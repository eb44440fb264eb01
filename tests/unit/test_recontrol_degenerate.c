/* test_recontrol_degenerate.c: the degenerate-reply builder behind the reward model's training
 * pairs and its gaming check: each kind is what it says (a shuffle keeps the multiset of tokens
 * in another order, a repeat is one of the reply's tokens, a punctuation run, a cut to 1-3 tokens,
 * noise from normal tokens), the same seed gives the same variants and another seed others, and
 * the pair builder keeps prompts, cuts the fluent side and skips short replies. */
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "tiller/recontrol.h"

static int cmp_id(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int main(void) {
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    tl_degen *g = NULL;
    CHECK_OK(tl_degen_new(tok, &g));
    const char *reply = " Lily went to the park with her mom and saw a big red ball.";
    int32_t *ids = NULL;
    size_t n = 0;
    CHECK_OK(tl_tokenizer_encode(tok, reply + 1, strlen(reply + 1), 0, &ids, &n));
    CHECK(n >= 12, "the reply encodes to %zu tokens", n);
    int32_t out[64], a[64], b[64];
    int no = 0;

    /* every kind over 50 seeds */
    int shuffle_moved = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        tl_rng rng;
        for (int k = 0; k < TL_DEGEN__COUNT; k++) {
            tl_rng_seed(&rng, seed * 31 + (uint64_t)k);
            CHECK_OK(tl_degen_ids(g, ids, (int)n, (tl_degen_kind)k, &rng, out, &no));
            switch (k) {
                case TL_DEGEN_SHUFFLE:
                    CHECK(no == (int)n, "shuffle: %d tokens of %zu", no, n);
                    memcpy(a, ids, n * sizeof *a), memcpy(b, out, n * sizeof *b);
                    qsort(a, n, sizeof *a, cmp_id), qsort(b, n, sizeof *b, cmp_id);
                    CHECK(!memcmp(a, b, n * sizeof *a), "shuffle: not the same multiset of tokens (seed %llu)",
                          (unsigned long long)seed);
                    CHECK(memcmp(out, ids, n * sizeof *out), "shuffle: the reply's own order (seed %llu)",
                          (unsigned long long)seed);
                    for (size_t i = 0; i < n; i++) shuffle_moved += out[i] != ids[i];
                    break;
                case TL_DEGEN_REPEAT: {
                    int in_reply = 0;
                    for (size_t i = 0; i < n; i++) in_reply |= ids[i] == out[0];
                    CHECK(no == (int)n && in_reply, "repeat: %d tokens, first in the reply %d", no, in_reply);
                    for (int i = 1; i < no; i++) CHECK(out[i] == out[0], "repeat: token %d differs", i);
                    break;
                }
                case TL_DEGEN_PUNCT: {
                    size_t len = 0;
                    const char *piece = tl_tokenizer_piece(tok, out[0], &len);
                    CHECK(no == (int)n && piece && len == 1 && strchr(",.!?'-", piece[0]), "punct: '%.*s'", (int)len,
                          piece ? piece : "");
                    for (int i = 1; i < no; i++) CHECK(out[i] == out[0], "punct: token %d differs", i);
                    break;
                }
                case TL_DEGEN_TRUNCATE:
                    CHECK(no >= 1 && no <= 3 && !memcmp(out, ids, (size_t)no * sizeof *out), "truncate: %d tokens", no);
                    break;
                case TL_DEGEN_NOISE:
                    CHECK(no == (int)n, "noise: %d tokens", no);
                    for (int i = 0; i < no; i++)
                        CHECK(tl_tokenizer_token_type(tok, out[i]) == TL_TOKEN_NORMAL, "noise: token %d is not normal",
                              out[i]);
                    break;
            }
        }
    }
    printf("shuffle moved %.0f%% of the tokens on average\n", 100.0 * shuffle_moved / (50.0 * (double)n));
    CHECK(shuffle_moved > 25 * (int)n, "shuffle moves too few tokens: %d over 50 draws", shuffle_moved);

    /* a reply of equal tokens still gets an order that differs... or cannot: all orders are equal */
    int32_t same[6] = {ids[0], ids[0], ids[0], ids[1], ids[0], ids[0]};
    tl_rng rng;
    tl_rng_seed(&rng, 3);
    CHECK_OK(tl_degen_ids(g, same, 6, TL_DEGEN_SHUFFLE, &rng, out, &no));
    CHECK(memcmp(out, same, sizeof same), "shuffle of a nearly constant reply kept its order");
    /* too short, and an unknown kind: errors */
    CHECK(tl_degen_ids(g, ids, 3, TL_DEGEN_SHUFFLE, &rng, out, &no) == TL_E_ARG, "a 3-token reply accepted");
    CHECK(tl_degen_ids(g, ids, (int)n, (tl_degen_kind)99, &rng, out, &no) == TL_E_ARG, "kind 99 accepted");

    /* texts: deterministic from the seed, different for another seed, the fluent side a prefix */
    tl_degen_kind kinds[TL_DEGEN__COUNT];
    for (int k = 0; k < TL_DEGEN__COUNT; k++) kinds[k] = (tl_degen_kind)k;
    char *f1, *f2, *v1[TL_DEGEN__COUNT], *v2[TL_DEGEN__COUNT];
    int ok1, ok2, differ = 0;
    CHECK_OK(tl_degen_reply(g, reply, kinds, TL_DEGEN__COUNT, 42, &f1, v1, &ok1));
    CHECK_OK(tl_degen_reply(g, reply, kinds, TL_DEGEN__COUNT, 42, &f2, v2, &ok2));
    CHECK(ok1 && ok2 && !strcmp(f1, f2), "the same seed: fluent sides differ");
    CHECK(!strncmp(reply, f1, strlen(f1)) && strlen(f1) < strlen(reply) + 1,
          "fluent side '%s' is not a cut of the reply", f1);
    printf("fluent: '%s'\n", f1);
    for (int k = 0; k < TL_DEGEN__COUNT; k++) {
        CHECK(!strcmp(v1[k], v2[k]), "the same seed: %s variants differ", tl_degen_name(kinds[k]));
        CHECK(strcmp(v1[k], f1) && v1[k][0] == ' ', "%s: '%s'", tl_degen_name(kinds[k]), v1[k]);
        printf("%-8s '%s'\n", tl_degen_name(kinds[k]), v1[k]);
        tl_free(v2[k]);
    }
    tl_free(f2);
    CHECK_OK(tl_degen_reply(g, reply, kinds, TL_DEGEN__COUNT, 43, &f2, v2, &ok2));
    for (int k = 0; k < TL_DEGEN__COUNT; k++) differ += strcmp(v1[k], v2[k]) != 0, tl_free(v1[k]), tl_free(v2[k]);
    CHECK(differ >= 3, "another seed changed only %d of the variants", differ);
    tl_free(f1), tl_free(f2);
    CHECK_OK(tl_degen_reply(g, " Hi.", kinds, TL_DEGEN__COUNT, 1, &f1, v1, &ok1));
    CHECK(!ok1 && !f1, "a reply under %d tokens was not skipped", TL_DEGEN_MIN_TOKENS);

    /* pairs: one per long-enough reply, kinds in turn, prompts kept */
    tl_pref_pair src[3] = {{"User: a?\nAssistant:", (char *)reply, " no"},
                           {"User: b?\nAssistant:", " Hi.", " no"},
                           {"User: c?\nAssistant:", " The cat sat on the mat and looked at the sun.", " no"}};
    tl_pref_pair *p = NULL;
    int np = 0;
    tl_degen_kind three[3] = {TL_DEGEN_REPEAT, TL_DEGEN_SHUFFLE, TL_DEGEN_TRUNCATE};
    CHECK_OK(tl_degen_pairs(g, src, 3, three, 3, 5, &p, &np));
    CHECK(np == 2 && !strcmp(p[0].prompt, src[0].prompt) && !strcmp(p[1].prompt, src[2].prompt), "pairs: %d", np);
    CHECK(strlen(p[1].rejected) < strlen(p[1].chosen) / 2, "pair 2 (kind truncate, the third in turn): '%s'",
          p[1].rejected);
    tl_pref_pairs_free(p, np);

    tl_free(ids);
    tl_degen_free(g);
    tl_tokenizer_free(tok);
    return tl_test_done();
}
