/* actstore.c: activation directories on disk (layout in analysis.h) and series
 * of checkpoints. Every file goes through tl_out_file; meta.json is written
 * last, so a directory without it is incomplete and is captured again. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "tiller/dist.h"
#include "series.h"

#define PATH_CAP 4096

static int join(char *buf, const char *dir, const char *name) {
    return snprintf(buf, PATH_CAP, "%s/%s", dir, name) < PATH_CAP;
}

static tl_status make_dir(const char *dir) {
    if (tl_path_is_dir(dir)) return TL_OK;
    if (mkdir(dir, 0777) != 0 && !(errno == EEXIST && tl_path_is_dir(dir)))
        return tl_errorf(TL_E_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    return TL_OK;
}

static const char *base_name(const char *path) {
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/') n--;
    const char *p = path + n;
    while (p > path && p[-1] != '/') p--;
    return p;
}

int tl_acts_complete(const char *dir) {
    char p[PATH_CAP];
    return join(p, dir, "meta.json") && tl_path_exists(p);
}

/* ---- meta.json ---------------------------------------------------------------- */


static tl_status get_string(const cJSON *o, const char *key, const char *path, int nullable, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL;
    if (nullable && cJSON_IsNull(v)) return TL_OK;
    if (!cJSON_IsString(v)) return tl_errorf(TL_E_FORMAT, "%s: \"%s\" is missing or not a string", path, key);
    if (!(*out = tl_strdup(v->valuestring))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    return TL_OK;
}

static tl_status get_int(const cJSON *o, const char *key, const char *path, int64_t lo, int64_t hi, int64_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) return tl_errorf(TL_E_FORMAT, "%s: \"%s\" is missing or not a number", path, key);
    double d = v->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != (double)(int64_t)d)
        return tl_errorf(TL_E_FORMAT, "%s: \"%s\" = %g is not an integer in %lld .. %lld", path, key, d,
                         (long long)lo, (long long)hi);
    *out = (int64_t)d;
    return TL_OK;
}

void tl_acts_meta_free(tl_acts_meta *a) {
    if (!a) return;
    if (a->points)
        for (int i = 0; i < a->n_points; i++) tl_free(a->points[i]);
    tl_free(a->points);
    tl_free(a->width);
    tl_free(a->labels);
    tl_free(a->entities);
    tl_free(a->dir);
    tl_free(a->name);
    tl_free(a->model);
    tl_free(a->dataset);
    tl_free(a->tokenizer);
    tl_free(a->token);
    tl_free(a->points_spec);
    tl_free(a);
}

static tl_status parse_meta(const cJSON *j, const char *path, tl_acts_meta *a) {
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "tiller-acts"))
        return tl_errorf(TL_E_FORMAT, "%s: not a tiller activation directory (\"format\" is not \"tiller-acts\")",
                         path);
    int64_t v, n, step = -1;
    tl_status s;
    if ((s = get_int(j, "version", path, 1, 1, &v)) || (s = get_int(j, "n_statements", path, 1, 1 << 30, &n)) ||
        (s = get_string(j, "model", path, 0, &a->model)) || (s = get_string(j, "dataset", path, 0, &a->dataset)) ||
        (s = get_string(j, "tokenizer", path, 1, &a->tokenizer)) || (s = get_string(j, "token", path, 0, &a->token)) ||
        (s = get_string(j, "name", path, 0, &a->name)) ||
        (s = get_string(j, "points_spec", path, 0, &a->points_spec)) ||
        (s = get_int(j, "n_tokens", path, 0, INT64_MAX / 2, &a->n_tokens)) ||
        (s = get_int(j, "n_truncated", path, 0, n, &a->n_truncated)))
        return s;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "step");
    if (!cJSON_IsNull(st) && (s = get_int(j, "step", path, 0, INT64_MAX / 2, &step))) return s;
    a->step = step;
    a->n = (int)n;
    tl_reduce r;
    if (tl_reduce_parse(a->token, &r)) return tl_errorf(TL_E_FORMAT, "%s: \"token\" = \"%s\"", path, a->token);
    const cJSON *pts = cJSON_GetObjectItemCaseSensitive(j, "points");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "widths");
    int np = cJSON_GetArraySize(pts);
    if (!cJSON_IsArray(pts) || !cJSON_IsArray(w) || np < 1 || np > 100000 || cJSON_GetArraySize(w) != np)
        return tl_errorf(TL_E_FORMAT, "%s: \"points\" and \"widths\" must be arrays of the same nonzero length",
                         path);
    if (!(a->points = tl_calloc((size_t)np, sizeof *a->points)) ||
        !(a->width = tl_calloc((size_t)np, sizeof *a->width)))
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    a->n_points = np;
    for (int i = 0; i < np; i++) {
        const cJSON *p = cJSON_GetArrayItem(pts, i), *q = cJSON_GetArrayItem(w, i);
        if (!cJSON_IsString(p) || strlen(p->valuestring) >= 40 || strchr(p->valuestring, '/'))
            return tl_errorf(TL_E_FORMAT, "%s: \"points\"[%d] is not a point name", path, i);
        if (!cJSON_IsNumber(q) || !(q->valuedouble >= 1 && q->valuedouble <= (1 << 24)))
            return tl_errorf(TL_E_FORMAT, "%s: \"widths\"[%d] is not a width", path, i);
        if (!(a->points[i] = tl_strdup(p->valuestring))) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        a->width[i] = (int)q->valuedouble;
    }
    return TL_OK;
}

