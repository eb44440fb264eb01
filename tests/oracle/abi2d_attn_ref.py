#!/usr/bin/python3
"""Oracle for tiller's ABI attention with GLM-style two-dimensional RoPE
(src/kernels/rope.c tl_rope2d_*, src/kernels/attention.c with tl_attn_vis.pos2).

Each token has two position ids, p1 (the block: its place in the corrupted text, or the
[MASK]'s place for a span token) and p2. RoPE pair i (frequency theta^(-2i/D)) turns by
p1 * freq when i is even and by p2 * freq when i is odd; the pair is (x[2i], x[2i+1])
in the interleaved layout and (x[i], x[i + D/2]) in the half layout. Mirrored RoPE is
decided per position id: on the even pairs' dims the score uses q, k rotated by -theta
when p1[key] > p1[query], on the odd pairs' dims when p2[key] > p2[query]:

    score(m, n) = sum_{d even-pair} (R1 q)_d (R1 k)_d  or the mirrored pair, by p1
                + sum_{d odd-pair}  (R2 q)_d (R2 k)_d  or the mirrored pair, by p2,  / sqrt(D)

Visibility as in bico_attn_ref.py (causal, plus keys j < prefix[b], minus key_mask).
The loss is sum(out * wout); torch.autograd gives d loss / d q, k, v (raw, unrotated).
Written from the formula, not from tiller's C. Everything in float64.

    /usr/bin/python3 tests/oracle/abi2d_attn_ref.py [out.bin]

File layout (little-endian): uint32 magic 0x32434954 ("TIC2"), uint32 n_cases, then per case
    int32 B, T, H, Hkv, D, layout (0 interleaved, 1 half); float32 theta
    int32 prefix[B], pos1[B*T], pos2[B*T]; uint8 key_mask[B*T]
    float64 q[B,T,H,D], k[B,T,Hkv,D], v[B,T,Hkv,D], wout[B,T,H,D],
            out[B,T,H,D], dq[B,T,H,D], dk[B,T,Hkv,D], dv[B,T,Hkv,D]
"""
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)


