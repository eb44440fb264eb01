/* cli.c: option parsing, error printing, logging and progress for the CLI. */
#include "cli.h"
#include "tiller/dist.h"

#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiller.h"

void cli_usage(const cli_spec *spec, FILE *out) {
    fprintf(out, "usage: %s\n\n", spec->usage);
    if (spec->description) fprintf(out, "%s\n\n", spec->description);
    fprintf(out, "options:\n");
    for (int i = 0; i < spec->n_opts; i++) {
        const cli_opt *o = &spec->opts[i];
        char flag[64], def[96] = "";
        const char *arg = o->kind == OPT_STR     ? " S"
                          : o->kind == OPT_INT   ? " N"
                          : o->kind == OPT_FLOAT ? " X"
                          : o->kind == OPT_U64   ? " N"
                                                 : "";
        snprintf(flag, sizeof flag, "%s%s%s%s", o->alias ? o->alias : "", o->alias ? ", " : "", o->name, arg);
        switch (o->kind) {
        case OPT_STR:
            if (*(const char **)o->target) snprintf(def, sizeof def, " (default: %s)", *(const char **)o->target);
            break;
        case OPT_INT: snprintf(def, sizeof def, " (default: %d)", *(int *)o->target); break;
        case OPT_FLOAT: snprintf(def, sizeof def, " (default: %g)", (double)*(float *)o->target); break;
        case OPT_U64: snprintf(def, sizeof def, " (default: %llu)", (unsigned long long)*(uint64_t *)o->target); break;
        case OPT_FLAG: break;
        }
        fprintf(out, "  %-26s %s%s\n", flag, o->help, def);
    }
    fprintf(out, "  %-26s %s\n", "-h, --help", "show this help");
}

static int usage_error(const cli_spec *spec, const char *fmt, const char *arg) {
    fprintf(stderr, "tiller: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: %s  (see --help)\n", spec->usage);
    return 2;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, int *exit_code) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli_usage(spec, stdout);
            *exit_code = 0;
            return 1;
        }
        if (a[0] == '-' && a[1] != 0 && !(a[1] >= '0' && a[1] <= '9')) {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            const cli_opt *o = NULL;
            for (int k = 0; k < spec->n_opts; k++) {
                const cli_opt *c = &spec->opts[k];
                if ((strlen(c->name) == nlen && !strncmp(c->name, a, nlen)) ||
                    (c->alias && strlen(c->alias) == nlen && !strncmp(c->alias, a, nlen))) {
                    o = c;
                    break;
                }
            }
            if (!o) {
                *exit_code = usage_error(spec, "unknown option '%s'", a);
                return 1;
            }
            if (o->kind == OPT_FLAG) {
                if (eq) {
                    *exit_code = usage_error(spec, "option '%s' takes no value", a);
                    return 1;
                }
                *(int *)o->target = 1;
                continue;
            }
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val) {
                *exit_code = usage_error(spec, "option '%s' needs a value", a);
                return 1;
            }
            char *end = NULL;
            errno = 0;
            switch (o->kind) {
            case OPT_STR: *(const char **)o->target = val; break;
            case OPT_INT: {
                long v = strtol(val, &end, 10);
                if (errno || *end || end == val || v < -2147483647L || v > 2147483647L) {
                    /* -t was the tokenizer in data, train, tokenize, convert and reversal before it
                     * became the thread count everywhere: say so instead of only "bad integer". */
                    *exit_code = !strncmp(a, "-t", nlen) && nlen == 2
                                     ? usage_error(spec, "-t is the number of threads (got '%s'); give the tokenizer "
                                                         "with --tokenizer",
                                                   val)
                                     : usage_error(spec, "bad integer '%s'", val);
                    return 1;
                }
                *(int *)o->target = (int)v;
                break;
            }
            case OPT_U64: {
                unsigned long long v = strtoull(val, &end, 10);
                if (errno || *end || end == val || val[0] == '-') {
                    *exit_code = usage_error(spec, "bad unsigned integer '%s'", val);
                    return 1;
                }
                *(uint64_t *)o->target = v;
                break;
            }
            case OPT_FLOAT: {
                float v = strtof(val, &end);
                if (errno || *end || end == val || !isfinite(v)) {
                    *exit_code = usage_error(spec, "bad number '%s'", val);
                    return 1;
                }
                *(float *)o->target = v;
                break;
            }
            default: break;
            }
        } else {
            if (!spec->positional || npos >= spec->max_positional) {
                *exit_code = usage_error(spec, "unexpected argument '%s'", a);
                return 1;
            }
            spec->positional[npos++] = a;
        }
    }
    if (spec->n_positional) *spec->n_positional = npos;
    return 0;
}

int cli_fail(void) {
    /* under mpirun an error every rank agreed on is printed by rank 0 alone (as "rank R: ..."
     * when rank R > 0 met it first) */
    if (tl_dist_rank() > 0 && (tl_dist_failure_agreed() || !strncmp(tl_last_error(), "rank ", 5))) return 1;
    fprintf(stderr, "tiller: error: %s\n", tl_last_error());
    return 1;
}

int cli_failf(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tiller: error: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return code;
}

static void log_stderr(tl_log_level level, const char *msg, void *user) {
    int verbose = (int)(intptr_t)user;
    if (level == TL_LOG_DEBUG && !verbose) return;
    if (level == TL_LOG_INFO && !verbose) return;
    /* under mpirun every rank meets the same warnings: rank 0 speaks for the job (the others
     * only with --verbose, and say which rank they are) */
    int rank = tl_dist_rank();
    if (rank > 0 && !verbose) return;
    char who[32] = "";
    if (rank > 0) snprintf(who, sizeof who, "rank %d: ", rank);
    fprintf(stderr, "tiller: %s%s%s\n", who, level == TL_LOG_WARN ? "warning: " : "", msg);
}

