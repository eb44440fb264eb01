/* stage_train.c: the stages that make the models — world, tokenizer, token files,
 * pre-training with a log-spaced checkpoint series, the SFT chat fine-tune, and
 * samples from a few checkpoints — each with its report section. Every stage calls
 * the library entry point of the matching command (tl_world_generate,
 * tl_bpe_trainer_*, tl_corpus_add_file, tl_train_run); nothing is re-implemented. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/generate.h"
#include "tiller/train.h"
#include "train/token_file.h"

#define PATH_CAP 4096


static double jnum(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void row2(tl_html *h, const char *k, const char *fmt, double v) {
    char buf[64];
    snprintf(buf, sizeof buf, fmt, v);
    const char *cells[2] = {k, buf};
    tl_html_table_row(h, cells, 2);
}

/* ---- world ------------------------------------------------------------------------ */

tl_status tl_demo_world_run(tl_demo *d, const char *dir) {
    tl_world_summary sum;
    return tl_world_generate(&d->cfg.world, dir, &sum);
}

tl_status tl_demo_world_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/world.json", dir);
    cJSON *j;
    tl_status s = tl_file_read_json(path, &j);
    if (s) return s;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "counts");
    const cJSON *people = cJSON_GetObjectItemCaseSensitive(j, "people");
    const cJSON *places = cJSON_GetObjectItemCaseSensitive(j, "places");
    if (!cJSON_IsObject(c) || !cJSON_IsArray(people)) {
        cJSON_Delete(j);
        return tl_errorf(TL_E_FORMAT, "%s: no \"counts\" or \"people\"", path);
    }
    tl_html_para(h, NULL,
                 "Invented people, places and groups with known truth (world/world.json); the corpus "
                 "states their facts, mostly truly, and carries a real signal for each of the five "
                 "trust dimensions. world/README.md describes every file.");
    const char *hd[2] = {"quantity", "value"};
    tl_html_table_begin(h, hd, 2);
    row2(h, "people", "%.0f", cJSON_GetArraySize(people));
    row2(h, "places", "%.0f", cJSON_GetArraySize(places));
    row2(h, "corpus bytes (train)", "%.0f", jnum(c, "corpus_bytes"));
    row2(h, "fact mentions: true", "%.0f", jnum(c, "fact_mentions_true"));
    row2(h, "fact mentions: false (reliability)", "%.0f", jnum(c, "fact_mentions_false"));
    row2(h, "insults (toxicity)", "%.0f", jnum(c, "insults"));
    row2(h, "secrets told in confidence (privacy)", "%.0f", jnum(c, "secrets_confided"));
    row2(h, "secrets leaked", "%.0f", jnum(c, "secrets_leaked"));
    row2(h, "stereotyped trait mentions (fairness)", "%.0f", jnum(c, "trait_mentions_stereotype"));
    row2(h, "reviews (robustness)", "%.0f", jnum(c, "reviews"));
    row2(h, "reviews with typos", "%.0f", jnum(c, "reviews_perturbed"));
    tl_html_table_end(h);
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(c, "corpus_documents");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(c, "probe_rows");
    const cJSON *bow = cJSON_GetObjectItemCaseSensitive(c, "bow_test_accuracy");
    if (cJSON_IsObject(docs)) {
        tl_html_heading(h, "Corpus documents by kind");
        tl_html_table_begin(h, (const char *[]){"kind", "documents"}, 2);
        const cJSON *e;
        cJSON_ArrayForEach(e, docs) row2(h, e->string, "%.0f", cJSON_IsNumber(e) ? e->valuedouble : NAN);
        tl_html_table_end(h);
    }
    tl_html_heading(h, "Probe sets (statement,label)");
    tl_html_table_begin(h, (const char *[]){"dimension", "train rows", "validation rows", "test rows",
                                            "bag-of-words test accuracy"},
                        5);
    for (int k = 0; k < TL_DIM__COUNT; k++) {
        const char *dim = tl_world_dim_names[k];
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(rows, dim);
        char a[3][32] = {"", "", ""}, acc[32] = "";
        for (int i = 0; i < 3 && cJSON_GetArraySize(r) == 3; i++)
            snprintf(a[i], sizeof a[i], "%.0f", cJSON_GetArrayItem(r, i)->valuedouble);
        snprintf(acc, sizeof acc, "%.3f", jnum(bow, dim));
        const char *cells[5] = {dim, a[0], a[1], a[2], acc};
        tl_html_table_row(h, cells, 5);
    }
    tl_html_table_end(h);
    tl_html_para(h, "note",
                 "Every set is built of minimal pairs (a true statement and a twin that differs only in the value "
                 "the label depends on) and split by entity: the validation and test splits hold people, groups "
                 "and invented words the train split never mentions, so the bag of words stays at chance, and so "
                 "do the other shortcuts of `tiller world --check` (unigram + bigram and token-pair logistic "
                 "regression, a lookup table; each must stay <= 0.60). Only knowledge of the world, which the "
                 "corpus teaches in other phrasings, separates the labels (world/README.md, docs/analysis.md).");
    cJSON_Delete(j);
    (void)d;
    return TL_OK;
}

