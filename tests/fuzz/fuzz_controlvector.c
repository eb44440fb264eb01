/* libFuzzer target: a llama.cpp control-vector GGUF (tl_steer_load). */
#include "tiller/steer.h"
#include "control/steer_vec.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_steer_vec *v = NULL;
    if (tl_steer_load(fuzz_file(data, size, "v.gguf"), &v) == TL_OK) tl_steer_vec_free(v);
    return 0;
}
