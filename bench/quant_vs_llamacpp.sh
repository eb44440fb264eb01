#!/usr/bin/env bash
# quant_vs_llamacpp.sh: tiller beside llama.cpp on the same GGUF files (issue 12 targets).
#
#   bench/quant_vs_llamacpp.sh TILLER LLAMA_BENCH [LLAMA_QUANTIZE]
#
# TILLER is build/tiller; LLAMA_BENCH is llama.cpp's llama-bench and LLAMA_QUANTIZE its
# llama-quantize (any build of them: nothing of llama.cpp is in this repository). Files:
# for each shape (stories15M, stories110M, tinyllama = dim 2048, 22 layers, 32/4 heads,
# hidden 5632, vocab 32000) a random-weight f32 GGUF written by `tiller bench --save`,
# quantized to Q8_0 and Q4_K_M by llama-quantize; they are made once in $DIR and reused.
#
# Per file, ROUNDS rounds, each running tiller then llama.cpp (interleaved, so that both see
# the same load): prefill of P tokens and decode of N tokens at T threads (tiller
# `bench -r 1`, llama-bench `-r 1`). Printed: the medians and the median of the per-round
# ratios tiller / llama.cpp. Then per file: peak RSS (/usr/bin/time %M) of
# `tiller generate -n 16 --ctx 256` against the budget weights-as-stored (the file) + f32 KV
# cache + activations, and start-up with the file in the page cache, median of 3: the wall time
# of `generate -n 1` (start-up plus the first forward pass), and the start-up alone (model,
# tokenizer and session ready: `generate -v`), wall and CPU seconds. Finally `tiller bench -m stories110M` (f32, random weights) for decode's
# share of the read bandwidth measured in the same run. `uptime` is printed before and after.
#
# Environment: DIR (files; default /tmp/tiller-qbench), SHAPES, TYPES (default f32 Q8_0 Q4_K_M),
# ROUNDS (3), T (2), P (128), N (64), SPEED_ONLY (1: skip memory and start-up), TOKENIZER (a 32000-token tokenizer.bin; default
# ../shared/models/llama2-tokenizer/tokenizer.bin).
set -euo pipefail
TILLER=${1:?usage: quant_vs_llamacpp.sh TILLER LLAMA_BENCH [LLAMA_QUANTIZE]}
LBENCH=${2:?usage: quant_vs_llamacpp.sh TILLER LLAMA_BENCH [LLAMA_QUANTIZE]}
LQUANT=${3:-}
DIR=${DIR:-/tmp/tiller-qbench}
SHAPES=${SHAPES:-stories15M stories110M tinyllama}
TYPES=${TYPES:-f32 Q8_0 Q4_K_M}
ROUNDS=${ROUNDS:-3}
T=${T:-2}
P=${P:-128}
N=${N:-64}
TOKENIZER=${TOKENIZER:-../shared/models/llama2-tokenizer/tokenizer.bin}
mkdir -p "$DIR"
# per-run scratch outside $DIR, so that a read-only or shared $DIR works
TMPD=$(mktemp -d)
trap 'rm -rf "$TMPD"' EXIT

echo "# tiller vs llama.cpp, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, threads $T, pp$P / tg$N, $ROUNDS rounds"
echo "# load before: $(uptime)"
echo "# tiller: $("$TILLER" --version 2>/dev/null | head -1); llama-bench: $LBENCH"

# ---- files ----
for s in $SHAPES; do
    f32="$DIR/$s-f32.gguf"
    [ -s "$f32" ] || "$TILLER" bench -m "$s" --save "$f32" --tokenizer "$TOKENIZER" >&2
    for q in $TYPES; do
        [ "$q" = f32 ] && continue
        out="$DIR/$s-$q.gguf"
        if [ ! -s "$out" ]; then
            [ -n "$LQUANT" ] || { echo "missing $out and no LLAMA_QUANTIZE given" >&2; exit 1; }
            "$LQUANT" "$f32" "$out" "$q" 2 >"$out.log" 2>&1
        fi
    done
