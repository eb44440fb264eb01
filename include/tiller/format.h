/*
 * tiller/format.h: model files in and out: GGUF, llama2.c .bin, Hugging Face safetensors +
 * config.json, chosen by extension or magic. Every reader checks sizes against the file before
 * touching data; every writer writes a temporary file and renames it when complete.
 */
#ifndef TILLER_FORMAT_H
#define TILLER_FORMAT_H

#include "tiller/model.h"
#include "tiller/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* Load any supported file, by extension or magic: .gguf, .bin (llama2.c),
 * .safetensors or a directory holding model.safetensors + config.json. The model and the
 * tokenizer its file carries come back side by side, both the caller's (tl_model_free,
 * tl_tokenizer_free): *tok is NULL when the file carries none (llama2.c .bin); pass tok = NULL
 * to drop it (it is still read and checked, so a file with a broken vocabulary fails alike). */
tl_status tl_model_load(const char *path, tl_model **out, tl_tokenizer **tok);
/* The same for inference only: the f32 matrices of a GGUF file are used in place in the
 * mapped file (zero copy: resident memory = the file + KV cache + activations), as quantized
 * ones always are. Such a model is not trainable until tl_model_dequantize copies them out;
 * other formats load as tl_model_load does. */
tl_status tl_model_load_mapped(const char *path, tl_model **out, tl_tokenizer **tok);
/* Save by extension: .gguf, .bin, .safetensors (config.json beside it), or a directory
 * (existing, or a path without extension) for the HF pair. tok (may be NULL) is stored with
 * the model by the formats that hold one (GGUF tokenizer.ggml.*, tokenizer.json +
 * tokenizer_config.json in a Hugging Face directory). tl_model_save_opts (below) chooses the
 * tensor dtype and the llama2.c version. */
tl_status tl_model_save(const tl_model *m, const tl_tokenizer *tok, const char *path);


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
tl_status tl_model_save_opts(const tl_model *m, const tl_tokenizer *tok, const char *path, const tl_save_opts *opts);

/* ---- .npy arrays (numpy format 1.0, little-endian, C order) ---------------- */

typedef enum { TL_NPY_F4 = 0, TL_NPY_I4 = 1, TL_NPY_I8 = 2 } tl_npy_type;
#define TL_NPY_MAX_DIMS 8

/* An array read by tl_npy_load: opaque, owned by the caller (tl_npy_free). */
typedef struct tl_npy tl_npy;
tl_npy_type tl_npy_dtype(const tl_npy *a);
int tl_npy_ndim(const tl_npy *a);
int64_t tl_npy_dim(const tl_npy *a, int i); /* 0 <= i < ndim, else 0 */
size_t tl_npy_count(const tl_npy *a);       /* product of the shape */
const void *tl_npy_data(const tl_npy *a);   /* count elements: float / int32_t / int64_t by dtype */

size_t tl_npy_type_size(tl_npy_type t);
/* Write a whole array. ndim may be 0 (a scalar: count 1). */
tl_status tl_npy_save(const char *path, tl_npy_type type, int ndim, const int64_t *shape,
                      const void *data);
/* Read a .npy file (versions 1.0, 2.0, 3.0; '<f4', '<i4', '<i8'; C order). */
tl_status tl_npy_load(const char *path, tl_npy **out);
void tl_npy_free(tl_npy *a);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_FORMAT_H */
