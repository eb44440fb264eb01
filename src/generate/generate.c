/* generate.c: the sampling loop shared by `tiller generate`, the eval harness and the demo:
 * prompt through the session, then sample, decode and forward one token at a time until a
 * stop rule fires. */
#include <string.h>

#include "base/base.h"
#include "tiller/generate.h"

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

void tl_gen_opts_default(tl_gen_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_new = 256;
    o->stop_eos = 1;
    o->stop_bos = 0; /* as llama.cpp: end-of-generation tokens only; a caller may opt in */
}

tl_status tl_generate(tl_session *s, tl_sampler *smp, const tl_tokenizer *tok, const int32_t *prompt, int n_prompt,
                      const tl_gen_opts *o, tl_gen_fn fn, void *user, tl_gen_result *res) {
    tl_gen_result r = {0, TL_GEN_STOP_LENGTH, 0};
    if (res) *res = r;
    if (!s || !smp || !tok || !prompt || n_prompt < 1 || !o)
        return tl_errorf(TL_E_ARG, "generate: needs a session, a sampler, a tokenizer and a non-empty prompt");
    if (o->max_new < 0) return tl_errorf(TL_E_ARG, "generate: max_new %d < 0", o->max_new);
    /* The whole prompt and every new token must fit: never shorten the request silently. */
    int free_ctx = tl_session_n_ctx(s) - tl_session_pos(s);
    if ((int64_t)n_prompt + o->max_new > (int64_t)free_ctx)
        return tl_errorf(TL_E_RANGE, "prompt (%d tokens) + %d new tokens exceed the context of %d", n_prompt,
                         o->max_new, free_ctx);
    const float *logits;
    tl_status st = tl_forward(s, prompt, n_prompt, &logits);
    if (st) return st;
    r.n_run = n_prompt;
    int32_t prev = prompt[n_prompt - 1], bos = tl_tokenizer_bos(tok);
    int begun = 0; /* the reply has a non-space byte (stop_newline) */
    for (int k = 0; k < o->max_new; k++) {
        int32_t next = tl_sampler_sample(smp, logits);
        if ((o->stop_eos && tl_tokenizer_is_eog(tok, next)) || (o->stop_bos && next == bos && bos >= 0)) {
            r.stop = TL_GEN_STOP_EOS;
            break;
        }
        char piece[256];
        size_t n = tl_tokenizer_decode_piece(tok, prev, next, piece, sizeof piece);
        if (n > sizeof piece) n = sizeof piece; /* pieces are short; a longer one is cut */
        int newline = 0;
        if (o->stop_newline)
            for (size_t i = 0; i < n; i++) {
                if (piece[i] == '\n' && begun) {
                    n = i; /* the line break is not kept */
                    newline = 1;
                    break;
                }
                if (!is_space(piece[i])) begun = 1;
            }
        r.n_new++;
        if (fn && fn(user, next, piece, n)) {
            r.stop = TL_GEN_STOP_CALLER;
            break;
        }
        if (newline) {
            r.stop = TL_GEN_STOP_NEWLINE;
            break;
        }
        prev = next;
        if (k + 1 < o->max_new) {
            if ((st = tl_forward(s, &next, 1, &logits))) break;
            r.n_run++;
        }
    }
    if (res) *res = r;
    return st;
}
