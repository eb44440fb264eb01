#!/usr/bin/python3
"""Reference accuracies for the world's bag-of-words baseline (src/world/bow.c).

For each probe CSV of ../shared/data/trust (the study's five dimensions), split the
rows as TracingLLM does (first 80 % train, last 20 % test, file order), fit
scikit-learn's CountVectorizer(binary=True) on the train statements and a
LogisticRegression(C=1) run to convergence, and write the test accuracy.
tests/unit/test_world.c reads the same files, runs bow.c and compares.

Run from the repository root:  /usr/bin/python3 tests/oracle/world_bow.py
Writes tests/golden/world_bow_trust.txt.
"""
import csv
import os
import sys

import sklearn
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

SHARED = os.environ.get("TILLER_SHARED", "../shared")
NAMES = ["truthfulqa_train", "toxigen", "confaide", "stereoset", "sst2"]


def main():
    out = ["# name n_train n_test accuracy  (sklearn %s, CountVectorizer(binary=True), "
           "LogisticRegression(C=1, tol=1e-8, max_iter=100000))" % sklearn.__version__]
    for name in NAMES:
        with open(os.path.join(SHARED, "data/trust", name + ".csv"), newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["statement", "label"], rows[0]
        rows = rows[1:]
        x = [r[0] for r in rows]
        y = [int(r[1]) for r in rows]
        k = int(0.8 * len(rows))
        vec = CountVectorizer(binary=True)
        xtr = vec.fit_transform(x[:k])
        xte = vec.transform(x[k:])
        clf = LogisticRegression(C=1.0, tol=1e-8, max_iter=100000).fit(xtr, y[:k])
        acc = clf.score(xte, y[k:])
        out.append("%s %d %d %.6f" % (name, k, len(rows) - k, acc))
        print(out[-1], file=sys.stderr)
    with open("tests/golden/world_bow_trust.txt", "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