tl_status tl_acts_open(const char *dir, tl_acts_meta **out) {
    *out = NULL;
    char path[PATH_CAP], lpath[PATH_CAP];
    if (!join(path, dir, "meta.json") || !join(lpath, dir, "labels.npy"))
        return tl_errorf(TL_E_ARG, "%s: path too long", dir);
    if (!tl_path_exists(path))
        return tl_errorf(TL_E_IO, "%s: no meta.json (not an activation directory, or its capture is incomplete)", dir);
    cJSON *j;
    tl_status s = tl_file_read_json(path, &j);
    if (s) return s;
    tl_acts_meta *a = tl_calloc(1, sizeof *a);
    if (!a) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    if (s == TL_OK && !(a->dir = tl_strdup(dir))) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    if (s == TL_OK) s = parse_meta(j, path, a);
    cJSON_Delete(j);
    tl_npy *lab = NULL;
    if (s == TL_OK) s = tl_npy_load(lpath, &lab);
    if (s == TL_OK && (lab->type != TL_NPY_I8 || lab->ndim != 1 || lab->shape[0] != a->n))
        s = tl_errorf(TL_E_FORMAT, "%s: expected int64 [%d] (meta.json's n_statements)", lpath, a->n);
    for (int i = 0; s == TL_OK && i < a->n; i++)
        if (((int64_t *)lab->data)[i] != 0 && ((int64_t *)lab->data)[i] != 1)
            s = tl_errorf(TL_E_FORMAT, "%s: label %lld at row %d is not 0 or 1", lpath,
                          (long long)((int64_t *)lab->data)[i], i);
    if (s == TL_OK) {
        a->labels = lab->data;
        lab->data = NULL;
    }
    tl_npy_free(lab);
    /* entities.npy (optional): the entity id of every row, the clusters of the bootstrap */
    tl_npy *ent = NULL;
    if (s == TL_OK && join(lpath, dir, "entities.npy") && tl_path_exists(lpath)) {
        s = tl_npy_load(lpath, &ent);
        if (s == TL_OK && (ent->type != TL_NPY_I8 || ent->ndim != 1 || ent->shape[0] != a->n))
            s = tl_errorf(TL_E_FORMAT, "%s: expected int64 [%d] (meta.json's n_statements)", lpath, a->n);
        for (int i = 0; s == TL_OK && i < a->n; i++)
            if (((int64_t *)ent->data)[i] < 0 || ((int64_t *)ent->data)[i] >= a->n)
                s = tl_errorf(TL_E_FORMAT, "%s: entity id %lld at row %d is outside 0..%d", lpath,
                              (long long)((int64_t *)ent->data)[i], i, a->n - 1);
        if (s == TL_OK) {
            a->entities = ent->data;
            ent->data = NULL;
        }
        tl_npy_free(ent);
    }
    if (s) {
        tl_acts_meta_free(a);
        return s;
    }
    *out = a;
    return TL_OK;
}

