#!/usr/bin/python3
"""Oracle for tiller's training step: a pure-PyTorch Llama, its loss and every parameter
gradient for one batch, and the losses of 10 AdamW steps, written to
tests/golden/train_ref.bin for tests/unit/test_train_oracle.c.

    /usr/bin/python3 tests/oracle/train_ref.py [out.bin]

The model is written from the math here (not from tiller's C): RMSNorm, grouped-query
attention with a causal mask, RoPE, SwiGLU MLP, untied LM head, mean cross-entropy with
ignore_index = -1. RoPE rotates interleaved pairs (x[2i], x[2i+1]) with frequency
theta^(-2i/D) -- the order of llama2.c and GGUF, which is tiller's canonical layout -- so
the parameters go to C as they are, with no q/k row permutation.

Everything runs in float64 (the C side runs float32; the golden is the exact answer).
The optimiser is torch.optim.AdamW itself with two parameter groups (2-D tensors decay,
RMSNorm gains do not), torch.nn.utils.clip_grad_norm_, and the warm-up + cosine schedule
of src/train/optim.c (tl_lr_at), restated below.

File layout (little-endian):
    uint32 magic 0x52544C54 ("TLTR"), uint32 version 1
    int32  dim, hidden, n_layers, n_heads, n_kv_heads, vocab, seq_len, tied,
           B, T, n_steps, warmup, total
    float32 rope_theta, norm_eps, lr, min_ratio, beta1, beta2, eps, weight_decay, clip
    int64  n_params
    float32 params[n_params]      tiller's flat layout (tok_embd, layers, out_norm, output)
    int32  tokens[B*T], targets[B*T]   (targets -1 = not counted)
    float64 loss                  of the initial parameters
    float32 grads[n_params]       d loss / d params, same layout
    float64 losses[n_steps + 1]   loss before each AdamW step, and after the last
    float64 grad_norms[n_steps]   global norm before clipping, per step
"""
import math
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)

CFG = dict(dim=40, hidden=76, n_layers=2, n_heads=4, n_kv_heads=2, vocab=67, seq_len=32, tied=0)
ROPE_THETA, NORM_EPS = 20000.0, 1e-5
B, T = 3, 11
N_STEPS, WARMUP, TOTAL = 10, 3, 10
LR, MIN_RATIO, BETA1, BETA2, EPS, WD, CLIP = 1e-2, 0.1, 0.9, 0.95, 1e-8, 0.1, 1.0


def lr_at(step):
    """tl_lr_at: linear warm-up (first step non-zero), then cosine to lr * min_ratio."""
    floor = LR * MIN_RATIO
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    if TOTAL <= WARMUP:
        return LR
    if step > TOTAL:
        return floor
    progress = (step - WARMUP) / (TOTAL - WARMUP)
    return floor + 0.5 * (1.0 + math.cos(math.pi * progress)) * (LR - floor)


def make_params(gen):
    """Parameters in tiller's flat layout order, as (name, tensor) pairs."""
    C, F, H, Hkv = CFG["dim"], CFG["hidden"], CFG["n_heads"], CFG["n_kv_heads"]
    D = C // H
    V = CFG["vocab"]

    def mat(rows, cols, std=0.15):
        return torch.randn(rows, cols, generator=gen) * std

    def gain(n):
        return 1.0 + 0.1 * torch.randn(n, generator=gen)

    ps = [("tok_embd", mat(V, C, 0.5))]
    for l in range(CFG["n_layers"]):
        ps += [
            (f"{l}.attn_norm", gain(C)),
            (f"{l}.wq", mat(H * D, C)),
            (f"{l}.wk", mat(Hkv * D, C)),
            (f"{l}.wv", mat(Hkv * D, C)),
            (f"{l}.wo", mat(C, H * D)),
            (f"{l}.ffn_norm", gain(C)),
            (f"{l}.w_gate", mat(F, C)),
            (f"{l}.w_up", mat(F, C)),
            (f"{l}.w_down", mat(C, F)),
        ]
    ps += [("out_norm", gain(C)), ("output", mat(V, C))]
    # rounded to float32 first: C loads exactly these values
    return [(n, t.float().double().requires_grad_()) for n, t in ps]


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * w


def rope(x, theta):
    """x [B, T, nh, D]: rotate pairs (2i, 2i+1) of position t by t * theta^(-2i/D)."""
    Bx, Tx, nh, D = x.shape
    freq = theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)  # [D/2]
    ang = torch.arange(Tx, dtype=torch.float64)[:, None] * freq[None, :]  # [T, D/2]
    c, s = torch.cos(ang)[None, :, None, :], torch.sin(ang)[None, :, None, :]
    xp = x.reshape(Bx, Tx, nh, D // 2, 2)
    x0, x1 = xp[..., 0], xp[..., 1]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).reshape(Bx, Tx, nh, D)


