#!/bin/bash
# `tiller convert` end to end: round trips are byte-identical, refused or failed
# conversions exit 1 with a message naming the file and leave no output (and no
# temporary file) behind, bad flags exit 2. Runs every case of the malformed
# corpus (tests/corpus/{safetensors,llama2c}) through the CLI.
set -u
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
T=$(mktemp -d /tmp/tiller-cli-convert-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
# Under a sanitizer build a report must not pass for the expected exit code 1.
export ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=87:${UBSAN_OPTIONS:-}"
clean() { [[ "$1" != *Sanitizer* && "$1" != *"runtime error"* ]]; }
no_leftovers() { [ -z "$(find "$T" -name '*.tmp.*' -print -quit)" ]; }

# round trips: stories260K .bin -> HF dir -> .bin -> HF dir -> .bin
S=$SHARED/models/stories260K/stories260K.bin
check '"$BIN" convert "$S" "$T/s_hf" >/dev/null' "stories260K -> HF dir"
check '[ -f "$T/s_hf/model.safetensors" ] && [ -f "$T/s_hf/config.json" ]' "HF dir has both files"
check '"$BIN" convert "$T/s_hf" "$T/s.bin" >/dev/null' "HF dir -> .bin"
check '"$BIN" convert "$T/s.bin" "$T/s2_hf" >/dev/null' ".bin -> HF dir again"
check '"$BIN" convert "$T/s2_hf/model.safetensors" "$T/s2.bin" >/dev/null' ".safetensors file -> .bin"
check 'cmp -s "$T/s.bin" "$T/s2.bin"' ".bin round trip not byte-identical"
check 'cmp -s "$T/s_hf/model.safetensors" "$T/s2_hf/model.safetensors"' "safetensors round trip not byte-identical"
check 'cmp -s "$T/s_hf/config.json" "$T/s2_hf/config.json"' "config.json round trip not byte-identical"
check '"$BIN" convert "$S" "$T/s_v1.bin" --llama2c-version 1 >/dev/null' "--llama2c-version 1"
check '[ "$(head -c 4 "$T/s_v1.bin")" = "24ka" ]' "v1 magic"
check '"$BIN" convert "$T/s_v1.bin" "$T/s_v0.bin" >/dev/null && cmp -s "$T/s_v0.bin" "$T/s.bin"' "v1 -> v0 differs"

# tiny_llama: HF round trip, f16 halves the file, .bin refused (theta 50000, head_dim 12 != 100/6)
G=tests/golden/tiny_llama
check '"$BIN" convert "$G" "$T/tiny.safetensors" >/dev/null && "$BIN" convert "$T/tiny.safetensors" "$T/tiny2" >/dev/null' "tiny_llama HF round trip"
check 'cmp -s "$T/tiny.safetensors" "$T/tiny2/model.safetensors"' "tiny_llama round trip not byte-identical"
check '"$BIN" convert "$G" "$T/tiny16" --dtype f16 >/dev/null' "--dtype f16"
check '[ $(stat -c %s "$T/tiny16/model.safetensors") -lt $(( $(stat -c %s "$T/tiny.safetensors") * 51 / 100 )) ]' "f16 file not about half the f32 one"
err=$("$BIN" convert "$G" "$T/tiny.bin" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/tiny.bin"* ]] && [ ! -e "$T/tiny.bin" ]' "tiny_llama -> .bin: rc $rc: $err"
err=$("$BIN" convert "$S" "$T/s16.bin" --dtype f16 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"s16.bin"* ]] && [ ! -e "$T/s16.bin" ]' "f16 .bin: rc $rc: $err"
err=$("$BIN" convert "$T/missing.bin" "$T/x.bin" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/missing.bin"* ]] && [ ! -e "$T/x.bin" ]' "missing input: rc $rc: $err"
err=$("$BIN" convert "$S" "$T/no/such/dir/x.bin" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/no/such/dir/x.bin"* ]] && [ ! -e "$T/no" ]' "unwritable output: rc $rc: $err"

# usage errors exit 2 and write nothing
for args in "--dtype f8" "--llama2c-version 3" "--llama2c-version x" "--bogus"; do
    "$BIN" convert "$S" "$T/u.bin" $args >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 2 ] && [ ! -e "$T/u.bin" ]' "usage error '$args' gave rc $rc"
done
"$BIN" convert "$S" >/dev/null 2>&1; rc=$?
check '[ $rc -eq 2 ]' "one positional argument gave rc $rc"
check '"$BIN" convert --help | grep -q "tiller convert IN OUT"' "--help"

# the malformed corpus through the CLI
for fmt in safetensors llama2c; do
    ext=""; [ $fmt = llama2c ] && ext=".bin"
    while IFS=$'\t' read -r name status frag; do
        case "$name" in '#'*|'') continue ;; esac
        in="tests/corpus/$fmt/$name$ext"
        for out in "$T/c_$name.bin" "$T/c_$name.safetensors" "$T/c_${name}_dir"; do
            err=$("$BIN" convert "$in" "$out" 2>&1 >/dev/null); rc=$?
            if [ "$status" = OK ]; then
                if [[ "$out" == *.bin && $fmt = safetensors ]]; then
                    # the corpus base uses theta 10000 and head_dim = dim/heads: .bin can hold it
                    check '[ $rc -eq 0 ]' "$in -> $out: rc $rc: $err"
                else
                    check '[ $rc -eq 0 ] && [ -e "$out" ]' "$in -> $out: rc $rc: $err"
                fi
            else
                check '[ $rc -eq 1 ] && [[ "$err" == "tiller: error: "*"$in"* ]] && [[ "$err" == *"$frag"* ]] && clean "$err"' "$in: rc $rc: $err"
                check '[ ! -e "$out" ]' "$in: failed convert left $out"
            fi
        done
    done < tests/corpus/$fmt/cases.tsv
done
check no_leftovers "temporary files left in $T"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
