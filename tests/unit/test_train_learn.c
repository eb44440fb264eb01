/* The learning test: a from-scratch model of the stories260K shape (dim 64, hidden 172,
 * 5 layers, 8 heads, 4 kv heads, vocab 512) learns a small story corpus.
 *
 * The corpus is text: the three golden stories of ../shared/models/stories260K/golden
 * and 400 stories sampled (temperature 1, fixed seed) from the real stories260K model,
 * decoded to text, then tokenized with tok512.bin through the same path as `tiller
 * data` (paragraph documents, BOS first, 10% of documents held out by seed): about
 * 90k training and 10k validation tokens. A model initialised from a seed trains for
 * 400 steps of 8 x 64 tokens (205k tokens, a little over two epochs).
 *
 * The bar: validation loss below 3.0 nats/token, and below a smoothed bigram model of
 * the training split (0.9 bigram + 0.1 add-one unigram), computed here: the model must
 * have learned more than which token follows which. For scale: uniform is ln 512 =
 * 6.24, the unigram model about 4.8, the bigram model about 3.1, and stories260K itself
 * (the model that wrote the stories) about 1.6 on the same windows. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <sys/stat.h>
#include <math.h>
#include <string.h>

#include "testlib.h"
#include "tiller/tokenizer.h"
#include "tiller/train.h"
#include "train/token_file.h"
#include "format/format.h"

#define N_STORIES 400
#define STORY_MAX 256
#define BAR 3.0


/* Remove the test's scratch directory (tl_test_tmpdir) and everything in it. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}
static void rm_tmpdir(void) { nftw(tl_test_tmpdir(), rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char pbuf[1024];
static const char *tmp(const char *name) {
    snprintf(pbuf, sizeof pbuf, "%s/%s", tl_test_tmpdir(), name);
    return pbuf;
}

/* Sample stories from the teacher and write them as blank-line-separated paragraphs. */
static int write_corpus(const tl_model *teacher, const tl_tokenizer *tok, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int g = 1; g <= 3; g++) { /* the golden stories */
        char gp[64], *text = NULL;
        size_t n = 0;
        snprintf(gp, sizeof gp, "models/stories260K/golden/greedy_%d.txt", g);
        if (tl_file_read_all(tl_test_shared(gp), &text, &n) != TL_OK) {
            fclose(f);
            return -1;
        }
        for (size_t i = 0; i < n; i++) /* keep each story one paragraph */
            if (text[i] == '\n') text[i] = ' ';
        fprintf(f, "%s\n\n", text);
        tl_free(text);
    }
    tl_session *s = NULL;
    tl_sampler sp;
    tl_sampler_params prm = {1.0f, 0, 1.0f, 1234};
    if (tl_session_new(teacher, STORY_MAX + 1, 0, &s) != TL_OK ||
        tl_sampler_init(&sp, &prm, teacher->cfg.vocab_size) != TL_OK) {
        fclose(f);
        tl_session_free(s);
        return -1;
    }
    int32_t bos = tl_tokenizer_bos(tok), eos = tl_tokenizer_eos(tok);
    int64_t total = 0;
    for (int k = 0; k < N_STORIES; k++) {
        tl_session_reset(s);
        int32_t prev = bos, tokn = bos;
        for (int t = 0; t < STORY_MAX; t++) {
            const float *logits;
            if (tl_forward(s, &tokn, 1, &logits) != TL_OK) break;
            int32_t next = tl_sampler_sample(&sp, logits);
            if (next == bos || next == eos) break;
            char piece[64];
            size_t n = tl_tokenizer_decode_piece(tok, prev, next, piece, sizeof piece);
            for (size_t i = 0; i < n && i < sizeof piece; i++)
                fputc(piece[i] == '\n' ? ' ' : piece[i], f);
            prev = tokn = next;
            total++;
        }
        fputs("\n\n", f);
    }
    printf("corpus: 3 golden + %d sampled stories (%lld sampled tokens)\n", N_STORIES, (long long)total);
    tl_sampler_free(&sp);
    tl_session_free(s);
    return fclose(f);
}

/* Token-weighted mean loss of model m over every validation window of f (T tokens). */
static double val_loss(const tl_model *m, const tl_token_file *f, int T) {
    tl_batcher *it = NULL;
    tl_batch *b = NULL;
    tl_train_acts *a = NULL;
    tl_objective *o = NULL;
    int B = 8;
    double sum = 0;
    int64_t count = 0;
    int32_t *in = malloc(sizeof(int32_t) * B * T), *tg = malloc(sizeof(int32_t) * B * T);
    if (tl_batcher_new(f, TL_SPLIT_VAL, TL_WINDOWS_PACKED, T, 0, 0, &it) == TL_OK &&
        tl_batch_new(B, T, &b) == TL_OK && tl_train_acts_new(&m->cfg, B, T, &a) == TL_OK &&
        tl_objective_new("ntp", &(tl_objective_ctx){B, T, m->cfg.vocab_size, -1, -1}, &o) == TL_OK) {
        tl_rng rng;
        tl_rng_seed(&rng, 1);
        for (int64_t w = 0; w < tl_batcher_windows(it); w += B) {
            tl_attn_spec attn;
            tl_batcher_fill(it, w, b);
            o->make(o, b, &rng, in, tg, &attn);
            int64_t k = 0;
            for (int i = 0; i < B * T; i++) k += tg[i] >= 0;
            float loss;
            if (k && tl_model_forward_train(m, a, in, tg, &attn, &loss) == TL_OK) {
                sum += (double)loss * (double)k;
                count += k;
            }
        }
    }
    tl_objective_free(o);
    tl_train_acts_free(a);
    tl_batch_free(b);
    tl_batcher_free(it);
    free(in);
    free(tg);
    return count ? sum / (double)count : NAN;
}

