#!/usr/bin/python3
"""Oracle for tl_sa_fisher (src/study/selfalign_eval.c): two-sided Fisher exact p-values from
scipy.stats.fisher_exact on the 2x2 table [[k1, n1 - k1], [k2, n2 - k2]].

    /usr/bin/python3 tests/oracle/fisher_ref.py [tests/golden/selfalign/fisher.tsv]

Output: `k1 n1 k2 n2 p` per line (%.17g).
"""
import sys

from scipy.stats import fisher_exact

CASES = [(0, 10, 0, 10), (5, 10, 5, 10), (9, 10, 1, 10), (133, 200, 40, 175), (133, 200, 120, 175),
         (0, 30, 30, 30), (3, 30, 0, 30), (12, 40, 20, 60), (1, 1, 0, 1), (7, 200, 2, 175), (100, 100, 99, 100),
         (50, 120, 70, 130), (0, 5, 4, 200), (17, 60, 4, 60)]
path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/selfalign/fisher.tsv"
with open(path, "w") as f:
    for k1, n1, k2, n2 in CASES:
        p = fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative="two-sided")[1]
        f.write("%d %d %d %d %.17g\n" % (k1, n1, k2, n2, p))
print("wrote", path)
