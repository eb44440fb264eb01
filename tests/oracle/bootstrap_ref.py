#!/usr/bin/python3
"""Oracle for tiller's cluster bootstrap (src/study/bootstrap.c), written with numpy from
the definition, not from tiller's C: a replicate draws n_clusters cluster ids (given here,
so both sides resample alike); its statistic is the mean of the values of all items of
the drawn clusters (with multiplicity); the interval is np.quantile(replicates,
[(1-level)/2, (1+level)/2]) with numpy's default "linear" method; p = 2 min(mean(rep <= 0),
mean(rep >= 0)) capped at 1.

    /usr/bin/python3 tests/oracle/bootstrap_ref.py [out.bin]

File layout (little-endian): uint32 magic 0x54534254 ("TBST"), uint32 n_cases, then per case
    int32 n_items, n_clusters, n_boot; float64 level
    float64 values[n_items]; int32 cluster[n_items]; int32 draws[n_boot, n_clusters]
    float64 estimate, lo, hi, p
"""
import struct
import sys

import numpy as np


def case(rng, n_clusters, sizes, kind, n_boot, level):
    cluster = np.repeat(np.arange(n_clusters), sizes)
    n = len(cluster)
    if kind == "binary":  # hits of people with different skill
        p = rng.uniform(0, 1, n_clusters)
        values = (rng.uniform(0, 1, n) < p[cluster]).astype(np.float64)
    else:  # paired differences around a small positive shift
        values = rng.normal(0.05, 0.3, n) + rng.normal(0, 0.2, n_clusters)[cluster]
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    sums = np.bincount(cluster, weights=values, minlength=n_clusters)
    cnts = np.bincount(cluster, minlength=n_clusters)
    rep = sums[draws].sum(1) / cnts[draws].sum(1)
    lo, hi = np.quantile(rep, [(1 - level) / 2, (1 + level) / 2])
    p = min(1.0, 2 * min(np.mean(rep <= 0), np.mean(rep >= 0)))
    b = struct.pack("<3id", n, n_clusters, n_boot, level)
    b += struct.pack(f"<{n}d", *values) + struct.pack(f"<{n}i", *cluster)
    b += struct.pack(f"<{draws.size}i", *draws.flatten())
    b += struct.pack("<4d", values.mean(), lo, hi, p)
    return b


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/bico/bootstrap_ref.bin"
    rng = np.random.default_rng(20231113)
    cases = [
        case(rng, 30, [10] * 30, "binary", 400, 0.95),
        case(rng, 12, list(rng.integers(1, 7, 12)), "binary", 300, 0.90),
        case(rng, 25, [3] * 25, "diff", 400, 0.95),
    ]
    with open(path, "wb") as f:
        f.write(struct.pack("<2I", 0x54534254, len(cases)))
        for c in cases:
            f.write(c)
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