int tl_acts_find_point(const tl_acts_meta *a, const char *name) {
    for (int i = 0; i < a->n_points; i++)
        if (!strcmp(a->points[i], name)) return i;
    return -1;
}

tl_status tl_acts_load_point(const tl_acts_meta *a, int p, tl_npy **out) {
    *out = NULL;
    char path[PATH_CAP], file[64];
    snprintf(file, sizeof file, "%s.npy", a->points[p]);
    if (!join(path, a->dir, file)) return tl_errorf(TL_E_ARG, "%s: path too long", a->dir);
    tl_npy *x;
    tl_status s = tl_npy_load(path, &x);
    if (s) return s;
    if (x->type != TL_NPY_F4 || x->ndim != 2 || x->shape[0] != a->n || x->shape[1] != a->width[p]) {
        s = tl_errorf(TL_E_FORMAT, "%s: expected float32 [%d, %d] (from meta.json)", path, a->n, a->width[p]);
        tl_npy_free(x);
        return s;
    }
    *out = x;
    return TL_OK;
}

/* ---- capture to a directory --------------------------------------------------------- */

tl_status tl_acts_check_existing(const char *dir, const char *model_path, const char *data_path, int n,
                                 const char *spec, tl_reduce r) {
    tl_acts_meta *a;
    tl_status s = tl_acts_open(dir, &a);
    if (s) return tl_error_prefix(s, "%s holds a capture that cannot be read", dir);
    const char *what = NULL;
    char detail[256] = "";
    if (strcmp(a->token, tl_reduce_name(r))) {
        what = "token reduction";
        snprintf(detail, sizeof detail, "%s, now %s", a->token, tl_reduce_name(r));
    } else if (a->n != n || strcmp(base_name(a->dataset), base_name(data_path))) {
        what = "dataset";
        snprintf(detail, sizeof detail, "%.100s with %d rows, now %.100s", a->dataset, a->n, data_path);
    } else if (strcmp(base_name(a->model), base_name(model_path))) {
        what = "model";
        snprintf(detail, sizeof detail, "%.120s, now %.120s", a->model, model_path);
    } else if (strcmp(a->points_spec, spec)) {
        what = "hook points";
        snprintf(detail, sizeof detail, "%.100s, now %.100s", a->points_spec, spec);
    }
    tl_acts_meta_free(a);
    if (what)
        return tl_errorf(TL_E_ARG, "%s already holds a complete capture with another %s (%s): choose another output "
                         "directory or remove it", dir, what, detail);
    return TL_OK;
}

