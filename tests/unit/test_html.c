/* report.html writer: escaping (HTML specials, control characters, malformed
 * UTF-8), section assembly (contents in order, ids, titles escaped), inline SVG
 * accepted only as a plain <svg> element, the page self-contained, the file
 * written atomically, allocation failures reported as TL_E_NOMEM. Also the demo's
 * stage table and its evenly spread checkpoint picks. */
#include <string.h>

#include "demo/demo.h"
#include "report/report.h"
#include "testlib.h"

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void escape_is(const char *in, const char *want) {
    tl_strbuf b = {0};
    tl_html_escape(&b, in);
    const char *got = b.s ? b.s : ""; /* nothing appended: no buffer */
    CHECK(!strcmp(got, want), "escape(%s) = '%s', want '%s'", in, got, want);
    tl_strbuf_free(&b);
}

int main(void) {
    /* ---- escaping ---- */
    escape_is("a < b && c > \"d\" 'e'", "a &lt; b &amp;&amp; c &gt; &quot;d&quot; &#39;e&#39;");
    escape_is("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;");
    escape_is("tab\tand\nnewline", "tab\tand\nnewline");
    escape_is("bell\x07 del\x7f", "bell&#xFFFD; del&#xFFFD;");
    escape_is("caf\xc3\xa9 \xe2\x96\xb8 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x96\xb8 \xf0\x9f\x98\x80"); /* kept */
    escape_is("x\xff y", "x&#xFFFD; y");                           /* not a UTF-8 lead byte */
    escape_is("cut \xe2\x96", "cut &#xFFFD;&#xFFFD;");             /* sequence cut short by the end */
    escape_is("over \xc0\xaf", "over &#xFFFD;&#xFFFD;");           /* overlong '/' */
    escape_is("sur \xed\xa0\x80", "sur &#xFFFD;&#xFFFD;&#xFFFD;"); /* UTF-16 surrogate */
    escape_is("", "");

    /* ---- a page ---- */
    tl_html h;
    tl_html_init(&h, "Report <1> & \"all\"");
    tl_html_para(&h, NULL, "intro %d < %d", 1, 2);
    tl_html_section_begin(&h, "world", "The <world>");
    tl_html_para(&h, "note", "value %s", "a&b");
    const char *hd[3] = {"name", "value", "text"};
    const char *row[3] = {"x<y", "0.5", "12 apples"};
    tl_html_table_begin(&h, hd, 3);
    tl_html_table_row(&h, row, 3);
    tl_html_table_end(&h);
    tl_html_section_begin(&h, "probe", "Probes & more"); /* closes the open section */
    tl_html_pre(&h, "line 1\n<line 2>");
    double x[3] = {0, 1, 2}, y[3] = {1, 0.5, 0.25};
    tl_chart_series ser = {"loss", x, y, 3};
    tl_chart c = {.title = "Loss"};
    tl_strbuf svg = {0};
    CHECK_OK(tl_svg_line_chart(&svg, &c, &ser, 1));
    CHECK_OK(tl_html_svg(&h, svg.s, "loss <chart>"));
    CHECK(tl_html_svg(&h, "<svg><script>x()</script></svg>", "bad") == TL_E_FORMAT,
          "an SVG with a script was accepted");
    CHECK(tl_html_svg(&h, "<div>not svg</div>", "bad") == TL_E_FORMAT, "a non-SVG was accepted");
    tl_html_section_end(&h);
    CHECK(h.n_sections == 2, "%d sections, want 2", h.n_sections);

    tl_strbuf out = {0};
    CHECK_OK(tl_html_render(&h, &out));
    const char *p = out.s ? out.s : "";
    CHECK(!strncmp(p, "<!DOCTYPE html>\n<html", 21), "no doctype first");
    CHECK(strstr(p, "<meta charset=\"utf-8\">") != NULL, "no charset");
    CHECK(count(p, "<style>") == 1 && !strstr(p, "<script") && !strstr(p, "<link") && !strstr(p, " src="),
          "not self-contained (style once, no scripts, links or sources)");
    CHECK(strstr(p, "<title>Report &lt;1&gt; &amp; &quot;all&quot;</title>") != NULL, "title not escaped");
    CHECK(strstr(p, "<p>intro 1 &lt; 2</p>") != NULL, "intro paragraph missing or unescaped");
    /* contents: one entry per section, in order, before the sections */
    const char *toc1 = strstr(p, "<li><a href=\"#world\">The &lt;world&gt;</a></li>");
    const char *toc2 = strstr(p, "<li><a href=\"#probe\">Probes &amp; more</a></li>");
    const char *sec1 = strstr(p, "<section id=\"world\">\n<h2>The &lt;world&gt;</h2>");
    const char *sec2 = strstr(p, "<section id=\"probe\">\n<h2>Probes &amp; more</h2>");
    CHECK(toc1 && toc2 && sec1 && sec2 && toc1 < toc2 && toc2 < sec1 && sec1 < sec2,
          "contents / sections out of order");
    CHECK(count(p, "<section") == 2 && count(p, "</section>") == 2, "sections not closed exactly once");
    CHECK(strstr(p, "<p class=\"note\">value a&amp;b</p>") != NULL, "note paragraph");
    CHECK(strstr(p, "<td>x&lt;y</td><td class=\"num\">0.5</td><td>12 apples</td>") != NULL, "table row cells");
    CHECK(strstr(p, "<pre>line 1\n&lt;line 2&gt;</pre>") != NULL, "pre block");
    CHECK(count(p, "<svg ") == 1 && strstr(p, "<figcaption class=\"note\">loss &lt;chart&gt;</figcaption>"),
          "inline SVG with its caption");
    CHECK(sec2 && strstr(sec2, "<svg ") != NULL, "the SVG is not inside its section");

    /* written atomically: the file holds exactly the rendered page */
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", tl_test_tmpdir());
    CHECK_OK(tl_html_write(&h, path));
    char *data = NULL;
    size_t n = 0;
    CHECK_OK(tl_file_read_all(path, &data, &n));
    CHECK(data && n == out.len && !memcmp(data, out.s, n), "file differs from the render");
    tl_free(data);

    /* an allocation failure while rendering is reported, not written */
    char path2[4096];
    snprintf(path2, sizeof path2, "%s/nomem.html", tl_test_tmpdir());
    tl_alloc_fail_after(1);
    tl_status st = tl_html_write(&h, path2);
    tl_alloc_fail_after(0);
    CHECK(st == TL_E_NOMEM, "allocation failure: %s", tl_status_string(st));
    CHECK(!tl_path_exists(path2), "a failed render left a file");

    /* a page with no sections has no contents block */
    tl_html e;
    tl_html_init(&e, "empty");
    tl_strbuf eo = {0};
    CHECK_OK(tl_html_render(&e, &eo));
    CHECK(eo.s && !strstr(eo.s, "<nav>") && strstr(eo.s, "<h1>empty</h1>"), "empty page");
    tl_strbuf_free(&eo);
    tl_html_free(&e);

    tl_strbuf_free(&out);
    tl_strbuf_free(&svg);
    tl_html_free(&h);

    /* ---- the demo's stage table: unique names, each with run; pipeline order ---- */
    int n_st = tl_demo_stage_count();
    CHECK(n_st >= 10, "%d stages", n_st);
    for (int i = 0; i < n_st; i++) {
        const tl_demo_stage *a = tl_demo_stage_at(i);
        CHECK(a && a->name && a->title && a->run, "stage %d incomplete", i);
        for (int j = 0; j < i; j++)
            CHECK(strcmp(a->name, tl_demo_stage_at(j)->name), "stage name %s twice", a->name);
    }
    CHECK(tl_demo_stage_at(n_st) == NULL && tl_demo_stage_at(-1) == NULL, "out-of-range stage");
    CHECK(!strcmp(tl_demo_stage_at(0)->name, "world") && !strcmp(tl_demo_stage_at(3)->name, "pretrain"),
          "world first, pretrain fourth");

    /* picks: first and last included, increasing, all when k >= n */
    int idx[64];
    int k = tl_demo_pick(48, 8, idx);
    CHECK(k == 8 && idx[0] == 0 && idx[7] == 47, "pick 8 of 48: %d items, %d .. %d", k, idx[0], idx[k - 1]);
    for (int i = 1; i < k; i++)
        CHECK(idx[i] > idx[i - 1], "picks not increasing at %d", i);
    CHECK(tl_demo_pick(5, 10, idx) == 5 && idx[4] == 4, "k > n takes all");
    CHECK(tl_demo_pick(5, 0, idx) == 5, "k = 0 takes all");
    CHECK(tl_demo_pick(5, 1, idx) == 1 && idx[0] == 4, "k = 1 takes the last");

    /* presets: the quick one is smaller and both keep >= 40 checkpoints */
    tl_demo_config q, dcfg;
    tl_demo_config_quick(&q, 7);
    tl_demo_config_default(&dcfg, 7);
    CHECK(q.world.seed == 7 && dcfg.world.seed == 7, "seed not passed to the world");
    CHECK(q.n_ckpt >= 40 && dcfg.n_ckpt >= 40, "fewer than 40 checkpoints");
    CHECK(q.steps < dcfg.steps && q.dim < dcfg.dim, "quick is not smaller");
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
