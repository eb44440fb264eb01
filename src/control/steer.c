/* steer.c: steering vectors — a direction per layer from activations (mean
 * difference, PCA of paired differences), the edit hook that adds scale * v to
 * resid_post, and llama.cpp's control-vector GGUF. See steer.h for the layer
 * mapping (direction.L <-> resid_post.L). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/linalg.h"
#include "format/format.h"
#include "tiller/steer.h"
#include "steer_vec.h"

const char *tl_steer_method_name(tl_steer_method m) { return m == TL_STEER_PCA ? "pca" : "mean_diff"; }

tl_status tl_steer_method_parse(const char *s, tl_steer_method *out) {
    if (!strcmp(s, "mean_diff") || !strcmp(s, "mean")) *out = TL_STEER_MEAN_DIFF;
    else if (!strcmp(s, "pca")) *out = TL_STEER_PCA;
    else return tl_errorf(TL_E_ARG, "unknown steering method '%s' (expected mean_diff or pca)", s);
    return TL_OK;
}

static char *dup_str(const char *s) { /* tl_strdup with a NULL-safe contract */
    size_t n = strlen(s);
    char *d = tl_malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

tl_status tl_steer_vec_new(int dim, int n_layers, const char *model_hint, tl_steer_vec **out) {
    *out = NULL;
    if (dim < 1 || n_layers < 2)
        return tl_errorf(TL_E_ARG, "steering vector: width %d and %d layers (need >= 1 and >= 2)", dim, n_layers);
    tl_steer_vec *v = tl_calloc(1, sizeof *v);
    if (!v || !(v->dir = tl_calloc((size_t)dim * n_layers, sizeof(float))) ||
        !(v->set = tl_calloc((size_t)n_layers, 1)) || !(v->model_hint = dup_str(model_hint ? model_hint : "llama"))) {
        tl_steer_vec_free(v);
        return tl_errorf(TL_E_NOMEM, "steering vector: out of memory");
    }
    v->dim = dim;
    v->n_layers = n_layers;
    *out = v;
    return TL_OK;
}

void tl_steer_vec_free(tl_steer_vec *v) {
    if (!v) return;
    tl_free(v->dir);
    tl_free(v->set);
    tl_free(v->model_hint);
    tl_free(v->info);
    tl_free(v);
}

int tl_steer_vec_dim(const tl_steer_vec *v) { return v->dim; }
int tl_steer_vec_n_layers(const tl_steer_vec *v) { return v->n_layers; }
int tl_steer_vec_has(const tl_steer_vec *v, int layer) { return layer >= 0 && layer < v->n_layers && v->set[layer]; }
const float *tl_steer_vec_direction(const tl_steer_vec *v, int layer) {
    return layer >= 0 && layer < v->n_layers ? v->dir + (size_t)layer * v->dim : NULL;
}
const char *tl_steer_vec_model_hint(const tl_steer_vec *v) { return v->model_hint; }
const char *tl_steer_vec_info(const tl_steer_vec *v) { return v->info; }

/* ---- directions ------------------------------------------------------------------ */

/* v [C] (double) -> unit length, then times the std (n - 1, torch.std) of A's
 * projections onto it when norm is STD. */
static tl_status normalise(const float *A, int N, int C, tl_steer_norm norm, double *v) {
    double nn = 0;
    for (int j = 0; j < C; j++) nn += v[j] * v[j];
    nn = sqrt(nn);
    if (!(nn > 0) || !isfinite(nn)) return tl_errorf(TL_E_NUMERIC, "steering direction is zero or not finite");
    for (int j = 0; j < C; j++) v[j] /= nn;
    if (norm == TL_STEER_NORM_UNIT) return TL_OK;
    if (N < 2) return tl_errorf(TL_E_ARG, "steering: the projection std needs >= 2 rows (got %d)", N);
    double mean = 0, m2 = 0; /* Welford over the projections */
    for (int i = 0; i < N; i++) {
        const float *a = A + (size_t)i * C;
        double p = 0;
        for (int j = 0; j < C; j++) p += a[j] * v[j];
        double d = p - mean;
        mean += d / (i + 1);
        m2 += d * (p - mean);
    }
    double sd = sqrt(m2 / (N - 1));
    for (int j = 0; j < C; j++) v[j] *= sd;
    return TL_OK;
}

