/* dist.c: rank, size and the few collectives tiller needs, over MPI when built
 * with it (TILLER_HAVE_MPI), else the one-process versions. See dist.h. */
#include "tiller/dist.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h" /* internal: tl_errorf */

#ifdef TILLER_HAVE_MPI
#include <mpi.h>
#endif

/* MPI moves at most INT_MAX elements per call; tiller sends in 256 Mi-element chunks. */
#define CHUNK ((size_t)1 << 28)

int tl_dist_launched(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        if (getenv(vars[i])) return 1;
    return 0;
}

void tl_dist_share(int64_t n, int64_t *begin, int64_t *end) {
    int64_t size = tl_dist_size(), rank = tl_dist_rank();
    *begin = n * rank / size;
    *end = n * (rank + 1) / size;
}

int tl_dist_owner(int64_t n, int64_t i) {
    int64_t size = tl_dist_size();
    int r = 0;
    while (r + 1 < size && n * (r + 1) / size <= i) r++;
    return r;
}

#ifndef TILLER_HAVE_MPI

int tl_dist_built_in(void) { return 0; }
const char *tl_dist_library(void) { return "not built in"; }
/* The job size a launcher announced (1 when it did not say). */
static long launched_size(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return strtol(v, NULL, 10);
    }
    return 1;
}

tl_status tl_dist_init(int *argc, char ***argv) {
    if (tl_dist_launched() && launched_size() > 1)
        return tl_errorf(TL_E_ARG, "started by an MPI launcher (mpirun), but this tiller was built without MPI: "
                         "every copy would run the whole command; rebuild with libopenmpi-dev installed");
    return TL_OK;
}
void tl_dist_finalize(void) {}
int tl_dist_rank(void) { return 0; }
int tl_dist_size(void) { return 1; }
tl_status tl_dist_barrier(void) { return TL_OK; }
tl_status tl_dist_agree(tl_status local) { return local; }
tl_status tl_dist_bcast(void *buf, size_t bytes, int root) { return TL_OK; }
tl_status tl_dist_sum_disjoint(double *x, size_t n) { return TL_OK; }
tl_status tl_dist_sum_ordered(float *acc, int acc_empty, float *const *terms, int n_terms, size_t n,
                              float *scratch) {
    return TL_OK; /* one rank: rank 0 holds the whole sum already */
}
tl_status tl_dist_gather_rows(void *buf, size_t row_bytes, int64_t n_rows) { return TL_OK; }
tl_status tl_dist_exchange_shards(const float *full, const size_t *bounds, const int *sends, float *const *from) {
    return TL_OK; /* one rank: nothing to send */
}
void tl_dist_solo(int on) {}
tl_status tl_dist_barrier_idle(void) { return TL_OK; }
tl_status tl_dist_allgather_shards(float *buf, const size_t *bounds) { return TL_OK; }
tl_status tl_dist_gather_shards(float *buf, const size_t *bounds) { return TL_OK; }
void tl_dist_abort(int code) { exit(code); }

#else

static int g_initialised; /* MPI_Init was called by tl_dist_init */
static int g_solo;        /* rank 0 works alone (tl_dist_solo): rank 0 of 1 */

int tl_dist_built_in(void) { return 1; }

const char *tl_dist_library(void) {
    static char text[MPI_MAX_LIBRARY_VERSION_STRING];
    if (!text[0]) {
        int len = 0;
        MPI_Get_library_version(text, &len);
        text[strcspn(text, ",\n")] = 0; /* "Open MPI v4.1.4" */
    }
    return text;
}

static tl_status mpi_fail(int rc, const char *what) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "error %d", rc);
    return tl_errorf(TL_E_IO, "MPI %s failed on rank %d: %s", what, tl_dist_rank(), text);
}
#define CHECK_MPI(call, what)                                                                                         \
    do {                                                                                                               \
        int rc_ = (call);                                                                                              \
        if (rc_ != MPI_SUCCESS) return mpi_fail(rc_, what);                                                            \
    } while (0)

tl_status tl_dist_init(int *argc, char ***argv) {
    if (!tl_dist_launched()) return TL_OK;
    int provided = 0;
    /* only the main thread calls MPI; OpenMP threads work between calls */
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return tl_errorf(TL_E_IO, "MPI_Init failed");
    g_initialised = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    return TL_OK;
}

