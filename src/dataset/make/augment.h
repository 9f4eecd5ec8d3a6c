/* Dataset augmentation (DiffuMask section 8): splicing (2x2 mosaics, object pasting), Gaussian
 * blur, random occlusion and perspective transforms, image and mask transformed together.
 *
 * Rules every operation follows:
 *   - images are resampled bilinearly, masks by nearest neighbour, so a mask only ever holds
 *     class ids that were already there (plus 255);
 *   - a pixel whose content is unknown is 255 (ignore) in the mask: under an occluder (the
 *     object may still be there, it just cannot be seen: neither "object" nor "background" is a
 *     true label) and where a perspective warp reads from outside the source;
 *   - pixel centres sit at integer coordinates, so the identity warp reproduces the source and
 *     an integer translation shifts it exactly.
 *
 * dm_augment_dataset writes a new dataset folder (dataset.h layout) with, per source sample,
 * `copies` samples named SOURCE_aug0, SOURCE_aug1, ...; copy k of the i-th source sample (in
 * name order) draws every random number from dm_seed_mix(dm_seed_mix(seed, i), k) only, so a
 * re-run is byte-identical and a killed run resumes (finished samples are skipped). */
#ifndef DM_DATASET_AUGMENT_H
#define DM_DATASET_AUGMENT_H

#include <stdint.h>

#include "core/status.h"
#include "dataset/make/augment_pixels.h" /* the pixel operations on one image + mask */

/* ------------------------------------------------------------ whole datasets */

enum {
    DM_AUG_MOSAIC = 1 << 0,
    DM_AUG_PASTE = 1 << 1,
    DM_AUG_BLUR = 1 << 2,
    DM_AUG_OCCLUDE = 1 << 3,
    DM_AUG_PERSPECTIVE = 1 << 4,
    DM_AUG_ALL = (1 << 5) - 1
};

/* "mosaic,paste,blur,occlude,perspective" (any non-empty subset, any order) -> bit set. */
dm_status dm_aug_parse_ops(const char *list, unsigned *ops, dm_error *err);

typedef struct {
    uint64_t seed;
    int copies;   /* augmented samples per source sample, >= 1 */
    unsigned ops; /* DM_AUG_* bits, at least one */
} dm_augment_opts;

typedef struct {
    int sources; /* samples in the source dataset */
    int written; /* new samples written by this run */
    int skipped; /* already in OUT (resumed) */
} dm_augment_stats;

/* Copy k of a sample applies the k-th enabled operation (cyclically, in the order mosaic, paste,
 * perspective, occlude, blur); each other enabled operation among perspective, occlusion and blur
 * is added with probability 1/4. Splicing partners are other samples of the source, drawn from
 * the copy's random stream. Each manifest line records "source", "ops" and the parameters drawn.
 * OUT/config.json holds {"augment": {source, seed, copies, ops}, "source_config": ...};
 * labels.txt is the source's. Heat maps are not carried over. */
dm_status dm_augment_dataset(const char *src_dir, const char *out_dir, const dm_augment_opts *o,
                             dm_augment_stats *stats, dm_error *err);

#endif
