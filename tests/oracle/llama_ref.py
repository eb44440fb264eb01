#!/usr/bin/python3
"""Oracle for tiller's Llama forward on a Hugging Face checkpoint.

Builds a small random LlamaForCausalLM (GQA, head_dim != hidden/heads, rope
theta 50000, untied lm_head, odd sizes), writes it the way Hugging Face does
(model.safetensors + config.json, q/k rows in HF's half-split RoPE order) into
tests/golden/tiny_llama/, and writes the logits of a fixed 32-token sequence,
computed in float64 by a pure-torch transcription of transformers'
modeling_llama (RMSNorm, rotate_half RoPE, repeat_kv, SwiGLU, lm_head), to
tests/golden/tiny_llama/logits.bin.

Tensors are stored in three dtypes so that every conversion path is exercised:
layer matrices F16, the embedding BF16, norms and lm_head F32. The reference
uses exactly the stored (rounded) values, widened to float64.

logits.bin (little-endian):
    u32 magic 0x474c4c54 ("TLLG"), u32 version 1, u32 n_tokens, u32 vocab,
    i32 tokens[n_tokens], f64 logits[n_tokens][vocab]

Run from the repo root:  /usr/bin/python3 tests/oracle/llama_ref.py
Neither transformers nor the safetensors package is needed (or used).
"""
import json
import math
import os
import struct
import sys

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "tiny_llama")

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 100,
    "intermediate_size": 68,
    "num_hidden_layers": 3,
    "num_attention_heads": 6,
    "num_key_value_heads": 2,
    "head_dim": 12,
    "vocab_size": 97,
    "max_position_embeddings": 64,
    "rope_theta": 50000.0,
    "rms_norm_eps": 1e-06,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "rope_scaling": None,
    "torch_dtype": "float16",
}
N_TOKENS = 32
SEED = 20240607

ST_DTYPE = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}


def make_weights(cfg, gen):
    """name -> tensor in its storage dtype, in HF layout ([out, in], half-split q/k rows)."""
    C, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv, D = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]

    def normal(shape, std, dtype):
        return (torch.randn(shape, generator=gen, dtype=torch.float64) * std).to(dtype)

    def norm_weight():
        return (1.0 + 0.2 * torch.randn(C, generator=gen, dtype=torch.float64)).to(torch.float32)

    w = {"model.embed_tokens.weight": normal((V, C), 1.0, torch.bfloat16)}
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = norm_weight()
        # q/k a little larger than 1/sqrt(fan_in) so attention is far from uniform
        w[p + "self_attn.q_proj.weight"] = normal((H * D, C), 2.0 / math.sqrt(C), torch.float16)
        w[p + "self_attn.k_proj.weight"] = normal((Hkv * D, C), 2.0 / math.sqrt(C), torch.float16)
        w[p + "self_attn.v_proj.weight"] = normal((Hkv * D, C), 1.0 / math.sqrt(C), torch.float16)
        w[p + "self_attn.o_proj.weight"] = normal((C, H * D), 1.0 / math.sqrt(H * D), torch.float16)
        w[p + "post_attention_layernorm.weight"] = norm_weight()
        w[p + "mlp.gate_proj.weight"] = normal((F, C), 1.0 / math.sqrt(C), torch.float16)
        w[p + "mlp.up_proj.weight"] = normal((F, C), 1.0 / math.sqrt(C), torch.float16)
        w[p + "mlp.down_proj.weight"] = normal((C, F), 1.0 / math.sqrt(F), torch.float16)
    w["model.norm.weight"] = norm_weight()
    w["lm_head.weight"] = normal((V, C), 1.0 / math.sqrt(C), torch.float32)
    return w


def tensor_bytes(t):
    # bf16 has no numpy dtype: go through its int16 bit pattern
    if t.dtype == torch.bfloat16:
        return t.contiguous().view(torch.int16).numpy().astype("<i2").tobytes()
    return t.contiguous().numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()


def write_safetensors(path, tensors):
    """The safetensors layout: u64 LE header length, JSON header padded with
    spaces to a multiple of 8, then the tensors back to back."""
    header, blobs, at = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": ST_DTYPE[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


# ---- the reference math: transformers' modeling_llama, in float64 ----------------


def rms_norm(x, w, eps):
    # LlamaRMSNorm: x * rsqrt(mean(x^2) + eps), then weight * x
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(T, D, theta):
    # LlamaRotaryEmbedding: inv_freq = 1 / theta^(2i/D); emb = cat(freqs, freqs)
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def repeat_kv(x, n_rep):
    # [Hkv, T, D] -> [Hkv * n_rep, T, D], each kv head serving n_rep query heads in a row
    Hkv, T, D = x.shape
    return x[:, None, :, :].expand(Hkv, n_rep, T, D).reshape(Hkv * n_rep, T, D)


def forward(cfg, w, tokens):
    """Logits [T, V] for one sequence, everything in float64."""
    W = {k: v.to(torch.float64) for k, v in w.items()}
    C, H, Hkv, D = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, T = cfg["rms_norm_eps"], len(tokens)
    x = W["model.embed_tokens.weight"][torch.tensor(tokens)]
    cos, sin = rope_cos_sin(T, D, cfg["rope_theta"])
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, H, D).transpose(0, 1)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, Hkv, D).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, H // Hkv), repeat_kv(v, H // Hkv)
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D) + mask, dim=-1)
        o = (att @ v).transpose(0, 1).reshape(T, H * D)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    return x @ W["lm_head.weight"].T


