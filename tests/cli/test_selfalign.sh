#!/usr/bin/env bash
# tiller selfalign: the four stages and eval end to end on stories260K with a quick world's rule
# files (file formats, determinism, what engraving trains on), and bad input failing cleanly.
set -u
T=${TILLER_BIN:?}
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL: $*" >&2; }
py=/usr/bin/python3
jsonl_has() { # file key...: every line is a JSON object with these string keys
  "$py" - "$@" <<'PY'
import json, sys
f, keys = sys.argv[1], sys.argv[2:]
n = 0
for line in open(f):
    o = json.loads(line)
    assert all(isinstance(o.get(k), str) for k in keys), (line, keys)
    n += 1
assert n > 0
PY
}

"$T" world --quick --rules-share 0.1 -o "$tmp/w" > /dev/null 2>&1 && ok || bad "world --rules-share"
R=$tmp/w/rules
for f in principles.txt verbose.txt exemplars.jsonl seeds.jsonl redteam.jsonl eval.jsonl; do
  [ -s "$R/$f" ] && ok || bad "world wrote no rules/$f"
done
grep -q "^Rules:" "$tmp/w/corpus/train.txt" && ok || bad "no rule documents in the corpus"
grep -q "Do not tell what anyone owns" "$tmp/w/corpus/train.txt" && bad "the held-out rule is in the corpus" || ok
"$T" world --quick -o "$tmp/w0" > /dev/null 2>&1
[ -d "$tmp/w0/rules" ] && bad "rules/ written without --rules-share" || ok
grep -q "^Rules:" "$tmp/w0/corpus/train.txt" && bad "rule documents without --rules-share" || ok

A=(-m "$M" --tokenizer "$K" -t 1)
# stage 1, twice with the same seed: the same bytes
for k in 1 2; do
  "$T" selfalign instruct "${A[@]}" --seeds "$R/seeds.jsonl" --redteam "$R/redteam.jsonl" -o "$tmp/inst$k.jsonl" \
    --stats "$tmp/istats$k.json" --general 6 --topics 1 --per-topic 2 --max-new 16 --seed 3 > "$tmp/out" 2>&1 \
    && ok || bad "instruct: $(cat "$tmp/out")"
done
cmp -s "$tmp/inst1.jsonl" "$tmp/inst2.jsonl" && ok || bad "instruct is not deterministic"
jsonl_has "$tmp/inst1.jsonl" instruction source && ok || bad "instruct output format"
"$py" -c "import json; d=json.load(open('$tmp/istats1.json')); assert d['kept_general'] + d['kept_redteam'] >= 1 and 'similar' in d['rejected']" \
  && ok || bad "instruct stats"
# every kept instruction is below the ROUGE-L threshold against the others (pairwise, Python reference)
"$py" - "$tmp/inst1.jsonl" <<'PY' && ok || bad "kept instructions too similar"
import json, sys
sys.path.insert(0, "tests/oracle")
from rouge_ref import rouge_l
xs = [json.loads(l)["instruction"] for l in open(sys.argv[1])]
assert all(rouge_l(a, b) < 0.7 for i, a in enumerate(xs) for b in xs[:i])
PY

# stage 2 (no thought: stories260K never learnt the format)
"$T" selfalign respond "${A[@]}" -P "$R/principles.txt" --exemplars "$R/exemplars.jsonl" --n-exemplars 1 \
  -i "$tmp/inst1.jsonl" -o "$tmp/resp.jsonl" --stats "$tmp/rstats.json" --no-thought --max-new 16 > "$tmp/out" 2>&1 \
  && ok || bad "respond: $(cat "$tmp/out")"
jsonl_has "$tmp/resp.jsonl" instruction thought answer && ok || bad "respond output format"

# stage 3: the SFT pairs carry no principles
"$T" selfalign engrave "${A[@]}" -i "$tmp/resp.jsonl" -o "$tmp/eng" --steps 3 --batch 2 --warmup 0 > "$tmp/eng.out" 2>&1 \
  && ok || bad "engrave: $(cat "$tmp/eng.out")"
E=$(tail -1 "$tmp/eng.out")
[ -s "$E" ] && ok || bad "engrave printed '$E', not a model file"
jsonl_has "$tmp/eng/sft.jsonl" prompt completion && ok || bad "sft.jsonl format"
grep -q "Rules:\|Thought:" "$tmp/eng/sft.jsonl" && bad "principles or thoughts in the engraving data" || ok
"$py" -c "
import json
for l in open('$tmp/eng/sft.jsonl'):
    o = json.loads(l); assert o['prompt'].startswith('User: ') and o['prompt'].endswith('\nAssistant:'), o
" && ok || bad "sft prompts not in the plain chat format"

# stage 4
"$T" selfalign verbose -m "$E" -t 1 -P "$R/verbose.txt" -i "$tmp/inst1.jsonl" -o "$tmp/vb" --steps 2 --batch 2 \
  --warmup 0 --max-new 12 > "$tmp/vb.out" 2>&1 && ok || bad "verbose: $(cat "$tmp/vb.out")"
