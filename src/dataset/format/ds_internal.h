/* Helpers of the dataset format shared by the four dataset rooms under src/dataset (not part of
 * the public API). */
#ifndef DM_DATASET_DS_INTERNAL_H
#define DM_DATASET_DS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "dataset/format/dataset.h"

/* buf (PATH_CAP = 4096 bytes) <- "a/b"; fails naming both when too long. */
dm_status dm_join_path(char *buf, const char *a, const char *b, dm_error *err);

/* A set of strings (open addressing); names are copied. */
typedef struct {
    char **slot;
    size_t cap, n;
} dm_name_set;

bool dm_name_set_has(const dm_name_set *s, const char *name);
/* Returns false when out of memory. */
bool dm_name_set_add(dm_name_set *s, const char *name);
void dm_name_set_free(dm_name_set *s);

/* Re-prints a JSON object the one way config.json is stored (cJSON_Print + '\n'), optionally
 * without one top-level key. what names the source in the error. */
dm_status dm_config_canonical(const char *json, const char *drop_key, const char *what, char **out,
                              dm_error *err);
/* Path of the first key at which two JSON values differ ("sampler", "mask.threshold"), or
 * "(whole config)" when they differ at the top; returns false when equal. */
bool dm_json_first_diff(const cJSON *a, const cJSON *b, char *path, size_t cap);

/* Appends one manifest line (text without '\n') for an already written sample, fsyncs it. */
dm_status dm_dataset_append_line(dm_dataset *ds, const char *name, const char *line, dm_error *err);
/* Reads labels.txt of a dataset folder: names[0] = background; free with dm_free_lines. */
dm_status dm_read_labels(const char *dir, char ***names, int *n, dm_error *err);
/* True for a usable sample / file name: [A-Za-z0-9_.-]+, not starting with '.', <= 200 chars. */
bool dm_valid_name(const char *name);

/* Appends the COCO annotations of one mask (read from path; class by class, connected components
 * in raster order, uncompressed RLE) to anns, numbering them from *next_ann. */
dm_status dm_coco_annotate(const char *path, const uint8_t *mask, int w, int h, int n_classes,
                           int image_id, int *next_ann, cJSON *anns, dm_error *err);

/* The quality score generate wrote into a manifest line ("quality": {"score": ...}), or absent
 * when the line has none. */
double dm_manifest_score(const cJSON *line, double absent);

#endif
