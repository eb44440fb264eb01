#!/bin/bash
# An over-long statement (2 MiB in one CSV row) is refused before tokenising, naming
# file:line, by `acts` and `steer build` (a 100 MB row used to run for minutes at ~4 GB:
# encoding grows faster than linearly, and the context check came after it).
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
[[ -f $M && -f $K ]] || fail "missing $M or $K (set TILLER_SHARED)"
set +e
{
    echo "statement,label"
    echo "the cat sat on the mat,0"
    printf 'once upon a time %.0s' $(seq 1 123362) # 17 bytes x 123362 = 2097154 bytes
    echo ",1"
    echo "a dog ran,0"
} > "$W/long.csv"
t0=$SECONDS
err=$("$T" acts -m "$M" --tokenizer "$K" --data "$W/long.csv" -o "$W/acts" 2>&1); rc=$?
[[ $rc == 1 && $err == *"$W/long.csv:3: the statement has 2097154 bytes"* ]] || fail "acts: rc $rc: $err"
[[ -e $W/acts ]] && fail "acts left output behind"
err=$("$T" steer build -m "$M" --tokenizer "$K" --data "$W/long.csv" -o "$W/v.gguf" 2>&1); rc=$?
[[ $rc == 1 && $err == *"long.csv"* && $err == *"the text has 2097154 bytes"* ]] || fail "steer build: rc $rc: $err"
[[ -e $W/v.gguf ]] && fail "steer build left output behind"
(( SECONDS - t0 < 20 )) || fail "took $((SECONDS - t0)) s"
pass "over-long statements refused before tokenising ($((SECONDS - t0)) s)"
