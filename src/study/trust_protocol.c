/* trust_protocol.c: which pairs fit the steering vectors and which evaluation
 * items may score them (trust_protocol.h). People are split once, so every
 * dimension's vector is fitted on pairs about the same people and every task is
 * scored on prompts about the others. */
#include "trust_protocol.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h" /* internal */

void tl_trust_people_free(tl_trust_people *p) {
    for (int i = 0; p->full && i < p->n; i++) {
        tl_free(p->full[i]);
        if (p->first) tl_free(p->first[i]);
    }
    tl_free(p->full);
    tl_free(p->first);
    memset(p, 0, sizeof *p);
}

tl_status tl_trust_people_load(const char *world_dir, tl_trust_people *p) {
    memset(p, 0, sizeof *p);
    char path[4096];
    if (snprintf(path, sizeof path, "%s/world.json", world_dir) >= (int)sizeof path)
        return tl_errorf(TL_E_ARG, "%s: path too long", world_dir);
    cJSON *j = NULL;
    tl_status s = tl_file_read_json(path, &j);
    if (s) return s;
    const cJSON *people = cJSON_GetObjectItemCaseSensitive(j, "people");
    int n = cJSON_IsArray(people) ? cJSON_GetArraySize(people) : -1;
    if (n < 0) s = tl_errorf(TL_E_FORMAT, "%s: no \"people\" array", path);
    if (!s) {
        p->full = tl_calloc((size_t)(n ? n : 1), sizeof *p->full);
        p->first = tl_calloc((size_t)(n ? n : 1), sizeof *p->first);
        if (!p->full || !p->first) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < n && !s; i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(people, i), "name");
        if (!cJSON_IsString(name) || !name->valuestring[0]) {
            s = tl_errorf(TL_E_FORMAT, "%s: people[%d] has no \"name\" string", path, i);
            break;
        }
        p->full[i] = tl_strdup(name->valuestring);
        p->first[i] = tl_strdup(name->valuestring);
        p->n = i + 1;
        if (!p->full[i] || !p->first[i]) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
        else {
            char *sp = strchr(p->first[i], ' ');
            if (sp) *sp = 0;
        }
    }
    cJSON_Delete(j);
    if (s) tl_trust_people_free(p);
    return s;
}

