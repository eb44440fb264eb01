/*
 * trainer.c: the training loop.
 *
 * One step = `accum` micro-batches of B x T: batcher -> objective (inputs, targets,
 * attention) -> forward_train -> backward (grads += d loss / accum); then global-norm
 * clipping, the warm-up + cosine learning rate, one AdamW update. Validation loss
 * every eval_every steps and at each checkpoint. A non-finite loss or gradient norm
 * stops the run with TL_E_NUMERIC naming the step, before the update, so the last
 * checkpoint stays the last good one.
 *
 * A run's directory:
 *   ckpt-<step>.<ext>   the model (tl_model_save; any format)
 *   optim-<step>.bin    exact parameters + AdamW moments + RNG + data position
 *                       (only the latest is kept unless keep_state)
 *   train_log.csv       one row per step (checkpoint.h)
 *   manifest.json       the run's settings and its checkpoints; rewritten atomically
 *                       after a checkpoint's files exist, so it only ever names
 *                       complete files. --resume reads everything from it.
 *
 * Bit-exact resume: the state file holds the parameters themselves (whatever the
 * model format stores), the moments, the step, the objective RNG and the batcher's
 * (epoch, pos); the log is cut back to the resume step. Same seed + same thread
 * count + same data => the same losses and the same final parameters.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "checkpoint.h"
#include "tiller/tokenizer.h"
#include "format/format.h"
#include "tiller/dist.h"
#include "dp.h"
#include "token_file.h"

#define PATH_CAP 4096

void tl_train_opts_defaults(tl_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1337;
    o->objective = "ntp";
    o->batch = 8;
    o->seq = 0; /* the model's seq_len */
    o->accum = 1;
    o->steps = 1000;
    o->lr = 1e-3f;
    o->min_lr_ratio = 0.1f;
    o->warmup = 100;
    o->beta1 = 0.9f;
    o->beta2 = 0.95f;
    o->eps = 1e-8f;
    o->weight_decay = 0.1f;
    o->grad_clip = 1.0f;
    o->eval_every = 100;
    o->eval_batches = 8;
    o->ckpt_ext = "gguf";
    o->test_inf_step = -1;
}

/* ---- model config from JSON -------------------------------------------- */

/* A number member. */
static int json_num(const cJSON *obj, const char *name, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!v) return 0;
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 1;
    }
    if (!cJSON_IsNumber(v)) return -1;
    *out = v->valuedouble;
    return 1;
}

/* tiller's keys (the manifest's "model", --config), or a Hugging Face config.json (it has
 * "hidden_size"), which the format's codec reads. */
static tl_status config_from_json(const cJSON *obj, const char *what, tl_config *c) {
    static const struct {
        const char *name;
        int is_float, required;
    } keys[] = {
        {"dim", 0, 1},        {"hidden_dim", 0, 1}, {"n_layers", 0, 1},   {"n_heads", 0, 1},
        {"n_kv_heads", 0, 0}, {"head_dim", 0, 0},   {"vocab_size", 0, 1}, {"seq_len", 0, 1},
        {"rope_theta", 1, 0}, {"norm_eps", 1, 0},   {"tied_embeddings", 0, 0},
    };
    int *ints[] = {&c->dim, &c->hidden_dim, &c->n_layers, &c->n_heads, &c->n_kv_heads, &c->head_dim,
                   &c->vocab_size, &c->seq_len, NULL, NULL, &c->tied_embeddings};
    float *floats[] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &c->rope_theta, &c->norm_eps, NULL};
    memset(c, 0, sizeof *c);
    if (!cJSON_IsObject(obj)) return tl_errorf(TL_E_FORMAT, "%s: expected a JSON object", what);
    if (cJSON_GetObjectItemCaseSensitive(obj, "hidden_size")) return tl_hf_config_from_json(obj, what, c);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        double v;
        int r = json_num(obj, keys[i].name, &v);
        if (r < 0) return tl_errorf(TL_E_FORMAT, "%s: field \"%s\" is not a number", what, keys[i].name);
        if (r == 0) {
            if (keys[i].required) return tl_errorf(TL_E_FORMAT, "%s: missing field \"%s\"", what, keys[i].name);
            continue;
        }
        if (keys[i].is_float) {
            if (!isfinite(v)) return tl_errorf(TL_E_FORMAT, "%s: field \"%s\" = %g", what, keys[i].name, v);
            *floats[i] = (float)v;
        } else {
            if (v != floor(v) || v < 0 || v > 1e9)
                return tl_errorf(TL_E_FORMAT, "%s: field \"%s\" = %g is not a valid integer", what, keys[i].name, v);
            *ints[i] = (int)v;
        }
    }
    tl_config_defaults(c);
    return tl_config_check(c, what);
}

/* A float as the shortest decimal that reads back as the same float ("0.001", not
 * 0.0010000000474974513): exact for resume, readable for people. */
static void add_float(cJSON *obj, const char *key, float f) {
    char buf[32];
    for (int p = 6; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if ((float)strtod(buf, NULL) == f) break;
    }
    cJSON_AddRawToObject(obj, key, buf);
}

static cJSON *config_to_json(const tl_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "dim", c->dim);
    cJSON_AddNumberToObject(o, "hidden_dim", c->hidden_dim);
    cJSON_AddNumberToObject(o, "n_layers", c->n_layers);
    cJSON_AddNumberToObject(o, "n_heads", c->n_heads);
    cJSON_AddNumberToObject(o, "n_kv_heads", c->n_kv_heads);
    cJSON_AddNumberToObject(o, "head_dim", c->head_dim);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "seq_len", c->seq_len);
    add_float(o, "rope_theta", c->rope_theta);
    add_float(o, "norm_eps", c->norm_eps);
    cJSON_AddBoolToObject(o, "tied_embeddings", c->tied_embeddings);
    return o;
}


/* ---- the run ------------------------------------------------------------ */

typedef struct {
    tl_train_opts o;     /* effective settings (from the caller, or the manifest on resume) */
    cJSON *manifest;     /* the run's manifest.json, in memory */
    char *data_path;     /* owned copies of strings that outlive the caller's or the manifest's */
    char *objective;
    char *ckpt_ext;
    char *tokenizer_path;
    tl_model *m;
    tl_tokenizer *tok;   /* the one checkpoints carry (formats that store one): the model file's or the run's */
    tl_token_file *data;
    tl_objective *obj;
    tl_batcher *train_it, *val_it; /* val_it NULL when there is no validation split */
    tl_batch *batch;
    tl_train_acts *acts;
    int32_t *inputs, *targets; /* [B, T] */
    float *grads;              /* [n_params] */
    tl_dp dp;                  /* which micro-batches this rank computes; their ordered sum */
    tl_adamw *opt;
    tl_rng rng;                /* the objective's sampling stream */
    int64_t step, tokens_seen;
    double wall0;              /* training seconds before this process */
    double t_start;
    int64_t *sched;
    int n_sched;
    tl_train_log log;
    double last_log_write;
    int64_t last_ckpt;         /* step of the last checkpoint in the manifest, -1 none */
    char last_state[PATH_CAP]; /* its state file ("" none) */
    int lock_fd;               /* DIR/.lock, held while training (-1 none) */
} trainer;

