/* The synthetic dataset the augment / filter tests share: N samples of 64x64, a red square of
 * class 1 (16x16 at (8 + 4i, 8)) and a blue disc of class 2 (radius 10 around (44, 42 + i)) on a
 * grey-green gradient, and a 255 ignore column at x = 63. Predictions: the masks, except that
 * sample `wrong` predicts its square as the disc's class and the disc as background. */
#ifndef DM_TESTS_AUG_FIXTURE_H
#define DM_TESTS_AUG_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dataset/make/augment.h"
#include "dataset/format/dataset.h"
#include "io/file.h"
#include "io/image.h"

enum { FX_W = 64, FX_H = 64, FX_SQ = 16, FX_R = 10 };
static const char *const FX_CLASSES[] = {"square", "disc"};
static const uint8_t FX_RED[3] = {220, 30, 30}, FX_BLUE[3] = {20, 40, 230};

static int fx_in_square(int i, int x, int y) {
    return x >= 8 + 4 * i && x < 8 + 4 * i + FX_SQ && y >= 8 && y < 8 + FX_SQ;
}
static int fx_in_disc(int i, int x, int y) {
    int dx = x - 44, dy = y - (42 + i);
    return dx * dx + dy * dy <= FX_R * FX_R;
}

/* Sample i into im (allocated here). */
static void fx_sample(int i, dm_aug_image *im) {
    dm_error err;
    dm_aug_image_alloc(im, FX_W, FX_H, &err);
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            size_t k = (size_t)y * FX_W + x;
            uint8_t *p = im->rgb + 3 * k;
            int sq = fx_in_square(i, x, y), disc = fx_in_disc(i, x, y);
            if (sq)
                memcpy(p, FX_RED, 3);
            else if (disc)
                memcpy(p, FX_BLUE, 3);
            else
                p[0] = (uint8_t)(60 + 2 * x), p[1] = (uint8_t)(90 + y + 10 * i), p[2] = 70;
            im->mask[k] = x == FX_W - 1 ? 255 : sq ? 1 : disc ? 2 : 0;
        }
}

static void fx_name(int i, char *name, size_t cap) {
    snprintf(name, cap, "%06d", i);
}

/* A dataset of n samples in dir. */
static void fx_write_dataset(const char *dir, int n) {
    dm_dataset *ds = NULL;
    dm_error err = {{0}};
    CHECKF(dm_dataset_open(dir, "{\"synthetic\":\"aug_fixture\"}", FX_CLASSES, 2, "png", &ds,
                           &err) == DM_OK,
           "%s", err.msg);
    if (!ds) return;
    for (int i = 0; i < n; i++) {
        dm_aug_image im;
        fx_sample(i, &im);
        char name[32];
        fx_name(i, name, sizeof name);
        dm_sample s = {name, im.rgb, im.mask, NULL, FX_W, FX_H, NULL, "{\"class\":\"square\"}"};
        CHECKF(dm_dataset_add(ds, &s, &err) == DM_OK, "%s", err.msg);
        dm_aug_image_free(&im);
    }
    CHECKF(dm_dataset_finish(ds, &err) == DM_OK, "%s", err.msg);
    dm_dataset_close(ds);
}

/* PRED/NAME.png for n samples; sample `wrong` (-1: none) gets a wrong prediction. */
static void fx_write_preds(const char *pred_dir, int n, int wrong) {
    dm_error err = {{0}};
    CHECK(dm_mkdirs(pred_dir, &err) == DM_OK);
    uint8_t pal[256 * 3];
    dm_voc_palette(pal);
    for (int i = 0; i < n; i++) {
        dm_aug_image im;
        fx_sample(i, &im);
        if (i == wrong)
            for (int k = 0; k < FX_W * FX_H; k++)
                im.mask[k] = im.mask[k] == 1 ? 2 : im.mask[k] == 2 ? 0 : im.mask[k];
        char name[32], path[4200];
        fx_name(i, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s.png", pred_dir, name);
        CHECKF(dm_png_write_palette(path, im.mask, FX_W, FX_H, pal, &err) == DM_OK, "%s", err.msg);
        dm_aug_image_free(&im);
    }
}

#endif
