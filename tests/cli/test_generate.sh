#!/usr/bin/env bash
# tiller generate / score through the CLI: stories260K greedy generations equal llama2.c's golden
# texts byte for byte; seeded sampling is reproducible; bad input fails cleanly.
set -u
T=${TILLER_BIN:?}
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
G=$S/models/stories260K/golden
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }

# golden greedy texts: llama2.c's -n 200 counts positions including the prompt (BOS first)
while IFS=$'\t' read -r i prompt; do
  n=$("$T" tokenize --tokenizer "$K" -p "$prompt" --ids-only --bos | wc -w)
  "$T" generate -m "$M" --tokenizer "$K" -p "$prompt" -n $((201 - n)) --temp 0 -t 1 > "$tmp/g$i.txt" 2>"$tmp/err" \
    && cmp -s "$tmp/g$i.txt" "$G/greedy_$i.txt" && ok || bad "greedy text $i differs from $G/greedy_$i.txt"
done < "$G/prompts.tsv"

# same seed, same text; another seed, another text; thread count does not change greedy output
"$T" generate -m "$M" --tokenizer "$K" -p "Once" -n 40 --temp 0.9 --seed 7 > "$tmp/s1" 2>/dev/null
"$T" generate -m "$M" --tokenizer "$K" -p "Once" -n 40 --temp 0.9 --seed 7 > "$tmp/s2" 2>/dev/null
"$T" generate -m "$M" --tokenizer "$K" -p "Once" -n 40 --temp 0.9 --seed 8 > "$tmp/s3" 2>/dev/null
cmp -s "$tmp/s1" "$tmp/s2" && ok || bad "same seed gave different text"
cmp -s "$tmp/s1" "$tmp/s3" && bad "different seeds gave the same text" || ok
"$T" generate -m "$M" --tokenizer "$K" -p "Once upon a time" -n 60 --temp 0 -t 2 > "$tmp/t2" 2>/dev/null
"$T" generate -m "$M" --tokenizer "$K" -p "Once upon a time" -n 60 --temp 0 -t 1 > "$tmp/t1" 2>/dev/null
cmp -s "$tmp/t1" "$tmp/t2" && ok || bad "greedy output depends on the thread count"

# a Hugging Face directory of a llama model carries its tokenizer.json (convert --tokenizer writes it there):
# generate reads it without --tokenizer and gives the .bin + tokenizer.bin's greedy text
"$T" convert "$M" "$tmp/hf" --tokenizer "$K" > /dev/null 2>&1 && [ -f "$tmp/hf/tokenizer.json" ] && ok \
  || bad "convert to an HF directory with --tokenizer"
"$T" generate -m "$tmp/hf" -p "Once upon a time" -n 60 --temp 0 -t 1 > "$tmp/hf1" 2>"$tmp/e" \
  && cmp -s "$tmp/t1" "$tmp/hf1" && ok || bad "HF directory without --tokenizer: $(cat "$tmp/e")"

# BOS does not stop generation (as llama.cpp: end-of-generation tokens only). A llama2.c file (version 0)
# whose greedy next token is always BOS (id 1 of tok512): dim 8, one layer whose matrices are zero (the
# block adds nothing), every embedding e_0, final norm e_0, a separate classifier (vocab -512) whose row
# 1 alone is e_0, so BOS's logit is the only non-zero one, and positive. 5 BOS tokens must come out.
le32() { local v=$1; printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((v & 255)) $(((v >> 8) & 255)) $(((v >> 16) & 255)) $(((v >> 24) & 255)))"; }
zeros() { head -c $(($1 * 4)) /dev/zero; }
e0='\x00\x00\x80\x3f\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
{
  for v in 8 8 1 1 1 -512 32; do le32 $v; done         # dim hidden layers heads kv_heads -vocab seq_len
  printf "$e0%.0s" $(seq 512)                          # token embeddings
  zeros $((8 + 4 * 64 + 8 + 3 * 64))                   # attn norm, wq wk wv wo, ffn norm, w1 w2 w3
  printf "$e0"                                         # final norm
  zeros $((2 * 32 * 8 / 2))                            # the unused freq_cis tables
  zeros 8; printf "$e0"; zeros $((510 * 8))           # classifier
} > "$tmp/bos.bin"
[ "$(stat -c %s "$tmp/bos.bin")" = 35708 ] && ok || bad "the BOS model has $(stat -c %s "$tmp/bos.bin") bytes"
"$T" generate -m "$tmp/bos.bin" --tokenizer "$K" -p "Once" -n 5 --temp 0 -v > "$tmp/bo" 2> "$tmp/be" \
  && grep -q "generated 5 tokens" "$tmp/be" && ok || bad "generation stopped at BOS: $(grep generated "$tmp/be")"
[ "$(cat "$tmp/bo")" = "Once" ] && ok || bad "the BOS model's text is not the prompt alone (BOS adds no text): $(cat "$tmp/bo")"

# score: per-token lines and a total; JSON form parses; a likelier continuation scores higher
out=$("$T" score -m "$M" --tokenizer "$K" -p "Once upon a" -c " time" --json) && ok || bad "score failed"
echo "$out" | grep -Eq '^\{"logprob": -[0-9.]+, "n_tokens": [1-9][0-9]*, "tokens": \[\{"id": [0-9]+, "logprob": -[0-9.]+\}.*\]\}$' \
  && ok || bad "score --json output: $out"
a=$("$T" score -m "$M" --tokenizer "$K" -p "Once upon a" -c " time" --json | sed 's/.*"logprob": \(-[0-9.]*\), "n_tokens".*/\1/')
b=$("$T" score -m "$M" --tokenizer "$K" -p "Once upon a" -c " banana" --json | sed 's/.*"logprob": \(-[0-9.]*\), "n_tokens".*/\1/')
awk -v a="$a" -v b="$b" 'BEGIN{exit !(a > b)}' && ok || bad "log p(time)=$a not above log p(banana)=$b"

# bad input: exit code and a message naming the problem
expect_fail() { # code pattern args...
  local code=$1 pat=$2; shift 2
  "$T" "$@" > "$tmp/o" 2> "$tmp/e"; local rc=$?
  if [ $rc -eq "$code" ] && grep -q -- "$pat" "$tmp/e"; then ok; else bad "'$*' gave rc $rc, stderr: $(cat "$tmp/e")"; fi
}
long=$(head -c 4000 /dev/zero | tr '\0' 'a' | sed 's/a/a b /g')
expect_fail 1 "exceed the context" generate -m "$M" --tokenizer "$K" -p "$long" -n 10
expect_fail 1 "no such file" generate -m "$tmp/missing.bin" --tokenizer "$K" -p hi
head -c 1000 "$M" > "$tmp/trunc.bin"
expect_fail 1 "trunc.bin" generate -m "$tmp/trunc.bin" --tokenizer "$K" -p hi
expect_fail 2 "carries no tokenizer" generate -m "$M" -p hi
expect_fail 2 "unknown option" generate -m "$M" --tokenizer "$K" --tempp 1
expect_fail 2 "bad number" generate -m "$M" --tokenizer "$K" --temp abc
expect_fail 1 "top-p" generate -m "$M" --tokenizer "$K" --top-p 2
expect_fail 2 "required" score -m "$M" --tokenizer "$K" -p hi
"$T" generate --help | grep -q -- "--top-p" && ok || bad "generate --help lacks --top-p"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