static void trainer_free(trainer *tr) {
    cJSON_Delete(tr->manifest);
    tl_free(tr->data_path);
    tl_free(tr->objective);
    tl_free(tr->ckpt_ext);
    tl_free(tr->tokenizer_path);
    tl_tokenizer_free(tr->tok);
    tl_model_free(tr->m);
    tl_batcher_free(tr->train_it);
    tl_batcher_free(tr->val_it);
    tl_token_file_free(tr->data);
    tl_objective_free(tr->obj);
    tl_batch_free(tr->batch);
    tl_train_acts_free(tr->acts);
    tl_free(tr->inputs);
    tl_free(tr->targets);
    tl_free_aligned(tr->grads);
    tl_dp_free(&tr->dp);
    tl_adamw_free(tr->opt);
    tl_free(tr->sched);
    tl_train_log_free(&tr->log);
    if (tr->lock_fd >= 0) close(tr->lock_fd);
}

/* DIR/ckpt-<step>.<ext>; safetensors checkpoints are Hugging Face directories
 * DIR/ckpt-<step>/ (model.safetensors + config.json). */
static void model_path_at(const trainer *tr, char *buf, int64_t step) {
    if (!strcmp(tr->o.ckpt_ext, "safetensors")) snprintf(buf, PATH_CAP, "%s/ckpt-%lld", tr->o.out_dir, (long long)step);
    else snprintf(buf, PATH_CAP, "%s/ckpt-%lld.%s", tr->o.out_dir, (long long)step, tr->o.ckpt_ext);
}

static void state_path_at(const trainer *tr, char *buf, int64_t step) {
    snprintf(buf, PATH_CAP, "%s/optim-%lld.bin", tr->o.out_dir, (long long)step);
}

/* Remove a model written by tl_model_save: a file, or a Hugging Face directory. */
static void remove_model(const char *path) {
    if (!tl_path_is_dir(path)) {
        remove(path);
        return;
    }
    static const char *files[] = {"model.safetensors", "config.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[PATH_CAP + 32];
        snprintf(p, sizeof p, "%s/%s", path, files[i]);
        remove(p);
    }
    rmdir(path);
}

static tl_status check_opts(const tl_train_opts *o) {
#define BAD(cond, ...) if (cond) return tl_errorf(TL_E_ARG, __VA_ARGS__)
    BAD(!o->out_dir || !*o->out_dir, "train: no output directory");
    BAD(!o->data_path || !*o->data_path, "train: no data file");
    BAD(o->batch <= 0 || o->batch > (1 << 16), "train: batch size %d", o->batch);
    BAD(o->seq < 0 || o->seq > (1 << 20), "train: sequence length %d", o->seq);
    BAD(o->accum <= 0 || o->accum > (1 << 16), "train: accumulation steps %d", o->accum);
    BAD(o->steps <= 0 || o->steps > ((int64_t)1 << 40), "train: steps %lld", (long long)o->steps);
    BAD(!(o->lr > 0) || !isfinite(o->lr), "train: learning rate %g", (double)o->lr);
    BAD(!(o->min_lr_ratio >= 0 && o->min_lr_ratio <= 1), "train: min lr ratio %g (expected 0..1)", (double)o->min_lr_ratio);
    BAD(o->warmup < 0, "train: warm-up %d", o->warmup);
    BAD(!(o->beta1 >= 0 && o->beta1 < 1), "train: beta1 %g (expected [0, 1))", (double)o->beta1);
    BAD(!(o->beta2 >= 0 && o->beta2 < 1), "train: beta2 %g (expected [0, 1))", (double)o->beta2);
    BAD(!(o->eps > 0), "train: eps %g", (double)o->eps);
    BAD(!(o->weight_decay >= 0), "train: weight decay %g", (double)o->weight_decay);
    BAD(!(o->grad_clip >= 0), "train: gradient clip %g", (double)o->grad_clip);
    BAD(o->eval_every < 0, "train: eval every %d", o->eval_every);
    BAD(o->eval_batches <= 0, "train: eval batches %d", o->eval_batches);
    BAD(!o->ckpt_ext || !*o->ckpt_ext || strchr(o->ckpt_ext, '/'), "train: checkpoint format '%s'",
        o->ckpt_ext ? o->ckpt_ext : "");
    BAD(!(o->test_save_pause >= 0 && o->test_save_pause < 3600), "train: test save pause %g", o->test_save_pause);
#undef BAD
    return TL_OK;
}

/* ---- manifest ----------------------------------------------------------- */

static cJSON *train_section(const tl_train_opts *o) {
    cJSON *t = cJSON_CreateObject();
    if (!t) return NULL;
    cJSON_AddStringToObject(t, "data", o->data_path);
    cJSON_AddStringToObject(t, "objective", o->objective);
    cJSON_AddNumberToObject(t, "batch", o->batch);
    cJSON_AddNumberToObject(t, "seq", o->seq);
    cJSON_AddNumberToObject(t, "accum", o->accum);
    cJSON_AddNumberToObject(t, "steps", (double)o->steps);
    add_float(t, "lr", o->lr);
    add_float(t, "min_lr_ratio", o->min_lr_ratio);
    cJSON_AddNumberToObject(t, "warmup", o->warmup);
    add_float(t, "beta1", o->beta1);
    add_float(t, "beta2", o->beta2);
    add_float(t, "eps", o->eps);
    add_float(t, "weight_decay", o->weight_decay);
    add_float(t, "grad_clip", o->grad_clip);
    cJSON_AddNumberToObject(t, "eval_every", o->eval_every);
    cJSON_AddNumberToObject(t, "eval_batches", o->eval_batches);
    cJSON_AddNumberToObject(t, "save_every", o->save_every);
    cJSON_AddNumberToObject(t, "save_log", o->save_log);
    cJSON_AddStringToObject(t, "ckpt_format", o->ckpt_ext);
    cJSON_AddBoolToObject(t, "keep_state", o->keep_state);
    return t;
}

