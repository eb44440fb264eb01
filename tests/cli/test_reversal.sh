#!/usr/bin/env bash
# tiller reversal end to end at toy scale: stories260K fine-tuned for a few steps on a quick
# world's name<->description facts with ntp, bico and abi over two seeds; the result files
# exist and are well-formed (rows, columns, values in range, SVG bars), a run is reproducible,
# the original reversal_curse files load, and bad input fails cleanly without result files.
set -u
T=${TILLER_BIN:?}
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
R=$S/data/reversal_curse/june_version_7921032488
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
export OMP_NUM_THREADS=1 # tiny models: one thread is fastest, and the machine is shared

"$T" reversal --help > "$tmp/help" && ok || bad "--help failed"
for w in N2D-reverse D2N-reverse bico abi mirror results.csv reversal_em.svg --seeds; do
  grep -q -- "$w" "$tmp/help" && ok || bad "--help does not mention '$w'"
done
"$T" train --help | grep -q "bico" && "$T" train --help | grep -q "abi" && ok || bad "train --help lacks bico/abi"

"$T" world --out "$tmp/w" --quick > /dev/null 2>&1 && ok || bad "world failed"
D=$tmp/w/reversal
RUN=(-m "$M" --tokenizer "$K" --data "$D" --steps 3 --limit 3 --batch 4 --max-new 8 -q)

"$T" reversal "${RUN[@]}" --objective ntp,bico:p=1,abi:p=1 --seeds 2 -o "$tmp/r1" > "$tmp/out1" 2> "$tmp/err" \
  && ok || bad "reversal failed: $(cat "$tmp/err")"
for f in results.csv per_seed.csv results.json table.txt reversal_em.svg reversal_rank.svg train.tokens \
         items/base-N2D.csv items/bico_p=1-seed2-D2N-reverse.csv runs/abi_p=1-seed1/train_log.csv runs/ntp-seed2/manifest.json; do
  [ -s "$tmp/r1/$f" ] && ok || bad "$f missing or empty"
done
[ ! -e "$tmp/r1/runs/ntp-seed1/ckpt-3.gguf" ] && ok || bad "checkpoints should be removed without --keep-runs"
# results.csv: header + (base + 3 objectives) x 4 subtasks; per_seed.csv: base 4 + 3 x 2 seeds x 4
[ "$(wc -l < "$tmp/r1/results.csv")" -eq 17 ] && ok || bad "results.csv rows: $(wc -l < "$tmp/r1/results.csv")"
[ "$(wc -l < "$tmp/r1/per_seed.csv")" -eq 29 ] && ok || bad "per_seed.csv rows: $(wc -l < "$tmp/r1/per_seed.csv")"
head -1 "$tmp/r1/results.csv" | grep -q '^objective,spec,subtask,file,n_items,seeds,em_mean,em_std,rank_mean,rank_std,logp_mean' \
  && ok || bad "results.csv header: $(head -1 "$tmp/r1/results.csv")"
grep -q '^bico:p=1,bico:p=1,N2D-reverse,p2d_reverse_prompts_test.jsonl,3,2,' "$tmp/r1/results.csv" && ok \
  || bad "results.csv has no bico N2D-reverse row with 3 items and 2 seeds"
grep -q '^ntp,sft,' "$tmp/r1/results.csv" && ok || bad "ntp should train with the sft objective"
# every rate in [0, 1], every log-probability < 0, stds >= 0 (quoted specs hold commas: blanked first)
sed 's/"[^"]*"/Q/g' "$tmp/r1/results.csv" > "$tmp/plain.csv"
awk -F, 'NR > 1 { for (i = 7; i <= 10; i++) if ($i < 0 || $i > 1) exit 1;
                  if ($11 >= 0 || $13 >= 0 || $12 < 0 || $14 < 0) exit 1 }' "$tmp/plain.csv" && ok \
  || bad "values out of range in results.csv"