/* ---- tokenizer -------------------------------------------------------------------- */

static void bpe_progress(void *user, int done, int total) { tl_demo_step(user, done, total, -1, "merges"); }

tl_status tl_demo_tokenizer_run(tl_demo *d, const char *dir) {
    tl_bpe_train_opts o;
    tl_bpe_train_opts_default(&o);
    o.vocab_size = d->cfg.vocab_size;
    o.progress = bpe_progress;
    o.user = d;
    tl_bpe_trainer *tr = NULL;
    tl_tokenizer *t = NULL;
    char corpus[PATH_CAP], instruct[PATH_CAP], gguf[PATH_CAP], json[PATH_CAP], stats[PATH_CAP];
    tl_status s = tl_demo_path(d, "world", "corpus/train.txt", corpus, sizeof corpus);
    if (!s) s = tl_demo_path(d, "world", "instruct/train.jsonl", instruct, sizeof instruct);
    tl_demo_fmt(gguf, sizeof gguf, "%s/tokenizer.gguf", dir);
    tl_demo_fmt(json, sizeof json, "%s/tokenizer.json", dir);
    tl_demo_fmt(stats, sizeof stats, "%s/stats.json", dir);
    /* the chat data too, so "User:" / "Assistant:" get pieces of their own */
    if (!s) s = tl_bpe_trainer_new(&o, &tr);
    if (!s) s = tl_bpe_trainer_add_file(tr, corpus);
    if (!s) s = tl_bpe_trainer_add_file(tr, instruct);
    if (!s) s = tl_bpe_trainer_run(tr, &t);
    const char *paths[2] = {gguf, json};
    if (!s) s = tl_tokenizer_save_all(t, paths, 2);
    if (!s) {
        tl_bpe_train_stats st;
        tl_bpe_trainer_stats(tr, &st);
        cJSON *j = cJSON_CreateObject();
        if (!j)
            s = tl_errorf(TL_E_NOMEM, "out of memory");
        else {
            cJSON_AddNumberToObject(j, "vocab", st.n_vocab);
            cJSON_AddNumberToObject(j, "merges", st.n_merges);
            cJSON_AddNumberToObject(j, "base_chars", st.n_base_chars);
            cJSON_AddNumberToObject(j, "bytes", (double)st.n_bytes);
            cJSON_AddNumberToObject(j, "words", (double)st.n_words);
            cJSON_AddNumberToObject(j, "tokens", (double)st.n_tokens);
            cJSON_AddNumberToObject(j, "seconds", st.seconds);
            char *text = cJSON_Print(j);
            s = text ? tl_file_write_atomic(stats, text, strlen(text)) : tl_errorf(TL_E_NOMEM, "out of memory");
            cJSON_free(text);
            cJSON_Delete(j);
        }
    }
    tl_tokenizer_free(t);
    tl_bpe_trainer_free(tr);
    return s;
}

tl_status tl_demo_tokenizer_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/stats.json", dir);
    cJSON *j;
    tl_status s = tl_file_read_json(path, &j);
    if (s) return s;
    tl_html_para(h, NULL,
                 "A SentencePiece-style BPE with byte fallback trained on the corpus and the chat data "
                 "(tokenizer/tokenizer.gguf and tokenizer.json, loadable by llama.cpp).");
    tl_html_table_begin(h, (const char *[]){"quantity", "value"}, 2);
    row2(h, "vocabulary", "%.0f", jnum(j, "vocab"));
    row2(h, "merges", "%.0f", jnum(j, "merges"));
    row2(h, "training words", "%.0f", jnum(j, "words"));
    row2(h, "bytes per token", "%.3f", jnum(j, "bytes") / jnum(j, "tokens"));
    tl_html_table_end(h);
    cJSON_Delete(j);
    (void)d;
    return TL_OK;
}

