#!/bin/bash
# tiller world: help, bad flags, generation, determinism, unwritable outputs.
set -u
BIN=${TILLER_BIN:-build/tiller}
T=$(mktemp -d /tmp/tiller-world-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fail=$((fail + 1)); }
expect_rc() { # want_rc description cmd...
    local want=$1 what=$2; shift 2
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" -eq "$want" ]; then ok; else bad "$what: exit $rc, want $want; stderr: $(head -c 300 "$T/err")"; fi
}
has() { # file pattern description
    if grep -q -- "$2" "$1"; then ok; else bad "$3: '$2' not in $(head -c 300 "$1")"; fi
}

expect_rc 0 "help" "$BIN" world --help
has "$T/out" "--seed" "help lists --seed"
has "$T/out" "--corpus-mb" "help lists --corpus-mb"
expect_rc 2 "missing --out" "$BIN" world --quick
has "$T/err" "--out" "missing --out is named"
expect_rc 2 "unknown flag" "$BIN" world --out "$T/x" --bogus
expect_rc 2 "bad integer" "$BIN" world --out "$T/x" --people many
expect_rc 2 "too few people" "$BIN" world --out "$T/x" --people 5
has "$T/err" "people = 5" "range error names the option and value"
expect_rc 2 "false rate above one half" "$BIN" world --out "$T/x" --false-rate 0.7
has "$T/err" "false-rate" "range error names false-rate"
expect_rc 1 "empty output name" "$BIN" world --quick --out ""
has "$T/err" "empty output" "empty --out is named"
expect_rc 2 "negative seed" "$BIN" world --out "$T/x" --seed -3
[ ! -e "$T/x" ] && ok || bad "a rejected command created its output directory"

# a quick world, twice with the same seed, once with another
expect_rc 0 "quick world" "$BIN" world --quick --seed 7 --out "$T/a"
has "$T/out" "bag-of-words test accuracy" "summary prints the bag-of-words baseline"
for f in README.md world.json corpus/train.txt corpus/valid.txt probes/reliability.csv probes/privacy_test.csv \
    probes/fairness_train.csv probes/toxicity.csv probes/robustness.csv steering/pairs.jsonl instruct/train.jsonl \
    eval/truth_mc.json eval/capability_mc.jsonl reversal/p2d_prompts_train.jsonl reversal/d2p_reverse_prompts_test.jsonl; do
    [ -s "$T/a/$f" ] && ok || bad "missing or empty $f"
done
has "$T/a/probes/reliability.csv" "^statement,label,entity$" "probe CSV header"
has "$T/a/reversal/p2d_prompts_train.jsonl" '^{"prompt": ".*", "completion": " ' "reversal JSONL layout"
has "$T/a/README.md" "reliability" "README describes the dimensions"
expect_rc 0 "same seed again" "$BIN" world --quick --seed 7 --out "$T/b"
diff -r "$T/a" "$T/b" >/dev/null && ok || bad "same seed gave different files"
expect_rc 0 "other seed" "$BIN" world --quick --seed 8 --out "$T/c"
cmp -s "$T/a/corpus/train.txt" "$T/c/corpus/train.txt" && bad "another seed gave the same corpus" || ok
cmp -s "$T/a/world.json" "$T/c/world.json" && bad "another seed gave the same world.json" || ok
# explicit flags override the --quick preset
expect_rc 0 "quick with 25 people" "$BIN" world --quick --people 25 --out "$T/d"
has "$T/d/world.json" '"people": 25' "explicit --people wins over --quick"
# a trailing slash names the same directory
expect_rc 0 "trailing slash" "$BIN" world --quick --seed 7 --out "$T/e/"
cmp -s "$T/a/world.json" "$T/e/world.json" && ok || bad "trailing slash changed the output"

# unwritable outputs: a clear error and nothing half-written
echo x >"$T/file"
expect_rc 1 "output under a regular file" "$BIN" world --quick --out "$T/file/sub"
has "$T/err" "tiller: error:" "error prefix"
has "$T/err" "file" "error names the path"
expect_rc 1 "output is a regular file" "$BIN" world --quick --out "$T/file"
has "$T/err" "not a directory" "error says why"
mkdir -p "$T/f/probes/reliability.csv"
expect_rc 1 "a file that cannot be written" "$BIN" world --quick --out "$T/f"
[ ! -e "$T/f/world.json" ] && [ ! -e "$T/f/corpus" ] && ok || bad "files of a failed run were left behind"
[ -z "$(find "$T" -name '*.tmp.*')" ] && ok || bad "temporary files left behind"

# --check: the shortcut baselines per probe set; the world's sets pass (every one needs
# knowledge), a set whose label one word carries fails, exit 1 naming it. The bound is the
# default world's (>= 2,000 statements per set, issue 13); the quick world's sets are too
# small for it (privacy: 112 test rows, its shortcuts scatter 0.37-0.63 over seeds by chance)
expect_rc 0 "default-size world" "$BIN" world --seed 7 --corpus-mb 0.05 --instruct 10 --out "$T/full"
out=$("$BIN" world --check "$T/full" 2>&1); rc=$?
[ $rc -eq 0 ] && [[ "$out" == *"token-pair LR"* ]] && [ "$(grep -c "needs knowledge" <<<"$out")" -eq 5 ] && ok || bad "--check: rc $rc: $out"
mkdir -p "$T/surface/probes"
cp "$T"/full/probes/*.csv "$T/surface/probes/"
for s in train test; do
    { echo "statement,label"; for i in $(seq 1 60); do echo "person$i was cruel today,1"; echo "person$i was kind today,0"; done; } > "$T/surface/probes/toxicity_$s.csv"
done
out=$("$BIN" world --check "$T/surface" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"tiller: error: "*"1 probe set can be solved without the world: toxicity (1.000)"* ]] && ok || bad "--check surface: rc $rc: $out"
out=$("$BIN" world --model x.gguf 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"--model needs --check"* ]] && ok || bad "--model without --check: rc $rc: $out"
out=$("$BIN" world --check "$T/a" --model "$T/no.gguf" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"no.gguf"* ]] && ok || bad "--check --model missing: rc $rc: $out"
out=$("$BIN" world --check "$T/a" --split nope 2>&1); rc=$?
[ $rc -eq 2 ] && [[ "$out" == *"--split nope"* ]] && ok || bad "--split nope: rc $rc: $out"
out=$("$BIN" world --check "$T/none" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ "$out" == *"tiller: error: "*"none/probes/reliability_train.csv"* ]] && ok || bad "--check missing dir: rc $rc: $out"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
