/* The pixel operations of augmentation on one image + mask pair (augment_pixels.c), under the
 * rules augment.h states: images bilinear, masks nearest, unknown pixels 255. An image and its mask
 * come in, the transformed pair goes out; the dataset driver augment.c and the tests call them. */
#ifndef DM_DATASET_AUGMENT_PIXELS_H
#define DM_DATASET_AUGMENT_PIXELS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/rng.h"
#include "core/status.h"

/* An image with its class-id mask; both row-major, w x h. */
typedef struct {
    uint8_t *rgb;  /* h x w x 3 */
    uint8_t *mask; /* h x w: 0 background, 1..C, 255 ignore */
    int w, h;
} dm_aug_image;

dm_status dm_aug_image_alloc(dm_aug_image *im, int w, int h, dm_error *err);
void dm_aug_image_free(dm_aug_image *im);

/* Scales src to dst's size (dst allocated by the caller): image bilinear with centres aligned,
 * mask nearest: dst pixel x takes source column floor((x + 0.5) * src.w / dst.w), rows alike. */
void dm_aug_resize(const dm_aug_image *src, dm_aug_image *dst);

/* 2x2 mosaic into out (allocated by the caller): q[0] top-left, q[1] top-right, q[2] bottom-
 * left, q[3] bottom-right, each scaled (dm_aug_resize) to its quadrant. The left column is
 * out.w / 2 wide, the top row out.h / 2 high (the right / bottom ones take the rest). */
dm_status dm_aug_mosaic(const dm_aug_image *const q[4], dm_aug_image *out, dm_error *err);

/* Pastes the object sel marks in src (sel: src.w x src.h, non-zero = object pixel) onto dst:
 * the object's bounding box is scaled by `scale` (nearest: the pasted pixels keep their exact
 * colours, no source background bleeds into the edge) and its top-left corner placed at (x, y)
 * of dst; parts falling outside dst are clipped. Pasted pixels take the object's colour and its
 * mask value (what they cover is overwritten). Returns the number of pixels pasted. */
long dm_aug_paste(dm_aug_image *dst, const dm_aug_image *src, const uint8_t *sel, double scale,
                  int x, int y);
/* Bounding box {x, y, w, h} of the pixels where sel is non-zero; false when there are none. */
bool dm_aug_sel_bbox(const uint8_t *sel, int w, int h, int box[4]);
/* Pasted size of a len-pixel extent at a scale: rounded, at least 1 (clamped to INT_MAX / 2). */
int dm_aug_scaled_len(int len, double scale);

/* Separable Gaussian blur of the image (sigma in pixels, radius ceil(3 sigma), edges clamped);
 * the mask is left untouched. sigma <= 0 does nothing. */
dm_status dm_aug_blur(dm_aug_image *im, double sigma, dm_error *err);

/* Covers the rectangle [x, x+w) x [y, y+h) (clipped) with grey 128, or with uniform noise drawn
 * from noise when it is not NULL; the mask under it becomes 255. */
void dm_aug_occlude(dm_aug_image *im, int x, int y, int w, int h, dm_rng *noise);

/* The homography H (row-major 3x3, H[8] = 1) taking the four points from[2k], from[2k+1] to
 * to[2k], to[2k+1]. Fails when three of the points are collinear. */
dm_status dm_aug_homography(const double from[8], const double to[8], double H[9], dm_error *err);

/* Warps src into out (allocated by the caller, any size): out pixel (x, y) reads source point
 * H * (x, y, 1). The image is sampled bilinearly, the mask at the nearest pixel; where that
 * nearest pixel lies outside the source the mask is 255 and the image takes the source's mean
 * colour (a black border would be an edge no real photo has). */
void dm_aug_warp(const dm_aug_image *src, const double H[9], dm_aug_image *out);

#endif
