/* Text and JSONL -> documents, with the real stories260K tokenizer (tok512.bin):
 *   - paragraphs (blank-line separated, CRLF tolerated) and --lines documents equal the
 *     tokenizer's own encoding of each, BOS first;
 *   - {"prompt","completion"}: the document is encode(prompt + completion) + EOS and its
 *     prompt length is the tokens it shares with encode(prompt);
 *   - malformed JSONL (invalid JSON, not an object, missing or mistyped fields, both
 *     forms at once) -> TL_E_FORMAT naming the file and the line. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <sys/stat.h>
#include <string.h>

#include "testlib.h"
#include "format/format.h" /* internal: model, base */
#include "tiller/tokenizer.h"
#include "tiller/train.h"


/* Remove the test's scratch directory (tl_test_tmpdir) and everything in it. */
static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}
static void rm_tmpdir(void) { nftw(tl_test_tmpdir(), rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static char pbuf[1024];
static const char *write_tmp(const char *name, const char *text) {
    snprintf(pbuf, sizeof pbuf, "%s/%s", tl_test_tmpdir(), name);
    FILE *f = fopen(pbuf, "wb");
    fputs(text, f);
    fclose(f);
    return pbuf;
}

/* Document d of the builder equals encode(text) (+ eos when >= 0). */
static int doc_is(const tl_token_builder *b, const tl_tokenizer *tok, int64_t d, const char *text, int32_t eos) {
    int32_t *ids = NULL;
    size_t n = 0;
    if (tl_tokenizer_encode(tok, text, strlen(text), 1, &ids, &n) != TL_OK) return 0;
    size_t len = (size_t)(b->doc_off[d + 1] - b->doc_off[d]);
    int ok = len == n + (eos >= 0);
    for (size_t i = 0; i < n && ok; i++) {
        uint16_t v;
        memcpy(&v, b->tokens + (b->doc_off[d] + i) * 2, 2);
        ok = v == ids[i];
    }
    if (ok && eos >= 0) {
        uint16_t v;
        memcpy(&v, b->tokens + (b->doc_off[d] + n) * 2, 2);
        ok = v == eos;
    }
    tl_free(ids);
    return ok;
}

static size_t n_tokens(const tl_tokenizer *tok, const char *text) {
    int32_t *ids = NULL;
    size_t n = 0;
    tl_tokenizer_encode(tok, text, strlen(text), 1, &ids, &n);
    tl_free(ids);
    return n;
}

int main(void) {
    tl_tokenizer *tok = NULL;
    CHECK_OK(tl_tokenizer_load(tl_test_shared("models/stories260K/tok512.bin"), &tok));
    if (!tok) return tl_test_done();
    tl_token_builder b;

    /* paragraphs */
    const char *p = write_tmp("a.txt", "Once upon a time\r\nthere was a cat.\r\n\r\n  \n\nLily went to the park.\nShe was happy.");
    CHECK_OK(tl_token_builder_init(&b, 512));
    tl_corpus_opts co = {0};
    CHECK_OK(tl_corpus_add_file(&b, tok, p, &co));
    CHECK(co.n_docs == 2 && b.n_docs == 2, "paragraphs: %lld", (long long)co.n_docs);
    CHECK(doc_is(&b, tok, 0, "Once upon a time\nthere was a cat.", -1), "paragraph 1 = encode(lines joined by \\n)");
    CHECK(doc_is(&b, tok, 1, "Lily went to the park.\nShe was happy.", -1), "paragraph 2 (no final newline)");
    CHECK(!b.any_prompt, "plain text has no prompts");
    tl_token_builder_free(&b);

    /* lines */
    CHECK_OK(tl_token_builder_init(&b, 512));
    tl_corpus_opts lo = {.lines = 1};
    CHECK_OK(tl_corpus_add_file(&b, tok, p, &lo));
    CHECK(lo.n_docs == 4 && doc_is(&b, tok, 1, "there was a cat.", -1) && doc_is(&b, tok, 3, "She was happy.", -1),
          "lines: %lld documents", (long long)lo.n_docs);
    tl_token_builder_free(&b);

    /* JSONL: text and SFT */
    p = write_tmp("a.jsonl", "{\"text\": \"Hello world\"}\n"
                             "{\"prompt\": \"Q: who is Tom?\", \"completion\": \" Tom is a dog.\"}\n"
                             "\n"
                             "{\"text\": \"   \"}\n"
                             "{\"prompt\": \"The cat\", \"completion\": \"s ran.\", \"id\": 7}\n");
    CHECK_OK(tl_token_builder_init(&b, 512));
    tl_corpus_opts jo = {0};
    CHECK_OK(tl_corpus_add_file(&b, tok, p, &jo));
    int32_t eos = tl_tokenizer_eos(tok);
    CHECK(jo.n_docs == 3 && jo.n_skipped == 1, "jsonl: %lld documents, %lld skipped", (long long)jo.n_docs,
          (long long)jo.n_skipped);
    CHECK(eos >= 0, "tok512 has EOS");
    CHECK(doc_is(&b, tok, 0, "Hello world", -1) && b.prompt_len[0] == 0, "text document");
    CHECK(doc_is(&b, tok, 1, "Q: who is Tom? Tom is a dog.", eos), "SFT document = prompt + completion + EOS");
    CHECK(b.prompt_len[1] == n_tokens(tok, "Q: who is Tom?"), "SFT prompt length %u = tokens of the prompt (%zu)",
          b.prompt_len[1], n_tokens(tok, "Q: who is Tom?"));
    /* a seam inside a word: the straddling token counts as completion */
    size_t pl = b.prompt_len[2], np = n_tokens(tok, "The cat");
    CHECK(doc_is(&b, tok, 2, "The cats ran.", eos) && pl <= np && pl >= 1, "seam inside a word: prompt %zu of %zu", pl, np);
    CHECK(b.any_prompt, "SFT documents mark the file");
    tl_token_builder_free(&b);

    /* malformed JSONL */
    struct {
        const char *text, *want;
    } bad[] = {
        {"{\"text\": \"ok\"}\n{\"text\": \"unterminated}\n", "line 2: not valid JSON"},
        {"[1, 2]\n", "line 1: expected a JSON object"},
        {"{\"txt\": \"a\"}\n", "line 1: missing field \"text\""},
        {"{\"prompt\": \"a\"}\n", "missing field \"completion\""},
        {"{\"completion\": \"a\"}\n", "missing field \"prompt\""},
        {"{\"text\": 5}\n", "field \"text\" is not a string"},
        {"{\"prompt\": \"a\", \"completion\": null}\n", "field \"completion\" is not a string"},
        {"\n\n{\"text\": \"a\", \"prompt\": \"b\", \"completion\": \"c\"}\n", "line 3: both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        p = write_tmp("bad.jsonl", bad[i].text);
        CHECK_OK(tl_token_builder_init(&b, 512));
        tl_corpus_opts e = {0};
        tl_status s = tl_corpus_add_file(&b, tok, p, &e);
        CHECK(s == TL_E_FORMAT && strstr(tl_last_error(), "bad.jsonl") && strstr(tl_last_error(), bad[i].want),
              "case %zu: %s: '%s' (want '%s')", i, tl_status_string(s), tl_last_error(), bad[i].want);
        tl_token_builder_free(&b);
    }
    /* a tokenizer larger than the builder's vocabulary */
    CHECK_OK(tl_token_builder_init(&b, 100));
    CHECK(tl_corpus_add_file(&b, tok, p, &co) == TL_E_ARG, "vocabulary mismatch: %s", tl_last_error());
    tl_token_builder_free(&b);
    tl_tokenizer_free(tok);
    rm_tmpdir();
    return tl_test_done();
}
