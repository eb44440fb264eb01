/* gguf_write.c: the GGUF v3 writer. Key/values are serialised into one growing
 * buffer as they are added; tensors are kept by pointer and laid out back to
 * back in the data section, each padded to the alignment (the layout
 * llama.cpp's reader insists on: offset i == sum of padded sizes before i).
 * The file is written through tl_out_file, so it appears whole or not at all. */
#include <string.h>

#include "gguf.h"
#include "kernels/quant.h"

typedef struct {
    char name[TL_GGUF_MAX_NAME];
    uint32_t type;
    int n_dims;
    int64_t ne[4];
    uint64_t n_elements;
    const float *data;
} wtensor;

struct tl_gguf_writer {
    uint8_t *kv; /* serialised key/values */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
    uint32_t alignment;
    tl_status failed; /* first failure of an adder */
};

tl_status tl_gguf_writer_new(tl_gguf_writer **out) {
    *out = tl_calloc(1, sizeof **out);
    if (!*out) return tl_errorf(TL_E_NOMEM, "gguf writer: out of memory");
    (*out)->alignment = TL_GGUF_DEFAULT_ALIGNMENT;
    return TL_OK;
}

void tl_gguf_writer_free(tl_gguf_writer *w) {
    if (!w) return;
    tl_free(w->kv);
    tl_free(w->tensors);
    tl_free(w);
}

tl_status tl_gguf_writer_set_alignment(tl_gguf_writer *w, uint32_t alignment) {
    if (alignment == 0 || (alignment & (alignment - 1)))
        return tl_errorf(TL_E_ARG, "gguf writer: alignment %u is not a power of 2", alignment);
    w->alignment = alignment;
    return tl_gguf_write_u32(w, "general.alignment", alignment);
}

static tl_status fail(tl_gguf_writer *w, tl_status s) {
    if (!w->failed) w->failed = s;
    return s;
}

static tl_status put(tl_gguf_writer *w, const void *p, size_t n) {
    if (w->failed) return w->failed;
    if (n > SIZE_MAX - w->kv_len) return fail(w, tl_errorf(TL_E_NOMEM, "gguf writer: metadata too large"));
    if (w->kv_len + n > w->kv_cap) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        while (cap < w->kv_len + n) {
            if (cap > SIZE_MAX / 2) return fail(w, tl_errorf(TL_E_NOMEM, "gguf writer: metadata too large"));
            cap *= 2;
        }
        uint8_t *nb = tl_realloc(w->kv, cap);
        if (!nb) return fail(w, tl_errorf(TL_E_NOMEM, "gguf writer: out of memory (%zu bytes of metadata)", cap));
        w->kv = nb;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return TL_OK;
}

static tl_status put_u32(tl_gguf_writer *w, uint32_t v) { return put(w, &v, 4); }
static tl_status put_u64(tl_gguf_writer *w, uint64_t v) { return put(w, &v, 8); }
static tl_status put_str(tl_gguf_writer *w, const char *s, size_t n) {
    tl_status st = put_u64(w, n);
    return st ? st : put(w, s, n);
}

