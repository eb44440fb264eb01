/* logreg.c: L2-regularised logistic regression, the linear probe.
 *
 * The objective is scikit-learn's LogisticRegression(penalty="l2", C) for two
 * classes: f(w, b) = sum_i softplus(-s_i (w.x_i + b)) + |w|^2 / (2C), s_i = ±1,
 * intercept not penalised. It is strictly convex in w, so any solver run to a
 * tight gradient tolerance reaches the same weights; tests/oracle/probe_ref.py
 * checks them against sklearn.
 *
 * Two solvers on the d + 1 parameters:
 *   Newton    exact Hessian X~^T D X~ + diag(1/C, .., 0) formed with one BLAS-3
 *             rank-k update (X~ = [sqrt(D) X, sqrt(D)]), Cholesky solve,
 *             backtracking line search. Quadratic convergence: a handful of
 *             iterations, each O(n d^2 + d^3).
 *   L-BFGS    two-loop recursion, 20 pairs, backtracking line search; O(n d) per
 *             iteration, for d beyond NEWTON_MAX_D where the (d+1)^2 Hessian
 *             itself becomes too large.
 */
#include <math.h>
#include <string.h>

#include "linalg.h"

/* AUTO picks Newton up to this many features. bench_probe (bench/RESULTS.md): on
 * activation-like matrices L-BFGS needs 400 .. 1600 iterations to reach the
 * default tolerance, and Newton (3 .. 10 iterations) was faster at every size
 * measured (d 64 .. 1024, N 1952 .. 6514) by 3x to 15x; extrapolating the
 * n d^2 + d^3 / 3 cost of a Newton step against L-BFGS's growing iteration
 * count keeps Newton ahead up to d = 4096 (7B models). */
#define NEWTON_MAX_D 4096
#define LBFGS_M 20
/* Newton stops after this many steps in a row cut to nothing (line_search returns 2) */
#define NEWTON_MAX_FLAT 8
/* f's relative rounding level (objective() sums with compensation: a few eps) */
#define F_ROUNDING (8 * 2.2e-16)

const char *tl_solver_name(tl_solver s) {
    return s == TL_SOLVER_NEWTON ? "newton" : s == TL_SOLVER_LBFGS ? "lbfgs" : "auto";
}

tl_status tl_solver_parse(const char *s, tl_solver *out) {
    if (!strcmp(s, "auto")) *out = TL_SOLVER_AUTO;
    else if (!strcmp(s, "newton")) *out = TL_SOLVER_NEWTON;
    else if (!strcmp(s, "lbfgs")) *out = TL_SOLVER_LBFGS;
    else return tl_errorf(TL_E_ARG, "unknown solver '%s' (expected auto, newton or lbfgs)", s);
    return TL_OK;
}

void tl_logreg_opts_default(tl_logreg_opts *o) {
    o->C = 1.0;
    o->tol = 1e-10;
    o->max_iter = 10000;
    o->solver = TL_SOLVER_AUTO;
}

/* softplus(t) = log(1 + e^t) without overflow */
static double softplus(double t) { return t > 0 ? t + log1p(exp(-t)) : log1p(exp(t)); }
static double sigmoid(double t) {
    if (t >= 0) return 1.0 / (1.0 + exp(-t));
    double e = exp(t);
    return e / (1.0 + e);
}

typedef struct {
    const double *X;
    const int64_t *y;
    int n, d;
    double inv_c;
    double *z; /* [n] scratch: margins, then residuals p - y */
} problem;