/* Cross-entropy of the validation stream under a bigram model of the training stream:
 * p(b | a) = 0.9 * count(a, b) / count(a) + 0.1 * unigram(b), unigram add-one smoothed. */
static double bigram_ce(const tl_token_file *f) {
    int V = f->vocab_size;
    double *uni = calloc((size_t)V, sizeof *uni), *row = calloc((size_t)V, sizeof *row);
    double *big = calloc((size_t)V * V, sizeof *big);
    int64_t n0 = f->n_tokens[0], n1 = f->n_tokens[1];
    for (int64_t i = 0; i < n0; i++) {
        int32_t a = tl_token_file_at(f, i);
        uni[a] += 1;
        if (i + 1 < n0) {
            big[(size_t)a * V + tl_token_file_at(f, i + 1)] += 1;
            row[a] += 1;
        }
    }
    for (int v = 0; v < V; v++) uni[v] = (uni[v] + 1) / (double)(n0 + V);
    double sum = 0;
    for (int64_t i = n0; i + 1 < n0 + n1; i++) {
        int32_t a = tl_token_file_at(f, i), b = tl_token_file_at(f, i + 1);
        double pb = row[a] > 0 ? big[(size_t)a * V + b] / row[a] : 0;
        sum -= log(0.9 * pb + 0.1 * uni[b]);
    }
    free(uni);
    free(row);
    free(big);
    return sum / (double)(n1 - 1);
}

static double last_val_from_log(const char *path) {
    FILE *f = fopen(path, "r");
    double v = NAN;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        if (c2 && c2[1] != ',') v = strtod(c2 + 1, NULL);
    }
    if (f) fclose(f);
    return v;
}

int main(void) {
    tl_model *teacher = NULL;
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &teacher, NULL));
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    if (!teacher || !tok) return tl_test_done();

    char corpus[1024], data[1024], run[1024];
    snprintf(corpus, sizeof corpus, "%s", tmp("stories.txt"));
    snprintf(data, sizeof data, "%s", tmp("stories.tok"));
    snprintf(run, sizeof run, "%s", tmp("run"));
    double tg = tl_time_sec();
    CHECK(write_corpus(teacher, tok, corpus) == 0, "corpus written");
    printf("generation: %.1f s\n", tl_time_sec() - tg);

    tl_token_builder b;
    CHECK_OK(tl_token_builder_init(&b, tl_tokenizer_n_vocab(tok)));
    tl_corpus_opts co = {0};
    CHECK_OK(tl_corpus_add_file(&b, tok, corpus, &co));
    CHECK(co.n_docs >= N_STORIES, "documents: %lld", (long long)co.n_docs);
    CHECK_OK(tl_token_builder_write(&b, data, 0.1, 7));
    tl_token_builder_free(&b);
    tl_token_file *f = NULL;
    CHECK_OK(tl_token_file_open(data, &f));
    if (!f) return tl_test_done();
    printf("token file: %lld + %lld tokens (train + validation)\n", (long long)f->n_tokens[0], (long long)f->n_tokens[1]);

    tl_train_opts o;
    tl_train_opts_defaults(&o);
    o.data_path = data;
    o.out_dir = run;
    o.cfg = (tl_config){.dim = 64, .hidden_dim = 172, .n_layers = 5, .n_heads = 8, .n_kv_heads = 4,
                        .vocab_size = 512, .seq_len = 64, .tied_embeddings = 1};
    o.seed = 42;
    o.seq = 64;
    o.batch = 8;
    o.steps = 400;
    o.lr = 5e-3f;
    o.warmup = 60;
    o.weight_decay = 0.1f;
    o.eval_every = 100;
    o.eval_batches = 1000; /* every validation window */
    o.save_log = 4;
    double t0 = tl_time_sec();
    CHECK_OK(tl_train_run(&o));
    double secs = tl_time_sec() - t0;
    char log_path[1100];
    snprintf(log_path, sizeof log_path, "%s/train_log.csv", run);
    double val = last_val_from_log(log_path);
    double teacher_val = val_loss(teacher, f, 64), bigram = bigram_ce(f);
    printf("validation loss after %lld steps (%.0f s): %.4f nats/token (bar %.2f; uniform %.2f; "
           "smoothed bigram %.4f; stories260K itself %.4f)\n",
           (long long)o.steps, secs, val, BAR, log(512.0), bigram, teacher_val);
    CHECK(val < BAR, "validation loss %.4f must beat the bar %.2f", val, BAR);
    CHECK(val < bigram, "validation loss %.4f must beat the bigram model %.4f", val, bigram);
    CHECK(isfinite(teacher_val) && teacher_val < val, "the teacher (%.4f) still beats a 400-step student (%.4f)",
          teacher_val, val);
    tl_token_file_free(f);
    tl_tokenizer_free(tok);
    tl_model_free(teacher);
    rm_tmpdir();
    return tl_test_done();
}
