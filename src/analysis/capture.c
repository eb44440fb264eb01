/* capture.c: activations of statements at named hook points, reduced over
 * tokens. Each statement runs alone (no padding, as the reference), in one
 * forward call from position 0 of a fresh KV cache; a hook copies the last
 * row (or sums every row, for the mean) of each requested point.
 *
 * Parallelism: small models leave most of a core idle inside one forward (an
 * OpenMP fork per matmul costs more than the matmul), so statements are spread
 * over n_workers sessions, one per thread, with the forward's own threading off
 * (nested regions are inactive). Every statement still runs exactly the same
 * code on the same inputs, so the rows do not depend on n_workers. */
#include <omp.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/analysis.h"

const char *tl_reduce_name(tl_reduce r) { return r == TL_REDUCE_MEAN ? "mean" : "last"; }

tl_status tl_reduce_parse(const char *s, tl_reduce *out) {
    if (!strcmp(s, "last")) *out = TL_REDUCE_LAST;
    else if (!strcmp(s, "mean")) *out = TL_REDUCE_MEAN;
    else return tl_errorf(TL_E_ARG, "unknown token reduction '%s' (expected last or mean)", s);
    return TL_OK;
}

static int point_has_layer(tl_hook_point p) {
    return p == TL_HOOK_RESID_PRE || p == TL_HOOK_ATTN_OUT || p == TL_HOOK_MLP_OUT || p == TL_HOOK_RESID_POST;
}

static tl_status add_point(tl_act_point **pts, int *n, int *cap, tl_hook_point p, int layer, const tl_config *c) {
    for (int i = 0; i < *n; i++)
        if ((*pts)[i].point == p && (*pts)[i].layer == layer)
            return tl_errorf(TL_E_ARG, "hook point '%s' is listed twice", (*pts)[i].name);
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 16;
        tl_act_point *np = tl_realloc(*pts, (size_t)nc * sizeof *np);
        if (!np) return tl_errorf(TL_E_NOMEM, "hook points: out of memory");
        *pts = np;
        *cap = nc;
    }
    tl_act_point *a = &(*pts)[(*n)++];
    a->point = p;
    a->layer = layer;
    a->width = p == TL_HOOK_LOGITS ? c->vocab_size : c->dim;
    if (layer >= 0) snprintf(a->name, sizeof a->name, "%s.%d", tl_hook_name(p), layer);
    else snprintf(a->name, sizeof a->name, "%s", tl_hook_name(p));
    return TL_OK;
}

tl_status tl_act_points_parse(const char *spec, const tl_config *c, tl_act_point **out, int *n) {
    *out = NULL;
    *n = 0;
    int cap = 0;
    tl_status s = TL_OK;
    const char *p = spec;
    while (s == TL_OK) {
        while (*p == ' ') p++;
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && p[len - 1] == ' ') len--;
        char name[64];
        if (len == 0 || len >= sizeof name) {
            s = tl_errorf(TL_E_ARG, "hook point list '%s': %s entry", spec, len ? "overlong" : "empty");
            break;
        }
        memcpy(name, p, len);
        name[len] = 0;
        tl_hook_point hp;
        int layer;
        if ((s = tl_hook_parse(name, &hp, &layer))) break;
        if (point_has_layer(hp) && layer < 0) {
            for (int l = 0; l < c->n_layers && s == TL_OK; l++) s = add_point(out, n, &cap, hp, l, c);
        } else if (layer >= c->n_layers) {
            s = tl_errorf(TL_E_ARG, "hook point '%s': the model has %d layers (0 .. %d)", name, c->n_layers,
                          c->n_layers - 1);
        } else {
            s = add_point(out, n, &cap, hp, layer, c);
        }
        if (!end) break;
        p = end + 1;
    }
    if (s) {
        tl_free(*out);
        *out = NULL;
        *n = 0;
    }
    return s;
}

/* ---- the capturer ----------------------------------------------------------------- */

typedef struct {
    const struct tl_capturer *c;
    int len;            /* current statement's length */
    float *const *out;  /* output arrays of the current run */
    int row;            /* current statement's row in them */
    double *acc;        /* [sum of widths] running sums for the mean */
} worker;

