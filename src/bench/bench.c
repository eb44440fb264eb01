/* bench.c: benchmark shapes, the prefill/decode timing protocol and the memory
 * bandwidth probe (see bench.h). */
#include "format/format.h" /* internal: model, base */
#include "tiller/bench.h"

#include <string.h>

#include "kernels/kernels.h"
#include "model/qweights.h"

/* stories15M / stories110M are llama2.c's TinyStories models; vocab 32000,
 * untied output so the LM head is a separate [V, C] matrix. */
static const tl_bench_shape shapes[] = {
    {"stories15M",
     {.dim = 288,
      .hidden_dim = 768,
      .n_layers = 6,
      .n_heads = 6,
      .n_kv_heads = 6,
      .vocab_size = 32000,
      .seq_len = 256},
     4600.0,
     300.0},
    {"stories110M",
     {.dim = 768,
      .hidden_dim = 2048,
      .n_layers = 12,
      .n_heads = 12,
      .n_kv_heads = 12,
      .vocab_size = 32000,
      .seq_len = 1024},
     500.0,
     43.0},
};
/* Shapes that `bench --save` can write but `bench --model all` does not time: TinyLlama
 * 1.1B's (GQA 32/4) and a tiny GQA model whose rows are whole K-quant blocks (tests). */
static const tl_bench_shape extra_shapes[] = {
    {"tinyllama",
     {.dim = 2048,
      .hidden_dim = 5632,
      .n_layers = 22,
      .n_heads = 32,
      .n_kv_heads = 4,
      .vocab_size = 32000,
      .seq_len = 2048},
     0.0,
     0.0},
    {"tiny256",
     {.dim = 256, .hidden_dim = 512, .n_layers = 1, .n_heads = 4, .n_kv_heads = 2, .vocab_size = 512, .seq_len = 256},
     0.0,
     0.0},
    /* Pythia-70M and -160M (GPT-NeoX: rotary_pct 0.25 of head_dim 64, untied embed_out, vocab 50304) */
    {"pythia70m",
     {.dim = 512, .hidden_dim = 2048, .n_layers = 6, .n_heads = 8, .n_kv_heads = 8, .vocab_size = 50304,
      .seq_len = 2048, .rope_layout = TL_ROPE_HALF, .arch = TL_ARCH_GPTNEOX, .rope_dims = 16},
     0.0,
     0.0},
    {"pythia160m",
     {.dim = 768, .hidden_dim = 3072, .n_layers = 12, .n_heads = 12, .n_kv_heads = 12, .vocab_size = 50304,
      .seq_len = 2048, .rope_layout = TL_ROPE_HALF, .arch = TL_ARCH_GPTNEOX, .rope_dims = 16},
     0.0,
     0.0},
};
static const tl_bench_shape loaded_targets[] = {
    {"stories260K", {0}, 0.0, 8000.0},
};

const tl_bench_shape *tl_bench_shapes(int *n) {
    *n = (int)(sizeof shapes / sizeof *shapes);
    return shapes;
}

const tl_bench_shape *tl_bench_shape_find(const char *name) {
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (!strcmp(shapes[i].name, name)) return &shapes[i];
    for (size_t i = 0; i < sizeof extra_shapes / sizeof *extra_shapes; i++)
        if (!strcmp(extra_shapes[i].name, name)) return &extra_shapes[i];
    for (size_t i = 0; i < sizeof loaded_targets / sizeof *loaded_targets; i++)
        if (!strcmp(loaded_targets[i].name, name)) return &loaded_targets[i];
    return NULL;
}

void tl_bench_opts_default(tl_bench_opts *o) {
    o->n_prompt = 128;
    o->n_gen = 128;
    o->reps = 3;
    o->seed = 1234;
}

/* Multiply-adds of the matmuls for T tokens (the LM head for the last row only,
 * as tl_forward computes it); attention is left out. */
static double matmul_macs(const tl_config *c, int T) {
    double C = c->dim, F = c->hidden_dim, QD = (double)c->n_heads * c->head_dim,
           KD = (double)c->n_kv_heads * c->head_dim;
    double per_layer = C * QD * 2 + C * KD * 2 + 3 * C * F;
    return (double)T * per_layer * c->n_layers + C * c->vocab_size;
}

