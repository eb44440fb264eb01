#!/usr/bin/python3
"""Generate the malformed-input corpus for tiller's model and array readers.

    tests/corpus/safetensors/<case>/{model.safetensors, config.json}
    tests/corpus/llama2c/<case>.bin
    tests/corpus/npy/<case>.npy
    tests/corpus/tokenizer/<case>.{bin,json}

Each folder has cases.tsv: case, expected status (OK, FORMAT, UNSUPPORTED, IO),
and a fragment the error message must contain (besides the file's path).
tests/unit/test_corpus.c and tests/cli/test_convert.sh read these manifests;
the files double as seeds for the parser fuzzers. A few valid files (status OK)
prove the mutations, not the base, cause each failure.

Run from anywhere: /usr/bin/python3 tests/corpus/make_corpus.py
Deterministic: no randomness beyond a fixed seed.
"""
import json
import os
import random
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- safetensors ------------------------------------------------------------------

C, F, L, H, HKV, D, V = 4, 6, 1, 2, 1, 2, 5  # as small as a valid GQA Llama gets
BASE_CONFIG = {
    "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C,
    "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": H,
    "num_key_value_heads": HKV, "head_dim": D, "vocab_size": V, "max_position_embeddings": 32,
    "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "tie_word_embeddings": False,
}


def base_tensors():
    rng = random.Random(1234)
    shapes = [("model.embed_tokens.weight", [V, C])]
    p = "model.layers.0."
    shapes += [(p + "input_layernorm.weight", [C]), (p + "self_attn.q_proj.weight", [H * D, C]),
               (p + "self_attn.k_proj.weight", [HKV * D, C]), (p + "self_attn.v_proj.weight", [HKV * D, C]),
               (p + "self_attn.o_proj.weight", [C, H * D]), (p + "post_attention_layernorm.weight", [C]),
               (p + "mlp.gate_proj.weight", [F, C]), (p + "mlp.up_proj.weight", [F, C]),
               (p + "mlp.down_proj.weight", [C, F]), ("model.norm.weight", [C]), ("lm_head.weight", [V, C])]
    out = []
    for name, shape in shapes:
        n = 1
        for d in shape:
            n *= d
        data = struct.pack(f"<{n}f", *[rng.gauss(0, 0.3) for _ in range(n)])
        out.append({"name": name, "dtype": "F32", "shape": shape, "data": data})
    return out


def st_bytes(tensors, header_items=None, raw_header=None, extra=b"", hlen=None):
    """A safetensors file. tensors: dicts with name/dtype/shape/data (offsets are
    computed unless a tensor carries "offsets"). header_items: extra (key, value)
    pairs. raw_header replaces the JSON text entirely."""
    entries, blob, at = [("__metadata__", {"format": "pt"})], b"", 0
    for t in tensors:
        offs = t.get("offsets", [at, at + len(t["data"])])
        entries.append((t["name"], {"dtype": t["dtype"], "shape": t["shape"], "data_offsets": offs}))
        if not t.get("no_data"):
            blob += t["data"]
            at += len(t["data"])
    entries += header_items or []
    if raw_header is None:
        # written by hand so that keys may repeat
        raw_header = "{" + ",".join(json.dumps(k) + ":" + json.dumps(v) for k, v in entries) + "}"
    h = raw_header.encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + blob + extra


def find(ts, name):
    return next(t for t in ts if t["name"].endswith(name))


