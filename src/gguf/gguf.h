/*
 * gguf/gguf.h: the GGUF v3 container (gguf.c reader, gguf_write.c writer), with
 * no model types: the tokenizer reads and writes its tokenizer.ggml.* metadata
 * through it, and format/format.h builds the model files on top of it.
 */
#ifndef TL_GGUF_H
#define TL_GGUF_H

#include "base/base.h"

/* ---- GGUF v3 ---------------------------------------------------------------
 * Layout (little-endian): "GGUF", u32 version (3), u64 n_tensors, u64 n_kv;
 * n_kv times: string key, u32 type, value; n_tensors times: string name,
 * u32 n_dims, u64 ne[n_dims] (ne[0] innermost = columns), u32 ggml type,
 * u64 offset (from the data section, a multiple of the alignment); padding to
 * the alignment (general.alignment, default 32); the data section.
 * A string is u64 length + bytes (no NUL). An array is u32 element type,
 * u64 count, elements (arrays may nest). */

typedef enum {
    TL_GGUF_U8 = 0,
    TL_GGUF_I8 = 1,
    TL_GGUF_U16 = 2,
    TL_GGUF_I16 = 3,
    TL_GGUF_U32 = 4,
    TL_GGUF_I32 = 5,
    TL_GGUF_F32 = 6,
    TL_GGUF_BOOL = 7,
    TL_GGUF_STRING = 8,
    TL_GGUF_ARRAY = 9,
    TL_GGUF_U64 = 10,
    TL_GGUF_I64 = 11,
    TL_GGUF_F64 = 12,
    TL_GGUF__COUNT
} tl_gguf_type;

/* The ggml tensor types tiller converts (others are parsed, sized, and refused on load). */
enum { TL_GGML_F32 = 0, TL_GGML_F16 = 1, TL_GGML_BF16 = 30 };

#define TL_GGUF_DEFAULT_ALIGNMENT 32
#define TL_GGUF_MAX_NAME 64 /* tensor names are shorter than this (as in ggml) */

/* A string inside the mapped file: not NUL-terminated. */
typedef struct {
    const char *s;
    size_t n;
} tl_gguf_str;

typedef struct {
    tl_gguf_str key;
    tl_gguf_type type;     /* TL_GGUF_ARRAY for arrays */
    tl_gguf_type arr_type; /* element type of an array */
    uint64_t n;            /* element count (1 for a scalar) */
    const uint8_t *data;   /* the value (an array's first element), inside the file */
} tl_gguf_kv;

typedef struct {
    char name[TL_GGUF_MAX_NAME];
    uint32_t n_dims;       /* 1..4 */
    int64_t ne[4];         /* ne[0] innermost (columns); unused dims are 1 */
    uint32_t type;         /* ggml type */
    uint64_t offset;       /* from the start of the data section */
    uint64_t n_elements;
    uint64_t nbytes;
    const uint8_t *data;   /* inside the mapped file, checked to lie within it */
} tl_gguf_tensor;

/* A parsed GGUF file: every count, length, shape and offset has been checked
 * against the file before any of it is exposed. Read-only; owns its mapping. */
typedef struct tl_gguf {
    char *path;
    tl_file_map map;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv, n_tensors;
    tl_gguf_kv *kv;
    tl_gguf_tensor *tensors;
    size_t data_offset; /* start of the data section in the file */
} tl_gguf;

tl_status tl_gguf_open(const char *path, tl_gguf **out);
/* Parse a buffer (not copied: it must outlive the handle); name is used in messages. */
tl_status tl_gguf_open_memory(const void *data, size_t size, const char *name, tl_gguf **out);
void tl_gguf_close(tl_gguf *g);

const char *tl_gguf_type_name(tl_gguf_type t);
const char *tl_ggml_type_name(uint32_t t);

/* Look-ups return NULL when absent. */
const tl_gguf_kv *tl_gguf_find(const tl_gguf *g, const char *key);
const tl_gguf_tensor *tl_gguf_find_tensor(const tl_gguf *g, const char *name);

