/* CLIP BPE tokenizer: loading vocab.json / merges.txt / the special-token configs, byte-level
 * BPE by merge rank, and the token positions of words. Pre-tokenisation (normalisation and the
 * CLIP regex) lives in tokenizer_pretok.c. */
#include "model/tokenizer.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/tokenizer_pretok.h"

/* transformers keeps only the first 49152 - 256 - 2 merges (CLIP's 48894), whatever the file. */
#define MAX_MERGES (49152 - 256 - 2)
/* Ids beyond this are a corrupt file, not a vocabulary (and would size huge tables). */
#define MAX_ID (1 << 24)

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

static uint64_t hash_str(const char *k, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static bool map_init(strmap *m, size_t n) {
    m->cap = 16;
    while (m->cap < 2 * n) m->cap *= 2;
    m->s = calloc(m->cap, sizeof *m->s);
    return m->s != NULL;
}

/* Inserts or overwrites (later entries win, like building a Python dict). */
static void map_put(strmap *m, const char *k, size_t n, int32_t v) {
    size_t i = hash_str(k, n) & (m->cap - 1);
    while (m->s[i].key && !(m->s[i].len == n && !memcmp(m->s[i].key, k, n)))
        i = (i + 1) & (m->cap - 1);
    m->s[i] = (slot){k, (uint32_t)n, v};
}

static bool map_get(const strmap *m, const char *k, size_t n, int32_t *v) {
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

/* GPT-2 / CLIP bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68
 * bytes (controls, space, NBSP, soft hyphen) map to U+0100.. in byte order, so no BPE symbol
 * is whitespace or a control character. */
static void init_byte_encoder(dm_tokenizer *t) {
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        unsigned cp = printable ? (unsigned)b : 256u + (unsigned)extra++;
        if (cp < 0x80) {
            t->byte_enc[b][0] = (char)cp;
            t->byte_enc_len[b] = 1;
        } else {
            t->byte_enc[b][0] = (char)(0xC0 | (cp >> 6));
            t->byte_enc[b][1] = (char)(0x80 | (cp & 0x3F));
            t->byte_enc_len[b] = 2;
        }
    }
}

static dm_status load_vocab(dm_tokenizer *t, const char *path, dm_error *err) {
    char *data;
    size_t len;
    DM_TRY(dm_read_file(path, &data, &len, err));
    cJSON *root = cJSON_ParseWithLength(data, len);
    free(data);
    if (!root) return dm_fail(err, "%s: not valid JSON", path);
    dm_status st = DM_OK;
    if (!cJSON_IsObject(root)) {
        st = dm_fail(err, "%s: expected a JSON object of token -> id", path);
        goto out;
    }
    size_t n = 0, bytes = 0;
    int max_id = -1;
    for (const cJSON *e = root->child; e; e = e->next) {
        double v = e->valuedouble;
        if (!cJSON_IsNumber(e) || v != floor(v) || v < 0 || v >= MAX_ID) {
            st = dm_fail(err, "%s: token '%.100s' has id %.100s, not an integer in 0..%d", path,
                         e->string, cJSON_IsNumber(e) ? "out of range" : "that is not a number",
                         MAX_ID - 1);
            goto out;
        }
        if ((int)v > max_id) max_id = (int)v;
        bytes += strlen(e->string) + 1;
        n++;
    }
    if (n == 0) {
        st = dm_fail(err, "%s: empty vocabulary", path);
        goto out;
    }
    t->vocab_size = max_id + 1;
    t->vocab_strs = malloc(bytes);
    t->id_tok = calloc((size_t)t->vocab_size, sizeof *t->id_tok);
    if (!t->vocab_strs || !t->id_tok || !map_init(&t->vocab, n)) {
        st = dm_fail(err, "%s: out of memory", path);
        goto out;
    }
    char *p = t->vocab_strs;
    for (const cJSON *e = root->child; e; e = e->next) {
        size_t l = strlen(e->string);
        memcpy(p, e->string, l + 1);
        map_put(&t->vocab, p, l, (int32_t)e->valuedouble);
        t->id_tok[(int)e->valuedouble] = p;
        p += l + 1;
    }
out:
    cJSON_Delete(root);
    return st;
}

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* As transformers reads it: read().strip().split("\n")[1:MAX_MERGES+1], the first line being
 * the "#version" header; each line's two symbols become the key "A B" with rank = line index. */
static dm_status load_merges(dm_tokenizer *t, const char *path, dm_error *err) {
    size_t len;
    DM_TRY(dm_read_file(path, &t->merges_text, &len, err));
    char *s = t->merges_text;
    if (memchr(s, 0, len))
        return dm_fail(err, "%s: contains NUL bytes, not a merges text file", path);
    while (len && is_ws(s[len - 1])) s[--len] = 0;
    while (*s && is_ws(*s)) s++;
    char *line = strchr(s, '\n'); /* skip the header */
    if (!map_init(&t->ranks, MAX_MERGES)) return dm_fail(err, "%s: out of memory", path);
    for (int rank = 0; line && rank < MAX_MERGES; rank++) {
        line++;
        char *next = strchr(line, '\n');
        if (next) *next = 0;
        char *tok[3];
        int n = 0;
        for (char *q = line; *q && n < 3;) {
            while (*q && is_ws(*q)) q++;
            if (!*q) break;
            tok[n++] = q;
            while (*q && !is_ws(*q)) q++;
            if (*q) *q++ = 0;
        }
        if (n == 1 || n == 3)
            return dm_fail(err, "%s: line %d: expected two symbols separated by a space", path,
                           rank + 2);
        if (n == 2) { /* rewrite "A<ws>B" as "A B" in place: the key the BPE loop builds */
            size_t la = strlen(tok[0]), lb = strlen(tok[1]);
            memmove(line, tok[0], la);
            line[la] = ' ';
            memmove(line + la + 1, tok[1], lb);
            line[la + 1 + lb] = 0;
            map_put(&t->ranks, line, la + 1 + lb, rank);
        }
        line = next;
    }
    return DM_OK;
}

static dm_status read_json_opt(const char *path, cJSON **out, dm_error *err) {
    *out = NULL;
    if (!dm_file_exists(path)) return DM_OK;
    char *data;
    size_t len;
    DM_TRY(dm_read_file(path, &data, &len, err));
    *out = cJSON_ParseWithLength(data, len);
    free(data);
    if (!*out || !cJSON_IsObject(*out)) {
        cJSON_Delete(*out);
        *out = NULL;
        return dm_fail(err, "%s: not a valid JSON object", path);
    }
    return DM_OK;
}

/* A special token as the configs write it: "<|endoftext|>" or {"content": "<|endoftext|>", ...}. */
static const char *token_field(const cJSON *root, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static dm_status add_token(dm_tokenizer *t, const char *str, int id, const char *path,
                           dm_error *err) {
    for (int i = 0; i < t->n_added; i++)
        if (!strcmp(t->added[i].str, str)) return DM_OK;
    added_token *a = realloc(t->added, (size_t)(t->n_added + 1) * sizeof *a);
    if (!a) return dm_fail(err, "%s: out of memory", path);
    t->added = a;
    if (!(a[t->n_added].str = strdup(str))) return dm_fail(err, "%s: out of memory", path);
    a[t->n_added++].id = id;
    return DM_OK;
}

/* bos / eos / unk / pad: special_tokens_map.json wins over tokenizer_config.json (as in
 * transformers' from_pretrained), then CLIPTokenizer's defaults. Each must be in the vocabulary. */
static dm_status load_specials(dm_tokenizer *t, const char *dir, dm_error *err) {
    char p_map[4200], p_cfg[4200];
    snprintf(p_map, sizeof p_map, "%s/special_tokens_map.json", dir);
    snprintf(p_cfg, sizeof p_cfg, "%s/tokenizer_config.json", dir);
    cJSON *map, *cfg = NULL;
    DM_TRY(read_json_opt(p_map, &map, err));
    dm_status st = read_json_opt(p_cfg, &cfg, err);
    static const char *const keys[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};
    static const char *const defaults[4] = {"<|startoftext|>", "<|endoftext|>", "<|endoftext|>",
                                            "<|endoftext|>"};
    int *ids[4] = {&t->bos, &t->eos, &t->unk, &t->pad};
    for (int k = 0; k < 4 && st == DM_OK; k++) {
        const char *s = map ? token_field(map, keys[k]) : NULL;
        const char *from = p_map;
        if (!s && cfg) s = token_field(cfg, keys[k]), from = p_cfg;
        if (!s) s = defaults[k], from = NULL;
        int32_t id;
        if (!map_get(&t->vocab, s, strlen(s), &id)) {
            if (from)
                st = dm_fail(err, "%s: %s '%.100s' is not in %s/vocab.json", from, keys[k], s, dir);
            else
                st = dm_fail(err, "%s/vocab.json: no '%s' token (the default %s)", dir, s, keys[k]);
            break;
        }
        *ids[k] = id;
        st = add_token(t, s, id, dir, err);
    }
    /* Other added tokens the config declares (textual-inversion words, ...) split out too. */
    const cJSON *dec = cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder") : NULL;
    for (const cJSON *e = cJSON_IsObject(dec) ? dec->child : NULL; e && st == DM_OK; e = e->next) {
        char *end;
        long id = strtol(e->string, &end, 10);
        const char *s = token_field(dec, e->string);
        if (*end || end == e->string || id < 0 || id >= MAX_ID || !s) {
            st = dm_fail(err, "%s: added_tokens_decoder entry '%.100s' is not an id with a content",
                         p_cfg, e->string);
            break;
        }
        st = add_token(t, s, (int)id, p_cfg, err);
        if (id >= t->vocab_size) {
            const char **g = realloc(t->id_tok, (size_t)(id + 1) * sizeof *g);
            if (!g) {
                st = dm_fail(err, "%s: out of memory", p_cfg);
                break;
            }
            memset(g + t->vocab_size, 0, (size_t)(id + 1 - t->vocab_size) * sizeof *g);
            t->id_tok = g;
            t->vocab_size = (int)id + 1;
        }
    }
    cJSON_Delete(map);
    cJSON_Delete(cfg);
    if (st != DM_OK) return st;
    t->added_strs = malloc((size_t)t->n_added * sizeof *t->added_strs);
    if (!t->added_strs) return dm_fail(err, "%s: out of memory", dir);
    for (int i = 0; i < t->n_added; i++) {
        t->added_strs[i] = (dm_added_str){t->added[i].str, strlen(t->added[i].str)};
        if (!t->id_tok[t->added[i].id]) t->id_tok[t->added[i].id] = t->added[i].str;
    }
    return DM_OK;
}

dm_status dm_tokenizer_load(const char *dir, dm_tokenizer **out, dm_error *err) {
    *out = NULL;
    if (!dm_dir_exists(dir)) return dm_fail(err, "%s: tokenizer directory not found", dir);
    dm_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return dm_fail(err, "%s: out of memory", dir);
    init_byte_encoder(t);
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    dm_status st = load_vocab(t, path, err);
    if (st == DM_OK) {
        snprintf(path, sizeof path, "%s/merges.txt", dir);
        st = load_merges(t, path, err);
    }
    if (st == DM_OK) st = load_specials(t, dir, err);
    if (st != DM_OK) {
        dm_tokenizer_free(t);
        return st;
    }
    *out = t;
    return DM_OK;
}

void dm_tokenizer_free(dm_tokenizer *t) {
    if (!t) return;
    free(t->vocab_strs);
    free(t->vocab.s);
    free(t->id_tok);
    free(t->merges_text);
    free(t->ranks.s);
    for (int i = 0; i < t->n_added; i++) free(t->added[i].str);
    free(t->added);
    free(t->added_strs);
    free(t);
}

int dm_tokenizer_bos(const dm_tokenizer *t) {
    return t->bos;
}
int dm_tokenizer_eos(const dm_tokenizer *t) {
    return t->eos;
}
int dm_tokenizer_pad(const dm_tokenizer *t) {
    return t->pad;
}
void dm_tokenizer_set_pad(dm_tokenizer *t, int id) {
    t->pad = id;
}
int dm_tokenizer_unk(const dm_tokenizer *t) {
    return t->unk;
}
int dm_tokenizer_vocab_size(const dm_tokenizer *t) {
    return t->vocab_size;
}
const char *dm_tokenizer_token(const dm_tokenizer *t, int id) {
    return id >= 0 && id < t->vocab_size ? t->id_tok[id] : NULL;
}

/* ---- BPE ---------------------------------------------------------------------------------- */

typedef struct {
    char *s;                     /* the byte-encoded piece + "</w>" */
    size_t *st, *en, *st2, *en2; /* symbol spans in s (two buffers: merge step ping-pong) */
    char *key;                   /* "A B" lookup key */
} bpe_scratch;

static bool span_eq(const char *s, size_t a0, size_t a1, size_t b0, size_t b1) {
    return a1 - a0 == b1 - b0 && !memcmp(s + a0, s + b0, a1 - a0);
}

static int32_t vocab_id(const dm_tokenizer *t, const char *s, size_t n) {
    int32_t id;
    return map_get(&t->vocab, s, n, &id) ? id : t->unk;
}

/* One piece -> ids, as CLIPTokenizer.bpe: every byte is a symbol, "</w>" joins the last one;
 * repeatedly take the adjacent pair with the lowest merge rank and merge every occurrence of
 * it left to right, until no pair has a rank. */
static int bpe_piece(const dm_tokenizer *t, const char *p, size_t len, bpe_scratch *b,
                     int32_t *out) {
    size_t sl = 0, n = 0;
    if (len == 0) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        b->st[n] = sl;
        memcpy(b->s + sl, t->byte_enc[c], t->byte_enc_len[c]);
        sl += t->byte_enc_len[c];
        b->en[n++] = sl;
    }
    memcpy(b->s + sl, "</w>", 4);
    sl += 4;
    b->en[n - 1] = sl;
    size_t *st = b->st, *en = b->en, *st2 = b->st2, *en2 = b->en2;
    while (n > 1) {
        int32_t best = INT32_MAX;
        size_t bi = 0;
        for (size_t k = 0; k + 1 < n; k++) {
            size_t la = en[k] - st[k], lb = en[k + 1] - st[k + 1];
            memcpy(b->key, b->s + st[k], la);
            b->key[la] = ' ';
            memcpy(b->key + la + 1, b->s + st[k + 1], lb);
            int32_t r;
            if (map_get(&t->ranks, b->key, la + 1 + lb, &r) && r < best) best = r, bi = k;
        }
        if (best == INT32_MAX) break;
        size_t f0 = st[bi], f1 = en[bi], s0 = st[bi + 1], s1 = en[bi + 1], m = 0;
        for (size_t k = 0; k < n;) {
            if (k + 1 < n && span_eq(b->s, st[k], en[k], f0, f1) &&
                span_eq(b->s, st[k + 1], en[k + 1], s0, s1)) {
                st2[m] = st[k], en2[m++] = en[k + 1];
                k += 2;
            } else {
                st2[m] = st[k], en2[m++] = en[k];
                k++;
            }
        }
        size_t *ts = st, *te = en;
        st = st2, en = en2, st2 = ts, en2 = te, n = m;
    }
    for (size_t k = 0; k < n; k++) out[k] = vocab_id(t, b->s + st[k], en[k] - st[k]);
    return (int)n;
}

/* ---- encoding with piece positions --------------------------------------------------------- */

typedef struct {
    dm_pretok pt;
    int32_t *ids; /* bos + ... + eos */
    int n;
    int *pstart, *pend; /* per piece: [start, end) in ids */
} encoding;

static void encoding_free(encoding *e) {
    dm_pretok_free(&e->pt);
    free(e->ids);
    free(e->pstart);
    free(e->pend);
}

static dm_status encode(const dm_tokenizer *t, const char *text, encoding *e, dm_error *err) {
    *e = (encoding){0};
    DM_TRY(dm_pretokenize(text, t->added_strs, t->n_added, &e->pt, err));
    size_t max_len = 0;
    for (int i = 0; i < e->pt.n_pieces; i++)
        if (e->pt.pieces[i].len > max_len) max_len = e->pt.pieces[i].len;
    /* a piece of L bytes gives at most L tokens; its encoding at most 2L + 4 bytes */
    bpe_scratch b = {malloc(2 * max_len + 5),
                     malloc((max_len + 1) * sizeof(size_t)),
                     malloc((max_len + 1) * sizeof(size_t)),
                     malloc((max_len + 1) * sizeof(size_t)),
                     malloc((max_len + 1) * sizeof(size_t)),
                     malloc(4 * max_len + 10)};
    size_t np = (size_t)e->pt.n_pieces;
    e->ids = malloc((e->pt.len + np + 2) * sizeof *e->ids);
    e->pstart = malloc((np + 1) * sizeof *e->pstart);
    e->pend = malloc((np + 1) * sizeof *e->pend);
    dm_status st = DM_OK;
    if (!b.s || !b.st || !b.en || !b.st2 || !b.en2 || !b.key || !e->ids || !e->pstart || !e->pend) {
        st = dm_fail(err, "tokenizer: out of memory");
        goto out;
    }
    e->ids[e->n++] = t->bos;
    for (size_t i = 0; i < np; i++) {
        const dm_piece *p = &e->pt.pieces[i];
        const char *s = e->pt.text + p->off;
        e->pstart[i] = e->n;
        if (p->kind == DM_PIECE_ADDED) {
            e->ids[e->n++] = t->added[p->added].id;
        } else if (p->kind == DM_PIECE_SPECIAL &&
                   ((p->len == 15 && !memcmp(s, "<|startoftext|>", 15)) ||
                    (p->len == 13 && !memcmp(s, "<|endoftext|>", 13)))) {
            /* CLIPTokenizer's BPE cache holds these two strings as themselves: no "</w>" */
            e->ids[e->n++] = vocab_id(t, s, p->len);
        } else {
            e->n += bpe_piece(t, s, p->len, &b, e->ids + e->n);
        }
        e->pend[i] = e->n;
    }
    e->ids[e->n++] = t->eos;
out:
    free(b.s);
    free(b.st);
    free(b.en);
    free(b.st2);
    free(b.en2);
    free(b.key);
    if (st != DM_OK) encoding_free(e);
    return st;
}

static void fill_ids77(const dm_tokenizer *t, const int32_t *ids, int n,
                       int32_t ids77[DM_CONTEXT_LEN]) {
    for (int i = 0; i < DM_CONTEXT_LEN; i++) ids77[i] = i < n ? ids[i] : t->pad;
    if (n > DM_CONTEXT_LEN) ids77[DM_CONTEXT_LEN - 1] = t->eos;
}

dm_status dm_tokenize(const dm_tokenizer *t, const char *text, int32_t **ids, int *n_ids,
                      int32_t ids77[DM_CONTEXT_LEN], dm_error *err) {
    encoding e;
    DM_TRY(encode(t, text, &e, err));
    fill_ids77(t, e.ids, e.n, ids77);
    if (n_ids) *n_ids = e.n;
    if (ids) {
        *ids = e.ids;
        e.ids = NULL;
    }
    encoding_free(&e);
    return DM_OK;
}

dm_status dm_tokenize_words(const dm_tokenizer *t, const char *text, dm_word_tokens **words,
                            int *n_words, dm_error *err) {
    *words = NULL;
    *n_words = 0;
    encoding e;
    DM_TRY(encode(t, text, &e, err));
    dm_word_tokens *w = calloc((size_t)e.pt.n_words + 1, sizeof *w);
    if (!w) {
        encoding_free(&e);
        return dm_fail(err, "tokenizer: out of memory");
    }
    for (int i = 0; i < e.pt.n_words; i++) {
        const dm_pword *pw = &e.pt.words[i];
        w[i].text = strndup(e.pt.text + pw->off, pw->len);
        if (!w[i].text) {
            dm_word_tokens_free(w, i);
            encoding_free(&e);
            return dm_fail(err, "tokenizer: out of memory");
        }
        /* a word with no pieces (only U+0345) covers no tokens: an empty span where it stood */
        int at = pw->first < e.pt.n_pieces ? e.pstart[pw->first] : e.n - 1;
        w[i].start = pw->n ? e.pstart[pw->first] : at;
        w[i].end = pw->n ? e.pend[pw->first + pw->n - 1] : at;
    }
    *words = w;
    *n_words = e.pt.n_words;
    encoding_free(&e);
    return DM_OK;
}

void dm_word_tokens_free(dm_word_tokens *words, int n_words) {
    if (!words) return;
    for (int i = 0; i < n_words; i++) free(words[i].text);
    free(words);
}

static bool alnum_piece(const dm_piece *p) {
    return p->kind == DM_PIECE_LETTERS || p->kind == DM_PIECE_DIGIT;
}

static bool piece_eq(const dm_pretok *a, const dm_piece *pa, const dm_pretok *b,
                     const dm_piece *pb) {
    return pa->len == pb->len && (pa->kind == DM_PIECE_ADDED) == (pb->kind == DM_PIECE_ADDED) &&
           !memcmp(a->text + pa->off, b->text + pb->off, pa->len);
}

/* Matching works on pieces, not raw words, so "cat" is found in "cat." and "cat's" (pieces
 * "cat" "." / "cat" "'s"). Letter runs are maximal pieces, so "cat" never matches inside "cats";
 * a match must not continue a letter/digit run of the same word on either side ("2" is not
 * found in "2024", "d" not in "3d"). */
dm_status dm_token_positions(const dm_tokenizer *t, const char *prompt, const char *phrase,
                             int *pos, int max_pos, int *n_pos, dm_error *err) {
    *n_pos = 0;
    dm_pretok ph = {0};
    dm_status st = dm_pretokenize(phrase, t->added_strs, t->n_added, &ph, err);
    if (st != DM_OK) {
        dm_pretok_free(&ph);
        return st;
    }
    if (ph.n_pieces == 0) {
        dm_pretok_free(&ph);
        return dm_fail_code(err, DM_EUSAGE, "class word '%s' is empty after normalisation", phrase);
    }
    encoding e;
    st = encode(t, prompt, &e, err);
    if (st != DM_OK) {
        dm_pretok_free(&ph);
        return st;
    }
    const dm_piece *pp = e.pt.pieces;
    int m = ph.n_pieces, found = -1;
    for (int k = 0; k + m <= e.pt.n_pieces && found < 0; k++) {
        int j = 0;
        while (j < m && piece_eq(&e.pt, &pp[k + j], &ph, &ph.pieces[j])) j++;
        if (j < m) continue;
        if (k > 0 && pp[k - 1].word == pp[k].word && alnum_piece(&pp[k - 1]) && alnum_piece(&pp[k]))
            continue;
        int l = k + m - 1;
        if (l + 1 < e.pt.n_pieces && pp[l + 1].word == pp[l].word && alnum_piece(&pp[l + 1]) &&
            alnum_piece(&pp[l]))
            continue;
        found = k;
    }
    if (found < 0) {
        st = dm_fail(err, "class word '%s' not found in prompt '%s'", phrase, prompt);
    } else {
        int a = e.pstart[found], b = e.pend[found + m - 1];
        if (b > DM_CONTEXT_LEN - 1)
            st = dm_fail(
                err,
                "class word '%s' not found in prompt '%s' (it is cut off by the %d-token limit)",
                phrase, prompt, DM_CONTEXT_LEN);
        else if (b - a > max_pos)
            st = dm_fail_code(err, DM_EUSAGE,
                              "class word '%s' covers %d tokens, more than the %d allowed", phrase,
                              b - a, max_pos);
        else
            for (int i = a; i < b; i++) pos[(*n_pos)++] = i;
    }
    encoding_free(&e);
    dm_pretok_free(&ph);
    return st;
}