static void shuffle(int *a, int n, uint64_t seed) {
    tl_rng r;
    tl_rng_seed(&r, seed);
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tl_rng_below(&r, (uint64_t)i + 1);
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void tl_trust_people_split(const tl_trust_people *p, double share, uint64_t seed, unsigned char *fit) {
    int *idx = tl_malloc((size_t)(p->n ? p->n : 1) * sizeof *idx);
    memset(fit, 0, (size_t)p->n);
    if (!idx) return; /* no one fits: every pair falls back to the shuffled share */
    for (int i = 0; i < p->n; i++) idx[i] = i;
    shuffle(idx, p->n, seed);
    int k = (int)lround(share * p->n);
    for (int i = 0; i < k && i < p->n; i++) fit[idx[i]] = 1;
    tl_free(idx);
}

typedef struct {
    double strat;
    int rank, item;
} split_key;

static int split_cmp(const void *a, const void *b) {
    const split_key *x = a, *y = b;
    int nx = isnan(x->strat), ny = isnan(y->strat);
    if (nx != ny) return nx - ny; /* NaN last, a stratum of its own */
    if (!nx && x->strat != y->strat) return x->strat < y->strat ? -1 : 1;
    return x->rank - y->rank;
}

tl_status tl_trust_split_items(const double *strat, int n, uint64_t seed, unsigned char *is_test) {
    if (n <= 0) return TL_OK;
    int *order = tl_malloc((size_t)n * sizeof *order);
    split_key *k = tl_malloc((size_t)n * sizeof *k);
    if (!order || !k) {
        tl_free(order);
        tl_free(k);
        return tl_errorf(TL_E_NOMEM, "trust-dynamics: out of memory splitting %d items", n);
    }
    for (int i = 0; i < n; i++) order[i] = i;
    shuffle(order, n, seed);
    for (int r = 0; r < n; r++) k[order[r]] = (split_key){strat[order[r]], r, order[r]};
    qsort(k, (size_t)n, sizeof *k, split_cmp);
    tl_rng g;
    tl_rng_seed(&g, seed ^ 0x9e3779b97f4a7c15ULL);
    int start = (int)tl_rng_below(&g, 2);
    for (int r = 0; r < n; r++) is_test[k[r].item] = (unsigned char)((r + start) % 2);
    tl_free(order);
    tl_free(k);
    return TL_OK;
}

/* Where text names a word (not inside a longer word); -1 when nowhere. */
static long find_word(const char *text, const char *w) {
    size_t len = strlen(w);
    if (!len) return -1;
    for (const char *q = strstr(text, w); q; q = strstr(q + 1, w)) {
        int before = q > text && (isalnum((unsigned char)q[-1]) || q[-1] == '_');
        int after = isalnum((unsigned char)q[len]) || q[len] == '_';
        if (!before && !after) return q - text;
    }
    return -1;
}

static long find_person(const tl_trust_people *p, int i, const char *text) {
    long a = find_word(text, p->full[i]), b = find_word(text, p->first[i]);
    return a < 0 ? b : b < 0 ? a : (a < b ? a : b);
}

int tl_trust_first_person(const tl_trust_people *p, const char *text) {
    int best = -1;
    long at = -1;
    for (int i = 0; i < p->n; i++) {
        long q = find_person(p, i, text);
        if (q >= 0 && (best < 0 || q < at)) best = i, at = q;
    }
    return best;
}

void tl_trust_question(const char *text, char *buf, size_t cap) {
    const char *q = strncmp(text, "User: ", 6) ? text : text + 6;
    const char *e = strchr(q, '\n');
    size_t n = e ? (size_t)(e - q) : strlen(q);
    if (n >= cap) n = cap - 1;
    memcpy(buf, q, n);
    buf[n] = 0;
}

double tl_trust_fit_frac(int n_fit, int n_pairs) {
    /* tl_steer_build fits on the first floor(frac * 2 n_pairs) rows: aim at the middle of the row */
    return n_pairs > 0 ? (2.0 * n_fit + 0.5) / (2.0 * n_pairs) : 0;
}

tl_status tl_trust_order_pairs(tl_steer_data *d, const tl_trust_people *p, const unsigned char *fit, double share,
                               uint64_t seed, int *n_fit, unsigned char *mentioned) {
    int P = d->n_pairs;
    int *order = tl_malloc((size_t)(P ? P : 1) * sizeof *order), *nobody = tl_malloc((size_t)(P ? P : 1) * sizeof *nobody);
    unsigned char *is_fit = tl_calloc((size_t)(P ? P : 1), 1);
    char **text = tl_malloc((size_t)(P > 0 ? 2 * P : 1) * sizeof *text);
    int64_t *label = tl_malloc((size_t)(P > 0 ? 2 * P : 1) * sizeof *label);
    int *pos = tl_malloc((size_t)(P ? P : 1) * sizeof *pos), *neg = tl_malloc((size_t)(P ? P : 1) * sizeof *neg);
    if (!order || !nobody || !is_fit || !text || !label || !pos || !neg) {
        tl_free(order), tl_free(nobody), tl_free(is_fit), tl_free(text), tl_free(label), tl_free(pos), tl_free(neg);
        return tl_errorf(TL_E_NOMEM, "%s: out of memory ordering %d pairs", d->path, P);
    }
    int n_nobody = 0;
    for (int i = 0; i < P; i++) {
        const char *t = d->text[d->pos[i]];
        const char *end = strstr(t, "\nAssistant:");
        size_t plen = end ? (size_t)(end - t) : strlen(t);
        char *prompt = tl_malloc(plen + 1);
        int who = -1;
        if (prompt) {
            memcpy(prompt, t, plen);
            prompt[plen] = 0;
            who = tl_trust_first_person(p, prompt);
            tl_free(prompt);
        }
        if (who >= 0) is_fit[i] = fit[who];
        else nobody[n_nobody++] = i;
    }
    shuffle(nobody, n_nobody, seed ^ 0x6e6f626f6479ULL);
    int k_nobody = (int)lround(share * n_nobody);
    for (int i = 0; i < k_nobody; i++) is_fit[nobody[i]] = 1;
    for (int i = 0; i < P; i++) order[i] = i;
    shuffle(order, P, seed);
    int n = 0;
    for (int pass = 1; pass >= 0; pass--) /* fitting pairs first, then the rest */
        for (int j = 0; j < P; j++) {
            int i = order[j];
            if (is_fit[i] != pass) continue;
            text[2 * n] = d->text[d->pos[i]];
            text[2 * n + 1] = d->text[d->neg[i]];
            label[2 * n] = 1;
            label[2 * n + 1] = 0;
            pos[n] = 2 * n;
            neg[n] = 2 * n + 1;
            n++;
        }
    int nf = 0;
    for (int i = 0; i < P; i++) nf += is_fit[i];
    if (mentioned) { /* the people the fitting prompts are about (their user text) */
        memset(mentioned, 0, (size_t)p->n);
        char q[1024];
        for (int k = 0; k < nf; k++) {
            tl_trust_question(text[2 * k], q, sizeof q);
            for (int i = 0; i < p->n; i++)
                if (!mentioned[i] && find_person(p, i, q) >= 0) mentioned[i] = 1;
        }
    }
    /* rows that were in no pair (not produced by the loaders, but harmless) are dropped with their text */
    unsigned char *used = tl_calloc((size_t)(d->n ? d->n : 1), 1);
    for (int i = 0; used && i < P; i++) used[d->pos[i]] = used[d->neg[i]] = 1;
    for (int r = 0; used && r < d->n; r++)
        if (!used[r]) tl_free(d->text[r]);
    tl_free(used);
    tl_free(d->text), tl_free(d->label), tl_free(d->pos), tl_free(d->neg);
    d->text = text;
    d->label = label;
    d->pos = pos;
    d->neg = neg;
    d->n = 2 * P;
    d->full_fit = 0;
    *n_fit = nf;
    tl_free(order), tl_free(nobody), tl_free(is_fit);
    return TL_OK;
}

void tl_trust_filter_items(tl_eval_task *t, const tl_trust_people *p, const unsigned char *excluded,
                           char *const *questions, int n_q, int *n_total) {
    *n_total = t->n_items;
    int kept = 0;
    for (int i = 0; i < t->n_items; i++) {
        const char *ctx = t->items[i].context ? t->items[i].context : "";
        int drop = 0;
        for (int q = 0; q < p->n && !drop; q++) drop = excluded[q] && find_person(p, q, ctx) >= 0;
        for (int q = 0; q < n_q && !drop; q++) drop = questions[q][0] && strstr(ctx, questions[q]) != NULL;
        if (drop) continue;
        if (kept != i) { /* swap: the dropped item stays owned by the task, past n_items */
            tl_eval_item tmp = t->items[kept];
            t->items[kept] = t->items[i];
            t->items[i] = tmp;
        }
        kept++;
    }
    t->n_items = kept;
}
