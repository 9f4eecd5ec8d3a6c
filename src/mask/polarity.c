/* The border prior, as salient-object detection uses it ("boundary connectivity": background
 * regions touch the image border, objects seldom do; Zhu et al., CVPR 2014). A class word's
 * cross-attention is usually on its object, but for a word the model draws poorly it can sit on
 * everything else: the demo model's "star" put it on the background in 228 of 400 samples, the
 * mask then being the exact inverse of the shape (BENCHMARKS.md, "Training on it"). Such a
 * region has a telltale form — it lines (almost) the whole frame and encloses a hole that does
 * not reach the frame — which a photographed object practically never has: an object that fills
 * the frame leaves no enclosed hole, and one that touches the border on two or three sides leaves
 * background that reaches the border. Turning the map over then recovers the object. */
#include "mask/polarity.h"

#include <stddef.h>

/* The region is soft > gamma (soft given) or mask == label (mask given). */
static int region_surrounds(const float *soft, float gamma, const uint8_t *mask, uint8_t label,
                            int H, int W, float ring_min) {
    if (!(ring_min > 0) || H < 3 || W < 3) return 0;
    long n = (long)H * W, ring = 0, ring_in = 0, in = 0;
    for (long i = 0; i < n; i++) in += soft ? soft[i] > gamma : mask[i] == label;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (y != 0 && y != H - 1 && x != 0 && x != W - 1) continue;
            long i = (long)y * W + x;
            ring++;
            ring_in += soft ? soft[i] > gamma : mask[i] == label;
        }
    float ring_frac = (float)ring_in / (float)ring;
    float hole_area = (float)(n - in) / (float)n;
    return ring_frac >= ring_min && hole_area >= DM_POLARITY_HOLE_AREA;
}

int dm_mask_surrounds(const float *soft, int H, int W, float gamma, float ring_min) {
    return region_surrounds(soft, gamma, NULL, 0, H, W, ring_min);
}

int dm_mask_label_surrounds(const uint8_t *mask, uint8_t label, int H, int W, float ring_min) {
    return region_surrounds(NULL, 0, mask, label, H, W, ring_min);
}

void dm_mask_turn_over_among(float *maps, int K, int k, long n, const int *keep) {
    float *m = maps + (long)k * n;
    for (long i = 0; i < n; i++) {
        float other = 0;
        for (int j = 0; j < K; j++)
            if (j != k && keep[j] && maps[(long)j * n + i] > other) other = maps[(long)j * n + i];
        m[i] = (1 - m[i]) * (1 - other);
    }
}
