/* safetensors.c: Hugging Face LlamaForCausalLM checkpoints, read and write.
 *
 * model.safetensors: a little-endian u64 N, then N bytes of JSON header, then
 * the data region. The header maps each tensor name to {"dtype", "shape",
 * "data_offsets": [begin, end]} (byte offsets into the data region); the
 * optional "__metadata__" maps strings to strings. As in the reference Rust
 * crate, the tensors must tile the data region exactly: no overlap, no hole,
 * nothing after the last one.
 *
 * config.json: the LlamaConfig fields (hidden_size, intermediate_size, ...).
 * Keys with a LlamaConfig default may be absent; the sizes may not.
 *
 * Tensor names (HF) and tiller's layout: model.embed_tokens.weight [V, C],
 * model.layers.N.{input_layernorm, post_attention_layernorm}.weight [C],
 * model.layers.N.self_attn.{q,k,v,o}_proj.weight, model.layers.N.mlp.{gate,
 * up,down}_proj.weight (all [out, in] like tiller), model.norm.weight [C],
 * lm_head.weight [V, C] (absent when tie_word_embeddings). HF's q_proj/k_proj
 * rows are in the half-split RoPE order (rotate_half pairs i and i + D/2);
 * tiller's are interleaved pairs (2i, 2i+1), so q/k rows are permuted per head
 * with tl_rope_hf_row_to_interleaved on load and back on save.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "format.h"
#include "model/qweights.h"
#include "tiller/tokenizer.h"

#define ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000) /* the Rust crate's limit */
#define ST_MAX_DIMS 8
#define JSON_MAX_EXACT 9007199254740992.0 /* 2^53: larger JSON integers are inexact */

/* ---- paths ----------------------------------------------------------------- */

typedef struct {
    char *st;  /* .../model.safetensors */
    char *cfg; /* .../config.json */
    char *dir; /* the directory itself (for a directory path), else NULL */
} st_paths;

static void paths_free(st_paths *p) {
    tl_free(p->st);
    tl_free(p->cfg);
    tl_free(p->dir);
    memset(p, 0, sizeof *p);
}

static char *path_join(const char *dir, size_t dir_len, const char *name) {
    size_t n = dir_len + strlen(name) + 2;
    char *s = tl_malloc(n);
    if (!s) return NULL;
    if (dir_len == 0)
        snprintf(s, n, "%s", name);
    else
        snprintf(s, n, "%.*s%s%s", (int)dir_len, dir, dir[dir_len - 1] == '/' ? "" : "/", name);
    return s;
}

