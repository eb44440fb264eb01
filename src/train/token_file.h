/* token_file.h (internal): the layout of an opened token file (data.c), read by the
 * trainer, the demo and the tests; callers of the public API use the accessors of
 * tiller/train.h. */
#ifndef TL_TRAIN_TOKEN_FILE_H
#define TL_TRAIN_TOKEN_FILE_H

#include "base/base.h"
#include "tiller/train.h"

struct tl_token_file {
    char *path;              /* owned, for messages */
    tl_file_map map;
    int token_bytes;         /* 2 or 4 */
    int vocab_size;
    uint32_t flags;
    uint64_t split_seed;
    int64_t n_docs[2];       /* per split */
    int64_t n_tokens[2];     /* per split */
    int64_t doc0[2];         /* index of the split's first document */
    const uint64_t *doc_off; /* [n_docs + 1] into the mapping */
    const uint32_t *prompt_len; /* [n_docs] or NULL */
    const void *tokens;      /* [n_tokens] uint16 or uint32 */
    uint64_t fingerprint;    /* hash of the whole file: resume checks it is the same data */
};

#endif /* TL_TRAIN_TOKEN_FILE_H */
