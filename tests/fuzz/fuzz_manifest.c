/* libFuzzer target: a training run's manifest.json, read by `train --resume`
 * (settings, checkpoint list, resume point). The run directory holds nothing else,
 * so a manifest that passes every check stops at its missing data or model file. */
#include "fuzz_util.h"
#include "tiller/train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_file(data, size, "manifest.json");
    tl_train_opts o;
    tl_train_opts_defaults(&o);
    o.resume_dir = fuzz_scratch();
    tl_train_run(&o);
    return 0;
}
