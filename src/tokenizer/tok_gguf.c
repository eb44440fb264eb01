/* tok_gguf.c: the tokenizer as GGUF metadata (tokenizer.ggml.*), read and
 * written. Keys: model ("llama" = SentencePiece BPE, "gpt2" = byte-level BPE),
 * pre, tokens, scores, token_type, merges ("left right"), bos/eos/unknown/
 * padding token ids, add_bos_token, add_eos_token, add_space_prefix. */
#include <stdlib.h>
#include <string.h>

#include "tok_gguf.h"
#include "pretok.h"
#include "tok_internal.h"

/* A special token id; llama.cpp writes an absent one as 0xFFFFFFFF (LLAMA_TOKEN_NULL, -1
 * as int32), which means "none" here too. */
static tl_status opt_id(const tl_gguf *g, const char *key, int n_vocab, int32_t *id) {
    if (!tl_gguf_find(g, key)) return TL_OK;
    int64_t v;
    if (!tl_gguf_get_int(g, key, -1, 0xFFFFFFFFll, &v) && (v == -1 || v == 0xFFFFFFFFll)) {
        *id = -1;
        return TL_OK;
    }
    tl_status s = tl_gguf_get_int(g, key, 0, (int64_t)n_vocab - 1, &v);
    if (s) return s;
    *id = (int32_t)v;
    return TL_OK;
}

static tl_status opt_bool(const tl_gguf *g, const char *key, int *v) {
    return tl_gguf_find(g, key) ? tl_gguf_get_bool(g, key, v) : TL_OK;
}

static tl_status read_merges(const tl_gguf *g, tl_tokenizer *t) {
    const tl_gguf_kv *kv;
    tl_status s = tl_gguf_get_arr(g, "tokenizer.ggml.merges", TL_GGUF_STRING, &kv);
    if (s) return s;
    if (kv->n > (1u << 26))
        return tl_errorf(TL_E_FORMAT, "%s: tokenizer.ggml.merges has %llu entries", g->path, (unsigned long long)kv->n);
    tl_gguf_iter it;
    tl_gguf_str m;
    tl_gguf_iter_init(kv, &it);
    while (tl_gguf_iter_next(&it, &m)) {
        /* split at the first space after the first byte, as llama.cpp does */
        const char *sp = m.n > 1 ? memchr(m.s + 1, ' ', m.n - 1) : NULL;
        if (!sp)
            return tl_errorf(TL_E_FORMAT, "%s: tokenizer.ggml.merges[%llu] = '%.*s' is not 'left right'", g->path,
                             (unsigned long long)(it.i - 1), (int)(m.n > 64 ? 64 : m.n), m.s);
        size_t ln = (size_t)(sp - m.s);
        if ((s = tl_tok_add_merge(t, m.s, ln, sp + 1, m.n - ln - 1, g->path)) != TL_OK) return s;
    }
    return TL_OK;
}

