/* cmd_tokenize.c: `tiller tokenize` — text to token ids with any tokenizer
 * tiller reads (llama2.c .bin, GGUF vocabulary or model, HF tokenizer.json). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

/* Print a piece with control bytes escaped, so every token stays on its line. */
static void print_piece(const char *s, size_t n) {
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\\' || c == '\'') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('\'');
}

int tl_cmd_tokenize(int argc, char **argv) {
    const char *tok_path = NULL, *prompt = NULL, *file = NULL;
    int ids_only = 0, bos = 0, special = 0;
    int threads = 0;
    const cli_opt opts[] = {
        {"--tokenizer", NULL, OPT_STR, &tok_path, "tokenizer: .bin (llama2.c), .gguf (vocabulary or model), .json (HF)"},
        CLI_OPT_THREADS(threads),
        {"--prompt", "-p", OPT_STR, &prompt, "text to tokenize"},
        {"--file", "-f", OPT_STR, &file, "file whose whole content is tokenized"},
        {"--ids-only", NULL, OPT_FLAG, &ids_only, "print only the ids, space-separated on one line"},
        {"--bos", NULL, OPT_FLAG, &bos, "prepend the BOS token"},
        {"--special", NULL, OPT_FLAG, &special, "match control tokens such as </s> written in the text"},
    };
    const cli_spec spec = {
        "tiller tokenize --tokenizer FILE (-p TEXT | -f FILE) [--ids-only] [--bos] [--special]",
        "Encode text with a tokenizer and print one token per line: id and piece (the token's stored "
        "text, with control bytes escaped). SentencePiece vocabularies add the dummy-prefix space as "
        "llama.cpp does.",
        opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (threads < 0) return cli_failf(2, "%s: --threads %d (>= 0)", argv[0], threads);
    cli_set_threads(threads);
    if (!tok_path) return cli_failf(2, "tokenize: --tokenizer is required");
    if (!prompt == !file) return cli_failf(2, "tokenize: give exactly one of -p TEXT or -f FILE");
    char *data = NULL;
    size_t len;
    if (file) {
        if (tl_file_read_all(file, &data, &len)) return cli_fail();
    } else {
        len = strlen(prompt);
    }
    tl_tokenizer *t;
    if (tl_tokenizer_load(tok_path, &t)) {
        tl_free(data);
        return cli_fail();
    }
    int32_t *ids;
    size_t n;
    int flags = (bos ? TL_TOK_ADD_BOS : 0) | (special ? TL_TOK_PARSE_SPECIAL : 0);
    if (tl_tokenizer_encode(t, file ? data : prompt, len, flags, &ids, &n)) {
        tl_tokenizer_free(t);
        tl_free(data);
        return cli_fail();
    }
    for (size_t i = 0; i < n; i++) {
        if (ids_only) {
            printf("%s%d", i ? " " : "", ids[i]);
            continue;
        }
        size_t pl;
        const char *piece = tl_tokenizer_piece(t, ids[i], &pl);
        printf("%d\t", ids[i]);
        print_piece(piece, pl);
        putchar('\n');
    }
    if (ids_only) putchar('\n');
    tl_free(ids);
    tl_tokenizer_free(t);
    tl_free(data);
    return 0;
}
