#!/usr/bin/env bash
# The public API from outside: examples/generate.c (built against include/ and libtiller.so only)
# must print what `tiller generate --temp 0` prints; libtiller.so has a versioned SONAME and
# exports only tl_* symbols; its errors carry tiller's message.
set -u
: "${TILLER_BIN:?}" "${EXAMPLE_BIN:?}" "${TILLER_SO:?}"
M=../shared/models/stories260K/stories260K.bin
K=../shared/models/stories260K/tok512.bin
pass=0 fail=0
ok() { pass=$((pass+1)); }
bad() { fail=$((fail+1)); echo "FAIL $*" >&2; }

want=$("$TILLER_BIN" generate -m "$M" --tokenizer "$K" -p "Once upon a time" -n 40 --temp 0 -t 1 2>/dev/null)
got=$(OMP_NUM_THREADS=1 "$EXAMPLE_BIN" "$M" "$K" "Once upon a time" 40 2>/dev/null); rc=$?
[ $rc -eq 0 ] && ok || bad "example exit $rc"
[ -n "$want" ] && [ "$got" = "$want" ] && ok || bad "example and tiller generate differ: [$got] vs [$want]"
ldd "$EXAMPLE_BIN" | grep -q 'libtiller.so.0 ' && ok || bad "example is not linked against libtiller.so.0"

err=$("$EXAMPLE_BIN" "$M" 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $err == *"carries no tokenizer"* ]] && ok || bad "no tokenizer: rc $rc: $err"
err=$("$EXAMPLE_BIN" /nonexistent.gguf - 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $err == *"/nonexistent.gguf"* ]] && ok || bad "missing file: rc $rc: $err"

so=$(readelf -d "$TILLER_SO" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$so" = "libtiller.so.0" ] && ok || bad "SONAME [$so]"
syms=$(nm -D --defined-only "$TILLER_SO" | awk 'NF == 3 {sub(/@.*/, "", $3); print $3}')
n=$(printf '%s\n' "$syms" | grep -c '^tl_')
other=$(printf '%s\n' "$syms" | grep -v '^tl_' | grep -v '^TILLER_0$' | head -5)
[ "$n" -gt 100 ] && ok || bad "only $n tl_ symbols exported"
[ -z "$other" ] && ok || bad "non-tl_ symbols exported: $other"
# internal functions stay hidden: tl_errorf (base), tl_params_layer (model), tl_gguf_open (format)
for f in tl_errorf tl_params_layer tl_gguf_open tl_matmul_forward; do
  printf '%s\n' "$syms" | grep -qx "$f" && bad "internal $f is exported" || ok
done
for f in tl_model_load tl_generate tl_tokenizer_encode tl_session_hooks tl_last_error; do
  printf '%s\n' "$syms" | grep -qx "$f" && ok || bad "public $f is not exported"
done
echo "api example: $pass passed, $fail failed"
[ $fail -eq 0 ]
