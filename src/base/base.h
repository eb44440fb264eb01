/*
 * base: status and error messages, allocation (with a fault-injection hook for
 * tests), checked size arithmetic, whole-file reads, read-only mappings,
 * atomic output files (temp + rename), logging through a callback, a
 * deterministic RNG, growable strings and an RFC 4180 CSV reader. Everything
 * else in tiller builds on this module.
 */
#ifndef TL_BASE_H
#define TL_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tiller/base.h"

/* ---- errors ------------------------------------------------------------ */

/* Record a message for the calling thread and return s, so call sites read
 * `return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': n_dims %u > 4", ...)`. */
tl_status tl_errorf(tl_status s, const char *fmt, ...) TL_PRINTF(2, 3);
/* Prefix the current message: "ctx: <old message>". Returns s. */
tl_status tl_error_prefix(tl_status s, const char *fmt, ...) TL_PRINTF(2, 3);

/* Tests only: make the n-th allocation from now fail (n = 0 disables). */
void tl_alloc_fail_after(long n);

/* Checked arithmetic: false on overflow. */
static inline bool tl_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool tl_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* ---- files ------------------------------------------------------------- */

/* Read and parse a whole JSON file (cJSON); a parse error names the file and the byte
 * where parsing stopped. The caller frees *out with cJSON_Delete. */
struct cJSON;
tl_status tl_file_read_json(const char *path, struct cJSON **out);


/* An output file that appears under its final name only when complete:
 * written to "<path>.tmp.<pid>", fsync'ed and renamed by tl_out_commit.
 * tl_out_abort (also safe after commit) removes the temporary file. */
typedef struct {
    FILE *f;
    char *path;
    char *tmp_path;
    int failed;
} tl_out_file;
tl_status tl_out_open(tl_out_file *o, const char *path);
tl_status tl_out_write(tl_out_file *o, const void *data, size_t n);
tl_status tl_out_printf(tl_out_file *o, const char *fmt, ...) TL_PRINTF(2, 3);
tl_status tl_out_commit(tl_out_file *o);
void tl_out_abort(tl_out_file *o);

/* ---- half floats ------------------------------------------------------- */
float tl_f16_to_f32(uint16_t h);
uint16_t tl_f32_to_f16(float f);
float tl_bf16_to_f32(uint16_t h);
uint16_t tl_f32_to_bf16(float f);

/* ---- CSV (RFC 4180) ------------------------------------------------------- */

/* A reader over a CSV text in memory (csv.c). Fields are separated by commas,
 * records by CRLF, LF or CR; a field in double quotes may hold commas, line
 * breaks and doubled quotes (""). A UTF-8 byte-order mark is skipped. A quote
 * inside a field that does not start with one is an ordinary character (as in
 * Python's csv module and pandas; real datasets have them). Malformed input (an
 * unterminated quoted field, a character after a closing quote, a NUL byte)
 * gives TL_E_FORMAT with a message
 * "<path>:<line>: ..." naming the physical line where the fault is. */
typedef struct {
    const char *path;
    const char *p, *end;
    int line;        /* physical line of p, 1-based */
    char *buf;       /* the current record's fields, each NUL-terminated */
    size_t len, cap;
    size_t *off;     /* [fcap] field offsets into buf */
    const char **fields;
    size_t *lens;
    int fcap;
} tl_csv_reader;

typedef struct {
    int n_fields;
    const char *const *fields; /* [n_fields], NUL-terminated, valid until the next call */
    const size_t *lens;        /* [n_fields] byte lengths (fields hold no NUL) */
    int line;                  /* physical line where the record starts */
    int blank;                 /* the record was an empty line (one empty, unquoted field) */
} tl_csv_record;

void tl_csv_init(tl_csv_reader *r, const char *path, const char *data, size_t size);
/* Read the next record into *rec; *got = 0 (and TL_OK) at the end of the input. */
tl_status tl_csv_next(tl_csv_reader *r, tl_csv_record *rec, int *got);
void tl_csv_free(tl_csv_reader *r);
/* Write one field to a strbuf, quoted when it holds a comma, quote, CR or LF. */
void tl_csv_field(tl_strbuf *b, const char *s);

/* A whole CSV file read into memory, header and cells, for lookups by column
 * name (csv.c). */
typedef struct {
    int n_cols, n_rows;
    char **hdr;   /* [n_cols] */
    char **cells; /* [n_rows * n_cols], "" where a row is short */
} tl_table;

/* *exists = 0 and an empty table (TL_OK) when the file does not exist; an error
 * naming the file when it is malformed or has no header. */
tl_status tl_table_read(const char *path, tl_table *t, int *exists);
void tl_table_free(tl_table *t);
int tl_table_col(const tl_table *t, const char *name); /* -1 when absent */
/* The cell, "" outside the table; its number, NAN when empty or not a number. */
const char *tl_table_cell(const tl_table *t, int r, int c);
double tl_table_num(const tl_table *t, int r, int c);

#endif /* TL_BASE_H */
