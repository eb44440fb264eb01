/* acts_run.c: capture runs — a dataset's statements as token ids (BOS first),
 * and the loop over one model or a series of checkpoints with resume. Kept
 * apart from dataset.c so that reading CSV does not pull in the tokenizer. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "tiller/generate.h"
#include "tiller/tokenizer.h"
#include "tiller/dist.h"

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
                             const tl_token_seqs *shared_seqs, const tl_acts_run_opts *run_opts, int split_ranks,
                             const char *dir, int64_t *tokens) {
    tl_acts_run_opts split = *run_opts;
    split.acts.split_ranks = split_ranks;
    const tl_acts_run_opts *o = &split;
    tl_model *m = NULL;
    tl_tokenizer *file_tok = NULL;
    tl_token_seqs *own = NULL;
    tl_status s = tl_model_load(c->path, &m, &file_tok);
    if (s) return s;
    const tl_tokenizer *tok = NULL;
    const tl_token_seqs *seqs = shared_seqs;
    s = tl_model_pick_tokenizer(m, shared_tok, file_tok, &tok);
    if (s == TL_OK && !seqs) {
        s = tl_dataset_tokenize(d, tok, &own);
        seqs = own;
    }
    int skipped = 0;
    if (split_ranks) s = tl_dist_agree(s); /* the capture is collective: all ranks enter it, or none */
    if (s == TL_OK)
        s = tl_acts_capture(m, c->path, c->step, d, seqs, o->tokenizer, &o->acts, dir, &skipped);
    if (s == TL_OK) *tokens += seqs->total;
    tl_token_seqs_free(own);
    tl_tokenizer_free(file_tok);
    tl_model_free(m);
    return s;
}

/* The directory of checkpoint i ("" and an error when too long). */
static tl_status ckpt_dir(char *dir, const char *out_dir, int series, const tl_ckpt *c) {
    if (snprintf(dir, PATH_CAP, "%s%s%s", out_dir, series ? "/" : "", series ? c->name : "") >= PATH_CAP)
        return tl_errorf(TL_E_ARG, "%s: path too long", out_dir);
    return TL_OK;
}

/* Under MPI: checkpoints still to capture go out whole, one per rank, in rounds of
 * `size` (each directory written by the one rank that owns it); the last few, fewer
 * than the ranks, are captured together, every rank taking a share of the statements
 * and rank 0 writing (tl_acts_opts.split_ranks). The files are those of one process. */
static tl_status acts_run_ranks(const tl_ckpt_list *ckpts, int series, const tl_dataset *d, const tl_tokenizer *tok,
                                const tl_token_seqs *seqs, const tl_acts_run_opts *o, const char *out_dir,
                                tl_acts_run_report *rep) {
    int rank = tl_dist_rank(), size = tl_dist_size(), n_todo = 0;
    const char *spec = o->acts.points ? o->acts.points : "resid_post";
    int *todo = tl_malloc(((size_t)ckpts->n + 1) * sizeof *todo);
    tl_status s = todo ? TL_OK : tl_errorf(TL_E_NOMEM, "acts: out of memory");
    char dir[PATH_CAP];
    for (int i = 0; i < ckpts->n && s == TL_OK; i++) { /* every rank decides the same (before anyone writes) */
        const tl_ckpt *c = &ckpts->items[i];
        if ((s = ckpt_dir(dir, out_dir, series, c))) break;
        if (!tl_acts_complete(dir)) {
            todo[n_todo++] = i;
            continue;
        }
        if ((s = tl_acts_check_existing(dir, c->path, d->path, d->n, spec, o->acts.reduce))) break;
        rep->skipped++;
        if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_SKIPPED, 0);
    }
    if ((s = tl_dist_agree(s)) == TL_OK && series && n_todo && !tl_path_is_dir(out_dir) && mkdir(out_dir, 0777) != 0 &&
        errno != EEXIST)
        s = tl_errorf(TL_E_IO, "%s: cannot create directory: %s", out_dir, strerror(errno));
    s = tl_dist_agree(s);
    int n_whole = n_todo / size * size;
    double *count = tl_calloc((size_t)size * 2, sizeof *count); /* per rank: captured, tokens */
    if (!count && s == TL_OK) s = tl_errorf(TL_E_NOMEM, "acts: out of memory");
    /* phase 1, whole checkpoints, each on its own rank (rank-local); phase 2, the rest
     * together (every call collective, so every rank leaves on the same status) */
    for (int phase = 1; phase <= 2; phase++) {
        for (int k = phase == 1 ? 0 : n_whole; k < (phase == 1 ? n_whole : n_todo) && s == TL_OK; k++) {
            if (phase == 1 && k % size != rank) continue;
            int i = todo[k];
            const tl_ckpt *c = &ckpts->items[i];
            if ((s = ckpt_dir(dir, out_dir, series, c))) break;
            if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_START, 0);
            double t1 = tl_time_sec();
            int64_t tokens = 0;
            if ((s = capture_one(c, d, tok, seqs, o, phase == 2, dir, &tokens))) break;
            if (phase == 1 || rank == 0) {
                count[rank]++;
                count[size + rank] += (double)tokens;
            }
            if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_DONE, tl_time_sec() - t1);
        }
        if (phase == 1) s = tl_dist_agree(s);
    }
    if (s == TL_OK) s = tl_dist_sum_disjoint(count, (size_t)size * 2);
    for (int r = 0; r < size && s == TL_OK; r++) {
        rep->captured += (int)count[r];
        rep->tokens += (int64_t)count[size + r];
    }
    if (s == TL_OK && series && rank == 0 && tl_path_is_dir(out_dir)) s = tl_series_write_index(out_dir, ckpts);
    tl_free(count);
    tl_free(todo);
    return tl_dist_agree(s);
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
    if (tl_dist_size() > 1) {
        s = tl_dist_agree(s);
        if (s == TL_OK) s = acts_run_ranks(ckpts, series, d, tok, seqs, o, out_dir, rep);
        ckpts = NULL; /* done: skip the one-process loop */
    }
    for (int i = 0; ckpts && i < ckpts->n && s == TL_OK; i++) {
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
        s = capture_one(c, d, tok, seqs, o, 0, dir, &rep->tokens);
        if (s) break;
        rep->captured++;
        if (o->on_ckpt) o->on_ckpt(o->user, i, ckpts->n, c, TL_ACTS_DONE, tl_time_sec() - t1);
        if (series) s = tl_series_write_index(out_dir, ckpts);
    }
    if (s == TL_OK && ckpts && series && rep->captured == 0 && tl_path_is_dir(out_dir))
        s = tl_series_write_index(out_dir, ckpts); /* everything was complete: keep the index current */
    tl_token_seqs_free(seqs);
    tl_tokenizer_free(tok);
    tl_dataset_free(d);
    rep->seconds = tl_time_sec() - t0;
    return s;
}