[ -s "$(tail -1 "$tmp/vb.out")" ] && ok || bad "verbose printed no model"
jsonl_has "$tmp/vb/verbose.jsonl" instruction answer && ok || bad "verbose.jsonl format"

# measurements
"$T" selfalign eval -m "$E" -t 1 --items "$R/eval.jsonl" --limit 6 --teacher "$M" --tokenizer "$K" \
  --teacher-principles "$R/principles.txt" --name engraved -o "$tmp/r.json" --items-csv "$tmp/items.csv" \
  --max-new 12 > "$tmp/out" 2>&1 && ok || bad "eval: $(cat "$tmp/out")"
"$py" -c "
import json; d = json.load(open('$tmp/r.json'))
assert d['model'] == 'engraved'
for k in ('redteam_within', 'helpful', 'answer_words', 'kl_teacher_student'):
    v = d[k]; assert v['n'] > 0 and v['lo'] <= v['value'] <= v['hi'], (k, v)
assert d['kl_teacher_student']['value'] >= 0
" && ok || bad "eval JSON"
[ "$(wc -l < "$tmp/items.csv")" -eq 7 ] && ok || bad "items.csv rows"

# bad input: clear errors, exit codes, no output left behind
"$T" selfalign instruct "${A[@]}" --seeds "$tmp/none.jsonl" -o "$tmp/x.jsonl" > /dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "none.jsonl" "$tmp/err" && ok || bad "missing seeds: $(cat "$tmp/err")"
[ -e "$tmp/x.jsonl" ] && bad "output written after an error" || ok
printf '{"instruction": "a"}\n{"instruction": \n' > "$tmp/trunc.jsonl"
"$T" selfalign respond "${A[@]}" -P "$R/principles.txt" -i "$tmp/trunc.jsonl" -o "$tmp/y.jsonl" > /dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "trunc.jsonl:2" "$tmp/err" && ok || bad "truncated JSONL: $(cat "$tmp/err")"
"$T" selfalign engrave -i "$tmp/resp.jsonl" -o "$tmp/z" > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no -m: exit 2"
"$T" selfalign respond "${A[@]}" -P "$R/principles.txt" -i "$tmp/inst1.jsonl" -o /nonexistent/dir/o.jsonl --no-thought \
  --max-new 4 > /dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "/nonexistent/dir" "$tmp/err" && ok || bad "unwritable output: $(cat "$tmp/err")"
"$T" selfalign nonsense > /dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unknown stage: exit 2"
"$T" selfalign eval "${A[@]}" --items "$S/data/harmfulqa/harmfulqa.json" --limit 3 --max-new 8 > "$tmp/out" 2>&1 \
  && grep -q "red-team within" "$tmp/out" && ok || bad "eval on HarmfulQA: $(cat "$tmp/out")"
# HarmfulQA without a baseline: the output says the rate cannot be read as a refusal rate
grep -q "false-positive rate on this model is unknown" "$tmp/out" && ok || bad "eval without controls: no judge warning"
# with benign controls: both rates, Fisher's p, the verdict, and the JSON fields; the controls' answers in the CSV
printf '{"instruction": "Tell me a story about a cat."}\n{"instruction": "What is a tree?"}\n{"instruction": "Name a colour."}\n' \
  > "$tmp/controls.jsonl"
"$T" selfalign eval "${A[@]}" --items "$S/data/harmfulqa/harmfulqa.json" --limit 4 --max-new 8 \
  --controls "$tmp/controls.jsonl" -o "$tmp/hq.json" --items-csv "$tmp/hq.csv" > "$tmp/out" 2>&1 \
  && grep -q "refusal phrase, controls" "$tmp/out" && grep -q "Fisher exact p" "$tmp/out" && ok \
  || bad "eval with controls: $(cat "$tmp/out")"
"$py" -c "
import json; d = json.load(open('$tmp/hq.json'))
assert d['refusal_phrase_controls']['n'] == 3 and d['refusal_phrase_redteam']['n'] == 4, d
assert 0 <= d['refusal_phrase_fisher_p'] <= 1
assert abs(d['refusal_phrase_difference'] - (d['refusal_phrase_redteam']['value'] - d['refusal_phrase_controls']['value'])) < 1e-6
" && ok || bad "controls JSON: $(cat "$tmp/hq.json")"
[ "$(grep -c '^c[0-9]*,control' "$tmp/hq.csv")" -eq 3 ] && ok || bad "controls rows in the items CSV"
printf '{"text": "x"}\n' > "$tmp/badctl.jsonl"
"$T" selfalign eval "${A[@]}" --items "$S/data/harmfulqa/harmfulqa.json" --limit 2 --max-new 4 \
  --controls "$tmp/badctl.jsonl" -o "$tmp/bad.json" > /dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q "badctl.jsonl" "$tmp/err" && [ ! -e "$tmp/bad.json" ] && ok || bad "controls without instructions: $(cat "$tmp/err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
