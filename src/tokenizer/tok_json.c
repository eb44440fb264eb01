/* tok_json.c: Hugging Face tokenizer.json, read and written (cJSON).
 *
 * Read: model.type "BPE" with a ByteLevel pre-tokenizer (GPT-2: vocab +
 * merges) or with byte_fallback (Llama's SentencePiece converted: scores are
 * recovered from merge order, the earliest merge scoring highest), or
 * model.type "Unigram" (vocab as [piece, score] pairs: read as SentencePiece
 * BPE by score, which is how llama.cpp treats such vocabularies).
 * added_tokens become control (special: true) or user-defined tokens.
 * Written: the GPT-2 layout for byte-level BPE; for SentencePiece a BPE model
 * with byte_fallback whose merges are derived from the vocabulary (every
 * split of a piece into two pieces, ordered by the piece's score), with the
 * Prepend/Replace normalizer and the matching decoder. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tok_internal.h"
#include "unicode.h"

static int is_byte_piece(const char *s, size_t n) {
    return n == 6 && !memcmp(s, "<0x", 3) && s[5] == '>' && strchr("0123456789ABCDEFabcdef", s[3]) &&
           strchr("0123456789ABCDEFabcdef", s[4]);
}

/* Does a pre_tokenizer (or a Sequence of them) contain one of this type? */
static int has_type(const cJSON *node, const char *type, const char *list_key) {
    if (!cJSON_IsObject(node)) return 0;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(node, "type");
    if (cJSON_IsString(ty) && !strcmp(ty->valuestring, type)) return 1;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(node, list_key), *it;
    cJSON_ArrayForEach(it, list) if (has_type(it, type, list_key)) return 1;
    return 0;
}

/* The regex of the first Split pre-tokenizer in the tree, or NULL. */
static const char *split_regex(const cJSON *node) {
    if (!cJSON_IsObject(node)) return NULL;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(node, "type");
    if (cJSON_IsString(ty) && !strcmp(ty->valuestring, "Split")) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(node, "pattern"), "Regex");
        return cJSON_IsString(re) ? re->valuestring : NULL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(node, "pretokenizers")) {
        const char *r = split_regex(it);
        if (r) return r;
    }
    return NULL;
}

/* The tokenizer.ggml.pre name of a byte-level BPE tokenizer.json: GPT-2's ByteLevel regex,
 * or a Split pattern llama.cpp's converter maps to a name (pretok.c has them); NULL if
 * the Split pattern is another. */
static const char *bpe_pre_name(const cJSON *pre) {
    static const char *const known[][2] = {
        {"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", "gpt-2"},
        {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
         "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
         "llama-bpe"},
        {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
         "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
         "qwen2"},
    };
    const char *re = split_regex(pre);
    if (!re) return "gpt-2"; /* ByteLevel with its own (GPT-2) regex */
    for (size_t i = 0; i < sizeof known / sizeof *known; i++)
        if (!strcmp(re, known[i][0])) return known[i][1];
    return NULL;
}

typedef struct {
    const char *path;
    int n;
    const char **text; /* [n] borrowed from the cJSON tree */
    float *score;
    int32_t *type;
} staging;

static tl_status stage_set(staging *st, int64_t id, const char *text, float score, int32_t type) {
    if (id < 0 || id >= st->n) return tl_errorf(TL_E_FORMAT, "%s: token '%s' has id %lld outside 0..%d", st->path, text, (long long)id, st->n - 1);
    st->text[id] = text;
    st->score[id] = score;
    st->type[id] = type;
    return TL_OK;
}

