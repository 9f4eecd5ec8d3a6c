/* The border prior (polarity.c): a class map whose region surrounds the image is the word's
 * attention on the context around the object, not on the object; mask.c turns such a map over
 * (1 - soft) before thresholds and the CRF. */
#ifndef DM_MASK_POLARITY_H
#define DM_MASK_POLARITY_H

#include <stdint.h>

/* 1 when the region soft > gamma of the H x W map covers at least ring_min of the image's
 * outermost pixel ring and leaves a hole (soft <= gamma) of at least DM_POLARITY_HOLE_AREA of
 * the image (an object, not a speck); 0 otherwise, and always 0 when ring_min <= 0 (prior off). */
int dm_mask_surrounds(const float *soft, int H, int W, float gamma, float ring_min);

/* The same test on a label mask: the region mask == label. */
int dm_mask_label_surrounds(const uint8_t *mask, uint8_t label, int H, int W, float ring_min);

/* Class k's map maps[k*n..] (maps in [0, 1]: min–max normalised) is turned over, 1 - soft, and
 * weighed by 1 - max over the classes j != k with keep[j] (trusted: not turned over themselves)
 * of maps[j]: with several classes the complement of the background holds every object of the
 * image, and the other words' own maps say which pixels are theirs (one class: 1 - soft). */
void dm_mask_turn_over_among(float *maps, int K, int k, long n, const int *keep);

#define DM_POLARITY_HOLE_AREA 0.01f

#endif
