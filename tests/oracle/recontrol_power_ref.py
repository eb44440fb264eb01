#!/usr/bin/python3
"""Oracle for tl_rc_min_effect (src/study/recontrol_select.c): the smallest standardised paired
effect a two-sided test at level alpha detects with the given power over n prompts, by the normal
approximation, (Phi^-1(1 - alpha/2) + Phi^-1(power)) / sqrt(n), with scipy.stats.norm.ppf.

    /usr/bin/python3 tests/oracle/recontrol_power_ref.py [tests/golden/recontrol/power.tsv]

Output: `n alpha power d` per line (%.17g).
"""
import math
import sys

from scipy.stats import norm

CASES = [(300, 0.01, 0.8), (20, 0.05, 0.8), (100, 0.05, 0.9), (2, 0.5, 0.5), (1000, 0.001, 0.95),
         (50, 1e-6, 0.99), (7, 0.2, 0.01), (300, 0.01 / 3, 0.8)]
path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/recontrol/power.tsv"
with open(path, "w") as f:
    for n, a, pw in CASES:
        d = (norm.ppf(1 - a / 2) + norm.ppf(pw)) / math.sqrt(n)
        f.write("%d %.17g %.17g %.17g\n" % (n, a, pw, d))
print("wrote", path)