done

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# llama-bench CSV: the avg_ts of the row whose n_prompt (prefill) or n_gen (decode) is nonzero
lb_field() { awk -F, -v want="$1" 'NR == 1 {for (i = 1; i <= NF; i++) {gsub(/"/, "", $i); c[$i] = i}; next}
    {for (i = 1; i <= NF; i++) gsub(/"/, "", $i)}
    want == "pp" && $c["n_prompt"] > 0 {print $c["avg_ts"]} want == "tg" && $c["n_gen"] > 0 {print $c["avg_ts"]}'; }
tl_field() { sed -n "s/.*\"$1\":\([0-9.eE+-]*\).*/\1/p"; }

echo
echo "| file | MB | decode tok/s tiller | decode tok/s llama.cpp | decode ratio | prefill tok/s tiller | prefill tok/s llama.cpp | prefill ratio |"
echo "|---|---|---|---|---|---|---|---|"
for s in $SHAPES; do
    for q in $TYPES; do
        f="$DIR/$s-$q.gguf"
        : >"$TMPD/r"
        for ((r = 0; r < ROUNDS; r++)); do
            tj=$("$TILLER" bench -m "$f" -t "$T" -p "$P" -n "$N" -r 1 --no-memory --json 2>/dev/null | grep '"kind":"model"')
            lc=$("$LBENCH" -m "$f" -t "$T" -p "$P" -n "$N" -r 1 -o csv 2>/dev/null)
            echo "$(echo "$tj" | tl_field decode_tps) $(echo "$lc" | lb_field tg) $(echo "$tj" | tl_field prefill_tps) $(echo "$lc" | lb_field pp)" >>"$TMPD/r"
        done
        td=$(awk '{print $1}' "$TMPD/r" | median); ld=$(awk '{print $2}' "$TMPD/r" | median)
        tp=$(awk '{print $3}' "$TMPD/r" | median); lp=$(awk '{print $4}' "$TMPD/r" | median)
        rd=$(awk '$2 > 0 {print $1 / $2}' "$TMPD/r" | median); rp=$(awk '$4 > 0 {print $3 / $4}' "$TMPD/r" | median)
        mb=$(( $(stat -c %s "$f") / 1000000 ))
        printf '| %s %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |\n' "$s" "$q" "$mb" "$td" "$ld" "$rd" "$tp" "$lp" "$rp"
    done
done

# SPEED_ONLY=1: the speed table only (no memory / start-up / bandwidth sections)
[ "${SPEED_ONLY:-0}" = 1 ] && { echo "# load after: $(uptime)"; exit 0; }

echo
echo "| file | file MB | KV + activations MB (ctx 256) | peak RSS MB tiller | RSS / budget | generate -n 1 s | start-up s wall / CPU |"
echo "|---|---|---|---|---|---|---|"
for s in $SHAPES; do
    for q in $TYPES; do
        f="$DIR/$s-$q.gguf"
        cat "$f" >/dev/null # into the page cache
        /usr/bin/time -o "$TMPD/m" -f %M "$TILLER" generate -m "$f" -n 16 --ctx 256 -t "$T" --temp 0 \
            -p "Once upon a time" >/dev/null 2>&1
        rss=$(tail -1 "$TMPD/m")
        # generate -n 1: start-up plus the first forward pass; start-up alone (model, tokenizer and
        # session ready) is what `generate -v` prints, wall and CPU seconds
        for i in 1 2 3; do
            s0=$(date +%s.%N)
            "$TILLER" generate -m "$f" -n 1 --ctx 256 -t "$T" --temp 0 -p "Once" -v 2>"$TMPD/v" >/dev/null
            echo "$(date +%s.%N) - $s0" | bc >>"$TMPD/s"
            sed -n 's/.*start-up (model, tokenizer, session): \([0-9.]*\) s wall, \([0-9.]*\) s CPU.*/\1 \2/p' "$TMPD/v" >>"$TMPD/u"
        done
        st=$(median <"$TMPD/s")
        su=$(cut -d' ' -f1 "$TMPD/u" | median)
        sc=$(cut -d' ' -f2 "$TMPD/u" | median)
        rm -f "$TMPD/s" "$TMPD/u"
        # budget: the file + K and V caches (f32, 2 x layers x ctx x kv_dim) + activations (generous: 64 MB)
        extra=$(case $s in stories15M) echo $((2 * 6 * 256 * 288 * 4 / 1000000 + 64)) ;;
                       stories110M) echo $((2 * 12 * 256 * 768 * 4 / 1000000 + 64)) ;;
                       tinyllama) echo $((2 * 22 * 256 * 256 * 4 / 1000000 + 64)) ;;
                       *) echo 64 ;;
            esac)
        mb=$(( $(stat -c %s "$f") / 1000000 ))
        printf '| %s %s | %d | %d | %d | %.2f | %.2f | %.2f / %.2f |\n' "$s" "$q" "$mb" "$extra" $((rss / 1000)) \
            "$(echo "$rss / 1000 / ($mb + $extra)" | bc -l)" "$st" "$su" "$sc"
    done
done

echo
echo "f32 decode against the machine's read bandwidth (tiller bench -m stories110M -t $T, random weights):"
"$TILLER" bench -m stories110M -t "$T" -p "$P" -n "$N" 2>&1 | grep -E "memory bandwidth|decode"
echo "# load after: $(uptime)"