tl_status tl_bench_model(const tl_model *m, const tl_bench_opts *o, tl_bench_result *r) {
    memset(r, 0, sizeof *r);
    const tl_config *c = &m->cfg;
    int n_ctx = o->n_prompt + o->n_gen;
    if (o->n_prompt <= 0 || o->n_gen <= 0 || o->reps <= 0)
        return tl_errorf(TL_E_ARG, "bench: prompt %d, gen %d and reps %d must be positive",
                         o->n_prompt, o->n_gen, o->reps);
    if (n_ctx > c->seq_len)
        return tl_errorf(TL_E_RANGE,
                         "bench: %d prompt + %d generated tokens exceed the model's "
                         "context of %d",
                         o->n_prompt, o->n_gen, c->seq_len);
    tl_session *s = NULL;
    tl_status st = tl_session_new(m, n_ctx, o->n_prompt, &s);
    if (st) return st;
    int32_t *tok = tl_malloc((size_t)n_ctx * sizeof(int32_t));
    if (!tok) {
        tl_session_free(s);
        return tl_errorf(TL_E_NOMEM, "bench: out of memory");
    }
    tl_rng rng;
    tl_rng_seed(&rng, o->seed);
    for (int i = 0; i < n_ctx; i++) tok[i] = (int32_t)tl_rng_below(&rng, (uint64_t)c->vocab_size);

    /* warm-up: touches every weight, the KV cache and the thread pool once */
    tl_session_reset(s);
    st = tl_forward(s, tok, o->n_prompt, NULL);
    for (int i = 0; !st && i < 4 && i < o->n_gen; i++) st = tl_forward(s, tok + o->n_prompt + i, 1, NULL);

    double best_pp = 1e30, best_tg = 1e30;
    for (int rep = 0; !st && rep < o->reps; rep++) {
        tl_session_reset(s);
        double t0 = tl_time_sec();
        st = tl_forward(s, tok, o->n_prompt, NULL);
        double dt = tl_time_sec() - t0;
        if (dt < best_pp) best_pp = dt;
    }
    for (int rep = 0; !st && rep < o->reps; rep++) {
        tl_session_reset(s);
        st = tl_forward(s, tok, o->n_prompt, NULL);
        double t0 = tl_time_sec();
        for (int i = 0; !st && i < o->n_gen; i++)
            st = tl_forward(s, tok + o->n_prompt + i, 1, NULL);
        double dt = tl_time_sec() - t0;
        if (dt < best_tg) best_tg = dt;
    }
    tl_free(tok);
    tl_session_free(s);
    if (st) return st;

    r->prefill_tps = o->n_prompt / best_pp;
    r->decode_tps = o->n_gen / best_tg;
    r->prefill_gflops = 2.0 * matmul_macs(c, o->n_prompt) / best_pp * 1e-9;
    double emb = (double)c->vocab_size * c->dim;
    r->weight_bytes = 4.0 * ((double)m->n_params - (c->tied_embeddings ? 0.0 : emb) + c->dim);
    if (m->qw) { /* quantized: the matrices as stored, the LM head, norms in f32 */
        double b = 4.0 * c->dim * (2.0 * c->n_layers + 1);
        for (int i = 0; i < c->n_layers * TL_QW__COUNT; i++) {
            const tl_qmat *q = &m->qw->layers[i];
            b += (double)q->rows * (double)q->row_bytes; /* F32 slots: row_bytes = 4 cols */
        }
        b += m->qw->output.type == TL_Q_F32 ? 4.0 * emb : (double)m->qw->output.rows * (double)m->qw->output.row_bytes;
        r->weight_bytes = b;
    }
    r->decode_gbs = r->weight_bytes * r->decode_tps * 1e-9;
    return TL_OK;
}

tl_status tl_bench_memory_run(size_t bytes, int reps, tl_bench_memory *r) {
    memset(r, 0, sizeof *r);
    int64_t n = (int64_t)(bytes / sizeof(float));
    if (n < 1024 || reps <= 0)
        return tl_errorf(TL_E_ARG, "bench: memory probe of %zu bytes", bytes);
    float *a = tl_malloc_aligned(bytes), *b = tl_malloc_aligned(bytes),
          *c = tl_malloc_aligned(bytes);
    if (!a || !b || !c) {
        tl_free_aligned(a);
        tl_free_aligned(b);
        tl_free_aligned(c);
        return tl_errorf(TL_E_NOMEM, "bench: cannot allocate 3 x %zu MiB for the memory probe",
                         bytes >> 20);
    }
    /* fault every page in before timing */
    memset(a, 0, bytes);
    for (int64_t i = 0; i < n; i++) b[i] = 1.0f, c[i] = 2.0f;
    double best_read = 1e30, best_triad = 1e30;
    volatile float sink = 0.0f;
    for (int rep = 0; rep < reps + 1; rep++) { /* the first run is a warm-up */
        double t0 = tl_time_sec();
        sink += tl_stream_read(b, n);
        double t1 = tl_time_sec();
        tl_stream_triad(a, b, c, 0.5f, n);
        double t2 = tl_time_sec();
        if (rep > 0 && t1 - t0 < best_read) best_read = t1 - t0;
        if (rep > 0 && t2 - t1 < best_triad) best_triad = t2 - t1;
    }
    (void)sink;
    r->read_gbs = (double)bytes / best_read * 1e-9;
    r->triad_gbs = 3.0 * (double)bytes / best_triad * 1e-9;
    tl_free_aligned(a);
    tl_free_aligned(b);
    tl_free_aligned(c);
    return TL_OK;
}
