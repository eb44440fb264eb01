/* acts_run.c: capture runs — a dataset's statements as token ids (BOS first),
 * and the loop over one model or a series of checkpoints with resume. Kept
 * apart from dataset.c so that reading CSV does not pull in the tokenizer. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "analysis.h"
#include "tokenizer/tokenizer.h"

#define PATH_CAP 4096

tl_status tl_dataset_tokenize(const tl_dataset *d, const tl_tokenizer *t, tl_token_seqs **out) {
    *out = NULL;
    tl_token_seqs *s = tl_calloc(1, sizeof *s);
    if (!s || !(s->ids = tl_calloc((size_t)d->n, sizeof *s->ids)) ||
        !(s->len = tl_calloc((size_t)d->n, sizeof *s->len))) {
        tl_token_seqs_free(s);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", d->path);
    }
    s->n = d->n;
    for (int i = 0; i < d->n; i++) {
        size_t n_ids = 0;
        if (d->len[i] > TL_TEXT_MAX_BYTES) {
            tl_token_seqs_free(s);
            return tl_errorf(TL_E_RANGE, "%s:%d: the statement has %zu bytes, more than the %zu a statement may have "
                             "(refused before tokenising)", d->path, d->line[i], d->len[i], TL_TEXT_MAX_BYTES);
        }
        tl_status st = tl_tokenizer_encode(t, d->text[i], d->len[i], TL_TOK_ADD_BOS, &s->ids[i], &n_ids);
        if (st == TL_OK && (n_ids < 1 || n_ids > (1u << 30)))
            st = tl_errorf(TL_E_RANGE, "%zu tokens", n_ids);
        if (st) {
            tl_token_seqs_free(s);
            return tl_error_prefix(st, "%s:%d", d->path, d->line[i]);
        }
        s->len[i] = (int)n_ids;
        if (s->len[i] > s->max_len) s->max_len = s->len[i];
        s->total += s->len[i];
    }
    *out = s;
    return TL_OK;
}

/* One checkpoint: load, tokenise (unless a shared tokenisation is given), capture. */
static tl_status capture_one(const tl_ckpt *c, const tl_dataset *d, const tl_tokenizer *shared_tok,
                             const tl_token_seqs *shared_seqs, const tl_acts_run_opts *o, const char *dir,
                             int64_t *tokens) {
    tl_model *m = NULL;
    tl_token_seqs *own = NULL;
    tl_status s = tl_model_load(c->path, &m);
    if (s) return s;
    const tl_tokenizer *tok = shared_tok ? shared_tok : m->tok;
    const tl_token_seqs *seqs = shared_seqs;
    if (!tok)
        s = tl_errorf(TL_E_ARG, "%s carries no tokenizer: pass one (--tokenizer FILE)", c->path);
    else if (tl_tokenizer_n_vocab(tok) > m->cfg.vocab_size)
        s = tl_errorf(TL_E_ARG, "%s: the tokenizer has %d tokens, the model's vocabulary %d", c->path,
                      tl_tokenizer_n_vocab(tok), m->cfg.vocab_size);
    if (s == TL_OK && !seqs) {
        s = tl_dataset_tokenize(d, tok, &own);
        seqs = own;
    }
    int skipped = 0;
    if (s == TL_OK)
        s = tl_acts_capture(m, c->path, c->step, d, seqs, o->tokenizer, &o->acts, dir, &skipped);
    if (s == TL_OK) *tokens += seqs->total;
    tl_token_seqs_free(own);
    tl_model_free(m);
    return s;
}

tl_status tl_acts_run(const tl_ckpt_list *ckpts, int series, const char *data_path, const tl_acts_run_opts *o,
                      const char *out_dir, tl_acts_run_report *rep) {
    memset(rep, 0, sizeof *rep);
    double t0 = tl_time_sec();
    tl_dataset *d = NULL;
    tl_tokenizer *tok = NULL;
    tl_token_seqs *seqs = NULL;
    tl_status s = tl_dataset_load(data_path, &d);
    if (s == TL_OK && o->acts.limit > 0 && o->acts.limit < d->n) { /* keep the first `limit` rows */
        for (int i = o->acts.limit; i < d->n; i++) tl_free(d->text[i]);
        d->n = o->acts.limit;
    }
    if (s == TL_OK && o->tokenizer && (s = tl_tokenizer_load(o->tokenizer, &tok)) == TL_OK)
        s = tl_dataset_tokenize(d, tok, &seqs);
    const char *spec = o->acts.points ? o->acts.points : "resid_post";
    int made_root = !series;
    for (int i = 0; i < ckpts->n && s == TL_OK; i++) {
        const tl_ckpt *c = &ckpts->items[i];
        char dir[PATH_CAP];
        if (snprintf(dir, sizeof dir, "%s%s%s", out_dir, series ? "/" : "", series ? c->name : "") >= PATH_CAP) {
            s = tl_errorf(TL_E_ARG, "%s: path too long", out_dir);
            break;
        }
        if (tl_acts_complete(dir)) { /* resume: checked without loading the model */
            if ((s = tl_acts_check_existing(dir, c->path, d->path, d->n, spec, o->acts.reduce))) break;
            rep->skipped++;
            if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_SKIPPED, 0);
            continue;
        }
        if (!made_root) { /* created only now, so a run that fails early leaves nothing */
            if (!tl_path_is_dir(out_dir) && mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
                s = tl_errorf(TL_E_IO, "%s: cannot create directory: %s", out_dir, strerror(errno));
                break;
            }
            made_root = 1;
        }
        if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_START, 0);
        double t1 = tl_time_sec();
        s = capture_one(c, d, tok, seqs, o, dir, &rep->tokens);
        if (s) break;
        rep->captured++;
        if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_DONE, tl_time_sec() - t1);
        if (series) s = tl_series_write_index(out_dir, ckpts);
    }
    if (s == TL_OK && series && rep->captured == 0 && tl_path_is_dir(out_dir))
        s = tl_series_write_index(out_dir, ckpts); /* everything was complete: keep the index current */
    tl_token_seqs_free(seqs);
    tl_tokenizer_free(tok);
    tl_dataset_free(d);
    rep->seconds = tl_time_sec() - t0;
    return s;
}
