/* Choosing the threshold gamma that turns a soft map into a binary mask: Otsu on the soft
 * values, or "agreement" (the gamma at which the unrefined and the refined map agree most). */
#include <math.h>

#include "mask/threshold.h"

float dm_otsu_threshold(const float *soft, long n) {
    enum { BINS = 256 };
    double hist[BINS] = {0};
    for (long i = 0; i < n; i++) {
        float v = soft[i];
        int b = v > 0 ? (int)(v * BINS) : 0; /* NaN and negatives land in bin 0 */
        if (b > BINS - 1) b = BINS - 1;
        hist[b] += 1;
    }
    /* bin centres as the values: between-class variance of the split {<= t} | {> t} is
     * w0 w1 (mu0 - mu1)^2 with w the class fractions and mu the class means. */
    double total = 0, sum_all = 0;
    for (int b = 0; b < BINS; b++) {
        total += hist[b];
        sum_all += hist[b] * (b + 0.5);
    }
    if (total <= 0) return 0.5f;
    double w0 = 0, sum0 = 0, best = -1;
    int first = -1, last = -1;
    for (int t = 0; t < BINS - 1; t++) {
        w0 += hist[t];
        sum0 += hist[t] * (t + 0.5);
        double w1 = total - w0;
        if (w0 <= 0 || w1 <= 0) continue;
        double mu0 = sum0 / w0, mu1 = (sum_all - sum0) / w1;
        double var = (w0 / total) * (w1 / total) * (mu0 - mu1) * (mu0 - mu1);
        /* empty bins leave every sum unchanged, so a gap between modes gives bit-identical
         * variances: a run of exact ties whose middle is the natural cut */
        if (var > best) {
            best = var;
            first = last = t;
        } else if (var == best && last == t - 1) {
            last = t;
        }
    }
    if (first < 0) return 0.5f; /* a single occupied bin: no split exists */
    int t = (first + last) / 2;
    return (float)(t + 1) / BINS;
}

float dm_iou_soft(const float *a, float ga, const float *b, float gb, long n) {
    long inter = 0, uni = 0;
    for (long i = 0; i < n; i++) {
        int x = dm_above(a[i], ga), y = dm_above(b[i], gb);
        inter += x & y;
        uni += x | y;
    }
    return uni ? (float)inter / (float)uni : 0.0f;
}

float dm_agreement_threshold(const float *unrefined, const float *refined, long n, float lo,
                             float hi, float step) {
    if (!(step > 0) || hi < lo) return 0.5f;
    float best_g = 0.5f, best_iou = -1;
    int steps = (int)floorf((hi - lo) / step + 1e-4f);
    for (int s = 0; s <= steps; s++) {
        float g = lo + step * (float)s;
        float iou = dm_iou_soft(unrefined, g, refined, g, n);
        if (iou > best_iou || (iou == best_iou && fabsf(g - 0.5f) < fabsf(best_g - 0.5f))) {
            best_iou = iou;
            best_g = g;
        }
    }
    return best_g;
}
