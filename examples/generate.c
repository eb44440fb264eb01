/* examples/generate.c: greedy generation with the public API only (include/tiller.h), the
 * example of the header, built against libtiller.so and run by the tests:
 *   example_generate MODEL [TOKENIZER [PROMPT [N]]]   (TOKENIZER "-": the model's own)
 * prints the prompt's continuation and, on stderr, how many tokens it made and why it stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiller.h"

static int print_piece(void *user, int32_t id, const char *text, size_t len) {
    (void)user, (void)id;
    fwrite(text, 1, len, stdout);
    return 0; /* go on */
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 5) {
        fprintf(stderr, "usage: %s MODEL [TOKENIZER [PROMPT [N]]]\n", argv[0]);
        return 2;
    }
    const char *tok_path = argc > 2 && strcmp(argv[2], "-") ? argv[2] : NULL;
    const char *prompt = argc > 3 ? argv[3] : "Once upon a time";
    int n_new = argc > 4 ? atoi(argv[4]) : 40;
    tl_tokenizer *tok_owned = NULL, *tok_file = NULL; /* TOKENIZER's, the model file's */
    tl_model *m = NULL;
    const tl_tokenizer *tok = NULL; /* one of them */
    tl_session *s = NULL;
    tl_sampler *smp = NULL;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    tl_sampler_params greedy = {0.0f, 0, 1.0f, 0}; /* temperature 0: argmax */
    tl_gen_opts go;
    tl_gen_opts_default(&go); /* stop at EOS/BOS */
    go.max_new = n_new;
    tl_gen_result res;
    tl_status st = tl_model_load(argv[1], &m, &tok_file); /* the model and the tokenizer its file carries */
    if (!st && tok_path) st = tl_tokenizer_load(tok_path, &tok_owned);
    if (!st) st = tl_model_pick_tokenizer(m, tok_owned, tok_file, &tok); /* the given one, else the file's */
    if (!st) st = tl_session_new(m, 0, 0, &s);
    if (!st) st = tl_sampler_new(&greedy, tl_model_config(m)->vocab_size, &smp);
    if (!st) st = tl_tokenizer_encode(tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &n_ids);
    if (!st) {
        fputs(prompt, stdout);
        st = tl_generate(s, smp, tok, ids, (int)n_ids, &go, print_piece, NULL, &res);
        putchar('\n');
    }
    if (st) fprintf(stderr, "error: %s (%s)\n", tl_last_error(), tl_status_string(st));
    else fprintf(stderr, "%d tokens, stopped by %s\n", res.n_new, res.stop == TL_GEN_STOP_EOS ? "EOS" : "the length");
    tl_free(ids);
    tl_sampler_delete(smp);
    tl_session_free(s);
    tl_tokenizer_free(tok_owned);
    tl_tokenizer_free(tok_file);
    tl_model_free(m);
    return st ? 1 : 0;
}
