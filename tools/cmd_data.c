/* cmd_data.c: `tiller data` — text / JSONL / ids files -> a token file for `tiller train`. */
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

#define MAX_INPUTS 4096

int tl_cmd_data(int argc, char **argv) {
    const char *tok_path = NULL, *out = NULL;
    float val_frac = 0.05f;
    uint64_t seed = 1337;
    int lines = 0, vocab = 0, verbose = 0;
    const char *inputs[MAX_INPUTS];
    int n_inputs = 0;
    int threads = 0;
    const cli_opt opts[] = {
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer: llama2.c tokenizer.bin, GGUF, or tokenizer.json"},
        {"--output", "-o", OPT_STR, &out, "token file to write (required)"},
        {"--val-frac", NULL, OPT_FLOAT, &val_frac, "fraction of documents held out for validation, chosen by --seed"},
        {"--seed", NULL, OPT_U64, &seed, "seed of the validation split"},
        {"--lines", NULL, OPT_FLAG, &lines, "text files: one document per line (default: per blank-line-separated paragraph)"},
        {"--vocab", NULL, OPT_INT, &vocab, "vocabulary size when every input is a .ids file and there is no tokenizer"},
        CLI_OPT_THREADS(threads),
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    const cli_spec spec = {
        "tiller data [--tokenizer FILE] IN... -o OUT [--val-frac 0.05] [--seed S] [--lines]",
        "Tokenize documents into a memory-mapped token file. Inputs by extension:\n"
        "  .jsonl  one JSON object per line: {\"text\": ...}, or {\"prompt\": ..., \"completion\": ...} for SFT\n"
        "          (the prompt's tokens are marked as not predicted; EOS follows the completion);\n"
        "  .ids    token ids made elsewhere: one document per line, whitespace-separated ids, '|' after the prompt;\n"
        "  other   text: one document per blank-line-separated paragraph (or per line with --lines).\n"
        "Every document starts with BOS (when the vocabulary has one). Tokens are stored as uint16 when the\n"
        "vocabulary has at most 65535 entries, else uint32. Whole documents are held out for validation\n"
        "(at least one when --val-frac > 0).",
        opts, (int)(sizeof opts / sizeof *opts), inputs, MAX_INPUTS, &n_inputs};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (threads < 0) return cli_failf(2, "%s: --threads %d (>= 0)", argv[0], threads);
    cli_set_threads(threads);
    cli_log_init(verbose);
    if (!out) return cli_failf(2, "data: missing -o OUT");
    if (n_inputs == 0) return cli_failf(2, "data: no input files");
    if (!(val_frac >= 0 && val_frac < 1)) return cli_failf(2, "data: --val-frac %g is not in [0, 1)", (double)val_frac);
    if (!tok_path && vocab <= 0) return cli_failf(2, "data: give --tokenizer FILE (or --vocab N for .ids inputs)");
    if (tok_path && vocab) return cli_failf(2, "data: --vocab is only for .ids inputs without a tokenizer");

    tl_tokenizer *tok = NULL;
    if (tok_path && tl_tokenizer_load(tok_path, &tok) != TL_OK) return cli_fail();
    tl_token_builder b;
    if (tl_token_builder_init(&b, tok ? tl_tokenizer_n_vocab(tok) : vocab) != TL_OK) {
        tl_tokenizer_free(tok);
        return cli_fail();
    }
    tl_status s = TL_OK;
    int64_t skipped = 0;
    for (int i = 0; i < n_inputs && s == TL_OK; i++) {
        tl_corpus_opts co = {.lines = lines};
        s = tl_corpus_add_file(&b, tok, inputs[i], &co);
        skipped += co.n_skipped;
        if (s == TL_OK) fprintf(stderr, "%s: %lld documents\n", inputs[i], (long long)co.n_docs);
    }
    if (s == TL_OK) s = tl_token_builder_write(&b, out, val_frac, seed);
    tl_tokenizer_free(tok);
    tl_token_builder_free(&b);
    if (s) return cli_fail();
    tl_token_file *f = NULL;
    if (tl_token_file_open(out, &f) != TL_OK) return cli_fail();
    printf("%s: %lld documents (%lld train, %lld validation), %lld + %lld tokens, %s, vocab %d%s",
           out, (long long)(tl_token_file_n_docs(f, TL_SPLIT_TRAIN) + tl_token_file_n_docs(f, TL_SPLIT_VAL)),
           (long long)tl_token_file_n_docs(f, TL_SPLIT_TRAIN), (long long)tl_token_file_n_docs(f, TL_SPLIT_VAL),
           (long long)tl_token_file_n_tokens(f, TL_SPLIT_TRAIN), (long long)tl_token_file_n_tokens(f, TL_SPLIT_VAL),
           tl_token_file_token_bytes(f) == 2 ? "uint16" : "uint32", tl_token_file_vocab_size(f),
           tl_token_file_has_prompts(f) ? ", with prompt lengths (SFT)" : "");
    if (skipped) printf(", %lld empty documents skipped", (long long)skipped);
    printf("\n");
    tl_token_file_free(f);
    return 0;
}
