/* html.c: report.html — one self-contained page (inline CSS and SVG, no scripts,
 * nothing fetched) assembled from sections. Every text goes through
 * tl_html_escape; only SVG produced by svg.c (or read back from a file it wrote)
 * is inserted raw. */
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* The page's style: readable without it, no web fonts, prints on A4. */
static const char html_css[] =
    "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;"
    "padding:0 1em;color:#1d1d1f;background:#fff;line-height:1.45}\n"
    "h1{font-size:1.8em;margin-bottom:.2em}h2{border-bottom:2px solid #dde;padding-bottom:.2em;margin-top:2em}\n"
    "h3{margin-bottom:.3em}nav ol{columns:2;font-size:.95em}\n"
    "table{border-collapse:collapse;margin:.6em 0;font-size:.9em}th,td{border:1px solid #ccd;padding:3px 8px;"
    "text-align:left;vertical-align:top}th{background:#f0f0f6}td.num{text-align:right;font-variant-numeric:"
    "tabular-nums}\n"
    "pre{background:#f6f6fa;border:1px solid #e0e0ea;padding:.6em;white-space:pre-wrap;word-break:break-word;"
    "font-size:.85em}\n"
    ".note{color:#555;font-size:.9em}.figs{display:flex;flex-wrap:wrap;gap:12px}svg{max-width:100%;height:auto}\n"
    "section{margin-bottom:1.5em}\n";

void tl_html_escape(tl_strbuf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            switch (c) {
            case '&':
                tl_strbuf_puts(b, "&amp;");
                break;
            case '<':
                tl_strbuf_puts(b, "&lt;");
                break;
            case '>':
                tl_strbuf_puts(b, "&gt;");
                break;
            case '"':
                tl_strbuf_puts(b, "&quot;");
                break;
            case '\'':
                tl_strbuf_puts(b, "&#39;");
                break;
            default:
                /* control characters are parse errors in HTML: show U+FFFD instead */
                if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
                    tl_strbuf_puts(b, "&#xFFFD;");
                else
                    tl_strbuf_append(b, (const char *)p, 1);
            }
            p++;
            continue;
        }
        /* a well-formed UTF-8 sequence is copied; anything else becomes U+FFFD */
        int n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
        int ok = n > 0;
        for (int i = 1; ok && i < n; i++)
            ok = (p[i] & 0xc0) == 0x80;
        if (ok && n == 3) ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] >= 0xa0); /* overlong, surrogate */
        if (ok && n == 4) ok = !(c == 0xf0 && p[1] < 0x90) && !(c == 0xf4 && p[1] >= 0x90);
        if (ok) {
            tl_strbuf_append(b, (const char *)p, (size_t)n);
            p += n;
        } else {
            tl_strbuf_puts(b, "&#xFFFD;");
            p++;
        }
    }
}

void tl_html_init(tl_html *h, const char *title) {
    memset(h, 0, sizeof *h);
    h->title = tl_strdup(title ? title : "");
    if (!h->title) h->body.failed = 1;
}

void tl_html_free(tl_html *h) {
    tl_free(h->title);
    tl_strbuf_free(&h->intro);
    tl_strbuf_free(&h->toc);
    tl_strbuf_free(&h->body);
    memset(h, 0, sizeof *h);
}

void tl_html_section_begin(tl_html *h, const char *id, const char *title) {
    if (h->open) tl_html_section_end(h);
    h->n_sections++;
    tl_strbuf_puts(&h->toc, "<li><a href=\"#");
    tl_html_escape(&h->toc, id);
    tl_strbuf_puts(&h->toc, "\">");
    tl_html_escape(&h->toc, title);
    tl_strbuf_puts(&h->toc, "</a></li>\n");
    tl_strbuf_puts(&h->body, "<section id=\"");
    tl_html_escape(&h->body, id);
    tl_strbuf_puts(&h->body, "\">\n<h2>");
    tl_html_escape(&h->body, title);
    tl_strbuf_puts(&h->body, "</h2>\n");
    h->open = 1;
}

void tl_html_section_end(tl_html *h) {
    if (!h->open) return;
    tl_strbuf_puts(&h->body, "</section>\n");
    h->open = 0;
}

/* Text outside a section goes to the introduction (above the table of contents). */
static tl_strbuf *target(tl_html *h) { return h->open ? &h->body : &h->intro; }

void tl_html_heading(tl_html *h, const char *text) {
    tl_strbuf *b = target(h);
    tl_strbuf_puts(b, "<h3>");
    tl_html_escape(b, text);
    tl_strbuf_puts(b, "</h3>\n");
}

