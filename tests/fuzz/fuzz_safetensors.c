/* libFuzzer target: a Hugging Face model directory (model.safetensors + config.json).
 * Input: a 4-byte little-endian length L, L bytes of config.json, then the
 * safetensors file (shorter inputs: all of it is config.json, with no model file). */
#include "format/format.h"
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint32_t len = 0;
    if (size >= 4) memcpy(&len, data, 4);
    size_t cfg_n = size >= 4 && len <= size - 4 ? len : size;
    const uint8_t *cfg = size >= 4 && len <= size - 4 ? data + 4 : data;
    const char *dir = fuzz_scratch();
    char path[160];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    fuzz_file(cfg, cfg_n, "config.json");
    if (cfg == data + 4) fuzz_file(data + 4 + cfg_n, size - 4 - cfg_n, "model.safetensors");
    tl_model *m = NULL;
    if (tl_model_load(dir, &m, NULL) == TL_OK) tl_model_free(m);
    return 0;
}
