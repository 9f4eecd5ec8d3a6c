/* Several classes in one image: per pixel the strongest class wins if it clears its threshold
 * (or the CRF's background marginal); pixels where the decision is shaky become 255 (ignore),
 * so a segmenter trained on the masks is not taught either guess. */
#include "mask/multiclass.h"

void dm_mask_assemble(const float *soft, int K, long n, const float *gamma, const float *bg,
                      const uint8_t *class_ids, float margin, float ignore_lo, float ignore_hi,
                      const uint8_t *other, uint8_t *mask) {
    int band = ignore_lo < ignore_hi;
    for (long i = 0; i < n; i++) {
        int best = 0;
        float v1 = soft[i], v2 = -1e30f; /* best and second-best class values */
        for (int k = 1; k < K; k++) {
            float v = soft[(long)k * n + i];
            if (v > v1) {
                v2 = v1;
                v1 = v;
                best = k;
            } else if (v > v2) {
                v2 = v;
            }
        }
        int fg = dm_above(v1, bg ? bg[i] : gamma[best]);
        uint8_t label = fg ? class_ids[best] : 0;
        if (fg && margin > 0 && K > 1 && v1 - v2 < margin) label = DM_MASK_IGNORE;
        if (band && v1 >= ignore_lo && v1 < ignore_hi) label = DM_MASK_IGNORE;
        if (other && other[i] != label) label = DM_MASK_IGNORE;
        mask[i] = label;
    }
}
