/* CLIP BPE tokenizer: byte-level BPE by merge rank, encoding with piece positions, and the token
 * positions of words. Loading is tokenizer_load.c; pre-tokenisation (normalisation and the
 * CLIP regex) lives in tokenizer_pretok.c. */
#include "model/tokenizer.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model/tokenizer_impl.h"

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
