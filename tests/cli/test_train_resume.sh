#!/bin/bash
# Bit-exact resume: 24 steps uninterrupted == 11 steps (--stop-at) + --resume for 13,
# same seed and thread count. The loss logs (step, loss, val_loss, lr, grad_norm) and
# the final model and optimiser state must be identical byte for byte. Gradient
# accumulation, clipping and warm-up are all on, so every piece of state matters.
source "$(dirname "$0")/train_lib.sh"
make_ids "$W/a.ids" 300
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" --val-frac 0.1 >/dev/null 2>&1
ARGS="-d $W/a.tok $TINY --steps 24 --accum 2 --lr 3e-3 --warmup 5 --grad-clip 0.5 --eval-every 6 --save-every 6 --threads 2 -q --seed 7"

"$T" train $ARGS -o "$W/full" >/dev/null
"$T" train $ARGS -o "$W/split" --stop-at 11 >"$W/stop.txt"   # not a checkpoint or evaluation step
grep -q "stopped at step 11 of 24" "$W/stop.txt" || fail "--stop-at message: $(cat "$W/stop.txt")"
[[ -e "$W/split/ckpt-24.gguf" ]] && fail "the stopped run must not reach step 24"
cd "$W"   # resume from another working directory: the manifest holds absolute paths
"$T" train --resume split --threads 2 -q >/dev/null
cd - >/dev/null

cut -d, -f1-5 "$W/full/train_log.csv" >"$W/full.log"
cut -d, -f1-5 "$W/split/train_log.csv" >"$W/split.log"
[[ $(wc -l <"$W/full.log") == 25 ]] || fail "the log has a header and 24 rows: $(wc -l <"$W/full.log")"
diff "$W/full.log" "$W/split.log" || fail "loss logs differ after resume"
cmp "$W/full/ckpt-24.gguf" "$W/split/ckpt-24.gguf" || fail "final parameters differ after resume"
# the state file minus wall time (bytes 96..103) and the checksum (last 8) that covers it
state_body() { head -c 96 "$1"; tail -c +105 "$1" | head -c -8; }
cmp <(state_body "$W/full/optim-24.bin") <(state_body "$W/split/optim-24.bin") ||
    fail "final optimiser state (moments, step, RNG, data position) differs after resume"
for s in 6 12 18; do cmp "$W/full/ckpt-$s.gguf" "$W/split/ckpt-$s.gguf" || fail "checkpoint $s differs"; done
ls "$W/split" | grep -qE '^optim-1[12].bin$' && fail "older optimiser states are removed (without --keep-state)"
pass "24 steps == 11 + resume 13: identical losses, parameters and optimiser state"
sed -n '2,4p;24,25p' "$W/split/train_log.csv"

# the resumed run is complete: resuming again does nothing
out=$("$T" train --resume "$W/split" --threads 2 -q)
[[ $out == *"complete"* ]] || fail "resume of a finished run: $out"
# settings cannot change on resume
set +e
"$T" train --resume "$W/split" --lr 1 >/dev/null 2>&1; rc=$?
set -e
[[ $rc == 2 ]] || fail "--resume with --lr must be a usage error (rc $rc)"
# a different token file is refused
make_ids "$W/b.ids" 50
"$T" data --vocab 512 "$W/b.ids" -o "$W/b.tok" >/dev/null 2>&1
set +e
err=$("$T" train --resume "$W/split" -d "$W/b.tok" -q 2>&1); rc=$?
set -e
[[ $rc == 1 && $err == *"not the token file this run was trained on"* ]] || fail "other data on resume: rc $rc: $err"
pass "resume of a finished run, changed settings and other data are handled"

# Hugging Face checkpoints (--format safetensors: one directory per checkpoint) resume the same way
ARGS2="-d $W/a.tok $TINY --steps 8 --save-every 4 --threads 2 -q --format safetensors"
"$T" train $ARGS2 -o "$W/hf" >/dev/null
"$T" train $ARGS2 -o "$W/hf2" --stop-at 4 >/dev/null
"$T" train --resume "$W/hf2" --threads 2 -q >/dev/null
[[ -f "$W/hf2/ckpt-8/model.safetensors" && -f "$W/hf2/ckpt-8/config.json" ]] || fail "safetensors checkpoint layout"
cmp "$W/hf/ckpt-8/model.safetensors" "$W/hf2/ckpt-8/model.safetensors" || fail "safetensors resume differs"
pass "safetensors checkpoint directories resume bit-exactly"
