/* Self-attention propagation (Dataset Diffusion style): the UNet's own self-attention at one
 * resolution is an n x n row-stochastic affinity S (row i = where pixel i looks); S^tau a spreads
 * a class map a over the pixels that attend to each other, filling the object from a partial
 * seed and draining attention that leaked onto unrelated pixels. */
#include <string.h>

#include "mask/selfattn.h"

void dm_selfattn_accumulate(float *S, const float *probs, int heads, int n, float weight) {
    long nn = (long)n * n;
    float w = weight / (float)heads; /* head mean folded into the weight */
    for (int h = 0; h < heads; h++) {
        const float *p = probs + (long)h * nn;
        for (long i = 0; i < nn; i++) S[i] += w * p[i];
    }
}

void dm_selfattn_normalize_rows(float *S, int n) {
    for (int i = 0; i < n; i++) {
        float *row = S + (long)i * n;
        double sum = 0;
        for (int j = 0; j < n; j++) sum += row[j];
        if (sum > 0) {
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < n; j++) row[j] *= inv;
        } else {
            for (int j = 0; j < n; j++) row[j] = 1.0f / (float)n;
        }
    }
}

void dm_selfattn_propagate(const float *S, int n, int tau, float *a, float *tmp) {
    for (int t = 0; t < tau; t++) {
        for (int i = 0; i < n; i++) {
            const float *row = S + (long)i * n;
            float acc = 0;
            for (int j = 0; j < n; j++) acc += row[j] * a[j];
            tmp[i] = acc;
        }
        memcpy(a, tmp, (size_t)n * sizeof *a);
    }
}

dm_status dm_mask_pick_selfattn_res(const int *hs, const int *ws, int n, int max_tokens, int *h_out,
                                    int *w_out, dm_error *err) {
    long cap = max_tokens > 0 ? max_tokens : DM_MASK_SELFATTN_MAX_TOKENS;
    int best = -1;
    for (int i = 0; i < n; i++) {
        long tokens = (long)hs[i] * ws[i];
        if (hs[i] < 1 || ws[i] < 1 || tokens > cap) continue;
        if (best < 0 || tokens > (long)hs[best] * ws[best]) best = i;
    }
    if (best < 0)
        return dm_fail(err,
                       "self-attention: none of the %d attention resolutions has at most %ld "
                       "positions",
                       n, cap);
    *h_out = hs[best];
    if (w_out) *w_out = ws[best];
    return DM_OK;
}
