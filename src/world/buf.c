/* buf.c: text buffers (tl_strbuf under the world's names) with CSV/JSON escaping, template filling, seed
 * sub-streams, shuffling and the balanced "wrong value" assignment. */
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

/* The world's names for a tl_strbuf's fields: each append runs in strbuf.c on a copy of
 * them, which is written back (the only growth, printf and CSV-quoting code there is). */
static tl_strbuf wbuf_sb(const tl_wbuf *b) { return (tl_strbuf){b->p, b->n, b->cap, b->oom}; }
static void wbuf_set(tl_wbuf *b, const tl_strbuf *sb) {
    b->p = sb->s;
    b->n = sb->len;
    b->cap = sb->cap;
    b->oom = sb->failed;
}

void tl_wbuf_free(tl_wbuf *b) {
    tl_free(b->p);
    memset(b, 0, sizeof *b);
}

void tl_wbuf_putn(tl_wbuf *b, const char *s, size_t n) {
    tl_strbuf sb = wbuf_sb(b);
    tl_strbuf_append(&sb, s, n);
    wbuf_set(b, &sb);
}

void tl_wbuf_puts(tl_wbuf *b, const char *s) { tl_wbuf_putn(b, s, strlen(s)); }

void tl_wbuf_putc(tl_wbuf *b, char c) { tl_wbuf_putn(b, &c, 1); }

void tl_wbuf_printf(tl_wbuf *b, const char *fmt, ...) {
    tl_strbuf sb = wbuf_sb(b);
    va_list ap;
    va_start(ap, fmt);
    tl_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    wbuf_set(b, &sb);
}

void tl_wbuf_csv(tl_wbuf *b, const char *field) {
    tl_strbuf sb = wbuf_sb(b);
    tl_csv_field(&sb, field);
    wbuf_set(b, &sb);
}

void tl_wbuf_json(tl_wbuf *b, const char *s) {
    tl_wbuf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"': tl_wbuf_puts(b, "\\\""); break;
        case '\\': tl_wbuf_puts(b, "\\\\"); break;
        case '\n': tl_wbuf_puts(b, "\\n"); break;
        case '\r': tl_wbuf_puts(b, "\\r"); break;
        case '\t': tl_wbuf_puts(b, "\\t"); break;
        default:
            if (c < 0x20)
                tl_wbuf_printf(b, "\\u%04x", c);
            else
                tl_wbuf_putc(b, (char)c);
        }
    }
    tl_wbuf_putc(b, '"');
}

void tl_wbuf_fill(tl_wbuf *b, const char *tmpl, const tl_wslot *slots, int n) {
    const char *s = tmpl;
    while (*s) {
        const char *open = strchr(s, '{');
        if (!open) {
            tl_wbuf_puts(b, s);
            return;
        }
        tl_wbuf_putn(b, s, (size_t)(open - s));
        const char *close = strchr(open, '}');
        if (!close) {
            tl_wbuf_puts(b, open);
            return;
        }
        size_t klen = (size_t)(close - open - 1);
        const char *val = NULL;
        for (int i = 0; i < n && !val; i++)
            if (strlen(slots[i].key) == klen && !strncmp(slots[i].key, open + 1, klen)) val = slots[i].val;
        if (val)
            tl_wbuf_puts(b, val);
        else
            tl_wbuf_putn(b, open, (size_t)(close - open + 1));
        s = close + 1;
    }
}

void tl_wslots_add(tl_wslots *s, const char *key, const char *val) {
    /* the templates of this module need at most 18 slots: more is a bug caught by
     * the tests, which look for unfilled "{" in every output */
    if (s->n >= (int)(sizeof s->s / sizeof *s->s)) return;
    s->s[s->n].key = key;
    s->s[s->n].val = val;
    s->n++;
}

/* Pronoun slot names for a person keyed "N": he, He, his, His, him. For a
 * second person keyed "F": F.he, F.He, ... */
void tl_wslots_person(tl_wslots *s, const char *key, const char *name, int female) {
    static const char *const keys[2][5] = {{"he", "He", "his", "His", "him"},
                                           {"F.he", "F.He", "F.his", "F.His", "F.him"}};
    static const char *const pron[2][5] = {{"he", "He", "his", "His", "him"}, {"she", "She", "her", "Her", "her"}};
    int second = strcmp(key, "N") != 0;
    tl_wslots_add(s, key, name);
    for (int i = 0; i < 5; i++) tl_wslots_add(s, keys[second][i], pron[female ? 1 : 0][i]);
}

void tl_world_rng(const tl_world *w, const char *stream, tl_rng *r) {
    /* FNV-1a of the stream name, mixed with the seed by the RNG's splitmix. */
    uint64_t h = 1469598103934665603ULL;
    for (const char *s = stream; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    tl_rng_seed(r, w->opts.seed ^ h);
}

void tl_wshuffle(tl_rng *r, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = tl_wrand(r, i + 1), t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

tl_status tl_world_derange(int n, const int *val, const int *avoid, int min_shift, int *out) {
    if (n < 2) return tl_errorf(TL_E_RANGE, "world: cannot assign wrong values among %d item(s)", n);
    int *ord = tl_malloc(sizeof(int) * (size_t)n);
    if (!ord) return tl_errorf(TL_E_NOMEM, "world: out of memory");
    /* stable insertion sort by value: n is at most a few thousand */
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && val[ord[j - 1]] > val[i]) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    if (min_shift < 1) min_shift = 1;
    for (int shift = min_shift; shift < n + min_shift; shift++) {
        int k = shift % n, ok = k != 0;
        for (int i = 0; i < n && ok; i++) {
            int item = ord[i], v = val[ord[(i + k) % n]];
            ok = v != val[item] && (!avoid || v != avoid[item]);
        }
        if (!ok) continue;
        for (int i = 0; i < n; i++) out[ord[i]] = val[ord[(i + k) % n]];
        tl_free(ord);
        return TL_OK;
    }
    tl_free(ord);
    return tl_errorf(TL_E_RANGE, "world: no balanced wrong-value assignment for %d items", n);
}