tl_status tl_tokenizer_from_gguf(const tl_gguf *g, tl_tokenizer **out) {
    *out = NULL;
    tl_gguf_str model;
    tl_status s = tl_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (s) return s;
    tl_tokenizer_kind kind;
    if (tl_gguf_str_eq(model, "llama")) kind = TL_TOK_SPM;
    else if (tl_gguf_str_eq(model, "gpt2")) kind = TL_TOK_BPE;
    else
        return tl_errorf(TL_E_UNSUPPORTED, "%s: tokenizer.ggml.model '%.*s' is not supported (llama or gpt2)", g->path,
                         (int)(model.n > 64 ? 64 : model.n), model.s);
    const tl_gguf_kv *tokens, *scores = NULL, *types = NULL;
    if ((s = tl_gguf_get_arr(g, "tokenizer.ggml.tokens", TL_GGUF_STRING, &tokens)) != TL_OK) return s;
    if (tokens->n == 0 || tokens->n > (1u << 24))
        return tl_errorf(TL_E_FORMAT, "%s: tokenizer.ggml.tokens has %llu entries", g->path,
                         (unsigned long long)tokens->n);
    if (tl_gguf_find(g, "tokenizer.ggml.scores") &&
        (s = tl_gguf_get_arr(g, "tokenizer.ggml.scores", TL_GGUF_F32, &scores)) != TL_OK)
        return s;
    if (tl_gguf_find(g, "tokenizer.ggml.token_type") &&
        (s = tl_gguf_get_arr(g, "tokenizer.ggml.token_type", TL_GGUF_I32, &types)) != TL_OK)
        return s;
    if ((scores && scores->n != tokens->n) || (types && types->n != tokens->n))
        return tl_errorf(TL_E_FORMAT, "%s: tokenizer.ggml.%s has %llu entries for %llu tokens", g->path,
                         scores && scores->n != tokens->n ? "scores" : "token_type",
                         (unsigned long long)(scores && scores->n != tokens->n ? scores->n : types->n),
                         (unsigned long long)tokens->n);
    tl_tokenizer *t;
    int n = (int)tokens->n;
    if ((s = tl_tok_new(kind, n, &t)) != TL_OK) return tl_error_prefix(s, "%s", g->path);
    tl_gguf_iter it;
    tl_gguf_str str;
    tl_gguf_iter_init(tokens, &it);
    for (int i = 0; !s && tl_gguf_iter_next(&it, &str); i++) {
        int32_t type = types ? tl_gguf_arr_i32(types, (uint64_t)i) : TL_TOKEN_NORMAL;
        if (type < 0 || type > TL_TOKEN_BYTE) type = TL_TOKEN_UNDEFINED;
        s = tl_tok_set(t, i, str.s, str.n, scores ? tl_gguf_arr_f32(scores, (uint64_t)i) : 0.0f, type);
    }
    if (kind == TL_TOK_SPM) { /* llama.cpp's defaults for SentencePiece vocabularies */
        t->unk = 0;
        t->bos = n > 1 ? 1 : -1;
        t->eos = n > 2 ? 2 : -1;
        t->add_bos = 1;
    }
    if (!s) s = opt_id(g, "tokenizer.ggml.bos_token_id", n, &t->bos);
    if (!s) s = opt_id(g, "tokenizer.ggml.eos_token_id", n, &t->eos);
    if (!s) s = opt_id(g, "tokenizer.ggml.unknown_token_id", n, &t->unk);
    if (!s) s = opt_id(g, "tokenizer.ggml.padding_token_id", n, &t->pad);
    if (!s) s = opt_id(g, "tokenizer.ggml.eot_token_id", n, &t->eot);
    if (!s) s = opt_id(g, "tokenizer.ggml.eom_token_id", n, &t->eom);
    if (!s) s = opt_bool(g, "tokenizer.ggml.add_bos_token", &t->add_bos);
    if (!s) s = opt_bool(g, "tokenizer.ggml.add_eos_token", &t->add_eos);
    if (!s && kind == TL_TOK_SPM) s = opt_bool(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix);
    if (!s && tl_gguf_find(g, "tokenizer.ggml.pre")) {
        tl_gguf_str pre;
        if ((s = tl_gguf_get_str(g, "tokenizer.ggml.pre", &pre)) == TL_OK) {
            if (kind == TL_TOK_BPE && !tl_pretok_lookup(pre.s, pre.n, NULL, NULL))
                s = tl_errorf(TL_E_UNSUPPORTED, "%s: tokenizer.ggml.pre '%.*s' is not supported (tiller knows %s)",
                              g->path, (int)(pre.n > 64 ? 64 : pre.n), pre.s, tl_pretok_supported());
            else
                snprintf(t->pre, sizeof t->pre, "%.*s", (int)(pre.n < 31 ? pre.n : 31), pre.s);
        }
    } else if (!s && kind == TL_TOK_BPE) {
        /* as llama.cpp: a BPE vocabulary without the key (GPT-NeoX conversions of old)
         * gets the "default" pre-tokenizer, not GPT-2's */
        snprintf(t->pre, sizeof t->pre, "default");
    }
    if (!s && kind == TL_TOK_BPE) s = read_merges(g, t);
    char name[128] = "";
    tl_gguf_str gn;
    if (!s && tl_gguf_find(g, "general.name") && tl_gguf_get_str(g, "general.name", &gn) == TL_OK)
        snprintf(name, sizeof name, "%.*s", (int)(gn.n < 127 ? gn.n : 127), gn.s);
    if (!s) s = tl_tok_finish(t, g->path, name);
    if (s) {
        tl_tokenizer_free(t);
        return s;
    }
    *out = t;
    return TL_OK;
}

