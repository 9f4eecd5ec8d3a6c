/* A contact sheet of a dataset, for eyeballing masks: one row per sample (sorted by name) of
 * image | image blended 50% with each class's VOC colour, class boundaries in white |
 * attention heat map in the jet colour map (only when the dataset has heat maps: two columns
 * otherwise). A legend on top names the columns and the class colours; each sample has a header
 * with its name, quality score, classes (in their colours) and prompt, cut to fit. */
#ifndef DM_DATASET_VIZ_H
#define DM_DATASET_VIZ_H

#include "core/status.h"

#define DM_VIZ_TILE_DEFAULT 192
#define DM_VIZ_GAP          4

/* First n samples of the dataset at dataset_dir; each tile is tile x tile pixels (>= 128), the
 * picture scaled to fit with its aspect kept. Written atomically as an RGB PNG. */
dm_status dm_viz_sheet(const char *dataset_dir, const char *out_png, int n, int tile,
                       dm_error *err);

/* The overlay of the sheet's middle column at full size: rgb blended 50% with each class's
 * colour of pal (256 RGB triples), class boundaries white. out: w*h*3. */
void dm_viz_overlay(const uint8_t *rgb, const uint8_t *mask, int w, int h, const uint8_t *pal,
                    uint8_t *out);

#endif
