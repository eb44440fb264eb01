/*
 * tokenizer: text <-> token ids. Two algorithms behind one handle:
 *   - SentencePiece-style BPE with byte fallback (Llama): pieces with scores,
 *     the highest-scoring adjacent pair merged first, unknown bytes as <0xXX>
 *     tokens (spm.c). Encodes exactly like llama.cpp's SPM tokenizer: a dummy
 *     prefix space, spaces as U+2581, special tokens split out first.
 *   - byte-level BPE (GPT-2 style): bytes mapped to printable code points, the
 *     GPT-2 pre-tokenizer regex (matched by hand, unicode.c classes), merges
 *     by rank (bpe.c).
 * Loaded from llama2.c tokenizer.bin, GGUF metadata (tokenizer.ggml.*), or a
 * Hugging Face tokenizer.json; written to GGUF metadata and tokenizer.json.
 *
 * Token types are GGUF's (tokenizer.ggml.token_type): control and unknown
 * tokens are matched in text only with TL_TOK_PARSE_SPECIAL, user-defined
 * tokens always (as llama.cpp does).
 */
#ifndef TILLER_TOKENIZER_H
#define TILLER_TOKENIZER_H

#include "tiller/base.h"

#ifdef __cplusplus
extern "C" {
#endif
TL_API_BEGIN

typedef enum { TL_TOK_SPM = 0, TL_TOK_BPE = 1 } tl_tokenizer_kind;

/* GGUF token types. */
typedef enum {
    TL_TOKEN_UNDEFINED = 0,
    TL_TOKEN_NORMAL = 1,
    TL_TOKEN_UNKNOWN = 2,
    TL_TOKEN_CONTROL = 3,
    TL_TOKEN_USER_DEFINED = 4,
    TL_TOKEN_UNUSED = 5,
    TL_TOKEN_BYTE = 6,
} tl_token_type;

/* Flags for tl_tokenizer_encode. TL_TOK_ADD_BOS is 1 so that `add_bos` ints keep working. */
enum {
    TL_TOK_ADD_BOS = 1,       /* prepend BOS (TL_E_ARG when the vocabulary has none) */
    TL_TOK_PARSE_SPECIAL = 2, /* match control/unknown token texts such as "</s>" in the text */
};

/* Load by extension: .bin (llama2.c), .gguf (vocabulary metadata, also a model
 * GGUF carrying one), .json (HF tokenizer.json). */
tl_status tl_tokenizer_load(const char *path, tl_tokenizer **out);
/* Save by extension: .json (HF tokenizer.json), .gguf (vocabulary-only GGUF),
 * .bin (llama2.c tokenizer.bin; SPM only). */
tl_status tl_tokenizer_save(const tl_tokenizer *t, const char *path);
void tl_tokenizer_free(tl_tokenizer *t);

/* Format-specific entry points (tl_tokenizer_load/save dispatch to these). */
tl_status tl_tokenizer_load_llama2c(const char *path, tl_tokenizer **out);
tl_status tl_tokenizer_save_llama2c(const tl_tokenizer *t, const char *path);
tl_status tl_tokenizer_load_json(const char *path, tl_tokenizer **out);
/* tokenizer.json from memory (name is used in messages): for fuzzing and embedding. */
tl_status tl_tokenizer_parse_json(const char *data, size_t size, const char *name, tl_tokenizer **out);
tl_status tl_tokenizer_save_json(const tl_tokenizer *t, const char *path);
/* tokenizer_config.json (special tokens, add_bos/eos, model_max_length) for an HF directory. */
tl_status tl_tokenizer_save_hf_config(const tl_tokenizer *t, const char *path, int model_max_length);

tl_tokenizer_kind tl_tokenizer_type(const tl_tokenizer *t);
int tl_tokenizer_n_vocab(const tl_tokenizer *t);
int32_t tl_tokenizer_bos(const tl_tokenizer *t); /* -1 when none */
int32_t tl_tokenizer_eos(const tl_tokenizer *t); /* -1 when none */
/* Is id an end-of-generation token, as llama.cpp decides (EOS, EOT, EOM and the control
 * tokens <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|> ...)? BOS is not. */
int tl_tokenizer_is_eog(const tl_tokenizer *t, int32_t id);
/* The stored text of a token (SPM pieces use U+2581 for spaces, byte-level BPE
 * its printable code points); NULL for an id out of range. */
const char *tl_tokenizer_piece(const tl_tokenizer *t, int32_t id, size_t *len);
tl_token_type tl_tokenizer_token_type(const tl_tokenizer *t, int32_t id);
/* The id of a token text, -1 when absent. */
int32_t tl_tokenizer_find(const tl_tokenizer *t, const char *text, size_t len);

/* Encode len bytes of text. *ids is allocated with tl_malloc (caller frees with tl_free).
 * flags: TL_TOK_ADD_BOS, TL_TOK_PARSE_SPECIAL. For SPM, a leading space is added to the
 * text the way llama.cpp / sentencepiece do (add_dummy_prefix), and again after each
 * special token found in the text. */
tl_status tl_tokenizer_encode(const tl_tokenizer *t, const char *text, size_t len, int flags,
                              int32_t **ids, size_t *n_ids);

/* The bytes that token `id` contributes to decoded text when it follows `prev`
 * (-1 for none): SPM turns U+2581 into spaces and drops the leading (dummy
 * prefix) space of the first token or the token right after BOS, <0xXX> becomes
 * one byte, byte-level BPE maps code points back to bytes. Control and unknown
 * tokens give nothing. Writes up to cap bytes into buf and returns the full
 * length (more than cap means the piece was cut short, as with snprintf). */
size_t tl_tokenizer_decode_piece(const tl_tokenizer *t, int32_t prev, int32_t id, char *buf, size_t cap);

/* ---- training (bpe_train.c) -------------------------------------------------
 * A SentencePiece-style BPE vocabulary with byte fallback, trained so that the
 * SPM encoder above reproduces the trainer's segmentation of every training
 * word. Vocabulary: <unk> <s> </s>, <0x00>..<0xFF>, the merged pieces in merge
 * order (score -rank), then the base characters (most frequent first).
 * Use: tl_bpe_trainer_new, add texts or files, tl_bpe_trainer_run. */
typedef struct {
    int vocab_size;         /* all tokens: 259 + base characters + merges (259 .. 2^20) */
    double char_coverage;   /* share of character occurrences the base characters cover (0 .. 1) */
    int64_t min_char_count; /* a base character occurs at least this often (>= 1) */
    int max_piece_chars;    /* longest merged piece, in characters (2 .. 64) */
    int split_digits;       /* never merge digits (as Llama) */
    /* called every few merges with (merges done, merges wanted); may be NULL */
    void (*progress)(void *user, int done, int total);
    void *user;
} tl_bpe_train_opts;

typedef struct {
    int64_t n_texts, n_bytes; /* texts added and their bytes */
    int64_t n_words;          /* word occurrences (pre-tokenised on whitespace and class changes) */
    int64_t n_unique_words;
    int64_t n_chars;          /* character occurrences (after the dummy prefix, spaces as U+2581) */
    int64_t n_distinct_chars;
    int n_base_chars;         /* characters that became pieces */
    double coverage;          /* share of character occurrences they cover */
    int n_merges, n_vocab;
    int64_t n_tokens;         /* tokens the training words encode to (frequency-weighted) */
    double seconds;           /* time in tl_bpe_trainer_run */
} tl_bpe_train_stats;

typedef struct tl_bpe_trainer tl_bpe_trainer;

/* vocab 4096, coverage 0.9995, min count 1, pieces up to 16 characters, digits merge */
void tl_bpe_train_opts_default(tl_bpe_train_opts *o);
/* TL_E_ARG with a message naming the option when one is out of range. */
tl_status tl_bpe_train_opts_check(const tl_bpe_train_opts *o);
tl_status tl_bpe_trainer_new(const tl_bpe_train_opts *o, tl_bpe_trainer **out);
void tl_bpe_trainer_free(tl_bpe_trainer *tr);
/* One text (a document): gets the dummy-prefix space, as the encoder adds it. */
tl_status tl_bpe_trainer_add_text(tl_bpe_trainer *tr, const char *text, size_t len);
/* A file: .jsonl -> one text per line from {"text"} or {"prompt"[, "completion"]}
 * (prompt and completion concatenated); anything else is one plain text. */
tl_status tl_bpe_trainer_add_file(tl_bpe_trainer *tr, const char *path);
/* Learn the merges and build the tokenizer. Stops early (fewer tokens than
 * vocab_size, see the stats) when no pair is left to merge. Runs once. */
tl_status tl_bpe_trainer_run(tl_bpe_trainer *tr, tl_tokenizer **out);
void tl_bpe_trainer_stats(const tl_bpe_trainer *tr, tl_bpe_train_stats *st);
/* After run: training word i (escaped: U+2581 for spaces), its count and the ids
 * the trainer's merges gave it (byte tokens for characters outside the base
 * set). ids needs room for len ids. TL_E_ARG before run or for i out of range. */
tl_status tl_bpe_trainer_word(const tl_bpe_trainer *tr, size_t i, const char **text, size_t *len, int64_t *count,
                              int32_t *ids, size_t *n_ids);
size_t tl_bpe_trainer_n_words(const tl_bpe_trainer *tr);

/* Save one tokenizer to several files (by extension), all or nothing: each is
 * written beside its final name first and renamed only when all are written. */
tl_status tl_tokenizer_save_all(const tl_tokenizer *t, const char *const *paths, int n);

TL_API_END
#ifdef __cplusplus
}
#endif
#endif /* TILLER_TOKENIZER_H */
