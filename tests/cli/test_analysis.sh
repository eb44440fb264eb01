#!/bin/bash
# `tiller acts`, `tiller probe`, `tiller infoplane` end to end on stories260K and a
# slice of a real trust dataset: a single capture, a checkpoint series with
# resume, probe and infoplane outputs; bad input (missing or malformed files,
# unwritable output, other settings in a complete capture, usage errors) exits
# non-zero with a message naming the file (and line), and leaves nothing
# half-written.
set -u
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
T=$(mktemp -d /tmp/tiller-cli-analysis-XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
export ASAN_OPTIONS="exitcode=86:${ASAN_OPTIONS:-}" UBSAN_OPTIONS="exitcode=87:${UBSAN_OPTIONS:-}"
clean() { [[ "$1" != *Sanitizer* && "$1" != *"runtime error"* ]]; }
no_leftovers() { [ -z "$(find "$T" -name '*.tmp.*' -print -quit)" ]; }

M=$SHARED/models/stories260K/stories260K.bin
TOK=$SHARED/models/stories260K/tok512.bin
head -n 81 "$SHARED/data/trust/stereoset.csv" > "$T/data.csv"   # header + 80 rows (40 of each label)
A=(--tokenizer "$TOK" --data "$T/data.csv")

# one model
out=$("$BIN" acts -m "$M" "${A[@]}" -o "$T/one" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$T/one/meta.json" ] && [ -f "$T/one/labels.npy" ] && [ -f "$T/one/resid_post.4.npy" ]' "acts: rc $rc: $out"
check '[ $(stat -c %s "$T/one/resid_post.0.npy") -eq $((128 + 80 * 64 * 4)) ]' "resid_post.0.npy is not float32 [80, 64]"
check 'grep -q "\"token\":[[:space:]]*\"last\"" "$T/one/meta.json" && grep -q "\"n_statements\":[[:space:]]*80" "$T/one/meta.json"' "meta.json fields"
before=$(stat -c %Y.%i "$T/one/meta.json" "$T/one/resid_post.0.npy")
out=$("$BIN" acts -m "$M" "${A[@]}" -o "$T/one" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"0 checkpoints captured, 1 skipped"* ]] && [ "$before" = "$(stat -c %Y.%i "$T/one/meta.json" "$T/one/resid_post.0.npy")" ]' "resume did not skip: $out"
err=$("$BIN" acts -m "$M" "${A[@]}" --token mean -o "$T/one" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/one"*"token reduction (last, now mean)"* ]] && clean "$err"' "other settings: rc $rc: $err"
check '[ "$before" = "$(stat -c %Y.%i "$T/one/meta.json" "$T/one/resid_post.0.npy")" ]' "refused capture touched the files"
check '"$BIN" acts -m "$M" "${A[@]}" --token mean --points "embed,resid_post.2,final_norm" -o "$T/mean" >/dev/null 2>&1 && [ -f "$T/mean/final_norm.npy" ] && [ ! -e "$T/mean/resid_post.0.npy" ]' "--token mean with chosen points"

check '"$BIN" acts -m "$M" "${A[@]}" --limit 30 -o "$T/lim" >/dev/null 2>&1 && grep -q "\"n_statements\":[[:space:]]*30" "$T/lim/meta.json"' "--limit 30"

# a series of three checkpoints (copies of stories260K), captured, interrupted, resumed
mkdir -p "$T/run"
for s in 0 20 100; do cp "$M" "$T/run/ckpt-$s.bin"; done
cp "$M" "$T/run/optim-20.bin"   # trainer state files are not checkpoints
out=$("$BIN" acts --series "$T/run" "${A[@]}" -o "$T/ser" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$T/ser/ckpt-0/meta.json" ] && [ -f "$T/ser/ckpt-100/meta.json" ] && [ -f "$T/ser/series.json" ] && [ ! -e "$T/ser/optim-20" ]' "series: rc $rc: $out"
check 'cmp -s "$T/ser/ckpt-20/resid_post.3.npy" "$T/one/resid_post.3.npy"' "the same model gives different activations in a series"
rm "$T/ser/ckpt-20/meta.json"   # as if interrupted before its done marker
out=$("$BIN" acts --series "$T/run" "${A[@]}" -o "$T/ser" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [[ "$out" == *"1 checkpoint captured, 2 skipped"* ]] && [[ "$out" == *"[2/3] ckpt-20: captured"* ]]' "series resume: $out"

# GGUF checkpoints carry their tokenizer: no --tokenizer, and the same activations as the .bin
mkdir -p "$T/grun"
check '"$BIN" convert "$M" "$T/grun/ckpt-7.gguf" --tokenizer "$TOK" >/dev/null 2>&1' "convert to GGUF"
out=$("$BIN" acts --series "$T/grun" --data "$T/data.csv" -o "$T/gser" 2>&1); rc=$?
check '[ $rc -eq 0 ] && cmp -s "$T/gser/ckpt-7/resid_post.4.npy" "$T/one/resid_post.4.npy" && grep -q "\"step\":[[:space:]]*7" "$T/gser/ckpt-7/meta.json"' "GGUF series: rc $rc: $out"

# probes and the information plane
out=$("$BIN" probe --acts "$T/ser" -o "$T/probe" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$T/probe/probe.json" ] && [ -f "$T/probe/probe_heatmap.svg" ] && [ -f "$T/probe/probe_curves.svg" ]' "probe: rc $rc: $out"
check '[ $(wc -l < "$T/probe/probe_accuracy.csv") -eq 4 ] && head -1 "$T/probe/probe_accuracy.csv" | grep -q "^checkpoint,step,resid_post.0,resid_post.1,resid_post.2,resid_post.3,resid_post.4$"' "probe_accuracy.csv shape"
check 'sed -n 2p "$T/probe/probe_accuracy.csv" | grep -q "^ckpt-0,0," && sed -n 4p "$T/probe/probe_accuracy.csv" | grep -q "^ckpt-100,100,"' "checkpoints not in step order"
# identical checkpoints give identical accuracies (warm starts do not change results)
check '[ "$(sed -n 2p "$T/probe/probe_accuracy.csv" | cut -d, -f3-)" = "$(sed -n 4p "$T/probe/probe_accuracy.csv" | cut -d, -f3-)" ]' "warm start changed the accuracies"
# results do not depend on the thread count (points are split over threads)
check '"$BIN" probe --acts "$T/ser" -o "$T/probe_t1" -t 1 >/dev/null 2>&1 && cmp -s "$T/probe/probe_accuracy.csv" "$T/probe_t1/probe_accuracy.csv"' "probe: -t 1 differs from the default"
check '"$BIN" probe --acts "$T/ser" -o "$T/probe_cold" --no-warm >/dev/null 2>&1 && cmp -s "$T/probe/probe_accuracy.csv" "$T/probe_cold/probe_accuracy.csv"' "probe: cold starts differ from warm starts"
check '"$BIN" probe --acts "$T/one" -o "$T/probe5" --folds 5 --solver lbfgs >/dev/null 2>&1 && grep -q "\"folds\":[[:space:]]*5" "$T/probe5/probe.json"' "--folds 5 --solver lbfgs"
# the protocol: layer chosen on validation, test accuracy inside its Wilson interval, baselines beside it
check '[ $(wc -l < "$T/probe/probe_selection.csv") -eq 4 ] && [ -f "$T/probe/probe_selected.svg" ] && awk -F, '"'"'NR > 1 && !($6 <= $5 && $5 <= $7 && $8 > 0 && $9 >= 0 && $9 <= 1 && $10 >= 0 && $10 <= 1) { bad = 1 } END { exit bad }'"'"' "$T/probe/probe_selection.csv"' "probe_selection.csv: $(cat "$T/probe/probe_selection.csv")"
check 'grep -q "\"val\":[[:space:]]*0.2" "$T/probe/probe.json" && grep -q "\"test_lo95\"" "$T/probe/probe.json"' "probe.json: no validation settings or selection"
check '"$BIN" probe --acts "$T/ser" -o "$T/probe_ref" --val 0 >/dev/null 2>&1 && [ ! -e "$T/probe_ref/probe_selection.csv" ]' "--val 0 (the reference split) still selects"
check '"$BIN" probe --acts "$T/ser" -o "$T/probe_badval" --val 0.9 >/dev/null 2>&1; [ $? -eq 2 ] && [ ! -e "$T/probe_badval" ]' "--val 0.9 is not a usage error"
out=$("$BIN" infoplane --acts "$T/ser" -o "$T/ip" 2>&1); rc=$?
check '[ $rc -eq 0 ] && [ -f "$T/ip/infoplane_binning.svg" ] && [ -f "$T/ip/infoplane_hsic.svg" ] && [ $(wc -l < "$T/ip/infoplane.csv") -eq $((1 + 3 * 5 * 2)) ]' "infoplane: rc $rc: $out"
check '"$BIN" infoplane --acts "$T/ser" -o "$T/ip_t1" -t 1 >/dev/null 2>&1 && cmp -s "$T/ip/infoplane.csv" "$T/ip_t1/infoplane.csv"' "infoplane: -t 1 differs from the default"
# bias correction columns, saturation, and the per-point trend tests (3 checkpoints: exact, 3! orderings)
check 'head -1 "$T/ip/infoplane.csv" | grep -q ",i_xt_shuffled,i_yt_shuffled,i_xt_corrected,i_xt_corrected_lo,i_xt_corrected_hi,i_yt_corrected,i_yt_corrected_lo,i_yt_corrected_hi,saturation,n,clusters,resamples$"' "infoplane.csv: no corrected columns with intervals"
# every estimate has a bootstrap interval (lo <= hi, n and resamples filled)
check 'awk -F, '"'"'NR > 1 && !($6 <= $7 && $9 <= $10 && $16 <= $17 && $19 <= $20 && $22 > 0 && $24 == 50) { bad = 1 } END { exit bad }'"'"' "$T/ip/infoplane.csv"' "infoplane.csv: an estimate without its interval"
check 'grep -q "bars: 95 %, +-1.96 bootstrap SE of 50 resamples" "$T/ip/infoplane_hsic.svg"' "infoplane_hsic.svg: no error bars in the title"
check '[ $(wc -l < "$T/ip/infoplane_tests.csv") -eq $((1 + 5 * 2 * 2)) ] && grep -q "^resid_post.2,hsic,I(T;Y) increases,permutation over checkpoint order of Spearman rho,.*,6,1,0.05," "$T/ip/infoplane_tests.csv"' "infoplane_tests.csv"
check '"$BIN" infoplane --acts "$T/ser" -o "$T/ip_s0" --shuffles 0 >/dev/null 2>&1 && awk -F, '"'"'NR > 1 && $4 == "binning" && ($13 != 0 || $14 != 0) { bad = 1 } END { exit bad }'"'"' "$T/ip_s0/infoplane.csv"' "--shuffles 0 leaves a correction"
check '"$BIN" infoplane --acts "$T/ser" -o "$T/ip_bad" --shuffles -1 >/dev/null 2>&1; [ $? -eq 2 ] && [ ! -e "$T/ip_bad" ]' "--shuffles -1 is not a usage error"
check '"$BIN" infoplane --acts "$T/one" -o "$T/ip1" --estimator binning --pca-dims 3 --bins 10 --x binned >/dev/null 2>&1 && [ ! -e "$T/ip1/infoplane_hsic.svg" ] && grep -q "\"pca_dims\":[[:space:]]*3" "$T/ip1/infoplane.json"' "infoplane binning options"

# bad input: exit 1, a message naming the file (and line), nothing written
printf 'statement,label\nfine,1\n"never closed,0\nmore,1\n' > "$T/open.csv"
printf 'statement,label\nfine,1\nalso fine,0\nbad,2\n' > "$T/label.csv"
for case in "missing.csv|missing.csv: cannot open" "open.csv|open.csv:3: quoted field is not closed" "label.csv|label.csv:4: label '2' is not 0 or 1"; do
    f=${case%%|*} want=${case#*|}
    err=$("$BIN" acts -m "$M" --tokenizer "$TOK" --data "$T/$f" -o "$T/bad_$f" 2>&1 >/dev/null); rc=$?
    check '[ $rc -eq 1 ] && [[ "$err" == "tiller: error: "*"$want"* ]] && [ ! -e "$T/bad_$f" ] && clean "$err"' "--data $f: rc $rc: $err"
done
err=$("$BIN" acts -m "$T/nomodel.bin" "${A[@]}" -o "$T/bad_model" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/nomodel.bin"* ]] && [ ! -e "$T/bad_model" ]' "missing model: rc $rc: $err"
err=$("$BIN" acts --series "$T/nodir" "${A[@]}" -o "$T/bad_series" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/nodir"* ]] && [ ! -e "$T/bad_series" ]' "missing series: rc $rc: $err"
touch "$T/afile"
err=$("$BIN" acts -m "$M" "${A[@]}" -o "$T/afile/sub" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/afile/sub"*"cannot create directory"* ]]' "unwritable -o: rc $rc: $err"
err=$("$BIN" acts -m "$M" --data "$T/data.csv" -o "$T/notok" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"carries no tokenizer"* ]] && [ ! -e "$T/notok/meta.json" ]' "no tokenizer: rc $rc: $err"
err=$("$BIN" probe --acts "$T/one" -o "$T/afile/p" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/afile/p"* ]]' "probe unwritable -o: rc $rc: $err"
err=$("$BIN" probe --acts "$T/nothing" -o "$T/p_none" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/nothing"* ]] && [ ! -e "$T/p_none" ]' "probe missing acts: rc $rc: $err"
cp -r "$T/one" "$T/broken" && head -c 200 "$T/one/resid_post.2.npy" > "$T/broken/resid_post.2.npy"
err=$("$BIN" probe --acts "$T/broken" -o "$T/p_broken" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/broken/resid_post.2.npy"* ]] && [ ! -e "$T/p_broken" ] && clean "$err"' "truncated npy: rc $rc: $err"
err=$("$BIN" infoplane --acts "$T/broken" -o "$T/i_broken" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/broken/resid_post.2.npy"* ]] && [ ! -e "$T/i_broken" ]' "infoplane truncated npy: rc $rc: $err"
cp -r "$T/one" "$T/badmeta" && sed -i 's/"n_statements":/"n_statements": "x", "old":/' "$T/badmeta/meta.json"
err=$("$BIN" probe --acts "$T/badmeta" -o "$T/p_badmeta" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"$T/badmeta/meta.json"*"n_statements"* ]]' "bad meta.json: rc $rc: $err"
head -n 41 "$SHARED/data/trust/stereoset.csv" | sed 's/,0\r$/,1\r/' > "$T/ones.csv"
"$BIN" acts -m "$M" --tokenizer "$TOK" --data "$T/ones.csv" -o "$T/ones" >/dev/null 2>&1
err=$("$BIN" probe --acts "$T/ones" -o "$T/p_ones" 2>&1 >/dev/null); rc=$?
check '[ $rc -eq 1 ] && [[ "$err" == *"all have label 1"* ]] && [ ! -e "$T/p_ones" ]' "one class: rc $rc: $err"

# usage errors exit 2
for args in "acts -m $M --series $T/run ${A[*]} -o $T/u" "acts -m $M ${A[*]} --token first -o $T/u" "acts -m $M ${A[*]}" \
            "probe --acts $T/one -o $T/u --C -1" "probe --acts $T/one -o $T/u --folds 1" "probe --acts $T/one -o $T/u --solver sgd" \
            "infoplane --acts $T/one -o $T/u --estimator kde" "infoplane --acts $T/one -o $T/u --pca-dims 0" "probe --acts $T/one"; do
    "$BIN" $args >/dev/null 2>&1; rc=$?
    check '[ $rc -eq 2 ] && [ ! -e "$T/u" ]' "usage error '$args' gave rc $rc"
done
for cmd in acts probe infoplane; do check '"$BIN" $cmd --help | grep -q "usage: tiller $cmd"' "$cmd --help"; done
check no_leftovers "temporary files left in $T"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
