/* score.c: running a task through a model. Multiple-choice items are scored the
 * lm-evaluation-harness way (eval.h); the context is run once and its KV cache
 * reused for every choice: the session's pos is set back to the context length
 * and the continuation run from there, which overwrites the cache rows of the
 * previous choice. Every position sees exactly the keys and values it would see
 * in a run of context + continuation from scratch, and the forward computes
 * each row independently of the others in its chunk, so the numbers are those of
 * the uncached run (test_eval checks both ways agree).
 * Generation items are answered greedily (or sampled) from the context. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "eval_internal.h"
#include "tiller/generate.h"

void tl_eval_opts_default(tl_eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->sampling.temperature = 0.0f;
    o->sampling.top_p = 1.0f;
    o->max_new_tokens = 32;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* Encode len bytes of text with BOS; TL_E_* on failure. */
static tl_status encode(const tl_tokenizer *tok, const char *text, size_t len, int32_t **ids, int *n) {
    size_t nn = 0;
    tl_status st = tl_tokenizer_encode(tok, text, len, TL_TOK_ADD_BOS, ids, &nn);
    if (st) return st;
    if (nn > (size_t)1 << 30) {
        tl_free(*ids);
        *ids = NULL;
        return tl_errorf(TL_E_RANGE, "eval: text of %zu bytes gives too many tokens", len);
    }
    *n = (int)nn;
    return TL_OK;
}

/* The whole text context' + ws + continuation, encoded; *cont points into *whole. */
static tl_status encode_continuation(const tl_tokenizer *tok, const char *ctx, size_t n_ctx_bytes, const char *ws,
                                     const char *delim, const char *cont, int n_ctx, int32_t **whole, int *n_cont) {
    tl_strbuf b = {0};
    tl_strbuf_append(&b, ctx, n_ctx_bytes);
    tl_strbuf_puts(&b, ws);
    tl_strbuf_puts(&b, delim);
    tl_strbuf_puts(&b, cont);
    if (b.failed) {
        tl_strbuf_free(&b);
        return tl_errorf(TL_E_NOMEM, "eval: out of memory");
    }
    int n_whole = 0;
    tl_status st = encode(tok, b.s ? b.s : "", b.len, whole, &n_whole);
    tl_strbuf_free(&b);
    if (st) return st;
    *n_cont = n_whole > n_ctx ? n_whole - n_ctx : 0;
    return TL_OK;
}

tl_status tl_eval_encode_pair(const tl_tokenizer *tok, const char *context, const char *continuation, int32_t **ctx,
                              int *n_ctx, int32_t **cont, int *n_cont) {
    *ctx = *cont = NULL;
    *n_ctx = *n_cont = 0;
    size_t len = strlen(context), keep = len;
    while (keep > 0 && is_ws(context[keep - 1]))
        keep--;
    int32_t *whole = NULL;
    tl_status st = encode(tok, context, keep, ctx, n_ctx);
    if (!st) st = encode_continuation(tok, context, keep, context + keep, "", continuation, *n_ctx, &whole, n_cont);
    if (!st) {
        *cont = tl_malloc(sizeof(int32_t) * (size_t)(*n_cont ? *n_cont : 1));
        if (*cont)
            memcpy(*cont, whole + *n_ctx, sizeof(int32_t) * (size_t)*n_cont);
        else
            st = tl_errorf(TL_E_NOMEM, "eval: out of memory");
    }
    tl_free(whole);
    if (st) {
        tl_free(*ctx);
        *ctx = NULL;
        *n_ctx = *n_cont = 0;
    }
    return st;
}

/* ---- the scorer ------------------------------------------------------------------ */

typedef struct {
    const tl_model *m;
    const tl_tokenizer *tok;
    const tl_eval_opts *o;
    tl_session *s;
    int V;
    float *row0; /* [V] logits after the context: they predict every choice's first token */
    double lse0; /* log Σ e^row0 */
    int64_t tokens_run;
    tl_sampler smp;
    int sampler_ready;
} scorer;

static double log_sum_exp(const float *row, int V) {
    double mx = row[0], sum = 0;
    for (int i = 1; i < V; i++)
        if (row[i] > mx) mx = row[i];
    for (int i = 0; i < V; i++)
        sum += exp((double)row[i] - mx);
    return mx + log(sum);
}

/* Sum of log p(tokens[first ..]) over the logits rows handed out by tl_forward_all:
 * the row at absolute position p predicts tokens[p - pos_base + 1]. */
