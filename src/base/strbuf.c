/* strbuf.c: growable strings with a sticky failure flag, for text built piece
 * by piece (SVG charts, CSV rows, reports). */
#include <string.h>

#include "base.h"

static int strbuf_reserve(tl_strbuf *b, size_t extra) {
    if (b->failed) return 0;
    size_t need;
    if (!tl_add_size(b->len, extra, &need) || !tl_add_size(need, 1, &need)) {
        b->failed = 1;
        return 0;
    }
    if (need <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *s = tl_realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return 0;
    }
    b->s = s;
    b->cap = cap;
    return 1;
}

void tl_strbuf_append(tl_strbuf *b, const char *s, size_t n) {
    if (!strbuf_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void tl_strbuf_puts(tl_strbuf *b, const char *s) { tl_strbuf_append(b, s, strlen(s)); }

void tl_strbuf_vprintf(tl_strbuf *b, const char *fmt, va_list ap) {
    if (b->failed) return;
    char small[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        b->failed = 1;
    } else if ((size_t)n < sizeof small) {
        tl_strbuf_append(b, small, (size_t)n);
    } else if (strbuf_reserve(b, (size_t)n)) {
        vsnprintf(b->s + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void tl_strbuf_printf(tl_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tl_strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void tl_strbuf_xml(tl_strbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': tl_strbuf_puts(b, "&amp;"); break;
        case '<': tl_strbuf_puts(b, "&lt;"); break;
        case '>': tl_strbuf_puts(b, "&gt;"); break;
        case '"': tl_strbuf_puts(b, "&quot;"); break;
        case '\'': tl_strbuf_puts(b, "&#39;"); break;
        default: tl_strbuf_append(b, s, 1);
        }
    }
}

tl_status tl_strbuf_status(const tl_strbuf *b) {
    return b->failed ? tl_errorf(TL_E_NOMEM, "out of memory building a string of %zu bytes", b->len)
                     : TL_OK;
}

void tl_strbuf_free(tl_strbuf *b) {
    tl_free(b->s);
    memset(b, 0, sizeof *b);
}

char *tl_strbuf_take(tl_strbuf *b) {
    char *s = b->failed ? NULL : b->s;
    if (!s && !b->failed) s = tl_strdup("");
    if (b->failed) tl_free(b->s);
    memset(b, 0, sizeof *b);
    return s;
}
