/* bow.c: the bag-of-words baseline that keeps the probe sets honest. A probe
 * set measures what a model learned only if the raw words do not already give
 * the label away; this module reads `statement,label` CSV and reports the test
 * accuracy of a logistic regression on binary unigram features, set up as
 * scikit-learn's defaults (CountVectorizer(binary=True): lower-cased tokens of
 * two or more word characters, vocabulary from the train split;
 * LogisticRegression(): L2, C = 1, unpenalised intercept).
 * The objective  sum_i log(1 + exp(-y_i (w.x_i + b))) + ||w||^2 / 2  is
 * strongly convex; it is minimised by accelerated gradient descent (FISTA
 * with adaptive restart) with the step 1/L, L = ||X~||^2 / 4 + 1 from a power
 * iteration on the design matrix with its column of ones. */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/world.h"

/* ---- CSV ------------------------------------------------------------------------ */

void tl_world_csv_free(tl_wcsv *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) tl_free(c->stmt[i]);
    tl_free(c->stmt);
    tl_free(c->label);
    memset(c, 0, sizeof *c);
}

/* `statement,label` (or `statement,label,entity`, the world's probe files: the entity
 * a row is about, which the bag of words ignores) through the one CSV reader
 * (base/csv.c); each row must have the header's field count and a label 0 or 1. */
tl_status tl_world_csv_parse(const char *text, size_t len, const char *name, tl_wcsv *out) {
    memset(out, 0, sizeof *out);
    tl_csv_reader r;
    tl_csv_init(&r, name, text, len);
    tl_csv_record rec;
    int got = 0, cap = 0, cols = 0;
    tl_status st = tl_csv_next(&r, &rec, &got);
    if (!st && got && rec.n_fields >= 2 && rec.n_fields <= 3 && !strcmp(rec.fields[0], "statement") &&
        !strcmp(rec.fields[1], "label") && (rec.n_fields == 2 || !strcmp(rec.fields[2], "entity")))
        cols = rec.n_fields;
    if (!st && !cols) st = tl_errorf(TL_E_FORMAT, "%s:1: expected the header 'statement,label' (or with ',entity')", name);
    while (!st && !(st = tl_csv_next(&r, &rec, &got)) && got) {
        if (rec.n_fields < 2) {
            st = tl_errorf(TL_E_FORMAT, "%s:%d: expected ',' after the statement", name, rec.line);
            break;
        }
        if (rec.n_fields != cols) {
            st = tl_errorf(TL_E_FORMAT, "%s:%d: %d fields, the header has %d", name, rec.line, rec.n_fields, cols);
            break;
        }
        const char *lab = rec.fields[1];
        if (strcmp(lab, "0") != 0 && strcmp(lab, "1") != 0) {
            st = tl_errorf(TL_E_FORMAT, "%s:%d: label '%.20s' is not 0 or 1", name, rec.line, lab);
            break;
        }
        if (out->n == cap) {
            int nc = cap ? 2 * cap : 256;
            char **s2 = tl_realloc(out->stmt, sizeof(char *) * (size_t)nc);
            if (s2) out->stmt = s2;
            int *l2 = tl_realloc(out->label, sizeof(int) * (size_t)nc);
            if (l2) out->label = l2;
            if (!s2 || !l2) {
                st = tl_errorf(TL_E_NOMEM, "%s: out of memory", name);
                break;
            }
            cap = nc;
        }
        char *stmt = tl_strdup(rec.fields[0]);
        if (!stmt) {
            st = tl_errorf(TL_E_NOMEM, "%s: out of memory", name);
            break;
        }
        out->stmt[out->n] = stmt;
        out->label[out->n] = lab[0] == '1';
        out->n++;
    }
    tl_csv_free(&r);
    if (st) tl_world_csv_free(out);
    return st;
}

/* ---- features ------------------------------------------------------------------- */

/* Open-addressing table of token -> feature id, filled from the train split. */
typedef struct {
    char **key;
    int *id;
    size_t cap;
    int n;
} vocab;