tl_status tl_tokenizer_write_gguf(const tl_tokenizer *t, tl_gguf_writer *w) {
    size_t n = (size_t)t->n_vocab;
    const char **strs = tl_malloc(n * sizeof *strs);
    if (!strs) return tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i < n; i++) strs[i] = tl_tok_text(t, (int32_t)i);
    tl_status s = tl_gguf_write_str(w, "tokenizer.ggml.model", t->kind == TL_TOK_SPM ? "llama" : "gpt2");
    if (!s) s = tl_gguf_write_str(w, "tokenizer.ggml.pre", t->pre);
    if (!s) s = tl_gguf_write_arr_str(w, "tokenizer.ggml.tokens", strs, t->len, n);
    if (!s && t->kind == TL_TOK_SPM) s = tl_gguf_write_arr(w, "tokenizer.ggml.scores", TL_GGUF_F32, t->score, n);
    if (!s) s = tl_gguf_write_arr(w, "tokenizer.ggml.token_type", TL_GGUF_I32, t->type, n);
    tl_free(strs);
    if (!s && t->kind == TL_TOK_BPE) {
        char **merges = tl_calloc(t->n_merges ? t->n_merges : 1, sizeof *merges);
        uint32_t *lens = tl_calloc(t->n_merges ? t->n_merges : 1, sizeof *lens);
        if (!merges || !lens) s = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
        for (uint32_t k = 0; k < t->n_merges && !s; k++) {
            int32_t a = t->merge_left[k], b = t->merge_right[k];
            lens[k] = t->len[a] + 1 + t->len[b];
            if (!(merges[k] = tl_malloc(lens[k]))) {
                s = tl_errorf(TL_E_NOMEM, "tokenizer: out of memory");
                break;
            }
            memcpy(merges[k], tl_tok_text(t, a), t->len[a]);
            merges[k][t->len[a]] = ' ';
            memcpy(merges[k] + t->len[a] + 1, tl_tok_text(t, b), t->len[b]);
        }
        if (!s) s = tl_gguf_write_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, lens, t->n_merges);
        for (uint32_t k = 0; merges && k < t->n_merges; k++) tl_free(merges[k]);
        tl_free(merges);
        tl_free(lens);
    }
    const char *id_keys[6] = {"tokenizer.ggml.bos_token_id",     "tokenizer.ggml.eos_token_id",
                              "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                              "tokenizer.ggml.eot_token_id",     "tokenizer.ggml.eom_token_id"};
    int32_t ids[6] = {t->bos, t->eos, t->unk, t->pad, t->eot, t->eom};
    for (int i = 0; i < 6 && !s; i++)
        if (ids[i] >= 0) s = tl_gguf_write_u32(w, id_keys[i], (uint32_t)ids[i]);
    if (!s) s = tl_gguf_write_bool(w, "tokenizer.ggml.add_bos_token", t->add_bos);
    if (!s) s = tl_gguf_write_bool(w, "tokenizer.ggml.add_eos_token", t->add_eos);
    if (!s && t->kind == TL_TOK_SPM) s = tl_gguf_write_bool(w, "tokenizer.ggml.add_space_prefix", t->add_space_prefix);
    return s;
}
