/* libFuzzer target: a token file (tiller data output; tl_token_file_open), then
 * every token and document offset the reader vouches for is read. */
#include "fuzz_util.h"
#include "tiller/train.h"
#include "train/token_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_token_file *f = NULL;
    if (tl_token_file_open(fuzz_file(data, size, "d.tok"), &f) != TL_OK) return 0;
    int64_t sum = 0, n = f->n_tokens[0] + f->n_tokens[1], docs = f->n_docs[0] + f->n_docs[1];
    for (int64_t i = 0; i < n; i++) sum += tl_token_file_at(f, i);
    for (int64_t d = 0; d <= docs; d++) sum += (int64_t)f->doc_off[d];
    if (f->prompt_len)
        for (int64_t d = 0; d < docs; d++) sum += f->prompt_len[d];
    tl_token_file_free(f);
    return (int)(sum & 0);
}