struct tl_capturer {
    const tl_model *m;
    tl_act_point *pts;
    int n_pts;
    tl_reduce reduce;
    int n_workers, max_len, need_all;
    int *map;        /* [TL_HOOK__COUNT][n_layers + 1] -> point index or -1 */
    size_t *acc_off; /* [n_pts] offsets into a worker's acc */
    size_t acc_size;
    tl_session **sess;
    worker *w;
};

static int map_index(const tl_capturer *c, tl_hook_point p, int layer) {
    return c->map[(size_t)p * (c->m->cfg.n_layers + 1) + (layer + 1)];
}

static void capture_hook(void *user, tl_hook_point p, int layer, float *x, int T, int width, int pos0) {
    worker *w = user;
    const tl_capturer *c = w->c;
    int idx = map_index(c, p, layer);
    if (idx < 0) return;
    if (c->reduce == TL_REDUCE_LAST) {
        int t = w->len - 1 - pos0;
        if (t >= 0 && t < T)
            memcpy(w->out[idx] + (size_t)w->row * width, x + (size_t)t * width, (size_t)width * sizeof(float));
    } else {
        double *acc = w->acc + c->acc_off[idx];
        for (int t = 0; t < T; t++)
            for (int i = 0; i < width; i++) acc[i] += x[(size_t)t * width + i];
    }
}

void tl_capturer_free(tl_capturer *c) {
    if (!c) return;
    if (c->sess)
        for (int i = 0; i < c->n_workers; i++) tl_session_free(c->sess[i]);
    if (c->w)
        for (int i = 0; i < c->n_workers; i++) tl_free(c->w[i].acc);
    tl_free(c->sess);
    tl_free(c->w);
    tl_free(c->map);
    tl_free(c->acc_off);
    tl_free(c->pts);
    tl_free(c);
}

tl_status tl_capturer_new(const tl_model *m, const tl_act_point *pts, int n_pts, tl_reduce r, int max_len,
                          int n_workers, tl_capturer **out) {
    *out = NULL;
    const tl_config *cfg = &m->cfg;
    if (n_pts < 1) return tl_errorf(TL_E_ARG, "capture: no hook points");
    if (max_len < 1 || max_len > cfg->seq_len)
        return tl_errorf(TL_E_RANGE, "capture: statements of %d tokens (the model's context is %d)", max_len,
                         cfg->seq_len);
    if (n_workers < 1) n_workers = 1;
    tl_capturer *c = tl_calloc(1, sizeof *c);
    if (!c) return tl_errorf(TL_E_NOMEM, "capture: out of memory");
    c->m = m;
    c->n_pts = n_pts;
    c->reduce = r;
    c->n_workers = n_workers;
    c->max_len = max_len;
    size_t map_n = (size_t)TL_HOOK__COUNT * (cfg->n_layers + 1);
    tl_status s = TL_OK;
    if (!(c->pts = tl_malloc((size_t)n_pts * sizeof *c->pts)) || !(c->map = tl_malloc(map_n * sizeof *c->map)) ||
        !(c->acc_off = tl_malloc((size_t)n_pts * sizeof *c->acc_off)) ||
        !(c->sess = tl_calloc((size_t)n_workers, sizeof *c->sess)) ||
        !(c->w = tl_calloc((size_t)n_workers, sizeof *c->w))) {
        tl_capturer_free(c);
        return tl_errorf(TL_E_NOMEM, "capture: out of memory");
    }
    memcpy(c->pts, pts, (size_t)n_pts * sizeof *pts);
    for (size_t i = 0; i < map_n; i++) c->map[i] = -1;
    int used[TL_HOOK__COUNT] = {0};
    for (int i = 0; i < n_pts; i++) {
        const tl_act_point *a = &pts[i];
        if (a->layer >= cfg->n_layers || a->layer < -1 || (int)a->point < 0 || a->point >= TL_HOOK__COUNT) {
            tl_capturer_free(c);
            return tl_errorf(TL_E_ARG, "capture: hook point '%s' does not exist in this model", a->name);
        }
        c->map[(size_t)a->point * (cfg->n_layers + 1) + (a->layer + 1)] = i;
        c->acc_off[i] = c->acc_size;
        c->acc_size += (size_t)a->width;
        used[a->point] = 1;
        /* the forward computes final_norm and logits for every row only in tl_forward_all */
        if (r == TL_REDUCE_MEAN && (a->point == TL_HOOK_FINAL_NORM || a->point == TL_HOOK_LOGITS)) c->need_all = 1;
    }
    int batch = max_len < 256 ? max_len : 256;
    for (int i = 0; i < n_workers && s == TL_OK; i++) {
        c->w[i].c = c;
        if (r == TL_REDUCE_MEAN && !(c->w[i].acc = tl_malloc(c->acc_size * sizeof(double))))
            s = tl_errorf(TL_E_NOMEM, "capture: out of memory");
        if (s == TL_OK) s = tl_session_new(m, max_len, batch, &c->sess[i]);
        for (int p = 0; p < TL_HOOK__COUNT && s == TL_OK; p++)
            if (used[p]) s = tl_hooks_add(&c->sess[i]->hooks, (tl_hook_point)p, -1, capture_hook, &c->w[i]);
    }
    if (s) {
        tl_capturer_free(c);
        return s;
    }
    *out = c;
    return TL_OK;
}