static tl_status parse_json(const char *path, const cJSON *root, tl_tokenizer **out) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *mtype = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
    if (!cJSON_IsString(mtype)) return tl_errorf(TL_E_FORMAT, "%s: missing model.type", path);
    int unigram = !strcmp(mtype->valuestring, "Unigram");
    if (!unigram && strcmp(mtype->valuestring, "BPE"))
        return tl_errorf(TL_E_UNSUPPORTED, "%s: model.type '%s' is not supported (BPE or Unigram)", path, mtype->valuestring);
    if (unigram ? !cJSON_IsArray(vocab) : !cJSON_IsObject(vocab))
        return tl_errorf(TL_E_FORMAT, "%s: model.vocab is missing or not a%s", path, unigram ? "n array" : "n object");
    const cJSON *bf = cJSON_GetObjectItemCaseSensitive(model, "byte_fallback");
    tl_tokenizer_kind kind = unigram || cJSON_IsTrue(bf) ? TL_TOK_SPM : TL_TOK_BPE;
    if (kind == TL_TOK_BPE && !has_type(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), "ByteLevel", "pretokenizers"))
        return tl_errorf(TL_E_UNSUPPORTED, "%s: a BPE model without byte_fallback needs a ByteLevel pre_tokenizer", path);
    const char *pre_name = kind == TL_TOK_BPE ? bpe_pre_name(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")) : NULL;
    if (kind == TL_TOK_BPE && !pre_name)
        return tl_errorf(TL_E_UNSUPPORTED,
                         "%s: pre_tokenizer Split pattern '%.80s' is not supported (tiller knows GPT-2's, Llama 3's and "
                         "Qwen2's)",
                         path, split_regex(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")));

    /* the vocabulary size: one past the largest id */
    int64_t max_id = unigram ? cJSON_GetArraySize(vocab) - 1 : -1;
    if (max_id >= TL_TOK_MAX_VOCAB)
        return tl_errorf(TL_E_FORMAT, "%s: model.vocab has %lld entries, more than the %d a vocabulary may have", path,
                         (long long)max_id + 1, TL_TOK_MAX_VOCAB);
    const cJSON *it;
    if (!unigram)
        cJSON_ArrayForEach(it, vocab) {
            if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= TL_TOK_MAX_VOCAB)
                return tl_errorf(TL_E_FORMAT, "%s: model.vocab['%s'] is not a valid id (0 .. %d)", path, it->string,
                                 TL_TOK_MAX_VOCAB - 1);
            if ((int64_t)it->valuedouble > max_id) max_id = (int64_t)it->valuedouble;
        }
    cJSON_ArrayForEach(it, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= TL_TOK_MAX_VOCAB)
            return tl_errorf(TL_E_FORMAT, "%s: added_tokens entry without a valid id (0 .. %d)", path,
                             TL_TOK_MAX_VOCAB - 1);
        if ((int64_t)id->valuedouble > max_id) max_id = (int64_t)id->valuedouble;
    }
    if (max_id < 0) return tl_errorf(TL_E_FORMAT, "%s: empty vocabulary", path);
    staging st = {path, (int)max_id + 1, NULL, NULL, NULL};
    st.text = tl_calloc((size_t)st.n, sizeof *st.text);
    st.score = tl_calloc((size_t)st.n, sizeof *st.score);
    st.type = tl_calloc((size_t)st.n, sizeof *st.type);
    tl_tokenizer *t = NULL;
    tl_status s = !st.text || !st.score || !st.type ? tl_errorf(TL_E_NOMEM, "%s: out of memory", path) : TL_OK;
    int64_t i = 0;
    if (unigram) {
        cJSON_ArrayForEach(it, vocab) {
            const cJSON *p = cJSON_GetArrayItem(it, 0), *sc = cJSON_GetArrayItem(it, 1);
            if (s) break;
            if (!cJSON_IsString(p) || !cJSON_IsNumber(sc)) {
                s = tl_errorf(TL_E_FORMAT, "%s: model.vocab[%lld] is not [piece, score]", path, (long long)i);
                break;
            }
            s = stage_set(&st, i++, p->valuestring, (float)sc->valuedouble, TL_TOKEN_NORMAL);
        }
    } else {
        /* SentencePiece converted to BPE keeps no scores; rank the pieces by merge order below */
        cJSON_ArrayForEach(it, vocab) {
            if (s) break;
            s = stage_set(&st, (int64_t)it->valuedouble, it->string, -1e9f, TL_TOKEN_NORMAL);
        }
    }
    cJSON_ArrayForEach(it, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id"), *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (s) break;
        if (!cJSON_IsString(c)) {
            s = tl_errorf(TL_E_FORMAT, "%s: added_tokens entry %d has no content", path, (int)id->valuedouble);
            break;
        }
        int special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
        int64_t k = (int64_t)id->valuedouble;
        int32_t type = !special ? TL_TOKEN_USER_DEFINED
                       : cJSON_IsString(unk) && !strcmp(unk->valuestring, c->valuestring) ? TL_TOKEN_UNKNOWN
                                                                                          : TL_TOKEN_CONTROL;
        s = stage_set(&st, k, c->valuestring, k < st.n && st.text[k] ? st.score[k] : 0.0f, type);
    }
    for (int k = 0; !s && k < st.n; k++)
        if (!st.text[k]) s = tl_errorf(TL_E_FORMAT, "%s: no token has id %d", path, k);
    if (!s) s = tl_tok_new(kind, st.n, &t);
    for (int k = 0; !s && k < st.n; k++) {
        size_t n = strlen(st.text[k]);
        int32_t type = st.type[k];
        if (kind == TL_TOK_SPM && type == TL_TOKEN_NORMAL && is_byte_piece(st.text[k], n)) type = TL_TOKEN_BYTE;
        s = tl_tok_set(t, k, st.text[k], n, st.score[k], type);
    }
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    i = 0;
    if (!unigram)
        cJSON_ArrayForEach(it, merges) {
            if (s) break;
            const char *l = NULL, *r = NULL;
            size_t ln = 0, rn = 0;
            if (cJSON_IsString(it)) { /* "left right" */
                const char *m = it->valuestring, *sp = m[0] ? strchr(m + 1, ' ') : NULL;
                if (sp) {
                    l = m;
                    ln = (size_t)(sp - m);
                    r = sp + 1;
                    rn = strlen(r);
                }
            } else if (cJSON_GetArraySize(it) == 2 && cJSON_IsString(cJSON_GetArrayItem(it, 0)) &&
                       cJSON_IsString(cJSON_GetArrayItem(it, 1))) { /* ["left", "right"] */
                l = cJSON_GetArrayItem(it, 0)->valuestring;
                r = cJSON_GetArrayItem(it, 1)->valuestring;
                ln = strlen(l);
                rn = strlen(r);
            }
            if (!l) {
                s = tl_errorf(TL_E_FORMAT, "%s: model.merges[%lld] is not a pair", path, (long long)i);
                break;
            }
            if (kind == TL_TOK_BPE) {
                s = tl_tok_add_merge(t, l, ln, r, rn, path);
            } else if (!(s = tl_tok_build_index(t, path))) {
                char *cat = tl_malloc(ln + rn + 1);
                if (!cat) {
                    s = tl_errorf(TL_E_NOMEM, "%s: out of memory", path);
                    break;
                }
                memcpy(cat, l, ln);
                memcpy(cat + ln, r, rn);
                int32_t id = tl_tok_lookup(t, cat, ln + rn);
                tl_free(cat);
                if (id >= 0 && t->score[id] == -1e9f) t->score[id] = -(float)i; /* first merge making it */
            }
            i++;
        }
    if (!s) {
        t->unk = tl_tok_lookup(t, "<unk>", 5);
        if (kind == TL_TOK_SPM) {
            t->bos = tl_tok_lookup(t, "<s>", 3);
            t->eos = tl_tok_lookup(t, "</s>", 4);
            t->add_bos = t->bos >= 0;
            const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
            const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
            t->add_space_prefix = has_type(norm, "Prepend", "normalizers") || has_type(pre, "Metaspace", "pretokenizers");
        } else {
            t->bos = t->eos = tl_tok_lookup(t, "<|endoftext|>", 13);
            snprintf(t->pre, sizeof t->pre, "%s", pre_name);
        }
        s = tl_tok_finish(t, path, NULL);
    }
    tl_free(st.text);
    tl_free(st.score);
    tl_free(st.type);
    if (s) {
        tl_tokenizer_free(t);
        return s;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_tokenizer_parse_json(const char *data, size_t size, const char *name, tl_tokenizer **out) {
    *out = NULL;
    if (size > TL_TOK_MAX_JSON_BYTES)
        return tl_errorf(TL_E_FORMAT, "%s: %zu bytes, more than the %zu a tokenizer.json may have", name, size,
                         TL_TOK_MAX_JSON_BYTES);
    cJSON *root = cJSON_ParseWithLength(data, size);
    tl_status s;
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        s = tl_errorf(TL_E_FORMAT, "%s: malformed JSON near byte %lld", name,
                      at && at >= data && at <= data + size ? (long long)(at - data) : -1LL);
    } else {
        s = parse_json(name, root, out);
    }
    cJSON_Delete(root);
    return s;
}

tl_status tl_tokenizer_load_json(const char *path, tl_tokenizer **out) {
    *out = NULL;
    char *data;
    size_t size;
    tl_status s = tl_file_read_all(path, &data, &size);
    if (s) return s;
    s = tl_tokenizer_parse_json(data, size, path, out);
    tl_free(data);
    return s;
}

/* ---- writing ------------------------------------------------------------------ */

typedef struct {
    float score;
    int32_t id, a, b;
} merge_cand;

static int cmp_cand(const void *x, const void *y) {
    const merge_cand *p = x, *q = y;
    if (p->score != q->score) return p->score > q->score ? -1 : 1;
    if (p->id != q->id) return p->id < q->id ? -1 : 1;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    return (p->b > q->b) - (p->b < q->b);
}

/* Every split of a normal piece into two pieces, best piece first. */
static tl_status spm_merges(const tl_tokenizer *t, merge_cand **out, size_t *n_out) {
    size_t n = 0, cap = 1024;
    merge_cand *v = tl_malloc(cap * sizeof *v);
    if (!v) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        if (t->type[id] != TL_TOKEN_NORMAL) continue;
        const char *s = tl_tok_text(t, id);
        for (size_t k = tl_utf8_len((uint8_t)s[0]); k < t->len[id]; k += tl_utf8_len((uint8_t)s[k])) {
            int32_t a = tl_tok_lookup(t, s, k), b = tl_tok_lookup(t, s + k, t->len[id] - k);
            if (a < 0 || b < 0) continue;
            if (n == cap) {
                merge_cand *nv = tl_realloc(v, 2 * cap * sizeof *nv);
                if (!nv) {
                    tl_free(v);
                    return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
                }
                v = nv;
                cap *= 2;
            }
            v[n++] = (merge_cand){t->score[id], id, a, b};
        }
    }
    qsort(v, n, sizeof *v, cmp_cand);
    *out = v;
    *n_out = n;
    return TL_OK;
}

