#!/usr/bin/python3
"""Oracle for tiller's linear probes (src/analysis/logreg.c).

Writes fixed matrices to tests/golden/probe/ (<case>_X.npy float32 [n, d],
<case>_y.npy int64 [n]) and, in golden.json, what the reference pipeline of
METHODS.md §1 gives on them: columns standardised over all rows (mean, std
with n - 1 as torch.std; a constant column becomes zeros), the first
int(0.8 n) rows train, the rest test, scikit-learn LogisticRegression (L2, C,
lbfgs, intercept) run to convergence (max_iter large, tol tiny). Also the mean
accuracy of a contiguous 5-fold split (KFold, no shuffle).

sklearn's lbfgs stops when f changes by less than 64 eps relative (its ftol),
about 1e-4 from the minimiser here; the C test compares with it at 1e-3. The
oracle then polishes sklearn's solution with exact Newton steps in numpy on the
same objective (sum of log-losses + |w|^2 / 2C, intercept free) until the
gradient is at rounding level: coef_exact, the minimiser itself, which the C
test matches to 1e-7. That the polish moves sklearn's weights by only ~1e-4
also confirms the objective's scaling is sklearn's.

Run from the repo root:  /usr/bin/python3 tests/oracle/probe_ref.py
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "probe")
FOLDS = 5


def make_cases(rng):
    cases = {}
    # nearly separable: a linear rule with a little label noise
    n, d = 200, 20
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (X @ w + 0.3 * rng.normal(size=n) > 0.2).astype(np.int64)
    cases["separable"] = (X, y, 1.0)
    # noisy labels; one constant column, one column with a large offset and tiny spread
    n, d = 300, 10
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    y = (X @ w + 3.0 * rng.normal(size=n) > 0).astype(np.int64)
    X[:, 3] = 2.5
    X[:, 7] = 100.0 + 0.01 * X[:, 7]
    cases["noisy"] = (X, y, 1.0)
    # more features than rows, and another C
    n, d = 60, 150
    X = rng.normal(size=(n, d)) + 0.5 * rng.normal(size=(n, 1))  # correlated columns
    w = np.zeros(d)
    w[:5] = 2.0
    y = (X @ w + rng.normal(size=n) > 0).astype(np.int64)
    cases["wide"] = (X, y, 0.5)
    # activations-like: a few large-variance directions, unbalanced classes
    n, d = 400, 64
    B = rng.normal(size=(d, d)) * np.linspace(3, 0.1, d)[None, :]
    X = rng.normal(size=(n, d)) @ B.T
    y = ((X[:, 0] - X[:, 1] + 2.0 * rng.normal(size=n)) > 1.5).astype(np.int64)
    cases["acts"] = (X, y, 1.0)
    return cases


def standardize(X):
    X = X.astype(np.float64)
    mean = X.mean(axis=0)
    sd = X.std(axis=0, ddof=1)
    inv = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
    return (X - mean) * inv


def fit(X, y, C, solver):
    clf = LogisticRegression(C=C, solver=solver, tol=1e-14, max_iter=1000000)
    clf.fit(X, y)
    return clf


def newton_polish(Z, y, C, coef):
    """Newton steps on f(w, b) = sum softplus(-s (Zw + b)) + |w|^2 / 2C from coef."""
    n, d = Z.shape
    A = np.hstack([Z, np.ones((n, 1))])
    reg = np.full(d + 1, 1.0 / C)
    reg[d] = 0.0
    theta = coef.copy()
    for _ in range(50):
        z = A @ theta
        p = 1.0 / (1.0 + np.exp(-z))
        g = A.T @ (p - y) + reg * theta
        if np.abs(g).max() < 1e-11 * n:
            break
        H = (A * (p * (1 - p))[:, None]).T @ A + np.diag(reg)
        theta = theta - np.linalg.solve(H, g)
    return theta, float(np.abs(g).max())


def main():
    rng = np.random.default_rng(20240611)
    os.makedirs(OUT, exist_ok=True)
    golden = {"sklearn": sklearn.__version__, "numpy": np.__version__, "folds": FOLDS, "cases": {}}
    for name, (X, y, C) in make_cases(rng).items():
        X32 = X.astype(np.float32)
        np.save(os.path.join(OUT, f"{name}_X.npy"), X32)
        np.save(os.path.join(OUT, f"{name}_y.npy"), y.astype(np.int64))
        Z = standardize(X32)
        n = len(y)
        n_train = int(n * 0.8)
        clf = fit(Z[:n_train], y[:n_train], C, "lbfgs")
        coef = np.concatenate([clf.coef_[0], clf.intercept_])
        exact, gmax = newton_polish(Z[:n_train], y[:n_train], C, coef)
        exact_acc = float(((np.hstack([Z[n_train:], np.ones((n - n_train, 1))]) @ exact > 0) == y[n_train:]).mean())
        assert exact_acc == float((clf.predict(Z[n_train:]) == y[n_train:]).mean())
        test_acc = float((clf.predict(Z[n_train:]) == y[n_train:]).mean())
        train_acc = float((clf.predict(Z[:n_train]) == y[:n_train]).mean())
        fold_acc = []
        for tr, te in KFold(n_splits=FOLDS, shuffle=False).split(Z):
            f = fit(Z[tr], y[tr], C, "lbfgs")
            fold_acc.append(float((f.predict(Z[te]) == y[te]).mean()))
        solver_diff = float(np.abs(coef - exact).max())
        golden["cases"][name] = {
            "n": n, "d": X.shape[1], "C": C, "n_train": n_train,
            "coef": [float(v) for v in coef],  # sklearn lbfgs: weights then intercept
            "coef_exact": [float(v) for v in exact],  # Newton-polished minimiser
            "exact_grad_max": gmax,
            "test_acc": test_acc, "train_acc": train_acc,
            "fold_acc": fold_acc, "fold_acc_mean": float(np.mean(fold_acc)),
            "sklearn_vs_exact_max_abs": solver_diff,
            "n_iter": int(clf.n_iter_[0]),
        }
        print(f"{name}: n={n} d={X.shape[1]} C={C} test acc {test_acc:.4f} train acc {train_acc:.4f} "
              f"folds {np.mean(fold_acc):.4f} |coef| max {np.abs(coef).max():.3f} "
              f"sklearn vs polished {solver_diff:.2e} ({clf.n_iter_[0]} lbfgs iterations, polished |g| {gmax:.1e})")
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
