/* libFuzzer target: JSONL files: training documents ({"text"} or {"prompt",
 * "completion"}, tokenised with a small SentencePiece vocabulary from
 * tests/corpus/tokenizer/ok.bin, or the stories260K one when TILLER_SHARED is set)
 * and steering pairs ({"prompt","safe","unsafe"} or {"chosen","rejected"}). */
#include "tiller/steer.h"
#include "fuzz_util.h"
#include "tiller/tokenizer.h"
#include "tiller/train.h"

static tl_tokenizer *tok;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!tok && tl_tokenizer_load("tests/corpus/tokenizer/ok.bin", &tok) != TL_OK) {
        fprintf(stderr, "fuzz_jsonl: run from the repository root (%s)\n", tl_last_error());
        abort();
    }
    const char *path = fuzz_file(data, size, "d.jsonl");
    tl_token_builder b;
    if (tl_token_builder_init(&b, tl_tokenizer_n_vocab(tok)) == TL_OK) {
        tl_corpus_opts o = {0};
        tl_corpus_add_file(&b, tok, path, &o);
        tl_token_builder_free(&b);
    }
    tl_steer_data *p = NULL;
    if (tl_steer_data_load(path, NULL, 0, &p) == TL_OK) tl_steer_data_free(p);
    return 0;
}
