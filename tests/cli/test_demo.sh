#!/bin/bash
# tiller demo --quick end to end: every stage's outputs (among them the steering table's
# sources x scales and the reversal results' objectives x subtasks), the report's sections and
# self-containment, the report rendered by headless Chromium (non-blank screenshot,
# section titles in the DOM), a re-run that skips every stage, a run killed during
# pre-training that finishes on re-run with checkpoints identical to the
# uninterrupted run's (so two runs are also deterministic), and the errors: a
# damaged stage directory, an unwritable --out, other settings in the same --out.
source "$(dirname "$0")/train_lib.sh"
A=$W/a
B=$W/b
STAGES="world tokenizer data pretrain sft samples acts probe infoplane seeds eval trust reversal recontrol selfalign"
DIMS="reliability toxicity privacy fairness robustness"
TITLES=("The world" "Tokenizer" "Token files" "Pre-training" "Chat fine-tune (SFT)" "Samples" "Activations"
        "Probes: checkpoint x layer" "Information plane" "Probes and information plane over pre-training seeds"
        "Evaluation: base vs chat" "Steering the chat model"
        "Reversal curse: NTP, BICO, ABI" "RE-Control: editing the representation at test time"
        "SELF-ALIGN: principles engraved")

"$T" demo --help | grep -q -- "--quick" || fail "demo --help"
set +e; "$T" demo --no-such-flag >/dev/null 2>&1; rc=$?; set -e
[[ $rc == 2 ]] || fail "an unknown flag: exit $rc, want 2"

# ---- the first run ----
t0=$(date +%s.%N)
"$T" demo --quick --out "$A" -t 1 -q > "$W/a.out"
t1=$(date +%s.%N)
grep -q "15 stages run, 0 skipped" "$W/a.out" || fail "first run: $(cat "$W/a.out")"
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
    # the mean-pooled capture and its probes beside the last token's
    grep -q '"token":[[:space:]]*"mean"' "$A/acts/${d}_mean/$(ls "$A/acts/${d}_mean" | grep ckpt | head -1)/meta.json" ||
        fail "acts/${d}_mean: not a mean capture"
    [[ -f $A/probe/${d}_mean/probe_selection.csv ]] || fail "probe/${d}_mean"
    cmp -s "$A/acts/$d/$(ls "$A/acts/$d" | grep ckpt | tail -1)/resid_post.0.npy" \
        "$A/acts/${d}_mean/$(ls "$A/acts/$d" | grep ckpt | tail -1)/resid_post.0.npy" && fail "acts/${d}_mean equals acts/$d"
done
# probe/pooling.csv: per dimension the first and final checkpoint x {last, mean}, one pooling chosen on
# validation per dimension, accuracies in [0, 1]
P=$A/probe/pooling.csv
[[ $(wc -l < "$P") == 21 ]] || fail "pooling.csv: $(wc -l < "$P") lines, want 21"
[[ $(awk -F, 'NR > 1 && $14 == 1' "$P" | wc -l) == 5 ]] || fail "pooling.csv: one choice per dimension"
awk -F, 'NR > 1 && ($7 < 0 || $7 > 1 || $6 < 0 || $6 > 1) { exit 1 }' "$P" || fail "pooling.csv: out of range"
# the bootstrap interval over entities (the report's table shows it, as the probe chart and F1)
[[ $(head -1 "$P" | cut -d, -f15-17) == "boot_lo95,boot_hi95,n_clusters" ]] || fail "pooling.csv: no bootstrap columns"
awk -F, 'NR > 1 && !($15 != "" && 0 <= $15 && $15 <= $16 && $16 <= 1 && $17 >= 1) { exit 1 }' "$P" ||
    fail "pooling.csv: a bootstrap interval out of [0, 1] or without clusters"
[[ -f $A/probe/probe_best_mean.csv ]] || fail "no probe_best_mean.csv"
for m in base chat; do
    grep -q "^$m,world_truth,mc1," "$A/eval/summary.csv" || fail "eval: no $m world_truth"
    [[ -f $A/eval/$m/results.json ]] || fail "eval/$m/results.json"
