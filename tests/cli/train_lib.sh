# train_lib.sh: shared setup for the training CLI tests (sourced, not a test itself).
# Gives $T (the tiller binary), $W (a scratch directory removed on exit), fail(), and
# make_ids FILE N_DOCS: a deterministic corpus of token ids (vocab 512, BOS = 1).
set -euo pipefail
T=${TILLER_BIN:?TILLER_BIN must point at the tiller binary}
W=$(mktemp -d /tmp/tiller-cli-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
make_ids() {
    awk -v n="$2" 'BEGIN { x = 12345;
        for (d = 0; d < n; d++) {
            x = (x * 1103515245 + 12345) % 2147483648; len = 8 + x % 90; line = "1";
            for (i = 1; i < len; i++) {
                x = (x * 1103515245 + 12345) % 2147483648;
                # a little structure to learn: mostly small ids, runs of +1
                t = (i % 7 == 0) ? 3 + x % 509 : 3 + (d + i) % 60;
                line = line " " t }
            print line } }' > "$1"
}
# A tiny model so that every run takes a second or two.
TINY="--dim 32 --hidden 64 --layers 2 --heads 4 --kv-heads 2 --seq 32 --batch 4"
