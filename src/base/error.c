/* error.c: the thread-local error message behind tl_errorf / tl_last_error. */
#include <stdio.h>
#include <string.h>

#include "base.h"

static _Thread_local char tl_error_message[1024];

const char *tl_status_string(tl_status s) {
    switch (s) {
    case TL_OK: return "ok";
    case TL_E_IO: return "i/o error";
    case TL_E_FORMAT: return "format error";
    case TL_E_NOMEM: return "out of memory";
    case TL_E_ARG: return "invalid argument";
    case TL_E_RANGE: return "out of range";
    case TL_E_UNSUPPORTED: return "unsupported";
    case TL_E_NUMERIC: return "numeric error";
    default: return "unknown status";
    }
}

const char *tl_last_error(void) {
    return tl_error_message[0] ? tl_error_message : "no error recorded";
}

tl_status tl_errorf(tl_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tl_error_message, sizeof tl_error_message, fmt, ap);
    va_end(ap);
    return s;
}

tl_status tl_error_prefix(tl_status s, const char *fmt, ...) {
    char prefix[512], old[sizeof tl_error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tl_error_message, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof tl_error_message - 3) n = sizeof tl_error_message - 3;
    memcpy(tl_error_message, prefix, n);
    memcpy(tl_error_message + n, ": ", 2);
    size_t rest = sizeof tl_error_message - n - 3;
    strncpy(tl_error_message + n + 2, old, rest);
    tl_error_message[sizeof tl_error_message - 1] = 0;
    return s;
}
