/* CLIP BPE tokenizer, token for token what Stable Diffusion's pipeline feeds its text encoder:
 * transformers 4.36's slow CLIPTokenizer without ftfy (BasicTokenizer normalisation, the CLIP
 * regex, GPT-2 byte alphabet, BPE by merge rank). Loads any vocab.json + merges.txt pair, so the
 * 49408-entry CLIP vocabulary and small custom ones (toy-shapes: 613) work the same way. */
#ifndef DM_MODEL_TOKENIZER_H
#define DM_MODEL_TOKENIZER_H

#include <stdint.h>

#include "core/status.h"

/* Token positions of the text encoder (SD 1.x and 2.x). */
#define DM_CONTEXT_LEN 77

typedef struct dm_tokenizer dm_tokenizer;

/* Loads DIR/vocab.json and DIR/merges.txt. bos/eos/unk/pad token strings come from
 * DIR/special_tokens_map.json, then DIR/tokenizer_config.json (a string or {"content": ...}),
 * defaulting to <|startoftext|> / <|endoftext|>; pad defaults to <|endoftext|> (SD 1.x), SD 2.x
 * folders name "!" (id 0). Every token string must be in the vocabulary. */
dm_status dm_tokenizer_load(const char *dir, dm_tokenizer **out, dm_error *err);
void dm_tokenizer_free(dm_tokenizer *t);

int dm_tokenizer_bos(const dm_tokenizer *t);
int dm_tokenizer_eos(const dm_tokenizer *t);
int dm_tokenizer_pad(const dm_tokenizer *t);
int dm_tokenizer_unk(const dm_tokenizer *t);
/* Overrides the pad id (SDXL's tokenizer_2 is CLIP's vocabulary padded with "!", id 0). */
void dm_tokenizer_set_pad(dm_tokenizer *t, int id);
/* Largest id + 1 (the number of rows the text encoder's token embedding must have). */
int dm_tokenizer_vocab_size(const dm_tokenizer *t);
/* The vocabulary string of an id ("photo</w>"), or NULL for an unknown id. */
const char *dm_tokenizer_token(const dm_tokenizer *t, int id);

/* Tokenises TEXT (UTF-8; invalid bytes count as U+FFFD, which the normaliser drops).
 * ids (may be NULL): malloc'd bos + BPE ids + eos, untruncated, caller frees; *n_ids its length.
 * ids77: always filled — truncated to 77 with eos kept last, padded with the pad id. */
dm_status dm_tokenize(const dm_tokenizer *t, const char *text, int32_t **ids, int *n_ids,
                      int32_t ids77[DM_CONTEXT_LEN], dm_error *err);

/* One whitespace-separated word of a prompt after normalisation (NFC, lower case) and the
 * token positions it became: [start, end) in ids space (bos = 0), untruncated, so positions
 * >= DM_CONTEXT_LEN - 1 are cut off in ids77. */
typedef struct {
    char *text;
    int start, end;
} dm_word_tokens;

/* All words of TEXT in order; free with dm_word_tokens_free. */
dm_status dm_tokenize_words(const dm_tokenizer *t, const char *text, dm_word_tokens **words,
                            int *n_words, dm_error *err);
void dm_word_tokens_free(dm_word_tokens *words, int n_words);

/* Token positions (ids77 index space, bos = 0) of the first occurrence of PHRASE ("cat",
 * "potted plant") in PROMPT as whole words, compared after the same normalisation (so case does
 * not matter and "cat" is found in "a cat." but not in "cats"). Fails with "class word 'X' not
 * found in prompt 'Y'" when it is missing or cut off by the 77-token limit, and with DM_EUSAGE
 * for an empty phrase or more than max_pos positions. */
dm_status dm_token_positions(const dm_tokenizer *t, const char *prompt, const char *phrase,
                             int *pos, int max_pos, int *n_pos, dm_error *err);

#endif
