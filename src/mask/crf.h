/* Dense CRF and its permutohedral lattice (crf.c): per-label probabilities and the image come in,
 * refined marginals go out; mask.c calls it. */
#ifndef DM_MASK_CRF_H
#define DM_MASK_CRF_H

#include <stdint.h>

#include "core/status.h"
#include "mask/labels.h"

/* Permutohedral lattice (Adams, Baek & Davis 2010): Gaussian filtering in d-dim feature space in
 * O(n d^2) by splatting onto the vertices of the enclosing simplex of the (d+1)-dim permutohedral
 * lattice, blurring [1 2 1] along each of the d+1 lattice directions and slicing back. Features
 * are pre-divided by their standard deviations, so the kernel approximates exp(-|fi-fj|^2 / 2)
 * up to a constant factor (callers normalise by filtering ones). Built once per image. */
typedef struct dm_lattice dm_lattice;
dm_status dm_lattice_build(dm_lattice **out, const float *features /* n*d */, int n, int d,
                           int vd_max, dm_error *err);
/* out (n*vd) = lattice Gaussian of in (n*vd); vd <= vd_max; in and out may not alias. */
void dm_lattice_filter(dm_lattice *L, const float *in, int vd, float *out);
int dm_lattice_points(const dm_lattice *L); /* lattice vertices in use (for tests/diagnostics) */
void dm_lattice_free(dm_lattice *L);

typedef struct {
    float smooth_sigma_xy; /* Gaussian (smoothness) kernel, pixels (3) */
    float smooth_weight;   /* (3) */
    float
        bilateral_sigma_xy; /* appearance kernel position std, pixels (60; ~W/8 for small images) */
    float bilateral_sigma_rgb; /* appearance kernel colour std, 0..255 units (13) */
    float bilateral_weight;    /* (5) */
    int iterations;            /* mean-field iterations (5) */
    float bg_power;            /* background prob = (1 - max_k p_k)^bg_power; <= 0: derived from the
                                  threshold gamma as ln(gamma)/ln(1-gamma), so that the unary
                                  decision boundary sits exactly at p = gamma (1 at gamma 0.5) */
    float prob_floor;          /* probabilities clamped to [prob_floor, 1] before -log (1e-4) */
} dm_crf_params;

void dm_crf_params_default(dm_crf_params *p);

/* Fully connected CRF, Potts compatibility, mean-field inference (Krähenbühl & Koltun 2011).
 * prob (L*n, label-major: prob[l*n + i]) are per-label probabilities (need not sum to 1); unary
 * = -log(clamp(prob)). Messages are NORMALISED filter outputs (kernel-weighted mean of Q over the
 * neighbourhood, i.e. divided by the filter of ones), so the weights are in log-probability units
 * regardless of image size. Smoothness kernel: exact separable Gaussian on the pixel grid
 * (truncated at 3 sigma). Appearance kernel: 5-D permutohedral lattice on (x,y,r,g,b).
 * Q_out (L*n, label-major) = final marginals. Deterministic, single-threaded. */
dm_status dm_crf_mean_field(const dm_crf_params *p, const uint8_t *rgb, int H, int W,
                            const float *prob, int L, float *Q_out, dm_error *err);

/* Normalised separable Gaussian blur of L planes (each H*W) — the smoothness message; exposed for
 * tests. tmp: H*W floats. */
void dm_gauss_blur_normalized(const float *in, int L, int H, int W, float sigma, float *out,
                              float *tmp);

#endif
