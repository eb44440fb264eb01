/* libFuzzer target: an optimiser state file (optim-<step>.bin; tl_train_state_read)
 * for a model of 64 parameters, the size the fuzzer's seeds are written for. */
#include "fuzz_util.h"
#include "train/checkpoint.h"

#define N 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static float p[N], m[N], v[N];
    tl_train_state st;
    tl_train_state_read(fuzz_file(data, size, "optim-1.bin"), &st, p, m, v, N);
    return 0;
}