static tl_status new_manifest(trainer *tr) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return tl_errorf(TL_E_NOMEM, "manifest: out of memory");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)tr->o.seed);
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)tr->data->fingerprint);
    cJSON_AddStringToObject(j, "format", "tiller-train");
    cJSON_AddNumberToObject(j, "version", 1);
    cJSON_AddStringToObject(j, "seed", seed); /* a string: u64 does not fit a JSON double */
    cJSON_AddNumberToObject(j, "threads", omp_get_max_threads());
    cJSON_AddStringToObject(j, "init", tr->o.model_path ? tr->o.model_path : "random");
    if (tr->o.tokenizer_path) cJSON_AddStringToObject(j, "tokenizer", tr->o.tokenizer_path);
    else cJSON_AddNullToObject(j, "tokenizer");
    cJSON_AddStringToObject(j, "data_fingerprint", fp);
    cJSON_AddItemToObject(j, "model", config_to_json(&tr->m->cfg));
    cJSON_AddItemToObject(j, "train", train_section(&tr->o));
    cJSON_AddItemToObject(j, "checkpoints", cJSON_CreateArray());
    if (!cJSON_GetObjectItem(j, "checkpoints") || !cJSON_GetObjectItem(j, "train") ||
        !cJSON_GetObjectItem(j, "model")) {
        cJSON_Delete(j);
        return tl_errorf(TL_E_NOMEM, "manifest: out of memory");
    }
    tr->manifest = j;
    return TL_OK;
}

static tl_status write_manifest(trainer *tr) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/manifest.json", tr->o.out_dir);
    char *text = cJSON_Print(tr->manifest);
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    tl_status s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return s;
}

/* Settings of an earlier run, from DIR/manifest.json (strings point into tr->manifest). */
static tl_status settings_from_manifest(trainer *tr, const char *path) {
    cJSON *j = tr->manifest;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "train");
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(j, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "tiller-train") != 0)
        return tl_errorf(TL_E_FORMAT, "%s: not a tiller training manifest (\"format\")", path);
    if (!cJSON_IsObject(t)) return tl_errorf(TL_E_FORMAT, "%s: missing object \"train\"", path);
    static const struct {
        const char *key;
        int kind; /* 0 int, 1 float, 2 int64, 3 string, 4 bool */
        size_t off;
    } f[] = {
        {"data", 3, offsetof(tl_train_opts, data_path)},      {"objective", 3, offsetof(tl_train_opts, objective)},
        {"batch", 0, offsetof(tl_train_opts, batch)},         {"seq", 0, offsetof(tl_train_opts, seq)},
        {"accum", 0, offsetof(tl_train_opts, accum)},         {"steps", 2, offsetof(tl_train_opts, steps)},
        {"lr", 1, offsetof(tl_train_opts, lr)},               {"min_lr_ratio", 1, offsetof(tl_train_opts, min_lr_ratio)},
        {"warmup", 0, offsetof(tl_train_opts, warmup)},       {"beta1", 1, offsetof(tl_train_opts, beta1)},
        {"beta2", 1, offsetof(tl_train_opts, beta2)},         {"eps", 1, offsetof(tl_train_opts, eps)},
        {"weight_decay", 1, offsetof(tl_train_opts, weight_decay)}, {"grad_clip", 1, offsetof(tl_train_opts, grad_clip)},
        {"eval_every", 0, offsetof(tl_train_opts, eval_every)}, {"eval_batches", 0, offsetof(tl_train_opts, eval_batches)},
        {"save_every", 0, offsetof(tl_train_opts, save_every)}, {"save_log", 0, offsetof(tl_train_opts, save_log)},
        {"ckpt_format", 3, offsetof(tl_train_opts, ckpt_ext)}, {"keep_state", 4, offsetof(tl_train_opts, keep_state)},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, f[i].key);
        char *dst = (char *)&tr->o + f[i].off;
        int ok = f[i].kind == 3 ? cJSON_IsString(v) : f[i].kind == 4 ? cJSON_IsBool(v) : cJSON_IsNumber(v);
        if (!ok) return tl_errorf(TL_E_FORMAT, "%s: field \"train.%s\" is missing or has the wrong type", path, f[i].key);
        /* convert only values the target type holds (a float->int conversion out of range is undefined) */
        double lim = f[i].kind == 0 ? (double)INT_MAX : f[i].kind == 2 ? 9007199254740992.0 : (double)FLT_MAX;
        if ((f[i].kind <= 2) && !(isfinite(v->valuedouble) && fabs(v->valuedouble) <= lim))
            return tl_errorf(TL_E_FORMAT, "%s: field \"train.%s\" = %g is out of range", path, f[i].key,
                             v->valuedouble);
        switch (f[i].kind) {
        case 0: *(int *)dst = (int)v->valuedouble; break;
        case 1: *(float *)dst = (float)v->valuedouble; break;
        case 2: *(int64_t *)dst = (int64_t)v->valuedouble; break;
        case 3: *(const char **)dst = v->valuestring; break;
        case 4: *(int *)dst = cJSON_IsTrue(v); break;
        }
    }
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(j, "seed");
    char *end = NULL;
    if (!cJSON_IsString(seed) || !*seed->valuestring ||
        (tr->o.seed = strtoull(seed->valuestring, &end, 10), *end))
        return tl_errorf(TL_E_FORMAT, "%s: field \"seed\" is missing or not a decimal string", path);
    const cJSON *init = cJSON_GetObjectItemCaseSensitive(j, "init");
    tr->o.model_path = cJSON_IsString(init) && strcmp(init->valuestring, "random") ? init->valuestring : NULL;
    const cJSON *th = cJSON_GetObjectItemCaseSensitive(j, "threads");
    if (cJSON_IsNumber(th) && th->valuedouble != (double)omp_get_max_threads())
        tl_logf(TL_LOG_WARN, "%s: the run used %g threads, this process has %d: the resumed losses will "
                "not be bit-identical to an uninterrupted run", path, th->valuedouble, omp_get_max_threads());
    return check_opts(&tr->o);
}

/* The latest checkpoint of the manifest that still has its optimiser state. */
static tl_status resume_point(trainer *tr, const char *path, const cJSON **entry) {
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(tr->manifest, "checkpoints");
    if (!cJSON_IsArray(ck)) return tl_errorf(TL_E_FORMAT, "%s: missing array \"checkpoints\"", path);
    *entry = NULL;
    const cJSON *e;
    int i = 0;
    cJSON_ArrayForEach(e, ck) {
        /* every entry, not only the chosen one: the later passes read each entry's step */
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(e, "step");
        if (!cJSON_IsObject(e) || !cJSON_IsNumber(step) || !(step->valuedouble >= 0 && step->valuedouble <= 9e15))
            return tl_errorf(TL_E_FORMAT, "%s: checkpoints[%d] is not an object with a valid \"step\"", path, i);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "state");
        if (cJSON_IsString(st)) *entry = e;
        i++;
    }
    if (!*entry) return tl_errorf(TL_E_FORMAT, "%s: no checkpoint with optimiser state to resume from", path);
    const char *keys[] = {"step", "model", "state"};
    for (i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(*entry, keys[i]);
        if (i == 0 ? !cJSON_IsNumber(v) || v->valuedouble < 0 : !cJSON_IsString(v) || strchr(v->valuestring, '/'))
            return tl_errorf(TL_E_FORMAT, "%s: checkpoint field \"%s\" is missing or invalid", path, keys[i]);
    }
    return TL_OK;
}