static cJSON *meta_json(const tl_model *m, const char *model_path, int64_t step, const char *name,
                        const tl_dataset *d, const char *tok_path, const char *spec, const tl_act_point *pts,
                        int n_pts, tl_reduce r,
                        int64_t n_tokens, int max_tokens, int n_truncated, double seconds) {
    cJSON *j = cJSON_CreateObject(), *p = cJSON_CreateArray(), *w = cJSON_CreateArray(), *cfg = cJSON_CreateObject();
    if (!j || !p || !w || !cfg) {
        cJSON_Delete(j);
        cJSON_Delete(p);
        cJSON_Delete(w);
        cJSON_Delete(cfg);
        return NULL;
    }
    int ones = 0;
    for (int i = 0; i < d->n; i++) ones += (int)d->label[i];
    cJSON_AddStringToObject(j, "format", "tiller-acts");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "name", name);
    cJSON_AddStringToObject(j, "model", model_path);
    if (step >= 0) cJSON_AddNumberToObject(j, "step", (double)step);
    else cJSON_AddNullToObject(j, "step");
    cJSON_AddStringToObject(j, "dataset", d->path);
    if (tok_path) cJSON_AddStringToObject(j, "tokenizer", tok_path);
    else cJSON_AddNullToObject(j, "tokenizer");
    cJSON_AddStringToObject(j, "token", tl_reduce_name(r));
    for (int i = 0; i < n_pts; i++) {
        cJSON_AddItemToArray(p, cJSON_CreateString(pts[i].name));
        cJSON_AddItemToArray(w, cJSON_CreateNumber(pts[i].width));
    }
    cJSON_AddStringToObject(j, "points_spec", spec);
    cJSON_AddItemToObject(j, "points", p);
    cJSON_AddItemToObject(j, "widths", w);
    cJSON_AddNumberToObject(j, "n_statements", d->n);
    cJSON_AddNumberToObject(j, "n_label_1", ones);
    cJSON_AddNumberToObject(j, "n_tokens", (double)n_tokens);
    cJSON_AddNumberToObject(j, "max_tokens", max_tokens);
    cJSON_AddNumberToObject(j, "n_truncated", n_truncated);
    cJSON_AddNumberToObject(cfg, "dim", m->cfg.dim);
    cJSON_AddNumberToObject(cfg, "n_layers", m->cfg.n_layers);
    cJSON_AddNumberToObject(cfg, "n_heads", m->cfg.n_heads);
    cJSON_AddNumberToObject(cfg, "vocab_size", m->cfg.vocab_size);
    cJSON_AddNumberToObject(cfg, "seq_len", m->cfg.seq_len);
    cJSON_AddItemToObject(j, "model_config", cfg);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    return j;
}

static tl_status write_json(const char *path, const cJSON *j) {
    char *text = j ? cJSON_Print(j) : NULL;
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* cJSON_Print's buffer ends in a NUL we may overwrite: write n + 1 bytes */
    tl_status s = tl_file_write_atomic(path, text, n + 1);
    cJSON_free(text);
    return s;
}

