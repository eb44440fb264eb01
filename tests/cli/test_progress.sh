#!/bin/bash
# Progress on stderr: without a terminal, long commands print a plain line every
# TILLER_PROGRESS_SECONDS (here 0: every update) with the real total, and a final
# "done" line; the forced in-place bar (TILLER_PROGRESS=1) shows the real total too
# (acts used to show "0% 1500/0 ... eta 0:-2").
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
head -n 301 "$S/data/trust/stereoset.csv" > "$W/d.csv" # header + 300 statements
set +e
err=$(TILLER_PROGRESS_SECONDS=0 "$T" acts -m "$M" --tokenizer "$K" --data "$W/d.csv" -o "$W/a" -t 1 2>&1 >/dev/null); rc=$?
[[ $rc == 0 ]] || fail "acts: rc $rc: $err"
grep -Eq '^tiller: \[1/1\] .*stories260K.bin: [0-9]+% [0-9]+/300, [0-9:]+ elapsed, eta [0-9:]+$' <<< "$err" ||
    fail "no periodic progress line with the total 300: $err"
grep -q 'stories260K.bin: done in ' <<< "$err" || fail "no final progress line: $err"
[[ $err == *"/0"* || $err == *":-"* ]] && fail "a zero total or a negative time: $err"
rm -rf "$W/a"
err=$(TILLER_PROGRESS=1 "$T" acts -m "$M" --tokenizer "$K" --data "$W/d.csv" -o "$W/a" -t 1 2>&1 >/dev/null | tr '\r' '\n')
grep -Eq '\] 100% 300/300 ' <<< "$err" || fail "the bar does not reach 300/300: $err"
[[ $err == *"/0 "* || $err == *":-"* ]] && fail "the bar shows a zero total or a negative time: $err"
pass "acts progress: periodic lines without a terminal, real totals"
# the default interval keeps short commands quiet
err=$("$T" acts -m "$M" --tokenizer "$K" --data "$W/d.csv" -o "$W/b" -t 1 --limit 20 2>&1 >/dev/null)
[[ $err == *elapsed* ]] && fail "a 1-second command printed progress lines: $err"
pass "no progress lines for a short command"
