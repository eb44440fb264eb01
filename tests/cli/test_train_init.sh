#!/bin/bash
# Where a run's model comes from: --config JSON (tiller or Hugging Face keys; flags override
# fields), or -m MODEL (fine-tuning the real stories260K, then resuming it bit-exactly);
# a bad config file is named with its field.
source "$(dirname "$0")/train_lib.sh"
make_ids "$W/a.ids" 200
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" >/dev/null 2>&1
ARGS="-d $W/a.tok --batch 4 --steps 4 --save-every 2 --threads 1 -q"

printf '{"dim": 32, "hidden_dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "vocab_size": 512, "seq_len": 32}\n' >"$W/t.json"
printf '{"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
  "num_key_value_heads": 2, "vocab_size": 512, "max_position_embeddings": 32, "rms_norm_eps": 1e-6,
  "tie_word_embeddings": true}\n' >"$W/hf.json"
"$T" train $ARGS --config "$W/t.json" -o "$W/c1" >/dev/null
"$T" train $ARGS --config "$W/hf.json" --layers 3 -o "$W/c2" >/dev/null
grep -q '"n_layers":[[:space:]]*2' "$W/c1/manifest.json" || fail "tiller-key config"
grep -q '"n_layers":[[:space:]]*3' "$W/c2/manifest.json" || fail "--layers overrides the config file"
grep -q '"norm_eps":[[:space:]]*1e-06' "$W/c2/manifest.json" || fail "HF rms_norm_eps: $(grep norm_eps "$W/c2/manifest.json")"
pass "--config with tiller and Hugging Face keys; flags override"

set +e
printf '{"dim": 32, "n_layers": 2}\n' >"$W/bad.json"
err=$("$T" train $ARGS --config "$W/bad.json" -o "$W/x" 2>&1); rc=$?
[[ $rc == 1 && $err == *bad.json*'missing field "hidden_dim"'* ]] || fail "config missing a field: rc $rc: $err"
printf '{"dim": 32.5, "hidden_dim": 64, "n_layers": 2, "n_heads": 4, "vocab_size": 512, "seq_len": 32}\n' >"$W/bad.json"
err=$("$T" train $ARGS --config "$W/bad.json" -o "$W/x" 2>&1); rc=$?
[[ $rc == 1 && $err == *'"dim" = 32.5'* ]] || fail "config non-integer: rc $rc: $err"
printf '{"dim": 32,' >"$W/bad.json"
err=$("$T" train $ARGS --config "$W/bad.json" -o "$W/x" 2>&1); rc=$?
[[ $rc == 1 && $err == *"bad.json: not valid JSON"* ]] || fail "config not JSON: rc $rc: $err"
set -e
pass "bad config files are named with the field"

# fine-tune the real stories260K (seq 512 context, trained at T = 32), stop, resume
M=../shared/models/stories260K/stories260K.bin
"$T" train $ARGS -m "$M" --seq 32 --lr 1e-4 -o "$W/ft" >/dev/null
"$T" train $ARGS -m "$M" --seq 32 --lr 1e-4 -o "$W/ft2" --stop-at 2 >/dev/null
"$T" train --resume "$W/ft2" --threads 1 -q >/dev/null
cmp "$W/ft/ckpt-4.gguf" "$W/ft2/ckpt-4.gguf" || fail "fine-tune resume differs"
first=$(sed -n 2p "$W/ft/train_log.csv" | cut -d, -f2)
# a random init starts near ln 512 = 6.24; the trained model is confidently wrong on random ids
awk -v l="$first" 'BEGIN { exit !(l > 7.5 || l < 5.0) }' || fail "first loss $first looks like a random init, not stories260K"
pass "fine-tuning from -m stories260K.bin (first loss $first) resumes bit-exactly"
