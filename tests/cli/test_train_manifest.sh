#!/bin/bash
# Broken run directories given to `train --resume`: every manifest in tests/corpus/manifest
# is refused with exit 1 and a message naming manifest.json and the problem (no crash, no
# undefined float->int conversion); a state file no checkpoint names (a kill between the
# manifest write and the removal of the previous state) is removed on resume; a truncated
# state file is reported with its real size.
source "$(dirname "$0")/train_lib.sh"
make_ids "$W/a.ids" 200
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" >/dev/null 2>&1
"$T" train -d "$W/a.tok" $TINY --lr 3e-3 --warmup 2 --threads 1 -q --steps 4 --save-every 2 -o "$W/base" >/dev/null
set +e

n=0
while IFS=$'\t' read -r name prog status frag; do
    [[ -z $name || $name == \#* ]] && continue
    rm -rf "$W/r" && cp -r "$W/base" "$W/r"
    sed -i "$prog" "$W/r/manifest.json"
    cmp -s "$W/r/manifest.json" "$W/base/manifest.json" && [[ $name != ok ]] && fail "$name: the sed program changed nothing"
    err=$("$T" train --resume "$W/r" --threads 1 2>&1); rc=$?
    if [[ $status == OK ]]; then
        [[ $rc == 0 && $err == *"$frag"* ]] || fail "$name: want exit 0 with '$frag', got rc $rc: $err"
    else
        [[ $rc == 1 && $err == *"$W/r/manifest.json"* && $err == *"$frag"* && $err == *"tiller: error"* ]] ||
            fail "$name: want exit 1 with '$frag', got rc $rc: $err"
    fi
    n=$((n + 1))
done < tests/corpus/manifest/cases.tsv
[[ $n -ge 10 ]] || fail "only $n manifest cases ran"
pass "$n manifests: broken ones refused with the field named"

# --- an orphaned state file (killed after the manifest write) is removed on resume
rm -rf "$W/r" && cp -r "$W/base" "$W/r"
cp "$W/r/optim-4.bin" "$W/r/optim-2.bin"
cp "$W/r/optim-4.bin" "$W/r/optim-3.bin"
touch "$W/r/optim-notes.txt"
err=$("$T" train --resume "$W/r" --threads 1 2>&1); rc=$?
[[ $rc == 0 ]] || fail "resume with an orphaned state: rc $rc: $err"
[[ -e $W/r/optim-2.bin || -e $W/r/optim-3.bin ]] && fail "orphaned optim-2.bin/optim-3.bin kept: $(ls "$W/r")"
[[ -e $W/r/optim-4.bin && -e $W/r/optim-notes.txt ]] || fail "the named state or an unrelated file was removed: $(ls "$W/r")"
pass "orphaned optimiser state removed on resume, the named one kept"

# --- a truncated state file: the message gives its real size
rm -rf "$W/r" && cp -r "$W/base" "$W/r"
size=$(stat -c %s "$W/r/optim-4.bin")
truncate -s $((size - 100)) "$W/r/optim-4.bin"
err=$("$T" train --resume "$W/r" --threads 1 2>&1); rc=$?
[[ $rc == 1 && $err == *"optim-4.bin: $((size - 100)) bytes, expected $size"* ]] || fail "truncated state: rc $rc: $err"
pass "truncated state reported with its size"