static uint64_t hash_str(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* id of the token, adding it when add is set; -1 when absent (or out of memory with *oom set). */
static int vocab_get(vocab *v, const char *s, size_t n, int add, int *oom) {
    if ((size_t)v->n * 2 + 2 > v->cap) {
        if (!add) goto lookup;
        size_t cap = v->cap ? v->cap * 2 : 1024;
        char **k = tl_calloc(cap, sizeof *k);
        int *id = tl_calloc(cap, sizeof *id);
        if (!k || !id) {
            tl_free(k);
            tl_free(id);
            *oom = 1;
            return -1;
        }
        for (size_t i = 0; i < v->cap; i++) {
            if (!v->key[i]) continue;
            size_t j = hash_str(v->key[i], strlen(v->key[i])) & (cap - 1);
            while (k[j]) j = (j + 1) & (cap - 1);
            k[j] = v->key[i];
            id[j] = v->id[i];
        }
        tl_free(v->key);
        tl_free(v->id);
        v->key = k;
        v->id = id;
        v->cap = cap;
    }
lookup:
    if (!v->cap) return -1;
    size_t j = hash_str(s, n) & (v->cap - 1);
    while (v->key[j]) {
        if (strlen(v->key[j]) == n && !memcmp(v->key[j], s, n)) return v->id[j];
        j = (j + 1) & (v->cap - 1);
    }
    if (!add) return -1;
    char *k = tl_malloc(n + 1);
    if (!k) {
        *oom = 1;
        return -1;
    }
    memcpy(k, s, n);
    k[n] = 0;
    v->key[j] = k;
    v->id[j] = v->n;
    return v->n++;
}

static void vocab_free(vocab *v) {
    for (size_t i = 0; i < v->cap; i++) tl_free(v->key[i]);
    tl_free(v->key);
    tl_free(v->id);
}

/* Sparse binary rows: feats[rowptr[i] .. rowptr[i+1]) are the distinct feature ids of row i. */
typedef struct {
    int *rowptr, *feats;
    int n, nnz, cap;
} design;

static int is_word(int c) { return isalnum(c) || c == '_'; }

/* Add feature `key` (n bytes) to the row that starts at row0, once. 1 when out of memory. */
static int add_feature(design *d, vocab *v, int add, int row0, const char *key, size_t n) {
    int oom = 0, id = vocab_get(v, key, n, add, &oom);
    if (id < 0) return oom;
    for (int k = row0; k < d->nnz; k++)
        if (d->feats[k] == id) return 0;
    if (d->nnz == d->cap) {
        int cap = d->cap ? 2 * d->cap : 4096;
        int *f = tl_realloc(d->feats, sizeof(int) * (size_t)cap);
        if (!f) return 1;
        d->feats = f;
        d->cap = cap;
    }
    d->feats[d->nnz++] = id;
    return 0;
}

enum { MAX_TOKS = 128, TOK_LEN = 64 };

/* Binary features of each statement: its tokens (lower-cased runs of two or
 * more word characters); with TL_BOW_BIGRAMS also adjacent token pairs, with
 * TL_BOW_PAIRS every unordered pair of its distinct tokens (a conjunction). */
static int featurise(const tl_wcsv *c, vocab *v, int add, tl_bow_features mode, design *d) {
    int oom = 0;
    d->n = c->n;
    d->rowptr = tl_malloc(sizeof(int) * (size_t)(c->n + 1));
    if (!d->rowptr) return 1;
    d->rowptr[0] = 0;
    char toks[MAX_TOKS][TOK_LEN], key[2 * TOK_LEN + 2];
    for (int i = 0; i < c->n && !oom; i++) {
        const char *s = c->stmt[i];
        int row0 = d->nnz, nt = 0;
        for (size_t a = 0; s[a] && !oom;) {
            if (!is_word((unsigned char)s[a])) {
                a++;
                continue;
            }
            size_t b = a;
            while (is_word((unsigned char)s[b])) b++;
            size_t n = b - a < TOK_LEN ? b - a : TOK_LEN - 1;
            char *tok = toks[nt < MAX_TOKS ? nt : MAX_TOKS - 1];
            for (size_t k = 0; k < n; k++) tok[k] = (char)tolower((unsigned char)s[a + k]);
            tok[n] = 0;
            a = b;
            if (n < 2) continue;
            oom = add_feature(d, v, add, row0, tok, n);
            if (nt < MAX_TOKS) nt++;
        }
        for (int a = 0; a + 1 < nt && (mode & TL_BOW_BIGRAMS) && !oom; a++) {
            int n = snprintf(key, sizeof key, "%.63s %.63s", toks[a], toks[a + 1]);
            oom = add_feature(d, v, add, row0, key, (size_t)n);
        }
        for (int a = 0; a < nt && (mode & TL_BOW_PAIRS) && !oom; a++)
            for (int b = a + 1; b < nt && !oom; b++) {
                int o = strcmp(toks[a], toks[b]);
                if (!o) continue;
                int n = snprintf(key, sizeof key, "%.63s|%.63s", o < 0 ? toks[a] : toks[b], o < 0 ? toks[b] : toks[a]);
                oom = add_feature(d, v, add, row0, key, (size_t)n);
            }
        d->rowptr[i + 1] = d->nnz;
    }
    return oom;
}

static void design_free(design *d) {
    tl_free(d->rowptr);
    tl_free(d->feats);
}

/* z = X w + b for every row */
static void margins(const design *d, const double *w, double b, double *z) {
    for (int i = 0; i < d->n; i++) {
        double s = b;
        for (int k = d->rowptr[i]; k < d->rowptr[i + 1]; k++) s += w[d->feats[k]];
        z[i] = s;
    }
}

/* Gradient (gw[nf], gb) of the objective at (w, b); y in {-1, +1}. */
static void gradient(const design *d, const double *y, const double *w, double b, int nf, double *z, double *gw,
                     double *gb) {
    margins(d, w, b, z);
    double g0 = 0;
    memcpy(gw, w, sizeof(double) * (size_t)nf); /* the L2 term */
    for (int i = 0; i < d->n; i++) {
        double s = -y[i] / (1 + exp(y[i] * z[i])); /* d loss / d z */
        g0 += s;
        for (int k = d->rowptr[i]; k < d->rowptr[i + 1]; k++) gw[d->feats[k]] += s;
    }
    *gb = g0;
}

tl_status tl_world_bow_accuracy(const tl_wcsv *train, const tl_wcsv *test, double *acc) {
    return tl_world_bow_accuracy_with(train, test, TL_BOW_UNIGRAMS, acc);
}

tl_status tl_world_bow_accuracy_with(const tl_wcsv *train, const tl_wcsv *test, tl_bow_features mode, double *acc) {
    *acc = 0;
    if (train->n < 2 || test->n < 1)
        return tl_errorf(TL_E_ARG, "bag-of-words: need >= 2 train and >= 1 test rows (got %d, %d)", train->n,
                         test->n);
    vocab v = {0};
    design dtr = {0}, dte = {0};
    tl_status st = TL_OK;
    double *buf = NULL;
    if (featurise(train, &v, 1, mode, &dtr) || featurise(test, &v, 0, mode, &dte)) {
        st = tl_errorf(TL_E_NOMEM, "bag-of-words: out of memory");
        goto done;
    }
    int nf = v.n, n = train->n, nz = n > test->n ? n : test->n;
    /* w, w_prev, u (extrapolated point), gradient, y, z, power-iteration vectors */
    size_t total = (size_t)nf * 4 + (size_t)n + (size_t)nz + (size_t)n + (size_t)nf;
    buf = tl_calloc(total + 8, sizeof(double));
    if (!buf) {
        st = tl_errorf(TL_E_NOMEM, "bag-of-words: out of memory");
        goto done;
    }
    double *w = buf, *wp = w + nf, *u = wp + nf, *gw = u + nf, *y = gw + nf, *z = y + n, *pv = z + nz, *qv = pv + n;
    for (int i = 0; i < n; i++) y[i] = train->label[i] ? 1 : -1;
    /* largest eigenvalue of [X 1]^T [X 1] by power iteration on the feature side */
    double lam = 1, vb = 1;
    for (int j = 0; j < nf; j++) qv[j] = 1;
    for (int it = 0; it < 50; it++) {
        margins(&dtr, qv, vb, pv); /* p = [X 1] q */
        memset(qv, 0, sizeof(double) * (size_t)nf);
        vb = 0;
        for (int i = 0; i < n; i++) {
            vb += pv[i];
            for (int k = dtr.rowptr[i]; k < dtr.rowptr[i + 1]; k++) qv[dtr.feats[k]] += pv[i];
        }
        double nrm = vb * vb;
        for (int j = 0; j < nf; j++) nrm += qv[j] * qv[j];
        nrm = sqrt(nrm);
        if (nrm <= 0) break;
        lam = nrm;
        for (int j = 0; j < nf; j++) qv[j] /= nrm;
        vb /= nrm;
    }
    double step = 1.0 / (0.25 * lam * 1.05 + 1.0); /* 5 % margin over the power estimate */
    double b = 0, bp = 0, ub = 0, gb = 0, t = 1;
    for (int it = 0; it < 5000; it++) {
        gradient(&dtr, y, u, ub, nf, z, gw, &gb);
        double gn = gb * gb;
        for (int j = 0; j < nf; j++) gn += gw[j] * gw[j];
        if (gn < 1e-18) break;
        memcpy(wp, w, sizeof(double) * (size_t)nf);
        bp = b;
        for (int j = 0; j < nf; j++) w[j] = u[j] - step * gw[j];
        b = ub - step * gb;
        /* gradient restart (O'Donoghue & Candes 2015): drop the momentum when
         * the step goes against the gradient at the extrapolated point */
        double dir = gb * (b - bp);
        for (int j = 0; j < nf; j++) dir += gw[j] * (w[j] - wp[j]);
        double tn = 0.5 * (1 + sqrt(1 + 4 * t * t)), mom = (t - 1) / tn;
        if (dir > 0) {
            tn = 1;
            mom = 0;
        }
        t = tn;
        for (int j = 0; j < nf; j++) u[j] = w[j] + mom * (w[j] - wp[j]);
        ub = b + mom * (b - bp);
    }
    margins(&dte, w, b, z);
    int ok = 0;
    for (int i = 0; i < test->n; i++) ok += (z[i] > 0) == (test->label[i] == 1);
    *acc = (double)ok / test->n;
done:
    tl_free(buf);
    design_free(&dtr);
    design_free(&dte);
    vocab_free(&v);
    return st;
}

tl_status tl_world_bow_check_files(const char *train_csv, const char *test_csv, double *acc) {
    *acc = 0;
    char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    tl_wcsv tr = {0}, te = {0};
    tl_status st = tl_file_read_all(train_csv, &a, &na);
    if (!st) st = tl_file_read_all(test_csv, &b, &nb);
    if (!st) st = tl_world_csv_parse(a, na, train_csv, &tr);
    if (!st) st = tl_world_csv_parse(b, nb, test_csv, &te);
    if (!st) st = tl_world_bow_accuracy(&tr, &te, acc);
    tl_world_csv_free(&tr);
    tl_world_csv_free(&te);
    tl_free(a);
    tl_free(b);
    return st;
}
