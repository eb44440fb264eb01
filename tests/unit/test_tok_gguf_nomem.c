/* Allocation failure: fail the n-th allocation, for every n, while loading a
 * GGUF model with its vocabulary, loading tokenizers (.bin, .gguf, .json),
 * encoding, and saving GGUF / tokenizer files. Each attempt must either
 * succeed or return TL_E_NOMEM, leak nothing (ASan build) and leave no file. */
#include <string.h>

#include "format/format.h"
#include "testlib.h"
#include "tiller/tokenizer.h"

typedef tl_status (*attempt_fn)(const char *arg);

static char out_path[300];

static tl_status load_model(const char *path) {
    tl_model *m = NULL;
    tl_status s = tl_model_load(path, &m, NULL);
    tl_model_free(m);
    return s;
}

static tl_status load_encode(const char *path) {
    tl_tokenizer *t = NULL;
    tl_status s = tl_tokenizer_load(path, &t);
    if (!s) {
        int32_t *ids = NULL;
        size_t n;
        const char *text = "Hello </s> wörld, it's 2024!  \t🦙";
        s = tl_tokenizer_encode(t, text, strlen(text), TL_TOK_PARSE_SPECIAL, &ids, &n);
        tl_free(ids);
    }
    tl_tokenizer_free(t);
    return s;
}

static tl_status save_model(const char *path) {
    tl_model *m = NULL;
    tl_tokenizer *tok = NULL;
    tl_status s = tl_model_load(path, &m, &tok);
    if (!s) s = tl_gguf_model_save(m, tok, out_path, TL_DTYPE_F16);
    tl_tokenizer_free(tok);
    tl_model_free(m);
    return s;
}

static tl_status save_tokenizer(const char *path) {
    tl_tokenizer *t = NULL;
    tl_status s = tl_tokenizer_load(path, &t);
    if (!s) s = tl_tokenizer_save(t, out_path);
    tl_tokenizer_free(t);
    return s;
}

static void sweep(const char *label, attempt_fn fn, const char *arg) {
    int n, bad = 0, leftover = 0;
    for (n = 1; n < 100000; n++) {
        remove(out_path);
        tl_alloc_fail_after(n);
        tl_status s = fn(arg);
        tl_alloc_fail_after(0);
        if (s == TL_OK) break; /* the n-th allocation was never reached */
        if (s != TL_E_NOMEM) {
            bad++;
            fprintf(stderr, "%s: failing allocation %d gave %s: %s\n", label, n, tl_status_string(s), tl_last_error());
        }
        leftover += tl_path_exists(out_path);
    }
    printf("%s: %d allocation failures, each TL_E_NOMEM\n", label, n - 1);
    CHECK(bad == 0 && leftover == 0 && n > 1, "%s: %d wrong statuses, %d files left", label, bad, leftover);
    remove(out_path);
}

int main(void) {
    char model[300], bin[300], spm[300], gpt2[300], json[300];
    snprintf(model, sizeof model, "%s/m.gguf", tl_test_tmpdir());
    snprintf(json, sizeof json, "%s/gpt2.json", tl_test_tmpdir());
    snprintf(bin, sizeof bin, "%s", tl_test_shared("models/stories260K/tok512.bin"));
    snprintf(spm, sizeof spm, "%s", tl_test_shared("models/tokenizers/ggml-vocab-llama-spm.gguf"));
    snprintf(gpt2, sizeof gpt2, "%s", tl_test_shared("models/tokenizers/ggml-vocab-gpt-2.gguf"));
    /* a small model with a vocabulary */
    tl_model *m = NULL;
    CHECK_OK(tl_model_load(tl_test_shared("models/stories260K/stories260K.bin"), &m, NULL));
    if (m) {
        tl_tokenizer *vocab = NULL;
        CHECK_OK(tl_tokenizer_load(bin, &vocab));
        CHECK_OK(tl_model_save(m, vocab, model));
        tl_tokenizer_free(vocab);
        tl_model_free(m);
    }
    tl_tokenizer *t = NULL;
    CHECK_OK(tl_tokenizer_load(gpt2, &t));
    if (t) CHECK_OK(tl_tokenizer_save(t, json));
    tl_tokenizer_free(t);

    snprintf(out_path, sizeof out_path, "%s/out.gguf", tl_test_tmpdir());
    sweep("load GGUF model + vocabulary", load_model, model);
    sweep("load tok512.bin + encode", load_encode, bin);
    sweep("load llama-spm GGUF + encode", load_encode, spm);
    sweep("load gpt-2 GGUF + encode", load_encode, gpt2);
    sweep("load gpt-2 tokenizer.json + encode", load_encode, json);
    sweep("save GGUF model (F16)", save_model, model);
    snprintf(out_path, sizeof out_path, "%s/out.json", tl_test_tmpdir());
    sweep("save tokenizer.json", save_tokenizer, bin);
    remove(model);
    remove(json);
    return tl_test_done();
}
