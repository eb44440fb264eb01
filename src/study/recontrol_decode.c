/* recontrol_decode.c: the RE-Control edit hook on `final_norm` and the decoding methods the
 * experiment compares (plain, prompting, static editing, CD, CD-prefix, RE-Control [+ prompting]).
 * Every buffer is sized when the generator is made; the per-token path allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "model/model.h" /* internal */
#include "tiller/recontrol.h"

const char *const tl_rc_method_names[TL_RC__COUNT] = {"plain", "prompting", "static_re", "cd",
                                                      "cd_prefix", "recontrol", "recontrol_prompting"};

/* ---- the edit hook ---------------------------------------------------------- */

tl_status tl_recontrol_hook_init(tl_recontrol_hook *h, const tl_value_net *v, const tl_model *m, float step,
                                 int iters, const char *value_path) {
    memset(h, 0, sizeof *h);
    if (v->d != m->cfg.dim)
        return tl_errorf(TL_E_ARG, "%s: the value network takes states of size %d but the model's hidden size is %d",
                         value_path ? value_path : "value network", v->d, m->cfg.dim);
    if (iters < 0 || iters > 100000 || !isfinite(step))
        return tl_errorf(TL_E_ARG, "RE-Control: iterations %d (0..100000) / step size %g out of range", iters,
                         (double)step);
    h->v = v, h->step = step, h->iters = iters;
    tl_status s = tl_value_ws_new(v, 1, &h->ws);
    if (s) return s;
    h->dx = tl_malloc((size_t)v->d * sizeof(float));
    if (!h->dx) {
        tl_recontrol_hook_free(h);
        return tl_errorf(TL_E_NOMEM, "RE-Control: out of memory");
    }
    return TL_OK;
}

void tl_recontrol_hook_free(tl_recontrol_hook *h) {
    tl_value_ws_free(&h->ws);
    tl_free(h->dx);
    h->dx = NULL;
}

/* x <- x + step * dV/dx, iters times, on the newest row (the one whose logits come next):
 * the reference's SGD on -V with learning rate `step`. */
static void recontrol_edit(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer, (void)pos0;
    tl_recontrol_hook *h = user;
    float *row = x + (size_t)(T - 1) * width;
    float v0 = 0, v1 = 0;
    for (int k = 0; k < h->iters; k++) {
        float val = tl_value_grad_input(h->v, &h->ws, row, h->dx);
        if (k == 0) v0 = val;
        for (int j = 0; j < width; j++) row[j] += h->step * h->dx[j];
    }
    if (h->iters > 0) {
        tl_value_forward(h->v, &h->ws, row, 1, &v1);
        h->sum_gain += (double)v1 - v0;
    }
    h->n_edits++;
}

tl_status tl_recontrol_attach(tl_recontrol_hook *h, tl_hooks *hooks) {
    return tl_hooks_add(hooks, TL_HOOK_FINAL_NORM, -1, recontrol_edit, h);
}

/* ---- the generator ------------------------------------------------------------- */

struct tl_rc_gen {
    const tl_model *m;
    const tl_tokenizer *tok;
    tl_rc_gen_opts o;
    tl_session *s;
    tl_sampler smp;
    tl_recontrol_hook rc;
    tl_value_ws vws; /* CD's value evaluations */
    int d, V;
    float *state;    /* [d] the newest final normed state (after any edit) */
    float *logits;   /* [V] a copy, for CD */
    int *cand;       /* [cd_k] */
    int32_t *ids;    /* the prompt's ids (reallocated per prompt only when longer) */
    size_t ids_cap;
    char *text;      /* the response */
    size_t text_cap, text_len;
    char *scratch;   /* CD-prefix: response + candidate */
    size_t scratch_cap;
    const char *prompt;
};

static void capture_state(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer, (void)pos0;
    tl_rc_gen *g = user;
    memcpy(g->state, x + (size_t)(T - 1) * width, (size_t)width * sizeof(float));
}

static void add_static(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point, (void)layer, (void)pos0;
    tl_rc_gen *g = user;
    float *row = x + (size_t)(T - 1) * width;
    for (int j = 0; j < width; j++) row[j] += g->o.static_scale * g->o.static_vec[j];
}

void tl_rc_gen_free(tl_rc_gen *g) {
    if (!g) return;
    tl_session_free(g->s);
    tl_sampler_free(&g->smp);
    tl_recontrol_hook_free(&g->rc);
    tl_value_ws_free(&g->vws);
    tl_free(g->state), tl_free(g->logits), tl_free(g->cand), tl_free(g->ids), tl_free(g->text);
    tl_free(g->scratch);
    tl_free(g);
}

