#!/usr/bin/env bash
# Install (when root) or name the Debian packages tiller needs to build and test.
# Usage: scripts/deps.sh [build|test]
set -eu
need_build="libcjson-dev libopenblas-dev pkg-config"
# chromium, jq: tests/cli/test_demo.sh renders report.html headless and checks findings.json; python/ tests, pip install ./python;
# OpenMPI: the MPI tests run mpirun -np 2; clang + compiler-rt + libomp: the libFuzzer harnesses and
# the ThreadSanitizer run of make check
need_test="chromium jq python3-numpy python3-pip python3-setuptools openmpi-bin libopenmpi-dev clang libclang-rt-14-dev libomp-14-dev"
want="$need_build"
[ "${1:-build}" = test ] && want="$need_build $need_test"
missing=""
for p in $want; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "tiller: installing Debian packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
else
  echo "tiller: missing Debian packages:$missing" >&2
  echo "tiller: install them with: sudo apt-get install -y$missing" >&2
  exit 1
fi
