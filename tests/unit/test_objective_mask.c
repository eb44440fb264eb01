/* The bico and abi objectives (src/train/objective.c) on hand-made batches: the mask
 * ratio, which targets are set and to what, the key mask and placeholder, the
 * per-batch choice between the objective and NTP (probability p), abi's layout
 * (every input is the row's token at its position, every target the next one, the
 * span after a bidirectional context), determinism by seed, option errors; then a
 * real forward/backward of a tiny model on each objective's batch. */
#include <string.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"

enum { B = 4, T = 24 };

static tl_batch *make_batch(void) {
    tl_batch *b = NULL;
    CHECK_OK(tl_batch_new(B, T, &b));
    static const int lens[B] = {T + 1, 17, 9, 2};
    for (int r = 0; r < B; r++) {
        b->len[r] = lens[r];
        for (int t = 0; t <= T; t++) {
            int in = t < lens[r];
            b->tokens[r * (T + 1) + t] = in ? 10 + r * 30 + t : 0; /* distinct ids per row */
            b->loss_mask[r * (T + 1) + t] = in && t >= 4;           /* a 4-token prompt */
        }
    }
    return b;
}

static int32_t tok_at(const tl_batch *b, int r, int t) { return b->tokens[r * (T + 1) + t]; }

static void test_bico(void) {
    tl_objective_ctx ctx = {B, T, 200, 1, 2};
    tl_batch *b = make_batch();
    tl_objective *o = NULL;
    CHECK_OK(tl_objective_new("bico:mask=0.25,p=1,ph=7", &ctx, &o));
    if (!o || !b) return;
    CHECK(o->windows == TL_WINDOWS_DOCS, "bico cuts one document per row");
    int32_t in[B * T], tg[B * T], in2[B * T], tg2[B * T];
    tl_attn_spec a, a2;
    tl_rng rng;
    tl_rng_seed(&rng, 5);
    CHECK_OK(o->make(o, b, &rng, in, tg, &a));
    CHECK(a.mode == TL_ATTN_BIDIR && a.key_mask && !a.prefix && !a.pos && !a.plain_rope,
          "bico: bidirectional, mirrored, with a key mask");
    for (int r = 0; r < B; r++) {
        int len = b->len[r], n_in = len < T ? len : T, masked = 0, bad = 0;
        for (int j = 1; j < len; j++) {
            int is_target = tg[r * T + j - 1] >= 0;
            masked += is_target;
            if (is_target) {
                /* output j-1 predicts the original token j; input j is the placeholder, hidden */
                bad += tg[r * T + j - 1] != tok_at(b, r, j);
                if (j < T) bad += in[r * T + j] != 7 || !a.key_mask[r * T + j];
            } else if (j < T) {
                bad += in[r * T + j] != tok_at(b, r, j) || a.key_mask[r * T + j];
            }
        }
        bad += in[r * T] != tok_at(b, r, 0) || a.key_mask[r * T]; /* position 0 never masked */
        for (int t = n_in; t < T; t++) bad += !a.key_mask[r * T + t] || tg[r * T + t] >= 0;
        int want = (int)(0.25 * (len - 1) + 0.5);
        if (want < 1) want = 1;
        CHECK(masked == want, "row %d: %d masked of %d candidates, want %d", r, masked, len - 1, want);
        CHECK(bad == 0, "row %d: %d wrong inputs / targets / key mask entries", r, bad);
    }
    /* the same seed gives the same batch; another seed another mask */
    tl_rng_seed(&rng, 5);
    CHECK_OK(o->make(o, b, &rng, in2, tg2, &a2));
    CHECK(!memcmp(in, in2, sizeof in) && !memcmp(tg, tg2, sizeof tg), "same seed, same batch");
    tl_rng_seed(&rng, 6);
    CHECK_OK(o->make(o, b, &rng, in2, tg2, &a2));
    CHECK(memcmp(tg, tg2, sizeof tg) != 0, "another seed, another mask");
    tl_objective_free(o);

    /* p: the share of batches that are BICO (the rest are sft-style NTP, causal) */
    CHECK_OK(tl_objective_new("bico", &ctx, &o));
    int n_bico = 0, n = 400, ntp_ok = 1;
    tl_rng_seed(&rng, 9);
    for (int i = 0; i < n && o; i++) {
        CHECK_OK(o->make(o, b, &rng, in, tg, &a));
        if (a.mode == TL_ATTN_BIDIR) {
            n_bico++;
        } else {
            ntp_ok &= !a.key_mask && tg[0] == -1 && tg[4] == tok_at(b, 0, 5) && in[3] == tok_at(b, 0, 3);
        }
    }
    printf("  bico p=0.5 (default): %d of %d batches masked\n", n_bico, n);
    CHECK(n_bico > 0.4 * n && n_bico < 0.6 * n, "p = 0.5: %d of %d", n_bico, n);
    CHECK(ntp_ok, "the NTP batches predict the completion only, causally");
    tl_objective_free(o);
    CHECK_OK(tl_objective_new("bico:p=0", &ctx, &o));
    n_bico = 0;
    for (int i = 0; i < 50 && o; i++) {
        CHECK_OK(o->make(o, b, &rng, in, tg, &a));
        n_bico += a.mode == TL_ATTN_BIDIR;
    }
    CHECK(n_bico == 0, "p = 0 never masks");
    tl_objective_free(o);
    CHECK_OK(tl_objective_new("bico:p=1,mirror=0", &ctx, &o));
    if (o) {
        CHECK_OK(o->make(o, b, &rng, in, tg, &a));
        CHECK(a.plain_rope == 1, "mirror=0 asks for plain RoPE");
    }
    tl_objective_free(o);
    tl_batch_free(b);
}