# the intervals over people hold the mean (printed to 6 digits); differences against ntp only
# for bico and abi, with p in [0, 1] or empty (all differences 0)
head -1 "$tmp/r1/results.csv" | grep -q ',people,em_ci_lo,em_ci_hi,rank_ci_lo,rank_ci_hi,em_vs_ntp,' && ok \
  || bad "results.csv lacks the interval columns"
awk -F, 'NR > 1 { if ($15 < 1 || $16 > $7 + 1e-5 || $17 < $7 - 1e-5 || $18 > $9 + 1e-5 || $19 < $9 - 1e-5) exit 1;
                  if ($1 == "base" || $1 == "ntp") { if ($20 != "" || $24 != "") exit 1 }
                  else if ($20 == "" || ($23 != "" && ($23 < 0 || $23 > 1))) exit 1 }' "$tmp/plain.csv" && ok \
  || bad "intervals or differences in results.csv are inconsistent"
grep -q '"ci95_people"' "$tmp/r1/results.json" && grep -q '"vs_ntp"' "$tmp/r1/results.json" && ok \
  || bad "results.json lacks the intervals"
grep -q '95% bootstrap interval over people' "$tmp/r1/table.txt" && ok || bad "table.txt lacks the intervals"
awk -F, 'NR > 1 && $1 != "base" { if ($8 == "" || $8 <= 0) exit 1 }' "$tmp/r1/per_seed.csv" && ok \
  || bad "per_seed.csv lacks the final training loss"
# the three objectives trained differently (p=1: every batch masks)
loss() { awk -F, -v o="$1" '$1 == o && $3 == "N2D" { printf "%s ", $8 }' "$tmp/r1/per_seed.csv"; }
[ "$(loss ntp)" != "$(loss bico:p=1)" ] && [ "$(loss ntp)" != "$(loss abi:p=1)" ] && [ "$(loss bico:p=1)" != "$(loss abi:p=1)" ] \
  && ok || bad "final losses ntp '$(loss ntp)' bico '$(loss bico:p=1)' abi '$(loss abi:p=1)' should differ"
# the mean in results.csv is the mean of the seeds in per_seed.csv (bico, N2D, rank)
want=$(awk -F, '$1 == "abi:p=1" && $3 == "N2D" { s += $5; n++ } END { printf "%.4f", s / n }' "$tmp/r1/per_seed.csv")
got=$(awk -F, '$1 == "abi:p=1" && $3 == "N2D" { printf "%.4f", $9 }' "$tmp/plain.csv")
[ "$want" = "$got" ] && ok || bad "rank mean $got != mean of seeds $want"
grep -q '"exact_match_rule"' "$tmp/r1/results.json" && grep -q '"N2D-reverse"' "$tmp/r1/results.json" \
  && grep -q '"generation"' "$tmp/r1/results.json" && ok || bad "results.json content"
for f in reversal_choice.svg reversal_em.svg reversal_rank.svg; do
  head -c 4 "$tmp/r1/$f" | grep -q '<svg' && tail -1 "$tmp/r1/$f" | grep -q '</svg>' && ok || bad "$f is not an SVG"
  # one bar per (objective, subtask): 4 x 4 rects with a tooltip, and a dashed chance line per subtask
  # (the calibrated choice is undefined with one person a subtask: no bars there; see the run below)
  want=16; [ "$f" = reversal_choice.svg ] && want=0
  [ "$(grep -c '<rect[^>]*><title>' "$tmp/r1/$f")" -eq $want ] && ok || bad "$f: $(grep -c '<rect[^>]*><title>' "$tmp/r1/$f") bars, want $want"
  [ "$(grep -c '<line[^>]*stroke-dasharray[^>]*><title>chance' "$tmp/r1/$f")" -eq 4 ] && ok || bad "$f: no chance line per subtask"
  grep -q 'bootstrap CI over people' "$tmp/r1/$f" && grep -q 'n = 3 items' "$tmp/r1/$f" && ok || bad "$f: title lacks n or the interval"
done
grep -q '<title>ntp / N2D: [0-9.e-]* \[' "$tmp/r1/reversal_rank.svg" && ok || bad "rank bars lack their [lo, hi] tooltips"

