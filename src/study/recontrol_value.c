/* recontrol_value.c: the RE-Control value network V(h) = w3 . relu(W2 relu(W1 h + b1) + b2) + b3,
 * its backward (parameters and input), the Bellman-consistency loss, Adam, GGUF files and the
 * fitting loop. Matmuls go through the engine's kernels (y = x W^T + b). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "format/format.h"
#include "kernels/kernels.h"
#include "model/model.h" /* internal */
#include "tiller/recontrol.h"

size_t tl_value_param_count(int d, int h) {
    return (size_t)h * d + h + (size_t)h * h + h + h + 1;
}

static void value_views(tl_value_net *v) {
    float *p = v->params;
    v->w1 = p, p += (size_t)v->h * v->d;
    v->b1 = p, p += v->h;
    v->w2 = p, p += (size_t)v->h * v->h;
    v->b2 = p, p += v->h;
    v->w3 = p, p += v->h;
    v->b3 = p;
}

static tl_status value_alloc(int d, int h, tl_value_net **out) {
    *out = NULL;
    if (d < 1 || d > (1 << 16) || h < 1 || h > (1 << 15))
        return tl_errorf(TL_E_ARG, "value network: input size %d / hidden size %d out of range (1..65536 / 1..32768)",
                         d, h);
    tl_value_net *v = tl_calloc(1, sizeof *v);
    if (!v) return tl_errorf(TL_E_NOMEM, "value network: out of memory");
    v->d = d, v->h = h;
    v->n_params = tl_value_param_count(d, h);
    v->params = tl_calloc(v->n_params, sizeof(float));
    if (!v->params) {
        tl_free(v);
        return tl_errorf(TL_E_NOMEM, "value network: out of memory for %zu parameters", v->n_params);
    }
    value_views(v);
    *out = v;
    return TL_OK;
}

static void uniform_fill(float *x, size_t n, float bound, tl_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = (2.0f * tl_rng_float(r) - 1.0f) * bound;
}

tl_status tl_value_new(int d, int h, uint64_t seed, tl_value_net **out) {
    tl_status s = value_alloc(d, h, out);
    if (s) return s;
    tl_value_net *v = *out;
    tl_rng r;
    tl_rng_seed(&r, seed);
    /* torch nn.Linear: kaiming_uniform(a=sqrt(5)) for weights = U(+-1/sqrt(fan_in)), same bound for bias */
    float k1 = 1.0f / sqrtf((float)d), k2 = 1.0f / sqrtf((float)h);
    uniform_fill(v->w1, (size_t)h * d, k1, &r);
    uniform_fill(v->b1, (size_t)h, k1, &r);
    uniform_fill(v->w2, (size_t)h * h, k2, &r);
    uniform_fill(v->b2, (size_t)h, k2, &r);
    uniform_fill(v->w3, (size_t)h, k2, &r);
    uniform_fill(v->b3, 1, k2, &r);
    return TL_OK;
}

void tl_value_free(tl_value_net *v) {
    if (!v) return;
    tl_free(v->params);
    tl_free(v);
}

tl_status tl_value_ws_new(const tl_value_net *v, int cap, tl_value_ws *ws) {
    memset(ws, 0, sizeof *ws);
    if (cap < 1) cap = 1;
    size_t n = (size_t)cap * v->h;
    ws->cap = cap;
    ws->z1 = tl_malloc(n * sizeof(float));
    ws->z2 = tl_malloc(n * sizeof(float));
    ws->a1 = tl_malloc(n * sizeof(float));
    ws->a2 = tl_malloc(n * sizeof(float));
    ws->g1 = tl_malloc(n * sizeof(float));
    ws->g2 = tl_malloc(n * sizeof(float));
    ws->out = tl_malloc((size_t)cap * sizeof(float));
    if (!ws->z1 || !ws->z2 || !ws->a1 || !ws->a2 || !ws->g1 || !ws->g2 || !ws->out) {
        tl_value_ws_free(ws);
        return tl_errorf(TL_E_NOMEM, "value network: out of memory for %d states", cap);
    }
    return TL_OK;
}