static int uses_prompt(tl_rc_method m) { return m == TL_RC_PROMPT || m == TL_RC_RECONTROL_PROMPT; }
static int uses_rc(tl_rc_method m) { return m == TL_RC_RECONTROL || m == TL_RC_RECONTROL_PROMPT; }
static int uses_cd(tl_rc_method m) { return m == TL_RC_CD || m == TL_RC_CD_PREFIX; }

tl_status tl_rc_gen_new(const tl_model *m, const tl_tokenizer *tok, int n_ctx, const tl_rc_gen_opts *o,
                        tl_rc_gen **out) {
    *out = NULL;
    if (o->method < 0 || o->method >= TL_RC__COUNT) return tl_errorf(TL_E_ARG, "unknown decoding method %d", o->method);
    if (o->n_new < 1) return tl_errorf(TL_E_ARG, "n_new %d must be >= 1", o->n_new);
    if ((uses_rc(o->method) || o->method == TL_RC_CD) && !o->value)
        return tl_errorf(TL_E_ARG, "method %s needs a value network", tl_rc_method_names[o->method]);
    if (o->method == TL_RC_STATIC && !o->static_vec) return tl_errorf(TL_E_ARG, "static_re needs a vector");
    if (o->method == TL_RC_CD_PREFIX && !o->cd_reward) return tl_errorf(TL_E_ARG, "cd_prefix needs a reward");
    if (uses_cd(o->method) && (o->cd_k < 1 || o->cd_k > m->cfg.vocab_size))
        return tl_errorf(TL_E_ARG, "CD: k = %d out of range", o->cd_k);
    if (o->value && o->value->d != m->cfg.dim)
        return tl_errorf(TL_E_ARG, "the value network takes states of size %d but the model's hidden size is %d",
                         o->value->d, m->cfg.dim);
    tl_rc_gen *g = tl_calloc(1, sizeof *g);
    if (!g) return tl_errorf(TL_E_NOMEM, "generator: out of memory");
    g->m = m, g->tok = tok, g->o = *o, g->d = m->cfg.dim, g->V = m->cfg.vocab_size;
    tl_status s;
    if ((s = tl_session_new(m, n_ctx, 0, &g->s)) || (s = tl_sampler_init(&g->smp, &o->sampler, g->V))) goto fail;
    g->state = tl_malloc((size_t)g->d * sizeof(float));
    g->logits = tl_malloc((size_t)g->V * sizeof(float));
    g->cand = tl_malloc((size_t)(o->cd_k > 0 ? o->cd_k : 1) * sizeof(int));
    g->text_cap = (size_t)o->n_new * 64 + 64;
    g->text = tl_malloc(g->text_cap);
    g->scratch_cap = g->text_cap + 64;
    g->scratch = tl_malloc(g->scratch_cap);
    if (!g->state || !g->logits || !g->cand || !g->text || !g->scratch) {
        s = tl_errorf(TL_E_NOMEM, "generator: out of memory");
        goto fail;
    }
    if (o->value && (s = tl_value_ws_new(o->value, 1, &g->vws))) goto fail;
    /* hook order at final_norm: the edit (RE-Control or static) first, then the capture */
    if (uses_rc(o->method)) {
        if ((s = tl_recontrol_hook_init(&g->rc, o->value, m, o->step, o->iters, NULL)) ||
            (s = tl_recontrol_attach(&g->rc, &g->s->hooks)))
            goto fail;
    }
    if (o->method == TL_RC_STATIC && (s = tl_hooks_add(&g->s->hooks, TL_HOOK_FINAL_NORM, -1, add_static, g))) goto fail;
    if ((s = tl_hooks_add(&g->s->hooks, TL_HOOK_FINAL_NORM, -1, capture_state, g))) goto fail;
    *out = g;
    return TL_OK;
fail:
    tl_rc_gen_free(g);
    return s;
}

/* The k largest logits (ids into g->cand, best first). k is small: selection by insertion. */
static void top_k(const float *logits, int V, int k, int *cand) {
    int n = 0;
    for (int i = 0; i < V; i++) {
        if (n == k && logits[i] <= logits[cand[k - 1]]) continue;
        int j = n < k ? n++ : k - 1;
        while (j > 0 && logits[cand[j - 1]] < logits[i]) cand[j] = cand[j - 1], j--;
        cand[j] = i;
    }
}

