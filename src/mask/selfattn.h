/* Self-attention propagation (selfattn.c): the UNet's self-attention probabilities come in, a
 * row-stochastic affinity and propagated class maps go out. mask.c propagates; the toy protocol
 * normalises stored affinities; generate and eval-toy pick the resolution to capture. */
#ifndef DM_MASK_SELFATTN_H
#define DM_MASK_SELFATTN_H

#include "core/status.h"

/* S (n*n) += weight * mean over heads of probs (heads*n*n, row-major [head][query][key]).
 * Called from the attention callback for the self-attention layers of one resolution, so only
 * the n x n running sum is kept. Divide by the total weight (or normalise rows) at the end. */
void dm_selfattn_accumulate(float *S, const float *probs, int heads, int n, float weight);

/* Makes every row of S sum to 1 (rows summing to 0 become uniform). */
void dm_selfattn_normalize_rows(float *S, int n);

/* a (n) <- S^tau a as tau matrix-vector products (S row-stochastic: each step replaces a pixel's
 * value with the affinity-weighted mean over the pixels it attends to). tmp: n floats. */
void dm_selfattn_propagate(const float *S, int n, int tau, float *a, float *tmp);

/* Which self-attention resolution to capture for a model (selfattn.c): the finest of the model's
 * attention resolutions hs[i] x ws[i] (latent heights/widths, any order) with h*w <= max_tokens
 * (0: DM_MASK_SELFATTN_MAX_TOKENS). The affinity is (h*w)^2 floats and each propagation step
 * (h*w)^2 multiply-adds, so 1024 tokens = 4 MiB and 1 M MACs per step, negligible next to a UNet
 * step; 64x64 (4096 tokens) would be 64 MiB and 16x the work for little gain (the CRF refines the
 * boundary at pixel level anyway). Toy-shapes (8x8, 4x4): 8. SD 1.x/2.x at 512x512 (64, 32, 16,
 * 8): 32; at 768x768 (96, 48, 24, 12): 24. DM_ERR when none qualifies. */
#define DM_MASK_SELFATTN_MAX_TOKENS 1024
dm_status dm_mask_pick_selfattn_res(const int *hs, const int *ws, int n, int max_tokens, int *h_out,
                                    int *w_out, dm_error *err);

#endif