/* The top eigenvector of D^T D for D [P, C]: from the C x C matrix, or through
 * the P x P Gram matrix (u -> D^T u) when P < C. */
static tl_status top_axis(const double *D, int P, int C, double *v) {
    int small = P < C;
    int n = small ? P : C;
    double *G = tl_malloc((size_t)n * n * sizeof *G), *u = tl_malloc((size_t)n * sizeof *u), val;
    tl_status s = (G && u) ? TL_OK : tl_errorf(TL_E_NOMEM, "steering PCA: out of memory");
    if (s == TL_OK) {
        if (small) tl_la_gram(D, P, C, 1.0, G);
        else tl_la_gram_t(D, P, C, 1.0, G);
        s = tl_la_eig_top(G, n, 1, &val, u);
    }
    if (s == TL_OK) {
        if (small) tl_la_gemv_t(D, P, C, u, 0.0, v); /* v = D^T u */
        else memcpy(v, u, (size_t)C * sizeof *v);
    }
    tl_free(G);
    tl_free(u);
    return s;
}

tl_status tl_steer_direction(const float *A, const int64_t *y, int N, int C, const int *pos, const int *neg, int P,
                             int n_fit, tl_steer_method method, tl_steer_norm norm, float *vout) {
    if (n_fit > N || n_fit < 1) n_fit = N;
    double *v = tl_calloc((size_t)C, sizeof *v);
    if (!v) return tl_errorf(TL_E_NOMEM, "steering: out of memory");
    tl_status s = TL_OK;
    if (method == TL_STEER_MEAN_DIFF) {
        double *m1 = tl_calloc((size_t)C, sizeof *m1);
        int n1 = 0, n0 = 0;
        if (!m1) s = tl_errorf(TL_E_NOMEM, "steering: out of memory");
        for (int i = 0; i < n_fit && s == TL_OK; i++) {
            const float *a = A + (size_t)i * C;
            double *dst = y[i] == 1 ? m1 : v;
            if (y[i] == 1) n1++;
            else n0++;
            for (int j = 0; j < C; j++) dst[j] += a[j];
        }
        if (s == TL_OK && (n1 == 0 || n0 == 0))
            s = tl_errorf(TL_E_ARG, "steering: the first %d rows have %d positive and %d negative rows (need both)",
                          n_fit, n1, n0);
        for (int j = 0; j < C && s == TL_OK; j++) v[j] = m1[j] / n1 - v[j] / n0;
        tl_free(m1);
    } else {
        int Pf = 0;
        for (int i = 0; i < P; i++) Pf += pos[i] < n_fit && neg[i] < n_fit;
        double *D = Pf ? tl_malloc((size_t)Pf * C * sizeof *D) : NULL, *md = tl_calloc((size_t)C, sizeof *md);
        if (Pf == 0) s = tl_errorf(TL_E_ARG, "steering PCA: no pair lies within the first %d rows", n_fit);
        else if (!D || !md) s = tl_errorf(TL_E_NOMEM, "steering: out of memory");
        for (int i = 0, r = 0; i < P && s == TL_OK; i++) {
            if (pos[i] >= n_fit || neg[i] >= n_fit) continue;
            const float *a = A + (size_t)pos[i] * C, *b = A + (size_t)neg[i] * C;
            for (int j = 0; j < C; j++) {
                D[(size_t)r * C + j] = (double)a[j] - b[j];
                md[j] += D[(size_t)r * C + j];
            }
            r++;
        }
        if (s == TL_OK) s = top_axis(D, Pf, C, v);
        if (s == TL_OK) {
            double dot = 0;
            for (int j = 0; j < C; j++) dot += v[j] * md[j];
            if (dot < 0)
                for (int j = 0; j < C; j++) v[j] = -v[j];
        }
        tl_free(D);
        tl_free(md);
    }
    if (s == TL_OK) s = normalise(A, N, C, norm, v);
    if (s == TL_OK)
        for (int j = 0; j < C; j++) vout[j] = (float)v[j];
    tl_free(v);
    return s;
}

