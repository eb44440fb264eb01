#!/bin/bash
# `tiller steer build|show`, --steer on generate / score / eval, and `tiller
# trust-dynamics` end to end on a tiny series trained here from a quick synthetic
# world (seconds): outputs exist and hold what they should; scale 0 changes
# nothing; bad input (broken or foreign GGUF, wrong shape, bad ranges, malformed
# pairs, missing files) exits non-zero naming the file, and leaves no output.
set -u
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
T=$(mktemp -d /tmp/tiller-cli-steer-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
export ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=87:${UBSAN_OPTIONS:-}"
clean() { [[ "$1" != *Sanitizer* && "$1" != *"runtime error"* ]]; }
no_leftovers() { [ -z "$(find "$T" -name '*.tmp.*' -print -quit)" ]; }

# ---- a tiny world, tokenizer, pre-training series and chat fine-tune
W=$T/W
"$BIN" world --out "$W" --quick >/dev/null 2>&1 || bad "world"
"$BIN" tokenizer train "$W/corpus/train.txt" --vocab-size 360 --out "$T/tok" >/dev/null 2>&1 || bad "tokenizer"
"$BIN" data --tokenizer "$T/tok.gguf" "$W/corpus/train.txt" -o "$T/corpus.tok" >/dev/null 2>&1 || bad "data"
"$BIN" data --tokenizer "$T/tok.gguf" "$W/instruct/train.jsonl" -o "$T/sft.tok" >/dev/null 2>&1 || bad "sft data"
"$BIN" train -d "$T/corpus.tok" -o "$T/run" --dim 32 --hidden 64 --layers 3 --heads 2 --seq 64 --steps 12 --batch 4 \
    --warmup 2 --save-schedule log:4 --tokenizer "$T/tok.gguf" -q >/dev/null 2>&1 || bad "train"
"$BIN" train -d "$T/sft.tok" -o "$T/chat" -m "$T/run/ckpt-12.gguf" --objective sft --steps 4 --warmup 1 --seq 64 \
    --batch 4 --tokenizer "$T/tok.gguf" -q >/dev/null 2>&1 || bad "sft"
CHAT=$T/chat/ckpt-4.gguf
check '[ -f "$CHAT" ] && [ -f "$T/run/ckpt-0.gguf" ]' "the tiny series was not trained"

# ---- steer build / show
out=$("$BIN" steer build -m "$T/run/ckpt-12.gguf" --data "$W/steering/pairs.jsonl" -o "$T/v.gguf" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"direction.1 (resid_post.1)"* ]] && [[ "$out" == *"direction.2 (resid_post.2)"* ]]' "build: rc $rc: $out"
out=$("$BIN" steer show "$T/v.gguf" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"width 32, layer_count 2 (directions 1..2, a 3-layer model)"* ]] && [[ "$out" == *"method mean_diff"*"200 pairs, first 200 rows fit"* ]]' "show: rc $rc: $out"
out=$("$BIN" steer build -m "$T/run/ckpt-12.gguf" --data "$W/steering/pairs.csv" --method pca --layers 2 -o "$T/p.gguf" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" != *"direction.1 "* ]] && "$BIN" steer show "$T/p.gguf" | grep -q "^direction.1 0.000000$"' "pca on layer 2 only: rc $rc: $out"
out=$("$BIN" steer build -m "$T/run/ckpt-12.gguf" --data "$W/steering/pairs.jsonl" --dimension toxicity --norm unit -o "$T/u.gguf" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"80 texts (40 pairs)"* ]] && "$BIN" steer show "$T/u.gguf" | grep -q "^direction.2 1.000000$"' "unit norm, one dimension: rc $rc: $out"
HH=$SHARED/data/hh_rlhf/harmless-base_test_first1000.jsonl
if [ -f "$HH" ]; then
    out=$("$BIN" steer build -m "$T/run/ckpt-12.gguf" --data "$HH" --limit 6 -o "$T/hh.gguf" 2>&1); rc=$?
    check '[ $rc -eq 0 ] && [[ "$out" == *"12 texts (6 pairs)"* ]]' "HH-RLHF pairs: rc $rc: $out"
fi

