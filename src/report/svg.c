/* svg.c: line charts, heatmaps, scatter panels and grouped bar charts as self-contained SVG.
 *
 * Every chart is built from the same pieces: a frame (plot rectangle inside
 * margins), an axis mapping data to pixels (linear or log1p), "nice" ticks
 * (1, 2, 5 x 10^k steps; powers of ten for log1p), and text escaped for XML. */
#include <math.h>
#include <string.h>

#include "report.h"

static const char *palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define N_PALETTE 10

/* A perceptually ordered dark-blue -> green -> yellow ramp (viridis-like anchors). */
static const unsigned char ramp[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                         {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                         {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};

void tl_svg_ramp(double t, char *buf) {
    if (!(t >= 0)) t = 0;
    if (t > 1) t = 1;
    double f = t * 8;
    int i = (int)f;
    if (i > 7) i = 7;
    double u = f - i;
    int rgb[3];
    for (int k = 0; k < 3; k++) rgb[k] = (int)lround(ramp[i][k] * (1 - u) + ramp[i + 1][k] * u);
    snprintf(buf, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* ---- axes ---------------------------------------------------------------------- */

typedef struct {
    double lo, hi;       /* data range */
    double p0, p1;       /* pixel range (p1 < p0 for a y axis) */
    tl_axis_scale scale;
} axis;

static double fwd(tl_axis_scale s, double v) { return s == TL_AXIS_LOG1P ? log1p(v > 0 ? v : 0) : v; }

static double axis_px(const axis *a, double v) {
    double l = fwd(a->scale, a->lo), h = fwd(a->scale, a->hi);
    return a->p0 + (fwd(a->scale, v) - l) / (h - l) * (a->p1 - a->p0);
}

/* Widen a degenerate range and round it outwards to a tick step. */
static void axis_range(axis *a, double lo, double hi, int round_out) {
    if (!(lo <= hi)) lo = 0, hi = 1;
    if (a->scale == TL_AXIS_LOG1P) {
        if (lo < 0) lo = 0;
        if (hi <= lo) hi = lo + 1;
        a->lo = lo;
        a->hi = hi;
        return;
    }
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        double pad = fabs(hi) > 0 ? 0.05 * fabs(hi) : 0.5;
        lo -= pad;
        hi += pad;
    }
    if (round_out) {
        double step = pow(10, floor(log10((hi - lo) / 5)));
        lo = floor(lo / step) * step;
        hi = ceil(hi / step) * step;
    }
    a->lo = lo;
    a->hi = hi;
}

/* Up to ~max_ticks tick values in [lo, hi]. */
static int axis_ticks(const axis *a, double *t, int max_ticks) {
    int n = 0;
    if (a->scale == TL_AXIS_LOG1P) {
        if (a->lo <= 0 && n < max_ticks) t[n++] = 0;
        for (double v = 1; v <= a->hi * 1.0000001 && n < max_ticks; v *= 10)
            if (v >= a->lo) t[n++] = v;
        /* the end of the axis gets a label too (e.g. 2000 after 1000), unless it sits
         * too close to the last power of ten to be read apart from it */
        if (n > 0 && n < max_ticks && a->hi > 1.5 * t[n - 1]) t[n++] = a->hi;
        return n;
    }
    double span = a->hi - a->lo, raw = span / 5, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5) step = 10 * mag;
    else if (raw / mag > 2) step = 5 * mag;
    else if (raw / mag > 1) step = 2 * mag;
    for (double v = ceil(a->lo / step - 1e-9) * step; v <= a->hi + 1e-9 * span && n < max_ticks; v += step)
        t[n++] = fabs(v) < 1e-12 * span ? 0 : v;
    return n;
}

static void fmt_num(char *buf, size_t cap, double v) {
    if (v != 0 && (fabs(v) >= 1e5 || fabs(v) < 1e-3)) snprintf(buf, cap, "%.2g", v);
    else snprintf(buf, cap, "%.4g", v);
}

static void text(tl_strbuf *b, double x, double y, const char *anchor, int size, const char *extra, const char *s) {
    tl_strbuf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s>", x, y, anchor, size,
                     extra ? extra : "");
    tl_strbuf_xml(b, s ? s : "");
    tl_strbuf_puts(b, "</text>\n");
}

/* Frame, grid, ticks and axis titles of a plot rectangle [x0, x1] x [y0, y1]. */
static void draw_axes(tl_strbuf *b, const axis *ax, const axis *ay, const char *xl, const char *yl) {
    double x0 = ax->p0, x1 = ax->p1, y0 = ay->p1, y1 = ay->p0; /* y0 top, y1 bottom */
    double t[32];
    char s[32];
    int n = axis_ticks(ay, t, 32);
    for (int i = 0; i < n; i++) {
        double py = axis_px(ay, t[i]);
        tl_strbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", x0, py, x1,
                         py);
        fmt_num(s, sizeof s, t[i]);
        text(b, x0 - 6, py + 4, "end", 11, NULL, s);
    }
    n = axis_ticks(ax, t, 32);
    for (int i = 0; i < n; i++) {
        double px = axis_px(ax, t[i]);
        tl_strbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", px, y0, px,
                         y1);
        tl_strbuf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", px, y1, px,
                         y1 + 4);
        fmt_num(s, sizeof s, t[i]);
        text(b, px, y1 + 16, "middle", 11, NULL, s);
    }
    tl_strbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
                     x0, y0, x1 - x0, y1 - y0);
    if (xl) text(b, (x0 + x1) / 2, y1 + 34, "middle", 12, NULL, xl);
    if (yl) {
        char rot[96];
        snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x0 - 44, (y0 + y1) / 2);
        text(b, x0 - 44, (y0 + y1) / 2, "middle", 12, rot, yl);
    }
}

