/* gguf.c: the GGUF v3 reader. The whole file is parsed from a read-only
 * mapping with a bounds-checked cursor: every count, string length, array
 * size, tensor shape and data range is checked against the bytes that remain
 * before anything is allocated or exposed, so a truncated or hostile file
 * ends in a TL_E_FORMAT naming the file and the field, never in a crash. */
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

#define GGUF_MAX_DEPTH 8 /* nested arrays deeper than this are refused */

/* ---- ggml type table (block size, bytes per block) -------------------------- */

typedef struct {
    const char *name;
    uint32_t blck, size;
} ggml_type_info;

static const ggml_type_info ggml_types[] = {
    [0] = {"F32", 1, 4},        [1] = {"F16", 1, 2},        [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},     [6] = {"Q5_0", 32, 22},     [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},     [9] = {"Q8_1", 32, 36},     [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},  [12] = {"Q4_K", 256, 144},  [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},  [15] = {"Q8_K", 256, 292},  [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74}, [18] = {"IQ3_XXS", 256, 98}, [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},  [21] = {"IQ3_S", 256, 110}, [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136}, [24] = {"I8", 1, 1},       [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},       [27] = {"I64", 1, 8},       [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},  [30] = {"BF16", 1, 2},      [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof *ggml_types)

const char *tl_ggml_type_name(uint32_t t) {
    return t < N_GGML_TYPES && ggml_types[t].name ? ggml_types[t].name : "invalid";
}

static const char *const gguf_type_names[TL_GGUF__COUNT] = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
static const uint8_t gguf_type_size[TL_GGUF__COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *tl_gguf_type_name(tl_gguf_type t) {
    return (unsigned)t < TL_GGUF__COUNT ? gguf_type_names[t] : "invalid";
}

/* ---- cursor --------------------------------------------------------------- */

typedef struct {
    const uint8_t *base, *p, *end;
    const char *name; /* file, for messages */
} cursor;

static size_t cur_left(const cursor *c) { return (size_t)(c->end - c->p); }
static size_t cur_pos(const cursor *c) { return (size_t)(c->p - c->base); }

static tl_status cur_need(const cursor *c, size_t n, const char *what) {
    if (n > cur_left(c))
        return tl_errorf(TL_E_FORMAT, "%s: truncated at byte %zu: %s needs %zu bytes, %zu remain",
                         c->name, cur_pos(c), what, n, cur_left(c));
    return TL_OK;
}

static tl_status cur_u32(cursor *c, uint32_t *v, const char *what) {
    tl_status s = cur_need(c, 4, what);
    if (s) return s;
    memcpy(v, c->p, 4);
    c->p += 4;
    return TL_OK;
}

static tl_status cur_u64(cursor *c, uint64_t *v, const char *what) {
    tl_status s = cur_need(c, 8, what);
    if (s) return s;
    memcpy(v, c->p, 8);
    c->p += 8;
    return TL_OK;
}

static tl_status cur_str(cursor *c, tl_gguf_str *out, const char *what) {
    uint64_t n;
    tl_status s = cur_u64(c, &n, what);
    if (s) return s;
    if (n > cur_left(c))
        return tl_errorf(TL_E_FORMAT, "%s: %s at byte %zu: string length %llu runs past the end of the file "
                         "(%zu bytes remain)",
                         c->name, what, cur_pos(c) - 8, (unsigned long long)n, cur_left(c));
    out->s = (const char *)c->p;
    out->n = (size_t)n;
    c->p += n;
    return TL_OK;
}

/* Skip over one value of `type` (count n when an array body), checking every byte. */
static tl_status skip_values(cursor *c, tl_gguf_type type, uint64_t n, int depth, const char *key) {
    if ((unsigned)type >= TL_GGUF__COUNT)
        return tl_errorf(TL_E_FORMAT, "%s: key '%s': invalid value type %u", c->name, key, (unsigned)type);
    if (type == TL_GGUF_STRING) {
        if (n > cur_left(c) / 8)
            return tl_errorf(TL_E_FORMAT, "%s: key '%s': %llu strings cannot fit in the %zu bytes that remain",
                             c->name, key, (unsigned long long)n, cur_left(c));
        for (uint64_t i = 0; i < n; i++) {
            tl_gguf_str s;
            tl_status st = cur_str(c, &s, key);
            if (st) return st;
        }
        return TL_OK;
    }
    if (type == TL_GGUF_ARRAY) {
        if (depth >= GGUF_MAX_DEPTH)
            return tl_errorf(TL_E_FORMAT, "%s: key '%s': arrays nested deeper than %d", c->name, key,
                             GGUF_MAX_DEPTH);
        if (n > cur_left(c) / 12)
            return tl_errorf(TL_E_FORMAT, "%s: key '%s': %llu nested arrays cannot fit in the %zu bytes that remain",
                             c->name, key, (unsigned long long)n, cur_left(c));
        for (uint64_t i = 0; i < n; i++) {
            uint32_t et;
            uint64_t en;
            tl_status st = cur_u32(c, &et, key);
            if (!st) st = cur_u64(c, &en, key);
            if (!st) st = skip_values(c, (tl_gguf_type)et, en, depth + 1, key);
            if (st) return st;
        }
        return TL_OK;
    }
    size_t sz = gguf_type_size[type];
    if (n > cur_left(c) / sz)
        return tl_errorf(TL_E_FORMAT, "%s: key '%s': array of %llu %s runs past the end of the file (%zu bytes remain)",
                         c->name, key, (unsigned long long)n, gguf_type_names[type], cur_left(c));
    c->p += (size_t)n * sz;
    return TL_OK;
}

/* ---- parsing -------------------------------------------------------------- */

static int cmp_str(const char *a, size_t an, const char *b, size_t bn) {
    int r = memcmp(a, b, an < bn ? an : bn);
    return r ? r : (an < bn ? -1 : an > bn);
}

static int cmp_kv_ptr(const void *x, const void *y) {
    const tl_gguf_kv *a = *(const tl_gguf_kv *const *)x, *b = *(const tl_gguf_kv *const *)y;
    return cmp_str(a->key.s, a->key.n, b->key.s, b->key.n);
}

static int cmp_tensor_ptr(const void *x, const void *y) {
    const tl_gguf_tensor *a = *(const tl_gguf_tensor *const *)x, *b = *(const tl_gguf_tensor *const *)y;
    return strcmp(a->name, b->name);
}

/* Sort pointers and report the first pair of equal neighbours (duplicates). */
static const void *find_duplicate(void *items, size_t n, size_t size, int (*cmp)(const void *, const void *),
                                  tl_status *st, const char *name) {
    *st = TL_OK;
    if (n < 2) return NULL;
    const void **ptrs = tl_malloc(n * sizeof *ptrs);
    if (!ptrs) {
        *st = tl_errorf(TL_E_NOMEM, "%s: out of memory", name);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) ptrs[i] = (const uint8_t *)items + i * size;
    qsort(ptrs, n, sizeof *ptrs, cmp);
    const void *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (!cmp(&ptrs[i - 1], &ptrs[i])) dup = ptrs[i];
    tl_free(ptrs);
    return dup;
}

static tl_status parse_kv(cursor *c, tl_gguf *g) {
    for (uint64_t i = 0; i < g->n_kv; i++) {
        tl_gguf_kv *kv = &g->kv[i];
        char what[48];
        snprintf(what, sizeof what, "key %llu", (unsigned long long)i);
        tl_status s = cur_str(c, &kv->key, what);
        if (s) return s;
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(kv->key.n < 100 ? kv->key.n : 100), kv->key.s);
        uint32_t type;
        if ((s = cur_u32(c, &type, key)) != TL_OK) return s;
        if (type >= TL_GGUF__COUNT)
            return tl_errorf(TL_E_FORMAT, "%s: key '%s': invalid value type %u", c->name, key, type);
        kv->type = (tl_gguf_type)type;
        kv->n = 1;
        if (type == TL_GGUF_ARRAY) {
            uint32_t et;
            if ((s = cur_u32(c, &et, key)) != TL_OK) return s;
            if (et >= TL_GGUF__COUNT)
                return tl_errorf(TL_E_FORMAT, "%s: key '%s': invalid array element type %u", c->name, key, et);
            kv->arr_type = (tl_gguf_type)et;
            if ((s = cur_u64(c, &kv->n, key)) != TL_OK) return s;
            kv->data = c->p;
            if ((s = skip_values(c, kv->arr_type, kv->n, 1, key)) != TL_OK) return s;
        } else {
            kv->arr_type = kv->type;
            kv->data = c->p;
            if ((s = skip_values(c, kv->type, 1, 0, key)) != TL_OK) return s;
        }
    }
    tl_status st;
    const tl_gguf_kv *dup = find_duplicate(g->kv, g->n_kv, sizeof *g->kv, cmp_kv_ptr, &st, c->name);
    if (st) return st;
    if (dup) return tl_errorf(TL_E_FORMAT, "%s: duplicate key '%.*s'", c->name, (int)dup->key.n, dup->key.s);
    return TL_OK;
}

static tl_status parse_tensor_info(cursor *c, tl_gguf *g, uint64_t i) {
    tl_gguf_tensor *t = &g->tensors[i];
    tl_gguf_str name;
    char what[48];
    snprintf(what, sizeof what, "tensor %llu name", (unsigned long long)i);
    tl_status s = cur_str(c, &name, what);
    if (s) return s;
    if (name.n >= TL_GGUF_MAX_NAME)
        return tl_errorf(TL_E_FORMAT, "%s: tensor %llu: name of %zu bytes is too long (max %d)", c->name,
                         (unsigned long long)i, name.n, TL_GGUF_MAX_NAME - 1);
    memcpy(t->name, name.s, name.n);
    t->name[name.n] = 0;
    if (memchr(name.s, 0, name.n))
        return tl_errorf(TL_E_FORMAT, "%s: tensor %llu: name contains a NUL byte", c->name, (unsigned long long)i);
    if ((s = cur_u32(c, &t->n_dims, t->name)) != TL_OK) return s;
    if (t->n_dims < 1 || t->n_dims > 4)
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': n_dims %u is not in 1..4", c->name, t->name, t->n_dims);
    uint64_t count = 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if ((s = cur_u64(c, &ne, t->name)) != TL_OK) return s;
        if (ne == 0 || ne > (uint64_t)INT64_MAX)
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': dimension %u has invalid size %llu", c->name, t->name,
                             d, (unsigned long long)ne);
        if (__builtin_mul_overflow(count, ne, &count) || count > (uint64_t)INT64_MAX)
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': element count overflows 64 bits at dimension %u",
                             c->name, t->name, d);
        t->ne[d] = (int64_t)ne;
    }
    t->n_elements = count;
    if ((s = cur_u32(c, &t->type, t->name)) != TL_OK) return s;
    if (t->type >= N_GGML_TYPES || !ggml_types[t->type].name)
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': invalid ggml type %u", c->name, t->name, t->type);
    const ggml_type_info *ti = &ggml_types[t->type];
    if ((uint64_t)t->ne[0] % ti->blck)
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': %lld columns are not a multiple of the %s block size %u",
                         c->name, t->name, (long long)t->ne[0], ti->name, ti->blck);
    if (__builtin_mul_overflow(count / ti->blck, (uint64_t)ti->size, &t->nbytes))
        return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': byte size overflows 64 bits", c->name, t->name);
    return cur_u64(c, &t->offset, t->name);
}