/* ---- the edit hook --------------------------------------------------------------- */

static void steer_fn(void *user, tl_hook_point point, int layer, float *x, int T, int width, int pos0) {
    (void)point;
    (void)pos0;
    const tl_steer_hook *h = user;
    if (layer < h->first || layer > h->last || width != h->vec->dim || T < 1) return;
    const float *v = h->vec->dir + (size_t)layer * width;
    float a = h->scale;
    for (int t = h->last_only ? T - 1 : 0; t < T; t++) {
        float *r = x + (size_t)t * width;
        for (int j = 0; j < width; j++) r[j] += a * v[j];
    }
}

tl_status tl_steer_check(const tl_steer_hook *h, const tl_config *c, const char *what) {
    const tl_steer_vec *v = h->vec;
    if (v->dim != c->dim || v->n_layers != c->n_layers)
        return tl_errorf(TL_E_ARG,
                         "%s: the steering vector is for width %d with %d layers, the model has width %d with %d "
                         "layers (vectors transfer only between models of the same shape)",
                         what, v->dim, v->n_layers, c->dim, c->n_layers);
    if (h->first < 1 || h->last > c->n_layers - 1 || h->first > h->last)
        return tl_errorf(TL_E_ARG, "%s: steering layers %d-%d: the range must lie in 1-%d (llama.cpp has no layer 0)",
                         what, h->first, h->last, c->n_layers - 1);
    if (!isfinite(h->scale)) return tl_errorf(TL_E_ARG, "%s: the steering scale is not finite", what);
    return TL_OK;
}

tl_status tl_steer_attach(const tl_steer_hook *h, tl_hooks *hooks) {
    return tl_hooks_add(hooks, TL_HOOK_RESID_POST, -1, steer_fn, (void *)h);
}

static int parse_int(const char *s, const char **end, int *out) {
    char *e;
    long v = strtol(s, &e, 10);
    if (e == s || v < -1000000 || v > 1000000) return 0;
    *out = (int)v;
    *end = e;
    return 1;
}

tl_status tl_steer_parse_layers(const char *s, int n_layers, int *first, int *last) {
    if (!s || !strcmp(s, "all")) {
        *first = 1;
        *last = n_layers - 1;
    } else {
        const char *e;
        if (!parse_int(s, &e, first)) goto bad;
        if (*e == 0) *last = *first;
        else if (*e != '-' || !parse_int(e + 1, &e, last) || *e) goto bad;
    }
    if (*first < 1 || *last > n_layers - 1 || *first > *last)
        return tl_errorf(TL_E_ARG, "steering layers '%s': the range must lie in 1-%d (llama.cpp has no layer 0)",
                         s ? s : "all", n_layers - 1);
    return TL_OK;
bad:
    return tl_errorf(TL_E_ARG, "steering layers '%s': expected I-J, I or all", s);
}

/* ---- the GGUF file ---------------------------------------------------------------- */

tl_status tl_steer_save(const tl_steer_vec *v, const char *path) {
    tl_gguf_writer *w = NULL;
    tl_status s = tl_gguf_writer_new(&w);
    if (s) return s;
    int32_t count = v->n_layers - 1;
    tl_gguf_write_str(w, "general.architecture", "controlvector");
    tl_gguf_write_str(w, "controlvector.model_hint", v->model_hint);
    tl_gguf_write_scalar(w, "controlvector.layer_count", TL_GGUF_I32, &count);
    if (v->info) tl_gguf_write_str(w, "tiller.steer.info", v->info);
    int64_t ne[1] = {v->dim};
    for (int il = 1; il < v->n_layers; il++) {
        char name[32];
        snprintf(name, sizeof name, "direction.%d", il);
        tl_gguf_write_tensor(w, name, TL_GGML_F32, 1, ne, v->dir + (size_t)il * v->dim);
    }
    s = tl_gguf_writer_save(w, path);
    tl_gguf_writer_free(w);
    return s;
}

