/* src/mask — from aggregated cross-attention maps to class masks (DiffuMask, ../shared/METHOD.md).
 *
 * Data flow for one generated sample (dm_mask_make does all of it):
 *
 *   A[k][r] (class word k, attention resolution r, h_r x w_r)
 *     ── bilinear up to H x W, mean over the selected resolutions, normalise ──►  S0_k  (basic soft
 * map) ── optional self-attention propagation S^tau · a at the affinity's resolution ──►  S1_k ──
 * optional border prior: S1_k whose region surrounds the image (the word's attention on the
 * background) is turned over, 1 - S ──► threshold gamma_k: fixed | Otsu | agreement between refined
 * and unrefined ──► ── optional dense CRF on the image colours (labels: background + K classes) ──►
 * F_k ── per pixel: best class, background test, margin / ignore band / disagreement → 255 ──► mask
 * (a class mask that still surrounds the image: its maps turned over and labelled again, once) ──
 * quality score (attention mass inside, contrast, area sanity, agreement) ──► dm_mask_score
 *
 * The "basic" method (all refinements off, threshold 0.5, min–max) is the paper's rule as the toy
 * reference measured it: every resolution upsampled bilinearly (PyTorch align_corners=False) to
 * H x W, mean over resolutions, min–max to [0,1], foreground where soft > gamma.
 * dm_mask_params_default is NOT that rule: it is the best method measured on toy-shapes
 * (selfattn+crf+border, gamma 0.45; see dm_mask_params_default); set the flags to basic and gamma
 * 0.5 for the paper's rule.
 *
 * Labels in the output mask: 0 background, class_ids[k] (1..254) for class k, 255 ignore. */
#ifndef DM_MASK_MASK_H
#define DM_MASK_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "mask/aggregate.h"
#include "mask/crf.h"
#include "mask/labels.h"
#include "mask/multiclass.h"
#include "mask/polarity.h"
#include "mask/resize.h"
#include "mask/score.h"
#include "mask/selfattn.h"
#include "mask/threshold.h"

/* Each part of the method (resize.c, aggregate.c, selfattn.c, polarity.c, crf.c, threshold.c,
 * multiclass.c, score.c) declares itself in its own header (included above), on top of labels.h
 * (dm_above, DM_MASK_IGNORE, DM_MASK_MAX_CLASSES): they need nothing else from this header, and
 * mask.c calls them without being called back. */

#define DM_MASK_MAX_RES 8 /* resolutions in a selection list */

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
    /* the border prior (method part "border"): a class map whose region covers at least
     * border_ring of the image's outer pixel ring and encloses a hole is turned over
     * (polarity.h) (1, 0.95) */
    int use_border_prior;
    float border_ring;
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
 * '+'-joined parts of {basic, otsu, agreement, selfattn, crf, border}, e.g. "selfattn+crf+otsu".
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
