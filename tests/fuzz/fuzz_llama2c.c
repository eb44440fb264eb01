/* libFuzzer target: a llama2.c model .bin (versions 0 and 1; header, sizes, weights). */
#include "format/format.h"
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_model *m = NULL;
    if (tl_model_load(fuzz_file(data, size, "m.bin"), &m, NULL) == TL_OK) tl_model_free(m);
    return 0;
}
