/* The two facts every mask step agrees on: which soft value counts as foreground, and the label
 * of a pixel no class may claim. Shared by threshold.c, multiclass.c and mask.c (through mask.h),
 * so those files need not include one another's headers. */
#ifndef DM_MASK_PREDICATE_H
#define DM_MASK_PREDICATE_H

/* Label of a pixel nobody should learn from (VOC's "ignore"). */
#define DM_MASK_IGNORE 255

/* Foreground test used everywhere: soft > gamma (strict, like `mask = soft > 0.5`). */
static inline int dm_above(float soft, float gamma) {
    return soft > gamma;
}

#endif
