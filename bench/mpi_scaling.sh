#!/bin/bash
# mpi_scaling.sh: 2 MPI ranks x 1 thread against 1 process x 1 thread, on this machine.
#   training: the stories15M shape (dim 288, 6 layers, vocab 32000), --batch 4 --seq 256
#             --accum 8, STEPS steps; throughput = the median tokens/s of the logged steps
#             after the first (setup and the final checkpoint write excluded), and both
#             runs' final checkpoints are compared (bit-identical expected)
#   capture:  `tiller acts --series` over the checkpoints of a run of the stories15M shape
#             with a 512-token vocabulary (CKPTS checkpoints, N_STMT statements of the trust
#             data, every resid_post): the command's own clock (from its start after MPI_Init to
#             its last file; the ratio target is on this), and the wall time of the whole command
#             with mpirun's start-up, which is measured alone too (`mpirun -np 2 true`)
#   ceiling:  the same two single-process commands run twice side by side (two independent
#             processes, no MPI): what two processes of this work reach on this machine's two
#             cores and shared memory, whatever tiller does between ranks
#   rounds:   ROUNDS times the three training runs (1 process, 2 ranks, the side-by-side pair)
#             back to back, so that each ratio has its ceiling measured under the same load;
#             each round's figures, then the median over the rounds
# Usage: bench/mpi_scaling.sh [build/tiller]
#   env: STEPS=4 CKPTS=8 N_STMT=400 BIND=core ROUNDS=1 PARTS="train capture"
#        TIMELINE=1: also the per-step wall/CPU seconds by phase on every rank (train --verbose)
# Ranks are pinned one per core (mpirun --bind-to core; BIND=none when the machine is shared).
# Prints `uptime` before and after: the machine is shared, read the ratios with the load.
set -euo pipefail
T=${1:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
STEPS=${STEPS:-4} CKPTS=${CKPTS:-8} N_STMT=${N_STMT:-400}
BIND=${BIND:-core} ROUNDS=${ROUNDS:-1} PARTS=${PARTS:-train capture} TIMELINE=${TIMELINE:-0}
MPI="mpirun --allow-run-as-root --oversubscribe --bind-to $BIND"
PIN0="" PIN1="" # the side-by-side processes pinned like the ranks
[[ $BIND == core ]] && PIN0="taskset -c 0" PIN1="taskset -c 1"
W=$(mktemp -d /tmp/tiller-mpibench-XXXXXX)
trap 'rm -rf "$W"' EXIT
exec 3>&1 # timed() reports here even when the command's own output is discarded
"$T" --version | tail -1
echo "load before: $(uptime)"
timed() { # LABEL CMD... : wall and CPU seconds (mpirun's ranks included) on stdout
    local f
    f=$(mktemp "$W/time-XXXXXX")
    /usr/bin/time -o "$f" -f "$1 wall %e s, user %U s, sys %S s" "${@:2}"
    cat "$f" >&3
}
median_tps() { tail -n +3 "$1/train_log.csv" | cut -d, -f6 | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

# --- training, stories15M shape
awk 'BEGIN { x = 7; for (d = 0; d < 400; d++) { line = "1"; for (i = 1; i < 600; i++) {
        x = (x * 1103515245 + 12345) % 2147483648; line = line " " (2 + x % 31990) } print line } }' >"$W/big.ids"
