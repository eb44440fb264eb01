/* tiller.c: the command-line entry point. `tiller <command> [options]`; each
 * command lives in tools/cmd_<group>.c and is registered in the table below. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
#define TL_COMMAND(name, fn, summary) {name, fn, summary},
#include "commands.def"
#undef TL_COMMAND
};

static void usage(FILE *out) {
    fprintf(out, "usage: tiller <command> [options]   (tiller <command> --help for details)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    cli_omp_wait_policy(argc, argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tiller: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