static void test_abi(void) {
    tl_objective_ctx ctx = {B, T, 200, 1, 2};
    tl_batch *b = make_batch();
    tl_objective *o = NULL;
    CHECK_OK(tl_objective_new("abi:ratio=0.2,p=1,pos=gap", &ctx, &o));
    if (!o || !b) return;
    int32_t in[B * T], tg[B * T];
    tl_attn_spec a;
    tl_rng rng;
    tl_rng_seed(&rng, 3);
    int spans = 0;
    for (int it = 0; it < 50; it++) {
        CHECK_OK(o->make(o, b, &rng, in, tg, &a));
        CHECK(a.mode == TL_ATTN_BIDIR && a.prefix && a.pos && !a.pos2 && !a.key_mask, "abi: prefix + positions");
        for (int r = 0; r < B; r++) {
            int len = b->len[r], n = len < T ? len : T, P = a.prefix[r], bad = 0;
            const int *pos = a.pos + r * T;
            if (n < 3) {
                CHECK(P == 0, "row %d too short for a span: plain NTP (prefix %d)", r, P);
                continue;
            }
            /* context: increasing positions with one gap [s, s+k); no targets */
            int s = -1, k = 0;
            for (int t = 0; t < P; t++) {
                bad += tg[r * T + t] >= 0;
                if (t && pos[t] != pos[t - 1] + 1) s = pos[t - 1] + 1, k = pos[t] - s;
            }
            if (s < 0) s = pos[P - 1] + 1, k = n - s; /* the span ends the row */
            CHECK(k >= 1 && P == n - k && pos[0] == 0, "row %d: context of %d, span %d at %d", r, P, k, s);
            /* every input is the row's token at its position */
            for (int t = 0; t < n; t++) bad += in[r * T + t] != tok_at(b, r, pos[t]);
            /* the span part: positions s-1 .. s+k-2, each predicting the next token */
            for (int i = 0; i < k; i++) {
                int t = P + i;
                bad += pos[t] != s - 1 + i || tg[r * T + t] != tok_at(b, r, s + i);
            }
            for (int t = n; t < T; t++) bad += tg[r * T + t] >= 0;
            CHECK(bad == 0, "row %d: %d layout errors", r, bad);
            spans++;
        }
    }
    CHECK(spans == 50 * 3, "%d spans", spans);
    tl_objective_free(o);
    tl_batch_free(b);
}

/* pos=2d (the default): GLM's layout. Part A = the row with the span [s, s+k) replaced
 * by one [MASK] (ph) at ids (t, t); Part B = tokens s-1 .. s+k-2 at ids (s, s + j), each
 * predicting the next; no target in Part A or the padding. */
