/* libFuzzer target: a NumPy .npy array (tl_npy_load). */
#include "format/format.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_npy *a = NULL;
    if (tl_npy_load(fuzz_file(data, size, "a.npy"), &a) == TL_OK) tl_npy_free(a);
    return 0;
}
