/*
 * tokenizer: text <-> token ids. Two algorithms behind one handle:
 *   - SentencePiece-style BPE with byte fallback (Llama): pieces with scores,
 *     the highest-scoring adjacent pair merged first, unknown bytes as <0xXX>
 *     tokens (spm.c). Encodes exactly like llama.cpp's SPM tokenizer: a dummy
 *     prefix space, spaces as U+2581, special tokens split out first.
 *   - byte-level BPE (GPT-2 style): bytes mapped to printable code points, the
 *     GPT-2 pre-tokenizer regex (matched by hand, unicode.c classes), merges
 *     by rank (bpe.c).
 * Loaded from llama2.c tokenizer.bin, GGUF metadata (tokenizer.ggml.*), or a
 * Hugging Face tokenizer.json; written to GGUF metadata and tokenizer.json.
 *
 * Token types are GGUF's (tokenizer.ggml.token_type): control and unknown
 * tokens are matched in text only with TL_TOK_PARSE_SPECIAL, user-defined
 * tokens always (as llama.cpp does).
 */
#ifndef TL_TOKENIZER_H
#define TL_TOKENIZER_H

#include "base/base.h"

typedef enum { TL_TOK_SPM = 0, TL_TOK_BPE = 1 } tl_tokenizer_kind;

/* GGUF token types. */
typedef enum {
    TL_TOKEN_UNDEFINED = 0,
    TL_TOKEN_NORMAL = 1,
    TL_TOKEN_UNKNOWN = 2,
    TL_TOKEN_CONTROL = 3,
    TL_TOKEN_USER_DEFINED = 4,
    TL_TOKEN_UNUSED = 5,
    TL_TOKEN_BYTE = 6,
} tl_token_type;

/* Flags for tl_tokenizer_encode. TL_TOK_ADD_BOS is 1 so that `add_bos` ints keep working. */
enum {
    TL_TOK_ADD_BOS = 1,       /* prepend BOS (TL_E_ARG when the vocabulary has none) */
    TL_TOK_PARSE_SPECIAL = 2, /* match control/unknown token texts such as "</s>" in the text */
};

/* Load by extension: .bin (llama2.c), .gguf (vocabulary metadata, also a model
 * GGUF carrying one), .json (HF tokenizer.json). */
tl_status tl_tokenizer_load(const char *path, tl_tokenizer **out);
/* Save by extension: .json (HF tokenizer.json), .gguf (vocabulary-only GGUF),
 * .bin (llama2.c tokenizer.bin; SPM only). */
tl_status tl_tokenizer_save(const tl_tokenizer *t, const char *path);
void tl_tokenizer_free(tl_tokenizer *t);

/* GGUF metadata: read tokenizer.ggml.* from an open file, or add them to a writer. */
struct tl_gguf;
struct tl_gguf_writer;
tl_status tl_tokenizer_from_gguf(const struct tl_gguf *g, tl_tokenizer **out);
tl_status tl_tokenizer_write_gguf(const tl_tokenizer *t, struct tl_gguf_writer *w);

/* Format-specific entry points (tl_tokenizer_load/save dispatch to these). */
tl_status tl_tokenizer_load_llama2c(const char *path, tl_tokenizer **out);
tl_status tl_tokenizer_save_llama2c(const tl_tokenizer *t, const char *path);
tl_status tl_tokenizer_load_json(const char *path, tl_tokenizer **out);
/* tokenizer.json from memory (name is used in messages): for fuzzing and embedding. */
tl_status tl_tokenizer_parse_json(const char *data, size_t size, const char *name, tl_tokenizer **out);
tl_status tl_tokenizer_save_json(const tl_tokenizer *t, const char *path);

tl_tokenizer_kind tl_tokenizer_type(const tl_tokenizer *t);
int tl_tokenizer_n_vocab(const tl_tokenizer *t);
int32_t tl_tokenizer_bos(const tl_tokenizer *t); /* -1 when none */
int32_t tl_tokenizer_eos(const tl_tokenizer *t); /* -1 when none */
/* The stored text of a token (SPM pieces use U+2581 for spaces, byte-level BPE
 * its printable code points); NULL for an id out of range. */
const char *tl_tokenizer_piece(const tl_tokenizer *t, int32_t id, size_t *len);
tl_token_type tl_tokenizer_token_type(const tl_tokenizer *t, int32_t id);
/* The id of a token text, -1 when absent. */
int32_t tl_tokenizer_find(const tl_tokenizer *t, const char *text, size_t len);

/* Encode len bytes of text. *ids is allocated with tl_malloc (caller frees with tl_free).
 * flags: TL_TOK_ADD_BOS, TL_TOK_PARSE_SPECIAL. For SPM, a leading space is added to the
 * text the way llama.cpp / sentencepiece do (add_dummy_prefix), and again after each
 * special token found in the text. */
tl_status tl_tokenizer_encode(const tl_tokenizer *t, const char *text, size_t len, int flags,
                              int32_t **ids, size_t *n_ids);

/* The bytes that token `id` contributes to decoded text when it follows `prev`
 * (-1 for none): SPM turns U+2581 into spaces and drops the leading (dummy
 * prefix) space of the first token or the token right after BOS, <0xXX> becomes
 * one byte, byte-level BPE maps code points back to bytes. Control and unknown
 * tokens give nothing. Writes up to cap bytes into buf and returns the full
 * length (more than cap means the piece was cut short, as with snprintf). */
size_t tl_tokenizer_decode_piece(const tl_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap);

#endif /* TL_TOKENIZER_H */
