/* Sampling: greedy is argmax; the same seed gives the same draws; top-k never leaves
 * the k best; top-p keeps the smallest nucleus; temperature sharpens; empirical
 * frequencies follow softmax(logits / T). Bad parameters are rejected. */
#include <string.h>

#include "model/model.h"
#include "testlib.h"

int main(void) {
    enum { V = 6 };
    float logits[V] = {1.0f, 3.0f, 0.5f, 2.0f, -1.0f, 2.9f};
    tl_sampler s;
    tl_sampler_params p = {0.0f, 0, 1.0f, 42};
    CHECK_OK(tl_sampler_init(&s, &p, V));
    CHECK(tl_sampler_sample(&s, logits) == 1, "greedy picks the argmax");
    tl_sampler_free(&s);

    /* determinism */
    p.temperature = 1.0f;
    int a[200], b[200];
    CHECK_OK(tl_sampler_init(&s, &p, V));
    for (int i = 0; i < 200; i++) a[i] = tl_sampler_sample(&s, logits);
    tl_sampler_free(&s);
    CHECK_OK(tl_sampler_init(&s, &p, V));
    for (int i = 0; i < 200; i++) b[i] = tl_sampler_sample(&s, logits);
    tl_sampler_free(&s);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed, different draws");

    /* frequencies follow softmax at T = 1 */
    int counts[V] = {0}, n = 200000;
    CHECK_OK(tl_sampler_init(&s, &p, V));
    for (int i = 0; i < n; i++) counts[tl_sampler_sample(&s, logits)]++;
    tl_sampler_free(&s);
    double z = 0, prob[V];
    for (int i = 0; i < V; i++) z += exp(logits[i]);
    for (int i = 0; i < V; i++) {
        prob[i] = exp(logits[i]) / z;
        double f = (double)counts[i] / n, sd = sqrt(prob[i] * (1 - prob[i]) / n);
        CHECK(fabs(f - prob[i]) < 5 * sd + 1e-4, "token %d freq %.4f vs p %.4f", i, f, prob[i]);
    }

    /* top-k = 2 only ever yields tokens 1 and 5 */
    p.top_k = 2;
    CHECK_OK(tl_sampler_init(&s, &p, V));
    int ok = 1;
    for (int i = 0; i < 5000; i++) {
        int t = tl_sampler_sample(&s, logits);
        ok &= (t == 1 || t == 5);
    }
    tl_sampler_free(&s);
    CHECK(ok, "top-k 2 left the top two");

    /* top-p: nucleus of the smallest set with mass >= p */
    p.top_k = 0;
    p.top_p = 0.5f; /* p(1)=~0.37, p(5)=~0.34: the nucleus is {1, 5} */
    CHECK_OK(tl_sampler_init(&s, &p, V));
    ok = 1;
    for (int i = 0; i < 5000; i++) {
        int t = tl_sampler_sample(&s, logits);
        ok &= (t == 1 || t == 5);
    }
    tl_sampler_free(&s);
    CHECK(ok, "top-p 0.5 left the nucleus {1, 5} (p1 %.3f p5 %.3f)", prob[1], prob[5]);

    /* low temperature concentrates on the argmax */
    p.top_p = 1.0f;
    p.temperature = 0.05f;
    CHECK_OK(tl_sampler_init(&s, &p, V));
    int hits = 0;
    for (int i = 0; i < 1000; i++) hits += tl_sampler_sample(&s, logits) == 1;
    tl_sampler_free(&s);
    CHECK(hits > 850, "T=0.05 picked the argmax %d/1000 times", hits);

    /* invalid parameters */
    tl_sampler_params bad = {-1.0f, 0, 1.0f, 1};
    CHECK(tl_sampler_init(&s, &bad, V) == TL_E_ARG, "negative temperature accepted");
    bad = (tl_sampler_params){1.0f, 0, 1.5f, 1};
    CHECK(tl_sampler_init(&s, &bad, V) == TL_E_ARG, "top-p > 1 accepted");
    bad = (tl_sampler_params){1.0f, -3, 1.0f, 1};
    CHECK(tl_sampler_init(&s, &bad, V) == TL_E_ARG, "negative top-k accepted");
    return tl_test_done();
}
