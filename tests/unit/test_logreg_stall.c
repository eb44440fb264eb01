/* The probe solver's convergence on inputs that used to stall (src/analysis/logreg.c).
 *
 * 1. Constant features: what the embedding layer gives when every statement ends on
 *    the same token (standardised to all zeros). Only the intercept is free and its
 *    minimiser is log(k / (n - k)) in closed form. With f summed naively, f's
 *    rounding (sqrt(n) eps |f|) hid the last Newton decrease, every step was
 *    halved, and Newton ran to max_iter (10,000 before the stall rule; with it, 13
 *    iterations and "did not converge"). Also the same with duplicated, collinear
 *    columns taking two values (another embedding layer of the demo).
 * 2. At the optimum to rounding, short of the gradient tolerance: features scaled by
 *    1e8 put the gradient's own rounding far above tol * n. The fit is the same
 *    problem as the unscaled one with C * s^2 (w = s w'), which converges by the
 *    gradient; the scaled fit must match it and count as converged.
 * 3. Real non-convergence still says so: max_iter 1 (Newton) or 3 (L-BFGS).
 *
 * Each fit is capped at 200 iterations so that a regression fails here instead of
 * hanging. */
#include <math.h>
#include <string.h>

#include "testlib.h"
#include "tiller/analysis.h"

