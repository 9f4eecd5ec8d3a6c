/* diffumask augment: a new dataset of augmented copies (mosaic, paste, blur, occlusion,
 * perspective). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "dataset/make/augment.h"

int dm_cmd_augment(int argc, char **argv) {
    const char *out = NULL, *ops_s = "mosaic,paste,blur,occlude,perspective";
    long seed = 0, copies = 1;
    const dm_opt opts[] = {
        {"--out", DM_ARG_STR, &out, "DIR", "the new dataset folder (required; resumable)"},
        {"--seed", DM_ARG_INT, &seed, "S", "random seed (default 0); same seed, same bytes", 0,
         DM_ARG_SEED_MAX},
        {"--copies", DM_ARG_INT, &copies, "N", "augmented samples per source sample (default 1)", 1,
         10000},
        {"--ops", DM_ARG_STR, &ops_s, "LIST",
         "comma-separated subset of mosaic,paste,blur,occlude,perspective (default: all)"},
    };
    const dm_cmd_spec spec = {"diffumask augment",
                              "DATASET --out DIR [--seed S] [--copies N] [--ops LIST]",
                              "Writes a new dataset (same layout, labels.txt copied) with N "
                              "augmented copies SOURCE_augK of every "
                              "sample. Copy K applies the K-th chosen operation (cycling through "
                              "mosaic, paste, perspective, "
                              "occlude, blur), plus each other chosen perspective/occlude/blur "
                              "with probability 1/4. Splicing: 2x2 "
                              "mosaics of four samples, or one object (a connected component of "
                              "one class) of another sample "
                              "pasted at a random place and scale. Images are resampled "
                              "bilinearly, masks by nearest neighbour; "
                              "pixels under an occluder and pixels a warp reads from outside the "
                              "image are 255 (ignore) in the "
                              "mask. Each copy's randomness comes from the seed, the sample's "
                              "index and K only: re-runs are "
                              "byte-identical, and an interrupted run resumes.",
                              opts,
                              (int)(sizeof opts / sizeof *opts),
                              1,
                              1};
    const char *pos[1];
    int n_pos;
    int r = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (r) return r < 0 ? 0 : r;
    if (!out) return dm_usage_error(&spec, "--out is required");
    dm_error err = {{0}};
    dm_augment_opts o = {(uint64_t)seed, (int)copies, 0};
    if (dm_aug_parse_ops(ops_s, &o.ops, &err) != DM_OK) return dm_usage_error(&spec, "%s", err.msg);
    dm_augment_stats st;
    dm_status s = dm_augment_dataset(pos[0], out, &o, &st, &err);
    if (s != DM_OK) {
        fprintf(stderr, "%s: %s\n", spec.command, err.msg);
        return s == DM_EUSAGE ? 2 : 1;
    }
    printf("augmented %d source samples into %s: %d written, %d already there\n", st.sources, out,
           st.written, st.skipped);
    return 0;
}
