/* The dataset writer: a PASCAL VOC style folder plus COCO annotations and a manifest.
 *
 *   OUT/config.json                   the run's settings; a second run into OUT must match it
 *   OUT/labels.txt                    line i = name of class id i (line 0 "background")
 *   OUT/JPEGImages/NAME.jpg|png       the generated image
 *   OUT/SegmentationClass/NAME.png    8-bit palette PNG of class ids (0 bg, 1..C, 255 ignore)
 *   OUT/Heatmaps/NAME.png             optional 8-bit gray attention map
 *   OUT/manifest.jsonl                one compact JSON line per finished sample, in finish order
 *   OUT/ImageSets/Segmentation/train.txt, OUT/annotations.json   written by dm_dataset_finish
 *   OUT/ImageSets/Segmentation/val.txt, trainval.txt   also, when config.json has "val_fraction"
 *
 * Resumable: a sample is finished once its manifest line is on disk, and the line is appended
 * (write + fsync) only after its files were renamed into place. Reopening OUT after a kill drops a
 * trailing partial line, lines whose files are missing and stale ".tmp-" files. One process per
 * OUT at a time (an flock on manifest.jsonl). */
#ifndef DM_DATASET_DATASET_H
#define DM_DATASET_DATASET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/status.h"

typedef struct dm_dataset dm_dataset;

typedef struct {
    const char *name;   /* [A-Za-z0-9_.-]+, e.g. "000042_circle" (sorting by name = sample order) */
    const uint8_t *rgb; /* height x width x 3 */
    const uint8_t *mask; /* height x width class ids: 0 background, 1..C, 255 ignore */
    const float *heat;   /* optional height x width in [0,1] (NULL: no Heatmaps/NAME.png) */
    int width, height;
    /* Extra manifest fields: a cJSON object, or else a JSON object string (both may be NULL).
     * The keys name, image, mask, heatmap, width, height are the writer's own. */
    const cJSON *fields;
    const char *fields_json;
} dm_sample;

/* config_json: the run's settings as one JSON object (stored re-printed by cJSON, so key order
 * is kept). n_classes excludes background. image_ext: "jpg" or "png". */
dm_status dm_dataset_open(const char *out_dir, const char *config_json,
                          const char *const *class_names, int n_classes, const char *image_ext,
                          dm_dataset **out, dm_error *err);
/* True for finished samples, also those pruned into pruned/ (a resumed run must not redo them). */
bool dm_dataset_has(const dm_dataset *ds, const char *name);
int dm_dataset_count(const dm_dataset *ds); /* finished samples */
dm_status dm_dataset_add(dm_dataset *ds, const dm_sample *s, dm_error *err);
/* Writes train.txt, labels.txt and annotations.json from the manifest and the mask files.
 * With "val_fraction": F (0 < F < 1) in config.json, round(F * n) samples (at least 1, at most
 * n - 1, when n >= 2) go to val.txt instead of train.txt, and trainval.txt lists all: the val
 * samples are those with the smallest SHA-256 of their name, so the split depends only on the
 * set of sample names (a merge of shards splits exactly like a single-machine run). */
dm_status dm_dataset_finish(dm_dataset *ds, dm_error *err);
void dm_dataset_close(dm_dataset *ds);

/* The same as dm_dataset_finish for a dataset folder on disk (class names from labels.txt). */
dm_status dm_dataset_finish_dir(const char *dir, dm_error *err);

/* Merges shard folders into OUT (which must not hold samples yet): their config.json must agree
 * except for the top-level key "shard" (dropped from OUT's copy); files are hard-linked (copied
 * when linking fails), manifests concatenated in name order, then OUT is finished. A sample name
 * present in two shards is an error. The run must be complete: shards 0..N-1 all given (from
 * their "shard": "K/N"), each finished (annotations.json) with every sample it owns (from
 * "samples"); else the error lists what is missing. */
dm_status dm_dataset_merge(const char *out_dir, const char *const *shard_dirs, int n,
                           dm_error *err);
/* The same; note (note_cap bytes, may be NULL) receives a line for the caller to show when the
 * shards were made at different precisions (merged, not refused), else "". With allow_partial
 * an incomplete run is merged too, and missing (may be NULL) receives what it lacks, else "". */
dm_status dm_dataset_merge_note(const char *out_dir, const char *const *shard_dirs, int n,
                                bool allow_partial, char *note, size_t note_cap, char *missing,
                                size_t missing_cap, dm_error *err);

/* Which of n sample names go to val (is_val[i] = 1) for val fraction F, as described at
 * dm_dataset_finish; returns the val count, -1 when out of memory. */
int dm_val_split(char *const *names, int n, double fraction, unsigned char *is_val);

/* The lines of a text file (labels.txt: line i = name of class id i), '\n' and "\r\n" endings
 * removed; free with dm_free_lines. */
dm_status dm_read_lines(const char *path, char ***lines, int *n, dm_error *err);
void dm_free_lines(char **lines, int n);

/* ------------------------------------------------------------ COCO pieces (exposed for tests) */

/* Labels connected components of equal non-zero, non-ignore values with 8-connectivity.
 * label[i] = 0 for background / ignore pixels, else 1..*n_comp in raster order of each
 * component's first pixel. Returns DM_ERR only when out of memory. */
dm_status dm_components(const uint8_t *mask, int w, int h, int ignore, int32_t *label, int *n_comp,
                        dm_error *err);
/* COCO uncompressed RLE of the pixels where label == id, column-major, starting with a run of 0s.
 * counts must hold w*h+1 entries; returns the number of runs. */
int dm_rle_encode(const int32_t *label, int w, int h, int32_t id, uint32_t *counts);

/* ------------------------------------------------------------ the manifest, read-only */

typedef struct {
    char *name;
    char *line; /* the JSON line without '\n' */
    cJSON *json;
} dm_manifest_entry;

typedef struct {
    dm_manifest_entry *v;
    int n, cap;
    size_t good_bytes; /* length of the prefix made of complete lines */
    bool dirty;        /* a line was dropped (bad JSON, missing files, duplicate name) */
} dm_manifest;

/* Parses manifest text from a dataset folder: keeps complete lines whose files exist under dir. */
dm_status dm_manifest_parse(const char *dir, const char *text, size_t len, dm_manifest *m,
                            dm_error *err);
/* Reads DIR/manifest.jsonl (a missing file is an empty manifest). */
dm_status dm_manifest_load(const char *dir, dm_manifest *m, dm_error *err);
/* Sorts entries by name (strcmp). */
void dm_manifest_sort(dm_manifest *m);
void dm_manifest_free(dm_manifest *m);

#endif
