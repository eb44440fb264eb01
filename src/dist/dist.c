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
tl_status tl_dist_gather_rows(void *buf, size_t row_bytes, int64_t n_rows) { return TL_OK; }
tl_status tl_dist_exchange_start(const float *full, const size_t *bounds, const int *sends, float *const *from,
                                 tl_dist_req **req) {
    *req = NULL; /* one rank: nothing to send */
    return TL_OK;
}
void tl_dist_progress(tl_dist_req *req) {}
tl_status tl_dist_wait(tl_dist_req **req) { return TL_OK; }
void tl_dist_req_abandon(tl_dist_req **req) {}
int tl_dist_failure_agreed(void) { return 0; }
int tl_dist_exit(int code) { return code; }
void tl_dist_solo(int on) {}
tl_status tl_dist_barrier_idle(void) { return TL_OK; }
tl_status tl_dist_allgather_shards(float *buf, const size_t *bounds) { return TL_OK; }
tl_status tl_dist_gather_shards(float *buf, const size_t *bounds) { return TL_OK; }

#else

static int g_initialised; /* MPI_Init was called by tl_dist_init */
static int g_solo;        /* rank 0 works alone (tl_dist_solo): rank 0 of 1 */
static int g_agreed;      /* the last tl_dist_agree returned a failure every rank shares */
static MPI_Comm g_exit_comm = MPI_COMM_NULL; /* tl_dist_exit's vote, apart from any collective in flight */

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
    g_agreed = 0; /* the other ranks may be anywhere now */
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
    if (MPI_Comm_dup(MPI_COMM_WORLD, &g_exit_comm) != MPI_SUCCESS) return tl_errorf(TL_E_IO, "MPI_Comm_dup failed");
    return TL_OK;
}

void tl_dist_finalize(void) {
    if (g_exit_comm != MPI_COMM_NULL) MPI_Comm_free(&g_exit_comm);
    if (g_initialised) MPI_Finalize();
    g_initialised = 0;
}

int tl_dist_failure_agreed(void) { return g_initialised && g_agreed; }

/* Seconds a rank that failed alone waits for the others at the exit before it stops the job. */
#define EXIT_GRACE 20.0

int tl_dist_exit(int code) {
    if (!g_initialised) return code;
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    if (size > 1) {
        /* Every rank votes, on a communicator of its own (another rank may still sit in a
         * collective on MPI_COMM_WORLD). When every rank comes (success, a failure they agreed
         * on, or one each met at the same point), they all finalize and exit with their own
         * code: mpirun reports the first non-zero one. A rank that failed alone (the others
         * waiting for it elsewhere) stops the job after EXIT_GRACE: one rank calls MPI_Abort,
         * never all at once, which Open MPI 4's mpirun garbles ("Data unpack would read past
         * end of buffer"). Succeeding ranks and agreed failures wait as long as it takes. */
        int worst = 0, done = 0;
        MPI_Request req;
        double limit = code == 0 || g_agreed ? -1 : tl_time_sec() + EXIT_GRACE;
        int rc = MPI_Iallreduce(&code, &worst, 1, MPI_INT, MPI_MAX, g_exit_comm, &req);
        while (rc == MPI_SUCCESS && !done && (limit < 0 || tl_time_sec() < limit)) {
            rc = MPI_Test(&req, &done, MPI_STATUS_IGNORE);
            if (!done) nanosleep(&(struct timespec){0, 2000000}, NULL);
        }
        if (rc != MPI_SUCCESS || !done) {
            MPI_Abort(MPI_COMM_WORLD, code ? code : 1);
            exit(code ? code : 1);
        }
    }
    tl_dist_finalize();
    return code;
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
    g_agreed = first != size;
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

struct tl_dist_req {
    int n;              /* requests */
    MPI_Request req[];  /* one per chunk of every message */
};

tl_status tl_dist_exchange_start(const float *full, const size_t *bounds, const int *sends, float *const *from,
                                 tl_dist_req **out) {
    *out = NULL;
    if (!g_initialised || tl_dist_size() == 1) return TL_OK;
    int rank = tl_dist_rank(), size = tl_dist_size();
    enum { TAG = 0x7119 };
    size_t max_reqs = 0;
    for (int r = 0; r < size; r++) /* one request per chunk of every message */
        max_reqs += 2 * ((bounds[r + 1] - bounds[r]) / CHUNK + 1);
    tl_dist_req *q = tl_malloc(sizeof *q + max_reqs * sizeof *q->req);
    if (!q) return tl_errorf(TL_E_NOMEM, "shard exchange: out of memory");
    q->n = 0;
    int rc = MPI_SUCCESS;
    for (int r = 0; r < size && rc == MPI_SUCCESS; r++) {
        if (r == rank) continue;
        if (sends[r]) /* rank r's piece of my shard */
            for (size_t off = bounds[rank]; off < bounds[rank + 1] && rc == MPI_SUCCESS; off += CHUNK) {
                size_t k = bounds[rank + 1] - off < CHUNK ? bounds[rank + 1] - off : CHUNK;
                rc = MPI_Irecv(from[r] + (off - bounds[rank]), (int)k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD,
                               &q->req[q->n++]);
            }
        if (sends[rank]) /* my piece of rank r's shard */
            for (size_t off = bounds[r]; off < bounds[r + 1] && rc == MPI_SUCCESS; off += CHUNK) {
                size_t k = bounds[r + 1] - off < CHUNK ? bounds[r + 1] - off : CHUNK;
                rc = MPI_Isend(full + off, (int)k, MPI_FLOAT, r, TAG, MPI_COMM_WORLD, &q->req[q->n++]);
            }
    }
    if (rc != MPI_SUCCESS) { /* the requests already posted are abandoned: the job stops */
        tl_free(q);
        return mpi_fail(rc, "shard exchange");
    }
    *out = q;
    return TL_OK;
}

void tl_dist_progress(tl_dist_req *q) {
    int done = 0;
    if (q && q->n) MPI_Testall(q->n, q->req, &done, MPI_STATUSES_IGNORE); /* errors surface in tl_dist_wait */
}

tl_status tl_dist_wait(tl_dist_req **q) {
    if (!*q) return TL_OK;
    int rc = (*q)->n ? wait_idle((*q)->n, (*q)->req, 200000) : MPI_SUCCESS;
    tl_free(*q);
    *q = NULL;
    return rc == MPI_SUCCESS ? TL_OK : mpi_fail(rc, "shard exchange");
}

void tl_dist_req_abandon(tl_dist_req **q) {
    /* requests still in flight keep their buffers: the caller leaks those, and the job ends */
    tl_free(*q);
    *q = NULL;
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

#endif
