#!/usr/bin/python3
"""Oracle for tl_holm (src/analysis/stats.c): Holm's step-down adjusted p-values.

statsmodels is not installed and SciPy 1.10 has no Holm adjustment, so the adjusted
values are computed from the definition instead of the closed form tiller uses: the
adjusted p of hypothesis i is the smallest level alpha at which Holm's step-down
procedure (sort p ascending; reject while p_(j) <= alpha / (m - j), j = 0, 1, ...;
stop at the first failure) rejects i, searched over every candidate level. NaN
p-values are not tests (left NaN, not counted in m).

Writes tests/golden/stats/holm.json: [{"p": [...], "adj": [...]}]  (NaN as null)
Run from the repo root:  /usr/bin/python3 tests/oracle/holm_ref.py
"""
import json
import math
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "stats", "holm.json")


def step_down_rejects(p, alpha):
    idx = sorted(range(len(p)), key=lambda i: (p[i], i))
    m = len(p)
    rejected = set()
    for j, i in enumerate(idx):
        if p[i] <= alpha / (m - j):
            rejected.add(i)
        else:
            break
    return rejected


def holm_by_definition(p):
    keep = [i for i, v in enumerate(p) if not math.isnan(v)]
    q = [p[i] for i in keep]
    m = len(q)
    cands = sorted(set([min(1.0, (m - j) * v) for j, v in enumerate(sorted(q))] + [1.0]))
    adj = [float("nan")] * len(p)
    for k, i in enumerate(keep):
        for a in cands:
            if k in step_down_rejects(q, a * (1 + 1e-15)):
                adj[i] = a
                break
        else:
            adj[i] = 1.0
    return adj


def main():
    rng = np.random.default_rng(13)
    cases = [[0.01, 0.04, 0.03, 0.005], [0.5], [0.2, 0.2, 0.2], [1e-6, 0.9, float("nan"), 0.02, 0.02]]
    for m in (5, 12, 48):
        v = rng.uniform(0, 1, m) ** 3
        cases.append([float(x) for x in v])
    cases.append([float(x) for x in np.concatenate([rng.uniform(0, 0.002, 6), rng.uniform(0, 1, 30)])])
    out = [{"p": [None if math.isnan(x) else x for x in c],
            "adj": [None if math.isnan(x) else x for x in holm_by_definition(c)]} for c in cases]
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", OUT, len(out), "cases")


if __name__ == "__main__":
    main()