/* A directory (dir_mode) or a .safetensors file with config.json beside it. */
static tl_status paths_make(const char *path, int dir_mode, st_paths *p) {
    memset(p, 0, sizeof *p);
    if (dir_mode) {
        size_t n = strlen(path);
        p->dir = tl_strdup(path);
        p->st = path_join(path, n, "model.safetensors");
        p->cfg = path_join(path, n, "config.json");
    } else {
        const char *slash = strrchr(path, '/');
        size_t n = slash ? (size_t)(slash - path) + 1 : 0;
        p->st = tl_strdup(path);
        p->cfg = path_join(path, n, "config.json");
    }
    if (!p->st || !p->cfg || (dir_mode && !p->dir)) {
        paths_free(p);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    return TL_OK;
}

/* ---- dtypes ---------------------------------------------------------------- */

typedef enum { ST_F32, ST_F16, ST_BF16, ST_OTHER } st_kind;

static const struct {
    const char *name;
    size_t size;
    st_kind kind;
} st_dtypes[] = {
    {"F32", 4, ST_F32},     {"F16", 2, ST_F16},         {"BF16", 2, ST_BF16},
    {"F64", 8, ST_OTHER},   {"I64", 8, ST_OTHER},       {"U64", 8, ST_OTHER},
    {"I32", 4, ST_OTHER},   {"U32", 4, ST_OTHER},       {"I16", 2, ST_OTHER},
    {"U16", 2, ST_OTHER},   {"I8", 1, ST_OTHER},        {"U8", 1, ST_OTHER},
    {"BOOL", 1, ST_OTHER},  {"F8_E4M3", 1, ST_OTHER},   {"F8_E5M2", 1, ST_OTHER},
};
#define ST_N_DTYPES ((int)(sizeof st_dtypes / sizeof *st_dtypes))

/* ---- the safetensors container --------------------------------------------- */

typedef struct {
    const char *name; /* points into the parsed header */
    int dtype;        /* index into st_dtypes */
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* byte range in the data region */
    int used;
} st_entry;

typedef struct {
    const char *path;
    tl_file_map fm;
    cJSON *json;
    st_entry *e; /* sorted by name */
    int n;
    const uint8_t *data; /* the data region */
    uint64_t data_size;
} st_file;

static void st_close(st_file *f) {
    tl_file_map_close(&f->fm);
    cJSON_Delete(f->json);
    tl_free(f->e);
    f->json = NULL;
    f->e = NULL;
}

/* Where cJSON stopped parsing text[0..n), for messages. cJSON keeps that pointer
 * in a global, so check it really points into this text. */
static size_t error_offset(const char *text, size_t n) {
    uintptr_t e = (uintptr_t)cJSON_GetErrorPtr(), t = (uintptr_t)text;
    return e >= t && e - t <= n ? (size_t)(e - t) : 0;
}

/* A non-negative JSON integer that is exactly representable. */
static int json_u64(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0) || d > JSON_MAX_EXACT || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static tl_status parse_entry(st_file *f, const cJSON *t, st_entry *e) {
    const char *path = f->path;
    e->name = t->string;
    if (!cJSON_IsObject(t))
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': expected an object, got %s", path, e->name,
                         tl_json_type(t));
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsString(dt))
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': 'dtype' must be a string, got %s", path,
                         e->name, tl_json_type(dt));
    e->dtype = -1;
    for (int i = 0; i < ST_N_DTYPES; i++)
        if (!strcmp(dt->valuestring, st_dtypes[i].name)) e->dtype = i;
    if (e->dtype < 0)
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': unknown dtype '%.32s'", path, e->name,
                         dt->valuestring);
    if (!cJSON_IsArray(sh))
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': 'shape' must be an array, got %s", path,
                         e->name, tl_json_type(sh));
    int nd = cJSON_GetArraySize(sh);
    if (nd > ST_MAX_DIMS)
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': %d dimensions (at most %d)", path, e->name,
                         nd, ST_MAX_DIMS);
    e->ndim = nd;
    size_t bytes = st_dtypes[e->dtype].size;
    const cJSON *d;
    int k = 0;
    cJSON_ArrayForEach(d, sh) {
        if (!json_u64(d, &e->shape[k]))
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
                             path, e->name, k);
        if (e->shape[k] > SIZE_MAX || !tl_mul_size(bytes, (size_t)e->shape[k], &bytes))
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': shape overflows the size of a buffer",
                             path, e->name);
        k++;
    }
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !json_u64(of->child, &e->begin) ||
        !json_u64(of->child->next, &e->end))
        return tl_errorf(TL_E_FORMAT,
                         "%s: tensor '%s': 'data_offsets' must be two non-negative integers", path,
                         e->name);
    if (e->begin > e->end || e->end > f->data_size)
        return tl_errorf(TL_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%llu, %llu] outside the data region of "
                         "%llu bytes",
                         path, e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                         (unsigned long long)f->data_size);
    if (e->end - e->begin != bytes)
        return tl_errorf(TL_E_FORMAT,
                         "%s: tensor '%s': shape and dtype %s need %zu bytes, data_offsets give %llu",
                         path, e->name, st_dtypes[e->dtype].name, bytes,
                         (unsigned long long)(e->end - e->begin));
    return TL_OK;
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int cmp_begin(const void *a, const void *b) {
    const st_entry *x = *(const st_entry *const *)a, *y = *(const st_entry *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Duplicate names, overlaps and holes: the tensors must tile the data region. */
static tl_status check_tiling(st_file *f) {
    for (int i = 1; i < f->n; i++)
        if (!strcmp(f->e[i - 1].name, f->e[i].name))
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s' appears more than once", f->path,
                             f->e[i].name);
    st_entry **by = tl_malloc(sizeof *by * (size_t)(f->n ? f->n : 1));
    if (!by) return tl_errorf(TL_E_NOMEM, "%s: out of memory", f->path);
    for (int i = 0; i < f->n; i++) by[i] = &f->e[i];
    qsort(by, (size_t)f->n, sizeof *by, cmp_begin);
    uint64_t at = 0;
    tl_status s = TL_OK;
    for (int i = 0; i < f->n && s == TL_OK; i++) {
        if (by[i]->begin < at)
            s = tl_errorf(TL_E_FORMAT, "%s: tensors '%s' and '%s' overlap (bytes %llu..%llu)",
                          f->path, by[i - 1]->name, by[i]->name, (unsigned long long)by[i]->begin,
                          (unsigned long long)at);
        else if (by[i]->begin > at)
            s = tl_errorf(TL_E_FORMAT,
                          "%s: bytes %llu..%llu of the data region belong to no tensor (before '%s')",
                          f->path, (unsigned long long)at, (unsigned long long)by[i]->begin,
                          by[i]->name);
        at = by[i]->end;
    }
    tl_free(by);
    if (s == TL_OK && at != f->data_size)
        s = tl_errorf(TL_E_FORMAT, "%s: %llu bytes after the last tensor belong to no tensor",
                      f->path, (unsigned long long)(f->data_size - at));
    return s;
}

static tl_status st_open(const char *path, st_file *f) {
    memset(f, 0, sizeof *f);
    f->path = path;
    f->fm.fd = -1;
    tl_status s = tl_file_map_open(path, &f->fm);
    if (s) return s;
    const uint8_t *p = f->fm.data;
    size_t size = f->fm.size;
    if (size < 8) {
        st_close(f);
        return tl_errorf(TL_E_FORMAT, "%s: truncated safetensors file (%zu bytes, no header length)",
                         path, size);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | p[i];
    if (hlen > size - 8 || hlen > ST_MAX_HEADER || hlen < 2) {
        st_close(f);
        return tl_errorf(TL_E_FORMAT,
                         "%s: header length %llu does not fit the file of %zu bytes (or the limit "
                         "of %llu)",
                         path, (unsigned long long)hlen, size, (unsigned long long)ST_MAX_HEADER);
    }
    const char *h = (const char *)p + 8, *end = NULL;
    if (h[0] != '{') {
        st_close(f);
        return tl_errorf(TL_E_FORMAT, "%s: header does not start with '{' (not safetensors?)", path);
    }
    f->json = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, 0);
    if (!f->json || !cJSON_IsObject(f->json)) {
        size_t at = f->json ? 0 : error_offset(h, (size_t)hlen);
        st_close(f);
        return tl_errorf(TL_E_FORMAT, "%s: header is not a valid JSON object (near byte %zu of %llu)",
                         path, at, (unsigned long long)hlen);
    }
    for (const char *q = end; q < h + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            size_t at = (size_t)(q - h);
            st_close(f);
            return tl_errorf(TL_E_FORMAT, "%s: header has trailing bytes after the JSON (at byte %zu)",
                             path, at);
        }
    f->data = p + 8 + hlen;
    f->data_size = size - 8 - hlen;
    int n = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, f->json) n += strcmp(t->string, "__metadata__") != 0;
    f->e = tl_calloc((size_t)(n ? n : 1), sizeof *f->e);
    if (!f->e) {
        st_close(f);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory for %d tensor entries", path, n);
    }
    cJSON_ArrayForEach(t, f->json) {
        if (!strcmp(t->string, "__metadata__")) {
            if (!cJSON_IsObject(t)) {
                st_close(f);
                return tl_errorf(TL_E_FORMAT, "%s: '__metadata__' must be an object, got %s", path,
                                 tl_json_type(t));
            }
            continue;
        }
        if ((s = parse_entry(f, t, &f->e[f->n])) != TL_OK) {
            st_close(f);
            return s;
        }
        f->n++;
    }
    qsort(f->e, (size_t)f->n, sizeof *f->e, cmp_name);
    if ((s = check_tiling(f)) != TL_OK) {
        st_close(f);
        return s;
    }
    return TL_OK;
}

