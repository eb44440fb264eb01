#!/bin/bash
# Sharded analysis under MPI writes the files of one process, byte for byte (meta.json,
# probe.json and infoplane.json apart from their "seconds"): `tiller acts --series` with
# whole checkpoints per rank plus the remainder split by statements (2 and 3 ranks),
# `tiller acts -m` split by statements, a resumed series, `tiller probe` (warm-started
# points, and cells with --no-warm) and `tiller infoplane` split by cells.
source "$(dirname "$0")/train_lib.sh"
source "$(dirname "$0")/mpi_lib.sh"
SHARED=${TILLER_SHARED:-../shared}
TOK=$SHARED/models/stories260K/tok512.bin
head -n 61 "$SHARED/data/trust/stereoset.csv" >"$W/data.csv" # header + 60 statements
make_ids "$W/a.ids" 200
"$T" data --vocab 512 "$W/a.ids" -o "$W/a.tok" >/dev/null 2>&1
"$T" train -d "$W/a.tok" $TINY --steps 10 --save-every 2 --warmup 2 --threads 1 -q -o "$W/run" >/dev/null # 5 checkpoints
A=(--tokenizer "$TOK" --data "$W/data.csv" --truncate --points resid_post,embed --threads 1)

# DIR_A DIR_B WHAT: the same files, the same bytes (timings aside)
same_tree() {
    diff <(cd "$1" && find . -type f | sort) <(cd "$2" && find . -type f | sort) || fail "$3: other files"
    local f
    while read -r f; do
        case $f in
        *.json) diff <(grep -v '"seconds"' "$1/$f") <(grep -v '"seconds"' "$2/$f") >/dev/null || fail "$3: $f differs" ;;
        *) cmp -s "$1/$f" "$2/$f" || fail "$3: $f differs" ;;
        esac
    done < <(cd "$1" && find . -type f)
}

"$T" acts --series "$W/run" "${A[@]}" -o "$W/acts1" >/dev/null 2>&1
$MPI -np 2 "$T" acts --series "$W/run" "${A[@]}" -o "$W/acts2" >"$W/acts2.txt" 2>&1 || fail "acts, 2 ranks: $(cat "$W/acts2.txt")"
grep -q "5 checkpoints captured, 0 skipped" "$W/acts2.txt" || fail "acts, 2 ranks: $(cat "$W/acts2.txt")"
same_tree "$W/acts1" "$W/acts2" "acts --series, 2 ranks (4 whole checkpoints + 1 split)"
$MPI -np 3 "$T" acts --series "$W/run" "${A[@]}" -o "$W/acts3" >/dev/null 2>&1 || fail "acts, 3 ranks"
same_tree "$W/acts1" "$W/acts3" "acts --series, 3 ranks (3 whole + 2 split)"
pass "acts --series: 2 and 3 ranks write the files of one process"
ls "$W/acts2" | head -3

mkdir "$W/by1" "$W/by2" # meta.json names its directory: the same name in both
"$T" acts -m "$W/run/ckpt-10.gguf" "${A[@]}" -o "$W/by1/m" >/dev/null 2>&1
$MPI -np 2 "$T" acts -m "$W/run/ckpt-10.gguf" "${A[@]}" -o "$W/by2/m" >/dev/null 2>&1 || fail "acts -m, 2 ranks"
same_tree "$W/by1/m" "$W/by2/m" "acts -m, statements split"
pass "acts -m: statements split over 2 ranks, the same arrays"

# resume: one capture lost its done-marker; 2 ranks redo that one only
rm "$W/acts2/ckpt-6/meta.json"
$MPI -np 2 "$T" acts --series "$W/run" "${A[@]}" -o "$W/acts2" >"$W/resume.txt" 2>&1 || fail "resume: $(cat "$W/resume.txt")"
grep -q "1 checkpoint captured, 4 skipped" "$W/resume.txt" || fail "resume: $(cat "$W/resume.txt")"
same_tree "$W/acts1" "$W/acts2" "resumed series"
pass "a resumed series under MPI captures only what is missing"

for warm in "" --no-warm; do
    "$T" probe --acts "$W/acts1" -o "$W/p1$warm" --threads 1 $warm >/dev/null 2>&1
    $MPI -np 2 "$T" probe --acts "$W/acts1" -o "$W/p2$warm" --threads 1 $warm >"$W/p2.txt" 2>&1 || fail "probe: $(cat "$W/p2.txt")"
    same_tree "$W/p1$warm" "$W/p2$warm" "probe $warm"
done
[[ $(grep -c "probed 5 checkpoints" "$W/p2.txt") == 1 ]] || fail "probe: rank 0 alone reports: $(cat "$W/p2.txt")"
pass "probe: 2 ranks (points, and cells with --no-warm) write the files of one process"
"$T" infoplane --acts "$W/acts1" -o "$W/i1" --threads 1 >/dev/null 2>&1
$MPI -np 3 "$T" infoplane --acts "$W/acts1" -o "$W/i3" --threads 1 >"$W/i3.txt" 2>&1 || fail "infoplane: $(cat "$W/i3.txt")"
same_tree "$W/i1" "$W/i3" "infoplane"
pass "infoplane: 3 ranks write the files of one process"
