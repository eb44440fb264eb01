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

#include "format/gguf.h"
#include "model/model.h"

/* Load any supported file, by extension or magic: .gguf, .bin (llama2.c),
 * .safetensors or a directory holding model.safetensors + config.json. */
tl_status tl_model_load(const char *path, tl_model **out);
/* Save by extension: .gguf, .bin, .safetensors (config.json beside it), or a directory
 * (existing, or a path without extension) for the HF pair. tl_model_save_opts
 * (below) chooses the tensor dtype and the llama2.c version. */
tl_status tl_model_save(const tl_model *m, const char *path);


/* Element type of stored tensors, for formats that offer a choice. */
typedef enum { TL_DTYPE_F32 = 0, TL_DTYPE_F16 = 1, TL_DTYPE_BF16 = 2 } tl_dtype;
const char *tl_dtype_name(tl_dtype t); /* "f32", "f16", "bf16" */
/* Parse "f32" / "f16" / "bf16" (TL_E_ARG otherwise). */
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
