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

#include "gguf/gguf.h"
#include "model/model.h"
#include "tiller/format.h" /* tl_model_load/save, dtypes, save options */

/* The layout behind the public, opaque tl_npy (npy.c). */
struct tl_npy {
    tl_npy_type type;
    int ndim;
    int64_t shape[TL_NPY_MAX_DIMS];
    size_t count; /* product of the shape */
    void *data;   /* count elements (float / int32_t / int64_t), tl_malloc'ed, owned */
};

/* llama2.c checkpoints: version 0 is the legacy header (7 int32, negative vocab =
 * unshared classifier, freq_cis tables), version 1 the "ak42" 256-byte header, f32. */
tl_status tl_llama2c_load(const char *path, tl_model **out);
/* in_place: the matrices stay in the mapped file, f32 views (tl_model_load_mapped) */
tl_status tl_llama2c_load_ex(const char *path, int in_place, tl_model **out);
tl_status tl_llama2c_save(const tl_model *m, const char *path, int version);

/* ---- GGUF models (gguf_model.c) ---------------------------------------------
 * general.architecture "llama" with llama.* hyper-parameters and the tensor
 * names of tl_params_tensors (no output.weight when tied). F32/F16/BF16 tensors
 * are read (converted to f32); matrices are written as dtype (1-D tensors stay
 * F32, as llama.cpp's converters keep them). The tokenizer, when present,
 * travels as tokenizer.ggml.* (loaded into *tok when tok is not NULL; written when not NULL). */
tl_status tl_gguf_model_load(const char *path, tl_model **out, tl_tokenizer **tok);
/* in_place: f32 matrices stay in the mapping too (tl_model_load_mapped) */
tl_status tl_gguf_model_load_ex(const char *path, int in_place, tl_model **out, tl_tokenizer **tok);
tl_status tl_gguf_model_save(const tl_model *m, const tl_tokenizer *tok, const char *path, tl_dtype dtype);

/* Hugging Face LlamaForCausalLM checkpoints. `path` is a directory holding
 * model.safetensors + config.json, or a .safetensors file with config.json
 * beside it. Tensors may be F32, F16 or BF16 (converted to f32); q_proj/k_proj
 * rows are permuted from HF's half-split RoPE order to tiller's interleaved
 * pairs on load and back on save. Saving to a directory (existing, or a path
 * without extension, created) or a .safetensors path writes both files, each
 * atomically. Sharded checkpoints (model.safetensors.index.json) are refused. A directory
 * carries its tokenizer as tokenizer.json (+ tokenizer_config.json when saving). */
tl_status tl_safetensors_load(const char *path, tl_model **out, tl_tokenizer **tok);
/* in_place: matrices other than llama's q/k (permuted) and GPT-NeoX's fused QKV stay in the
 * mapped file as f32/f16/bf16 views (tl_model_load_mapped) */
tl_status tl_safetensors_load_ex(const char *path, int in_place, tl_model **out, tl_tokenizer **tok);
tl_status tl_safetensors_save(const tl_model *m, const tl_tokenizer *tok, const char *path, tl_dtype dtype);

/* The Hugging Face config.json reader (safetensors.c; its writer is the one saving uses):
 * a parsed object to a checked tl_config, LlamaConfig's defaults where a key may be absent,
 * architectures other than LlamaForCausalLM refused. `path` names it in messages. */
struct cJSON;
tl_status tl_hf_config_from_json(const struct cJSON *root, const char *path, tl_config *c);
/* "a string", "a number", ... (hf_keys.c): what a JSON value is, for messages. */
const char *tl_json_type(const struct cJSON *j);
/* The config.json key readers (hf_keys.c), one set for every architecture: a key repeated is
 * an error; absent or null gives def (or an error when required); int = a positive integer,
 * float = a positive finite float, num = any finite number; want_* = absent or that value
 * (TL_E_UNSUPPORTED otherwise). Messages name path and key. */
tl_status tl_hf_key_find(const struct cJSON *root, const char *path, const char *key, const struct cJSON **out);
tl_status tl_hf_key_int(const struct cJSON *root, const char *path, const char *key, int required, int def, int *out);
tl_status tl_hf_key_float(const struct cJSON *root, const char *path, const char *key, float def, float *out);
tl_status tl_hf_key_num(const struct cJSON *root, const char *path, const char *key, double def, double *out);
tl_status tl_hf_key_bool(const struct cJSON *root, const char *path, const char *key, int def, int *out);
tl_status tl_hf_key_want_str(const struct cJSON *root, const char *path, const char *key, const char *want);
tl_status tl_hf_key_want_bool(const struct cJSON *root, const char *path, const char *key, int want);
/* Hugging Face checkpoints of other architectures (hf_arch.c): config.json with a model_type other
 * than "llama" is read here (qwen2, gpt_neox, olmo; others refused by name), tensor names map per
 * architecture, and GPT-NeoX's fused query_key_value rows are reordered (tl_hf_qkv_row). */
int tl_hf_arch_handles(const struct cJSON *root); /* model_type present and not "llama" */
tl_status tl_hf_arch_config(const struct cJSON *root, const char *path, tl_config *c);
/* GGUF tensor name -> Hugging Face name for c->arch (llama included: its names are the llama-style column) */
void tl_hf_arch_tensor_name(const tl_config *c, const char *gguf, char *buf, size_t cap);
int tl_hf_arch_ignorable(const tl_config *c, const char *hf_name);
int tl_hf_arch_fused_qkv(const tl_config *c, const char *gguf);
/* HF row (or bias element) r of query_key_value ([H][q,k,v][D]) -> tiller's [q; k; v] row */
int64_t tl_hf_qkv_row(const tl_config *c, int64_t r);

/* Row r of a q/k projection in Hugging Face (half-split) order holds the row
 * returned here in tiller's interleaved order; D is the head dim (even).
 * Within a head, HF row j*D/2 + i (j = 0, 1) is interleaved row 2i + j: both
 * are the two halves of RoPE pair i, rotated by theta^(-2i/D). This is the
 * permutation llama.cpp's convert_hf_to_gguf applies to q/k. */
static inline int64_t tl_rope_hf_row_to_interleaved(int64_t r, int D) {
    int64_t head = r / D, w = r % D, half = D / 2;
    return head * D + 2 * (w % half) + w / half;
}

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
