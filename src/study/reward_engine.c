/* reward_engine.c: the reward model trained whole: the engine and a scalar head on its final
 * normed state, fine-tuned together with the Bradley-Terry loss (tiller reward train without
 * --freeze). The gradient reaches the engine through tl_model_backward_state (src/train), the
 * training forward's backward entered from d loss / d final normed state instead of the
 * logits. Also: the held-out accuracy of any reward on preference pairs (tiller reward eval). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "model/model.h" /* internal */
#include "tiller/recontrol.h"
#include "tiller/train.h"

tl_status tl_reward_bt_engine_grad(const tl_model *m, tl_train_acts *a, const int32_t *tokens, const int *last,
                                   const float *w, float b, float *grads, float *gw, double *loss, int *n_correct) {
    /* rows 2i (chosen) and 2i+1 (rejected) of tokens [B, T]; the targets are all ignored, so
     * the training forward's cross-entropy is 0 and only the head's loss flows back */
    const tl_config *c = &m->cfg;
    int B, T, d = c->dim;
    tl_train_acts_shape(a, &B, &T);
    int n = B / 2;
    if (B % 2) return tl_errorf(TL_E_ARG, "reward: the batch has %d rows; pairs need an even count", B);
    for (int i = 0; i < B; i++)
        if (last[i] < 0 || last[i] >= T)
            return tl_errorf(TL_E_ARG, "reward: row %d's last token %d is outside 0..%d", i, last[i], T - 1);
    int32_t *targets = tl_malloc(sizeof(int32_t) * (size_t)B * T);
    float *dstate = grads ? tl_calloc((size_t)B * T * d, sizeof(float)) : NULL;
    if (!targets || (grads && !dstate)) {
        tl_free(targets), tl_free(dstate);
        return tl_errorf(TL_E_NOMEM, "reward: out of memory");
    }
    for (int i = 0; i < B * T; i++) targets[i] = -1;
    float ce;
    tl_status s = tl_model_forward_train(m, a, tokens, targets, NULL, &ce);
    tl_free(targets);
    if (s) {
        tl_free(dstate);
        return s;
    }
    const float *h = tl_train_acts_state(a); /* [B*T, d] */
    double L = 0;
    int ok = 0;
    if (gw) memset(gw, 0, sizeof(float) * ((size_t)d + 1));
    for (int i = 0; i < n; i++) {
        const float *hc = h + ((size_t)(2 * i) * T + last[2 * i]) * d;
        const float *hr = h + ((size_t)(2 * i + 1) * T + last[2 * i + 1]) * d;
        double rc = b, rr = b;
        for (int j = 0; j < d; j++) rc += (double)w[j] * hc[j], rr += (double)w[j] * hr[j];
        double mgn = rc - rr;
        L += mgn > 0 ? log1p(exp(-mgn)) : -mgn + log1p(exp(mgn)); /* -log sigmoid(m) */
        ok += mgn > 0;
        double g = -1.0 / (1.0 + exp(mgn)) / n; /* dL/dm */
        if (gw)
            for (int j = 0; j < d; j++) gw[j] += (float)(g * ((double)hc[j] - hr[j]));
        if (dstate) {
            float *dc = dstate + ((size_t)(2 * i) * T + last[2 * i]) * d;
            float *dr = dstate + ((size_t)(2 * i + 1) * T + last[2 * i + 1]) * d;
            for (int j = 0; j < d; j++) dc[j] = (float)(g * w[j]), dr[j] = (float)(-g * w[j]);
        }
    }
    /* d/db = 0: the bias cancels in r_c - r_r (gw[d] stays 0) */
    if (grads) tl_model_backward_state(m, a, dstate, grads, 1.0f);
    tl_free(dstate);
    if (loss) *loss = L / n;
    if (n_correct) *n_correct = ok;
    return TL_OK;
}