static void svg_open(tl_strbuf *b, int w, int h, const char *title) {
    tl_strbuf_printf(b,
                     "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                     "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
                     w, h, w, h);
    if (title) text(b, w / 2.0, 22, "middle", 15, " font-weight=\"bold\"", title);
}

static tl_status finish(tl_strbuf *b) {
    tl_strbuf_puts(b, "</svg>\n");
    return tl_strbuf_status(b);
}

/* Vertical colour bar at x, from y_top to y_bot, for [lo, hi]. */
static void colour_bar(tl_strbuf *b, double x, double y_top, double y_bot, double lo, double hi,
                       tl_axis_scale scale, const char *label) {
    int steps = 48;
    double h = (y_bot - y_top) / steps;
    char col[8], s[32];
    for (int i = 0; i < steps; i++) {
        tl_svg_ramp((i + 0.5) / steps, col);
        tl_strbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.2f\" fill=\"%s\"/>\n", x,
                         y_bot - (i + 1) * h, h + 0.3, col);
    }
    tl_strbuf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
                     x, y_top, y_bot - y_top);
    axis a = {0};
    a.scale = scale;
    a.p0 = y_bot;
    a.p1 = y_top;
    axis_range(&a, lo, hi, 0);
    double t[32];
    int n = axis_ticks(&a, t, 32);
    for (int i = 0; i < n; i++) {
        fmt_num(s, sizeof s, t[i]);
        text(b, x + 18, axis_px(&a, t[i]) + 4, "start", 10, NULL, s);
    }
    /* the title runs vertically right of the tick labels: above the bar, a long title
     * reached over the chart it belongs to */
    if (label) {
        char rot[96];
        snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x + 58, (y_top + y_bot) / 2);
        text(b, x + 58, (y_top + y_bot) / 2, "middle", 11, rot, label);
    }
}

/* ---- legend ------------------------------------------------------------------------------ */

/* Legend text is 11 px sans-serif: about 6.2 px per character on average (wider for capitals,
 * narrower for "il."); the swatch and its gap take 28 px. The legend is as wide as its longest
 * name needs, between 90 px and 40 % of the chart, so a long label ("ckpt-1500 +8, random") is
 * not cut by the chart's right edge; a name longer than that still is shortened, with "...". */
#define LEGEND_CHAR_PX 6.2
#define LEGEND_SWATCH_PX 28

static int legend_width(int W, size_t longest_name) {
    int w = LEGEND_SWATCH_PX + 8 + (int)ceil(LEGEND_CHAR_PX * (double)longest_name);
    int cap = (int)(0.4 * W);
    return w < 90 ? 90 : w > cap ? cap : w;
}

