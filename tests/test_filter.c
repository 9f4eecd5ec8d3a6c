/* Noise-learning pruning with an external segmenter's predictions: the sample IoU on hand-made
 * masks, then a 4-sample dataset whose sample 2 is predicted wrong, pruned into a new folder and
 * in place. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aug_fixture.h"
#include "check.h"
#include "dataset/format/dataset.h"
#include "dataset/judge/filter.h"
#include "io/file.h"

static bool near(double a, double b) {
    return fabs(a - b) < 1e-12;
}

static char *slurp(const char *dir, const char *rel) {
    char path[4096], *data = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    dm_error err;
    if (dm_read_file(path, &data, NULL, &err) != DM_OK) return NULL;
    return data;
}

static int exists(const char *dir, const char *rel) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    return dm_file_exists(path);
}

static int lines(const char *text) {
    int n = 0;
    for (const char *p = text; p && *p; p++) n += *p == '\n';
    return n;
}

static void test_iou(void) {
    /* class 0: TP 1, gt 2, pred 1 -> 1/2; class 1: TP 2, gt 2, pred 3 -> 2/3; the 255 pixels
     * (in either) are not counted: mean 7/12. */
    const uint8_t gt[7] = {0, 0, 1, 1, 255, 2, 0}, pred[7] = {0, 1, 1, 1, 2, 255, 255};
    CHECKF(near(dm_sample_iou(gt, pred, 7), 7.0 / 12), "%f", dm_sample_iou(gt, pred, 7));
    CHECK(near(dm_sample_iou(gt, gt, 7), 1.0));
    const uint8_t bg[3] = {0, 0, 0}, cls[3] = {3, 3, 3}, ign[3] = {255, 255, 255};
    CHECK(near(dm_sample_iou(bg, bg, 3), 1.0));
    CHECK(near(dm_sample_iou(bg, cls, 3), 0.0));
    CHECK(near(dm_sample_iou(ign, bg, 3), 0.0)); /* nothing labelled: pruned first */
}