# ---- application: scale 0 changes nothing, a large scale changes the text and the score
G=(-m "$CHAT" -p "User: Where does Soby lie?
Assistant:" -n 12 --temp 0)
plain=$("$BIN" generate "${G[@]}" 2>/dev/null)
zero=$("$BIN" generate "${G[@]}" --steer "$T/v.gguf" --steer-scale 0 2>/dev/null)
big=$("$BIN" generate "${G[@]}" --steer "$T/u.gguf" --steer-scale 40 --steer-layers 1-2 2>/dev/null)
check '[ -n "$plain" ] && [ "$plain" = "$zero" ] && [ "$plain" != "$big" ]' "generate: scale 0 / 40: [$plain] [$zero] [$big]"
S=(-m "$CHAT" -p "User: hello
Assistant:" -c " you are kind" --json)
s0=$("$BIN" score "${S[@]}" 2>&1)
s1=$("$BIN" score "${S[@]}" --steer "$T/v.gguf" --steer-scale 0 2>&1)
s2=$("$BIN" score "${S[@]}" --steer "$T/u.gguf" --steer-scale 10 --steer-last-only 2>&1)
check '[ "$s0" = "$s1" ] && [ "$s0" != "$s2" ]' "score: scale 0 differs or steering changes nothing: $s0 / $s1 / $s2"
out=$("$BIN" eval -m "$CHAT" --task world_truth --world "$W" --limit 12 --steer "$T/v.gguf" --steer-scale 3 --steer-layers 2 -o "$T/ev" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$T/ev/results.json" ] && [[ "$out" == *mc2* ]] && grep -q "\"steer\":[[:space:]]*\".*v.gguf x 3 at layers 2-2, all positions\"" "$T/ev/results.json"' "eval --steer: rc $rc: $out"

# ---- bad input
err=$("$BIN" generate "${G[@]}" --steer "$CHAT" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$CHAT"*"not '"'"'controlvector'"'"'"* ]] && clean "$err"' "a model as a vector: rc $rc: $err"
head -c 200 "$T/v.gguf" > "$T/trunc.gguf"
err=$("$BIN" score "${S[@]}" --steer "$T/trunc.gguf" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"trunc.gguf"* ]] && clean "$err"' "truncated vector: rc $rc: $err"
err=$("$BIN" eval -m "$CHAT" --task world_truth --world "$W" --steer "$T/nope.gguf" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"nope.gguf"* ]]' "missing vector: rc $rc: $err"
M260=$SHARED/models/stories260K/stories260K.bin
if [ -f "$M260" ]; then
    "$BIN" steer build -m "$M260" --tokenizer "$SHARED/models/stories260K/tok512.bin" --data "$W/steering/pairs.csv" --limit 10 -o "$T/wide.gguf" >/dev/null 2>&1
    err=$("$BIN" generate "${G[@]}" --steer "$T/wide.gguf" 2>&1 >/dev/null); rc=$?
    check '[ $rc -eq 1 ] && [[ "$err" == *"wide.gguf"*"width 64 with 5 layers"*"width 32 with 3 layers"* ]]' "shape mismatch: rc $rc: $err"
fi
err=$("$BIN" generate "${G[@]}" --steer "$T/v.gguf" --steer-layers 0-2 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 2 ] && [[ "$err" == *"1-2"* ]]' "layer 0: rc $rc: $err"
err=$("$BIN" steer build -m "$CHAT" --data "$W/steering/pairs.jsonl" --method median -o "$T/x.gguf" 2>&1); rc=$?
check '[ $rc -eq 2 ] && [ ! -e "$T/x.gguf" ]' "bad method: rc $rc: $err"
printf '{"prompt": "a", "safe": " b", "unsafe": " c"}\n{"prompt": "a", "safe": " b"}\n' > "$T/badpairs.jsonl"
err=$("$BIN" steer build -m "$CHAT" --data "$T/badpairs.jsonl" -o "$T/x.gguf" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"badpairs.jsonl:2"* ]] && [ ! -e "$T/x.gguf" ]' "malformed pairs: rc $rc: $err"
printf 'statement,label\nonly positive,1\n' > "$T/one.csv"
err=$("$BIN" steer build -m "$CHAT" --data "$T/one.csv" -o "$T/x.gguf" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"one.csv"*"need both"* ]] && [ ! -e "$T/x.gguf" ]' "one class: rc $rc: $err"
err=$("$BIN" steer build -m "$CHAT" --data "$W/steering/pairs.jsonl" -o "$T/nodir/x.gguf" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"nodir/x.gguf"* ]]' "unwritable output: rc $rc: $err"
err=$("$BIN" steer frob 2>&1); rc=$?
check '[ $rc -eq 2 ] && [[ "$err" == *"unknown steer subcommand"* ]]' "unknown subcommand: rc $rc"
check '"$BIN" steer build --help | grep -q "direction.L" && "$BIN" trust-dynamics --help | grep -q "steering.csv"' "--help"

