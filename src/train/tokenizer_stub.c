/*
 * tokenizer_stub.c: TEMPORARY — branch `trainer` only, deleted when the tokenizer
 * (the gguf-tok helper's src/tokenizer/) lands on main. Lets `tiller data` link;
 * loading a tokenizer fails with a clear message until then.
 */
#include "tokenizer/tokenizer.h"

tl_status tl_tokenizer_load(const char *path, tl_tokenizer **out) {
    *out = NULL;
    return tl_errorf(TL_E_UNSUPPORTED, "%s: tokenizers are not built yet", path);
}
tl_tokenizer_kind tl_tokenizer_type(const tl_tokenizer *t) { (void)t; return TL_TOK_SPM; }
int tl_tokenizer_n_vocab(const tl_tokenizer *t) { (void)t; return 0; }
int32_t tl_tokenizer_bos(const tl_tokenizer *t) { (void)t; return -1; }
int32_t tl_tokenizer_eos(const tl_tokenizer *t) { (void)t; return -1; }
tl_status tl_tokenizer_encode(const tl_tokenizer *t, const char *text, size_t len, int add_bos,
                              int32_t **ids, size_t *n_ids) {
    (void)t; (void)text; (void)len; (void)add_bos;
    *ids = NULL;
    *n_ids = 0;
    return tl_errorf(TL_E_UNSUPPORTED, "tokenizers are not built yet");
}
size_t tl_tokenizer_decode_piece(const tl_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap) {
    (void)t; (void)prev; (void)id; (void)buf; (void)cap;
    return 0;
}
