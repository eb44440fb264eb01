#define _XOPEN_SOURCE 700 /* nftw */
#include "testlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include "model/model.h" /* internal: cfg.vocab_size */
#include "tiller/base.h"
#include "tiller/model.h"

int tl_test_passed, tl_test_failed;

const char *tl_test_shared(const char *rel) {
    static char buf[4096];
    const char *root = getenv("TILLER_SHARED");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : "../shared", rel);
    return buf;
}

const char *tl_test_tmpdir(void) {
    static char buf[256];
    if (!buf[0]) {
        snprintf(buf, sizeof buf, "/tmp/tiller-test-XXXXXX");
        if (!mkdtemp(buf)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return buf;
}

double tl_test_max_abs(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN propagates as the max */
    }
    return m;
}

double tl_test_max_rel(const float *a, const float *b, size_t n, double floor) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double den = fabs((double)b[i]);
        if (den < floor) den = floor;
        double d = fabs((double)a[i] - (double)b[i]) / den;
        if (!(d <= m)) m = d;
    }
    return m;
}

int tl_test_done(void) {
    printf("%d passed, %d failed\n", tl_test_passed, tl_test_failed);
    return tl_test_failed ? 1 : 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tl_test_rmtree(const char *dir) { return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int tl_test_last_logits(const struct tl_model *m, float *out) {
    static const int32_t ids[16] = {1, 403, 407, 261, 378, 300, 25, 67, 89, 400, 2, 450, 12, 13, 14, 15};
    tl_session *s;
    if (tl_session_new(m, 64, 0, &s)) return 1;
    const float *lg;
    tl_status st = tl_forward(s, ids, 16, &lg);
    if (!st) memcpy(out, lg, sizeof(float) * (size_t)m->cfg.vocab_size);
    tl_session_free(s);
    return st != TL_OK;
}
