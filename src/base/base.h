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

#include "tiller.h"

#if defined(__GNUC__)
#define TL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TL_PRINTF(a, b)
#endif

/* ---- errors ------------------------------------------------------------ */

/* Record a message for the calling thread and return s, so call sites read
 * `return tl_errorf(TL_E_FORMAT, "%s: tensor '%s': n_dims %u > 4", ...)`. */
tl_status tl_errorf(tl_status s, const char *fmt, ...) TL_PRINTF(2, 3);
/* Prefix the current message: "ctx: <old message>". Returns s. */
tl_status tl_error_prefix(tl_status s, const char *fmt, ...) TL_PRINTF(2, 3);

/* ---- allocation -------------------------------------------------------- */

void *tl_malloc(size_t n);
void *tl_calloc(size_t count, size_t size);
void *tl_realloc(void *p, size_t n);
void tl_free(void *p);
char *tl_strdup(const char *s);
/* Aligned (64-byte) allocation for SIMD buffers; free with tl_free_aligned. */
void *tl_malloc_aligned(size_t n);
void tl_free_aligned(void *p);
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

/* Read a whole file (NUL-terminated for convenience; size excludes the NUL). */
tl_status tl_file_read_all(const char *path, char **data, size_t *size);

/* Read and parse a whole JSON file (cJSON); a parse error names the file and the byte
 * where parsing stopped. The caller frees *out with cJSON_Delete. */
struct cJSON;
tl_status tl_file_read_json(const char *path, struct cJSON **out);

/* A read-only view of a file: mmap where possible. */
typedef struct {
    const uint8_t *data;
    size_t size;
    int fd;
} tl_file_map;
tl_status tl_file_map_open(const char *path, tl_file_map *out);
void tl_file_map_close(tl_file_map *m);

int tl_path_exists(const char *path);
int tl_path_is_dir(const char *path);
/* "dir/x.gguf" -> ".gguf" (pointer into path, "" when none). */
const char *tl_path_ext(const char *path);

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
/* Write a whole buffer atomically. */
tl_status tl_file_write_atomic(const char *path, const void *data, size_t n);

/* ---- logging ----------------------------------------------------------- */

typedef enum { TL_LOG_DEBUG, TL_LOG_INFO, TL_LOG_WARN } tl_log_level;
typedef void (*tl_log_fn)(tl_log_level level, const char *msg, void *user);
/* The library never prints: it logs through this callback (default: none). */
void tl_log_set(tl_log_fn fn, void *user);
void tl_logf(tl_log_level level, const char *fmt, ...) TL_PRINTF(2, 3);

/* ---- rng --------------------------------------------------------------- */

/* xoshiro256** seeded by splitmix64: fast, deterministic for a seed. */
typedef struct {
    uint64_t s[4];
} tl_rng;
void tl_rng_seed(tl_rng *r, uint64_t seed);
uint64_t tl_rng_u64(tl_rng *r);
/* Uniform in [0, 1). */
float tl_rng_float(tl_rng *r);
double tl_rng_double(tl_rng *r);
/* Standard normal (Box-Muller). */
float tl_rng_normal(tl_rng *r);
/* Uniform integer in [0, n). */
uint64_t tl_rng_below(tl_rng *r, uint64_t n);

/* ---- time -------------------------------------------------------------- */
double tl_time_sec(void); /* monotonic seconds */

/* ---- half floats ------------------------------------------------------- */
float tl_f16_to_f32(uint16_t h);
uint16_t tl_f32_to_f16(float f);
float tl_bf16_to_f32(uint16_t h);
uint16_t tl_f32_to_bf16(float f);

/* ---- growable strings ---------------------------------------------------- */

/* A string built by appending; a failed allocation sets `failed` (sticky) and
 * later appends do nothing, so builders check once at the end. s is always
 * NUL-terminated once anything was appended. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} tl_strbuf;
void tl_strbuf_append(tl_strbuf *b, const char *s, size_t n);
void tl_strbuf_puts(tl_strbuf *b, const char *s);
void tl_strbuf_printf(tl_strbuf *b, const char *fmt, ...) TL_PRINTF(2, 3);
/* Append s with the XML special characters (& < > " ') escaped. */
void tl_strbuf_xml(tl_strbuf *b, const char *s);
/* TL_OK, or TL_E_NOMEM (with a message) when an append failed. */
tl_status tl_strbuf_status(const tl_strbuf *b);
void tl_strbuf_free(tl_strbuf *b);

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

#endif /* TL_BASE_H */
