/* The small shared pieces of the dataset format: sample names, name sets, line files
 * (labels.txt, image lists), path joining and config.json's canonical form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/format/ds_internal.h"
#include "io/file.h"

#define PATH_CAP 4096

/* ------------------------------------------------------------ small helpers */

dm_status dm_join_path(char *buf, const char *a, const char *b, dm_error *err) {
    if ((size_t)snprintf(buf, PATH_CAP, "%s/%s", a, b) >= PATH_CAP)
        return dm_fail(err, "%s/%s: path too long", a, b);
    return DM_OK;
}

bool dm_valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 200 || name[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

bool dm_name_set_has(const dm_name_set *s, const char *name) {
    if (!s->cap) return false;
    for (size_t i = hash_str(name) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
        if (!s->slot[i]) return false;
        if (!strcmp(s->slot[i], name)) return true;
    }
}

static void set_put(char **slot, size_t cap, char *name) {
    size_t i = hash_str(name) & (cap - 1);
    while (slot[i]) i = (i + 1) & (cap - 1);
    slot[i] = name;
}

bool dm_name_set_add(dm_name_set *s, const char *name) {
    if (dm_name_set_has(s, name)) return true;
    if (2 * (s->n + 1) > s->cap) { /* keep the table at most half full */
        size_t cap = s->cap ? 2 * s->cap : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) return false;
        for (size_t i = 0; i < s->cap; i++)
            if (s->slot[i]) set_put(slot, cap, s->slot[i]);
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    char *copy = strdup(name);
    if (!copy) return false;
    set_put(s->slot, s->cap, copy);
    s->n++;
    return true;
}

void dm_name_set_free(dm_name_set *s) {
    for (size_t i = 0; i < s->cap; i++) free(s->slot[i]);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

void dm_free_lines(char **lines, int n) {
    if (!lines) return;
    for (int i = 0; i < n; i++) free(lines[i]);
    free(lines);
}

dm_status dm_read_lines(const char *path, char ***lines, int *n, dm_error *err) {
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    int cap = 16, cnt = 0;
    char **v = malloc(sizeof *v * cap);
    char *p = text;
    while (v && *p) {
        char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        size_t keep = l && p[l - 1] == '\r' ? l - 1 : l; /* tolerate CRLF files */
        if (cnt == cap) {
            char **nv = realloc(v, sizeof *v * (cap *= 2));
            if (!nv) break;
            v = nv;
        }
        if (!(v[cnt] = strndup(p, keep))) break;
        cnt++;
        p = nl ? nl + 1 : p + l;
    }
    bool oom = !v || *p;
    free(text);
    if (oom) {
        dm_free_lines(v, cnt);
        return dm_fail(err, "%s: out of memory", path);
    }
    *lines = v;
    *n = cnt;
    return DM_OK;
}

dm_status dm_read_labels(const char *dir, char ***names, int *n, dm_error *err) {
    char path[PATH_CAP];
    DM_TRY(dm_join_path(path, dir, "labels.txt", err));
    DM_TRY(dm_read_lines(path, names, n, err));
    if (*n < 1) {
        dm_free_lines(*names, *n);
        return dm_fail(err, "%s: empty (line 0 must be the background)", path);
    }
    return DM_OK;
}

/* ------------------------------------------------------------ config.json */

dm_status dm_config_canonical(const char *json, const char *drop_key, const char *what, char **out,
                              dm_error *err) {
    cJSON *j = cJSON_Parse(json);
    if (!j || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return dm_fail(err, "%s: settings are not a JSON object", what);
    }
    if (drop_key) cJSON_DeleteItemFromObjectCaseSensitive(j, drop_key);
    char *s = cJSON_Print(j);
    cJSON_Delete(j);
    size_t n = s ? strlen(s) : 0;
    char *r = s ? malloc(n + 2) : NULL;
    if (!r) {
        free(s);
        return dm_fail(err, "%s: out of memory printing settings", what);
    }
    memcpy(r, s, n);
    r[n] = '\n';
    r[n + 1] = 0;
    free(s);
    *out = r;
    return DM_OK;
}

bool dm_json_first_diff(const cJSON *a, const cJSON *b, char *path, size_t cap) {
    if (cJSON_Compare(a, b, 1)) return false;
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        size_t base = strlen(path);
        /* Keys of a (changed or gone), then keys only b has. */
        for (int pass = 0; pass < 2; pass++) {
            const cJSON *x = pass ? b : a, *y = pass ? a : b;
            for (const cJSON *c = x->child; c; c = c->next) {
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(y, c->string);
                if (o && cJSON_Compare(c, o, 1)) continue;
                snprintf(path + base, cap - base, "%s%s", base ? "." : "", c->string);
                if (o) dm_json_first_diff(pass ? o : c, pass ? c : o, path, cap);
                return true;
            }
        }
    }
    if (!path[0]) snprintf(path, cap, "(whole config)");
    return true;
}
