/* Linear probes against scikit-learn (tests/oracle/probe_ref.py ->
 * tests/golden/probe): for every case and every solver (Newton, L-BFGS; cold
 * and warm starts) the test accuracy equals sklearn's, the weights are within
 * 1e-3 of sklearn's lbfgs and within 1e-7 of the Newton-polished minimiser,
 * and 5-fold accuracy matches KFold's. Bad inputs give clear errors. */
#include <cjson/cJSON.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "testlib.h"

static double max_diff(const double *a, const cJSON *arr, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs(a[i] - cJSON_GetArrayItem(arr, i)->valuedouble);
        if (!(d <= m)) m = d;
    }
    return m;
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }

int main(void) {
    char *text;
    size_t size;
    CHECK_OK(tl_file_read_all("tests/golden/probe/golden.json", &text, &size));
    cJSON *golden = text ? cJSON_Parse(text) : NULL;
    tl_free(text);
    CHECK(golden != NULL, "golden.json does not parse");
    if (!golden) return tl_test_done();
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(golden, "cases"), *c;
    double worst_sk = 0, worst_exact = 0;
    cJSON_ArrayForEach(c, cases) {
        const char *name = c->string;
        char px[256], py[256];
        snprintf(px, sizeof px, "tests/golden/probe/%s_X.npy", name);
        snprintf(py, sizeof py, "tests/golden/probe/%s_y.npy", name);
        tl_npy *X = NULL, *Y = NULL;
        CHECK_OK(tl_npy_load(px, &X));
        CHECK_OK(tl_npy_load(py, &Y));
        if (!X || !Y) continue;
        int n = (int)X->shape[0], d = (int)X->shape[1];
        CHECK(n == (int)num(c, "n") && d == (int)num(c, "d") && Y->type == TL_NPY_I8, "%s: shapes", name);
        double *Z = malloc(sizeof(double) * n * d), *w = malloc(sizeof(double) * (d + 1));
        tl_standardize(X->data, n, d, Z);
        const cJSON *coef = cJSON_GetObjectItemCaseSensitive(c, "coef"),
                    *exact = cJSON_GetObjectItemCaseSensitive(c, "coef_exact");
        tl_solver solvers[] = {TL_SOLVER_NEWTON, TL_SOLVER_LBFGS, TL_SOLVER_AUTO};
        for (int si = 0; si < 3; si++)
            for (int warm = 0; warm < 2; warm++) {
                tl_probe_opts o;
                tl_probe_opts_default(&o);
                o.lr.C = num(c, "C");
                o.lr.solver = solvers[si];
                /* warm: start from a perturbed copy of the answer (as the previous checkpoint would give) */
                for (int j = 0; j <= d; j++)
                    w[j] = warm ? cJSON_GetArrayItem(exact, j)->valuedouble * (1.0 + 0.3 * ((j % 3) - 1)) : 0.0;
                tl_probe_result r;
                CHECK_OK(tl_probe_fit(Z, Y->data, n, d, &o, w, &r));
                double e_sk = max_diff(w, coef, d + 1), e_ex = max_diff(w, exact, d + 1);
                if (e_sk > worst_sk) worst_sk = e_sk;
                if (e_ex > worst_exact) worst_exact = e_ex;
                CHECK(r.acc == num(c, "test_acc") && r.train_acc == num(c, "train_acc"),
                      "%s %s: accuracy %.6f / train %.6f, sklearn %.6f / %.6f", name, tl_solver_name(solvers[si]),
                      r.acc, r.train_acc, num(c, "test_acc"), num(c, "train_acc"));
                CHECK(r.converged, "%s %s: did not converge", name, tl_solver_name(solvers[si]));
                CHECK(e_sk < 1e-3, "%s %s warm=%d: |w - sklearn| = %.3g", name, tl_solver_name(solvers[si]), warm,
                      e_sk);
                CHECK(e_ex < 1e-7, "%s %s warm=%d: |w - exact| = %.3g", name, tl_solver_name(solvers[si]), warm,
                      e_ex);
                printf("%-9s %-6s %s: %4d iterations, acc %.4f, max |w - sklearn| %.2e, max |w - exact| %.2e\n",
                       name, tl_solver_name(solvers[si]), warm ? "warm" : "cold", r.iters, r.acc, e_sk, e_ex);
            }
        /* contiguous k-fold, as KFold(shuffle=False) */
        tl_probe_opts o;
        tl_probe_opts_default(&o);
        o.lr.C = num(c, "C");
        o.folds = (int)num(golden, "folds");
        memset(w, 0, sizeof(double) * (d + 1));
        tl_probe_result r;
        CHECK_OK(tl_probe_fit(Z, Y->data, n, d, &o, w, &r));
        CHECK(fabs(r.acc - num(c, "fold_acc_mean")) < 1e-12, "%s: %d-fold accuracy %.6f, sklearn %.6f", name,
              o.folds, r.acc, num(c, "fold_acc_mean"));
        free(Z);
        free(w);
        tl_npy_free(X);
        tl_npy_free(Y);
    }
    printf("worst over all cases: |w - sklearn lbfgs| %.3e (tolerance 1e-3), |w - polished minimiser| %.3e "
           "(tolerance 1e-7)\n", worst_sk, worst_exact);
    cJSON_Delete(golden);

    /* standardisation: mean 0, std 1 (n - 1), a constant column all zeros */
    {
        float X[] = {1, 5, 2, 5, 3, 5, 6, 5};
        double Z[8];
        tl_standardize(X, 4, 2, Z);
        double m = (Z[0] + Z[2] + Z[4] + Z[6]) / 4, v = 0;
        for (int i = 0; i < 4; i++) v += (Z[2 * i] - m) * (Z[2 * i] - m);
        CHECK(fabs(m) < 1e-15 && fabs(v / 3 - 1) < 1e-14, "standardised column: mean %g var %g", m, v / 3);
        CHECK(Z[1] == 0 && Z[3] == 0 && Z[5] == 0 && Z[7] == 0, "constant column not zeroed");
    }
    /* bad inputs */
    {
        double X[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, w[3] = {0};
        int64_t same[6] = {1, 1, 1, 1, 1, 0}, bad[6] = {0, 1, 2, 0, 1, 0};
        tl_probe_opts o;
        tl_probe_opts_default(&o);
        tl_probe_result r;
        CHECK(tl_probe_fit(X, same, 6, 2, &o, w, &r) == TL_E_ARG && strstr(tl_last_error(), "all have label 1"),
              "one class: %s", tl_last_error());
        CHECK(tl_probe_fit(X, bad, 6, 2, &o, w, &r) == TL_E_ARG && strstr(tl_last_error(), "label 2"),
              "label 2: %s", tl_last_error());
        o.folds = 7;
        CHECK(tl_probe_fit(X, same, 6, 2, &o, w, &r) == TL_E_ARG, "7 folds of 6 rows");
        o.folds = 0;
        o.split = 1.0;
        CHECK(tl_probe_fit(X, same, 6, 2, &o, w, &r) == TL_E_ARG, "split 1.0");
        o.split = 0.8;
        o.lr.C = -1;
        CHECK(tl_probe_fit(X, same, 6, 2, &o, w, &r) == TL_E_ARG, "C < 0");
        X[3] = NAN;
        o.lr.C = 1;
        int64_t mixed[6] = {0, 1, 0, 1, 0, 1};
        CHECK(tl_probe_fit(X, mixed, 6, 2, &o, w, &r) == TL_E_NUMERIC && strstr(tl_last_error(), "row 1"),
              "NaN feature: %s", tl_last_error());
    }
    return tl_test_done();
}