# ---- trust-dynamics, tiny
TD=(--series "$T/run" --chat "$CHAT" --world "$W" --limit 80 --eval-limit 6 --max-new 4 --scales -2,0,2 --n-sources 2 --hsic-rows 40 -q)
out=$("$BIN" trust-dynamics "${TD[@]}" -o "$T/td" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"## Steering table"* ]] && [[ "$out" == *"| toxicity |"* ]]' "trust-dynamics: rc $rc: $out"
for f in toxicity/probe_heatmap.svg toxicity/probe_curves.svg toxicity/probe_accuracy.csv toxicity/infoplane_binning.svg \
         fairness/infoplane.csv steering.csv steering.json steering_world_truth_hop.svg summary.json summary.md \
         vectors/chat_reliability.gguf vectors/ckpt-5_toxicity.gguf vectors/ckpt-12_fairness.gguf \
         vectors/chat_privacy.gguf vectors/ckpt-12_robustness.gguf; do
    check '[ -s "$T/td/$f" ]' "trust-dynamics: $f missing"
done
check '[ ! -e "$T/td/reliability_train" ] && [ -d "$T/td/acts/privacy/ckpt-5" ]' "dimensions: split copies are not dimensions"
# the probe protocol and the information-plane tests: intervals, baselines, p-values
check '[ -s "$T/td/toxicity/probe_selection.csv" ] && [ -s "$T/td/toxicity/infoplane_tests.csv" ] && [ -s "$T/td/acts/toxicity/ckpt-0/embed.npy" ]' "trust-dynamics: protocol outputs missing"
check 'grep -q "95 % CI" "$T/td/summary.md" && grep -q "permutation test" "$T/td/summary.md" && grep -q "best_acc_lo95" "$T/td/summary.json"' "trust-dynamics: summary without intervals or tests"
# 3 sources (mid-training ckpt-5, final ckpt-12, chat) x 3 scales x (truth mc1, mc2 under the reliability vector +
# stereotype, lm_score under fairness + toxicity_pair unsafe, p_unsafe under toxicity + privacy unsafe, p_unsafe under
# privacy + sentiment acc, acc_norm under robustness + capability acc, acc_norm, em under each of the 5)
rows=$(($(wc -l < "$T/td/steering.csv") - 1))
check '[ $rows -eq $((3 * 3 * (2 + 2 + 2 + 2 + 2 + 3 * 5))) ] && grep -q ",world_privacy,unsafe," "$T/td/steering.csv" && grep -q ",world_sentiment,acc," "$T/td/steering.csv" && grep -q "^chat,-1,0,world_truth_hop,acc_norm," "$T/td/steering.csv"' "steering.csv has $rows rows"
check '[ "$(grep ",0,world_truth_hop,acc_norm," "$T/td/steering.csv" | cut -d, -f6 | sort -u | wc -l)" -eq 1 ]' "scale-0 rows differ between sources"
# every steered cell carries its paired test against the unsteered one; scale-0 rows carry none
check 'head -1 "$T/td/steering.csv" | grep -q ",n,diff_vs_unsteered,diff_lo95,diff_hi95,p_sign_test,marked,p_holm,vector,raw_scale,added_norm,value_lo95,value_hi95,val_value,val_diff,n_val,test_value,test_lo95,test_hi95,n_test,test_diff,test_diff_lo95,test_diff_hi95,test_p,rand_dirs,rand_value,rand_lo95,rand_hi95,diff_vs_random,diff_vs_random_lo95,diff_vs_random_hi95,p_vs_random,p_vs_random_holm,test_rand_value,test_rand_lo95,test_rand_hi95,test_diff_vs_random,test_diff_vs_random_lo95,test_diff_vs_random_hi95,test_p_vs_random$" && awk -F, '"'"'NR > 1 && $3 != 0 && $12 != "" { tested++; if (!($12 >= 0 && $12 <= 1 && $10 <= $9 && $9 <= $11)) bad = 1 } NR > 1 && $3 == 0 && $12 != "" { bad = 1 } END { exit bad || tested < 10 }'"'"' "$T/td/steering.csv"' "steering.csv: paired tests"
# the random-direction baseline: 3 directions and their mean per vector, |scale|, task and metric
check '[ "$(grep -c ",mean,," "$T/td/steering_random.csv")" -ge 10 ] && [ "$(cut -d, -f9 "$T/td/steering_random.csv" | grep -c "^1099994$")" -ge 10 ]' "steering_random.csv: no mean rows or not the documented seeds"
check 'grep -q "sign test" "$T/td/summary.md" && grep -q "\"vs_unsteered\"" "$T/td/steering.json"' "summary: no paired test named"
check 'no_leftovers' "temporary files left"
before=$(stat -c %Y "$T/td/acts/toxicity/ckpt-0/meta.json")
out=$("$BIN" trust-dynamics "${TD[@]}" --no-steer -o "$T/td" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ "$before" = "$(stat -c %Y "$T/td/acts/toxicity/ckpt-0/meta.json")" ] && [[ "$out" != *"Steering table"* ]]' "rerun did not reuse captures: rc $rc"
# --steer-only: the same steering table, no capture, probes or information plane
out=$("$BIN" trust-dynamics "${TD[@]}" --steer-only -o "$T/tds" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"## Steering table"* ]] && [ ! -e "$T/tds/acts" ] && [ ! -e "$T/tds/toxicity" ]' "steer-only: rc $rc: $out"
check 'cmp -s "$T/td/steering.csv" "$T/tds/steering.csv"' "steer-only: another steering table than the full run's"
# the cost of a push (capability) at the two extreme scales only, unless --cost-every-scale
for every in 0 1; do
    flag=(); [ $every = 1 ] && flag=(--cost-every-scale)
    out=$("$BIN" trust-dynamics "${TD[@]}" --steer-only --scales=-2,-1,0,2 --tasks world_truth_hop,world_capability \
          "${flag[@]}" -o "$T/tdc$every" 2>&1); rc=$?
    mid=$(awk -F, 'NR > 1 && $3 == -1 && $4 == "world_capability"' "$T/tdc$every/steering.csv" | wc -l)
    ends=$(awk -F, 'NR > 1 && ($3 == -2 || $3 == 2) && $4 == "world_capability"' "$T/tdc$every/steering.csv" | wc -l)
    hop=$(awk -F, 'NR > 1 && $3 == -1 && $4 == "world_truth_hop"' "$T/tdc$every/steering.csv" | wc -l)
    check '[ $rc -eq 0 ] && [ $ends -gt 0 ] && [ $hop -gt 0 ] && { { [ $every = 1 ] && [ $mid -gt 0 ]; } || { [ $every = 0 ] && [ $mid -eq 0 ]; }; }' \
        "cost scales (every=$every): rc $rc, capability rows at -1: $mid, at +-2: $ends, truth_hop at -1: $hop: $out"
