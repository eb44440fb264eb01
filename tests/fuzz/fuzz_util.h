/* fuzz_util.h: shared by the libFuzzer harnesses in tests/fuzz. Most of tiller's
 * readers take a path (they map or read the file, so errors can name it): the
 * input is written to a file in a per-process directory under /dev/shm (or /tmp), which is
 * removed at exit. Logging is silenced (warnings for every input would dominate
 * the run time). Built by tests/fuzz/CMakeLists.txt (cmake -DTILLER_FUZZ=ON with
 * clang); run with `make fuzz` (see docs/ARCHITECTURE.md, "Fuzzing"). */
#ifndef TL_FUZZ_UTIL_H
#define TL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static void fuzz_quiet(tl_log_level level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}

static void fuzz_cleanup(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
    if (fuzz_dir[0] && system(cmd) != 0) fprintf(stderr, "fuzz: cannot remove %s\n", fuzz_dir);
}

/* The per-process scratch directory (created on first use). */
static const char *fuzz_scratch(void) {
    if (!fuzz_dir[0]) {
        /* /dev/shm when there is one: on a disk-backed /tmp, writing each input costs ~10x more */
        const char *root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_dir, sizeof fuzz_dir, "%s/tiller-fuzz-%d", root, (int)getpid());
        char cmd[128];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s'", fuzz_dir);
        if (system(cmd) != 0) abort();
        atexit(fuzz_cleanup);
        tl_log_set(fuzz_quiet, NULL);
    }
    return fuzz_dir;
}

/* Write n bytes to <scratch>/<name> and return its path (static buffer per name slot). */
static const char *fuzz_file(const void *data, size_t n, const char *name) {
    static char paths[4][128];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 128, "%s/%s", fuzz_scratch(), name);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f) != 0) abort();
    return p;
}

#endif