/* One statement on worker wi into row i. */
static tl_status run_one(tl_capturer *c, int wi, const int32_t *seq, int len, int row, float *const *out) {
    worker *w = &c->w[wi];
    tl_session *s = c->sess[wi];
    w->len = len;
    w->out = out;
    w->row = row;
    if (c->reduce == TL_REDUCE_MEAN) memset(w->acc, 0, c->acc_size * sizeof(double));
    tl_session_reset(s);
    tl_status st = c->need_all ? tl_forward_all(s, seq, len, NULL, NULL) : tl_forward(s, seq, len, NULL);
    if (st) return st;
    if (c->reduce == TL_REDUCE_MEAN)
        for (int p = 0; p < c->n_pts; p++) {
            const double *acc = w->acc + c->acc_off[p];
            float *dst = out[p] + (size_t)row * c->pts[p].width;
            for (int i = 0; i < c->pts[p].width; i++) dst[i] = (float)(acc[i] / len);
        }
    return TL_OK;
}

tl_status tl_capturer_run(tl_capturer *c, const int32_t *const *seqs, const int *lens, int n, float *const *out) {
    int V = c->m->cfg.vocab_size;
    for (int i = 0; i < n; i++) {
        if (lens[i] < 1 || lens[i] > c->max_len)
            return tl_errorf(TL_E_RANGE, "capture: statement %d has %d tokens (1 .. %d allowed)", i, lens[i],
                             c->max_len);
        for (int t = 0; t < lens[i]; t++)
            if (seqs[i][t] < 0 || seqs[i][t] >= V)
                return tl_errorf(TL_E_ARG, "capture: statement %d: token id %d is outside the vocabulary (%d)", i,
                                 seqs[i][t], V);
    }
    int nw = c->n_workers < n ? c->n_workers : n;
    if (nw <= 1) {
        for (int i = 0; i < n; i++) {
            tl_status s = run_one(c, 0, seqs[i], lens[i], i, out);
            if (s) return s;
        }
        return TL_OK;
    }
    /* statements are checked above, so the forward cannot fail here; still, keep
     * the first failure (its message is thread-local: copy it out) */
    tl_status first = TL_OK;
    char msg[512] = "";
#pragma omp parallel for num_threads(nw) schedule(dynamic, 1)
    for (int i = 0; i < n; i++) {
        tl_status s = run_one(c, omp_get_thread_num(), seqs[i], lens[i], i, out);
        if (s) {
#pragma omp critical(tl_capture_error)
            if (first == TL_OK) {
                first = s;
                snprintf(msg, sizeof msg, "%s", tl_last_error());
            }
        }
    }
    return first ? tl_errorf(first, "%s", msg) : TL_OK;
}
