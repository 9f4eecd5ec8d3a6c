/* What every mask step agrees on about labels: which soft value counts as foreground, the label of
 * a pixel no class may claim, and how many classes one prompt may carry. Shared by threshold.c,
 * multiclass.c, crf.c and mask.c (through mask.h), so those files need not include one another's
 * headers. */
#ifndef DM_MASK_LABELS_H
#define DM_MASK_LABELS_H

/* Label of a pixel nobody should learn from (VOC's "ignore"). */
#define DM_MASK_IGNORE 255

#define DM_MASK_MAX_CLASSES 32 /* class words in one prompt */

/* Foreground test used everywhere: soft > gamma (strict, like `mask = soft > 0.5`). */
static inline int dm_above(float soft, float gamma) {
    return soft > gamma;
}

#endif
