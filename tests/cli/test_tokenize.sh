#!/usr/bin/env bash
# tiller tokenize: output formats, every tokenizer source, usage and file errors.
set -u
T=${TILLER_BIN:?}
S=../shared/models
pass=0 fail=0
check() { # name, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1: expected [$2] got [$3]" >&2; fi
}
check "bin ids" "1 403 407 261 378" "$("$T" tokenize --tokenizer $S/stories260K/tok512.bin -p "Once upon a time" --ids-only --bos)"
check "bin pieces" "$(printf '403\t'"'"'▁Once'"'"'\n407\t'"'"'▁upon'"'"'')" \
  "$("$T" tokenize --tokenizer $S/stories260K/tok512.bin -p "Once upon")"
check "gguf spm" "15043 29871 2 29871 3186" \
  "$("$T" tokenize --tokenizer $S/tokenizers/ggml-vocab-llama-spm.gguf -p "Hello </s> world" --ids-only --special)"
check "gguf spm no special" "15043 1533 29879 29958 3186" \
  "$("$T" tokenize --tokenizer $S/tokenizers/ggml-vocab-llama-spm.gguf -p "Hello </s> world" --ids-only)"
check "gguf gpt2" "15496 995 11 340 338 48609 0" \
  "$("$T" tokenize --tokenizer $S/tokenizers/ggml-vocab-gpt-2.gguf -p "Hello world, it's 2024!" --ids-only)"
tmp=$(mktemp -d)
printf 'tab\there\nnew line' > "$tmp/in.txt"
printf 'a\tb' > "$tmp/tab.txt"
check "byte-fallback piece" "$(printf '263\t'"'"'▁a'"'"'\n12\t'"'"'<0x09>'"'"'\n29890\t'"'"'b'"'"'')" \
  "$("$T" tokenize --tokenizer $S/tokenizers/ggml-vocab-llama-spm.gguf -f "$tmp/tab.txt")"
check "file input, byte-level pieces" "$(printf '8658\t'"'"'tab'"'"'\n197\t'"'"'ĉ'"'"'\n1456\t'"'"'here'"'"'\n198\t'"'"'Ċ'"'"'\n3605\t'"'"'new'"'"'\n1627\t'"'"'Ġline'"'"'')" \
  "$("$T" tokenize --tokenizer $S/tokenizers/ggml-vocab-gpt-2.gguf -f "$tmp/in.txt")"
# a model GGUF with its vocabulary works as a tokenizer; so does tokenizer.json (none shipped: skip)
"$T" tokenize --tokenizer tests/corpus/gguf/vocab_bad_utf8.gguf -p x >/dev/null 2>"$tmp/err"; rc=$?
check "bad vocab exit" 1 $rc
check "bad vocab message" "tiller: error: tests/corpus/gguf/vocab_bad_utf8.gguf: token 5 is not valid UTF-8" "$(cat "$tmp/err")"
"$T" tokenize --tokenizer tests/corpus/gguf/n_dims_5.gguf -p x >/dev/null 2>"$tmp/err"; rc=$?
check "broken gguf exit" 1 $rc
grep -q "n_dims 5 is not in 1..4" "$tmp/err"; check "broken gguf message" 0 $?
"$T" tokenize -p x >/dev/null 2>&1; check "missing --tokenizer" 2 $?
"$T" tokenize --tokenizer $S/stories260K/tok512.bin -p x -f y >/dev/null 2>&1; check "both -p and -f" 2 $?
"$T" tokenize --tokenizer $S/stories260K/tok512.bin -f "$tmp/nope" >/dev/null 2>&1; check "missing input file" 1 $?
"$T" tokenize --tokenizer "$tmp/x.txt" -p x >/dev/null 2>"$tmp/err"; check "unknown format exit" 1 $?
"$T" tokenize --help | grep -q -- "--ids-only"; check "help" 0 $?
rm -rf "$tmp"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