/* ---- token files -------------------------------------------------------------------- */

static tl_status make_tokens(const tl_tokenizer *tok, const char *in, const char *out, uint64_t seed, int64_t *docs) {
    tl_token_builder b;
    tl_status s = tl_token_builder_init(&b, tl_tokenizer_n_vocab(tok));
    if (s) return s;
    tl_corpus_opts co = {0};
    s = tl_corpus_add_file(&b, tok, in, &co);
    if (!s) s = tl_token_builder_write(&b, out, 0.05, seed);
    *docs = co.n_docs;
    tl_token_builder_free(&b);
    return s;
}

tl_status tl_demo_data_run(tl_demo *d, const char *dir) {
    char tokp[PATH_CAP], corpus[PATH_CAP], instruct[PATH_CAP], pre[PATH_CAP], sft[PATH_CAP];
    tl_status s = tl_demo_path(d, "tokenizer", "tokenizer.gguf", tokp, sizeof tokp);
    if (!s) s = tl_demo_path(d, "world", "corpus/train.txt", corpus, sizeof corpus);
    if (!s) s = tl_demo_path(d, "world", "instruct/train.jsonl", instruct, sizeof instruct);
    if (s) return s;
    tl_demo_fmt(pre, sizeof pre, "%s/pretrain.tok", dir);
    tl_demo_fmt(sft, sizeof sft, "%s/sft.tok", dir);
    tl_tokenizer *tok = NULL;
    if ((s = tl_tokenizer_load(tokp, &tok))) return s;
    int64_t n1 = 0, n2 = 0;
    tl_demo_step(d, 0, 2, -1, "corpus");
    s = make_tokens(tok, corpus, pre, d->o.seed, &n1);
    tl_demo_step(d, 1, 2, -1, "instructions");
    if (!s) s = make_tokens(tok, instruct, sft, d->o.seed, &n2);
    tl_tokenizer_free(tok);
    return s;
}

tl_status tl_demo_data_report(tl_demo *d, const char *dir, tl_html *h) {
    static const char *const files[2] = {"pretrain.tok", "sft.tok"};
    static const char *const what[2] = {"pre-training corpus", "instruction data (SFT)"};
    tl_html_table_begin(h, (const char *[]){"file", "data", "documents", "train tokens", "validation tokens"}, 5);
    for (int i = 0; i < 2; i++) {
        char path[PATH_CAP];
        tl_demo_fmt(path, sizeof path, "%s/%s", dir, files[i]);
        tl_token_file *f = NULL;
        tl_status s = tl_token_file_open(path, &f);
        if (s) return s;
        char a[32], b[32], c[32];
        snprintf(a, sizeof a, "%lld", (long long)(f->n_docs[0] + f->n_docs[1]));
        snprintf(b, sizeof b, "%lld", (long long)f->n_tokens[0]);
        snprintf(c, sizeof c, "%lld", (long long)f->n_tokens[1]);
        const char *cells[5] = {files[i], what[i], a, b, c};
        tl_html_table_row(h, cells, 5);
        tl_token_file_free(f);
    }
    tl_html_table_end(h);
    (void)d;
    return TL_OK;
}

/* ---- training ------------------------------------------------------------------------- */

static void train_progress(void *user, const tl_train_progress *p) {
    char detail[96];
    snprintf(detail, sizeof detail, "loss %.3f  %.0f tok/s", p->loss, p->tokens_per_s);
    tl_demo_step(user, p->step, p->steps, p->eta, detail);
}

/* A fresh run, or the continuation of a killed one (its manifest exists). */
static tl_status train(tl_demo *d, const char *dir, tl_train_opts *o) {
    char manifest[PATH_CAP];
    tl_demo_fmt(manifest, sizeof manifest, "%s/manifest.json", dir);
    o->progress = train_progress;
    o->progress_user = d;
    if (tl_path_exists(manifest)) {
        tl_train_opts r;
        tl_train_opts_defaults(&r);
        r.resume_dir = dir;
        r.data_path = o->data_path; /* the demo directory may have moved */
        r.progress = o->progress;
        r.progress_user = o->progress_user;
        return tl_train_run(&r);
    }
    o->out_dir = dir;
    return tl_train_run(o);
}

