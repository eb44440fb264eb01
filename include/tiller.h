/*
 * tiller — train, probe, steer and align Llama-family language models, in C11.
 *
 * This is the only public header. Every fallible function returns a tl_status
 * (TL_OK = 0) and passes results through out-parameters; on failure it frees
 * what it allocated, sets the outputs to NULL and records a message naming the
 * file, field and value at fault, readable with tl_last_error() (thread-local).
 *
 * Example: greedy generation with a llama2.c checkpoint
 *
 *     tl_model *m = NULL; tl_tokenizer *tok = NULL; tl_session *s = NULL;
 *     if (tl_model_load("stories260K.bin", &m) != TL_OK ||
 *         tl_tokenizer_load("tok512.bin", &tok) != TL_OK ||
 *         tl_session_new(m, 0, &s) != TL_OK) {
 *         fprintf(stderr, "error: %s\n", tl_last_error());
 *         ...
 *     }
 *     // tl_forward(s, tokens, n, logits) advances the KV cache by n tokens.
 *     tl_session_free(s); tl_tokenizer_free(tok); tl_model_free(m);
 *
 * Modules (see docs/ARCHITECTURE.md): base, kernels, model, format, tokenizer.
 */
#ifndef TILLER_H
#define TILLER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    TL_OK = 0,
    TL_E_IO,          /* a file could not be opened, read or written */
    TL_E_FORMAT,      /* a file's content is malformed */
    TL_E_NOMEM,       /* an allocation failed */
    TL_E_ARG,         /* a caller passed an invalid argument or flag */
    TL_E_RANGE,       /* a size or index is out of range (e.g. prompt longer than context) */
    TL_E_UNSUPPORTED, /* valid input that tiller does not handle (e.g. a quantised tensor type) */
    TL_E_NUMERIC,     /* NaN / inf where a finite value is required */
    TL_E__COUNT
} tl_status;

const char *tl_status_string(tl_status s);
const char *tl_last_error(void);

typedef struct tl_model tl_model;
typedef struct tl_tokenizer tl_tokenizer;
typedef struct tl_session tl_session;

#ifdef __cplusplus
}
#endif
#endif /* TILLER_H */
