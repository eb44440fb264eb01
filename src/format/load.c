/* load.c: pick a model format by extension (or magic) and dispatch. */
#include <math.h>
#include <string.h>

#include "format.h"
#include "model/finite_check.h"
#include "model/qweights.h"

const char *tl_dtype_name(tl_dtype t) {
    switch (t) {
    case TL_DTYPE_F32: return "f32";
    case TL_DTYPE_F16: return "f16";
    case TL_DTYPE_BF16: return "bf16";
    case TL_DTYPE_Q8_0: return "q8_0";
    case TL_DTYPE_Q4_0: return "q4_0";
    case TL_DTYPE_Q4_K: return "q4_k";
    case TL_DTYPE_Q5_K: return "q5_k";
    case TL_DTYPE_Q6_K: return "q6_k";
    }
    return "?";
}

int tl_dtype_is_quantized(tl_dtype t) { return t >= TL_DTYPE_Q8_0 && t <= TL_DTYPE_Q6_K; }

tl_status tl_dtype_parse(const char *s, tl_dtype *out) {
    static const tl_dtype all[] = {TL_DTYPE_F32,  TL_DTYPE_F16,  TL_DTYPE_BF16, TL_DTYPE_Q8_0,
                                   TL_DTYPE_Q4_0, TL_DTYPE_Q4_K, TL_DTYPE_Q5_K, TL_DTYPE_Q6_K};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (!strcmp(s, tl_dtype_name(all[i]))) {
            *out = all[i];
            return TL_OK;
        }
    return tl_errorf(TL_E_ARG, "unknown dtype '%s' (expected f32, f16, bf16, q8_0, q4_0, q4_k, q5_k or q6_k)", s);
}

static tl_status load_any(const char *path, int in_place, tl_model **out, tl_tokenizer **tok) {
    const char *ext = tl_path_ext(path);
    if (!tl_path_exists(path)) return tl_errorf(TL_E_IO, "%s: no such file or directory", path);
    if (tl_path_is_dir(path) || !strcmp(ext, ".safetensors")) return tl_safetensors_load_ex(path, in_place, out, tok);
    if (!strcmp(ext, ".bin")) return tl_llama2c_load_ex(path, in_place, out); /* carries no tokenizer */
    if (!strcmp(ext, ".gguf")) return tl_gguf_model_load_ex(path, in_place, out, tok);
    return tl_errorf(TL_E_UNSUPPORTED,
                     "%s: unknown model format '%s' (expected .gguf, .bin, .safetensors or a "
                     "directory with config.json)",
                     path, ext);
}

static tl_status load_checked(const char *path, int in_place, tl_model **out, tl_tokenizer **tok) {
    *out = NULL;
    tl_tokenizer *vocab = NULL;
    tl_status s = load_any(path, in_place, out, &vocab);
    /* mapped: the matrices are checked by the first forward pass (model/finite_check.h) */
    if (s == TL_OK && (s = tl_model_check_finite(*out, path, in_place)) != TL_OK) {
        tl_model_free(*out);
        *out = NULL;
    }
    if (s == TL_OK && tok) *tok = vocab;
    else tl_tokenizer_free(vocab);
    return s;
}

tl_status tl_model_load(const char *path, tl_model **out, tl_tokenizer **tok) {
    if (tok) *tok = NULL;
    return load_checked(path, 0, out, tok);
}
tl_status tl_model_load_mapped(const char *path, tl_model **out, tl_tokenizer **tok) {
    if (tok) *tok = NULL;
    return load_checked(path, 1, out, tok);
}

tl_status tl_model_save_opts(const tl_model *m, const tl_tokenizer *tok, const char *path, const tl_save_opts *opts) {
    const char *ext = tl_path_ext(path);
    if (!strcmp(ext, ".bin")) {
        if (opts->dtype != TL_DTYPE_F32)
            return tl_errorf(TL_E_UNSUPPORTED, "%s: llama2.c .bin stores f32 only (asked for %s)", path,
                             tl_dtype_name(opts->dtype));
        return tl_llama2c_save(m, path, opts->llama2c_version);
    }
    if (!strcmp(ext, ".gguf")) return tl_gguf_model_save(m, tok, path, opts->dtype);
    if (tl_dtype_is_quantized(opts->dtype))
        return tl_errorf(TL_E_UNSUPPORTED, "%s: quantized weights (%s) are written to .gguf only", path,
                         tl_dtype_name(opts->dtype));
    /* A directory (existing, or a path without extension) holds the HF pair. */
    if (!strcmp(ext, ".safetensors") || tl_path_is_dir(path) || !*ext)
        return tl_safetensors_save(m, tok, path, opts->dtype);
    return tl_errorf(TL_E_ARG,
                     "%s: unknown output format '%s' (expected .gguf, .bin, .safetensors or a "
                     "directory)",
                     path, ext);
}

tl_status tl_model_save(const tl_model *m, const tl_tokenizer *tok, const char *path) {
    const tl_save_opts defaults = {TL_DTYPE_F32, 0};
    return tl_model_save_opts(m, tok, path, &defaults);
}