# the calibrated choice: columns, values in [0, 1], the sign-flip test; blocks of 5 people (the
# quick world has 10 per subset) and every item (--limit 3 holds one person: the choice is undefined)
"$T" reversal -m "$M" --tokenizer "$K" --data "$D" --steps 2 --batch 4 --max-new 4 -q --objective ntp,bico:p=1 \
  --seeds 1 --choices 5 -o "$tmp/c1" > /dev/null 2> "$tmp/err" && ok || bad "--choices 5 failed: $(cat "$tmp/err")"
hdr=$(head -1 "$tmp/c1/results.csv")
for c in choice_mean choice_ci_lo choice_ci_hi choice_vs_ntp choice_vs_ntp_p choice_vs_ntp_mde candidates rank_chance choice_chance mde_alpha; do
  echo ",$hdr," | grep -q ",$c," && ok || bad "results.csv lacks column $c"
done
col() { echo "$hdr" | tr , '\n' | grep -nx "$1" | cut -d: -f1; }
awk -F, -v m="$(col choice_mean)" -v lo="$(col choice_ci_lo)" -v hi="$(col choice_ci_hi)" -v p="$(col choice_vs_ntp_p)" \
    -v k="$(col candidates)" -v rc="$(col rank_chance)" -v cc="$(col choice_chance)" '
  NR > 1 { if ($m == "" || $m < 0 || $m > 1 || $lo > $m + 1e-5 || $hi < $m - 1e-5) exit 1;
           if ($k != 5 || $rc != 0.2 || $cc != 0.5) exit 1;
           if ($1 == "bico:p=1" && ($p == "" || $p < 0 || $p > 1)) exit 1;
           if ($1 != "bico:p=1" && $p != "") exit 1 }' "$tmp/c1/results.csv" && ok \
  || bad "calibrated choice columns out of range: $(cat "$tmp/c1/results.csv")"
[ "$(grep -c '<rect[^>]*><title>' "$tmp/c1/reversal_choice.svg")" -eq 12 ] && ok || bad "reversal_choice.svg: want 3 x 4 bars"
grep -q '^calibrated two-way choice (primary' "$tmp/c1/table.txt" && grep -q 'sign-flip p' "$tmp/c1/table.txt" && ok \
  || bad "table.txt lacks the calibrated choice"
grep -q '"p_signflip"' "$tmp/c1/results.json" && grep -q '"choice_rule"' "$tmp/c1/results.json" && ok \
  || bad "results.json lacks the sign-flip p or the choice rule"
# with --limit 3 the choice is undefined (one person): empty fields, no crash
awk -F, -v m="$(col choice_mean)" 'NR > 1 && $m != "" { exit 1 }' "$tmp/plain.csv" && ok || bad "undefined choice should be empty"
expect_choice_fail() { "$T" reversal "${RUN[@]}" --choices 1 -o "$tmp/b0" > /dev/null 2> "$tmp/err"; [ $? -eq 1 ] && grep -q "1 candidate" "$tmp/err"; }
expect_choice_fail && ok || bad "--choices 1 should fail: $(cat "$tmp/err")"
grep -q 'N2D-reverse' "$tmp/out1" && grep -q '^bico:p=1 ' "$tmp/out1" && grep -q 'results in' "$tmp/out1" && ok \
  || bad "table on stdout: $(cat "$tmp/out1")"
cmp -s "$tmp/out1" "$tmp/r1/table.txt" 2>/dev/null || grep -qF "$(head -1 "$tmp/r1/table.txt")" "$tmp/out1" && ok \
  || bad "table.txt differs from stdout"

# reproducible: bico alone, seed 2 alone, gives the same numbers as inside the first run
"$T" reversal "${RUN[@]}" --objective bico:p=1 --seed 2 --seeds 1 --no-base -o "$tmp/r2" > /dev/null 2>&1 && ok \
  || bad "rerun failed"
