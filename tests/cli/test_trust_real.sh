#!/bin/bash
# Issue 13 point 8: `tiller trust-dynamics` on a real trained model (stories260K, llama2.c .bin with
# its own tokenizer) and the real trust sets, as a new user would run it: one model file, --data
# pointing at a copy of shared/data/trust (with truthfulqa_test.csv, which has no labels: left out
# and said so), --no-steer and no --chat. Checks that every probe accuracy has its baselines beside it
# with sane values: random init of the same shape over 3 weight seeds (each seed's accuracy, their
# mean, the envelope of their intervals), bag of words, shuffled training labels, the majority class.
set -u
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
T=$(mktemp -d /tmp/tiller-cli-trust-real-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
export ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=87:${UBSAN_OPTIONS:-}"
clean() { [[ "$1" != *Sanitizer* && "$1" != *"runtime error"* ]]; }

M=$SHARED/models/stories260K
mkdir -p "$T/data"
cp "$SHARED/data/trust/sst2.csv" "$SHARED/data/trust/stereoset.csv" "$SHARED/data/trust/truthfulqa_test.csv" "$T/data/"

# steering still needs the chat model
err=$("$BIN" trust-dynamics --series "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$T/data" -o "$T/x" 2>&1)
rc=$?
check '[ $rc -eq 2 ] && [[ "$err" == *"--chat"* ]] && [ ! -e "$T/x" ]' "steering without --chat: rc $rc: $err"

out=$("$BIN" trust-dynamics --series "$M/stories260K.bin" --tokenizer "$M/tok512.bin" --data "$T/data" --no-steer \
    --limit 300 -o "$T/out" -t 2 -q 2>&1)
rc=$?
check '[ $rc -eq 0 ] && clean "$out"' "trust-dynamics on stories260K: rc $rc: $out"
check '[[ "$out" == *"Left out of the data folder"*"truthfulqa_test.csv"* ]]' "the unlabelled CSV is not said to be left out: $out"
check '[[ "$out" == *"| sst2 |"* ]] && [[ "$out" == *"| stereoset |"* ]] && [[ "$out" != *"| truthfulqa_test |"* ]]' \
    "dimensions in the printed summary: $out"
check '[[ "$out" == *"over 3 weight seeds"*"shuffled training labels | majority class"* ]]' "baseline columns in the header"

# summary.json: the baselines of each dimension, in [0, 1], 3 random-init seeds whose mean is the figure
for dim in sst2 stereoset; do
    j=$(tr -d ' \t\n' <"$T/out/summary.json" | grep -o "\"$dim\":{[^}]*}")
    num() { grep -o "\"$1\":[-0-9.e]*" <<<"$j" | head -1 | cut -d: -f2; }
    for k in best_acc random_init_acc random_init_acc_lo95 random_init_acc_hi95 bag_of_words_acc shuffled_labels_acc \
        majority_acc; do
        v=$(num $k)
        check '[ -n "$v" ] && awk -v v="$v" "BEGIN { exit !(v >= 0 && v <= 1) }"' "$dim: $k = '$v' not in [0, 1]"
    done
    check '[ "$(num random_init_seeds)" = 3 ]' "$dim: random_init_seeds = $(num random_init_seeds)"
    seeds=$(grep -o '"random_init_acc_per_seed":\[[^]]*\]' <<<"$j" | sed 's/.*\[//; s/\]//')
    check 'awk -F, -v m="$(num random_init_acc)" -v lo="$(num random_init_acc_lo95)" -v hi="$(num random_init_acc_hi95)" \
        "{ s = 0; for (i = 1; i <= NF; i++) { s += \$i; if (\$i < lo || \$i > hi) exit 1 }
           exit !(NF == 3 && (s / 3 - m) ^ 2 < 1e-12 && lo < m && m < hi) }" <<<"$seeds"' \
        "$dim: per-seed accuracies '$seeds' vs mean $(num random_init_acc) in [$(num random_init_acc_lo95), $(num random_init_acc_hi95)]"
    # balanced sets: majority near one half; shuffled labels within chance at n = 60
    check 'awk -v v="$(num majority_acc)" -v s="$(num shuffled_labels_acc)" "BEGIN { exit !(v >= 0.35 && v <= 0.65 && s >= 0.25 && s <= 0.75) }"' \
        "$dim: majority $(num majority_acc), shuffled $(num shuffled_labels_acc)"
    check '[ -s "$T/out/$dim/random_init/s1/probe_selection.csv" ] && [ -s "$T/out/$dim/random_init/s3/probe_selection.csv" ]' \
        "$dim: per-seed random-init probes missing"
    # probe_selection.csv (and its chart) carries the same baselines; its random init is the seeds' mean
    sel=$(sed -n 2p "$T/out/$dim/probe_selection.csv")
    hdr=$(head -1 "$T/out/$dim/probe_selection.csv")
    check '[[ "$hdr" == *",shuffled_labels_acc,majority_acc,embed_acc,random_init_acc,random_init_lo95,random_init_hi95,bow_acc,"* ]]' \
        "$dim: probe_selection.csv header: $hdr"
    ri=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "random_init_acc") c = i } NR == 2 { print $c }' \
        "$T/out/$dim/probe_selection.csv")
    check 'awk -v a="$ri" -v b="$(num random_init_acc)" "BEGIN { exit !((a - b) ^ 2 < 1e-10) }"' \
        "$dim: probe_selection.csv random init $ri, summary $(num random_init_acc)"
done
check '[ -s "$T/out/random-init/random-init-s2.gguf" ]' "random-init models kept for a rerun"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