static st_entry *st_find(st_file *f, const char *name) {
    st_entry key = {.name = name};
    return bsearch(&key, f->e, (size_t)f->n, sizeof *f->e, cmp_name);
}

/* ---- config.json ------------------------------------------------------------ */

/* The keys that change the architecture away from what tiller implements. */
static tl_status cfg_check_arch(const cJSON *root, const char *path) {
    const cJSON *it;
    tl_status s;
    if ((s = tl_hf_key_find(root, path, "architectures", &it))) return s;
    if (it) {
        if (!cJSON_IsArray(it))
            return tl_errorf(TL_E_FORMAT, "%s: key 'architectures' must be an array, got %s", path,
                             tl_json_type(it));
        const cJSON *a;
        int llama = 0;
        cJSON_ArrayForEach(a, it) {
            if (!cJSON_IsString(a))
                return tl_errorf(TL_E_FORMAT, "%s: key 'architectures' must hold strings, got %s",
                                 path, tl_json_type(a));
            llama |= !strcmp(a->valuestring, "LlamaForCausalLM");
        }
        if (!llama)
            return tl_errorf(TL_E_UNSUPPORTED,
                             "%s: architectures = [\"%.64s\"...]: only LlamaForCausalLM is supported",
                             path, it->child && it->child->valuestring ? it->child->valuestring : "");
    }
    if ((s = tl_hf_key_want_str(root, path, "model_type", "llama")) ||
        (s = tl_hf_key_want_str(root, path, "hidden_act", "silu")) ||
        (s = tl_hf_key_want_bool(root, path, "attention_bias", 0)) ||
        (s = tl_hf_key_want_bool(root, path, "mlp_bias", 0)))
        return s;
    if ((s = tl_hf_key_find(root, path, "rope_scaling", &it))) return s;
    if (it)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: rope_scaling is not supported (must be null or absent)",
                         path);
    return TL_OK;
}

/* The Hugging Face config.json codec: tl_hf_config_from_json reads a parsed object
 * (format loading, and `train --config` with Hugging Face keys), config_json below writes
 * one (saving, convert). LlamaConfig's defaults where a key may be absent. */
tl_status tl_hf_config_from_json(const cJSON *root, const char *path, tl_config *c) {
    memset(c, 0, sizeof *c);
    tl_status s;
    int kv = 0, hd = 0;
    if (tl_hf_arch_handles(root)) /* qwen2, gpt_neox, olmo, or a clear refusal: hf_arch.c */
        return tl_hf_arch_config(root, path, c);
    if (!(s = cfg_check_arch(root, path)) &&
        !(s = tl_hf_key_int(root, path, "hidden_size", 1, 0, &c->dim)) &&
        !(s = tl_hf_key_int(root, path, "intermediate_size", 1, 0, &c->hidden_dim)) &&
        !(s = tl_hf_key_int(root, path, "num_hidden_layers", 1, 0, &c->n_layers)) &&
        !(s = tl_hf_key_int(root, path, "num_attention_heads", 1, 0, &c->n_heads)) &&
        !(s = tl_hf_key_int(root, path, "vocab_size", 1, 0, &c->vocab_size)) &&
        !(s = tl_hf_key_int(root, path, "max_position_embeddings", 0, 2048, &c->seq_len)) &&
        !(s = tl_hf_key_int(root, path, "num_key_value_heads", 0, c->n_heads, &kv)) &&
        !(s = tl_hf_key_int(root, path, "head_dim", 0, c->dim / c->n_heads, &hd)) &&
        !(s = tl_hf_key_float(root, path, "rope_theta", 10000.0f, &c->rope_theta)) &&
        !(s = tl_hf_key_float(root, path, "rms_norm_eps", 1e-6f, &c->norm_eps)) &&
        !(s = tl_hf_key_bool(root, path, "tie_word_embeddings", 0, &c->tied_embeddings))) {
        c->n_kv_heads = kv;
        c->head_dim = hd;
        c->rope_layout = TL_ROPE_INTERLEAVED;
        s = tl_config_check(c, path);
    }
    return s;
}

