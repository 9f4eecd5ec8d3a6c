/* Segmentation metrics computed the way mmsegmentation's IoUMetric does: pixels whose ground truth
 * is the ignore value are dropped; per class c, IoU = TP / (TP + FP + FN) and Acc = TP / (TP + FN);
 * a class with no ground-truth and no predicted pixels has IoU NaN and is left out of the mean
 * (nanmean); aAcc = sum TP / number of counted ground-truth pixels. Labels >= n_classes (other than
 * ignore) fall outside torch.histc's bins: they count for the other side only. */
#ifndef DM_DATASET_EVAL_H
#define DM_DATASET_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define DM_EVAL_MAX_CLASSES 256

/* conf has (n_classes+1)^2 counts, row = ground truth, column = prediction; row / column
 * n_classes collects labels outside 0..n_classes-1. Zero it before the first add. */
void dm_confusion_add(uint64_t *conf, const uint8_t *pred, const uint8_t *gt, size_t n,
                      int n_classes, int ignore);

typedef struct {
    int n_classes;
    double iou[DM_EVAL_MAX_CLASSES]; /* NaN where the class has no gt and no predicted pixel */
    double acc[DM_EVAL_MAX_CLASSES]; /* NaN where the class has no gt pixel */
    uint64_t gt_pixels[DM_EVAL_MAX_CLASSES], pred_pixels[DM_EVAL_MAX_CLASSES];
    double miou, macc;     /* nanmean over classes (NaN when all are NaN) */
    double pixel_accuracy; /* aAcc */
    uint64_t pixels;       /* counted (non-ignore) ground-truth pixels */
    int images;            /* filled by dm_eval_dirs */
} dm_eval_result;

dm_status dm_confusion_iou(const uint64_t *conf, int n_classes, dm_eval_result *r, dm_error *err);

/* Pairs every GT_DIR/NAME.png with PRED_DIR/NAME.png (masks: palette indices or gray values).
 * n_classes 0: the largest label found in either (other than ignore) + 1. */
dm_status dm_eval_dirs(const char *pred_dir, const char *gt_dir, int n_classes, int ignore,
                       dm_eval_result *r, dm_error *err);

#endif