void tl_html_para(tl_html *h, const char *cls, const char *fmt, ...) {
    tl_strbuf *b = target(h);
    char small[1024], *text = small;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof small) {
        text = tl_malloc((size_t)n + 1);
        if (!text) {
            b->failed = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    tl_strbuf_puts(b, cls ? "<p class=\"" : "<p>");
    if (cls) {
        tl_html_escape(b, cls);
        tl_strbuf_puts(b, "\">");
    }
    tl_html_escape(b, text);
    tl_strbuf_puts(b, "</p>\n");
    if (text != small) tl_free(text);
}

void tl_html_pre(tl_html *h, const char *text) {
    tl_strbuf *b = target(h);
    tl_strbuf_puts(b, "<pre>");
    tl_html_escape(b, text);
    tl_strbuf_puts(b, "</pre>\n");
}

void tl_html_table_begin(tl_html *h, const char *const *headers, int n) {
    tl_strbuf *b = target(h);
    tl_strbuf_puts(b, "<table>\n<tr>");
    for (int i = 0; i < n; i++) {
        tl_strbuf_puts(b, "<th>");
        tl_html_escape(b, headers[i]);
        tl_strbuf_puts(b, "</th>");
    }
    tl_strbuf_puts(b, "</tr>\n");
}

/* A cell that parses fully as a number is right-aligned. */
static int is_number(const char *s) {
    if (!*s) return 0;
    char *end;
    (void)strtod(s, &end);
    return *end == 0;
}

void tl_html_table_row(tl_html *h, const char *const *cells, int n) {
    tl_strbuf *b = target(h);
    tl_strbuf_puts(b, "<tr>");
    for (int i = 0; i < n; i++) {
        const char *c = cells[i] ? cells[i] : "";
        tl_strbuf_puts(b, is_number(c) ? "<td class=\"num\">" : "<td>");
        tl_html_escape(b, c);
        tl_strbuf_puts(b, "</td>");
    }
    tl_strbuf_puts(b, "</tr>\n");
}

void tl_html_table_end(tl_html *h) { tl_strbuf_puts(target(h), "</table>\n"); }

tl_status tl_html_svg(tl_html *h, const char *svg, const char *caption) {
    if (strncmp(svg, "<svg", 4) != 0 || !strstr(svg, "</svg>") || strstr(svg, "<script") ||
        strstr(svg, "<foreignObject"))
        return tl_errorf(TL_E_FORMAT, "%s: not a plain <svg> element", caption ? caption : "chart");
    tl_strbuf *b = target(h);
    tl_strbuf_puts(b, "<figure>\n");
    tl_strbuf_puts(b, svg);
    if (caption) {
        tl_strbuf_puts(b, "<figcaption class=\"note\">");
        tl_html_escape(b, caption);
        tl_strbuf_puts(b, "</figcaption>\n");
    }
    tl_strbuf_puts(b, "</figure>\n");
    return TL_OK;
}

tl_status tl_html_svg_file(tl_html *h, const char *path, const char *caption) {
    char *data = NULL;
    size_t n = 0;
    tl_status s = tl_file_read_all(path, &data, &n);
    if (s) return s;
    /* svg.c writes the element alone; tolerate an XML declaration before it */
    const char *p = strstr(data, "<svg");
    s = p ? tl_html_svg(h, p, caption) : tl_errorf(TL_E_FORMAT, "%s: no <svg> element", path);
    if (s && p) s = tl_errorf(TL_E_FORMAT, "%s: not a plain <svg> element", path);
    tl_free(data);
    return s;
}

tl_status tl_html_render(tl_html *h, tl_strbuf *out) {
    tl_html_section_end(h);
    tl_strbuf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    tl_html_escape(out, h->title);
    tl_strbuf_puts(out, "</title>\n<style>\n");
    tl_strbuf_puts(out, html_css);
    tl_strbuf_puts(out, "</style>\n</head>\n<body>\n<h1>");
    tl_html_escape(out, h->title);
    tl_strbuf_puts(out, "</h1>\n");
    if (h->intro.len) tl_strbuf_append(out, h->intro.s, h->intro.len);
    if (h->n_sections) {
        tl_strbuf_puts(out, "<nav><h3>Contents</h3><ol>\n");
        if (h->toc.len) tl_strbuf_append(out, h->toc.s, h->toc.len);
        tl_strbuf_puts(out, "</ol></nav>\n");
    }
    if (h->body.len) tl_strbuf_append(out, h->body.s, h->body.len);
    tl_strbuf_puts(out, "</body>\n</html>\n");
    if (h->intro.failed || h->toc.failed || h->body.failed) out->failed = 1;
    return tl_strbuf_status(out);
}

tl_status tl_html_write(tl_html *h, const char *path) {
    tl_strbuf out = {0};
    tl_status s = tl_html_render(h, &out);
    if (s == TL_OK) s = tl_file_write_atomic(path, out.s, out.len);
    tl_strbuf_free(&out);
    return s;
}
