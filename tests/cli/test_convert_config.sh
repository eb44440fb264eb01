#!/bin/bash
# Writing DIR/X.safetensors puts config.json beside it: an existing DIR/config.json that
# differs (another model's, or the user's) is replaced with a warning naming it (it used
# to be overwritten silently); the same config again gives no warning.
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
M=$S/models/stories260K/stories260K.bin
set +e
mkdir "$W/d"
echo '{"note": "not tiller'"'"'s"}' > "$W/d/config.json"
err=$("$T" convert "$M" "$W/d/x.safetensors" 2>&1 >/dev/null); rc=$?
[[ $rc == 0 && $err == *"warning: $W/d/config.json: replacing the existing config.json"* ]] ||
    fail "existing config.json: rc $rc: $err"
grep -q '"hidden_size"' "$W/d/config.json" || fail "config.json is not the model's"
err=$("$T" convert "$M" "$W/d/x.safetensors" 2>&1 >/dev/null); rc=$?
[[ $rc == 0 && $err != *warning* ]] || fail "the same model again: rc $rc: $err"
pass "an existing, different config.json is never replaced silently"