/* f(w) and, when g != NULL, its gradient g [d + 1]. Also leaves z = X w + b. */
static double objective(problem *P, const double *w, double *g) {
    int n = P->n, d = P->d;
    double b = w[d];
    for (int i = 0; i < n; i++) P->z[i] = b;
    tl_la_gemv(P->X, n, d, w, 1.0, P->z);
    double ww = 0;
    for (int j = 0; j < d; j++) ww += w[j] * w[j];
    /* Neumaier's compensated sum: f's rounding stays near eps |f| whatever n, so
     * that line_search can tell a change at rounding level from a real one */
    double f = 0.5 * P->inv_c * ww, comp = 0;
    for (int i = 0; i < n; i++) {
        double z = P->z[i], t = softplus(P->y[i] ? -z : z), sum = f + t;
        comp += fabs(f) >= fabs(t) ? (f - sum) + t : (t - sum) + f;
        f = sum;
    }
    f += comp;
    if (g) {
        double gb = 0;
        for (int i = 0; i < n; i++) {
            double r = sigmoid(P->z[i]) - (double)P->y[i];
            P->z[i] = r;
            gb += r;
        }
        tl_la_gemv_t(P->X, n, d, P->z, 0.0, g);
        for (int j = 0; j < d; j++) g[j] += P->inv_c * w[j];
        g[d] = gb;
    }
    return f;
}

static double max_abs(const double *v, int n) {
    double m = 0;
    for (int i = 0; i < n; i++)
        if (fabs(v[i]) > m) m = fabs(v[i]);
    return m;
}

/* Backtracking (Armijo) along dir from w (value f, gradient g); on success w, f, g
 * hold the new point. A step whose change in f is at rounding level is accepted:
 * near the optimum f cannot resolve the decrease the gradient still shows. A step
 * cut below 1e-6 of the full one that leaves f unchanged to rounding (it meets
 * Armijo only because t * slope is below f's rounding) returns 2: the direction no
 * longer helps. Any other accepted step returns 1. */
static int line_search(problem *P, double *w, double *f, double *g, const double *dir, double *w_new,
                       double *g_new, double t) {
    int np = P->d + 1;
    double slope = 0;
    for (int j = 0; j < np; j++) slope += g[j] * dir[j];
    if (!(slope < 0)) return 0;
    for (int k = 0; k < 60; k++, t *= 0.5) {
        for (int j = 0; j < np; j++) w_new[j] = w[j] + t * dir[j];
        double fn = objective(P, w_new, g_new);
        int armijo = fn <= *f + 1e-4 * t * slope;
        int unchanged = fabs(fn - *f) <= F_ROUNDING * fabs(*f);
        int flat = unchanged && max_abs(g_new, np) < max_abs(g, np);
        if (isfinite(fn) && (armijo || flat)) {
            memcpy(w, w_new, (size_t)np * sizeof *w);
            memcpy(g, g_new, (size_t)np * sizeof *g);
            *f = fn;
            return t < 1e-6 && unchanged ? 2 : 1;
        }
    }
    return 0;
}

/* The Newton direction at w (gradient g): dir = -H^-1 g, H = X~^T D X~ + diag(1/C, .., 0)
 * built in H [np, np] from Xt [n, np]. Returns g^T H^-1 g (the squared Newton
 * decrement: f can still fall by about half of it), or -1 if H is not positive definite. */
static double newton_direction(problem *P, const double *w, const double *g, double *H, double *Xt, double *dir) {
    int n = P->n, d = P->d, np = d + 1;
    /* margins again (objective() turned z into residuals) for the weights D = p (1 - p) */
    double b = w[d];
    for (int i = 0; i < n; i++) P->z[i] = b;
    tl_la_gemv(P->X, n, d, w, 1.0, P->z);
    for (int i = 0; i < n; i++) {
        double p = sigmoid(P->z[i]), sq = sqrt(p * (1 - p));
        const double *x = P->X + (size_t)i * d;
        double *xt = Xt + (size_t)i * np;
        for (int j = 0; j < d; j++) xt[j] = sq * x[j];
        xt[d] = sq;
    }
    tl_la_gram_t(Xt, n, np, 1.0, H);
    for (int j = 0; j < d; j++) H[(size_t)j * np + j] += P->inv_c;
    /* the unpenalised intercept: keep H positive definite if every p saturates */
    H[(size_t)d * np + d] += 1e-12 * n;
    if (tl_la_cholesky(H, np) != 0) return -1;
    for (int j = 0; j < np; j++) dir[j] = -g[j];
    tl_la_cholesky_solve(H, np, dir, 1);
    double lambda2 = 0;
    for (int j = 0; j < np; j++) lambda2 -= g[j] * dir[j];
    return lambda2;
}