/* Typed getters: TL_E_FORMAT, naming file, key and actual type, when the key is
 * missing or has another type. Integers accept any integer type whose value
 * fits; floats accept f32/f64 and integers. Use tl_gguf_find first for optional keys. */
tl_status tl_gguf_get_int(const tl_gguf *g, const char *key, int64_t lo, int64_t hi, int64_t *out);
tl_status tl_gguf_get_float(const tl_gguf *g, const char *key, double *out);
tl_status tl_gguf_get_bool(const tl_gguf *g, const char *key, int *out);
tl_status tl_gguf_get_str(const tl_gguf *g, const char *key, tl_gguf_str *out);
/* An array whose elements have type `elem`. */
tl_status tl_gguf_get_arr(const tl_gguf *g, const char *key, tl_gguf_type elem, const tl_gguf_kv **out);

/* Elements of a numeric array (unaligned-safe loads; i < kv->n is the caller's job). */
float tl_gguf_arr_f32(const tl_gguf_kv *kv, uint64_t i);
int32_t tl_gguf_arr_i32(const tl_gguf_kv *kv, uint64_t i);

/* Iterate a string array (already validated, so iteration cannot fail). */
typedef struct {
    const uint8_t *p;
    uint64_t i, n;
} tl_gguf_iter;
void tl_gguf_iter_init(const tl_gguf_kv *kv, tl_gguf_iter *it);
int tl_gguf_iter_next(tl_gguf_iter *it, tl_gguf_str *s); /* 1 while there is a next string */

/* Is the string equal to a C string? */
int tl_gguf_str_eq(tl_gguf_str s, const char *c);

/* ---- GGUF writer (gguf_write.c) ---------------------------------------------
 * Collects key/values (serialised at once) and tensors (by pointer: the data
 * must stay alive until tl_gguf_writer_save), then writes header, KV, tensor
 * infos and aligned data through tl_out_file. Adders record the first failure;
 * tl_gguf_writer_save reports it. */
typedef struct tl_gguf_writer tl_gguf_writer;

tl_status tl_gguf_writer_new(tl_gguf_writer **out);
void tl_gguf_writer_free(tl_gguf_writer *w);
tl_status tl_gguf_writer_set_alignment(tl_gguf_writer *w, uint32_t alignment); /* power of 2 */
/* A scalar of any non-array, non-string type; val points at a value of that type
 * (bool as uint8_t). */
tl_status tl_gguf_write_scalar(tl_gguf_writer *w, const char *key, tl_gguf_type type, const void *val);
tl_status tl_gguf_write_u32(tl_gguf_writer *w, const char *key, uint32_t v);
tl_status tl_gguf_write_f32(tl_gguf_writer *w, const char *key, float v);
tl_status tl_gguf_write_bool(tl_gguf_writer *w, const char *key, int v);
tl_status tl_gguf_write_str(tl_gguf_writer *w, const char *key, const char *s);
tl_status tl_gguf_write_strn(tl_gguf_writer *w, const char *key, const char *s, size_t n);
/* An array of n numeric (or bool) elements, packed little-endian in data. */
tl_status tl_gguf_write_arr(tl_gguf_writer *w, const char *key, tl_gguf_type elem, const void *data, uint64_t n);
/* A string array; lens may be NULL for NUL-terminated strings. */
tl_status tl_gguf_write_arr_str(tl_gguf_writer *w, const char *key, const char *const *strs,
                                const uint32_t *lens, uint64_t n);
/* A tensor from f32 data, stored as type (F32, F16 or BF16); ne[0] innermost. */
tl_status tl_gguf_write_tensor(tl_gguf_writer *w, const char *name, uint32_t type, int n_dims,
                               const int64_t *ne, const float *data);
tl_status tl_gguf_writer_save(tl_gguf_writer *w, const char *path);

#endif /* TL_GGUF_H */
