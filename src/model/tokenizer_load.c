/* CLIP BPE tokenizer, loading: vocab.json, merges.txt and the special-token configs into the
 * tokenizer object (tokenizer_impl.h), and its accessors. */
#include "model/tokenizer.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "model/tokenizer_impl.h"

/* transformers keeps only the first 49152 - 256 - 2 merges (CLIP's 48894), whatever the file. */
#define MAX_MERGES (49152 - 256 - 2)
/* Ids beyond this are a corrupt file, not a vocabulary (and would size huge tables). */
#define MAX_ID (1 << 24)

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
