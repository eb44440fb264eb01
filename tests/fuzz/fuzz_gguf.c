/* libFuzzer target: the GGUF reader, then the tokenizer built from its
 * metadata, then an encode and a decode. Build and run with clang, outside
 * the normal build (the whole library, instrumented; SIMD kernel files left out):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fopenmp -Iinclude -Isrc -D_DEFAULT_SOURCE \
 *     tests/fuzz/fuzz_gguf.c $(ls src/[a-z]*[a-z]/[a-z]*.c | grep -v _avx) -lcjson -lopenblas -lm -o fuzz_gguf
 *   ./fuzz_gguf -max_total_time=60 tests/corpus/gguf */
#include <stdint.h>
#include <string.h>

#include "format/format.h"
#include "tiller/tokenizer.h"
#include "tokenizer/tok_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_gguf *g = NULL;
    if (tl_gguf_open_memory(data, size, "fuzz", &g) != TL_OK) return 0;
    uint64_t sum = 0; /* read every tensor byte the reader vouches for */
    for (uint64_t i = 0; i < g->n_tensors; i++)
        for (uint64_t j = 0; j < g->tensors[i].nbytes; j += 64) sum += g->tensors[i].data[j];
    tl_tokenizer *t = NULL;
    if (tl_gguf_find(g, "tokenizer.ggml.model") && tl_tokenizer_from_gguf(g, &t) == TL_OK) {
        static const char text[] = "Hello </s> wörld, it's 2024!\n\t 🦙 <|endoftext|>";
        int32_t *ids = NULL;
        size_t n = 0;
        if (tl_tokenizer_encode(t, text, sizeof text - 1, TL_TOK_PARSE_SPECIAL, &ids, &n) == TL_OK) {
            char buf[64];
            for (size_t i = 0; i < n; i++) sum += tl_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf);
        }
        tl_free(ids);
        tl_tokenizer_free(t);
    }
    tl_gguf_close(g);
    return (int)(sum & 0); /* always 0; sum keeps the reads alive */
}
