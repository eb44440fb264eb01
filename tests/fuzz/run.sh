#!/bin/bash
# Run one libFuzzer harness from its seed corpus.
#   tests/fuzz/run.sh BINARY SECONDS WORKDIR [libFuzzer options...]
# Seeds (rebuilt each run in WORKDIR/NAME/seeds): the committed corpus in tests/corpus
# and real files from the shared folder ($TILLER_SHARED, default ../shared), cut to the
# input cap (64 KiB; 4 KiB for the text formats). New inputs the
# fuzzer finds accumulate in WORKDIR/NAME/corpus; a crash is written to WORKDIR/NAME/
# (crash-*, leak-*, timeout-*) and the script exits non-zero. Prints one summary line:
#   NAME: E executions in S s, C crashes
# Run from the repository root.
set -u
bin=$1 secs=$2 work=$3
shift 3
name=$(basename "$bin")
S=${TILLER_SHARED:-../shared}
dir=$work/$name
rm -rf "$dir/seeds"
mkdir -p "$dir/seeds" "$dir/corpus"
maxlen=65536
case $name in fuzz_csv | fuzz_jsonl) maxlen=4096 ;; esac # text: a few rows exercise the parser
seed() { # copy files (their first maxlen bytes) into the seed directory
    for f in "$@"; do
        [[ -f $f ]] && head -c $maxlen "$f" > "$dir/seeds/$(echo "$f" | tr '/' '_')"
    done
}
case $name in
fuzz_gguf) seed tests/corpus/gguf/*.gguf tests/corpus/controlvector/*.gguf "$S"/models/tokenizers/*.gguf ;;
fuzz_gguf_model) seed tests/corpus/gguf/*.gguf ;;
fuzz_controlvector) seed tests/corpus/controlvector/*.gguf tests/corpus/gguf/ok.gguf ;;
fuzz_llama2c) seed tests/corpus/llama2c/*.bin "$S"/models/stories260K/stories260K.bin ;;
fuzz_tokenizer_bin) seed tests/corpus/tokenizer/*.bin "$S"/models/stories260K/tok512.bin "$S"/models/llama2-tokenizer/tokenizer.bin ;;
fuzz_tokenizer_json) seed tests/corpus/tokenizer/*.json ;;
fuzz_safetensors) # packed: u32 length of config.json, config.json, model.safetensors
    for d in tests/corpus/safetensors/*/; do
        c=$d/config.json m=$d/model.safetensors
        [[ -f $c ]] || continue
        n=$(stat -c %s "$c")
        { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((n & 255)) $((n >> 8 & 255)) $((n >> 16 & 255)) $((n >> 24)))"
          cat "$c"; [[ -f $m ]] && cat "$m"; } > "$dir/seeds/$(basename "$d")"
    done ;;
fuzz_npy) seed tests/corpus/npy/*.npy ;;
fuzz_csv) seed "$S"/data/trust/*.csv "$S"/data/stereoset/*.csv ;;
fuzz_jsonl) seed "$S"/data/hh_rlhf/*.jsonl "$S"/data/self_instruct/*.jsonl "$S"/data/harmfulqa/*.jsonl ;;
fuzz_tokens) seed tests/corpus/tokens/*.tok ;;
fuzz_optim) seed tests/corpus/optim/*.bin ;;
fuzz_manifest) seed tests/corpus/manifest/*.json ;;
*) echo "run.sh: no seeds known for $name" >&2 ;;
esac
log=$dir/last.log
nice -n 10 "$bin" -max_total_time="$secs" -max_len=$maxlen -timeout=20 -rss_limit_mb=2560 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$@" "$dir/corpus" "$dir/seeds" > "$log" 2>&1
rc=$?
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
crashes=$(find "$dir" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' -o -maxdepth 1 -name 'oom-*' | wc -l)
echo "$name: ${execs:-?} executions in $secs s, $crashes crash files in $dir (exit $rc)"
if [[ $rc != 0 ]]; then
    grep -m1 -B2 -A25 'ERROR\|runtime error\|==ERROR' "$log" >&2 || tail -30 "$log" >&2
fi
exit $rc
