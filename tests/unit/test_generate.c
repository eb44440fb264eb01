/* tl_generate (model/generate.c) against a hand-written loop over tl_forward and an argmax
 * (greedy stories260K), and its stop rules: EOS, the first line break, the caller, the length,
 * and a request that does not fit the context (refused, not shortened). BOS does not stop it by
 * default (as llama.cpp), only with stop_bos: a model whose greedy token is always BOS. */
#include <string.h>

#include "format/format.h"
#include "model/model.h"
#include "tiller/generate.h"
#include "testlib.h"

typedef struct {
    int32_t ids[512];
    int n;
    char text[8192];
    size_t len;
    int stop_after; /* 0 = never */
} collected;

static int collect(void *user, int32_t id, const char *text, size_t len) {
    collected *c = user;
    c->ids[c->n++] = id;
    if (c->len + len < sizeof c->text) memcpy(c->text + c->len, text, len), c->len += len;
    return c->stop_after && c->n >= c->stop_after;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

/* A model (vocab of tok) whose greedy next token is BOS after any input: its blocks add nothing
 * (zero matrices), every embedding is e_0, the final norm keeps dimension 0 (> 0 after the norm), and
 * the LM head reads dimension 0 into BOS's logit only. */
static tl_model *bos_model(const tl_tokenizer *tok) {
    tl_config c = {0};
    c.dim = 8, c.hidden_dim = 8, c.n_layers = 1, c.n_heads = 1, c.n_kv_heads = 1, c.seq_len = 32;
    c.vocab_size = tl_tokenizer_n_vocab(tok);
    c.tied_embeddings = 0;
    tl_model *m = NULL;
    CHECK_OK(tl_model_new(&c, &m));
    if (!m) return NULL;
    memset(m->params, 0, m->n_params * sizeof(float));
    tl_global_params g;
    tl_params_global(&m->cfg, m->params, &g);
    for (int v = 0; v < c.vocab_size; v++) g.tok_embd[(size_t)v * c.dim] = 1.0f;
    g.out_norm[0] = 1.0f;
    g.output[(size_t)tl_tokenizer_bos(tok) * c.dim] = 1.0f;
    return m;
}

static void bos_does_not_stop(const tl_tokenizer *tok, const int32_t *ids, int n_ids) {
    tl_model *m = bos_model(tok);
    if (!m) return;
    tl_sampler_params greedy = {0, 0, 1, 0};
    tl_sampler smp;
    tl_session *s = NULL;
    CHECK_OK(tl_sampler_init(&smp, &greedy, m->cfg.vocab_size));
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    const float *lg;
    CHECK_OK(tl_forward(s, ids, n_ids, &lg));
    int bos = tl_tokenizer_bos(tok);
    CHECK(bos >= 0 && tl_sampler_sample(&smp, lg) == bos, "the test model's greedy token is not BOS (%d)", bos);
    tl_gen_opts o;
    tl_gen_opts_default(&o);
    o.max_new = 6;
    collected c = {0};
    tl_gen_result r;
    tl_session_reset(s);
    CHECK_OK(tl_generate(s, &smp, tok, ids, n_ids, &o, collect, &c, &r));
    CHECK(r.stop == TL_GEN_STOP_LENGTH && r.n_new == 6 && c.n == 6, "default options stopped (%d) after %d tokens",
          (int)r.stop, r.n_new);
    int all_bos = c.n == 6;
    for (int i = 0; i < c.n; i++) all_bos &= c.ids[i] == bos;
    CHECK(all_bos, "the generated tokens are not all BOS");
    /* opting in (the eval harness does: eval/score.c says why) stops before passing BOS on */
    o.stop_bos = 1;
    tl_session_reset(s);
    CHECK_OK(tl_generate(s, &smp, tok, ids, n_ids, &o, NULL, NULL, &r));
    CHECK(r.stop == TL_GEN_STOP_EOS && r.n_new == 0, "stop_bos: stop %d after %d tokens", (int)r.stop, r.n_new);
    tl_session_free(s);
    tl_sampler_free(&smp);
    tl_model_free(m);
}

int main(void) {
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    if (!m || !tok) return tl_test_done();
    int32_t *ids = NULL;
    size_t n_ids = 0;
    CHECK_OK(tl_tokenizer_encode(tok, "Once upon a time", 16, TL_TOK_ADD_BOS, &ids, &n_ids));
    tl_sampler_params greedy = {0, 0, 1, 0};
    tl_sampler smp;
    CHECK_OK(tl_sampler_init(&smp, &greedy, m->cfg.vocab_size));
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));

    /* the reference: forward, argmax, stop at an end-of-generation token */
    int32_t ref[200];
    int n_ref = 0, max_new = 120;
    const float *logits;
    CHECK_OK(tl_forward(s, ids, (int)n_ids, &logits));
    for (int k = 0; k < max_new; k++) {
        int32_t next = argmax(logits, m->cfg.vocab_size);
        if (tl_tokenizer_is_eog(tok, next)) break;
        ref[n_ref++] = next;
        if (k + 1 < max_new) CHECK_OK(tl_forward(s, &next, 1, &logits));
    }
    CHECK(n_ref > 10, "the reference produced %d tokens", n_ref);

    tl_gen_opts o;
    tl_gen_opts_default(&o);
    o.max_new = max_new;
    collected c = {0};
    tl_gen_result r;
    tl_session_reset(s);
    CHECK_OK(tl_generate(s, &smp, tok, ids, (int)n_ids, &o, collect, &c, &r));
    CHECK(r.n_new == n_ref && c.n == n_ref, "generated %d (callback %d), reference %d", r.n_new, c.n, n_ref);
    int same = c.n == n_ref;
    for (int i = 0; same && i < n_ref; i++) same = c.ids[i] == ref[i];
    CHECK(same, "the tokens differ from the hand-written greedy loop");
    CHECK(r.stop == (n_ref < max_new ? TL_GEN_STOP_EOS : TL_GEN_STOP_LENGTH), "stop %d", (int)r.stop);
    /* the last sampled token is not run through the model */
    int expect_run = (int)n_ids + n_ref - (n_ref == max_new ? 1 : 0);
    CHECK(r.n_run == expect_run, "n_run %d, expected %d", r.n_run, expect_run);
    /* the text is the concatenation of decode_piece after each previous token */
    char want[8192];
    size_t wl = 0;
    int32_t prev = ids[n_ids - 1];
    for (int i = 0; i < n_ref; i++) {
        wl += tl_tokenizer_decode_piece(tok, prev, ref[i], want + wl, sizeof want - wl);
        prev = ref[i];
    }
    CHECK(wl == c.len && !memcmp(want, c.text, wl), "text differs: [%.*s] vs [%.*s]", (int)c.len, c.text, (int)wl,
          want);

    /* stop at the first line break once the reply has begun: the text is the reference's first line */
    const char *nl = memchr(want, '\n', wl);
    if (nl) {
        collected c2 = {0};
        o.stop_newline = 1;
        tl_session_reset(s);
        CHECK_OK(tl_generate(s, &smp, tok, ids, (int)n_ids, &o, collect, &c2, &r));
        CHECK(r.stop == TL_GEN_STOP_NEWLINE, "stop %d, expected newline", (int)r.stop);
        CHECK(c2.len == (size_t)(nl - want) && !memcmp(c2.text, want, c2.len), "first line [%.*s]", (int)c2.len,
              c2.text);
        o.stop_newline = 0;
    }

    /* the caller stops after 3 tokens; the length stops at 5 */
    collected c3 = {0};
    c3.stop_after = 3;
    tl_session_reset(s);
    CHECK_OK(tl_generate(s, &smp, tok, ids, (int)n_ids, &o, collect, &c3, &r));
    CHECK(r.stop == TL_GEN_STOP_CALLER && c3.n == 3, "stop %d after %d", (int)r.stop, c3.n);
    o.max_new = 5;
    tl_session_reset(s);
    CHECK_OK(tl_generate(s, &smp, tok, ids, (int)n_ids, &o, NULL, NULL, &r));
    CHECK(r.stop == TL_GEN_STOP_LENGTH && r.n_new == 5, "stop %d after %d", (int)r.stop, r.n_new);

    /* too long for the context: refused before any work, nothing shortened */
    tl_session_reset(s);
    o.max_new = m->cfg.seq_len;
    tl_status st = tl_generate(s, &smp, tok, ids, (int)n_ids, &o, NULL, NULL, &r);
    CHECK(st == TL_E_RANGE && strstr(tl_last_error(), "exceed the context"), "status %s: %s", tl_status_string(st),
          tl_last_error());
    CHECK(s->pos == 0, "the session advanced to %d", s->pos);
    o.max_new = -1;
    CHECK(tl_generate(s, &smp, tok, ids, (int)n_ids, &o, NULL, NULL, &r) == TL_E_ARG, "max_new -1 accepted");

    bos_does_not_stop(tok, ids, (int)n_ids);

    tl_session_free(s);
    tl_sampler_free(&smp);
    tl_free(ids);
    tl_tokenizer_free(tok);
    tl_model_free(m);
    return tl_test_done();
}
