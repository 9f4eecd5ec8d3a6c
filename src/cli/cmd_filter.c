/* diffumask filter: drop the samples whose masks an external segmenter disagrees with most. */
#include <stdio.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "dataset/judge/filter.h"

int dm_cmd_filter(int argc, char **argv) {
    const char *pred = NULL, *out = NULL;
    double drop = -1;
    const dm_opt opts[] = {
        {"--pred", DM_ARG_STR, &pred, "DIR",
         "the segmenter's predictions: DIR/NAME.png per sample (required)"},
        {"--drop", DM_ARG_FLOAT, &drop, "P",
         "fraction of samples to drop, worst IoU first, 0..1 (required)", 0, 1},
        {"--out", DM_ARG_STR, &out, "DIR",
         "write the kept samples as a new dataset (default: prune in place)"},
    };
    const dm_cmd_spec spec = {
        "diffumask filter",
        "DATASET --pred DIR --drop P [--out DIR]",
        "Noise-learning pruning with an external segmenter: each sample's IoU (mean over the "
        "classes in "
        "either mask, 255 pixels left out) between its mask and PRED/NAME.png; the floor(P*n) "
        "lowest are "
        "dropped. With --out the kept samples form a new dataset (files hard-linked). Without it "
        "the dataset "
        "is pruned in place: dropped samples move to DATASET/pruned/ (files and manifest lines), "
        "manifest.jsonl, train.txt and annotations.json list the kept ones. Kept lines gain "
        "\"pred_iou\".",
        opts,
        (int)(sizeof opts / sizeof *opts),
        1,
        1};
    const char *pos[1];
    int n_pos;
    int r = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (r) return r < 0 ? 0 : r;
    if (!pred) return dm_usage_error(&spec, "--pred is required");
    if (!(drop >= 0 && drop <= 1))
        return dm_usage_error(&spec, "--drop is required, a fraction in 0..1");
    dm_error err = {{0}};
    dm_filter_result res;
    dm_status s = dm_filter_dataset(pos[0], pred, drop, out, &res, &err);
    if (s != DM_OK) {
        fprintf(stderr, "%s: %s\n", spec.command, err.msg);
        return s == DM_EUSAGE ? 2 : 1;
    }
    for (int i = 0; i < res.dropped; i++)
        printf("dropped %s (IoU %.4f)\n", res.scores[i].name, res.scores[i].iou);
    printf("%d samples: kept %d, dropped %d; mean IoU %.4f -> %.4f%s%s\n", res.total, res.kept,
           res.dropped, res.miou_before, res.miou_after,
           out ? "; written to " : " (pruned in place)", out ? out : "");
    dm_filter_result_free(&res);
    return 0;
}
