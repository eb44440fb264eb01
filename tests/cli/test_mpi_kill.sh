#!/bin/bash
# A rank that dies under mpirun: kill -9 rank 1 while rank 0 is halfway through writing
# the optimiser state of checkpoint 20 (--test-save-pause holds it there 5 s). The job must
# stop by itself, promptly and with a message naming the dead rank (no hang); the
# manifest must still name checkpoint 10 as the last one, whose files are complete;
# and `--resume` (by one process: another rank count) must finish the run with the
# final parameters of an uninterrupted run.
source "$(dirname "$0")/train_lib.sh"
source "$(dirname "$0")/mpi_lib.sh"
make_ids "$W/a.ids" 300
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" --val-frac 0.1 >/dev/null 2>&1
ARGS="-d $W/a.tok $TINY --steps 30 --accum 2 --lr 3e-3 --warmup 5 --save-every 10 --threads 1 -q --seed 5"
"$T" train $ARGS -o "$W/full" >/dev/null

$MPI -np 2 "$T" train $ARGS -o "$W/run" --test-save-pause 5 >"$W/out.txt" 2>"$W/err.txt" &
mpid=$!
wait_for() { # CONDITION SECONDS WHAT
    for _ in $(seq $(($2 * 10))); do eval "$1" && return 0; sleep 0.1; done
    kill -9 $mpid 2>/dev/null
    fail "timed out waiting for $3"
}
# step 10's state is written in full (its pause too), then step 20's state file is begun
wait_for 'grep -q "ckpt-10" "$W/run/manifest.json" 2>/dev/null' 90 "checkpoint 10 in the manifest"
wait_for 'ls "$W/run" | grep -q "^optim-20.bin.tmp"' 60 "the optimiser state of step 20 to be begun"
rank1=""
for pid in $(pgrep -P $mpid); do
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1' && rank1=$pid
done
[[ -n $rank1 ]] || { kill -9 $mpid; fail "rank 1's process not found among mpirun's children"; }
t0=$(date +%s)
kill -9 "$rank1"
wait_for '! kill -0 $mpid 2>/dev/null' 30 "mpirun to stop after rank 1 died (a hang)"
set +e
wait $mpid
rc=$?
set -e
echo "mpirun stopped $(($(date +%s) - t0)) s after the kill, exit code $rc; it said:"
grep -v '^-*$' "$W/err.txt" | head -4
[[ $rc != 0 ]] || fail "mpirun exit code 0 after a rank died"
grep -qiE "rank 1 .*(signal 9|killed)" "$W/err.txt" || fail "no message naming the dead rank: $(cat "$W/err.txt")"
pass "a killed rank stops the job with a message naming it"

# the manifest names checkpoint 10 only; 20's half-written state was never named
grep -q '"ckpt-10.gguf"' "$W/run/manifest.json" || fail "manifest lost checkpoint 10"
grep -q '"ckpt-20.gguf"' "$W/run/manifest.json" && fail "the manifest names the unfinished checkpoint 20"
"$T" convert "$W/run/ckpt-10.gguf" "$W/check.bin" >/dev/null 2>&1 || fail "checkpoint 10 does not load"
"$T" train --resume "$W/run" --threads 1 -q >/dev/null
cmp "$W/full/ckpt-30.gguf" "$W/run/ckpt-30.gguf" || fail "resumed run differs from the uninterrupted one"
ls "$W/run" | grep -q '\.tmp\.' && fail "temporary files left after the resume: $(ls "$W/run")"
pass "checkpoint 10 stayed complete; resumed by one process, the run ends bit-identical"
