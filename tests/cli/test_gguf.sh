#!/usr/bin/env bash
# GGUF through the CLI: convert a llama2.c model to GGUF with its vocabulary
# (f32, f16, bf16), tokenize with the model file, convert back to .bin (byte-
# identical to a direct .bin -> .bin for f32), and refuse a vocabulary of the wrong size leaving no file.
set -u
T=${TILLER_BIN:?}
S=../shared/models/stories260K
pass=0 fail=0
check() { # name, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1: expected [$2] got [$3]" >&2; fi
}
tmp=$(mktemp -d)
for dt in f32 f16 bf16; do
  "$T" convert $S/stories260K.bin "$tmp/m-$dt.gguf" --dtype $dt --tokenizer $S/tok512.bin >/dev/null; check "convert $dt" 0 $?
  check "tokenize with model $dt" "1 403 407 261 378" \
    "$("$T" tokenize --tokenizer "$tmp/m-$dt.gguf" -p "Once upon a time" --ids-only --bos)"
done
check "f16 is about half the size" 1 $(( $(stat -c %s "$tmp/m-f16.gguf") * 10 / $(stat -c %s "$tmp/m-f32.gguf") == 5 ))
"$T" convert "$tmp/m-f32.gguf" "$tmp/back.bin" >/dev/null; check "gguf -> bin" 0 $?
"$T" convert $S/stories260K.bin "$tmp/direct.bin" >/dev/null # the .bin writer zeroes the unused freq_cis tables
cmp -s "$tmp/direct.bin" "$tmp/back.bin"; check "bin -> gguf -> bin equals bin -> bin" 0 $?
"$T" convert $S/stories260K.bin "$tmp/bad.gguf" --tokenizer ../shared/models/tokenizers/ggml-vocab-gpt-2.gguf \
  >/dev/null 2>"$tmp/err"; check "vocab mismatch exit" 1 $?
grep -q "50257 tokens but .* has 512 embedding rows" "$tmp/err"; check "vocab mismatch message" 0 $?
check "no file left" "" "$(ls "$tmp" | grep -v -e '^m-' -e '^back.bin$' -e '^direct.bin$' -e '^err$')"
"$T" convert tests/corpus/gguf/duplicate_tensor.gguf "$tmp/dup.bin" >/dev/null 2>"$tmp/err"; check "broken gguf exit" 1 $?
check "broken gguf message" "tiller: error: tests/corpus/gguf/duplicate_tensor.gguf: duplicate tensor 'blk.0.attn_q.weight'" "$(cat "$tmp/err")"
check "no output for a broken input" "" "$(ls "$tmp" | grep dup)"
rm -rf "$tmp"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
