#!/bin/bash
# kill -9 during a checkpoint write. --test-save-pause (test only) makes every optimiser
# state write sleep halfway through; we wait until the first checkpoint (step 4) is in
# the manifest, then kill the process while it is inside the write of step 8. The
# manifest and checkpoint 4 must be intact, no half-written file may carry a final name,
# and --resume must finish the run with the same losses and parameters as a run that
# was never interrupted.
source "$(dirname "$0")/train_lib.sh"
make_ids "$W/a.ids" 300
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" >/dev/null 2>&1
ARGS="-d $W/a.tok $TINY --steps 12 --lr 3e-3 --warmup 2 --save-every 4 --eval-every 4 --threads 1 -q"

"$T" train $ARGS -o "$W/ref" >/dev/null

"$T" train $ARGS -o "$W/run" --test-save-pause 2 >/dev/null 2>&1 &
pid=$!
killed=0
for i in $(seq 1 600); do   # up to 30 s
    if grep -q '"step":[[:space:]]*4' "$W/run/manifest.json" 2>/dev/null &&
        compgen -G "$W/run/optim-8.bin.tmp.*" >/dev/null; then
        # while it runs, nobody else may train in its directory
        set +e
        err=$("$T" train --resume "$W/run" --threads 1 -q 2>&1); rc=$?
        set -e
        compgen -G "$W/run/optim-8.bin.tmp.*" >/dev/null || fail "a refused resume touched the live temp file"
        kill -9 $pid
        killed=1
        break
    fi
    sleep 0.05
done
wait $pid 2>/dev/null || true
[[ $killed == 1 ]] || fail "never caught the process inside the write of checkpoint 8"
[[ $rc == 1 && $err == *"is in use by another training process"* ]] || fail "concurrent resume: rc $rc: $err"
ls -l "$W/run"

[[ -e "$W/run/optim-8.bin" ]] && fail "optim-8.bin must not exist under its final name"
compgen -G "$W/run/optim-8.bin.tmp.*" >/dev/null || fail "expected the killed writer's temp file"
grep -q '"step":[[:space:]]*4' "$W/run/manifest.json" || fail "manifest lost checkpoint 4"
grep -q '"step":[[:space:]]*8' "$W/run/manifest.json" && fail "manifest names checkpoint 8, which was never completed"
grep -q '"state":[[:space:]]*"optim-4.bin"' "$W/run/manifest.json" || fail "manifest must point at optim-4.bin"
cmp "$W/ref/ckpt-4.gguf" "$W/run/ckpt-4.gguf" || fail "checkpoint 4 damaged"
diff <(cut -d, -f1-5 "$W/run/train_log.csv") <(head -5 "$W/ref/train_log.csv" | cut -d, -f1-5) ||
    fail "the log up to checkpoint 4 differs"
pass "after kill -9 inside a checkpoint write: manifest and checkpoint 4 intact"

"$T" train --resume "$W/run" --threads 1 -q >/dev/null
compgen -G "$W/run/*.tmp.*" >/dev/null && fail "resume should clear stale temp files: $(ls "$W/run")"
diff <(cut -d, -f1-5 "$W/ref/train_log.csv") <(cut -d, -f1-5 "$W/run/train_log.csv") || fail "losses differ after resume"
cmp "$W/ref/ckpt-12.gguf" "$W/run/ckpt-12.gguf" || fail "final parameters differ after resume"
pass "resume after the kill reproduces the uninterrupted run"
