/* diffumask eval: mIoU of predicted masks against ground-truth masks (mmsegmentation's rules). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "dataset/format/dataset.h"
#include "dataset/judge/eval.h"
#include "io/file.h"

/* A dataset root means its SegmentationClass/; the class names come from the labels.txt next to
 * the masks' folder when there is one. */
static void resolve(const char *dir, char *masks, size_t cap, char *labels, size_t lcap) {
    char sub[4096];
    snprintf(sub, sizeof sub, "%s/SegmentationClass", dir);
    labels[0] = 0;
    if (dm_dir_exists(sub)) {
        snprintf(masks, cap, "%s", sub);
        snprintf(sub, sizeof sub, "%s/labels.txt", dir);
    } else {
        snprintf(masks, cap, "%s", dir);
        snprintf(sub, sizeof sub, "%s/../labels.txt", dir);
    }
    if (dm_file_exists(sub)) snprintf(labels, lcap, "%s", sub);
}

static void print_json(const dm_eval_result *r, char **names, int n_names) {
    cJSON *o = cJSON_CreateObject(), *per = cJSON_CreateObject(), *acc = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "miou",
                          isnan(r->miou) ? cJSON_CreateNull() : cJSON_CreateNumber(r->miou));
    for (int c = 0; c < r->n_classes; c++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "class %d", c);
        const char *name = c < n_names ? names[c] : fallback;
        cJSON_AddItemToObject(
            per, name, isnan(r->iou[c]) ? cJSON_CreateNull() : cJSON_CreateNumber(r->iou[c]));
        cJSON_AddItemToObject(
            acc, name, isnan(r->acc[c]) ? cJSON_CreateNull() : cJSON_CreateNumber(r->acc[c]));
    }
    cJSON_AddItemToObject(o, "per_class", per);
    cJSON_AddItemToObject(o, "pixel_accuracy",
                          isnan(r->pixel_accuracy) ? cJSON_CreateNull()
                                                   : cJSON_CreateNumber(r->pixel_accuracy));
    cJSON_AddItemToObject(o, "macc",
                          isnan(r->macc) ? cJSON_CreateNull() : cJSON_CreateNumber(r->macc));
    cJSON_AddItemToObject(o, "per_class_acc", acc);
    cJSON_AddNumberToObject(o, "images", r->images);
    cJSON_AddNumberToObject(o, "pixels", (double)r->pixels);
    char *s = cJSON_PrintUnformatted(o);
    if (s) printf("%s\n", s);
    free(s);
    cJSON_Delete(o);
}

static void print_table(const dm_eval_result *r, char **names, int n_names) {
    printf("%-24s %8s %8s %12s %12s\n", "class", "IoU", "Acc", "gt pixels", "pred pixels");
    for (int c = 0; c < r->n_classes; c++) {
        char fallback[32];
        snprintf(fallback, sizeof fallback, "class %d", c);
        printf("%-24s %8.2f %8.2f %12llu %12llu\n", c < n_names ? names[c] : fallback,
               100 * r->iou[c], 100 * r->acc[c], (unsigned long long)r->gt_pixels[c],
               (unsigned long long)r->pred_pixels[c]);
    }
    printf(
        "mIoU %.2f  mAcc %.2f  aAcc %.2f  (%d images, %llu pixels; nan = class absent from both)\n",
        100 * r->miou, 100 * r->macc, 100 * r->pixel_accuracy, r->images,
        (unsigned long long)r->pixels);
}

int dm_cmd_eval(int argc, char **argv) {
    const char *pred = NULL, *gt = NULL, *classes = NULL;
    long ignore = 255, n_classes = 0;
    int json = 0;
    const dm_opt opts[] = {
        {"--pred", DM_ARG_STR, &pred, "DIR",
         "predicted masks: a dataset root or a folder of PNG masks"},
        {"--gt", DM_ARG_STR, &gt, "DIR",
         "ground-truth masks: a dataset root or a folder of PNG masks"},
        {"--classes", DM_ARG_STR, &classes, "FILE",
         "class names, one per line, line 0 background (labels.txt)"},
        {"--ignore", DM_ARG_INT, &ignore, "N",
         "ground-truth value left out of every count, -1 = none (default 255)", -1, 255},
        {"--num-classes", DM_ARG_INT, &n_classes, "N",
         "class count incl. background (default: the names, else the largest label + 1)", 1,
         DM_EVAL_MAX_CLASSES},
        {"--json", DM_ARG_FLAG, &json, NULL, "print one JSON object instead of the table"},
    };
    const dm_cmd_spec spec = {
        "diffumask eval",
        "--pred DIR --gt DIR [options]",
        "Scores predicted masks against ground truth by file name: per-class IoU, mIoU "
        "(classes absent from both sides left out, as in mmsegmentation), pixel accuracy.",
        opts,
        (int)(sizeof opts / sizeof *opts),
        0,
        0};
    const char *pos[1];
    int n_pos;
    int r = dm_parse_args(&spec, argc, argv, pos, &n_pos);
    if (r) return r < 0 ? 0 : r;
    if (!pred || !gt) return dm_usage_error(&spec, "--pred and --gt are required");

    char pred_masks[4096], gt_masks[4096], pred_labels[4096], gt_labels[4096];
    resolve(pred, pred_masks, sizeof pred_masks, pred_labels, sizeof pred_labels);
    resolve(gt, gt_masks, sizeof gt_masks, gt_labels, sizeof gt_labels);
    const char *labels = classes ? classes : gt_labels[0] ? gt_labels : NULL;
    char **names = NULL;
    int n_names = 0;
    dm_error err = {{0}};
    if (labels && dm_read_lines(labels, &names, &n_names, &err) != DM_OK) {
        fprintf(stderr, "diffumask eval: %s\n", err.msg);
        return 1;
    }
    if (!n_classes && n_names) n_classes = n_names;
    dm_eval_result res;
    int rc = 0;
    if (dm_eval_dirs(pred_masks, gt_masks, (int)n_classes, (int)ignore, &res, &err) != DM_OK) {
        fprintf(stderr, "diffumask eval: %s\n", err.msg);
        rc = 1;
    } else if (json)
        print_json(&res, names, n_names);
    else
        print_table(&res, names, n_names);
    dm_free_lines(names, n_names);
    return rc;
}
