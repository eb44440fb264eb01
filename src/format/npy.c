/* npy.c: numpy .npy arrays, read and write, so that activations tiller captures
 * load with numpy.load.
 *
 * Layout (format 1.0): "\x93NUMPY", version bytes 1 0, u16 little-endian header
 * length, then an ASCII Python dict literal
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and ended by '\n' so the data starts at a multiple of 64
 * bytes; then the elements in C order. Like numpy's own writer, the padding
 * first reserves 21 characters for the first dimension, so a streamed array's
 * final row count can be written into the header in place: tiller's files are
 * byte-identical to numpy.save's for the same array. Versions 2.0 and 3.0 (u32
 * header length) are read too. The host is assumed little-endian (x86-64, arm64).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21 /* room reserved for the first dimension's digits */

static const char *npy_descr[] = {"<f4", "<i4", "<i8"};

size_t tl_npy_type_size(tl_npy_type t) { return t == TL_NPY_I8 ? 8 : 4; }

/* The full header (magic .. '\n') for a shape; returns its length, 0 if cap is too small. */
static size_t npy_header(char *buf, size_t cap, tl_npy_type type, int ndim, const int64_t *shape) {
    char dict[512];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                npy_descr[type]);
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)shape[0]);
        for (int i = digits; i < NPY_GROWTH_DIGITS && n < sizeof dict - 1; i++) dict[n++] = ' ';
        dict[n] = 0;
    }
    /* magic(6) + version(2) + u16 length(2) + dict + padding + '\n' = multiple of 64 */
    size_t total = 10 + n + 1;
    total = (total + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
    if (total > cap || total - 10 > 65535) return 0;
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)((total - 10) & 0xff);
    buf[9] = (char)((total - 10) >> 8);
    memcpy(buf + 10, dict, n);
    memset(buf + 10 + n, ' ', total - 10 - n - 1);
    buf[total - 1] = '\n';
    return total;
}

static tl_status check_args(const char *path, tl_npy_type type, int ndim, const int64_t *shape,
                            size_t *count) {
    if ((int)type < 0 || type > TL_NPY_I8)
        return tl_errorf(TL_E_ARG, "%s: unknown npy element type %d", path, (int)type);
    if (ndim < 0 || ndim > TL_NPY_MAX_DIMS)
        return tl_errorf(TL_E_ARG, "%s: %d dimensions (0..%d)", path, ndim, TL_NPY_MAX_DIMS);
    size_t c = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || !tl_mul_size(c, (size_t)shape[i], &c))
            return tl_errorf(TL_E_ARG, "%s: bad shape[%d] = %lld", path, i, (long long)shape[i]);
    }
    if (!tl_mul_size(c, tl_npy_type_size(type), &(size_t){0}))
        return tl_errorf(TL_E_ARG, "%s: array size overflows", path);
    *count = c;
    return TL_OK;
}

tl_status tl_npy_save(const char *path, tl_npy_type type, int ndim, const int64_t *shape,
                      const void *data) {
    size_t count;
    tl_status s = check_args(path, type, ndim, shape, &count);
    if (s) return s;
    char hdr[1024];
    size_t hl = npy_header(hdr, sizeof hdr, type, ndim, shape);
    if (!hl) return tl_errorf(TL_E_ARG, "%s: npy header too long", path);
    tl_out_file o;
    if ((s = tl_out_open(&o, path)) != TL_OK) return s;
    if ((s = tl_out_write(&o, hdr, hl)) == TL_OK)
        s = tl_out_write(&o, data, count * tl_npy_type_size(type));
    if (s != TL_OK) {
        tl_out_abort(&o);
        return s;
    }
    return tl_out_commit(&o);
}

/* ---- streaming writer ------------------------------------------------------- */

tl_status tl_npy_writer_open(tl_npy_writer *w, const char *path, tl_npy_type type, int ndim,
                             const int64_t *row_shape) {
    memset(w, 0, sizeof *w);
    if (ndim < 1 || ndim > TL_NPY_MAX_DIMS)
        return tl_errorf(TL_E_ARG, "%s: a streamed array needs 1..%d dimensions (got %d)", path,
                         TL_NPY_MAX_DIMS, ndim);
    /* the row's element count, overflow-checked */
    tl_status s = check_args(path, type, ndim - 1, row_shape, &w->row_elems);
    if (s) return s;
    int64_t shape[TL_NPY_MAX_DIMS] = {0};
    for (int i = 1; i < ndim; i++) shape[i] = row_shape[i - 1];
    char hdr[1024];
    size_t hl = npy_header(hdr, sizeof hdr, type, ndim, shape);
    if (!hl) return tl_errorf(TL_E_ARG, "%s: npy header too long", path);
    if ((s = tl_out_open(&w->out, path)) != TL_OK) return s;
    if ((s = tl_out_write(&w->out, hdr, hl)) != TL_OK) {
        tl_out_abort(&w->out);
        return s;
    }
    w->type = type;
    w->ndim = ndim;
    memcpy(w->shape, shape, sizeof shape);
    w->header_len = hl;
    return TL_OK;
}