static void test_abi_2d(void) {
    tl_objective_ctx ctx = {B, T, 200, 1, 2};
    tl_batch *b = make_batch();
    tl_objective *o = NULL;
    CHECK_OK(tl_objective_new("abi:ratio=0.2,p=1,ph=199", &ctx, &o));
    if (!o || !b) return;
    int32_t in[B * T], tg[B * T];
    tl_attn_spec a;
    tl_rng rng;
    tl_rng_seed(&rng, 5);
    int spans = 0, long_spans = 0;
    for (int it = 0; it < 50; it++) {
        CHECK_OK(o->make(o, b, &rng, in, tg, &a));
        CHECK(a.mode == TL_ATTN_BIDIR && a.prefix && a.pos && a.pos2 && !a.key_mask, "abi 2d: prefix + 2 ids");
        if (!a.pos2) break;
        for (int r = 0; r < B; r++) {
            int len = b->len[r], n = len < T - 1 ? len : T - 1, P = a.prefix[r], bad = 0;
            const int *p1 = a.pos + r * T, *p2 = a.pos2 + r * T;
            const int32_t *x = in + r * T, *y = tg + r * T;
            if (n < 3) {
                CHECK(P == 0, "row %d too short for a span: plain NTP (prefix %d)", r, P);
                continue;
            }
            int k = n + 1 - P, s = p1[P];
            CHECK(k >= 1 && s >= 1 && s + k <= n, "row %d: span %d at %d of %d", r, k, s, n);
            if (!(k >= 1 && s >= 1 && s + k <= n)) continue;
            for (int t = 0; t < P; t++) {
                int want = t < s ? tok_at(b, r, t) : t == s ? 199 : tok_at(b, r, t + k - 1);
                bad += x[t] != want || p1[t] != t || p2[t] != t || y[t] >= 0;
            }
            for (int j = 0; j < k; j++) {
                int t = P + j;
                bad += x[t] != tok_at(b, r, s - 1 + j) || y[t] != tok_at(b, r, s + j) || p1[t] != s || p2[t] != s + j;
            }
            for (int t = n + 1; t < T; t++) bad += y[t] >= 0;
            CHECK(bad == 0, "row %d: %d layout errors (2d)", r, bad);
            spans++;
            long_spans += k > 1;
        }
    }
    CHECK(spans == 50 * 3 && long_spans > 20, "%d spans, %d longer than one token", spans, long_spans);
    tl_objective_free(o);
    tl_batch_free(b);
}

static void test_options(void) {
    tl_objective_ctx ctx = {B, T, 200, 1, 2};
    static const char *bad[] = {"bico:mask=0",     "bico:mask=1.5", "bico:p=2",   "bico:q=1",
                                "bico:mask",       "bico:mask=abc", "bico:ph=200", "abi:mask=0.2",
                                "abi:mirror=2",    "abi:ratio=-1", "abi:pos=3d", "abi:pos=", "abi:ph=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        tl_objective *o = NULL;
        tl_status s = tl_objective_new(bad[i], &ctx, &o);
        CHECK(s == TL_E_ARG && !o, "'%s' must be refused", bad[i]);
        if (i < 3) printf("  %s: %s\n", bad[i], tl_last_error());
    }
    int found = 0;
    for (int i = 0; i < tl_objective_count(); i++)
        found += !strcmp(tl_objective_name(i), "bico") || !strcmp(tl_objective_name(i), "abi");
    CHECK(found == 2, "bico and abi are registered");
}

/* A tiny model takes a forward and backward on each objective's batch; the loss counts
 * exactly the objective's targets. */
static void test_model_step(void) {
    tl_config c = {.dim = 16, .hidden_dim = 24, .n_layers = 2, .n_heads = 4, .n_kv_heads = 2,
                   .vocab_size = 200, .seq_len = T, .rope_theta = 10000.0f, .norm_eps = 1e-5f};
    tl_model *m = NULL;
    tl_train_acts *acts = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    if (m) CHECK_OK(tl_train_acts_new(&m->cfg, B, T, &acts));
    tl_batch *b = make_batch();
    if (!m || !acts || !b) return;
    tl_rng rng;
    tl_rng_seed(&rng, 1);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] = 0.05f * tl_rng_normal(&rng);
    float *grads = calloc(m->n_params, sizeof(float));
    const char *specs[] = {"bico:p=1", "abi:p=1", "bico:p=1,mirror=0", "abi:p=1,pos=gap", "abi:p=1,mirror=0"};
    for (int i = 0; i < 5; i++) {
        tl_objective_ctx ctx = {B, T, 200, 1, 2};
        tl_objective *o = NULL;
        CHECK_OK(tl_objective_new(specs[i], &ctx, &o));
        if (!o) continue;
        int32_t in[B * T], tg[B * T];
        tl_attn_spec a;
        CHECK_OK(o->make(o, b, &rng, in, tg, &a));
        float loss = NAN;
        CHECK_OK(tl_model_forward_train(m, acts, in, tg, &a, &loss));
        tl_model_backward(m, acts, grads, 1.0f);
        double gn = tl_grad_norm(grads, m->n_params);
        printf("  %-18s loss %.4f (ln V = %.4f), grad norm %.3g\n", specs[i], loss, log(200.0), gn);
        CHECK(isfinite(loss) && fabs(loss - log(200.0)) < 0.5 && gn > 0 && isfinite(gn),
              "%s: loss %g, grad norm %g", specs[i], loss, gn);
        memset(grads, 0, m->n_params * sizeof(float));
        tl_objective_free(o);
    }
    free(grads);
    tl_batch_free(b);
    tl_train_acts_free(acts);
    tl_model_free(m);
}

int main(void) {
    test_bico();
    test_abi();
    test_abi_2d();
    test_options();
    test_model_step();
    return tl_test_done();
}
