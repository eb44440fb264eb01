#!/usr/bin/python3
"""Oracle for tiller's information-plane estimators (src/analysis/infoplane.c).

Writes fixed activations to tests/golden/infoplane/<case>_{X,T}.npy (float32
[N, d]: X the input representation, "layer 0", T a later layer) and
<case>_y.npy (int64 [N]), and in golden.json the estimates computed here with
numpy alone, following METHODS.md §1:

  * rows: all N standardised per column (mean, std with N - 1; a constant
    column becomes zeros), then the first int(0.8 N) rows are used;
  * binning: PCA of T's rows (centred; eigh of the d x d covariance, the k
    leading axes, each signed so its largest-magnitude entry is positive; axes
    with eigenvalue <= 1e-10 x the largest are zero), equal-width bins
    floor((s - min) / (max - min) * B) clipped to B - 1; each distinct binned
    row a symbol; X symbols = distinct (exact) rows of X, or X binned the same
    way; I(T;X) = H(T) + H(X) - H(T,X), I(T;Y) = H(T) + H(Y) - H(T,Y), bits;
    the sorted symbol counts of T are stored for an exact comparison;
  * normalised HSIC, literally as the reference's mi_estimators.py but in
    float64: K = exp(-|r_i - 2 g_ij + r_j| / (2 sigma^2 d)), Kc = K H,
    R = Kc inv(Kc + eps m I), estimate = sum(Rx * Ry.T).

Case "dup" repeats inputs (rows of X and T duplicated), "wide" has fewer
training rows than features (tiller takes the Gram route for PCA there; the
oracle always uses the covariance), "raw" has k >= d (no projection).

Run from the repo root:  /usr/bin/python3 tests/oracle/infoplane_ref.py
"""
import json
import os
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "infoplane")


def standardize(A):
    A = A.astype(np.float64)
    sd = A.std(axis=0, ddof=1)
    inv = np.where(sd > 0, 1.0 / np.where(sd > 0, sd, 1.0), 0.0)
    return (A - A.mean(axis=0)) * inv


def pca_scores(T, k):
    Tc = T - T.mean(axis=0)
    cov = Tc.T @ Tc / (len(T) - 1)
    vals, vecs = np.linalg.eigh(cov)
    vals, vecs = vals[::-1][:k], vecs[:, ::-1][:, :k]
    for j in range(k):
        v = vecs[:, j]
        if v[np.argmax(np.abs(v))] < 0:
            vecs[:, j] = -v
        if not vals[j] > 1e-10 * vals[0]:
            vecs[:, j] = 0.0
    return Tc @ vecs


def bins(S, B):
    out = np.zeros(S.shape, dtype=np.int64)
    for j in range(S.shape[1]):
        lo, hi = S[:, j].min(), S[:, j].max()
        if hi > lo:
            out[:, j] = np.clip(np.floor((S[:, j] - lo) / (hi - lo) * B), 0, B - 1)
    return out


def symbols(rows):
    _, inv, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    return inv.reshape(-1), counts


