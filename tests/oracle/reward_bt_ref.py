#!/usr/bin/python3
"""Oracle for tiller's reward-model head (src/study/recontrol_reward.c, tl_reward_bt_loss):
r = w . h + b on features h, Bradley-Terry loss

    L = mean over pairs of -log sigmoid(r(chosen) - r(rejected))

and its gradient w.r.t. w and b by autograd, in float64, written from the formula.

    /usr/bin/python3 tests/oracle/reward_bt_ref.py [tests/golden/recontrol/bt_ref.txt]

Output: text, one array per line: `name count v0 v1 ...` (%.17g).
"""
import sys

import torch

torch.set_default_dtype(torch.float64)
torch.manual_seed(99)
N, D = 7, 5
fc = torch.randn(N, D)
fr = torch.randn(N, D)
w = (torch.randn(D) * 0.8).requires_grad_(True)
b = torch.tensor([0.3], requires_grad=True)
rc = fc @ w + b
rr = fr @ w + b
loss = -torch.nn.functional.logsigmoid(rc - rr).mean()
loss.backward()
out = []


def put(name, t):
    vals = t.detach().reshape(-1).tolist()
    out.append(name + " " + str(len(vals)) + " " + " ".join("%.17g" % a for a in vals))


put("dims", torch.tensor([N, D], dtype=torch.float64))
put("fc", fc)
put("fr", fr)
put("w", w)
put("b", b)
put("loss", loss.reshape(1))
put("gw", w.grad)
put("gb", b.grad)
path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/recontrol/bt_ref.txt"
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", path)
