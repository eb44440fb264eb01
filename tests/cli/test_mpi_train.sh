#!/bin/bash
# Data-parallel training under MPI (2 and 3 ranks, oversubscribed on one machine) against
# one process with the same --batch, --accum and --threads: checkpoints, loss logs and
# optimiser state identical byte for byte; --resume across a change of rank count; the
# errors (ranks with different thread counts, fewer micro-batches than ranks, a command
# that does not run distributed).
source "$(dirname "$0")/train_lib.sh"
source "$(dirname "$0")/mpi_lib.sh"
make_ids "$W/a.ids" 300
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" --val-frac 0.1 >/dev/null 2>&1
# accumulation, clipping, warm-up, validation and a bico objective (which draws from the RNG) all on
ARGS="-d $W/a.tok $TINY --steps 12 --accum 4 --lr 3e-3 --warmup 5 --grad-clip 0.5 --eval-every 4 --save-every 6 --threads 1 -q --seed 7"
state_body() { head -c 96 "$1"; tail -c +105 "$1" | head -c -8; } # minus wall time and its checksum
same_run() { # DIR_A DIR_B WHAT
    for s in 6 12; do cmp "$1/ckpt-$s.gguf" "$2/ckpt-$s.gguf" || fail "$3: checkpoint $s differs"; done
    diff <(cut -d, -f1-5 "$1/train_log.csv") <(cut -d, -f1-5 "$2/train_log.csv") || fail "$3: loss logs differ"
    cmp <(state_body "$1/optim-12.bin") <(state_body "$2/optim-12.bin") || fail "$3: optimiser state differs"
}

"$T" train $ARGS -o "$W/one" >/dev/null
$MPI -np 2 "$T" train $ARGS -o "$W/two" >"$W/two.txt"
grep -q "trained to step 12" "$W/two.txt" || fail "2 ranks: $(cat "$W/two.txt")"
[[ $(grep -c "trained to step" "$W/two.txt") == 1 ]] || fail "rank 0 alone reports: $(cat "$W/two.txt")"
same_run "$W/one" "$W/two" "2 ranks"
$MPI -np 3 "$T" train $ARGS -o "$W/three" >/dev/null 2>"$W/three.err"   # 4 micro-batches over 3: 1 + 1 + 2
grep -q "not a multiple of 3 ranks" "$W/three.err" || fail "uneven split warning: $(cat "$W/three.err")"
same_run "$W/one" "$W/three" "3 ranks"
pass "1, 2 and 3 ranks: identical checkpoints, losses and optimiser state"
head -4 "$W/two/train_log.csv"

BICO="-d $W/a.tok $TINY --steps 6 --accum 2 --save-every 3 --threads 1 -q --seed 3 --objective bico:p=0.7"
"$T" train $BICO -o "$W/b1" >/dev/null
$MPI -np 2 "$T" train $BICO -o "$W/b2" >/dev/null
cmp "$W/b1/ckpt-6.gguf" "$W/b2/ckpt-6.gguf" || fail "bico objective: 2 ranks differ from one process"
pass "an objective that samples (bico) is identical too"

# resume with another rank count: 2 ranks -> 1 process, 1 process -> 2 ranks
$MPI -np 2 "$T" train $ARGS -o "$W/r21" --stop-at 5 >/dev/null
"$T" train --resume "$W/r21" --threads 1 -q >/dev/null
same_run "$W/one" "$W/r21" "2 ranks, resumed by 1"
"$T" train $ARGS -o "$W/r12" --stop-at 7 >/dev/null
$MPI -np 2 "$T" train --resume "$W/r12" --threads 1 -q >/dev/null
same_run "$W/one" "$W/r12" "1 process, resumed by 2 ranks"
pass "--resume across a change of rank count is bit-exact"

# errors: every rank must run the same thread count; no more ranks than micro-batches
set +e
err=$($MPI -np 1 "$T" train $ARGS -o "$W/e1" --threads 1 : -np 1 "$T" train $ARGS -o "$W/e1" --threads 2 2>&1); rc=$?
[[ $rc != 0 && $err == *"rank 1 has 2 threads, rank 0 has 1"* ]] || fail "thread mismatch: rc $rc: $err"
[[ ! -e "$W/e1/manifest.json" ]] || fail "a refused run writes no manifest"
err=$($MPI -np 2 "$T" train ${ARGS/--accum 4/--accum 1} -o "$W/e2" 2>&1); rc=$?
[[ $rc != 0 && $err == *"2 ranks but only 1 micro-batches"* ]] || fail "accum < ranks: rc $rc: $err"
err=$($MPI -np 2 "$T" world --help 2>&1); rc=$?
[[ $rc != 0 && $err == *"does not run under mpirun"* ]] || fail "a command that does not run distributed: rc $rc: $err"
# Ranks that fail together end together (no MPI_Abort from every rank at once, which made Open
# MPI's mpirun print "Data unpack would read past end of buffer" now and then): rank 0 alone
# reports, and mpirun's own messages are clean. Repeated, since it was a race.
for i in 1 2 3 4 5; do
    err=$($MPI -np 2 "$T" world --help 2>&1); rc=$?
    [[ $rc == 2 && $(grep -o "tiller: error" <<<"$err" | wc -l) == 1 ]] || fail "refusal $i: rc $rc, not one error line: $err"
    [[ $err != *ORTE_ERROR_LOG* && $err != *"MPI_ABORT was invoked"* ]] || fail "refusal $i: mpirun garbled: $err"
done
err=$($MPI -np 1 "$T" train $ARGS -o "$W/e3" --threads 1 : -np 1 "$T" train $ARGS -o "$W/e3" --threads 2 2>&1)
[[ $(grep -o "tiller: error" <<<"$err" | wc -l) == 1 && $err != *ORTE_ERROR_LOG* ]] || fail "thread mismatch said: $err"
set -e
pass "thread mismatch, too few micro-batches and undistributed commands are refused"
