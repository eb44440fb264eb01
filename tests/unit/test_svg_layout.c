/* Chart layout fixes (issue 11, item 16): a heatmap's colour-bar title sits right of the
 * bar, outside the chart, rotated (it used to sit above the bar, over the chart's corner);
 * a log1p axis labels its end when that is well past the last power of ten (a step axis
 * 0..2000 used to stop labelling at 1000); a legend is as wide as its longest name (it was 130 px,
 * and the chart's right edge cut "ckpt-1500 +8, random direction 2"), and a name too long for 40 % of
 * the chart is shortened with "..." instead of running off the edge. */
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "testlib.h"

/* x of the <text> element whose content is exactly `s`, or -1 */
static double text_x(const char *svg, const char *s) {
    char needle[128];
    snprintf(needle, sizeof needle, ">%s</text>", s);
    const char *end = strstr(svg, needle);
    if (!end) return -1;
    const char *p = end;
    while (p > svg && strncmp(p, "<text x=\"", 9)) p--;
    return p > svg ? atof(p + 9) : -1;
}

int main(void) {
    double z[6] = {0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
    const char *rl[2] = {"a", "b"}, *cl[3] = {"x", "y", "z"};
    tl_chart h = {.title = "probe", .width = 640, .height = 300};
    tl_strbuf out = {0};
    CHECK_OK(tl_svg_heatmap(&out, &h, z, 2, 3, rl, cl, 0.5, 1.0, "probe accuracy (validation)"));
    double lx = out.s ? text_x(out.s, "probe accuracy (validation)") : -1;
    /* the plot area ends at W - 80 = 560; the bar spans 574..588 and its tick labels follow */
    CHECK(lx > 600 && lx < 640, "colour-bar title at x %.1f: not right of the bar inside the chart's width", lx);
    CHECK(out.s && strstr(out.s, "rotate(-90"), "colour-bar title not rotated");
    tl_strbuf_free(&out);

    double steps[4] = {0, 10, 500, 2000}, v[4] = {1, 2, 3, 4};
    tl_chart_series s = {"loss", steps, v, 4};
    tl_chart c = {.x_label = "step", .y_label = "loss", .x_scale = TL_AXIS_LOG1P};
    tl_strbuf lo = {0};
    CHECK_OK(tl_svg_line_chart(&lo, &c, &s, 1));
    CHECK(lo.s && text_x(lo.s, "1000") > 0, "the 1000 tick is missing");
    CHECK(lo.s && text_x(lo.s, "2000") > text_x(lo.s, "1000"), "the end of the log axis (2000) is not labelled");
    tl_strbuf_free(&lo);

    /* legends: 6.2 px per character is the layout's estimate of 11 px text */
    const char *mid = "ckpt-1500 +8, random direction 2";
    char huge[160];
    memset(huge, 'w', sizeof huge - 1);
    huge[sizeof huge - 1] = 0;
    tl_chart_series ls[2] = {{mid, steps, v, 4}, {huge, steps, v, 4}};
    tl_chart lc = {.width = 640, .height = 300};
    tl_strbuf lg = {0};
    CHECK_OK(tl_svg_line_chart(&lg, &lc, ls, 2));
    double mx = lg.s ? text_x(lg.s, mid) : -1;
    CHECK(mx > 0 && mx + 6.2 * strlen(mid) <= 640, "line legend '%s' at x %.1f runs past the chart's edge", mid, mx);
    CHECK(lg.s && !strstr(lg.s, huge) && strstr(lg.s, "www...</text>"), "a 159-character name is not shortened");
    tl_strbuf_free(&lg);
    const char *groups[2] = {"a", "b"};
    double y0[2] = {1, 2};
    tl_bar_series bs[2] = {{mid, y0, NULL}, {huge, y0, NULL}};
    CHECK_OK(tl_svg_bar_chart(&lg, &lc, groups, 2, bs, 2));
    mx = lg.s ? text_x(lg.s, mid) : -1;
    CHECK(mx > 0 && mx + 6.2 * strlen(mid) <= 640, "bar legend '%s' at x %.1f runs past the chart's edge", mid, mx);
    /* (each bar's tooltip keeps the whole name) */
    char whole[200];
    snprintf(whole, sizeof whole, ">%s</text>", huge);
    CHECK(lg.s && !strstr(lg.s, whole) && strstr(lg.s, "www...</text>"), "bar chart: a long name is not shortened");
    tl_strbuf_free(&lg);
    return tl_test_done();
}
