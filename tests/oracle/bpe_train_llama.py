#!/usr/bin/python3
"""llama.cpp's token ids for a vocabulary trained by `tiller tokenizer train`.

Two steps, run from the repository root:

  /usr/bin/python3 tests/oracle/bpe_train_llama.py make-corpus WORLD_DIR
      Writes tests/golden/bpe_train/corpus.txt: WORLD_DIR/corpus/valid.txt (a world made
      with `tiller world --seed 1`) followed by seeded adversarial lines: many scripts,
      combining marks, emoji, runs of spaces, tabs, CR/LF, non-ASCII whitespace, digits,
      texts of reserved tokens repeated often (<s>, </s>, <unk>, <0x41>), a literal U+2581,
      invalid UTF-8, a NUL byte, rare characters (left to byte fallback) and a 300-letter word.

  TILLER=build/tiller LLAMA_TOKENIZE=/path/to/llama-tokenize \\
  /usr/bin/python3 tests/oracle/bpe_train_llama.py
      Trains `tiller tokenizer train corpus.txt --vocab-size 1000 -o TMP.gguf`, then runs
      llama.cpp's `llama-tokenize --ids --no-bos --no-escape --no-parse-special` on every case
      of tests/golden/tokenizer/extra.inp and ../shared/models/tokenizers/
      ggml-vocab-llama-spm.gguf.inp (cases split on "\\n__ggml_vocab_test__\\n"), and on the
      corpus itself, and writes the ids, one line per case, to tests/golden/bpe_train/
      {extra,llama-spm,corpus}.out. tests/unit/test_bpe_train.c trains the same vocabulary
      and checks that tiller's encoder gives these ids. llama.cpp is not part of tiller: build
      it outside the repository.
"""
import os
import random
import subprocess
import sys
import tempfile

GOLD = "tests/golden/bpe_train"
SHARED = os.environ.get("TILLER_SHARED", "../shared")
SEP = b"\n__ggml_vocab_test__\n"


def make_corpus(world):
    with open(os.path.join(world, "corpus/valid.txt"), "rb") as f:
        text = f.read()
    rng = random.Random(1)
    words = ("naïve café über straße déjà vu Ελληνικά привет мир 日本語のテキスト 한국어 العربية "
             "हिन्दी ภาษาไทย e\u0301cole 🦙 🔥 👍🏽 2024 3.14159 1,000,000 don't it's "
             "<s> </s> <unk> <0x41> <0x0A> <|endoftext|> <ss> s> <0x4 x41> naïveté").split(" ")
    spaces = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", " \t ", "\u00a0", "\u3000", "\r\n", "\n\n"]
    lines = []
    for _ in range(400):
        parts = []
        for _ in range(rng.randint(3, 14)):
            parts.append(rng.choice(words))
            parts.append(rng.choice(spaces) if rng.random() < 0.3 else " ")
        lines.append("".join(parts))
    extra = "\n".join(lines).encode("utf-8")
    odd = [b"\xff\xfe broken \xc3( bytes \xe2\x82 and \x80 stray \xc0\xaf overlong \xed\xa0\x80 surrogate",
           "a literal \u2581 mark, \u2581\u2581 two".encode(),
           b"NUL \x00 byte",
           "rare: \u16a0 \u2603 \U0001d11e \u0f00 \ua000".encode(),
           b"long " + b"ab" * 150 + b" word"]
    with open(os.path.join(GOLD, "corpus.txt"), "wb") as f:
        f.write(text + b"\n" + extra + b"\n" + b"\n".join(odd) + b"\n")


def cases(path):
    with open(path, "rb") as f:
        data = f.read()
    return data.split(SEP)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make-corpus":
        os.makedirs(GOLD, exist_ok=True)
        make_corpus(sys.argv[2])
        return
    tiller = os.environ.get("TILLER", "build/tiller")
    llama = os.environ["LLAMA_TOKENIZE"]
    tmp = tempfile.mkdtemp()
    gguf = os.path.join(tmp, "trained.gguf")
    subprocess.run([tiller, "tokenizer", "train", os.path.join(GOLD, "corpus.txt"), "--vocab-size", "1000",
                    "-o", gguf], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(GOLD, "corpus.txt"), "rb") as f:
        corpus = f.read()
    sets = {"extra": cases("tests/golden/tokenizer/extra.inp"),
            "llama-spm": cases(os.path.join(SHARED, "models/tokenizers/ggml-vocab-llama-spm.gguf.inp")),
            "corpus": [corpus]}
    for name, texts in sets.items():
        out = []
        for text in texts:
            case = os.path.join(tmp, "case.txt")
            with open(case, "wb") as f:
                f.write(text)
            r = subprocess.run([llama, "-m", gguf, "-f", case, "--ids", "--no-bos", "--no-escape",
                                "--no-parse-special", "--log-disable"], check=True, capture_output=True)
            ids = r.stdout.decode().strip().splitlines()[-1].strip("[]").replace(",", " ").split()
            out.append(" ".join(ids))
        with open(os.path.join(GOLD, name + ".out"), "w") as f:
            f.write("\n".join(out) + "\n")
        print("%s: %d cases" % (name, len(texts)))


if __name__ == "__main__":
    main()