def st_cases():
    """(case, status, fragment, files{name: bytes})"""
    cases = []
    cfg_text = json.dumps(BASE_CONFIG, indent=1)

    def add(name, status, frag, st=None, cfg=None, extra_files=None):
        files = {}
        if st is not None:
            files["model.safetensors"] = st
        if cfg is not None:
            files["config.json"] = cfg.encode() if isinstance(cfg, str) else cfg
        files.update(extra_files or {})
        cases.append((name, status, frag, files))

    def cfg_with(**kw):
        c = dict(BASE_CONFIG)
        for k, v in kw.items():
            if v is KeyError:
                c.pop(k)
            else:
                c[k] = v
        return json.dumps(c, indent=1)

    ok = st_bytes(base_tensors())
    add("ok", "OK", "", ok, cfg_text)
    # valid variants: tied config with a redundant lm_head, old inv_freq buffers, F16/BF16 storage
    add("ok_tied_with_lm_head", "OK", "", ok, cfg_with(tie_word_embeddings=True))
    ts = base_tensors()
    ts.insert(3, {"name": "model.layers.0.self_attn.rotary_emb.inv_freq", "dtype": "F32", "shape": [2],
                  "data": struct.pack("<2f", 1.0, 0.01)})
    add("ok_inv_freq", "OK", "", st_bytes(ts), cfg_text)
    ts = base_tensors()
    for t in ts[:6]:
        n = len(t["data"]) // 4
        vals = struct.unpack(f"<{n}f", t["data"])
        if t["name"].endswith("q_proj.weight") or t["name"].endswith("embed_tokens.weight"):
            t["dtype"], t["data"] = "BF16", b"".join(struct.pack("<f", v)[2:] for v in vals)
        else:
            t["dtype"], t["data"] = "F16", struct.pack(f"<{n}e", *vals)
    add("ok_f16_bf16", "OK", "", st_bytes(ts), cfg_text)
    # a NaN weight: refused at load (it would give NaN logits, empty generations, NaN checkpoints)
    ts = base_tensors()
    t = find(ts, "mlp.down_proj.weight")
    t["data"] = struct.pack("<f", float("nan")) + t["data"][4:]
    add("nan_weight", "NUMERIC", "tensor 'blk.0.ffn_down.weight' has a non-finite weight (nan at index 0)",
        st_bytes(ts), cfg_text)

    # container
    add("empty_file", "FORMAT", "truncated", b"", cfg_text)
    add("short_length", "FORMAT", "truncated", b"\x10\x00\x00", cfg_text)
    add("header_len_past_end", "FORMAT", "header length", st_bytes(base_tensors(), hlen=len(ok)), cfg_text)
    add("header_len_huge", "FORMAT", "header length", st_bytes(base_tensors(), hlen=2**63 + 5), cfg_text)
    add("truncated_data", "FORMAT", "outside the data region", ok[:-10], cfg_text)
    add("invalid_json", "FORMAT", "not a valid JSON", st_bytes([], raw_header='{"a": {"dtype": "F32",'), cfg_text)
    add("header_not_object", "FORMAT", "does not start with '{'", st_bytes([], raw_header="[1, 2]"), cfg_text)
    add("header_trailing", "FORMAT", "trailing bytes", st_bytes([], raw_header='{"__metadata__": {}} x'),
        cfg_text)
    add("metadata_not_object", "FORMAT", "__metadata__", st_bytes(base_tensors(), [("__metadata__", 5)]),
        cfg_text)
    add("entry_not_object", "FORMAT", "expected an object", st_bytes(base_tensors(), [("junk", [1])]), cfg_text)
    ts = base_tensors()
    find(ts, "lm_head.weight")["offsets"] = [0, 10**9]
    add("offsets_past_end", "FORMAT", "outside the data region", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "model.norm.weight")["offsets"] = [40, 8]
    add("offsets_reversed", "FORMAT", "outside the data region", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "model.norm.weight")["offsets"] = [2**60, 2**60 + 32]
    add("offsets_huge", "FORMAT", "data_offsets", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "model.norm.weight")["offsets"] = ["0", 32]
    add("offsets_string", "FORMAT", "data_offsets", st_bytes(ts), cfg_text)
    ts = base_tensors()
    k, v = find(ts, "k_proj.weight"), find(ts, "v_proj.weight")
    kstart = sum(len(t["data"]) for t in ts[:ts.index(k)])
    v["offsets"] = [kstart, kstart + len(k["data"])]  # v reads k's bytes; v's own bytes go unowned
    add("overlap", "FORMAT", "overlap", st_bytes(ts), cfg_text)
    ts = [t for t in base_tensors() if not t["name"].endswith("o_proj.weight")]
    add("missing_tensor", "FORMAT", "'model.layers.0.self_attn.o_proj.weight' is missing", st_bytes(ts), cfg_text)
    # o_proj's bytes stay in the data region but its header entry is gone: a hole
    ts, at = base_tensors(), 0
    for t in ts:
        t["offsets"], t["no_data"] = [at, at + len(t["data"])], True
        at += len(t["data"])
    data = b"".join(t["data"] for t in ts)
    ts = [t for t in ts if not t["name"].endswith("o_proj.weight")]
    add("hole", "FORMAT", "belong to no tensor", st_bytes(ts, extra=data), cfg_text)
    add("trailing_data", "FORMAT", "after the last tensor", st_bytes(base_tensors(), extra=b"\0" * 16), cfg_text)
    ts = base_tensors()
    dup = dict(find(ts, "model.norm.weight"))
    ts.append(dup)
    add("duplicate_tensor", "FORMAT", "appears more than once", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "model.norm.weight")["dtype"] = "F33"
    add("unknown_dtype", "FORMAT", "unknown dtype 'F33'", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "model.norm.weight")["dtype"] = "I32"
    add("unsupported_dtype", "UNSUPPORTED", "dtype I32", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "model.norm.weight")["dtype"] = 32
    add("dtype_not_string", "FORMAT", "'dtype' must be a string", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "q_proj.weight")["shape"] = [2, 8]
    add("shape_mismatch", "FORMAT", "'model.layers.0.self_attn.q_proj.weight' has shape [2, 8]", st_bytes(ts),
        cfg_text)
    ts = base_tensors()
    find(ts, "q_proj.weight")["shape"] = [5, 4]
    add("shape_bytes_mismatch", "FORMAT", "need 80 bytes, data_offsets give 64", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "q_proj.weight")["shape"] = [-1, 4]
    add("shape_negative", "FORMAT", "shape[0]", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "q_proj.weight")["shape"] = [2**52, 2**52, 16]
    add("shape_overflow", "FORMAT", "overflows", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "q_proj.weight")["shape"] = [4.5, 4]
    add("shape_float", "FORMAT", "shape[0]", st_bytes(ts), cfg_text)
    ts = base_tensors()
    find(ts, "q_proj.weight")["shape"] = [1] * 9
    add("shape_too_many_dims", "FORMAT", "9 dimensions", st_bytes(ts), cfg_text)
    ts = base_tensors()
    ts.append({"name": "model.layers.0.self_attn.q_proj.bias", "dtype": "F32", "shape": [H * D],
               "data": b"\0" * 4 * H * D})
    add("unexpected_tensor", "FORMAT", "unexpected tensor 'model.layers.0.self_attn.q_proj.bias'", st_bytes(ts),
        cfg_text)
    # Llama-7B sizes beside a tiny file: must fail on the shapes before allocating 27 GB
    add("config_7b_dims", "FORMAT", f"'model.embed_tokens.weight' has shape [{V}, {C}]", ok,
        cfg_with(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                 num_key_value_heads=32, head_dim=128, vocab_size=32000))
    add("vocab_mismatch", "FORMAT", f"'model.embed_tokens.weight' has shape [{V}, {C}], ", ok,
        cfg_with(vocab_size=V + 1))

    # config.json
    add("config_missing", "IO", "config.json not found", ok, None)
    add("config_invalid_json", "FORMAT", "not a valid JSON", ok, '{"hidden_size": 4,,}')
    add("config_not_object", "FORMAT", "not a valid JSON object", ok, "[1, 2]")
    add("config_trailing", "FORMAT", "trailing bytes", ok, cfg_text + " {}")
    add("config_missing_hidden_size", "FORMAT", "'hidden_size' is missing", ok, cfg_with(hidden_size=KeyError))
    add("config_missing_vocab_size", "FORMAT", "'vocab_size' is missing", ok, cfg_with(vocab_size=KeyError))
    add("config_layers_string", "FORMAT", "'num_hidden_layers' must be an integer, got a string", ok,
        cfg_with(num_hidden_layers="1"))
    add("config_hidden_float", "FORMAT", "'hidden_size' = 4.5", ok, cfg_with(hidden_size=4.5))
    add("config_heads_negative", "FORMAT", "'num_attention_heads' = -2", ok, cfg_with(num_attention_heads=-2))
    add("config_hidden_huge", "FORMAT", "'hidden_size' = 1e+30", ok, cfg_with(hidden_size=1e30))
    add("config_dim_absurd", "FORMAT", "invalid dim = 1000000", ok, cfg_with(hidden_size=1000000))
    add("config_tie_string", "FORMAT", "'tie_word_embeddings' must be true or false", ok,
        cfg_with(tie_word_embeddings="yes"))
    add("config_theta_string", "FORMAT", "'rope_theta' must be a number", ok, cfg_with(rope_theta="1e4"))
    add("config_eps_zero", "FORMAT", "'rms_norm_eps' = 0", ok, cfg_with(rms_norm_eps=0))
    add("config_kv_heads_3", "FORMAT", "n_kv_heads", ok, cfg_with(num_key_value_heads=3))
    add("config_head_dim_odd", "FORMAT", "head_dim", ok, cfg_with(head_dim=3))
    add("config_architecture", "UNSUPPORTED", "GPT2LMHeadModel", ok, cfg_with(architectures=["GPT2LMHeadModel"]))
    add("config_architectures_string", "FORMAT", "'architectures' must be an array", ok,
        cfg_with(architectures="LlamaForCausalLM"))
    add("config_rope_scaling", "UNSUPPORTED", "rope_scaling", ok,
        cfg_with(rope_scaling={"type": "linear", "factor": 2.0}))
    add("config_attention_bias", "UNSUPPORTED", "attention_bias", ok, cfg_with(attention_bias=True))
    add("config_hidden_act", "UNSUPPORTED", "hidden_act", ok, cfg_with(hidden_act="gelu"))
    add("config_duplicate_key", "FORMAT", "'hidden_size' appears 2 times", ok,
        cfg_text.replace(f'"hidden_size": {C}', f'"hidden_size": {C}, "hidden_size": 16'))
    add("sharded", "UNSUPPORTED", "sharded", None, cfg_text,
        {"model.safetensors.index.json": b'{"weight_map": {}}'})
    return cases


