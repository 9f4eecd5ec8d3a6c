/* Finishing a dataset folder: the train / val / trainval lists (a held-out split by name),
 * labels.txt and annotations.json, from the manifest and the masks on disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "dataset/format/ds_internal.h"
#include "io/file.h"
#include "io/image.h"

#define PATH_CAP 4096

static dm_status write_string_list(const char *path, char **items, int from, int to,
                                   dm_error *err) {
    size_t total = 1;
    for (int i = from; i < to; i++) total += strlen(items[i]) + 1;
    char *buf = malloc(total), *p = buf;
    if (!buf) return dm_fail(err, "%s: out of memory", path);
    for (int i = from; i < to; i++) p += sprintf(p, "%s\n", items[i]);
    dm_status st = dm_write_file_atomic(path, buf, (size_t)(p - buf), err);
    free(buf);
    return st;
}

typedef struct {
    char key[65]; /* SHA-256 of the name, hex */
    int index;
} val_key;

static int val_key_cmp(const void *a, const void *b) {
    const val_key *x = a, *y = b;
    int c = memcmp(x->key, y->key, sizeof x->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

int dm_val_split(char *const *names, int n, double fraction, unsigned char *is_val) {
    memset(is_val, 0, (size_t)n);
    if (!(fraction > 0) || n < 2) return 0;
    int n_val = (int)(fraction * n + 0.5);
    if (n_val < 1) n_val = 1;
    if (n_val > n - 1) n_val = n - 1;
    val_key *k = malloc(sizeof *k * (size_t)n);
    if (!k) return -1;
    for (int i = 0; i < n; i++) {
        dm_sha256 h;
        dm_sha256_init(&h);
        dm_sha256_update(&h, names[i], strlen(names[i]));
        dm_sha256_hex(&h, k[i].key);
        k[i].index = i;
    }
    qsort(k, (size_t)n, sizeof *k, val_key_cmp);
    for (int i = 0; i < n_val; i++) is_val[k[i].index] = 1;
    free(k);
    return n_val;
}

/* "val_fraction" of DIR/config.json; 0 when absent (or no config.json: merge output before
 * its config is written has one, filter/augment copy theirs). */
static dm_status read_val_fraction(const char *dir, double *fraction, dm_error *err) {
    char path[PATH_CAP];
    *fraction = 0;
    DM_TRY(dm_join_path(path, dir, "config.json", err));
    if (!dm_file_exists(path)) return DM_OK;
    char *text;
    size_t len;
    DM_TRY(dm_read_file(path, &text, &len, err));
    cJSON *c = cJSON_ParseWithLength(text, len);
    free(text);
    if (!c) return dm_fail(err, "%s: not valid JSON", path);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "val_fraction");
    dm_status st = DM_OK;
    if (v && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble >= 1))
        st = dm_fail(err, "%s: val_fraction must be a number in [0, 1)", path);
    else if (v)
        *fraction = v->valuedouble;
    cJSON_Delete(c);
    return st;
}

