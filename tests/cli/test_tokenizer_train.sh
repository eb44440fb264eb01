#!/bin/bash
# tiller tokenizer train: help, the three outputs and what they encode (llama.cpp's ids from
# tests/golden/bpe_train), one output by extension, jsonl input, determinism, the world corpus's
# compression, bad flags and input (exit code, message, nothing written). If a llama-tokenize
# built outside the repository is found under /tmp, it is compared on the world's held-out text.
set -u
BIN=${TILLER_BIN:-build/tiller}
G=tests/golden/bpe_train
T=$(mktemp -d /tmp/tiller-toktrain-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
expect_rc() { # want_rc description cmd...
    local want=$1 what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else bad "$what: exit $rc, want $want; stderr: $(head -c 300 "$T/err")"; fi
}
has() { # file pattern description
    if grep -q -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 300 "$1")"; fi
}
empty_dir() { # dir description
    if [ -z "$(ls -A "$1")" ]; then ok; else bad "$2: left $(ls "$1")"; fi
}

# help
expect_rc 0 "group help" "$BIN" tokenizer --help
has "$T/out" "train" "group help lists train"
expect_rc 2 "no subcommand" "$BIN" tokenizer
expect_rc 2 "unknown subcommand" "$BIN" tokenizer frobnicate
has "$T/err" "frobnicate" "unknown subcommand is named"
expect_rc 0 "train help" "$BIN" tokenizer train --help
for o in --vocab-size --out --character-coverage --min-char-count --max-piece-length --split-digits; do
    has "$T/out" "$o" "help lists $o"
done

# all three outputs from a prefix; each encodes the golden corpus to llama.cpp's ids
mkdir "$T/a"
expect_rc 0 "train to a prefix" "$BIN" tokenizer train $G/corpus.txt --vocab-size 1000 --out "$T/a/tok"
has "$T/out" "1000 tokens" "summary gives the vocabulary size"
has "$T/out" "bytes per token" "summary gives the compression"
for e in gguf json bin; do
    if [ -s "$T/a/tok.$e" ]; then ok; else bad "tok.$e not written"; fi
    "$BIN" tokenize --tokenizer "$T/a/tok.$e" -f $G/corpus.txt --ids-only >"$T/ids.$e"
    if cmp -s "$T/ids.$e" $G/corpus.out; then ok; else bad "tok.$e: ids differ from llama.cpp's"; fi
done
[ "$(ls "$T/a" | wc -l)" = 3 ] && ok || bad "prefix wrote $(ls "$T/a")"

# one output by extension; the same bytes as before (determinism)
mkdir "$T/b"
expect_rc 0 "train to one .gguf" "$BIN" tokenizer train $G/corpus.txt -n 1000 -o "$T/b/one.gguf"
[ "$(ls "$T/b")" = one.gguf ] && ok || bad "-o one.gguf wrote $(ls "$T/b")"
cmp -s "$T/a/tok.gguf" "$T/b/one.gguf" && ok || bad "two trainings differ"
expect_rc 0 "train to one .json" "$BIN" tokenizer train $G/corpus.txt -n 1000 -o "$T/b/one.json"
cmp -s "$T/a/tok.json" "$T/b/one.json" && ok || bad "two .json trainings differ"

# the world corpus (seed 1): compression on train and held-out text; jsonl input
expect_rc 0 "world" "$BIN" world --seed 1 --out "$T/w"
expect_rc 0 "train on the world" "$BIN" tokenizer train "$T/w/corpus/train.txt" -n 2048 -o "$T/w.gguf"
echo "world seed 1, vocab 2048: $(grep compression "$T/out")"
n=$("$BIN" tokenize --tokenizer "$T/w.gguf" -f "$T/w/corpus/valid.txt" --ids-only | wc -w)
bytes=$(wc -c <"$T/w/corpus/valid.txt")
awk -v b="$bytes" -v n="$n" 'BEGIN { printf "world held-out valid.txt: %d bytes, %d tokens, %.3f bytes/token\n", b, n, b / n }'
awk -v b="$bytes" -v n="$n" 'BEGIN { exit !(b / n > 3.5) }' && ok || bad "held-out compression $bytes/$n"
expect_rc 0 "jsonl input" "$BIN" tokenizer train "$T/w/instruct/train.jsonl" -n 600 -o "$T/sft.bin"
has "$T/out" "4000 texts" "one text per jsonl line"
has "$T/out" "600 tokens" "jsonl vocabulary size"

