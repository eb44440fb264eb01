/* testlib.h: a ~30-line test framework. Every check that fails prints where and
 * why and makes the test exit 1; tl_test_done prints "N passed, M failed". */
#ifndef TL_TESTLIB_H
#define TL_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

extern int tl_test_passed, tl_test_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            tl_test_passed++;                                                                      \
        } else {                                                                                   \
            tl_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        tl_status st_ = (expr);                                                                    \
        CHECK(st_ == TL_OK, "%s -> %s: %s", #expr, tl_status_string(st_), tl_last_error());         \
    } while (0)

/* Path of a file under the shared folder (../shared by default, or $TILLER_SHARED). */
const char *tl_test_shared(const char *rel);
/* A fresh temporary directory for this test (removed by the caller if wanted). */
const char *tl_test_tmpdir(void);
/* Max |a-b| and max |a-b| / max(|b|, floor) over n values. */
double tl_test_max_abs(const float *a, const float *b, size_t n);
double tl_test_max_rel(const float *a, const float *b, size_t n, double floor);
int tl_test_done(void);
/* The logits after a fixed 16-token prompt (ids < 512: the stories260K vocabulary) in a fresh
 * session: out gets the last position's vocab_size values; 0 on success. The model tests compare
 * two loads or two formats of one model with it. */
struct tl_model;
int tl_test_last_logits(const struct tl_model *m, float *out);
/* Remove a directory tree (a test's tmpdir when it is done); 0 on success. */
int tl_test_rmtree(const char *dir);

#endif
