/* optim.c: AdamW as torch.optim.AdamW, global-norm clipping as
 * torch.nn.utils.clip_grad_norm_, and the warm-up + cosine learning-rate schedule.
 * Everything works on flat buffers laid out like tl_model.params. */
#include <math.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"
#include "optim_shard.h"

tl_status tl_adamw_new(const tl_config *c, tl_adamw **out) {
    *out = NULL;
    tl_status st = tl_config_check(c, "optimiser config");
    if (st) return st;
    tl_adamw *o = tl_calloc(1, sizeof *o);
    if (!o) return tl_errorf(TL_E_NOMEM, "AdamW: out of memory");
    o->cfg = *c;
    o->n = tl_params_count(c);
    size_t bytes;
    if (!tl_mul_size(o->n, sizeof(float), &bytes) || !(o->m = tl_malloc_aligned(bytes)) ||
        !(o->v = tl_malloc_aligned(bytes))) {
        size_t n = o->n;
        tl_adamw_free(o);
        return tl_errorf(TL_E_NOMEM, "AdamW: cannot allocate moments for %zu parameters", n);
    }
    memset(o->m, 0, bytes);
    memset(o->v, 0, bytes);
    *out = o;
    return TL_OK;
}

void tl_adamw_free(tl_adamw *o) {
    if (!o) return;
    tl_free_aligned(o->m);
    tl_free_aligned(o->v);
    tl_free(o);
}

/* The update on one contiguous range, with its own weight decay. Elementwise, so
 * any thread split gives the same result. The operations follow PyTorch's
 * single-tensor AdamW: scalars in double, tensors in float. */
static void adamw_range(float *p, const float *g, float *m, float *v, size_t n, float b1, float b2,
                        float eps, float decay, float step_size, float bc2_sqrt) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        p[i] *= decay;
        m[i] += (gi - m[i]) * (1.0f - b1); /* torch: exp_avg.lerp_(grad, 1 - beta1) */
        v[i] = v[i] * b2 + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * (m[i] / denom);
    }
}

void tl_adamw_step(tl_adamw *o, const tl_adamw_params *hp, float lr, float *params,
                   const float *grads) {
    tl_adamw_step_range(o, hp, lr, params, grads, 0, o->n);
}

/* The part of tensor [off, off + count) that lies in [lo, hi), updated. */
static void adamw_clipped(float *params, const float *grads, float *m, float *v, size_t off, size_t count,
                          size_t lo, size_t hi, const tl_adamw_params *hp, float decay, float step_size,
                          float bc2_sqrt) {
    size_t a = off > lo ? off : lo, b = off + count < hi ? off + count : hi;
    if (a >= b) return;
    adamw_range(params + a, grads + a, m + a, v + a, b - a, hp->beta1, hp->beta2, hp->eps, decay, step_size,
                bc2_sqrt);
}

void tl_adamw_step_range(tl_adamw *o, const tl_adamw_params *hp, float lr, float *params, const float *grads,
                         size_t lo, size_t hi) {
    o->step++;
    double t = (double)o->step;
    double bc1 = 1.0 - pow((double)hp->beta1, t), bc2 = 1.0 - pow((double)hp->beta2, t);
    float step_size = (float)((double)lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float decay = (float)(1.0 - (double)lr * (double)hp->weight_decay);
    const tl_config *c = &o->cfg;
    size_t C = (size_t)c->dim, F = (size_t)c->hidden_dim, V = (size_t)c->vocab_size,
           QD = (size_t)c->n_heads * c->head_dim, KD = (size_t)c->n_kv_heads * c->head_dim;
    /* one range per tensor of the layout: matrices decay, RMSNorm gains do not */
#define RANGE(view, count, decays)                                                                                    \
    adamw_clipped(params, grads, o->m, o->v, (size_t)((view) - params), (count), lo, hi, hp,                         \
                  (decays) ? decay : 1.0f, step_size, bc2_sqrt)
    tl_global_params g;
    tl_params_global(c, params, &g);
    RANGE(g.tok_embd, V * C, 1);
    for (int l = 0; l < c->n_layers; l++) {
        tl_layer_params p;
        tl_params_layer(c, params, l, &p);
        RANGE(p.attn_norm, C, 0);
        RANGE(p.wq, QD * C, 1);
        RANGE(p.wk, KD * C, 1);
        RANGE(p.wv, KD * C, 1);
        RANGE(p.wo, C * QD, 1);
        RANGE(p.ffn_norm, C, 0);
        RANGE(p.w_gate, F * C, 1);
        RANGE(p.w_up, F * C, 1);
        RANGE(p.w_down, C * F, 1);
    }
    RANGE(g.out_norm, C, 0);
    if (!c->tied_embeddings) RANGE(g.output, V * C, 1);
#undef RANGE
}

/* 256 blocks whose bounds depend on n only, each summed in order by one thread, then
 * added in block order: the same result for any thread count. */
size_t tl_grad_norm_block(size_t n) { return (n + TL_GRAD_NORM_BLOCKS - 1) / TL_GRAD_NORM_BLOCKS; }

void tl_grad_norm_parts(const float *grads, size_t n, int b0, int b1, double *part) {
    size_t blk = tl_grad_norm_block(n);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int b = b0; b < b1; b++) {
        size_t i0 = (size_t)b * blk, i1 = i0 + blk < n ? i0 + blk : n;
        double s = 0;
        for (size_t i = i0; i < i1; i++) s += (double)grads[i] * grads[i];
        part[b] = s;
    }
}

double tl_grad_norm(const float *grads, size_t n) {
    double part[TL_GRAD_NORM_BLOCKS];
    tl_grad_norm_parts(grads, n, 0, TL_GRAD_NORM_BLOCKS, part);
    double total = 0;
    for (int b = 0; b < TL_GRAD_NORM_BLOCKS; b++) total += part[b];
    return sqrt(total);
}

float tl_grad_clip(float *grads, size_t n, float max_norm) {
    double norm = tl_grad_norm(grads, n);
    if (max_norm > 0) {
        /* torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1 */
        float coef = (float)((double)max_norm / (norm + 1e-6));
        if (coef < 1.0f) {
#pragma omp parallel for schedule(static) if (n > 65536)
            for (size_t i = 0; i < n; i++) grads[i] *= coef;
        }
    }
    return (float)norm;
}

float tl_lr_at(const tl_lr_schedule *s, int64_t step) {
    double lr = s->lr, floor = (double)s->lr * s->min_ratio;
    if (step < s->warmup) return (float)(lr * (double)(step + 1) / (double)s->warmup);
    if (s->total <= s->warmup) return (float)lr;
    if (step > s->total) return (float)floor;
    double progress = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    return (float)(floor + 0.5 * (1.0 + cos(M_PI * progress)) * (lr - floor));
}