# llama.cpp, when a build is lying around outside the repository
L=$(ls /tmp/llama*/build/bin/llama-tokenize 2>/dev/null | head -1)
if [ -n "$L" ]; then
    "$L" -m "$T/w.gguf" -f "$T/w/corpus/valid.txt" --ids --no-bos --no-escape --no-parse-special --log-disable \
        2>/dev/null | tail -1 | tr -d '[],' >"$T/ll.ids"
    "$BIN" tokenize --tokenizer "$T/w.gguf" -f "$T/w/corpus/valid.txt" --ids-only >"$T/tl.ids"
    if cmp -s "$T/ll.ids" "$T/tl.ids"; then ok; echo "llama-tokenize ($L): the same $(wc -w <"$T/tl.ids") ids on valid.txt"
    else bad "llama-tokenize ids differ on valid.txt"; fi
else
    echo "llama-tokenize not found under /tmp: llama.cpp comparison skipped (the goldens above still ran)"
fi

# bad flags and input: clear errors, exit != 0, nothing written
mkdir "$T/c"
expect_rc 2 "no input" "$BIN" tokenizer train -n 512 -o "$T/c/x"
has "$T/err" "input FILE" "no input is explained"
expect_rc 2 "no --out" "$BIN" tokenizer train $G/corpus.txt -n 512
has "$T/err" "--out" "missing --out is named"
expect_rc 2 "vocab 258" "$BIN" tokenizer train $G/corpus.txt -n 258 -o "$T/c/x"
has "$T/err" "vocab size 258 is out of range" "vocab 258 is named"
expect_rc 2 "vocab absurd" "$BIN" tokenizer train $G/corpus.txt -n 2000000 -o "$T/c/x"
expect_rc 2 "vocab not a number" "$BIN" tokenizer train $G/corpus.txt -n 99999999999 -o "$T/c/x"
expect_rc 2 "coverage not a number" "$BIN" tokenizer train $G/corpus.txt --character-coverage abc -o "$T/c/x"
expect_rc 2 "coverage above one" "$BIN" tokenizer train $G/corpus.txt --character-coverage 1.5 -o "$T/c/x"
expect_rc 1 "missing file" "$BIN" tokenizer train "$T/nope.txt" -n 512 -o "$T/c/x"
has "$T/err" "nope.txt" "missing file is named"
: >"$T/empty.txt"
expect_rc 1 "empty corpus" "$BIN" tokenizer train "$T/empty.txt" -n 512 -o "$T/c/x"
has "$T/err" "corpus is empty" "empty corpus is explained"
printf '{"text": "ok"}\n{"text": \n' >"$T/bad.jsonl"
expect_rc 1 "malformed jsonl" "$BIN" tokenizer train "$T/bad.jsonl" -n 512 -o "$T/c/x"
has "$T/err" "bad.jsonl:2" "malformed jsonl line is named"
expect_rc 1 "vocab too small for the characters" "$BIN" tokenizer train $G/corpus.txt -n 300 -o "$T/c/x"
has "$T/err" "too small" "small vocabulary is explained"
expect_rc 1 "unwritable output" "$BIN" tokenizer train $G/corpus.txt -n 512 -o "$T/c/no/such/dir/tok"
has "$T/err" "no/such/dir" "unwritable output is named"
empty_dir "$T/c" "failed runs"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
