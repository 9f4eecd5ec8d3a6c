/* Augmentation: each pixel operation on the synthetic squares-and-discs samples (exact mask
 * expectations), then whole datasets: determinism, resume, manifest records.
 * `test_augment --fixture DIR` writes DIR/ds (4 samples) and DIR/pred (sample 2 wrong) for
 * tests/cli_augment.sh. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aug_fixture.h"
#include "check.h"
#include "dataset/make/augment.h"
#include "dataset/format/dataset.h"
#include "io/file.h"
#include "io/image.h"

static long count(const uint8_t *m, int w, int x0, int y0, int x1, int y1, uint8_t v) {
    long n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++) n += m[(size_t)y * w + x] == v;
    return n;
}

static void test_mosaic(void) {
    dm_aug_image s[4], out;
    dm_error err = {{0}};
    for (int i = 0; i < 4; i++) fx_sample(i, &s[i]);
    const dm_aug_image *q[4] = {&s[0], &s[1], &s[2], &s[3]};
    CHECK(dm_aug_image_alloc(&out, FX_W, FX_H, &err) == DM_OK);
    CHECK(dm_aug_mosaic(q, &out, &err) == DM_OK);
    for (int k = 0; k < 4; k++) {
        int ox = (k % 2) * 32, oy = (k / 2) * 32;
        /* Nearest: quadrant pixel (x, y) is source pixel (2x + 1, 2y + 1) = floor((x + 0.5) * 64 /
         * 32). */
        int same = 1;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++)
                same &=
                    out.mask[(oy + y) * FX_W + ox + x] == s[k].mask[(2 * y + 1) * FX_W + 2 * x + 1];
        CHECKF(same, "quadrant %d is not the nearest-downscaled mask of sample %d", k, k);
        /* 16x16 square -> 8x8 = 64 pixels; disc of 317 pixels -> about a quarter. */
        long sq = count(out.mask, FX_W, ox, oy, ox + 32, oy + 32, 1);
        long disc = count(out.mask, FX_W, ox, oy, ox + 32, oy + 32, 2);
        long disc_src = count(s[k].mask, FX_W, 0, 0, FX_W, FX_H, 2);
        CHECKF(sq == 64, "quadrant %d: %ld square pixels, want 64", k, sq);
        CHECKF(labs(4 * disc - disc_src) <= 40,
               "quadrant %d: %ld disc pixels for %ld in the source", k, disc, disc_src);
        CHECK(count(out.mask, FX_W, ox, oy, ox + 32, oy + 32, 255) ==
              32); /* the ignore column, scaled */
        /* The middle of the scaled square is pure red (bilinear inside a flat region). */
        const uint8_t *p = out.rgb + 3 * ((oy + 8) * FX_W + ox + 8 + 2 * k);
        CHECKF(!memcmp(p, FX_RED, 3), "quadrant %d: square centre is %d,%d,%d", k, p[0], p[1],
               p[2]);
    }
    /* Odd sizes: the right column and bottom row take the extra pixel. */
    dm_aug_image odd;
    CHECK(dm_aug_image_alloc(&odd, 33, 31, &err) == DM_OK);
    CHECK(dm_aug_mosaic(q, &odd, &err) == DM_OK);
    CHECK(odd.mask[0] == s[0].mask[(int)(0.5 * 64 / 15) * 64 + (int)(0.5 * 64 / 16)]);
    dm_aug_image tiny;
    CHECK(dm_aug_image_alloc(&tiny, 1, 8, &err) == DM_OK);
    CHECK(dm_aug_mosaic(q, &tiny, &err) == DM_ERR && strstr(err.msg, "too small"));
    dm_aug_image_free(&tiny);
    dm_aug_image_free(&odd);
    dm_aug_image_free(&out);
    for (int i = 0; i < 4; i++) dm_aug_image_free(&s[i]);
}

