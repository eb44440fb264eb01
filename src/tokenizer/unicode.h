/* unicode.h: the little Unicode the tokenizers need: UTF-8 decoding that never
 * fails (llama.cpp's rules: a bad byte becomes U+FFFD and consumes one byte),
 * encoding, validation, code point classes for the BPE pre-tokenizers, and
 * the GPT-2 byte <-> printable code point map. */
#ifndef TL_UNICODE_H
#define TL_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum { TL_UC_LETTER = 1, TL_UC_NUMBER = 2, TL_UC_SPACE = 4, TL_UC_PUNCT = 8, TL_UC_MARK = 16, TL_UC_SYMBOL = 32 };

extern const uint32_t tl_unicode_range_start[];
extern const uint8_t tl_unicode_range_flags[];
extern const size_t tl_unicode_n_ranges;

/* Class bits of a code point (0 for anything else, including > U+10FFFF). */
int tl_unicode_flags(uint32_t cp);

/* Byte length a UTF-8 lead byte announces (1 for continuation/invalid bytes). */
size_t tl_utf8_len(uint8_t lead);
/* Decode one code point at s[0..n) (n >= 1); stores the bytes consumed. Invalid
 * sequences give U+FFFD and consume one byte. */
uint32_t tl_utf8_decode(const uint8_t *s, size_t n, size_t *used);
/* Encode cp (U+FFFD for values past U+10FFFF); returns the byte count (1..4). */
size_t tl_utf8_encode(uint32_t cp, char out[4]);
/* Strictly valid UTF-8 (no overlongs, surrogates or values past U+10FFFF)? */
int tl_utf8_valid(const char *s, size_t n);

/* GPT-2 byte-level map: byte -> code point and back (-1 for code points that are not in the map). */
uint32_t tl_byte_to_cp(uint8_t b);
int tl_cp_to_byte(uint32_t cp);

#endif
