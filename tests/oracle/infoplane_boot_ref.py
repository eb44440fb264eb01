#!/usr/bin/python3
"""Oracle for the bootstrap of the information-plane estimates (src/analysis/infoplane_boot.c).

Writes tests/golden/infoplane_boot/: X.npy, T.npy (float32 [m, d]), y.npy, cluster.npy
(int64 [m]), draws.npy (int64 [B, G]: each resample's drawn clusters) and golden.json with,
per case and resample, the estimates computed here by numpy alone on the resample made
explicit: every row repeated as often as its cluster was drawn, then

  * normalised HSIC literally as the reference's mi_estimators.py (float64): K on the
    repeated rows, Kc = K H, R = Kc inv(Kc + eps n I), estimate sum(Ra * Rb.T), for
    (X, T) and (Y, T); and the shuffle mean tr(Ra) tr(Rb) / (n - 1), itself checked here
    against the mean over 4,000 random shuffles;
  * binning's plug-in I(X;T), I(T;Y) (bits) of the repeated rows, X and T symbols from the
    whole sample (X: distinct rows; T: 2 PCA dimensions, 6 bins);

and the intervals: the whole sample's value +- 1.959964 x the standard deviation (ddof 1) of
the resampled values. Tiller computes HSIC's resamples without repeating rows (a low-rank
factor of K and weighted moments), so this is an independent route.

Cases: "ref" (sigma 50 as in the demo: K is nearly low rank, the factor is truncated) and
"narrow" (sigma 1: K has full rank).

Run from the repo root:  /usr/bin/python3 tests/oracle/infoplane_boot_ref.py
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from infoplane_ref import standardize, hsic_r, binned_symbols, symbols, entropy, joint  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "infoplane_boot")
EPS, Z = 1e-5, 1.959963984540054


def mi(a, b):
    return entropy(a) + entropy(b) - joint(a, b)


def main():
    rng = np.random.default_rng(13)
    m, G, B, dx, dt = 60, 20, 24, 6, 5
    z = rng.normal(size=(m, 2))
    y = (z[:, 0] + 0.7 * rng.normal(size=m) > 0).astype(np.int64)
    X = (z @ rng.normal(size=(2, dx)) + 0.4 * rng.normal(size=(m, dx))).astype(np.float32)
    T = (np.tanh(z @ rng.normal(size=(2, dt))) + 0.2 * rng.normal(size=(m, dt))).astype(np.float32)
    cluster = rng.permutation(np.repeat(np.arange(G), m // G)).astype(np.int64)
    draws = rng.integers(0, G, size=(B, G)).astype(np.int64)
    os.makedirs(OUT, exist_ok=True)
    for name, v in (("X", X), ("T", T), ("y", y), ("cluster", cluster), ("draws", draws)):
        np.save(os.path.join(OUT, name + ".npy"), v)
    Xs, Ts = standardize(X), standardize(T)
    yd = y.astype(np.float64)[:, None]
    xs = symbols(Xs)[0]
    ts = binned_symbols(Ts, 2, 6)[0]
    W = np.stack([np.bincount(d, minlength=G)[cluster] for d in draws])  # [B, m] row weights
    golden = {"m": m, "clusters": G, "resamples": B, "eps": EPS, "pca_dims": 2, "bins": 6, "cases": {}}
    # binning (independent of sigma)
    bo = np.array([[mi(np.repeat(xs, w), np.repeat(ts, w)), mi(np.repeat(y, w), np.repeat(ts, w))] for w in W])
    bpt = [mi(xs, ts), mi(y, ts)]
    golden["binning"] = {"point": bpt, "resamples": bo.tolist(),
                         "ci": [[p - Z * s, p + Z * s] for p, s in zip(bpt, bo.std(axis=0, ddof=1))]}
    for case, sigma in (("ref", 50.0), ("narrow", 1.0)):
        rows, worst = [], 0.0
        for b, w in enumerate(W):
            Rx, Rt, Ry = (hsic_r(np.repeat(A, w, axis=0), sigma, EPS) for A in (Xs, Ts, yd))
            n = int(w.sum())
            ixt, iyt = float(np.sum(Rx * Rt.T)), float(np.sum(Ry * Rt.T))
            nx, ny = np.trace(Rx) * np.trace(Rt) / (n - 1), np.trace(Ry) * np.trace(Rt) / (n - 1)
            if b < 2:  # the shuffle mean's formula against shuffles
                mc = np.mean([np.sum(Rx[np.ix_(p, p)] * Rt.T) for p in (rng.permutation(n) for _ in range(4000))])
                worst = max(worst, abs(mc - nx) / abs(nx))
            rows.append([ixt, float(nx), iyt, float(ny)])
        rows = np.array(rows)
        Rx, Rt, Ry = hsic_r(Xs, sigma, EPS), hsic_r(Ts, sigma, EPS), hsic_r(yd, sigma, EPS)
        pt = [float(np.sum(Rx * Rt.T)), float(np.trace(Rx) * np.trace(Rt) / (m - 1)),
              float(np.sum(Ry * Rt.T)), float(np.trace(Ry) * np.trace(Rt) / (m - 1))]
        vals = [rows[:, 0], rows[:, 0] - rows[:, 1], rows[:, 2], rows[:, 2] - rows[:, 3]]
        pts = [pt[0], pt[0] - pt[1], pt[2], pt[2] - pt[3]]
        ci = [[p - Z * v.std(ddof=1), p + Z * v.std(ddof=1)] for p, v in zip(pts, vals)]
        golden["cases"][case] = {"sigma": sigma, "point": pt, "resamples": rows.tolist(), "ci": ci,
                                 "null_formula_vs_4000_shuffles_rel": worst}
        print(f"{case}: sigma {sigma}, shuffle mean formula vs 4,000 shuffles: {worst:.2e} relative")
        assert worst < 0.02
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(golden, f, indent=1)


if __name__ == "__main__":
    main()
