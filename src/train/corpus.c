/*
 * corpus.c: text and JSONL files -> documents -> token ids in a tl_token_builder.
 *
 *   text:  one document per paragraph (lines up to a blank line, joined by '\n'),
 *          or one per non-blank line; '\r' before a newline is dropped.
 *   jsonl: one JSON object per non-blank line, {"text": ...} or {"prompt": ...,
 *          "completion": ...}. For the latter the document is prompt + completion + EOS
 *          and its prompt length is the number of leading tokens it shares with the
 *          prompt tokenized alone: tokenizing the concatenation keeps the tokenizer's
 *          own segmentation at the seam (no doubled dummy-prefix space), and a token
 *          that straddles the seam counts as completion.
 *   .ids:  token ids already made elsewhere: one document per non-blank line of
 *          whitespace-separated decimal ids, with an optional "|" after the prompt.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "format/format.h" /* internal: model, base */
#include "tiller/train.h"

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
    return 1;
}

/* Documents start with BOS when the vocabulary has one (GPT-2 style ones do not). */
static int bos_flag(const tl_tokenizer *tok) { return tl_tokenizer_bos(tok) >= 0; }

static tl_status add_text(tl_token_builder *b, const tl_tokenizer *tok, const char *text, size_t n,
                          tl_corpus_opts *opts) {
    int32_t *ids = NULL;
    size_t nid = 0;
    tl_status s = tl_tokenizer_encode(tok, text, n, bos_flag(tok), &ids, &nid);
    if (s) return s;
    s = tl_token_builder_add(b, ids, nid, 0);
    tl_free(ids);
    if (s == TL_OK) opts->n_docs++;
    return s;
}

static tl_status add_sft(tl_token_builder *b, const tl_tokenizer *tok, const char *prompt,
                         const char *completion, tl_corpus_opts *opts) {
    size_t np = strlen(prompt), nc = strlen(completion);
    char *both = tl_malloc(np + nc + 1);
    if (!both) return tl_errorf(TL_E_NOMEM, "out of memory");
    memcpy(both, prompt, np);
    memcpy(both + np, completion, nc + 1);
    int32_t *full = NULL, *pre = NULL;
    size_t nfull = 0, npre = 0;
    tl_status s = tl_tokenizer_encode(tok, both, np + nc, bos_flag(tok), &full, &nfull);
    tl_free(both);
    if (s == TL_OK) s = tl_tokenizer_encode(tok, prompt, np, bos_flag(tok), &pre, &npre);
    if (s == TL_OK) {
        size_t k = 0;
        while (k < npre && k < nfull && pre[k] == full[k]) k++;
        int32_t eos = tl_tokenizer_eos(tok);
        if (eos >= 0) {
            int32_t *g = tl_realloc(full, (nfull + 1) * sizeof *full);
            if (!g) s = tl_errorf(TL_E_NOMEM, "out of memory");
            else {
                full = g;
                full[nfull++] = eos;
            }
        }
        if (s == TL_OK) s = tl_token_builder_add(b, full, nfull, k);
    }
    tl_free(full);
    tl_free(pre);
    if (s == TL_OK) opts->n_docs++;
    return s;
}

static tl_status read_text(tl_token_builder *b, const tl_tokenizer *tok, const char *path,
                           const char *data, size_t size, tl_corpus_opts *opts) {
    /* Paragraph mode gathers lines into buf; line mode hands each line over directly. */
    char *buf = tl_malloc(size + 1);
    if (!buf) return tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
    size_t nbuf = 0;
    tl_status s = TL_OK;
    int64_t line_no = 0, doc_line = 0;
    for (size_t at = 0; at <= size && s == TL_OK;) {
        const char *nl = at < size ? memchr(data + at, '\n', size - at) : NULL;
        size_t end = nl ? (size_t)(nl - data) : size, n = end - at;
        if (n && data[at + n - 1] == '\r') n--;
        line_no++;
        int blank = is_blank(data + at, n);
        if (opts->lines) {
            if (!blank) s = add_text(b, tok, data + at, n, opts);
            if (s) doc_line = line_no;
        } else if (!blank) {
            if (nbuf) buf[nbuf++] = '\n';
            else doc_line = line_no;
            memcpy(buf + nbuf, data + at, n);
            nbuf += n;
        }
        if (!opts->lines && (blank || !nl) && nbuf) {
            s = add_text(b, tok, buf, nbuf, opts);
            nbuf = 0;
        }
        if (!nl) break;
        at = end + 1;
    }
    tl_free(buf);
    if (s) return tl_error_prefix(s, "%s: document at line %lld", path, (long long)doc_line);
    return TL_OK;
}

/* The string member `key` of obj: NULL with *bad set when present but not a string. */
static const char *member_string(const cJSON *obj, const char *key, int *present, int *bad) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *present = v != NULL;
    *bad = v && !cJSON_IsString(v);
    return v && cJSON_IsString(v) ? v->valuestring : NULL;
}

