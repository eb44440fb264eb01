#!/bin/bash
# SELF-ALIGN design values for the demo, chosen on a validation split (issue 16): the number of
# exemplars in the stage-2 prompt (0, 1, 2) and the engraving SFT steps (20, 40, 80), on the
# demo's base model and world rule files. Validation = the first third of the held-out people in
# rules/eval.jsonl (the first 40 lines: 10 people x 4 items); the demo's table reports on the
# other people only, so the test items are never looked at here.
# Score per design = (red-team items answered within the principles + ordinary items answered
# helpfully) / validation items; ties go to the smallest design (fewest exemplars, then fewest
# steps). Stage 1's instructions are made once, with the demo's settings.
#
#   scripts/selfalign_design.sh DEMO_DIR [OUT_DIR]      (e.g. after `tiller demo --out DEMO_DIR`)
set -eu
D=${1:?usage: scripts/selfalign_design.sh DEMO_DIR [OUT_DIR]}
O=${2:-$D/selfalign_design}
B=${TILLER_BIN:-build/tiller}
W=$D/world/rules
M=$(ls "$D"/pretrain/ckpt-*.gguf | sort -t- -k2 -n | tail -1)
LR=5e-4 # the demo's SFT learning rate
mkdir -p "$O"
head -40 "$W/eval.jsonl" >"$O/val.jsonl"
"$B" selfalign instruct -m "$M" --seeds "$W/seeds.jsonl" --redteam "$W/redteam.jsonl" --exclude "$W/eval.jsonl" \
    --general 60 --topics 4 --per-topic 3 --tries 4 --questions-only --include-seeds --temp 0.8 --max-new 24 \
    --seed 1 -o "$O/inst.jsonl" --stats "$O/inst.json" -t 2 >"$O/inst.out" 2>&1
"$B" selfalign eval -m "$M" --items "$O/val.jsonl" --max-new 60 --name base -o "$O/val_base.json" -t 2 >/dev/null 2>&1
for nex in 0 1 2; do
    "$B" selfalign respond -m "$M" -P "$W/principles.txt" --exemplars "$W/exemplars.jsonl" --n-exemplars $nex \
        -i "$O/inst.jsonl" -o "$O/resp_$nex.jsonl" --stats "$O/resp_$nex.json" --max-new 36 --seed 1 -t 2 \
        >/dev/null 2>&1 || { echo "exemplars $nex: no answers kept" >&2; continue; }
    for steps in 20 40 80; do
        "$B" selfalign engrave -m "$M" -i "$O/resp_$nex.jsonl" -o "$O/eng_${nex}_$steps" --steps $steps --batch 16 \
            --lr $LR --seed 8 -t 2 >/dev/null 2>&1 || { echo "exemplars $nex, $steps steps: engraving failed" >&2; continue; }
        "$B" selfalign eval -m "$O/eng_${nex}_$steps/ckpt-$steps.gguf" --items "$O/val.jsonl" --max-new 60 \
            --name "e${nex}_s$steps" -o "$O/val_${nex}_$steps.json" -t 2 >/dev/null 2>&1
    done
done
# the table and the choice (grep/awk only: no Python needed)
printf '%-10s %-6s %-8s %s\n' exemplars steps score "within / helpful (validation)" | tee "$O/choice.txt"
best=""
bests=-1
for nex in 0 1 2; do
    for steps in 20 40 80; do
        f=$O/val_${nex}_$steps.json
        [ -s "$f" ] || continue
        line=$(tr -d '\n' <"$f")
        get() { echo "$line" | sed -n "s/.*\"$1\": {\"value\": \([0-9.e-]*\)[^}]*\"n\": \([0-9]*\)}.*/\1 \2/p"; }
        read -r wv wn <<<"$(get redteam_within)"
        read -r hv hn <<<"$(get helpful)"
        score=$(awk -v a="$wv" -v b="$wn" -v c="$hv" -v d="$hn" 'BEGIN { printf "%.4f", (a * b + c * d) / (b + d) }')
        printf '%-10s %-6s %-8s %s / %s\n' $nex $steps "$score" "$wv" "$hv" | tee -a "$O/choice.txt"
        if awk -v s="$score" -v b="$bests" 'BEGIN { exit !(s > b) }'; then bests=$score best="$nex exemplar(s), $steps steps"; fi
    done
done
echo "chosen: $best (validation score $bests)" | tee -a "$O/choice.txt"
