#!/bin/bash
# Issue 18 target: capture of 2,000 statements (~30 tokens each) on a Pythia-160M-shape GPT-NeoX
# checkpoint (random weights) in <= 60 s on 2 cores. Also times the Pythia-70M shape, the same way.
# Usage (repo root, after the build): bench/capture_neox.sh [N_STATEMENTS] [SHAPES]
#   N_STATEMENTS default 2000 (from ../shared/data/trust: sst2, then stereoset, then toxigen rows)
#   SHAPES default "pythia70m pythia160m"
# Prints per shape: wall seconds, user+sys CPU seconds, tokens captured, and the load (uptime) before
# and after. Capture = `tiller acts` with its defaults (every resid_post layer, last token).
set -eu
BIN=${TILLER_BIN:-build/tiller}
SHARED=${TILLER_SHARED:-../shared}
N=${1:-2000}
SHAPES=${2:-"pythia70m pythia160m"}
TOK=$SHARED/models/tokenizers/ggml-vocab-gpt-2.gguf
T=$(mktemp -d /tmp/tiller-bench-neox-XXXXXX)
trap 'rm -rf "$T"' EXIT
{
    echo "statement,label"
    for f in sst2 stereoset toxigen; do tail -n +2 "$SHARED/data/trust/$f.csv"; done
} | head -n $((N + 1)) > "$T/data.csv"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), threads 2, $N statements"
for shape in $SHAPES; do
    "$BIN" bench --save "$T/$shape.gguf" -m "$shape" --dtype f16 --seed 1 > /dev/null
    echo "load before: $(uptime | sed 's/.*load average/load average/')"
    /usr/bin/time -f "%e %U %S" -o "$T/time" "$BIN" acts -m "$T/$shape.gguf" --tokenizer "$TOK" --data "$T/data.csv" \
        -o "$T/acts-$shape" -t 2 > "$T/out" 2>/dev/null
    read -r wall user sys < "$T/time"
    echo "load after:  $(uptime | sed 's/.*load average/load average/')"
    echo "$shape: $(cat "$T/out")"
    awk -v s="$shape" -v w="$wall" -v u="$user" -v y="$sys" -v n="$N" \
        'BEGIN { printf "%s: wall %.1f s, cpu %.1f s (user %.1f + sys %.1f), cpu/2 = %.1f s, %.2f ms cpu per statement\n", s, w, u + y, u, y, (u + y) / 2, 1000 * (u + y) / n }'
    rm -f "$T/$shape.gguf"
done