static void test_paste(void) {
    dm_aug_image dst, src;
    fx_sample(0, &dst);
    fx_sample(3, &src);
    uint8_t sel[FX_W * FX_H];
    for (int k = 0; k < FX_W * FX_H; k++) sel[k] = src.mask[k] == 2;
    long area = count(src.mask, FX_W, 0, 0, FX_W, FX_H, 2);
    /* The disc's box is x 34..54, y 35..55; put its corner at (10, 4): over the square. */
    dm_aug_image before;
    fx_sample(0, &before);
    long n = dm_aug_paste(&dst, &src, sel, 1.0, 10, 4);
    CHECKF(n == area, "pasted %ld of %ld pixels", n, area);
    int ok = 1, overwrote = 0;
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            int sx = x - 10 + 34, sy = y - 4 + 35;
            int obj = sx >= 0 && sy >= 0 && sx < FX_W && sy < FX_H && sel[sy * FX_W + sx];
            size_t k = (size_t)y * FX_W + x;
            if (obj) {
                ok &= dst.mask[k] == 2 && !memcmp(dst.rgb + 3 * k, FX_BLUE, 3);
                overwrote += before.mask[k] == 1;
            } else
                ok &= dst.mask[k] == before.mask[k] &&
                      !memcmp(dst.rgb + 3 * k, before.rgb + 3 * k, 3);
        }
    CHECK(ok);
    CHECKF(overwrote > 50, "only %d square pixels were covered", overwrote);
    /* Half size, partly outside: every pasted pixel is the disc's class and colour. */
    dm_aug_image half;
    fx_sample(1, &half);
    long m = dm_aug_paste(&half, &src, sel, 0.5, 56, 50);
    long blue = 0, cls = count(half.mask, FX_W, 56, 50, FX_W, FX_H, 2);
    for (int k = 0; k < FX_W * FX_H; k++)
        blue += half.mask[k] == 2 && !memcmp(half.rgb + 3 * k, FX_BLUE, 3);
    CHECKF(m > 0 && m < area / 4 && cls == m,
           "half paste: %ld pixels, %ld of class 2 in the corner", m, cls);
    CHECK(blue == count(half.mask, FX_W, 0, 0, FX_W, FX_H, 2));
    uint8_t none[FX_W * FX_H] = {0};
    CHECK(dm_aug_paste(&half, &src, none, 1.0, 0, 0) == 0);
    dm_aug_image_free(&half);
    dm_aug_image_free(&before);
    dm_aug_image_free(&dst);
    dm_aug_image_free(&src);
}

static void test_blur(void) {
    dm_aug_image a, b;
    dm_error err = {{0}};
    fx_sample(2, &a);
    fx_sample(2, &b);
    CHECK(dm_aug_blur(&a, 1.0, &err) == DM_OK);
    CHECK(!memcmp(a.mask, b.mask, FX_W * FX_H));
    CHECK(memcmp(a.rgb, b.rgb, FX_W * FX_H * 3) != 0);
    /* Square centre (24, 16): 8 pixels from every edge, radius 3: still pure red. */
    CHECK(!memcmp(a.rgb + 3 * (16 * FX_W + 24), FX_RED, 3));
    /* A square corner pixel mixes with the background. */
    CHECK(memcmp(a.rgb + 3 * (8 * FX_W + 16), FX_RED, 3) != 0);
    CHECK(dm_aug_blur(&b, 0, &err) == DM_OK);
    dm_aug_image c;
    fx_sample(2, &c);
    CHECK(!memcmp(b.rgb, c.rgb, FX_W * FX_H * 3));
    dm_aug_image_free(&a);
    dm_aug_image_free(&b);
    dm_aug_image_free(&c);
}

static void test_occlude(void) {
    dm_aug_image a, b;
    fx_sample(1, &a);
    fx_sample(1, &b);
    dm_aug_occlude(&a, 10, 12, 20, 7, NULL);
    int ok = 1;
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            size_t k = (size_t)y * FX_W + x;
            int in = x >= 10 && x < 30 && y >= 12 && y < 19;
            uint8_t grey[3] = {128, 128, 128};
            ok &= in ? a.mask[k] == 255 && !memcmp(a.rgb + 3 * k, grey, 3)
                     : a.mask[k] == b.mask[k] && !memcmp(a.rgb + 3 * k, b.rgb + 3 * k, 3);
        }
    CHECK(ok);
    /* Noise fill, clipped at the border: the same mask rule. */
    dm_aug_image c;
    fx_sample(1, &c);
    dm_rng r;
    dm_rng_seed(&r, 5);
    dm_aug_occlude(&c, 50, 55, 30, 30, &r);
    CHECK(count(c.mask, FX_W, 0, 0, FX_W, FX_H, 255) == 14 * 9 + (FX_H - 9));
    CHECK(count(c.mask, FX_W, 50, 55, FX_W, FX_H, 255) == 14 * 9);
    dm_aug_image_free(&a);
    dm_aug_image_free(&b);
    dm_aug_image_free(&c);
}