void cli_log_init(int verbose) { tl_log_set(log_stderr, (void *)(intptr_t)verbose); }

/* OpenMP waiting, project-wide (docs/ARCHITECTURE.md, "OpenMP waiting"): idle threads
 * sleep (OMP_WAIT_POLICY=passive) in every command except `bench`, which measures peak
 * speed with libgomp's default spin-then-sleep. On a loaded machine spinning threads steal
 * the cores the working ones need (test_train_learn: 301 s instead of 48 s; the demo's
 * --quick: 126 s instead of 16 s). libgomp reads the variable once, before main, so the
 * process re-executes itself with it set; an explicit OMP_WAIT_POLICY always wins. */
void cli_omp_wait_policy(int argc, char **argv) {
    if (getenv("OMP_WAIT_POLICY") || argc < 2 || !strcmp(argv[1], "bench")) return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv); /* returns only on failure: carry on with the default */
}

const char *cli_shared_path(const char *rel) {
    static char buf[4][4096];
    static int slot;
    char *out = buf[slot++ % 4];
    const char *env = getenv("TILLER_SHARED");
    if (env && *env) { /* explicit: used even when it does not exist, so errors name it */
        snprintf(out, 4096, "%s/%s", env, rel);
        return out;
    }
    snprintf(out, 4096, "../shared/%s", rel); /* from the repository root, as the docs run it */
    if (access(out, F_OK) == 0) return out;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) { /* the binary in <repo>/build/: <repo>/../shared */
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) *slash = 0;
        char cand[4096 + 64];
        snprintf(cand, sizeof cand, "%s/../../shared/%s", exe, rel);
        if (strlen(cand) < 4096 && access(cand, F_OK) == 0) {
            memcpy(out, cand, strlen(cand) + 1);
            return out;
        }
    }
    snprintf(out, 4096, "../shared/%s", rel);
    return out;
}

void cli_set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total) {
    p->label = label;
    p->total = total;
    p->first = 0;
    p->t0 = tl_time_sec();
    p->tty = isatty(2) || getenv("TILLER_PROGRESS") != NULL;
    p->last_draw = p->tty ? 0 : p->t0; /* not a terminal: the first line after one interval */
    p->enabled = 1;
    const char *iv = getenv("TILLER_PROGRESS_SECONDS");
    p->interval = iv && *iv ? atof(iv) : 10.0;
    p->lines = 0;
}

static void fmt_time(char *buf, size_t cap, double s) {
    if (!(s >= 0) || s > 359999) s = 0;
    if (s >= 3600) snprintf(buf, cap, "%d:%02d:%02d", (int)s / 3600, (int)s / 60 % 60, (int)s % 60);
    else snprintf(buf, cap, "%d:%02d", (int)s / 60, (int)s % 60);
}

void cli_progress_update(cli_progress *p, int64_t done, const char *extra) {
    if (!p->enabled) return;
    double now = tl_time_sec();
    if (!p->tty) {
        if (now - p->last_draw < p->interval) return;
        p->last_draw = now;
        p->lines++;
        char el[16], eta[16], pct[160] = "";
        fmt_time(el, sizeof el, now - p->t0);
        if (p->total > 0 && done > p->first) {
            fmt_time(eta, sizeof eta, (now - p->t0) * (double)(p->total - done) / (double)(done - p->first));
            snprintf(pct, sizeof pct, "%d%% %lld/%lld, %s elapsed, eta %s", (int)(100.0 * done / p->total),
                     (long long)done, (long long)p->total, el, eta);
        } else if (p->total > 0) {
            snprintf(pct, sizeof pct, "%lld/%lld, %s elapsed", (long long)done, (long long)p->total, el);
        } else {
            snprintf(pct, sizeof pct, "%lld done, %s elapsed", (long long)done, el);
        }
        fprintf(stderr, "tiller: %s: %s%s%s\n", p->label, pct, extra && *extra ? " " : "", extra ? extra : "");
        fflush(stderr);
        return;
    }
    if (done < p->total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    double frac = p->total > 0 ? (double)done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    char bar[21];
    int fill = (int)(frac * 20);
    for (int i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    char el[16], eta[16];
    fmt_time(el, sizeof el, now - p->t0);
    if (p->total <= 0) { /* unknown total: a count, no bar or ETA */
        fprintf(stderr, "\r%s %lld %s %s\033[K", p->label, (long long)done, el, extra ? extra : "");
        fflush(stderr);
        return;
    }
    fmt_time(eta, sizeof eta,
             done > p->first ? (now - p->t0) * (double)(p->total - done) / (double)(done - p->first) : 0);
    fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %s eta %s %s\033[K", p->label, bar, (int)(frac * 100),
            (long long)done, (long long)p->total, el, eta, extra ? extra : "");
    fflush(stderr);
}

void cli_progress_end(cli_progress *p) {
    if (!p->enabled) return;
    if (p->tty) {
        fprintf(stderr, "\n");
    } else if (p->lines) { /* a log that said "eta" also says when it finished */
        char el[16];
        fmt_time(el, sizeof el, tl_time_sec() - p->t0);
        fprintf(stderr, "tiller: %s: done in %s\n", p->label, el);
    }
}
