/* libFuzzer target: CSV files: a probing dataset (statement,label; tl_dataset_load)
 * and steering pairs from a .csv (tl_steer_data_load). */
#include "tiller/analysis.h"
#include "tiller/steer.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size, "d.csv");
    tl_dataset *d = NULL;
    if (tl_dataset_load(path, &d) == TL_OK) tl_dataset_free(d);
    tl_steer_data *p = NULL;
    if (tl_steer_data_load(path, NULL, 0, &p) == TL_OK) tl_steer_data_free(p);
    return 0;
}
