/* tokenizer.c: the tokenizer handle (being filled in: see tokenizer.h). */
#include "tokenizer.h"

struct tl_tokenizer {
    int kind;
};

void tl_tokenizer_free(tl_tokenizer *t) { tl_free(t); }
