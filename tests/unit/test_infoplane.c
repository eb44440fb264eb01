/* Information-plane estimators against numpy (tests/oracle/infoplane_ref.py ->
 * tests/golden/infoplane): binning symbol counts exactly, entropies and
 * mutual informations to 1e-12 bits, normalised HSIC to 1e-6 relative (both the
 * Cholesky/Sherman-Morrison route and the literal LU formula). Plus entropy
 * identities on hand-made labellings and bad inputs. */
#include <cjson/cJSON.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "testlib.h"

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }

static int cmp_desc(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

static double *load_std(const char *name, const char *what, int *n, int *d) {
    char path[256];
    snprintf(path, sizeof path, "tests/golden/infoplane/%s_%s.npy", name, what);
    tl_npy *a = NULL;
    CHECK_OK(tl_npy_load(path, &a));
    if (!a) return NULL;
    *n = (int)a->shape[0];
    *d = (int)a->shape[1];
    double *Z = malloc(sizeof(double) * a->count);
    tl_standardize(a->data, *n, *d, Z);
    tl_npy_free(a);
    return Z;
}

/* Sorted symbol counts of T equal the golden's, element for element. */
static int same_counts(const int32_t *ids, int m, int n_sym, const cJSON *want) {
    int *count = calloc((size_t)m, sizeof *count);
    for (int i = 0; i < m; i++) count[ids[i]]++;
    qsort(count, (size_t)n_sym, sizeof *count, cmp_desc);
    int ok = cJSON_GetArraySize(want) == n_sym;
    for (int i = 0; ok && i < n_sym; i++) ok = count[i] == cJSON_GetArrayItem(want, i)->valueint;
    free(count);
    return ok;
}

int main(void) {
    char *text;
    size_t size;
    CHECK_OK(tl_file_read_all("tests/golden/infoplane/golden.json", &text, &size));
    cJSON *golden = text ? cJSON_Parse(text) : NULL;
    tl_free(text);
    CHECK(golden != NULL, "golden.json does not parse");
    if (!golden) return tl_test_done();
    double worst_bits = 0, worst_hsic = 0, worst_lu = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(golden, "cases")) {
        const char *name = c->string;
        int n, dx, dt, nt, ny, one;
        double *X = load_std(name, "X", &n, &dx), *T = load_std(name, "T", &nt, &dt);
        char path[256];
        snprintf(path, sizeof path, "tests/golden/infoplane/%s_y.npy", name);
        tl_npy *Y = NULL;
        CHECK_OK(tl_npy_load(path, &Y));
        if (!X || !T || !Y) continue;
        ny = (int)Y->shape[0];
        one = 1;
        int m = (int)num(c, "m");
        CHECK(n == nt && n == ny && m == (int)(0.8 * n), "%s: row counts", name);
        const int64_t *y = Y->data;
        int32_t *x_exact = malloc(sizeof(int32_t) * m), *x_bin = malloc(sizeof(int32_t) * m),
                *t_ids = malloc(sizeof(int32_t) * m);
        int n_x;
        CHECK_OK(tl_symbols_exact(X, m, dx, x_exact, &n_x));
        for (int variant = 0; variant < 2; variant++) {
            const cJSON *list =
                cJSON_GetObjectItemCaseSensitive(c, variant ? "binning_binned_x" : "binning_exact_x"), *g;
            cJSON_ArrayForEach(g, list) {
                int k = (int)num(g, "k"), B = (int)num(g, "B"), n_t;
                const int32_t *xs = x_exact;
                if (variant) {
                    CHECK_OK(tl_binned_symbols(X, m, dx, k, B, x_bin, &n_x));
                    xs = x_bin;
                }
                tl_binning_result r;
                CHECK_OK(tl_binning_estimate(T, xs, y, m, dt, k, B, &r));
                CHECK_OK(tl_binned_symbols(T, m, dt, k, B, t_ids, &n_t));
                CHECK(r.n_sym_t == (int)num(g, "n_sym_t") && n_t == r.n_sym_t && r.n_sym_x == (int)num(g, "n_sym_x"),
                      "%s k=%d B=%d: %d / %d symbols, numpy %d / %d", name, k, B, r.n_sym_t, r.n_sym_x,
                      (int)num(g, "n_sym_t"), (int)num(g, "n_sym_x"));
                CHECK(same_counts(t_ids, m, n_t, cJSON_GetObjectItemCaseSensitive(g, "t_counts")),
                      "%s k=%d B=%d: symbol counts of T differ from numpy's", name, k, B);
                double e = 0, got[5] = {r.h_t, r.h_x, r.h_y, r.i_xt, r.i_yt};
                const char *keys[5] = {"h_t", "h_x", "h_y", "i_xt", "i_yt"};
                for (int i = 0; i < 5; i++) e = fmax(e, fabs(got[i] - num(g, keys[i])));
                worst_bits = fmax(worst_bits, e);
                CHECK(e < 1e-12, "%s k=%d B=%d %s X: entropies differ by %.3g bits", name, k, B,
                      variant ? "binned" : "exact", e);
                if (variant == 0 && k == 2)
                    printf("%-5s binning k=%d B=%d: H(T) %.6f I(X;T) %.6f I(T;Y) %.6f, %d symbols (numpy: same "
                           "counts, max diff %.1e bits)\n", name, k, B, r.h_t, r.i_xt, r.i_yt, r.n_sym_t, e);
            }
        }
        /* HSIC: the label column is a variable of width 1 */
        double *yd = malloc(sizeof(double) * m), *Rx = malloc(sizeof(double) * m * m),
               *Ry = malloc(sizeof(double) * m * m), *Rt = malloc(sizeof(double) * m * m);
        for (int i = 0; i < m; i++) yd[i] = (double)y[i];
        const cJSON *g;
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(c, "hsic")) {
            double sigma = num(g, "sigma"), eps = num(g, "eps");
            for (int route = 0; route < 2; route++) {
                tl_status (*fn)(const double *, int, int, double, double, double *) = route ? tl_hsic_r_lu : tl_hsic_r;
                CHECK_OK(fn(X, m, dx, sigma, eps, Rx));
                CHECK_OK(fn(yd, m, one, sigma, eps, Ry));
                CHECK_OK(fn(T, m, dt, sigma, eps, Rt));
                double ixt = tl_hsic_pair(Rx, Rt, m), iyt = tl_hsic_pair(Ry, Rt, m);
                double ex = fabs(ixt - num(g, "i_xt")) / fabs(num(g, "i_xt")),
                       ey = fabs(iyt - num(g, "i_yt")) / fabs(num(g, "i_yt")), e = fmax(ex, ey);
                if (route) worst_lu = fmax(worst_lu, e);
                else worst_hsic = fmax(worst_hsic, e);
                CHECK(e < 1e-6, "%s sigma %g %s: I(X;T) %.9f I(Y;T) %.9f, numpy %.9f %.9f (rel %.2e)", name, sigma,
                      route ? "LU" : "Cholesky", ixt, iyt, num(g, "i_xt"), num(g, "i_yt"), e);
                if (!route)
                    printf("%-5s HSIC sigma %4g: I(X;T) %.9f I(Y;T) %.9f (numpy rel diff %.1e)\n", name, sigma, ixt,
                           iyt, e);
            }
        }
        free(yd);
        free(Rx);
        free(Ry);
        free(Rt);
        free(x_exact);
        free(x_bin);
        free(t_ids);
        free(X);
        free(T);
        tl_npy_free(Y);
    }
    printf("worst: binning %.2e bits (tolerance 1e-12), HSIC %.2e relative, LU route %.2e (tolerance 1e-6)\n",
           worst_bits, worst_hsic, worst_lu);
    cJSON_Delete(golden);

    /* entropy identities on hand-made labellings */
    {
        int32_t a[8] = {0, 0, 1, 1, 2, 2, 3, 3}, b[8] = {0, 1, 0, 1, 0, 1, 0, 1}, ids[8];
        CHECK(fabs(tl_entropy_bits(a, 8) - 2.0) < 1e-15, "H(4 equal groups) = %g", tl_entropy_bits(a, 8));
        double h;
        CHECK_OK(tl_joint_entropy_bits(a, b, 8, &h));
        CHECK(fabs(h - 3.0) < 1e-15, "H(a,b) = %g", h);
        int32_t rows[8 * 2] = {1, 2, 1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8, 5, 6};
        int n_sym;
        CHECK_OK(tl_symbols(rows, 8, 2, ids, &n_sym));
        CHECK(n_sym == 4 && ids[0] == 0 && ids[1] == 0 && ids[2] == 1 && ids[3] == 0 && ids[5] == 2 && ids[7] == 2,
              "symbols: %d", n_sym);
        double S[6] = {0, 1, 0.5, 1, 1, 1};
        int32_t bins[6];
        tl_bin_columns(S, 3, 2, 4, bins);
        CHECK(bins[0] == 0 && bins[2] == 2 && bins[4] == 3 && bins[1] == 0 && bins[3] == 0 && bins[5] == 0,
              "bins: %d %d %d / constant column %d %d %d", bins[0], bins[2], bins[4], bins[1], bins[3], bins[5]);
    }
    /* bad inputs */
    {
        double A[4] = {1, 2, 3, NAN}, R[4];
        CHECK(tl_hsic_r(A, 2, 2, 50, 1e-5, R) == TL_E_NUMERIC, "NaN input to HSIC: %s", tl_last_error());
        CHECK(tl_hsic_r(A, 2, 2, 0, 1e-5, R) == TL_E_ARG, "sigma 0");
        int32_t x[2] = {0, 1};
        int64_t y[2] = {0, 3};
        double T[4] = {0, 1, 2, 3};
        tl_binning_result r;
        CHECK(tl_binning_estimate(T, x, y, 2, 2, 1, 30, &r) == TL_E_ARG && strstr(tl_last_error(), "label 3"),
              "label 3: %s", tl_last_error());
    }
    return tl_test_done();
}
