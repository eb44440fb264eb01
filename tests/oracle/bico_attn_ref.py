#!/usr/bin/python3
"""Oracle for tiller's BICO / ABI training attention (src/kernels/attention.c, general
form): grouped-query attention over raw q, k, v with RoPE applied here, where a visible
key positioned after its query is scored with the mirrored rotation (METHODS.md 3):

    score(m, n) = <R_m q, R_n k> / sqrt(D)        if pos[n] <= pos[m]
                  <R_-m q, R_-n k> / sqrt(D)      otherwise

Query m of sequence b sees key n when (n <= m or n < prefix[b]) and key_mask[b, n] == 0.
RoPE rotates interleaved pairs (x[2i], x[2i+1]) by pos * theta^(-2i/D). The loss is
sum(out * wout); torch.autograd gives d loss / d q, k, v (of the raw, unrotated q, k).
Written from the formula, not from tiller's C. Everything in float64.

    /usr/bin/python3 tests/oracle/bico_attn_ref.py [out.bin]

File layout (little-endian): uint32 magic 0x41434954 ("TICA"), uint32 n_cases, then per case
    int32 B, T, H, Hkv, D; float32 theta
    int32 prefix[B], pos[B*T]; uint8 key_mask[B*T]
    float64 q[B,T,H,D], k[B,T,Hkv,D], v[B,T,Hkv,D], wout[B,T,H,D],
            out[B,T,H,D], dq[B,T,H,D], dk[B,T,Hkv,D], dv[B,T,Hkv,D]
"""
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)


def rope(x, pos, theta, sign):
    """x [B, T, h, D], pos [B, T] -> rotated by sign * pos * freq per interleaved pair."""
    D = x.shape[-1]
    freq = theta ** (-2.0 * torch.arange(D // 2, dtype=torch.float64) / D)
    ang = sign * pos.to(torch.float64)[:, :, None] * freq[None, None, :]  # [B, T, D/2]
    c, s = torch.cos(ang)[:, :, None, :], torch.sin(ang)[:, :, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = x0 * c - x1 * s
    out[..., 1::2] = x0 * s + x1 * c
    return out


def attention(q, k, v, prefix, pos, mask, theta):
    B, T, H, D = q.shape
    Hkv = k.shape[2]
    g = H // Hkv
    k = k.repeat_interleave(g, dim=2)
    v = v.repeat_interleave(g, dim=2)
    qr, kr = rope(q, pos, theta, 1), rope(k, pos, theta, 1)
    qm, km = rope(q, pos, theta, -1), rope(k, pos, theta, -1)
    s_plain = torch.einsum("bmhd,bnhd->bhmn", qr, kr)
    s_mirror = torch.einsum("bmhd,bnhd->bhmn", qm, km)
    after = pos[:, None, :] > pos[:, :, None]  # [B, m, n]: key n positioned after query m
    s = torch.where(after[:, None], s_mirror, s_plain) / D ** 0.5
    idx = torch.arange(T)
    vis = (idx[None, :] <= idx[:, None])[None] | (idx[None, None, :] < prefix[:, None, None])
    vis = vis & (mask[:, None, :] == 0)  # [B, m, n]
    s = s.masked_fill(~vis[:, None], float("-inf"))
    p = torch.softmax(s, dim=-1)
    p = torch.nan_to_num(p, nan=0.0)  # a query that sees no key outputs 0
    return torch.einsum("bhmn,bnhd->bmhd", p, v)


def case(gen, B, T, H, Hkv, D, theta, prefix, pos, mask):
    q = torch.randn(B, T, H, D, generator=gen, requires_grad=True)
    k = torch.randn(B, T, Hkv, D, generator=gen, requires_grad=True)
    v = torch.randn(B, T, Hkv, D, generator=gen, requires_grad=True)
    wout = torch.randn(B, T, H, D, generator=gen)
    prefix, pos, mask = torch.tensor(prefix), torch.tensor(pos).view(B, T), torch.tensor(mask).view(B, T)
    out = attention(q, k, v, prefix, pos, mask, theta)
    (out * wout).sum().backward()
    b = struct.pack("<5if", B, T, H, Hkv, D, theta)
    b += struct.pack(f"<{B}i", *prefix.tolist()) + struct.pack(f"<{B * T}i", *pos.flatten().tolist())
    b += bytes(mask.flatten().tolist())
    for t in (q, k, v, wout, out, q.grad, k.grad, v.grad):
        t = t.detach().flatten().tolist()
        b += struct.pack(f"<{len(t)}d", *t)
    return b


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/bico/attn_ref.bin"
    gen = torch.Generator().manual_seed(7)
    cases = [
        # BICO: fully bidirectional, masked placeholders hidden as keys, positions 0..T-1
        case(gen, 2, 9, 4, 2, 8, 10000.0, [9, 9], list(range(9)) * 2,
             [0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0]),
        # ABI: bidirectional context prefix, then the span again at its original positions
        # (row 0: context 0 1 2 5 6 7, span 2 3 4 re-fed at 2 3 4); row 1 causal (prefix 0)
        case(gen, 2, 9, 4, 1, 6, 500.0, [6, 0], [0, 1, 2, 5, 6, 7, 2, 3, 4] + list(range(9)),
             [0] * 18),
    ]
    with open(path, "wb") as f:
        f.write(struct.pack("<2I", 0x41434954, len(cases)))
        for c in cases:
            f.write(c)
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
