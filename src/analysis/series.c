/* series.c: checkpoint series from a manifest CSV, and steps from file names (series.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "series.h"

int tl_series_name_step(const char *name, int64_t *step) {
    const char *p = NULL;
    if (!strncmp(name, "ckpt-", 5)) p = name + 5;
    else {
        const char *s = strstr(name, "step");
        while (s && !p) {
            const char *q = s + 4;
            if (*q == '-' || *q == '_') q++;
            if (*q >= '0' && *q <= '9') p = q;
            else s = strstr(s + 4, "step");
        }
    }
    if (!p || *p < '0' || *p > '9') return 0;
    int64_t v = 0;
    while (*p >= '0' && *p <= '9') {
        if (v > (INT64_MAX / 2 - 9) / 10) return 0;
        v = v * 10 + (*p++ - '0');
    }
    *step = v;
    return 1;
}

static tl_status add(tl_ckpt_list *l, int *cap, int64_t step, const char *path, const char *csv) {
    if (l->n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        tl_ckpt *ni = tl_realloc(l->items, (size_t)nc * sizeof *ni);
        if (!ni) return tl_errorf(TL_E_NOMEM, "%s: out of memory", csv);
        l->items = ni;
        *cap = nc;
    }
    char name[32];
    snprintf(name, sizeof name, "step%lld", (long long)step);
    tl_ckpt *c = &l->items[l->n];
    c->step = step;
    c->path = tl_strdup(path);
    c->name = tl_strdup(name);
    if (!c->path || !c->name) {
        tl_free(c->path);
        tl_free(c->name);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", csv);
    }
    l->n++;
    return TL_OK;
}

tl_status tl_series_from_csv(const char *csv, tl_ckpt_list *out) {
    memset(out, 0, sizeof *out);
    char *text = NULL;
    size_t size = 0;
    tl_status s = tl_file_read_all(csv, &text, &size);
    if (s) return s;
    const char *slash = strrchr(csv, '/');
    int dir_len = slash ? (int)(slash - csv) : 0;
    tl_csv_reader r;
    tl_csv_init(&r, csv, text, size);
    int cap = 0, got = 0, first = 1;
    tl_csv_record rec;
    while (!s && !(s = tl_csv_next(&r, &rec, &got)) && got) {
        if (rec.blank) continue;
        if (first && rec.n_fields >= 1 && !strcmp(rec.fields[0], "step")) {
            first = 0;
            continue;
        }
        first = 0;
        if (rec.n_fields != 2) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 2 fields (step,path), got %d", csv, rec.line, rec.n_fields);
            break;
        }
        char *end;
        errno = 0;
        long long step = strtoll(rec.fields[0], &end, 10);
        if (end == rec.fields[0] || *end || errno || step < 0 || step > INT64_MAX / 4) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: step '%.40s' is not a non-negative integer", csv, rec.line,
                          rec.fields[0]);
            break;
        }
        if (!rec.lens[1]) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: empty path", csv, rec.line);
            break;
        }
        char path[4096];
        int n = rec.fields[1][0] == '/' || !dir_len
                    ? snprintf(path, sizeof path, "%s", rec.fields[1])
                    : snprintf(path, sizeof path, "%.*s/%s", dir_len, csv, rec.fields[1]);
        if (n >= (int)sizeof path) {
            s = tl_errorf(TL_E_ARG, "%s:%d: path too long", csv, rec.line);
            break;
        }
        if (!tl_path_exists(path)) {
            s = tl_errorf(TL_E_IO, "%s:%d: %s: no such file or directory", csv, rec.line, path);
            break;
        }
        s = add(out, &cap, (int64_t)step, path, csv);
    }
    tl_csv_free(&r);
    tl_free(text);
    if (s) tl_ckpt_list_free(out);
    return s;
}