static const uint8_t elem_size[TL_GGUF__COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static tl_status begin_kv(tl_gguf_writer *w, const char *key, uint32_t type) {
    if (w->failed) return w->failed;
    tl_status s = put_str(w, key, strlen(key));
    if (!s) s = put_u32(w, type);
    if (!s) w->n_kv++;
    return s;
}

tl_status tl_gguf_write_scalar(tl_gguf_writer *w, const char *key, tl_gguf_type type, const void *val) {
    if ((unsigned)type >= TL_GGUF__COUNT || !elem_size[type])
        return fail(w, tl_errorf(TL_E_ARG, "gguf writer: key '%s': type %d is not a scalar type", key, (int)type));
    tl_status s = begin_kv(w, key, type);
    return s ? s : put(w, val, elem_size[type]);
}

tl_status tl_gguf_write_u32(tl_gguf_writer *w, const char *key, uint32_t v) {
    return tl_gguf_write_scalar(w, key, TL_GGUF_U32, &v);
}
tl_status tl_gguf_write_f32(tl_gguf_writer *w, const char *key, float v) {
    return tl_gguf_write_scalar(w, key, TL_GGUF_F32, &v);
}
tl_status tl_gguf_write_bool(tl_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return tl_gguf_write_scalar(w, key, TL_GGUF_BOOL, &b);
}

tl_status tl_gguf_write_strn(tl_gguf_writer *w, const char *key, const char *s, size_t n) {
    tl_status st = begin_kv(w, key, TL_GGUF_STRING);
    return st ? st : put_str(w, s, n);
}
tl_status tl_gguf_write_str(tl_gguf_writer *w, const char *key, const char *s) {
    return tl_gguf_write_strn(w, key, s, strlen(s));
}

tl_status tl_gguf_write_arr(tl_gguf_writer *w, const char *key, tl_gguf_type elem, const void *data, uint64_t n) {
    if ((unsigned)elem >= TL_GGUF__COUNT || !elem_size[elem])
        return fail(w, tl_errorf(TL_E_ARG, "gguf writer: key '%s': type %d is not a numeric element type", key,
                                 (int)elem));
    size_t bytes;
    if (n > SIZE_MAX || !tl_mul_size((size_t)n, elem_size[elem], &bytes))
        return fail(w, tl_errorf(TL_E_NOMEM, "gguf writer: key '%s': array too large", key));
    tl_status s = begin_kv(w, key, TL_GGUF_ARRAY);
    if (!s) s = put_u32(w, elem);
    if (!s) s = put_u64(w, n);
    return s ? s : put(w, data, bytes);
}

tl_status tl_gguf_write_arr_str(tl_gguf_writer *w, const char *key, const char *const *strs, const uint32_t *lens,
                                uint64_t n) {
    tl_status s = begin_kv(w, key, TL_GGUF_ARRAY);
    if (!s) s = put_u32(w, TL_GGUF_STRING);
    if (!s) s = put_u64(w, n);
    for (uint64_t i = 0; i < n && !s; i++) s = put_str(w, strs[i], lens ? lens[i] : strlen(strs[i]));
    return s;
}

tl_status tl_gguf_write_tensor(tl_gguf_writer *w, const char *name, uint32_t type, int n_dims, const int64_t *ne,
                               const float *data) {
    if (w->failed) return w->failed;
    if (strlen(name) >= TL_GGUF_MAX_NAME)
        return fail(w, tl_errorf(TL_E_ARG, "gguf writer: tensor name '%s' is too long", name));
    if (type != TL_GGML_F32 && type != TL_GGML_F16 && type != TL_GGML_BF16 && !tl_q_can_quantize(type))
        return fail(w, tl_errorf(TL_E_UNSUPPORTED, "gguf writer: tensor '%s': type %s cannot be written", name,
                                 tl_ggml_type_name(type)));
    if (n_dims < 1 || n_dims > 4)
        return fail(w, tl_errorf(TL_E_ARG, "gguf writer: tensor '%s': n_dims %d", name, n_dims));
    wtensor t = {.type = type, .n_dims = n_dims, .data = data, .n_elements = 1};
    snprintf(t.name, sizeof t.name, "%s", name);
    for (int d = 0; d < 4; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    for (int d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || __builtin_mul_overflow(t.n_elements, (uint64_t)ne[d], &t.n_elements))
            return fail(w, tl_errorf(TL_E_ARG, "gguf writer: tensor '%s': bad dimension %d = %lld", name, d,
                                     (long long)ne[d]));
    }
    if (tl_q_can_quantize(type) && t.ne[0] % tl_q_block_size(type))
        return fail(w, tl_errorf(TL_E_ARG, "gguf writer: tensor '%s': rows of %lld values are not whole %s blocks of %d",
                                 name, (long long)t.ne[0], tl_ggml_type_name(type), tl_q_block_size(type)));
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return fail(w, tl_errorf(TL_E_ARG, "gguf writer: duplicate tensor '%s'", name));
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
        wtensor *nt = tl_realloc(w->tensors, cap * sizeof *nt);
        if (!nt) return fail(w, tl_errorf(TL_E_NOMEM, "gguf writer: out of memory"));
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    w->tensors[w->n_tensors++] = t;
    return TL_OK;
}

static uint64_t tensor_bytes(const wtensor *t) {
    if (tl_q_can_quantize(t->type)) return t->n_elements / (uint64_t)t->ne[0] * tl_q_row_bytes(t->type, t->ne[0]);
    return t->n_elements * (t->type == TL_GGML_F32 ? 4u : 2u);
}
static uint64_t pad_to(uint64_t x, uint32_t a) { return (x + a - 1) / a * a; }

static tl_status write_zeros(tl_out_file *o, uint64_t n) {
    static const uint8_t zeros[64];
    tl_status s = TL_OK;
    while (n && !s) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        s = tl_out_write(o, zeros, k);
        n -= k;
    }
    return s;
}

