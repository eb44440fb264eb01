/*
 * format: model files in and out. Each format converts between its on-disk
 * layout and tiller's canonical tl_model (model/model.h): llama2.c .bin
 * (llama2c.c), GGUF (gguf.c reader, gguf_write.c writer, gguf_model.c model),
 * safetensors + config.json (safetensors.c), and .npy arrays for activations
 * (npy.c). load.c picks the format by extension or magic. Every reader checks
 * sizes against the file before touching data; every writer goes through
 * tl_out_file (temp + rename).
 */
#ifndef TL_FORMAT_H
#define TL_FORMAT_H

#include "model/model.h"

/* Element type of stored tensors, for formats that offer a choice. */
typedef enum {
    TL_DTYPE_F32 = 0,
    TL_DTYPE_F16 = 1,
    TL_DTYPE_BF16 = 2,
    /* ggml quantized types, GGUF only (matrices; norms stay f32) */
    TL_DTYPE_Q8_0 = 3,
    TL_DTYPE_Q4_0 = 4,
    TL_DTYPE_Q4_K = 5,
    TL_DTYPE_Q5_K = 6,
    TL_DTYPE_Q6_K = 7,
} tl_dtype;
const char *tl_dtype_name(tl_dtype t); /* "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k" */
int tl_dtype_is_quantized(tl_dtype t);
/* Parse a dtype name (TL_E_ARG otherwise). */
tl_status tl_dtype_parse(const char *s, tl_dtype *out);

/* Options of tl_model_save_opts; tl_model_save uses the defaults {F32, 0}. */
typedef struct {
    tl_dtype dtype;      /* storage type (.bin is f32 only and refuses others) */
    int llama2c_version; /* .bin: 0 (legacy, what run.c reads) or 1 */
} tl_save_opts;
tl_status tl_model_save_opts(const tl_model *m, const char *path, const tl_save_opts *opts);

/* llama2.c checkpoints: version 0 is the legacy header (7 int32, negative vocab =
 * unshared classifier, freq_cis tables), version 1 the "ak42" 256-byte header, f32. */
tl_status tl_llama2c_load(const char *path, tl_model **out);
tl_status tl_llama2c_save(const tl_model *m, const char *path, int version);

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

/* ---- GGUF models (gguf_model.c) ---------------------------------------------
 * general.architecture "llama" with llama.* hyper-parameters and the tensor
 * names of tl_params_tensors (no output.weight when tied). F32/F16/BF16 tensors
 * are read (converted to f32); matrices are written as dtype (1-D tensors stay
 * F32, as llama.cpp's converters keep them). The tokenizer, when present,
 * travels as tokenizer.ggml.*. */
tl_status tl_gguf_model_load(const char *path, tl_model **out);
tl_status tl_gguf_model_save(const tl_model *m, const char *path, tl_dtype dtype);

/* Hugging Face LlamaForCausalLM checkpoints. `path` is a directory holding
 * model.safetensors + config.json, or a .safetensors file with config.json
 * beside it. Tensors may be F32, F16 or BF16 (converted to f32); q_proj/k_proj
 * rows are permuted from HF's half-split RoPE order to tiller's interleaved
 * pairs on load and back on save. Saving to a directory (existing, or a path
 * without extension, created) or a .safetensors path writes both files, each
 * atomically. Sharded checkpoints (model.safetensors.index.json) are refused. */
tl_status tl_safetensors_load(const char *path, tl_model **out);
tl_status tl_safetensors_save(const tl_model *m, const char *path, tl_dtype dtype);

/* Row r of a q/k projection in Hugging Face (half-split) order holds the row
 * returned here in tiller's interleaved order; D is the head dim (even).
 * Within a head, HF row j*D/2 + i (j = 0, 1) is interleaved row 2i + j: both
 * are the two halves of RoPE pair i, rotated by theta^(-2i/D). This is the
 * permutation llama.cpp's convert_hf_to_gguf applies to q/k. */
static inline int64_t tl_rope_hf_row_to_interleaved(int64_t r, int D) {
    int64_t head = r / D, w = r % D, half = D / 2;
    return head * D + 2 * (w % half) + w / half;
}

/* ---- .npy arrays (numpy format 1.0, little-endian, C order) ---------------- */

typedef enum { TL_NPY_F4 = 0, TL_NPY_I4 = 1, TL_NPY_I8 = 2 } tl_npy_type;
#define TL_NPY_MAX_DIMS 8

typedef struct {
    tl_npy_type type;
    int ndim;
    int64_t shape[TL_NPY_MAX_DIMS];
    size_t count; /* product of the shape */
    void *data;   /* count elements (float / int32_t / int64_t), tl_malloc'ed, owned */
} tl_npy;

size_t tl_npy_type_size(tl_npy_type t);
/* Write a whole array. ndim may be 0 (a scalar: count 1). */
tl_status tl_npy_save(const char *path, tl_npy_type type, int ndim, const int64_t *shape,
                      const void *data);
/* Read a .npy file (versions 1.0, 2.0, 3.0; '<f4', '<i4', '<i8'; C order). */
tl_status tl_npy_load(const char *path, tl_npy **out);
void tl_npy_free(tl_npy *a);

/* Row-streaming writer for arrays whose first dimension is not known in advance
 * (activations captured statement by statement): open with the shape of one
 * row (ndim - 1 trailing dims), append rows, commit writes the final row count
 * into the header. Nothing appears under `path` unless commit succeeds. */
typedef struct {
    tl_out_file out;
    tl_npy_type type;
    int ndim;
    int64_t shape[TL_NPY_MAX_DIMS]; /* shape[0] counts the rows appended so far */
    size_t row_elems;
    size_t header_len; /* bytes reserved for the header, fixed at open */
} tl_npy_writer;
tl_status tl_npy_writer_open(tl_npy_writer *w, const char *path, tl_npy_type type, int ndim,
                             const int64_t *row_shape);
tl_status tl_npy_writer_append(tl_npy_writer *w, const void *rows, int64_t n_rows);
tl_status tl_npy_writer_commit(tl_npy_writer *w);
void tl_npy_writer_abort(tl_npy_writer *w);

#endif /* TL_FORMAT_H */