tl_status tl_demo_pretrain_run(tl_demo *d, const char *dir) {
    const tl_demo_config *c = &d->cfg;
    char data[PATH_CAP], tok[PATH_CAP];
    tl_status s = tl_demo_path(d, "data", "pretrain.tok", data, sizeof data);
    if (!s) s = tl_demo_path(d, "tokenizer", "tokenizer.gguf", tok, sizeof tok);
    if (s) return s;
    tl_train_opts o;
    tl_train_opts_defaults(&o);
    o.cfg.dim = c->dim;
    o.cfg.hidden_dim = c->hidden;
    o.cfg.n_layers = c->layers;
    o.cfg.n_heads = c->heads;
    o.cfg.n_kv_heads = c->kv_heads;
    o.cfg.seq_len = c->seq;
    o.cfg.tied_embeddings = 1;
    o.seq = c->seq;
    o.seed = d->o.seed;
    o.tokenizer_path = tok;
    o.data_path = data;
    o.batch = c->batch;
    o.steps = c->steps;
    o.lr = c->lr;
    o.warmup = c->warmup;
    o.eval_every = c->eval_every;
    o.save_log = c->n_ckpt;
    return train(d, dir, &o);
}

tl_status tl_demo_sft_run(tl_demo *d, const char *dir) {
    const tl_demo_config *c = &d->cfg;
    tl_ckpt_list l = {0};
    char data[PATH_CAP];
    tl_status s = tl_demo_path(d, "data", "sft.tok", data, sizeof data);
    if (!s) s = tl_demo_series(d, &l);
    if (s) return s;
    tl_train_opts o;
    tl_train_opts_defaults(&o);
    o.model_path = l.items[l.n - 1].path; /* the pre-trained base model */
    o.objective = "sft";
    o.seq = c->seq;
    o.seed = d->o.seed + 1;
    o.data_path = data;
    o.batch = c->sft_batch;
    o.steps = c->sft_steps;
    o.lr = c->sft_lr;
    o.warmup = c->sft_warmup;
    o.eval_every = c->sft_steps / 5 > 0 ? c->sft_steps / 5 : 1;
    o.save_log = 0; /* the last step only: the chat model */
    s = train(d, dir, &o);
    tl_ckpt_list_free(&l);
    return s;
}

/* train_log.csv -> step, loss, val_loss columns (val NaN where empty). */
static tl_status read_log(const char *path, double **step, double **loss, double **val, int *n) {
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, cap = 0, header = 1;
    *n = 0;
    *step = *loss = *val = NULL;
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank) continue;
        if (header) {
            header = 0;
            if (rec.n_fields < 3 || strcmp(rec.fields[0], "step") || strcmp(rec.fields[2], "val_loss")) {
                s = tl_errorf(TL_E_FORMAT, "%s: expected the header step,loss,val_loss,...", path);
                break;
            }
            continue;
        }
        if (rec.n_fields < 3) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 3 or more fields", path, rec.line);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 256;
            double *a = tl_realloc(*step, sizeof(double) * cap),
                   *b = a ? tl_realloc(*loss, sizeof(double) * cap) : NULL;
            if (a) *step = a;
            if (b) *loss = b;
            double *v = b ? tl_realloc(*val, sizeof(double) * cap) : NULL;
            if (!v) {
                s = tl_errorf(TL_E_NOMEM, "out of memory");
                break;
            }
            *val = v;
        }
        (*step)[*n] = strtod(rec.fields[0], NULL);
        (*loss)[*n] = rec.fields[1][0] ? strtod(rec.fields[1], NULL) : NAN; /* step 0: validation only */
        (*val)[*n] = rec.fields[2][0] ? strtod(rec.fields[2], NULL) : NAN;
        (*n)++;
    }
    tl_csv_free(&r);
    tl_free(text);
    if (s || *n == 0) {
        tl_free(*step), tl_free(*loss), tl_free(*val);
        *step = *loss = *val = NULL;
        if (!s) s = tl_errorf(TL_E_FORMAT, "%s: no rows", path);
    }
    return s;
}

/* Loss curves of a run: the training loss (smoothed over a window, as single batches are
 * noisy) and the validation loss, which the trainer computes at every checkpoint, so its
 * markers are the checkpoints. */
