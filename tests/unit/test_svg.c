/* SVG charts: structure (one polyline per series, one cell per value, legend and
 * labels present and XML-escaped), no NaN/inf leaking into coordinates, ticks
 * on log1p axes, allocation failures reported as TL_E_NOMEM. */
#include <string.h>

#include "report/report.h"
#include "testlib.h"

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

static void check_clean(const char *what, const char *svg) {
    static const char *bad[] = {"nan", "NaN", "inf\"", "inf,", "inf ", "\"inf", ",inf", "-inf", "inf<"};
    for (int i = 0; i < 9; i++) CHECK(!strstr(svg, bad[i]), "%s: non-finite number (%s) in the SVG", what, bad[i]);
    CHECK(!strncmp(svg, "<svg ", 5) && strstr(svg, "</svg>\n") && count(svg, "<svg ") == 1, "%s: not one <svg> element",
          what);
    CHECK(count(svg, "<text") == count(svg, "</text>"), "%s: unbalanced <text>", what);
}

int main(void) {
    double steps[6] = {0, 1, 2, 5, 10, 100}, a[6] = {0.5, 0.6, 0.7, NAN, 0.8, 0.85}, b[6] = {0.5, 0.52, 0.55, 0.6, 0.7, 0.9};
    tl_chart_series s[2] = {{"layer <0>", steps, a, 6}, {"layer 1 & 2", steps, b, 6}};
    tl_chart c = {.title = "Probe \"accuracy\"", .x_label = "step", .y_label = "accuracy", .x_scale = TL_AXIS_LOG1P,
                  .y_min = 0.4, .y_max = 1.0};
    tl_strbuf out = {0};
    CHECK_OK(tl_svg_line_chart(&out, &c, s, 2));
    check_clean("line", out.s);
    /* the NaN splits series 0 into two polylines */
    CHECK(count(out.s, "<polyline") == 3, "line: %d polylines, want 3", count(out.s, "<polyline"));
    CHECK(count(out.s, "<circle") == 11, "line: %d markers, want 11", count(out.s, "<circle"));
    CHECK(strstr(out.s, "layer &lt;0&gt;") && strstr(out.s, "layer 1 &amp; 2") && strstr(out.s, "Probe &quot;accuracy&quot;"),
          "line: escaped legend / title missing");
    CHECK(strstr(out.s, ">100</text>") && strstr(out.s, ">10</text>") && strstr(out.s, ">0</text>"),
          "line: log1p ticks 0, 10, 100 missing");
    tl_strbuf_free(&out);

    /* heatmap: rows x cols cells, labels, a NaN cell in grey */
    double z[6] = {0.5, 0.6, 0.7, 0.8, NAN, 1.0};
    const char *rl[2] = {"resid_post.0", "resid_post.1"}, *cl[3] = {"ckpt-0", "ckpt-10", "ckpt-100"};
    tl_chart h = {.title = "heat", .x_label = "checkpoint", .y_label = "point"};
    CHECK_OK(tl_svg_heatmap(&out, &h, z, 2, 3, rl, cl, 0.5, 1.0, "acc"));
    check_clean("heatmap", out.s);
    CHECK(count(out.s, "<title>") == 6 && strstr(out.s, "#cccccc") && strstr(out.s, "resid_post.1 / ckpt-100: 1</title>"),
          "heatmap: cells or tooltips wrong");
    CHECK(strstr(out.s, ">ckpt-10</text>") && strstr(out.s, ">resid_post.0</text>") && strstr(out.s, ">0.80</text>"),
          "heatmap: labels or cell values missing");
    tl_strbuf_free(&out);
    CHECK(tl_svg_heatmap(&out, &h, z, 0, 3, NULL, NULL, 0, 0, NULL) == TL_E_ARG, "0 rows");
    tl_strbuf_free(&out);

    /* scatter panels sharing a colour scale */
    double x1[4] = {1, 2, 3, 2.5}, y1[4] = {0.1, 0.2, 0.4, 0.5}, v[4] = {0, 10, 100, 1000};
    /* the first panel with error bars: x bars on 4 points, y bars on the 3 with finite bounds */
    double xl[4] = {0.5, 1.5, 2.5, 2}, xh[4] = {1.5, 2.5, 3.5, 3}, yl[4] = {0, 0.1, NAN, 0.4}, yh[4] = {0.2, 0.3, 1, 9};
    tl_scatter_panel p[3] = {{"resid_post.0", x1, y1, v, 4, xl, xh, yl, yh},
                             {"resid_post.2", y1, x1, v, 4, NULL, NULL, NULL, NULL},
                             {"empty", x1, y1, v, 0, NULL, NULL, NULL, NULL}};
    tl_chart sc = {.title = "information plane", .x_label = "I(X;T)", .y_label = "I(T;Y)"};
    CHECK_OK(tl_svg_scatter(&out, &sc, p, 3, "step", TL_AXIS_LOG1P));
    check_clean("scatter", out.s);
    CHECK(count(out.s, "<circle") == 8 && count(out.s, "<polyline") == 2, "scatter: %d points, %d trajectories",
          count(out.s, "<circle"), count(out.s, "<polyline"));
    const char *bar = "stroke=\"#555\" stroke-width=\"0.8\"/>";
    CHECK(count(out.s, bar) == 7, "scatter: %d error bars (7 expected)", count(out.s, bar));
    char lo[8], hi[8];
    tl_svg_ramp(0, lo);
    tl_svg_ramp(1, hi);
    CHECK(strstr(out.s, lo) && strstr(out.s, hi), "scatter: colour ramp ends %s %s not used", lo, hi);
    tl_strbuf_free(&out);

    /* constant and empty data do not produce degenerate coordinates */
    double flat[3] = {2, 2, 2};
    tl_chart_series fs = {"flat", flat, flat, 3};
    tl_chart plain = {0};
    CHECK_OK(tl_svg_line_chart(&out, &plain, &fs, 1));
    check_clean("flat line", out.s);
    tl_strbuf_free(&out);
    CHECK_OK(tl_svg_line_chart(&out, &plain, NULL, 0));
    check_clean("empty line", out.s);
    tl_strbuf_free(&out);

    /* allocation failures surface as TL_E_NOMEM */
    int nomem = 0;
    for (long k = 1; k < 8; k++) {
        tl_alloc_fail_after(k);
        tl_status st = tl_svg_line_chart(&out, &c, s, 2);
        tl_alloc_fail_after(0);
        nomem += st == TL_E_NOMEM;
        tl_strbuf_free(&out);
    }
    CHECK(nomem >= 1, "no allocation failure was reported");
    /* grouped bars: one rect (with a tooltip) per finite value, error bars where err > 0,
     * the bar heights proportional to the values on a fixed 0..1 axis */
    {
        const char *groups[3] = {"N2D", "D2N <rev>", "x"};
        double ya[3] = {0.8, 0.2, NAN}, ea[3] = {0.1, 0, 0.1}, yb[3] = {0.4, 0.0, 1.0};
        tl_bar_series bs[2] = {{"ntp", ya, ea}, {"bico & co", yb, NULL}};
        tl_chart bc = {.title = "bars", .y_label = "em", .y_min = 0, .y_max = 1, .width = 500, .height = 300};
        tl_strbuf bo = {0};
        CHECK_OK(tl_svg_bar_chart(&bo, &bc, groups, 3, bs, 2));
        check_clean("bars", bo.s);
        CHECK(count(bo.s, "<title>") == 5, "bars: %d bars, want 5 (one NaN)", count(bo.s, "<title>"));
        CHECK(count(bo.s, "<path") == 1, "bars: %d error bars, want 1", count(bo.s, "<path"));
        CHECK(strstr(bo.s, "D2N &lt;rev&gt;") && strstr(bo.s, "bico &amp; co"), "bars: escaped labels missing");
        /* heights: plot from y = 36 (title) to H - 52 = 248, so 0.8 -> 169.6 px and 0.4 -> 84.8 px */
        CHECK(strstr(bo.s, "height=\"169.6\"") && strstr(bo.s, "height=\"84.8\""), "bars: heights not to scale");
        tl_strbuf_free(&bo);
        /* styled: an interval [lo, hi] on the first series (one bar NaN, one bound NaN: no bar there), the
         * second series a dashed chance line per group */
        const double blo[3] = {0.7, 0.1, NAN}, bhi[3] = {0.9, 0.4, 0.5}, ch[3] = {0.5, 0.5, 0.25};
        tl_bar_series ss[2] = {{"ntp", ya, NULL}, {"chance", ch, NULL}};
        tl_bar_style st[2] = {{blo, bhi, 0}, {NULL, NULL, 1}};
        tl_strbuf so = {0};
        CHECK_OK(tl_svg_bar_chart_styled(&so, &bc, groups, 3, ss, st, 2));
        check_clean("styled bars", so.s);
        CHECK(count(so.s, "<rect") - count(so.s, "<rect x=\"0\"") >= 2, "styled bars: bars missing");
        CHECK(count(so.s, "stroke-dasharray") == 3, "styled bars: %d chance lines, want 3",
              count(so.s, "stroke-dasharray"));
        CHECK(count(so.s, "<path") == 2, "styled bars: %d intervals, want 2 (one bound NaN)", count(so.s, "<path"));
        CHECK(strstr(so.s, "[0.7, 0.9]") != NULL, "styled bars: the interval's tooltip");
        /* the interval, not err: the bar of 0.8 spans 0.7 .. 0.9 -> y 248 - 0.7*212 = 99.6 .. 57.2 */
        CHECK(strstr(so.s, "99.6V57.2") != NULL, "styled bars: the interval is not drawn from lo to hi");
        tl_strbuf_free(&so);
    }
    return tl_test_done();
}
