#!/bin/bash
# Default paths into the shared folder (eval --data, bench --stories260k) work from any
# working directory (TILLER_SHARED, else ../shared, else beside the binary's repository),
# and when the default is missing the error names the flag that sets it.
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
M=$(realpath "$S/models/stories260K/stories260K.bin")
K=$(realpath "$S/models/stories260K/tok512.bin")
set +e
err=$(cd "$W" && TILLER_SHARED=/nonexistent "$T" eval -m "$M" --tokenizer "$K" --task arc_easy --limit 1 2>&1); rc=$?
[[ $rc == 1 && $err == *"/nonexistent/data/"* && $err == *"--data DIR or TILLER_SHARED"* ]] || fail "eval: rc $rc: $err"
err=$(cd "$W" && TILLER_SHARED=/nonexistent "$T" bench 2>&1); rc=$?
[[ $rc == 1 && $err == *"/nonexistent/models/stories260K/stories260K.bin: no such file"* && $err == *"--stories260k FILE"* ]] ||
    fail "bench: rc $rc: $err"
pass "missing defaults name the flag"
if [[ -d $(dirname "$(realpath "$T")")/../../shared/data ]]; then # the binary in <repo>/build, shared beside the repo
    out=$(cd "$W" && env -u TILLER_SHARED "$T" eval -m "$M" --tokenizer "$K" --task arc_easy --limit 2 2>&1); rc=$?
    [[ $rc == 0 ]] || fail "eval from $W with the default --data: rc $rc: $out"
    pass "defaults found beside the repository from another directory"
fi