/* Read config.json into a tl_config through the codec. */
static tl_status read_config(const char *path, tl_config *c) {
    memset(c, 0, sizeof *c);
    char *text = NULL;
    size_t n = 0;
    tl_status s = tl_file_read_all(path, &text, &n);
    if (s) return s;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!root || !cJSON_IsObject(root)) {
        size_t at = root ? 0 : error_offset(text, n);
        cJSON_Delete(root);
        tl_free(text);
        return tl_errorf(TL_E_FORMAT, "%s: not a valid JSON object (near byte %zu)", path, at);
    }
    for (const char *q = end; q < text + n; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            tl_free(text);
            return tl_errorf(TL_E_FORMAT, "%s: trailing bytes after the JSON object", path);
        }
    s = tl_hf_config_from_json(root, path, c);
    cJSON_Delete(root);
    tl_free(text);
    return s;
}

/* ---- load ------------------------------------------------------------------- */

/* "blk.3.attn_q.weight" -> "model.layers.3.self_attn.q_proj.weight" (and the globals): the
 * llama column of the one name table (hf_arch.c), for writing, where only llama is written. */
static void hf_name(const char *gguf, char *buf, size_t cap) {
    static const tl_config llama = {0}; /* arch 0 = TL_ARCH_LLAMA */
    tl_hf_arch_tensor_name(&llama, gguf, buf, cap);
}

/* Heads whose rows are permuted (q: H, k: Hkv), 0 for other tensors. */
static int rope_heads(const tl_config *c, const char *gguf) {
    size_t n = strlen(gguf);
    if (c->arch != TL_ARCH_LLAMA) return 0; /* the others rotate halves in every format */
    if (n > 14 && !strcmp(gguf + n - 14, ".attn_q.weight")) return c->n_heads;
    if (n > 14 && !strcmp(gguf + n - 14, ".attn_k.weight")) return c->n_kv_heads;
    return 0;
}

static void to_f32(float *dst, const uint8_t *src, size_t n, st_kind k) {
    if (k == ST_F32) {
        memcpy(dst, src, n * 4);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
        dst[i] = k == ST_F16 ? tl_f16_to_f32(h) : tl_bf16_to_f32(h);
    }
}

static void shape_str(const st_entry *e, char *buf, size_t cap) {
    size_t at = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < e->ndim && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%llu", i ? ", " : "",
                               (unsigned long long)e->shape[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
}

/* Find the HF tensor for one tiller tensor and check its dtype and shape. */
static tl_status match_tensor(st_file *f, const tl_config *c, const tl_param_tensor *t, const char *cfg_path,
                              st_entry **out) {
    char name[96];
    tl_hf_arch_tensor_name(c, t->name, name, sizeof name);
    st_entry *e = st_find(f, name);
    if (!e) return tl_errorf(TL_E_FORMAT, "%s: tensor '%s' is missing", f->path, name);
    e->used = 1;
    if (st_dtypes[e->dtype].kind == ST_OTHER)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: tensor '%s': dtype %s is not supported (F32, F16, BF16)",
                         f->path, name, st_dtypes[e->dtype].name);
    int ok = t->n_dims == 1 ? e->ndim == 1 && e->shape[0] == (uint64_t)t->cols
                            : e->ndim == 2 && e->shape[0] == (uint64_t)t->rows &&
                                  e->shape[1] == (uint64_t)t->cols;
    if (!ok) {
        char got[128];
        shape_str(e, got, sizeof got);
        if (t->n_dims == 1)
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s' has shape %s, %s implies [%lld]", f->path,
                             name, got, cfg_path, (long long)t->cols);
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s' has shape %s, %s implies [%lld, %lld]", f->path,
                         name, got, cfg_path, (long long)t->rows, (long long)t->cols);
    }
    *out = e;
    return TL_OK;
}

