/* tokenize.c: a dataset's statements as token ids, BOS first (kept apart from
 * dataset.c so that reading CSV does not pull in the tokenizer). */
#include "analysis.h"
#include "tokenizer/tokenizer.h"

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
        tl_status st = tl_tokenizer_encode(t, d->text[i], d->len[i], 1, &s->ids[i], &n_ids);
        if (st == TL_OK && n_ids > (1u << 30)) st = tl_errorf(TL_E_RANGE, "%zu tokens", n_ids);
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
