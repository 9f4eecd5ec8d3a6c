/* Pre-tokenisation: see tokenizer_pretok.h for the rules and why they are what they are. */
#include "model/tokenizer_pretok.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- growable code point buffer ---------------------------------------------------------- */

typedef struct {
    uint32_t *v;
    size_t n, cap;
} cpbuf;

static bool cp_push(cpbuf *b, uint32_t c) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        uint32_t *v = realloc(b->v, cap * sizeof *v);
        if (!v) return false;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = c;
    return true;
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

/* Decodes one code point; returns the bytes used (>= 1). A prompt is a C string from the
 * command line or a file, so it may be malformed: anything that is not well-formed UTF-8
 * (stray continuation bytes, overlong forms, surrogates, > U+10FFFF, truncated sequences)
 * becomes U+FFFD, one per bad byte. BasicTokenizer drops U+FFFD, so bad bytes simply vanish —
 * the same as Python's errors="replace" decoding followed by the reference tokenizer. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len > n) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = v;
    return len;
}

static size_t utf8_encode(uint32_t c, char *o) {
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    } else if (c < 0x800) {
        o[0] = (char)(0xC0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    } else if (c < 0x10000) {
        o[0] = (char)(0xE0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (c >> 18));
    o[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* ---- character classes (Python unicodedata / regex module semantics) ---------------------- */

static bool is_control(uint32_t c) { /* BasicTokenizer's _is_control */
    if (c == '\t' || c == '\n' || c == '\r') return false;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
        return true;
    default:
        return false;
    }
}

static bool is_bt_whitespace(uint32_t c) { /* BasicTokenizer's _is_whitespace */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
           utf8proc_category((utf8proc_int32_t)c) == UTF8PROC_CATEGORY_ZS;
}

/* Python's str.isspace, which str.split() uses. After cleaning, only the space and the line /
 * paragraph separators U+2028/U+2029 (category Zl/Zp, not cleaned) can still occur. */
static bool is_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* BasicTokenizer's _is_chinese_char: the CJK Unified Ideographs blocks (not kana, not Hangul). */
static bool is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

static bool is_letter(uint32_t c) { /* \p{L} */
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return true;
    default:
        return false;
    }
}

static bool is_number(uint32_t c) { /* \p{N} */
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

/* Unicode "Cased" and "Case_Ignorable", for the final-sigma rule of Python's str.lower.
 * utf8proc has no such properties; categories plus the word-internal punctuation list cover
 * every letter a Greek prompt will meet. */
static bool is_cased(uint32_t c) {
    utf8proc_category_t k = utf8proc_category((utf8proc_int32_t)c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           utf8proc_islower((utf8proc_int32_t)c) || utf8proc_isupper((utf8proc_int32_t)c);
}

static bool is_case_ignorable(uint32_t c) {
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    static const uint32_t mid[] = {0x27,   0x2E,   0x3A,   0xB7,   0x387,  0x55F,
                                   0x5F4,  0x2018, 0x2019, 0x2024, 0x2027, 0xFE13,
                                   0xFE52, 0xFE55, 0xFF07, 0xFF0E, 0xFF1A};
    for (size_t i = 0; i < sizeof mid / sizeof *mid; i++)
        if (c == mid[i]) return true;
    return false;
}

/* Capital sigma lower-cases to final ς after a cased letter and not before one (skipping
 * case-ignorable characters both ways), as CPython's handle_capital_sigma does. */
static bool final_sigma(const uint32_t *w, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && is_case_ignorable(w[j - 1])) j--;
    if (j == 0 || !is_cased(w[j - 1])) return false;
    j = i + 1;
    while (j < n && is_case_ignorable(w[j])) j++;
    return j == n || !is_cased(w[j]);
}

/* Python's str.lower: simple lower-case mappings, plus the one unconditional special mapping
 * (U+0130 İ -> "i" + U+0307) and the final sigma. */
static bool py_lower(const uint32_t *w, size_t n, cpbuf *out) {
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = w[i];
        bool ok;
        if (c == 0x130)
            ok = cp_push(out, 'i') && cp_push(out, 0x307);
        else if (c == 0x3A3)
            ok = cp_push(out, final_sigma(w, n, i) ? 0x3C2 : 0x3C3);
        else
            ok = cp_push(out, (uint32_t)utf8proc_tolower((utf8proc_int32_t)c));
        if (!ok) return false;
    }
    return true;
}

