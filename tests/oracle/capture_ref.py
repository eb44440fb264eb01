#!/usr/bin/python3
"""Oracle for tiller's activation capture (src/analysis/capture.c).

On the tiny_llama checkpoint of llama_ref.py (tests/golden/tiny_llama), runs a
float64 transcription of transformers' Llama forward, one statement at a time
(token ids, BOS = 1 first, lengths 1 .. 24), and records for each hook point
(embed, resid_post.0 .. 2 = the output of decoder layer l, as the reference's
forward hook on model.layers[l], and final_norm) the last token's row and the
mean over all positions. Writes tests/golden/capture/tiny_llama.bin:

    u32 magic 0x43414c54 ("TLAC"), u32 version 1, u32 n_seq, u32 n_points, u32 C,
    i32 lens[n_seq], i32 tokens[sum lens],
    f64 last[n_points][n_seq][C], f64 mean[n_points][n_seq][C]

--check DIR loads an activation directory written by `tiller acts` with numpy
(meta.json, labels.npy, <point>.npy) and compares it with this forward, for a
capture of tiny_llama: shows the files are what numpy.load expects.

Run from the repo root:  /usr/bin/python3 tests/oracle/capture_ref.py
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402  (rms_norm, rope, repeat_kv, read_safetensors)

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "golden", "tiny_llama")
OUT = os.path.join(HERE, "..", "golden", "capture", "tiny_llama.bin")
POINTS = ["embed", "resid_post.0", "resid_post.1", "resid_post.2", "final_norm"]
SEED = 20240613


def hidden_states(cfg, w, tokens):
    """{point: [T, C]} for one sequence, float64 (llama_ref.forward, keeping the residual stream)."""
    W = {k: v.to(torch.float64) for k, v in w.items()}
    C, H, Hkv, D = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, T = cfg["rms_norm_eps"], len(tokens)
    out = {}
    x = W["model.embed_tokens.weight"][torch.tensor(tokens)]
    out["embed"] = x.clone()
    cos, sin = llama_ref.rope_cos_sin(T, D, cfg["rope_theta"])
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = llama_ref.rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, D).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        q = q * cos + llama_ref.rotate_half(q) * sin
        k = k * cos + llama_ref.rotate_half(k) * sin
        k, v = llama_ref.repeat_kv(k, H // Hkv), llama_ref.repeat_kv(v, H // Hkv)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * D)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = llama_ref.rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
        out[f"resid_post.{l}"] = x.clone()
    out["final_norm"] = llama_ref.rms_norm(x, W["model.norm.weight"], eps)
    return out


def load_model():
    cfg = json.load(open(os.path.join(MODEL, "config.json")))
    return cfg, llama_ref.read_safetensors(os.path.join(MODEL, "model.safetensors"))


def check_dir(d):
    cfg, w = load_model()
    meta = json.load(open(os.path.join(d, "meta.json")))
    labels = np.load(os.path.join(d, "labels.npy"))
    assert labels.dtype == np.int64 and labels.shape == (meta["n_statements"],)
    tokens = [[int(t) for t in line.split()] for line in open(os.path.join(d, "tokens.txt"))]
    worst = 0.0
    for name in meta["points"]:
        a = np.load(os.path.join(d, name + ".npy"))
        assert a.dtype == np.float32 and a.shape == (meta["n_statements"], cfg["hidden_size"]), (name, a.shape)
        for i, toks in enumerate(tokens):
            hs = hidden_states(cfg, w, toks)[name]
            want = hs[-1] if meta["token"] == "last" else hs.mean(dim=0)
            worst = max(worst, float(np.abs(a[i] - want.numpy()).max()))
    print(f"{d}: {len(meta['points'])} points x {len(tokens)} statements load with numpy; "
          f"max abs diff from the float64 forward {worst:.2e}")
    return 0 if worst < 1e-4 else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check_dir(sys.argv[2])
    cfg, w = load_model()
    gen = torch.Generator().manual_seed(SEED)
    lens = [1, 2, 24] + torch.randint(3, 24, (9,), generator=gen).tolist()
    seqs = [[1] + torch.randint(0, cfg["vocab_size"], (n - 1,), generator=gen).tolist() for n in lens]
    C = cfg["hidden_size"]
    last = np.zeros((len(POINTS), len(seqs), C))
    mean = np.zeros((len(POINTS), len(seqs), C))
    for i, toks in enumerate(seqs):
        hs = hidden_states(cfg, w, toks)
        for p, name in enumerate(POINTS):
            last[p, i] = hs[name][-1].numpy()
            mean[p, i] = hs[name].mean(dim=0).numpy()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "wb") as f:
        f.write(struct.pack("<5I", 0x43414C54, 1, len(seqs), len(POINTS), C))
        f.write(struct.pack(f"<{len(seqs)}i", *lens))
        f.write(struct.pack(f"<{sum(lens)}i", *[t for s in seqs for t in s]))
        f.write(last.astype("<f8").tobytes())
        f.write(mean.astype("<f8").tobytes())
    print(f"wrote {OUT}: {len(seqs)} sequences (lengths {lens}), points {POINTS}, "
          f"|last| max {np.abs(last).max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
