/* .npy against numpy: tests/golden/npy/ holds files written by numpy.save
 * (tests/oracle/npy_ref.py). tl_npy_save and the row-streaming writer must
 * produce byte-identical files for the same arrays (so numpy.load reads them),
 * and tl_npy_load must read numpy's files back with the right type, shape and
 * values. Malformed files are in tests/corpus/npy (test_corpus). */
#include <string.h>

#include "format/format.h"
#include "testlib.h"

typedef struct {
    const char *name;
    tl_npy_type type;
    int ndim;
    int64_t shape[4];
} npy_case;

static const npy_case cases[] = {
    {"f4_2x3", TL_NPY_F4, 2, {2, 3}},        {"f4_1x2x3", TL_NPY_F4, 3, {1, 2, 3}},
    {"f4_scalar", TL_NPY_F4, 0, {0}},        {"i4_5", TL_NPY_I4, 1, {5}},
    {"i8_0x4", TL_NPY_I8, 2, {0, 4}},        {"i8_3x2", TL_NPY_I8, 2, {3, 2}},
    {"f4_7x1x1x2", TL_NPY_F4, 4, {7, 1, 1, 2}}, {"f4_1234x1", TL_NPY_F4, 2, {1234, 1}},
};

/* The formulas of npy_ref.py, element i in C order. */
static void *values(const npy_case *c, size_t *count) {
    size_t n = 1;
    for (int i = 0; i < c->ndim; i++) n *= (size_t)c->shape[i];
    *count = n;
    void *v = calloc(n ? n : 1, 8);
    for (size_t i = 0; i < n; i++) {
        if (c->type == TL_NPY_F4) ((float *)v)[i] = (float)(0.5 * (double)i - 1.25);
        else if (c->type == TL_NPY_I4) ((int32_t *)v)[i] = (int32_t)(7 * (int64_t)i - 11);
        else ((int64_t *)v)[i] = (int64_t)i * ((int64_t)1 << 40) - 3;
    }
    return v;
}

static int same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    int same = tl_file_read_all(a, &x, &nx) == TL_OK && tl_file_read_all(b, &y, &ny) == TL_OK &&
               nx == ny && !memcmp(x, y, nx);
    tl_free(x);
    tl_free(y);
    return same;
}

int main(void) {
    const char *tmp = tl_test_tmpdir();
    int identical = 0, streamed = 0, read_ok = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const npy_case *c = &cases[k];
        char golden[256], out[512], out2[512];
        snprintf(golden, sizeof golden, "tests/golden/npy/%s.npy", c->name);
        snprintf(out, sizeof out, "%s/%s.npy", tmp, c->name);
        snprintf(out2, sizeof out2, "%s/%s.streamed.npy", tmp, c->name);
        size_t n;
        void *v = values(c, &n);
        size_t esz = tl_npy_type_size(c->type);

        /* whole-array writer: byte-identical to numpy.save */
        CHECK_OK(tl_npy_save(out, c->type, c->ndim, c->shape, v));
        int same = same_file(out, golden);
        CHECK(same, "%s differs from numpy's %s", out, golden);
        identical += same;

        /* streaming writer: rows appended in uneven chunks */
        if (c->ndim > 0) {
            tl_npy_writer w;
            CHECK_OK(tl_npy_writer_open(&w, out2, c->type, c->ndim, c->shape + 1));
            size_t row = c->shape[0] ? n / (size_t)c->shape[0] : 0;
            for (int64_t r = 0, chunk = 1; r < c->shape[0]; r += chunk, chunk = chunk * 3 % 17 + 1) {
                int64_t take = c->shape[0] - r < chunk ? c->shape[0] - r : chunk;
                CHECK_OK(tl_npy_writer_append(&w, (char *)v + (size_t)r * row * esz, take));
                if (take < chunk) break;
            }
            CHECK(!tl_path_exists(out2), "streamed file visible before commit");
            CHECK_OK(tl_npy_writer_commit(&w));
            int s2 = same_file(out2, golden);
            CHECK(s2, "streamed %s differs from numpy's %s", out2, golden);
            streamed += s2;
        }

        /* reader on numpy's file */
        tl_npy *a = NULL;
        CHECK_OK(tl_npy_load(golden, &a));
        if (a) {
            int shape_ok = a->type == c->type && a->ndim == c->ndim && a->count == n;
            for (int i = 0; i < c->ndim; i++) shape_ok &= a->shape[i] == c->shape[i];
            /* the public accessors of the opaque type say the same */
            int acc_ok = tl_npy_dtype(a) == c->type && tl_npy_ndim(a) == c->ndim && tl_npy_count(a) == n &&
                         tl_npy_data(a) == a->data && tl_npy_dim(a, c->ndim) == 0 && tl_npy_dim(a, -1) == 0;
            for (int i = 0; i < c->ndim; i++) acc_ok &= tl_npy_dim(a, i) == c->shape[i];
            CHECK(acc_ok, "%s: the tl_npy accessors disagree with the layout", golden);
            CHECK(shape_ok, "%s: type %d ndim %d count %zu", golden, a->type, a->ndim, a->count);
            int vals_ok = shape_ok && !memcmp(a->data, v, n * esz);
            CHECK(vals_ok, "%s: values differ", golden);
            read_ok += vals_ok;
        }
        tl_npy_free(a);
        free(v);
    }
    printf("npy: %d/8 saved files byte-identical to numpy.save, %d/7 streamed, %d/8 numpy files read "
           "exactly\n",
           identical, streamed, read_ok);

    /* an aborted streamed file leaves nothing */
    char path[512];
    snprintf(path, sizeof path, "%s/aborted.npy", tmp);
    tl_npy_writer w;
    int64_t row[1] = {3};
    float x[3] = {1, 2, 3};
    CHECK_OK(tl_npy_writer_open(&w, path, TL_NPY_F4, 2, row));
    CHECK_OK(tl_npy_writer_append(&w, x, 1));
    tl_npy_writer_abort(&w);
    CHECK(!tl_path_exists(path), "aborted writer left %s", path);

    /* bad arguments are refused */
    int64_t neg[1] = {-1};
    CHECK(tl_npy_save(path, TL_NPY_F4, 1, neg, x) == TL_E_ARG, "negative dim accepted");
    CHECK(tl_npy_save(path, TL_NPY_F4, 9, row, x) == TL_E_ARG, "9 dims accepted");
    CHECK(!tl_path_exists(path), "refused save left %s", path);
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
