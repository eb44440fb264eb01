#!/usr/bin/env bash
# Quantized GGUF through the CLI, on stories260K: convert --dtype q8_0|q4_0|q4_k|q6_k
# writes files that load back quantized and generate (q8_0: the f32 greedy text exactly);
# a quantized model converts back to f32; steer build and acts run on a quantized model
# (activations stay f32) and the control vector reads back; bad dtypes and targets are refused.
set -u
T=${TILLER_BIN:?}
S=../shared/models/stories260K
pass=0 fail=0
check() { # name, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1: expected [$2] got [$3]" >&2; fi
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$T" convert $S/stories260K.bin "$tmp/f32.gguf" --tokenizer $S/tok512.bin >/dev/null; check "convert f32" 0 $?
ref=$("$T" generate -m "$tmp/f32.gguf" -p "Once upon a time" -n 40 --temp 0)
for dt in q8_0 q4_0 q4_k q6_k; do
  "$T" convert "$tmp/f32.gguf" "$tmp/$dt.gguf" --dtype $dt >/dev/null; check "convert $dt" 0 $?
  out=$("$T" generate -m "$tmp/$dt.gguf" -p "Once upon a time" -n 40 --temp 0); check "generate $dt rc" 0 $?
  check "generate $dt starts with the prompt" 1 $([[ "$out" == "Once upon a time, there was a little girl"* ]] && echo 1 || echo 0)
done
check "q8_0 greedy text = f32" "$ref" "$("$T" generate -m "$tmp/q8_0.gguf" -p "Once upon a time" -n 40 --temp 0)"
check "q8_0 is about a quarter of f32" 1 $(( $(stat -c %s "$tmp/q8_0.gguf") * 100 / $(stat -c %s "$tmp/f32.gguf") < 40 ))
"$T" convert "$tmp/q8_0.gguf" "$tmp/back.bin" >/dev/null; check "quantized -> f32 .bin" 0 $?
"$T" convert "$tmp/f32.gguf" "$tmp/x.bin" --dtype q8_0 >/dev/null 2>"$tmp/err"; check "q8_0 .bin refused" 1 $?
grep -q "stores f32 only (asked for q8_0)" "$tmp/err"; check "q8_0 .bin message" 0 $?
"$T" convert "$tmp/f32.gguf" "$tmp/x.gguf" --dtype q3_k >/dev/null 2>"$tmp/err"; check "unknown dtype" 2 $?
check "no partial outputs" "" "$(ls "$tmp" | grep -e '^x\.' -e '\.tmp')"
# analysis on a quantized model: steering vector and activations
{ echo "statement,label"; for i in 1 2 3 4 5 6; do echo "The cat is happy $i,1"; echo "The dog is sad $i,0"; done; } > "$tmp/pairs.csv"
"$T" steer build -m "$tmp/q4_0.gguf" --data "$tmp/pairs.csv" -o "$tmp/cv.gguf" >/dev/null 2>&1; check "steer build on q4_0" 0 $?
"$T" steer show "$tmp/cv.gguf" | grep -q "layer_count 4"; check "steer show" 0 $?
"$T" generate -m "$tmp/q4_0.gguf" -p "Once" -n 8 --temp 0 --steer "$tmp/cv.gguf" --steer-scale 4 >/dev/null; check "generate --steer on q4_0" 0 $?
"$T" acts -m "$tmp/q8_0.gguf" --data "$tmp/pairs.csv" -o "$tmp/acts" >/dev/null 2>&1; check "acts on q8_0" 0 $?
check "acts wrote arrays" 1 $([ -n "$(find "$tmp/acts" -name '*.npy' -print -quit)" ] && echo 1 || echo 0)
# an HF directory written with a vocabulary is complete: tokenizer.json and tokenizer_config.json beside the weights
"$T" convert $S/stories260K.bin "$tmp/hf" --tokenizer $S/tok512.bin >/dev/null; check "convert to HF dir" 0 $?
check "HF dir files" "config.json model.safetensors tokenizer.json tokenizer_config.json" "$(ls "$tmp/hf" | tr '\n' ' ' | sed 's/ $//')"
check "HF dir tokenizer reads back" "1 403 407 261 378" "$("$T" tokenize --tokenizer "$tmp/hf/tokenizer.json" -p "Once upon a time" --ids-only --bos)"
grep -qE '"bos_token":[[:space:]]+"<s>"' "$tmp/hf/tokenizer_config.json"; check "tokenizer_config bos" 0 $?
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