tl_status tl_acts_capture(const tl_model *m, const char *model_path, int64_t step, const tl_dataset *d,
                          const tl_token_seqs *toks, const char *tok_path, const tl_acts_opts *o, const char *dir,
                          int *skipped) {
    *skipped = 0;
    if (toks->n != d->n) return tl_errorf(TL_E_ARG, "capture: %d token sequences for %d statements", toks->n, d->n);
    tl_act_point *pts = NULL;
    int n_pts = 0;
    const char *spec = o->points ? o->points : "resid_post";
    tl_status s = tl_act_points_parse(spec, &m->cfg, &pts, &n_pts);
    if (s) return s;
    if (tl_acts_complete(dir)) {
        s = tl_acts_check_existing(dir, model_path, d->path, d->n, spec, o->reduce);
        tl_free(pts);
        if (s == TL_OK) *skipped = 1;
        return s;
    }
    /* lengths: the model's context bounds every statement */
    int ctx = m->cfg.seq_len, max_len = 0, n_trunc = 0;
    int *lens = tl_malloc((size_t)d->n * sizeof *lens);
    if (!lens) {
        tl_free(pts);
        return tl_errorf(TL_E_NOMEM, "capture: out of memory");
    }
    int64_t n_tokens = 0;
    for (int i = 0; i < d->n && s == TL_OK; i++) {
        lens[i] = toks->len[i];
        if (lens[i] > ctx) {
            if (!o->truncate)
                s = tl_errorf(TL_E_RANGE, "%s:%d: the statement has %d tokens, more than the model's context of %d "
                              "(--truncate keeps the first %d)", d->path, d->line[i], lens[i], ctx, ctx);
            lens[i] = ctx;
            n_trunc++;
        }
        if (lens[i] > max_len) max_len = lens[i];
        n_tokens += lens[i];
    }
    int nw = o->n_workers;
    if (nw <= 0) nw = m->cfg.dim <= 1024 ? omp_get_max_threads() : 1;
    int block = o->block > 0 ? o->block : 256;
    /* split_ranks: each block's statements are shared out over the ranks, whose rows
     * then gather on rank 0, the only one that writes */
    int writer = !o->split_ranks || tl_dist_rank() == 0;
    tl_capturer *cap = NULL;
    if (s == TL_OK && writer) s = make_dir(dir);
    if (s == TL_OK) s = tl_capturer_new(m, pts, n_pts, o->reduce, max_len, nw, &cap);
    tl_npy_writer *wr = tl_calloc((size_t)n_pts, sizeof *wr);
    float **buf = tl_calloc((size_t)n_pts, sizeof *buf);
    float **mine = tl_calloc((size_t)n_pts, sizeof *mine); /* this rank's rows within buf */
    int n_open = 0;
    if (s == TL_OK && (!wr || !buf || !mine)) s = tl_errorf(TL_E_NOMEM, "capture: out of memory");
    for (int p = 0; p < n_pts && s == TL_OK; p++) {
        char path[PATH_CAP], file[64];
        snprintf(file, sizeof file, "%s.npy", pts[p].name);
        if (!join(path, dir, file)) s = tl_errorf(TL_E_ARG, "%s: path too long", dir);
        int64_t row_shape[1] = {pts[p].width};
        if (s == TL_OK && writer && (s = tl_npy_writer_open(&wr[p], path, TL_NPY_F4, 2, row_shape)) == TL_OK)
            n_open++;
        if (s == TL_OK && !(buf[p] = tl_malloc((size_t)block * pts[p].width * sizeof(float))))
            s = tl_errorf(TL_E_NOMEM, "capture: out of memory for %d rows of %d", block, pts[p].width);
    }
    double t0 = tl_time_sec();
    if (o->split_ranks) s = tl_dist_agree(s);
    for (int i0 = 0; i0 < d->n && s == TL_OK; i0 += block) {
        int nb = d->n - i0 < block ? d->n - i0 : block;
        int64_t b = 0, e = nb;
        if (o->split_ranks) tl_dist_share(nb, &b, &e);
        for (int p = 0; p < n_pts; p++) mine[p] = buf[p] + (size_t)b * pts[p].width;
        if (e > b) s = tl_capturer_run(cap, (const int32_t *const *)toks->ids + i0 + b, lens + i0 + b, (int)(e - b), mine);
        if (s) s = tl_error_prefix(s, "%s:%d", d->path, d->line[i0 + b]);
        if (o->split_ranks) s = tl_dist_agree(s);
        for (int p = 0; p < n_pts && s == TL_OK && o->split_ranks; p++)
            s = tl_dist_gather_rows(buf[p], (size_t)pts[p].width * sizeof(float), nb);
        for (int p = 0; p < n_pts && s == TL_OK && writer; p++) s = tl_npy_writer_append(&wr[p], buf[p], nb);
        if (s == TL_OK && o->progress) o->progress(o->progress_user, i0 + nb, d->n);
    }
    /* commit every array, then labels.npy, then meta.json: the done marker */
    int p = 0;
    for (; p < n_open && s == TL_OK; p++) s = tl_npy_writer_commit(&wr[p]);
    for (; p < n_open; p++) tl_npy_writer_abort(&wr[p]);
    char path[PATH_CAP];
    if (s == TL_OK && writer && d->entity) { /* before labels.npy and meta.json, the done marker */
        int64_t shape[1] = {d->n}, *ids = tl_malloc((size_t)d->n * sizeof *ids);
        for (int i = 0; ids && i < d->n; i++) ids[i] = d->entity[i];
        s = !ids ? tl_errorf(TL_E_NOMEM, "%s: out of memory", dir)
            : join(path, dir, "entities.npy") ? tl_npy_save(path, TL_NPY_I8, 1, shape, ids)
                                              : tl_errorf(TL_E_ARG, "%s: path too long", dir);
        tl_free(ids);
    }
    if (s == TL_OK && writer) {
        int64_t shape[1] = {d->n};
        s = join(path, dir, "labels.npy") ? tl_npy_save(path, TL_NPY_I8, 1, shape, d->label)
                                          : tl_errorf(TL_E_ARG, "%s: path too long", dir);
    }
    if (s == TL_OK && writer) {
        cJSON *j = meta_json(m, model_path, step, base_name(dir), d, tok_path, spec, pts, n_pts, o->reduce, n_tokens,
                             max_len, n_trunc, tl_time_sec() - t0);
        s = join(path, dir, "meta.json") ? write_json(path, j) : tl_errorf(TL_E_ARG, "%s: path too long", dir);
        cJSON_Delete(j);
    }
    if (buf)
        for (int i = 0; i < n_pts; i++) tl_free(buf[i]);
    tl_free(buf);
    tl_free(mine);
    tl_free(wr);
    tl_capturer_free(cap);
    tl_free(lens);
    tl_free(pts);
    return o->split_ranks ? tl_dist_agree(s) : s;
}