done
# the steering table: (2 checkpoints + chat) x the quick preset's scales (-8, 0, 8), each task's metrics
# (the unsteered chat model is every source's scale-0 row), all values in [0, 1]
S=$A/trust/steering.csv
[[ $(head -1 "$S") == "source,step,scale,task,metric,value,stderr,n,diff_vs_unsteered,diff_lo95,diff_hi95,p_sign_test,marked,p_holm,vector,raw_scale,added_norm,value_lo95,value_hi95,val_value,val_diff,n_val,test_value,test_lo95,test_hi95,n_test,test_diff,test_diff_lo95,test_diff_hi95,test_p,rand_dirs,rand_value,rand_lo95,rand_hi95,diff_vs_random,diff_vs_random_lo95,diff_vs_random_hi95,p_vs_random,p_vs_random_holm,test_rand_value,test_rand_lo95,test_rand_hi95,test_diff_vs_random,test_diff_vs_random_lo95,test_diff_vs_random_hi95,test_p_vs_random" ]] ||
    fail "steering.csv header: $(head -1 "$S")"
# the random-direction baseline (2 directions of the same norm in the demo): beside every steered cell of a task's own
# vector, none at scale 0 or for capability; its interval around its value in [0, 1], the difference is the
# cell's value minus it, the intersection-union p in [0, 1] and Holm's above it; +s and -s share it
awk -F, 'NR > 1 { own = $3 != 0 && $4 != "world_capability"
                  if ($31 != (own ? 2 : 0)) exit 1
                  if (own && $32 != "" && !(0 <= $33 && $33 <= $32 + 1e-9 && $32 <= $34 + 1e-9 && $34 <= 1 &&
                      ($35 - ($6 - $32)) ^ 2 < 1e-10 && $36 <= $35 + 1e-9 && $35 <= $37 + 1e-9 &&
                      0 <= $38 && $38 <= 1 && $38 <= $39 + 1e-12 && 0 <= $40 && $40 <= 1)) exit 1
                  if (own) { k = $1 SUBSEP ($3 < 0 ? -$3 : $3) SUBSEP $4 SUBSEP $5
                             if (k in r && r[k] != $32) exit 1; r[k] = $32 } }' "$S" ||
    fail "steering.csv: the random-direction columns are wrong"
SR=$A/trust/steering_random.csv
[[ $(head -1 "$SR") == "template,vector,scale,raw_scale,added_norm,task,metric,direction,seed,value,lo95,hi95,n,diff_vs_unsteered,diff_lo95,diff_hi95,p_vs_unsteered" ]] ||
    fail "steering_random.csv header: $(head -1 "$SR")"
# per vector, |scale|, task and metric: 2 directions (the same 2 seeds everywhere) and their mean; the
# steered rows' rand_value is that mean
awk -F, 'NR > 1 { k = $2 SUBSEP $3 SUBSEP $6 SUBSEP $7
                  if ($8 == "mean") { mean[k] = $10; nm++ } else { sum[k] += $10; cnt[k]++; seeds[$8 " " $9] = 1 } }
         END { if (!nm) exit 1
               for (k in mean) if (cnt[k] != 2 || (mean[k] != "" && (sum[k] / 2 - mean[k]) ^ 2 > 1e-10)) exit 1
               n = 0; for (x in seeds) n++; if (n != 2) exit 1 }' "$SR" ||
    fail "steering_random.csv: not 2 directions per cell with their mean, or their seeds differ"
awk -F, 'FNR == 1 { f++ } f == 1 && FNR > 1 && $8 == "mean" { m[$2 SUBSEP $3 SUBSEP $6 SUBSEP $7] = $10 }
         f == 2 && FNR > 1 && $31 == 2 { k = $15 SUBSEP ($3 < 0 ? -$3 : $3) SUBSEP $4 SUBSEP $5
                                          if (!(k in m) || (m[k] - $32) ^ 2 > 1e-10) exit 1 }' "$SR" "$S" ||
    fail "steering.csv: rand_value is not steering_random.csv's mean"
