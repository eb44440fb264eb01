/* libFuzzer target: a GGUF file loaded as a model (reader, hyper-parameters, tensor
 * shapes and types, the vocabulary it carries, the vocab/embedding check, the
 * non-finite weight check), then one forward position when it loads. */
#include "format/format.h"
#include "fuzz_util.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_model *m = NULL;
    if (tl_model_load(fuzz_file(data, size, "m.gguf"), &m, NULL) == TL_OK) tl_model_free(m);
    return 0;
}
