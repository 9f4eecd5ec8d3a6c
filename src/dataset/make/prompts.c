#include "dataset/make/prompts.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "io/file.h"
#include "io/json.h"

uint64_t dm_sample_seed(uint64_t run_seed, long index) {
    /* 53 bits: the seed is written to JSON manifests, whose numbers are doubles */
    return dm_seed_mix(run_seed, (uint64_t)index) & ((1ull << 53) - 1);
}

void dm_plan_free(dm_plan *p) {
    for (int i = 0; i < p->n_classes; i++) {
        free(p->classes[i].label);
        for (int j = 0; j < p->classes[i].n_words; j++) free(p->classes[i].words[j]);
        free(p->classes[i].words);
    }
    free(p->classes);
    for (long i = 0; i < p->n_items; i++) {
        free(p->items[i].prompt);
        for (int k = 0; k < p->items[i].n_obj; k++) free(p->items[i].word[k]);
    }
    free(p->items);
    memset(p, 0, sizeof *p);
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

/* label (labels.txt, the manifest's "class", annotations.json's categories): the class word in
 * lower case (ASCII letters only: UTF-8 bytes stay as given) with each run of white space one
 * space, so "Crème  Brûlée" -> "crème brûlée" everywhere; file names turn the space into '-'.
 * (--preset voc gives VOC's own labels, "pottedplant".) */
static char *label_of(const char *word) {
    char *l = malloc(strlen(word) + 1), *o = l;
    if (!l) return NULL;
    for (const char *c = word; *c; c++)
        if (!isspace((unsigned char)*c))
            *o++ = (char)tolower((unsigned char)*c);
        else if (o > l && o[-1] != ' ')
            *o++ = ' ';
    while (o > l && o[-1] == ' ') o--;
    *o = 0;
    return l;
}

static int find_class(const dm_plan *p, const char *name) {
    for (int i = 0; i < p->n_classes; i++) {
        if (!strcmp(p->classes[i].label, name)) return i;
        for (int j = 0; j < p->classes[i].n_words; j++)
            if (!strcmp(p->classes[i].words[j], name)) return i;
    }
    return -1;
}

static dm_status add_class(dm_plan *p, const char *label, const char *const *words, int n_words,
                           const char *where, dm_error *err) {
    if (!*label) return dm_fail_code(err, DM_EUSAGE, "%s: empty class name", where);
    if (!strcmp(label, "background"))
        return dm_fail_code(err, DM_EUSAGE,
                            "%s: a class cannot be named 'background' (label 0 is the background)",
                            where);
    if (p->n_classes >= 254)
        return dm_fail_code(err, DM_EUSAGE, "%s: more than 254 classes", where);
    for (int i = 0; i < n_words; i++)
        if (strlen(words[i]) > DM_MAX_WORD_BYTES)
            return dm_fail_code(err, DM_EUSAGE, "%s: class word '%.40s...' is longer than %d bytes",
                                where, words[i], DM_MAX_WORD_BYTES);
    for (int i = 0; i < n_words; i++)
        if (find_class(p, words[i]) >= 0)
            return dm_fail_code(err, DM_EUSAGE, "%s: class '%s' is given twice", where, words[i]);
    dm_class *c = realloc(p->classes, sizeof *c * (size_t)(p->n_classes + 1));
    if (!c) return dm_fail(err, "out of memory");
    p->classes = c;
    c = &p->classes[p->n_classes++];
    c->label = strdup(label);
    c->words = calloc((size_t)n_words, sizeof *c->words);
    c->n_words = n_words;
    for (int i = 0; i < n_words && c->words; i++) c->words[i] = strdup(words[i]);
    return DM_OK;
}

static dm_status add_word_class(dm_plan *p, const char *word, const char *where, dm_error *err) {
    char *label = label_of(word);
    if (!label) return dm_fail(err, "out of memory");
    dm_status s = add_class(p, label, &word, 1, where, err);
    free(label);
    return s;
}

dm_status dm_plan_classes_csv(dm_plan *p, const char *csv, dm_error *err) {
    char *copy = strdup(csv), *save = NULL;
    dm_status s = DM_OK;
    for (char *t = strtok_r(copy, ",", &save); t && !s; t = strtok_r(NULL, ",", &save)) {
        char *w = trim(t);
        if (*w) s = add_word_class(p, w, "--classes", err);
    }
    free(copy);
    if (!s && p->n_classes == 0)
        s = dm_fail_code(err, DM_EUSAGE, "--classes: the class list is empty");
    return s;
}

dm_status dm_plan_classes_file(dm_plan *p, const char *path, dm_error *err) {
    char *text;
    DM_TRY(dm_read_file(path, &text, NULL, err));
    char where[4200];
    dm_status s = DM_OK;
    int line_no = 0;
    /* line by line, empty ones included, so line numbers are the file's */
    for (char *line = text, *next = NULL; line && !s; line = next) {
        if ((next = strchr(line, '\n'))) *next++ = 0;
        line_no++;
        char *hash = strchr(line, '#');
        if (hash) *hash = 0;
        char *l = trim(line);
        if (!*l) continue;
        snprintf(where, sizeof where, "%s:%d", path, line_no);
        const char *words[64];
        int n = 0;
        char *colon = strchr(l, ':'), *rest = NULL;
        if (colon) *colon = 0, rest = colon + 1;
        words[n++] = trim(l);
        char *save2 = NULL;
        for (char *t = rest ? strtok_r(rest, ",", &save2) : NULL; t && n < 64;
             t = strtok_r(NULL, ",", &save2))
            if (*trim(t)) words[n++] = trim(t);
        char *label = label_of(words[0]);
        s = label ? add_class(p, label, words, n, where, err) : dm_fail(err, "out of memory");
        free(label);
    }
    free(text);
    if (!s && p->n_classes == 0)
        s = dm_fail_code(err, DM_EUSAGE, "%s: no classes in the file", path);
    return s;
}

dm_status dm_plan_classes_preset(dm_plan *p, const char *name, dm_error *err) {
    /* PASCAL VOC 2012, ids 1..20 in this order; the second word is how prompts name it */
    static const char *const voc[20][2] = {
        {"aeroplane", "airplane"}, /* "aeroplane" is 2 CLIP tokens */
        {"bicycle", "bicycle"},
        {"bird", "bird"},
        {"boat", "boat"},
        {"bottle", "bottle"},
        {"bus", "bus"},
        {"car", "car"},
        {"cat", "cat"},
        {"chair", "chair"},
        {"cow", "cow"},
        {"diningtable", "dining table"},
        {"dog", "dog"},
        {"horse", "horse"},
        {"motorbike", "motorbike"},
        {"person", "person"},
        {"pottedplant", "potted plant"},
        {"sheep", "sheep"},
        {"sofa", "sofa"},
        {"train", "train"},
        {"tvmonitor", "tv monitor"}};
    if (strcmp(name, "voc"))
        return dm_fail_code(err, DM_EUSAGE, "--preset: unknown preset '%s' (known: voc)", name);
    for (int i = 0; i < 20; i++)
        DM_TRY(add_class(p, voc[i][0], &voc[i][1], 1, "--preset voc", err));
    return DM_OK;
}

/* template with "{}" -> word; "a {}" -> "an {}" before a vowel */
static char *fill(const char *tpl, const char *word) {
    const char *at = strstr(tpl, "{}");
    if (!at) return NULL;
    size_t n = strlen(tpl) + strlen(word) + 4;
    char *out = malloc(n);
    if (!out) return NULL;
    int an = at >= tpl + 2 && at[-1] == ' ' && at[-2] == 'a' && (at == tpl + 2 || at[-3] == ' ') &&
             strchr("aeiouAEIOU", word[0]);
    snprintf(out, n, "%.*s%s%s%s", (int)(at - tpl - (an ? 1 : 0)), tpl, an ? "n " : "", word,
             at + 2);
    return out;
}

/* room for n items: exactly n when exact, else doubling (a prompts file of many lines is then
 * read in linear time) */
static dm_status grow(dm_plan *p, long n, int exact, const char *what, dm_error *err) {
    if (n > DM_PLAN_MAX_SAMPLES)
        return dm_fail_code(err, DM_EUSAGE,
                            "%s: %ld samples; one dataset holds at most %ld (make several with "
                            "different --seed and merge them)",
                            what, n, DM_PLAN_MAX_SAMPLES);
    if (n <= p->cap_items) return DM_OK;
    long cap = exact ? n : p->cap_items ? p->cap_items : 64;
    while (cap < n) cap *= 2;
    if (cap > DM_PLAN_MAX_SAMPLES) cap = DM_PLAN_MAX_SAMPLES;
    dm_plan_item *it = realloc(p->items, sizeof *it * (size_t)cap);
    if (!it) return dm_fail(err, "out of memory for %ld samples", n);
    p->items = it;
    p->cap_items = cap;
    return DM_OK;
}

static void name_item(dm_plan *p, dm_plan_item *it) {
    int k = snprintf(it->name, sizeof it->name, "%06ld", it->index);
    for (int o = 0; o < it->n_obj && k < (int)sizeof it->name - 2; o++)
        k += snprintf(it->name + k, sizeof it->name - (size_t)k, "_%s",
                      p->classes[it->class_id[o] - 1].label);
    /* a file name by construction: [A-Za-z0-9_.-] only, and never two dots in a row (a class
     * "a...b" or "../x" gives "000000_a.--b", "000000_.--x"); single dots stay, so names made
     * before this rule keep theirs and their datasets resume */
    for (char *c = it->name; *c; c++)
        if ((!isalnum((unsigned char)*c) && *c != '_' && *c != '-' && *c != '.') ||
            (*c == '.' && c > it->name && c[-1] == '.'))
            *c = '-';
}

dm_status dm_plan_from_templates(dm_plan *p, const char *const *templates, int n_templates,
                                 long per_class, uint64_t seed, dm_error *err) {
    static const char *const def[1] = {DM_DEFAULT_TEMPLATE};
    if (n_templates == 0) templates = def, n_templates = 1;
    for (int t = 0; t < n_templates; t++) {
        const char *at = strstr(templates[t], "{}");
        /* every sample holds its prompt: a million samples of a long template would not fit */
        if (strlen(templates[t]) > DM_MAX_TEMPLATE_BYTES)
            return dm_fail_code(err, DM_EUSAGE, "--template '%.40s...' is longer than %d bytes",
                                templates[t], DM_MAX_TEMPLATE_BYTES);
        if (!at)
            return dm_fail_code(err, DM_EUSAGE, "--template '%s' has no {} for the class word",
                                templates[t]);
        /* one {} only: the mask is the attention of the class word, and a second copy of the
         * word would be a second object of the same class in one prompt */
        if (strstr(at + 2, "{}"))
            return dm_fail_code(err, DM_EUSAGE,
                                "--template '%s' has more than one {} (give exactly one, for the "
                                "class word)",
                                templates[t]);
    }
    if (per_class < 1 || per_class > DM_PLAN_MAX_SAMPLES)
        return dm_fail_code(err, DM_EUSAGE, "--images-per-class must be 1..%ld",
                            DM_PLAN_MAX_SAMPLES);
    char what[96];
    snprintf(what, sizeof what, "--images-per-class %ld x %d classes", per_class, p->n_classes);
    DM_TRY(grow(p, p->n_items + per_class * p->n_classes, 1, what, err));
    for (int c = 0; c < p->n_classes; c++)
        for (long j = 0; j < per_class; j++) {
            dm_plan_item *it = &p->items[p->n_items];
            memset(it, 0, sizeof *it);
            it->index = p->n_items;
            const char *word = p->classes[c].words[j % p->classes[c].n_words];
            it->prompt = fill(templates[j % n_templates], word);
            it->n_obj = 1;
            it->class_id[0] = c + 1;
            it->word[0] = strdup(word);
            it->seed = dm_sample_seed(seed, it->index);
            p->n_items++;
            if (!it->prompt || !it->word[0]) return dm_fail(err, "out of memory");
            name_item(p, it);
        }
    return DM_OK;
}

static dm_status object(dm_plan *p, dm_plan_item *it, const cJSON *cls, const cJSON *word,
                        int fixed, const char *where, dm_error *err) {
    if (!cJSON_IsString(cls) || !*cls->valuestring)
        return dm_fail_code(err, DM_EUSAGE, "%s: \"class\" must be a non-empty string", where);
    if (word && !cJSON_IsString(word))
        return dm_fail_code(err, DM_EUSAGE, "%s: \"word\" must be a string", where);
    if (it->n_obj == DM_MAX_OBJECTS)
        return dm_fail_code(err, DM_EUSAGE, "%s: more than %d classes", where, DM_MAX_OBJECTS);
    int c = find_class(p, cls->valuestring);
    if (c < 0) {
        if (fixed)
            return dm_fail_code(err, DM_EUSAGE, "%s: class '%s' is not in the class list", where,
                                cls->valuestring);
        DM_TRY(add_word_class(p, cls->valuestring, where, err));
        c = p->n_classes - 1;
    }
    it->class_id[it->n_obj] = c + 1;
    it->word[it->n_obj] = strdup(word ? word->valuestring : cls->valuestring);
    it->n_obj++;
    return DM_OK;
}

/* The 1-based column of the nth occurrence of "key" followed by ':' in a JSON line, or 0 when
 * the text spells it otherwise (escapes). */
static int key_column(const char *line, const char *key, int nth) {
    size_t n = strlen(key);
    for (const char *c = line; (c = strchr(c, '"')); c++)
        if (!strncmp(c + 1, key, n) && c[n + 1] == '"') {
            const char *e = c + n + 2;
            while (*e == ' ' || *e == '\t') e++;
            if (*e == ':' && --nth == 0) return (int)(c - line) + 1;
        }
    return 0;
}

/* The first key of object o that appears twice (cJSON keeps both; which one counts would be a
 * guess), or NULL. Pairwise: a prompt line has a handful of keys (past 64 the rest go
 * unchecked, keeping a hostile line with thousands of keys linear). */
static const char *duplicate_key(const cJSON *o) {
    int n = 0;
    for (const cJSON *a = o->child; a && n++ < 64; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) return a->string;
    return NULL;
}

dm_status dm_plan_from_jsonl(dm_plan *p, const char *path, uint64_t seed, dm_error *err) {
    char *text;
    DM_TRY(dm_read_file(path, &text, NULL, err));
    int fixed = p->n_classes > 0;
    char where[4200];
    dm_status s = DM_OK;
    int line_no = 0;
    /* line by line, empty ones included, so line numbers are the file's */
    for (char *line = text, *next = NULL; line && !s; line = next) {
        if ((next = strchr(line, '\n'))) *next++ = 0;
        line_no++;
        if (!*trim(line)) continue;
        snprintf(where, sizeof where, "%s:%d", path, line_no);
        cJSON *o;
        if ((s = dm_json_parse_object(line, strlen(line), path, line_no, &o, err))) {
            s = DM_EUSAGE;
            break;
        }
        const char *dup = duplicate_key(o);
        if (dup) {
            int col = key_column(line, dup, 2);
            if (col)
                s = dm_fail_code(err, DM_EUSAGE, "%s:%d: key \"%s\" is given twice", where, col,
                                 dup);
            else
                s = dm_fail_code(err, DM_EUSAGE, "%s: key \"%s\" is given twice", where, dup);
            cJSON_Delete(o);
            break;
        }
        if ((s = grow(p, p->n_items + 1, 0, path, err))) {
            cJSON_Delete(o);
            break;
        }
        dm_plan_item *it = &p->items[p->n_items];
        memset(it, 0, sizeof *it);
        it->index = p->n_items;
        p->n_items++;
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "prompt");
        const cJSON *cls = cJSON_GetObjectItemCaseSensitive(o, "class");
        const cJSON *classes = cJSON_GetObjectItemCaseSensitive(o, "classes");
        const cJSON *word = cJSON_GetObjectItemCaseSensitive(o, "word");
        const cJSON *words = cJSON_GetObjectItemCaseSensitive(o, "words");
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(o, "seed");
        if (!cJSON_IsString(pr) || !*pr->valuestring)
            s = dm_fail_code(err, DM_EUSAGE, "%s: needs a \"prompt\" string", where);
        else if (!cls && !cJSON_IsArray(classes))
            s = dm_fail_code(err, DM_EUSAGE, "%s: needs \"class\" or \"classes\"", where);
        else if (sd && (!cJSON_IsNumber(sd) || !(sd->valuedouble >= 0) ||
                        sd->valuedouble > 9007199254740991.0 ||
                        sd->valuedouble != (double)(uint64_t)sd->valuedouble))
            s = dm_fail_code(err, DM_EUSAGE, "%s: \"seed\" must be a non-negative integer", where);
        if (!s) {
            it->prompt = strdup(pr->valuestring);
            it->seed = sd ? (uint64_t)sd->valuedouble : dm_sample_seed(seed, it->index);
            if (cls)
                s = object(p, it, cls, word, fixed, where, err);
            else {
                if (words && (!cJSON_IsArray(words) ||
                              cJSON_GetArraySize(words) != cJSON_GetArraySize(classes)))
                    s = dm_fail_code(err, DM_EUSAGE, "%s: \"words\" must match \"classes\"", where);
                int k = 0;
                for (const cJSON *c = classes->child; c && !s; c = c->next, k++)
                    s = object(p, it, c, words ? cJSON_GetArrayItem(words, k) : NULL, fixed, where,
                               err);
                if (!s && it->n_obj == 0)
                    s = dm_fail_code(err, DM_EUSAGE, "%s: \"classes\" is empty", where);
            }
        }
        cJSON_Delete(o);
        if (!s) name_item(p, it);
    }
    free(text);
    if (!s && p->n_items == 0) s = dm_fail_code(err, DM_EUSAGE, "%s: no prompts in the file", path);
    return s;
}