void tl_value_ws_free(tl_value_ws *ws) {
    tl_free(ws->z1), tl_free(ws->z2), tl_free(ws->a1), tl_free(ws->a2);
    tl_free(ws->g1), tl_free(ws->g2), tl_free(ws->out);
    memset(ws, 0, sizeof *ws);
}

static void relu(float *a, const float *z, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = z[i] > 0.0f ? z[i] : 0.0f;
}

void tl_value_forward(const tl_value_net *v, tl_value_ws *ws, const float *x, int N, float *out) {
    int d = v->d, h = v->h;
    tl_matmul_forward(ws->z1, x, v->w1, v->b1, N, d, h); /* z1[N, h] */
    relu(ws->a1, ws->z1, (size_t)N * h);
    tl_matmul_forward(ws->z2, ws->a1, v->w2, v->b2, N, h, h); /* z2[N, h] */
    relu(ws->a2, ws->z2, (size_t)N * h);
    tl_matmul_forward(out, ws->a2, v->w3, v->b3, N, h, 1); /* out[N] */
}

void tl_value_backward(const tl_value_net *v, tl_value_ws *ws, const float *x, const float *dout, int N,
                       float *grads, float *dx) {
    int d = v->d, h = v->h;
    size_t o_w1 = 0, o_b1 = o_w1 + (size_t)h * d, o_w2 = o_b1 + h, o_b2 = o_w2 + (size_t)h * h, o_w3 = o_b2 + h,
           o_b3 = o_w3 + h;
    /* layer 3: dz2 = dout * w3 masked by relu'(z2) */
    memset(ws->g2, 0, (size_t)N * h * sizeof(float));
    tl_matmul_backward(ws->g2, grads ? grads + o_w3 : NULL, grads ? grads + o_b3 : NULL, dout, ws->a2, v->w3, N, h, 1);
    for (size_t i = 0; i < (size_t)N * h; i++)
        if (!(ws->z2[i] > 0.0f)) ws->g2[i] = 0.0f;
    /* layer 2: da1 = dz2 W2, masked by relu'(z1) */
    memset(ws->g1, 0, (size_t)N * h * sizeof(float));
    tl_matmul_backward(ws->g1, grads ? grads + o_w2 : NULL, grads ? grads + o_b2 : NULL, ws->g2, ws->a1, v->w2, N, h,
                       h);
    for (size_t i = 0; i < (size_t)N * h; i++)
        if (!(ws->z1[i] > 0.0f)) ws->g1[i] = 0.0f;
    /* layer 1 */
    if (grads || dx)
        tl_matmul_backward(dx, grads ? grads + o_w1 : NULL, grads ? grads + o_b1 : NULL, ws->g1, x, v->w1, N, d, h);
}

double tl_value_bellman(const tl_value_net *v, tl_value_ws *ws, const float *x, const int *off, const float *reward,
                        int B, int detach_next, float *grads) {
    int N = off[B] - off[0];
    const float *xb = x + (size_t)off[0] * v->d;
    tl_value_forward(v, ws, xb, N, ws->out);
    /* dL/dV gets its own array: backward overwrites every ws buffer but ws->out (training only, not per token) */
    float *dv = tl_malloc((size_t)(N > 0 ? N : 1) * sizeof(float));
    if (!dv) return NAN;
    memset(dv, 0, (size_t)N * sizeof(float));
    double loss = 0.0, inv_b = 1.0 / B;
    for (int b = 0; b < B; b++) {
        int s0 = off[b] - off[0], s1 = off[b + 1] - off[0];
        if (s1 <= s0) continue; /* a sequence without states contributes nothing */
        for (int t = s0; t + 1 < s1; t++) {
            double diff = (double)ws->out[t] - ws->out[t + 1];
            loss += diff * diff;
            dv[t] += (float)(2.0 * diff * inv_b);
            if (!detach_next) dv[t + 1] -= (float)(2.0 * diff * inv_b);
        }
        double diff = (double)ws->out[s1 - 1] - reward[b];
        loss += diff * diff;
        dv[s1 - 1] += (float)(2.0 * diff * inv_b);
    }
    if (grads && N > 0) tl_value_backward(v, ws, xb, dv, N, grads, NULL);
    tl_free(dv);
    return loss * inv_b;
}