/* Convert one matched tensor into the flat buffer, q/k rows to interleaved order. */
static void copy_tensor(const st_file *f, const st_entry *e, const tl_config *c,
                        const tl_param_tensor *t, float *params) {
    const uint8_t *src = f->data + e->begin;
    st_kind k = st_dtypes[e->dtype].kind;
    size_t esz = st_dtypes[e->dtype].size, cols = (size_t)t->cols;
    float *dst = params + t->offset;
    if (tl_hf_arch_fused_qkv(c, t->name)) { /* GPT-NeoX: per-head [q; k; v] rows to [q; k; v] blocks */
        size_t unit = t->n_dims == 1 ? 1 : cols, count = t->n_dims == 1 ? cols : (size_t)t->rows;
        for (size_t r = 0; r < count; r++)
            to_f32(dst + (size_t)tl_hf_qkv_row(c, (int64_t)r) * unit, src + r * unit * esz, unit, k);
        return;
    }
    if (!rope_heads(c, t->name)) {
        to_f32(dst, src, (size_t)t->rows * cols, k);
        return;
    }
    for (int64_t r = 0; r < t->rows; r++)
        to_f32(dst + tl_rope_hf_row_to_interleaved(r, c->head_dim) * (int64_t)cols,
               src + (size_t)r * cols * esz, cols, k);
}

/* Tensors that older HF checkpoints carry and the math does not use. */
static int ignorable(const char *name, int tied) {
    size_t n = strlen(name);
    const char *suffix = ".self_attn.rotary_emb.inv_freq";
    size_t m = strlen(suffix);
    if (n > m && !strcmp(name + n - m, suffix)) return 1;
    return tied && !strcmp(name, "lm_head.weight"); /* a tied copy: HF ties it to the embedding */
}

/* in_place (tl_model_load_mapped): a matrix used as stored, a view into the mapping, unless its
 * rows must move (GPT-NeoX's fused QKV is split) or its data is not aligned for its type: then 0,
 * and it is copied into the f32 buffer. llama's q/k rows stay in HF's half-split order and the
 * model computes RoPE in that layout (cfg.rope_layout = TL_ROPE_HALF): the same rotation of the
 * same pairs, with no permuted copy. */
static int view_tensor(const st_file *f, const st_entry *e, const tl_config *c, const tl_param_tensor *t,
                       tl_qmat *q) {
    st_kind k = st_dtypes[e->dtype].kind;
    size_t esz = st_dtypes[e->dtype].size;
    const uint8_t *src = f->data + e->begin;
    *q = (tl_qmat){TL_Q_F32, NULL, t->rows, t->cols, (size_t)t->cols * sizeof(float)};
    if (tl_hf_arch_fused_qkv(c, t->name) || ((uintptr_t)src & (esz - 1))) return 0;
    q->type = k == ST_F32 ? TL_Q_F32 : k == ST_F16 ? TL_Q_F16 : TL_Q_BF16;
    q->data = src;
    q->row_bytes = (size_t)t->cols * esz;
    return 1;
}

static void release_map(void *fm) {
    tl_file_map_close(fm);
    tl_free(fm);
}

/* Match every tensor against the header first, so a config.json with huge sizes
 * beside a small file fails before anything that large is allocated; then
 * allocate the model and convert (in_place: matrices kept in the mapping where they can be). */
static tl_status load_tensors(st_file *f, const tl_config *c, const char *cfg_path, int in_place, tl_model **out) {
    *out = NULL;
    int n = tl_params_tensors(c, NULL, 0);
    tl_param_tensor *ts = tl_malloc(sizeof *ts * (size_t)n);
    st_entry **es = tl_malloc(sizeof *es * (size_t)n);
    tl_status s = TL_OK;
    if (!ts || !es) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", f->path);
    if (s == TL_OK) tl_params_tensors(c, ts, n);
    for (int i = 0; i < n && s == TL_OK; i++) s = match_tensor(f, c, &ts[i], cfg_path, &es[i]);
    for (int i = 0; i < f->n && s == TL_OK; i++)
        if (!f->e[i].used && !(c->arch != TL_ARCH_LLAMA ? tl_hf_arch_ignorable(c, f->e[i].name)
                                                          : ignorable(f->e[i].name, c->tied_embeddings)))
            s = tl_errorf(TL_E_FORMAT, "%s: unexpected tensor '%.96s' (not part of a %s model)", f->path,
                          f->e[i].name, tl_arch_name(c->arch));
    tl_model *m = NULL;
    tl_file_map *owned = in_place ? tl_malloc(sizeof *owned) : NULL;
    if (s == TL_OK && in_place && !owned) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", f->path);
    if (s == TL_OK) s = in_place ? tl_model_new_reserved(c, &m) : tl_model_new(c, &m);
    if (s == TL_OK && in_place) s = tl_qweights_new(c->n_layers, &m->qw);
    if (s == TL_OK && in_place && c->arch == TL_ARCH_LLAMA) { /* see view_tensor */
        m->cfg.rope_layout = TL_ROPE_HALF;
        m->qw->qk_half_split = 1;
    }
    for (int i = 0; i < n && s == TL_OK; i++) {
        tl_qmat *q = in_place && ts[i].n_dims == 2 ? tl_qweights_slot(m->qw, c->n_layers, ts[i].name) : NULL;
        if (q && view_tensor(f, es[i], c, &ts[i], q)) continue;
        if (in_place && rope_heads(c, ts[i].name)) /* a misaligned q/k: copied, in HF order all the same */
            to_f32(m->params + ts[i].offset, f->data + es[i]->begin, (size_t)ts[i].rows * (size_t)ts[i].cols,
                   st_dtypes[es[i]->dtype].kind);
        else copy_tensor(f, es[i], c, &ts[i], m->params);
    }
    if (s == TL_OK && in_place) { /* the views point into the mapping: the model keeps it */
        if (c->tied_embeddings) m->qw->output = m->qw->tok_embd;
        *owned = f->fm;
        f->fm = (tl_file_map){NULL, 0, -1};
        m->qw->owner = owned;
        m->qw->release = release_map;
        owned = NULL;
    }
    tl_free(owned);
    tl_free(ts);
    tl_free(es);
    if (s == TL_OK) *out = m;
    else tl_model_free(m);
    return s;
}

