#!/usr/bin/python3
"""Oracle for the reversal experiment's statistics, written from their definitions with numpy
and SciPy, not from tiller's C:

1. the paired sign-flip test over clusters (tl_signflip_clusters, src/study/signflip.c):
   scipy.stats.permutation_test on the per-cluster sums of the paired differences with
   permutation_type="samples" (each cluster's sign flips), statistic = their sum, two-sided,
   exact (n_resamples = inf) for <= 16 clusters;
2. the calibrated two-way choice (tl_reversal_choice_scores, src/study/reversal.c): a
   candidate p's calibrated score at item i is ll_i(p) minus the mean of ll_j(p) over the items
   j having p as a candidate whose right answer is neither p nor gold_i; the item's score is the
   share of its other candidates whose calibrated score is below the right answer's (ties 1/2).

    /usr/bin/python3 tests/oracle/reversal_choice_ref.py [out.txt]

Output (text, one case per block; numbers with 17 significant digits):
    signflip N C           then N lines "value cluster", then "p P"
    choice N               then N lines "gold k cand_1 .. cand_k ll_1 .. ll_k", then N lines "score S"
"""
import sys

import numpy as np
from scipy import stats


def signflip_case(rng, n_clusters, per, shift, out):
    cluster = np.repeat(np.arange(n_clusters), per)
    values = rng.normal(shift, 0.4, len(cluster)) + rng.normal(0, 0.2, n_clusters)[cluster]
    values = np.round(values * 8) / 8  # ties in the sums, as 0/1 hits give
    sums = np.bincount(cluster, weights=values, minlength=n_clusters)
    res = stats.permutation_test((sums,), np.sum, permutation_type="samples", alternative="two-sided",
                                 n_resamples=np.inf)
    p = res.pvalue if sums.sum() != 0 else 1.0
    out.append(f"signflip {len(values)} {n_clusters}")
    out += [f"{v:.17g} {c}" for v, c in zip(values, cluster)]
    out.append(f"p {p:.17g}")


def choice_scores(ll, cand, gold):
    n = len(gold)
    score = np.empty(n)
    for i in range(n):
        cal = {}
        for c, p in enumerate(cand[i]):
            prior = [ll[j][list(cand[j]).index(p)] for j in range(n) if gold[j] not in (p, gold[i]) and p in cand[j]]
            cal[p] = ll[i][c] - np.mean(prior) if prior else np.nan
        others = [p for p in cand[i] if p != gold[i]]
        if np.isnan(cal[gold[i]]) or any(np.isnan(cal[p]) for p in others) or not others:
            score[i] = np.nan
            continue
        g = cal[gold[i]]
        score[i] = np.mean([1.0 if g > cal[p] else 0.5 if g == cal[p] else 0.0 for p in others])
    return score


def choice_case(rng, n_people, block, per, out, knowledge):
    gold = np.repeat(np.arange(n_people), per)
    nb = max(1, n_people // block) if block else 1
    cand, ll = [], []
    prior = rng.normal(-20, 4, n_people)  # each candidate's own likelihood, prompt-independent
    for g in gold:
        b = min(g // block, nb - 1) if nb > 1 else 0
        first = b * block if nb > 1 else 0
        size = n_people - first if b == nb - 1 else block
        cs = list(range(first, first + size))
        cand.append(cs)
        row = prior[cs] + rng.normal(0, 1, size) + knowledge * (np.array(cs) == g)
        ll.append(np.round(row, 3))
    score = choice_scores(ll, cand, gold)
    out.append(f"choice {len(gold)}")
    for g, cs, row in zip(gold, cand, ll):
        out.append(f"{g} {len(cs)} " + " ".join(map(str, cs)) + " " + " ".join(f"{x:.17g}" for x in row))
    out += [f"score {s:.17g}" for s in score]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/reversal/choice_ref.txt"
    rng = np.random.default_rng(20261206)
    out = []
    signflip_case(rng, 12, 4, 0.15, out)
    signflip_case(rng, 9, 3, 0.0, out)
    signflip_case(rng, 16, 2, 0.3, out)
    choice_case(rng, 12, 12, 3, out, 1.5)  # one block
    choice_case(rng, 14, 5, 2, out, 0.0)   # blocks of 5, 5 and 4 + remainder
    choice_case(rng, 3, 0, 1, out, 0.0)    # three people: every prior has one item
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
