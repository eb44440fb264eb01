/*
 * checkpoint.c: what a training run leaves on disk, apart from the loop itself.
 *
 *   schedule     which steps get a checkpoint (every N, K log-spaced, the last);
 *   state file   DIR/optim-<step>.bin: the exact parameters, AdamW moments and step,
 *                the objective RNG, the data position, tokens seen and wall time,
 *                closed by a checksum — everything a bit-exact resume needs;
 *   output dir   created up front, probed with a test write and a free-space check,
 *                so an unwritable or full disk is reported before training starts.
 *
 * Every file goes through tl_out_file (temp + rename).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"

/* ---- schedule ----------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

tl_status tl_train_schedule(int64_t steps, int every, int log_k, int64_t **out, int *n) {
    *out = NULL;
    *n = 0;
    if (steps <= 0) return tl_errorf(TL_E_ARG, "checkpoint schedule: steps = %lld", (long long)steps);
    if (every < 0) return tl_errorf(TL_E_ARG, "checkpoint schedule: --save-every %d", every);
    if (log_k < 0 || log_k == 1)
        return tl_errorf(TL_E_ARG, "checkpoint schedule: log:%d (K must be at least 2: step 0 and the last)", log_k);
    int64_t n_every = every > 0 ? steps / every : 0;
    int64_t k = log_k > steps + 1 ? steps + 1 : log_k;
    if (n_every > (1 << 24) || k > (1 << 24))
        return tl_errorf(TL_E_RANGE, "checkpoint schedule: more than %d checkpoints", 1 << 24);
    int64_t cap = n_every + k + 1;
    int64_t *s = tl_malloc((size_t)cap * sizeof *s);
    if (!s) return tl_errorf(TL_E_NOMEM, "checkpoint schedule: out of memory");
    int64_t m = 0;
    for (int64_t i = 1; i <= n_every; i++) s[m++] = i * every;
    /* log:K: step_i = (steps + 1)^(i / (K-1)) - 1 rounded; where rounding makes two
     * equal (the early, dense end), the later one moves up, capped so that the
     * remaining points still fit below `steps`: K distinct steps, 0 and `steps` included. */
    int64_t prev = -1;
    for (int64_t i = 0; i < k; i++) {
        double x = pow((double)steps + 1.0, (double)i / (double)(k - 1)) - 1.0;
        int64_t v = (int64_t)llround(x);
        if (v <= prev) v = prev + 1;
        if (v > steps - (k - 1 - i)) v = steps - (k - 1 - i);
        s[m++] = prev = v;
    }
    s[m++] = steps;
    qsort(s, (size_t)m, sizeof *s, cmp_i64);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (u == 0 || s[i] != s[u - 1]) s[u++] = s[i];
    *out = s;
    *n = (int)u;
    return TL_OK;
}

/* ---- state file --------------------------------------------------------- */

#define STATE_MAGIC "TLTSTATE"
#define STATE_VERSION 1
#define STATE_HEADER 128

