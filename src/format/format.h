/*
 * format: model files in and out. Each format converts between its on-disk
 * layout and tiller's canonical tl_model (model/model.h): llama2.c .bin
 * (llama2c.c), GGUF (gguf.c), safetensors + config.json (safetensors.c), and
 * .npy arrays for activations (npy.c). load.c picks the format by extension
 * or magic. Every reader checks sizes against the file before touching data;
 * every writer goes through tl_out_file (temp + rename).
 */
#ifndef TL_FORMAT_H
#define TL_FORMAT_H

#include "model/model.h"

/* llama2.c checkpoints: version 0 is the legacy header (7 int32, negative vocab =
 * unshared classifier, freq_cis tables), version 1 the "ak42" 256-byte header, f32. */
tl_status tl_llama2c_load(const char *path, tl_model **out);
tl_status tl_llama2c_save(const tl_model *m, const char *path, int version);

#endif /* TL_FORMAT_H */
