/* tiller.c: the command-line entry point. `tiller <command> [options]`; each
 * command lives in tools/cmd_<group>.c and is registered in the table below. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "tiller/dist.h"

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
    fprintf(out, "usage: tiller <command> [options]   (tiller <command> --help for details)\n"
                 "       tiller --version                (and whether MPI is built in)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-14s %s\n", commands[i].name, commands[i].summary);
}

/* Commands that split their work across the ranks of `mpirun -np N tiller ...`; any
 * other command would run N times over the same outputs, so it is refused there. */
static int runs_distributed(const char *name) {
    static const char *names[] = {"train", "acts", "probe", "infoplane", "demo"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return 1;
    return 0;
}

static int run_command(const command *c, int argc, char **argv) {
    if (tl_dist_init(&argc, &argv)) return cli_fail();
    int code;
    if (tl_dist_size() > 1 && !runs_distributed(c->name)) /* every rank refuses; rank 0 says so */
        code = tl_dist_rank() ? 2
                              : cli_failf(2, "'%s' does not run under mpirun with %d ranks (train, acts, probe, "
                                          "infoplane and demo do)", c->name, tl_dist_size());
    else
        code = c->run(argc - 1, argv + 1);
    /* ranks that all end finalize together; one that failed alone stops the others (dist.h) */
    return tl_dist_exit(code);
}

int main(int argc, char **argv) {
    cli_omp_wait_policy(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("tiller\nMPI: %s%s\n", tl_dist_built_in() ? "built in, " : "", tl_dist_library());
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return run_command(&commands[i], argc, argv);
    fprintf(stderr, "tiller: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
