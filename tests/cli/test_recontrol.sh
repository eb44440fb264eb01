#!/bin/bash
# `tiller recontrol train|eval`, `tiller reward train|score` and `generate --recontrol` end to
# end on stories260K (seconds): the files exist and hold what they should; zero iterations
# change nothing; bad input (a value network for another hidden size, a pair file without
# the fields, a NaN reward weight, unknown methods, missing files) exits non-zero with a
# message naming the problem, and leaves no half-written output.
set -u
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
S=$SHARED/models/stories260K
M=$S/stories260K.bin
TOK=$S/tok512.bin
T=$(mktemp -d /tmp/tiller-cli-recontrol-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
export ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=87:${UBSAN_OPTIONS:-}"
no_leftovers() { [ -z "$(find "$T" -name '*.tmp.*' -print -quit)" ]; }

printf 'Once upon a time\nThe little dog\nLily wanted to\nTom and his mom\nOne day a bird\nThe sun was\n' >"$T/prompts.txt"
printf 'happy 1\nsmiled 1\nfun 1\nsad -1\ncried -1\nscared -1\n' >"$T/words.txt"
R="lexicon:$T/words.txt"

"$BIN" recontrol train -m "$M" --tokenizer "$TOK" --prompts "$T/prompts.txt" --template "%s" --reward "$R" \
    --samples 2 -n 12 --hidden 16 --epochs 5 --batch 4 -o "$T/v.gguf" -t 1 >"$T/train.out" 2>"$T/train.err"
check "[ \$? -eq 0 ] && [ -s '$T/v.gguf' ]" "recontrol train: $(cat "$T/train.err")"
check "grep -q '12 responses' '$T/train.out'" "recontrol train summary: $(cat "$T/train.out")"

# zero iterations = plain decoding, token for token
"$BIN" generate -m "$M" --tokenizer "$TOK" -p "Once upon a time" -n 16 --temp 0 -t 1 >"$T/plain.txt" 2>/dev/null
"$BIN" generate -m "$M" --tokenizer "$TOK" -p "Once upon a time" -n 16 --temp 0 -t 1 --recontrol "$T/v.gguf" \
    --iters 0 >"$T/rc0.txt" 2>/dev/null
check "cmp -s '$T/plain.txt' '$T/rc0.txt'" "--iters 0 changed the output"
"$BIN" generate -m "$M" --tokenizer "$TOK" -p "Once upon a time" -n 16 --temp 0 -t 1 --recontrol "$T/v.gguf" \
    --iters 30 --step-size 1 -v >"$T/rc30.txt" 2>"$T/rc30.err"
check "[ \$? -eq 0 ] && grep -q 'RE-Control: .* edits' '$T/rc30.err'" "generate --recontrol: $(cat "$T/rc30.err")"

# the harness: 7 methods
"$BIN" recontrol eval -m "$M" --tokenizer "$TOK" --value "$T/v.gguf" --prompts "$T/prompts.txt" --template "%s" \
    --offset 3 --reward "$R" -n 10 --cd-k 3 --iters 5 -o "$T/eval" -t 1 >"$T/eval.out" 2>"$T/eval.err"
check "[ \$? -eq 0 ]" "recontrol eval: $(cat "$T/eval.err")"
for f in results.csv items.csv results.json table.txt reward.svg winrate.svg time.svg; do
    check "[ -s '$T/eval/$f' ]" "eval output $f missing"
done
check "[ \$(wc -l <'$T/eval/results.csv') -eq 8 ]" "results.csv should have a header and 7 methods"
check "[ \$(grep -c '^plain,' '$T/eval/items.csv') -eq 3 ]" "items.csv: 3 prompts per method"
check "grep -q 'recontrol_prompting' '$T/eval/table.txt'" "table lists the methods"

# reward score, heuristic
check "[ \"\$('$BIN' reward score --reward '$R' -p x -r 'she was happy and smiled')\" = '1.333333' ]" "reward score (2 words of 5: 10 * 2 / 15)"

# ---- bad input
# a value network for another hidden size: fit one on a model of width 32
for i in $(seq 40); do cat "$T/prompts.txt"; done >"$T/corpus.txt"
"$BIN" data --tokenizer "$TOK" "$T/corpus.txt" -o "$T/p.tok" >/dev/null 2>&1 || bad "data"
"$BIN" train -d "$T/p.tok" -o "$T/run" --dim 32 --hidden 64 --layers 1 --heads 2 --seq 16 --steps 1 --warmup 1 \
    --batch 2 --tokenizer "$TOK" -q >/dev/null 2>&1 || bad "train a width-32 model"
OTHER=$(ls "$T"/run/ckpt-*.gguf | head -1)
"$BIN" recontrol train -m "$OTHER" --prompts "$T/prompts.txt" --template "%s" --reward "$R" --samples 1 -n 4 \
    --hidden 8 --epochs 1 -o "$T/v32.gguf" -t 1 >/dev/null 2>&1 || bad "value network for width 32"
"$BIN" generate -m "$M" --tokenizer "$TOK" -p "Once" -n 4 --recontrol "$T/v32.gguf" -t 1 >/dev/null 2>"$T/e1"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'v32.gguf' '$T/e1' && grep -q 'hidden size is 64' '$T/e1'" \
    "value network for another hidden size: rc $rc $(cat "$T/e1")"
"$BIN" recontrol eval -m "$M" --tokenizer "$TOK" --value "$T/v32.gguf" --prompts "$T/prompts.txt" --reward "$R" \
    -o "$T/eval2" -t 1 >/dev/null 2>"$T/e2"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'hidden size' '$T/e2'" "eval with a mismatched value network: rc $rc"
# a reward file without the fields
printf '{"prompt": "a", "answer": "b"}\n' >"$T/nofields.jsonl"
"$BIN" reward train -m "$M" --tokenizer "$TOK" --data "$T/nofields.jsonl" -o "$T/h.gguf" -t 1 >/dev/null 2>"$T/e3"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'nofields.jsonl:1' '$T/e3' && grep -q 'chosen' '$T/e3' && [ ! -e '$T/h.gguf' ]" \
    "pairs without fields: rc $rc $(cat "$T/e3")"
# NaN rewards (a word list with a NaN weight) and a missing list
printf 'happy nan\n' >"$T/nan.txt"
"$BIN" recontrol train -m "$M" --tokenizer "$TOK" --prompts "$T/prompts.txt" --reward "lexicon:$T/nan.txt" \
    -o "$T/vnan.gguf" -t 1 >/dev/null 2>"$T/e4"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'nan.txt:1' '$T/e4' && [ ! -e '$T/vnan.gguf' ]" "NaN reward weight: rc $rc $(cat "$T/e4")"
"$BIN" reward score --reward "lexicon:$T/missing.txt" -r x >/dev/null 2>"$T/e5"
check "[ \$? -eq 1 ] && grep -q 'missing.txt' '$T/e5'" "missing word list"
"$BIN" recontrol eval -m "$M" --tokenizer "$TOK" --prompts "$T/prompts.txt" --methods plain,bogus -o "$T/e" \
    >/dev/null 2>"$T/e6"
check "[ \$? -eq 2 ] && grep -q 'bogus' '$T/e6'" "unknown method is a usage error"
"$BIN" recontrol train -m "$M" --tokenizer "$TOK" --prompts "$T/none.txt" -o "$T/x.gguf" >/dev/null 2>"$T/e7"
check "[ \$? -eq 1 ] && grep -q 'none.txt' '$T/e7'" "missing prompt file"
# the reward model trained whole (engine + head); a head on the tuned engine with --freeze;
# held-out accuracy and a paired comparison with another reward on the same pairs
for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
    printf '{"prompt": "Lily saw a dog %d.", "chosen": " She was happy.", "rejected": " She was sad."}\n' "$i"
done >"$T/pairs.jsonl"
"$BIN" reward train -m "$M" --tokenizer "$TOK" --data "$T/pairs.jsonl" --max 16 --epochs 2 --batch 4 \
    --max-len 24 -o "$T/rh.gguf" -t 1 >"$T/rt.out" 2>"$T/rt.err"
rc=$?
check "[ $rc -eq 0 ] && [ -s '$T/rh.gguf' ] && [ -s '$T/rh.engine.gguf' ] && grep -q 'engine fine-tuned' '$T/rt.out'" \
    "reward train (fine-tuned engine): $(cat "$T/rt.out" "$T/rt.err")"
"$BIN" reward train -m "$T/rh.engine.gguf" --data "$T/pairs.jsonl" --max 16 --freeze --epochs 20 \
    -o "$T/rf.gguf" -t 1 >/dev/null 2>&1
rc=$?
check "[ $rc -eq 0 ] && [ -s '$T/rf.gguf' ] && [ ! -e '$T/rf.engine.gguf' ]" "reward train --freeze writes the head only"
mkdir -p "$T/moved" && cp "$T/rh.gguf" "$T/rh.engine.gguf" "$T/moved/"
"$BIN" reward eval --reward "model:$T/moved/rh.gguf" --compare lexicon --data "$T/pairs.jsonl" \
    --offset 16 -o "$T/re.json" -t 1 >"$T/re.out" 2>"$T/re.err"
rc=$?
check "[ $rc -eq 0 ] && grep -q 'of 4 pairs' '$T/re.out' && grep -q 'McNemar' '$T/re.out' && grep -q '\"n\": 4' '$T/re.json'" \
    "reward eval (the head finds its engine beside it after a move): $(cat "$T/re.out" "$T/re.err")"
"$BIN" reward eval --reward lexicon --data "$T/pairs.jsonl" --offset 20 >/dev/null 2>"$T/e8"
rc=$?
check "[ $rc -eq 1 ] && grep -q 'leaves no pairs' '$T/e8'" "reward eval past the end: $(cat "$T/e8")"
"$BIN" reward train -m "$M" --tokenizer "$TOK" --data "$T/pairs.jsonl" --batch 0 -o "$T/rb.gguf" >/dev/null 2>"$T/e9"
rc=$?
check "[ $rc -eq 2 ] && grep -q 'batch' '$T/e9' && [ ! -e '$T/rb.gguf' ]" "reward train --batch 0 is a usage error"
# the demo's judge recipe from the CLI: fluency features, degenerate pairs, the gaming check
for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do
    printf '{"prompt": "Lily saw a dog %d.", "chosen": " She was very happy and played with it all day.", "rejected": " She was sad."}\n' "$i"
done >"$T/long.jsonl"
"$BIN" reward train -m "$T/rh.engine.gguf" --data "$T/long.jsonl" --freeze --features fluency \
    --degenerate shuffle,repeat,punct,truncate --val 0.25 --epochs 50 -o "$T/rj.gguf" -t 1 >"$T/rj.out" 2>"$T/rj.err"
rc=$?
check "[ $rc -eq 0 ] && [ -s '$T/rj.gguf' ] && grep -q '15 train pairs + 60 degenerate pairs' '$T/rj.out' && \
    grep -q 'of 5 pairs' '$T/rj.out' && grep -q 'gaming check: .* of 5 held-out fluent replies' '$T/rj.out'" \
    "reward train --degenerate: $(cat "$T/rj.out" "$T/rj.err")"
"$BIN" reward score --reward "model:$T/rj.gguf" -p "Lily saw a dog." -r " She was happy." >"$T/rjs.out" 2>&1
rc=$?
check "[ $rc -eq 0 ] && grep -Eq '^-?[0-9]+\.[0-9]+$' '$T/rjs.out'" "a fluency head scores: $(cat "$T/rjs.out")"
"$BIN" reward train -m "$M" --tokenizer "$TOK" --data "$T/long.jsonl" --freeze --degenerate shuffle,yell \
    -o "$T/ry.gguf" >/dev/null 2>"$T/e10"
rc=$?
check "[ $rc -eq 2 ] && grep -q \"'yell' is not one of\" '$T/e10' && [ ! -e '$T/ry.gguf' ]" "--degenerate yell: $(cat "$T/e10")"
"$BIN" reward train -m "$M" --tokenizer "$TOK" --data "$T/long.jsonl" --features fluency -o "$T/ry.gguf" \
    >/dev/null 2>"$T/e11"
rc=$?
check "[ $rc -eq 2 ] && grep -q 'add --freeze' '$T/e11' && [ ! -e '$T/ry.gguf' ]" "--features without --freeze: $(cat "$T/e11")"
check "no_leftovers" "temporary files left behind"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