static void test_perspective(void) {
    dm_aug_image s, out;
    dm_error err = {{0}};
    fx_sample(1, &s);
    CHECK(dm_aug_image_alloc(&out, FX_W, FX_H, &err) == DM_OK);
    double id[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    dm_aug_warp(&s, id, &out);
    CHECK(!memcmp(out.rgb, s.rgb, FX_W * FX_H * 3) && !memcmp(out.mask, s.mask, FX_W * FX_H));
    /* The identity from four corners. */
    double corners[8] = {0, 0, 63, 0, 63, 63, 0, 63}, H[9];
    CHECK(dm_aug_homography(corners, corners, H, &err) == DM_OK);
    dm_aug_warp(&s, H, &out);
    CHECK(!memcmp(out.rgb, s.rgb, FX_W * FX_H * 3) && !memcmp(out.mask, s.mask, FX_W * FX_H));
    /* Output corners read source corners moved by (-3, -5): the picture moves right 3, down 5. */
    double moved[8];
    for (int k = 0; k < 8; k++) moved[k] = corners[k] - (k % 2 ? 5 : 3);
    CHECK(dm_aug_homography(corners, moved, H, &err) == DM_OK);
    dm_aug_warp(&s, H, &out);
    long sum[3] = {0, 0, 0};
    for (int k = 0; k < FX_W * FX_H; k++)
        for (int c = 0; c < 3; c++) sum[c] += s.rgb[3 * k + c];
    uint8_t mean[3];
    for (int c = 0; c < 3; c++) mean[c] = (uint8_t)((double)sum[c] / (FX_W * FX_H) + 0.5);
    int ok = 1;
    for (int y = 0; y < FX_H; y++)
        for (int x = 0; x < FX_W; x++) {
            size_t k = (size_t)y * FX_W + x;
            if (x >= 3 && y >= 5) {
                size_t j = (size_t)(y - 5) * FX_W + x - 3;
                ok &= out.mask[k] == s.mask[j] && !memcmp(out.rgb + 3 * k, s.rgb + 3 * j, 3);
            } else
                ok &= out.mask[k] == 255 && !memcmp(out.rgb + 3 * k, mean, 3);
        }
    CHECK(ok);
    CHECK(count(out.mask, FX_W, 0, 0, FX_W, FX_H, 1) == FX_SQ * FX_SQ);
    /* A real perspective keeps only existing ids (nearest) and ignores what came from outside. */
    double tilt[8] = {-6, 3, 60, -4, 66, 58, 2, 61};
    CHECK(dm_aug_homography(corners, tilt, H, &err) == DM_OK);
    for (int k = 0; k < 4; k++) {
        double x = corners[2 * k], y = corners[2 * k + 1], Z = H[6] * x + H[7] * y + H[8];
        CHECK(fabs((H[0] * x + H[1] * y + H[2]) / Z - tilt[2 * k]) < 1e-9);
        CHECK(fabs((H[3] * x + H[4] * y + H[5]) / Z - tilt[2 * k + 1]) < 1e-9);
    }
    dm_aug_warp(&s, H, &out);
    long other = 0;
    for (int k = 0; k < FX_W * FX_H; k++) other += out.mask[k] > 2 && out.mask[k] != 255;
    CHECK(other == 0 && out.mask[0] == 255 && count(out.mask, FX_W, 0, 0, FX_W, FX_H, 1) > 150);
    double line[8] = {0, 0, 10, 10, 20, 20, 0, 63};
    CHECK(dm_aug_homography(corners, line, H, &err) == DM_ERR && strstr(err.msg, "degenerate"));
    dm_aug_image_free(&out);
    dm_aug_image_free(&s);
}

static char *slurp(const char *dir, const char *rel) {
    char path[4096], *data = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    dm_error err;
    if (dm_read_file(path, &data, NULL, &err) != DM_OK) return NULL;
    return data;
}

/* How many of the samples' files of kind t (0: JPEGImages, 1: SegmentationClass) are the same
 * bytes in both datasets; -1 when one is missing. */
static int same_samples(const char *a, const char *b, int n_src, int copies, int t) {
    int same = 0;
    for (int i = 0; i < n_src; i++)
        for (int k = 0; k < copies; k++) {
            char rel[128], pa[4096], pb[4096];
            snprintf(rel, sizeof rel,
                     t ? "SegmentationClass/%06d_aug%d.png" : "JPEGImages/%06d_aug%d.png", i, k);
            snprintf(pa, sizeof pa, "%s/%s", a, rel);
            snprintf(pb, sizeof pb, "%s/%s", b, rel);
            char *x, *y;
            size_t lx = 0, ly = 0;
            dm_error err;
            if (dm_read_file(pa, &x, &lx, &err) != DM_OK) return -1;
            if (dm_read_file(pb, &y, &ly, &err) != DM_OK) {
                free(x);
                return -1;
            }
            same += lx == ly && !memcmp(x, y, lx);
            free(x);
            free(y);
        }
    return same;
}

/* Same bytes in both datasets: the text files and every sample's image and mask. */
static int same_dataset(const char *a, const char *b, int n_src, int copies) {
    static const char *const files[] = {"config.json", "labels.txt", "manifest.jsonl",
                                        "ImageSets/Segmentation/train.txt", "annotations.json"};
    int same = 1;
    for (int f = 0; f < 5; f++) {
        char *x = slurp(a, files[f]), *y = slurp(b, files[f]);
        same &= x && y && !strcmp(x, y);
        free(x);
        free(y);
    }
    for (int t = 0; t < 2; t++) same &= same_samples(a, b, n_src, copies, t) == n_src * copies;
    return same;
}

static void test_dataset(const char *tmp) {
    char src[512], a[512], b[512], c[512], d[512];
    snprintf(src, sizeof src, "%s/src", tmp);
    snprintf(a, sizeof a, "%s/a", tmp);
    snprintf(b, sizeof b, "%s/b", tmp);
    snprintf(c, sizeof c, "%s/c", tmp);
    snprintf(d, sizeof d, "%s/d", tmp);
    fx_write_dataset(src, 4);
    dm_error err = {{0}};
    dm_augment_opts o = {7, 5, DM_AUG_ALL};
    dm_augment_stats st;
    CHECKF(dm_augment_dataset(src, a, &o, &st, &err) == DM_OK, "%s", err.msg);
    CHECK(st.sources == 4 && st.written == 20 && st.skipped == 0);
    CHECKF(dm_augment_dataset(src, b, &o, &st, &err) == DM_OK, "%s", err.msg);
    CHECK(same_dataset(a, b, 4, 5));

    /* The manifest: names, sources, ops cycling (copy k applies the k-th of the five). */
    dm_manifest m;
    CHECK(dm_manifest_load(a, &m, &err) == DM_OK && m.n == 20);
    static const char *const first_op[] = {"mosaic", "paste", "perspective", "occlude", "blur"};
    int blur_only = 0;
    for (int e = 0; e < m.n; e++) {
        int i = e / 5, k = e % 5;
        char want[64];
        snprintf(want, sizeof want, "%06d_aug%d", i, k);
        CHECKF(!strcmp(m.v[e].name, want), "line %d is %s, want %s", e, m.v[e].name, want);
        const cJSON *source = cJSON_GetObjectItemCaseSensitive(m.v[e].json, "source");
        const cJSON *ops = cJSON_GetObjectItemCaseSensitive(m.v[e].json, "ops");
        snprintf(want, sizeof want, "%06d", i);
        CHECK(cJSON_IsString(source) && !strcmp(source->valuestring, want));
        int has = 0;
        for (const cJSON *op = ops ? ops->child : NULL; op; op = op->next)
            has |= !strcmp(op->valuestring, first_op[k]);
        CHECKF(has, "%s lacks its operation %s", m.v[e].name, first_op[k]);
        /* Mask values stay class ids; a blur-only copy keeps its source mask byte for byte. */
        char path[4096];
        snprintf(path, sizeof path, "%s/SegmentationClass/%s.png", a, m.v[e].name);
        uint8_t *mask;
        int w, h;
        CHECK(dm_png_read(path, 1, &mask, &w, &h, &err) == DM_OK && w == FX_W && h == FX_H);
        int bad = 0;
        for (int p = 0; p < w * h; p++) bad += mask[p] > 2 && mask[p] != 255;
        CHECK(bad == 0);
        if (cJSON_GetArraySize(ops) == 1 && !strcmp(first_op[k], "blur")) {
            dm_aug_image s;
            fx_sample(i, &s);
            CHECK(!memcmp(mask, s.mask, FX_W * FX_H));
            dm_aug_image_free(&s);
            blur_only++;
        }
        if (!strcmp(first_op[k], "occlude")) {
            const cJSON *oc = cJSON_GetObjectItemCaseSensitive(m.v[e].json, "occlude");
            int x = cJSON_GetObjectItem(oc, "x")->valueint,
                y = cJSON_GetObjectItem(oc, "y")->valueint;
            int ow = cJSON_GetObjectItem(oc, "w")->valueint,
                oh = cJSON_GetObjectItem(oc, "h")->valueint;
            if (cJSON_GetArraySize(ops) == 1)
                CHECK(count(mask, w, x, y, x + ow, y + oh, 255) == (long)ow * oh);
        }
        free(mask);
    }
    CHECK(blur_only >= 1);
    dm_manifest_free(&m);
    char *cfg = slurp(a, "config.json");
    CHECK(cfg && strstr(cfg, "\"augment\"") && strstr(cfg, "\"source_config\"") &&
          strstr(cfg, "aug_fixture"));
    free(cfg);
    char *labels = slurp(a, "labels.txt");
    CHECK(labels && !strcmp(labels, "background\nsquare\ndisc\n"));
    free(labels);

    /* Resume: keep 9 manifest lines, rerun: 11 written, 9 skipped, the same bytes. */
    CHECKF(dm_augment_dataset(src, c, &o, &st, &err) == DM_OK, "%s", err.msg);
    char *man = slurp(c, "manifest.jsonl"), *p = man;
    for (int l = 0; l < 9; l++) p = strchr(p, '\n') + 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.jsonl", c);
    CHECK(dm_write_file_atomic(path, man, (size_t)(p - man), &err) == DM_OK);
    free(man);
    CHECKF(dm_augment_dataset(src, c, &o, &st, &err) == DM_OK, "%s", err.msg);
    CHECK(st.written == 11 && st.skipped == 9);
    CHECK(same_dataset(a, c, 4, 5));
    /* Other settings into the same folder: refused. */
    dm_augment_opts o2 = {8, 5, DM_AUG_ALL};
    CHECK(dm_augment_dataset(src, c, &o2, &st, &err) == DM_ERR && strstr(err.msg, "augment.seed"));
    /* Another seed: other pixels (config.json records the seed, so only the images tell) */
    CHECKF(dm_augment_dataset(src, d, &o2, &st, &err) == DM_OK, "%s", err.msg);
    int same_img = same_samples(a, d, 4, 5, 0), same_mask = same_samples(a, d, 4, 5, 1);
    printf("seed 8 vs 7: %d of 20 images and %d of 20 masks the same bytes\n", same_img, same_mask);
    CHECKF(same_img == 0 && same_mask == 0, "seed 8 vs seed 7: %d images, %d masks the same",
           same_img, same_mask);

    unsigned ops;
    CHECK(dm_aug_parse_ops("blur,mosaic", &ops, &err) == DM_OK &&
          ops == (DM_AUG_BLUR | DM_AUG_MOSAIC));
    CHECK(dm_aug_parse_ops("blur,twirl", &ops, &err) == DM_EUSAGE && strstr(err.msg, "'twirl'"));
    CHECK(dm_aug_parse_ops("", &ops, &err) == DM_EUSAGE);
    CHECK(dm_augment_dataset(src, src, &o, &st, &err) == DM_EUSAGE);
    CHECK(dm_augment_dataset(tmp, d, &o, &st, &err) == DM_ERR && strstr(err.msg, "no config.json"));
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--fixture")) {
        char ds[4096], pred[4096];
        snprintf(ds, sizeof ds, "%s/ds", argv[2]);
        snprintf(pred, sizeof pred, "%s/pred", argv[2]);
        fx_write_dataset(ds, 4);
        fx_write_preds(pred, 4, 2);
        return check_failed ? 1 : 0;
    }
    test_mosaic();
    test_paste();
    test_blur();
    test_occlude();
    test_perspective();
    const char *tmp = check_tmpdir();
    test_dataset(tmp);
    return check_finish();
}