tl_status tl_safetensors_load(const char *path, tl_model **out, tl_tokenizer **tok) {
    return tl_safetensors_load_ex(path, 0, out, tok);
}

tl_status tl_safetensors_load_ex(const char *path, int in_place, tl_model **out, tl_tokenizer **tok) {
    *out = NULL;
    if (tok) *tok = NULL;
    st_paths p;
    int dir_mode = tl_path_is_dir(path);
    tl_status s = paths_make(path, dir_mode, &p);
    if (s) return s;
    if (dir_mode && !tl_path_exists(p.st)) {
        char *index = path_join(path, strlen(path), "model.safetensors.index.json");
        int sharded = index && tl_path_exists(index);
        tl_free(index);
        s = sharded ? tl_errorf(TL_E_UNSUPPORTED,
                                "%s: sharded checkpoints (model.safetensors.index.json) are not "
                                "supported; merge the shards into one model.safetensors",
                                path)
                    : tl_errorf(TL_E_IO, "%s: no model.safetensors in this directory", path);
        paths_free(&p);
        return s;
    }
    if (!tl_path_exists(p.cfg)) {
        s = tl_errorf(TL_E_IO, "%s: config.json not found beside %s", p.cfg, p.st);
        paths_free(&p);
        return s;
    }
    tl_config c;
    st_file f;
    tl_model *m = NULL;
    tl_tokenizer *vocab = NULL; /* the directory's, handed to the caller beside the model */
    if ((s = read_config(p.cfg, &c)) == TL_OK && (s = st_open(p.st, &f)) == TL_OK) {
        s = load_tensors(&f, &c, p.cfg, in_place, &m);
        st_close(&f);
    }
    if (s == TL_OK && !(m->source = tl_strdup(path))) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    if (s == TL_OK && p.dir) { /* a revision directory carries its tokenizer.json (tiller convert writes one) */
        char *tj = path_join(p.dir, strlen(p.dir), "tokenizer.json");
        if (!tj) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        else if (tl_path_exists(tj)) s = tl_tokenizer_load_json(tj, &vocab);
        tl_free(tj);
    }
    paths_free(&p);
    if (s != TL_OK) {
        tl_tokenizer_free(vocab);
        tl_model_free(m);
        return s;
    }
    *out = m;
    if (tok) *tok = vocab;
    else tl_tokenizer_free(vocab);
    return TL_OK;
}

/* ---- save ------------------------------------------------------------------- */

