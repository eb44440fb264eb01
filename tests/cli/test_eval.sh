#!/usr/bin/env bash
# tiller eval through the CLI: real and world tasks on stories260K write results.json and one CSV
# per task with the right rows; runs are reproducible and independent of --workers and --no-cache;
# bad flags, unknown tasks and malformed files fail cleanly and leave no result files.
set -u
T=${TILLER_BIN:?}
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
export OMP_NUM_THREADS=2
E() { "$T" eval --data "$S/data" "$@"; } # the real tasks' files under $TILLER_SHARED

"$T" eval --help > "$tmp/help" && ok || bad "--help failed"
for w in truthfulqa_mc arc_easy mmlu mathqa world_toxicity toxic_lexicon "first line break"; do
  grep -q "$w" "$tmp/help" && ok || bad "--help does not mention '$w'"
done

# real tasks: table on stdout, files in -o
E -m "$M" --tokenizer "$K" --task arc_easy,mmlu,truthfulqa_mc --limit 5 -o "$tmp/r1" > "$tmp/out1" 2>"$tmp/err" \
  && ok || bad "eval failed: $(cat "$tmp/err")"
for f in results.json arc_easy.csv mmlu.csv truthfulqa_mc.csv; do
  [ -s "$tmp/r1/$f" ] && ok || bad "$f missing"
done
[ "$(wc -l < "$tmp/r1/arc_easy.csv")" -eq 6 ] && ok || bad "arc_easy.csv should have a header and 5 rows"
head -1 "$tmp/r1/arc_easy.csv" | grep -q '^id,gold,pred,pred_norm,acc,acc_norm,ll_0,ll_1,ll_2,ll_3' && ok \
  || bad "arc_easy.csv header: $(head -1 "$tmp/r1/arc_easy.csv")"
head -1 "$tmp/r1/truthfulqa_mc.csv" | grep -q '^id,gold,pred,pred_norm,mc1,mc2,mc1_ll_0' && ok || bad "truthfulqa header"
grep -q '"mc2"' "$tmp/r1/results.json" && grep -q '"stderr"' "$tmp/r1/results.json" && ok || bad "results.json metrics"
grep -q 'acc_norm' "$tmp/out1" && grep -q 'mc1' "$tmp/out1" && ok || bad "table on stdout: $(cat "$tmp/out1")"

# reproducible, and the same numbers with one worker and without the prefix cache
E -m "$M" --tokenizer "$K" --task arc_easy,mmlu,truthfulqa_mc --limit 5 -o "$tmp/r2" --workers 1 -t 1 --no-cache \
  > /dev/null 2>&1 && ok || bad "second run failed"
for f in arc_easy.csv mmlu.csv truthfulqa_mc.csv; do
  cmp -s "$tmp/r1/$f" "$tmp/r2/$f" && ok || bad "$f differs with --workers 1 --no-cache"
done

# few-shot: longer contexts, still one row per item
E -m "$M" --tokenizer "$K" --task mathqa --fewshot 2 --limit 3 -o "$tmp/r3" > /dev/null 2>&1 && ok || bad "few-shot run"
[ "$(wc -l < "$tmp/r3/mathqa.csv")" -eq 4 ] && ok || bad "mathqa.csv rows"
grep -q '"fewshot":[[:space:]]*2' "$tmp/r3/results.json" && ok || bad "few-shot count not recorded"

# the world's sets
"$T" world --quick --seed 3 --out "$tmp/w" > /dev/null && ok || bad "world"
E -m "$M" --tokenizer "$K" --world "$tmp/w" --task world_truth,world_stereotype,world_capability,world_toxicity \
  --limit 8 --max-new 10 -o "$tmp/r4" > "$tmp/out4" 2>"$tmp/err" && ok || bad "world eval failed: $(cat "$tmp/err")"
for m in mc1 mc2 stereotype lm_score acc em toxicity; do
  grep -q " $m " "$tmp/out4" && ok || bad "metric $m missing from the table"
done
head -1 "$tmp/r4/world_toxicity.csv" | grep -q ',toxicity,generation$' && ok || bad "toxicity csv header"
grep -q 'lexicon' "$tmp/r4/results.json" && grep -q '"rule"' "$tmp/r4/results.json" && ok || bad "rules in results.json"
# sampled generations are reproducible for a seed
E -m "$M" --tokenizer "$K" --world "$tmp/w" --task world_toxicity --limit 4 --temp 1 --seed 9 -o "$tmp/s1" >/dev/null 2>&1
E -m "$M" --tokenizer "$K" --world "$tmp/w" --task world_toxicity --limit 4 --temp 1 --seed 9 -o "$tmp/s2" >/dev/null 2>&1
cmp -s "$tmp/s1/world_toxicity.csv" "$tmp/s2/world_toxicity.csv" && ok || bad "sampling with a seed is not reproducible"

# errors: usage (2), bad input (1), nothing written
expect() { # code, grep pattern, args...
  local code=$1 pat=$2; shift 2
  E "$@" > /dev/null 2>"$tmp/e"; local rc=$?
  [ $rc -eq "$code" ] && grep -q -- "$pat" "$tmp/e" && ok || bad "eval $* -> $rc: $(cat "$tmp/e")"
}
expect 2 "-m MODEL is required" --task arc_easy
expect 2 "--task T is required" -m "$M"
expect 2 "--limit must be" -m "$M" --task arc_easy --limit -1
expect 2 "bad integer" -m "$M" --task arc_easy --fewshot x
expect 1 "unknown task 'arc_medium'" -m "$M" --tokenizer "$K" --task arc_medium
expect 1 "pass --world DIR" -m "$M" --tokenizer "$K" --task world_truth
expect 2 "carries no tokenizer" -m "$M" --task arc_easy --limit 1
printf '{"id":"x","question":{"stem":"s","choices":[{"text":"t","label":"A"}]},"answerKey":"Z"}\n' > "$tmp/bad.jsonl"
expect 1 "bad.jsonl: item 1: answerKey 'Z'" -m "$M" --tokenizer "$K" --task arc_easy --file "$tmp/bad.jsonl" -o "$tmp/r5"
[ ! -e "$tmp/r5/results.json" ] && [ ! -e "$tmp/r5/arc_easy.csv" ] && ok || bad "files written after an error"
expect 1 "cannot" -m "$M" --tokenizer "$K" --task arc_easy --limit 1 -o /proc/nope/dir

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