float tl_value_grad_input(const tl_value_net *v, tl_value_ws *ws, const float *x, float *dx) {
    float val, one = 1.0f;
    tl_value_forward(v, ws, x, 1, &val);
    memset(dx, 0, (size_t)v->d * sizeof(float));
    tl_value_backward(v, ws, x, &one, 1, NULL, dx);
    return val;
}

/* ---- Adam ---------------------------------------------------------------- */

tl_status tl_value_adam_new(size_t n, tl_value_adam *a) {
    memset(a, 0, sizeof *a);
    a->m = tl_calloc(n, sizeof(float));
    a->v = tl_calloc(n, sizeof(float));
    a->n = n;
    if (!a->m || !a->v) {
        tl_value_adam_free(a);
        return tl_errorf(TL_E_NOMEM, "Adam: out of memory for %zu moments", n);
    }
    return TL_OK;
}

void tl_value_adam_free(tl_value_adam *a) {
    tl_free(a->m), tl_free(a->v);
    memset(a, 0, sizeof *a);
}

void tl_value_adam_step(tl_value_adam *a, float *params, const float *grads, float lr) {
    /* torch.optim.Adam defaults: betas (0.9, 0.999), eps 1e-8 added after the square root */
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    a->step++;
    double bc1 = 1.0 - pow(b1, (double)a->step), bc2 = 1.0 - pow(b2, (double)a->step);
    double step_size = lr / bc1, sq_bc2 = sqrt(bc2);
    for (size_t i = 0; i < a->n; i++) {
        float g = grads[i];
        a->m[i] = (float)(b1 * a->m[i] + (1.0 - b1) * g);
        a->v[i] = (float)(b2 * a->v[i] + (1.0 - b2) * (double)g * g);
        double denom = sqrt((double)a->v[i]) / sq_bc2 + eps;
        params[i] -= (float)(step_size * a->m[i] / denom);
    }
}

/* ---- GGUF ------------------------------------------------------------------ */

static const char *const tensor_names[6] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight",
                                            "fc3.bias"};

static void tensor_shape(const tl_value_net *v, int i, int *n_dims, int64_t ne[2]) {
    /* ne[0] innermost (columns) */
    switch (i) {
    case 0: *n_dims = 2, ne[0] = v->d, ne[1] = v->h; break;
    case 2: *n_dims = 2, ne[0] = v->h, ne[1] = v->h; break;
    case 4: *n_dims = 2, ne[0] = v->h, ne[1] = 1; break;
    case 5: *n_dims = 1, ne[0] = 1, ne[1] = 1; break;
    default: *n_dims = 1, ne[0] = v->h, ne[1] = 1; break;
    }
}

static float *tensor_data(const tl_value_net *v, int i) {
    float *p[6] = {v->w1, v->b1, v->w2, v->b2, v->w3, v->b3};
    return p[i];
}

tl_status tl_value_save(const tl_value_net *v, const char *path) { return tl_value_save_with_direction(v, NULL, path); }

tl_status tl_value_save_with_direction(const tl_value_net *v, const float *dir, const char *path) {
    tl_gguf_writer *w = NULL;
    tl_status s = tl_gguf_writer_new(&w);
    if (s) return s;
    tl_gguf_write_str(w, "general.architecture", "recontrol_value");
    tl_gguf_write_u32(w, "recontrol.input_dim", (uint32_t)v->d);
    tl_gguf_write_u32(w, "recontrol.hidden_dim", (uint32_t)v->h);
    for (int i = 0; i < 6; i++) {
        int nd;
        int64_t ne[2];
        tensor_shape(v, i, &nd, ne);
        tl_gguf_write_tensor(w, tensor_names[i], TL_GGML_F32, nd, ne, tensor_data(v, i));
    }
    int64_t ne_dir[1] = {v->d};
    if (dir) tl_gguf_write_tensor(w, "static_re.direction", TL_GGML_F32, 1, ne_dir, dir);
    s = tl_gguf_writer_save(w, path);
    tl_gguf_writer_free(w);
    return s;
}