/* ---- series of checkpoints ------------------------------------------------------------ */

void tl_ckpt_list_free(tl_ckpt_list *l) {
    if (!l) return;
    for (int i = 0; i < l->n; i++) {
        tl_free(l->items[i].name);
        tl_free(l->items[i].path);
    }
    tl_free(l->items);
    l->items = NULL;
    l->n = 0;
}

static tl_status ckpt_add(tl_ckpt_list *l, int *cap, int64_t step, const char *dir, const char *file) {
    if (l->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        tl_ckpt *ni = tl_realloc(l->items, (size_t)nc * sizeof *ni);
        if (!ni) return tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
        l->items = ni;
        *cap = nc;
    }
    char path[PATH_CAP];
    if (!join(path, dir, file)) return tl_errorf(TL_E_ARG, "%s: path too long", dir);
    tl_ckpt *c = &l->items[l->n];
    const char *ext = tl_path_ext(file);
    c->step = step;
    c->path = tl_strdup(path);
    c->name = tl_malloc((size_t)(ext - file) + 1);
    if (!c->path || !c->name) {
        tl_free(c->path);
        tl_free(c->name);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
    }
    memcpy(c->name, file, (size_t)(ext - file));
    c->name[ext - file] = 0;
    l->n++;
    return TL_OK;
}

static int cmp_ckpt(const void *a, const void *b) {
    const tl_ckpt *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

/* A checkpoint in a series directory: "ckpt-<N>" or a name with "step<N>" in it (tl_series_name_step),
 * as a model file (.gguf, .bin, .safetensors) or a Hugging Face directory with config.json (a revision
 * saved as step1000/, the way Pythia's and OLMo's revisions are named). */
static int ckpt_step(const char *dir, const char *name, int64_t *step) {
    if (name[0] == '.' || !tl_series_name_step(name, step)) return 0;
    const char *ext = tl_path_ext(name);
    if (!strcmp(ext, ".gguf") || !strcmp(ext, ".bin") || !strcmp(ext, ".safetensors")) return 1;
    char path[PATH_CAP];
    if (snprintf(path, sizeof path, "%s/%s/config.json", dir, name) >= (int)sizeof path) return 0;
    return tl_path_exists(path);
}

static tl_status series_from_manifest(const char *dir, const char *path, tl_ckpt_list *out) {
    cJSON *j;
    tl_status s = tl_file_read_json(path, &j);
    if (s) return s;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format"),
                *ck = cJSON_GetObjectItemCaseSensitive(j, "checkpoints"), *e;
    int cap = 0;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "tiller-train"))
        s = tl_errorf(TL_E_FORMAT, "%s: not a tiller training manifest (\"format\")", path);
    else if (!cJSON_IsArray(ck))
        s = tl_errorf(TL_E_FORMAT, "%s: \"checkpoints\" is missing or not an array", path);
    int i = 0;
    cJSON_ArrayForEach(e, ck) {
        if (s) break;
        int64_t step;
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(e, "model");
        if ((s = get_int(e, "step", path, 0, INT64_MAX / 2, &step))) break;
        if (!cJSON_IsString(model) || !model->valuestring[0] || strchr(model->valuestring, '/')) {
            s = tl_errorf(TL_E_FORMAT, "%s: \"checkpoints\"[%d].model is not a file name", path, i);
            break;
        }
        s = ckpt_add(out, &cap, step, dir, model->valuestring);
        i++;
    }
    cJSON_Delete(j);
    return s;
}