/* a reproducible uniform in [0, 1) */
static double unif(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static double normal(uint64_t *s) {
    double u = unif(s) + 1e-300, v = unif(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

int main(void) {
    tl_solver solvers[] = {TL_SOLVER_NEWTON, TL_SOLVER_LBFGS};
    /* 1a. all-zero features, 301 of 600 labels 1 (as an embedding layer's training split) */
    {
        enum { N = 600, D = 4, K = 301 };
        static double X[N * D];
        int64_t y[N];
        for (int i = 0; i < N; i++) y[i] = i < 2 * (K - N / 2) || i % 2; /* K ones, interleaved */
        int ones = 0;
        for (int i = 0; i < N; i++) ones += (int)y[i];
        CHECK(ones == K, "label count %d", ones);
        double b_exact = log((double)K / (N - K));
        for (int si = 0; si < 2; si++) {
            tl_logreg_opts o;
            tl_logreg_opts_default(&o);
            o.solver = solvers[si];
            o.max_iter = 200;
            double w[D + 1] = {0};
            tl_logreg_info info;
            CHECK_OK(tl_logreg_fit(X, y, N, D, &o, w, &info));
            printf("constant features, %s: %d iterations, converged %d, max |g| %.2e (tol %.0e), b - exact %.2e\n",
                   tl_solver_name(solvers[si]), info.iters, info.converged, info.grad_max, o.tol * N, w[D] - b_exact);
            CHECK(info.converged && info.grad_max <= o.tol * N, "%s: converged %d, max |g| %.3g",
                  tl_solver_name(solvers[si]), info.converged, info.grad_max);
            CHECK(info.iters <= 10, "%s: %d iterations for a one-parameter problem", tl_solver_name(solvers[si]),
                  info.iters);
            CHECK(fabs(w[D] - b_exact) < 1e-12, "%s: intercept %.17g, log(%d / %d) = %.17g",
                  tl_solver_name(solvers[si]), w[D], K, N - K, b_exact);
            for (int j = 0; j < D; j++)
                CHECK(w[j] == 0, "%s: weight %d = %g on a zero column", tl_solver_name(solvers[si]), j, w[j]);
        }
    }
    /* 1b. duplicated and negated columns taking two values (collinear, rank 1), warm
     * started from far away as the previous checkpoint's weights would be */
    {
        enum { N = 600, D = 6 };
        static double X[N * D];
        int64_t y[N];
        uint64_t rs = 7;
        for (int i = 0; i < N; i++) {
            double v = i % 3 ? 0.7071067811865476 : -1.414213562373095; /* mean 0, two values */
            for (int j = 0; j < D; j++) X[(size_t)i * D + j] = j % 2 ? -v : v;
            y[i] = unif(&rs) < (v > 0 ? 0.55 : 0.45);
        }
        for (int si = 0; si < 2; si++) {
            tl_logreg_opts o;
            tl_logreg_opts_default(&o);
            o.solver = solvers[si];
            o.max_iter = 200;
            double w[D + 1];
            for (int j = 0; j <= D; j++) w[j] = 3.0 * (j % 3) - 2.0;
            tl_logreg_info info;
            CHECK_OK(tl_logreg_fit(X, y, N, D, &o, w, &info));
            printf("collinear features, %s: %d iterations, converged %d, max |g| %.2e\n", tl_solver_name(solvers[si]),
                   info.iters, info.converged, info.grad_max);
            CHECK(info.converged, "%s: collinear: not converged, max |g| %.3g", tl_solver_name(solvers[si]),
                  info.grad_max);
            /* the penalty splits the one direction equally: w_j = +-a on every column */
            double a = w[0];
            for (int j = 0; j < D; j++)
                CHECK(fabs(w[j] - (j % 2 ? -a : a)) < 1e-7,
                      /* max |g| <= 6e-8, strong convexity 1 */ "%s: weight %d = %.12g, expected %+.12g",
                      tl_solver_name(solvers[si]), j, w[j], j % 2 ? -a : a);
        }
    }
    /* 2. feature scale 1e8: the gradient's rounding floor lies above tol * n */
    {
        enum { N = 200, D = 3 };
        const double scale = 1e8;
        static double X[N * D], Xs[N * D];
        int64_t y[N];
        uint64_t rs = 11;
        for (int i = 0; i < N; i++) {
            double z = 0;
            for (int j = 0; j < D; j++) {
                X[(size_t)i * D + j] = normal(&rs);
                Xs[(size_t)i * D + j] = scale * X[(size_t)i * D + j];
                z += (j + 1) * 0.5 * X[(size_t)i * D + j];
            }
            y[i] = z + 2.0 * normal(&rs) > 0; /* noisy: the minimiser is finite and well inside */
        }
        tl_logreg_opts o;
        tl_logreg_opts_default(&o);
        o.solver = TL_SOLVER_NEWTON;
        o.max_iter = 200;
        double w_ref[D + 1] = {0}, w[D + 1] = {0};
        tl_logreg_info ref, info;
        o.C = scale * scale; /* the same objective in w = scale * w' */
        CHECK_OK(tl_logreg_fit(X, y, N, D, &o, w_ref, &ref));
        CHECK(ref.converged && ref.grad_max <= o.tol * N, "unscaled reference: max |g| %.3g", ref.grad_max);
        o.C = 1;
        CHECK_OK(tl_logreg_fit(Xs, y, N, D, &o, w, &info));
        double err = fabs(w[D] - w_ref[D]) / fmax(1, fabs(w_ref[D]));
        for (int j = 0; j < D; j++) err = fmax(err, fabs(w[j] * scale - w_ref[j]) / fmax(1, fabs(w_ref[j])));
        printf("features x 1e8: %d iterations, max |g| %.2e (tol %.0e), decrement %.2e (f %.6g), relative "
               "|w - reference| %.2e\n",
               info.iters, info.grad_max, o.tol * N, info.decrement, info.loss, err);
        CHECK(info.grad_max > o.tol * N, "the gradient tolerance was met (max |g| %.3g): this case tests nothing",
              info.grad_max);
        CHECK(info.iters <= 20, "%d Newton iterations: the stop at the optimum to rounding did not act", info.iters);
        CHECK(info.converged, "at the optimum to rounding but not converged: decrement %.3g, f %.17g", info.decrement,
              info.loss);
        CHECK(err < 1e-6, "scaled fit differs from the unscaled one by %.3g (relative)", err);
        CHECK(fabs(info.loss - ref.loss) <= 1e-12 * ref.loss, "f %.17g, unscaled %.17g", info.loss, ref.loss);

        /* 3. real non-convergence: stopped early, far from the optimum */
        o.max_iter = 1;
        memset(w, 0, sizeof w);
        CHECK_OK(tl_logreg_fit(X, y, N, D, &o, w, &info));
        printf("Newton, 1 iteration: converged %d, max |g| %.2e, decrement %.2e\n", info.converged, info.grad_max,
               info.decrement);
        CHECK(!info.converged && info.decrement > 1e-6, "Newton stopped after 1 iteration counted as converged");
        o.solver = TL_SOLVER_LBFGS;
        o.max_iter = 3;
        memset(w, 0, sizeof w);
        CHECK_OK(tl_logreg_fit(X, y, N, D, &o, w, &info));
        printf("L-BFGS, 3 iterations: converged %d, max |g| %.2e\n", info.converged, info.grad_max);
        CHECK(!info.converged, "L-BFGS stopped after 3 iterations counted as converged");
    }
    return tl_test_done();
}
