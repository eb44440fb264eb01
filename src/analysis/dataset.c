/* dataset.c: `statement,label` CSV files, read with the RFC 4180 reader of
 * base/csv.c. Like the reference's pandas.read_csv: a header row names the
 * columns, blank lines are skipped, text is kept byte for byte (leading
 * spaces included). Unlike pandas, anything malformed is an error naming the
 * line rather than a guess. */
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"

void tl_dataset_free(tl_dataset *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) tl_free(d->text[i]);
    tl_free(d->text);
    tl_free(d->len);
    tl_free(d->label);
    tl_free(d->line);
    tl_free(d->entity);
    for (int k = 0; d->entity_name && k < d->n_entities; k++) tl_free(d->entity_name[k]);
    tl_free(d->entity_name);
    tl_free(d->path);
    tl_free(d);
}

void tl_token_seqs_free(tl_token_seqs *s) {
    if (!s) return;
    if (s->ids)
        for (int i = 0; i < s->n; i++) tl_free(s->ids[i]);
    tl_free(s->ids);
    tl_free(s->len);
    tl_free(s);
}

/* Grow the row arrays to hold at least n + 1 rows. */
static tl_status reserve_rows(tl_dataset *d, int *cap) {
    if (d->n < *cap) return TL_OK;
    if (*cap > (1 << 28)) return tl_errorf(TL_E_RANGE, "%s: more than %d rows", d->path, 1 << 28);
    int nc = *cap ? *cap * 2 : 1024;
    char **text = tl_realloc(d->text, (size_t)nc * sizeof *text);
    if (text) d->text = text;
    size_t *len = text ? tl_realloc(d->len, (size_t)nc * sizeof *len) : NULL;
    if (len) d->len = len;
    int64_t *label = len ? tl_realloc(d->label, (size_t)nc * sizeof *label) : NULL;
    if (label) d->label = label;
    int *line = label ? tl_realloc(d->line, (size_t)nc * sizeof *line) : NULL;
    if (!line) return tl_errorf(TL_E_NOMEM, "%s: out of memory at row %d", d->path, d->n);
    d->line = line;
    *cap = nc;
    return TL_OK;
}