static tl_status newton(problem *P, const tl_logreg_opts *o, double *w, tl_logreg_info *info) {
    int n = P->n, d = P->d, np = d + 1;
    double *g = tl_malloc((size_t)np * sizeof *g), *g_new = tl_malloc((size_t)np * sizeof *g_new),
           *w_new = tl_malloc((size_t)np * sizeof *w_new), *dir = tl_malloc((size_t)np * sizeof *dir),
           *H = tl_malloc((size_t)np * np * sizeof *H), *Xt = tl_malloc((size_t)n * np * sizeof *Xt);
    tl_status s = TL_OK;
    if (!g || !g_new || !w_new || !dir || !H || !Xt) {
        s = tl_errorf(TL_E_NOMEM, "probe: out of memory for a Newton solve with %d features", d);
        goto done;
    }
    double f = objective(P, w, g), gtol = o->tol * (n > 1 ? n : 1);
    int flat_steps = 0, at_rounding = 0;
    info->iters = 0;
    while (max_abs(g, np) > gtol && info->iters < o->max_iter) {
        double lambda2 = newton_direction(P, w, g, H, Xt, dir);
        if (lambda2 < 0) {
            s = tl_errorf(TL_E_NUMERIC, "probe: Newton Hessian not positive definite (%d features)", d);
            goto done;
        }
        info->iters++;
        if (0.5 * lambda2 <= F_ROUNDING * fabs(f)) {
            /* The optimum to rounding: no step can lower f by a change f can represent,
             * though the gradient's own rounding (which grows with the feature scale)
             * may stay above tol * n. f cannot judge this last step: take it whole
             * (Newton's error after it is quadratic in this one's) and stop. */
            for (int j = 0; j < np; j++) w[j] += dir[j];
            f = objective(P, w, g);
            at_rounding = 1;
            break;
        }
        int step = line_search(P, w, &f, g, dir, w_new, g_new, 1.0);
        if (!step) break;
        /* a safety net: steps cut to nothing that leave f unchanged would otherwise
         * run to max_iter O(n d^2) iterations without moving w (before objective()
         * summed with compensation, constant embedding-layer features did that) */
        flat_steps = step == 2 ? flat_steps + 1 : 0;
        if (flat_steps == NEWTON_MAX_FLAT) break;
    }
    info->loss = f;
    info->grad_max = max_abs(g, np);
    info->converged = info->grad_max <= gtol || at_rounding;
    info->decrement = 0;
    if (!info->converged) {
        /* Short of the gradient tolerance: the fit is still at the optimum to rounding
         * if no step could lower f by a change f can represent, i.e. the Newton
         * decrement at w is within f's rounding. (tol * n is absolute: the gradient's
         * own rounding grows with the feature scale and n and can stay above it.) */
        double lambda2 = newton_direction(P, w, g, H, Xt, dir);
        info->decrement = lambda2 < 0 ? INFINITY : 0.5 * lambda2;
        info->converged = info->decrement <= F_ROUNDING * fabs(f);
    }
done:
    tl_free(g);
    tl_free(g_new);
    tl_free(w_new);
    tl_free(dir);
    tl_free(H);
    tl_free(Xt);
    return s;
}

