/* diffumask report: a self-contained HTML page about a dataset. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "dataset/show/report.h"

int dm_cmd_report(int argc, char **argv) {
    const char *out = NULL;
    long thumb = 256, max_cards = 500;
    const dm_opt opts[] = {
        {"--out", DM_ARG_STR, &out, "HTML", "where to write the page (required)"},
        {"--thumb", DM_ARG_INT, &thumb, "PX",
         "longest side of the thumbnails, 16..1024 (default 256; never enlarged)", 16, 1024},
        {"--max-samples", DM_ARG_INT, &max_cards, "N",
         "samples in the grid, the first by name (default 500; 0 = all; counts cover all)", 0,
         10000000},
    };
    const dm_cmd_spec spec = {
        "diffumask report",
        "DATASET --out report.html [--thumb PX] [--max-samples N]",
        "Writes one self-contained HTML file (no network: pictures embedded) with per-class\n"
        "sample and pixel counts, a histogram of quality scores, a grid of image / mask overlay\n"
        "thumbnails sortable by score, and the pruned samples.",
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
    dm_status s = dm_report_html(pos[0], out, (int)thumb, (int)max_cards, &err);
    return s ? dm_cli_fail(&spec, s, &err) : 0;
}
