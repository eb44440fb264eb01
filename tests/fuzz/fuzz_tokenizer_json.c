/* libFuzzer target: HF tokenizer.json parsing, then an encode. Build as
 * tests/fuzz/fuzz_gguf.c says (with this file), seed with tokenizer.json files
 * tiller wrote (tl_tokenizer_save), run with -max_total_time=60. */
#include <stdint.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_tokenizer *t = NULL;
    if (tl_tokenizer_parse_json((const char *)data, size, "fuzz", &t) != TL_OK) return 0;
    static const char text[] = "Hello </s> wörld, it's 2024!\n\t 🦙";
    int32_t *ids = NULL;
    size_t n = 0;
    if (tl_tokenizer_encode(t, text, sizeof text - 1, TL_TOK_PARSE_SPECIAL, &ids, &n) == TL_OK) tl_free(ids);
    tl_tokenizer_free(t);
    return 0;
}