def check_against_stories260k():
    """Self-check of forward() and of the RoPE row permutation, independent of
    tiller: load llama2.c's stories260K (interleaved q/k rows), move q/k rows to
    HF order with a reshape, and compare with the logits of the independent
    llama2.c-style PyTorch implementation in shared/models (greedy_1.logits32)."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "models",
                        "stories260K")
    if not os.path.exists(os.path.join(root, "stories260K.bin")):
        print("stories260K not found: self-check skipped")
        return None
    raw = open(os.path.join(root, "stories260K.bin"), "rb").read()
    C, F, L, H, Hkv, V, S = struct.unpack("<7i", raw[:28])
    V = abs(V)
    D = C // H
    flat = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32).to(torch.float64)
    at = 0

    def take(*shape):
        nonlocal at
        n = math.prod(shape)
        t = flat[at:at + n].view(*shape)
        at += n
        return t

    def to_hf(wi, nh):  # interleaved pairs (2i, 2i+1) -> half-split (i, i + D/2), per head
        return wi.view(nh, D // 2, 2, C).transpose(1, 2).reshape(nh * D, C)

    w = {"model.embed_tokens.weight": take(V, C)}
    kinds = [("input_layernorm", (C,)), ("self_attn.q_proj", (H * D, C)), ("self_attn.k_proj", (Hkv * D, C)),
             ("self_attn.v_proj", (Hkv * D, C)), ("self_attn.o_proj", (C, H * D)),
             ("post_attention_layernorm", (C,)), ("mlp.gate_proj", (F, C)), ("mlp.down_proj", (C, F)),
             ("mlp.up_proj", (F, C))]
    for kind, shape in kinds:  # llama2.c groups each kind across layers
        for l in range(L):
            w[f"model.layers.{l}.{kind}.weight"] = take(*shape)
    w["model.norm.weight"] = take(C)
    w["lm_head.weight"] = w["model.embed_tokens.weight"]
    for l in range(L):
        w[f"model.layers.{l}.self_attn.q_proj.weight"] = to_hf(w[f"model.layers.{l}.self_attn.q_proj.weight"], H)
        w[f"model.layers.{l}.self_attn.k_proj.weight"] = to_hf(w[f"model.layers.{l}.self_attn.k_proj.weight"], Hkv)
    cfg = {"hidden_size": C, "num_attention_heads": H, "num_key_value_heads": Hkv, "head_dim": D,
           "num_hidden_layers": L, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
    tokens = [int(t) for t in open(os.path.join(root, "golden", "greedy_1.tokens.txt")).read().split()][:32]
    want = torch.tensor([[float(v) for v in line.split()] for line in
                         open(os.path.join(root, "golden", "greedy_1.logits32.txt")) if line.strip()],
                        dtype=torch.float64)
    got = forward(cfg, w, tokens)
    err = (got - want).abs().max().item()
    print(f"self-check on stories260K (HF math + row permutation vs llama2.c-style golden): max abs {err:.3g}")
    if err > 1e-4:
        raise SystemExit("self-check failed: the reference disagrees with the stories260K golden")
    return err


def read_safetensors(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    types = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    out = {}
    for name, e in header.items():
        b, end = e["data_offsets"]
        buf = bytearray(raw[8 + n + b:8 + n + end])
        dt = types[e["dtype"]]
        t = torch.frombuffer(buf, dtype=torch.int16).view(dt) if dt == torch.bfloat16 else \
            torch.frombuffer(buf, dtype=dt)
        out[name] = t.reshape(e["shape"])
    return out


def check_dir(d):
    """Run the reference on a checkpoint directory tiller wrote (e.g. by
    `tiller convert tests/golden/tiny_llama /tmp/x`) and compare with the golden:
    shows tiller's writer produces HF-order tensors and a config HF math accepts."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = read_safetensors(os.path.join(d, "model.safetensors"))
    if cfg.get("tie_word_embeddings"):
        w["lm_head.weight"] = w["model.embed_tokens.weight"]
    raw = open(os.path.join(OUT, "logits.bin"), "rb").read()
    magic, version, n, V = struct.unpack("<4I", raw[:16])
    tokens = list(struct.unpack(f"<{n}i", raw[16:16 + 4 * n]))
    want = torch.frombuffer(bytearray(raw[16 + 4 * n:]), dtype=torch.float64).view(n, V)
    got = forward(cfg, w, tokens)
    err = (got - want).abs().max().item()
    # an f32 copy holds exactly the golden's values: anything but 0 is a bug;
    # f16/bf16 copies are rounded, so only the size of the error is reported
    exact = cfg.get("torch_dtype") == "float32"
    print(f"{d}: reference logits vs golden: max abs {err:.3g}" + ("" if exact else " (rounded copy)"))
    return 1 if exact and err != 0 else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        return check_dir(sys.argv[2])
    check_against_stories260k()
    gen = torch.Generator().manual_seed(SEED)
    w = make_weights(CONFIG, gen)
    tokens = torch.randint(0, CONFIG["vocab_size"], (N_TOKENS,), generator=gen).tolist()
    logits = forward(CONFIG, w, tokens)
    os.makedirs(OUT, exist_ok=True)
    write_safetensors(os.path.join(OUT, "model.safetensors"), w)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    with open(os.path.join(OUT, "logits.bin"), "wb") as f:
        f.write(struct.pack("<4I", 0x474C4C54, 1, N_TOKENS, CONFIG["vocab_size"]))
        f.write(struct.pack(f"<{N_TOKENS}i", *tokens))
        f.write(logits.numpy().astype("<f8").tobytes())
    print(f"wrote {OUT}: {sum(t.numel() for t in w.values())} parameters, logits {tuple(logits.shape)}, "
          f"|logit| max {logits.abs().max().item():.3f} rms {logits.pow(2).mean().sqrt().item():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
