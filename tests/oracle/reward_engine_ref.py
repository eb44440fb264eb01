#!/usr/bin/python3
"""Oracle for the reward model trained whole (src/study/reward_engine.c,
tl_reward_bt_engine_grad, and src/train/backward.c tl_model_backward_state): a random untied
GQA Llama (the model of train_ref.py, written from the math there) whose final normed state
at each text's last token goes through a scalar head r = w . h + b; Bradley-Terry loss

    L = mean over pairs of -log sigmoid(r(chosen) - r(rejected))

and, by autograd in float64, its gradient with respect to every engine parameter and the head.
Rows 2i / 2i+1 are pair i's chosen / rejected text; positions after `last` are padding (the
causal mask keeps them out of the scored state).

    /usr/bin/python3 tests/oracle/reward_engine_ref.py [tests/golden/recontrol/engine_ref.txt]

Output: text, one array per line: `name count v0 v1 ...` (%.17g); parameters in tiller's flat
layout (tok_embd, layers, out_norm, output).
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_ref  # noqa: E402  (the same Llama: rmsnorm, rope, parameter layout)

torch.set_default_dtype(torch.float64)
train_ref.CFG.update(dim=16, hidden=24, n_layers=2, n_heads=4, n_kv_heads=2, vocab=19, seq_len=16, tied=0)
CFG = train_ref.CFG
N_PAIRS, T = 3, 7
LAST = [6, 3, 4, 6, 2, 5]


def final_state(P, tokens):
    """The final normed state [B, T, C] (train_ref.forward without the LM head)."""
    C, H, Hkv = CFG["dim"], CFG["n_heads"], CFG["n_kv_heads"]
    D = C // H
    Bx, Tx = tokens.shape
    x = P["tok_embd"][tokens]
    causal = torch.ones(Tx, Tx, dtype=torch.bool).tril()
    for l in range(CFG["n_layers"]):
        xn = train_ref.rmsnorm(x, P[f"{l}.attn_norm"])
        q = train_ref.rope((xn @ P[f"{l}.wq"].T).view(Bx, Tx, H, D), train_ref.ROPE_THETA)
        k = train_ref.rope((xn @ P[f"{l}.wk"].T).view(Bx, Tx, Hkv, D), train_ref.ROPE_THETA)
        v = (xn @ P[f"{l}.wv"].T).view(Bx, Tx, Hkv, D)
        k = k.repeat_interleave(H // Hkv, dim=2)
        v = v.repeat_interleave(H // Hkv, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)
        scores = scores.masked_fill(~causal, float("-inf"))
        att = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(Bx, Tx, H * D)
        x = x + att @ P[f"{l}.wo"].T
        xn = train_ref.rmsnorm(x, P[f"{l}.ffn_norm"])
        hid = torch.nn.functional.silu(xn @ P[f"{l}.w_gate"].T) * (xn @ P[f"{l}.w_up"].T)
        x = x + hid @ P[f"{l}.w_down"].T
    return train_ref.rmsnorm(x, P["out_norm"])


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/recontrol/engine_ref.txt"
    gen = torch.Generator().manual_seed(4242)
    plist = train_ref.make_params(gen)
    P = dict(plist)
    tokens = torch.randint(0, CFG["vocab"], (2 * N_PAIRS, T), generator=gen)
    w = (torch.randn(CFG["dim"], generator=gen) * 0.7).float().double().requires_grad_()
    b = torch.tensor([0.25], requires_grad=True)
    h = final_state(P, tokens)
    last = torch.tensor(LAST)
    hl = h[torch.arange(2 * N_PAIRS), last]  # [2N, C]
    r = hl @ w + b
    loss = -torch.nn.functional.logsigmoid(r[0::2] - r[1::2]).mean()
    loss.backward()
    grads = torch.cat([t.grad.reshape(-1) if t.grad is not None else torch.zeros(t.numel()) for _, t in plist])
    out = []

    def put(name, t):
        vals = t.detach().reshape(-1).tolist()
        out.append(name + " " + str(len(vals)) + " " + " ".join("%.17g" % a for a in vals))

    put("config", torch.tensor([CFG["dim"], CFG["hidden"], CFG["n_layers"], CFG["n_heads"], CFG["n_kv_heads"],
                                CFG["vocab"], CFG["seq_len"], N_PAIRS, T, train_ref.ROPE_THETA, train_ref.NORM_EPS]))
    put("params", torch.cat([t.detach().reshape(-1) for _, t in plist]))
    put("tokens", tokens.double())
    put("last", last.double())
    put("w", w)
    put("b", b)
    put("loss", loss.reshape(1))
    put("grads", grads)
    put("gw", w.grad)
    put("gb", b.grad)
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", path, "loss", loss.item(), "params", grads.numel())


if __name__ == "__main__":
    main()
