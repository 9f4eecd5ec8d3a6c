/* diffumask merge: shard folders -> one dataset, byte-identical to an unsharded run. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dataset/format/dataset.h"
#include "dataset/format/ds_internal.h"
#include "io/file.h"
#include "io/json.h"

#define PATH_CAP 4096

typedef struct {
    const dm_manifest_entry *e;
    int shard;
} merge_item;

static int item_cmp(const void *a, const void *b) {
    return strcmp(((const merge_item *)a)->e->name, ((const merge_item *)b)->e->name);
}

/* The shards' common config (without "shard") and their common labels.txt. */
/* Shards made at different precisions (bf16 on one machine, fp32 on another) are merged, not
 * refused: the merged config says "precision": "mixed" with each shard's in
 * "shard_precisions", every manifest line keeps its own, and note (when not NULL) says so. */
static dm_status mixed_precision(cJSON **prec, const char *const *dirs, int n, char **config,
                                 char *note, size_t note_cap, dm_error *err) {
    int mixed = 0;
    for (int i = 1; i < n; i++)
        mixed |= (prec[0] == NULL) != (prec[i] == NULL) ||
                 (prec[0] && !cJSON_Compare(prec[0], prec[i], 1));
    if (!mixed) return DM_OK;
    cJSON *c = cJSON_Parse(*config);
    if (!c) return dm_fail(err, "merge: out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(c, "precision");
    cJSON_AddStringToObject(c, "precision", "mixed");
    cJSON *arr = cJSON_AddArrayToObject(c, "shard_precisions");
    size_t k = note ? (size_t)snprintf(note, note_cap, "shards made at different precisions:") : 0;
    for (int i = 0; i < n; i++) {
        const char *p = cJSON_IsString(prec[i]) ? prec[i]->valuestring : "unrecorded";
        cJSON_AddItemToArray(arr, cJSON_CreateString(p));
        if (note && k < note_cap)
            k += (size_t)snprintf(note + k, note_cap - k, " %s %s%s", dirs[i], p,
                                  i + 1 < n ? "," : "");
    }
    char *s = cJSON_Print(c);
    cJSON_Delete(c);
    if (!s) return dm_fail(err, "merge: out of memory");
    free(*config);
    size_t len = strlen(s);
    *config = malloc(len + 2);
    if (!*config) {
        free(s);
        return dm_fail(err, "merge: out of memory");
    }
    memcpy(*config, s, len);
    (*config)[len] = '\n', (*config)[len + 1] = 0;
    free(s);
    return DM_OK;
}

static dm_status check_shards(const char *const *dirs, int n, char **config, char ***labels,
                              int *n_labels, char *note, size_t note_cap, dm_error *err) {
    char path[PATH_CAP];
    cJSON *first = NULL;
    cJSON **prec = calloc((size_t)n, sizeof *prec);
    dm_status st = prec ? DM_OK : dm_fail(err, "merge: out of memory");
    for (int i = 0; i < n && st == DM_OK; i++) {
        snprintf(path, sizeof path, "%s/config.json", dirs[i]);
        if (!dm_file_exists(path)) {
            st = dm_fail(err, "%s: not a diffumask dataset (no config.json)", dirs[i]);
            break;
        }
        char *text;
        if ((st = dm_read_file(path, &text, NULL, err)) != DM_OK) break;
        cJSON *j = NULL;
        st = dm_json_parse_object(text, strlen(text), path, 0, &j, err);
        if (st == DM_OK && i == 0) st = dm_config_canonical(text, "shard", path, config, err);
        free(text);
        if (st != DM_OK) {
            cJSON_Delete(j);
            break;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(j, "shard");
        prec[i] = cJSON_DetachItemFromObjectCaseSensitive(j, "precision");
        char key[512] = "";
        if (!first)
            first = j;
        else {
            if (dm_json_first_diff(first, j, key, sizeof key))
                st = dm_fail(err,
                             "%s: settings differ from %s/config.json (key %s); shards of one run "
                             "differ only in \"shard\"",
                             path, dirs[0], key);
            cJSON_Delete(j);
        }
    }
    cJSON_Delete(first);
    if (st == DM_OK) st = mixed_precision(prec, dirs, n, config, note, note_cap, err);
    for (int i = 0; prec && i < n; i++) cJSON_Delete(prec[i]);
    free(prec);
    for (int i = 0; i < n && st == DM_OK; i++) {
        char **l;
        int nl;
        if ((st = dm_read_labels(dirs[i], &l, &nl, err)) != DM_OK) break;
        bool same = i == 0 || nl == *n_labels;
        for (int k = 0; same && i > 0 && k < nl; k++) same = !strcmp(l[k], (*labels)[k]);
        if (i == 0) {
            *labels = l;
            *n_labels = nl;
        } else {
            dm_free_lines(l, nl);
            if (!same)
                st = dm_fail(err, "%s/labels.txt: class list differs from %s/labels.txt", dirs[i],
                             dirs[0]);
        }
    }
    return st;
}

static dm_status copy_sample(const char *out_dir, const char *shard_dir, const cJSON *j,
                             dm_error *err) {
    static const char *const keys[] = {"image", "mask", "heatmap"};
    for (int k = 0; k < 3; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
        if (!v) continue; /* no heat map; image and mask were checked when the manifest was read */
        char src[PATH_CAP], dst[PATH_CAP];
        if ((size_t)snprintf(src, sizeof src, "%s/%s", shard_dir, v->valuestring) >= sizeof src ||
            (size_t)snprintf(dst, sizeof dst, "%s/%s", out_dir, v->valuestring) >= sizeof dst)
            return dm_fail(err, "%s/%s: path too long", shard_dir, v->valuestring);
        char *slash = strrchr(dst, '/');
        *slash = 0;
        DM_TRY(dm_mkdirs(dst, err));
        *slash = '/';
        DM_TRY(dm_link_or_copy(src, dst, err));
    }
    return DM_OK;
}

/* Appends "; " and a formatted part to the note (what a partial merge lacks). */
__attribute__((format(printf, 3, 4))) static void note_add(char *note, size_t cap, const char *fmt,
                                                           ...) {
    size_t k = strlen(note);
    if (k + 3 >= cap) return;
    if (k) note[k++] = ';', note[k++] = ' ', note[k] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note + k, cap - k, fmt, ap);
    va_end(ap);
}

/* Are the shards 0..N-1 all here, and each finished with every sample it owns? Problems go to
 * note (one line); returns how many. Shard K/N of a run of S samples owns the indices i < S with
 * i % N == K; a shard's finished samples are its manifest lines plus those pruned into pruned/,
 * and a finished shard has annotations.json (written last). */
static int check_complete(const char *const *dirs, int n, char *note, size_t cap, dm_error *err,
                          dm_status *st) {
    int problems = 0, N = -1;
    enum { MAX_N = 1 << 16 };
    unsigned char *seen = calloc(MAX_N, 1);
    if (!seen) {
        *st = dm_fail(err, "merge: out of memory");
        return 0;
    }
    note[0] = 0;
    for (int i = 0; i < n && !*st; i++) {
        char path[PATH_CAP], *text = NULL;
        snprintf(path, sizeof path, "%s/config.json", dirs[i]);
        if ((*st = dm_read_file(path, &text, NULL, err))) break;
        cJSON *j = cJSON_Parse(text);
        free(text);
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shard");
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(j, "samples");
        int k = 0, nn = 1;
        char extra;
        if (sh &&
            (!cJSON_IsString(sh) || sscanf(sh->valuestring, "%d/%d%c", &k, &nn, &extra) != 2 ||
             nn < 1 || nn > MAX_N || k < 0 || k >= nn))
            *st = dm_fail(err, "%s: \"shard\" is not K/N", path);
        else if (N >= 0 && nn != N)
            *st = dm_fail(err, "%s: shard %d/%d, but %s is a shard of %d", path, k, nn, dirs[0], N);
        long long total = -1;
        if (!*st && cJSON_IsNumber(ns) && ns->valuedouble >= 0 && ns->valuedouble < 1e15)
            total = (long long)ns->valuedouble;
        cJSON_Delete(j);
        if (*st) break;
        N = nn;
        seen[k] = 1;
        snprintf(path, sizeof path, "%s/annotations.json", dirs[i]);
        if (!dm_file_exists(path)) {
            note_add(note, cap, "%s (shard %d/%d) is unfinished: no annotations.json", dirs[i], k,
                     N);
            problems++;
            continue;
        }
        if (total < 0) continue; /* a config without "samples": only the shard set is known */
        long long owns = total > k ? (total - k + N - 1) / N : 0;
        dm_manifest m = {0}, pm = {0};
        if ((*st = dm_manifest_load(dirs[i], &m, err))) break;
        snprintf(path, sizeof path, "%s/pruned", dirs[i]);
        if (dm_dir_exists(path) && (*st = dm_manifest_load(path, &pm, err))) {
            dm_manifest_free(&m);
            break;
        }
        long long have = (long long)m.n + pm.n;
        dm_manifest_free(&m);
        dm_manifest_free(&pm);
        if (have < owns) {
            note_add(note, cap, "%s (shard %d/%d) is unfinished: %lld of its %lld samples", dirs[i],
                     k, N, have, owns);
            problems++;
        }
    }
    for (int k = 0; !*st && k < N; k++)
        if (!seen[k]) {
            note_add(note, cap, "shard %d/%d is missing", k, N);
            problems++;
        }
    free(seen);
    return problems;
}

dm_status dm_dataset_merge(const char *out_dir, const char *const *shard_dirs, int n,
                           dm_error *err) {
    return dm_dataset_merge_note(out_dir, shard_dirs, n, false, NULL, 0, NULL, 0, err);
}

dm_status dm_dataset_merge_note(const char *out_dir, const char *const *shard_dirs, int n,
                                bool allow_partial, char *note, size_t note_cap, char *missing,
                                size_t missing_cap, dm_error *err) {
    if (note && note_cap) note[0] = 0;
    char local[1024];
    if (!missing || missing_cap < 2) missing = local, missing_cap = sizeof local;
    missing[0] = 0;
    if (n < 1) return dm_fail_code(err, DM_EUSAGE, "merge: no shard folders given");
    char *config = NULL, **labels = NULL;
    int n_labels = 0;
    dm_status st = check_shards(shard_dirs, n, &config, &labels, &n_labels, note, note_cap, err);
    int problems = st == DM_OK ? check_complete(shard_dirs, n, missing, missing_cap, err, &st) : 0;
    if (st == DM_OK && problems && !allow_partial)
        st = dm_fail(err, "%s: incomplete run, not merged: %s (--allow-partial merges anyway)",
                     out_dir, missing);

    dm_manifest *ms = calloc((size_t)n, sizeof *ms);
    if (!ms && st == DM_OK) st = dm_fail(err, "merge: out of memory");
    size_t total = 0;
    for (int i = 0; i < n && st == DM_OK; i++) {
        st = dm_manifest_load(shard_dirs[i], &ms[i], err);
        total += (size_t)ms[i].n;
    }
    merge_item *items = st == DM_OK ? malloc(sizeof *items * (total + 1)) : NULL;
    if (!items && st == DM_OK) st = dm_fail(err, "merge: out of memory");
    size_t k = 0;
    for (int i = 0; i < n && st == DM_OK; i++)
        for (int j = 0; j < ms[i].n; j++) items[k++] = (merge_item){&ms[i].v[j], i};
    if (st == DM_OK && total) qsort(items, total, sizeof *items, item_cmp);
    for (size_t i = 1; i < total && st == DM_OK; i++)
        if (!strcmp(items[i].e->name, items[i - 1].e->name))
            st = dm_fail(err, "%s: sample %s is in both %s and %s (shards must be disjoint)",
                         shard_dirs[items[i].shard], items[i].e->name,
                         shard_dirs[items[i - 1].shard], shard_dirs[items[i].shard]);

    dm_dataset *ds = NULL;
    if (st == DM_OK)
        st = dm_dataset_open(out_dir, config, (const char *const *)labels + 1, n_labels - 1, "png",
                             &ds, err);
    if (st == DM_OK && dm_dataset_count(ds) > 0)
        st = dm_fail(err, "%s: already holds %d samples; merge into a new folder", out_dir,
                     dm_dataset_count(ds));
    /* Files first, then the lines: a merge killed halfway leaves OUT resumable like a generation.
     */
    for (size_t i = 0; i < total && st == DM_OK; i++) {
        st = copy_sample(out_dir, shard_dirs[items[i].shard], items[i].e->json, err);
        if (st == DM_OK) st = dm_dataset_append_line(ds, items[i].e->name, items[i].e->line, err);
    }
    if (st == DM_OK) st = dm_dataset_finish(ds, err);
    dm_dataset_close(ds);
    free(items);
    for (int i = 0; ms && i < n; i++) dm_manifest_free(&ms[i]);
    free(ms);
    free(config);
    dm_free_lines(labels, n_labels);
    return st;
}
