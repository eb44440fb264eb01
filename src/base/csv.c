/* csv.c: an RFC 4180 reader over text in memory (see base.h for the rules) and
 * a field writer. The reader copies each record's fields into one buffer, so
 * doubled quotes can be undone in place, and counts physical lines so every
 * error names the line it is on. A table reads a whole file for lookups by
 * column name. */
#include <math.h>
#include <stdlib.h>
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
            return tl_errorf(TL_E_FORMAT, "%s:%d: quoted field is not closed (end of file)", r->path, open_line);
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
            return tl_errorf(TL_E_FORMAT, "%s:%d: '%c' after a closing quote (expected ',' or a line end)", r->path,
                             r->line, c);
        return tl_errorf(TL_E_FORMAT, "%s:%d: byte 0x%02x after a closing quote (expected ',' or a line end)", r->path,
                         r->line, c);
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

/* ---- a whole CSV file read by column name ------------------------------------------- */

void tl_table_free(tl_table *t) {
    for (int i = 0; t->hdr && i < t->n_cols; i++) tl_free(t->hdr[i]);
    for (size_t i = 0; t->cells && i < (size_t)t->n_rows * t->n_cols; i++) tl_free(t->cells[i]);
    tl_free(t->hdr);
    tl_free(t->cells);
    memset(t, 0, sizeof *t);
}

tl_status tl_table_read(const char *path, tl_table *t, int *exists) {
    memset(t, 0, sizeof *t);
    *exists = tl_path_exists(path);
    if (!*exists) return TL_OK;
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, cap = 0;
    while (!s && (s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank) continue;
        if (!t->hdr) {
            t->n_cols = rec.n_fields;
            t->hdr = tl_calloc((size_t)rec.n_fields, sizeof *t->hdr);
            for (int i = 0; t->hdr && i < rec.n_fields; i++) t->hdr[i] = tl_strdup(rec.fields[i]);
            if (!t->hdr) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
            continue;
        }
        if (t->n_rows == cap) {
            cap = cap ? 2 * cap : 64;
            char **c = tl_realloc(t->cells, (size_t)cap * t->n_cols * sizeof *c);
            if (!c) {
                s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
                break;
            }
            t->cells = c;
        }
        for (int i = 0; i < t->n_cols; i++) {
            char *v = tl_strdup(i < rec.n_fields ? rec.fields[i] : "");
            t->cells[(size_t)t->n_rows * t->n_cols + i] = v;
            if (!v) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        }
        t->n_rows++;
    }
    tl_csv_free(&r);
    tl_free(text);
    if (!s && !t->hdr) s = tl_errorf(TL_E_FORMAT, "%s: empty file (no header)", path);
    if (s) tl_table_free(t);
    return s;
}

int tl_table_col(const tl_table *t, const char *name) {
    for (int i = 0; i < t->n_cols; i++)
        if (!strcmp(t->hdr[i], name)) return i;
    return -1;
}

const char *tl_table_cell(const tl_table *t, int r, int c) {
    return c >= 0 && r >= 0 && r < t->n_rows ? t->cells[(size_t)r * t->n_cols + c] : "";
}

double tl_table_num(const tl_table *t, int r, int c) {
    const char *v = tl_table_cell(t, r, c);
    char *end;
    double x = strtod(v, &end);
    return *v && end != v ? x : NAN;
}
