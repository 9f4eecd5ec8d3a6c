#include "dataset/judge/eval.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/file.h"
#include "io/image.h"

void dm_confusion_add(uint64_t *conf, const uint8_t *pred, const uint8_t *gt, size_t n,
                      int n_classes, int ignore) {
    int stride = n_classes + 1;
    for (size_t i = 0; i < n; i++) {
        if (gt[i] == ignore) continue;
        int g = gt[i] < n_classes ? gt[i] : n_classes;
        int p = pred[i] < n_classes ? pred[i] : n_classes;
        conf[(size_t)g * stride + p]++;
    }
}

dm_status dm_confusion_iou(const uint64_t *conf, int n_classes, dm_eval_result *r, dm_error *err) {
    if (n_classes < 1 || n_classes > DM_EVAL_MAX_CLASSES)
        return dm_fail_code(err, DM_EUSAGE, "eval: %d classes (1..%d)", n_classes,
                            DM_EVAL_MAX_CLASSES);
    int stride = n_classes + 1;
    r->n_classes = n_classes;
    uint64_t tp_all = 0, gt_all = 0;
    double iou_sum = 0, acc_sum = 0;
    int iou_n = 0, acc_n = 0;
    for (int c = 0; c < n_classes; c++) {
        uint64_t gt = 0, pred = 0, tp = conf[(size_t)c * stride + c];
        for (int k = 0; k <= n_classes; k++) {
            gt += conf[(size_t)c * stride + k];   /* row c, out-of-range predictions included */
            pred += conf[(size_t)k * stride + c]; /* column c, out-of-range truths included */
        }
        r->gt_pixels[c] = gt;
        r->pred_pixels[c] = pred;
        uint64_t uni = gt + pred - tp;
        r->iou[c] = uni ? (double)tp / (double)uni : NAN;
        r->acc[c] = gt ? (double)tp / (double)gt : NAN;
        if (uni) iou_sum += r->iou[c], iou_n++;
        if (gt) acc_sum += r->acc[c], acc_n++;
        tp_all += tp;
        gt_all += gt;
    }
    /* aAcc divides by the in-range ground-truth pixels, as mmseg's histc-based areas do. */
    r->miou = iou_n ? iou_sum / iou_n : NAN;
    r->macc = acc_n ? acc_sum / acc_n : NAN;
    r->pixel_accuracy = gt_all ? (double)tp_all / (double)gt_all : NAN;
    r->pixels = gt_all;
    return DM_OK;
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the *.png files of a folder. */
static dm_status list_png(const char *dir, char ***out, int *n, dm_error *err) {
    DIR *d = opendir(dir);
    if (!d) return dm_fail(err, "%s: cannot open folder", dir);
    char **v = NULL;
    int cnt = 0, cap = 0;
    struct dirent *e;
    dm_status st = DM_OK;
    while ((e = readdir(d)) && st == DM_OK) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".png") || e->d_name[0] == '.') continue;
        if (cnt == cap) {
            cap = cap ? 2 * cap : 64;
            char **nv = realloc(v, sizeof *v * cap);
            if (!nv) {
                st = dm_fail(err, "%s: out of memory", dir);
                break;
            }
            v = nv;
        }
        if (!(v[cnt] = strdup(e->d_name)))
            st = dm_fail(err, "%s: out of memory", dir);
        else
            cnt++;
    }
    closedir(d);
    if (cnt) qsort(v, (size_t)cnt, sizeof *v, str_cmp);
    *out = v;
    *n = cnt;
    return st;
}

dm_status dm_eval_dirs(const char *pred_dir, const char *gt_dir, int n_classes, int ignore,
                       dm_eval_result *r, dm_error *err) {
    if (n_classes < 0 || n_classes > DM_EVAL_MAX_CLASSES)
        return dm_fail_code(err, DM_EUSAGE, "eval: %d classes (1..%d)", n_classes,
                            DM_EVAL_MAX_CLASSES);
    char **names = NULL;
    int n = 0;
    dm_status st = list_png(gt_dir, &names, &n, err);
    if (st == DM_OK && n == 0) st = dm_fail(err, "%s: no .png ground-truth masks", gt_dir);
    if (st == DM_OK && !dm_dir_exists(pred_dir))
        st = dm_fail(err, "%s: cannot open folder", pred_dir);
    /* Count every (gt, pred) byte pair first; the class count can then be chosen afterwards. */
    enum { S = 257 };
    uint64_t *all = calloc((size_t)S * S, sizeof *all);
    if (!all && st == DM_OK) st = dm_fail(err, "eval: out of memory");
    char gp[4096], pp[4096];
    for (int i = 0; i < n && st == DM_OK; i++) {
        snprintf(gp, sizeof gp, "%s/%s", gt_dir, names[i]);
        snprintf(pp, sizeof pp, "%s/%s", pred_dir, names[i]);
        if (!dm_file_exists(pp)) {
            st = dm_fail(err, "%s: missing prediction for ground truth %s", pp, gp);
            break;
        }
        uint8_t *g = NULL, *p = NULL;
        int gw, gh, pw, ph;
        st = dm_png_read(gp, 1, &g, &gw, &gh, err);
        if (st == DM_OK) st = dm_png_read(pp, 1, &p, &pw, &ph, err);
        if (st == DM_OK && (gw != pw || gh != ph))
            st = dm_fail(err, "%s: prediction is %dx%d but ground truth %s is %dx%d", pp, pw, ph,
                         gp, gw, gh);
        if (st == DM_OK) dm_confusion_add(all, p, g, (size_t)gw * gh, 256, ignore);
        free(g);
        free(p);
    }
    if (st == DM_OK && n_classes == 0) {
        for (int g = 0; g < 256; g++)
            for (int p = 0; p < 256; p++)
                if (all[g * S + p]) {
                    if (g != ignore && g + 1 > n_classes) n_classes = g + 1;
                    if (p != ignore && p + 1 > n_classes) n_classes = p + 1;
                }
        if (n_classes == 0) n_classes = 1;
    }
    uint64_t *conf =
        st == DM_OK ? calloc((size_t)(n_classes + 1) * (n_classes + 1), sizeof *conf) : NULL;
    if (!conf && st == DM_OK) st = dm_fail(err, "eval: out of memory");
    if (st == DM_OK) {
        int s = n_classes + 1;
        for (int g = 0; g < 256; g++)
            for (int p = 0; p < 256; p++) {
                int gi = g < n_classes ? g : n_classes, pi = p < n_classes ? p : n_classes;
                conf[gi * s + pi] += all[g * S + p];
            }
        st = dm_confusion_iou(conf, n_classes, r, err);
        r->images = n;
    }
    free(conf);
    free(all);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return st;
}