tl_status tl_series_list(const char *dir, tl_ckpt_list *out) {
    memset(out, 0, sizeof *out);
    char path[PATH_CAP];
    tl_status s = TL_OK;
    if (!tl_path_is_dir(dir) && tl_path_exists(dir) && !strcmp(tl_path_ext(dir), ".csv")) {
        s = tl_series_from_csv(dir, out); /* a manifest CSV of step,path */
        if (s == TL_OK && out->n == 0) s = tl_errorf(TL_E_FORMAT, "%s: no checkpoints listed", dir);
        goto sort;
    }
    if (!tl_path_is_dir(dir))
        return tl_errorf(TL_E_IO, "%s: not a directory (nor a .csv manifest of step,path)", dir);
    if (!join(path, dir, "manifest.json")) return tl_errorf(TL_E_ARG, "%s: path too long", dir);
    if (tl_path_exists(path)) {
        s = series_from_manifest(dir, path, out);
    } else {
        DIR *dp = opendir(dir);
        if (!dp) return tl_errorf(TL_E_IO, "%s: cannot list: %s", dir, strerror(errno));
        struct dirent *e;
        int cap = 0;
        while (s == TL_OK && (e = readdir(dp))) {
            int64_t step;
            if (ckpt_step(dir, e->d_name, &step)) s = ckpt_add(out, &cap, step, dir, e->d_name);
        }
        closedir(dp);
    }
    if (s == TL_OK && out->n == 0)
        s = tl_errorf(TL_E_FORMAT,
                      "%s: no checkpoints (expected manifest.json, ckpt-<step>.gguf|.bin|.safetensors, files named "
                      "*step<N>*.gguf|.bin|.safetensors, or revision directories step<N>/ with config.json)",
                      dir);
sort:
    if (s == TL_OK) {
        if (out->n > 1) qsort(out->items, (size_t)out->n, sizeof *out->items, cmp_ckpt);
        for (int i = 1; i < out->n && s == TL_OK; i++)
            if (out->items[i].step == out->items[i - 1].step)
                s = tl_errorf(TL_E_FORMAT, "%s: two checkpoints for step %lld (%s, %s)", dir,
                              (long long)out->items[i].step, out->items[i - 1].path, out->items[i].path);
    }
    if (s) tl_ckpt_list_free(out);
    return s;
}

tl_status tl_series_write_index(const char *dir, const tl_ckpt_list *ckpts) {
    cJSON *j = cJSON_CreateObject(), *arr = cJSON_CreateArray();
    if (!j || !arr) {
        cJSON_Delete(j);
        cJSON_Delete(arr);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
    }
    cJSON_AddStringToObject(j, "format", "tiller-acts-series");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddItemToObject(j, "checkpoints", arr);
    char sub[PATH_CAP];
    for (int i = 0; i < ckpts->n; i++) {
        if (!join(sub, dir, ckpts->items[i].name) || !tl_acts_complete(sub)) continue;
        cJSON *e = cJSON_CreateObject();
        if (!e) continue;
        cJSON_AddStringToObject(e, "name", ckpts->items[i].name);
        cJSON_AddNumberToObject(e, "step", (double)ckpts->items[i].step);
        cJSON_AddStringToObject(e, "model", ckpts->items[i].path);
        cJSON_AddItemToArray(arr, e);
    }
    char path[PATH_CAP];
    tl_status s = join(path, dir, "series.json") ? write_json(path, j) : tl_errorf(TL_E_ARG, "%s: path too long", dir);
    cJSON_Delete(j);
    return s;
}

void tl_acts_series_free(tl_acts_series *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) tl_acts_meta_free(s->items[i]);
    tl_free(s->items);
    tl_free(s);
}