/* ---- setup -------------------------------------------------------------- */

static tl_status own_strings(trainer *tr) {
    /* absolute, so that --resume works from any directory */
    char *abs = realpath(tr->o.data_path, NULL);
    tr->data_path = tl_strdup(abs ? abs : tr->o.data_path);
    free(abs);
    tr->objective = tl_strdup(tr->o.objective);
    tr->ckpt_ext = tl_strdup(tr->o.ckpt_ext);
    if (!tr->data_path || !tr->objective || !tr->ckpt_ext) return tl_errorf(TL_E_NOMEM, "train: out of memory");
    tr->o.data_path = tr->data_path;
    tr->o.objective = tr->objective;
    tr->o.ckpt_ext = tr->ckpt_ext;
    return TL_OK;
}

/* The model of a fresh run: a file, or a config (JSON and/or fields) initialised from the seed. */
static tl_status make_model(trainer *tr) {
    if (tr->o.model_path) { /* a quantized file is fine-tuned in f32 */
        tl_status s = tl_model_load(tr->o.model_path, &tr->m, &tr->tok);
        return s ? s : tl_model_dequantize(tr->m);
    }
    tl_config c = {0};
    if (tr->o.config_path) {
        cJSON *j;
        tl_status s = tl_file_read_json(tr->o.config_path, &j);
        if (s) return s;
        s = config_from_json(j, tr->o.config_path, &c);
        cJSON_Delete(j);
        if (s) return s;
    }
    const tl_config *f = &tr->o.cfg;
    if (f->dim) c.dim = f->dim;
    if (f->hidden_dim) c.hidden_dim = f->hidden_dim;
    if (f->n_layers) c.n_layers = f->n_layers;
    if (f->n_heads) c.n_heads = f->n_heads;
    if (f->n_kv_heads) c.n_kv_heads = f->n_kv_heads;
    if (f->head_dim) c.head_dim = f->head_dim;
    if (f->vocab_size) c.vocab_size = f->vocab_size;
    if (f->seq_len) c.seq_len = f->seq_len;
    if (f->rope_theta > 0) c.rope_theta = f->rope_theta;
    if (f->norm_eps > 0) c.norm_eps = f->norm_eps;
    if (f->tied_embeddings) c.tied_embeddings = 1;
    if (!c.vocab_size) c.vocab_size = tr->data->vocab_size;
    if (!c.seq_len) c.seq_len = tr->o.seq;
    if (c.n_heads && !c.head_dim && c.dim % c.n_heads)
        return tl_errorf(TL_E_ARG, "model config: dim %d is not a multiple of n_heads %d", c.dim, c.n_heads);
    tl_config_defaults(&c);
    tl_status s = tl_model_new(&c, &tr->m);
    if (s) return s;
    tl_model_init_random(tr->m, tr->o.seed);
    return TL_OK;
}

/* The tokenizer the run's checkpoints should carry (formats that store one, like GGUF,
 * then make checkpoints usable for generation on their own). */
static tl_status attach_tokenizer(trainer *tr, const char *path) {
    tl_tokenizer *tok = NULL;
    tl_status s = tl_tokenizer_load(path, &tok);
    if (s) return s;
    if (tl_tokenizer_n_vocab(tok) > tr->m->cfg.vocab_size) {
        s = tl_errorf(TL_E_ARG, "%s: %d tokens, more than the model's vocabulary of %d", path,
                      tl_tokenizer_n_vocab(tok), tr->m->cfg.vocab_size);
        tl_tokenizer_free(tok);
        return s;
    }
    tl_tokenizer_free(tr->tok);
    tr->tok = tok;
    return TL_OK;
}

/* Everything sized from (config, B, T). */
static tl_status make_buffers(trainer *tr) {
    const tl_config *c = &tr->m->cfg;
    int B = tr->o.batch, T = tr->o.seq;
    if (c->vocab_size < tr->data->vocab_size)
        return tl_errorf(TL_E_ARG, "%s: token ids go up to %d, the model's vocabulary has %d", tr->data->path,
                         tr->data->vocab_size - 1, c->vocab_size);
    if (T > c->seq_len)
        return tl_errorf(TL_E_ARG, "train: sequence length %d exceeds the model's context %d", T, c->seq_len);
    tl_status s;
    tl_objective_ctx octx = {B, T, c->vocab_size, -1, -1};
    if (tr->tok) {
        octx.bos = tl_tokenizer_bos(tr->tok);
        octx.eos = tl_tokenizer_eos(tr->tok);
    }
    if ((s = tl_objective_new(tr->o.objective, &octx, &tr->obj))) return s;
    uint64_t data_seed = tr->o.seed ^ 0xda7a5eedULL;
    if ((s = tl_batcher_new(tr->data, TL_SPLIT_TRAIN, tr->obj->windows, T, 1, data_seed, &tr->train_it)))
        return s;
    if (tr->data->n_docs[TL_SPLIT_VAL] > 0) {
        /* a validation split too short for one window means no validation loss, not an error */
        s = tl_batcher_new(tr->data, TL_SPLIT_VAL, tr->obj->windows, T, 0, 0, &tr->val_it);
        if (s == TL_E_RANGE) tl_logf(TL_LOG_WARN, "%s: no validation loss: %s", tr->data->path, tl_last_error());
        else if (s) return s;
    } else {
        tl_logf(TL_LOG_INFO, "%s: no validation split: no validation loss", tr->data->path);
    }
    if ((s = tl_batch_new(B, T, &tr->batch))) return s;
    if ((s = tl_train_acts_new(c, B, T, &tr->acts))) return s;
    if ((s = tl_adamw_new(c, &tr->opt))) return s;
    size_t n = (size_t)B * (size_t)T;
    tr->inputs = tl_malloc(n * sizeof *tr->inputs);
    tr->targets = tl_malloc(n * sizeof *tr->targets);
    tr->grads = tl_malloc_aligned(tr->m->n_params * sizeof(float));
    if (!tr->inputs || !tr->targets || !tr->grads)
        return tl_errorf(TL_E_NOMEM, "train: cannot allocate gradients for %zu parameters", tr->m->n_params);
    return tl_dp_init(&tr->dp, tr->o.accum, tr->m->n_params);
}

static tl_status open_data(trainer *tr, uint64_t expect_fingerprint) {
    tl_status s = tl_token_file_open(tr->o.data_path, &tr->data);
    if (s) return s;
    if (expect_fingerprint && tr->data->fingerprint != expect_fingerprint)
        return tl_errorf(TL_E_ARG, "%s: not the token file this run was trained on (fingerprint %016llx, "
                         "the run's is %016llx)", tr->o.data_path, (unsigned long long)tr->data->fingerprint,
                         (unsigned long long)expect_fingerprint);
    return TL_OK;
}