"$T" data --vocab 32000 "$W/big.ids" -o "$W/big.tok" >/dev/null 2>&1
SHAPE="--dim 288 --hidden 768 --layers 6 --heads 6 --kv-heads 6 --seq 256 --batch 4 --accum 8"
ARGS="-d $W/big.tok $SHAPE --steps $STEPS --warmup 1 --eval-every 0 --threads 1 -q"
V=""
[[ $TIMELINE == 1 ]] && V="-v"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b / a }'; }
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
train_round() { # ROUND: 1 process, 2 ranks, two independent processes side by side
    local d="$W/r$1"
    mkdir -p "$d"
    timed "train 1 process x 1 thread:" "$T" train $ARGS -o "$d/t1" >/dev/null
    timed "train 2 ranks x 1 thread:  " $MPI -np 2 "$T" train $ARGS $V -o "$d/t2" >/dev/null 2>"$d/t2.err"
    [[ -n $V ]] && grep "wall/CPU seconds" "$d/t2.err" | sed 's/^tiller: /  /'
    # the single-process run twice at once, each pinned like a rank
    timed "train independent process 1 (side by side):" $PIN0 "$T" train $ARGS -o "$d/p1" >/dev/null &
    timed "train independent process 2 (side by side):" $PIN1 "$T" train $ARGS -o "$d/p2" >/dev/null
    wait
    local a b c e
    a=$(median_tps "$d/t1") b=$(median_tps "$d/t2") c=$(median_tps "$d/p1") e=$(median_tps "$d/p2")
    cmp -s "$d/t1/ckpt-$STEPS.gguf" "$d/t2/ckpt-$STEPS.gguf" && same="bit-identical" || same="DIFFER"
    echo "round $1: train tokens/s (median of steps 2..$STEPS): 1 rank $a, 2 ranks $b, ratio $(ratio "$a" "$b");" \
        "2 independent processes $c + $e, ceiling $(ratio "$a" "$(awk -v c="$c" -v e="$e" 'BEGIN{print c+e}')");" \
        "final checkpoints $same"
    echo "$(ratio "$a" "$b") $(ratio "$a" "$(awk -v c="$c" -v e="$e" 'BEGIN{print c+e}')")" >>"$W/train_ratios"
}
if [[ " $PARTS " == *" train "* ]]; then
    for r in $(seq "$ROUNDS"); do train_round "$r"; done
    echo "train over $ROUNDS round(s): median ratio $(cut -d' ' -f1 "$W/train_ratios" | median)," \
        "median ceiling $(cut -d' ' -f2 "$W/train_ratios" | median)" \
        "(each round's ratio / ceiling: $(awk '{printf "%s%s/%s", (NR > 1 ? ", " : ""), $1, $2}' "$W/train_ratios"))"
fi

# --- capture sweep
if [[ " $PARTS " != *" capture "* ]]; then
    echo "load after: $(uptime)"
    exit 0
fi
head -n $((N_STMT + 1)) "$SHARED/data/trust/stereoset.csv" >"$W/data.csv"
awk 'BEGIN { x = 3; for (d = 0; d < 300; d++) { line = "1"; for (i = 1; i < 200; i++) {
        x = (x * 1103515245 + 12345) % 2147483648; line = line " " (3 + x % 509) } print line } }' >"$W/small.ids"
"$T" data --vocab 512 "$W/small.ids" -o "$W/small.tok" >/dev/null 2>&1
"$T" train -d "$W/small.tok" --dim 288 --hidden 768 --layers 6 --heads 6 --seq 128 --batch 4 --warmup 1 \
    --steps $((CKPTS * 2)) --save-every 2 --threads 1 -q -o "$W/series" >/dev/null
A=(--tokenizer "$SHARED/models/stories260K/tok512.bin" --data "$W/data.csv" --truncate --threads 1 --workers 1)
own_secs() { sed -n 's/.* tokens, \([0-9.]*\) s$/\1/p' "$1" | tail -1; } # the command's own clock
timed "mpirun -np 2 true (start-up alone):" $MPI -np 2 true
timed "acts 1 process x 1 thread: " "$T" acts --series "$W/series" "${A[@]}" -o "$W/a1" >"$W/a1.txt" 2>/dev/null
timed "acts 2 ranks x 1 thread:   " $MPI -np 2 "$T" acts --series "$W/series" "${A[@]}" -o "$W/a2" \
    >"$W/a2.txt" 2>/dev/null
x=$(own_secs "$W/a1.txt") y=$(own_secs "$W/a2.txt")
echo "capture of $CKPTS checkpoints x $N_STMT statements (the command's clock): 1 rank $x s, 2 ranks $y s, ratio" \
    "$(awk -v a="$x" -v b="$y" 'BEGIN{printf "%.2f", a/b}')"
timed "acts independent process 1 (side by side):" $PIN0 "$T" acts --series "$W/series" "${A[@]}" -o "$W/b1" \
    >"$W/b1.txt" 2>/dev/null &
timed "acts independent process 2 (side by side):" $PIN1 "$T" acts --series "$W/series" "${A[@]}" -o "$W/b2" \
    >"$W/b2.txt" 2>/dev/null
wait
u=$(own_secs "$W/b1.txt") v=$(own_secs "$W/b2.txt")
echo "capture ceiling: 2 independent processes $u s and $v s, ratio to 1 alone" \
    "$(awk -v a="$x" -v u="$u" -v v="$v" 'BEGIN { m = u > v ? u : v; printf "%.2f", 2 * a / m }')"
same=1
for f in $(cd "$W/a1" && find . -name '*.npy'); do cmp -s "$W/a1/$f" "$W/a2/$f" || same=0; done
[[ $same == 1 ]] && echo "capture arrays: byte-identical" || echo "capture arrays: DIFFER"
echo "load after: $(uptime)"
