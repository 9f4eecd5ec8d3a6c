/* Aggregation of the per-resolution cross-attention maps of one class word into one soft map:
 * bilinear upsampling of every selected resolution to the output size, mean over them,
 * normalisation. With all resolutions selected, min–max and no per-resolution normalisation this
 * is exactly the toy reference rule (../shared/models/toy-shapes/README.md). */
#include "mask/aggregate.h"
#include "mask/resize.h"

void dm_normalize(float *x, long n, dm_norm norm) {
    if (norm == DM_NORM_NONE || n <= 0) return;
    float lo = x[0], hi = x[0];
    for (long i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    if (norm == DM_NORM_MAX) {
        if (hi <= 0) return; /* nothing attended: leave the zeros */
        float inv = 1.0f / hi;
        for (long i = 0; i < n; i++) x[i] *= inv;
        return;
    }
    float range = hi - lo;
    if (!(range > 0)) { /* a flat map carries no location: all background */
        for (long i = 0; i < n; i++) x[i] = 0;
        return;
    }
    /* (x - lo) / range, as the reference computes it (division, not a reciprocal multiply),
     * so the thresholded mask matches it bit for bit. */
    for (long i = 0; i < n; i++) x[i] = (x[i] - lo) / range;
}

int dm_mask_res_selected(int h, const int *res_sizes, int n_sizes) {
    if (n_sizes <= 0) return 1;
    for (int i = 0; i < n_sizes; i++)
        if (res_sizes[i] == h) return 1;
    return 0;
}

dm_status dm_mask_aggregate(const dm_attn_map *maps, int n_res, const int *res_sizes, int n_sizes,
                            dm_norm norm, int norm_each, int H, int W, float *out, float *scratch,
                            dm_error *err) {
    long n = (long)H * W;
    int used = 0;
    for (long i = 0; i < n; i++) out[i] = 0;
    for (int r = 0; r < n_res; r++) {
        const dm_attn_map *m = &maps[r];
        if (!dm_mask_res_selected(m->h, res_sizes, n_sizes)) continue;
        if (!m->map || m->h <= 0 || m->w <= 0)
            return dm_fail(err, "attention map %d: empty (%dx%d)", r, m->h, m->w);
        dm_resize_bilinear(m->map, m->h, m->w, scratch, H, W);
        if (norm_each) dm_normalize(scratch, n, norm);
        for (long i = 0; i < n; i++) out[i] += scratch[i];
        used++;
    }
    if (used == 0)
        return dm_fail(err, "attention maps: none of the %d resolutions is selected", n_res);
    /* mean, then normalise (the mean does not change a min–max result, but it does the "none"
     * and the per-resolution-max variants, so keep it exact) */
    for (long i = 0; i < n; i++) out[i] /= (float)used;
    dm_normalize(out, n, norm);
    return DM_OK;
}
