#!/usr/bin/python3
"""Oracle for tiller's RE-Control value network (src/study/recontrol_value.c), written from
the reference's train_value_model.py (Lingkai-Kong/RE-Control), not from tiller's C:

    V(x) = fc3(relu(fc2(relu(fc1(x)))))          nn.Linear layers, d -> h -> h -> 1
    L    = [ sum over consecutive states (V(x_t) - V(x_{t+1}))^2
             + sum over sequences (V(x_last) - reward)^2 ] / B

with the next-state prediction not detached (the reference's training loop) and, as a second
case, detached (its evaluation loop). Then one torch.optim.Adam step (lr 1e-3) on the
non-detached loss, the loss after it, and dV/dx at every state (autograd). Everything in
float64; parameters and states drawn from a fixed seed and written out, so the C test
loads them instead of re-drawing.

    /usr/bin/python3 tests/oracle/recontrol_value_ref.py [tests/golden/recontrol/value_ref.txt]

Output: text, one array per line: `name count v0 v1 ...` (%.17g).
"""
import sys

import torch

torch.set_default_dtype(torch.float64)
torch.manual_seed(1234)
D, H = 6, 9
LENS = [3, 1, 5, 2]
B = len(LENS)
N = sum(LENS)

fc1 = torch.nn.Linear(D, H)
fc2 = torch.nn.Linear(H, H)
fc3 = torch.nn.Linear(H, 1)
params = [fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, fc3.bias]
x = torch.randn(N, D) * 1.5
reward = torch.tensor([0.7, -1.2, 2.0, 0.1])


def value(inp):
    return fc3(torch.relu(fc2(torch.relu(fc1(inp))))).view(-1)


def bellman(detach_next):
    v = value(x)
    loss = torch.zeros(())
    o = 0
    for b, n in enumerate(LENS):
        for t in range(o, o + n - 1):
            nxt = v[t + 1].detach() if detach_next else v[t + 1]
            loss = loss + (v[t] - nxt) ** 2
        loss = loss + (v[o + n - 1] - reward[b]) ** 2
        o += n
    return loss / B


out = []


def put(name, t):
    vals = t.detach().reshape(-1).tolist()
    out.append(name + " " + str(len(vals)) + " " + " ".join("%.17g" % a for a in vals))


put("dims", torch.tensor([D, H, B], dtype=torch.float64))
put("lens", torch.tensor(LENS, dtype=torch.float64))
put("x", x)
put("reward", reward)
put("params", torch.cat([p.detach().reshape(-1) for p in params]))
put("values", value(x))

for detach in (0, 1):
    for p in params:
        p.grad = None
    loss = bellman(detach)
    loss.backward()
    put("loss_detach%d" % detach, loss.reshape(1))
    put("grads_detach%d" % detach, torch.cat([p.grad.reshape(-1) for p in params]))

xg = x.clone().requires_grad_(True)
value(xg).sum().backward()  # rows are independent: row i of the gradient is dV(x_i)/dx_i
put("dvdx", xg.grad)

opt = torch.optim.Adam(params, lr=1e-3)
for step in range(2):
    opt.zero_grad()
    loss = bellman(0)
    loss.backward()
    opt.step()
    put("params_step%d" % (step + 1), torch.cat([p.detach().reshape(-1) for p in params]))
put("loss_after2", bellman(0).reshape(1))

path = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/recontrol/value_ref.txt"
with open(path, "w") as f:
    f.write("\n".join(out) + "\n")
print("wrote", path)