typedef struct {
    const int32_t *tokens;
    int pos_base, first, n;
    double sum;
} ll_acc;

static void ll_rows(void *user, const float *logits, int T, int V, int pos0) {
    ll_acc *a = user;
    for (int t = 0; t < T; t++) {
        int next = pos0 + t - a->pos_base + 1;
        if (next < a->first || next >= a->n) continue;
        const float *row = logits + (size_t)t * V;
        a->sum += (double)row[a->tokens[next]] - log_sum_exp(row, V);
    }
}

/* ll of cont after ctx from scratch; the input is cut on the left to the session's
 * context as lm-eval does: inp = (ctx + cont)[-(L + 1):][:-1]. */
static tl_status score_scratch(scorer *sc, const int32_t *ctx, int nc, const int32_t *cont, int m, double *ll) {
    int n = nc + m, L = sc->s->n_ctx;
    int32_t *full = tl_malloc(sizeof(int32_t) * (size_t)n);
    if (!full) return tl_errorf(TL_E_NOMEM, "eval: out of memory");
    memcpy(full, ctx, sizeof(int32_t) * (size_t)nc);
    memcpy(full + nc, cont, sizeof(int32_t) * (size_t)m);
    int start = n - 1 > L ? n - 1 - L : 0;
    ll_acc a = {full + start, 0, nc - start, n - start, 0.0};
    tl_session_reset(sc->s);
    tl_status st = tl_forward_all(sc->s, full + start, n - 1 - start, ll_rows, &a);
    sc->tokens_run += n - 1 - start;
    tl_free(full);
    *ll = a.sum;
    return st;
}

/* Score every choice of an item: ll[c] and n_tok[c]. */
static tl_status score_choices(scorer *sc, const tl_eval_task *t, const tl_eval_item *it, double *ll, int *n_tok) {
    const char *context = it->context;
    size_t len = strlen(context), keep = len;
    while (keep > 0 && is_ws(context[keep - 1]))
        keep--;
    int32_t *ctx = NULL;
    int nc = 0, cached = 0;
    tl_status st = encode(sc->tok, context, keep, &ctx, &nc);
    for (int c = 0; c < it->n_choices && !st; c++) {
        int32_t *whole = NULL;
        int m = 0;
        st = encode_continuation(sc->tok, context, keep, context + keep, t->delim, it->choices[c], nc, &whole, &m);
        if (st) break;
        const int32_t *cont = whole + nc;
        n_tok[c] = m;
        ll[c] = 0.0; /* an empty continuation scores log 1, as in lm-eval */
        if (m > sc->s->n_ctx) {
            st = tl_errorf(TL_E_RANGE, "choice %d has %d tokens, more than the context of %d", c, m, sc->s->n_ctx);
        } else if (m > 0 && !sc->o->no_prefix_cache && nc + m - 1 <= sc->s->n_ctx) {
            if (!cached) {
                const float *logits;
                tl_session_reset(sc->s);
                st = tl_forward(sc->s, ctx, nc, &logits);
                sc->tokens_run += nc;
                if (!st) {
                    memcpy(sc->row0, logits, sizeof(float) * (size_t)sc->V);
                    sc->lse0 = log_sum_exp(sc->row0, sc->V);
                    cached = 1;
                }
            }
            if (!st) {
                /* the sum runs in token order, as in score_scratch, so both give the same bits */
                ll_acc a = {cont, nc, 1, m, (double)sc->row0[cont[0]] - sc->lse0};
                if (m > 1) {
                    sc->s->pos = nc; /* back to the end of the context */
                    if (sc->o->token_by_token) /* each token its own call: a last-position hook sees every one */
                        for (int k = 0; k < m - 1 && !st; k++) st = tl_forward_all(sc->s, cont + k, 1, ll_rows, &a);
                    else st = tl_forward_all(sc->s, cont, m - 1, ll_rows, &a);
                    sc->tokens_run += m - 1;
                }
                ll[c] = a.sum;
            }
        } else if (m > 0) {
            st = score_scratch(sc, ctx, nc, cont, m, &ll[c]);
            cached = 0;
        }
        tl_free(whole);
    }
    tl_free(ctx);
    if (st) tl_error_prefix(st, "%s: item %s", t->name, it->id ? it->id : "?");
    return st;
}

/* ---- generation ------------------------------------------------------------------ */