static int cmp_tensor_offset(const void *a, const void *b) {
    const tl_gguf_tensor *x = *(const tl_gguf_tensor *const *)a, *y = *(const tl_gguf_tensor *const *)b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

/* Check each tensor's data range against the file, after the data section is known. */
static tl_status check_tensor_data(tl_gguf *g, const char *name) {
    size_t data_size = g->map.size - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tl_gguf_tensor *t = &g->tensors[i];
        if (t->offset % g->alignment)
            return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': data offset %llu is not a multiple of the alignment %u",
                             name, t->name, (unsigned long long)t->offset, g->alignment);
        if (t->offset > data_size || t->nbytes > data_size - t->offset)
            return tl_errorf(TL_E_FORMAT,
                             "%s: tensor '%s': data [%llu, +%llu bytes) runs past the end of the file "
                             "(data section holds %zu bytes)",
                             name, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, data_size);
        t->data = g->map.data + g->data_offset + t->offset;
    }
    /* no two tensors may share bytes (safetensors refuses that too): sorted by offset,
     * each must end before the next begins */
    if (g->n_tensors < 2) return TL_OK;
    const tl_gguf_tensor **by_off = tl_malloc((size_t)g->n_tensors * sizeof *by_off);
    if (!by_off) return tl_errorf(TL_E_NOMEM, "%s: out of memory", name);
    for (uint64_t i = 0; i < g->n_tensors; i++) by_off[i] = &g->tensors[i];
    qsort(by_off, (size_t)g->n_tensors, sizeof *by_off, cmp_tensor_offset);
    tl_status s = TL_OK;
    for (uint64_t i = 1; i < g->n_tensors && !s; i++)
        if (by_off[i - 1]->offset + by_off[i - 1]->nbytes > by_off[i]->offset)
            s = tl_errorf(TL_E_FORMAT, "%s: tensors '%s' [%llu, +%llu bytes) and '%s' [%llu, ...) overlap", name,
                          by_off[i - 1]->name, (unsigned long long)by_off[i - 1]->offset,
                          (unsigned long long)by_off[i - 1]->nbytes, by_off[i]->name,
                          (unsigned long long)by_off[i]->offset);
    tl_free(by_off);
    return s;
}

