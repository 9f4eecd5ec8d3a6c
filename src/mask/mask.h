/* src/mask — from aggregated cross-attention maps to class masks (DiffuMask, ../shared/METHOD.md).
 *
 * Data flow for one generated sample (dm_mask_make does all of it):
 *
 *   A[k][r] (class word k, attention resolution r, h_r x w_r)
 *     ── bilinear up to H x W, mean over the selected resolutions, normalise ──►  S0_k  (basic soft
 * map) ── optional self-attention propagation S^tau · a at the affinity's resolution ──►  S1_k ──
 * threshold gamma_k: fixed | Otsu | agreement between refined and unrefined ──► ── optional dense
 * CRF on the image colours (labels: background + K classes) ──►  F_k ── per pixel: best class,
 * background test, margin / ignore band / disagreement → 255 ──► mask ── quality score (attention
 * mass inside, contrast, area sanity, agreement) ──► dm_mask_score
 *
 * The "basic" method (all refinements off, threshold 0.5, min–max) is the paper's rule as the toy
 * reference measured it: every resolution upsampled bilinearly (PyTorch align_corners=False) to
 * H x W, mean over resolutions, min–max to [0,1], foreground where soft > gamma.
 * dm_mask_params_default is NOT that rule: it is the best method measured on toy-shapes
 * (selfattn+crf, gamma 0.45; see dm_mask_params_default); set the flags to basic and gamma 0.5
 * for the paper's rule.
 *
 * Labels in the output mask: 0 background, class_ids[k] (1..254) for class k, 255 ignore. */
#ifndef DM_MASK_MASK_H
#define DM_MASK_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "mask/crf.h"
#include "mask/labels.h"
#include "mask/multiclass.h"
#include "mask/selfattn.h"
#include "mask/threshold.h"

/* threshold.c, multiclass.c, selfattn.c and crf.c declare themselves in their own headers
 * (included above), on top of labels.h (dm_above, DM_MASK_IGNORE, DM_MASK_MAX_CLASSES): they
 * need nothing else from this header, and mask.c calls them without being called back. */

#define DM_MASK_MAX_RES 8 /* resolutions in a selection list */

/* ---------------------------------------------------------------- resize.c */

/* Bilinear resize with PyTorch F.interpolate(mode="bilinear", align_corners=False) semantics:
 * output pixel i samples source coordinate (i + 0.5) * in/out - 0.5 (half-pixel centres), clamped
 * below at 0; the upper neighbour index is clamped to in-1 (edge replication); no antialiasing
 * (so a 2x downscale is the exact 2x2 mean, as in PyTorch). src h*w, dst H*W, row-major. */
void dm_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W);

/* ---------------------------------------------------------------- aggregate.c */

typedef enum {
    DM_NORM_MINMAX = 0, /* (x - min) / (max - min): the toy reference */
    DM_NORM_MAX = 1,    /* x / max: the authors' per-resolution "divide by its maximum" */
    DM_NORM_NONE = 2
} dm_norm;

/* One resolution of one class word: the mean cross-attention probability of the word, h x w. */
typedef struct {
    int h, w;
    const float *map;
} dm_attn_map;

/* x <- normalised x (in place). A constant map becomes all 0 (min–max) or stays as is when its
 * max is 0 (max): there is nothing to find in it, and dividing by zero would make NaNs. */
void dm_normalize(float *x, long n, dm_norm norm);

/* True when a map of height h is selected by the list res_sizes[0..n_sizes) (0 entries = all). */
int dm_mask_res_selected(int h, const int *res_sizes, int n_sizes);

/* out (H*W) = normalise(mean over the selected r of bilinear(maps[r] -> H x W)).
 * With norm_each, every resolution is normalised (same rule) before the mean, as the authors'
 * code divides each resolution by its max. scratch: H*W floats. DM_ERR when no map is selected. */
dm_status dm_mask_aggregate(const dm_attn_map *maps, int n_res, const int *res_sizes, int n_sizes,
                            dm_norm norm, int norm_each, int H, int W, float *out, float *scratch,
                            dm_error *err);

/* ---------------------------------------------------------------- score.c */

typedef struct {
    float score;         /* in [0,1]: min over the classes of the per-class score */
    float mass_inside;   /* parts: mean over classes. Fraction of the attention mass in the mask */
    float contrast;      /* mean soft inside - mean soft outside, clamped to [0,1] */
    float area_fraction; /* mask pixels / all pixels */
    float agreement;     /* IoU of the final mask with the unrefined one (1 without refinement) */
    float border;        /* fraction of the image's outermost pixel ring inside the mask */
    int n_classes;
    float class_score[DM_MASK_MAX_CLASSES];
} dm_mask_score;