/* The shortest decimal that reads back as exactly f, as a double for cJSON. */
static double float_decimal(float f) {
    char buf[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

/* Add item under key; on failure the item is freed (cJSON leaves it to the caller). */
static int add_item(cJSON *obj, const char *key, cJSON *item) {
    if (item && cJSON_AddItemToObject(obj, key, item)) return 1;
    cJSON_Delete(item);
    return 0;
}

static tl_status config_json(const tl_config *c, tl_dtype dtype, char **out) {
    *out = NULL;
    cJSON *j = cJSON_CreateObject();
    const char *arch = "LlamaForCausalLM";
    const char *torch_dtype = dtype == TL_DTYPE_F32   ? "float32"
                              : dtype == TL_DTYPE_F16 ? "float16"
                                                      : "bfloat16";
    int ok = j && add_item(j, "architectures", cJSON_CreateStringArray(&arch, 1)) &&
             add_item(j, "model_type", cJSON_CreateString("llama")) &&
             add_item(j, "hidden_size", cJSON_CreateNumber(c->dim)) &&
             add_item(j, "intermediate_size", cJSON_CreateNumber(c->hidden_dim)) &&
             add_item(j, "num_hidden_layers", cJSON_CreateNumber(c->n_layers)) &&
             add_item(j, "num_attention_heads", cJSON_CreateNumber(c->n_heads)) &&
             add_item(j, "num_key_value_heads", cJSON_CreateNumber(c->n_kv_heads)) &&
             add_item(j, "head_dim", cJSON_CreateNumber(c->head_dim)) &&
             add_item(j, "vocab_size", cJSON_CreateNumber(c->vocab_size)) &&
             add_item(j, "max_position_embeddings", cJSON_CreateNumber(c->seq_len)) &&
             add_item(j, "rope_theta", cJSON_CreateNumber(float_decimal(c->rope_theta))) &&
             add_item(j, "rms_norm_eps", cJSON_CreateNumber(float_decimal(c->norm_eps))) &&
             add_item(j, "tie_word_embeddings", cJSON_CreateBool(c->tied_embeddings)) &&
             add_item(j, "hidden_act", cJSON_CreateString("silu")) &&
             add_item(j, "attention_bias", cJSON_CreateFalse()) &&
             add_item(j, "mlp_bias", cJSON_CreateFalse()) &&
             add_item(j, "rope_scaling", cJSON_CreateNull()) &&
             add_item(j, "torch_dtype", cJSON_CreateString(torch_dtype));
    char *text = ok ? cJSON_Print(j) : NULL;
    cJSON_Delete(j);
    if (!text) return tl_errorf(TL_E_NOMEM, "config.json: out of memory");
    *out = text;
    return TL_OK;
}

static const char *st_dtype_name(tl_dtype t) {
    return t == TL_DTYPE_F32 ? "F32" : t == TL_DTYPE_F16 ? "F16" : "BF16";
}

/* One header entry: {"dtype", "shape", "data_offsets"}. */
static cJSON *header_entry(const tl_param_tensor *t, tl_dtype dtype, uint64_t begin, uint64_t end) {
    double shape[2] = {(double)t->rows, (double)t->cols};
    double offs[2] = {(double)begin, (double)end};
    cJSON *e = cJSON_CreateObject();
    int ok = e && add_item(e, "dtype", cJSON_CreateString(st_dtype_name(dtype))) &&
             add_item(e, "shape", t->n_dims == 1 ? cJSON_CreateDoubleArray(shape + 1, 1)
                                                 : cJSON_CreateDoubleArray(shape, 2)) &&
             add_item(e, "data_offsets", cJSON_CreateDoubleArray(offs, 2));
    if (!ok) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

/* The safetensors header for the tensors stored as dtype, back to back in
 * tl_params_tensors order, padded with spaces to a multiple of 8 bytes (as the
 * reference writer does, so the data region stays aligned). */
static tl_status st_header(const tl_param_tensor *ts, int n, tl_dtype dtype, char **out, size_t *len) {
    *out = NULL;
    uint64_t esz = dtype == TL_DTYPE_F32 ? 4 : 2, at = 0;
    cJSON *j = cJSON_CreateObject(), *meta = cJSON_CreateObject();
    int ok = j && add_item(j, "__metadata__", meta) &&
             add_item(meta, "format", cJSON_CreateString("pt"));
    if (!j) cJSON_Delete(meta);
    for (int i = 0; i < n && ok; i++) {
        char name[96];
        hf_name(ts[i].name, name, sizeof name);
        uint64_t bytes = (uint64_t)ts[i].rows * (uint64_t)ts[i].cols * esz;
        ok = add_item(j, name, header_entry(&ts[i], dtype, at, at + bytes));
        at += bytes;
    }
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) return tl_errorf(TL_E_NOMEM, "safetensors header: out of memory");
    size_t tlen = strlen(text), padded = (tlen + 7) & ~(size_t)7;
    char *buf = tl_malloc(padded + 1);
    if (!buf) {
        cJSON_free(text);
        return tl_errorf(TL_E_NOMEM, "safetensors header: out of memory");
    }
    memcpy(buf, text, tlen);
    memset(buf + tlen, ' ', padded - tlen);
    buf[padded] = 0;
    cJSON_free(text);
    *out = buf;
    *len = padded;
    return TL_OK;
}

/* Write n floats as dtype (little-endian), through a small conversion buffer. */
static tl_status write_values(tl_out_file *o, const float *x, size_t n, tl_dtype dtype,
                              const char *tensor) {
    if (dtype == TL_DTYPE_F32) return tl_out_write(o, x, n * 4);
    uint8_t buf[4096];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof buf / 2 && i < n; k++, i++) {
            uint16_t h = dtype == TL_DTYPE_F16 ? tl_f32_to_f16(x[i]) : tl_f32_to_bf16(x[i]);
            /* a finite weight that the narrow type cannot hold would silently become inf */
            if (isfinite(x[i]) && ((h & 0x7fff) == 0x7c00 && dtype == TL_DTYPE_F16))
                return tl_errorf(TL_E_RANGE, "%s: tensor '%s': value %g at index %zu overflows f16",
                                 o->path, tensor, (double)x[i], i);
            if (isfinite(x[i]) && ((h & 0x7fff) == 0x7f80 && dtype == TL_DTYPE_BF16))
                return tl_errorf(TL_E_RANGE, "%s: tensor '%s': value %g at index %zu overflows bf16",
                                 o->path, tensor, (double)x[i], i);
            buf[2 * k] = (uint8_t)(h & 0xff);
            buf[2 * k + 1] = (uint8_t)(h >> 8);
        }
        tl_status s = tl_out_write(o, buf, 2 * k);
        if (s) return s;
    }
    return TL_OK;
}

