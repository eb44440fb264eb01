#!/usr/bin/env bash
# f32_bandwidth.sh: f32 decode against the machine's read bandwidth, measured in the same run
# (issue 12's target: f32 decode of the stories110M shape >= 85 % of the read bandwidth).
#
#   bench/f32_bandwidth.sh TILLER LLAMA_BENCH [FILE]
#
# TILLER is build/tiller; LLAMA_BENCH is llama.cpp's llama-bench (any build of it: nothing of
# llama.cpp is in this repository). FILE is an f32 GGUF (default: the random-weight
# stories110M shape, /tmp/tiller-qbench/stories110M-f32.gguf, written by
# `tiller bench -m stories110M --save FILE` if missing).
#
# Each of ROUNDS rounds runs, back to back so that both see the same load:
#   1. `tiller bench -m FILE -n N --paired 1 --json`: one decode run of N tokens after a 16-token
#      prompt, and beside it (src/bench/bench_paired.c) read probes shaped like that decode: N
#      sweeps of a buffer of the weights' size by decode's threads, each an equal share, with the
#      fastest of three read loops (four-stream sum, one-stream AVX-512 sum, memchr) and of a sweep
#      of the model's own f32 matrices with decode's rows per thread: "read GB/s", the yardstick;
#      and the old probe (the best of 3 sweeps of 256 MiB, a few ms each): "old read GB/s";
#   2. `llama-bench -m FILE -p 0 -n N -r 1`: one llama.cpp decode run of the same file.
# Why the yardstick changed (bench/RESULTS.md): the old probe's sweeps last a few ms and take the
# best of 3, so they catch the peaks of a shared host's bandwidth (+- 20 % within a minute) that a
# 0.45 s decode run averages over; the new probe reads as many bytes for as long as the decode it
# is paired with. Both are printed, with decode's share of each.
# Weight bytes per decoded token are tiller's count (every matrix, the LM head and the norms;
# one embedding row), the same for both programs. Printed per round, then the medians and the
# spread (min-max) of the shares.
#
# Huge pages: tiller maps the file with MADV_HUGEPAGE, which gives 2 MiB page-cache folios
# only when the file is first read through a mapping. With FRESH=1 the script copies FILE to a
# scratch directory and drops the copy's pages from the page cache (dd iflag=nocache), so that
# the first run faults it in through the mapping; the script prints the FilePmdMapped
# (2 MiB-mapped) share of a mapping of the copy afterwards (/proc/self/smaps of a python3
# reader; skipped without python3). llama.cpp maps the same copy, so it gets the same pages.
#
# Environment: ROUNDS (5), T (2), N (64), FRESH (0).
set -euo pipefail
TILLER=${1:?usage: f32_bandwidth.sh TILLER LLAMA_BENCH [FILE]}
LBENCH=${2:?usage: f32_bandwidth.sh TILLER LLAMA_BENCH [FILE]}
FILE=${3:-/tmp/tiller-qbench/stories110M-f32.gguf}
ROUNDS=${ROUNDS:-5}
T=${T:-2}
N=${N:-64}
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT

if [ ! -s "$FILE" ]; then
    mkdir -p "$(dirname "$FILE")"
    "$TILLER" bench -m stories110M --save "$FILE" >&2
fi
if [ "${FRESH:-0}" = 1 ]; then
    cp "$FILE" "$TMPD/model.gguf"
    FILE=$TMPD/model.gguf
    dd if="$FILE" iflag=nocache count=0 status=none # drop the copy's pages from the page cache
fi

echo "# f32 decode vs read bandwidth, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, threads $T, tg$N, one run per figure and round, $ROUNDS rounds"
echo "# file: $FILE ($(($(stat -c %s "$FILE") / 1000000)) MB), fresh copy: ${FRESH:-0}"
echo "# load before: $(uptime)"
echo "# tiller HEAD: $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown); llama-bench: $LBENCH"

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
tl_field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }
# llama-bench CSV: avg_ts of the decode row (n_gen > 0)
lb_tg() { awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) {gsub(/"/, "", $i); c[$i] = i}; next}
    {for (i = 1; i <= NF; i++) gsub(/"/, "", $i)} $c["n_gen"] > 0 {print $c["avg_ts"]}'; }

echo
echo "| round | read GB/s (old) | read GB/s (new) | tiller tok/s | tiller GB/s | tiller share (old) | tiller share (new) | llama.cpp tok/s | llama.cpp share (old) | llama.cpp share (new) | tiller / llama.cpp |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
: >"$TMPD/r"
for ((r = 1; r <= ROUNDS; r++)); do
    pj=$("$TILLER" bench -m "$FILE" -t "$T" -p 16 -n "$N" --paired 1 --json 2>/dev/null | grep '"kind":"paired"')
    obw=$(echo "$pj" | tl_field old_read_gbs)
    nbw=$(echo "$pj" | tl_field read_gbs)
    ttps=$(echo "$pj" | tl_field decode_tps)
    wmb=$(echo "$pj" | tl_field weight_mb)
    ltps=$("$LBENCH" -m "$FILE" -t "$T" -p 0 -n "$N" -r 1 -o csv 2>/dev/null | lb_tg)
    line=$(awk -v o="$obw" -v nb="$nbw" -v t="$ttps" -v l="$ltps" -v w="$wmb" -v r="$r" 'BEGIN {
        tg = w * t / 1000; lg = w * l / 1000
        printf "%d %.2f %.2f %.1f %.2f %.3f %.3f %.1f %.3f %.3f %.3f", r, o, nb, t, tg, tg / o, tg / nb, l, lg / o, lg / nb, t / l }')
    echo "$line" >>"$TMPD/r"
    echo "$line" | awk '{printf "| %d | %.1f | %.1f | %.1f | %.1f | %.0f %% | %.0f %% | %.1f | %.0f %% | %.0f %% | %.2f |\n", $1, $2, $3, $4, $5, 100 * $6, 100 * $7, $8, 100 * $9, 100 * $10, $11}'
done
col() { awk -v c="$1" '{print $c}' "$TMPD/r" | median; }
pct() { echo "100 * $(col "$1")" | bc -l; }
printf '| **median** | %.1f | %.1f | %.1f | %.1f | %.0f %% | **%.0f %%** | %.1f | %.0f %% | %.0f %% | **%.2f** |\n' \
    "$(col 2)" "$(col 3)" "$(col 4)" "$(col 5)" "$(pct 6)" "$(pct 7)" "$(col 8)" "$(pct 9)" "$(pct 10)" "$(col 11)"
spread() { awk -v c="$1" 'NR == 1 || $c < lo {lo = $c} NR == 1 || $c > hi {hi = $c} END {printf "%.0f-%.0f %%", 100 * lo, 100 * hi}' "$TMPD/r"; }
echo "# spread of tiller's share: new yardstick $(spread 7), old $(spread 6); llama.cpp's: new $(spread 10), old $(spread 9)"
echo "# weights per decoded token: $wmb MB"

if [ "${FRESH:-0}" = 1 ] && command -v python3 >/dev/null; then
    python3 - "$FILE" <<'EOF'
import mmap, os, re, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
for i in range(0, len(m), 4096): m[i]
smaps = open("/proc/self/smaps").read()
pmd = sum(int(x) for x in re.findall(r"FilePmdMapped:\s+(\d+) kB", smaps))
print("# page cache of the copy: %.0f %% in 2 MiB folios (FilePmdMapped %d MiB of %d MiB)"
      % (100.0 * pmd * 1024 / len(m), pmd >> 10, len(m) >> 20))
EOF
fi
echo "# load after: $(uptime)"
