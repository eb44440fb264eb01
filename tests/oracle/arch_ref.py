#!/usr/bin/python3
"""Float64 oracle for tiller's other block architectures: GPT-NeoX (Pythia), OLMo and Qwen2.

Each forward pass below is transcribed from the published architecture, not from a library
(transformers is not installed):
  - GPT-NeoX (Black et al. 2022; Pythia, Biderman et al. 2023): LayerNorm with bias, fused
    query_key_value viewed per head as [q_h, k_h, v_h], rotary embedding on the first
    rotary_pct * head_dim dims of each head with rotate_half, causal softmax attention scaled by
    1/sqrt(head_dim), dense output with bias; in parallel an MLP gelu(x W_up^T + b) W_down^T + b
    (exact erf GELU); x <- x + attn(ln1 x) + mlp(ln2 x); final LayerNorm; untied embed_out.
  - OLMo (Groeneveld et al. 2024, the 1B/7B release): LayerNorm without weight or bias (eps
    1e-5), q/k/v clamped to [-clip_qkv, clip_qkv], full rotate_half RoPE, SwiGLU, no biases,
    sequential residual, tied output when tie_word_embeddings.
  - Qwen2 (Qwen team 2024): Llama (RMSNorm, rotate_half RoPE, GQA, SwiGLU) with biases on q, k, v.

Shapes are the real models' per-layer shapes (Pythia-70M, Pythia-160M, Qwen2-0.5B; OLMo-1B's
head_dim 128 and 4x MLP at width 512) with 1-2 layers and a 512-token vocabulary, so the goldens
stay small. Weights are not stored: both this script and tests/unit/test_arch_oracle.c compute
them from the tensor name with the same integer generator (splitmix64 keyed by FNV-1a of the
name), value = offset + scale * (2u - 1) rounded to float32, u = (z >> 40) / 2^24. The C test
writes them as a Hugging Face model.safetensors under their HF names (fused QKV in HF's per-head
layout), so tiller's loader is under test as well.

Writes, per case, tests/golden/arch/<case>/{config.json, tensors.txt, logits.bin}:
  tensors.txt: one line per tensor "name ndim d0 [d1] offset scale"
  logits.bin: u32 magic 0x474c4c54, u32 1, u32 n_tokens, u32 vocab, i32 tokens[n], f64 logits[n][vocab]
Run from the repo root: /usr/bin/python3 tests/oracle/arch_ref.py
"""
import json
import math
import os
import struct

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "arch")
TOKENS = [3, 500, 17, 255, 42, 1, 511, 128, 64, 9, 300, 77]
VOCAB = 512

NEOX_BASE = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "rotary_pct": 0.25,
             "rotary_emb_base": 10000, "layer_norm_eps": 1e-05, "max_position_embeddings": 2048,
             "use_parallel_residual": True, "hidden_act": "gelu", "tie_word_embeddings": False,
             "vocab_size": VOCAB, "num_hidden_layers": 2}
