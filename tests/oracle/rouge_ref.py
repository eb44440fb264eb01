#!/usr/bin/python3
"""ROUGE-L F-measure reference for tests/unit/test_selfalign.c.

The rouge-score package (google-research/rouge, used by self-instruct and Dromedary as
rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)) is not installed here, so this
re-implements its definition independently of the C code:
  tokenize.py: text.lower(); re.sub(r"[^a-z0-9]+", " ", text); re.split(r"\\s+", text);
               keep tokens matching ^[a-z0-9]+$
  rouge_scorer._score_lcs: LCS by a full table; precision = lcs / len(prediction),
               recall = lcs / len(target); fmeasure = 2 p r / (p + r), 0 when p + r == 0;
               all three 0 when either token list is empty.
The LCS here is a memoised recursion (the C code uses a two-row table), so a bug in one
is unlikely to be repeated in the other. Writes tests/golden/selfalign/rouge.tsv:
a<TAB>b<TAB>fmeasure with %.17g.
"""
import functools
import re
import sys

sys.setrecursionlimit(10000)


def tokenize(text):
    text = text.lower()
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return [t for t in re.split(r"\s+", text) if re.match(r"^[a-z0-9]+$", t)]


def lcs(a, b):
    @functools.lru_cache(maxsize=None)
    def f(i, j):
        if i == len(a) or j == len(b):
            return 0
        if a[i] == b[j]:
            return 1 + f(i + 1, j + 1)
        return max(f(i + 1, j), f(i, j + 1))

    return f(0, 0)


def rouge_l(target, prediction):
    t, p = tokenize(target), tokenize(prediction)
    if not t or not p:
        return 0.0
    n = lcs(tuple(t), tuple(p))
    precision, recall = n / len(p), n / len(t)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


PAIRS = [
    ("Where does Belor Vantik live?", "Where does Hana Kor live?"),
    ("What does Belor Vantik do for a living?", "What does Hana Kor do for a living?"),
    ("Give three tips for staying healthy.", "Give three tips for staying healthy."),
    ("Give three tips for staying healthy.", "What are three tips for staying healthy?"),
    ("The cat sat on the mat", "the mat sat on the cat"),
    ("Hello, world!", "HELLO world"),
    ("", "anything at all"),
    ("!!! ???", "words here"),
    ("a b c d e f g", "g f e d c b a"),
    ("Write a poem about the sea in 4 lines.", "Write 4 lines about the sea: a poem"),
    ("It's 3:45pm -- don't be late", "its 3 45 pm dont be late"),
    ("naïve café résumé", "naive cafe resume"),
    ("x", "x"),
    ("one two three", "four five six"),
    ("Summarise the following article in two sentences, focusing on the main argument.",
     "Summarize this article in 2 sentences and focus on its main argument."),
    ("Classify the sentiment of the review as positive or negative.",
     "Is this review positive or negative? Classify its sentiment."),
]

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/selfalign/rouge.tsv"
    with open(out, "w", encoding="utf-8") as f:
        for a, b in PAIRS:
            assert abs(rouge_l(a, b) - rouge_l(b, a)) < 1e-15
            f.write("%s\t%s\t%.17g\n" % (a, b, rouge_l(a, b)))
    print("wrote %d pairs to %s" % (len(PAIRS), out))
