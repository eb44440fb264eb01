/*
 * tiller/base.h: status codes and error messages, allocation (arrays tiller returns are freed
 * with tl_free), logging through a callback, time, a deterministic RNG, growable strings and a
 * few path helpers. Every other public header includes this one.
 *
 * Every fallible function returns a tl_status (TL_OK = 0) and passes results through
 * out-parameters; on failure it frees what it allocated, sets the outputs to NULL and records
 * a message naming the file, field and value at fault, readable with tl_last_error()
 * (thread-local). The library never prints and never exits.
 */
#ifndef TILLER_BASE_H
#define TILLER_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>


#if defined(__GNUC__)
#define TL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TL_PRINTF(a, b)
#endif

/* Public declarations get default visibility; the library is compiled with -fvisibility=hidden,
 * so libtiller.so exports exactly the functions of include/tiller/ (and scripts/libtiller.map
 * keeps the export list to tl_*). */
#if defined(__GNUC__)
#define TL_API_BEGIN _Pragma("GCC visibility push(default)")
#define TL_API_END _Pragma("GCC visibility pop")
#else
#define TL_API_BEGIN
#define TL_API_END
#endif

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

typedef enum {
    TL_OK = 0,
    TL_E_IO,          /* a file could not be opened, read or written */
    TL_E_FORMAT,      /* a file's content is malformed */
    TL_E_NOMEM,       /* an allocation failed */
    TL_E_ARG,         /* a caller passed an invalid argument or flag */
    TL_E_RANGE,       /* a size or index is out of range (e.g. prompt longer than context) */
    TL_E_UNSUPPORTED, /* valid input that tiller does not handle (e.g. a quantised tensor type) */
    TL_E_NUMERIC,     /* NaN / inf where a finite value is required */
    TL_E__COUNT
} tl_status;

const char *tl_status_string(tl_status s);
const char *tl_last_error(void);

typedef struct tl_model tl_model;
typedef struct tl_tokenizer tl_tokenizer;
typedef struct tl_session tl_session;

/* The main handles; each module's header says how to make and free them. */
typedef struct tl_model tl_model;         /* tiller/model.h */
typedef struct tl_tokenizer tl_tokenizer; /* tiller/tokenizer.h */
typedef struct tl_session tl_session;     /* tiller/model.h */

/* ---- allocation -------------------------------------------------------- */

void *tl_malloc(size_t n);
void *tl_calloc(size_t count, size_t size);
void *tl_realloc(void *p, size_t n);
void tl_free(void *p);
char *tl_strdup(const char *s);
/* Aligned (64-byte) allocation for SIMD buffers; free with tl_free_aligned. */
void *tl_malloc_aligned(size_t n);
void tl_free_aligned(void *p);
/* Read a whole file (NUL-terminated for convenience; size excludes the NUL). */
tl_status tl_file_read_all(const char *path, char **data, size_t *size);

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

/* ---- time -------------------------------------------------------------- */
double tl_time_sec(void); /* monotonic seconds */

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
void tl_strbuf_vprintf(tl_strbuf *b, const char *fmt, va_list ap);
/* Append s with the XML special characters (& < > " ') escaped. */
void tl_strbuf_xml(tl_strbuf *b, const char *s);
/* TL_OK, or TL_E_NOMEM (with a message) when an append failed. */
tl_status tl_strbuf_status(const tl_strbuf *b);
/* Hand over the string ("" when nothing was appended; NULL, freeing it, when an append
 * failed); the builder is reset. Free the result with tl_free. */
char *tl_strbuf_take(tl_strbuf *b);
void tl_strbuf_free(tl_strbuf *b);
/* Write a whole buffer to path atomically (a temporary file, fsync, rename): readers see the
 * old file or the whole new one, never a half-written one. */
tl_status tl_file_write_atomic(const char *path, const void *data, size_t n);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_BASE_H */