static tl_status setup_fresh(trainer *tr) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/manifest.json", tr->o.out_dir);
    if (tl_path_exists(path))
        return tl_errorf(TL_E_ARG, "%s already holds a training run (manifest.json): continue it with --resume %s "
                         "or choose another directory", tr->o.out_dir, tr->o.out_dir);
    tl_status s;
    if ((s = own_strings(tr)) || (s = open_data(tr, 0))) return s;
    if ((s = make_model(tr))) return s;
    if (tr->o.tokenizer_path) {
        char *abs = realpath(tr->o.tokenizer_path, NULL);
        tr->tokenizer_path = tl_strdup(abs ? abs : tr->o.tokenizer_path);
        free(abs);
        if (!tr->tokenizer_path) return tl_errorf(TL_E_NOMEM, "out of memory");
        tr->o.tokenizer_path = tr->tokenizer_path;
        if ((s = attach_tokenizer(tr, tr->o.tokenizer_path))) return s;
    }
    if (!tr->o.seq) tr->o.seq = tr->m->cfg.seq_len;
    if ((s = make_buffers(tr))) return s;
    tl_rng_seed(&tr->rng, tr->o.seed ^ 0x0b1ec71fULL);
    tr->last_ckpt = -1;
    return new_manifest(tr);
}

/* A writer killed mid-file leaves "<final name>.tmp.<pid>" (tl_out_file); nothing ever
 * reads those, so a resumed run clears the ones its own files would have left. */
static int is_temp_name(const char *name) {
    const char *t = strstr(name, ".tmp.");
    return t && t[5] && strspn(t + 5, "0123456789") == strlen(t + 5);
}

static void remove_stale_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    static const char *prefixes[] = {"ckpt-", "optim-", "manifest.json.tmp.", "train_log.csv.tmp."};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[PATH_CAP];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (!strncmp(e->d_name, "ckpt-", 5) && !is_temp_name(e->d_name) && tl_path_is_dir(p)) {
            remove_stale_temps(p); /* a Hugging Face checkpoint directory */
            continue;
        }
        if (!is_temp_name(e->d_name)) continue;
        for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
            if (!strncmp(e->d_name, prefixes[i], strlen(prefixes[i])) || !strncmp(e->d_name, "model.safetensors", 17) ||
                !strncmp(e->d_name, "config.json", 11)) {
                remove(p);
                break;
            }
    }
    closedir(d);
}

static tl_status setup_resume(trainer *tr) {
    const char *dir = tr->o.resume_dir;
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    const char *data_override = tr->o.data_path;
    tl_train_progress_fn progress = tr->o.progress;
    void *progress_user = tr->o.progress_user;
    int64_t inf_step = tr->o.test_inf_step, stop_at = tr->o.stop_at;
    double pause = tr->o.test_save_pause;
    tl_status s = tl_file_read_json(path, &tr->manifest);
    if (s) return tl_error_prefix(s, "cannot resume from %s", dir);
    tr->o.out_dir = dir;
    if ((s = settings_from_manifest(tr, path))) return s;
    tr->o.resume_dir = dir;
    tr->o.progress = progress;
    tr->o.progress_user = progress_user;
    tr->o.test_inf_step = inf_step;
    tr->o.stop_at = stop_at;
    tr->o.test_save_pause = pause;
    if (data_override) tr->o.data_path = data_override;
    const cJSON *entry = NULL;
    if ((s = resume_point(tr, path, &entry))) return s;
    const char *fp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr->manifest, "data_fingerprint"));
    uint64_t fingerprint = fp ? strtoull(fp, NULL, 16) : 0;
    if ((s = own_strings(tr)) || (s = open_data(tr, fingerprint))) return s;

    /* The model: its file (format, tokenizer, config) then the exact parameters from the state. */
    char model_path[PATH_CAP], state_path[PATH_CAP];
    snprintf(model_path, sizeof model_path, "%s/%s", dir,
             cJSON_GetObjectItemCaseSensitive(entry, "model")->valuestring);
    snprintf(state_path, sizeof state_path, "%s/%s", dir,
             cJSON_GetObjectItemCaseSensitive(entry, "state")->valuestring);
    if ((s = tl_model_load(model_path, &tr->m, &tr->tok)) || (s = tl_model_dequantize(tr->m))) return s;
    tl_config want;
    if ((s = config_from_json(cJSON_GetObjectItemCaseSensitive(tr->manifest, "model"), path, &want))) return s;
    tl_config *c = &tr->m->cfg;
    if (c->dim != want.dim || c->hidden_dim != want.hidden_dim || c->n_layers != want.n_layers ||
        c->n_heads != want.n_heads || c->n_kv_heads != want.n_kv_heads || c->head_dim != want.head_dim ||
        c->vocab_size != want.vocab_size || c->tied_embeddings != want.tied_embeddings)
        return tl_errorf(TL_E_FORMAT, "%s: model shape differs from the manifest's", model_path);
    /* The model's provenance is the run's starting point, not the checkpoint it resumed
     * from (formats record it, e.g. GGUF general.name), so checkpoints stay identical. */
    tl_free(tr->m->source);
    tr->m->source = NULL;
    if (tr->o.model_path && !(tr->m->source = tl_strdup(tr->o.model_path)))
        return tl_errorf(TL_E_NOMEM, "out of memory");
    const char *tokp = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr->manifest, "tokenizer"));
    if (tokp && !tr->tok && (s = attach_tokenizer(tr, tokp)))
        return tl_error_prefix(s, "the run's tokenizer (for its checkpoints)");
    /* fields some formats do not store */
    c->seq_len = want.seq_len;
    c->rope_theta = want.rope_theta;
    c->norm_eps = want.norm_eps;
    if ((s = make_buffers(tr))) return s;
    tl_train_state st;
    if ((s = tl_train_state_read(state_path, &st, tr->m->params, tr->opt->m, tr->opt->v, tr->m->n_params)))
        return s;
    int64_t entry_step = (int64_t)cJSON_GetObjectItemCaseSensitive(entry, "step")->valuedouble;
    if (st.step != entry_step || st.data_fingerprint != tr->data->fingerprint)
        return tl_errorf(TL_E_FORMAT, "%s: state is for step %lld, the manifest says %lld", state_path,
                         (long long)st.step, (long long)entry_step);
    tr->step = st.step;
    tr->opt->step = st.adam_step;
    tr->tokens_seen = st.tokens_seen;
    tr->rng = st.rng;
    tr->wall0 = st.wall_time;
    if ((s = tl_batcher_set_state(tr->train_it, st.data))) return s;
    tr->last_ckpt = st.step;
    snprintf(tr->last_state, sizeof tr->last_state, "%s", state_path);
    /* forget checkpoints after the resume point (written but never completed) */
    cJSON *ck = cJSON_GetObjectItemCaseSensitive(tr->manifest, "checkpoints");
    for (int i = cJSON_GetArraySize(ck) - 1; i >= 0; i--)
        if (cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ck, i), "step")->valuedouble > (double)tr->step)
            cJSON_DeleteItemFromArray(ck, i);
    char log_path[PATH_CAP];
    snprintf(log_path, sizeof log_path, "%s/train_log.csv", dir);
    return tl_train_log_read(&tr->log, log_path, tr->step);
}

