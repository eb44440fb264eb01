/*
 * cli.h: shared plumbing for the tiller command line. Each command group lives
 * in tools/cmd_<group>.c and exposes `int tl_cmd_<name>(int argc, char **argv)`
 * (argv[0] is the command name), registered in the table in tools/tiller.c.
 * Commands parse, call the library, print. No algorithms here.
 *
 * Exit codes: 0 ok, 1 error (printed as "tiller: error: <msg>"), 2 usage.
 */
#ifndef TL_CLI_H
#define TL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "tiller.h"

/* A declarative option table: parse_args fills the targets, rejects unknown flags
 * and bad values (never clamps), and handles -h/--help by printing usage. */
typedef enum { OPT_STR, OPT_INT, OPT_FLOAT, OPT_U64, OPT_FLAG } opt_kind;
typedef struct {
    const char *name;  /* "--temp" */
    const char *alias; /* "-t" or NULL */
    opt_kind kind;
    void *target;      /* const char ** | int * | float * | uint64_t * | int * */
    const char *help;  /* one line; the default is shown from the target's initial value */
} cli_opt;

typedef struct {
    const char *usage;       /* "tiller generate -m MODEL -p PROMPT [options]" */
    const char *description; /* a paragraph */
    const cli_opt *opts;
    int n_opts;
    const char **positional; /* receives positional args (may be NULL) */
    int max_positional;
    int *n_positional;
} cli_spec;

/* The thread-count row every command has: -t is always threads (the tokenizer is --tokenizer). */
#define CLI_OPT_THREADS(var) {"--threads", "-t", OPT_INT, &(var), "threads (0 = all cores)"}

/* Returns 0 to continue, or the exit code to return now (0 after --help, 2 on a usage error). */
int cli_parse(const cli_spec *spec, int argc, char **argv, int *exit_code);
void cli_usage(const cli_spec *spec, FILE *out);

/* Print "tiller: error: <last error>" and return 1. */
int cli_fail(void);
/* Print "tiller: error: <formatted>" and return code. */
int cli_failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Install a stderr log sink honoring --verbose. */
void cli_log_init(int verbose);
/* Re-execute with OMP_WAIT_POLICY=passive unless it is set or the command is bench
 * (call first thing in main; see cli.c). */
void cli_omp_wait_policy(int argc, char **argv);
/* A default path inside the shared folder: $TILLER_SHARED/rel when set, else ../shared/rel
 * when it exists from the working directory, else beside the repository of the running
 * binary (<repo>/build/tiller -> <repo>/../shared/rel), else ../shared/rel. */
const char *cli_shared_path(const char *rel);
/* Set the OpenMP thread count (0 = all cores). */
void cli_set_threads(int n);

/* Progress on stderr. On a terminal (or when TILLER_PROGRESS is set) a bar redrawn in
 * place: "label [#####.....] 45% 123/456 0:05 eta 0:12 <extra>". Otherwise (a log file,
 * a pipe, CI) one plain line every TILLER_PROGRESS_SECONDS (default 10) seconds:
 * "tiller: label: 45% 123/456, 0:10 elapsed, eta 0:12 <extra>", so long commands are
 * never silent. total 0 = unknown (no percentage or ETA). `first` (0 after start) is the
 * count already done when timing began, so a resumed job's ETA uses only its own rate. */
typedef struct {
    const char *label;
    int64_t total, first;
    double t0, last_draw;
    int enabled;
    int tty;         /* bar redrawn in place, else periodic lines */
    double interval; /* seconds between lines when not a terminal */
    int lines;       /* lines printed (not a terminal) */
} cli_progress;
void cli_progress_start(cli_progress *p, const char *label, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done, const char *extra);
void cli_progress_end(cli_progress *p);

#endif