/* name, or its first characters and "..." when it does not fit legend_w; never splits a UTF-8 sequence */
static const char *legend_name(const char *name, int legend_w, char *buf, size_t cap) {
    size_t fit = (size_t)((legend_w - LEGEND_SWATCH_PX - 8) / LEGEND_CHAR_PX + 1e-9);
    if (!name || strlen(name) <= fit || fit < 4) return name;
    size_t keep = fit - 3 < cap - 4 ? fit - 3 : cap - 4;
    while (keep > 0 && ((unsigned char)name[keep] & 0xC0) == 0x80) keep--;
    memcpy(buf, name, keep);
    memcpy(buf + keep, "...", 4);
    return buf;
}

/* ---- line chart ----------------------------------------------------------------------- */

tl_status tl_svg_line_chart(tl_strbuf *out, const tl_chart *c, const tl_chart_series *s, int n_series) {
    return tl_svg_line_chart_styled(out, c, s, NULL, n_series);
}

tl_status tl_svg_line_chart_styled(tl_strbuf *out, const tl_chart *c, const tl_chart_series *s,
                                   const tl_chart_style *st, int n_series) {
    static const tl_chart_style plain = {NULL, NULL, 0};
    int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 400;
    size_t longest = 0;
    for (int k = 0; k < n_series; k++) longest = s[k].name && strlen(s[k].name) > longest ? strlen(s[k].name) : longest;
    int legend_w = n_series > 0 ? legend_width(W, longest) : 0;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int k = 0; k < n_series; k++)
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) continue;
            xlo = fmin(xlo, s[k].x[i]);
            xhi = fmax(xhi, s[k].x[i]);
            ylo = fmin(ylo, s[k].y[i]);
            yhi = fmax(yhi, s[k].y[i]);
            if (st && st[k].lo && isfinite(st[k].lo[i])) ylo = fmin(ylo, st[k].lo[i]);
            if (st && st[k].hi && isfinite(st[k].hi[i])) yhi = fmax(yhi, st[k].hi[i]);
        }
    axis ax = {.scale = c->x_scale, .p0 = 64, .p1 = W - 16 - legend_w};
    axis ay = {.scale = TL_AXIS_LINEAR, .p0 = H - 52, .p1 = c->title ? 36 : 16};
    axis_range(&ax, xlo, xhi, 0);
    if (c->y_min < c->y_max) axis_range(&ay, c->y_min, c->y_max, 0);
    else axis_range(&ay, ylo, yhi, 1);
    svg_open(out, W, H, c->title);
    draw_axes(out, &ax, &ay, c->x_label, c->y_label);
    for (int k = 0; k < n_series; k++) {
        const char *col = palette[k % N_PALETTE];
        const tl_chart_style *sk = st ? &st[k] : &plain;
        const char *dash = k >= N_PALETTE || sk->dashed ? " stroke-dasharray=\"5 3\"" : "";
        int open = 0;
        for (int i = 0; i < s[k].n; i++) {
            if (!isfinite(s[k].x[i]) || !isfinite(s[k].y[i])) {
                if (open) tl_strbuf_puts(out, "\"/>\n");
                open = 0;
                continue;
            }
            double px = axis_px(&ax, s[k].x[i]), py = axis_px(&ay, s[k].y[i]);
            if (!open)
                tl_strbuf_printf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\"%s points=\"", col,
                                 dash);
            tl_strbuf_printf(out, "%s%.1f,%.1f", open ? " " : "", px, py);
            open = 1;
        }
        if (open) tl_strbuf_puts(out, "\"/>\n");
        for (int i = 0; i < s[k].n; i++)
            if (isfinite(s[k].x[i]) && isfinite(s[k].y[i]))
                tl_strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                                 axis_px(&ax, s[k].x[i]), axis_px(&ay, s[k].y[i]), col);
        for (int i = 0; sk->lo && sk->hi && i < s[k].n; i++) { /* error bars with caps */
            if (!isfinite(s[k].x[i]) || !isfinite(sk->lo[i]) || !isfinite(sk->hi[i])) continue;
            double px = axis_px(&ax, s[k].x[i]), y0 = axis_px(&ay, sk->lo[i]), y1 = axis_px(&ay, sk->hi[i]);
            tl_strbuf_printf(out,
                             "<path d=\"M%.1f,%.1fV%.1fM%.1f,%.1fH%.1fM%.1f,%.1fH%.1f\" stroke=\"%s\" "
                             "stroke-width=\"1\" fill=\"none\"/>\n",
                             px, y0, y1, px - 3, y0, px + 3, px - 3, y1, px + 3, col);
        }
    }
    /* legend, one line per series (the last rows elided if they do not fit) */
    double ly = ay.p1 + 4, lx = W - legend_w + 4;
    int fit = (int)((ay.p0 - ly) / 16);
    for (int k = 0; k < n_series && k < fit; k++) {
        const char *name = k == fit - 1 && n_series > fit ? "..." : s[k].name;
        double yk = ly + 12 + 16 * k - 4;
        tl_strbuf_printf(out,
                         "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                         lx, yk, lx + 18, yk, palette[k % N_PALETTE],
                         k >= N_PALETTE || (st && st[k].dashed) ? " stroke-dasharray=\"5 3\"" : "");
        char cut[128];
        text(out, lx + 24, ly + 12 + 16 * k, "start", 11, NULL, legend_name(name, legend_w, cut, sizeof cut));
    }
    return finish(out);
}