tl_status tl_value_load(const char *path, tl_value_net **out) {
    *out = NULL;
    tl_gguf *g = NULL;
    tl_status s = tl_gguf_open(path, &g);
    if (s) return s;
    tl_value_net *v = NULL;
    tl_gguf_str arch;
    int64_t d = 0, h = 0;
    if ((s = tl_gguf_get_str(g, "general.architecture", &arch))) goto done;
    if (!tl_gguf_str_eq(arch, "recontrol_value")) {
        s = tl_errorf(TL_E_FORMAT, "%s: general.architecture is '%.*s', not 'recontrol_value': not a value network",
                      path, (int)(arch.n > 64 ? 64 : arch.n), arch.s);
        goto done;
    }
    if ((s = tl_gguf_get_int(g, "recontrol.input_dim", 1, 1 << 16, &d)) ||
        (s = tl_gguf_get_int(g, "recontrol.hidden_dim", 1, 1 << 15, &h)))
        goto done;
    if ((s = value_alloc((int)d, (int)h, &v))) goto done;
    for (int i = 0; i < 6; i++) {
        const tl_gguf_tensor *t = tl_gguf_find_tensor(g, tensor_names[i]);
        int nd;
        int64_t ne[2];
        tensor_shape(v, i, &nd, ne);
        if (!t) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor %s is missing", path, tensor_names[i]);
            goto done;
        }
        if (t->type != TL_GGML_F32 || t->ne[0] != ne[0] || (nd == 2 && (t->n_dims != 2 || t->ne[1] != ne[1])) ||
            t->n_elements != (uint64_t)(ne[0] * (nd == 2 ? ne[1] : 1))) {
            s = tl_errorf(TL_E_FORMAT, "%s: tensor %s must be F32 [%lld, %lld] for input %lld / hidden %lld", path,
                          tensor_names[i], (long long)ne[1], (long long)ne[0], (long long)d, (long long)h);
            goto done;
        }
        float *dst = tensor_data(v, i);
        memcpy(dst, t->data, (size_t)t->n_elements * sizeof(float));
        for (uint64_t j = 0; j < t->n_elements; j++)
            if (!isfinite(dst[j])) {
                s = tl_errorf(TL_E_FORMAT, "%s: tensor %s holds a non-finite value at %llu", path, tensor_names[i],
                              (unsigned long long)j);
                goto done;
            }
    }
    *out = v;
    v = NULL;
done:
    tl_value_free(v);
    tl_gguf_close(g);
    return s;
}

/* ---- fitting ---------------------------------------------------------------- */

void tl_value_fit_opts_default(tl_value_fit_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 100, o->batch = 512, o->lr = 1e-3f, o->val_share = 0.2, o->seed = 1;
}

/* Gather sequences idx[0..n-1] into contiguous rows (xs, offs, rs). */
static void gather(const float *x, const int *off, const float *reward, const int *idx, int n, int d, float *xs,
                   int *offs, float *rs) {
    offs[0] = 0;
    for (int i = 0; i < n; i++) {
        int q = idx[i], len = off[q + 1] - off[q];
        memcpy(xs + (size_t)offs[i] * d, x + (size_t)off[q] * d, (size_t)len * d * sizeof(float));
        offs[i + 1] = offs[i] + len;
        rs[i] = reward[q];
    }
}