def entropy(ids):
    _, counts = np.unique(ids, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def joint(a, b):
    return entropy(symbols(np.stack([a, b], axis=1))[0])


def binned_symbols(T, k, B):
    S = pca_scores(T, k) if k < T.shape[1] else T
    return symbols(bins(S, B))


def binning(T, xs, y, k, B):
    ts, counts = binned_symbols(T, k, B)
    ht, hx, hy = entropy(ts), entropy(xs), entropy(y)
    return {"k": k, "B": B, "h_t": ht, "h_x": hx, "h_y": hy,
            "i_xt": ht + hx - joint(ts, xs), "i_yt": ht + hy - joint(ts, y),
            "n_sym_t": int(len(counts)), "n_sym_x": int(len(np.unique(xs))),
            "t_counts": sorted((int(c) for c in counts), reverse=True)}


def hsic_r(A, sigma, eps):
    A = A.reshape(len(A), -1)
    m, d = A.shape
    G = A @ A.T
    r = np.diag(G)
    D = np.abs(r[:, None] - 2 * G + r[None, :])
    K = np.exp(-D / (2.0 * sigma * sigma * d))
    H = np.eye(m) - np.ones((m, m)) / m
    Kc = K @ H
    return Kc @ np.linalg.inv(Kc + eps * m * np.eye(m))


def hsic(a, b, sigma, eps):
    return float(np.sum(hsic_r(a, sigma, eps) * hsic_r(b, sigma, eps).T))


def make_cases(rng):
    cases = {}
    # a layer with a few strong directions that carry the label, an input with many
    N, dx, dt = 150, 16, 12
    z = rng.normal(size=(N, 3))
    y = (z[:, 0] + 0.5 * rng.normal(size=N) > 0).astype(np.int64)
    X = z @ rng.normal(size=(3, dx)) + 0.3 * rng.normal(size=(N, dx))
    T = np.tanh(z @ rng.normal(size=(3, dt)) * 1.5) + 0.05 * rng.normal(size=(N, dt))
    cases["base"] = (X, T, y)
    # duplicated statements: rows 10..19 repeat rows 0..9 (in X and T alike)
    X2, T2 = X.copy(), T.copy()
    X2[10:20], T2[10:20] = X2[0:10], T2[0:10]
    cases["dup"] = (X2, T2, y)
    # fewer training rows (40) than features (100)
    N, d = 50, 100
    z = rng.normal(size=(N, 4))
    y = (z[:, 1] > 0).astype(np.int64)
    X = z @ rng.normal(size=(4, d)) + 0.1 * rng.normal(size=(N, d))
    T = z @ rng.normal(size=(4, d)) + 0.1 * rng.normal(size=(N, d))
    cases["wide"] = (X, T, y)
    # three features only: binned without projection when k >= 3
    N = 120
    T = rng.normal(size=(N, 3))
    y = (T[:, 0] > 0.3).astype(np.int64)
    X = np.hstack([T, rng.normal(size=(N, 5))])
    cases["raw"] = (X, T, y)
    return cases


def main():
    rng = np.random.default_rng(20240612)
    os.makedirs(OUT, exist_ok=True)
    golden = {"numpy": np.__version__, "split": 0.8, "cases": {}}
    for name, (X, T, y) in make_cases(rng).items():
        X32, T32 = X.astype(np.float32), T.astype(np.float32)
        np.save(os.path.join(OUT, f"{name}_X.npy"), X32)
        np.save(os.path.join(OUT, f"{name}_T.npy"), T32)
        np.save(os.path.join(OUT, f"{name}_y.npy"), y)
        m = int(len(y) * 0.8)
        Xs, Ts, ys = standardize(X32)[:m], standardize(T32)[:m], y[:m]
        x_exact, _ = symbols(Xs)
        res = {"m": m, "binning_exact_x": [], "binning_binned_x": [], "hsic": []}
        for k, B in [(2, 30), (3, 10), (8, 30)]:
            res["binning_exact_x"].append(binning(Ts, x_exact, ys, k, B))
            xb, _ = binned_symbols(Xs, k, B)
            res["binning_binned_x"].append(binning(Ts, xb, ys, k, B))
        for sigma in (50.0, 2.0):
            eps = 1e-5
            res["hsic"].append({"sigma": sigma, "eps": eps, "i_xt": hsic(Xs, Ts, sigma, eps),
                                "i_yt": hsic(ys.astype(np.float64), Ts, sigma, eps)})
        golden["cases"][name] = res
        b = res["binning_exact_x"][0]
        h = res["hsic"][0]
        print(f"{name}: m={m} binning k=2 B=30: H(T) {b['h_t']:.4f} I(X;T) {b['i_xt']:.4f} I(T;Y) {b['i_yt']:.4f} "
              f"({b['n_sym_t']} symbols, {b['n_sym_x']} inputs); HSIC sigma 50: I(X;T) {h['i_xt']:.6f} "
              f"I(Y;T) {h['i_yt']:.6f}")
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
