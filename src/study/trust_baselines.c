/* trust_baselines.c: the baselines printed beside every probe accuracy of
 * `tiller trust-dynamics` (issue 13 point 8), so that a real model's figure can be
 * read against what needs no learning:
 *   - bag of words: binary unigram logistic regression (tl_world_bow_accuracy) on the
 *     probe's own training rows, scored on its test rows (the same file-order split);
 *   - random init of the same shape: the last checkpoint's configuration with
 *     llama2.c-style random weights, captured and probed exactly like a checkpoint. */
#include <math.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/format.h"
#include "tiller/world.h"
#include "trust_protocol.h"

tl_status tl_trust_bow(const char *csv, int limit, double split, double val, double *acc, int *n_test) {
    tl_dataset *d = NULL;
    tl_status s = tl_dataset_load(csv, &d);
    if (s) return s;
    int n = limit > 0 && limit < d->n ? limit : d->n;
    int n_fit = (int)(split * n), n_train = n_fit - (int)(val * n); /* as tl_probe_run */
    *acc = NAN;
    *n_test = n - n_fit;
    if (n_train < 2 || n - n_fit < 1) {
        tl_dataset_free(d);
        return tl_errorf(TL_E_ARG, "%s: %d rows leave no bag-of-words split", csv, n);
    }
    int *lab = tl_malloc((size_t)n * sizeof *lab);
    if (!lab) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", csv);
    for (int i = 0; lab && i < n; i++) lab[i] = (int)d->label[i];
    tl_wcsv train = {d->text, lab, n_train}, test = {d->text + n_fit, lab ? lab + n_fit : NULL, n - n_fit};
    if (!s) s = tl_world_bow_accuracy(&train, &test, acc);
    tl_free(lab);
    tl_dataset_free(d);
    return s;
}

tl_status tl_trust_random_model(const tl_trust_opts *o, const tl_ckpt_list *ckpts, int seed, tl_ckpt_list *out) {
    memset(out, 0, sizeof *out);
    char dir[TL_TRUST_PATH_CAP], path[TL_TRUST_PATH_CAP], name[64];
    snprintf(name, sizeof name, "random-init-s%d", seed);
    tl_status s = tl_trust_join(dir, o->out, "random-init");
    if (!s) s = tl_trust_make_dir(dir);
    char file[80];
    snprintf(file, sizeof file, "%s.gguf", name);
    if (!s) s = tl_trust_join(path, dir, file);
    if (s) return s;
    if (!tl_path_exists(path)) { /* made once; a rerun reuses it (and its captures) */
        tl_model *m = NULL;
        tl_tokenizer *tok = NULL; /* kept with the random weights, as the checkpoint carries it */
        s = tl_model_load(ckpts->items[ckpts->n - 1].path, &m, &tok);
        if (!s) s = tl_model_dequantize(m);
        if (!s) {
            tl_model_init_random(m, (uint64_t)seed);
            s = tl_model_save(m, tok, path);
        }
        tl_tokenizer_free(tok);
        tl_model_free(m);
        if (s) return s;
    }
    out->items = tl_calloc(1, sizeof *out->items);
    if (out->items) {
        out->items[0].name = tl_strdup(name);
        out->items[0].path = tl_strdup(path);
        out->n = 1;
    }
    if (!out->items || !out->items[0].name || !out->items[0].path) {
        tl_ckpt_list_free(out);
        return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory");
    }
    return TL_OK;
}
