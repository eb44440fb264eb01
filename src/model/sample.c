/* sample.c: greedy, temperature, top-k and top-p (nucleus) sampling with a seeded RNG. */
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "model.h"

typedef struct {
    float p;
    int32_t i;
} prob_index;

static int cmp_desc(const void *a, const void *b) {
    float pa = ((const prob_index *)a)->p, pb = ((const prob_index *)b)->p;
    if (pa > pb) return -1;
    if (pa < pb) return 1;
    return ((const prob_index *)a)->i - ((const prob_index *)b)->i; /* deterministic ties */
}

tl_status tl_sampler_init(tl_sampler *s, const tl_sampler_params *p, int vocab) {
    s->p = *p;
    s->V = vocab;
    s->probs = NULL;
    s->sorted = NULL;
    tl_rng_seed(&s->rng, p->seed);
    if (!(p->temperature >= 0.0f) || !isfinite(p->temperature))
        return tl_errorf(TL_E_ARG, "temperature %g must be >= 0", (double)p->temperature);
    if (p->top_k < 0) return tl_errorf(TL_E_ARG, "top-k %d must be >= 0", p->top_k);
    if (!(p->top_p > 0.0f && p->top_p <= 1.0f))
        return tl_errorf(TL_E_ARG, "top-p %g must be in (0, 1]", (double)p->top_p);
    s->probs = tl_malloc((size_t)vocab * sizeof(float));
    s->sorted = tl_malloc((size_t)vocab * sizeof(prob_index));
    if (!s->probs || !s->sorted) {
        tl_sampler_free(s);
        return tl_errorf(TL_E_NOMEM, "sampler: out of memory");
    }
    return TL_OK;
}

void tl_sampler_free(tl_sampler *s) {
    tl_free(s->probs);
    tl_free(s->sorted);
    s->probs = NULL;
    s->sorted = NULL;
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

int32_t tl_sampler_sample(tl_sampler *s, const float *logits) {
    int V = s->V;
    if (s->p.temperature == 0.0f) return argmax(logits, V);
    for (int i = 0; i < V; i++) s->probs[i] = logits[i] / s->p.temperature;
    tl_softmax(s->probs, V);
    int use_k = s->p.top_k > 0 && s->p.top_k < V;
    int use_p = s->p.top_p < 1.0f;
    float r = tl_rng_float(&s->rng);
    if (!use_k && !use_p) {
        float cdf = 0.0f;
        for (int i = 0; i < V; i++) {
            cdf += s->probs[i];
            if (r < cdf) return i;
        }
        return V - 1;
    }
    prob_index *pi = s->sorted;
    for (int i = 0; i < V; i++) {
        pi[i].p = s->probs[i];
        pi[i].i = i;
    }
    qsort(pi, (size_t)V, sizeof *pi, cmp_desc);
    int n = use_k ? s->p.top_k : V;
    if (use_p) {
        float cum = 0.0f;
        int cut = n;
        for (int i = 0; i < n; i++) {
            cum += pi[i].p;
            if (cum >= s->p.top_p) {
                cut = i + 1;
                break;
            }
        }
        n = cut;
    }
    float total = 0.0f;
    for (int i = 0; i < n; i++) total += pi[i].p;
    float target = r * total, cdf = 0.0f;
    int32_t out = pi[n - 1].i;
    for (int i = 0; i < n; i++) {
        cdf += pi[i].p;
        if (target < cdf) {
            out = pi[i].i;
            break;
        }
    }
    return out;
}