static tl_status read_jsonl_line(tl_token_builder *b, const tl_tokenizer *tok, const char *path,
                                 int64_t line_no, const char *line, size_t n, tl_corpus_opts *opts) {
    cJSON *obj = cJSON_ParseWithLength(line, n);
    if (!obj) return tl_errorf(TL_E_FORMAT, "%s: line %lld: not valid JSON", path, (long long)line_no);
    tl_status s = TL_OK;
    int has_t, bad_t, has_p, bad_p, has_c, bad_c;
    const char *text = NULL, *prompt = NULL, *completion = NULL;
    if (!cJSON_IsObject(obj)) {
        s = tl_errorf(TL_E_FORMAT, "%s: line %lld: expected a JSON object", path, (long long)line_no);
        goto done;
    }
    text = member_string(obj, "text", &has_t, &bad_t);
    prompt = member_string(obj, "prompt", &has_p, &bad_p);
    completion = member_string(obj, "completion", &has_c, &bad_c);
    const char *bad = bad_t ? "text" : bad_p ? "prompt" : bad_c ? "completion" : NULL;
    if (bad) {
        s = tl_errorf(TL_E_FORMAT, "%s: line %lld: field \"%s\" is not a string", path, (long long)line_no, bad);
    } else if (has_t && (has_p || has_c)) {
        s = tl_errorf(TL_E_FORMAT, "%s: line %lld: both \"text\" and \"prompt\"/\"completion\" (expected one form)",
                      path, (long long)line_no);
    } else if (has_t) {
        if (is_blank(text, strlen(text))) opts->n_skipped++;
        else s = add_text(b, tok, text, strlen(text), opts);
    } else if (has_p && has_c) {
        s = add_sft(b, tok, prompt, completion, opts);
    } else {
        s = tl_errorf(TL_E_FORMAT, "%s: line %lld: missing field \"%s\" (expected \"text\", or \"prompt\" and \"completion\")",
                      path, (long long)line_no, has_p ? "completion" : has_c ? "prompt" : "text");
    }
    if (s && s != TL_E_FORMAT) s = tl_error_prefix(s, "%s: line %lld", path, (long long)line_no);
done:
    cJSON_Delete(obj);
    return s;
}

static tl_status read_jsonl(tl_token_builder *b, const tl_tokenizer *tok, const char *path,
                            const char *data, size_t size, tl_corpus_opts *opts) {
    int64_t line_no = 0;
    for (size_t at = 0; at < size;) {
        const char *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size;
        line_no++;
        if (!is_blank(data + at, end - at)) {
            tl_status s = read_jsonl_line(b, tok, path, line_no, data + at, end - at, opts);
            if (s) return s;
        }
        at = end + 1;
    }
    return TL_OK;
}

static tl_status read_ids(tl_token_builder *b, const char *path, const char *data, size_t size,
                          tl_corpus_opts *opts) {
    int32_t *ids = NULL;
    size_t cap = 0;
    tl_status s = TL_OK;
    int64_t line_no = 0;
    for (size_t at = 0; at < size && s == TL_OK;) {
        const char *nl = memchr(data + at, '\n', size - at);
        size_t end = nl ? (size_t)(nl - data) : size, n = 0, prompt = 0;
        int has_bar = 0;
        line_no++;
        for (size_t i = at; i < end && s == TL_OK;) {
            char c = data[i];
            if (c == ' ' || c == '\t' || c == '\r') {
                i++;
            } else if (c == '|' && !has_bar) {
                has_bar = 1;
                prompt = n;
                i++;
            } else if (c >= '0' && c <= '9') {
                int64_t v = 0;
                while (i < end && data[i] >= '0' && data[i] <= '9' && v <= INT32_MAX) v = v * 10 + (data[i++] - '0');
                if (v >= b->vocab_size) {
                    s = tl_errorf(TL_E_RANGE, "%s: line %lld: token id %lld outside the vocabulary of %d", path,
                                  (long long)line_no, (long long)v, b->vocab_size);
                } else if (n == cap) {
                    size_t nc = cap ? cap * 2 : 256;
                    int32_t *g = tl_realloc(ids, nc * sizeof *ids);
                    if (!g) s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
                    else {
                        ids = g;
                        cap = nc;
                    }
                }
                if (s == TL_OK) ids[n++] = (int32_t)v;
            } else {
                s = tl_errorf(TL_E_FORMAT, "%s: line %lld: unexpected '%c' (expected token ids and at most one '|')",
                              path, (long long)line_no, c);
            }
        }
        if (s == TL_OK && n) {
            s = tl_token_builder_add(b, ids, n, prompt);
            if (s == TL_OK) opts->n_docs++;
        }
        at = end + 1;
    }
    tl_free(ids);
    return s;
}

tl_status tl_corpus_add_file(tl_token_builder *b, const tl_tokenizer *tok, const char *path,
                             tl_corpus_opts *opts) {
    int ids = !strcmp(tl_path_ext(path), ".ids");
    if (!tok && !ids)
        return tl_errorf(TL_E_ARG, "%s: text needs a tokenizer (only .ids files are read without one)", path);
    if (tok && tl_tokenizer_n_vocab(tok) > b->vocab_size)
        return tl_errorf(TL_E_ARG, "%s: tokenizer has %d tokens, the token file %d", path,
                         tl_tokenizer_n_vocab(tok), b->vocab_size);
    char *data = NULL;
    size_t size = 0;
    tl_status s = tl_file_read_all(path, &data, &size);
    if (s) return s;
    if (ids) s = read_ids(b, path, data, size, opts);
    else if (!strcmp(tl_path_ext(path), ".jsonl")) s = read_jsonl(b, tok, path, data, size, opts);
    else s = read_text(b, tok, path, data, size, opts);
    tl_free(data);
    return s;
}
