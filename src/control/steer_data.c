/* steer_data.c: positive/negative texts for steering vectors, and building a
 * vector from them through a model (capture at resid_post, then one direction
 * per layer, steer.c). The capture reuses analysis/capture.c. */
#include <cjson/cJSON.h>
#include <omp.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "tiller/steer.h"
#include "steer_vec.h"
#include "tiller/tokenizer.h"

void tl_steer_data_free(tl_steer_data *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) tl_free(d->text[i]);
    tl_free(d->text);
    tl_free(d->label);
    tl_free(d->pos);
    tl_free(d->neg);
    tl_free(d->path);
    tl_free(d);
}

/* Grow the row and pair arrays to hold `rows` rows and `pairs` pairs. */
static tl_status reserve(tl_steer_data *d, int rows, int pairs, int *cap_r, int *cap_p) {
    if (rows > *cap_r) {
        int nc = rows * 2 + 16;
        char **t = tl_realloc(d->text, (size_t)nc * sizeof *t);
        if (!t) return tl_errorf(TL_E_NOMEM, "%s: out of memory", d->path);
        d->text = t;
        int64_t *l = tl_realloc(d->label, (size_t)nc * sizeof *l);
        if (!l) return tl_errorf(TL_E_NOMEM, "%s: out of memory", d->path);
        d->label = l;
        *cap_r = nc;
    }
    if (pairs > *cap_p) {
        int nc = pairs * 2 + 16;
        int *p = tl_realloc(d->pos, (size_t)nc * sizeof *p);
        if (!p) return tl_errorf(TL_E_NOMEM, "%s: out of memory", d->path);
        d->pos = p;
        int *q = tl_realloc(d->neg, (size_t)nc * sizeof *q);
        if (!q) return tl_errorf(TL_E_NOMEM, "%s: out of memory", d->path);
        d->neg = q;
        *cap_p = nc;
    }
    return TL_OK;
}

static char *concat(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    char *s = tl_malloc(na + nb + 1);
    if (s) {
        memcpy(s, a, na);
        memcpy(s + na, b, nb + 1);
    }
    return s;
}

static const char *str_field(const cJSON *o, const char *key) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* {"prompt","safe","unsafe"[, "dimension"]} or {"chosen","rejected"} per line. */
static tl_status load_jsonl(tl_steer_data *d, const char *data, size_t size, const char *dimension, int limit) {
    int cap_r = 0, cap_p = 0, line = 0;
    const char *p = data, *end = data + size;
    while (p < end && (limit <= 0 || d->n_pairs < limit)) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        line++;
        const char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q == le) {
            p = le + 1;
            continue;
        }
        cJSON *o = cJSON_ParseWithLength(p, (size_t)(le - p));
        if (!o || !cJSON_IsObject(o)) {
            cJSON_Delete(o);
            return tl_errorf(TL_E_FORMAT, "%s:%d: not a JSON object", d->path, line);
        }
        const char *pos, *neg, *prompt = "";
        const char *safe = str_field(o, "safe"), *unsafe = str_field(o, "unsafe");
        if (safe || unsafe) {
            prompt = str_field(o, "prompt");
            pos = safe;
            neg = unsafe;
            if (!prompt || !pos || !neg) {
                cJSON_Delete(o);
                return tl_errorf(TL_E_FORMAT, "%s:%d: a steering pair needs string fields prompt, safe and unsafe",
                                 d->path, line);
            }
            const char *dim = str_field(o, "dimension");
            if (dimension && (!dim || strcmp(dim, dimension))) {
                cJSON_Delete(o);
                p = le + 1;
                continue;
            }
        } else {
            pos = str_field(o, "chosen");
            neg = str_field(o, "rejected");
            if (!pos || !neg) {
                cJSON_Delete(o);
                return tl_errorf(TL_E_FORMAT,
                                 "%s:%d: expected {\"prompt\",\"safe\",\"unsafe\"} (tiller world) or "
                                 "{\"chosen\",\"rejected\"} (HH-RLHF)",
                                 d->path, line);
            }
        }
        tl_status s = reserve(d, d->n + 2, d->n_pairs + 1, &cap_r, &cap_p);
        char *a = s ? NULL : concat(prompt, pos), *b = s ? NULL : concat(prompt, neg);
        cJSON_Delete(o);
        if (s == TL_OK && (!a || !b)) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", d->path);
        if (s) {
            tl_free(a);
            tl_free(b);
            return s;
        }
        d->pos[d->n_pairs] = d->n;
        d->label[d->n] = 1;
        d->text[d->n++] = a;
        d->neg[d->n_pairs++] = d->n;
        d->label[d->n] = 0;
        d->text[d->n++] = b;
        p = le + 1;
    }
    if (d->n_pairs == 0)
        return tl_errorf(TL_E_FORMAT, "%s: no pairs%s%s%s", d->path, dimension ? " with dimension '" : "",
                         dimension ? dimension : "", dimension ? "'" : "");
    return TL_OK;
}

