/* cmd_tokenizer.c: `tiller tokenizer <subcommand>` — tokenizer tools. For now
 * `train`: learn a SentencePiece-style BPE vocabulary (byte fallback, as
 * Llama's) from text files and write it as GGUF, tokenizer.json or llama2.c
 * tokenizer.bin. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller.h"

#define MAX_INPUTS 1024

static void on_progress(void *user, int done, int total) {
    cli_progress *p = user;
    p->total = total; /* known once the base characters are chosen */
    cli_progress_update(p, done, "merges");
}

static int cmd_train(int argc, char **argv) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    const char *out = NULL, *coverage = "0.9995";
    uint64_t min_count = (uint64_t)o.min_char_count;
    int verbose = 0;
    const char *inputs[MAX_INPUTS];
    int n_in = 0;
    int threads = 0;
    const cli_opt opts[] = {
        {"--vocab-size", "-n", OPT_INT, &o.vocab_size,
         "tokens in all: 259 reserved (<unk> <s> </s>, 256 byte tokens) + base characters + merges"},
        {"--out", "-o", OPT_STR, &out,
         "FILE.gguf, FILE.json or FILE.bin writes that one file; any other PATH is a prefix for all three"},
        {"--character-coverage", NULL, OPT_STR, &coverage,
         "share of character occurrences the base characters must cover (0..1); the rest use byte tokens"},
        {"--min-char-count", NULL, OPT_U64, &min_count, "a base character must occur at least this often"},
        {"--max-piece-length", NULL, OPT_INT, &o.max_piece_chars, "longest piece, in characters (2..64)"},
        {"--split-digits", NULL, OPT_FLAG, &o.split_digits, "never merge digits (each digit its own token, as Llama)"},
        CLI_OPT_THREADS(threads),
        {"--verbose", "-v", OPT_FLAG, &verbose, "log details"},
    };
    const cli_spec spec = {
        "tiller tokenizer train FILE... --vocab-size N --out PATH [options]",
        "Train a SentencePiece-style BPE tokenizer with byte fallback (the kind Llama uses) on text files. "
        "A .jsonl file gives one text per line from {\"text\"} or {\"prompt\", \"completion\"} (concatenated); "
        "any other file is one text. Each text gets the dummy-prefix space and spaces become U+2581, as the "
        "encoder does; words split at spaces and where the character class changes (letters, digits, "
        "punctuation, other whitespace), so pieces never cross words except for their leading U+2581. "
        "The vocabulary is <unk>, <s>, </s>, <0x00>..<0xFF>, the merged pieces in merge order (score = "
        "-rank), then the base characters; tiller's and llama.cpp's SentencePiece encoders reproduce the "
        "trainer's segmentation. Training is deterministic: the same files and options give the same bytes. "
        "If the corpus runs out of pairs to merge, the vocabulary is smaller than asked and a warning says so.",
        opts, (int)(sizeof opts / sizeof *opts), inputs, MAX_INPUTS, &n_in};
    int code;
    if (cli_parse(&spec, argc, argv, &code)) return code;
    if (threads < 0) return cli_failf(2, "%s: --threads %d (>= 0)", argv[0], threads);
    cli_set_threads(threads);
    cli_log_init(verbose);
    if (!n_in) return cli_failf(2, "tokenizer train: give at least one input FILE (see --help)");
    if (!out || !*out) return cli_failf(2, "tokenizer train: --out PATH is required (see --help)");
    char *end;
    errno = 0;
    o.char_coverage = strtod(coverage, &end);
    if (errno || end == coverage || *end)
        return cli_failf(2, "tokenizer train: --character-coverage '%s' is not a number", coverage);
    if (min_count > INT64_MAX) return cli_failf(2, "tokenizer train: --min-char-count %llu is too large",
                                                (unsigned long long)min_count);
    o.min_char_count = (int64_t)min_count;
    if (tl_bpe_train_opts_check(&o)) return cli_failf(2, "tokenizer train: %s", tl_last_error());

    /* the output paths, checked before any work */
    const char *ext = tl_path_ext(out);
    int one = !strcmp(ext, ".gguf") || !strcmp(ext, ".json") || !strcmp(ext, ".bin");
    char *paths[3] = {NULL, NULL, NULL};
    int n_out = one ? 1 : 3;
    static const char *const exts[3] = {".gguf", ".json", ".bin"};
    for (int i = 0; i < n_out; i++) {
        size_t n = strlen(out) + 8;
        paths[i] = malloc(n);
        if (!paths[i]) return cli_failf(1, "out of memory");
        snprintf(paths[i], n, "%s%s", out, one ? "" : exts[i]);
    }
    int rc = 1;
    tl_bpe_trainer *tr = NULL;
    tl_tokenizer *t = NULL;
    cli_progress prog;
    cli_progress_start(&prog, "tokenizer train", 1);
    o.progress = on_progress;
    o.user = &prog;
    if (tl_bpe_trainer_new(&o, &tr)) goto done;
    for (int i = 0; i < n_in; i++)
        if (tl_bpe_trainer_add_file(tr, inputs[i])) goto done;
    tl_status s = tl_bpe_trainer_run(tr, &t);
    cli_progress_end(&prog);
    if (s) goto done;
    if (tl_tokenizer_save_all(t, (const char *const *)paths, n_out)) goto done;
    tl_bpe_train_stats st;
    tl_bpe_trainer_stats(tr, &st);
    printf("tokenizer: %d tokens (259 reserved, %d base characters, %d merges) in %.2f s\n", st.n_vocab,
           st.n_base_chars, st.n_merges, st.seconds);
    printf("corpus: %d file%s, %lld texts, %.2f MB, %lld words (%lld distinct), %lld characters (%lld distinct, "
           "coverage %.5f)\n",
           n_in, n_in == 1 ? "" : "s", (long long)st.n_texts, st.n_bytes / 1e6, (long long)st.n_words,
           (long long)st.n_unique_words, (long long)st.n_chars, (long long)st.n_distinct_chars, st.coverage);
    printf("compression: %lld tokens, %.3f bytes per token on the training text\n", (long long)st.n_tokens,
           st.n_tokens ? (double)st.n_bytes / (double)st.n_tokens : 0.0);
    for (int i = 0; i < n_out; i++) printf("wrote %s\n", paths[i]);
    rc = 0;
done:
    if (rc) cli_fail();
    tl_tokenizer_free(t);
    tl_bpe_trainer_free(tr);
    for (int i = 0; i < 3; i++) free(paths[i]);
    return rc;
}

int tl_cmd_tokenizer(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train")) return cmd_train(argc - 1, argv + 1);
    FILE *f = argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) ? stdout : stderr;
    fprintf(f, "usage: tiller tokenizer <subcommand> [options]   (tiller tokenizer <subcommand> --help)\n\n"
               "subcommands:\n"
               "  train    train a SentencePiece-style BPE tokenizer (byte fallback) on text files\n");
    if (f == stdout) return 0;
    if (argc >= 2) fprintf(stderr, "tiller: unknown tokenizer subcommand '%s'\n", argv[1]);
    return 2;
}