static int add_piece(void *user, int32_t id, const char *text, size_t len) {
    tl_strbuf_append(user, text, len);
    return 0;
}

/* Generate after the item's context until EOS or BOS, max_new tokens, or the first line
 * break once the reply has a non-space character (the break is not kept). */
static tl_status generate(scorer *sc, const tl_eval_item *it, tl_sampler *smp, char **text) {
    *text = NULL;
    int max_new = sc->o->max_new_tokens > 0 ? sc->o->max_new_tokens : 32, L = sc->s->n_ctx;
    if (max_new >= L) return tl_errorf(TL_E_ARG, "eval: %d new tokens do not fit a context of %d", max_new, L);
    int32_t *ids = NULL;
    int n = 0;
    tl_status st = encode(sc->tok, it->context, strlen(it->context), &ids, &n);
    if (st) return st;
    int start = n > L - max_new ? n - (L - max_new) : 0; /* cut on the left, as lm-eval */
    tl_session_reset(sc->s);
    tl_strbuf out = {0};
    /* EOS, BOS and the reply's first line break end it. BOS too, unlike `tiller generate` and
     * llama.cpp: tiller's training data start every document with BOS (train/corpus.c), so a
     * sampled BOS means the model closed the reply and began another document, which is no part
     * of the item's answer (as text after the reply's first line break is not). */
    tl_gen_opts go = {max_new, 1, 1, 1};
    tl_gen_result gr;
    st = tl_generate(sc->s, smp, sc->tok, ids + start, n - start, &go, add_piece, &out, &gr);
    sc->tokens_run += gr.n_run;
    tl_free(ids);
    if (!st && out.failed) st = tl_errorf(TL_E_NOMEM, "eval: out of memory");
    if (st) {
        tl_strbuf_free(&out);
        return st;
    }
    *text = tl_strbuf_take(&out);
    return *text ? TL_OK : tl_errorf(TL_E_NOMEM, "eval: out of memory");
}

/* ---- a whole task ------------------------------------------------------------------ */

void tl_eval_result_free(tl_eval_result *r) {
    if (!r) return;
    if (r->generation)
        for (int i = 0; i < r->n_items; i++)
            tl_free(r->generation[i]);
    tl_free(r->generation);
    tl_free(r->values);
    tl_free(r->choice_off);
    tl_free(r->ll);
    tl_free(r->n_tokens);
    tl_free(r->pred);
    tl_free(r->pred_norm);
    memset(r, 0, sizeof *r);
}

static tl_status result_alloc(const tl_eval_task *t, int n, tl_eval_result *r) {
    const char *names[TL_EVAL_MAX_METRICS];
    r->n_items = n;
    r->n_metrics = tl_eval_metric_names(t->kind, names);
    for (int k = 0; k < r->n_metrics; k++)
        r->metrics[k].name = names[k];
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += (size_t)t->items[i].n_choices;
    size_t nn = (size_t)n ? (size_t)n : 1, tt = total ? total : 1;
    r->values = tl_calloc(nn * (size_t)(r->n_metrics ? r->n_metrics : 1), sizeof(double));
    r->choice_off = tl_calloc(nn + 1, sizeof(int));
    r->ll = tl_calloc(tt, sizeof(double));
    r->n_tokens = tl_calloc(tt, sizeof(int));
    r->pred = tl_calloc(nn, sizeof(int));
    r->pred_norm = tl_calloc(nn, sizeof(int));
    r->generation = tl_calloc(nn, sizeof(char *));
    if (!r->values || !r->choice_off || !r->ll || !r->n_tokens || !r->pred || !r->pred_norm || !r->generation)
        return tl_errorf(TL_E_NOMEM, "eval: out of memory");
    for (int i = 0; i < n; i++)
        r->choice_off[i + 1] = r->choice_off[i] + t->items[i].n_choices;
    return TL_OK;
}