done
err=$("$BIN" trust-dynamics "${TD[@]}" --steer-only --no-steer -o "$T/td2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"nothing"* ]] && [ ! -e "$T/td2" ]' "steer-only + no-steer: rc $rc: $err"
err=$("$BIN" trust-dynamics --series "$T/run" --world "$W" -o "$T/td2" 2>&1); rc=$?
check '[ $rc -eq 2 ] && [ ! -e "$T/td2" ]' "no --chat: rc $rc"
err=$("$BIN" trust-dynamics "${TD[@]}" --series "$T/norun" -o "$T/td2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"norun"* ]] && [ ! -e "$T/td2" ]' "missing series: rc $rc: $err"
err=$("$BIN" trust-dynamics "${TD[@]}" --scales 1,x -o "$T/td2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"'"'"'x'"'"' is not a number"* ]] && [ ! -e "$T/td2" ]' "bad scales: rc $rc: $err"
err=$("$BIN" trust-dynamics "${TD[@]}" --dims toxicity,honesty -o "$T/td2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"honesty.csv"* ]] && [ ! -e "$T/td2" ]' "unknown dimension: rc $rc: $err"
err=$("$BIN" trust-dynamics "${TD[@]}" --dims toxicity --sources 7 -o "$T/td2" 2>&1); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"no checkpoint at step '"'"'7'"'"'"* ]]' "bad source step: rc $rc: $err"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