# every score has its own interval inside [0, 1] around it; the validation and test halves split its items
awk -F, 'NR > 1 && $8 > 0 && !(0 <= $18 && $18 <= $6 + 1e-9 && $6 <= $19 + 1e-9 && $19 <= 1 && $22 + $26 == $8 &&
                              ($22 - $26) ^ 2 <= 1 && 0 <= $24 && $24 <= $23 + 1e-9 && $23 <= $25 + 1e-9 && $25 <= 1) { exit 1 }' "$S" ||
    fail "steering.csv: a score's interval, or the halves' sizes, wrong"
srcs=$(awk -F, 'NR > 1 { print $1 }' "$S" | sort -u | tr '\n' ' ')
[[ $(awk -F, 'NR > 1 { print $1 }' "$S" | sort -u | wc -l) == 3 ]] || fail "steering sources: $srcs"
grep -q '^chat,-1,' "$S" || fail "no chat-model vector in steering.csv"
for sc in -8 0 8; do
    [[ $(awk -F, -v s=$sc 'NR > 1 && $3 == s && $4 == "world_truth_hop" && $5 == "acc"' "$S" | wc -l) == 3 ]] ||
        fail "steering.csv: scale $sc does not have one world_truth_hop acc row per source"
done
[[ $(awk -F, 'NR > 1 { print $3 }' "$S" | sort -u | wc -l) == 3 ]] || fail "steering scales: $(cut -d, -f3 "$S" | sort -u)"
for t in world_truth_hop world_stereotype world_toxicity_pair world_privacy world_sentiment world_capability; do
    [[ $(awk -F, -v t=$t 'NR > 1 && $4 == t' "$S" | wc -l) -ge 9 ]] || fail "steering.csv: $t rows"
    ls "$A"/trust/steering_$t*.svg >/dev/null 2>&1 || fail "no steering_$t*.svg"
done
# (a metric over no items, such as capability em when the first items are multiple choice, is empty)
awk -F, 'NR > 1 && ($6 == "" ? $8 != 0 : ($6 + 0 < 0 || $6 + 0 > 1)) { exit 1 }' "$S" ||
    fail "steering.csv: a value out of range"
# zero-scale rows are the same unsteered evaluation for every source
[[ $(awk -F, 'NR > 1 && $3 == 0 { print $4, $5, $6, $15 }' "$S" | sort -u | wc -l) == \
   $(awk -F, 'NR > 1 && $3 == 0 && $1 == "chat"' "$S" | wc -l) ]] || fail "scale-0 rows differ between sources"