/* ---- output --------------------------------------------------------------------------------- */

static bool text_reserve(dm_pretok *p, size_t extra) {
    if (p->len + extra + 1 <= p->cap) return true;
    size_t cap = p->cap ? p->cap : 256;
    while (cap < p->len + extra + 1) cap *= 2;
    char *t = realloc(p->text, cap);
    if (!t) return false;
    p->text = t;
    p->cap = cap;
    return true;
}

static bool word_begin(dm_pretok *p) {
    if (p->n_words == p->cap_words) {
        int cap = p->cap_words ? p->cap_words * 2 : 16;
        dm_pword *w = realloc(p->words, (size_t)cap * sizeof *w);
        if (!w) return false;
        p->words = w;
        p->cap_words = cap;
    }
    p->words[p->n_words++] = (dm_pword){p->len, 0, p->n_pieces, 0};
    return true;
}

/* Appends a piece (its code points, or raw bytes when raw != NULL) to the current word. */
static bool piece_put(dm_pretok *p, const uint32_t *c, size_t n, const char *raw, size_t raw_len,
                      dm_piece_kind kind, int added) {
    if (p->n_pieces == p->cap_pieces) {
        int cap = p->cap_pieces ? p->cap_pieces * 2 : 32;
        dm_piece *v = realloc(p->pieces, (size_t)cap * sizeof *v);
        if (!v) return false;
        p->pieces = v;
        p->cap_pieces = cap;
    }
    size_t off = p->len;
    if (!text_reserve(p, raw ? raw_len : 4 * n)) return false;
    if (raw) {
        memcpy(p->text + p->len, raw, raw_len);
        p->len += raw_len;
    } else {
        for (size_t i = 0; i < n; i++) p->len += utf8_encode(c[i], p->text + p->len);
    }
    p->text[p->len] = 0;
    dm_pword *w = &p->words[p->n_words - 1];
    p->pieces[p->n_pieces++] = (dm_piece){off, p->len - off, p->n_words - 1, kind, added};
    w->n++;
    w->len = p->len - w->off;
    return true;
}

/* ---- the CLIP regex on one lower-cased word ---------------------------------------------- */

/* The regex is case-insensitive (simple case folding): besides ASCII case, the long s 'ſ'
 * U+017F matches 's'. No other folding reaches the pattern's letters. */
static bool ci_eq(uint32_t c, char lit) {
    if (c < 0x80)
        return (uint32_t)lit == c || ((lit >= 'a' && lit <= 'z') && c == (uint32_t)lit - 32);
    return lit == 's' && c == 0x17F;
}

static size_t match_lit(const uint32_t *w, size_t n, size_t i, const char *lit) {
    size_t k = 0;
    for (; lit[k]; k++)
        if (i + k >= n || !ci_eq(w[i + k], lit[k])) return 0;
    return k;
}

static bool regex_word(dm_pretok *p, const uint32_t *w, size_t n) {
    static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
    size_t i = 0;
    while (i < n) {
        size_t m;
        if ((m = match_lit(w, n, i, "<|startoftext|>")) ||
            (m = match_lit(w, n, i, "<|endoftext|>"))) {
            if (!piece_put(p, w + i, m, NULL, 0, DM_PIECE_SPECIAL, -1)) return false;
            i += m;
            continue;
        }
        m = 0;
        if (w[i] == '\'')
            for (size_t k = 0; k < sizeof contractions / sizeof *contractions && !m; k++)
                m = match_lit(w, n, i, contractions[k]);
        dm_piece_kind kind = DM_PIECE_OTHER;
        if (m) {
            /* a contraction: already measured */
        } else if (is_letter(w[i])) {
            for (m = 1; i + m < n && is_letter(w[i + m]); m++) {
            }
            kind = DM_PIECE_LETTERS;
        } else if (is_number(w[i])) {
            m = 1;
            kind = DM_PIECE_DIGIT;
        } else if (is_py_space(w[i]) || w[i] == 0x345) {
            /* Spaces cannot occur inside a word. U+0345 COMBINING GREEK YPOGEGRAMMENI (Mn) is
             * the one character the case-insensitive regex matches with no alternative (it
             * case-folds to the letter ι, so [^\s\p{L}\p{N}] rejects it, yet [\p{L}] does not
             * take it): findall skips it, so it vanishes from the reference's tokens. */
            i++;
            continue;
        } else {
            for (m = 1; i + m < n && !is_letter(w[i + m]) && !is_number(w[i + m]) &&
                        !is_py_space(w[i + m]) && w[i + m] != 0x345;
                 m++) {
            }
        }
        if (!piece_put(p, w + i, m, NULL, 0, kind, -1)) return false;
        i += m;
    }
    return true;
}

