/* load.c: pick a model format by extension (or magic) and dispatch. */
#include <string.h>

#include "format.h"

tl_status tl_model_load(const char *path, tl_model **out) {
    *out = NULL;
    const char *ext = tl_path_ext(path);
    if (!tl_path_exists(path)) return tl_errorf(TL_E_IO, "%s: no such file or directory", path);
    if (!strcmp(ext, ".bin")) return tl_llama2c_load(path, out);
    if (!strcmp(ext, ".gguf")) return tl_gguf_model_load(path, out);
    return tl_errorf(TL_E_UNSUPPORTED,
                     "%s: unknown model format '%s' (expected .gguf, .bin, .safetensors or a "
                     "directory with config.json)",
                     path, ext);
}

tl_status tl_model_save(const tl_model *m, const char *path) {
    const char *ext = tl_path_ext(path);
    if (!strcmp(ext, ".bin")) return tl_llama2c_save(m, path, 0);
    if (!strcmp(ext, ".gguf")) return tl_gguf_model_save(m, path, TL_GGML_F32);
    return tl_errorf(TL_E_ARG, "%s: unknown output format '%s' (expected .gguf, .bin or .safetensors)",
                     path, ext);
}
