#!/bin/bash
# Issue 18: a random-weight Pythia-70M-shape series (GPT-NeoX, 3 checkpoints, f16 GGUF files named
# with their step, as llama.cpp's converter would write Pythia's revisions) through `tiller
# trust-dynamics` on slices of the real trust sets, with the GPT-2 BPE vocabulary (GPT-NeoX's
# tokenizer.json is a GPT-2-style byte-level BPE); the same series as a manifest CSV (step,path)
# through `tiller acts`; bad manifests refused naming file and line; `train` refuses the architecture.
set -u
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
T=$(mktemp -d /tmp/tiller-cli-real-series-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
export ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=87:${UBSAN_OPTIONS:-}"
clean() { [[ "$1" != *Sanitizer* && "$1" != *"runtime error"* ]]; }

TOK=$SHARED/models/tokenizers/ggml-vocab-gpt-2.gguf
mkdir -p "$T/series" "$T/data"
for s in 0 512 4000; do
    out=$("$BIN" bench --save "$T/series/pythia-70m-step$s.gguf" -m pythia70m --dtype f16 --seed $((s + 11)) 2>&1); rc=$?
    check '[ $rc -eq 0 ]' "bench --save pythia70m step $s: rc $rc: $out"
done
echo "not a checkpoint" > "$T/series/notes-step9.txt" # a step in the name but no model extension: ignored
head -n 61 "$SHARED/data/trust/sst2.csv" > "$T/data/sst2.csv"
head -n 61 "$SHARED/data/trust/stereoset.csv" > "$T/data/stereoset.csv"

out=$("$BIN" trust-dynamics --series "$T/series" --chat "$T/series/pythia-70m-step4000.gguf" --data "$T/data" \
    --tokenizer "$TOK" --no-steer -o "$T/out" -t 2 -q 2>&1); rc=$?
check '[ $rc -eq 0 ] && clean "$out"' "trust-dynamics on the series: rc $rc: $out"
check '[ -f "$T/out/summary.json" ] && [ -f "$T/out/summary.md" ]' "summary files"
check 'grep -q "3 checkpoints, steps 0 .. 4000" "$T/out/summary.md"' "summary names the 3 steps: $(head -5 "$T/out/summary.md" 2>/dev/null)"
check '[ -f "$T/out/acts/sst2/pythia-70m-step512/resid_post.5.npy" ] || [ -n "$(find "$T/out" -path "*step512*" -name "resid_post.5.npy" -print -quit)" ]' "per-checkpoint captures of all 6 layers: $(find "$T/out" -maxdepth 3 | head -20)"
check 'grep -q "\"sst2\"" "$T/out/summary.json" && grep -q "\"stereoset\"" "$T/out/summary.json"' "both dimensions in summary.json"
# issue 13 point 8: the baselines beside every probe accuracy, with the protocol's intervals: the summary
# row has the best probe's Wilson and bootstrap intervals, the random init's and bag of words' intervals;
# probe_selection.csv (and so the chart) carries the random-init and bag-of-words baselines
row=$(grep "^| sst2 |" "$T/out/summary.md")
check '[[ "$row" =~ \]\,\ bootstrap\ \[[0-9.]+,\ [0-9.]+\]\ over\ [0-9]+\ clusters ]] && [ "$(grep -o "\[[0-9.]*, [0-9.]*\]" <<<"$row" | wc -l)" -ge 5 ]' "summary row with 5 intervals: $row"
sel=$(sed -n 2p "$T/out/sst2/probe_selection.csv")
check 'head -1 "$T/out/sst2/probe_selection.csv" | grep -q ",random_init_acc,random_init_lo95,random_init_hi95,bow_acc,boot_lo95,boot_hi95,n_clusters$" && [[ "$sel" =~ ,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,[0-9.]+,[0-9]+$ ]]' "probe_selection.csv has the random-init and bag-of-words baselines and the bootstrap: $sel"
check 'grep -q "\"bag_of_words_acc_lo95\"" "$T/out/summary.json" && grep -q "\"random_init_acc_boot_lo95\"" "$T/out/summary.json"' "summary.json intervals"

# the same checkpoints from a manifest CSV (relative paths), captured by `acts`
printf 'step,path\n4000,series/pythia-70m-step4000.gguf\n0,series/pythia-70m-step0.gguf\n' > "$T/m.csv"
out=$("$BIN" acts --series "$T/m.csv" --data "$T/data/sst2.csv" --tokenizer "$TOK" --limit 20 -o "$T/acts" -t 2 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"2 checkpoints captured"* ]] && [ -f "$T/acts/step0/meta.json" ] && [ -f "$T/acts/step4000/resid_post.5.npy" ]' "acts --series m.csv: rc $rc: $out"
printf 'step,path\n10,series/missing.gguf\n' > "$T/bad.csv"
err=$("$BIN" acts --series "$T/bad.csv" --data "$T/data/sst2.csv" --tokenizer "$TOK" -o "$T/acts2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"bad.csv:2"*"missing.gguf"* ]] && [ ! -e "$T/acts2" ] && clean "$err"' "missing path in manifest: rc $rc: $err"
printf 'step,path\nten,series/pythia-70m-step0.gguf\n' > "$T/bad2.csv"
err=$("$BIN" acts --series "$T/bad2.csv" --data "$T/data/sst2.csv" --tokenizer "$TOK" -o "$T/acts2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"bad2.csv:2"*"ten"* ]] && clean "$err"' "bad step in manifest: rc $rc: $err"

# training is llama-only
for i in $(seq 1 40); do echo "the cat sat on the mat number $i and looked at the dog"; echo; done > "$T/corpus.txt"
"$BIN" data --tokenizer "$TOK" "$T/corpus.txt" -o "$T/toks.bin" >/dev/null 2>&1
err=$("$BIN" train -m "$T/series/pythia-70m-step0.gguf" --data "$T/toks.bin" -o "$T/run" --steps 1 --seq 16 -b 1 2>&1); rc=$?
check '[ $rc -ne 0 ] && [[ "$err" == *"gptneox"* ]] && clean "$err"' "train on gptneox not refused by name: rc $rc: $err"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