/* ---- BasicTokenizer on one segment (no added tokens inside) ------------------------------- */

static dm_status basic_segment(dm_pretok *p, const char *s, size_t n, dm_error *err) {
    cpbuf clean = {0}, nfc = {0}, low = {0};
    char *enc = NULL;
    utf8proc_uint8_t *norm = NULL;
    dm_status st = DM_OK;

    /* _clean_text and _tokenize_chinese_chars, in that order, on the decoded text */
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += utf8_decode((const unsigned char *)s + i, n - i, &c);
        bool ok = true;
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_bt_whitespace(c))
            ok = cp_push(&clean, ' ');
        else if (is_cjk(c))
            ok = cp_push(&clean, ' ') && cp_push(&clean, c) && cp_push(&clean, ' ');
        else
            ok = cp_push(&clean, c);
        if (!ok) goto oom;
    }
    if (clean.n == 0) goto done;

    /* NFC (utf8proc works on UTF-8; the cleaned text is valid by construction) */
    enc = malloc(4 * clean.n + 1);
    if (!enc) goto oom;
    size_t enc_len = 0;
    for (size_t i = 0; i < clean.n; i++) enc_len += utf8_encode(clean.v[i], enc + enc_len);
    utf8proc_ssize_t nl = utf8proc_map((const utf8proc_uint8_t *)enc, (utf8proc_ssize_t)enc_len,
                                       &norm, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    if (nl < 0) {
        st = dm_fail(err, "tokenizer: NFC normalisation failed: %s", utf8proc_errmsg(nl));
        goto done;
    }
    for (utf8proc_ssize_t i = 0; i < nl;) {
        uint32_t c;
        i += (utf8proc_ssize_t)utf8_decode(norm + i, (size_t)(nl - i), &c);
        if (!cp_push(&nfc, c)) goto oom;
    }

    /* whitespace split, lower-case, regex */
    for (size_t i = 0; i < nfc.n;) {
        if (is_py_space(nfc.v[i])) {
            i++;
            continue;
        }
        size_t j = i;
        while (j < nfc.n && !is_py_space(nfc.v[j])) j++;
        if (!py_lower(nfc.v + i, j - i, &low) || !word_begin(p) || !regex_word(p, low.v, low.n))
            goto oom;
        i = j;
    }
    goto done;
oom:
    st = dm_fail(err, "tokenizer: out of memory");
done:
    free(clean.v);
    free(nfc.v);
    free(low.v);
    free(enc);
    free(norm);
    return st;
}

dm_status dm_pretokenize(const char *text, const dm_added_str *added, int n_added, dm_pretok *out,
                         dm_error *err) {
    size_t n = strlen(text), seg = 0;
    for (size_t i = 0; i < n;) {
        int best = -1;
        for (int k = 0; k < n_added; k++)
            if (added[k].len && added[k].len <= n - i &&
                !memcmp(text + i, added[k].str, added[k].len) &&
                (best < 0 || added[k].len > added[best].len))
                best = k;
        if (best < 0) {
            i++;
            continue;
        }
        DM_TRY(basic_segment(out, text + seg, i - seg, err));
        if (!word_begin(out) ||
            !piece_put(out, NULL, 0, added[best].str, added[best].len, DM_PIECE_ADDED, best))
            return dm_fail(err, "tokenizer: out of memory");
        i += added[best].len;
        seg = i;
    }
    return basic_segment(out, text + seg, n - seg, err);
}

void dm_pretok_free(dm_pretok *p) {
    free(p->text);
    free(p->pieces);
    free(p->words);
    *p = (dm_pretok){0};
}