tl_status tl_npy_writer_append(tl_npy_writer *w, const void *rows, int64_t n_rows) {
    size_t bytes;
    if (n_rows < 0 || !tl_mul_size((size_t)n_rows, w->row_elems * tl_npy_type_size(w->type), &bytes))
        return tl_errorf(TL_E_ARG, "%s: bad row count %lld", w->out.path, (long long)n_rows);
    tl_status s = tl_out_write(&w->out, rows, bytes);
    if (s == TL_OK) w->shape[0] += n_rows;
    return s;
}

tl_status tl_npy_writer_commit(tl_npy_writer *w) {
    char hdr[1024];
    size_t hl = npy_header(hdr, sizeof hdr, w->type, w->ndim, w->shape);
    tl_status s = TL_OK;
    /* the reserved digits keep the header length fixed (up to 21-digit row counts) */
    if (hl != w->header_len)
        s = tl_errorf(TL_E_RANGE, "%s: row count %lld does not fit the header", w->out.path,
                      (long long)w->shape[0]);
    else if (fflush(w->out.f) != 0 || fseek(w->out.f, 0, SEEK_SET) != 0)
        s = tl_errorf(TL_E_IO, "%s: cannot rewrite the header: %s", w->out.path, strerror(errno));
    else
        s = tl_out_write(&w->out, hdr, hl);
    if (s != TL_OK) {
        tl_out_abort(&w->out);
        return s;
    }
    return tl_out_commit(&w->out);
}

void tl_npy_writer_abort(tl_npy_writer *w) { tl_out_abort(&w->out); }

/* ---- reading ----------------------------------------------------------------- */

typedef struct {
    const char *p, *end, *path;
} lex;

static void skip_ws(lex *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')) l->p++;
}