/* "0" or "1", with ASCII spaces around it allowed (pandas' int parser allows them). */
static int parse_label(const char *s, size_t n, int64_t *out) {
    while (n && (*s == ' ' || *s == '\t')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    if (n != 1 || (s[0] != '0' && s[0] != '1')) return 0;
    *out = s[0] - '0';
    return 1;
}

/* The `entity` column: names in order of first appearance; row i gets the index of its name. */
typedef struct {
    char **name;
    int n, cap;   /* names */
    int *id;      /* [rows] */
    int id_cap;
} entities;

static tl_status entities_add(entities *e, const char *s, size_t len, int row) {
    if (row >= e->id_cap) {
        int nc = e->id_cap ? 2 * e->id_cap : 1024;
        int *id = tl_realloc(e->id, (size_t)nc * sizeof *id);
        if (!id) return tl_errorf(TL_E_NOMEM, "out of memory");
        e->id = id, e->id_cap = nc;
    }
    /* rows about one entity are usually near each other: search from the newest name */
    for (int k = e->n - 1; k >= 0; k--)
        if (strlen(e->name[k]) == len && !memcmp(e->name[k], s, len)) {
            e->id[row] = k;
            return TL_OK;
        }
    if (e->n == e->cap) {
        int nc = e->cap ? 2 * e->cap : 64;
        char **nm = tl_realloc(e->name, (size_t)nc * sizeof *nm);
        if (!nm) return tl_errorf(TL_E_NOMEM, "out of memory");
        e->name = nm, e->cap = nc;
    }
    if (!(e->name[e->n] = tl_malloc(len + 1))) return tl_errorf(TL_E_NOMEM, "out of memory");
    memcpy(e->name[e->n], s, len);
    e->name[e->n][len] = 0;
    e->id[row] = e->n++;
    return TL_OK;
}

static tl_status read_rows(tl_dataset *d, tl_csv_reader *r, entities *ents) {
    tl_csv_record rec;
    int got = 0;
    tl_status s;
    do {
        if ((s = tl_csv_next(r, &rec, &got))) return s;
    } while (got && rec.blank);
    if (!got) return tl_errorf(TL_E_FORMAT, "%s: empty file (expected a header 'statement,label')", d->path);
    int n_cols = rec.n_fields, c_text = -1, c_label = -1, c_ent = -1;
    for (int i = 0; i < n_cols; i++) {
        if (!strcmp(rec.fields[i], "statement") && c_text < 0) c_text = i;
        if (!strcmp(rec.fields[i], "label") && c_label < 0) c_label = i;
        if (!strcmp(rec.fields[i], "entity") && c_ent < 0) c_ent = i;
    }
    if (c_text < 0 || c_label < 0) {
        tl_strbuf cols = {0};
        for (int i = 0; i < n_cols && i < 8; i++) {
            tl_strbuf_puts(&cols, i ? ", " : "");
            tl_strbuf_append(&cols, rec.fields[i], rec.lens[i] > 40 ? 40 : rec.lens[i]);
        }
        s = tl_errorf(TL_E_FORMAT, "%s:%d: the header has no '%s' column (columns: %s)", d->path, rec.line,
                      c_text < 0 ? "statement" : "label", cols.s ? cols.s : "");
        tl_strbuf_free(&cols);
        return s;
    }
    int cap = 0;
    for (;;) {
        if ((s = tl_csv_next(r, &rec, &got))) return s;
        if (!got) break;
        if (rec.blank) continue;
        if (rec.n_fields != n_cols)
            return tl_errorf(TL_E_FORMAT, "%s:%d: %d field%s, the header has %d", d->path, rec.line,
                             rec.n_fields, rec.n_fields == 1 ? "" : "s", n_cols);
        int64_t label;
        if (!parse_label(rec.fields[c_label], rec.lens[c_label], &label))
            return tl_errorf(TL_E_FORMAT, "%s:%d: label '%.40s' is not 0 or 1", d->path, rec.line,
                             rec.fields[c_label]);
        if ((s = reserve_rows(d, &cap))) return s;
        char *t = tl_malloc(rec.lens[c_text] + 1);
        if (!t) return tl_errorf(TL_E_NOMEM, "%s:%d: out of memory", d->path, rec.line);
        memcpy(t, rec.fields[c_text], rec.lens[c_text] + 1);
        d->text[d->n] = t;
        d->len[d->n] = rec.lens[c_text];
        d->label[d->n] = label;
        d->line[d->n] = rec.line;
        d->n++;
        if (c_ent >= 0 && (s = entities_add(ents, rec.fields[c_ent], rec.lens[c_ent], d->n - 1)))
            return tl_error_prefix(s, "%s:%d", d->path, rec.line);
    }
    if (d->n == 0) return tl_errorf(TL_E_FORMAT, "%s: no statements after the header", d->path);
    return TL_OK;
}

tl_status tl_dataset_load(const char *path, tl_dataset **out) {
    *out = NULL;
    char *data;
    size_t size;
    tl_status s = tl_file_read_all(path, &data, &size);
    if (s) return s;
    tl_dataset *d = tl_calloc(1, sizeof *d);
    if (!d || !(d->path = tl_strdup(path))) {
        tl_free(d);
        tl_free(data);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    tl_csv_reader r;
    tl_csv_init(&r, path, data, size);
    entities ents = {0};
    s = read_rows(d, &r, &ents);
    tl_csv_free(&r);
    tl_free(data);
    if (!s && ents.id) {
        d->entity = ents.id, d->entity_name = ents.name, d->n_entities = ents.n;
        ents.id = NULL, ents.name = NULL;
    }
    for (int k = 0; ents.name && k < ents.n; k++) tl_free(ents.name[k]);
    tl_free(ents.name);
    tl_free(ents.id);
    if (s) {
        tl_dataset_free(d);
        return s;
    }
    *out = d;
    return TL_OK;
}