/* ---- heatmap ------------------------------------------------------------------------------ */

tl_status tl_svg_heatmap(tl_strbuf *out, const tl_chart *c, const double *z, int rows, int cols,
                         const char *const *row_labels, const char *const *col_labels, double z_min, double z_max,
                         const char *z_label) {
    int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 400;
    if (rows < 1 || cols < 1) return tl_errorf(TL_E_ARG, "heatmap: %d x %d cells", rows, cols);
    if (!(z_min < z_max)) {
        z_min = INFINITY;
        z_max = -INFINITY;
        for (size_t i = 0; i < (size_t)rows * cols; i++)
            if (isfinite(z[i])) z_min = fmin(z_min, z[i]), z_max = fmax(z_max, z[i]);
        if (!(z_min < z_max)) z_min = isfinite(z_min) ? z_min - 0.5 : 0, z_max = z_min + 1;
    }
    /* the left margin holds the longest row label (about 6.5 px per character at 11 px) and the axis title */
    size_t longest_row = 0;
    for (int r = 0; row_labels && r < rows; r++)
        if (strlen(row_labels[r]) > longest_row) longest_row = strlen(row_labels[r]);
    double x0 = 40 + 6.5 * (double)(longest_row < 40 ? longest_row : 40), x1 = W - 80, y0 = c->title ? 36 : 16,
           y1 = H - 56;
    if (x1 - x0 < cols) return tl_errorf(TL_E_ARG, "heatmap: %d columns do not fit %d pixels", cols, W);
    double cw = (x1 - x0) / cols, ch = (y1 - y0) / rows;
    svg_open(out, W, H, c->title);
    char col[8], s[32];
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < cols; k++) {
            double v = z[(size_t)r * cols + k];
            double t = (v - z_min) / (z_max - z_min);
            if (isfinite(v)) tl_svg_ramp(t, col);
            else snprintf(col, sizeof col, "#cccccc");
            double x = x0 + k * cw, y = y0 + r * ch;
            tl_strbuf_printf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>",
                             x, y, cw + 0.2, ch + 0.2, col);
            tl_strbuf_xml(out, row_labels ? row_labels[r] : "");
            tl_strbuf_puts(out, " / ");
            tl_strbuf_xml(out, col_labels ? col_labels[k] : "");
            fmt_num(s, sizeof s, v);
            tl_strbuf_printf(out, ": %s</title></rect>\n", isfinite(v) ? s : "n/a");
            if (isfinite(v) && cw >= 34 && ch >= 14) {
                snprintf(s, sizeof s, "%.2f", v);
                text(out, x + cw / 2, y + ch / 2 + 4, "middle", 10, t > 0.6 ? NULL : " fill=\"white\"", s);
            }
        }
    tl_strbuf_printf(out,
                     "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
                     x0, y0, x1 - x0, y1 - y0);
    int rstep = (int)ceil(13.0 / ch), cstep = 1;
    if (col_labels) {
        size_t longest = 1;
        for (int k = 0; k < cols; k++) longest = strlen(col_labels[k]) > longest ? strlen(col_labels[k]) : longest;
        cstep = (int)ceil((6.5 * longest + 6) / cw);
    }
    for (int r = 0; row_labels && r < rows; r += rstep)
        text(out, x0 - 6, y0 + (r + 0.5) * ch + 4, "end", 11, NULL, row_labels[r]);
    for (int k = 0; col_labels && k < cols; k += cstep)
        text(out, x0 + (k + 0.5) * cw, y1 + 16, "middle", 11, NULL, col_labels[k]);
    if (c->x_label) text(out, (x0 + x1) / 2, y1 + 36, "middle", 12, NULL, c->x_label);
    if (c->y_label) {
        char rot[96];
        snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", 18.0, (y0 + y1) / 2);
        text(out, 18, (y0 + y1) / 2, "middle", 12, rot, c->y_label);
    }
    colour_bar(out, x1 + 14, y0 + 14, y1, z_min, z_max, TL_AXIS_LINEAR, z_label);
    return finish(out);
}

