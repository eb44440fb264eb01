#!/usr/bin/python3
"""Oracle for tiller's evaluation harness (src/eval) on the real stories260K model.

For a few items of each real task (TruthfulQA MC, ARC-Easy, ARC-Challenge, MMLU,
MathQA, some with few-shot contexts) it rebuilds, independently of tiller:
  - the prompts, with lm-evaluation-harness's templates (truthfulqa_mc1/mc2.yaml,
    arc_easy.yaml, mmlu/_default_template_yaml, mathqa.yaml + utils.py);
  - the token ids, with a Python transcription of llama2.c's SentencePiece BPE
    encoder for tok512.bin (dummy prefix space, byte fallback, highest-score
    merge first, leftmost on ties), and lm-eval's _encode_pair split;
  - each choice's log-likelihood from one forward of context + continuation in
    float64 (the pure-torch Llama of llama_ref.py; inputs cut on the left to the
    model's 512 positions the way lm-eval does: (ctx + cont)[-(L+1):][:-1]);
  - the predictions (argmax ll, argmax ll / len) and acc, acc_norm (len of the
    choice in characters, Python's len), mc1, mc2 (label-based).
It writes tests/golden/eval/stories260k.json, which tests/unit/test_eval.c
compares with tiller: token ids exactly, lls within 1e-4, metrics exactly.

Run from the repo root:  /usr/bin/python3 tests/oracle/eval_ref.py
"""
import csv
import json
import math
import os
import re
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from llama_ref import forward  # noqa: E402  (the float64 reference forward)

ROOT = os.path.join(HERE, "..", "..")
SHARED = os.environ.get("TILLER_SHARED", os.path.join(ROOT, "..", "shared"))
DATA = os.path.join(SHARED, "data")
MODEL = os.path.join(SHARED, "models", "stories260K", "stories260K.bin")
TOKENIZER = os.path.join(SHARED, "models", "stories260K", "tok512.bin")
OUT = os.path.join(ROOT, "tests", "golden", "eval", "stories260k.json")

# ---- model: llama2.c legacy .bin -> the HF-layout dict llama_ref.forward takes ----


