#!/usr/bin/env bash
# quant_prefill_cpu.sh: CPU seconds per prefill, tiller against llama.cpp on the same GGUF files,
# one thread — a measure that a loaded (shared) machine disturbs far less than wall-clock tok/s.
#
#   bench/quant_prefill_cpu.sh TILLER LLAMA_BENCH FILE...
#
# Per file and round (interleaved, so both see the same load): user + sys CPU of each program
# run with 1 timed repetition and with 1 + R (/usr/bin/time); the difference over R is the CPU
# of R more repetitions. tiller `bench -t 1 -p P -n 1 -r K` runs per repetition 2 prefills of P
# tokens + 1 decoded token; llama-bench `-t 1 -p P -n 0 -r K` 1 prefill. Printed per file: the
# median over rounds of CPU ms per prefill for each and of the per-round ratio (llama.cpp CPU /
# tiller CPU = tiller's speed relative to llama.cpp's; > 1: tiller faster), and the tok/s per CPU
# second that implies. Environment: P (64), R (4), ROUNDS (3).
set -euo pipefail
TILLER=${1:?usage: quant_prefill_cpu.sh TILLER LLAMA_BENCH FILE...}
LBENCH=${2:?usage: quant_prefill_cpu.sh TILLER LLAMA_BENCH FILE...}
shift 2
P=${P:-64}
R=${R:-4}
ROUNDS=${ROUNDS:-3}
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT
cpu() { /usr/bin/time -o "$TMPD/t" -f "%U %S" "$@" >/dev/null 2>&1; awk '{print $1 + $2}' "$TMPD/t"; }
median() { sort -g | awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "# CPU per prefill of $P tokens, 1 thread, $ROUNDS rounds x $R reps, $(date -u +%H:%MZ)"
echo "# load before: $(uptime)"
echo "| file | tiller CPU ms / prefill | llama.cpp CPU ms / prefill | tiller tok per CPU s | llama.cpp tok per CPU s | ratio |"
echo "|---|---|---|---|---|---|"
for f in "$@"; do
    : >"$TMPD/r"
    for ((i = 0; i < ROUNDS; i++)); do
        t1=$(cpu "$TILLER" bench -m "$f" -t 1 -p "$P" -n 1 -r 1 --no-memory)
        tR=$(cpu "$TILLER" bench -m "$f" -t 1 -p "$P" -n 1 -r $((R + 1)) --no-memory)
        l1=$(cpu "$LBENCH" -m "$f" -t 1 -p "$P" -n 0 -r 1)
        lR=$(cpu "$LBENCH" -m "$f" -t 1 -p "$P" -n 0 -r $((R + 1)))
        echo "$t1 $tR $l1 $lR" | awk -v R="$R" '{t = ($2 - $1) / R / 2; l = ($4 - $3) / R; print t * 1000, l * 1000, (t > 0 ? l / t : 0)}' >>"$TMPD/r"
    done
    tm=$(awk '{print $1}' "$TMPD/r" | median); lm=$(awk '{print $2}' "$TMPD/r" | median)
    rm_=$(awk '{print $3}' "$TMPD/r" | median)
    printf '| %s | %.1f | %.1f | %.0f | %.0f | %.2f |\n' "$(basename "$f")" "$tm" "$lm" \
        "$(echo "$P * 1000 / $tm" | bc -l)" "$(echo "$P * 1000 / $lm" | bc -l)" "$rm_"
done
echo "# load after: $(uptime)"