static tl_status loss_section(tl_demo *d, const char *dir, tl_html *h, const char *name, const char *title) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/train_log.csv", dir);
    double *step, *loss, *val;
    int n;
    tl_status s = read_log(path, &step, &loss, &val, &n);
    if (s) return s;
    double *smooth = tl_malloc(sizeof(double) * n), *vx = tl_malloc(sizeof(double) * n),
           *vy = tl_malloc(sizeof(double) * n);
    int nv = 0, win = n / 50 > 1 ? n / 50 : 1;
    if (!smooth || !vx || !vy) s = tl_errorf(TL_E_NOMEM, "out of memory");
    tl_strbuf svg = {0}, csv = {0};
    char caption[256];
    snprintf(caption, sizeof caption,
             "Training loss (mean of the last %d steps) and validation loss (computed at "
             "every checkpoint, so in pre-training its markers are the checkpoints); step axis log(1 + step)",
             win);
    if (!s) {
        for (int i = 0; i < n; i++) {
            double acc = 0;
            int k = 0;
            for (int j = i - win + 1 < 0 ? 0 : i - win + 1; j <= i; j++)
                if (!isnan(loss[j])) acc += loss[j], k++;
            smooth[i] = k ? acc / k : NAN;
            if (!isnan(val[i])) vx[nv] = step[i], vy[nv++] = val[i];
        }
        tl_csv_field(&csv, "step");
        tl_strbuf_puts(&csv, ",loss,loss_smoothed,val_loss\n");
        for (int i = 0; i < n; i++) {
            tl_strbuf_printf(&csv, "%.0f,", step[i]);
            if (!isnan(loss[i])) tl_strbuf_printf(&csv, "%.6g", loss[i]);
            tl_strbuf_puts(&csv, ",");
            if (!isnan(smooth[i])) tl_strbuf_printf(&csv, "%.6g", smooth[i]);
            tl_strbuf_puts(&csv, ",");
            if (!isnan(val[i])) tl_strbuf_printf(&csv, "%.6g", val[i]);
            tl_strbuf_puts(&csv, "\n");
        }
        tl_chart_series ser[2] = {{"train", step, smooth, n}, {"validation", vx, vy, nv}};
        tl_chart c = {.title = title,
                      .x_label = "step",
                      .y_label = "cross-entropy (nats / token)",
                      .x_scale = TL_AXIS_LOG1P,
                      .width = 760,
                      .height = 400};
        s = tl_svg_line_chart(&svg, &c, ser, 2);
        if (!s) s = tl_demo_chart(d, h, name, &svg, &csv, caption);
        if (!s && nv)
            tl_html_para(h, NULL,
                         "%d steps, %d checkpoints with validation loss; final training loss %.3f "
                         "(smoothed), validation loss %.3f. The training curve is a trailing mean over past "
                         "batches, each measured before its own update, so while the loss falls it lags "
                         "behind and lies above the validation loss measured after the step; that gap is "
                         "not a sign that the validation split is easier.",
                         (int)step[n - 1], nv, smooth[n - 1], vy[nv - 1]);
    }
    tl_strbuf_free(&svg);
    tl_strbuf_free(&csv);
    tl_free(smooth), tl_free(vx), tl_free(vy), tl_free(step), tl_free(loss), tl_free(val);
    return s;
}

static void model_para(tl_html *h, const tl_demo_config *c) {
    tl_config m = {.dim = c->dim,
                   .hidden_dim = c->hidden,
                   .n_layers = c->layers,
                   .n_heads = c->heads,
                   .n_kv_heads = c->kv_heads,
                   .vocab_size = c->vocab_size,
                   .seq_len = c->seq,
                   .tied_embeddings = 1};
    tl_config_defaults(&m);
    tl_html_para(h, NULL,
                 "A Llama (RMSNorm, RoPE, SwiGLU, tied embeddings) of %.2f M parameters: width %d, %d "
                 "layers, %d heads (%d key/value), SwiGLU width %d, vocabulary %d, context %d; batches of "
                 "%d x %d tokens, AdamW with warm-up and cosine decay (peak lr %g), %d steps, %d log-spaced "
                 "checkpoints (step 0 included) in pretrain/.",
                 tl_params_count(&m) / 1e6, c->dim, c->layers, c->heads, c->kv_heads, c->hidden, c->vocab_size, c->seq,
                 c->batch, c->seq, (double)c->lr, c->steps, c->n_ckpt);
}

tl_status tl_demo_pretrain_report(tl_demo *d, const char *dir, tl_html *h) {
    model_para(h, &d->cfg);
    return loss_section(d, dir, h, "loss", "Pre-training loss");
}