/* statement,label: the k-th positive row pairs with the k-th negative row. */
static tl_status load_csv(tl_steer_data *d, int limit) {
    tl_dataset *ds = NULL;
    tl_status s = tl_dataset_load(d->path, &ds);
    if (s) return s;
    int n1 = 0, n0 = 0;
    for (int i = 0; i < ds->n; i++) {
        if (ds->label[i] == 1) n1++;
        else n0++;
    }
    int P = n1 < n0 ? n1 : n0;
    if (P == 0) {
        tl_dataset_free(ds);
        return tl_errorf(TL_E_FORMAT, "%s: %d rows with label 1 and %d with label 0 (need both)", d->path, n1, n0);
    }
    if (limit > 0 && limit < P) P = limit;
    /* every row in file order (the mean difference uses them all); pairs up to the P-th of each label */
    int cap_r = 0, cap_p = 0, k1 = 0, k0 = 0;
    s = reserve(d, ds->n, P, &cap_r, &cap_p);
    for (int i = 0; i < ds->n && s == TL_OK; i++) {
        int lab = ds->label[i] == 1;
        int k = lab ? k1 : k0;
        if (limit > 0 && k >= P) continue; /* --limit: only the rows of the first P pairs */
        int row = d->n;
        d->text[row] = ds->text[i];
        ds->text[i] = NULL;
        d->label[row] = lab;
        d->n++;
        if (k < P) {
            if (lab) d->pos[k] = row;
            else d->neg[k] = row;
        }
        if (lab) k1++;
        else k0++;
    }
    d->n_pairs = P;
    tl_dataset_free(ds);
    return s;
}