/* ---- scatter panels ------------------------------------------------------------------------ */

tl_status tl_svg_scatter(tl_strbuf *out, const tl_chart *c, const tl_scatter_panel *p, int n_panels,
                         const char *v_label, tl_axis_scale v_scale) {
    if (n_panels < 1) return tl_errorf(TL_E_ARG, "scatter: no panels");
    int pw = c->width > 0 ? c->width : 300, ph = c->height > 0 ? c->height : 280;
    int per_row = n_panels < 4 ? n_panels : 4, n_rows = (n_panels + per_row - 1) / per_row;
    int top = c->title ? 30 : 6, W = per_row * pw + 90, H = top + n_rows * ph;
    double vlo = INFINITY, vhi = -INFINITY;
    for (int k = 0; k < n_panels; k++)
        for (int i = 0; i < p[k].n; i++)
            if (isfinite(p[k].v[i])) vlo = fmin(vlo, p[k].v[i]), vhi = fmax(vhi, p[k].v[i]);
    axis av = {.scale = v_scale, .p0 = 0, .p1 = 1};
    axis_range(&av, vlo, vhi, 0);
    svg_open(out, W, H, c->title);
    char col[8];
    for (int k = 0; k < n_panels; k++) {
        double ox = (k % per_row) * pw, oy = top + (k / per_row) * ph;
        double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
        for (int i = 0; i < p[k].n; i++) {
            if (!isfinite(p[k].x[i]) || !isfinite(p[k].y[i])) continue;
            xlo = fmin(xlo, p[k].x[i]), xhi = fmax(xhi, p[k].x[i]);
            ylo = fmin(ylo, p[k].y[i]), yhi = fmax(yhi, p[k].y[i]);
            const double *bounds[4] = {p[k].x_lo, p[k].x_hi, p[k].y_lo, p[k].y_hi}; /* the bars fit too */
            for (int j = 0; j < 4; j++) {
                if (!bounds[j] || !isfinite(bounds[j][i])) continue;
                if (j < 2) xlo = fmin(xlo, bounds[j][i]), xhi = fmax(xhi, bounds[j][i]);
                else ylo = fmin(ylo, bounds[j][i]), yhi = fmax(yhi, bounds[j][i]);
            }
        }
        axis ax = {.scale = TL_AXIS_LINEAR, .p0 = ox + 62, .p1 = ox + pw - 12};
        axis ay = {.scale = TL_AXIS_LINEAR, .p0 = oy + ph - 46, .p1 = oy + 24};
        axis_range(&ax, xlo, xhi, 1);
        axis_range(&ay, ylo, yhi, 1);
        if (p[k].title) text(out, (ax.p0 + ax.p1) / 2, oy + 16, "middle", 12, " font-weight=\"bold\"", p[k].title);
        draw_axes(out, &ax, &ay, c->x_label, c->y_label);
        int open = 0;
        for (int i = 0; i < p[k].n; i++) {
            if (!isfinite(p[k].x[i]) || !isfinite(p[k].y[i])) continue;
            if (!open) tl_strbuf_puts(out, "<polyline fill=\"none\" stroke=\"#999\" stroke-width=\"0.8\" points=\"");
            tl_strbuf_printf(out, "%s%.1f,%.1f", open ? " " : "", axis_px(&ax, p[k].x[i]), axis_px(&ay, p[k].y[i]));
            open = 1;
        }
        if (open) tl_strbuf_puts(out, "\"/>\n");
        for (int i = 0; i < p[k].n; i++) { /* error bars under the points */
            if (!isfinite(p[k].x[i]) || !isfinite(p[k].y[i])) continue;
            double px = axis_px(&ax, p[k].x[i]), py = axis_px(&ay, p[k].y[i]);
            if (p[k].x_lo && p[k].x_hi && isfinite(p[k].x_lo[i]) && isfinite(p[k].x_hi[i]))
                tl_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                                 "stroke-width=\"0.8\"/>\n",
                                 axis_px(&ax, p[k].x_lo[i]), py, axis_px(&ax, p[k].x_hi[i]), py);
            if (p[k].y_lo && p[k].y_hi && isfinite(p[k].y_lo[i]) && isfinite(p[k].y_hi[i]))
                tl_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#555\" "
                                 "stroke-width=\"0.8\"/>\n",
                                 px, axis_px(&ay, p[k].y_lo[i]), px, axis_px(&ay, p[k].y_hi[i]));
        }
        for (int i = 0; i < p[k].n; i++) {
            if (!isfinite(p[k].x[i]) || !isfinite(p[k].y[i])) continue;
            tl_svg_ramp(isfinite(p[k].v[i]) ? axis_px(&av, p[k].v[i]) : 0, col);
            tl_strbuf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" stroke=\"#333\" "
                             "stroke-width=\"0.4\"/>\n", axis_px(&ax, p[k].x[i]), axis_px(&ay, p[k].y[i]), col);
        }
    }
    colour_bar(out, per_row * pw + 16, top + 30, top + (ph < 260 ? ph : 260) - 20, av.lo, av.hi, v_scale, v_label);
    return finish(out);
}

