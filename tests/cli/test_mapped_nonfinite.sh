#!/bin/bash
# `generate` loads models mapped (tl_model_load_mapped): the layer matrices stay in the file and
# their finiteness is checked by the first forward pass instead of a load-time scan
# (src/model/finite_check.h). A NaN or inf in one of them must still stop `generate` with the
# file and tensor named, exit 1, and no text: here in blk.0.attn_q.weight of stories260K.bin
# (llama2.c v0: 7-int32 header, tok_embd [512 x 64], 5 attn_norm [64], then wq of layer 0).
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
K=$S/models/stories260K/tok512.bin
[[ -f $M && -f $K ]] || fail "missing $M or $K (set TILLER_SHARED)"
set +e
for v in nan inf; do
    cp "$M" "$W/$v.bin"
    if [[ $v == nan ]]; then printf '\x00\x00\xc0\x7f'; else printf '\x00\x00\x80\x7f'; fi |
        dd of="$W/$v.bin" bs=1 seek=$((28 + 4 * (512 * 64 + 5 * 64) + 4 * 10)) conv=notrunc status=none
    out=$("$T" generate -m "$W/$v.bin" --tokenizer "$K" -p "Once" -n 8 --temp 0 2>"$W/err"); rc=$?
    err=$(cat "$W/err")
    [[ $rc == 1 && -z $out && $err == *"$W/$v.bin"* && $err == *"tensor 'blk.0.attn_q.weight' has a non-finite weight ($v at index 10)"* ]] ||
        fail "generate on a $v in a mapped matrix: rc $rc: out '$out': $err"
done
pass "generate refuses NaN/inf in a mapped layer matrix at its first forward pass"
out=$("$T" generate -m "$M" --tokenizer "$K" -p "Once" -n 8 --temp 0 2>&1); rc=$?
[[ $rc == 0 && -n $out ]] || fail "the clean file: rc $rc: $out"
pass "the clean file generates"