ls "$A"/trust/vectors/*.gguf | grep -q chat_reliability.gguf || fail "no chat vector file"
# the reversal results: base + ntp, bico, abi x the 4 subtasks, em and rank in [0, 1], 2 seeds
RV=$A/reversal/results.csv
for o in base ntp bico abi; do
    for t in N2D D2N N2D-reverse D2N-reverse; do
        [[ $(grep -c "^$o,[^,]*,$t," "$RV") == 1 ]] || fail "reversal: no single $o x $t row"
    done
done
[[ $(wc -l < "$RV") == 17 ]] || fail "reversal/results.csv: $(wc -l < "$RV") lines"
awk -F, 'NR > 1 { for (i = 7; i <= 10; i++) if ($i == "" || $i < 0 || $i > 1) exit 1; if ($1 != "base" && $6 != 2) exit 1 }' \
    "$RV" || fail "reversal: em/rank out of [0, 1] or not 2 seeds"
for f in reversal_choice.svg reversal_em.svg reversal_rank.svg per_seed.csv results.json table.txt; do
    [[ -s $A/reversal/$f ]] || fail "reversal: no $f"
done
# the calibrated choice (R's primary measure): its columns, in [0, 1] with its interval, the sign-flip p
rv_col() { head -1 "$RV" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
for c in choice_mean choice_ci_lo choice_ci_hi choice_vs_ntp choice_vs_ntp_p choice_vs_ntp_mde candidates rank_chance; do
    [[ -n $(rv_col $c) ]] || fail "reversal/results.csv: no column $c"
done
awk -F, -v m="$(rv_col choice_mean)" -v lo="$(rv_col choice_ci_lo)" -v hi="$(rv_col choice_ci_hi)" \
    -v p="$(rv_col choice_vs_ntp_p)" 'NR > 1 { if ($m == "" || $m < 0 || $m > 1 || $lo > $m + 1e-5 || $hi < $m - 1e-5) exit 1
      if (($1 == "bico" || $1 == "abi") && ($p == "" || $p <= 0 || $p > 1)) exit 1 }' "$RV" ||
    fail "reversal: calibrated choice out of [0, 1], outside its interval, or no sign-flip p"
grep -q 'bootstrap CI over people' "$A/reversal/reversal_choice.svg" || fail "reversal_choice.svg: no interval in the title"
[[ $(wc -l < "$A/reversal/data/p2d_prompts_test.jsonl") == 24 ]] || fail "reversal: test items not thinned to 24"
# RE-Control: header + 7 methods
[[ $(wc -l < "$A/recontrol/results.csv") == 8 && -s $A/recontrol/value.gguf && -s $A/recontrol/reward.svg ]] ||
    fail "recontrol: results.csv / value.gguf / reward.svg"
RCD=$A/recontrol/design.json
[[ -s $RCD && -s $A/recontrol/reward.gguf ]] || fail "recontrol: design.json / reward.gguf"
for k in heldout_accuracy_lo chosen_step chosen_iters min_effect_sd validation_grid; do
    grep -q "\"$k\"" "$RCD" || fail "recontrol/design.json: no $k"
done
# the judge's gaming check: every kind measured on the held-out replies, degenerate training pairs
jq -e '.reward_model | .degenerate_pairs_train > 0 and .gaming_check.n > 0 and .gaming_check.level == 0.9 and
       .gaming_check.share_lo >= 0 and .gaming_check.share_lo <= 1 and
       ([.gaming_check.by_kind | keys[]] | sort == ["noise", "punct", "repeat", "shuffle", "truncate"])' "$RCD" \
    >/dev/null || fail "recontrol/design.json: gaming check: $(jq -c .reward_model "$RCD")"
# the table names the reward model by its file, not by a path
head -1 "$A/recontrol/table.txt" | grep -q "model:reward.gguf)" && ! head -1 "$A/recontrol/table.txt" | grep -q "$A" ||
    fail "recontrol/table.txt title: $(head -1 "$A/recontrol/table.txt")"
# the reward varies over plain decoding's responses (the world's word rule was 0 on every one)
n_rw=$(awk -F, 'NR > 1 && $1 == "plain" { print $3 }' "$A/recontrol/items.csv" | sort -u | wc -l)
[[ $n_rw -gt 1 ]] || fail "recontrol: plain's reward takes $n_rw value(s) over the test prompts"
pass "every stage wrote its outputs ($n_ckpt checkpoints; steering sources $srcs; reversal 4 x 4 rows)"

# ---- the report ----
R=$A/report.html
for t in "${TITLES[@]}"; do grep -qF "<h2>$t</h2>" "$R" || fail "report: no section '$t'"; done
grep -qF "Last token vs mean pooling" "$R" || fail "report: no pooling table"
grep -q '<script\|<link \| src=\|url(' "$R" && fail "report is not self-contained"
n_svg=$(grep -c '<svg ' "$R")
(( n_svg >= 19 )) || fail "report: $n_svg charts"
# every chart names its data file, and that file exists
grep -o '(data: [^)]*)' "$R" | sed 's/(data: \(.*\))/\1/' | sort -u > "$W/data.txt"
[[ $(wc -l < "$W/data.txt") -ge 15 ]] || fail "charts without data files: $(cat "$W/data.txt")"
while read -r f; do [[ -s $A/$f ]] || fail "chart data $f missing"; done < "$W/data.txt"
pass "report.html: ${#TITLES[@]} sections, $n_svg inline charts, each with its CSV"

# ---- findings.json / findings.md: the structure, and the verdict rule applied to the file's own numbers ----
FJ=$A/findings.json
[[ -s $FJ && -s $A/findings.md ]] || fail "no findings.json / findings.md"
check_findings() { # $1: findings.json; the rule of docs/analysis.md re-implemented here, independently of findings.c
    jq -e '
      def rule(m; k; a): if m == 0 then "cannot tell" elif a == 0 and 2 * k > m then "supported"
                         elif a == 0 and k == 0 then "null" else "not supported" end;
      def holm: . as $p | ($p | length) as $n | [range($n)] | sort_by($p[.]) as $o
                | reduce range($n) as $i ({m: 0, adj: []};
                    .m = ([.m, ([1, ($n - $i) * $p[$o[$i]]] | min)] | max) | .adj[$o[$i]] = .m) | .adj;
      .format == "tiller-findings" and .alpha > 0 and ([.findings[].id] == ["K", "F1", "F2", "F3", "R", "RC", "SA"]) and
      (.alpha as $al | all(.findings[];
        (.paper_claim | length > 0) and (.result | length > 0) and (.test | length > 0) and
        (.verdict | IN("supported", "not supported", "null", "cannot tell")) and
        ([.units[] | select(.eligible)] | length) == .eligible and
        ([.units[] | select(.eligible and .pass)] | length) == .pass and
        ([.units[] | select(.eligible and .against)] | length) == .against and
        .verdict == rule(.eligible; .pass; .against) and
        all(.units[]; (.pass | not) or (.p_holm <= $al and .effect > 0)) and
        all(.units[]; (.against | not) or (.p_holm <= $al and .effect < 0)) and
        all(.units[]; .eligible or ((.pass | not) and (.against | not))) and
        all(.units[]; (.n | type) == "number" and (.unit | length > 0)))) and
      # K and F1: Holm over the eligible units p-values, recomputed
      all(.findings[] | select(.id | IN("K", "F1", "R", "RC", "SA")) | [.units[] | select(.eligible)];
          . as $u | ([$u[].p] | holm) as $h | all(range($u | length); ($h[.] - $u[.].p_holm) as $e | $e * $e < 1e-18))' \
        "$1" >/dev/null
}
check_findings "$FJ" || fail "findings.json: structure, or a verdict against the rule: $(head -c 600 "$FJ")"
# F3 shows per task the + cell of its own vector with the largest trustworthy-ward difference on the validation
# half, reported on the test half: re-derived here from steering.csv, with its intervals
for tv in "world_truth_hop reliability 1" "world_toxicity_pair toxicity -1" "world_privacy privacy -1" \
          "world_sentiment robustness 1" "world_stereotype fairness -1"; do
    read -r t v d <<< "$tv"
    want=$(awk -F, -v t=$t -v v=$v -v d=$d 'NR > 1 && $4 == t && $15 == v && $3 > 0 && $21 != "" {
               if (!m) m = $5; if ($5 == m && (best == "" || d * $21 > best)) { best = d * $21; c = $1 " at +" $3; e = $23 } }
               END { print c "|" e }' "$S")
    jq -e --arg t "$t" --arg c "${want%|*}" --argjson e "${want#*|}" '.findings[] | select(.id == "F3") | .units[] |
          select(.unit | startswith($t + " ")) | .shown == $c and (.estimate - $e) * (.estimate - $e) < 1e-12 and
          0 <= .lo95 and .lo95 <= .estimate and .estimate <= .hi95 and .hi95 <= 1 and
          .reference_lo95 <= .reference and .reference <= .reference_hi95 and
          .difference_lo95 <= .difference and .difference <= .difference_hi95 and .p >= 0 and .p <= 1 and
          0 <= .baseline_lo95 and .baseline_lo95 <= .baseline + 1e-9 and .baseline <= .baseline_hi95 + 1e-9 and
          .difference_vs_baseline_lo95 <= .difference_vs_baseline and
          .difference_vs_baseline <= .difference_vs_baseline_hi95 and .p_vs_baseline >= 0 and .p_vs_baseline <= 1' \
          "$FJ" >/dev/null ||
        fail "F3 $t: shown cell not the validation choice ($want) or its intervals wrong: $(jq -c '.findings[3].units' "$FJ")"
    # the verdict's rule: a + cell passes when it moves towards trust beyond the unsteered model and beyond the
    # random directions (each Holm p <= 0.05) and its - cell does not move the same way (beyond the unsteered)
    pass=$(awk -F, -v t=$t -v v=$v -v d=$d 'NR > 1 && $4 == t && $15 == v { if (!m) m = $5; if ($5 != m) next
               key = $1 SUBSEP $3; diff[key] = $9; ph[key] = $14; dr[key] = $35; prh[key] = $39
               if ($3 == 0) base = $6 }
           END { n = 0; for (k in diff) { split(k, a, SUBSEP); if (a[2] <= 0) continue
                   km = a[1] SUBSEP (-a[2]); up = ph[k] != "" && ph[k] <= 0.05 && d * diff[k] > 0
                   both = up && (km in ph) && ph[km] != "" && ph[km] <= 0.05 && d * diff[km] > 0
                   if (up && !both && prh[k] != "" && prh[k] <= 0.05 && d * dr[k] > 0) n++ }
                 print (base >= 0.15 && base <= 0.85 && n > 0) ? "true" : "false" }' "$S")
    jq -e --arg t "$t" --argjson p "$pass" '.findings[] | select(.id == "F3") | .units[] |
          select(.unit | startswith($t + " ")) | .pass == $p' "$FJ" >/dev/null ||
        fail "F3 $t: pass is not the rule over steering.csv ($pass): $(jq -c '.findings[3].units' "$FJ")"
done
# R: each unit is the calibrated choice of results.csv with its sign-flip p, and the sentence is built from them
for u in "bico N2D-reverse" "abi N2D-reverse" "bico D2N-reverse" "abi D2N-reverse"; do
    read -r o t <<< "$u"
    want=$(awk -F, -v o=$o -v t=$t -v m="$(rv_col choice_mean)" -v p="$(rv_col choice_vs_ntp_p)" \
        '$1 == o && $3 == t { print $m "|" $p }' "$RV")
    jq -e --arg u "$u" --argjson e "${want%|*}" --argjson p "${want#*|}" '.findings[] | select(.id == "R") |
        (.units[] | select(.unit == $u) | (.estimate - $e) * (.estimate - $e) < 1e-10 and (.p - $p) * (.p - $p) < 1e-10)
        and (.result | contains($u) and contains("sign-flip p") and contains("chance 0.5")) and
        (.test | contains("sign-flip"))' "$FJ" >/dev/null || fail "R $u: not results.csv's choice ($want) or no sentence"
done
grep -q 'random x2, same norm' "$R" || fail "report: no random-direction rows in the steering table"
jq -r '.findings[] | "\(.id): \(.verdict) (\(.pass) of \(.eligible))"' "$FJ" | tr '\n' ';' > "$W/verdicts.txt"
grep -qF "<th>the study&#39;s claim</th>" "$R" && grep -q 'class="finding">Finding F1 ' "$R" &&
    grep -q 'class="finding">Finding F3 ' "$R" || fail "report: no findings table or no F1/F3 opening sentence"
# the same report over numbers where the model knows every fact: acts/knowledge.csv's final rows edited in place
# with the same byte counts (the stage marker still holds), so K must pass everywhere and F1 become eligible
C=$W/c
cp -a "$A" "$C"
last_k=$(awk -F, 'NR > 1 { print $3 }' "$C/acts/knowledge.csv" | sort -n | tail -1)
awk -F, -v OFS=, -v z="$last_k" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i }
    NR > 1 && $3 == z { $c["accuracy"] = $c["balanced_accuracy"] = "0.990000"; $c["lo95"] = $c["boot_lo95"] = "0.970000"
                        $c["hi95"] = $c["boot_hi95"] = "0.998000" } { print }' \
    "$C/acts/knowledge.csv" > "$W/k.csv"
[[ $(stat -c %s "$W/k.csv") == $(stat -c %s "$C/acts/knowledge.csv") ]] || fail "knowledge.csv edit changed its size"
cat "$W/k.csv" > "$C/acts/knowledge.csv"
# and a reward model at chance on its held-out pairs (the same byte count): RC must count no baseline
RCD_C=$C/recontrol/design.json
sed -E 's/("heldout_accuracy_lo":[[:space:]]*)0\.[0-9]/\10.1/' "$RCD_C" > "$W/design.json"
[[ $(stat -c %s "$W/design.json") == $(stat -c %s "$RCD_C") ]] && grep -qE '"heldout_accuracy_lo":[[:space:]]*0\.1' \
    "$W/design.json" || fail "design.json edit: $(grep heldout_accuracy_lo "$RCD_C")"
cat "$W/design.json" > "$RCD_C"
# and a judge that prefers degenerate replies (its gaming check's lower bound edited to 0.1)
sed -E 's/("share_lo":[[:space:]]*)0\.[0-9]/\10.1/' "$RCD_C" > "$W/design.json"
[[ $(stat -c %s "$W/design.json") == $(stat -c %s "$RCD_C") ]] || fail "design.json gaming edit changed its size"
cat "$W/design.json" > "$RCD_C"
"$T" demo --quick --out "$C" -t 1 -q > /dev/null || fail "report over the edited knowledge.csv"
jq -e '.findings[] | select(.id == "RC") | .eligible == 0 and .verdict == "cannot tell" and
       all(.units[]; .note | contains("not above chance") and contains("fails its gaming check"))' \
    "$C/findings.json" >/dev/null ||
    fail "a reward model at chance: RC still counts baselines: $(jq -c '.findings[] | select(.id == "RC")' "$C/findings.json" | head -c 600)"
# the gaming gate opens at a lower bound above the level (edited to 0.9x in a copy of the run)
G=$W/g
cp -a "$A" "$G"
sed -E 's/("share_lo":[[:space:]]*)0\.[0-9]/\10.9/' "$RCD" > "$W/design.json"
[[ $(stat -c %s "$W/design.json") == $(stat -c %s "$RCD") ]] || fail "design.json gaming edit changed its size"
cat "$W/design.json" > "$G/recontrol/design.json"
"$T" demo --quick --out "$G" -t 1 -q > /dev/null || fail "report over the edited gaming check"
jq -e '.findings[] | select(.id == "RC") | (.units | length) == 5 and
       all(.units[]; .note | contains("gaming") | not)' "$G/findings.json" >/dev/null ||
    fail "a judge passing its gaming check is still held back: $(jq -c '.findings[] | select(.id == "RC")' "$G/findings.json" | head -c 600)"
rm -rf "$G"
check_findings "$C/findings.json" || fail "edited findings.json: a verdict against the rule"
jq -e '.findings[0].verdict == "supported" and .findings[0].pass == 5 and .findings[1].eligible == 5' \
    "$C/findings.json" >/dev/null || fail "edited knowledge: K not supported or F1 not eligible: $(jq -c '.findings[0:2] | map({id, verdict, pass, eligible})' "$C/findings.json")"
rm -rf "$C"
pass "findings.json follows the verdict rule ($(cat "$W/verdicts.txt")); with known facts K is supported and F1 eligible"

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
grep -q "0 stages run, 15 skipped" "$W/a2.out" || fail "re-run: $(cat "$W/a2.out")"
md5sum -c --quiet "$W/a.md5" || fail "a re-run changed checkpoints"
pass "a re-run skips all 15 stages"

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
grep -q "12 stages run, 3 skipped" "$W/b.out" || fail "after the kill: $(cat "$W/b.out")"
for f in "$A"/pretrain/ckpt-*.gguf "$A"/sft/ckpt-*.gguf; do
    rel=${f#"$A"/}
    cmp -s "$f" "$B/$rel" || fail "$rel differs between the uninterrupted and the killed + resumed run"
done
for d in $DIMS; do
    cmp -s "$A/probe/$d/probe_accuracy.csv" "$B/probe/$d/probe_accuracy.csv" || fail "probe/$d differs"
done
cmp -s "$A/samples/samples.csv" "$B/samples/samples.csv" || fail "samples differ"
cmp -s "$A/eval/summary.csv" "$B/eval/summary.csv" || fail "eval differs"
cmp -s "$A/trust/steering.csv" "$B/trust/steering.csv" || fail "the steering table differs"
cmp -s "$A/reversal/results.csv" "$B/reversal/results.csv" || fail "the reversal results differ"
pass "killed with $n_before checkpoints written, the re-run finished: all checkpoints, probes, samples, evals, steering and reversal results identical"

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
set +e; err=$("$T" demo --quick --seeds 2 --out "$A" -t 1 -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"other settings"* ]] || fail "another seed count in the same directory: rc $rc: $err"
pass "other settings in the same directory are refused"

# ---- --seeds K: the probe and information-plane curves get bands over pre-training seeds
S2=$W/seeds2
"$T" demo --quick --seeds 2 --out "$S2" -q >/dev/null 2>&1 || fail "demo --seeds 2"
[[ -s $S2/seeds/seed-2/pretrain/manifest.json && -s $S2/seeds/seeds_probe_reliability.svg &&
   -s $S2/seeds/seeds_infoplane_toxicity.svg ]] || fail "--seeds 2: no second series or band charts"
# one band row per dimension x checkpoint x quantity, each over 2 seeds with min <= mean <= max; the bands
# are not all zero-width (two seeds train differently)
awk -F, 'NR > 1 { n++; if ($7 != 2 || !($5 <= $4 + 1e-9 && $4 <= $6 + 1e-9)) bad = 1; if ($6 - $5 > 1e-9) wide++ }
    END { exit bad || n != 5 * 2 * 8 || wide == 0 }' "$S2/seeds/seeds_bands.csv" || fail "--seeds 2: bands: $(head -3 "$S2/seeds/seeds_bands.csv")"
# the main seed's probe accuracies in the bands are the probe stage's own
main=$(awk -F, '$2 == 1 && $1 == "privacy" { printf "%.4f\n", $4 }' "$S2/seeds/seeds.csv" | tr '\n' ' ')
stage=$(awk -F, '$1 == "privacy" { printf "%.4f\n", $5 }' "$S2/probe/probe_best.csv" | tr '\n' ' ')
[[ -n $main && $main == "$stage" ]] || fail "--seeds 2: the main seed's accuracies ($main) are not the probe stage's ($stage)"
grep -q "over 2 seeds" "$S2/report.html" || fail "--seeds 2: no band section in the report"
# every seed's first and final checkpoints take the behavioural knowledge test; the main seed's final
# figures are the acts stage's own (acts/knowledge.csv, balanced accuracy and its bootstrap bounds)
awk -F, 'NR > 1 { n++; if ($6 < 0 || $6 > 1 || $7 > $6 + 1e-9 || $8 < $6 - 1e-9) bad = 1 }
    END { exit bad || n != 5 * 2 * 2 }' "$S2/seeds/seeds_knowledge.csv" ||
    fail "--seeds 2: seeds_knowledge.csv: $(head -3 "$S2/seeds/seeds_knowledge.csv")"
last=$(awk -F, 'NR > 1 { print $3 }' "$S2/acts/knowledge.csv" | sort -n | tail -1)
kmain=$(awk -F, -v st="$last" '$2 == 1 && $3 == st { printf "%s %.4f %.4f\n", $1, $6, $7 }' "$S2/seeds/seeds_knowledge.csv")
kacts=$(awk -F, -v st="$last" 'NR > 1 && $3 == st { printf "%s %.4f %.4f\n", $1, $11, $12 }' "$S2/acts/knowledge.csv")
[[ -n $kmain && $kmain == "$kacts" ]] || fail "--seeds 2: the main seed's knowledge ($kmain) is not the acts stage's ($kacts)"
grep -q "Knowledge over seeds" "$S2/report.html" || fail "--seeds 2: no knowledge-over-seeds finding in the report"
pass "--seeds 2: a second pre-training series, bands over seeds in seeds_bands.csv, charts and report"

touch "$W/file"
set +e; err=$("$T" demo --quick --out "$W/file/sub" -q 2>&1); rc=$?; set -e
[[ $rc == 1 && $err == *"$W/file"* ]] || fail "unwritable --out: rc $rc: $err"
[[ -e $W/file/sub ]] && fail "something was created under a file"
pass "unwritable --out: $err"