/* BOS + text, the tail kept when longer than max_len (the last token's state is the score). */
static tl_status encode_tail(const tl_tokenizer *tok, const char *prompt, const char *resp, int max_len, tl_strbuf *buf,
                             int32_t *out, int *n_out) {
    buf->len = 0;
    tl_strbuf_puts(buf, prompt);
    tl_strbuf_puts(buf, resp);
    tl_status s = tl_strbuf_status(buf);
    int32_t *ids = NULL;
    size_t n = 0;
    if (!s) s = tl_tokenizer_encode(tok, buf->s, buf->len, TL_TOK_ADD_BOS, &ids, &n);
    if (s) return s;
    if (n == 0) {
        tl_free(ids);
        return tl_errorf(TL_E_ARG, "reward: a pair encodes to no tokens");
    }
    if ((int)n > max_len) { /* keep BOS and the tail */
        out[0] = ids[0];
        memcpy(out + 1, ids + n - (max_len - 1), sizeof(int32_t) * (size_t)(max_len - 1));
        n = (size_t)max_len;
    } else {
        memcpy(out, ids, sizeof(int32_t) * n);
    }
    tl_free(ids);
    *n_out = (int)n;
    return TL_OK;
}

/* Fills rows of a batch from pairs idx[0..np-1] (repeating the last pair to fill bp rows'
 * worth; only the first np count). */
static void fill_batch(const int32_t *toks, const int *lens, int T, const int *idx, int np, int bp, int32_t *bt,
                       int *last) {
    for (int i = 0; i < bp; i++) {
        int p = idx[i < np ? i : np - 1];
        for (int side = 0; side < 2; side++) {
            int row = 2 * i + side, src = 2 * p + side;
            memset(bt + (size_t)row * T, 0, sizeof(int32_t) * (size_t)T); /* causal: padding after the last token is never seen */
            memcpy(bt + (size_t)row * T, toks + (size_t)src * T, sizeof(int32_t) * (size_t)lens[src]);
            last[row] = lens[src] - 1;
        }
    }
}