/* Weights of the parts in the per-class score (a weighted geometric mean; weight 0 = unused). */
typedef struct {
    float mass, contrast, agreement, border; /* border part = 1 - border fraction */
} dm_score_weights;

/* Per-class score: 0 when the area fraction is outside [area_min, area_max] (empty or whole-image
 * masks say nothing was found), else the weighted geometric mean of mass_inside, contrast,
 * agreement and (1 - border): prod part^(w_part / sum w) (1 when every weight is 0).
 * Measured on toy-shapes (BENCHMARKS.md, "Mask quality on toy-shapes"): the failures that matter
 * are masks that flipped onto the background (the word's attention spread over everything but
 * the object), which cover the image border; contrast separates diffuse from peaked attention.
 * mass_inside and agreement rank refined masks worse than chance (a correct refinement moves the
 * mask away from the coarse attention), so the default weights are contrast 1, border 1, others 0.
 * Large objects that fill the frame also touch the border: lower the border weight for data sets
 * of such classes. soft: the class's unrefined soft map (H*W); mask/label: the pixels equal to
 * label are the class; agreement in [0,1] is passed through. Parts go to *parts (may be NULL). */
float dm_mask_score_class(const float *soft, const uint8_t *mask, uint8_t label, int H, int W,
                          float agreement, float area_min, float area_max,
                          const dm_score_weights *w, dm_mask_score *parts);

/* ---------------------------------------------------------------- mask.c (top level) */

typedef struct {
    /* aggregation */
    int res_sizes[DM_MASK_MAX_RES]; /* attention map heights to use; n_res_sizes 0 = all present */
    int n_res_sizes;
    dm_norm norm;  /* final normalisation (min–max) */
    int norm_each; /* also normalise each resolution before the mean (0) */
    /* threshold */
    float threshold; /* fixed gamma (0.45; the paper's rule uses 0.5) */
    int otsu;        /* gamma per class by Otsu on the (refined) soft map (0) */
    int agreement;   /* gamma per class by agreement between unrefined and refined (0) */
    float agree_lo, agree_hi, agree_step; /* sweep 0.2 .. 0.8 step 0.05 */
    /* labels */
    float ignore_lo, ignore_hi; /* best-class soft in [lo, hi) -> 255; off when lo >= hi (0, 0) */
    float margin;               /* best - second < margin -> 255 (0 = off) */
    int ignore_disagree;        /* 255 where the refined and unrefined labelings differ (0) */
    /* refinements */
    int use_selfattn;  /* Dataset-Diffusion propagation S^tau a (1) */
    int selfattn_tau;  /* (2) */
    int use_crf;       /* dense CRF on the image (1) */
    dm_crf_params crf; /* dm_crf_params_default but colour std 20, weight 10 */
    /* score */
    float area_min, area_max; /* sane mask area fraction (0.001, 0.95) */
    dm_score_weights score_w; /* (mass 0, contrast 1, agreement 0, border 1) */
} dm_mask_params;

void dm_mask_params_default(dm_mask_params *p);

/* Sets the method flags (otsu, agreement, use_selfattn, use_crf) from a name: "basic" or
 * '+'-joined parts of {basic, otsu, agreement, selfattn, crf}, e.g. "selfattn+crf+otsu".
 * Other fields are left alone. DM_EUSAGE naming the unknown part. */
dm_status dm_mask_method_parse(const char *name, dm_mask_params *p, dm_error *err);
/* Writes the canonical name ("basic", "selfattn+crf", ...) into buf. */
void dm_mask_method_name(const dm_mask_params *p, char *buf, size_t size);
/* "LO:HI" -> ignore band. DM_EUSAGE unless 0 <= LO < HI <= 1. */
dm_status dm_mask_parse_band(const char *s, float *lo, float *hi, dm_error *err);
/* "64,32,16" -> res_sizes (heights). "all" or "" -> none (all present). */
dm_status dm_mask_parse_resolutions(const char *s, dm_mask_params *p, dm_error *err);

/* The whole method for one sample.
 * maps[k*n_res + r]: class k (0..K-1), resolution r; class_ids[k] in 1..254 is its label.
 * image_rgb (H*W*3) is needed only with use_crf; selfattn (n*n, n = sa_h*sa_w, row-stochastic)
 * only with use_selfattn. mask_out: H*W labels. soft_out (K*H*W, may be NULL): the final per-class
 * soft maps (CRF marginals when the CRF ran). score_out may be NULL. */
dm_status dm_mask_make(const dm_mask_params *p, const dm_attn_map *maps, int K, int n_res,
                       const int *class_ids, const uint8_t *image_rgb, int H, int W,
                       const float *selfattn, int sa_h, int sa_w, uint8_t *mask_out,
                       float *soft_out, dm_mask_score *score_out, dm_error *err);

#endif
