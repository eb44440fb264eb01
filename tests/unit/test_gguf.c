/* GGUF: the reader's API on real vocabulary files, the writer (every KV type,
 * alignment), and model round trips: random models (tied, untied, GQA, a head
 * dim other than dim / n_heads) saved and loaded give bit-identical parameters
 * and logits; F16 and BF16 tensors load as their rounded values; stories260K
 * .bin -> .gguf (with tok512) -> load gives the golden logits and tokenizer. */
#include <string.h>

#include "format/format.h"
#include "testlib.h"
#include "tiller/tokenizer.h"

static void test_reader_api(void) {
    tl_gguf *g = NULL;
    CHECK_OK(tl_gguf_open(tl_test_shared("models/tokenizers/ggml-vocab-llama-spm.gguf"), &g));
    if (!g) return;
    CHECK(g->version == 3 && g->n_tensors == 0 && g->alignment == 32, "header");
    int64_t v;
    CHECK_OK(tl_gguf_get_int(g, "llama.embedding_length", 1, 1 << 20, &v));
    CHECK(v == 4096, "embedding_length %lld", (long long)v);
    CHECK(tl_gguf_get_int(g, "llama.embedding_length", 1, 100, &v) == TL_E_FORMAT &&
              strstr(tl_last_error(), "out of range"),
          "range check: %s", tl_last_error());
    double eps;
    CHECK_OK(tl_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &eps));
    CHECK(eps > 0.99e-5 && eps < 1.01e-5, "eps %g", eps);
    tl_gguf_str s;
    CHECK_OK(tl_gguf_get_str(g, "tokenizer.ggml.model", &s));
    CHECK(tl_gguf_str_eq(s, "llama"), "tokenizer model");
    CHECK(tl_gguf_get_str(g, "llama.block_count", &s) == TL_E_FORMAT && strstr(tl_last_error(), "has type u32"),
          "wrong type message: %s", tl_last_error());
    CHECK(tl_gguf_get_int(g, "no.such.key", 0, 1, &v) == TL_E_FORMAT && strstr(tl_last_error(), "missing key 'no.such.key'"),
          "missing key message: %s", tl_last_error());
    int b;
    CHECK_OK(tl_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b));
    CHECK(b == 1, "add_bos");
    const tl_gguf_kv *kv;
    CHECK(tl_gguf_get_arr(g, "tokenizer.ggml.tokens", TL_GGUF_F32, &kv) == TL_E_FORMAT &&
              strstr(tl_last_error(), "array of string"),
          "array type message: %s", tl_last_error());
    CHECK_OK(tl_gguf_get_arr(g, "tokenizer.ggml.tokens", TL_GGUF_STRING, &kv));
    tl_gguf_iter it;
    tl_gguf_iter_init(kv, &it);
    int n = 0, found = 0;
    while (tl_gguf_iter_next(&it, &s)) found += n++ == 1 && tl_gguf_str_eq(s, "<s>");
    CHECK(n == 32000 && found, "iterated %d strings", n);
    CHECK_OK(tl_gguf_get_arr(g, "tokenizer.ggml.scores", TL_GGUF_F32, &kv));
    CHECK(kv->n == 32000 && tl_gguf_arr_f32(kv, 0) == 0.0f, "scores");
    CHECK(tl_gguf_find_tensor(g, "token_embd.weight") == NULL, "no tensors");
    tl_gguf_close(g);
}

