#!/usr/bin/python3
"""Pool the per-item results of several `tiller reversal` output folders (e.g. one run per
objective, launched in parallel) into one table per model, with the same statistics as
tiller's results.csv: mean +- std over seeds, a 95 % percentile bootstrap interval over
people (2000 replicates; a person = the gold completion of an item; statistic = mean over
items of the hits averaged over seeds), and the paired difference against ntp with its
interval and p = 2 min(P(rep <= 0), P(rep >= 0)). The bootstrap is tiller's
(src/study/bootstrap.c, checked against this same numpy formula in tests/oracle).

    /usr/bin/python3 scripts/reversal_pool.py --group S out/S1 out/S2 --group M out/M1 [-o pooled.csv]

Reads OUT/items/<objective>-seed<k>-<subtask>.csv and OUT/items/base-<subtask>.csv (columns
gold, pred, em). A run that did not finish evaluating is skipped (its four files are needed).
"""
import argparse
import csv
import os
import re
import sys

import numpy as np

SUBTASKS = ["N2D", "D2N", "N2D-reverse", "D2N-reverse"]
PAT = re.compile(r"^(?:(base)|(.+)-seed(\d+))-(N2D|D2N|N2D-reverse|D2N-reverse)\.csv$")


def load(dirs):
    runs = {}  # (objective, seed) -> subtask -> (em[], rank[], person[])
    for d in dirs:
        for f in sorted(os.listdir(os.path.join(d, "items"))):
            m = PAT.match(f)
            if not m:
                continue
            obj = "base" if m.group(1) else m.group(2).replace("_", ":", 1) if "=" in m.group(2) else m.group(2)
            seed = 0 if m.group(1) else int(m.group(3))
            with open(os.path.join(d, "items", f), newline="") as fh:
                rows = list(csv.DictReader(fh))
            em = np.array([float(r["em"]) for r in rows])
            gold = np.array([int(r["gold"]) for r in rows])
            rank = np.array([float(int(r["pred"]) == int(r["gold"])) for r in rows])
            runs.setdefault((obj, seed), {})[m.group(4)] = (em, rank, gold)
    return {k: v for k, v in runs.items() if len(v) == 4}


def boot(values, person, n_people, reps, rng_seed):
    sums = np.bincount(person, weights=values, minlength=n_people)
    cnts = np.bincount(person, minlength=n_people)
    draws = np.random.default_rng(rng_seed).integers(0, n_people, size=(reps, n_people))
    rep = sums[draws].sum(1) / cnts[draws].sum(1)
    lo, hi = np.quantile(rep, [0.025, 0.975])
    p = min(1.0, 2 * min(np.mean(rep <= 0), np.mean(rep >= 0))) if np.any(values != 0) else float("nan")
    return values.mean(), lo, hi, p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--group", nargs="+", action="append", required=True, metavar=("NAME", "DIR"))
    ap.add_argument("-o", "--out", default=None)
    a = ap.parse_args()
    out = []
    for g in a.group:
        name, dirs = g[0], g[1:]
        runs = load(dirs)
        objs = sorted({o for o, _ in runs}, key=lambda o: (o != "base", o != "ntp", o))
        for s_i, sub in enumerate(SUBTASKS):
            person = None
            mean_items = {}
            for obj in objs:
                seeds = sorted(s for o, s in runs if o == obj)
                em = np.stack([runs[(obj, s)][sub][0] for s in seeds])
                rk = np.stack([runs[(obj, s)][sub][1] for s in seeds])
                person = runs[(obj, seeds[0])][sub][2]
                mean_items[obj] = (em.mean(0), rk.mean(0), em.mean(1), rk.mean(1), seeds)
            n_people = int(person.max()) + 1
            for obj in objs:
                emi, rki, ems, rks, seeds = mean_items[obj]
                row = {"model": name, "objective": obj, "subtask": sub, "seeds": len(seeds),
                       "seed_list": " ".join(map(str, seeds)), "items": len(emi), "people": len(np.unique(person))}
                for k, (vi, vs) in enumerate(((emi, ems), (rki, rks))):
                    met = ("em", "rank")[k]
                    est, lo, hi, _ = boot(vi, person, n_people, 2000, 1000 + 2 * s_i + k)
                    row[f"{met}_mean"] = est
                    row[f"{met}_std"] = vs.std(ddof=1) if len(vs) > 1 else 0.0
                    row[f"{met}_lo"], row[f"{met}_hi"] = lo, hi
                    if obj not in ("base", "ntp") and "ntp" in mean_items:
                        d, dlo, dhi, p = boot(vi - mean_items["ntp"][k], person, n_people, 2000, 1000 + 2 * s_i + k)
                        row[f"{met}_vs_ntp"], row[f"{met}_vs_ntp_lo"], row[f"{met}_vs_ntp_hi"] = d, dlo, dhi
                        row[f"{met}_vs_ntp_p"] = p
                out.append(row)
    keys = []
    for r in out:
        keys += [k for k in r if k not in keys]
    w = csv.DictWriter(open(a.out, "w", newline="") if a.out else sys.stdout, fieldnames=keys)
    w.writeheader()
    for r in out:
        w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})


if __name__ == "__main__":
    main()