/* One item on one worker: score its choices, generate, compute its metrics. */
static tl_status run_item(scorer *sc, const tl_eval_task *t, int i, tl_eval_result *out) {
    const tl_eval_item *it = &t->items[i];
    double *ll = out->ll + out->choice_off[i];
    tl_status st = TL_OK;
    if (it->n_choices > 0) st = score_choices(sc, t, it, ll, out->n_tokens + out->choice_off[i]);
    if (!st && it->generate) {
        if (!sc->sampler_ready) {
            tl_sampler_params sp = sc->o->sampling;
            if (t->kind == TL_EVAL_KIND_CAPABILITY) sp.temperature = 0.0f; /* exact match is greedy */
            st = tl_sampler_init(&sc->smp, &sp, sc->V);
            sc->sampler_ready = !st;
        }
        if (!st) {
            tl_rng_seed(&sc->smp.rng, sc->o->sampling.seed + (uint64_t)i); /* each item its own stream */
            st = generate(sc, it, &sc->smp, &out->generation[i]);
            if (st) tl_error_prefix(st, "%s: item %s", t->name, it->id ? it->id : "?");
        }
    }
    if (!st)
        tl_eval_item_metrics(t, it, ll, out->generation[i], out->values + (size_t)i * out->n_metrics, &out->pred[i],
                             &out->pred_norm[i]);
    return st;
}

static void scorer_free(scorer *sc) {
    if (sc->sampler_ready) tl_sampler_free(&sc->smp);
    tl_free(sc->row0);
    tl_session_free(sc->s);
}

int tl_eval_workers(const tl_model *m, const tl_eval_opts *o, int n_items) {
    int w = o->n_workers;
    if (w <= 0) /* auto: whole items in parallel for small models, whose forwards are too short to split */
        w = o->hooks.n > 0 || m->n_params > ((size_t)64 << 20) ? 1 : omp_get_max_threads();
    if (w > n_items) w = n_items;
    return w > 0 ? w : 1;
}

tl_status tl_eval_run(const tl_model *m, const tl_tokenizer *tok, const tl_eval_task *t, const tl_eval_opts *o,
                      tl_eval_result *out) {
    memset(out, 0, sizeof *out);
    double t0 = tl_time_sec();
    if (o->limit < 0) return tl_errorf(TL_E_ARG, "eval: --limit %d must be >= 0", o->limit);
    if (tl_tokenizer_n_vocab(tok) > m->cfg.vocab_size)
        return tl_errorf(TL_E_ARG, "eval: the tokenizer has %d tokens but the model's vocabulary is %d",
                         tl_tokenizer_n_vocab(tok), m->cfg.vocab_size);
    int n = o->limit > 0 && o->limit < t->n_items ? o->limit : t->n_items, nw = tl_eval_workers(m, o, n);
    scorer *ws = tl_calloc((size_t)nw, sizeof *ws);
    tl_status st = ws ? result_alloc(t, n, out) : tl_errorf(TL_E_NOMEM, "eval: out of memory");
    for (int w = 0; w < nw && !st; w++) {
        scorer *sc = &ws[w];
        sc->m = m, sc->tok = tok, sc->o = o, sc->V = m->cfg.vocab_size;
        /* 128-token chunks: long contexts are run in pieces (same numbers, as rows are
         * independent) and a worker's logits buffer stays small for large vocabularies */
        if ((st = tl_session_new(m, o->n_ctx, 128, &sc->s))) break;
        sc->s->hooks = o->hooks;
        if (!(sc->row0 = tl_malloc(sizeof(float) * (size_t)sc->V))) st = tl_errorf(TL_E_NOMEM, "eval: out of memory");
    }
    /* Items are independent: a worker's numbers do not depend on which items it gets,
     * so any worker count gives the same results. Messages are per thread: the first
     * failure's is copied out and raised again on the calling thread. */
    tl_status failed = st;
    char msg[1024] = "";
    int done = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nw) if (nw > 1 && !st)
    for (int i = 0; i < n; i++) {
        tl_status fail_now;
#pragma omp atomic read
        fail_now = failed;
        if (fail_now) continue;
        tl_status r = run_item(&ws[omp_get_thread_num()], t, i, out);
#pragma omp critical(tl_eval_progress)
        {
            if (r && !failed) {
                failed = r;
                snprintf(msg, sizeof msg, "%s", tl_last_error());
            }
            done++;
            if (!r && o->progress) o->progress(o->progress_user, done, n);
        }
    }
    if (!st && failed) st = tl_errorf(failed, "%s", msg);
    int64_t tokens = 0;
    for (int w = 0; ws && w < nw; w++) {
        tokens += ws[w].tokens_run;
        scorer_free(&ws[w]);
    }
    tl_free(ws);
    if (st) {
        tl_eval_result_free(out);
        return st;
    }
    tl_eval_aggregate(out);
    out->tokens_run = tokens;
    out->seconds = tl_time_sec() - t0;
    return TL_OK;
}