def forward(P, tokens, targets):
    C, H, Hkv = CFG["dim"], CFG["n_heads"], CFG["n_kv_heads"]
    D = C // H
    Bx, Tx = tokens.shape
    x = P["tok_embd"][tokens]  # [B, T, C]
    causal = torch.ones(Tx, Tx, dtype=torch.bool).tril()
    for l in range(CFG["n_layers"]):
        xn = rmsnorm(x, P[f"{l}.attn_norm"])
        q = rope((xn @ P[f"{l}.wq"].T).view(Bx, Tx, H, D), ROPE_THETA)
        k = rope((xn @ P[f"{l}.wk"].T).view(Bx, Tx, Hkv, D), ROPE_THETA)
        v = (xn @ P[f"{l}.wv"].T).view(Bx, Tx, Hkv, D)
        k = k.repeat_interleave(H // Hkv, dim=2)  # query head h uses kv head h // (H/Hkv)
        v = v.repeat_interleave(H // Hkv, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # [B, H, T, D]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        scores = scores.masked_fill(~causal, float("-inf"))
        att = torch.softmax(scores, dim=-1) @ v  # [B, H, T, D]
        att = att.transpose(1, 2).reshape(Bx, Tx, H * D)
        x = x + att @ P[f"{l}.wo"].T
        xn = rmsnorm(x, P[f"{l}.ffn_norm"])
        hid = torch.nn.functional.silu(xn @ P[f"{l}.w_gate"].T) * (xn @ P[f"{l}.w_up"].T)
        x = x + hid @ P[f"{l}.w_down"].T
    logits = rmsnorm(x, P["out_norm"]) @ P["output"].T
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, CFG["vocab"]), targets.reshape(-1), ignore_index=-1
    )


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/train_ref.bin"
    gen = torch.Generator().manual_seed(20240607)
    plist = make_params(gen)
    P = dict(plist)
    V = CFG["vocab"]
    tokens = torch.randint(0, V, (B, T), generator=gen)
    targets = torch.randint(0, V, (B, T), generator=gen)
    targets[0, :3] = -1  # a prompt not counted (SFT style)
    targets[2, -2:] = -1  # padding at the end
    targets[1, 5] = -1
    flat0 = torch.cat([t.detach().reshape(-1) for _, t in plist]).float()

    loss = forward(P, tokens, targets)
    loss.backward()
    loss0 = loss.item()
    grads = torch.cat([t.grad.reshape(-1) for _, t in plist]).float()
    for _, t in plist:
        t.grad = None

    decay = [t for _, t in plist if t.dim() == 2]
    no_decay = [t for _, t in plist if t.dim() == 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
        lr=LR, betas=(BETA1, BETA2), eps=EPS,
    )
    losses, norms = [], []
    for step in range(N_STEPS):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        loss = forward(P, tokens, targets)
        losses.append(loss.item())
        loss.backward()
        norms.append(torch.nn.utils.clip_grad_norm_([t for _, t in plist], CLIP).item())
        opt.step()
        opt.zero_grad(set_to_none=True)
    with torch.no_grad():
        losses.append(forward(P, tokens, targets).item())

    n = flat0.numel()
    with open(out_path, "wb") as f:
        f.write(struct.pack("<II", 0x52544C54, 1))
        f.write(struct.pack("<13i", CFG["dim"], CFG["hidden"], CFG["n_layers"], CFG["n_heads"],
                            CFG["n_kv_heads"], V, CFG["seq_len"], CFG["tied"], B, T, N_STEPS,
                            WARMUP, TOTAL))
        f.write(struct.pack("<9f", ROPE_THETA, NORM_EPS, LR, MIN_RATIO, BETA1, BETA2, EPS, WD, CLIP))
        f.write(struct.pack("<q", n))
        f.write(flat0.numpy().astype("<f4").tobytes())
        f.write(tokens.reshape(-1).numpy().astype("<i4").tobytes())
        f.write(targets.reshape(-1).numpy().astype("<i4").tobytes())
        f.write(struct.pack("<d", loss0))
        f.write(grads.numpy().astype("<f4").tobytes())
        f.write(struct.pack(f"<{N_STEPS + 1}d", *losses))
        f.write(struct.pack(f"<{N_STEPS}d", *norms))
    print(f"wrote {out_path}: {n} parameters, loss {loss0:.6f}")
    print("losses", " ".join(f"{x:.5f}" for x in losses))
    print("grad norms", " ".join(f"{x:.4f}" for x in norms))
    print("lr", " ".join(f"{lr_at(s):.5f}" for s in range(N_STEPS)))


if __name__ == "__main__":
    main()
