#!/bin/bash
# tiller demo --quick end to end: every stage's outputs, the report's sections and
# self-containment, the report rendered by headless Chromium (non-blank screenshot,
# section titles in the DOM), a re-run that skips every stage, a run killed during
# pre-training that finishes on re-run with checkpoints identical to the
# uninterrupted run's (so two runs are also deterministic), and the errors: a
# damaged stage directory, an unwritable --out, other settings in the same --out.
source "$(dirname "$0")/train_lib.sh"
A=$W/a
B=$W/b
STAGES="world tokenizer data pretrain sft samples acts probe infoplane eval"
DIMS="reliability toxicity privacy fairness robustness"
TITLES=("The world" "Tokenizer" "Token files" "Pre-training" "Chat fine-tune (SFT)" "Samples" "Activations"
        "Probes: checkpoint x layer" "Information plane" "Evaluation: base vs chat")

"$T" demo --help | grep -q -- "--quick" || fail "demo --help"
set +e; "$T" demo --no-such-flag >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 2 ]] || fail "an unknown flag: exit $rc, want 2"

# ---- the first run ----
t0=$(date +%s.%N)
"$T" demo --quick --out "$A" -t 1 -q > "$W/a.out"
t1=$(date +%s.%N)
grep -q "10 stages run, 0 skipped" "$W/a.out" || fail "first run: $(cat "$W/a.out")"
echo "demo --quick (1 thread): $(echo "$t1 - $t0" | bc) s"
for s in $STAGES; do
    [[ -f $A/$s/stage.json ]] || fail "$s: no stage.json"
    grep -q "\"stage\":[[:space:]]*\"$s\"" "$A/$s/stage.json" || fail "$s: stage.json names another stage"
done
n_ckpt=$(ls "$A"/pretrain/ckpt-*.gguf | wc -l)
(( n_ckpt >= 40 )) || fail "$n_ckpt checkpoints, want >= 40"
[[ -f $A/pretrain/ckpt-0.gguf ]] || fail "no step-0 checkpoint"
last=$(ls "$A"/pretrain/ckpt-*.gguf | sed 's/.*ckpt-\([0-9]*\).gguf/\1/' | sort -n | tail -1)
grep -q "\"steps\":[[:space:]]*$last" "$A/pretrain/manifest.json" || fail "the last checkpoint ($last) is not the run's length"
ls "$A"/sft/ckpt-*.gguf >/dev/null || fail "no chat model"
[[ $(wc -l < "$A/samples/samples.csv") -ge 4 ]] || fail "samples: $(cat "$A/samples/samples.csv")"
grep -q '^chat,' "$A/samples/samples.csv" || fail "no chat sample"
for d in $DIMS; do
    [[ -f $A/acts/$d/series.json ]] || fail "acts/$d: no series.json"
    [[ -f $A/probe/$d/probe_accuracy.csv && -f $A/probe/$d/probe_heatmap.svg ]] || fail "probe/$d"
    [[ -f $A/infoplane/$d/infoplane.csv ]] || fail "infoplane/$d"
    # the probe accuracies are real numbers in [0, 1]
    awk -F, 'NR > 1 { for (i = 3; i <= NF; i++) if ($i < 0 || $i > 1 || $i == "") exit 1 }' \
        "$A/probe/$d/probe_accuracy.csv" || fail "probe/$d: accuracy out of range"
done
for m in base chat; do
    grep -q "^$m,world_truth,mc1," "$A/eval/summary.csv" || fail "eval: no $m world_truth"
    [[ -f $A/eval/$m/results.json ]] || fail "eval/$m/results.json"
done
pass "every stage wrote its outputs ($n_ckpt checkpoints)"

# ---- the report ----
R=$A/report.html
for t in "${TITLES[@]}"; do grep -qF "<h2>$t</h2>" "$R" || fail "report: no section '$t'"; done
grep -q '<script\|<link \| src=\|url(' "$R" && fail "report is not self-contained"
n_svg=$(grep -c '<svg ' "$R")
(( n_svg >= 13 )) || fail "report: $n_svg charts"
# every chart names its data file, and that file exists
grep -o '(data: [^)]*)' "$R" | sed 's/(data: \(.*\))/\1/' | sort -u > "$W/data.txt"
[[ $(wc -l < "$W/data.txt") -ge 13 ]] || fail "charts without data files: $(cat "$W/data.txt")"
while read -r f; do [[ -s $A/$f ]] || fail "chart data $f missing"; done < "$W/data.txt"
pass "report.html: ${#TITLES[@]} sections, $n_svg inline charts, each with its CSV"