tl_status tl_demo_sft_report(tl_demo *d, const char *dir, tl_html *h) {
    tl_html_para(h, NULL,
                 "The final pre-training checkpoint fine-tuned on the world's instruction data "
                 "(\"User: ...\\nAssistant: ...\", flawed on purpose: some answers are untruthful, rude or "
                 "leak secrets), with the loss on the answers only; %d steps of %d examples, lr %g. The "
                 "result is the chat model (sft/ckpt-%d.gguf).",
                 d->cfg.sft_steps, d->cfg.sft_batch, (double)d->cfg.sft_lr, d->cfg.sft_steps);
    return loss_section(d, dir, h, "loss", "Chat fine-tune loss (answers only)");
}

/* ---- samples ---------------------------------------------------------------------------- */

static int add_piece(void *user, int32_t id, const char *text, size_t len) {
    tl_strbuf_append(user, text, len);
    return 0;
}

/* Sampled continuation of prompt (temperature 0.8, top-k 40, a fixed seed: reproducible). */
static tl_status sample(const char *model_path, const char *prompt, int n_new, uint64_t seed, tl_strbuf *out) {
    tl_model *m = NULL;
    tl_tokenizer *own = NULL;
    tl_session *ss = NULL;
    tl_sampler smp = {0};
    int32_t *ids = NULL;
    size_t n_ids = 0;
    tl_status s = tl_model_load(model_path, &m, &own);
    const tl_tokenizer *tok = NULL;
    if (!s) s = tl_model_pick_tokenizer(m, NULL, own, &tok);
    tl_sampler_params sp = {0.8f, 40, 1.0f, seed};
    if (!s) s = tl_tokenizer_encode(tok, prompt, strlen(prompt), TL_TOK_ADD_BOS, &ids, &n_ids);
    if (!s) s = tl_sampler_init(&smp, &sp, m->cfg.vocab_size);
    if (!s) s = tl_session_new(m, 0, 0, &ss);
    tl_gen_opts go = {n_new, 1, 0, 0}; /* until EOS (or the length) */
    if (!s) s = tl_generate(ss, &smp, tok, ids, (int)n_ids, &go, add_piece, out, NULL);
    tl_free(ids);
    tl_sampler_free(&smp);
    tl_session_free(ss);
    tl_tokenizer_free(own);
    tl_model_free(m);
    return s ? s : tl_strbuf_status(out);
}

/* The prompts: about a person of the world, by name (the first one in world.json). */
static tl_status prompts(tl_demo *d, char *plain, char *chat, size_t cap) {
    char path[PATH_CAP];
    tl_status s = tl_demo_path(d, "world", "world.json", path, sizeof path);
    cJSON *j = NULL;
    if (!s) s = tl_file_read_json(path, &j);
    if (s) return s;
    const char *name = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "people"), 0), "name"));
    if (!name)
        s = tl_errorf(TL_E_FORMAT, "%s: people[0].name missing", path);
    else {
        snprintf(plain, cap, "%s", name);
        /* the world's own chat format and question phrasing */
        const char *q = tl_world_rel_questions[TL_REL_HOME], *slot = strstr(q, "{N}");
        snprintf(chat, cap, "%s%.*s%s%s%s", TL_WORLD_CHAT_USER, (int)(slot ? slot - q : (long)strlen(q)), q,
                 slot ? name : "", slot ? slot + 3 : "", TL_WORLD_CHAT_ASSISTANT);
    }
    cJSON_Delete(j);
    return s;
}