# ---- llama2.c ----------------------------------------------------------------------


def l2c_v0(dim=8, hidden=12, layers=1, heads=2, kv=1, vocab=11, seq=4, extra=0, shared=True):
    hdr = struct.pack("<7i", dim, hidden, layers, heads, kv, vocab if shared else -vocab, seq)
    hd = dim // heads if heads else 0
    n = (vocab * dim + layers * (2 * dim + dim * dim * 2 + 2 * dim * kv * hd + 3 * dim * hidden) + dim
         + seq * hd + (0 if shared else vocab * dim))
    return hdr + struct.pack(f"<{n}f", *[0.01 * (i % 7) for i in range(n)]) + b"\0" * extra


def l2c_cases():
    ok = l2c_v0()
    v1_hdr = struct.pack("<Ii7iB", 0x616B3432, 1, 8, 12, 1, 2, 1, 11, 4, 1).ljust(256, b"\0")
    weights = ok[28:len(ok) - 4 * 4 * 4]  # v0 weights minus the freq_cis tables (seq 4 * head dim 4 floats)
    cases = [
        ("ok", "OK", "", ok),
        ("ok_v1", "OK", "", v1_hdr + weights),
        ("empty", "FORMAT", "truncated", b""),
        ("truncated_header", "FORMAT", "(20 bytes < 28)", ok[:20]),
        ("dim_absurd", "FORMAT", "dim = 1073741824", struct.pack("<7i", 1 << 30, 12, 1, 1, 1, 11, 4)),
        ("dim_negative", "FORMAT", "dim = -8", struct.pack("<7i", -8, 12, 1, 2, 1, 11, 4)),
        ("layers_negative", "FORMAT", "n_layers = -1", struct.pack("<7i", 8, 12, -1, 2, 1, 11, 4)),
        ("heads_zero", "FORMAT", "n_heads = 0", struct.pack("<7i", 8, 12, 1, 0, 1, 11, 4)),
        ("kv_heads_negative", "FORMAT", "n_kv_heads = -1", struct.pack("<7i", 8, 12, 1, 2, -1, 11, 4)),
        ("kv_heads_not_divisor", "FORMAT", "not a multiple of n_kv_heads 3", struct.pack("<7i", 16, 12, 1, 4, 3, 11, 4)),
        ("vocab_int_min", "FORMAT", "vocab_size = -2147483648", struct.pack("<7i", 8, 12, 1, 2, 1, -2**31, 4)),
        ("seq_negative", "FORMAT", "seq_len = -4", struct.pack("<7i", 8, 12, 1, 2, 1, 11, -4)),
        ("head_dim_odd", "FORMAT", "head_dim", struct.pack("<7i", 6, 12, 1, 2, 1, 11, 4)),
        # every factor at its limit: the product is ~2^46 floats, far beyond the file
        ("huge_product", "FORMAT", "needs", struct.pack("<7i", 1 << 16, 1 << 18, 1024, 1024, 1024, 1 << 24, 1 << 24)),
        ("short_by_4", "FORMAT", "bytes of weights", ok[:-4]),
        ("long_by_4", "FORMAT", "bytes of weights", ok + b"\0" * 4),
        ("v1_truncated", "FORMAT", "(100 bytes < 256)", v1_hdr[:100]),
        ("v2_int8", "UNSUPPORTED", "version 2", struct.pack("<Ii", 0x616B3432, 2).ljust(256, b"\0")),
        ("v7", "FORMAT", "version 7", struct.pack("<Ii", 0x616B3432, 7).ljust(256, b"\0")),
        # non-finite weights: token_embd[5] NaN; blk.0.attn_norm[3] (after the 11 x 8 embeddings) +inf
        ("nan_weight", "NUMERIC", "tensor 'token_embd.weight' has a non-finite weight (nan at index 5)",
         ok[:28 + 4 * 5] + struct.pack("<f", float("nan")) + ok[28 + 4 * 6:]),
        ("inf_weight", "NUMERIC", "tensor 'blk.0.attn_norm.weight' has a non-finite weight (inf at index 3)",
         ok[:28 + 4 * 91] + struct.pack("<f", float("inf")) + ok[28 + 4 * 92:]),
    ]
    return cases