/* ---- steps -------------------------------------------------------------- */

static int64_t count_targets(const int32_t *targets, size_t n) {
    int64_t k = 0;
    for (size_t i = 0; i < n; i++) k += targets[i] >= 0;
    return k;
}

/* Token-weighted mean loss over the first eval_batches * B validation windows, in
 * file order with a fixed RNG: the same numbers at every evaluation. NaN without a split. */
/* *out: the validation loss; NAN when there is nothing to evaluate (*evaluated = 0),
 * so that a NaN loss of a real evaluation is not mistaken for "not evaluated". */
static tl_status evaluate(trainer *tr, double *out, int *evaluated) {
    *out = NAN;
    *evaluated = 0;
    if (!tr->val_it) return TL_OK;
    int B = tr->o.batch;
    int64_t windows = tl_batcher_windows(tr->val_it), limit = (int64_t)tr->o.eval_batches * B;
    if (windows > limit) windows = limit;
    tl_rng rng;
    tl_rng_seed(&rng, tr->o.seed ^ 0x7a1da7e5ULL);
    /* under MPI each rank evaluates its block of batches; the sums are then added in batch order */
    int64_t n_batches = (windows + B - 1) / B, mine0, mine1;
    tl_dist_share(n_batches, &mine0, &mine1);
    double *part = tl_calloc((size_t)n_batches * 2 + 1, sizeof *part); /* [batch] loss * k, then k */
    if (!part) return tl_errorf(TL_E_NOMEM, "validation: out of memory");
    tl_status s = TL_OK;
    for (int64_t i = 0; i < n_batches && s == TL_OK; i++) {
        int64_t first = i * B;
        tl_batcher_fill(tr->val_it, first, tr->batch);
        for (int r = 0; r < B; r++)
            if (first + r >= windows) tr->batch->len[r] = 0;
        tl_attn_spec attn;
        if ((s = tr->obj->make(tr->obj, tr->batch, &rng, tr->inputs, tr->targets, &attn))) break;
        int64_t k = count_targets(tr->targets, (size_t)B * tr->o.seq);
        if (!k || i < mine0 || i >= mine1) continue;
        float loss;
        if ((s = tl_model_forward_train(tr->m, tr->acts, tr->inputs, tr->targets, &attn, &loss))) break;
        part[i] = (double)loss * (double)k;
        part[n_batches + i] = (double)k;
    }
    if ((s = tl_dist_agree(s)) == TL_OK) s = tl_dist_sum_disjoint(part, (size_t)n_batches * 2);
    double sum = 0;
    int64_t total = 0;
    for (int64_t i = 0; i < n_batches && s == TL_OK; i++) {
        if (part[n_batches + i] == 0) continue;
        sum += part[i];
        total += (int64_t)part[n_batches + i];
    }
    tl_free(part);
    if (s == TL_OK && total) *out = sum / (double)total;
    *evaluated = s == TL_OK && total > 0;
    return s;
}

static const char *last_good(const trainer *tr, char *buf, size_t cap) {
    if (tr->last_ckpt < 0) return "no checkpoint was written";
    char p[PATH_CAP];
    model_path_at(tr, p, tr->last_ckpt);
    snprintf(buf, cap, "the last good checkpoint is %s (step %lld)", p, (long long)tr->last_ckpt);
    return buf;
}

