#!/usr/bin/python3
"""Oracle for tiller's dequantization of ggml block formats (src/kernels/quant.c).

Written from the block-format specification (ggml-common.h layouts; the reference
dequantization formulas of ggml-quants.c, evaluated in float32 one operation at a
time as C does without FMA), in numpy, independently of tiller's code.

For each type it draws random blocks — random bytes for the quants and scales, and
random finite halves for d/dmin (so every bit pattern of the quants is exercised) —
and writes the raw blocks and the dequantized float32 values to
tests/golden/quant/dequant.bin:

    u32 magic 0x51444c54 ("TLDQ"), u32 version 1, u32 n_types, then per type:
    u32 ggml type, u32 n_blocks, u32 block_bytes, u32 block_values,
    u8 blocks[n_blocks * block_bytes], f32 values[n_blocks * block_values]

Run from the repo root:  /usr/bin/python3 tests/oracle/quant_ref.py
"""
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden", "quant", "dequant.bin")
rng = np.random.default_rng(20261206)
f32 = np.float32


def rand_half(n, lo=-3, hi=-1):
    """Finite halves of magnitude 10^lo .. 10^hi with random sign."""
    mag = 10.0 ** rng.uniform(lo, hi, n)
    sign = rng.choice([-1.0, 1.0], n)
    return (mag * sign).astype(np.float16)


def h(b, off):
    return f32(np.frombuffer(bytes(b[off:off + 2]), dtype="<f2")[0])


def scale_min_k4(j, q):
    if j < 4:
        return q[j] & 63, q[j + 4] & 63
    return (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4), (q[j + 4] >> 4) | ((q[j] >> 6) << 4)


def dq_q8_0(b):
    d = h(b, 0)
    qs = np.frombuffer(bytes(b[2:34]), dtype=np.int8)
    return [f32(f32(int(q)) * d) for q in qs]


def dq_q4_0(b):
    d = h(b, 0)
    qs = b[2:18]
    y = [None] * 32
    for j in range(16):
        y[j] = f32(f32((qs[j] & 0xF) - 8) * d)
        y[j + 16] = f32(f32((qs[j] >> 4) - 8) * d)
    return y


def dq_q5(b, with_min):
    d = h(b, 0)
    m = h(b, 2) if with_min else None
    o = 4 if with_min else 2
    qh = struct.unpack("<I", bytes(b[o:o + 4]))[0]
    qs = b[o + 4:o + 20]
    y = [None] * 32
    for j in range(16):
        x0 = (qs[j] & 0xF) | (((qh >> j) << 4) & 0x10)
        x1 = (qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)
        if with_min:
            y[j] = f32(f32(f32(x0) * d) + m)
            y[j + 16] = f32(f32(f32(x1) * d) + m)
        else:
            y[j] = f32(f32(x0 - 16) * d)
            y[j + 16] = f32(f32(x1 - 16) * d)
    return y


def dq_q4_K(b):
    d, dmin = h(b, 0), h(b, 2)
    sc = b[4:16]
    q = b[16:144]
    y = []
    for k in range(4):
        s1, m1 = scale_min_k4(2 * k, sc)
        s2, m2 = scale_min_k4(2 * k + 1, sc)
        d1, mm1 = f32(d * f32(s1)), f32(dmin * f32(m1))
        d2, mm2 = f32(d * f32(s2)), f32(dmin * f32(m2))
        qq = q[32 * k:32 * k + 32]
        y += [f32(f32(d1 * f32(v & 0xF)) - mm1) for v in qq]
        y += [f32(f32(d2 * f32(v >> 4)) - mm2) for v in qq]
    return y


def dq_q5_K(b):
    d, dmin = h(b, 0), h(b, 2)
    sc = b[4:16]
    qh = b[16:48]
    ql = b[48:176]
    y = []
    for k in range(4):
        s1, m1 = scale_min_k4(2 * k, sc)
        s2, m2 = scale_min_k4(2 * k + 1, sc)
        d1, mm1 = f32(d * f32(s1)), f32(dmin * f32(m1))
        d2, mm2 = f32(d * f32(s2)), f32(dmin * f32(m2))
        u1, u2 = 1 << (2 * k), 2 << (2 * k)
        qq = ql[32 * k:32 * k + 32]
        y += [f32(f32(d1 * f32((qq[l] & 0xF) + (16 if qh[l] & u1 else 0))) - mm1) for l in range(32)]
        y += [f32(f32(d2 * f32((qq[l] >> 4) + (16 if qh[l] & u2 else 0))) - mm2) for l in range(32)]
    return y


def dq_q6_K(b):
    ql, qh = b[0:128], b[128:192]
    sc = np.frombuffer(bytes(b[192:208]), dtype=np.int8)
    d = h(b, 208)
    y = [None] * 256
    for n in range(2):
        L, H, S = ql[64 * n:64 * n + 64], qh[32 * n:32 * n + 32], sc[8 * n:8 * n + 8]
        for l in range(32):
            i = l // 16
            q1 = ((L[l] & 0xF) | (((H[l] >> 0) & 3) << 4)) - 32
            q2 = ((L[l + 32] & 0xF) | (((H[l] >> 2) & 3) << 4)) - 32
            q3 = ((L[l] >> 4) | (((H[l] >> 4) & 3) << 4)) - 32
            q4 = ((L[l + 32] >> 4) | (((H[l] >> 6) & 3) << 4)) - 32
            for off, s, q in ((0, S[i], q1), (32, S[i + 2], q2), (64, S[i + 4], q3), (96, S[i + 6], q4)):
                y[128 * n + l + off] = f32(f32(d * f32(int(s))) * f32(q))
    return y


# type id, block bytes, values, offsets of halves to randomise, dequantizer
TYPES = [
    (8, 34, 32, [0], dq_q8_0),
    (2, 18, 32, [0], dq_q4_0),
    (6, 22, 32, [0], lambda b: dq_q5(b, False)),
    (7, 24, 32, [0, 2], lambda b: dq_q5(b, True)),
    (12, 144, 256, [0, 2], dq_q4_K),
    (13, 176, 256, [0, 2], dq_q5_K),
    (14, 210, 256, [208], dq_q6_K),
]


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    out = bytearray(struct.pack("<III", 0x51444C54, 1, len(TYPES)))
    for tid, nbytes, nval, halves, fn in TYPES:
        nb = 12 if nval == 32 else 6
        blocks = bytearray(rng.integers(0, 256, nb * nbytes, dtype=np.uint8).tobytes())
        for i in range(nb):
            for off in halves:
                blocks[i * nbytes + off:i * nbytes + off + 2] = rand_half(1).tobytes()
        vals = []
        for i in range(nb):
            vals += fn(blocks[i * nbytes:(i + 1) * nbytes])
        out += struct.pack("<IIII", tid, nb, nbytes, nval) + blocks + np.array(vals, dtype="<f4").tobytes()
    with open(OUT, "wb") as f:
        f.write(out)
    print(f"wrote {OUT} ({len(out)} bytes, {len(TYPES)} types)")


if __name__ == "__main__":
    main()
