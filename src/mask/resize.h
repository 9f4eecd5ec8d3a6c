/* Bilinear resize with PyTorch semantics (resize.c): a float map comes in, a resized one goes
 * out; aggregate.c and mask.c call it. */
#ifndef DM_MASK_RESIZE_H
#define DM_MASK_RESIZE_H

/* Bilinear resize with PyTorch F.interpolate(mode="bilinear", align_corners=False) semantics:
 * output pixel i samples source coordinate (i + 0.5) * in/out - 0.5 (half-pixel centres), clamped
 * below at 0; the upper neighbour index is clamped to in-1 (edge replication); no antialiasing
 * (so a 2x downscale is the exact 2x2 mean, as in PyTorch). src h*w, dst H*W, row-major. */
void dm_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W);

#endif