static int eat(lex *l, char c) {
    skip_ws(l);
    if (l->p < l->end && *l->p == c) {
        l->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal in single or double quotes, no escapes (none occur in npy keys). */
static int read_str(lex *l, char *buf, size_t cap) {
    skip_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return 0;
    char q = *l->p++;
    size_t n = 0;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\' || n + 1 >= cap) return 0;
        buf[n++] = *l->p++;
    }
    if (l->p >= l->end) return 0;
    l->p++;
    buf[n] = 0;
    return 1;
}

static int read_word(lex *l, const char *w) {
    skip_ws(l);
    size_t n = strlen(w);
    if ((size_t)(l->end - l->p) < n || strncmp(l->p, w, n)) return 0;
    l->p += n;
    return 1;
}

/* (d0, d1, ...) with an optional trailing comma; Python 2 files may write 3L. */
static tl_status read_shape(lex *l, int *ndim, int64_t *shape) {
    *ndim = 0;
    if (!eat(l, '(')) return tl_errorf(TL_E_FORMAT, "%s: header: 'shape' is not a tuple", l->path);
    for (;;) {
        if (eat(l, ')')) return TL_OK;
        skip_ws(l);
        if (l->p >= l->end || !isdigit((unsigned char)*l->p))
            return tl_errorf(TL_E_FORMAT, "%s: header: bad dimension in 'shape'", l->path);
        int64_t v = 0;
        while (l->p < l->end && isdigit((unsigned char)*l->p)) {
            int d = *l->p++ - '0';
            if (v > (INT64_MAX - d) / 10)
                return tl_errorf(TL_E_FORMAT, "%s: header: dimension overflows", l->path);
            v = v * 10 + d;
        }
        if (l->p < l->end && *l->p == 'L') l->p++;
        if (*ndim >= TL_NPY_MAX_DIMS)
            return tl_errorf(TL_E_UNSUPPORTED, "%s: more than %d dimensions", l->path, TL_NPY_MAX_DIMS);
        shape[(*ndim)++] = v;
        if (eat(l, ',')) continue;
        if (eat(l, ')')) return TL_OK;
        return tl_errorf(TL_E_FORMAT, "%s: header: bad 'shape' tuple", l->path);
    }
}

static tl_status parse_header(lex *l, tl_npy *a) {
    int seen[3] = {0, 0, 0};
    if (!eat(l, '{')) return tl_errorf(TL_E_FORMAT, "%s: header is not a dict", l->path);
    while (!eat(l, '}')) {
        char key[32], val[32];
        if (!read_str(l, key, sizeof key) || !eat(l, ':'))
            return tl_errorf(TL_E_FORMAT, "%s: header: expected 'key':", l->path);
        int k = !strcmp(key, "descr") ? 0 : !strcmp(key, "fortran_order") ? 1 : !strcmp(key, "shape") ? 2 : -1;
        if (k < 0) return tl_errorf(TL_E_FORMAT, "%s: header: unknown key '%s'", l->path, key);
        if (seen[k]++) return tl_errorf(TL_E_FORMAT, "%s: header: key '%s' repeats", l->path, key);
        if (k == 0) {
            if (!read_str(l, val, sizeof val))
                return tl_errorf(TL_E_FORMAT, "%s: header: 'descr' is not a string", l->path);
            int t = -1;
            for (int i = 0; i < 3; i++)
                if (!strcmp(val, npy_descr[i])) t = i;
            if (t < 0)
                return tl_errorf(TL_E_UNSUPPORTED, "%s: dtype '%s' is not supported (<f4, <i4, <i8)",
                                 l->path, val);
            a->type = (tl_npy_type)t;
        } else if (k == 1) {
            if (read_word(l, "True"))
                return tl_errorf(TL_E_UNSUPPORTED, "%s: fortran_order arrays are not supported", l->path);
            if (!read_word(l, "False"))
                return tl_errorf(TL_E_FORMAT, "%s: header: 'fortran_order' is not a bool", l->path);
        } else {
            tl_status s = read_shape(l, &a->ndim, a->shape);
            if (s) return s;
        }
        if (!eat(l, ',')) {
            if (eat(l, '}')) break;
            return tl_errorf(TL_E_FORMAT, "%s: header: expected ',' or '}'", l->path);
        }
    }
    skip_ws(l);
    if (l->p != l->end) return tl_errorf(TL_E_FORMAT, "%s: header: trailing bytes after the dict", l->path);
    if (!seen[0] || !seen[1] || !seen[2])
        return tl_errorf(TL_E_FORMAT, "%s: header: missing key '%s'", l->path,
                         !seen[0] ? "descr" : !seen[1] ? "fortran_order" : "shape");
    return TL_OK;
}

tl_status tl_npy_load(const char *path, tl_npy **out) {
    *out = NULL;
    tl_file_map fm;
    tl_status s = tl_file_map_open(path, &fm);
    if (s) return s;
    const uint8_t *p = fm.data;
    tl_npy *a = NULL;
    size_t pre = 0, hlen = 0;
    if (fm.size < 10 || memcmp(p, "\x93NUMPY", 6)) {
        s = tl_errorf(TL_E_FORMAT, "%s: not a .npy file (bad magic)", path);
    } else if (p[6] < 1 || p[6] > 3 || p[7] != 0) {
        s = tl_errorf(TL_E_UNSUPPORTED, "%s: .npy version %d.%d is not supported", path, p[6], p[7]);
    } else if (p[6] == 1) {
        pre = 10;
        hlen = (size_t)p[8] | (size_t)p[9] << 8;
    } else if (fm.size < 12) {
        s = tl_errorf(TL_E_FORMAT, "%s: truncated .npy header", path);
    } else {
        pre = 12;
        hlen = (size_t)p[8] | (size_t)p[9] << 8 | (size_t)p[10] << 16 | (size_t)p[11] << 24;
    }
    if (s == TL_OK && hlen > fm.size - pre)
        s = tl_errorf(TL_E_FORMAT, "%s: header length %zu exceeds the file (%zu bytes)", path, hlen,
                      fm.size);
    if (s == TL_OK && !(a = tl_calloc(1, sizeof *a))) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    if (s == TL_OK) {
        lex l = {(const char *)p + pre, (const char *)p + pre + hlen, path};
        s = parse_header(&l, a);
    }
    size_t bytes = 0;
    if (s == TL_OK) {
        a->count = 1;
        for (int i = 0; i < a->ndim && s == TL_OK; i++)
            if ((uint64_t)a->shape[i] > SIZE_MAX || !tl_mul_size(a->count, (size_t)a->shape[i], &a->count))
                s = tl_errorf(TL_E_FORMAT, "%s: shape overflows", path);
        if (s == TL_OK && !tl_mul_size(a->count, tl_npy_type_size(a->type), &bytes))
            s = tl_errorf(TL_E_FORMAT, "%s: shape overflows", path);
        if (s == TL_OK && bytes != fm.size - pre - hlen)
            s = tl_errorf(TL_E_FORMAT, "%s: the shape needs %zu bytes of data, the file has %zu", path,
                          bytes, fm.size - pre - hlen);
    }
    if (s == TL_OK && !(a->data = tl_malloc(bytes)))
        s = tl_errorf(TL_E_NOMEM, "%s: cannot allocate %zu bytes", path, bytes);
    if (s == TL_OK && bytes) memcpy(a->data, p + pre + hlen, bytes);
    tl_file_map_close(&fm);
    if (s != TL_OK) {
        tl_npy_free(a);
        return s;
    }
    *out = a;
    return TL_OK;
}

void tl_npy_free(tl_npy *a) {
    if (!a) return;
    tl_free(a->data);
    tl_free(a);
}

tl_npy_type tl_npy_dtype(const tl_npy *a) { return a->type; }
int tl_npy_ndim(const tl_npy *a) { return a->ndim; }
int64_t tl_npy_dim(const tl_npy *a, int i) { return i >= 0 && i < a->ndim ? a->shape[i] : 0; }
size_t tl_npy_count(const tl_npy *a) { return a->count; }
const void *tl_npy_data(const tl_npy *a) { return a->data; }
