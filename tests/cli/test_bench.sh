#!/bin/bash
# tiller bench: a short run on the real stories260K prints one JSON line per result;
# bad flags are usage errors (exit 2); a missing model file is an error (exit 1).
set -u
bin=${TILLER_BIN:?}
fail=0 pass=0
check() { if eval "$2"; then pass=$((pass + 1)); else echo "FAIL: $1"; fail=$((fail + 1)); fi; }

out=$("$bin" bench --model stories260K -p 16 -n 8 -r 1 --mem-mib 8 --json 2>&1)
rc=$?
check "bench exits 0 (got $rc: $out)" '[ $rc -eq 0 ]'
check "machine line" 'echo "$out" | grep -q "^{\"kind\":\"machine\",\"cpu\":"'
check "memory line" 'echo "$out" | grep -q "^{\"kind\":\"memory\",.*\"read_gbs\":[0-9]"'
check "model line with both figures" \
  'echo "$out" | grep "\"model\":\"stories260K\"" | grep "\"prefill_tps\":[0-9]" | grep -q "\"decode_tps\":[0-9]"'
check "one line per result" '[ "$(echo "$out" | wc -l)" -eq 3 ]'
if command -v /usr/bin/python3 >/dev/null; then
  check "every line is JSON" 'echo "$out" | /usr/bin/python3 -c "import json,sys; [json.loads(l) for l in sys.stdin]"'
fi

# --paired: per round, the decode-shaped probes, the old probe and one decode run; the round's read
# bandwidth is the fastest probe and the share is decode's GB/s over it
out=$("$bin" bench --model stories260K -p 8 -n 4 --paired 3 --mem-mib 8 --json 2>&1)
rc=$?
check "bench --paired exits 0 (got $rc: $out)" '[ $rc -eq 0 ]'
check "three paired lines" '[ "$(echo "$out" | grep -c "^{\"kind\":\"paired\",")" -eq 3 ]'
check "a median line" 'echo "$out" | grep -q "^{\"kind\":\"paired_median\",\"rounds\":3,"'
if command -v /usr/bin/python3 >/dev/null; then
  check "paired figures agree with each other" 'echo "$out" | /usr/bin/python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.startswith(\"{\")]
pr = [r for r in rows if r[\"kind\"] == \"paired\"]
for r in pr:
    probes = [r[k] for k in (\"sum4_gbs\", \"sum1_gbs\", \"memchr_gbs\", \"weights_gbs\")]
    assert min(probes) > 0 and r[\"old_read_gbs\"] > 0 and r[\"decode_tps\"] > 0, r
    assert abs(r[\"read_gbs\"] - max(probes)) < 0.011, r
    assert abs(r[\"share\"] - r[\"decode_gbs\"] / r[\"read_gbs\"]) < 1e-3 * max(1, r[\"share\"]), r
    assert r[\"probe_mb\"] >= r[\"weight_mb\"], r
"'
fi
"$bin" bench --model stories260K --paired 0 >/dev/null 2>&1; rc=$?
check "--paired 0 is a usage error (got $rc)" '[ $rc -eq 2 ]'
"$bin" bench --paired 2 >/dev/null 2>&1; rc=$?
check "--paired without one --model is a usage error (got $rc)" '[ $rc -eq 2 ]'

"$bin" bench -t 0 >/dev/null 2>&1; rc=$?
check "-t 0 is a usage error (got $rc)" '[ $rc -eq 2 ]'
"$bin" bench --reps x >/dev/null 2>&1; rc=$?
check "--reps x is a usage error (got $rc)" '[ $rc -eq 2 ]'
"$bin" bench --train --steps 0 >/dev/null 2>&1; rc=$?
check "--train --steps 0 is a usage error (got $rc)" '[ $rc -eq 2 ]'
err=$("$bin" bench --train --model stories7B 2>&1 >/dev/null); rc=$?
check "--train with an unknown shape is a usage error (got $rc)" '[ $rc -eq 2 ]'
check "message names the shape ($err)" 'echo "$err" | grep -q "stories7B"'
err=$("$bin" bench --no-memory --model /nonexistent/model.bin 2>&1 >/dev/null); rc=$?
check "missing model file fails with 1 (got $rc)" '[ $rc -eq 1 ]'
check "message names the file ($err)" 'echo "$err" | grep -q "/nonexistent/model.bin"'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
