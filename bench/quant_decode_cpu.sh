#!/usr/bin/env bash
# quant_decode_cpu.sh: CPU seconds per decoded token, tiller against llama.cpp on the same GGUF
# files, one thread — a measure that a loaded (shared) machine disturbs far less than wall-clock
# tok/s (it still shares the memory bandwidth with the other jobs). The decode twin of
# quant_prefill_cpu.sh.
#
#   bench/quant_decode_cpu.sh TILLER LLAMA_BENCH FILE...
#
# Per file and round (interleaved, so both see the same load): user + sys CPU of each program
# run with 1 timed repetition and with 1 + R (/usr/bin/time); the difference over R x N is the
# CPU of one more decoded token (load, warm-up and set-up cancel). tiller `bench -t 1 -p 1 -n N
# -r K` runs per repetition a 1-token prefill (the decode path) and N decoded tokens; llama-bench
# `-t 1 -p 0 -n N -r K` N decoded tokens. Printed per file: the medians over rounds of CPU ms per
# token for each, and of the per-round ratio (llama.cpp CPU / tiller CPU: > 1, tiller faster).
# Environment: N (32), R (3), ROUNDS (3).
set -euo pipefail
TILLER=${1:?usage: quant_decode_cpu.sh TILLER LLAMA_BENCH FILE...}
LBENCH=${2:?usage: quant_decode_cpu.sh TILLER LLAMA_BENCH FILE...}
shift 2
N=${N:-32}
R=${R:-3}
ROUNDS=${ROUNDS:-3}
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
cpu() { /usr/bin/time -o "$TMPD/t" -f "%U %S" "$@" >/dev/null 2>&1; awk '{print $1 + $2}' "$TMPD/t"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "# CPU per decoded token, 1 thread, tg$N, $ROUNDS rounds x $R reps, $(date -u +%H:%MZ)"
echo "# load before: $(uptime)"
echo "| file | tiller CPU ms / token | llama.cpp CPU ms / token | tiller tok per CPU s | llama.cpp tok per CPU s | ratio |"
echo "|---|---|---|---|---|---|"
for f in "$@"; do
    : >"$TMPD/r"
    for ((i = 0; i < ROUNDS; i++)); do
        t1=$(cpu "$TILLER" bench -m "$f" -t 1 -p 1 -n "$N" -r 1 --no-memory)
        tR=$(cpu "$TILLER" bench -m "$f" -t 1 -p 1 -n "$N" -r $((R + 1)) --no-memory)
        l1=$(cpu "$LBENCH" -m "$f" -t 1 -p 0 -n "$N" -r 1)
        lR=$(cpu "$LBENCH" -m "$f" -t 1 -p 0 -n "$N" -r $((R + 1)))
        # tiller: N decoded + 1 prefill token (itself a decode step) per repetition
        echo "$t1 $tR $l1 $lR" | awk -v R="$R" -v N="$N" '{t = ($2 - $1) / R / (N + 1); l = ($4 - $3) / R / N;
            print t * 1000, l * 1000, (t > 0 ? l / t : 0)}' >>"$TMPD/r"
    done
    tm=$(awk '{print $1}' "$TMPD/r" | median); lm=$(awk '{print $2}' "$TMPD/r" | median)
    rm_=$(awk '{print $3}' "$TMPD/r" | median)
    printf '| %s | %.2f | %.2f | %.0f | %.0f | %.2f |\n' "$(basename "$f")" "$tm" "$lm" \
        "$(echo "1000 / $tm" | bc -l)" "$(echo "1000 / $lm" | bc -l)" "$rm_"
done
echo "# load after: $(uptime)"