int dm_phrase_split_words(const dm_tokenizer *t, const char *phrase, char *desc, size_t cap,
                          dm_error *err) {
    dm_word_tokens *words = NULL;
    int n_words = 0, n_ids = 0, split = 0;
    int32_t *ids = NULL, ids77[DM_CONTEXT_LEN];
    if (cap) desc[0] = 0;
    if (dm_tokenize_words(t, phrase, &words, &n_words, err)) return -1;
    if (dm_tokenize(t, phrase, &ids, &n_ids, ids77, err)) {
        dm_word_tokens_free(words, n_words);
        return -1;
    }
    size_t len = 0;
    for (int w = 0; w < n_words; w++) {
        if (words[w].end - words[w].start < 2) continue;
        len += (size_t)snprintf(desc + (len < cap ? len : cap), len < cap ? cap - len : 0,
                                "%s'%s' =", split ? "; " : "", words[w].text);
        for (int k = words[w].start; k < words[w].end && k < n_ids; k++) {
            const char *piece = dm_tokenizer_token(t, ids[k]);
            size_t pl = piece ? strlen(piece) : 0;
            if (pl >= 4 && !strcmp(piece + pl - 4, "</w>")) pl -= 4; /* end-of-word mark */
            len += (size_t)snprintf(desc + (len < cap ? len : cap), len < cap ? cap - len : 0,
                                    "%s'%.*s'", k > words[w].start ? " + " : " ", (int)pl,
                                    piece ? piece : "?");
        }
        split++;
    }
    free(ids);
    dm_word_tokens_free(words, n_words);
    return split;
}