static tl_status series_add(tl_acts_series *s, int *cap, const char *dir) {
    if (s->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        tl_acts_meta **ni = tl_realloc(s->items, (size_t)nc * sizeof *ni);
        if (!ni) return tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
        s->items = ni;
        *cap = nc;
    }
    tl_status st = tl_acts_open(dir, &s->items[s->n]);
    if (st == TL_OK) s->n++;
    return st;
}

static int cmp_meta(const void *a, const void *b) {
    const tl_acts_meta *x = *(tl_acts_meta *const *)a, *y = *(tl_acts_meta *const *)b;
    if (x->step != y->step) return (x->step > y->step) - (x->step < y->step);
    return strcmp(x->name, y->name);
}

static tl_status check_consistent(const tl_acts_series *s) {
    const tl_acts_meta *a = s->items[0];
    for (int i = 1; i < s->n; i++) {
        const tl_acts_meta *b = s->items[i];
        int same = a->n == b->n && a->n_points == b->n_points;
        for (int p = 0; same && p < a->n_points; p++)
            same = !strcmp(a->points[p], b->points[p]) && a->width[p] == b->width[p];
        if (!same)
            return tl_errorf(TL_E_FORMAT, "%s and %s hold different captures (rows or hook points differ)", a->dir,
                             b->dir);
        if (memcmp(a->labels, b->labels, (size_t)a->n * sizeof *a->labels))
            return tl_errorf(TL_E_FORMAT, "%s and %s have different labels (different datasets?)", a->dir, b->dir);
    }
    return TL_OK;
}

tl_status tl_acts_series_open(const char *dir, tl_acts_series **out) {
    *out = NULL;
    tl_acts_series *s = tl_calloc(1, sizeof *s);
    if (!s) return tl_errorf(TL_E_NOMEM, "%s: out of memory", dir);
    int cap = 0;
    tl_status st = TL_OK;
    char path[PATH_CAP];
    if (!tl_path_is_dir(dir)) {
        st = tl_errorf(TL_E_IO, "%s: not a directory", dir);
    } else if (tl_acts_complete(dir)) {
        st = series_add(s, &cap, dir);
    } else if (join(path, dir, "series.json") && tl_path_exists(path)) {
        cJSON *j;
        if ((st = tl_file_read_json(path, &j)) == TL_OK) {
            const cJSON *ck = cJSON_GetObjectItemCaseSensitive(j, "checkpoints"), *e;
            if (!cJSON_IsArray(ck)) st = tl_errorf(TL_E_FORMAT, "%s: \"checkpoints\" is not an array", path);
            cJSON_ArrayForEach(e, ck) {
                if (st) break;
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, "name");
                char sub[PATH_CAP];
                if (!cJSON_IsString(name) || !name->valuestring[0] || strchr(name->valuestring, '/'))
                    st = tl_errorf(TL_E_FORMAT, "%s: a checkpoint's \"name\" is not a directory name", path);
                else if (!join(sub, dir, name->valuestring))
                    st = tl_errorf(TL_E_ARG, "%s: path too long", dir);
                else
                    st = series_add(s, &cap, sub);
            }
            cJSON_Delete(j);
        }
    } else {
        DIR *dp = opendir(dir);
        if (!dp) {
            st = tl_errorf(TL_E_IO, "%s: cannot list: %s", dir, strerror(errno));
        } else {
            struct dirent *e;
            while (st == TL_OK && (e = readdir(dp))) {
                char sub[PATH_CAP];
                if (e->d_name[0] == '.' || !join(sub, dir, e->d_name) || !tl_acts_complete(sub)) continue;
                st = series_add(s, &cap, sub);
            }
            closedir(dp);
            if (st == TL_OK && s->n > 1) qsort(s->items, (size_t)s->n, sizeof *s->items, cmp_meta);
        }
    }
    if (st == TL_OK && s->n == 0)
        st = tl_errorf(TL_E_FORMAT, "%s: no activations (neither meta.json, series.json nor subdirectories with "
                       "meta.json; was the capture interrupted?)", dir);
    if (st == TL_OK) st = check_consistent(s);
    if (st) {
        tl_acts_series_free(s);
        return st;
    }
    *out = s;
    return TL_OK;
}
