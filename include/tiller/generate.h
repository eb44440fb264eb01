/*
 * tiller/generate.h: a model with a tokenizer: which tokenizer goes with a model (the one its
 * file carries, or one given), and generation (sampling loop with stop rules, decoded text).
 * The model knows token ids only; this layer sits above both tiller/model.h and
 * tiller/tokenizer.h.
 *
 * Example (greedy generation; error handling shortened):
 *
 *     tl_model *m; tl_tokenizer *own; const tl_tokenizer *tok; tl_session *s; tl_sampler *smp;
 *     tl_sampler_params sp = {0, 0, 1, 0}; // temperature 0 = greedy
 *     tl_model_load("stories260K.gguf", &m, &own);    // tiller/format.h: model + its tokenizer
 *     tl_model_pick_tokenizer(m, NULL, own, &tok);     // the one the file carries
 *     tl_session_new(m, 0, 0, &s);
 *     tl_sampler_new(&sp, tl_model_config(m)->vocab_size, &smp);
 *     int32_t *ids; size_t n;
 *     tl_tokenizer_encode(tok, "Once upon a time", 16, TL_TOK_ADD_BOS, &ids, &n);
 *     tl_gen_opts go; tl_gen_opts_default(&go); go.max_new = 50;
 *     tl_generate(s, smp, tok, ids, (int)n, &go, my_print_fn, NULL, NULL);
 *     tl_free(ids); tl_sampler_delete(smp); tl_session_free(s);
 *     tl_tokenizer_free(own); tl_model_free(m);
 *
 * examples/generate.c is this program, compiled and run by the tests.
 */
#ifndef TILLER_GENERATE_H
#define TILLER_GENERATE_H

#include "tiller/model.h"
#include "tiller/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

/* The tokenizer to use with m: `given` (a --tokenizer file) when not NULL, else `own` (the one
 * m's file carries, from tl_model_load). TL_E_ARG "<file> carries no tokenizer: pass one
 * (--tokenizer FILE)" when both are NULL, TL_E_FORMAT when its vocabulary is larger than the
 * model's. *out is borrowed (given or own). */
tl_status tl_model_pick_tokenizer(const tl_model *m, const tl_tokenizer *given, const tl_tokenizer *own,
                                  const tl_tokenizer **out);

/* ---- generation (src/generate/generate.c) ---------------------------------- */

typedef struct {
    int max_new;      /* new tokens at most (the prompt plus these must fit the session's context) */
    int stop_eos;     /* stop at an end-of-generation token (tl_tokenizer_is_eog: EOS, EOT, EOM) */
    int stop_bos;     /* also stop when BOS is sampled (not passed on); off by default, as llama.cpp */
    int stop_newline; /* stop at the first line break once the reply has a non-space byte (not kept) */
} tl_gen_opts;
/* max_new 256, stop at end-of-generation tokens only (as llama.cpp: not at BOS), not at line breaks. */
void tl_gen_opts_default(tl_gen_opts *o);

typedef enum { TL_GEN_STOP_LENGTH = 0, TL_GEN_STOP_EOS, TL_GEN_STOP_NEWLINE, TL_GEN_STOP_CALLER } tl_gen_stop;
typedef struct {
    int n_new;        /* tokens sampled and passed to the callback */
    tl_gen_stop stop; /* which rule ended generation */
    int n_run;        /* tokens run through the model (prompt included; the last sampled token is not run) */
} tl_gen_result;
/* Each new token with the bytes it adds to the text (tl_tokenizer_decode_piece after the previous
 * token, at most 256); return non-zero to stop after it. */
typedef int (*tl_gen_fn)(void *user, int32_t id, const char *text, size_t len);

/* Run the prompt (n_prompt >= 1 ids, usually starting with BOS) from the session's current
 * position, then sample up to o->max_new tokens with smp, handing each to fn (may be NULL).
 * TL_E_RANGE, before any work, when the prompt plus max_new tokens exceed the free context.
 * res (may be NULL) is filled on success and failure alike. */
tl_status tl_generate(tl_session *s, tl_sampler *smp, const tl_tokenizer *tok, const int32_t *prompt, int n_prompt,
                      const tl_gen_opts *o, tl_gen_fn fn, void *user, tl_gen_result *res);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_GENERATE_H */