void tl_dist_finalize(void) {
    if (g_initialised) MPI_Finalize();
    g_initialised = 0;
}

int tl_dist_rank(void) {
    int r = 0;
    if (g_initialised && !g_solo) MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int tl_dist_size(void) {
    int n = 1;
    if (g_initialised && !g_solo) MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

tl_status tl_dist_barrier(void) {
    if (!g_initialised || g_solo) return TL_OK;
    CHECK_MPI(MPI_Barrier(MPI_COMM_WORLD), "barrier");
    return TL_OK;
}

tl_status tl_dist_agree(tl_status local) {
    if (!g_initialised || tl_dist_size() == 1) return local;
    int rank = tl_dist_rank(), size = tl_dist_size(), mine = local ? rank : size, first = size;
    char msg[1024] = "";
    if (local) snprintf(msg, sizeof msg, "%s", tl_last_error());
    CHECK_MPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "status exchange");
    if (first == size) return TL_OK;
    int code = (int)local;
    CHECK_MPI(MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD), "status exchange");
    CHECK_MPI(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD), "status exchange");
    if (rank == first) {
        tl_errorf(local, "%s", msg); /* keep the message (another MPI error may have set one since) */
        return local;
    }
    msg[sizeof msg - 1] = 0;
    return tl_errorf((tl_status)code, "rank %d: %s", first, msg);
}

tl_status tl_dist_bcast(void *buf, size_t bytes, int root) {
    if (!g_initialised || g_solo) return TL_OK;
    for (size_t off = 0; off < bytes; off += CHUNK) {
        size_t n = bytes - off < CHUNK ? bytes - off : CHUNK;
        CHECK_MPI(MPI_Bcast((char *)buf + off, (int)n, MPI_BYTE, root, MPI_COMM_WORLD), "broadcast");
    }
    return TL_OK;
}

tl_status tl_dist_sum_disjoint(double *x, size_t n) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    for (size_t off = 0; off < n; off += CHUNK) {
        size_t k = n - off < CHUNK ? n - off : CHUNK;
        CHECK_MPI(MPI_Allreduce(MPI_IN_PLACE, x + off, (int)k, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "sum");
    }
    return TL_OK;
}

tl_status tl_dist_sum_ordered(float *acc, int acc_empty, float *const *terms, int n_terms, size_t n,
                              float *scratch) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    int rank = tl_dist_rank(), size = tl_dist_size();
    int *counts = tl_malloc((size_t)size * sizeof *counts);
    if (!counts) return tl_errorf(TL_E_NOMEM, "ordered sum: out of memory");
    int rc = MPI_Gather(&n_terms, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
    enum { TAG = 0x7117 };
    if (rank == 0) {
        for (int r = 1; r < size && rc == MPI_SUCCESS; r++) {
            for (int j = 0; j < counts[r] && rc == MPI_SUCCESS; j++) {
                for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK) {
                    size_t k = n - off < CHUNK ? n - off : CHUNK;
                    /* the first term of all goes straight into acc */
                    float *dst = acc_empty ? acc + off : scratch;
                    rc = MPI_Recv(dst, (int)k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
                    if (rc == MPI_SUCCESS && !acc_empty)
                        for (size_t i = 0; i < k; i++) acc[off + i] += scratch[i];
                }
                acc_empty = 0;
            }
        }
    } else {
        for (int j = 0; j < n_terms && rc == MPI_SUCCESS; j++)
            for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += CHUNK) {
                size_t k = n - off < CHUNK ? n - off : CHUNK;
                rc = MPI_Send(terms[j] + off, (int)k, MPI_FLOAT, 0, TAG, MPI_COMM_WORLD);
            }
    }
    tl_free(counts);
    if (rc != MPI_SUCCESS) return mpi_fail(rc, "gradient sum");
    return tl_dist_bcast(acc, n * sizeof *acc, 0);
}

tl_status tl_dist_gather_rows(void *buf, size_t row_bytes, int64_t n_rows) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    int rank = tl_dist_rank(), size = tl_dist_size();
    enum { TAG = 0x7118 };
    for (int r = 1; r < size; r++) {
        int64_t b = n_rows * r / size, e = n_rows * (r + 1) / size;
        size_t bytes = (size_t)(e - b) * row_bytes;
        char *p = (char *)buf + (size_t)b * row_bytes;
        if (rank != 0 && rank != r) continue;
        for (size_t off = 0; off < bytes; off += CHUNK) {
            size_t k = bytes - off < CHUNK ? bytes - off : CHUNK;
            if (rank == 0)
                CHECK_MPI(MPI_Recv(p + off, (int)k, MPI_BYTE, r, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "gather");
            else
                CHECK_MPI(MPI_Send(p + off, (int)k, MPI_BYTE, 0, TAG, MPI_COMM_WORLD), "gather");
        }
    }
    return TL_OK;
}