# ---- npy --------------------------------------------------------------------------


def npy(descr="<f4", shape="(2, 3)", fortran="False", data=None, magic=b"\x93NUMPY", ver=b"\x01\x00",
        dict_text=None, hlen=None):
    d = dict_text or "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    total = -(-(10 + len(d) + 1) // 64) * 64
    h = d + " " * (total - 10 - len(d) - 1) + "\n"
    n = len(h) if hlen is None else hlen
    body = data if data is not None else struct.pack("<6f", *range(6))
    return magic + ver + struct.pack("<H", n) + h.encode() + body


def npy_cases():
    return [
        ("ok", "OK", "", npy()),
        ("empty", "FORMAT", "bad magic", b""),
        ("bad_magic", "FORMAT", "bad magic", npy(magic=b"\x93NUMPZ")),
        ("version_9", "UNSUPPORTED", "version 9.0", npy(ver=b"\x09\x00")),
        ("header_len_past_end", "FORMAT", "header length", npy(hlen=60000)),
        ("descr_f8", "UNSUPPORTED", "'<f8'", npy(descr="<f8")),
        ("descr_big_endian", "UNSUPPORTED", "'>f4'", npy(descr=">f4")),
        ("fortran_order", "UNSUPPORTED", "fortran_order", npy(fortran="True")),
        ("fortran_not_bool", "FORMAT", "fortran_order", npy(fortran="0")),
        ("shape_mismatch", "FORMAT", "needs 32 bytes", npy(shape="(2, 4)")),
        ("trailing_data", "FORMAT", "needs 24 bytes", npy(data=struct.pack("<7f", *range(7)))),
        ("shape_negative", "FORMAT", "shape", npy(shape="(-2, 3)")),
        ("shape_overflow", "FORMAT", "overflow", npy(shape="(4294967296, 4294967296, 4294967296)")),
        ("shape_too_long", "FORMAT", "overflow", npy(shape="(99999999999999999999,)")),
        ("shape_not_tuple", "FORMAT", "tuple", npy(shape="[2, 3]")),
        ("missing_shape", "FORMAT", "missing key 'shape'", npy(dict_text="{'descr': '<f4', 'fortran_order': False, }")),
        ("unknown_key", "FORMAT", "unknown key 'colour'", npy(dict_text="{'descr': '<f4', 'colour': False, }")),
        ("duplicate_key", "FORMAT", "'descr' repeats", npy(dict_text="{'descr': '<f4', 'descr': '<f4', }")),
        ("not_a_dict", "FORMAT", "not a dict", npy(dict_text="['descr']")),
        ("unterminated", "FORMAT", "header", npy(dict_text="{'descr': '<f4")),
    ]