/* ---- grouped bar chart ------------------------------------------------------------------ */

tl_status tl_svg_bar_chart(tl_strbuf *out, const tl_chart *c, const char *const *groups, int n_groups,
                           const tl_bar_series *s, int n_series) {
    return tl_svg_bar_chart_styled(out, c, groups, n_groups, s, NULL, n_series);
}

tl_status tl_svg_bar_chart_styled(tl_strbuf *out, const tl_chart *c, const char *const *groups, int n_groups,
                                  const tl_bar_series *s, const tl_bar_style *st, int n_series) {
    static const tl_bar_style plain = {NULL, NULL, 0};
#define STYLE(k) (st ? &st[k] : &plain)
    int W = c->width > 0 ? c->width : 640, H = c->height > 0 ? c->height : 400;
    size_t longest = 0;
    for (int k = 0; k < n_series; k++) longest = s[k].name && strlen(s[k].name) > longest ? strlen(s[k].name) : longest;
    int legend_w = n_series > 0 ? legend_width(W, longest) : 0;
    double ylo = 0, yhi = -INFINITY;
    for (int k = 0; k < n_series; k++)
        for (int g = 0; g < n_groups; g++) {
            double v = s[k].y[g], e = s[k].err && isfinite(s[k].err[g]) ? s[k].err[g] : 0;
            if (!isfinite(v)) continue;
            ylo = fmin(ylo, v - e);
            yhi = fmax(yhi, v + e);
            if (STYLE(k)->lo && isfinite(STYLE(k)->lo[g])) ylo = fmin(ylo, STYLE(k)->lo[g]);
            if (STYLE(k)->hi && isfinite(STYLE(k)->hi[g])) yhi = fmax(yhi, STYLE(k)->hi[g]);
        }
    if (!(yhi > ylo)) yhi = ylo + 1;
    axis ay = {.scale = TL_AXIS_LINEAR, .p0 = H - 52, .p1 = c->title ? 36 : 16};
    if (c->y_min < c->y_max) axis_range(&ay, c->y_min, c->y_max, 0);
    else axis_range(&ay, ylo, yhi, 1);
    double x0 = 64, x1 = W - 16 - legend_w, y0 = ay.p1, y1 = ay.p0;
    svg_open(out, W, H, c->title);
    double t[32];
    char lab[32];
    int nt = axis_ticks(&ay, t, 32);
    for (int i = 0; i < nt; i++) {
        double py = axis_px(&ay, t[i]);
        tl_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>\n", x0,
                         py, x1, py);
        fmt_num(lab, sizeof lab, t[i]);
        text(out, x0 - 6, py + 4, "end", 11, NULL, lab);
    }
    int n_bars = 0; /* reference series draw lines, not bars */
    for (int k = 0; k < n_series; k++) n_bars += !STYLE(k)->reference;
    double gw = n_groups > 0 ? (x1 - x0) / n_groups : 0, bw = n_bars > 0 ? gw * 0.8 / n_bars : 0;
    double base = axis_px(&ay, ay.lo > 0 ? ay.lo : ay.hi < 0 ? ay.hi : 0);
    for (int g = 0; g < n_groups; g++) {
        double gx = x0 + g * gw;
        for (int k = 0, bar = 0; k < n_series; k++) {
            double v = s[k].y[g];
            if (!isfinite(v)) {
                bar += !STYLE(k)->reference;
                continue;
            }
            if (STYLE(k)->reference) {
                double py = axis_px(&ay, v);
                tl_strbuf_printf(out,
                                 "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                                 "stroke-width=\"2\" stroke-dasharray=\"5 3\"><title>",
                                 gx + gw * 0.05, py, gx + gw * 0.95, py, palette[k % N_PALETTE]);
                tl_strbuf_xml(out, s[k].name ? s[k].name : "");
                tl_strbuf_printf(out, " / ");
                tl_strbuf_xml(out, groups[g] ? groups[g] : "");
                tl_strbuf_printf(out, ": %.4g</title></line>\n", v);
                continue;
            }
            double bx = gx + gw * 0.1 + bar++ * bw, py = axis_px(&ay, v);
            double top = fmin(py, base), h = fabs(base - py);
            tl_strbuf_printf(out,
                             "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>",
                             bx, top, bw * 0.92, h, palette[k % N_PALETTE]);
            tl_strbuf_xml(out, s[k].name ? s[k].name : "");
            tl_strbuf_printf(out, " / ");
            tl_strbuf_xml(out, groups[g] ? groups[g] : "");
            tl_strbuf_printf(out, ": %.4g", v);
            int has_iv = STYLE(k)->lo && STYLE(k)->hi && isfinite(STYLE(k)->lo[g]) && isfinite(STYLE(k)->hi[g]);
            if (has_iv) tl_strbuf_printf(out, " [%.4g, %.4g]", STYLE(k)->lo[g], STYLE(k)->hi[g]);
            else if (s[k].err && isfinite(s[k].err[g])) tl_strbuf_printf(out, " \xc2\xb1 %.4g", s[k].err[g]);
            tl_strbuf_puts(out, "</title></rect>\n");
            double e_lo = has_iv ? STYLE(k)->lo[g] : s[k].err && isfinite(s[k].err[g]) ? v - s[k].err[g] : v,
                   e_hi = has_iv ? STYLE(k)->hi[g] : s[k].err && isfinite(s[k].err[g]) ? v + s[k].err[g] : v;
            if (e_hi > e_lo) {
                double cx = bx + bw * 0.46, ya = axis_px(&ay, e_lo), yb = axis_px(&ay, e_hi);
                tl_strbuf_printf(out,
                                 "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#222\" "
                                 "fill=\"none\"/>\n",
                                 cx, ya, yb, cx - 3, ya, cx + 3, cx - 3, yb, cx + 3);
            }
        }
        text(out, gx + gw / 2, y1 + 16, "middle", 11, NULL, groups[g]);
    }
    tl_strbuf_printf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x0, base,
                     x1, base);
    tl_strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
                     x0, y0, x1 - x0, y1 - y0);
    if (c->x_label) text(out, (x0 + x1) / 2, y1 + 34, "middle", 12, NULL, c->x_label);
    if (c->y_label) {
        char rot[96];
        snprintf(rot, sizeof rot, " transform=\"rotate(-90 %.1f %.1f)\"", x0 - 44, (y0 + y1) / 2);
        text(out, x0 - 44, (y0 + y1) / 2, "middle", 12, rot, c->y_label);
    }
    double ly = y0 + 4, lx = W - legend_w + 4;
    for (int k = 0; k < n_series; k++) {
        double yk = ly + 16 * k;
        if (yk + 12 > y1) break;
        tl_strbuf_printf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", lx, yk,
                         palette[k % N_PALETTE]);
        char cut[128];
        text(out, lx + 18, yk + 10, "start", 11, NULL, legend_name(s[k].name, legend_w, cut, sizeof cut));
    }
    return finish(out);
#undef STYLE
}

tl_status tl_svg_save(const tl_strbuf *b, const char *path) {
    tl_status s = tl_strbuf_status(b);
    if (s) return tl_error_prefix(s, "%s", path);
    return tl_file_write_atomic(path, b->s ? b->s : "", b->len);
}
