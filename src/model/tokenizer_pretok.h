/* Pre-tokenisation of a prompt (internal to the tokenizer): the text is cut into pieces, each
 * of which BPE turns into tokens independently. Exactly transformers 4.36's slow CLIPTokenizer
 * without ftfy:
 *   1. added tokens (bos/eos/unk/pad strings, ...) are split out of the raw text first, leftmost
 *      longest match, case-sensitive, and map straight to their id (so with SD 2.x's pad "!",
 *      every "!" becomes id 0 — what diffusers really feeds SD 2.x);
 *   2. every other segment goes through BasicTokenizer: drop NUL, U+FFFD and control/format
 *      chars (category C* except \t \n \r), whitespace (those three + Zs) becomes a space, a
 *      space around each CJK ideograph, NFC, split on whitespace, lower-case each word (Python's
 *      str.lower, final sigma included), no accent stripping, no punctuation splitting;
 *   3. each word is cut by the CLIP regex
 *      <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *      (case-insensitive), which matches every character but U+0345, so a word's pieces
 *      concatenate back to the word (less any U+0345). */
#ifndef DM_MODEL_TOKENIZER_PRETOK_H
#define DM_MODEL_TOKENIZER_PRETOK_H

#include <stddef.h>

#include "core/status.h"

typedef enum {
    DM_PIECE_LETTERS, /* [\p{L}]+ */
    DM_PIECE_DIGIT,   /* [\p{N}] */
    DM_PIECE_OTHER,   /* contractions, punctuation runs, symbols, emoji */
    DM_PIECE_SPECIAL, /* the regex's <|startoftext|> / <|endoftext|> (maybe not lower-case) */
    DM_PIECE_ADDED    /* an added token split out of the raw text */
} dm_piece_kind;

typedef struct {
    size_t off, len; /* bytes in dm_pretok.text */
    int word;        /* index into dm_pretok.words */
    dm_piece_kind kind;
    int added; /* index of the added token for DM_PIECE_ADDED, else -1 */
} dm_piece;

typedef struct {
    size_t off, len; /* the normalised word in dm_pretok.text */
    int first, n;    /* its pieces */
} dm_pword;

typedef struct {
    char *text; /* pieces' UTF-8 bytes, back to back (a word's pieces are contiguous) */
    size_t len, cap;
    dm_piece *pieces;
    int n_pieces, cap_pieces;
    dm_pword *words;
    int n_words, cap_words;
} dm_pretok;

typedef struct {
    const char *str; /* as written in the raw text */
    size_t len;
} dm_added_str;

/* Fills *out (zero it first; free with dm_pretok_free even on failure). Fails only when out
 * of memory. */
dm_status dm_pretokenize(const char *text, const dm_added_str *added, int n_added, dm_pretok *out,
                         dm_error *err);
void dm_pretok_free(dm_pretok *p);

#endif