# ---- tokenizers -------------------------------------------------------------------


def tok_bin(pieces, max_len=8):
    """llama2.c tokenizer.bin: int32 max_token_length, then per token f32 score, int32 length, bytes."""
    out = struct.pack("<i", max_len)
    for text, score in pieces:
        b = text.encode()
        out += struct.pack("<fi", score, len(b)) + b
    return out


def tok_json(vocab, added=(), unigram=False):
    model = {"type": "Unigram", "vocab": vocab} if unigram else \
        {"type": "BPE", "vocab": vocab, "merges": [], "byte_fallback": False}
    d = {"version": "1.0", "added_tokens": list(added), "normalizer": None,
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False}, "model": model}
    return json.dumps(d).encode()


def tok_cases():
    """(file name, status, fragment, bytes): tokenizer files for tl_tokenizer_load."""
    base = [("<unk>", 0.0), ("<s>", 0.0), ("</s>", 0.0), ("a", -1.0), ("b", -2.0), ("\u2581a", -3.0)]
    nan = list(base)
    nan[4] = ("b", float("nan"))
    inf = list(base)
    inf[3] = ("a", float("-inf"))
    uni = [[t, s] for t, s in base]
    return [
        ("ok.bin", "OK", "", tok_bin(base)),
        ("ok.json", "OK", "", tok_json({"a": 0, "b": 1, "ab": 2})),
        ("ok_unigram.json", "OK", "", tok_json(uni, unigram=True)),
        ("nan_score.bin", "FORMAT", "token 4 has a non-finite score (nan)", tok_bin(nan)),
        ("inf_score.bin", "FORMAT", "token 3 has a non-finite score (-inf)", tok_bin(inf)),
        # JSON has no NaN; 1e999 parses as infinity
        ("inf_score_unigram.json", "FORMAT", "token 3 has a non-finite score (inf)",
         tok_json(uni, unigram=True).replace(b'["a", -1.0]', b'["a", 1e999]')),
        # a 3 M-token vocabulary (one id is enough to make it so) is refused before allocating for it
        ("vocab_id_3m.json", "FORMAT", "model.vocab['b'] is not a valid id (0 .. 2097151)",
         tok_json({"a": 0, "b": 2999999})),
        ("added_id_3m.json", "FORMAT", "added_tokens entry without a valid id (0 .. 2097151)",
         tok_json({"a": 0, "b": 1}, added=[{"id": 3000000, "content": "<x>", "special": True}])),
    ]


def write_manifest(folder, rows):
    with open(os.path.join(folder, "cases.tsv"), "w") as f:
        f.write("# case\tstatus\tmessage fragment (generated by tests/corpus/make_corpus.py)\n")
        for name, status, frag in rows:
            f.write(f"{name}\t{status}\t{frag}\n")


def main():
    d = os.path.join(HERE, "safetensors")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    rows = []
    for name, status, frag, files in st_cases():
        os.makedirs(os.path.join(d, name))
        for fn, data in files.items():
            with open(os.path.join(d, name, fn), "wb") as f:
                f.write(data)
        rows.append((name, status, frag))
    write_manifest(d, rows)
    for sub, ext, cases in (("llama2c", ".bin", l2c_cases()), ("npy", ".npy", npy_cases())):
        d = os.path.join(HERE, sub)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, status, frag, data in cases:
            with open(os.path.join(d, name + ext), "wb") as f:
                f.write(data)
        write_manifest(d, [(n, s, fr) for n, s, fr, _ in cases])
    d = os.path.join(HERE, "tokenizer")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, status, frag, data in tok_cases():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    write_manifest(d, [(n, s, fr) for n, s, fr, _ in tok_cases()])
    print("corpus written under", HERE)


if __name__ == "__main__":
    main()