/* MPI_Waitall without spinning: poll, and sleep `ns` between polls. A blocking MPI call
 * spins on its core; on a shared machine (or with more ranks than cores) that takes the
 * CPU from the rank being waited for. The wait is late by at most ns. */
static int wait_idle(int n, MPI_Request *req, long ns) {
    for (;;) {
        int done = 0, rc = MPI_Testall(n, req, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS || done) return rc;
        nanosleep(&(struct timespec){0, ns}, NULL);
    }
}

tl_status tl_dist_exchange_shards(const float *full, const size_t *bounds, const int *sends, float *const *from) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    int rank = tl_dist_rank(), size = tl_dist_size();
    enum { TAG = 0x7119 };
    size_t max_reqs = 0;
    for (int r = 0; r < size; r++) /* one request per chunk of every message */
        max_reqs += 2 * ((bounds[r + 1] - bounds[r]) / CHUNK + 1);
    MPI_Request *req = tl_malloc(max_reqs * sizeof *req);
    if (!req) return tl_errorf(TL_E_NOMEM, "shard exchange: out of memory");
    int n = 0, rc = MPI_SUCCESS;
    for (int r = 0; r < size && rc == MPI_SUCCESS; r++) {
        if (r == rank) continue;
        if (sends[r]) /* rank r's piece of my shard */
            for (size_t off = bounds[rank]; off < bounds[rank + 1] && rc == MPI_SUCCESS; off += CHUNK) {
                size_t k = bounds[rank + 1] - off < CHUNK ? bounds[rank + 1] - off : CHUNK;
                rc = MPI_Irecv(from[r] + (off - bounds[rank]), (int)k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD, &req[n++]);
            }
        if (sends[rank]) /* my piece of rank r's shard */
            for (size_t off = bounds[r]; off < bounds[r + 1] && rc == MPI_SUCCESS; off += CHUNK) {
                size_t k = bounds[r + 1] - off < CHUNK ? bounds[r + 1] - off : CHUNK;
                rc = MPI_Isend(full + off, (int)k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD, &req[n++]);
            }
    }
    if (n) {
        int rc2 = wait_idle(n, req, 200000);
        if (rc == MPI_SUCCESS) rc = rc2;
    }
    tl_free(req);
    return rc == MPI_SUCCESS ? TL_OK : mpi_fail(rc, "shard exchange");
}

tl_status tl_dist_allgather_shards(float *buf, const size_t *bounds) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    for (int r = 0; r < tl_dist_size(); r++) {
        tl_status s = tl_dist_bcast(buf + bounds[r], (bounds[r + 1] - bounds[r]) * sizeof *buf, r);
        if (s) return s;
    }
    return TL_OK;
}

tl_status tl_dist_gather_shards(float *buf, const size_t *bounds) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    int rank = tl_dist_rank(), size = tl_dist_size();
    enum { TAG = 0x711a };
    for (int r = 1; r < size; r++) {
        if (rank != 0 && rank != r) continue;
        for (size_t off = bounds[r]; off < bounds[r + 1]; off += CHUNK) {
            size_t k = bounds[r + 1] - off < CHUNK ? bounds[r + 1] - off : CHUNK;
            if (rank == 0)
                CHECK_MPI(MPI_Recv(buf + off, (int)k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "gather");
            else
                CHECK_MPI(MPI_Send(buf + off, (int)k, MPI_FLOAT, 0, TAG, MPI_COMM_WORLD), "gather");
        }
    }
    return TL_OK;
}

void tl_dist_solo(int on) { g_solo = on; }

tl_status tl_dist_barrier_idle(void) {
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    MPI_Request req;
    CHECK_MPI(MPI_Ibarrier(MPI_COMM_WORLD, &req), "barrier");
    CHECK_MPI(wait_idle(1, &req, 2000000), "barrier"); /* 2 ms: idle, and late by at most that */
    return TL_OK;
}

void tl_dist_abort(int code) {
    if (g_initialised) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

#endif
