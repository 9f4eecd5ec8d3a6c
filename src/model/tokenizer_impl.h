/* Private to the tokenizer files: the string -> int map (vocabulary and merge ranks) and the
 * tokenizer object that tokenizer_load.c fills and tokenizer.c (BPE, encoding) reads. */
#ifndef DM_MODEL_TOKENIZER_IMPL_H
#define DM_MODEL_TOKENIZER_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer_pretok.h"

/* ---- string -> int hash map (open addressing, FNV-1a) ------------------------------------- */

typedef struct {
    const char *key; /* not owned; NULL = empty slot */
    uint32_t len;
    int32_t val;
} slot;

typedef struct {
    slot *s;
    size_t cap; /* power of two */
} strmap;

static inline uint64_t hash_str(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static inline bool map_init(strmap *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n) m->cap *= 2;
    m->s = calloc(m->cap, sizeof *m->s);
    return m->s != NULL;
}

/* Inserts or overwrites (later entries win, like building a Python dict). */
static inline void map_put(strmap *m, const char *k, size_t n, int32_t v) {
    size_t i = hash_str(k, n) & (m->cap - 1);
    while (m->s[i].key && !(m->s[i].len == n && !memcmp(m->s[i].key, k, n)))
        i = (i + 1) & (m->cap - 1);
    m->s[i] = (slot){k, (uint32_t)n, v};
}

static inline bool map_get(const strmap *m, const char *k, size_t n, int32_t *v) {
    size_t i = hash_str(k, n) & (m->cap - 1);
    for (; m->s[i].key; i = (i + 1) & (m->cap - 1))
        if (m->s[i].len == n && !memcmp(m->s[i].key, k, n)) {
            *v = m->s[i].val;
            return true;
        }
    return false;
}

/* ---- the tokenizer ------------------------------------------------------------------------- */

typedef struct {
    char *str;
    int id;
} added_token;

struct dm_tokenizer {
    char *vocab_strs;    /* every vocabulary string, NUL-terminated, back to back */
    strmap vocab;        /* string -> id */
    const char **id_tok; /* id -> string (NULL for gaps) */
    int vocab_size;      /* largest id + 1 */
    char *merges_text;   /* merges.txt rewritten in place as "A B\0" keys */
    strmap ranks;        /* "A B" -> merge rank */
    int bos, eos, unk, pad;
    added_token *added; /* split out of raw text before anything else (tokenizer_pretok.h) */
    dm_added_str *added_strs;
    int n_added;
    char byte_enc[256][3]; /* GPT-2's byte -> printable code point, as UTF-8 */
    uint8_t byte_enc_len[256];
};

#endif
