/* Several classes in one image (multiclass.c): per-class soft maps and thresholds come in, one
 * label mask goes out; mask.c calls it. */
#ifndef DM_MASK_MULTICLASS_H
#define DM_MASK_MULTICLASS_H

#include <stdint.h>

#include "mask/labels.h"

/* Per pixel i: best = argmax_k soft[k*n+i]; foreground when soft_best > (bg ? bg[i] : gamma[best]),
 * else 0. Then 255 when:
 *   - margin > 0, foreground and soft_best - soft_second < margin (two classes too close);
 *   - ignore_lo < ignore_hi and soft_best in [ignore_lo, ignore_hi) (class/background uncertain);
 *   - other != NULL and other[i] != the label (a second labeling, e.g. an unrefined one,
 * disagrees). soft: K*n, gamma: K, bg: n or NULL, class_ids: K (1..254). */
void dm_mask_assemble(const float *soft, int K, long n, const float *gamma, const float *bg,
                      const uint8_t *class_ids, float margin, float ignore_lo, float ignore_hi,
                      const uint8_t *other, uint8_t *mask);

#endif