cmp -s <(grep '^bico:p=1,2,' "$tmp/r1/per_seed.csv") <(grep '^bico:p=1,2,' "$tmp/r2/per_seed.csv") && ok \
  || bad "bico's per-seed results differ between identical runs"
# a rerun into the same folder replaces the results (the runs start afresh)
"$T" reversal "${RUN[@]}" --objective ntp --steps 1 --seeds 1 --no-base -o "$tmp/r2" > /dev/null 2> "$tmp/err" && ok \
  || bad "rerun into an existing folder failed: $(cat "$tmp/err")"
[ "$(wc -l < "$tmp/r2/results.csv")" -eq 5 ] && ok || bad "replaced results.csv should have 4 rows"

# the original reversal_curse files load and run (one step, two items per subtask)
if [ -d "$R" ]; then
  "$T" reversal -m "$M" --tokenizer "$K" --data "$R" --objective ntp --steps 1 --limit 1 --max-new 4 --seeds 1 --no-base -q \
    -o "$tmp/orig" > "$tmp/out" 2> "$tmp/err" && ok || bad "original data: $(cat "$tmp/err")"
  grep -q '^ntp,sft,N2D,p2d_prompts_test.jsonl,1,1,' "$tmp/orig/results.csv" && ok || bad "original data results"
fi

# bad input: clear message, non-zero exit, no result files
expect_fail() { # code pattern out args...
  local code=$1 pat=$2 out=$3; shift 3
  "$T" reversal "$@" -o "$out" > /dev/null 2> "$tmp/err"; local rc=$?
  [ "$rc" -eq "$code" ] && ok || bad "'$*' exited $rc, want $code"
  grep -q -- "$pat" "$tmp/err" && ok || bad "'$*': message lacks '$pat': $(cat "$tmp/err")"
  [ ! -e "$out/results.csv" ] && ok || bad "'$*' left results.csv"
}
expect_fail 2 "missing -m" "$tmp/b1" --data "$D"
expect_fail 2 "missing --data" "$tmp/b2" -m "$M"
expect_fail 2 "seeds 0" "$tmp/b3" "${RUN[@]}" --seeds 0
expect_fail 1 "no-such-dir" "$tmp/b4" -m "$M" --tokenizer "$K" --data "$tmp/no-such-dir"
expect_fail 1 "unknown objective 'mlm'" "$tmp/b5" "${RUN[@]}" --objective ntp,mlm
expect_fail 1 "mask=2" "$tmp/b6" "${RUN[@]}" --objective bico:mask=2
expect_fail 1 "unknown option 'q'" "$tmp/b7" "${RUN[@]}" --objective abi:q=1
expect_fail 1 "carries no tokenizer" "$tmp/b8" -m "$M" --data "$D" --steps 1
expect_fail 1 "no-model.gguf" "$tmp/b9" -m "$tmp/no-model.gguf" --tokenizer "$K" --data "$D"
cp -r "$D" "$tmp/d1" && rm "$tmp/d1/p2d_reverse_prompts_test.jsonl"
expect_fail 1 "p2d_reverse_prompts_test.jsonl" "$tmp/b10" "${RUN[@]}" --data "$tmp/d1"
cp -r "$D" "$tmp/d2" && sed -i '3s/.*/{"prompt": "x", "completion": /' "$tmp/d2/d2p_prompts_test.jsonl"
expect_fail 1 "d2p_prompts_test.jsonl: line 3" "$tmp/b11" "${RUN[@]}" --data "$tmp/d2"
cp -r "$D" "$tmp/d3" && sed -i '2s/"completion"/"answer"/' "$tmp/d3/p2d_prompts_test.jsonl"
expect_fail 1 "completion" "$tmp/b12" "${RUN[@]}" --data "$tmp/d3"
cp -r "$D" "$tmp/d4" && rm "$tmp/d4/both_prompts_train.jsonl"
expect_fail 1 "both_prompts_train.jsonl" "$tmp/b13" "${RUN[@]}" --data "$tmp/d4"
[ ! -e "$tmp/b13/train.tokens" ] && ok || bad "a missing training file should stop before tokenizing"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
