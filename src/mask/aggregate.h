/* Aggregation (aggregate.c): one class word's attention maps at several resolutions come in, one
 * normalised soft map goes out; mask.c and generate call it. */
#ifndef DM_MASK_AGGREGATE_H
#define DM_MASK_AGGREGATE_H

#include "core/status.h"

typedef enum {
    DM_NORM_MINMAX = 0, /* (x - min) / (max - min): the toy reference */
    DM_NORM_MAX = 1,    /* x / max: the authors' per-resolution "divide by its maximum" */
    DM_NORM_NONE = 2
} dm_norm;

/* One resolution of one class word: the mean cross-attention probability of the word, h x w. */
typedef struct {
    int h, w;
    const float *map;
} dm_attn_map;

/* x <- normalised x (in place). A constant map becomes all 0 (min–max) or stays as is when its
 * max is 0 (max): there is nothing to find in it, and dividing by zero would make NaNs. */
void dm_normalize(float *x, long n, dm_norm norm);

/* True when a map of height h is selected by the list res_sizes[0..n_sizes) (0 entries = all). */
int dm_mask_res_selected(int h, const int *res_sizes, int n_sizes);

/* out (H*W) = normalise(mean over the selected r of bilinear(maps[r] -> H x W)).
 * With norm_each, every resolution is normalised (same rule) before the mean, as the authors'
 * code divides each resolution by its max. scratch: H*W floats. DM_ERR when no map is selected. */
dm_status dm_mask_aggregate(const dm_attn_map *maps, int n_res, const int *res_sizes, int n_sizes,
                            dm_norm norm, int norm_each, int H, int W, float *out, float *scratch,
                            dm_error *err);

#endif
