/* diffumask report: one self-contained HTML page about a dataset, for a first look in any
 * browser with no network: per-class sample and pixel counts (from the mask PNGs), a histogram
 * of quality scores, a grid of image / mask-overlay thumbnails sortable by score, and the
 * pruned samples (DIR/pruned/). Pictures are embedded as data: URIs (JPEG), styles and the
 * small sorting script inline, and a Content-Security-Policy forbids every fetch. */
#ifndef DM_DATASET_REPORT_H
#define DM_DATASET_REPORT_H

#include "core/status.h"

/* thumb: longer side of the thumbnails in pixels (pictures are shrunk, never enlarged);
 * max_cards: samples in the grid (the first by name; <= 0: all). Counts always cover every
 * sample. Written atomically. */
dm_status dm_report_html(const char *dataset_dir, const char *out_html, int thumb, int max_cards,
                         dm_error *err);

#endif
