#!/usr/bin/env bash
# tiller tokenize with llama.cpp's test vocabularies (tests/golden/vocab): the first
# case of each .inp gives the first line of its .out; a pre-tokenizer or tokenizer
# model tiller lacks is refused by name (exit 1, the file named, no output).
set -u
T=${TILLER_BIN:?}
V=tests/golden/vocab
pass=0 fail=0
check() { # name, expected, actual
  if [ "$2" = "$3" ]; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL $1: expected [$2] got [$3]" >&2; fi
}
tmp=$(mktemp -d /tmp/tiller-cli-tokvocab-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

for v in llama-bpe qwen2 falcon deepseek-llm deepseek-coder mpt starcoder refact gpt-neox; do
  g=$V/ggml-vocab-$v.gguf
  [ -f "$g" ] || { gzip -dc "$g.gz" > "$tmp/$v.gguf"; g=$tmp/$v.gguf; }
  # every case up to the 4th separator: the 1st and 4th (the 1st has no newline of its own)
  perl -0777 -ne 'my @c = split /\n__ggml_vocab_test__\n/; print $c[0]' "$V/ggml-vocab-$v.gguf.inp" > "$tmp/case1"
  want=$(head -1 "$V/ggml-vocab-$v.gguf.out" | sed 's/^ //')
  check "$v first case" "$want" "$("$T" tokenize --tokenizer "$g" -f "$tmp/case1" --ids-only 2>&1)"
  want=$(sed -n 20p "$V/ggml-vocab-$v.gguf.out" | sed 's/^ //')
  perl -0777 -ne 'my @c = split /\n__ggml_vocab_test__\n/; print $c[19]' "$V/ggml-vocab-$v.gguf.inp" > "$tmp/case20"
  check "$v case 20" "$want" "$("$T" tokenize --tokenizer "$g" -f "$tmp/case20" --ids-only 2>&1)"
done

# a pre-tokenizer tiller does not know (llama.cpp's "viking", spelled into falcon's file in
# place of "falcon": same length) and a tokenizer model it does not know (WordPiece "bert")
perl -0777 -pe 's/(tokenizer\.ggml\.pre.{12})falcon/${1}viking/s' "$V/ggml-vocab-falcon.gguf" > "$tmp/viking.gguf"
out=$("$T" tokenize --tokenizer "$tmp/viking.gguf" -p "Hello" 2>"$tmp/err"); rc=$?
check "unknown pre exit" 1 $rc
check "unknown pre stdout" "" "$out"
grep -q "viking.gguf: tokenizer.ggml.pre 'viking' is not supported" "$tmp/err" && pass=$((pass+1)) ||
  { fail=$((fail+1)); echo "FAIL unknown pre message: $(cat "$tmp/err")" >&2; }
perl -0777 -pe 's/(tokenizer\.ggml\.model.{12})gpt2/${1}bert/s' "$V/ggml-vocab-falcon.gguf" > "$tmp/bert.gguf"
"$T" tokenize --tokenizer "$tmp/bert.gguf" -p "Hello" >/dev/null 2>"$tmp/err"; rc=$?
check "bert exit" 1 $rc
grep -q "bert.gguf: tokenizer.ggml.model 'bert' is not supported" "$tmp/err" && pass=$((pass+1)) ||
  { fail=$((fail+1)); echo "FAIL bert message: $(cat "$tmp/err")" >&2; }

# tokenizer.json: a Split pattern names the pre-tokenizer (Llama 3's splits digits in
# threes, so "123456" merges to 123|4|5|6 where GPT-2's ByteLevel regex gives 1234|5|6);
# another Split pattern is refused; and a tokenizer.json is never written for a
# pre-tokenizer the writer cannot spell
mkjson() { # $1 = pre_tokenizer JSON
  perl -e '
    my @b = ((33..126), (161..172), (174..255)); my %m = map { $_ => 1 } @b; my $n = 0; my @cp;
    for my $x (0..255) { push @cp, $m{$x} ? $x : 256 + $n++; }
    my @v; push @v, sprintf("\"%s\": %d", ($cp[$_] == 34 ? "\\\"" : $cp[$_] == 92 ? "\\\\" : sprintf("\\u%04x", $cp[$_])), $_) for 0..255;
    push @v, "\"12\": 256", "\"123\": 257", "\"1234\": 258"; push @v, "\"<t$_>\": $_" for 259..511;
    print "{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":null,\"pre_tokenizer\":$ARGV[0],",
          "\"model\":{\"type\":\"BPE\",\"vocab\":{", join(",", @v), "},\"merges\":[\"1 2\",\"12 3\",\"123 4\"]}}";
  ' "$1"
}
L3='{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"(?i:'"'"'s|'"'"'t|'"'"'re|'"'"'ve|'"'"'m|'"'"'ll|'"'"'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}'
mkjson "$L3" > "$tmp/l3.json"
mkjson '{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}' > "$tmp/g2.json"
mkjson '{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\d+"},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}' > "$tmp/odd.json"
check "json llama3 split" "257 52 53 54" "$("$T" tokenize --tokenizer "$tmp/l3.json" -p 123456 --ids-only 2>&1)"
check "json gpt2 bytelevel" "258 53 54" "$("$T" tokenize --tokenizer "$tmp/g2.json" -p 123456 --ids-only 2>&1)"
"$T" tokenize --tokenizer "$tmp/odd.json" -p 1 >/dev/null 2>"$tmp/err"; rc=$?
check "json unknown split exit" 1 $rc
grep -q "odd.json: pre_tokenizer Split pattern '\\\\d+' is not supported" "$tmp/err" && pass=$((pass+1)) ||
  { fail=$((fail+1)); echo "FAIL unknown split message: $(cat "$tmp/err")" >&2; }
"$T" convert ../shared/models/stories260K/stories260K.bin "$tmp/hf" --tokenizer "$tmp/l3.json" >/dev/null 2>"$tmp/err"; rc=$?
check "hf llama3 tokenizer.json exit" 1 $rc
grep -q "cannot write a tokenizer.json for the 'llama-bpe' pre-tokenizer" "$tmp/err" && pass=$((pass+1)) ||
  { fail=$((fail+1)); echo "FAIL write refusal message: $(cat "$tmp/err")" >&2; }
check "hf llama3 no output" "" "$(ls "$tmp/hf" 2>/dev/null)"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