static tl_status write_safetensors(const tl_model *m, tl_out_file *o, tl_dtype dtype) {
    const tl_config *c = &m->cfg;
    int n = tl_params_tensors(c, NULL, 0);
    tl_param_tensor *ts = tl_malloc(sizeof *ts * (size_t)n);
    if (!ts) return tl_errorf(TL_E_NOMEM, "%s: out of memory", o->path);
    tl_params_tensors(c, ts, n);
    char *header = NULL;
    size_t hlen = 0;
    tl_status s = st_header(ts, n, dtype, &header, &hlen);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    if (s == TL_OK && (s = tl_out_write(o, len8, 8)) == TL_OK) s = tl_out_write(o, header, hlen);
    tl_free(header);
    for (int i = 0; i < n && s == TL_OK; i++) {
        char name[96];
        hf_name(ts[i].name, name, sizeof name);
        const float *src = m->params + ts[i].offset;
        size_t cols = (size_t)ts[i].cols;
        /* Interleaved rows go back to HF's half-split order, unless the model
         * already holds HF order (rope_layout HALF). */
        int heads = c->rope_layout == TL_ROPE_INTERLEAVED ? rope_heads(c, ts[i].name) : 0;
        if (!heads) {
            s = write_values(o, src, (size_t)ts[i].rows * cols, dtype, name);
            continue;
        }
        for (int64_t r = 0; r < ts[i].rows && s == TL_OK; r++)
            s = write_values(o, src + tl_rope_hf_row_to_interleaved(r, c->head_dim) * (int64_t)cols,
                             cols, dtype, name);
    }
    tl_free(ts);
    return s;
}

tl_status tl_safetensors_save(const tl_model *m, const tl_tokenizer *tok, const char *path, tl_dtype dtype) {
    if (m->cfg.arch != TL_ARCH_LLAMA)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: tiller writes Hugging Face checkpoints of llama models only (this is "
                         "%s: save it as .gguf)", path, tl_arch_name(m->cfg.arch));
    if (dtype != TL_DTYPE_F32 && dtype != TL_DTYPE_F16 && dtype != TL_DTYPE_BF16)
        return tl_errorf(TL_E_ARG, "%s: unknown dtype %d", path, (int)dtype);
    if (m->qw) /* its f32 buffer holds only the norms: the matrices would be written as zeros */
        return tl_errorf(TL_E_ARG, "%s: the model keeps its matrices as stored in its file (quantized or mapped): "
                         "dequantize it first (tl_model_dequantize)", path);
    int is_file = !strcmp(tl_path_ext(path), ".safetensors") && !tl_path_is_dir(path);
    st_paths p;
    tl_status s = paths_make(path, !is_file, &p);
    if (s) return s;
    char *cfg = NULL;
    if ((s = config_json(&m->cfg, dtype, &cfg)) != TL_OK) {
        s = tl_error_prefix(s, "%s", p.cfg);
        paths_free(&p);
        return s;
    }
    /* X.safetensors writes its config.json beside it: one already there that differs
     * (another model's, or the user's own) is replaced, and never silently. The file is
     * replaced rather than kept because the model would not load without its config. */
    if (is_file && tl_path_exists(p.cfg)) {
        char *old = NULL;
        size_t old_n = 0, n = strlen(cfg);
        int same = tl_file_read_all(p.cfg, &old, &old_n) == TL_OK && old_n == n + 1 && !memcmp(old, cfg, n) &&
                   old[n] == '\n';
        tl_free(old);
        if (!same)
            tl_logf(TL_LOG_WARN, "%s: replacing the existing config.json, which differs from %s's (a safetensors file "
                    "shares its directory's config.json: give each model a directory of its own)", p.cfg, p.st);
    }
    int made_dir = 0;
    if (p.dir && !tl_path_is_dir(p.dir)) {
        if (mkdir(p.dir, 0777) != 0) {
            s = tl_errorf(TL_E_IO, "%s: cannot create directory: %s", p.dir, strerror(errno));
            cJSON_free(cfg);
            paths_free(&p);
            return s;
        }
        made_dir = 1;
    }
    /* Both files are complete under temporary names before either is renamed. */
    tl_out_file st, cj;
    int st_open_ok = 0, cj_open_ok = 0;
    if ((s = tl_out_open(&st, p.st)) == TL_OK) {
        st_open_ok = 1;
        s = write_safetensors(m, &st, dtype);
    }
    if (s == TL_OK && (s = tl_out_open(&cj, p.cfg)) == TL_OK) {
        cj_open_ok = 1;
        s = tl_out_write(&cj, cfg, strlen(cfg));
        if (s == TL_OK) s = tl_out_write(&cj, "\n", 1);
    }
    cJSON_free(cfg);
    if (s == TL_OK) {
        s = tl_out_commit(&st);
        st_open_ok = 0;
        if (s == TL_OK) {
            s = tl_out_commit(&cj);
            cj_open_ok = 0;
            if (s != TL_OK) remove(p.st); /* no model without its config */
        }
    }
    if (st_open_ok) tl_out_abort(&st);
    if (cj_open_ok) tl_out_abort(&cj);
    /* a directory is complete with its tokenizer (tokenizer.json + tokenizer_config.json) */
    if (s == TL_OK && p.dir && tok) {
        size_t dn = strlen(p.dir);
        char *tj = path_join(p.dir, dn, "tokenizer.json"), *tc = path_join(p.dir, dn, "tokenizer_config.json");
        if (!tj || !tc) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", p.dir);
        if (!s) s = tl_tokenizer_save_json(tok, tj);
        if (!s) s = tl_tokenizer_save_hf_config(tok, tc, m->cfg.seq_len);
        if (s) { /* no directory that looks complete but is not */
            remove(p.st);
            remove(p.cfg);
            if (tj) remove(tj);
        }
        tl_free(tj);
        tl_free(tc);
    }
    if (s != TL_OK && made_dir) rmdir(p.dir);
    paths_free(&p);
    return s;
}
