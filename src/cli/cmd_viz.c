/* diffumask viz: a PNG contact sheet of a dataset (image | mask overlay | heat map per row). */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "dataset/show/viz.h"

int dm_cmd_viz(int argc, char **argv) {
    const char *out = NULL;
    long n = 16, tile = DM_VIZ_TILE_DEFAULT;
    const dm_opt opts[] = {
        {"--out", DM_ARG_STR, &out, "PNG", "where to write the sheet (required)"},
        {"--n", DM_ARG_INT, &n, "N", "number of samples, the first by name (default 16)", 1,
         100000},
        {"--tile", DM_ARG_INT, &tile, "PX", "tile size in pixels, 128..1024 (default 192)", 128,
         1024},
    };
    const dm_cmd_spec spec = {
        "diffumask viz",
        "DATASET --out sheet.png [--n 16]",
        "Draws one row per sample: the image, the image blended with each class's VOC "
        "colour (boundaries in white), and the attention heat map (jet colours).",
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
    if (dm_viz_sheet(pos[0], out, (int)n, (int)tile, &err) != DM_OK) {
        fprintf(stderr, "diffumask viz: %s\n", err.msg);
        return 1;
    }
    return 0;
}
