/* pretok.h: the BPE pre-tokenizers (tokenizer.ggml.pre), which cut text into
 * words before byte-level BPE merges them (pretok.c). */
#ifndef TL_PRETOK_H
#define TL_PRETOK_H

#include "base/base.h"

typedef enum {
    TL_PRE_GPT2,           /* gpt-2, mpt */
    TL_PRE_DEFAULT,        /* a GGUF without tokenizer.ggml.pre (e.g. GPT-NeoX), as llama.cpp reads it */
    TL_PRE_LLAMA3,         /* llama-bpe (Llama 3) */
    TL_PRE_QWEN2,          /* qwen2 */
    TL_PRE_FALCON,         /* falcon */
    TL_PRE_STARCODER,      /* starcoder, refact */
    TL_PRE_DEEPSEEK_LLM,   /* deepseek-llm */
    TL_PRE_DEEPSEEK_CODER, /* deepseek-coder */
} tl_pretok_kind;

/* Look a tokenizer.ggml.pre name up: 1 and its kind (and whether whole words that are
 * tokens skip the merges, as llama.cpp does for Llama 3), or 0 when tiller lacks it. */
int tl_pretok_lookup(const char *name, size_t n, tl_pretok_kind *kind, int *ignore_merges);
/* The names tl_pretok_lookup knows, for error messages. */
const char *tl_pretok_supported(void);
/* Cut text into words; fn(user, word, n) for each, in order. Words are
 * re-encoded from decoded code points (invalid bytes -> U+FFFD). */
tl_status tl_pretok_split(tl_pretok_kind kind, const char *text, size_t len,
                          void (*fn)(void *user, const char *w, size_t n), void *user);

#endif
