/* selfalign_train.c: SELF-ALIGN's stage 3 (principle engraving) and the training
 * half of stage 4 (verbose cloning): SFT of a model on (instruction -> answer)
 * pairs in the plain chat format, with no principles, exemplars or thoughts. The
 * pairs become out_dir/sft.jsonl and out_dir/sft.tok (tl_corpus_add_file's
 * prompt/completion documents: the prompt is not predicted, an EOS ends the
 * answer), and tl_train_run trains with the existing "sft" objective. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "model/model.h" /* internal */
#include "format/format.h" /* internal: model, base */
#include "tiller/selfalign.h"

void tl_sa_engrave_opts_default(tl_sa_engrave_opts *o) {
    memset(o, 0, sizeof *o);
    o->steps = 200, o->batch = 16, o->seq = 0, o->warmup = 10;
    o->lr = 5e-4f;
    o->seed = 1;
}

/* sft.jsonl from the stage-2 (or verbose) file: {"prompt": "User: I\nAssistant:", "completion": " A"}. */
static tl_status write_pairs(const char *in, const char *out, int *n_pairs) {
    char **instr = NULL, **ans = NULL;
    int n = 0, m = 0;
    tl_status s = tl_sa_read_field(in, "instruction", &instr, &n);
    if (!s) s = tl_sa_read_field(in, "answer", &ans, &m);
    if (!s && n == 0) s = tl_errorf(TL_E_FORMAT, "%s: no (instruction, answer) pair", in);
    tl_strbuf b = {0}, p = {0}, c = {0};
    for (int i = 0; i < n && !s; i++) {
        p.len = c.len = 0;
        tl_sa_plain_prompt(&p, instr[i]);
        tl_strbuf_printf(&c, " %s", ans[i]);
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "prompt", p.s ? p.s : "");
            cJSON_AddStringToObject(o, "completion", c.s ? c.s : "");
        }
        char *t = o ? cJSON_PrintUnformatted(o) : NULL;
        if (!t) s = tl_errorf(TL_E_NOMEM, "selfalign: out of memory");
        else {
            tl_strbuf_puts(&b, t);
            tl_strbuf_puts(&b, "\n");
        }
        cJSON_free(t);
        cJSON_Delete(o);
    }
    if (!s) s = tl_strbuf_status(&b);
    if (!s) s = tl_file_write_atomic(out, b.s, b.len);
    *n_pairs = n;
    tl_strbuf_free(&b);
    tl_strbuf_free(&p);
    tl_strbuf_free(&c);
    tl_sa_strings_free(instr, n);
    tl_sa_strings_free(ans, m);
    return s;
}

tl_status tl_sa_engrave(const tl_sa_engrave_opts *o, char *model_out, size_t cap) {
    if (!o->model_path || !o->in_path || !o->out_dir)
        return tl_errorf(TL_E_ARG, "selfalign engrave: model, input and output directory are required");
    if (o->steps < 1 || o->batch < 1) return tl_errorf(TL_E_ARG, "selfalign engrave: steps and batch must be >= 1");
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST)
        return tl_errorf(TL_E_IO, "%s: cannot create directory: %s", o->out_dir, strerror(errno));
    if (!tl_path_is_dir(o->out_dir)) return tl_errorf(TL_E_IO, "%s: not a directory", o->out_dir);
    char pairs[4096], tok_path[4096];
    int np = snprintf(pairs, sizeof pairs, "%s/sft.jsonl", o->out_dir);
    int nt = snprintf(tok_path, sizeof tok_path, "%s/sft.tok", o->out_dir);
    int nm = snprintf(model_out, cap, "%s/ckpt-%d.gguf", o->out_dir, o->steps);
    if (np >= (int)sizeof pairs || nt >= (int)sizeof tok_path || nm < 0 || (size_t)nm >= cap)
        return tl_errorf(TL_E_RANGE, "%s: path too long", o->out_dir);
    int n = 0;
    tl_status s = write_pairs(o->in_path, pairs, &n);
    if (s) return s;
    /* the tokenizer: the given file, or the model's */
    tl_tokenizer *tok = NULL;
    tl_sa_model sm = {0};
    if (o->tokenizer_path) s = tl_tokenizer_load(o->tokenizer_path, &tok);
    else s = tl_sa_model_load(o->model_path, NULL, &sm);
    if (s) return s;
    const tl_tokenizer *t = tok ? tok : sm.tok;
    tl_token_builder b;
    s = tl_token_builder_init(&b, tl_tokenizer_n_vocab(t));
    if (!s) {
        tl_corpus_opts co = {0};
        s = tl_corpus_add_file(&b, t, pairs, &co);
        /* a small validation split when there are enough pairs (the trainer logs its loss) */
        if (!s) s = tl_token_builder_write(&b, tok_path, n >= 20 ? 0.05 : 0.0, o->seed);
        tl_token_builder_free(&b);
    }
    tl_tokenizer_free(tok);
    tl_sa_model_free(&sm);
    if (s) return s;
    tl_train_opts to;
    tl_train_opts_defaults(&to);
    to.model_path = o->model_path;
    to.tokenizer_path = o->tokenizer_path;
    to.data_path = tok_path;
    to.objective = "sft";
    to.batch = o->batch;
    to.seq = o->seq;
    to.steps = o->steps;
    to.lr = o->lr;
    to.warmup = o->warmup < o->steps ? o->warmup : 0;
    to.seed = o->seed;
    to.eval_every = n >= 20 ? (o->steps / 4 > 0 ? o->steps / 4 : 1) : 0;
    to.eval_batches = 2;
    to.save_log = 0;
    to.out_dir = o->out_dir;
    to.progress = o->progress;
    to.progress_user = o->user;
    return tl_train_run(&to);
}
