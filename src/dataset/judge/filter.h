/* Noise-learning pruning (DiffuMask section 7) with the segmenter outside diffumask: every
 * sample's mask is compared with an external segmenter's prediction of the same image, and the
 * fraction of samples that disagree most is dropped.
 *
 * Sample IoU: over the pixels where neither the mask nor the prediction is 255, the IoU of each
 * class present (in either) is TP / (TP + FP + FN); the sample's score is their mean, background
 * included. A sample with no such pixel scores 0 (it teaches nothing: pruned first).
 *
 * Dropping: the floor(P * n) lowest scores (ties broken by name), so P = 0.25 of 4 drops one.
 *
 * With an OUT folder: OUT becomes a new dataset of the kept samples (files hard-linked, copied
 * when linking fails), its config.json the source's plus "filter": {source, pred, drop}, each
 * manifest line the source's plus "pred_iou"; train.txt, labels.txt, annotations.json follow
 * from dm_dataset_finish. The source is not touched.
 *
 * In place (no OUT): the dataset must stay consistent for every reader, mmsegmentation's folder
 * scan included, and for a later resumed or finished run. So dropped samples leave the dataset
 * instead of being flagged: their files move to DATASET/pruned/ (same layout: JPEGImages/,
 * SegmentationClass/, Heatmaps/) and their lines, with "pred_iou", are appended to
 * DATASET/pruned/manifest.jsonl (pruned/ also gets labels.txt and config.json, so it is itself a
 * readable dataset folder); manifest.jsonl is rewritten with the kept lines (plus "pred_iou"),
 * then train.txt and annotations.json are regenerated. Each step leaves a loadable dataset:
 * a line whose files already moved is dropped by the manifest reader. */
#ifndef DM_DATASET_FILTER_H
#define DM_DATASET_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

/* The sample IoU above of n mask pixels against n predicted pixels. */
double dm_sample_iou(const uint8_t *mask, const uint8_t *pred, size_t n);

typedef struct {
    char *name;
    double iou;
} dm_filter_score;

typedef struct {
    int total, kept, dropped;
    double miou_before,
        miou_after;          /* mean sample IoU over all / over the kept samples (0 if none) */
    dm_filter_score *scores; /* all samples, worst first; the first `dropped` were dropped */
} dm_filter_result;

/* pred_dir holds NAME.png (palette indices or 8-bit gray class ids, the mask's size) for every
 * sample; a missing or mismatched one is an error naming it, found before anything is written.
 * drop in [0, 1]. out_dir NULL or "": prune in place (see above). */
dm_status dm_filter_dataset(const char *dir, const char *pred_dir, double drop, const char *out_dir,
                            dm_filter_result *res, dm_error *err);
void dm_filter_result_free(dm_filter_result *res);

/* generate --prune-fraction / --min-score: moves the samples with the lowest manifest quality
 * score into DIR/pruned/ (as the in-place filter does) so that floor(fraction * all samples) are
 * pruned in all, and every sample scoring below min_score too (0: none); running it again after
 * a resume prunes nothing more. */
dm_status dm_prune_by_score(const char *dir, double fraction, double min_score, int *n_dropped,
                            dm_error *err);

#endif
