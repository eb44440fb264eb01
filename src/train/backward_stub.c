/*
 * backward_stub.c: TEMPORARY — branch `trainer` only, deleted before it is merged.
 *
 * Stands in for src/train/backward.c and src/train/optim.c (the `backward` helper's
 * branch) so that the trainer loop runs end to end before they land: the forward loss
 * is the real one (the inference forward, row by row), the gradients are zero, and the
 * "optimiser" only counts steps and applies plain SGD (a no-op for zero gradients).
 * Nothing here is meant to be correct training.
 */
#include <math.h>
#include <string.h>

#include "train.h"

struct tl_train_acts {
    tl_config cfg;
    int B, T;
    tl_session *s;
    const int32_t *targets; /* of the row being scored */
    double sum;
    int64_t count;
};

tl_status tl_train_acts_new(const tl_config *c, int B, int T, tl_train_acts **out) {
    *out = NULL;
    tl_train_acts *a = tl_calloc(1, sizeof *a);
    if (!a) return tl_errorf(TL_E_NOMEM, "acts: out of memory");
    a->cfg = *c;
    a->B = B;
    a->T = T;
    tl_model shape = {0};
    shape.cfg = *c;
    tl_status s = tl_session_new(&shape, T, T, &a->s);
    if (s) {
        tl_free(a);
        return s;
    }
    a->s->model = NULL;
    *out = a;
    return TL_OK;
}

void tl_train_acts_free(tl_train_acts *a) {
    if (!a) return;
    tl_session_free(a->s);
    tl_free(a);
}

size_t tl_train_acts_bytes(const tl_train_acts *a) { (void)a; return 0; }
const float *tl_train_acts_logits(const tl_train_acts *a) { (void)a; return NULL; }

static void score_rows(void *user, const float *logits, int T, int V, int pos0) {
    tl_train_acts *a = user;
    for (int t = 0; t < T; t++) {
        int32_t y = a->targets[pos0 + t];
        if (y < 0) continue;
        const float *l = logits + (size_t)t * V;
        float mx = l[0];
        for (int v = 1; v < V; v++) mx = l[v] > mx ? l[v] : mx;
        double z = 0;
        for (int v = 0; v < V; v++) z += exp((double)(l[v] - mx));
        a->sum += log(z) + mx - l[y];
        a->count++;
    }
}

tl_status tl_model_forward_train(const tl_model *m, tl_train_acts *a, const int32_t *tokens,
                                 const int32_t *targets, const tl_attn_spec *attn, float *loss) {
    (void)attn;
    a->s->model = m;
    a->sum = 0;
    a->count = 0;
    for (int b = 0; b < a->B; b++) {
        tl_session_reset(a->s);
        a->targets = targets + (size_t)b * a->T;
        tl_status s = tl_forward_all(a->s, tokens + (size_t)b * a->T, a->T, score_rows, a);
        if (s) return s;
    }
    *loss = a->count ? (float)(a->sum / (double)a->count) : 0.0f;
    return TL_OK;
}

void tl_model_backward(const tl_model *m, tl_train_acts *a, float *grads, float scale) {
    (void)m;
    (void)a;
    (void)grads;
    (void)scale; /* zero gradients: grads += 0 */
}

tl_status tl_adamw_new(const tl_config *c, tl_adamw **out) {
    *out = NULL;
    tl_adamw *o = tl_calloc(1, sizeof *o);
    if (!o) return tl_errorf(TL_E_NOMEM, "adamw: out of memory");
    o->cfg = *c;
    o->n = tl_params_count(c);
    o->m = tl_calloc(o->n, sizeof(float));
    o->v = tl_calloc(o->n, sizeof(float));
    if (!o->m || !o->v) {
        tl_adamw_free(o);
        return tl_errorf(TL_E_NOMEM, "adamw: out of memory");
    }
    *out = o;
    return TL_OK;
}

void tl_adamw_free(tl_adamw *o) {
    if (!o) return;
    tl_free(o->m);
    tl_free(o->v);
    tl_free(o);
}

void tl_adamw_step(tl_adamw *o, const tl_adamw_params *hp, float lr, float *params, const float *grads) {
    (void)hp;
    o->step++;
    for (size_t i = 0; i < o->n; i++) params[i] -= lr * grads[i];
}

double tl_grad_norm(const float *grads, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)grads[i] * grads[i];
    return sqrt(s);
}

float tl_grad_clip(float *grads, size_t n, float max_norm) {
    double norm = tl_grad_norm(grads, n);
    if (max_norm > 0 && norm > max_norm)
        for (size_t i = 0; i < n; i++) grads[i] *= (float)(max_norm / (norm + 1e-6));
    return (float)norm;
}

float tl_lr_at(const tl_lr_schedule *s, int64_t step) {
    if (step < s->warmup) return s->lr * (float)(step + 1) / (float)s->warmup;
    if (s->total <= s->warmup) return s->lr;
    if (step > s->total) return s->lr * s->min_ratio;
    double r = (double)(step - s->warmup) / (double)(s->total - s->warmup);
    double c = 0.5 * (1 + cos(3.14159265358979323846 * r));
    return (float)(s->lr * (s->min_ratio + (1 - s->min_ratio) * c));
}