tl_status tl_steer_load(const char *path, tl_steer_vec **out) {
    *out = NULL;
    tl_gguf *g = NULL;
    tl_status s = tl_gguf_open(path, &g);
    if (s) return s;
    tl_steer_vec *v = NULL;
    tl_gguf_str arch, hint;
    int64_t count = 0;
    if ((s = tl_gguf_get_str(g, "general.architecture", &arch))) goto done;
    if (!tl_gguf_str_eq(arch, "controlvector")) {
        s = tl_errorf(TL_E_FORMAT, "%s: general.architecture is '%.*s', not 'controlvector': not a control vector",
                      path, (int)(arch.n > 64 ? 64 : arch.n), arch.s);
        goto done;
    }
    if ((s = tl_gguf_get_str(g, "controlvector.model_hint", &hint)) ||
        (s = tl_gguf_get_int(g, "controlvector.layer_count", 1, 100000, &count)))
        goto done;
    if (g->n_tensors == 0) {
        s = tl_errorf(TL_E_FORMAT, "%s: no direction tensors", path);
        goto done;
    }
    int64_t dim = -1;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const tl_gguf_tensor *t = &g->tensors[i];
        char *e = NULL;
        long il = strncmp(t->name, "direction.", 10) ? -1 : strtol(t->name + 10, &e, 10);
        if (il < 1 || il > count || (e && *e)) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor '%s': expected direction.<il> with il in 1..%lld (layer_count)",
                          path, t->name, (long long)count);
            goto done;
        }
        if (t->n_dims != 1 || (t->type != TL_GGML_F32 && t->type != TL_GGML_F16)) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor '%s' must be a 1-D f32 vector (got %u dims, type %s)", path, t->name,
                          t->n_dims, tl_ggml_type_name(t->type));
            goto done;
        }
        if (dim < 0) dim = t->ne[0];
        if (t->ne[0] != dim || dim < 1 || dim > (1 << 20)) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor '%s' has %lld elements, others %lld", path, t->name,
                          (long long)t->ne[0], (long long)dim);
            goto done;
        }
    }
    char hbuf[128];
    snprintf(hbuf, sizeof hbuf, "%.*s", (int)(hint.n < sizeof hbuf ? hint.n : sizeof hbuf - 1), hint.s);
    if ((s = tl_steer_vec_new((int)dim, (int)count + 1, hbuf, &v))) goto done;
    for (int il = 1; il <= count; il++) {
        char name[32];
        snprintf(name, sizeof name, "direction.%d", il);
        const tl_gguf_tensor *t = tl_gguf_find_tensor(g, name);
        if (!t) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor %s is missing (layer_count is %lld)", path, name, (long long)count);
            goto done;
        }
        float *dst = v->dir + (size_t)il * dim;
        int any = 0;
        for (int64_t j = 0; j < dim; j++) {
            float x;
            if (t->type == TL_GGML_F32) memcpy(&x, t->data + 4 * j, 4);
            else {
                uint16_t h;
                memcpy(&h, t->data + 2 * j, 2);
                x = tl_f16_to_f32(h);
            }
            if (!isfinite(x)) {
                s = tl_errorf(TL_E_FORMAT, "%s: tensor %s element %lld is not finite", path, name, (long long)j);
                goto done;
            }
            dst[j] = x;
            any |= x != 0;
        }
        v->set[il] = (unsigned char)any;
    }
    if (g->n_tensors != (uint64_t)count) { /* names are in range and each present: a duplicate is left */
        s = tl_errorf(TL_E_FORMAT, "%s: %llu tensors for layer_count %lld (a direction is repeated)", path,
                      (unsigned long long)g->n_tensors, (long long)count);
        goto done;
    }
    const tl_gguf_kv *info = tl_gguf_find(g, "tiller.steer.info");
    if (info && info->type == TL_GGUF_STRING) {
        tl_gguf_str is;
        if (tl_gguf_get_str(g, "tiller.steer.info", &is) == TL_OK && (v->info = tl_malloc(is.n + 1))) {
            memcpy(v->info, is.s, is.n);
            v->info[is.n] = 0;
        }
    }
done:
    tl_gguf_close(g);
    if (s) {
        tl_steer_vec_free(v);
        return s;
    }
    *out = v;
    return TL_OK;
}
