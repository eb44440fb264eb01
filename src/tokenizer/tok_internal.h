/* tok_internal.h: the tokenizer's representation, shared by the loaders
 * (tokenizer.c: llama2.c .bin, tok_gguf.c, tok_json.c) and the encoders
 * (spm.c, bpe.c). Built in three steps: tl_tok_new, tl_tok_set (per token)
 * and tl_tok_add_merge (BPE), then tl_tok_finish (indexes and checks). */
#ifndef TL_TOK_INTERNAL_H
#define TL_TOK_INTERNAL_H

#include "base/base.h"
#include "tiller/tokenizer.h"

/* The largest vocabulary any loader accepts: above every published model's (Gemma's
 * 262k is among the largest), and it bounds what a hostile file can make us allocate
 * (a 3 M-entry tokenizer.json took 561 MB before). */
#define TL_TOK_MAX_VOCAB (1 << 21)
/* tokenizer.json files are parsed into a cJSON tree (~10x their size): real ones are
 * under 40 MB */
#define TL_TOK_MAX_JSON_BYTES ((size_t)128 << 20)

#define TL_TOK_RSTRIP 1 /* whitespace after this special token is dropped (llama.cpp, Phi-3) */

/* A growing list of ids; the first allocation failure sticks in err. */
typedef struct {
    int32_t *v;
    size_t n, cap;
    tl_status err;
} tl_tok_ids;
void tl_tok_ids_push(tl_tok_ids *ids, int32_t id);

/* A string -> int32 hash table (open addressing) over texts held elsewhere. */
typedef struct {
    int32_t *slot; /* -1 = empty, else a value whose key is found through the callback */
    size_t cap;    /* power of 2 */
} tl_tok_hash;

struct tl_tokenizer {
    tl_tokenizer_kind kind;
    int n_vocab;
    char *pool; /* token texts, each NUL-terminated */
    size_t pool_len, pool_cap;
    size_t *off;     /* [n_vocab] into pool */
    uint32_t *len;   /* [n_vocab] */
    float *score;    /* [n_vocab] */
    int32_t *type;   /* [n_vocab] tl_token_type */
    uint8_t *attr;   /* [n_vocab] TL_TOK_RSTRIP */
    tl_tok_hash index; /* text -> id */
    int32_t bos, eos, unk, pad;
    int32_t eot, eom; /* end of turn / of message (GGUF tokenizer.ggml.eot/eom_token_id); -1 none */
    int add_bos, add_eos, add_space_prefix;
    char pre[32];         /* pre-tokenizer name (tokenizer.ggml.pre; BPE: one pretok.c knows) */
    int32_t byte_id[256]; /* SPM: id of <0xXX>; BPE: id of the byte's code point; -1 none */
    int32_t *special;     /* ids matched in text before encoding, longest text first */
    int n_special;
    /* byte-level BPE merges, rank = index */
    uint32_t n_merges, cap_merges;
    int32_t *merge_left, *merge_right; /* token ids of the pair */
    tl_tok_hash merge_index;           /* (left text, right text) -> rank */
};

/* Allocate a tokenizer for n tokens (all texts empty until set). */
tl_status tl_tok_new(tl_tokenizer_kind kind, int n, tl_tokenizer **out);
/* Set token id's text (copied), score and type. */
tl_status tl_tok_set(tl_tokenizer *t, int32_t id, const char *text, size_t len, float score, int32_t type);
/* Append a merge (left, right token texts); both must be tokens. what names the source in errors. */
tl_status tl_tok_add_merge(tl_tokenizer *t, const char *left, size_t llen, const char *right, size_t rlen,
                           const char *what);
/* Check texts (valid UTF-8, non-empty) and special ids, build the indexes. name: the
 * model's general.name (for llama.cpp's per-model token attributes) or NULL. */
tl_status tl_tok_finish(tl_tokenizer *t, const char *what, const char *name);
/* Build the text index only (tl_tok_add_merge needs it before tl_tok_finish). */
tl_status tl_tok_build_index(tl_tokenizer *t, const char *what);

static inline const char *tl_tok_text(const tl_tokenizer *t, int32_t id) { return t->pool + t->off[id]; }
int32_t tl_tok_lookup(const tl_tokenizer *t, const char *s, size_t n);
/* Rank of the merge (left, right), -1 when none. */
int32_t tl_tok_merge_rank(const tl_tokenizer *t, const char *l, size_t ln, const char *r, size_t rn);

/* The encoders: append the ids of one text fragment (no special tokens inside). */
void tl_spm_encode(const tl_tokenizer *t, const char *text, size_t len, tl_tok_ids *out);
void tl_bpe_encode(const tl_tokenizer *t, const char *text, size_t len, tl_tok_ids *out);

/* FNV-1a */
static inline uint64_t tl_tok_hash_bytes(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}
#define TL_TOK_HASH_SEED 0xcbf29ce484222325ULL

#endif
