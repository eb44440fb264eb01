#!/bin/bash
# A model with a NaN or infinite weight is refused by every command that loads it, naming
# the file and the tensor: `generate` used to exit 0 with empty output, and `train` saved
# the NaNs as ckpt-0, its "last good checkpoint" (a NaN validation loss counted as finite).
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
[[ -f $M && -f $K ]] || fail "missing $M or $K (set TILLER_SHARED)"
set +e
for v in nan inf; do
    cp "$M" "$W/$v.bin"
    # float 100 of the weights (header: 7 int32) = token_embd.weight[100]
    if [[ $v == nan ]]; then printf '\x00\x00\xc0\x7f'; else printf '\x00\x00\x80\x7f'; fi |
        dd of="$W/$v.bin" bs=1 seek=$((28 + 4 * 100)) conv=notrunc status=none
    err=$("$T" generate -m "$W/$v.bin" --tokenizer "$K" -p "Once" -n 8 --temp 0 2>&1); rc=$?
    [[ $rc == 1 && $err == *"$W/$v.bin"* && $err == *"tensor 'token_embd.weight' has a non-finite weight ($v at index 100)"* ]] ||
        fail "generate on $v weights: rc $rc: $err"
done
pass "generate refuses NaN/inf weights"

make_ids "$W/a.ids" 100
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" >/dev/null 2>&1
err=$("$T" train -m "$W/nan.bin" -d "$W/a.tok" --steps 2 --save-every 1 --batch 2 --threads 1 -q -o "$W/run" 2>&1); rc=$?
[[ $rc == 1 && $err == *"non-finite weight"* ]] || fail "train from NaN weights: rc $rc: $err"
[[ -e $W/run/ckpt-0.bin || -e $W/run/ckpt-0.gguf || -e $W/run/manifest.json ]] && fail "a checkpoint of NaN weights was saved"
pass "train refuses to start from NaN weights; nothing saved"

# --- tok512.bin cut after its 500th record: 500 tokens for a 512-token model
pos=4
for ((i = 0; i < 500; i++)); do
    len=$(od -An -t d4 -j $((pos + 4)) -N 4 "$K" | tr -d ' ')
    pos=$((pos + 8 + len))
done
head -c $pos "$K" > "$W/tok500.bin"
err=$("$T" generate -m "$M" --tokenizer "$W/tok500.bin" -p "Once" -n 8 --temp 0 2>&1); rc=$?
[[ $rc == 1 && $err == *"$W/tok500.bin: the tokenizer has 500 tokens but the model's vocabulary is 512"* ]] ||
    fail "truncated tokenizer.bin: rc $rc: $err"
pass "generate refuses a tokenizer.bin smaller than the model's vocabulary"