tl_status tl_steer_data_load(const char *path, const char *dimension, int limit, tl_steer_data **out) {
    *out = NULL;
    tl_steer_data *d = tl_calloc(1, sizeof *d);
    if (!d || !(d->path = tl_strdup(path))) {
        tl_free(d);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    size_t n = strlen(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    tl_status s;
    if (n > 4 && !strcmp(path + n - 4, ".csv")) {
        if (dimension) s = tl_errorf(TL_E_ARG, "%s: --dimension applies to JSONL pairs only", path);
        else s = load_csv(d, limit);
        d->full_fit = !strncmp(base, "truthfulqa_train", 16); /* the reference's exception */
    } else if ((n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 5 && !strcmp(path + n - 5, ".json"))) {
        char *data;
        size_t size;
        s = tl_file_read_all(path, &data, &size);
        if (s == TL_OK) {
            s = load_jsonl(d, data, size, dimension, limit);
            tl_free(data);
        }
    } else {
        s = tl_errorf(TL_E_ARG, "%s: unknown pair file type (expected .csv or .jsonl)", path);
    }
    if (s) {
        tl_steer_data_free(d);
        return s;
    }
    *out = d;
    return TL_OK;
}

void tl_steer_build_opts_default(tl_steer_build_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = TL_STEER_MEAN_DIFF;
    o->norm = TL_STEER_NORM_STD;
    o->last_token = 1;
}

tl_status tl_steer_build(const tl_model *m, const tl_tokenizer *tok, const tl_steer_data *d,
                         const tl_steer_build_opts *o, tl_steer_vec **out) {
    *out = NULL;
    const tl_config *c = &m->cfg;
    int first, last;
    tl_status s = tl_steer_parse_layers(o->layers, c->n_layers, &first, &last);
    if (s) return s;
    int n_pts = last - first + 1, N = d->n, C = c->dim;
    double frac = o->fit_frac > 0 ? o->fit_frac : (d->full_fit ? 1.0 : 0.5);
    if (frac > 1) return tl_errorf(TL_E_ARG, "steering: the fit fraction %g is above 1", frac);
    int n_fit = (int)(frac * N);
    int32_t **ids = tl_calloc((size_t)N, sizeof *ids);
    int *lens = tl_calloc((size_t)N, sizeof *lens);
    float **acts = tl_calloc((size_t)n_pts, sizeof *acts);
    tl_act_point *pts = tl_calloc((size_t)n_pts, sizeof *pts);
    tl_capturer *cap = NULL;
    tl_steer_vec *v = NULL;
    if (!ids || !lens || !acts || !pts) s = tl_errorf(TL_E_NOMEM, "steering: out of memory");
    int max_len = 1, n_cut = 0;
    for (int i = 0; i < N && s == TL_OK; i++) {
        size_t n_ids = 0, n_bytes = strlen(d->text[i]);
        if (n_bytes > TL_TEXT_MAX_BYTES) { /* refused before tokenising: see TL_TEXT_MAX_BYTES */
            s = tl_errorf(TL_E_RANGE, "%s: row %d: the text has %zu bytes, more than the %zu a text may have", d->path,
                          i + 1, n_bytes, TL_TEXT_MAX_BYTES);
            break;
        }
        s = tl_tokenizer_encode(tok, d->text[i], n_bytes, TL_TOK_ADD_BOS, &ids[i], &n_ids);
        if (s) {
            s = tl_error_prefix(s, "%s: row %d", d->path, i + 1);
            break;
        }
        if ((int64_t)n_ids > c->seq_len) { /* keep BOS + the tail, where the pair's texts differ */
            size_t drop = n_ids - (size_t)c->seq_len;
            memmove(ids[i] + 1, ids[i] + 1 + drop, ((size_t)c->seq_len - 1) * sizeof(int32_t));
            n_ids = (size_t)c->seq_len;
            n_cut++;
        }
        lens[i] = (int)n_ids;
        if (lens[i] > max_len) max_len = lens[i];
    }
    if (s == TL_OK && n_cut)
        tl_logf(TL_LOG_INFO, "steering: %d of %d texts cut to their last %d tokens", n_cut, N, c->seq_len);
    for (int p = 0; p < n_pts && s == TL_OK; p++) {
        pts[p].point = TL_HOOK_RESID_POST;
        pts[p].layer = first + p;
        pts[p].width = C;
        snprintf(pts[p].name, sizeof pts[p].name, "resid_post.%d", first + p);
        if (!(acts[p] = tl_malloc((size_t)N * C * sizeof(float)))) s = tl_errorf(TL_E_NOMEM, "steering: out of memory");
    }
    int nw = o->n_workers > 0 ? o->n_workers : omp_get_max_threads();
    if (c->dim > 1024) nw = 1;
    if (s == TL_OK)
        s = tl_capturer_new(m, pts, n_pts, o->last_token ? TL_REDUCE_LAST : TL_REDUCE_MEAN, max_len, nw, &cap);
    if (s == TL_OK) s = tl_capturer_run(cap, (const int32_t *const *)ids, lens, N, acts);
    if (s == TL_OK) s = tl_steer_vec_new(C, c->n_layers, tl_arch_name(c->arch), &v); /* llama.cpp: general.architecture */
    for (int p = 0; p < n_pts && s == TL_OK; p++) {
        s = tl_steer_direction(acts[p], d->label, N, C, d->pos, d->neg, d->n_pairs, n_fit, o->method, o->norm,
                               v->dir + (size_t)(first + p) * C);
        if (s) s = tl_error_prefix(s, "%s: layer %d", d->path, first + p);
        else v->set[first + p] = 1;
    }
    if (s == TL_OK) {
        char info[1024];
        snprintf(info, sizeof info,
                 "tiller steer build: method %s, norm %s, token %s, layers %d-%d, data %s (%d rows, %d pairs, first "
                 "%d rows fit)",
                 tl_steer_method_name(o->method), o->norm == TL_STEER_NORM_UNIT ? "unit" : "std",
                 o->last_token ? "last" : "mean", first, last, d->path, N, d->n_pairs, n_fit);
        if (!(v->info = tl_strdup(info))) s = tl_errorf(TL_E_NOMEM, "steering: out of memory");
    }
    tl_capturer_free(cap);
    for (int i = 0; ids && i < N; i++) tl_free(ids[i]);
    for (int p = 0; acts && p < n_pts; p++) tl_free(acts[p]);
    tl_free(ids);
    tl_free(lens);
    tl_free(acts);
    tl_free(pts);
    if (s) {
        tl_steer_vec_free(v);
        return s;
    }
    *out = v;
    return TL_OK;
}