static tl_status numeric_stop(const trainer *tr, int64_t step, const char *what, double v) {
    char buf[PATH_CAP + 64];
    return tl_errorf(TL_E_NUMERIC, "step %lld: %s is %s; training stopped, %s", (long long)step, what,
                     isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", last_good(tr, buf, sizeof buf));
}

/* One update: accumulate micro-batches, clip, step. */
static tl_status train_step(trainer *tr, double *loss_out, double *norm_out, double *lr_out) {
    int B = tr->o.batch, T = tr->o.seq;
    int64_t step = tr->step + 1; /* the step this update completes, as logged */
    /* Every micro-batch's gradient is summed in micro-batch order, whichever rank
     * computed it (dp.h): one process and N ranks give the same bits. */
    tl_dp *dp = &tr->dp;
    tl_dp_begin(dp, tr->grads);
    tl_status s = TL_OK;
    int stopped = 0; /* an error or a non-finite loss: no more compute (ranks still exchange, dp.h) */
    for (int a = 0; a < tr->o.accum; a++) {
        tl_batcher_next(tr->train_it, tr->batch);
        tl_attn_spec attn;
        /* the same on every rank (same data, same RNG): so is which micro-batches are used */
        tl_status ms = tr->obj->make(tr->obj, tr->batch, &tr->rng, tr->inputs, tr->targets, &attn);
        tl_dp_mark(dp, TL_DP_DATA);
        if (ms && !stopped) s = ms, stopped = 1;
        tr->tokens_seen += (int64_t)B * T;
        int used = ms == TL_OK && count_targets(tr->targets, (size_t)B * T) > 0, computed = 0;
        float loss = 0;
        if (used && tl_dp_mine(dp, a) && !stopped) {
            if ((s = tl_model_forward_train(tr->m, tr->acts, tr->inputs, tr->targets, &attn, &loss))) stopped = 1;
            else {
                if (step == tr->o.test_inf_step) loss = INFINITY;
                if (isfinite(loss))
                    tl_model_backward(tr->m, tr->acts, tl_dp_target(dp, a, tr->grads), 1.0f / (float)tr->o.accum);
                else stopped = 1;
                computed = 1;
            }
        }
        tl_status ds = tl_dp_done(dp, a, tr->grads, used, computed, loss);
        if (ds) return ds; /* an MPI failure: the job stops */
        if (stopped && tl_dist_size() == 1) break;
    }
    if ((s = tl_dist_agree(s)) || (s = tl_dp_exchange_losses(dp))) return s;
    tl_dp_mark(dp, TL_DP_AGREE);
    double loss_sum = 0;
    int used = 0;
    for (int a = 0; a < tr->o.accum; a++) {
        if (!dp->used[a]) continue;
        if (!isfinite(dp->loss[a])) return numeric_stop(tr, step, "the training loss", dp->loss[a]);
        loss_sum += (float)dp->loss[a];
        used++;
    }
    if (!used) return tl_errorf(TL_E_RANGE, "step %lld: no micro-batch had a token to predict", (long long)step);
    tl_lr_schedule sched = {tr->o.lr, tr->o.warmup, tr->o.steps, tr->o.min_lr_ratio};
    float lr = tl_lr_at(&sched, tr->step);
    tl_adamw_params hp = {tr->o.beta1, tr->o.beta2, tr->o.eps, tr->o.weight_decay};
    double norm;
    if ((s = tl_dp_update(dp, tr->opt, &hp, lr, tr->o.grad_clip, tr->m->params, tr->grads, &norm))) return s;
    if (!isfinite(norm)) return numeric_stop(tr, step, "the gradient norm", norm);
    char timeline[512];
    tl_dp_timeline(dp, timeline, sizeof timeline);
    tl_logf(TL_LOG_DEBUG, "step %lld wall/CPU seconds: %s", (long long)step, timeline);
    tr->step = step;
    *loss_out = loss_sum / used;
    *norm_out = norm;
    *lr_out = lr;
    return TL_OK;
}

static double wall_time(const trainer *tr) { return tr->wall0 + (tl_time_sec() - tr->t_start); }

static tl_status write_log(trainer *tr) {
    if (tl_dist_rank() != 0) return TL_OK;
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/train_log.csv", tr->o.out_dir);
    tr->last_log_write = tl_time_sec();
    return tl_train_log_write(&tr->log, path);
}

static void add_float_or_null(cJSON *obj, const char *key, double v) {
    if (isfinite(v)) add_float(obj, key, (float)v);
    else cJSON_AddNullToObject(obj, key);
}

/* Model file, state file, log, then the manifest that names them; then drop the
 * previous state (unless keep_state). A kill at any point leaves the previous
 * manifest naming complete files. */
static tl_status save_checkpoint_files(trainer *tr, double train_loss, double val_loss, double lr) {
    char model_path[PATH_CAP], state_path[PATH_CAP];
    model_path_at(tr, model_path, tr->step);
    state_path_at(tr, state_path, tr->step);
    tl_status s = tl_model_save(tr->m, tr->tok, model_path);
    if (s) return s;
    tl_train_state st = {tr->step, tr->opt->step, tr->tokens_seen, tr->rng, tl_batcher_get_state(tr->train_it),
                         wall_time(tr), tr->data->fingerprint};
    if ((s = tl_train_state_write(state_path, &st, tr->m->params, tr->opt->m, tr->opt->v, tr->m->n_params,
                                  tr->o.test_save_pause)) != TL_OK ||
        (s = write_log(tr)) != TL_OK) {
        remove_model(model_path); /* not in the manifest: only takes space (e.g. on a full disk) */
        return s;
    }
    cJSON *ck = cJSON_GetObjectItemCaseSensitive(tr->manifest, "checkpoints");
    if (!tr->o.keep_state) {
        cJSON *e;
        cJSON_ArrayForEach(e, ck) cJSON_ReplaceItemInObjectCaseSensitive(e, "state", cJSON_CreateNull());
    }
    cJSON *e = cJSON_CreateObject();
    if (!e) return tl_errorf(TL_E_NOMEM, "manifest: out of memory");
    cJSON_AddNumberToObject(e, "step", (double)tr->step);
    cJSON_AddStringToObject(e, "model", strrchr(model_path, '/') + 1);
    cJSON_AddStringToObject(e, "state", strrchr(state_path, '/') + 1);
    cJSON_AddNumberToObject(e, "tokens", (double)tr->tokens_seen);
    add_float_or_null(e, "train_loss", train_loss);
    add_float_or_null(e, "val_loss", val_loss);
    add_float_or_null(e, "lr", lr);
    cJSON_AddNumberToObject(e, "wall_time", wall_time(tr));
    cJSON_AddItemToArray(ck, e);
    if ((s = write_manifest(tr))) {
        remove_model(model_path);
        remove(state_path);
        return s;
    }
    if (!tr->o.keep_state && tr->last_state[0] && strcmp(tr->last_state, state_path) != 0) remove(tr->last_state);
    tr->last_ckpt = tr->step;
    snprintf(tr->last_state, sizeof tr->last_state, "%s", state_path);
    return TL_OK;
}

/* Under MPI rank 0 alone writes; every rank learns whether it worked. */
static tl_status save_checkpoint(trainer *tr, double train_loss, double val_loss, double lr) {
    tl_status gs = tl_dp_gather_moments(&tr->dp, tr->opt); /* each rank updated its own shard of them */
    if (gs) return gs;
    if (tl_dist_rank() == 0) return tl_dist_agree(save_checkpoint_files(tr, train_loss, val_loss, lr));
    tl_status s = tl_dist_agree(TL_OK);
    if (s == TL_OK) {
        tr->last_ckpt = tr->step; /* for the messages that name the last good checkpoint */
    }
    return s;
}

/* A kill between the manifest write and the removal of the previous state leaves an
 * optim-<step>.bin that no manifest entry names (about 3x the model): a resumed run
 * removes every state file its manifest does not name. */
static void remove_orphan_states(const trainer *tr) {
    DIR *d = opendir(tr->o.out_dir);
    if (!d) return;
    const cJSON *ck = cJSON_GetObjectItemCaseSensitive(tr->manifest, "checkpoints");
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        const char *n = ent->d_name;
        size_t len = strlen(n);
        if (strncmp(n, "optim-", 6) || len < 11 || strcmp(n + len - 4, ".bin") || strspn(n + 6, "0123456789") != len - 10)
            continue;
        int named = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, ck) {
            const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "state");
            named |= cJSON_IsString(st) && !strcmp(st->valuestring, n);
        }
        if (named) continue;
        char p[PATH_CAP];
        snprintf(p, sizeof p, "%s/%s", tr->o.out_dir, n);
        tl_logf(TL_LOG_INFO, "removing %s: no checkpoint of the manifest names it (left by an interrupted save)", p);
        remove(p);
    }
    closedir(d);
}

static int in_schedule(const trainer *tr, int64_t step) {
    for (int i = 0; i < tr->n_sched; i++)
        if (tr->sched[i] == step) return 1;
    return 0;
}

static tl_status log_row(trainer *tr, double loss, double val, double lr, double norm, double tps) {
    char line[256], a[32] = "", b[32] = "", c[32] = "", d[32] = "", e[32] = "";
    if (isfinite(loss)) snprintf(a, sizeof a, "%.9g", loss);
    if (isfinite(val)) snprintf(b, sizeof b, "%.9g", val);
    if (isfinite(lr)) snprintf(c, sizeof c, "%.9g", lr);
    if (isfinite(norm)) snprintf(d, sizeof d, "%.9g", norm);
    if (isfinite(tps)) snprintf(e, sizeof e, "%.1f", tps);
    snprintf(line, sizeof line, "%lld,%s,%s,%s,%s,%s", (long long)tr->step, a, b, c, d, e);
    return tl_train_log_add(&tr->log, tr->step, line);
}

/* One training process per run directory: an advisory lock on DIR/.lock, held until the
 * process ends (the kernel drops it even after kill -9, so a resume is never blocked by
 * a dead run). */