static void test_writer_types(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/types.gguf", tl_test_tmpdir());
    tl_gguf_writer *w;
    CHECK_OK(tl_gguf_writer_new(&w));
    uint8_t u8 = 200;
    int8_t i8 = -100;
    uint16_t u16 = 60000;
    int16_t i16 = -30000;
    int32_t i32 = -2000000000;
    uint64_t u64 = 1ULL << 62;
    int64_t i64 = -(1LL << 62);
    double f64 = 3.25;
    CHECK_OK(tl_gguf_writer_set_alignment(w, 64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.u8", TL_GGUF_U8, &u8));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i8", TL_GGUF_I8, &i8));
    CHECK_OK(tl_gguf_write_scalar(w, "t.u16", TL_GGUF_U16, &u16));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i16", TL_GGUF_I16, &i16));
    CHECK_OK(tl_gguf_write_u32(w, "t.u32", 4000000000u));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i32", TL_GGUF_I32, &i32));
    CHECK_OK(tl_gguf_write_f32(w, "t.f32", 1.5f));
    CHECK_OK(tl_gguf_write_bool(w, "t.bool", 1));
    CHECK_OK(tl_gguf_write_str(w, "t.str", "héllo"));
    CHECK_OK(tl_gguf_write_scalar(w, "t.u64", TL_GGUF_U64, &u64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i64", TL_GGUF_I64, &i64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.f64", TL_GGUF_F64, &f64));
    int16_t arr16[3] = {-1, 2, -3};
    float arrf[2] = {0.5f, -2.0f};
    CHECK_OK(tl_gguf_write_arr(w, "t.arr_i16", TL_GGUF_I16, arr16, 3));
    CHECK_OK(tl_gguf_write_arr(w, "t.arr_f32", TL_GGUF_F32, arrf, 2));
    const char *strs[3] = {"a", "", "ccc"};
    CHECK_OK(tl_gguf_write_arr_str(w, "t.arr_str", strs, NULL, 3));
    CHECK(tl_gguf_write_arr(w, "t.bad", TL_GGUF_STRING, strs, 3) == TL_E_ARG, "string arrays need arr_str");
    CHECK(tl_gguf_writer_save(w, path) == TL_E_ARG, "the adder's failure sticks");
    CHECK(!tl_path_exists(path), "nothing written after a failed adder");
    tl_gguf_writer_free(w);

    /* again without the bad call, plus tensors of each type */
    CHECK_OK(tl_gguf_writer_new(&w));
    CHECK_OK(tl_gguf_writer_set_alignment(w, 64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i64", TL_GGUF_I64, &i64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.u64", TL_GGUF_U64, &u64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.f64", TL_GGUF_F64, &f64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i8", TL_GGUF_I8, &i8));
    CHECK_OK(tl_gguf_write_arr_str(w, "t.arr_str", strs, NULL, 3));
    float data[6] = {1, -2, 3.5f, 1e-3f, 65504, -0.0f};
    int64_t ne[2] = {3, 2};
    CHECK_OK(tl_gguf_write_tensor(w, "a", TL_GGML_F32, 2, ne, data));
    CHECK_OK(tl_gguf_write_tensor(w, "b", TL_GGML_F16, 1, ne, data));
    CHECK_OK(tl_gguf_write_tensor(w, "c", TL_GGML_BF16, 2, ne, data));
    CHECK(tl_gguf_write_tensor(w, "a", TL_GGML_F32, 2, ne, data) == TL_E_ARG, "duplicate tensor refused");
    tl_gguf_writer_free(w);
    CHECK_OK(tl_gguf_writer_new(&w));
    CHECK_OK(tl_gguf_writer_set_alignment(w, 64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i64", TL_GGUF_I64, &i64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.u64", TL_GGUF_U64, &u64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.f64", TL_GGUF_F64, &f64));
    CHECK_OK(tl_gguf_write_scalar(w, "t.i8", TL_GGUF_I8, &i8));
    CHECK_OK(tl_gguf_write_arr_str(w, "t.arr_str", strs, NULL, 3));
    CHECK_OK(tl_gguf_write_arr(w, "t.arr_i16", TL_GGUF_I16, arr16, 3));
    CHECK_OK(tl_gguf_write_tensor(w, "a", TL_GGML_F32, 2, ne, data));
    CHECK_OK(tl_gguf_write_tensor(w, "b", TL_GGML_F16, 1, ne, data));
    CHECK_OK(tl_gguf_write_tensor(w, "c", TL_GGML_BF16, 2, ne, data));
    CHECK_OK(tl_gguf_writer_save(w, path));
    tl_gguf_writer_free(w);

    tl_gguf *g = NULL;
    CHECK_OK(tl_gguf_open(path, &g));
    if (!g) return;
    CHECK(g->alignment == 64 && g->n_tensors == 3 && g->n_kv == 7, "alignment %u, %llu tensors, %llu kv", g->alignment,
          (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv);
    int64_t v;
    double d;
    CHECK(tl_gguf_get_int(g, "t.i64", INT64_MIN, INT64_MAX, &v) == TL_OK && v == i64, "i64");
    CHECK(tl_gguf_get_int(g, "t.u64", 0, INT64_MAX, &v) == TL_OK && v == (int64_t)u64, "u64");
    CHECK(tl_gguf_get_int(g, "t.i8", -128, 127, &v) == TL_OK && v == -100, "i8");
    CHECK(tl_gguf_get_float(g, "t.f64", &d) == TL_OK && d == 3.25, "f64");
    const tl_gguf_kv *kv;
    CHECK_OK(tl_gguf_get_arr(g, "t.arr_i16", TL_GGUF_I16, &kv));
    CHECK(kv && kv->n == 3, "i16 array");
    CHECK_OK(tl_gguf_get_arr(g, "t.arr_str", TL_GGUF_STRING, &kv));
    tl_gguf_iter it;
    tl_gguf_str s;
    int k = 0, ok = 1;
    tl_gguf_iter_init(kv, &it);
    while (tl_gguf_iter_next(&it, &s)) ok &= tl_gguf_str_eq(s, strs[k++]);
    CHECK(ok && k == 3, "string array");
    const tl_gguf_tensor *ta = tl_gguf_find_tensor(g, "a"), *tb = tl_gguf_find_tensor(g, "b"),
                         *tc = tl_gguf_find_tensor(g, "c");
    CHECK(ta && tb && tc, "tensors found");
    if (ta && tb && tc) {
        CHECK(ta->ne[0] == 3 && ta->ne[1] == 2 && ta->n_dims == 2 && !memcmp(ta->data, data, 24), "f32 tensor");
        CHECK(tb->n_dims == 1 && tb->ne[0] == 3 && tb->nbytes == 6, "f16 tensor shape");
        for (int i = 0; i < 6; i++) {
            uint16_t h;
            memcpy(&h, tc->data + 2 * i, 2);
            ok &= tl_bf16_to_f32(h) == tl_bf16_to_f32(tl_f32_to_bf16(data[i]));
        }
        CHECK(ok, "bf16 values");
        for (int i = 0; i < 3; i++) CHECK(g->tensors[i].offset % 64 == 0 && (g->data_offset % 64) == 0, "aligned");
    }
    tl_gguf_close(g);
    remove(path);
}

typedef struct {
    float *dst;
    int V;
} collect;

static void collect_logits(void *user, const float *logits, int T, int V, int pos0) {
    collect *c = user;
    memcpy(c->dst + (size_t)pos0 * V, logits, (size_t)T * V * sizeof(float));
}

/* Logits of tokens 0..T-1 (cycled through the vocabulary) at every position. */
static float *logits_of(const tl_model *m, int T) {
    int V = m->cfg.vocab_size;
    float *out = calloc((size_t)T * V, sizeof(float));
    int32_t *tok = malloc((size_t)T * sizeof *tok);
    for (int i = 0; i < T; i++) tok[i] = (i * 7 + 1) % V;
    tl_session *s = NULL;
    CHECK_OK(tl_session_new(m, 0, 0, &s));
    collect c = {out, V};
    if (s) CHECK_OK(tl_forward_all(s, tok, T, collect_logits, &c));
    tl_session_free(s);
    free(tok);
    return out;
}

static void round_trip_random(const char *label, tl_config cfg) {
    tl_model *m = NULL, *back = NULL;
    CHECK_OK(tl_model_new(&cfg, &m));
    if (!m) return;
    tl_model_init_random(m, 42);
    char path[300];
    snprintf(path, sizeof path, "%s/rt.gguf", tl_test_tmpdir());
    CHECK_OK(tl_model_save(m, NULL, path));
    CHECK_OK(tl_model_load(path, &back, NULL));
    if (back) {
        CHECK(!memcmp(&m->cfg, &back->cfg, sizeof cfg), "%s: config differs", label);
        CHECK(m->n_params == back->n_params && !memcmp(m->params, back->params, m->n_params * 4),
              "%s: parameters differ", label);
        float *a = logits_of(m, 12), *b = logits_of(back, 12);
        double err = tl_test_max_abs(a, b, (size_t)12 * cfg.vocab_size);
        printf("%s: %zu params identical, logits max abs diff %g\n", label, m->n_params, err);
        CHECK(err == 0.0, "%s: logits differ by %g", label, err);
        free(a);
        free(b);
    }
    tl_model_free(back);
    back = NULL;

    /* F16 matrices: each loads as its f16-rounded value; vectors stay exact */
    CHECK_OK(tl_gguf_model_save(m, NULL, path, TL_DTYPE_F16));
    CHECK_OK(tl_model_load(path, &back, NULL));
    if (back) {
        tl_param_tensor pt[256];
        int n = tl_params_tensors(&m->cfg, pt, 256), bad = 0;
        for (int i = 0; i < n; i++)
            for (size_t j = 0; j < (size_t)(pt[i].rows * pt[i].cols); j++) {
                float x = m->params[pt[i].offset + j], want = pt[i].n_dims == 1 ? x : tl_f16_to_f32(tl_f32_to_f16(x));
                bad += back->params[pt[i].offset + j] != want;
            }
        float *a = logits_of(m, 12), *b = logits_of(back, 12);
        double err = tl_test_max_abs(a, b, (size_t)12 * cfg.vocab_size);
        printf("%s as F16: %d values off their f16 rounding, logits max abs diff vs f32 %.3g\n", label, bad, err);
        CHECK(bad == 0, "%s: %d F16 values", label, bad);
        CHECK(err < 1e-3, "%s: F16 logits differ by %g", label, err);
        free(a);
        free(b);
    }
    tl_model_free(back);
    remove(path);
    tl_model_free(m);
}

/* BF16 tensors (written by hand: tiller saves F32/F16) load as their bf16 values. */
static void test_bf16_load(void) {
    tl_config cfg = {.dim = 16, .hidden_dim = 40, .n_layers = 1, .n_heads = 2, .vocab_size = 20, .seq_len = 16,
                     .tied_embeddings = 1};
    tl_model *m = NULL, *back = NULL;
    CHECK_OK(tl_model_new(&cfg, &m));
    if (!m) return;
    tl_model_init_random(m, 3);
    char path[300];
    snprintf(path, sizeof path, "%s/bf16.gguf", tl_test_tmpdir());
    tl_gguf_writer *w;
    CHECK_OK(tl_gguf_writer_new(&w));
    tl_gguf_write_str(w, "general.architecture", "llama");
    tl_gguf_write_u32(w, "llama.context_length", 16);
    tl_gguf_write_u32(w, "llama.embedding_length", 16);
    tl_gguf_write_u32(w, "llama.block_count", 1);
    tl_gguf_write_u32(w, "llama.feed_forward_length", 40);
    tl_gguf_write_u32(w, "llama.attention.head_count", 2);
    tl_param_tensor pt[64];
    int n = tl_params_tensors(&m->cfg, pt, 64);
    for (int i = 0; i < n; i++) {
        int64_t ne[2] = {pt[i].cols, pt[i].rows};
        tl_gguf_write_tensor(w, pt[i].name, TL_GGML_BF16, pt[i].n_dims, ne, m->params + pt[i].offset);
    }
    CHECK_OK(tl_gguf_writer_save(w, path));
    tl_gguf_writer_free(w);
    CHECK_OK(tl_model_load(path, &back, NULL));
    if (back) {
        int bad = 0;
        for (size_t j = 0; j < m->n_params; j++) bad += back->params[j] != tl_bf16_to_f32(tl_f32_to_bf16(m->params[j]));
        CHECK(bad == 0 && back->cfg.n_kv_heads == 2 && back->cfg.rope_theta == 10000.0f && back->cfg.tied_embeddings,
              "bf16: %d values differ", bad);
        printf("BF16 model: %zu params load as their bf16 values (%d differ), defaults filled\n", m->n_params, bad);
    }
    tl_model_free(back);
    tl_model_free(m);
    remove(path);
}

static void test_stories(void) {
    tl_model *m = NULL, *back = NULL;
    tl_tokenizer *vocab = NULL, *back_vocab = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (!m) return;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &vocab));
    char path[300];
    snprintf(path, sizeof path, "%s/stories260K.gguf", tl_test_tmpdir());
    CHECK_OK(tl_model_save(m, vocab, path));
    CHECK_OK(tl_model_load(path, &back, &back_vocab));
    if (back) {
        int V = m->cfg.vocab_size;
        float *want = malloc(sizeof(float) * 32 * V);
        FILE *f = fopen(tl_test_shared("models/stories260K/golden/greedy_1.logits32.txt"), "r");
        int nf = 0;
        while (f && nf < 32 * V && fscanf(f, "%f", &want[nf]) == 1) nf++;
        if (f) fclose(f);
        int32_t tok[32];
        f = fopen(tl_test_shared("models/stories260K/golden/greedy_1.tokens.txt"), "r");
        for (int i = 0; f && i < 32; i++)
            if (fscanf(f, "%d", &tok[i]) != 1) tok[i] = 0;
        if (f) fclose(f);
        float *a = calloc((size_t)32 * V, sizeof(float)), *b = calloc((size_t)32 * V, sizeof(float));
        tl_session *s1 = NULL, *s2 = NULL;
        CHECK_OK(tl_session_new(m, 0, 0, &s1));
        CHECK_OK(tl_session_new(back, 0, 0, &s2));
        collect ca = {a, V}, cb = {b, V};
        if (s1 && s2) {
            CHECK_OK(tl_forward_all(s1, tok, 32, collect_logits, &ca));
            CHECK_OK(tl_forward_all(s2, tok, 32, collect_logits, &cb));
        }
        double same = tl_test_max_abs(a, b, (size_t)32 * V), gold = tl_test_max_abs(b, want, (size_t)32 * V);
        printf("stories260K .bin -> .gguf -> load: logits diff vs .bin %g, vs PyTorch golden %.3g\n", same, gold);
        CHECK(same == 0.0 && nf == 32 * V && gold <= 1e-4, "stories260K gguf logits: %g / %g", same, gold);
        CHECK(back_vocab && tl_tokenizer_n_vocab(back_vocab) == 512 && tl_tokenizer_bos(back_vocab) == 1,
              "tokenizer travels in the GGUF");
        if (back_vocab) {
            int32_t *ids;
            size_t n;
            CHECK_OK(tl_tokenizer_encode(back_vocab, "Once upon a time", 16, TL_TOK_ADD_BOS, &ids, &n));
            int32_t w5[] = {1, 403, 407, 261, 378};
            CHECK(n == 5 && !memcmp(ids, w5, sizeof w5), "encode with the embedded tokenizer");
            tl_free(ids);
        }
        tl_session_free(s1);
        tl_session_free(s2);
        free(a);
        free(b);
        free(want);
    }
    /* the tokenizer loader also reads a model GGUF */
    tl_tokenizer *t = NULL;
    CHECK_OK(tl_tokenizer_load(path, &t));
    CHECK(t && tl_tokenizer_n_vocab(t) == 512, "tokenizer from a model GGUF");
    tl_tokenizer_free(t);
    /* a tokenizer whose size differs from the embedding rows is refused on save */
    tl_tokenizer_free(vocab);
    vocab = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/tokenizers/ggml-vocab-gpt-2.gguf"), &vocab));
    char other[300];
    snprintf(other, sizeof other, "%s/mismatch.gguf", tl_test_tmpdir());
    CHECK(tl_model_save(m, vocab, other) == TL_E_ARG && strstr(tl_last_error(), "50257 tokens"), "vocab mismatch on save: %s",
          tl_last_error());
    CHECK(!tl_path_exists(other), "no file after a refused save");
    snprintf(other, sizeof other, "%s/no/such/dir/x.gguf", tl_test_tmpdir());
    tl_tokenizer_free(vocab);
    CHECK(tl_model_save(m, NULL, other) == TL_E_IO, "unwritable path");
    remove(path);
    tl_tokenizer_free(back_vocab);
    tl_model_free(back);
    tl_model_free(m);
}

int main(void) {
    test_reader_api();
    test_writer_types();
    round_trip_random("random untied GQA", (tl_config){.dim = 48, .hidden_dim = 96, .n_layers = 2, .n_heads = 4,
                                                       .n_kv_heads = 2, .vocab_size = 64, .seq_len = 32,
                                                       .rope_theta = 500000.0f, .norm_eps = 1e-6f});
    round_trip_random("random tied", (tl_config){.dim = 32, .hidden_dim = 80, .n_layers = 3, .n_heads = 4,
                                                 .vocab_size = 50, .seq_len = 64, .tied_embeddings = 1});
    round_trip_random("random head_dim 16 != dim/heads", (tl_config){.dim = 40, .hidden_dim = 64, .n_layers = 1,
                                                                     .n_heads = 4, .n_kv_heads = 1, .head_dim = 16,
                                                                     .vocab_size = 30, .seq_len = 16});
    test_bf16_load();
    test_stories();
    return tl_test_done();
}
