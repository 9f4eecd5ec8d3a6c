/* Image files: 8-bit PNG (RGB, gray, palette) and baseline JPEG, read and written.
 * Every write is atomic (temporary name + fsync + rename, src/io/file.h) and deterministic:
 * no timestamps or other chunks that change between runs. Pixels are row-major, tightly packed. */
#ifndef DM_IO_IMAGE_H
#define DM_IO_IMAGE_H

#include <stdint.h>

#include "core/status.h"

#define DM_JPEG_QUALITY_DEFAULT 95

dm_status dm_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, dm_error *err);
dm_status dm_png_write_gray(const char *path, const uint8_t *gray, int w, int h, dm_error *err);
/* 8-bit indexed PNG: idx holds palette indices, pal is 256 RGB triples (VOC masks). */
dm_status dm_png_write_palette(const char *path, const uint8_t *idx, int w, int h,
                               const uint8_t pal[256 * 3], dm_error *err);
/* quality 1..100 (0 = DM_JPEG_QUALITY_DEFAULT). */
dm_status dm_jpeg_write_rgb(const char *path, const uint8_t *rgb, int w, int h, int quality,
                            dm_error *err);

/* The JPEG file of an RGB picture in memory: *out is malloc'd (*len bytes); the caller frees it. */
dm_status dm_jpeg_encode_rgb(const uint8_t *rgb, int w, int h, int quality, uint8_t **out,
                             size_t *len, dm_error *err);
/* channels 3: RGB (palette expanded, gray replicated, alpha dropped, 16-bit reduced).
 * channels 1: a mask or gray map: the raw palette indices of an indexed PNG, or the values of an
 * 8-bit gray PNG; an RGB or 16-bit PNG is refused (it is not a label image).
 * *pix is malloc'd (w*h*channels bytes); the caller frees it. */
dm_status dm_png_read(const char *path, int channels, uint8_t **pix, int *w, int *h, dm_error *err);
/* channels 3: RGB; 1: luminance. */
dm_status dm_jpeg_read(const char *path, int channels, uint8_t **pix, int *w, int *h,
                       dm_error *err);
/* By extension: .png, or .jpg / .jpeg (case-insensitive). */
dm_status dm_image_read(const char *path, int channels, uint8_t **pix, int *w, int *h,
                        dm_error *err);

/* The PASCAL VOC colour map: index bits interleaved into the high bits of R, G, B
 * (1 -> (128,0,0), 2 -> (0,128,0), 15 -> (192,128,128), 255 -> (224,224,192)). */
void dm_voc_palette(uint8_t pal[256 * 3]);

#endif