static uint64_t fnv_words(uint64_t h, const void *data, size_t n) {
    const uint8_t *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    for (; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

/* Write, hash, and (test only) pause once the first half of the payload is out. */
typedef struct {
    tl_out_file o;
    uint64_t h;
    tl_status s;
} hashed_out;

static void hw(hashed_out *w, const void *p, size_t n) {
    if (w->s) return;
    w->s = tl_out_write(&w->o, p, n);
    w->h = fnv_words(w->h, p, n);
}

static void sleep_sec(double sec) {
    struct timespec ts = {(time_t)sec, (long)((sec - (double)(time_t)sec) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

tl_status tl_train_state_write(const char *path, const tl_train_state *st, const float *params,
                               const float *m, const float *v, size_t n, double test_pause) {
    uint8_t hdr[STATE_HEADER] = {0};
    uint32_t version = STATE_VERSION;
    uint64_t f[] = {(uint64_t)st->step, (uint64_t)n, (uint64_t)st->adam_step, (uint64_t)st->tokens_seen,
                    st->rng.s[0], st->rng.s[1], st->rng.s[2], st->rng.s[3],
                    st->data.epoch, st->data.pos, 0, st->data_fingerprint};
    memcpy(f + 10, &st->wall_time, 8);
    memcpy(hdr, STATE_MAGIC, 8);
    memcpy(hdr + 8, &version, 4);
    memcpy(hdr + 16, f, sizeof f);
    hashed_out w = {.h = 0xcbf29ce484222325ULL};
    if ((w.s = tl_out_open(&w.o, path)) != TL_OK) return w.s;
    hw(&w, hdr, sizeof hdr);
    hw(&w, params, n * sizeof(float));
    hw(&w, m, n * sizeof(float));
    if (test_pause > 0 && w.s == TL_OK) {
        fflush(w.o.f); /* the half-written temp file is visible on disk while we wait */
        sleep_sec(test_pause);
    }
    hw(&w, v, n * sizeof(float));
    uint64_t h = w.h;
    hw(&w, &h, 8);
    if (w.s) {
        tl_out_abort(&w.o);
        return w.s;
    }
    return tl_out_commit(&w.o);
}

tl_status tl_train_state_read(const char *path, tl_train_state *st, float *params, float *m, float *v,
                              size_t n) {
    tl_file_map fm;
    tl_status s = tl_file_map_open(path, &fm);
    if (s) return s;
    size_t need = STATE_HEADER + 3 * n * sizeof(float) + 8;
    if (fm.size < STATE_HEADER || memcmp(fm.data, STATE_MAGIC, 8) != 0) {
        tl_file_map_close(&fm);
        return tl_errorf(TL_E_FORMAT, "%s: not a tiller optimiser state (bad magic)", path);
    }
    uint32_t version;
    uint64_t f[12];
    memcpy(&version, fm.data + 8, 4);
    memcpy(f, fm.data + 16, sizeof f);
    if (version != STATE_VERSION) {
        tl_file_map_close(&fm);
        return tl_errorf(TL_E_FORMAT, "%s: state version %u (this build reads %d)", path, version, STATE_VERSION);
    }
    if (f[1] != n) {
        tl_file_map_close(&fm);
        return tl_errorf(TL_E_FORMAT, "%s: holds %llu parameters, the model has %zu", path,
                         (unsigned long long)f[1], n);
    }
    if (fm.size != need) {
        size_t got = fm.size; /* closing the map clears it */
        tl_file_map_close(&fm);
        return tl_errorf(TL_E_FORMAT, "%s: %zu bytes, expected %zu (truncated?)", path, got, need);
    }
    uint64_t h, stored;
    h = fnv_words(0xcbf29ce484222325ULL, fm.data, need - 8);
    memcpy(&stored, fm.data + need - 8, 8);
    if (h != stored) {
        tl_file_map_close(&fm);
        return tl_errorf(TL_E_FORMAT, "%s: checksum mismatch (the file is corrupt)", path);
    }
    st->step = (int64_t)f[0];
    st->adam_step = (int64_t)f[2];
    st->tokens_seen = (int64_t)f[3];
    for (int i = 0; i < 4; i++) st->rng.s[i] = f[4 + i];
    st->data.epoch = f[8];
    st->data.pos = f[9];
    memcpy(&st->wall_time, &f[10], 8);
    st->data_fingerprint = f[11];
    const uint8_t *p = fm.data + STATE_HEADER;
    memcpy(params, p, n * sizeof(float));
    memcpy(m, p + n * sizeof(float), n * sizeof(float));
    memcpy(v, p + 2 * n * sizeof(float), n * sizeof(float));
    tl_file_map_close(&fm);
    return TL_OK;
}

size_t tl_train_state_bytes(size_t n_params) { return STATE_HEADER + 3 * n_params * sizeof(float) + 8; }

/* ---- output directory --------------------------------------------------- */

/* mkdir -p */
static tl_status make_dirs(const char *dir) {
    char *p = tl_strdup(dir);
    if (!p) return tl_errorf(TL_E_NOMEM, "out of memory");
    for (char *q = p + 1;; q++) {
        if (*q == '/' || *q == 0) {
            char c = *q;
            *q = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                tl_status s = c ? tl_errorf(TL_E_IO, "%s: cannot create directory %s: %s", dir, p, strerror(errno))
                                : tl_errorf(TL_E_IO, "%s: cannot create directory: %s", dir, strerror(errno));
                tl_free(p);
                return s;
            }
            *q = c;
            if (!c) break;
        }
    }
    tl_free(p);
    if (!tl_path_is_dir(dir)) return tl_errorf(TL_E_IO, "%s: exists and is not a directory", dir);
    return TL_OK;
}

tl_status tl_train_dir_prepare(const char *dir, uint64_t need_now, uint64_t need_total) {
    tl_status s = make_dirs(dir);
    if (s) return s;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/.tiller-write-test", dir);
    if ((s = tl_file_write_atomic(probe, "ok\n", 3)) != TL_OK)
        return tl_error_prefix(s, "%s: output directory is not writable", dir);
    remove(probe);
    struct statvfs vfs;
    if (statvfs(dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
        if (avail < need_now)
            return tl_errorf(TL_E_IO, "%s: %.1f MiB free, one checkpoint needs %.1f MiB", dir,
                             (double)avail / 1048576.0, (double)need_now / 1048576.0);
        if (avail < need_total)
            tl_logf(TL_LOG_WARN, "%s: %.1f MiB free, the planned checkpoints need about %.1f MiB", dir,
                    (double)avail / 1048576.0, (double)need_total / 1048576.0);
    }
    return TL_OK;
}

/* ---- training log ------------------------------------------------------- */

void tl_train_log_free(tl_train_log *l) {
    for (int64_t i = 0; i < l->n; i++) tl_free(l->lines[i]);
    tl_free(l->lines);
    tl_free(l->steps);
    memset(l, 0, sizeof *l);
}

tl_status tl_train_log_add(tl_train_log *l, int64_t step, const char *line) {
    if (l->n == l->cap) {
        int64_t cap = l->cap ? l->cap * 2 : 256;
        char **nl = tl_realloc(l->lines, (size_t)cap * sizeof *nl);
        if (!nl) return tl_errorf(TL_E_NOMEM, "training log: out of memory");
        l->lines = nl;
        int64_t *ns = tl_realloc(l->steps, (size_t)cap * sizeof *ns);
        if (!ns) return tl_errorf(TL_E_NOMEM, "training log: out of memory");
        l->steps = ns;
        l->cap = cap;
    }
    char *d = tl_strdup(line);
    if (!d) return tl_errorf(TL_E_NOMEM, "training log: out of memory");
    l->lines[l->n] = d;
    l->steps[l->n++] = step;
    return TL_OK;
}

tl_status tl_train_log_write(const tl_train_log *l, const char *path) {
    tl_out_file o;
    tl_status s = tl_out_open(&o, path);
    if (s) return s;
    s = tl_out_printf(&o, "%s\n", TL_TRAIN_LOG_HEADER);
    for (int64_t i = 0; i < l->n && s == TL_OK; i++) s = tl_out_printf(&o, "%s\n", l->lines[i]);
    if (s) {
        tl_out_abort(&o);
        return s;
    }
    return tl_out_commit(&o);
}

tl_status tl_train_log_read(tl_train_log *l, const char *path, int64_t max_step) {
    if (!tl_path_exists(path)) return TL_OK;
    char *data;
    size_t size;
    tl_status s = tl_file_read_all(path, &data, &size);
    if (s) return s;
    char *line = data, *save = NULL;
    int first = 1;
    for (char *tok = strtok_r(line, "\n", &save); tok && s == TL_OK; tok = strtok_r(NULL, "\n", &save)) {
        if (first) {
            first = 0;
            if (strcmp(tok, TL_TRAIN_LOG_HEADER) != 0) {
                s = tl_errorf(TL_E_FORMAT, "%s: unexpected header '%s'", path, tok);
                break;
            }
            continue;
        }
        char *end;
        long long step = strtoll(tok, &end, 10);
        if (end == tok || *end != ',') {
            s = tl_errorf(TL_E_FORMAT, "%s: bad row '%s'", path, tok);
            break;
        }
        if (step <= max_step) s = tl_train_log_add(l, step, tok);
    }
    tl_free(data);
    return s;
}
