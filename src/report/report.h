/*
 * report: charts and the HTML report. This module owns the SVG chart
 * primitives (svg.c): each call appends one self-contained <svg> element to a
 * tl_strbuf, so charts can be written to .svg files or inlined in report.html;
 * and the HTML page writer (html.c): sections, paragraphs, tables and inline
 * SVG assembled into one self-contained report.html, every text escaped.
 * No scripts, no external fonts or stylesheets; colours are fixed palettes
 * (a categorical one for series, a viridis-like ramp for values).
 */
#ifndef TL_REPORT_H
#define TL_REPORT_H

#include "base/base.h"

typedef enum {
    TL_AXIS_LINEAR = 0,
    TL_AXIS_LOG1P = 1, /* position ~ log(1 + x), for checkpoint steps that start at 0 (x >= 0) */
} tl_axis_scale;

/* Layout and labels shared by every chart. Zero fields take defaults. */
typedef struct {
    const char *title;
    const char *x_label, *y_label;
    int width, height;     /* pixels of the whole <svg> (default 640 x 400; panels: per panel) */
    tl_axis_scale x_scale;
    double y_min, y_max;   /* a fixed y range when y_min < y_max, else from the data */
} tl_chart;

/* One line of a line chart: n points (x[i], y[i]); non-finite points break the line. */
typedef struct {
    const char *name;
    const double *x, *y;
    int n;
} tl_chart_series;

/* How a series is drawn (tl_svg_line_chart_styled): lo, hi (NULL for none) give an error
 * bar from lo[i] to hi[i] at each point; dashed draws a baseline beside the curves. */
typedef struct {
    const double *lo, *hi;
    int dashed;
} tl_chart_style;

/* Line chart: axes with ticks, one coloured line (with markers) per series, and a
 * legend naming them. */
tl_status tl_svg_line_chart(tl_strbuf *out, const tl_chart *c, const tl_chart_series *s, int n_series);
/* The same with a style per series (st [n_series], or NULL: all plain). */
tl_status tl_svg_line_chart_styled(tl_strbuf *out, const tl_chart *c, const tl_chart_series *s,
                                   const tl_chart_style *st, int n_series);

/* Heatmap of z [rows, cols] (row-major; row 0 at the top), a colour bar for
 * [z_min, z_max] (from the data when z_min >= z_max) and row / column labels
 * (NULL for none; crowded labels are thinned). Non-finite cells are grey. Values
 * are printed in cells wide enough to hold them. */
tl_status tl_svg_heatmap(tl_strbuf *out, const tl_chart *c, const double *z, int rows, int cols,
                         const char *const *row_labels, const char *const *col_labels, double z_min, double z_max,
                         const char *z_label);

/* One panel of a scatter chart: points (x[i], y[i]) coloured by v[i], joined in
 * order by a thin line (a trajectory, e.g. over checkpoints); optional error bars
 * [x_lo, x_hi] and [y_lo, y_hi] (NULL = none; a NaN bound = no bar there). */
typedef struct {
    const char *title;
    const double *x, *y, *v;
    int n;
    const double *x_lo, *x_hi, *y_lo, *y_hi;
} tl_scatter_panel;

/* Scatter panels side by side (up to 4 per row), sharing one colour scale for v
 * (log1p when v_scale says so) with a colour bar labelled v_label. Each panel
 * has its own axes, titled c->x_label / c->y_label. */
tl_status tl_svg_scatter(tl_strbuf *out, const tl_chart *c, const tl_scatter_panel *p, int n_panels,
                         const char *v_label, tl_axis_scale v_scale);

/* One series of a grouped bar chart: y[g] (and err[g], drawn as a +- bar, or NULL)
 * for each group g; non-finite values draw no bar. */
typedef struct {
    const char *name;
    const double *y, *err;
} tl_bar_series;

/* How a bar series is drawn (tl_svg_bar_chart_styled): lo, hi (NULL for none) draw an
 * interval from lo[g] to hi[g] instead of err; reference = 1 draws the series as a dashed
 * line across each group at y[g] (a chance level) instead of bars. */
typedef struct {
    const double *lo, *hi;
    int reference;
} tl_bar_style;

/* Grouped bar chart: one group of bars per label in groups[n_groups] along x, one bar
 * per series in each group (coloured, named in the legend), error bars when given.
 * The y axis includes 0 unless c fixes its range. Each bar has a tooltip (<title>). */
tl_status tl_svg_bar_chart(tl_strbuf *out, const tl_chart *c, const char *const *groups, int n_groups,
                           const tl_bar_series *s, int n_series);
/* The same with a style per series (st [n_series], or NULL: all plain bars). */
tl_status tl_svg_bar_chart_styled(tl_strbuf *out, const tl_chart *c, const char *const *groups, int n_groups,
                                  const tl_bar_series *s, const tl_bar_style *st, int n_series);

/* The colour of t in [0, 1] on the value ramp, as "#rrggbb" (buf >= 8 bytes). */
void tl_svg_ramp(double t, char *buf);

/* Write a strbuf to path atomically (for .svg files). */
tl_status tl_svg_save(const tl_strbuf *b, const char *path);

/* ---- report.html (html.c) ------------------------------------------------ */

/* A page under construction: sections are appended in order; the table of
 * contents is built from their titles. Text added before the first section
 * goes above the contents. Allocation failures are sticky and reported by
 * tl_html_render / tl_html_write. */
typedef struct {
    char *title;
    tl_strbuf intro, toc, body;
    int n_sections;
    int open; /* a section is open */
} tl_html;

/* Append s as HTML text: & < > " ' escaped, control characters (other than
 * tab and newline) and malformed UTF-8 replaced by U+FFFD. */
void tl_html_escape(tl_strbuf *b, const char *s);

void tl_html_init(tl_html *h, const char *title);
void tl_html_free(tl_html *h);
/* <section id="id"><h2>title</h2> ... (closes an open section first). */
void tl_html_section_begin(tl_html *h, const char *id, const char *title);
void tl_html_section_end(tl_html *h);
void tl_html_heading(tl_html *h, const char *text);          /* <h3> */
/* A paragraph of printf-formatted text (escaped); cls = CSS class or NULL ("note"). */
void tl_html_para(tl_html *h, const char *cls, const char *fmt, ...) TL_PRINTF(3, 4);
void tl_html_pre(tl_html *h, const char *text);              /* preformatted, escaped */
void tl_html_table_begin(tl_html *h, const char *const *headers, int n);
void tl_html_table_row(tl_html *h, const char *const *cells, int n); /* numbers right-aligned */
void tl_html_table_end(tl_html *h);
/* Inline an <svg> element (as made by svg.c) with an optional caption.
 * TL_E_FORMAT for anything that is not a plain <svg> (scripts refused). */
tl_status tl_html_svg(tl_html *h, const char *svg, const char *caption);
tl_status tl_html_svg_file(tl_html *h, const char *path, const char *caption);
/* The whole document: doctype, inline CSS, title, contents, sections. */
tl_status tl_html_render(tl_html *h, tl_strbuf *out);
/* Render and write atomically. */
tl_status tl_html_write(tl_html *h, const char *path);

#endif /* TL_REPORT_H */
