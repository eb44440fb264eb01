#!/bin/bash
# Help texts: every command's --help exits 0, and every document it cites (*.md) exists
# from the repository root (the shared folder's documents as ../shared/docs/..., which
# TILLER_SHARED may relocate); the demo's stated run times match the README's
# measurements (minutes for the default run, seconds for --quick).
source "$(dirname "$0")/train_lib.sh"
S=${TILLER_SHARED:-../shared}
cmds=$("$T" --help | awk '/^commands:/ {on = 1; next} on && NF {print $1}')
[[ $(wc -w <<< "$cmds") -ge 15 ]] || fail "could not list the commands: $cmds"
for c in $cmds; do
    help=$("$T" $c --help 2>&1) || fail "$c --help exits non-zero"
    for doc in $(grep -oE '[A-Za-z0-9_./-]*\.md' <<< "$help" | sort -u); do
        [[ $doc == DIR/* || $doc == OUT/* ]] && continue # files the command writes
        path=${doc/#..\/shared/$S}
        [[ -f $path ]] || fail "$c --help cites $doc, which does not exist (from $(pwd))"
    done
done
pass "help texts cite documents that exist"
help=$("$T" demo --help)
[[ $help == *"9-13 minutes"* && $help == *"--quick 10-20 s"* ]] || fail "demo --help run times: $help"
pass "demo --help run times as measured in the README"