static tl_status lbfgs(problem *P, const tl_logreg_opts *o, double *w, tl_logreg_info *info) {
    int n = P->n, np = P->d + 1;
    size_t v = (size_t)np * sizeof(double);
    double *g = tl_malloc(v), *g_new = tl_malloc(v), *w_new = tl_malloc(v), *dir = tl_malloc(v),
           *w_old = tl_malloc(v), *g_old = tl_malloc(v), *S = tl_malloc(LBFGS_M * v), *Y = tl_malloc(LBFGS_M * v);
    double rho[LBFGS_M], alpha[LBFGS_M];
    tl_status s = TL_OK;
    if (!g || !g_new || !w_new || !dir || !w_old || !g_old || !S || !Y) {
        s = tl_errorf(TL_E_NOMEM, "probe: out of memory for L-BFGS with %d features", P->d);
        goto done;
    }
    double f = objective(P, w, g), gtol = o->tol * (n > 1 ? n : 1);
    int stored = 0, head = 0; /* ring buffer of (s, y) pairs; head = next slot */
    info->iters = 0;
    while (max_abs(g, np) > gtol && info->iters < o->max_iter) {
        /* two-loop recursion: dir = -H g */
        for (int j = 0; j < np; j++) dir[j] = -g[j];
        for (int k = 0; k < stored; k++) {
            int i = (head - 1 - k + LBFGS_M) % LBFGS_M;
            double a = 0;
            for (int j = 0; j < np; j++) a += S[(size_t)i * np + j] * dir[j];
            alpha[i] = a * rho[i];
            for (int j = 0; j < np; j++) dir[j] -= alpha[i] * Y[(size_t)i * np + j];
        }
        double t0 = 1.0;
        if (stored) {
            int i = (head - 1 + LBFGS_M) % LBFGS_M;
            double yy = 0;
            for (int j = 0; j < np; j++) yy += Y[(size_t)i * np + j] * Y[(size_t)i * np + j];
            double gamma = 1.0 / (rho[i] * yy);
            for (int j = 0; j < np; j++) dir[j] *= gamma;
        } else {
            t0 = 1.0 / fmax(1.0, max_abs(g, np)); /* a first step of bounded length */
        }
        for (int k = stored - 1; k >= 0; k--) {
            int i = (head - 1 - k + LBFGS_M) % LBFGS_M;
            double bta = 0;
            for (int j = 0; j < np; j++) bta += Y[(size_t)i * np + j] * dir[j];
            bta *= rho[i];
            for (int j = 0; j < np; j++) dir[j] += (alpha[i] - bta) * S[(size_t)i * np + j];
        }
        memcpy(w_old, w, v);
        memcpy(g_old, g, v);
        info->iters++;
        if (!line_search(P, w, &f, g, dir, w_new, g_new, t0)) {
            if (!stored) break;
            stored = 0; /* restart from steepest descent once */
            continue;
        }
        double sy = 0, ss = 0;
        double *sk = S + (size_t)head * np, *yk = Y + (size_t)head * np;
        for (int j = 0; j < np; j++) {
            sk[j] = w[j] - w_old[j];
            yk[j] = g[j] - g_old[j];
            sy += sk[j] * yk[j];
            ss += sk[j] * sk[j];
        }
        if (sy > 1e-12 * ss) { /* keep only pairs with positive curvature */
            rho[head] = 1.0 / sy;
            head = (head + 1) % LBFGS_M;
            if (stored < LBFGS_M) stored++;
        }
    }
    info->loss = f;
    info->grad_max = max_abs(g, np);
    info->converged = info->grad_max <= gtol;
    info->decrement = NAN; /* no Hessian: only the gradient tolerance */
done:
    tl_free(g);
    tl_free(g_new);
    tl_free(w_new);
    tl_free(dir);
    tl_free(w_old);
    tl_free(g_old);
    tl_free(S);
    tl_free(Y);
    return s;
}

