/* The probe protocol's split (src/analysis/logreg.c, tl_probe_fit with val >
 * 0): rows in file order train | validate | test; the fit sees only the
 * training rows, and the validation and test accuracies equal a fit on those
 * rows alone scored on the other two blocks. Labels of the validation and test
 * rows do not change the weights. The Wilson interval used for every accuracy
 * is checked against SciPy in test_stats. */
#include <string.h>

#include "tiller/analysis.h"
#include "testlib.h"

int main(void) {
    enum { N = 250, D = 6 };
    static double Z[N * D];
    static int64_t y[N], y2[N];
    tl_rng rng;
    tl_rng_seed(&rng, 3);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < D; j++) {
            Z[i * D + j] = tl_rng_normal(&rng);
            s += (j + 1) * 0.3 * Z[i * D + j];
        }
        y[i] = s + tl_rng_normal(&rng) > 0;
    }
    tl_probe_opts o;
    tl_probe_opts_default(&o);
    o.val = 0.2;
    double w[D + 1] = {0}, w_ref[D + 1] = {0};
    tl_probe_result r;
    CHECK_OK(tl_probe_fit(Z, y, N, D, &o, w, &r));
    int n_fit = (int)(0.8 * N), n_val = (int)(0.2 * N), n_train = n_fit - n_val;
    CHECK(r.n_val == n_val && r.n_test == N - n_fit, "rows: %d validation, %d test", r.n_val, r.n_test);
    tl_logreg_info info;
    CHECK_OK(tl_logreg_fit(Z, y, n_train, D, &o.lr, w_ref, &info));
    double va = tl_logreg_accuracy(Z + (size_t)n_train * D, y + n_train, n_val, D, w_ref);
    double te = tl_logreg_accuracy(Z + (size_t)n_fit * D, y + n_fit, N - n_fit, D, w_ref);
    CHECK(r.val_acc == va && r.acc == te, "validation %.4f (want %.4f), test %.4f (want %.4f)", r.val_acc, va, r.acc,
          te);
    double maxdiff = 0;
    for (int j = 0; j <= D; j++)
        maxdiff = fmax(maxdiff, fabs(w[j] - w_ref[j]));
    CHECK(maxdiff < 1e-8, "weights differ from a fit on the training rows by %.2g", maxdiff);
    CHECK(r.acc > 0.75, "the signal is learnt: test %.3f", r.acc);
    /* flipping every label outside the training rows leaves the weights alone */
    memcpy(y2, y, sizeof y);
    for (int i = n_train; i < N; i++)
        y2[i] = !y2[i];
    double w2[D + 1] = {0};
    tl_probe_result r2;
    CHECK_OK(tl_probe_fit(Z, y2, N, D, &o, w2, &r2));
    CHECK(fabs(r2.acc - (1 - r.acc)) < 1e-12 && fabs(r2.val_acc - (1 - r.val_acc)) < 1e-12,
          "held-out labels leaked into the fit: %.4f vs %.4f", r2.acc, 1 - r.acc);
    /* bad splits are refused, with the counts named */
    o.val = 0.8;
    CHECK(tl_probe_fit(Z, y, N, D, &o, w, &r) == TL_E_ARG, "val = split is refused");
    CHECK(strstr(tl_last_error(), "validation") != NULL, "message: %s", tl_last_error());
    /* val = 0 is the reference's 80 / 20 */
    o.val = 0;
    memset(w, 0, sizeof w);
    CHECK_OK(tl_probe_fit(Z, y, N, D, &o, w, &r));
    CHECK(r.n_test == N - n_fit && isnan(r.val_acc), "reference split: %d test rows", r.n_test);
    return tl_test_done();
}
