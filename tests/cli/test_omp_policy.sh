#!/bin/bash
# The project's OpenMP waiting policy (docs/ARCHITECTURE.md, "OpenMP waiting"): every
# command but bench runs with OMP_WAIT_POLICY=passive (libgomp then spins 0 times before
# sleeping), bench keeps libgomp's default, and an explicit OMP_WAIT_POLICY wins. libgomp
# prints its settings with OMP_DISPLAY_ENV=verbose; the last GOMP_SPINCOUNT printed is the
# one of the process that runs the command (the first one re-executes itself).
source "$(dirname "$0")/train_lib.sh"
spin() { env -u OMP_WAIT_POLICY "$@" 2>&1 | grep -o "GOMP_SPINCOUNT = '[0-9]*'" | tail -1 | grep -o '[0-9]*'; }
[[ $(spin OMP_DISPLAY_ENV=verbose "$T" tokenize --help) == 0 ]] || fail "tokenize does not run with passive waiting"
[[ $(spin OMP_DISPLAY_ENV=verbose "$T" train --help) == 0 ]] || fail "train does not run with passive waiting"
[[ $(spin OMP_DISPLAY_ENV=verbose "$T" bench --help) != 0 ]] || fail "bench should keep the default (spinning) policy"
[[ $(spin OMP_DISPLAY_ENV=verbose OMP_WAIT_POLICY=active "$T" tokenize --help) != 0 ]] ||
    fail "an explicit OMP_WAIT_POLICY=active was overridden"
# the command still gets its arguments and exit code through the re-execution
out=$(env -u OMP_WAIT_POLICY "$T" tokenize --tokenizer "${TILLER_SHARED:-../shared}/models/stories260K/tok512.bin" -p "Once upon" --ids-only)
[[ -n $out ]] || fail "tokenize printed nothing after re-executing"
set +e; env -u OMP_WAIT_POLICY "$T" tokenize --no-such-flag >/dev/null 2>&1; rc=$?
[[ $rc == 2 ]] || fail "usage error exit code $rc after re-executing"
pass "OMP_WAIT_POLICY=passive for every command but bench; explicit settings win"
