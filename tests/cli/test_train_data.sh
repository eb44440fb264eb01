#!/bin/bash
# `tiller data`: .ids round trip into a token file (counts, split, dtype), determinism
# by seed, and clear errors for bad inputs.
source "$(dirname "$0")/train_lib.sh"
make_ids "$W/a.ids" 100
printf '1 5 6 | 7 8 9\n1 10 11 | 12\n' > "$W/sft.ids"

out=$("$T" data --vocab 512 "$W/a.ids" "$W/sft.ids" -o "$W/a.tok" --val-frac 0.1 --seed 3 2>/dev/null)
echo "$out"
[[ $out == *"102 documents (92 train, 10 validation)"* ]] || fail "document counts: $out"
[[ $out == *uint16* && $out == *"prompt lengths (SFT)"* ]] || fail "dtype / SFT flag: $out"
"$T" data --vocab 512 "$W/a.ids" "$W/sft.ids" -o "$W/b.tok" --val-frac 0.1 --seed 3 >/dev/null 2>&1
cmp -s "$W/a.tok" "$W/b.tok" || fail "same inputs and seed must give identical token files"
"$T" data --vocab 512 "$W/a.ids" "$W/sft.ids" -o "$W/c.tok" --val-frac 0.1 --seed 4 >/dev/null 2>&1
cmp -s "$W/a.tok" "$W/c.tok" && fail "another seed must hold out other documents"
out=$("$T" data --vocab 70000 "$W/a.ids" -o "$W/d.tok" --val-frac 0 2>/dev/null)
[[ $out == *"(100 train, 0 validation)"*uint32* ]] || fail "uint32 for vocab > 65535: $out"
pass "token files: counts, split by seed, uint16/uint32"

# errors: exit 1 with a message naming the file; nothing written
printf '1 2 3\n1 2 zz\n' > "$W/bad.ids"
set +e
err=$("$T" data --vocab 512 "$W/bad.ids" -o "$W/bad.tok" 2>&1); rc=$?
[[ $rc == 1 && $err == *"bad.ids: line 2"* ]] || fail "bad ids: rc $rc: $err"
[[ -e "$W/bad.tok" ]] && fail "a failed run must not leave an output file"
err=$("$T" data --vocab 512 "$W/missing.ids" -o "$W/x.tok" 2>&1); rc=$?
[[ $rc == 1 && $err == *missing.ids* ]] || fail "missing input: rc $rc: $err"
err=$("$T" data --vocab 100 "$W/a.ids" -o "$W/x.tok" 2>&1); rc=$?
[[ $rc == 1 && $err == *"outside the vocabulary"* ]] || fail "id >= vocab: rc $rc: $err"
err=$("$T" data "$W/a.ids" -o "$W/x.tok" 2>&1); rc=$?
[[ $rc == 2 ]] || fail "no tokenizer and no --vocab is a usage error: rc $rc"
err=$("$T" data --vocab 512 "$W/a.ids" -o "$W/x.tok" --val-frac 1 2>&1); rc=$?
[[ $rc == 2 ]] || fail "--val-frac 1 is a usage error: rc $rc"
err=$("$T" data --vocab 512 "$W/a.ids" -o /proc/no/such/x.tok 2>&1); rc=$?
[[ $rc == 1 && $err == *"/proc/no/such/x.tok"* ]] || fail "unwritable output: rc $rc: $err"
set -e
"$T" data --help | grep -q -- "--val-frac" || fail "--help lists the options"
pass "errors"

# text and JSONL with the stories260K tokenizer, then a short SFT run on the JSONL
TOK=../shared/models/stories260K/tok512.bin
G=../shared/models/stories260K/golden
{ cat "$G/greedy_1.txt"; echo; echo; cat "$G/greedy_2.txt"; echo; echo; cat "$G/greedy_3.txt"; } >"$W/stories.txt"
out=$("$T" data --tokenizer "$TOK" "$W/stories.txt" -o "$W/s.tok" --val-frac 0 2>/dev/null)
[[ $out == *"3 documents (3 train, 0 validation)"* && $out != *SFT* ]] || fail "text paragraphs: $out"
head -200 ../shared/data/reversal_curse/june_version_7921032488/p2d_prompts_train.jsonl >"$W/p2d.jsonl"
out=$("$T" data --tokenizer "$TOK" "$W/p2d.jsonl" -o "$W/p2d.tok" --val-frac 0.1 2>/dev/null)
[[ $out == *"200 documents (180 train, 20 validation)"* && $out == *SFT* ]] || fail "prompt/completion JSONL: $out"
"$T" train -d "$W/p2d.tok" --objective sft --dim 32 --hidden 64 --layers 1 --heads 4 --seq 64 --batch 4 \
    --steps 4 --eval-every 2 -o "$W/sft" -q >/dev/null || fail "an SFT run on the JSONL token file"
[[ $(wc -l <"$W/sft/train_log.csv") == 5 ]] || fail "SFT log rows"
printf '{"text": "a"}\n{"prompt": 3, "completion": "x"}\n' >"$W/bad.jsonl"
set +e
err=$("$T" data --tokenizer "$TOK" "$W/bad.jsonl" -o "$W/x.tok" 2>&1); rc=$?
set -e
[[ $rc == 1 && $err == *'bad.jsonl: line 2: field "prompt" is not a string'* ]] || fail "bad JSONL: rc $rc: $err"
pass "text paragraphs, prompt/completion JSONL (and an SFT run), malformed JSONL"