static void test_dataset(const char *tmp) {
    char src[512], pred[512], out[512], inplace[512], pruned[600], missing[512], again[512];
    snprintf(src, sizeof src, "%s/src", tmp);
    snprintf(pred, sizeof pred, "%s/pred", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(inplace, sizeof inplace, "%s/inplace", tmp);
    snprintf(pruned, sizeof pruned, "%s/pruned", inplace);
    snprintf(missing, sizeof missing, "%s/missing", tmp);
    snprintf(again, sizeof again, "%s/again", tmp);
    fx_write_dataset(src, 4);
    fx_write_dataset(inplace, 4);
    fx_write_preds(pred, 4, 2);
    dm_error err = {{0}};
    dm_filter_result r;

    /* Into a new folder: exactly sample 2 goes. */
    CHECKF(dm_filter_dataset(src, pred, 0.25, out, &r, &err) == DM_OK, "%s", err.msg);
    CHECK(r.total == 4 && r.kept == 3 && r.dropped == 1);
    CHECK(r.scores && !strcmp(r.scores[0].name, "000002") && r.scores[0].iou < 0.5);
    CHECK(near(r.miou_after, 1.0) && r.miou_after > r.miou_before);
    CHECK(near(r.miou_before, (3 + r.scores[0].iou) / 4));
    dm_filter_result_free(&r);
    char *train = slurp(out, "ImageSets/Segmentation/train.txt");
    CHECK(train && !strcmp(train, "000000\n000001\n000003\n"));
    free(train);
    CHECK(exists(out, "JPEGImages/000003.png") && exists(out, "SegmentationClass/000003.png"));
    CHECK(!exists(out, "JPEGImages/000002.png") && !exists(out, "SegmentationClass/000002.png"));
    char *man = slurp(out, "manifest.jsonl");
    CHECK(lines(man) == 3 && strstr(man, "\"pred_iou\":1") && strstr(man, "\"class\":\"square\""));
    free(man);
    char *cfg = slurp(out, "config.json");
    CHECK(cfg && strstr(cfg, "\"filter\"") && strstr(cfg, "\"drop\":\t0.25") &&
          strstr(cfg, "aug_fixture"));
    free(cfg);
    char *labels = slurp(out, "labels.txt");
    CHECK(labels && !strcmp(labels, "background\nsquare\ndisc\n"));
    free(labels);
    char *coco = slurp(out, "annotations.json");
    cJSON *j = cJSON_Parse(coco);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "images")) == 3);
    cJSON_Delete(j);
    free(coco);
    /* The source is untouched. */
    man = slurp(src, "manifest.jsonl");
    CHECK(lines(man) == 4 && !strstr(man, "pred_iou"));
    free(man);
    /* A second filter into a non-empty OUT is refused. */
    CHECK(dm_filter_dataset(src, pred, 0.25, out, &r, &err) == DM_ERR &&
          strstr(err.msg, "already holds 3"));

    /* In place: sample 2 moves to pruned/, the dataset lists the other three. */
    CHECKF(dm_filter_dataset(inplace, pred, 0.25, NULL, &r, &err) == DM_OK, "%s", err.msg);
    CHECK(r.dropped == 1 && !strcmp(r.scores[0].name, "000002"));
    dm_filter_result_free(&r);
    train = slurp(inplace, "ImageSets/Segmentation/train.txt");
    CHECK(train && !strcmp(train, "000000\n000001\n000003\n"));
    free(train);
    man = slurp(inplace, "manifest.jsonl");
    CHECK(lines(man) == 3 && !strstr(man, "000002") && strstr(man, "pred_iou"));
    free(man);
    CHECK(!exists(inplace, "JPEGImages/000002.png") &&
          !exists(inplace, "SegmentationClass/000002.png"));
    CHECK(exists(pruned, "JPEGImages/000002.png") &&
          exists(pruned, "SegmentationClass/000002.png"));
    CHECK(exists(pruned, "labels.txt") && exists(pruned, "config.json"));
    man = slurp(pruned, "manifest.jsonl");
    CHECK(lines(man) == 1 && strstr(man, "\"name\":\"000002\"") && strstr(man, "pred_iou"));
    free(man);
    coco = slurp(inplace, "annotations.json");
    j = cJSON_Parse(coco);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "images")) == 3);
    cJSON_Delete(j);
    free(coco);
    /* Both folders are consistent datasets: they reopen with 3 and 1 samples. */
    dm_manifest m;
    CHECK(dm_manifest_load(pruned, &m, &err) == DM_OK && m.n == 1 && !m.dirty);
    dm_manifest_free(&m);
    dm_dataset *ds = NULL;
    CHECKF(dm_dataset_open(inplace, "{\"synthetic\":\"aug_fixture\"}", FX_CLASSES, 2, "png", &ds,
                           &err) == DM_OK,
           "%s", err.msg);
    /* 3 samples remain; the pruned one still counts as made, so a resumed generate skips it */
    CHECK(ds && dm_dataset_count(ds) == 3 && dm_dataset_has(ds, "000002"));
    dm_dataset_close(ds);
    /* Dropping nothing keeps everything. */
    CHECKF(dm_filter_dataset(inplace, pred, 0.0, NULL, &r, &err) == DM_OK, "%s", err.msg);
    CHECK(r.total == 3 && r.kept == 3 && r.dropped == 0 && near(r.miou_before, 1.0));
    dm_filter_result_free(&r);

    /* A missing prediction names the sample and changes nothing. */
    fx_write_dataset(missing, 4);
    char path[700];
    snprintf(path, sizeof path, "%s/000001.png", pred);
    CHECK(remove(path) == 0);
    CHECK(dm_filter_dataset(missing, pred, 0.25, NULL, &r, &err) == DM_ERR &&
          strstr(err.msg, "000001") && strstr(err.msg, "no prediction"));
    man = slurp(missing, "manifest.jsonl");
    CHECK(lines(man) == 4 && !exists(missing, "pruned"));
    free(man);
    CHECK(dm_filter_dataset(src, pred, 0.25, again, &r, &err) == DM_ERR &&
          strstr(err.msg, "000001"));
    CHECK(!dm_dir_exists(again));

    /* Bad arguments. */
    CHECK(dm_filter_dataset(src, pred, 1.5, NULL, &r, &err) == DM_EUSAGE);
    CHECK(dm_filter_dataset(src, pred, NAN, NULL, &r, &err) == DM_EUSAGE);
    CHECK(dm_filter_dataset(src, src, 0.25, src, &r, &err) == DM_EUSAGE);
    CHECK(dm_filter_dataset(pred, pred, 0.25, NULL, &r, &err) == DM_ERR &&
          strstr(err.msg, "no config.json"));
}

int main(void) {
    test_iou();
    test_dataset(check_tmpdir());
    return check_finish();
}