def load_llama2c(path):
    raw = open(path, "rb").read()
    C, F, L, H, Hkv, V, S = struct.unpack("<7i", raw[:28])
    V, D = abs(V), C // H
    flat = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32).to(torch.float64)
    at = 0

    def take(*shape):
        nonlocal at
        n = math.prod(shape)
        t = flat[at:at + n].view(*shape)
        at += n
        return t

    def to_hf(wi, nh):  # llama2.c's interleaved RoPE pairs -> HF half-split rows, per head
        return wi.view(nh, D // 2, 2, C).transpose(1, 2).reshape(nh * D, C)

    w = {"model.embed_tokens.weight": take(V, C)}
    kinds = [("input_layernorm", (C,)), ("self_attn.q_proj", (H * D, C)), ("self_attn.k_proj", (Hkv * D, C)),
             ("self_attn.v_proj", (Hkv * D, C)), ("self_attn.o_proj", (C, H * D)),
             ("post_attention_layernorm", (C,)), ("mlp.gate_proj", (F, C)), ("mlp.down_proj", (C, F)),
             ("mlp.up_proj", (F, C))]
    for kind, shape in kinds:  # llama2.c stores each kind for all layers in a row
        for l in range(L):
            w[f"model.layers.{l}.{kind}.weight"] = take(*shape)
    w["model.norm.weight"] = take(C)
    w["lm_head.weight"] = w["model.embed_tokens.weight"]  # shared (v0 with positive vocab size)
    for l in range(L):
        for name, nh in (("q_proj", H), ("k_proj", Hkv)):
            key = f"model.layers.{l}.self_attn.{name}.weight"
            w[key] = to_hf(w[key], nh)
    cfg = {"hidden_size": C, "num_attention_heads": H, "num_key_value_heads": Hkv, "head_dim": D,
           "num_hidden_layers": L, "rms_norm_eps": 1e-5, "rope_theta": 10000.0}
    return cfg, w, S


# ---- tokenizer: llama2.c's encode() for tokenizer.bin ----------------------------


class Tok:
    def __init__(self, path):
        raw = open(path, "rb").read()
        at = 4  # max_token_length
        self.pieces, self.scores = [], []
        while at < len(raw):
            score, n = struct.unpack("<fi", raw[at:at + 8])
            self.pieces.append(raw[at + 8:at + 8 + n])
            self.scores.append(score)
            at += 8 + n
        self.lookup = {}
        for i, p in enumerate(self.pieces):
            self.lookup.setdefault(p, i)

    def encode(self, text):
        """BOS + ids. llama2.c: a dummy prefix space, one symbol per UTF-8 character
        (byte tokens <0xXX> = id byte + 3 for unknown ones), then merge the adjacent
        pair with the highest score (leftmost on ties) while one exists."""
        ids = []
        if text:
            for ch in " " + text:
                b = ch.encode("utf-8")
                if b in self.lookup:
                    ids.append(self.lookup[b])
                else:
                    ids.extend(x + 3 for x in b)
        while True:
            best, best_i = None, -1
            for i in range(len(ids) - 1):
                j = self.lookup.get(self.pieces[ids[i]] + self.pieces[ids[i + 1]])
                if j is not None and (best is None or self.scores[j] > self.scores[best]):
                    best, best_i = j, i
            if best is None:
                break
            ids[best_i:best_i + 2] = [best]
        return [1] + ids


# ---- lm-eval's prompts ----------------------------------------------------------

QA_PRIMER = (
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain.")


def docs_truthfulqa():
    out = []
    for i, d in enumerate(json.load(open(os.path.join(DATA, "truthfulqa", "mc_task.json")))):
        mc1, mc2 = list(d["mc1_targets"].items()), list(d["mc2_targets"].items())
        out.append({"id": str(i + 1), "text": QA_PRIMER + "\n\nQ: " + d["question"] + "\nA:",
                    "choices": [a for a, _ in mc1], "gold": [v for _, v in mc1].index(1),
                    "mc2_choices": [a for a, _ in mc2], "mc2_labels": [v for _, v in mc2]})
    return out


def docs_arc(name):
    out = []
    for line in open(os.path.join(DATA, "capability", "arc", name)):
        d = json.loads(line)
        labels = [c["label"] for c in d["question"]["choices"]]
        out.append({"id": d["id"], "text": "Question: " + d["question"]["stem"] + "\nAnswer:",
                    "choices": [c["text"] for c in d["question"]["choices"]], "gold": labels.index(d["answerKey"])})
    return out


def docs_mmlu_csv(path, subject):
    out = []
    with open(path, newline="") as f:
        for i, row in enumerate(csv.reader(f)):
            q, a, b, c, d, ans = row
            out.append({"id": f"{subject}/{i + 1}",
                        "text": f"{q.strip()}\nA. {a}\nB. {b}\nC. {c}\nD. {d}\nAnswer:",
                        "choices": ["A", "B", "C", "D"], "gold": "ABCD".index(ans)})
    return out


def docs_mathqa():
    out = []
    for i, d in enumerate(json.load(open(os.path.join(DATA, "capability", "mathqa", "dev_first500.json")))):
        choices = [c[4:].rstrip(" ,") for c in re.findall(r"[abcd] \) .*?, |e \) .*?$", d["options"])]
        out.append({"id": str(i + 1), "text": "Question: " + d["Problem"] + "\nAnswer:", "choices": choices,
                    "gold": ["a", "b", "c", "d", "e"].index(d["correct"])})
    return out


def with_fewshot(docs, k, description="", pool=None):
    """lm-eval's context: description + the k examples (text + " " + gold choice), each
    followed by "\n\n", then the doc's text. pool None = the same docs, minus the doc itself."""
    out = []
    for i, d in enumerate(docs):
        src = pool if pool is not None else [e for j, e in enumerate(docs) if j != i]
        shots = "".join(e["text"] + " " + e["choices"][e["gold"]] + "\n\n" for e in src[:k])
        out.append(dict(d, text=description + shots + d["text"]))
    return out


def mmlu_docs(subject, k):
    test = docs_mmlu_csv(os.path.join(DATA, "capability", "mmlu", f"{subject}_test.csv"), subject)
    dev = docs_mmlu_csv(os.path.join(DATA, "capability", "mmlu_dev", f"{subject}_dev.csv"), subject)
    desc = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
    return with_fewshot(test, k, desc, dev)


# ---- scoring ----------------------------------------------------------------------


def encode_pair(tok, context, continuation):
    n = len(context) - len(context.rstrip())
    if n:
        continuation, context = context[-n:] + continuation, context[:-n]
    whole, ctx = tok.encode(context + continuation), tok.encode(context)
    return ctx, whole[len(ctx):]


def loglikelihood(cfg, w, L, ctx, cont):
    if not cont:
        return 0.0
    full = ctx + cont
    inp = full[-(L + 1):][:-1]
    logp = torch.log_softmax(forward(cfg, w, inp), dim=-1)
    rows = logp[len(inp) - len(cont):]
    return float(sum(rows[i, t] for i, t in enumerate(cont)))


def score_case(cfg, w, L, tok, task, docs):
    items = []
    for d in docs:
        ch = [(c, 0) for c in d["choices"]] + [(c, 1) for c in d.get("mc2_choices", [])]
        choices = []
        for text, _ in ch:
            ctx, cont = encode_pair(tok, d["text"], " " + text)
            choices.append({"cont_ids": cont, "ll": loglikelihood(cfg, w, L, ctx, cont)})
        n1 = len(d["choices"])
        lls = [c["ll"] for c in choices[:n1]]
        pred = max(range(n1), key=lambda i: (lls[i], -i))  # first maximum, as numpy.argmax
        norm = [lls[i] / len(d["choices"][i]) for i in range(n1)]
        pred_norm = max(range(n1), key=lambda i: (norm[i], -i))
        item = {"id": d["id"], "context": d["text"], "ctx_ids": encode_pair(tok, d["text"], " x")[0],
                "choices": choices, "pred": pred, "pred_norm": pred_norm}
        if task == "truthfulqa_mc":
            l2 = [c["ll"] for c in choices[n1:]]
            p = [math.exp(v) for v in l2]
            item["mc1"] = float(pred == d["gold"])
            item["mc2"] = sum(pi for pi, lab in zip(p, d["mc2_labels"]) if lab) / sum(p)
        else:
            item["acc"] = float(pred == d["gold"])
            item["acc_norm"] = float(pred_norm == d["gold"])
        items.append(item)
    keys = ["mc1", "mc2"] if task == "truthfulqa_mc" else ["acc", "acc_norm"]
    return items, {k: sum(it[k] for it in items) / len(items) for k in keys}


def main():
    cfg, w, L = load_llama2c(MODEL)
    tok = Tok(TOKENIZER)
    cases = [  # (task, fewshot, limit, --file relative to DATA or None, docs)
        ("truthfulqa_mc", 0, 3, None, docs_truthfulqa()[:3]),
        ("arc_easy", 0, 4, None, docs_arc("ARC-Easy-Dev.jsonl")[:4]),
        ("arc_easy", 2, 2, None, with_fewshot(docs_arc("ARC-Easy-Dev.jsonl"), 2)[:2]),
        ("arc_challenge", 0, 3, None, docs_arc("ARC-Challenge-Dev.jsonl")[:3]),
        ("mmlu", 0, 3, None, mmlu_docs("abstract_algebra", 0)[:3]),
        ("mmlu", 5, 2, "capability/mmlu/anatomy_test.csv", mmlu_docs("anatomy", 5)[:2]),
        ("mathqa", 0, 3, None, docs_mathqa()[:3]),
        ("mathqa", 1, 2, None, with_fewshot(docs_mathqa(), 1)[:2]),
    ]
    out = {"model": "stories260K/stories260K.bin", "tokenizer": "stories260K/tok512.bin", "n_ctx": L, "cases": []}
    for task, k, limit, file, docs in cases:
        items, metrics = score_case(cfg, w, L, tok, task, docs)
        longest = max(len(it["ctx_ids"]) + max(len(c["cont_ids"]) for c in it["choices"]) for it in items)
        out["cases"].append({"task": task, "fewshot": k, "limit": limit, "file": file, "items": items,
                             "metrics": metrics})
        print(f"{task:14s} fewshot {k} items {len(items)}: {metrics}  (longest input {longest} tokens"
              f"{', cut on the left' if longest - 1 > L else ''})")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(OUT + ".tmp", OUT)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
