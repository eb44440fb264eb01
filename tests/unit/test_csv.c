/* CSV reader (RFC 4180 edge cases, line numbers in errors) and the
 * statement,label dataset reader, on hand-written text and on the five real
 * trust datasets (row and label counts as Python's csv module reads them). */
#include <math.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"
#include "testlib.h"

/* Parse text; return the number of records (or -1 on error), fields joined as "a|b;c|d;". */
static int parse(const char *text, char *joined, size_t cap, tl_status *st) {
    tl_csv_reader r;
    tl_csv_init(&r, "t.csv", text, strlen(text));
    tl_csv_record rec;
    int got, n = 0;
    size_t len = 0;
    joined[0] = 0;
    *st = TL_OK;
    for (;;) {
        *st = tl_csv_next(&r, &rec, &got);
        if (*st || !got) break;
        for (int i = 0; i < rec.n_fields; i++)
            len += (size_t)snprintf(joined + len, cap - len, "%s%s", i ? "|" : "", rec.fields[i]);
        len += (size_t)snprintf(joined + len, cap - len, "@%d;", rec.line);
        n++;
    }
    tl_csv_free(&r);
    return *st ? -1 : n;
}

static void expect(const char *text, const char *want, int n_want) {
    char got[1024];
    tl_status st;
    int n = parse(text, got, sizeof got, &st);
    CHECK(n == n_want && !strcmp(got, want), "input [%s]: got %d records [%s] (%s), want %d [%s]", text, n, got,
          st ? tl_last_error() : "ok", n_want, want);
}

static void expect_error(const char *text, const char *msg_part) {
    char got[1024];
    tl_status st;
    int n = parse(text, got, sizeof got, &st);
    CHECK(n == -1 && st == TL_E_FORMAT && strstr(tl_last_error(), msg_part),
          "input [%s]: want an error containing '%s', got %d records, status %d: %s", text, msg_part, n, st,
          tl_last_error());
}

static const char *write_tmp(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tl_test_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, strlen(text), f);
    fclose(f);
    return path;
}

static void expect_dataset_error(const char *text, const char *msg_part) {
    const char *path = write_tmp("bad.csv", text);
    tl_dataset *d = (tl_dataset *)1;
    tl_status st = tl_dataset_load(path, &d);
    CHECK(st == TL_E_FORMAT && d == NULL && strstr(tl_last_error(), msg_part) && strstr(tl_last_error(), path),
          "dataset [%s]: want an error naming the file and '%s', got status %d: %s", text, msg_part, st,
          tl_last_error());
}

