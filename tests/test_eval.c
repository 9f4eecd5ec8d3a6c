/* mIoU as mmsegmentation computes it, on a hand-made 4x4 case, and on folders of PNG masks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "dataset/judge/eval.h"
#include "io/file.h"
#include "io/image.h"

static bool near(double a, double b) {
    return fabs(a - b) < 1e-12;
}

/*  gt                 pred
 *  0 0 1 1            0 1 1 1
 *  0 0 1 1            0 0 1 0
 *  2 2 X X            2 1 2 2     X = 255 (ignore): those two pixels are not counted at all
 *  2 2 2 2            2 2 2 0
 * class 0: TP 3, FN 1 (gt 0 -> 1), FP 2 (gt 1 -> 0, gt 2 -> 0): IoU 3/6 = 0.5,   Acc 3/4
 * class 1: TP 3, FN 1 (gt 1 -> 0), FP 2 (gt 0 -> 1, gt 2 -> 1): IoU 3/6 = 0.5,   Acc 3/4
 * class 2: TP 4, FN 2 (-> 1, -> 0), FP 0 (the two 2s under X are ignored): IoU 4/6, Acc 4/6
 * mIoU = (1/2 + 1/2 + 2/3) / 3 = 5/9; aAcc = 10 TP / 14 counted pixels = 5/7. */
static const uint8_t GT[16] = {0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 255, 255, 2, 2, 2, 2};
static const uint8_t PRED[16] = {0, 1, 1, 1, 0, 0, 1, 0, 2, 1, 2, 2, 2, 2, 2, 0};

int main(void) {
    dm_error err = {{0}};
    dm_eval_result r;
    uint64_t conf[5 * 5] = {0};
    dm_confusion_add(conf, PRED, GT, 16, 3, 255);
    CHECK(dm_confusion_iou(conf, 3, &r, &err) == DM_OK);
    CHECK(near(r.iou[0], 0.5) && near(r.iou[1], 0.5) && near(r.iou[2], 4.0 / 6));
    CHECK(near(r.acc[0], 0.75) && near(r.acc[1], 0.75) && near(r.acc[2], 4.0 / 6));
    CHECKF(near(r.miou, 5.0 / 9), "mIoU %.6f", r.miou);
    CHECK(near(r.pixel_accuracy, 10.0 / 14) && r.pixels == 14);
    CHECK(r.gt_pixels[2] == 6 && r.pred_pixels[2] == 4);

    /* A class absent from both sides is NaN and left out of the mean (nanmean). */
    uint64_t conf4[6 * 6] = {0};
    dm_confusion_add(conf4, PRED, GT, 16, 4, 255);
    CHECK(dm_confusion_iou(conf4, 4, &r, &err) == DM_OK && isnan(r.iou[3]) && isnan(r.acc[3]));
    CHECK(near(r.miou, 5.0 / 9) && near(r.pixel_accuracy, 10.0 / 14));

    /* With no ignore value (-1) the two X pixels count, as a gt label out of range (255 >= 3):
     * their predicted 2s become false positives of class 2, whose IoU drops to 4 / (6 + 2) = 0.5;
     * aAcc keeps its 14 in-range gt pixels. */
    memset(conf, 0, sizeof conf);
    dm_confusion_add(conf, PRED, GT, 16, 3, -1);
    CHECK(dm_confusion_iou(conf, 3, &r, &err) == DM_OK && near(r.iou[2], 0.5) &&
          near(r.pixel_accuracy, 10.0 / 14));

    /* A prediction out of range (7 with 3 classes) is a miss for its gt class and nothing else. */
    const uint8_t g1[2] = {0, 1}, p1[2] = {7, 1};
    memset(conf, 0, sizeof conf);
    dm_confusion_add(conf, p1, g1, 2, 3, 255);
    CHECK(dm_confusion_iou(conf, 3, &r, &err) == DM_OK && near(r.iou[0], 0) && near(r.iou[1], 1) &&
          isnan(r.iou[2]));
    CHECK(near(r.miou, 0.5) && near(r.pixel_accuracy, 0.5));
    CHECK(dm_confusion_iou(conf, 0, &r, &err) == DM_EUSAGE);

    /* Folders: the same numbers from PNG masks paired by name; the class count found by itself. */
    const char *tmp = check_tmpdir();
    char gd[512], pd[512], path[1024];
    uint8_t pal[768];
    dm_voc_palette(pal);
    snprintf(gd, sizeof gd, "%s/gt", tmp);
    snprintf(pd, sizeof pd, "%s/pred", tmp);
    mkdir(gd, 0755);
    mkdir(pd, 0755);
    snprintf(path, sizeof path, "%s/a.png", gd);
    CHECK(dm_png_write_palette(path, GT, 4, 4, pal, &err) == DM_OK);
    snprintf(path, sizeof path, "%s/a.png", pd);
    CHECK(dm_png_write_gray(path, PRED, 4, 4, &err) == DM_OK); /* gray or palette: values count */
    CHECKF(dm_eval_dirs(pd, gd, 0, 255, &r, &err) == DM_OK, "%s", err.msg);
    CHECK(r.n_classes == 3 && near(r.miou, 5.0 / 9) && r.images == 1);
    CHECK(dm_eval_dirs(gd, gd, 0, 255, &r, &err) == DM_OK && near(r.miou, 1.0) &&
          near(r.pixel_accuracy, 1.0));
    /* Two images: the confusion matrix is summed over both, not the IoUs averaged. */
    snprintf(path, sizeof path, "%s/b.png", gd);
    CHECK(dm_png_write_gray(path, GT, 4, 4, &err) == DM_OK);
    snprintf(path, sizeof path, "%s/b.png", pd);
    CHECK(dm_png_write_gray(path, GT, 4, 4, &err) == DM_OK);
    CHECK(dm_eval_dirs(pd, gd, 3, 255, &r, &err) == DM_OK && r.images == 2);
    /* class 0: TP 7 of gt 8, pred 9 -> 7/10; class 1: 7/10; class 2: TP 10, gt 12, pred 10 ->
     * 10/12. */
    CHECK(near(r.iou[0], 0.7) && near(r.iou[1], 0.7) && near(r.iou[2], 10.0 / 12));
    /* Missing prediction, other size, not a mask. */
    snprintf(path, sizeof path, "%s/c.png", gd);
    CHECK(dm_png_write_gray(path, GT, 4, 4, &err) == DM_OK);
    CHECKF(dm_eval_dirs(pd, gd, 3, 255, &r, &err) == DM_ERR && strstr(err.msg, "pred/c.png") &&
               strstr(err.msg, "missing prediction"),
           "%s", err.msg);
    snprintf(path, sizeof path, "%s/c.png", pd);
    CHECK(dm_png_write_gray(path, GT, 2, 8, &err) == DM_OK);
    CHECKF(dm_eval_dirs(pd, gd, 3, 255, &r, &err) == DM_ERR && strstr(err.msg, "pred/c.png") &&
               strstr(err.msg, "2x8"),
           "%s", err.msg);
    uint8_t rgb[48] = {0};
    CHECK(dm_png_write_rgb(path, rgb, 4, 4, &err) == DM_OK);
    CHECKF(dm_eval_dirs(pd, gd, 3, 255, &r, &err) == DM_ERR && strstr(err.msg, "RGB"), "%s",
           err.msg);
    CHECK(dm_eval_dirs(pd, "/nonexistent", 3, 255, &r, &err) == DM_ERR &&
          strstr(err.msg, "/nonexistent"));
    return check_finish();
}