static tl_status lock_dir(trainer *tr) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/.lock", tr->o.out_dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return tl_errorf(TL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return tl_errorf(TL_E_IO, "%s is in use by another training process", tr->o.out_dir);
        return tl_errorf(TL_E_IO, "%s: cannot lock: %s", path, strerror(e));
    }
    tr->lock_fd = fd;
    return TL_OK;
}

/* Can the model be written in the checkpoint format at all (a llama2.c .bin cannot hold
 * rope theta != 10000, say)? Found out now rather than at the first checkpoint, by
 * writing it once — skipped above 256 MiB, where the extension check must do. */
static tl_status check_format(trainer *tr) {
    static const char *known[] = {"gguf", "bin", "safetensors"};
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) ok |= !strcmp(tr->o.ckpt_ext, known[i]);
    if (!ok)
        return tl_errorf(TL_E_ARG, "checkpoint format '%s' (expected gguf, bin or safetensors)", tr->o.ckpt_ext);
    if (tr->m->n_params > ((size_t)64 << 20)) return TL_OK;
    char path[PATH_CAP];
    if (!strcmp(tr->o.ckpt_ext, "safetensors")) snprintf(path, sizeof path, "%s/tiller-format-check", tr->o.out_dir);
    else snprintf(path, sizeof path, "%s/.tiller-format-check.%s", tr->o.out_dir, tr->o.ckpt_ext);
    tl_status s = tl_model_save(tr->m, tr->tok, path);
    remove_model(path);
    return s ? tl_error_prefix(s, "checkpoints cannot be written as .%s", tr->o.ckpt_ext) : TL_OK;
}

static tl_status run_loop(trainer *tr) {
    tl_status s;
    const tl_train_opts *o = &tr->o;
    if (tr->step == 0 && in_schedule(tr, 0) && tr->last_ckpt < 0) {
        double val;
        int evaluated;
        if ((s = evaluate(tr, &val, &evaluated))) return s;
        if (evaluated && !isfinite(val)) return numeric_stop(tr, 0, "the validation loss", val);
        if (isfinite(val) && (s = log_row(tr, NAN, val, NAN, NAN, NAN))) return s;
        if ((s = save_checkpoint(tr, NAN, val, NAN))) return s;
    }
    int64_t first = tr->step;
    double t_loop = tl_time_sec();
    while (tr->step < o->steps) {
        double t0 = tl_time_sec(), loss = NAN, norm = NAN, lr = NAN;
        if ((s = train_step(tr, &loss, &norm, &lr))) return s;
        double tps = (double)o->batch * o->seq * o->accum / (tl_time_sec() - t0 + 1e-12);
        int stop = o->stop_at > 0 && tr->step == o->stop_at && tr->step < o->steps;
        int scheduled = in_schedule(tr, tr->step), save = stop || scheduled;
        double val = NAN;
        /* a --stop-at checkpoint evaluates nothing extra, so the log of a stopped and
         * resumed run is the log of the uninterrupted one */
        if (scheduled || tr->step == o->steps || (o->eval_every && tr->step % o->eval_every == 0)) {
            int evaluated;
            if ((s = evaluate(tr, &val, &evaluated))) return s;
            if (evaluated && !isfinite(val)) return numeric_stop(tr, tr->step, "the validation loss", val);
        }
        if ((s = log_row(tr, loss, val, lr, norm, tps))) return s;
        if (save && (s = save_checkpoint(tr, loss, val, lr))) return s;
        if (!save && tl_time_sec() - tr->last_log_write > 10.0 && (s = write_log(tr))) return s;
        if (o->progress && tl_dist_rank() == 0) {
            double el = tl_time_sec() - t_loop, per = el / (double)(tr->step - first);
            tl_train_progress p = {tr->step, o->steps, loss, val, lr, norm, tps, wall_time(tr),
                                   per * (double)(o->steps - tr->step), save};
            o->progress(o->progress_user, &p);
        }
        if (stop) break;
    }
    return write_log(tr);
}

tl_status tl_train_run(const tl_train_opts *opts) {
    trainer tr;
    memset(&tr, 0, sizeof tr);
    tr.o = *opts;
    tr.lock_fd = -1;
    tr.t_start = tl_time_sec();
    tr.last_log_write = tr.t_start;
    tl_status s = opts->resume_dir ? TL_OK : check_opts(&tr.o);
    if (s == TL_OK) s = opts->resume_dir ? setup_resume(&tr) : setup_fresh(&tr);
    if (s == TL_OK) s = tl_train_schedule(tr.o.steps, tr.o.save_every, tr.o.save_log, &tr.sched, &tr.n_sched);
    if (tl_dist_size() > 1 && (s = tl_dist_agree(s)) == TL_OK) s = tl_train_dist_check(tr.o.accum);
    if (s == TL_OK && tl_dist_rank() == 0) { /* under MPI rank 0 alone owns the directory */
        /* room for the next checkpoint now; for all that are planned, a warning */
        uint64_t model_bytes = (uint64_t)tr.m->n_params * 4 + 4096, state = tl_train_state_bytes(tr.m->n_params);
        int left = 0;
        for (int i = 0; i < tr.n_sched; i++) left += tr.sched[i] > tr.step || (tr.sched[i] == 0 && tr.last_ckpt < 0);
        uint64_t total = model_bytes * (uint64_t)left + state * (tr.o.keep_state ? (uint64_t)left : 2);
        s = tl_train_dir_prepare(tr.o.out_dir, model_bytes + state, total);
        if (s == TL_OK) s = lock_dir(&tr);
        if (s == TL_OK && opts->resume_dir) { /* ours alone now */
            remove_stale_temps(tr.o.out_dir);
            if (tl_dist_rank() == 0) remove_orphan_states(&tr); /* rank 0 owns the directory */
        }
        if (s == TL_OK && !opts->resume_dir) s = check_format(&tr);
    }
    s = tl_dist_agree(s);
    if (s == TL_OK && tr.o.warmup >= tr.o.steps)
        tl_logf(TL_LOG_WARN, "the warm-up (%d steps) is not shorter than the run (%lld steps): the learning rate "
                "never reaches its peak %g", tr.o.warmup, (long long)tr.o.steps, (double)tr.o.lr);
    if (s == TL_OK) {
        tl_logf(TL_LOG_INFO, "train: %zu parameters, %s on %s (%lld + %lld tokens), B %d x T %d x accum %d, "
                "steps %lld from %lld, %d checkpoints planned",
                tr.m->n_params, tr.o.objective, tr.o.data_path, (long long)tr.data->n_tokens[0],
                (long long)tr.data->n_tokens[1], tr.o.batch, tr.o.seq, tr.o.accum, (long long)tr.o.steps,
                (long long)tr.step, tr.n_sched);
        s = run_loop(&tr);
        if (s) {
            /* keep the rows of the steps that did finish; the manifest is left as it was */
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", tl_last_error());
            write_log(&tr);
            tl_errorf(s, "%s", msg);
        }
    }
    trainer_free(&tr);
    return s;
}
