/* Per-sample quality score, for pruning generated samples whose mask is probably wrong (the
 * paper's "noise learning" step, done here without a trained segmenter). A good mask separates
 * high from low attention, does not spill over the image border (the signature of a mask that
 * flipped onto the background), has a sane size; optionally it holds most of the word's attention
 * and survives refinement unchanged. */
#include <math.h>

#include "mask/score.h"

static float clamp01(float x) {
    return x < 0 ? 0 : x > 1 ? 1 : x;
}

float dm_mask_score_class(const float *soft, const uint8_t *mask, uint8_t label, int H, int W,
                          float agreement, float area_min, float area_max,
                          const dm_score_weights *w, dm_mask_score *parts) {
    long n = (long)H * W;
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
    /* the outermost ring of pixels */
    long ring = 0, ring_in = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (y != 0 && y != H - 1 && x != 0 && x != W - 1) continue;
            ring++;
            ring_in += mask[(long)y * W + x] == label;
        }
    float area = n ? (float)count_in / (float)n : 0;
    float inside = mass_all > 0 ? (float)(mass_in / mass_all) : 0;
    float contrast = 0;
    if (count_in > 0 && count_in < n) {
        double mean_in = mass_in / (double)count_in;
        double mean_out = (mass_all - mass_in) / (double)(n - count_in);
        contrast = (float)(mean_in - mean_out);
    }
    contrast = clamp01(contrast);
    agreement = clamp01(agreement);
    float border = ring ? (float)ring_in / (float)ring : 0;
    float score = 0;
    if (count_in > 0 && count_in < n && area >= area_min && area <= area_max) {
        const float part[4] = {inside, contrast, agreement, 1 - border};
        const float wt[4] = {w->mass, w->contrast, w->agreement, w->border};
        float sum = 0;
        for (int k = 0; k < 4; k++) sum += wt[k] > 0 ? wt[k] : 0;
        score = 1;
        for (int k = 0; k < 4 && sum > 0; k++)
            if (wt[k] > 0) score *= powf(part[k], wt[k] / sum);
    }
    if (parts) {
        parts->score = score;
        parts->mass_inside = inside;
        parts->contrast = contrast;
        parts->area_fraction = area;
        parts->agreement = agreement;
        parts->border = border;
        parts->n_classes = 1;
        parts->class_score[0] = score;
    }
    return score;
}
