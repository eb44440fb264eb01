# mpi_lib.sh: shared setup for the MPI tests (sourced after train_lib.sh, not a test itself).
# Exits 77 (ctest: skipped) when tiller is built without MPI or mpirun is missing, so a
# build without MPI shows these tests as skipped, never as passed.
# $MPI runs a command on ranks: $MPI -np 2 "$T" train ...
#   --allow-run-as-root  Open MPI refuses root without it (CI containers run as root)
#   --oversubscribe      more ranks than the cores Open MPI counts (3 ranks on 2 cores)
#   --bind-to none       ranks of tests running side by side must not share a pinned core
if ! "$T" --version | grep -q '^MPI: built in'; then
    echo "SKIPPED: tiller is built without MPI ($("$T" --version | tail -1))"
    exit 77
fi
MPIRUN=${MPIEXEC:-mpirun}
if ! command -v "$MPIRUN" >/dev/null; then
    echo "SKIPPED: $MPIRUN not found (scripts/deps.sh test installs openmpi-bin)"
    exit 77
fi
MPI="$MPIRUN --allow-run-as-root --oversubscribe --bind-to none"
# the sanitizer build: Open MPI's own allocations are not ours to report
if [[ -n ${ASAN_OPTIONS:-} ]]; then MPI="$MPI -x ASAN_OPTIONS=detect_leaks=0"; fi
