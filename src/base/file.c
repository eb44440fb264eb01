/* file.c: whole-file reads, read-only mappings and atomic output files. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base.h"

tl_status tl_file_read_all(const char *path, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return tl_errorf(TL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return tl_errorf(TL_E_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)st.st_size;
    char *buf = tl_malloc(n + 1);
    if (!buf) {
        fclose(f);
        return tl_errorf(TL_E_NOMEM, "%s: cannot allocate %zu bytes", path, n + 1);
    }
    if (n && fread(buf, 1, n, f) != n) {
        fclose(f);
        tl_free(buf);
        return tl_errorf(TL_E_IO, "%s: short read", path);
    }
    fclose(f);
    buf[n] = 0;
    *data = buf;
    *size = n;
    return TL_OK;
}

tl_status tl_file_map_open(const char *path, tl_file_map *out) {
    memset(out, 0, sizeof *out);
    out->fd = -1;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return tl_errorf(TL_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return tl_errorf(TL_E_IO, "%s: not a regular file", path);
    }
    out->size = (size_t)st.st_size;
    if (out->size == 0) {
        out->fd = fd;
        out->data = NULL;
        return TL_OK;
    }
    void *p = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        close(fd);
        return tl_errorf(TL_E_IO, "%s: mmap failed: %s", path, strerror(errno));
    }
#ifdef MADV_HUGEPAGE
    /* Decode streams every weight once per token: with 2 MiB pages the first read through the
     * mapping brings the file into the page cache as huge folios where the kernel and the file
     * system support it (ext4 on Linux >= 6.x), and the TLB walks of 4 KiB pages disappear. A
     * file already cached in small pages keeps them; the advice is only a hint, so its result is
     * ignored. */
    (void)madvise(p, out->size, MADV_HUGEPAGE);
#endif
    out->data = p;
    out->fd = fd;
    return TL_OK;
}

void tl_file_map_close(tl_file_map *m) {
    if (!m) return;
    if (m->data && m->size) munmap((void *)m->data, m->size);
    if (m->fd >= 0) close(m->fd);
    m->data = NULL;
    m->size = 0;
    m->fd = -1;
}

int tl_path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int tl_path_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *tl_path_ext(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(path, '.');
    if (!dot || (slash && dot < slash)) return path + strlen(path);
    return dot;
}

tl_status tl_out_open(tl_out_file *o, const char *path) {
    memset(o, 0, sizeof *o);
    size_t n = strlen(path) + 32;
    o->path = tl_strdup(path);
    o->tmp_path = tl_malloc(n);
    if (!o->path || !o->tmp_path) {
        tl_free(o->path);
        tl_free(o->tmp_path);
        memset(o, 0, sizeof *o);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    snprintf(o->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    o->f = fopen(o->tmp_path, "wb");
    if (!o->f) {
        tl_status s = tl_errorf(TL_E_IO, "%s: cannot write: %s", path, strerror(errno));
        tl_free(o->path);
        tl_free(o->tmp_path);
        memset(o, 0, sizeof *o);
        return s;
    }
    return TL_OK;
}

tl_status tl_out_write(tl_out_file *o, const void *data, size_t n) {
    if (o->failed) return TL_E_IO;
    if (n && fwrite(data, 1, n, o->f) != n) {
        o->failed = 1;
        return tl_errorf(TL_E_IO, "%s: write failed: %s", o->path, strerror(errno));
    }
    return TL_OK;
}

tl_status tl_out_printf(tl_out_file *o, const char *fmt, ...) {
    if (o->failed) return TL_E_IO;
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(o->f, fmt, ap);
    va_end(ap);
    if (r < 0) {
        o->failed = 1;
        return tl_errorf(TL_E_IO, "%s: write failed: %s", o->path, strerror(errno));
    }
    return TL_OK;
}

tl_status tl_out_commit(tl_out_file *o) {
    tl_status s = TL_OK;
    if (!o->f) return tl_errorf(TL_E_ARG, "output file not open");
    if (o->failed) s = TL_E_IO;
    if (s == TL_OK && (fflush(o->f) != 0 || fsync(fileno(o->f)) != 0))
        s = tl_errorf(TL_E_IO, "%s: flush failed: %s", o->path, strerror(errno));
    if (fclose(o->f) != 0 && s == TL_OK)
        s = tl_errorf(TL_E_IO, "%s: close failed: %s", o->path, strerror(errno));
    o->f = NULL;
    if (s == TL_OK && rename(o->tmp_path, o->path) != 0)
        s = tl_errorf(TL_E_IO, "%s: rename failed: %s", o->path, strerror(errno));
    if (s != TL_OK) remove(o->tmp_path);
    tl_free(o->path);
    tl_free(o->tmp_path);
    o->path = o->tmp_path = NULL;
    return s;
}

void tl_out_abort(tl_out_file *o) {
    if (o->f) {
        fclose(o->f);
        o->f = NULL;
    }
    if (o->tmp_path) remove(o->tmp_path);
    tl_free(o->path);
    tl_free(o->tmp_path);
    o->path = o->tmp_path = NULL;
}

tl_status tl_file_write_atomic(const char *path, const void *data, size_t n) {
    tl_out_file o;
    tl_status s = tl_out_open(&o, path);
    if (s) return s;
    if ((s = tl_out_write(&o, data, n)) != TL_OK) {
        tl_out_abort(&o);
        return s;
    }
    return tl_out_commit(&o);
}

tl_status tl_file_read_json(const char *path, cJSON **out) {
    *out = NULL;
    char *text = NULL;
    size_t size = 0;
    tl_status s = tl_file_read_all(path, &text, &size);
    if (s) return s;
    const char *end = NULL; /* the parse position, not cJSON's global error pointer */
    cJSON *j = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    if (!j) {
        size_t at = end && end >= text && end <= text + size ? (size_t)(end - text) : 0;
        tl_free(text);
        return tl_errorf(TL_E_FORMAT, "%s: not valid JSON (parsing stopped near byte %zu)", path, at);
    }
    tl_free(text);
    *out = j;
    return TL_OK;
}