CASES = {
    "pythia70m": dict(NEOX_BASE, hidden_size=512, num_attention_heads=8, intermediate_size=2048),
    "pythia160m": dict(NEOX_BASE, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    "olmo1b": {"architectures": ["OlmoForCausalLM"], "model_type": "olmo", "hidden_size": 512,
               "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 2048,
               "num_hidden_layers": 2, "vocab_size": VOCAB, "max_position_embeddings": 2048,
               "rope_theta": 10000.0, "attention_bias": False, "clip_qkv": 1.0, "hidden_act": "silu",
               "tie_word_embeddings": True, "rope_scaling": None},
    "qwen2_05b": {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
                  "num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864,
                  "num_hidden_layers": 1, "vocab_size": VOCAB, "max_position_embeddings": 32768,
                  "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "use_sliding_window": False,
                  "hidden_act": "silu", "tie_word_embeddings": True, "rope_scaling": None},
}

M64 = (1 << 64) - 1


def fnv1a(name):
    h = 0xCBF29CE484222325
    for b in name.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def weights(name, n, offset, scale):
    """The float32 values of tensor `name` (n values), as the C test makes them."""
    with np.errstate(over="ignore"):
        i = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(fnv1a(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
    return (offset + scale * (2.0 * u - 1.0)).astype(np.float32)


def tensor_list(cfg):
    """(HF name, shape, offset, scale) of every tensor of the checkpoint."""
    C, F, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    D = C // H
    Hkv = cfg.get("num_key_value_heads", H)
    mat = lambda r, c: ((r, c), 0.0, 1.0 / math.sqrt(c))
    norm_w, bias = ((C,), 1.0, 0.2), 0.1
    out = []
    if cfg["model_type"] == "gpt_neox":
        out.append(("gpt_neox.embed_in.weight", (V, C), 0.0, 1.0))
        for l in range(L):
            p = f"gpt_neox.layers.{l}."
            out += [(p + "input_layernorm.weight",) + norm_w, (p + "input_layernorm.bias", (C,), 0.0, bias),
                    (p + "attention.query_key_value.weight",) + mat(3 * C, C),
                    (p + "attention.query_key_value.bias", (3 * C,), 0.0, bias),
                    (p + "attention.dense.weight",) + mat(C, C), (p + "attention.dense.bias", (C,), 0.0, bias),
                    (p + "post_attention_layernorm.weight",) + norm_w,
                    (p + "post_attention_layernorm.bias", (C,), 0.0, bias),
                    (p + "mlp.dense_h_to_4h.weight",) + mat(F, C), (p + "mlp.dense_h_to_4h.bias", (F,), 0.0, bias),
                    (p + "mlp.dense_4h_to_h.weight",) + mat(C, F), (p + "mlp.dense_4h_to_h.bias", (C,), 0.0, bias)]
        out += [("gpt_neox.final_layer_norm.weight",) + norm_w, ("gpt_neox.final_layer_norm.bias", (C,), 0.0, bias),
                ("embed_out.weight",) + mat(V, C)]
        return out
    qwen = cfg["model_type"] == "qwen2"
    out.append(("model.embed_tokens.weight", (V, C), 0.0, 1.0))
    for l in range(L):
        p = f"model.layers.{l}."
        if qwen:
            out.append((p + "input_layernorm.weight",) + norm_w)
        out += [(p + "self_attn.q_proj.weight",) + mat(H * D, C), (p + "self_attn.k_proj.weight",) + mat(Hkv * D, C),
                (p + "self_attn.v_proj.weight",) + mat(Hkv * D, C)]
        if qwen:
            out += [(p + "self_attn.q_proj.bias", (H * D,), 0.0, 0.5), (p + "self_attn.k_proj.bias", (Hkv * D,), 0.0, 0.5),
                    (p + "self_attn.v_proj.bias", (Hkv * D,), 0.0, 0.5),
                    (p + "post_attention_layernorm.weight",) + norm_w]
        out += [(p + "self_attn.o_proj.weight",) + mat(C, H * D), (p + "mlp.gate_proj.weight",) + mat(F, C),
                (p + "mlp.up_proj.weight",) + mat(F, C), (p + "mlp.down_proj.weight",) + mat(C, F)]
    if qwen:
        out.append(("model.norm.weight",) + norm_w)
    if not cfg["tie_word_embeddings"]:
        out.append(("lm_head.weight",) + mat(V, C))
    return out


def rope(x, pos, rot, theta):
    """rotate_half RoPE on the first `rot` dims of x[T, H, D] (the rest passes through)."""
    inv = 1.0 / (theta ** (torch.arange(0, rot, 2, dtype=torch.float64) / rot))
    ang = torch.outer(pos.to(torch.float64), inv)  # [T, rot/2]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :]
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :]
    xr, xp = x[..., :rot], x[..., rot:]
    half = rot // 2
    rot_half = torch.cat([-xr[..., half:], xr[..., :half]], -1)
    return torch.cat([xr * cos + rot_half * sin, xp], -1)


def attention(q, k, v):
    """causal softmax attention; q [T, H, D], k/v [T, Hkv, D] (GQA: each kv head serves H/Hkv q heads)"""
    T, H, D = q.shape
    rep = H // k.shape[1]
    k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
    s = torch.einsum("thd,shd->hts", q, k) / math.sqrt(D)
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    return torch.einsum("hts,shd->thd", torch.softmax(s, -1), v).reshape(T, H * D)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    y = (x - mu) / torch.sqrt(var + eps)
    return y * w + b if w is not None else y


def rms_norm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def forward(cfg, W, tokens):
    C, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
    D = C // H
    Hkv = cfg.get("num_key_value_heads", H)
    T = len(tokens)
    pos = torch.arange(T)
    lin = lambda x, n, b=None: x @ W[n].T + (W[b] if b else 0)
    if cfg["model_type"] == "gpt_neox":
        rot, eps, theta = int(D * cfg["rotary_pct"]), cfg["layer_norm_eps"], cfg["rotary_emb_base"]
        x = W["gpt_neox.embed_in.weight"][tokens]
        for l in range(L):
            p = f"gpt_neox.layers.{l}."
            h = layer_norm(x, W[p + "input_layernorm.weight"], W[p + "input_layernorm.bias"], eps)
            qkv = lin(h, p + "attention.query_key_value.weight", p + "attention.query_key_value.bias").view(T, H, 3 * D)
            q, k, v = qkv[..., :D], qkv[..., D:2 * D], qkv[..., 2 * D:]
            a = attention(rope(q, pos, rot, theta), rope(k, pos, rot, theta), v)
            a = lin(a, p + "attention.dense.weight", p + "attention.dense.bias")
            h2 = layer_norm(x, W[p + "post_attention_layernorm.weight"], W[p + "post_attention_layernorm.bias"], eps)
            u = lin(h2, p + "mlp.dense_h_to_4h.weight", p + "mlp.dense_h_to_4h.bias")
            gelu = 0.5 * u * (1.0 + torch.erf(u / math.sqrt(2.0)))
            m = lin(gelu, p + "mlp.dense_4h_to_h.weight", p + "mlp.dense_4h_to_h.bias")
            x = x + a + m
        x = layer_norm(x, W["gpt_neox.final_layer_norm.weight"], W["gpt_neox.final_layer_norm.bias"], eps)
        return x @ W["embed_out.weight"].T
    olmo = cfg["model_type"] == "olmo"
    theta = cfg["rope_theta"]
    norm = (lambda x, n: layer_norm(x, None, None, 1e-5)) if olmo else \
        (lambda x, n: rms_norm(x, W[n], cfg["rms_norm_eps"]))
    x = W["model.embed_tokens.weight"][tokens]
    for l in range(L):
        p = f"model.layers.{l}."
        h = norm(x, p + "input_layernorm.weight")
        q = lin(h, p + "self_attn.q_proj.weight", None if olmo else p + "self_attn.q_proj.bias")
        k = lin(h, p + "self_attn.k_proj.weight", None if olmo else p + "self_attn.k_proj.bias")
        v = lin(h, p + "self_attn.v_proj.weight", None if olmo else p + "self_attn.v_proj.bias")
        if olmo and cfg.get("clip_qkv"):
            c = cfg["clip_qkv"]
            q, k, v = q.clamp(-c, c), k.clamp(-c, c), v.clamp(-c, c)
        q, k, v = q.view(T, H, D), k.view(T, Hkv, D), v.view(T, Hkv, D)
        a = attention(rope(q, pos, D, theta), rope(k, pos, D, theta), v)
        x = x + lin(a, p + "self_attn.o_proj.weight")
        h = norm(x, p + "post_attention_layernorm.weight")
        g, u = lin(h, p + "mlp.gate_proj.weight"), lin(h, p + "mlp.up_proj.weight")
        x = x + lin(g * torch.sigmoid(g) * u, p + "mlp.down_proj.weight")
    x = norm(x, "model.norm.weight")
    out = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ out.T


def main():
    for case, cfg in CASES.items():
        d = os.path.join(OUT, case)
        os.makedirs(d, exist_ok=True)
        W, lines = {}, []
        for name, shape, offset, scale in tensor_list(cfg):
            n = int(np.prod(shape))
            W[name] = torch.from_numpy(weights(name, n, offset, scale).astype(np.float64)).view(*shape)
            lines.append(f"{name} {len(shape)} {' '.join(map(str, shape))} {offset!r} {scale!r}")
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        with open(os.path.join(d, "tensors.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        logits = forward(cfg, W, torch.tensor(TOKENS))
        with open(os.path.join(d, "logits.bin"), "wb") as f:
            f.write(struct.pack("<4I", 0x474C4C54, 1, len(TOKENS), cfg["vocab_size"]))
            f.write(struct.pack(f"<{len(TOKENS)}i", *TOKENS))
            f.write(logits.numpy().astype("<f8").tobytes())
        print(f"{case}: {len(lines)} tensors, logits [{len(TOKENS)}, {cfg['vocab_size']}], "
              f"|logits| max {logits.abs().max().item():.3g}")


if __name__ == "__main__":
    main()