tl_status tl_logreg_fit(const double *X, const int64_t *y, int n, int d, const tl_logreg_opts *o, double *w,
                        tl_logreg_info *info) {
    memset(info, 0, sizeof *info);
    if (n < 1 || d < 1) return tl_errorf(TL_E_ARG, "probe: %d rows of %d features", n, d);
    if (!(o->C > 0) || !(o->tol > 0) || o->max_iter < 1)
        return tl_errorf(TL_E_ARG, "probe: C %g, tol %g, max_iter %d must be positive", o->C, o->tol, o->max_iter);
    int ones = 0;
    for (int i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1)
            return tl_errorf(TL_E_ARG, "probe: label %lld at row %d is not 0 or 1", (long long)y[i], i);
        ones += (int)y[i];
    }
    if (ones == 0 || ones == n)
        return tl_errorf(TL_E_ARG, "probe: the %d training rows all have label %d (both classes are needed)", n,
                         ones ? 1 : 0);
    for (int j = 0; j <= d; j++)
        if (!isfinite(w[j])) return tl_errorf(TL_E_NUMERIC, "probe: non-finite starting weight %d", j);
    for (size_t i = 0; i < (size_t)n * d; i++)
        if (!isfinite(X[i]))
            return tl_errorf(TL_E_NUMERIC, "probe: non-finite feature at row %zu, column %zu", i / d, i % d);
    problem P = {X, y, n, d, 1.0 / o->C, tl_malloc((size_t)n * sizeof(double))};
    if (!P.z) return tl_errorf(TL_E_NOMEM, "probe: out of memory");
    tl_solver sv = o->solver != TL_SOLVER_AUTO ? o->solver : d <= NEWTON_MAX_D ? TL_SOLVER_NEWTON : TL_SOLVER_LBFGS;
    info->solver = sv;
    tl_status s = sv == TL_SOLVER_NEWTON ? newton(&P, o, w, info) : lbfgs(&P, o, w, info);
    info->solver = sv;
    tl_free(P.z);
    return s;
}

double tl_logreg_accuracy(const double *X, const int64_t *y, int n, int d, const double *w) {
    if (n <= 0) return 0;
    int right = 0;
    for (int i = 0; i < n; i++) {
        double z = w[d];
        const double *x = X + (size_t)i * d;
        for (int j = 0; j < d; j++) z += w[j] * x[j];
        right += (z > 0) == (y[i] == 1);
    }
    return (double)right / n;
}

/* ---- probes --------------------------------------------------------------------- */

void tl_probe_opts_default(tl_probe_opts *o) {
    tl_logreg_opts_default(&o->lr);
    o->split = 0.8;
    o->val = 0;
    o->folds = 0;
    o->warm = 1;
}

/* Rows [lo, hi) test, the rest train: fit and score. */
static tl_status fit_fold(const double *Z, const int64_t *y, int n, int d, int lo, int hi, const tl_probe_opts *o,
                          double *w, double *acc, double *train_acc, tl_logreg_info *info) {
    int n_train = n - (hi - lo);
    const double *Xtr = Z;
    const int64_t *ytr = y;
    double *Xbuf = NULL;
    int64_t *ybuf = NULL;
    if (lo > 0 && hi < n) { /* a middle fold: gather the training rows */
        Xbuf = tl_malloc((size_t)n_train * d * sizeof *Xbuf);
        ybuf = tl_malloc((size_t)n_train * sizeof *ybuf);
        if (!Xbuf || !ybuf) {
            tl_free(Xbuf);
            tl_free(ybuf);
            return tl_errorf(TL_E_NOMEM, "probe: out of memory");
        }
        memcpy(Xbuf, Z, (size_t)lo * d * sizeof *Xbuf);
        memcpy(Xbuf + (size_t)lo * d, Z + (size_t)hi * d, (size_t)(n - hi) * d * sizeof *Xbuf);
        memcpy(ybuf, y, (size_t)lo * sizeof *ybuf);
        memcpy(ybuf + lo, y + hi, (size_t)(n - hi) * sizeof *ybuf);
        Xtr = Xbuf;
        ytr = ybuf;
    } else if (lo == 0) { /* the first fold: training rows are the tail */
        Xtr = Z + (size_t)hi * d;
        ytr = y + hi;
    }
    tl_status s = tl_logreg_fit(Xtr, ytr, n_train, d, &o->lr, w, info);
    if (s == TL_OK) {
        *acc = tl_logreg_accuracy(Z + (size_t)lo * d, y + lo, hi - lo, d, w);
        *train_acc = tl_logreg_accuracy(Xtr, ytr, n_train, d, w);
    }
    tl_free(Xbuf);
    tl_free(ybuf);
    return s;
}

