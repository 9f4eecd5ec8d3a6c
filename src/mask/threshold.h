/* Choosing the threshold gamma of a soft map (threshold.c): Otsu, the IoU of two thresholded
 * maps, and the agreement threshold. Soft maps come in, one gamma goes out; mask.c calls it. */
#ifndef DM_MASK_THRESHOLD_H
#define DM_MASK_THRESHOLD_H

#include "mask/labels.h"

/* Otsu on a soft map in [0,1]: 256-bin histogram (bin = floor(v*256), clamped), maximise the
 * between-class variance w0*w1*(mu0-mu1)^2 over the split "bins <= t | bins > t". When several
 * splits tie (an empty gap between two modes), the middle of the tied run is taken, so a two-value
 * map is cut halfway between its values. Returns the cut (t+1)/256. */
float dm_otsu_threshold(const float *soft, long n);

/* IoU of {a > ga} and {b > gb}; 0 when both are empty. */
float dm_iou_soft(const float *a, float ga, const float *b, float gb, long n);

/* Label-free adaptive threshold: gamma in lo, lo+step, .. <= hi maximising IoU({unrefined > g},
 * {refined > g}); ties go to the gamma closest to 0.5 (the reference default). */
float dm_agreement_threshold(const float *unrefined, const float *refined, long n, float lo,
                             float hi, float step);

#endif