def pair_dims(D, layout):
    """(first dims, second dims) of each pair i = 0 .. D/2-1."""
    i = torch.arange(D // 2)
    return (2 * i, 2 * i + 1) if layout == 0 else (i, i + D // 2)


def rope2d(x, p1, p2, theta, layout, sign):
    """x [B, T, h, D]; pair i turned by sign * (p1 if i even else p2) * theta^(-2i/D)."""
    D = x.shape[-1]
    i = torch.arange(D // 2)
    freq = theta ** (-2.0 * i.to(torch.float64) / D)
    pos = torch.where((i % 2 == 0)[None, None, :], p1[:, :, None], p2[:, :, None]).to(torch.float64)
    ang = sign * pos * freq  # [B, T, D/2]
    c, s = torch.cos(ang)[:, :, None, :], torch.sin(ang)[:, :, None, :]
    a, b = pair_dims(D, layout)
    x0, x1 = x[..., a], x[..., b]
    out = torch.empty_like(x)
    out[..., a] = x0 * c - x1 * s
    out[..., b] = x0 * s + x1 * c
    return out


def attention(q, k, v, prefix, p1, p2, mask, theta, layout):
    B, T, H, D = q.shape
    g = H // k.shape[2]
    k = k.repeat_interleave(g, dim=2)
    v = v.repeat_interleave(g, dim=2)
    qr, kr = rope2d(q, p1, p2, theta, layout, 1), rope2d(k, p1, p2, theta, layout, 1)
    qm, km = rope2d(q, p1, p2, theta, layout, -1), rope2d(k, p1, p2, theta, layout, -1)
    a, b = pair_dims(D, layout)
    odd = torch.zeros(D, dtype=torch.bool)
    odd[a[1::2]] = True
    odd[b[1::2]] = True

    def part(sel):  # plain and mirrored scores over the dims sel
        return (torch.einsum("bmhd,bnhd->bhmn", qr[..., sel], kr[..., sel]),
                torch.einsum("bmhd,bnhd->bhmn", qm[..., sel], km[..., sel]))

    (s1, s1m), (s2, s2m) = part(~odd), part(odd)
    after1 = (p1[:, None, :] > p1[:, :, None])[:, None]  # [B, 1, m, n]
    after2 = (p2[:, None, :] > p2[:, :, None])[:, None]
    s = (torch.where(after1, s1m, s1) + torch.where(after2, s2m, s2)) / D ** 0.5
    idx = torch.arange(T)
    vis = (idx[None, :] <= idx[:, None])[None] | (idx[None, None, :] < prefix[:, None, None])
    vis = vis & (mask[:, None, :] == 0)
    s = s.masked_fill(~vis[:, None], float("-inf"))
    p = torch.nan_to_num(torch.softmax(s, dim=-1), nan=0.0)
    return torch.einsum("bhmn,bnhd->bmhd", p, v)


def case(gen, B, T, H, Hkv, D, layout, theta, prefix, p1, p2, mask):
    q = torch.randn(B, T, H, D, generator=gen, requires_grad=True)
    k = torch.randn(B, T, Hkv, D, generator=gen, requires_grad=True)
    v = torch.randn(B, T, Hkv, D, generator=gen, requires_grad=True)
    wout = torch.randn(B, T, H, D, generator=gen)
    prefix = torch.tensor(prefix)
    p1, p2 = torch.tensor(p1).view(B, T), torch.tensor(p2).view(B, T)
    mask = torch.tensor(mask).view(B, T)
    out = attention(q, k, v, prefix, p1, p2, mask, theta, layout)
    (out * wout).sum().backward()
    b = struct.pack("<6if", B, T, H, Hkv, D, layout, theta)
    b += struct.pack(f"<{B}i", *prefix.tolist())
    b += struct.pack(f"<{B * T}i", *p1.flatten().tolist()) + struct.pack(f"<{B * T}i", *p2.flatten().tolist())
    b += bytes(mask.flatten().tolist())
    for t in (q, k, v, wout, out, q.grad, k.grad, v.grad):
        t = t.detach().flatten().tolist()
        b += struct.pack(f"<{len(t)}d", *t)
    return b


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/bico/attn2d_ref.bin"
    gen = torch.Generator().manual_seed(11)
    # row 0: the objective's layout. Part A = the row with span [2, 5) replaced by one
    # [MASK] at 2 (ids 0..5, p2 = p1); Part B = [S] and the first two span tokens at
    # p1 = 2 (the mask), p2 = 2, 3, 4 (the mask's place plus the place inside the span).
    # row 1: span [4, 6), mask at 4; Part B 2 tokens; last slot padding (hidden key).
    p1 = [0, 1, 2, 3, 4, 5, 2, 2, 2] + [0, 1, 2, 3, 4, 5, 6, 4, 4]
    p2 = [0, 1, 2, 3, 4, 5, 2, 3, 4] + [0, 1, 2, 3, 4, 5, 6, 4, 5]
    cases = [
        case(gen, 2, 9, 4, 2, 8, 0, 10000.0, [6, 7], p1, p2, [0] * 18),
        case(gen, 2, 9, 4, 1, 12, 1, 500.0, [6, 7], p1, p2, [0] * 17 + [1]),
        # a row where p2 runs backwards against p1, so the halves disagree often
        case(gen, 1, 7, 2, 2, 8, 0, 100.0, [7], [0, 1, 2, 3, 4, 5, 6], [6, 4, 5, 0, 2, 1, 3], [0] * 7),
    ]
    with open(path, "wb") as f:
        f.write(struct.pack("<2I", 0x32434954, len(cases)))
        for c in cases:
            f.write(c)
    print(f"wrote {path}: {len(cases)} cases")


if __name__ == "__main__":
    main()
