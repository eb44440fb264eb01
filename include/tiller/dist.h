/*
 * dist.h: the processes of an MPI job (`mpirun -np N tiller ...`), or one process.
 *
 * Everything MPI goes through here, so the rest of tiller has no #ifdef: built
 * without MPI (or started without a launcher) there is one rank, rank 0 of 1, and
 * every collective below is a no-op or a copy. MPI's state is process-wide by
 * nature; this module keeps one flag of its own (whether it initialised MPI).
 *
 * MPI is initialised only when a launcher started the process (mpirun/srun set
 * OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_SIZE): a plain `tiller ...` never pays
 * for MPI start-up. Errors return (MPI_ERRORS_RETURN) as TL_E_IO with MPI's text.
 * A rank that dies is the launcher's business: Open MPI's mpirun then stops every
 * other rank and names the one that died (docs/scale-out.md).
 *
 * Determinism: the sums here are exact or done in a fixed order (rank order),
 * never in whatever order messages happen to arrive.
 */
#ifndef TL_DIST_H
#define TL_DIST_H

#include <stddef.h>

#include "tiller/base.h"

TL_API_BEGIN

/* 1 when tiller was compiled with MPI. */
int tl_dist_built_in(void);
/* "Open MPI v4.1.4, ..." (the library's own version string) or "not built in". */
const char *tl_dist_library(void);
/* Was this process started by an MPI launcher (whether or not MPI is built in)? */
int tl_dist_launched(void);

/* Initialise when launched (else nothing); an error when launched by mpirun but built
 * without MPI (N copies would each run the whole command). */
tl_status tl_dist_init(int *argc, char ***argv);
void tl_dist_finalize(void);
int tl_dist_rank(void); /* 0 without MPI */
int tl_dist_size(void); /* 1 without MPI */

tl_status tl_dist_barrier(void);
/* Collective. Every rank passes its own status; all ranks return TL_OK only when all
 * were TL_OK. Otherwise every rank returns the status of the lowest failing rank, and
 * the other ranks' message becomes "rank R: <its message>". */
tl_status tl_dist_agree(tl_status local);
/* Broadcast bytes from root to every rank. */
tl_status tl_dist_bcast(void *buf, size_t bytes, int root);
/* x[i] summed over ranks, for slots that exactly one rank fills (the others pass 0):
 * the sum is then exact whatever order MPI adds in. */
tl_status tl_dist_sum_disjoint(double *x, size_t n);
/* The share [*begin, *end) of n items for this rank: contiguous blocks in rank order,
 * sizes differing by at most one. */
void tl_dist_share(int64_t n, int64_t *begin, int64_t *end);
/* The rank owning item i under tl_dist_share. */
int tl_dist_owner(int64_t n, int64_t i);
/* rows [0, n_rows) of row_bytes each, split by tl_dist_share(n_rows): every rank has filled
 * its own block of buf; on return rank 0's buf holds every block (the others' unchanged). */
tl_status tl_dist_gather_rows(void *buf, size_t row_bytes, int64_t n_rows);
/* Shards of a float vector: rank r owns [bounds[r], bounds[r+1]) (bounds has size + 1 entries). */
/* An exchange in flight (NULL: none, or nothing to move). */
typedef struct tl_dist_req tl_dist_req;
/* Collective, nonblocking. Every rank that `sends` gives full[bounds[s] .. bounds[s+1]) to every
 * other rank s; every rank receives its own shard's piece from each other sender s into from[s]
 * (from[rank] and the slots of ranks that do not send are untouched). sends[r] says whether rank
 * r sends this time (every rank passes the same flags). Neither full nor from[] may be touched
 * until tl_dist_wait has returned. */
tl_status tl_dist_exchange_start(const float *full, const size_t *bounds, const int *sends, float *const *from,
                                 tl_dist_req **req);
/* Let MPI move data of an exchange in flight (it moves only inside MPI calls); cheap. */
void tl_dist_progress(tl_dist_req *req);
/* Complete the exchange (waiting without spinning) and set *req = NULL. */
tl_status tl_dist_wait(tl_dist_req **req);
/* Forget an exchange that failed or that an error interrupted: its buffers must then
 * stay allocated (the job is stopping). */
void tl_dist_req_abandon(tl_dist_req **req);
/* Collective. On return every rank's buf holds every rank's own shard (copies, bit for bit). */
tl_status tl_dist_allgather_shards(float *buf, const size_t *bounds);
/* Collective. On return rank 0's buf holds every rank's own shard (the others' buf unchanged). */
tl_status tl_dist_gather_shards(float *buf, const size_t *bounds);
/* Rank 0 working alone (e.g. a pipeline stage that does not shard) while the other ranks
 * wait in tl_dist_barrier_idle: with on = 1 this process is rank 0 of 1 (every collective a
 * no-op) until tl_dist_solo(0). Call on rank 0 only. */
void tl_dist_solo(int on);
/* Collective. A barrier that waits without spinning (it sleeps between polls), so ranks
 * that wait out rank 0's solo work leave the cores to its threads. */
tl_status tl_dist_barrier_idle(void);
/* Did the last tl_dist_agree return a failure that every rank returned too (and no MPI
 * call has failed since)? Then rank 0 speaks for the job. */
int tl_dist_failure_agreed(void);
/* The end of a command on every rank, with its exit code (returned): finalizes MPI. When
 * every rank gets here they end together and each exits with its own code. A rank that
 * failed alone, while the others wait for it in some collective, stops the job
 * (MPI_Abort) after a grace period; only that rank aborts. For the CLI only. */
int tl_dist_exit(int code);

TL_API_END

#endif /* TL_DIST_H */
