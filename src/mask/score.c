/* Per-sample quality score, for pruning generated samples whose mask is probably wrong (the
 * paper's "noise learning" step, done here without a trained segmenter). A good mask holds most
 * of the word's attention, separates high from low attention, has a sane size, and survives
 * refinement unchanged. */
#include <math.h>

#include "mask/mask.h"

float dm_mask_score_class(const float *soft, const uint8_t *mask, uint8_t label, long n,
                          float agreement, float area_min, float area_max, dm_mask_score *parts) {
    double mass_in = 0, mass_all = 0;
    long count_in = 0;
    for (long i = 0; i < n; i++) {
        float v = soft[i] > 0 ? soft[i] : 0;
        mass_all += v;
        if (mask[i] == label) {
            mass_in += v;
            count_in++;
        }
    }
    float area = n ? (float)count_in / (float)n : 0;
    float inside = mass_all > 0 ? (float)(mass_in / mass_all) : 0;
    float contrast = 0;
    if (count_in > 0 && count_in < n) {
        double mean_in = mass_in / (double)count_in;
        double mean_out = (mass_all - mass_in) / (double)(n - count_in);
        contrast = (float)(mean_in - mean_out);
    }
    if (contrast < 0) contrast = 0;
    if (contrast > 1) contrast = 1;
    if (agreement < 0) agreement = 0;
    if (agreement > 1) agreement = 1;
    float score = 0;
    if (count_in > 0 && count_in < n && area >= area_min && area <= area_max)
        score = cbrtf(inside * contrast * agreement);
    if (parts) {
        parts->score = score;
        parts->mass_inside = inside;
        parts->contrast = contrast;
        parts->area_fraction = area;
        parts->agreement = agreement;
        parts->n_classes = 1;
        parts->class_score[0] = score;
    }
    return score;
}
