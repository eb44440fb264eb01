/* cmd_generate.c: `tiller generate` (placeholder until the tokenizer lands) */
#include "cli.h"
#include "commands.h"
int tl_cmd_generate(int argc, char **argv) { (void)argc; (void)argv; return cli_failf(1, "generate: tokenizer not built yet"); }
int tl_cmd_score(int argc, char **argv) { (void)argc; (void)argv; return cli_failf(1, "score: tokenizer not built yet"); }