static size_t piece(const tl_rc_gen *g, int32_t prev, int32_t id, char *buf, size_t cap) {
    size_t n = tl_tokenizer_decode_piece(g->tok, prev, id, buf, cap);
    if (n == 1 && (unsigned char)buf[0] < 32 && buf[0] != '\n' && buf[0] != '\t') return 0;
    return n;
}

/* CD: forward each candidate, score, rewind the cache (positions >= pos are overwritten later). */
static tl_status cd_choose(tl_rc_gen *g, int32_t prev, int32_t *best) {
    int k = g->o.cd_k, pos = g->s->pos;
    top_k(g->logits, g->V, k, g->cand);
    double best_score = -INFINITY;
    *best = g->cand[0];
    for (int c = 0; c < k; c++) {
        int32_t id = g->cand[c];
        double score;
        if (g->o.method == TL_RC_CD) {
            const float *lg;
            if (g->s->pos + 1 > g->s->n_ctx) break;
            tl_status s = tl_forward(g->s, &id, 1, &lg);
            if (s) return s;
            g->s->pos = pos;
            float v;
            tl_value_forward(g->o.value, &g->vws, g->state, 1, &v);
            score = v;
        } else {
            char buf[128];
            size_t n = piece(g, prev, id, buf, sizeof buf);
            if (g->text_len + n + 1 > g->scratch_cap) n = 0;
            memcpy(g->scratch, g->text, g->text_len);
            memcpy(g->scratch + g->text_len, buf, n);
            g->scratch[g->text_len + n] = 0;
            tl_status s = tl_reward_score(g->o.cd_reward, g->prompt, g->scratch, &score);
            if (s) return s;
        }
        if (score > best_score) best_score = score, *best = id;
    }
    return TL_OK;
}

tl_status tl_rc_generate(tl_rc_gen *g, const char *prompt, const char **text, int *n_tokens, float *states,
                         double *seconds) {
    *n_tokens = 0;
    *seconds = 0;
    *text = g->text;
    g->text_len = 0;
    g->text[0] = 0;
    g->prompt = prompt;
    tl_session_reset(g->s);
    /* the prompt, with the instruction in front for the prompting methods */
    const char *instr = uses_prompt(g->o.method) && g->o.instruction ? g->o.instruction : "";
    size_t lp = strlen(prompt), li = strlen(instr);
    char *full = tl_malloc(lp + li + 1); /* per prompt, not per token */
    if (!full) return tl_errorf(TL_E_NOMEM, "out of memory");
    memcpy(full, instr, li);
    memcpy(full + li, prompt, lp + 1);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    tl_status s = tl_tokenizer_encode(g->tok, full, li + lp, TL_TOK_ADD_BOS, &ids, &n_ids);
    tl_free(full);
    if (s) return s;
    if ((int)n_ids + g->o.n_new + 1 > g->s->n_ctx) {
        /* keep the prompt's tail: the response needs room */
        int keep = g->s->n_ctx - g->o.n_new - 1;
        if (keep < 2) {
            tl_free(ids);
            return tl_errorf(TL_E_RANGE, "context %d too small for %d new tokens", g->s->n_ctx, g->o.n_new);
        }
        memmove(ids + 1, ids + n_ids - (keep - 1), (size_t)(keep - 1) * sizeof(int32_t));
        n_ids = (size_t)keep;
    }
    double t0 = tl_time_sec();
    const float *logits;
    if ((s = tl_forward(g->s, ids, (int)n_ids, &logits))) goto done;
    int32_t prev = ids[n_ids - 1], eos = tl_tokenizer_eos(g->tok), bos = tl_tokenizer_bos(g->tok);
    for (int t = 0; t < g->o.n_new; t++) {
        if (states) memcpy(states + (size_t)t * g->d, g->state, (size_t)g->d * sizeof(float));
        int32_t next;
        if (uses_cd(g->o.method)) {
            memcpy(g->logits, logits, (size_t)g->V * sizeof(float));
            if ((s = cd_choose(g, prev, &next))) goto done;
        } else {
            next = tl_sampler_sample(&g->smp, logits);
        }
        (*n_tokens)++;
        if (next == eos || next == bos) break;
        char buf[128];
        size_t n = piece(g, prev, next, buf, sizeof buf);
        if (g->text_len + n + 1 <= g->text_cap) {
            memcpy(g->text + g->text_len, buf, n);
            g->text_len += n;
            g->text[g->text_len] = 0;
        }
        prev = next;
        if (t + 1 < g->o.n_new && (s = tl_forward(g->s, &next, 1, &logits))) goto done;
    }
    *seconds = tl_time_sec() - t0;
    *text = g->text;
done:
    tl_free(ids);
    return s;
}