int main(void) {
    /* plain records, every line ending, a last line without one */
    expect("a,b\n1,2\n", "a|b@1;1|2@2;", 2);
    expect("a,b\r\n1,2\r\n", "a|b@1;1|2@2;", 2);
    expect("a,b\r1,2", "a|b@1;1|2@2;", 2);
    expect("a,b\n1,2", "a|b@1;1|2@2;", 2);
    /* empty fields, trailing comma, blank lines (a record of one empty field) */
    expect("a,,b\n,\n\nx\n", "a||b@1;|@2;@3;x@4;", 4);
    /* quoting: commas, doubled quotes, an empty quoted field */
    expect("\"a,b\",\"say \"\"hi\"\"\"\n\"\",x\n", "a,b|say \"hi\"@1;|x@2;", 2);
    /* line breaks inside quotes are kept, and lines are still counted */
    expect("\"one\ntwo\",1\r\n\"three\r\nfour\",2\nlast,3\n", "one\ntwo|1@1;three\r\nfour|2@3;last|3@5;", 3);
    /* a UTF-8 byte-order mark is skipped; other bytes pass through */
    expect("\xEF\xBB\xBFstatement,label\n\xC3\xA9t\xC3\xA9,1\n", "statement|label@1;\xC3\xA9t\xC3\xA9|1@2;", 2);
    expect("", "", 0);
    /* malformed input names the line */
    expect_error("a,b\n\"open,1\nmore\n", "t.csv:2: quoted field is not closed");
    expect_error("a,b\n1,2\n\"x\"y,1\n", "t.csv:3: 'y' after a closing quote");
    expect_error("a,b\n\"multi\nline\"x,1\n", "t.csv:3: 'x' after a closing quote");
    /* a quote inside an unquoted field is literal (Python's csv and pandas agree) */
    expect("a,b\nsay \"hi\" there,1\n", "a|b@1;say \"hi\" there|1@2;", 2);
    {
        const char nul[] = "a,b\n1,\0\n";
        tl_csv_reader r;
        tl_csv_init(&r, "t.csv", nul, sizeof nul - 1);
        tl_csv_record rec;
        int got;
        tl_status st = tl_csv_next(&r, &rec, &got);
        st = st ? st : tl_csv_next(&r, &rec, &got);
        CHECK(st == TL_E_FORMAT && strstr(tl_last_error(), "t.csv:2: NUL byte"), "NUL: %s", tl_last_error());
        tl_csv_free(&r);
    }

    /* the field writer quotes only when needed; its output reads back */
    {
        const char *vals[] = {"plain", "a,b", "say \"hi\"", "two\nlines", ""};
        tl_strbuf b = {0};
        for (int i = 0; i < 5; i++) {
            if (i) tl_strbuf_puts(&b, ",");
            tl_csv_field(&b, vals[i]);
        }
        tl_strbuf_puts(&b, "\n");
        CHECK(!strcmp(b.s, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\n"), "writer: %s", b.s);
        tl_csv_reader r;
        tl_csv_init(&r, "w", b.s, b.len);
        tl_csv_record rec;
        int got;
        CHECK_OK(tl_csv_next(&r, &rec, &got));
        int same = got && rec.n_fields == 5;
        for (int i = 0; same && i < 5; i++) same = !strcmp(rec.fields[i], vals[i]);
        CHECK(same, "writer output does not read back");
        tl_csv_free(&r);
        tl_strbuf_free(&b);
    }

    /* datasets: columns by name, labels, line numbers, quoting */
    {
        const char *path = write_tmp("ok.csv", "id,label,statement\n7,1,\"Hello, world\"\n\n8, 0 ,\" lead\nline\"\n9,1,\n");
        tl_dataset *d = NULL;
        CHECK_OK(tl_dataset_load(path, &d));
        if (d) {
            CHECK(d->n == 3, "rows %d", d->n);
            CHECK(d->n == 3 && !strcmp(d->text[0], "Hello, world") && d->label[0] == 1 && d->line[0] == 2,
                  "row 0: [%s] %lld line %d", d->text[0], (long long)d->label[0], d->line[0]);
            CHECK(d->n == 3 && !strcmp(d->text[1], " lead\nline") && d->label[1] == 0 && d->line[1] == 4,
                  "row 1: [%s] line %d", d->text[1], d->line[1]);
            CHECK(d->n == 3 && d->len[2] == 0 && d->line[2] == 6, "row 2: empty statement, line %d", d->line[2]);
        }
        tl_dataset_free(d);
    }
    expect_dataset_error("statement,label\nfine,1\nbad,2\n", ":3: label '2' is not 0 or 1");
    expect_dataset_error("statement,label\nfine,1\nbad,1.0\n", ":3: label '1.0' is not 0 or 1");
    expect_dataset_error("statement,label\nfine,1\n\"two\nlines\",1,extra\n", ":3: 3 fields, the header has 2");
    expect_dataset_error("statement,label\nfine,1\nshort\n", ":3: 1 field, the header has 2");
    expect_dataset_error("Question\nWhat?\n", ":1: the header has no 'statement' column (columns: Question)");
    expect_dataset_error("statement,lbl\nx,1\n", ":1: the header has no 'label' column");
    expect_dataset_error("statement,label\n", "no statements after the header");
    expect_dataset_error("", "empty file");
    expect_dataset_error("statement,label\nok,1\n\"never closed,0\n", ":3: quoted field is not closed");
    {
        tl_dataset *d = (tl_dataset *)1;
        tl_status st = tl_dataset_load("/nonexistent/x.csv", &d);
        CHECK(st == TL_E_IO && !d && strstr(tl_last_error(), "/nonexistent/x.csv"), "missing file: %s",
              tl_last_error());
    }

    /* allocation failures: every one gives NOMEM (or succeeds), never a crash or a leak */
    {
        const char *path = write_tmp("alloc.csv", "statement,label\n\"a,b\",1\nc,0\nd,1\n");
        int fails = 0, oks = 0;
        for (long k = 1; k < 60; k++) {
            tl_alloc_fail_after(k);
            tl_dataset *d = NULL;
            tl_status st = tl_dataset_load(path, &d);
            tl_alloc_fail_after(0);
            if (st == TL_OK) oks++;
            else if (st == TL_E_NOMEM && !d) fails++;
            else CHECK(0, "allocation failure %ld gave status %d: %s", k, st, tl_last_error());
            tl_dataset_free(d);
        }
        CHECK(fails > 3 && oks > 0, "fault injection reached %d failures, %d successes", fails, oks);
    }

    /* the real datasets (counts from Python's csv module) */
    struct {
        const char *name;
        int n, ones;
    } real[] = {{"confaide", 2346, 1173}, {"sst2", 3642, 1821}, {"stereoset", 1952, 976},
                {"toxigen", 6514, 3633}, {"truthfulqa_train", 2263, 1118}};
    for (int i = 0; i < 5; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "data/trust/%s.csv", real[i].name);
        tl_dataset *d = NULL;
        CHECK_OK(tl_dataset_load(tl_test_shared(rel), &d));
        if (!d) continue;
        int ones = 0;
        for (int j = 0; j < d->n; j++) ones += (int)d->label[j];
        CHECK(d->n == real[i].n && ones == real[i].ones, "%s: %d rows, %d ones; want %d, %d", real[i].name, d->n,
              ones, real[i].n, real[i].ones);
        tl_dataset_free(d);
    }
    {
        tl_dataset *d = NULL;
        tl_status st = tl_dataset_load(tl_test_shared("data/trust/truthfulqa_test.csv"), &d);
        CHECK(st == TL_E_FORMAT && strstr(tl_last_error(), "truthfulqa_test.csv:1: the header has no 'statement'"),
              "truthfulqa_test: %s", tl_last_error());
    }
    { /* a whole file by column name: short rows read as "", numbers as NAN when empty */
        const char *path = write_tmp("table.csv", "a,b,c\n1,\"x,y\",2.5\n\n3\n");
        tl_table t;
        int exists = 0;
        CHECK_OK(tl_table_read(path, &t, &exists));
        CHECK(exists && t.n_rows == 2 && t.n_cols == 3, "table: exists %d, %d rows, %d cols", exists, t.n_rows,
              t.n_cols);
        int b = tl_table_col(&t, "b"), c = tl_table_col(&t, "c");
        CHECK(b == 1 && c == 2 && tl_table_col(&t, "z") == -1, "columns b %d, c %d", b, c);
        CHECK(!strcmp(tl_table_cell(&t, 0, b), "x,y") && tl_table_num(&t, 0, c) == 2.5, "row 0");
        CHECK(!strcmp(tl_table_cell(&t, 1, b), "") && isnan(tl_table_num(&t, 1, c)), "short row 1");
        CHECK(!strcmp(tl_table_cell(&t, 5, 0), "") && !strcmp(tl_table_cell(&t, 0, -1), ""), "outside the table");
        tl_table_free(&t);
        CHECK_OK(tl_table_read("/nonexistent/t.csv", &t, &exists));
        CHECK(!exists && t.n_rows == 0, "missing file: exists %d", exists);
        tl_status st = tl_table_read(write_tmp("empty.csv", "\n"), &t, &exists);
        CHECK(st == TL_E_FORMAT && strstr(tl_last_error(), "empty.csv: empty file"), "empty: %s", tl_last_error());
        st = tl_table_read(write_tmp("bad.csv", "a\n\"open\n"), &t, &exists);
        CHECK(st == TL_E_FORMAT && strstr(tl_last_error(), "bad.csv:2"), "unterminated: %s", tl_last_error());
    }
    tl_test_rmtree(tl_test_tmpdir());
    return tl_test_done();
}
