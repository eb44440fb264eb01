/* tok_gguf.h: a tokenizer inside a GGUF file (tokenizer.ggml.* metadata), for the model
 * formats (src/format/gguf_model.c) and the tokenizer's own .gguf loader (tok_gguf.c). */
#ifndef TL_TOK_GGUF_H
#define TL_TOK_GGUF_H

#include "gguf/gguf.h"
#include "tiller/tokenizer.h"

/* GGUF metadata: read tokenizer.ggml.* from an open file, or add them to a writer. */
struct tl_gguf;
struct tl_gguf_writer;
tl_status tl_tokenizer_from_gguf(const struct tl_gguf *g, tl_tokenizer **out);
tl_status tl_tokenizer_write_gguf(const tl_tokenizer *t, struct tl_gguf_writer *w);

#endif /* TL_TOK_GGUF_H */