tl_status tl_probe_fit(const double *Z, const int64_t *y, int n, int d, const tl_probe_opts *o, double *w,
                       tl_probe_result *r) {
    memset(r, 0, sizeof *r);
    r->converged = 1;
    if (o->folds > 1) {
        if (o->folds > n) return tl_errorf(TL_E_ARG, "probe: %d folds of %d rows", o->folds, n);
        /* contiguous folds in file order, sizes as sklearn's KFold(shuffle=False) */
        double *w0 = tl_malloc((size_t)(d + 1) * sizeof *w0);
        if (!w0) return tl_errorf(TL_E_NOMEM, "probe: out of memory");
        memcpy(w0, w, (size_t)(d + 1) * sizeof *w0);
        int lo = 0;
        for (int f = 0; f < o->folds; f++) {
            int size = n / o->folds + (f < n % o->folds);
            double acc = 0, tr = 0;
            tl_logreg_info info;
            memcpy(w, w0, (size_t)(d + 1) * sizeof *w);
            tl_status s = fit_fold(Z, y, n, d, lo, lo + size, o, w, &acc, &tr, &info);
            if (s) {
                tl_free(w0);
                return tl_error_prefix(s, "fold %d of %d", f + 1, o->folds);
            }
            r->acc += acc / o->folds;
            r->train_acc += tr / o->folds;
            r->iters += info.iters;
            r->converged &= info.converged;
            lo += size;
        }
        tl_free(w0);
        return TL_OK;
    }
    if (!(o->split > 0 && o->split < 1)) return tl_errorf(TL_E_ARG, "probe: split %g is not in (0, 1)", o->split);
    if (o->val > 0) { /* train | validation | test, in file order */
        int n_fit = (int)(o->split * n), n_val = (int)(o->val * n), n_train = n_fit - n_val;
        if (!(o->val < o->split) || n_train < 2 || n_val < 1 || n_fit >= n)
            return tl_errorf(TL_E_ARG,
                             "probe: a %g / %g split of %d rows leaves %d training, %d validation and %d test rows",
                             o->split, o->val, n, n_train, n_val, n - n_fit);
        tl_logreg_info info;
        double all_rest;
        tl_status s = fit_fold(Z, y, n, d, n_train, n, o, w, &all_rest, &r->train_acc, &info);
        r->iters = info.iters;
        r->converged = info.converged;
        if (s) return s;
        r->val_acc = tl_logreg_accuracy(Z + (size_t)n_train * d, y + n_train, n_val, d, w);
        r->acc = tl_logreg_accuracy(Z + (size_t)n_fit * d, y + n_fit, n - n_fit, d, w);
        r->n_val = n_val;
        r->n_test = n - n_fit;
        return TL_OK;
    }
    int n_train = (int)(o->split * n); /* int(num_prompts * train_ratio), as the reference */
    if (n_train < 2 || n_train >= n)
        return tl_errorf(TL_E_ARG, "probe: a %g split of %d rows leaves %d training and %d test rows", o->split, n,
                         n_train, n - n_train);
    tl_logreg_info info;
    tl_status s = fit_fold(Z, y, n, d, n_train, n, o, w, &r->acc, &r->train_acc, &info);
    r->iters = info.iters;
    r->converged = info.converged;
    r->val_acc = NAN;
    r->n_test = n - n_train;
    return s;
}
