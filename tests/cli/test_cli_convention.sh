#!/usr/bin/env bash
# One CLI convention (issue 10): -t/--threads is the thread count in every command, the tokenizer
# is --tokenizer, the old `-t TOKENIZER` spelling gets a message that names --tokenizer, and every
# usage error exits 2.
set -u
T=${TILLER_BIN:?}
K=../shared/models/stories260K/tok512.bin
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*" >&2; }

# Every command lists -t, --threads in its help.
cmds=$("$T" --help | awk '/^commands:/{f=1;next} f&&NF{print $1}')
[ -n "$cmds" ] || bad "no commands listed"
for c in $cmds; do
  case $c in tokenizer) h=$("$T" tokenizer train --help 2>&1) ;; steer) h=$("$T" steer build --help 2>&1) ;; recontrol) h=$("$T" recontrol train --help 2>&1) ;; reward) h=$("$T" reward train --help 2>&1) ;; selfalign) h=$("$T" selfalign instruct --help 2>&1) ;; *) h=$("$T" "$c" --help 2>&1) ;; esac
  if printf '%s\n' "$h" | grep -q -- '-t, --threads N'; then ok; else bad "$c --help has no '-t, --threads N'"; fi
  if printf '%s\n' "$h" | grep -q -- '-t, --tokenizer'; then bad "$c: -t is still the tokenizer"; else ok; fi
done

# The old spelling: exit 2 and a message naming --tokenizer, for commands that had it and those that did not.
for c in data tokenize convert train reversal generate score eval "steer build" "tokenizer train"; do
  err=$("$T" $c -t "$K" 2>&1); rc=$?
  [ $rc -eq 2 ] && ok || bad "$c -t FILE: exit $rc, expected 2"
  case $err in *"--tokenizer"*) ok ;; *) bad "$c -t FILE: message does not name --tokenizer: $err" ;; esac
done

# -t N works where the tokenizer used to be -t.
out=$("$T" tokenize --tokenizer "$K" -t 1 -p "Once upon a time" --ids-only --bos); rc=$?
[ $rc -eq 0 ] && [ "$out" = "1 403 407 261 378" ] && ok || bad "tokenize -t 1: rc $rc out [$out]"
err=$("$T" tokenize --tokenizer "$K" -t -1 -p x 2>&1); rc=$?
[ $rc -eq 2 ] && ok || bad "tokenize -t -1: exit $rc, expected 2 ($err)"

# Usage errors exit 2: unknown option, missing value, a missing required option, an unknown command.
for args in "generate --bogus" "data --tokenizer" "tokenize -p x" "nosuchcommand" "train --steps x"; do
  "$T" $args >/dev/null 2>&1; rc=$?
  [ $rc -eq 2 ] && ok || bad "'$args': exit $rc, expected 2"
done

echo "cli convention: $pass passed, $fail failed"
[ $fail -eq 0 ]
