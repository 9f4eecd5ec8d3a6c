/* The per-sample quality score (score.c): a class's soft map and mask come in, a score in [0,1]
 * and its parts go out; mask.c calls it. */
#ifndef DM_MASK_SCORE_H
#define DM_MASK_SCORE_H

#include <stdint.h>

#include "mask/labels.h"

typedef struct {
    float score;         /* in [0,1]: min over the classes of the per-class score */
    float mass_inside;   /* parts: mean over classes. Fraction of the attention mass in the mask */
    float contrast;      /* mean soft inside - mean soft outside, clamped to [0,1] */
    float area_fraction; /* mask pixels / all pixels */
    float agreement;     /* IoU of the final mask with the unrefined one (1 without refinement) */
    float border;        /* fraction of the image's outermost pixel ring inside the mask */
    int n_classes;
    int turned_over; /* class maps the border prior turned over (mask.c, polarity.h) */
    float class_score[DM_MASK_MAX_CLASSES];
} dm_mask_score;

/* Weights of the parts in the per-class score (a weighted geometric mean; weight 0 = unused). */
typedef struct {
    float mass, contrast, agreement, border; /* border part = 1 - border fraction */
} dm_score_weights;

/* Per-class score: 0 when the area fraction is outside [area_min, area_max] (empty or whole-image
 * masks say nothing was found), else the weighted geometric mean of mass_inside, contrast,
 * agreement and (1 - border): prod part^(w_part / sum w) (1 when every weight is 0).
 * Measured on toy-shapes (BENCHMARKS.md, "Mask quality on toy-shapes"): the failures that matter
 * are masks that flipped onto the background (the word's attention spread over everything but
 * the object), which cover the image border; contrast separates diffuse from peaked attention.
 * mass_inside and agreement rank refined masks worse than chance (a correct refinement moves the
 * mask away from the coarse attention), so the default weights are contrast 1, border 1, others 0.
 * Large objects that fill the frame also touch the border: lower the border weight for data sets
 * of such classes. soft: the class's unrefined soft map (H*W); mask/label: the pixels equal to
 * label are the class; agreement in [0,1] is passed through. Parts go to *parts (may be NULL). */
float dm_mask_score_class(const float *soft, const uint8_t *mask, uint8_t label, int H, int W,
                          float agreement, float area_min, float area_max,
                          const dm_score_weights *w, dm_mask_score *parts);

#endif
