/* manifest.jsonl read side: parsing and checking its lines (files present, paths inside the
 * dataset), sorting by name, the quality score a line carries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dataset/format/ds_internal.h"
#include "io/file.h"

#define PATH_CAP 4096

/* ------------------------------------------------------------ manifest */

static dm_status manifest_push(dm_manifest *m, char *name, char *line, cJSON *json) {
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 64;
        dm_manifest_entry *v = realloc(m->v, sizeof *v * cap);
        if (!v) return DM_ERR;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (dm_manifest_entry){name, line, json};
    return DM_OK;
}

/* Does a relative path climb out of its folder? Only a ".." component does ("../x", "a/../..");
 * ".." inside a name ("JPEGImages/000000_a..b.jpg") is a harmless file name. */
static bool climbs_out(const char *p) {
    for (const char *c = p; *c;) {
        size_t n = strcspn(c, "/");
        if (n == 2 && c[0] == '.' && c[1] == '.') return true;
        c += n;
        if (*c == '/') c++;
    }
    return false;
}

/* A manifest path must stay inside the dataset and name an existing file. */
static bool entry_file_ok(const char *dir, const cJSON *j, const char *key, bool required) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!v) return !required;
    if (!cJSON_IsString(v) || climbs_out(v->valuestring) || v->valuestring[0] == '/') return false;
    char path[PATH_CAP];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, v->valuestring) >= sizeof path)
        return false;
    return dm_file_exists(path);
}

dm_status dm_manifest_parse(const char *dir, const char *text, size_t len, dm_manifest *m,
                            dm_error *err) {
    memset(m, 0, sizeof *m);
    dm_name_set seen = {0};
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) break; /* a partial line left by a kill: not finished */
        size_t l = (size_t)(nl - (text + pos));
        cJSON *j = cJSON_ParseWithLength(text + pos, l);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
        bool ok = cJSON_IsObject(j) && cJSON_IsString(name) && dm_valid_name(name->valuestring) &&
                  !dm_name_set_has(&seen, name->valuestring) &&
                  entry_file_ok(dir, j, "image", true) && entry_file_ok(dir, j, "mask", true) &&
                  entry_file_ok(dir, j, "heatmap", false);
        if (ok) {
            char *n = strdup(name->valuestring), *line = strndup(text + pos, l);
            if (!n || !line || !dm_name_set_add(&seen, n) ||
                manifest_push(m, n, line, j) != DM_OK) {
                free(n);
                free(line);
                cJSON_Delete(j);
                dm_name_set_free(&seen);
                dm_manifest_free(m);
                return dm_fail(err, "%s/manifest.jsonl: out of memory", dir);
            }
        } else {
            cJSON_Delete(j);
            m->dirty = true;
        }
        pos += l + 1;
    }
    m->good_bytes = pos;
    dm_name_set_free(&seen);
    return DM_OK;
}

dm_status dm_manifest_load(const char *dir, dm_manifest *m, dm_error *err) {
    char path[PATH_CAP];
    DM_TRY(dm_join_path(path, dir, "manifest.jsonl", err));
    if (!dm_file_exists(path)) {
        memset(m, 0, sizeof *m);
        return DM_OK;
    }
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    dm_status st = dm_manifest_parse(dir, text, len, m, err);
    free(text);
    return st;
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const dm_manifest_entry *)a)->name, ((const dm_manifest_entry *)b)->name);
}

void dm_manifest_sort(dm_manifest *m) {
    if (m->n) qsort(m->v, (size_t)m->n, sizeof *m->v, entry_cmp);
}

void dm_manifest_free(dm_manifest *m) {
    for (int i = 0; i < m->n; i++) {
        free(m->v[i].name);
        free(m->v[i].line);
        cJSON_Delete(m->v[i].json);
    }
    free(m->v);
    memset(m, 0, sizeof *m);
}

double dm_manifest_score(const cJSON *line, double absent) {
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(line, "quality");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(q, "score");
    return cJSON_IsNumber(s) ? s->valuedouble : absent;
}
