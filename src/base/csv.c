/* csv.c: an RFC 4180 reader over text in memory (see base.h for the rules) and
 * a field writer. The reader copies each record's fields into one buffer, so
 * doubled quotes can be undone in place, and counts physical lines so every
 * error names the line it is on. */
#include <string.h>

#include "base.h"

void tl_csv_init(tl_csv_reader *r, const char *path, const char *data, size_t size) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->p = data;
    r->end = data + size;
    r->line = 1;
    if (size >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) r->p += 3; /* UTF-8 byte-order mark */
}

void tl_csv_free(tl_csv_reader *r) {
    tl_free(r->buf);
    tl_free(r->off);
    tl_free(r->fields);
    tl_free(r->lens);
    memset(r, 0, sizeof *r);
}

static tl_status put(tl_csv_reader *r, char c) {
    if (r->len + 1 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        char *b = tl_realloc(r->buf, cap);
        if (!b) return tl_errorf(TL_E_NOMEM, "%s:%d: out of memory", r->path, r->line);
        r->buf = b;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    return TL_OK;
}

/* Start field number i at the current end of buf. */
static tl_status start_field(tl_csv_reader *r, int i) {
    if (i >= r->fcap) {
        int cap = r->fcap ? r->fcap * 2 : 8;
        size_t *off = tl_realloc(r->off, (size_t)cap * sizeof *off);
        if (off) r->off = off;
        size_t *lens = off ? tl_realloc(r->lens, (size_t)cap * sizeof *lens) : NULL;
        if (lens) r->lens = lens;
        const char **f = lens ? tl_realloc(r->fields, (size_t)cap * sizeof *f) : NULL;
        if (!f) return tl_errorf(TL_E_NOMEM, "%s:%d: out of memory", r->path, r->line);
        r->fields = f;
        r->fcap = cap;
    }
    r->off[i] = r->len;
    return TL_OK;
}

/* At a record terminator (CRLF, LF or CR)? Consumes it and counts the line. */
static int eat_newline(tl_csv_reader *r) {
    if (r->p >= r->end) return 0;
    if (*r->p == '\n') {
        r->p++;
    } else if (*r->p == '\r') {
        r->p++;
        if (r->p < r->end && *r->p == '\n') r->p++;
    } else {
        return 0;
    }
    r->line++;
    return 1;
}

static tl_status quoted_field(tl_csv_reader *r) {
    int open_line = r->line;
    r->p++; /* the opening quote */
    for (;;) {
        if (r->p >= r->end)
            return tl_errorf(TL_E_FORMAT, "%s:%d: quoted field is not closed (end of file)", r->path,
                             open_line);
        char c = *r->p;
        if (c == '"') {
            if (r->p + 1 < r->end && r->p[1] == '"') {
                r->p += 2;
                if (put(r, '"')) return TL_E_NOMEM;
                continue;
            }
            r->p++;
            break;
        }
        if (c == 0) return tl_errorf(TL_E_FORMAT, "%s:%d: NUL byte in a field", r->path, r->line);
        if (c == '\n' || (c == '\r' && !(r->p + 1 < r->end && r->p[1] == '\n'))) r->line++;
        r->p++;
        if (put(r, c)) return TL_E_NOMEM;
    }
    if (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r') {
        unsigned char c = (unsigned char)*r->p;
        if (c >= 0x20 && c < 0x7f)
            return tl_errorf(TL_E_FORMAT, "%s:%d: '%c' after a closing quote (expected ',' or a line end)",
                             r->path, r->line, c);
        return tl_errorf(TL_E_FORMAT, "%s:%d: byte 0x%02x after a closing quote (expected ',' or a line end)",
                         r->path, r->line, c);
    }
    return TL_OK;
}

/* A field that does not start with a quote runs to the next comma or line end;
 * quotes inside it are ordinary characters. RFC 4180 forbids them, but Python's
 * csv module and pandas accept them, and the reference's data has them (e.g.
 * stereoset.csv line 176: `... Asia. "The Last Vampire" is ...,0`). */
static tl_status plain_field(tl_csv_reader *r) {
    while (r->p < r->end) {
        char c = *r->p;
        if (c == ',' || c == '\n' || c == '\r') break;
        if (c == 0) return tl_errorf(TL_E_FORMAT, "%s:%d: NUL byte in a field", r->path, r->line);
        r->p++;
        if (put(r, c)) return TL_E_NOMEM;
    }
    return TL_OK;
}

tl_status tl_csv_next(tl_csv_reader *r, tl_csv_record *rec, int *got) {
    memset(rec, 0, sizeof *rec);
    *got = 0;
    if (r->p >= r->end) return TL_OK;
    rec->line = r->line;
    r->len = 0;
    int n = 0, quoted_any = 0;
    for (;;) {
        tl_status s = start_field(r, n);
        if (s) return s;
        if (r->p < r->end && *r->p == '"') {
            quoted_any = 1;
            s = quoted_field(r);
        } else {
            s = plain_field(r);
        }
        if (s) return s;
        if (put(r, 0)) return TL_E_NOMEM;
        n++;
        if (r->p < r->end && *r->p == ',') {
            r->p++;
            continue;
        }
        eat_newline(r); /* or the end of the input */
        break;
    }
    for (int i = 0; i < n; i++) {
        r->fields[i] = r->buf + r->off[i];
        r->lens[i] = (i + 1 < n ? r->off[i + 1] : r->len) - r->off[i] - 1;
    }
    rec->n_fields = n;
    rec->fields = r->fields;
    rec->lens = r->lens;
    rec->blank = n == 1 && r->lens[0] == 0 && !quoted_any;
    *got = 1;
    return TL_OK;
}

void tl_csv_field(tl_strbuf *b, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        tl_strbuf_puts(b, s);
        return;
    }
    tl_strbuf_puts(b, "\"");
    for (const char *q = s; *q; q++) {
        if (*q == '"') tl_strbuf_puts(b, "\"");
        tl_strbuf_append(b, q, 1);
    }
    tl_strbuf_puts(b, "\"");
}