dm_status dm_dataset_finish_dir(const char *dir, dm_error *err) {
    double val_fraction;
    DM_TRY(read_val_fraction(dir, &val_fraction, err));
    char **labels = NULL;
    int n_labels = 0;
    DM_TRY(dm_read_labels(dir, &labels, &n_labels, err));
    dm_manifest m;
    dm_status st = dm_manifest_load(dir, &m, err);
    if (st != DM_OK) {
        dm_free_lines(labels, n_labels);
        return st;
    }
    dm_manifest_sort(&m);
    char path[PATH_CAP];

    /* names: the train samples, then the val samples, each in name order */
    char **names = malloc(sizeof *names * ((size_t)m.n + 1) * 2);
    unsigned char *is_val = malloc((size_t)m.n + 1);
    if (!names || !is_val) st = dm_fail(err, "%s: out of memory", dir);
    for (int i = 0; st == DM_OK && i < m.n; i++) names[m.n + i] = m.v[i].name;
    if (st == DM_OK && dm_val_split(names + m.n, m.n, val_fraction, is_val) < 0)
        st = dm_fail(err, "%s: out of memory", dir);
    int n_train = 0;
    for (int i = 0; st == DM_OK && i < m.n; i++)
        if (!is_val[i]) names[n_train++] = m.v[i].name;
    for (int i = 0, j = n_train; st == DM_OK && i < m.n; i++)
        if (is_val[i]) names[j++] = m.v[i].name;
    if (st == DM_OK && (st = dm_join_path(path, dir, "ImageSets/Segmentation", err)) == DM_OK)
        st = dm_mkdirs(path, err);
    if (st == DM_OK &&
        (st = dm_join_path(path, dir, "ImageSets/Segmentation/train.txt", err)) == DM_OK)
        st = write_string_list(path, names, 0, n_train, err);
    if (st == DM_OK && val_fraction > 0) {
        if ((st = dm_join_path(path, dir, "ImageSets/Segmentation/val.txt", err)) == DM_OK)
            st = write_string_list(path, names, n_train, m.n, err);
        if (st == DM_OK &&
            (st = dm_join_path(path, dir, "ImageSets/Segmentation/trainval.txt", err)) == DM_OK)
            st = write_string_list(path, names, m.n, 2 * m.n, err);
    }
    free(names);
    free(is_val);
    if (st == DM_OK && (st = dm_join_path(path, dir, "labels.txt", err)) == DM_OK)
        st = write_string_list(path, labels, 0, n_labels, err);

    cJSON *coco = cJSON_CreateObject();
    cJSON *info = cJSON_AddObjectToObject(coco, "info");
    cJSON_AddStringToObject(info, "description", "diffumask synthetic segmentation dataset");
    cJSON *cats = cJSON_AddArrayToObject(coco, "categories");
    cJSON *imgs = cJSON_AddArrayToObject(coco, "images");
    cJSON *anns = cJSON_AddArrayToObject(coco, "annotations");
    if (!anns && st == DM_OK) st = dm_fail(err, "%s: out of memory", dir);
    for (int c = 1; c < n_labels && st == DM_OK; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", c);
        cJSON_AddStringToObject(o, "name", labels[c]);
        cJSON_AddItemToArray(cats, o);
    }
    int next_ann = 1;
    for (int i = 0; i < m.n && st == DM_OK; i++) {
        const cJSON *jm = cJSON_GetObjectItemCaseSensitive(m.v[i].json, "mask");
        const cJSON *ji = cJSON_GetObjectItemCaseSensitive(m.v[i].json, "image");
        if ((st = dm_join_path(path, dir, jm->valuestring, err)) != DM_OK) break;
        uint8_t *mask;
        int w, h;
        if ((st = dm_png_read(path, 1, &mask, &w, &h, err)) != DM_OK) break;
        const char *slash = strrchr(ji->valuestring, '/');
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", i + 1);
        cJSON_AddStringToObject(o, "file_name", slash ? slash + 1 : ji->valuestring);
        cJSON_AddNumberToObject(o, "width", w);
        cJSON_AddNumberToObject(o, "height", h);
        cJSON_AddItemToArray(imgs, o);
        st = dm_coco_annotate(path, mask, w, h, n_labels - 1, i + 1, &next_ann, anns, err);
        free(mask);
    }
    if (st == DM_OK) {
        char *text = cJSON_PrintUnformatted(coco);
        size_t len = text ? strlen(text) : 0;
        char *buf = text ? realloc(text, len + 2) : NULL;
        if (!buf) {
            free(text);
            st = dm_fail(err, "%s: out of memory printing annotations.json", dir);
        } else {
            buf[len] = '\n';
            if ((st = dm_join_path(path, dir, "annotations.json", err)) == DM_OK)
                st = dm_write_file_atomic(path, buf, len + 1, err);
            free(buf);
        }
    }
    cJSON_Delete(coco);
    dm_manifest_free(&m);
    dm_free_lines(labels, n_labels);
    return st;
}
