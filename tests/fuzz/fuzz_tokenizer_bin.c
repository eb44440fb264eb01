/* libFuzzer target: a llama2.c tokenizer.bin, then an encode and a decode. */
#include "fuzz_util.h"
#include "tiller/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_tokenizer *t = NULL;
    if (tl_tokenizer_load(fuzz_file(data, size, "tokenizer.bin"), &t) != TL_OK) return 0;
    static const char text[] = "Hello </s> w\xc3\xb6rld, it's 2024!\n\t <s>";
    int32_t *ids = NULL;
    size_t n = 0;
    if (tl_tokenizer_encode(t, text, sizeof text - 1, TL_TOK_PARSE_SPECIAL | TL_TOK_ADD_BOS, &ids, &n) == TL_OK) {
        char buf[64];
        for (size_t i = 0; i < n; i++) tl_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
        tl_free(ids);
    }
    tl_tokenizer_free(t);
    return 0;
}