# ---- headless Chromium renders it ----
CHROME=$(command -v chromium || command -v chromium-browser || true)
[[ -n $CHROME ]] || fail "chromium is missing: install it with scripts/deps.sh test (make check does)"
chrome() {
    timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$(mktemp -d "$W/chrome-XXXXXX")" "$@" 2>/dev/null
}
chrome --window-size=1200,2400 --screenshot="$W/report.png" "file://$R" >/dev/null
chrome --window-size=1200,2400 --screenshot="$W/blank.png" "about:blank" >/dev/null
[[ $(head -c 8 "$W/report.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "screenshot is not a PNG"
sz=$(stat -c %s "$W/report.png"); bl=$(stat -c %s "$W/blank.png")
# a blank page compresses to almost nothing; text, tables and charts do not
(( sz > 8 * bl && sz > 50000 )) || fail "screenshot looks blank: $sz bytes (an empty page: $bl)"
chrome --dump-dom "file://$R" > "$W/dom.html"
for t in "${TITLES[@]}"; do grep -qF "<h2>$t</h2>" "$W/dom.html" || fail "rendered DOM lacks '$t'"; done
pass "chromium renders the report: $sz-byte screenshot (blank page $bl), all section titles in the DOM"

# ---- a re-run skips every stage and changes no checkpoint ----
md5sum "$A"/pretrain/ckpt-*.gguf > "$W/a.md5"
"$T" demo --quick --out "$A" -t 1 -q > "$W/a2.out"
grep -q "0 stages run, 10 skipped" "$W/a2.out" || fail "re-run: $(cat "$W/a2.out")"
md5sum -c --quiet "$W/a.md5" || fail "a re-run changed checkpoints"
pass "a re-run skips all 10 stages"

# ---- killed during pre-training, then re-run ----
"$T" demo --quick --out "$B" -t 1 -q > /dev/null 2>&1 &
pid=$!
killed=0
for i in $(seq 1 1200); do   # up to 60 s
    n=$(grep -o '"state"' "$B/pretrain/manifest.json" 2>/dev/null | wc -l || true)
    if (( n >= 1 )) && [[ $(grep -c '"step"' "$B/pretrain/manifest.json") -ge 38 ]]; then
        kill -9 $pid; killed=1; break
    fi
    sleep 0.05
done
wait $pid 2>/dev/null || true
[[ $killed == 1 ]] || fail "never caught the demo during pre-training"
[[ -f $B/pretrain/stage.json ]] && fail "pre-training was already finished when killed"
[[ -e $B/sft ]] && fail "a later stage started before pre-training finished"
n_before=$(ls "$B"/pretrain/ckpt-*.gguf | wc -l)
"$T" demo --quick --out "$B" -t 1 -q > "$W/b.out" 2>&1 || fail "re-run after the kill: $(cat "$W/b.out")"
grep -q "7 stages run, 3 skipped" "$W/b.out" || fail "after the kill: $(cat "$W/b.out")"
for f in "$A"/pretrain/ckpt-*.gguf "$A"/sft/ckpt-*.gguf; do
    rel=${f#"$A"/}
    cmp -s "$f" "$B/$rel" || fail "$rel differs between the uninterrupted and the killed + resumed run"
done
for d in $DIMS; do
    cmp -s "$A/probe/$d/probe_accuracy.csv" "$B/probe/$d/probe_accuracy.csv" || fail "probe/$d differs"
done
cmp -s "$A/samples/samples.csv" "$B/samples/samples.csv" || fail "samples differ"
cmp -s "$A/eval/summary.csv" "$B/eval/summary.csv" || fail "eval differs"
pass "killed with $n_before checkpoints written, the re-run finished: all checkpoints, probes, samples and evals identical"

# ---- errors ----
victim=$(ls "$B"/pretrain/ckpt-*.gguf | sort -V | sed -n 20p)
head -c 1000 "$victim" > "$W/cut" && cat "$W/cut" > "$victim"
set +e; err=$("$T" demo --quick --out "$B" -t 1 -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"$(basename "$victim")"*"damaged"* ]] || fail "truncated checkpoint: rc $rc: $err"
pass "a truncated checkpoint: $err"

echo '{"files": [' > "$B/world/stage.json"
set +e; err=$("$T" demo --quick --out "$B" -t 1 -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"damaged stage marker"*"$B/world"* ]] || fail "malformed stage.json: rc $rc: $err"
pass "a malformed stage marker: $err"

set +e; err=$("$T" demo --out "$A" -t 1 -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"other settings"* ]] || fail "default preset in a quick directory: rc $rc: $err"
set +e; err=$("$T" demo --quick --seed 9 --out "$A" -t 1 -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"other settings"* ]] || fail "another seed in the same directory: rc $rc: $err"
pass "other settings in the same directory are refused"

touch "$W/file"
set +e; err=$("$T" demo --quick --out "$W/file/sub" -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"$W/file"* ]] || fail "unwritable --out: rc $rc: $err"
[[ -e $W/file/sub ]] && fail "something was created under a file"
pass "unwritable --out: $err"