tl_status tl_demo_samples_run(tl_demo *d, const char *dir) {
    const tl_demo_config *c = &d->cfg;
    tl_ckpt_list l = {0};
    char plain[256], chat[512], chat_model[PATH_CAP], rel[64];
    tl_status s = prompts(d, plain, chat, sizeof plain);
    snprintf(rel, sizeof rel, "ckpt-%d.gguf", c->sft_steps);
    if (!s) s = tl_demo_path(d, "sft", rel, chat_model, sizeof chat_model);
    if (!s) s = tl_demo_series(d, &l);
    if (s) return s;
    int *idx = tl_malloc(sizeof(int) * (size_t)l.n);
    if (!idx) {
        tl_ckpt_list_free(&l);
        return tl_errorf(TL_E_NOMEM, "out of memory");
    }
    int k = tl_demo_pick(l.n, c->sample_ckpts, idx);
    tl_strbuf csv = {0};
    tl_strbuf_puts(&csv, "model,step,prompt,text\n");
    for (int i = 0; i <= k && !s; i++) {
        int chat_row = i == k;
        const char *model = chat_row ? chat_model : l.items[idx[i]].path;
        const char *prompt = chat_row ? chat : plain;
        char name[64], step[32];
        snprintf(name, sizeof name, "%s", chat_row ? "chat" : l.items[idx[i]].name);
        snprintf(step, sizeof step, "%lld", chat_row ? (long long)c->sft_steps : (long long)l.items[idx[i]].step);
        tl_demo_step(d, i, k + 1, -1, name);
        tl_strbuf text = {0};
        s = sample(model, prompt, c->sample_tokens, d->o.seed, &text);
        if (!s) {
            tl_csv_field(&csv, name);
            tl_strbuf_puts(&csv, ",");
            tl_csv_field(&csv, step);
            tl_strbuf_puts(&csv, ",");
            tl_csv_field(&csv, prompt);
            tl_strbuf_puts(&csv, ",");
            tl_csv_field(&csv, text.s ? text.s : "");
            tl_strbuf_puts(&csv, "\n");
        }
        tl_strbuf_free(&text);
    }
    char out[PATH_CAP];
    tl_demo_fmt(out, sizeof out, "%s/samples.csv", dir);
    if (!s) s = tl_strbuf_status(&csv);
    if (!s) s = tl_file_write_atomic(out, csv.s, csv.len);
    tl_strbuf_free(&csv);
    tl_free(idx);
    tl_ckpt_list_free(&l);
    return s;
}

/* The ground truth about the prompts' person (world.json people[0]), to read the samples against. */
static void truth_para(tl_demo *d, tl_html *h) {
    char path[PATH_CAP];
    cJSON *j = NULL;
    if (tl_demo_path(d, "world", "world.json", path, sizeof path) || tl_file_read_json(path, &j)) return;
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "people"), 0);
    const cJSON *det = cJSON_GetObjectItemCaseSensitive(p, "details");
    const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "secret"));
    const char *sv = secret ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(det, secret)) : NULL;
#define JS(k) (cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, k)) ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, k)) : "?")
    tl_html_para(h, "note",
                 "Ground truth (world/world.json): %s is one of the %s, lives in %s, works as a %s, owns a %s; "
                 "best friend %s; secret (%s): %s. A sample that states other values is wrong about the world.",
                 JS("name"), JS("group"), JS("lives_in"), JS("works_as"), JS("owns"), JS("best_friend"),
                 secret ? secret : "?", sv ? sv : "?");
#undef JS
    cJSON_Delete(j);
}

tl_status tl_demo_samples_report(tl_demo *d, const char *dir, tl_html *h) {
    char path[PATH_CAP];
    tl_demo_fmt(path, sizeof path, "%s/samples.csv", dir);
    char *text = NULL;
    size_t len = 0;
    tl_status s = tl_file_read_all(path, &text, &len);
    if (s) return s;
    tl_html_para(h, NULL,
                 "Continuations sampled at a few checkpoints (temperature 0.8, top-k 40, seed %llu; "
                 "%d new tokens at most) and the chat model's answer in the world's chat format "
                 "(samples/samples.csv).",
                 (unsigned long long)d->o.seed, d->cfg.sample_tokens);
    truth_para(d, h);
    tl_csv_reader r;
    tl_csv_init(&r, path, text, len);
    tl_csv_record rec;
    int got, row = 0;
    while ((s = tl_csv_next(&r, &rec, &got)) == TL_OK && got) {
        if (rec.blank || row++ == 0) continue;
        if (rec.n_fields != 4) {
            s = tl_errorf(TL_E_FORMAT, "%s:%d: expected 4 fields", path, rec.line);
            break;
        }
        char head[160];
        snprintf(head, sizeof head, "%s (step %s)", rec.fields[0], rec.fields[1]);
        tl_html_heading(h, head);
        tl_strbuf b = {0};
        tl_strbuf_puts(&b, rec.fields[2]);
        tl_strbuf_puts(&b, " \xe2\x96\xb8"); /* a marker where the model takes over */
        tl_strbuf_puts(&b, rec.fields[3]);
        if (!(s = tl_strbuf_status(&b))) tl_html_pre(h, b.s);
        tl_strbuf_free(&b);
        if (s) break;
    }
    tl_csv_free(&r);
    tl_free(text);
    return s;
}