static cJSON *str_item(const char *s, size_t n) {
    char *tmp = tl_malloc(n + 1);
    if (!tmp) return NULL;
    memcpy(tmp, s, n);
    tmp[n] = 0;
    cJSON *j = cJSON_CreateString(tmp);
    tl_free(tmp);
    return j;
}

static cJSON *build_json(const tl_tokenizer *t) {
    int spm = t->kind == TL_TOK_SPM;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    cJSON *added = cJSON_AddArrayToObject(root, "added_tokens");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        int32_t ty = t->type[id];
        if (ty != TL_TOKEN_CONTROL && ty != TL_TOKEN_USER_DEFINED && ty != TL_TOKEN_UNKNOWN) continue;
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "id", id);
        cJSON_AddItemToObject(a, "content", str_item(tl_tok_text(t, id), t->len[id]));
        cJSON_AddBoolToObject(a, "single_word", 0);
        cJSON_AddBoolToObject(a, "lstrip", 0);
        cJSON_AddBoolToObject(a, "rstrip", 0);
        cJSON_AddBoolToObject(a, "normalized", ty == TL_TOKEN_USER_DEFINED);
        cJSON_AddBoolToObject(a, "special", ty != TL_TOKEN_USER_DEFINED);
        cJSON_AddItemToArray(added, a);
    }
    cJSON *model = cJSON_CreateObject(), *norm, *dec;
    if (spm) {
        norm = cJSON_AddObjectToObject(root, "normalizer");
        cJSON_AddStringToObject(norm, "type", "Sequence");
        cJSON *list = cJSON_AddArrayToObject(norm, "normalizers"), *n1;
        if (t->add_space_prefix) {
            n1 = cJSON_CreateObject();
            cJSON_AddStringToObject(n1, "type", "Prepend");
            cJSON_AddStringToObject(n1, "prepend", "\xe2\x96\x81");
            cJSON_AddItemToArray(list, n1);
        }
        n1 = cJSON_CreateObject();
        cJSON_AddStringToObject(n1, "type", "Replace");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(n1, "pattern"), "String", " ");
        cJSON_AddStringToObject(n1, "content", "\xe2\x96\x81");
        cJSON_AddItemToArray(list, n1);
        cJSON_AddNullToObject(root, "pre_tokenizer");
        cJSON_AddNullToObject(root, "post_processor");
        dec = cJSON_AddObjectToObject(root, "decoder");
        cJSON_AddStringToObject(dec, "type", "Sequence");
        cJSON *dl = cJSON_AddArrayToObject(dec, "decoders"), *d;
        d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", "Replace");
        cJSON_AddStringToObject(cJSON_AddObjectToObject(d, "pattern"), "String", "\xe2\x96\x81");
        cJSON_AddStringToObject(d, "content", " ");
        cJSON_AddItemToArray(dl, d);
        d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", "ByteFallback");
        cJSON_AddItemToArray(dl, d);
        d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "type", "Fuse");
        cJSON_AddItemToArray(dl, d);
        if (t->add_space_prefix) {
            d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "type", "Strip");
            cJSON_AddStringToObject(d, "content", " ");
            cJSON_AddNumberToObject(d, "start", 1);
            cJSON_AddNumberToObject(d, "stop", 0);
            cJSON_AddItemToArray(dl, d);
        }
    } else {
        cJSON_AddNullToObject(root, "normalizer");
        cJSON *pre = cJSON_AddObjectToObject(root, "pre_tokenizer");
        cJSON_AddStringToObject(pre, "type", "ByteLevel");
        cJSON_AddBoolToObject(pre, "add_prefix_space", 0);
        cJSON_AddBoolToObject(pre, "trim_offsets", 1);
        cJSON_AddBoolToObject(pre, "use_regex", 1);
        cJSON_AddNullToObject(root, "post_processor");
        dec = cJSON_AddObjectToObject(root, "decoder");
        cJSON_AddStringToObject(dec, "type", "ByteLevel");
        cJSON_AddBoolToObject(dec, "add_prefix_space", 1);
        cJSON_AddBoolToObject(dec, "trim_offsets", 1);
        cJSON_AddBoolToObject(dec, "use_regex", 1);
    }
    cJSON_AddItemToObject(root, "model", model);
    cJSON_AddStringToObject(model, "type", "BPE");
    cJSON_AddNullToObject(model, "dropout");
    if (spm && t->unk >= 0) cJSON_AddItemToObject(model, "unk_token", str_item(tl_tok_text(t, t->unk), t->len[t->unk]));
    else cJSON_AddNullToObject(model, "unk_token");
    cJSON_AddNullToObject(model, "continuing_subword_prefix");
    cJSON_AddNullToObject(model, "end_of_word_suffix");
    cJSON_AddBoolToObject(model, "fuse_unk", spm);
    cJSON_AddBoolToObject(model, "byte_fallback", spm);
    cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
    for (int32_t id = 0; id < t->n_vocab; id++) {
        char *key = tl_malloc(t->len[id] + 1);
        if (!key) {
            cJSON_Delete(root);
            return NULL;
        }
        memcpy(key, tl_tok_text(t, id), t->len[id] + 1);
        cJSON_AddNumberToObject(vocab, key, id);
        tl_free(key);
    }
    cJSON *merges = cJSON_AddArrayToObject(model, "merges");
    if (spm) {
        merge_cand *mc = NULL;
        size_t nm = 0;
        if (spm_merges(t, &mc, &nm)) {
            cJSON_Delete(root);
            return NULL;
        }
        for (size_t k = 0; k < nm; k++) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, str_item(tl_tok_text(t, mc[k].a), t->len[mc[k].a]));
            cJSON_AddItemToArray(pair, str_item(tl_tok_text(t, mc[k].b), t->len[mc[k].b]));
            cJSON_AddItemToArray(merges, pair);
        }
        tl_free(mc);
    } else {
        for (uint32_t k = 0; k < t->n_merges; k++) {
            int32_t a = t->merge_left[k], b = t->merge_right[k];
            size_t n = (size_t)t->len[a] + 1 + t->len[b];
            char *m = tl_malloc(n + 1);
            if (!m) {
                cJSON_Delete(root);
                return NULL;
            }
            memcpy(m, tl_tok_text(t, a), t->len[a]);
            m[t->len[a]] = ' ';
            memcpy(m + t->len[a] + 1, tl_tok_text(t, b), t->len[b] + 1);
            cJSON_AddItemToArray(merges, cJSON_CreateString(m));
            tl_free(m);
        }
    }
    return root;
}

