/* Chart layout fixes (issue 11, item 16): a heatmap's colour-bar title sits right of the
 * bar, outside the chart, rotated (it used to sit above the bar, over the chart's corner);
 * a log1p axis labels its end when that is well past the last power of ten (a step axis
 * 0..2000 used to stop labelling at 1000). */
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
    return tl_test_done();
}
