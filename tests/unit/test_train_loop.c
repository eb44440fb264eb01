/* The trainer as a library call (tl_train_run):
 *   - a short run writes the files the manifest names, with losses in the log;
 *   - a damaged run directory (manifest fields missing or of the wrong type, invalid
 *     JSON, a state file with a flipped byte or cut short, a model of another shape)
 *     makes --resume fail with a message naming the file and the field, never a crash;
 *   - every allocation of a whole run failing in turn gives TL_E_NOMEM (under ASan: no
 *     leak, no invalid access) and never a half-written file. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"


/* Remove the test's scratch directory (tl_test_tmpdir) and everything in it. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}
static void rm_tmpdir(void) { nftw(tl_test_tmpdir(), rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char buf[1024];
static const char *tmp(const char *name) {
    snprintf(buf, sizeof buf, "%s/%s", tl_test_tmpdir(), name);
    return buf;
}

static void make_data(const char *path) {
    tl_token_builder b;
    CHECK_OK(tl_token_builder_init(&b, 64));
    int32_t ids[40];
    for (int d = 0; d < 60; d++) {
        int n = 10 + d % 30;
        ids[0] = 1;
        for (int i = 1; i < n; i++) ids[i] = 2 + (d + 3 * i) % 62;
        CHECK_OK(tl_token_builder_add(&b, ids, (size_t)n, 0));
    }
    CHECK_OK(tl_token_builder_write(&b, path, 0.1, 1));
    tl_token_builder_free(&b);
}

static void opts_for(tl_train_opts *o, const char *data, const char *dir) {
    tl_train_opts_defaults(o);
    o->data_path = data;
    o->out_dir = dir;
    o->cfg.dim = 16;
    o->cfg.hidden_dim = 32;
    o->cfg.n_layers = 1;
    o->cfg.n_heads = 2;
    o->cfg.tied_embeddings = 1;
    o->cfg.seq_len = 16;
    o->seq = 16;
    o->batch = 2;
    o->steps = 6;
    o->warmup = 2;
    o->save_every = 3;
    o->eval_every = 3;
    o->eval_batches = 2;
}

static char *slurp(const char *path) {
    char *d = NULL;
    size_t n;
    if (tl_file_read_all(path, &d, &n) != TL_OK) return NULL;
    return d;
}

static void spit(const char *path, const char *text, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

static void copy_dir(const char *from, const char *to) {
    mkdir(to, 0777);
    DIR *d = opendir(from);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char a[1400], b[1400];
        snprintf(a, sizeof a, "%s/%s", from, e->d_name);
        snprintf(b, sizeof b, "%s/%s", to, e->d_name);
        char *data = NULL;
        size_t n = 0;
        if (tl_file_read_all(a, &data, &n) == TL_OK) spit(b, data, n);
        tl_free(data);
    }
    if (d) closedir(d);
}

/* Resume from a copy of `good` with `edit` applied to one file; expect failure naming `want`. */
static void damaged(const char *good, const char *file, const char *find, const char *repl, long cut,
                    const char *want, const char *what) {
    static int k;
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/damaged-%d", tl_test_tmpdir(), k++);
    copy_dir(good, dir);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    char *text = NULL;
    size_t n = 0;
    tl_file_read_all(path, &text, &n);
    if (!text) {
        CHECK(0, "%s: cannot read %s", what, path);
        return;
    }
    if (find) {
        char *at = strstr(text, find);
        CHECK(at != NULL, "%s: '%s' not in %s", what, find, file);
        if (at) {
            size_t fl = strlen(find), rl = strlen(repl);
            char *out = malloc(n + rl + 1);
            memcpy(out, text, (size_t)(at - text));
            memcpy(out + (at - text), repl, rl);
            memcpy(out + (at - text) + rl, at + fl, n - (size_t)(at - text) - fl);
            spit(path, out, n - fl + rl);
            free(out);
        }
    } else if (cut >= 0) {
        spit(path, text, (size_t)cut);
    } else { /* flip a byte in the middle */
        text[n / 2] ^= 0x40;
        spit(path, text, n);
    }
    tl_free(text);
    tl_train_opts o;
    tl_train_opts_defaults(&o);
    o.resume_dir = dir;
    tl_status s = tl_train_run(&o);
    CHECK(s != TL_OK && strstr(tl_last_error(), want), "%s: status %s, message '%s' (want '%s')", what,
          tl_status_string(s), tl_last_error(), want);
}