tl_status tl_tokenizer_save_json(const tl_tokenizer *t, const char *path) {
    /* the writer spells GPT-2's ByteLevel pre-tokenizer only: another would be silently wrong */
    if (t->kind == TL_TOK_BPE && strcmp(t->pre, "gpt-2") && strcmp(t->pre, "gpt2") && strcmp(t->pre, "mpt"))
        return tl_errorf(TL_E_UNSUPPORTED, "%s: cannot write a tokenizer.json for the '%s' pre-tokenizer (tiller writes GPT-2's only)",
                         path, t->pre);
    cJSON *root = build_json(t);
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory building tokenizer.json", path);
    tl_status s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return s;
}

/* tokenizer_config.json for a Hugging Face directory: the special tokens by text and
 * whether BOS/EOS are added, which is what transformers' AutoTokenizer needs beside
 * tokenizer.json. */
tl_status tl_tokenizer_save_hf_config(const tl_tokenizer *t, const char *path, int model_max_length) {
    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    int32_t ids[3] = {t->bos, t->eos, t->unk};
    const char *keys[3] = {"bos_token", "eos_token", "unk_token"};
    for (int i = 0; i < 3 && ok; i++) {
        cJSON *v = ids[i] >= 0 ? str_item(tl_tok_text(t, ids[i]), t->len[ids[i]]) : cJSON_CreateNull();
        ok = v && cJSON_AddItemToObject(root, keys[i], v);
    }
    ok = ok && cJSON_AddBoolToObject(root, "add_bos_token", t->add_bos) &&
         cJSON_AddBoolToObject(root, "add_eos_token", t->add_eos) &&
         cJSON_AddBoolToObject(root, "clean_up_tokenization_spaces", 0) &&
         cJSON_AddNumberToObject(root, "model_max_length", model_max_length) &&
         cJSON_AddStringToObject(root, "tokenizer_class",
                                 t->kind == TL_TOK_SPM ? "LlamaTokenizerFast" : "PreTrainedTokenizerFast");
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text) return tl_errorf(TL_E_NOMEM, "%s: out of memory building tokenizer_config.json", path);
    tl_status s = tl_file_write_atomic(path, text, strlen(text));
    cJSON_free(text);
    return s;
}
