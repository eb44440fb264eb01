#!/bin/bash
# Faults around training: an unwritable or full output directory is reported before
# training starts (or, when the disk fills mid-run, with the file and the OS error,
# keeping the last good checkpoint); an infinite loss stops the run naming the step,
# with exit code 1, the last good checkpoint and manifest untouched, and resumable.
source "$(dirname "$0")/train_lib.sh"
make_ids "$W/a.ids" 200
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" >/dev/null 2>&1
ARGS="-d $W/a.tok $TINY --lr 3e-3 --warmup 2 --threads 1 -q"
set +e

# --- unwritable output directory: fails before the first step
touch "$W/file"
for dir in "$W/file/run" /proc/tiller-no-such/run; do
    err=$("$T" train $ARGS --steps 5 -o "$dir" 2>&1); rc=$?
    [[ $rc == 1 && $err == *"$dir"* && $err == *"cannot create directory"* ]] || fail "unwritable $dir: rc $rc: $err"
done
mkdir -p "$W/ro" && chmod 555 "$W/ro"
if [[ $(id -u) != 0 ]]; then   # root ignores permissions
    err=$("$T" train $ARGS --steps 5 -o "$W/ro" 2>&1); rc=$?
    [[ $rc == 1 && $err == *"not writable"* ]] || fail "read-only dir: rc $rc: $err"
fi
pass "unwritable output directory reported before training"

# --- a NaN/inf loss: stop naming the step, keep checkpoint 4 and the manifest
err=$("$T" train $ARGS --steps 10 --save-every 2 -o "$W/nan" --test-inf-step 5 2>&1); rc=$?
echo "$err"
[[ $rc == 1 && $err == *"step 5: the training loss is inf"* && $err == *"ckpt-4.gguf (step 4)"* ]] ||
    fail "inf loss: rc $rc: $err"
grep -q '"step":[[:space:]]*4' "$W/nan/manifest.json" || fail "manifest lost checkpoint 4"
grep -q '"step":[[:space:]]*6' "$W/nan/manifest.json" && fail "no checkpoint after the bad step"
[[ $(tail -1 "$W/nan/train_log.csv" | cut -d, -f1) == 4 ]] || fail "log ends at the last good step"
[[ -e "$W/nan/ckpt-6.gguf" ]] && fail "nothing is written after the bad step"
"$T" train --resume "$W/nan" --threads 1 -q >/dev/null || fail "resume after the stop"
grep -q '"step":[[:space:]]*10' "$W/nan/manifest.json" || fail "resumed run did not finish"
pass "inf loss stops at the named step; resumable from the last good checkpoint"

# --- a learning rate of 1e30 diverges: stopped at the first non-finite loss or gradient
err=$("$T" train $ARGS --steps 10 --lr 1e30 --warmup 0 --save-every 1 -o "$W/big" 2>&1); rc=$?
echo "$err"
[[ $rc == 1 && $err =~ step\ ([0-9]+):\ the\ (training\ loss|gradient\ norm|validation\ loss)\ is\ (nan|inf) ]] ||
    fail "lr 1e30: rc $rc: $err"
bad=${BASH_REMATCH[1]}
last=$(grep -o '"step":[[:space:]]*[0-9]*' "$W/big/manifest.json" | tail -1 | grep -o '[0-9]*$')
[[ $last == $((bad - 1)) ]] || fail "the manifest should end at step $((bad - 1)), the last good one (has $last)"
pass "lr 1e30: stopped at step $bad, last good checkpoint $last kept"

# --- a run directory is never silently overwritten; bad input is named
err=$("$T" train $ARGS --steps 5 -o "$W/nan" 2>&1); rc=$?
[[ $rc == 1 && $err == *"already holds a training run"* ]] || fail "existing run: rc $rc: $err"
err=$("$T" train -d "$W/missing.tok" $TINY --steps 5 -o "$W/m" -q 2>&1); rc=$?
[[ $rc == 1 && $err == *missing.tok* ]] || fail "missing data: rc $rc: $err"
err=$("$T" train $ARGS --steps 5 --seq 64 --vocab 512 -m "$W/nan/ckpt-10.gguf" -o "$W/m" 2>&1); rc=$?
[[ $rc == 2 ]] || fail "-m with shape flags is a usage error: rc $rc: $err"
err=$("$T" train $ARGS --steps 5 --save-schedule log:1 -o "$W/m" 2>&1); rc=$?
[[ $rc == 2 ]] || fail "log:1 is a usage error: rc $rc"
err=$("$T" train $ARGS --steps 5 --objective bico9 -o "$W/m" 2>&1); rc=$?
[[ $rc == 1 && $err == *"unknown objective 'bico9'"* ]] || fail "unknown objective: rc $rc: $err"
err=$("$T" train $ARGS --steps 5 --format xyz -o "$W/m2" 2>&1); rc=$?
[[ $rc == 1 && $err == *"xyz"* ]] || fail "unknown checkpoint format: rc $rc: $err"
err=$("$T" train --resume "$W/none" 2>&1); rc=$?
[[ $rc == 1 && $err == *"cannot resume from $W/none"* ]] || fail "resume of nothing: rc $rc: $err"
pass "existing run, missing data, conflicting flags, unknown objective/format"

# --- a full disk, on a small tmpfs in a private mount namespace (needs root / unshare)
if unshare -m true 2>/dev/null; then
    cp "$W/a.tok" "$W/b.tok"
    # 1) too small for one checkpoint: refused before training
    out=$(unshare -m bash -c "mount -t tmpfs -o size=64k tmpfs '$W/ro' &&
          '$T' train $ARGS --steps 5 -d '$W/b.tok' -o '$W/ro/run' 2>&1; echo rc=\$?")
    [[ $out == *"MiB free, one checkpoint needs"* && $out == *rc=1 && $out != *step* ]] || fail "tiny disk: $out"
    # 2) room for one checkpoint, not two: the second fails with ENOSPC, the first stays
    out=$(unshare -m bash -c "mount -t tmpfs -o size=800k tmpfs '$W/ro' &&
          '$T' train $ARGS --steps 8 --save-every 4 -d '$W/b.tok' -o '$W/ro/run' 2>&1; echo rc=\$?;
          grep -c '\"step\"' '$W/ro/run/manifest.json'; ls '$W/ro/run'")
    echo "$out"
    [[ $out == *"No space left on device"* && $out == *rc=1* ]] || fail "disk full mid-run: $out"
    [[ $(echo "$out" | grep -A1 rc=1 | tail -1) == 1 ]] || fail "manifest should list exactly checkpoint 4: $out"
    [[ $out == *tmp.* || $out == *ckpt-8.gguf* ]] && fail "no temp file or orphan checkpoint may be left: $out"
    pass "full disk: refused up front, or reported mid-run keeping the last checkpoint"
else
    echo "skipped: full-disk checks need a private mount namespace (unshare -m)"
fi