int main(void) {
    char data[1024], run[1024];
    snprintf(data, sizeof data, "%s", tmp("d.tok"));
    snprintf(run, sizeof run, "%s", tmp("run"));
    make_data(data);

    tl_train_opts o;
    opts_for(&o, data, run);
    o.steps = 3; /* stop early: a resumable run at step 3 */
    CHECK_OK(tl_train_run(&o));
    char p[1100];
    snprintf(p, sizeof p, "%s/manifest.json", run);
    char *manifest = slurp(p);
    CHECK(manifest && strstr(manifest, "\"ckpt-3.gguf\"") && strstr(manifest, "\"optim-3.bin\""),
          "manifest names checkpoint 3 and its state");
    free(manifest);
    snprintf(p, sizeof p, "%s/train_log.csv", run);
    char *log = slurp(p);
    CHECK(log && !strncmp(log, "step,loss,val_loss,lr,grad_norm,tokens_per_s\n1,", 47) && strstr(log, "\n3,"),
          "log header and rows: %.80s", log ? log : "(none)");
    tl_free(log);

    damaged(run, "manifest.json", "\"lr\":", "\"lr_x\":", -1, "train.lr", "missing train.lr");
    damaged(run, "manifest.json", "\"batch\":\t", "\"batch\":\t\"2\",\"x\":", -1, "train.batch", "batch is a string");
    damaged(run, "manifest.json", "\"seed\":\t\"", "\"seed\":\t\"x", -1, "\"seed\"", "seed not a number");
    damaged(run, "manifest.json", "\"dim\":", "\"dimension\":", -1, "\"dim\"", "missing model.dim");
    damaged(run, "manifest.json", "\"format\":\t\"tiller-train\"", "\"format\":\t\"other\"", -1, "not a tiller training manifest", "wrong format");
    damaged(run, "manifest.json", NULL, NULL, 40, "not valid JSON", "truncated manifest");
    damaged(run, "manifest.json", "\"state\":\t\"optim-3.bin\"", "\"state\":\tnull", -1, "no checkpoint with optimiser state", "no state");
    damaged(run, "manifest.json", "\"state\":\t\"optim-3.bin\"", "\"state\":\t\"../x.bin\"", -1, "\"state\"", "state path escapes the run");
    damaged(run, "manifest.json", "\"data_fingerprint\":\t\"", "\"data_fingerprint\":\t\"1", -1, "not the token file", "other data");
    damaged(run, "optim-3.bin", NULL, NULL, -1, "checksum mismatch", "flipped byte in the state");
    damaged(run, "optim-3.bin", NULL, NULL, 1000, "truncated", "state cut short");
    damaged(run, "optim-3.bin", NULL, NULL, 5, "bad magic", "state cut to 5 bytes");
    damaged(run, "ckpt-3.gguf", NULL, NULL, 100, "ckpt-3.gguf", "model file cut short");

    /* the intact run resumes (to its own length: 3 steps, already done) */
    tl_train_opts r;
    tl_train_opts_defaults(&r);
    r.resume_dir = run;
    CHECK_OK(tl_train_run(&r));

    /* bad options are rejected before anything is written */
    tl_train_opts b;
    opts_for(&b, data, tmp("bad"));
    b.lr = -1;
    CHECK(tl_train_run(&b) == TL_E_ARG && strstr(tl_last_error(), "learning rate"), "lr < 0: %s", tl_last_error());
    opts_for(&b, data, tmp("bad"));
    b.seq = 32; /* beyond the model's context of 16 */
    CHECK(tl_train_run(&b) == TL_E_ARG && strstr(tl_last_error(), "exceeds the model's context"), "T > context: %s",
          tl_last_error());
    opts_for(&b, data, tmp("bad"));
    b.cfg.vocab_size = 32; /* the data has ids up to 63 */
    CHECK(tl_train_run(&b) == TL_E_ARG && strstr(tl_last_error(), "vocabulary"), "vocab too small: %s", tl_last_error());
    CHECK(!tl_path_exists(tmp("bad")), "nothing written for rejected options");

    /* allocation failures anywhere in a whole run (6 steps, 2 checkpoints, evals) */
    int nomem = 0, other = 0, ok_at = 0;
    for (long k = 1; k < 2000 && !ok_at; k++) {
        char dir[64];
        snprintf(dir, sizeof dir, "nomem-%ld", k);
        char dpath[1100];
        snprintf(dpath, sizeof dpath, "%s", tmp(dir));
        tl_train_opts n;
        opts_for(&n, data, dpath);
        tl_alloc_fail_after(k);
        tl_status s = tl_train_run(&n);
        tl_alloc_fail_after(0);
        if (s == TL_OK) ok_at = (int)k;
        else if (s == TL_E_NOMEM) nomem++;
        else {
            other++;
            fprintf(stderr, "allocation %ld: %s: %s\n", k, tl_status_string(s), tl_last_error());
        }
    }
    printf("allocation failures: %d reported as TL_E_NOMEM, %d otherwise; the run succeeds from allocation %d\n",
           nomem, other, ok_at);
    CHECK(nomem > 10 && other == 0 && ok_at > 0, "every allocation failure is TL_E_NOMEM");
    rm_tmpdir();
    return tl_test_done();
}
