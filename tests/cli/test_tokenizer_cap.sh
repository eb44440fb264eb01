#!/bin/bash
# Defect 10 of issue 11: a tokenizer.json whose vocabulary has more entries than the cap
# (TL_TOK_MAX_VOCAB = 2^21) is refused, naming the file and the entry, with exit 1. Before the
# cap, this 2^21 + 1-entry file (dense ids, 42 MB) loaded and `tokenize` exited 0; one entry
# fewer (2^21 tokens) is still accepted, so the refusal is the cap's doing.
source "$(dirname "$0")/train_lib.sh"
set +e
gen() { # N: a byte-level BPE tokenizer.json with tokens t0 .. t(N-1), ids 0 .. N-1
    awk -v n="$1" 'BEGIN {
        printf "{\"version\": \"1.0\", \"added_tokens\": [], \"normalizer\": null, \"pre_tokenizer\": "
        printf "{\"type\": \"ByteLevel\", \"add_prefix_space\": false}, \"model\": {\"type\": \"BPE\", \"vocab\": {"
        for (i = 0; i < n; i++) printf "%s\"t%d\": %d", (i ? ", " : ""), i, i
        printf "}, \"merges\": [], \"byte_fallback\": false}}\n" }'
}
gen 2097153 > "$W/over.json"
err=$("$T" tokenize --tokenizer "$W/over.json" -p t1 2>&1); rc=$?
[[ $rc == 1 && $err == *"$W/over.json"* && $err == *"t2097152"* && $err == *"0 .. 2097151"* ]] ||
    fail "over the cap: rc $rc: $err"
gen 2097152 > "$W/at.json"
out=$("$T" tokenize --tokenizer "$W/at.json" -p t1 2>&1); rc=$?
[[ $rc == 0 ]] || fail "at the cap (2^21 tokens) should load: rc $rc: $out"
pass "a tokenizer.json over 2^21 tokens is refused; one at 2^21 loads"
