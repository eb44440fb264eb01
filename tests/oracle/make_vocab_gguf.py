#!/usr/bin/python3
"""Build a vocabulary-only GGUF (tokenizer keys only, no tensors) from a Hugging Face
tokenizer.json, the way llama.cpp's converter lays a byte-level BPE vocabulary out:
tokens by id, token_type 1 (normal) / 3 (control: added tokens marked special) /
4 (user-defined: other added tokens), merges as "left right", and tokenizer.ggml.pre.

Used for the two llama.cpp test vocabularies too large to copy (ggml-vocab-llama-bpe.gguf
is 7.7 MB, ggml-vocab-qwen2.gguf 5.9 MB): tests/golden/vocab/README.md says where the
tokenizer.json files came from and how llama.cpp confirmed the result. Run offline:

    /usr/bin/python3 tests/oracle/make_vocab_gguf.py tokenizer.json llama-bpe llama OUT.gguf 128000 128001
    gzip -9n OUT.gguf
"""
import json
import struct
import sys

GGUF_U32, GGUF_I32, GGUF_STRING, GGUF_ARRAY = 4, 5, 8, 9


def gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def kv_str(key, val):
    return gguf_str(key) + struct.pack("<I", GGUF_STRING) + gguf_str(val)


def kv_u32(key, val):
    return gguf_str(key) + struct.pack("<II", GGUF_U32, val)


def kv_str_arr(key, vals):
    out = [gguf_str(key), struct.pack("<IIQ", GGUF_ARRAY, GGUF_STRING, len(vals))]
    out += [gguf_str(v) for v in vals]
    return b"".join(out)


def kv_i32_arr(key, vals):
    return gguf_str(key) + struct.pack("<IIQ", GGUF_ARRAY, GGUF_I32, len(vals)) + struct.pack("<%di" % len(vals), *vals)


def main():
    if len(sys.argv) != 7:
        sys.exit("usage: make_vocab_gguf.py tokenizer.json PRE ARCH OUT.gguf BOS_ID EOS_ID")
    src, pre, arch, dst = sys.argv[1:5]
    bos, eos = int(sys.argv[5]), int(sys.argv[6])
    j = json.load(open(src, encoding="utf-8"))
    model = j["model"]
    if model["type"] != "BPE":
        sys.exit("%s: model.type %s is not BPE" % (src, model["type"]))
    n = max(list(model["vocab"].values()) + [a["id"] for a in j["added_tokens"]]) + 1
    tokens = [None] * n
    types = [1] * n
    for text, i in model["vocab"].items():
        tokens[i] = text
    for a in j["added_tokens"]:
        tokens[a["id"]] = a["content"]
        types[a["id"]] = 3 if a["special"] else 4
    for i in range(n):  # ids nothing names (none in the two vocabularies used here)
        if tokens[i] is None:
            tokens[i], types[i] = "[PAD%d]" % i, 5
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    kvs = [
        kv_str("general.architecture", arch),
        kv_str("general.name", "vocab " + pre),
        kv_str("tokenizer.ggml.model", "gpt2"),
        kv_str("tokenizer.ggml.pre", pre),
        kv_str_arr("tokenizer.ggml.tokens", tokens),
        kv_i32_arr("tokenizer.ggml.token_type", types),
        kv_str_arr("tokenizer.ggml.merges", merges),
    ]
    kvs.append(kv_u32("tokenizer.ggml.bos_token_id", bos))
    kvs.append(kv_u32("tokenizer.ggml.eos_token_id", eos))
    with open(dst, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)))
        for kv in kvs:
            f.write(kv)
    print("%s: %d tokens, %d merges, pre %s" % (dst, n, len(merges), pre))


if __name__ == "__main__":
    main()
