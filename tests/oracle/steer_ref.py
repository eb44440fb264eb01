#!/usr/bin/python3
"""Oracle for tiller's steering vectors (src/control/steer.c).

Input: an activation capture made by tiller itself (`tiller acts`, whose rows
capture_ref.py checks against a PyTorch forward), of stories260K on the first
80 rows of the trust set stereoset.csv:

  head -n 81 ../shared/data/trust/stereoset.csv > /tmp/stereo80.csv
  build/tiller acts -m ../shared/models/stories260K/stories260K.bin \\
      --tokenizer ../shared/models/stories260K/tok512.bin --data /tmp/stereo80.csv -o /tmp/stereo80
  /usr/bin/python3 tests/oracle/steer_ref.py /tmp/stereo80

Output: tests/golden/steer/stereo80.json, per layer L = 1 .. 4 of resid_post.L:
  - mean_diff: the reference's get_steering_vector (generate_steering_vector.py,
    ChnQ/TracingLLM) in torch, float64: rows [:int(N * 0.5)], mean(label 1) -
    mean(label 0), / norm, * torch.std(all rows @ v) (n - 1);
  - pca: D = rows of the k-th label-1 statement minus the k-th label-0 statement
    (k over min(#1, #0), pairs with both rows in the first half), the top
    eigenvector of D^T D (uncentred), signed so that v . mean(D) >= 0, scaled the
    same way.
test_steer builds both through tl_steer_build from the CSV and compares.
"""
import json
import os
import sys

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "steer")


def get_steering_vector(full_acts, labels, train_ratio=0.5):
    # the reference's function, on float64 tensors
    train_num = int(len(labels) * train_ratio)
    acts = full_acts[:train_num]
    lab = labels[:train_num]
    true_mass_mean = torch.mean(acts[lab == 1], dim=0)
    false_mass_mean = torch.mean(acts[lab == 0], dim=0)
    direction_vector = true_mass_mean - false_mass_mean
    direction_vector = direction_vector / direction_vector.norm()
    proj_vals = full_acts @ direction_vector
    return torch.std(proj_vals) * direction_vector


def pca_vector(full_acts, labels, train_ratio=0.5):
    n_fit = int(len(labels) * train_ratio)
    pos = [i for i in range(len(labels)) if labels[i] == 1]
    neg = [i for i in range(len(labels)) if labels[i] == 0]
    P = min(len(pos), len(neg))
    pairs = [(pos[k], neg[k]) for k in range(P) if pos[k] < n_fit and neg[k] < n_fit]
    A = full_acts.numpy()
    D = np.stack([A[p] - A[q] for p, q in pairs])
    w, V = np.linalg.eigh(D.T @ D)
    v = V[:, -1]
    if v @ D.mean(axis=0) < 0:
        v = -v
    v = torch.from_numpy(v / np.linalg.norm(v))
    return torch.std(full_acts @ v) * v


def main():
    acts_dir = sys.argv[1]
    labels = torch.from_numpy(np.load(os.path.join(acts_dir, "labels.npy")))
    out = {"source": "stories260K, first 80 rows of stereoset.csv, resid_post.L at the last token", "layers": {}}
    for L in range(1, 5):
        A = torch.from_numpy(np.load(os.path.join(acts_dir, f"resid_post.{L}.npy")).astype(np.float64))
        out["layers"][str(L)] = {
            "mean_diff": get_steering_vector(A, labels).tolist(),
            "pca": pca_vector(A, labels).tolist(),
        }
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "stereo80.json"), "w") as f:
        json.dump(out, f)
    print("wrote", os.path.join(OUT, "stereo80.json"), "n =", len(labels), "positives =", int(labels.sum()))


if __name__ == "__main__":
    main()