/* Write a tensor's data, converting from f32 in chunks. */
static tl_status write_data(tl_out_file *o, const wtensor *t) {
    if (t->type == TL_GGML_F32) return tl_out_write(o, t->data, (size_t)t->n_elements * 4);
    if (tl_q_can_quantize(t->type)) { /* row by row with ggml's reference quantizer */
        size_t rb = tl_q_row_bytes(t->type, t->ne[0]);
        uint8_t *row = tl_malloc(rb);
        if (!row) return tl_errorf(TL_E_NOMEM, "gguf writer: out of memory");
        tl_status s = TL_OK;
        for (uint64_t r = 0; r < t->n_elements / (uint64_t)t->ne[0] && !s; r++) {
            tl_quantize_row(t->type, t->data + r * (uint64_t)t->ne[0], row, t->ne[0]);
            s = tl_out_write(o, row, rb);
        }
        tl_free(row);
        return s;
    }
    uint16_t buf[1024];
    tl_status s = TL_OK;
    for (uint64_t i = 0; i < t->n_elements && !s;) {
        size_t k = t->n_elements - i < 1024 ? (size_t)(t->n_elements - i) : 1024;
        for (size_t j = 0; j < k; j++)
            buf[j] = t->type == TL_GGML_F16 ? tl_f32_to_f16(t->data[i + j]) : tl_f32_to_bf16(t->data[i + j]);
        s = tl_out_write(o, buf, k * 2);
        i += k;
    }
    return s;
}

tl_status tl_gguf_writer_save(tl_gguf_writer *w, const char *path) {
    if (w->failed) return tl_error_prefix(w->failed, "%s", path);
    tl_out_file o;
    tl_status s = tl_out_open(&o, path);
    if (s) return s;
    uint32_t version = 3;
    uint64_t nt = w->n_tensors, pos = 4 + 4 + 8 + 8 + w->kv_len;
    s = tl_out_write(&o, "GGUF", 4);
    if (!s) s = tl_out_write(&o, &version, 4);
    if (!s) s = tl_out_write(&o, &nt, 8);
    if (!s) s = tl_out_write(&o, &w->n_kv, 8);
    if (!s) s = tl_out_write(&o, w->kv, w->kv_len);
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors && !s; i++) {
        const wtensor *t = &w->tensors[i];
        uint64_t nlen = strlen(t->name);
        uint32_t nd = (uint32_t)t->n_dims;
        s = tl_out_write(&o, &nlen, 8);
        if (!s) s = tl_out_write(&o, t->name, nlen);
        if (!s) s = tl_out_write(&o, &nd, 4);
        if (!s) s = tl_out_write(&o, t->ne, 8 * (size_t)t->n_dims);
        if (!s) s = tl_out_write(&o, &t->type, 4);
        if (!s) s = tl_out_write(&o, &offset, 8);
        pos += 8 + nlen + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
        offset += pad_to(tensor_bytes(t), w->alignment);
    }
    if (!s && w->n_tensors) s = write_zeros(&o, pad_to(pos, w->alignment) - pos);
    for (size_t i = 0; i < w->n_tensors && !s; i++) {
        const wtensor *t = &w->tensors[i];
        s = write_data(&o, t);
        if (!s) s = write_zeros(&o, pad_to(tensor_bytes(t), w->alignment) - tensor_bytes(t));
    }
    if (s) {
        tl_out_abort(&o);
        return s;
    }
    return tl_out_commit(&o);
}