tl_status tl_value_fit(tl_value_net *v, const float *x, const int *off, const float *reward, int n_seq,
                       const tl_value_fit_opts *o, tl_value_fit_result *res) {
    memset(res, 0, sizeof *res);
    if (n_seq < 2) return tl_errorf(TL_E_ARG, "value fit: need at least 2 sequences (got %d)", n_seq);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || !(o->val_share >= 0 && o->val_share <= 0.9))
        return tl_errorf(TL_E_ARG, "value fit: epochs %d, batch %d, lr %g, val_share %g out of range", o->epochs,
                         o->batch, (double)o->lr, o->val_share);
    for (int b = 0; b < n_seq; b++)
        if (!isfinite(reward[b])) return tl_errorf(TL_E_ARG, "value fit: reward of sequence %d is not finite", b);
    int n_val = (int)(o->val_share * n_seq), n_tr = n_seq - n_val;
    if (n_tr < 1) n_tr = 1, n_val = n_seq - 1;
    int *perm = tl_malloc((size_t)n_seq * sizeof(int)), *offs = tl_malloc((size_t)(n_seq + 1) * sizeof(int));
    float *rs = tl_malloc((size_t)n_seq * sizeof(float));
    int max_rows = 0, total = off[n_seq] - off[0];
    float *xs = tl_malloc((size_t)(total > 0 ? total : 1) * v->d * sizeof(float));
    float *grads = tl_malloc(v->n_params * sizeof(float)), *best = tl_malloc(v->n_params * sizeof(float));
    tl_value_adam adam = {0};
    tl_value_ws ws = {0};
    tl_status s = TL_OK;
    if (!perm || !offs || !rs || !xs || !grads || !best) {
        s = tl_errorf(TL_E_NOMEM, "value fit: out of memory");
        goto done;
    }
    tl_rng r;
    tl_rng_seed(&r, o->seed);
    for (int i = 0; i < n_seq; i++) perm[i] = i;
    for (int i = n_seq - 1; i > 0; i--) { /* the split: a fixed shuffle; validation = the last n_val */
        int j = (int)tl_rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    /* the largest batch in rows bounds the workspace */
    for (int i = 0; i < n_seq; i++) {
        int len = off[i + 1] - off[i];
        max_rows = max_rows > len ? max_rows : len;
    }
    {
        long cap = (long)max_rows * (o->batch < n_seq ? o->batch : n_seq);
        if (cap > total) cap = total;
        if ((s = tl_value_ws_new(v, (int)(cap > 0 ? cap : 1), &ws)) || (s = tl_value_adam_new(v->n_params, &adam)))
            goto done;
    }
    double best_val = INFINITY;
    for (int ep = 1; ep <= o->epochs; ep++) {
        for (int i = n_tr - 1; i > 0; i--) { /* reshuffle the training part each epoch */
            int j = (int)tl_rng_below(&r, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j], perm[j] = t;
        }
        double tr = 0;
        int nb = 0;
        for (int b0 = 0; b0 < n_tr; b0 += o->batch) {
            int nbat = n_tr - b0 < o->batch ? n_tr - b0 : o->batch;
            gather(x, off, reward, perm + b0, nbat, v->d, xs, offs, rs);
            memset(grads, 0, v->n_params * sizeof(float));
            double l = tl_value_bellman(v, &ws, xs, offs, rs, nbat, o->detach_next, grads);
            if (!isfinite(l)) {
                s = tl_errorf(TL_E_NUMERIC, "value fit: loss is not finite at epoch %d (lr %g too large?)", ep,
                              (double)o->lr);
                goto done;
            }
            tl_value_adam_step(&adam, v->params, grads, o->lr);
            tr += l, nb++;
        }
        tr /= nb;
        double val = 0;
        int nvb = 0;
        for (int b0 = n_tr; b0 < n_seq; b0 += o->batch) {
            int nbat = n_seq - b0 < o->batch ? n_seq - b0 : o->batch;
            gather(x, off, reward, perm + b0, nbat, v->d, xs, offs, rs);
            val += tl_value_bellman(v, &ws, xs, offs, rs, nbat, 1, NULL), nvb++;
        }
        val = nvb ? val / nvb : tr;
        if (o->progress) o->progress(o->user, ep, tr, val);
        if (val < best_val) {
            best_val = val;
            memcpy(best, v->params, v->n_params * sizeof(float));
            res->best_epoch = ep, res->train_loss = tr, res->val_loss = val;
        }
    }
    memcpy(v->params, best, v->n_params * sizeof(float));
done:
    tl_value_adam_free(&adam);
    tl_value_ws_free(&ws);
    tl_free(perm), tl_free(offs), tl_free(rs), tl_free(xs), tl_free(grads), tl_free(best);
    return s;
}