tl_status tl_reward_train_engine(tl_model *m, const tl_tokenizer *tok, const tl_pref_pair *pairs, int n,
                                 const tl_reward_train_opts *o, const char *out_path, tl_reward_train_result *res) {
    memset(res, 0, sizeof *res);
    int d = m->cfg.dim, bp = o->batch > 0 ? o->batch : 8, max_len = o->max_len > 1 ? o->max_len : 128;
    if (max_len > m->cfg.seq_len) max_len = m->cfg.seq_len;
    if (n < 2) return tl_errorf(TL_E_ARG, "reward train: need at least 2 pairs (got %d)", n);
    if (bp > 4096) return tl_errorf(TL_E_ARG, "reward train: batch %d pairs is over 4096", bp);
    if (o->epochs < 1 || !(o->lr > 0) || !(o->engine_lr > 0) || !(o->val_share >= 0 && o->val_share < 1))
        return tl_errorf(TL_E_ARG, "reward train: epochs %d / lr %g / engine lr %g / val share %g out of range",
                         o->epochs, (double)o->lr, (double)o->engine_lr, o->val_share);
    tl_status st = tl_model_dequantize(m);
    if (st) return st;
    size_t np_ = m->n_params;
    int32_t *toks = tl_malloc(sizeof(int32_t) * (size_t)2 * n * max_len), *bt = NULL;
    int *lens = tl_malloc(sizeof(int) * (size_t)2 * n), *perm = tl_malloc(sizeof(int) * (size_t)n), *order = NULL,
        *last = tl_malloc(sizeof(int) * (size_t)2 * bp);
    float *w = tl_calloc((size_t)d + 1, sizeof(float)), *gw = tl_malloc(sizeof(float) * ((size_t)d + 1));
    float *grads = tl_malloc(sizeof(float) * np_), *best = tl_malloc(sizeof(float) * (np_ + (size_t)d + 1));
    tl_value_adam ah = {0}, ae = {0};
    tl_train_acts *a = NULL;
    tl_strbuf buf = {0};
    tl_gguf_writer *gwr = NULL;
    char engine_path[2048];
    if (!toks || !lens || !perm || !last || !w || !gw || !grads || !best) {
        st = tl_errorf(TL_E_NOMEM, "reward train: out of memory");
        goto done;
    }
    if ((st = tl_value_adam_new((size_t)d + 1, &ah)) || (st = tl_value_adam_new(np_, &ae))) goto done;
    tl_rng rng;
    tl_rng_seed(&rng, o->seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) { /* the same split as the frozen path */
        int j = (int)tl_rng_below(&rng, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    int n_val = (int)(o->val_share * n), n_tr = n - n_val, T = 1;
    if (n_tr < 1) n_tr = 1, n_val = n - 1;
    for (int i = 0; i < n; i++) { /* pair i of the split order: rows 2i (chosen), 2i+1 (rejected) */
        const tl_pref_pair *p = &pairs[perm[i]];
        for (int side = 0; side < 2; side++) {
            int r = 2 * i + side;
            if ((st = encode_tail(tok, p->prompt, side ? p->rejected : p->chosen, max_len, &buf,
                                  toks + (size_t)r * max_len, &lens[r])))
                goto done;
            if (lens[r] > T) T = lens[r];
        }
    }
    /* repack to the longest row */
    for (int r = 1; r < 2 * n; r++) memmove(toks + (size_t)r * T, toks + (size_t)r * max_len, sizeof(int32_t) * (size_t)T);
    bt = tl_malloc(sizeof(int32_t) * (size_t)2 * bp * T);
    order = tl_malloc(sizeof(int) * (size_t)(n_tr > bp ? n_tr : bp));
    if (!bt || !order) {
        st = tl_errorf(TL_E_NOMEM, "reward train: out of memory");
        goto done;
    }
    if ((st = tl_train_acts_new(&m->cfg, 2 * bp, T, &a))) goto done;
    double best_acc = -1;
    int best_ep = 0;
    for (int ep = 1; ep <= o->epochs; ep++) {
        for (int i = 0; i < n_tr; i++) order[i] = i;
        for (int i = n_tr - 1; i > 0; i--) {
            int j = (int)tl_rng_below(&rng, (uint64_t)i + 1), t = order[i];
            order[i] = order[j], order[j] = t;
        }
        double lsum = 0;
        int nb = 0;
        for (int b0 = 0; b0 < n_tr; b0 += bp, nb++) {
            int cnt = n_tr - b0 < bp ? n_tr - b0 : bp;
            fill_batch(toks, lens, T, order + b0, cnt, bp, bt, last);
            memset(grads, 0, sizeof(float) * np_);
            double l;
            /* a short last batch repeats its last pair: counted twice in that step's mean, harmless */
            if ((st = tl_reward_bt_engine_grad(m, a, bt, last, w, w[d], grads, gw, &l, NULL))) goto done;
            if (!isfinite(l)) {
                st = tl_errorf(TL_E_NUMERIC, "reward train: the loss is not finite at epoch %d", ep);
                goto done;
            }
            lsum += l;
            tl_value_adam_step(&ah, w, gw, o->lr);
            if (!o->freeze) tl_value_adam_step(&ae, m->params, grads, o->engine_lr);
        }
        /* validation accuracy: the choice of epoch */
        int ok = 0;
        for (int b0 = 0; b0 < n_val; b0 += bp) {
            int cnt = n_val - b0 < bp ? n_val - b0 : bp, idx[4096], okb = 0;
            for (int i = 0; i < cnt; i++) idx[i] = n_tr + b0 + i;
            fill_batch(toks, lens, T, idx, cnt, bp, bt, last);
            double l;
            if ((st = tl_reward_bt_engine_grad(m, a, bt, last, w, w[d], NULL, NULL, &l, NULL))) goto done;
            /* count only the first cnt pairs */
            const float *h = tl_train_acts_state(a);
            for (int i = 0; i < cnt; i++) {
                double mg = 0;
                for (int j = 0; j < d; j++)
                    mg += (double)w[j] * ((double)h[((size_t)(2 * i) * T + last[2 * i]) * d + j] -
                                          h[((size_t)(2 * i + 1) * T + last[2 * i + 1]) * d + j]);
                okb += mg > 0;
            }
            ok += okb;
        }
        double vacc = n_val ? (double)ok / n_val : 0;
        if (o->progress) o->progress(o->user, ep, lsum / (nb ? nb : 1), vacc);
        if (vacc > best_acc || n_val == 0) {
            best_acc = vacc, best_ep = ep;
            memcpy(best, m->params, sizeof(float) * np_);
            memcpy(best + np_, w, sizeof(float) * ((size_t)d + 1));
        }
    }
    memcpy(m->params, best, sizeof(float) * np_);
    memcpy(w, best + np_, sizeof(float) * ((size_t)d + 1));
    res->n_train = n_tr, res->n_val = n_val, res->best_epoch = best_ep;
    res->val_acc = n_val ? best_acc : 0;
    { /* train accuracy and loss of the kept parameters */
        double lsum = 0;
        int ok = 0, nb = 0;
        for (int b0 = 0; b0 + bp <= n_tr; b0 += bp, nb++) { /* whole batches only */
            int idx[4096];
            for (int i = 0; i < bp; i++) idx[i] = b0 + i;
            fill_batch(toks, lens, T, idx, bp, bp, bt, last);
            double l;
            int c;
            if ((st = tl_reward_bt_engine_grad(m, a, bt, last, w, w[d], NULL, NULL, &l, &c))) goto done;
            lsum += l, ok += c;
        }
        res->train_loss = nb ? lsum / nb : 0;
        res->train_acc = nb ? (double)ok / (nb * bp) : 0;
    }
    /* the engine beside the head: HEAD.gguf -> HEAD.engine.gguf */
    {
        size_t L = strlen(out_path);
        int cut = L > 5 && !strcmp(out_path + L - 5, ".gguf") ? (int)L - 5 : (int)L;
        snprintf(engine_path, sizeof engine_path, "%.*s.engine.gguf", cut, out_path);
    }
    if (!o->freeze) { /* the engine file carries the tokenizer it was trained with (the head reads it alone) */
        if ((st = tl_model_save(m, tok, engine_path))) goto done;
    }
    if ((st = tl_gguf_writer_new(&gwr))) goto done;
    tl_gguf_write_str(gwr, "general.architecture", "reward_head");
    if (o->freeze) {
        tl_gguf_write_str(gwr, "reward.base_model", o->model_path ? o->model_path : (m->source ? m->source : ""));
    } else { /* stored by file name: resolved beside the head, so the pair can move together */
        const char *slash = strrchr(engine_path, '/');
        tl_gguf_write_str(gwr, "reward.base_model", slash ? slash + 1 : engine_path);
        tl_gguf_write_bool(gwr, "reward.engine_beside_head", 1);
        tl_gguf_write_str(gwr, "reward.fine_tuned_from", o->model_path ? o->model_path : "");
    }
    tl_gguf_write_f32(gwr, "reward.val_accuracy", (float)res->val_acc);
    int64_t ne_w[1] = {d}, ne_b[1] = {1};
    tl_gguf_write_tensor(gwr, "head.weight", TL_GGML_F32, 1, ne_w, w);
    tl_gguf_write_tensor(gwr, "head.bias", TL_GGML_F32, 1, ne_b, w + d);
    st = tl_gguf_writer_save(gwr, out_path);
done:
    tl_gguf_writer_free(gwr);
    tl_strbuf_free(&buf);
    tl_train_acts_free(a);
    tl_value_adam_free(&ah), tl_value_adam_free(&ae);
    tl_free(toks), tl_free(bt), tl_free(lens), tl_free(perm), tl_free(order), tl_free(last);
    tl_free(w), tl_free(gw), tl_free(grads), tl_free(best);
    return st;
}

tl_status tl_reward_accuracy(tl_reward *r, const tl_pref_pair *pairs, int n, int *n_correct, int *n_tie,
                             void (*progress)(void *user, int done, int total), void *user) {
    *n_correct = 0, *n_tie = 0;
    for (int i = 0; i < n; i++) {
        double rc, rr;
        tl_status s = tl_reward_score(r, pairs[i].prompt, pairs[i].chosen, &rc);
        if (!s) s = tl_reward_score(r, pairs[i].prompt, pairs[i].rejected, &rr);
        if (s) return s;
        *n_correct += rc > rr;
        *n_tie += rc == rr;
        if (progress && ((i + 1) % 50 == 0 || i + 1 == n)) progress(user, i + 1, n);
    }
    return TL_OK;
}
