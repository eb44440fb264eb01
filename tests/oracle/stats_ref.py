#!/usr/bin/python3
"""Oracle for tiller's statistics (src/analysis/stats.c) with SciPy.

Writes tests/golden/stats/golden.json:

  * wilson:  [k, n, lo, hi]   scipy.stats.binomtest(k, n).proportion_ci(0.95, "wilson")
  * binom:   [k, n, p]        scipy.stats.binomtest(k, n, 0.5).pvalue (two-sided)
  * mcnemar: {a, b, p, diff, lo, hi}: two 0/1 outcome vectors on the same items; p is
             McNemar's exact test = binomtest(#(b right, a wrong), #discordant, 0.5);
             diff = mean(b - a) and its Wald interval from the per-item differences
             (numpy std with ddof 0), diff +- 1.959964 std / sqrt(n)
  * paired:  {a, b, p, diff, lo, hi}: per-item scores in [0, 1]; p = the two-sided sign test
             binomtest(#(b > a), #(b != a), 0.5), diff and interval as for mcnemar
  * perm:    {v, test, stat, p, exact}: scipy.stats.permutation_test over the order of
             v (permutation_type "pairings", alternative "greater"), exhaustive for
             n <= 8, 19,999 random orderings above; statistics "rise_fall" (the
             largest over peak positions k of the smaller of Kendall's tau of the rise
             v[0..k] and of the fall v[k..] read backwards, computed pair by pair here) and "increase" (scipy.stats.spearmanr(v, order))
  * mi:      {a, b, bits}: from the contingency table (scipy.stats.contingency.crosstab),
             sum p_ab log2(p_ab / (p_a p_b)) via scipy.stats.entropy: H(a) + H(b) - H(a, b)

Run from the repo root:  /usr/bin/python3 tests/oracle/stats_ref.py
"""
import json
import math
import os

import numpy as np
from scipy import stats
from scipy.stats.contingency import crosstab

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "stats")
Z95 = 1.959963984540054


def tau_pairs(a, sign):
    m = len(a)
    s = sum(np.sign(a[j] - a[i]) for i in range(m) for j in range(i + 1, m))
    return sign * s / (m * (m - 1) / 2)


def rise_fall(v, axis=-1):
    """max over peaks k (>= 3 points each side, 2 when n < 5) of min(tau(rise), tau(fall))"""
    v = np.asarray(v)
    n = len(v)
    lo, hi = (2, n - 3) if n >= 5 else (1, n - 2)
    return max(min(tau_pairs(v[:k + 1], 1), tau_pairs(v[k:], -1)) for k in range(lo, hi + 1))


def increase(v, axis=-1):
    v = np.atleast_2d(v)
    order = np.arange(v.shape[-1])
    out = np.array([stats.spearmanr(row, order).correlation for row in v])
    return out if len(out) > 1 else out[0]


def mi_bits(a, b):
    t = crosstab(a, b).count
    h = lambda c: stats.entropy(c.ravel()[c.ravel() > 0], base=2)
    return float(h(t.sum(axis=1)) + h(t.sum(axis=0)) - h(t))


def perm_case(v, test, rng):
    fn = rise_fall if test == "rise_fall" else increase
    n = len(v)
    exact = math.factorial(n) <= 40320
    res = stats.permutation_test((np.array(v),), lambda x: fn(x), permutation_type="pairings",
                                 alternative="greater", n_resamples=np.inf if exact else 19999,
                                 vectorized=False, random_state=rng)
    return {"v": list(map(float, v)), "test": test, "stat": float(res.statistic), "p": float(res.pvalue),
            "exact": exact}


def main():
    rng = np.random.default_rng(20261206)
    g = {"wilson": [], "binom": [], "mcnemar": [], "paired": [], "perm": [], "mi": []}
    for k, n in [(0, 10), (1, 10), (5, 10), (10, 10), (48, 60), (57, 60), (0, 1), (1, 1), (700, 1000),
                 (1999, 2000), (3, 400)]:
        ci = stats.binomtest(k, n).proportion_ci(0.95, "wilson")
        g["wilson"].append([k, n, float(ci.low), float(ci.high)])
    for k, n in [(0, 0), (0, 1), (1, 1), (3, 10), (5, 10), (7, 10), (0, 25), (10, 40), (30, 40), (950, 2000),
                 (1060, 2000), (400, 700), (20, 5000)]:
        p = 1.0 if n == 0 else float(stats.binomtest(k, n, 0.5).pvalue)
        g["binom"].append([k, n, p])
    for n, pa, pb in [(20, 0.5, 0.6), (300, 0.45, 0.55), (300, 0.5, 0.5), (1000, 0.3, 0.33), (50, 0.9, 0.9)]:
        a = (rng.random(n) < pa).astype(int)
        b = a.copy()
        flip = rng.random(n) < abs(pb - pa) + 0.1  # some discordant pairs in both directions
        b[flip] = (rng.random(flip.sum()) < pb).astype(int)
        only_b = int(((b == 1) & (a == 0)).sum())
        disc = int((a != b).sum())
        d = (b - a).astype(float)
        half = Z95 * d.std(ddof=0) / math.sqrt(n)
        p = 1.0 if disc == 0 else float(stats.binomtest(only_b, disc, 0.5).pvalue)
        g["mcnemar"].append({"a": a.tolist(), "b": b.tolist(), "p": p, "diff": float(d.mean()),
                             "lo": float(d.mean() - half), "hi": float(d.mean() + half)})
    # per-item scores that are not 0/1 (e.g. mc2, lm_score): the sign test on the differences
    for n, shift in [(300, 0.0), (300, 0.08), (60, -0.2)]:
        a = rng.random(n)
        b = np.clip(a + shift + 0.3 * rng.normal(size=n), 0, 1)
        b[:5] = a[:5]  # some ties
        d = b - a
        pos, neg = int((d > 0).sum()), int((d < 0).sum())
        half = Z95 * d.std(ddof=0) / math.sqrt(n)
        p = float(stats.binomtest(pos, pos + neg, 0.5).pvalue)
        g["paired"].append({"a": a.tolist(), "b": b.tolist(), "p": p, "diff": float(d.mean()),
                            "lo": float(d.mean() - half), "hi": float(d.mean() + half)})
    series = [
        [0.1, 0.5, 0.9, 0.6, 0.2],                      # rises then falls
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],                 # increases
        [0.3, 0.1, 0.4, 0.1, 0.5, 0.9, 0.2],            # noise
        [0.0, 0.4, 0.8, 1.0, 0.9, 0.6, 0.3, 0.1],       # rises then falls, 8 points
        [0.5, 0.5, 0.2, 0.5, 0.7, 0.5, 0.1],            # ties
        list(rng.normal(size=12)),                      # Monte Carlo
        list(np.sin(np.linspace(0, math.pi, 14)) + 0.1 * rng.normal(size=14)),
    ]
    for v in series:
        for test in ("rise_fall", "increase"):
            g["perm"].append(perm_case(v, test, rng))
    for n, ka, kb, dep in [(200, 4, 2, 0.0), (500, 30, 2, 0.7), (60, 60, 2, 0.0)]:
        a = rng.integers(0, ka, size=n)
        b = np.where(rng.random(n) < dep, a % kb, rng.integers(0, kb, size=n))
        g["mi"].append({"a": a.tolist(), "b": b.tolist(), "bits": mi_bits(a, b)})
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "golden.json"), "w") as f:
        json.dump(g, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", os.path.join(OUT, "golden.json"))


if __name__ == "__main__":
    main()
