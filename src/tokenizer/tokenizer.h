/*
 * tokenizer: text <-> token ids. Two algorithms behind one handle:
 *   - SentencePiece-style BPE with byte fallback (Llama): pieces with scores,
 *     merges chosen by score, unknown bytes as <0xXX> tokens;
 *   - byte-level BPE (GPT-2 style): bytes mapped to printable code points, a
 *     pre-tokenizer regex, merges by rank.
 * Loaded from llama2.c tokenizer.bin, GGUF metadata (tokenizer.ggml.*), or a
 * Hugging Face tokenizer.json; written to GGUF metadata and tokenizer.json.
 */
#ifndef TL_TOKENIZER_H
#define TL_TOKENIZER_H

#include "base/base.h"

typedef enum { TL_TOK_SPM = 0, TL_TOK_BPE = 1 } tl_tokenizer_kind;

/* Load by extension: .bin (llama2.c), .gguf (vocabulary metadata), .json (HF tokenizer.json). */
tl_status tl_tokenizer_load(const char *path, tl_tokenizer **out);
void tl_tokenizer_free(tl_tokenizer *t);

tl_tokenizer_kind tl_tokenizer_type(const tl_tokenizer *t);
int tl_tokenizer_n_vocab(const tl_tokenizer *t);
int32_t tl_tokenizer_bos(const tl_tokenizer *t); /* -1 when none */
int32_t tl_tokenizer_eos(const tl_tokenizer *t); /* -1 when none */

/* Encode len bytes of text. *ids is allocated with tl_malloc (caller frees with tl_free).
 * add_bos prepends the BOS token. For SPM, a leading space is added to the text the way
 * llama.cpp / sentencepiece do (add_dummy_prefix). */
tl_status tl_tokenizer_encode(const tl_tokenizer *t, const char *text, size_t len, int add_bos,
                              int32_t **ids, size_t *n_ids);

/* The bytes that token `id` contributes to decoded text when it follows `prev`
 * (-1 for none): SPM drops the leading space right after BOS, <0xXX> becomes one
 * byte, byte-level BPE maps code points back to bytes. Writes up to cap bytes into
 * buf and returns the length (0 for control tokens). */
size_t tl_tokenizer_decode_piece(const tl_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap);

#endif /* TL_TOKENIZER_H */