static tl_status parse(tl_gguf *g) {
    const char *name = g->path;
    /* checked before any pointer arithmetic: an empty file maps to NULL, and NULL + 0 is undefined */
    if (!g->map.data || g->map.size < 4 || memcmp(g->map.data, "GGUF", 4))
        return tl_errorf(TL_E_FORMAT, "%s: not a GGUF file (bad magic; expected \"GGUF\")", name);
    cursor c = {g->map.data, g->map.data, g->map.data + g->map.size, name};
    c.p += 4;
    tl_status s = cur_u32(&c, &g->version, "version");
    if (s) return s;
    if (g->version != 3)
        return tl_errorf(TL_E_UNSUPPORTED, "%s: GGUF version %u is not supported (only version 3%s)", name,
                         g->version, g->version > 0xffff ? "; a big-endian file?" : "");
    if ((s = cur_u64(&c, &g->n_tensors, "n_tensors")) || (s = cur_u64(&c, &g->n_kv, "n_kv"))) return s;
    /* a key/value takes at least 13 bytes, a tensor info at least 24: bound the
     * counts by the file before allocating for them */
    if (g->n_kv > cur_left(&c) / 13)
        return tl_errorf(TL_E_FORMAT, "%s: n_kv %llu cannot fit in a file of %zu bytes", name,
                         (unsigned long long)g->n_kv, g->map.size);
    if (g->n_tensors > cur_left(&c) / 24)
        return tl_errorf(TL_E_FORMAT, "%s: n_tensors %llu cannot fit in a file of %zu bytes", name,
                         (unsigned long long)g->n_tensors, g->map.size);
    g->kv = tl_calloc((size_t)g->n_kv, sizeof *g->kv);
    g->tensors = tl_calloc((size_t)g->n_tensors, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return tl_errorf(TL_E_NOMEM, "%s: out of memory", name);
    if ((s = parse_kv(&c, g)) != TL_OK) return s;

    g->alignment = TL_GGUF_DEFAULT_ALIGNMENT;
    const tl_gguf_kv *al = tl_gguf_find(g, "general.alignment");
    if (al) {
        if (al->type != TL_GGUF_U32)
            return tl_errorf(TL_E_FORMAT, "%s: general.alignment has type %s, expected u32", name,
                             tl_gguf_type_name(al->type));
        memcpy(&g->alignment, al->data, 4);
        if (g->alignment == 0 || (g->alignment & (g->alignment - 1)))
            return tl_errorf(TL_E_FORMAT, "%s: general.alignment %u is not a power of 2", name, g->alignment);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if ((s = parse_tensor_info(&c, g, i)) != TL_OK) return s;
    const tl_gguf_tensor *dup = find_duplicate(g->tensors, g->n_tensors, sizeof *g->tensors, cmp_tensor_ptr, &s, name);
    if (s) return s;
    if (dup) return tl_errorf(TL_E_FORMAT, "%s: duplicate tensor '%s'", name, dup->name);

    size_t pos = cur_pos(&c), pad = (g->alignment - pos % g->alignment) % g->alignment;
    if (g->n_tensors == 0) { /* vocabulary-only files may end right after the metadata */
        g->data_offset = pos + pad <= g->map.size ? pos + pad : g->map.size;
        return TL_OK;
    }
    if (pad > cur_left(&c))
        return tl_errorf(TL_E_FORMAT, "%s: truncated before the data section (byte %zu)", name, pos + pad);
    g->data_offset = pos + pad;
    return check_tensor_data(g, name);
}

static tl_status open_common(tl_gguf *g, tl_gguf **out) {
    tl_status s = parse(g);
    if (s) {
        tl_gguf_close(g);
        return s;
    }
    *out = g;
    return TL_OK;
}

tl_status tl_gguf_open(const char *path, tl_gguf **out) {
    *out = NULL;
    tl_gguf *g = tl_calloc(1, sizeof *g);
    if (!g || !(g->path = tl_strdup(path))) {
        tl_free(g);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    g->map.fd = -1;
    tl_status s = tl_file_map_open(path, &g->map);
    if (s) {
        g->map.fd = -1;
        tl_gguf_close(g);
        return s;
    }
    return open_common(g, out);
}

tl_status tl_gguf_open_memory(const void *data, size_t size, const char *name, tl_gguf **out) {
    *out = NULL;
    tl_gguf *g = tl_calloc(1, sizeof *g);
    if (!g || !(g->path = tl_strdup(name))) {
        tl_free(g);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", name);
    }
    g->map.data = data;
    g->map.size = size;
    g->map.fd = -2; /* not ours to unmap */
    return open_common(g, out);
}

void tl_gguf_close(tl_gguf *g) {
    if (!g) return;
    if (g->map.fd != -2) tl_file_map_close(&g->map);
    tl_free(g->kv);
    tl_free(g->tensors);
    tl_free(g->path);
    tl_free(g);
}

/* ---- look-ups and typed getters --------------------------------------------- */

int tl_gguf_str_eq(tl_gguf_str s, const char *c) { return strlen(c) == s.n && !memcmp(s.s, c, s.n); }

const tl_gguf_kv *tl_gguf_find(const tl_gguf *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (tl_gguf_str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const tl_gguf_tensor *tl_gguf_find_tensor(const tl_gguf *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static tl_status need_key(const tl_gguf *g, const char *key, const tl_gguf_kv **kv) {
    *kv = tl_gguf_find(g, key);
    if (!*kv) return tl_errorf(TL_E_FORMAT, "%s: missing key '%s'", g->path, key);
    return TL_OK;
}

static tl_status wrong_type(const tl_gguf *g, const char *key, const tl_gguf_kv *kv, const char *want) {
    return tl_errorf(TL_E_FORMAT, "%s: key '%s' has type %s, expected %s", g->path, key,
                     tl_gguf_type_name(kv->type), want);
}

/* Read a scalar integer of any width as int64 (u64 above INT64_MAX saturates so range checks reject it). */
static int load_int(tl_gguf_type t, const uint8_t *p, int64_t *v) {
    switch (t) {
    case TL_GGUF_U8: *v = *p; return 1;
    case TL_GGUF_I8: *v = (int8_t)*p; return 1;
    case TL_GGUF_U16: { uint16_t x; memcpy(&x, p, 2); *v = x; return 1; }
    case TL_GGUF_I16: { int16_t x; memcpy(&x, p, 2); *v = x; return 1; }
    case TL_GGUF_U32: { uint32_t x; memcpy(&x, p, 4); *v = x; return 1; }
    case TL_GGUF_I32: { int32_t x; memcpy(&x, p, 4); *v = x; return 1; }
    case TL_GGUF_U64: { uint64_t x; memcpy(&x, p, 8); *v = x > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)x; return 1; }
    case TL_GGUF_I64: { int64_t x; memcpy(&x, p, 8); *v = x; return 1; }
    default: return 0;
    }
}

tl_status tl_gguf_get_int(const tl_gguf *g, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    const tl_gguf_kv *kv;
    tl_status s = need_key(g, key, &kv);
    if (s) return s;
    int64_t v;
    if (kv->type == TL_GGUF_ARRAY || !load_int(kv->type, kv->data, &v)) return wrong_type(g, key, kv, "an integer");
    if (v < lo || v > hi)
        return tl_errorf(TL_E_FORMAT, "%s: key '%s' = %lld is out of range [%lld, %lld]", g->path, key, (long long)v,
                         (long long)lo, (long long)hi);
    *out = v;
    return TL_OK;
}

tl_status tl_gguf_get_float(const tl_gguf *g, const char *key, double *out) {
    const tl_gguf_kv *kv;
    tl_status s = need_key(g, key, &kv);
    if (s) return s;
    int64_t iv;
    if (kv->type == TL_GGUF_F32) {
        float f;
        memcpy(&f, kv->data, 4);
        *out = f;
    } else if (kv->type == TL_GGUF_F64) {
        memcpy(out, kv->data, 8);
    } else if (kv->type != TL_GGUF_ARRAY && load_int(kv->type, kv->data, &iv)) {
        *out = (double)iv;
    } else {
        return wrong_type(g, key, kv, "a number");
    }
    return TL_OK;
}

tl_status tl_gguf_get_bool(const tl_gguf *g, const char *key, int *out) {
    const tl_gguf_kv *kv;
    tl_status s = need_key(g, key, &kv);
    if (s) return s;
    if (kv->type != TL_GGUF_BOOL) return wrong_type(g, key, kv, "bool");
    *out = kv->data[0] != 0;
    return TL_OK;
}

tl_status tl_gguf_get_str(const tl_gguf *g, const char *key, tl_gguf_str *out) {
    const tl_gguf_kv *kv;
    tl_status s = need_key(g, key, &kv);
    if (s) return s;
    if (kv->type != TL_GGUF_STRING) return wrong_type(g, key, kv, "string");
    uint64_t n;
    memcpy(&n, kv->data, 8);
    out->s = (const char *)kv->data + 8;
    out->n = (size_t)n;
    return TL_OK;
}

tl_status tl_gguf_get_arr(const tl_gguf *g, const char *key, tl_gguf_type elem, const tl_gguf_kv **out) {
    const tl_gguf_kv *kv;
    tl_status s = need_key(g, key, &kv);
    if (s) return s;
    if (kv->type != TL_GGUF_ARRAY || kv->arr_type != elem) {
        char want[32];
        snprintf(want, sizeof want, "array of %s", tl_gguf_type_name(elem));
        if (kv->type == TL_GGUF_ARRAY)
            return tl_errorf(TL_E_FORMAT, "%s: key '%s' is an array of %s, expected %s", g->path, key,
                             tl_gguf_type_name(kv->arr_type), want);
        return wrong_type(g, key, kv, want);
    }
    *out = kv;
    return TL_OK;
}

float tl_gguf_arr_f32(const tl_gguf_kv *kv, uint64_t i) {
    float f;
    memcpy(&f, kv->data + i * 4, 4);
    return f;
}

int32_t tl_gguf_arr_i32(const tl_gguf_kv *kv, uint64_t i) {
    int32_t v;
    memcpy(&v, kv->data + i * 4, 4);
    return v;
}

void tl_gguf_iter_init(const tl_gguf_kv *kv, tl_gguf_iter *it) {
    it->p = kv->data;
    it->i = 0;
    it->n = kv->arr_type == TL_GGUF_STRING ? kv->n : 0;
}

int tl_gguf_iter_next(tl_gguf_iter *it, tl_gguf_str *s) {
    if (it->i >= it->n) return 0;
    uint64_t n;
    memcpy(&n, it->p, 8);
    s->s = (const char *)it->p + 8;
    s->n = (size_t)n;
    it->p += 8 + n;
    it->i++;
    return 1;
}
