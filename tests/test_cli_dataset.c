/* End to end: `diffumask eval`, `merge` and `viz` on small datasets written through the library.
 * Skipped (77) while the binary does not know the commands yet. */
#include <stdlib.h>
#include <sys/wait.h>
#include <string.h>

#include "check.h"
#include "dataset/format/dataset.h"
#include "io/file.h"
#include "io/image.h"

enum { W = 40, H = 32 };
static const char *const CLASSES[] = {"circle", "square"};

/* Runs a shell command, returns its exit status; stdout+stderr into out. */
static int run(char *out, size_t cap, const char *fmt, const char *a, const char *b,
               const char *c) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, fmt, getenv("DM_CLI"), a, b, c);
    strcat(cmd, " 2>&1");
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Sample i of a dataset; `shift` moves the objects (a worse "prediction"). */
static void make(const char *dir, const char *config, int from, int step, int shift) {
    dm_dataset *ds;
    dm_error err = {{0}};
    CHECKF(dm_dataset_open(dir, config, CLASSES, 2, "png", &ds, &err) == DM_OK, "%s", err.msg);
    if (!ds) return;
    static uint8_t rgb[W * H * 3], mask[W * H];
    static float heat[W * H];
    for (int i = from; i < 4; i += step) {
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int k = y * W + x, dx = x - 12 - 4 * i - shift, dy = y - 14;
                int circle = dx * dx + dy * dy < 64,
                    square = x >= 26 && x < 36 && y >= 4 + shift && y < 14 + shift;
                mask[k] = circle ? 1 : square ? 2 : 0;
                if (x == 0) mask[k] = 255;
                rgb[3 * k] = (uint8_t)(circle ? 220 : 40 + 3 * x),
                        rgb[3 * k + 1] = (uint8_t)(square ? 200 : 60 + 4 * y),
                        rgb[3 * k + 2] = (uint8_t)(90 + 30 * i);
                heat[k] = circle ? 1.0f - (float)(dx * dx + dy * dy) / 64 : 0.05f;
            }
        char name[32];
        snprintf(name, sizeof name, "%06d_%s", i, CLASSES[i % 2]);
        dm_sample s = {name, rgb, mask, i == 1 ? NULL : heat, W, H, NULL, "{\"seed\":1}"};
        CHECKF(dm_dataset_add(ds, &s, &err) == DM_OK, "%s", err.msg);
    }
    CHECKF(dm_dataset_finish(ds, &err) == DM_OK, "%s", err.msg);
    dm_dataset_close(ds);
}

int main(void) {
    if (!getenv("DM_CLI")) check_skip("DM_CLI not set");
    static char out[1 << 16];
    /* eval / merge / viz are part of every build: a failing --help is a failure, not a skip */
    for (int k = 0; k < 3; k++) {
        const char *cmd = k == 0 ? "eval" : k == 1 ? "merge" : "viz";
        CHECKF(run(out, sizeof out, "%s %s --help%s%s", cmd, "", "") == 0, "%s --help: %s", cmd,
               out);
    }
    const char *tmp = check_tmpdir();
    char gt[512], pred[512], s0[512], s1[512], merged[600], sheet[600];
    snprintf(gt, sizeof gt, "%s/gt", tmp);
    snprintf(pred, sizeof pred, "%s/pred", tmp);
    make(gt, "{\"run\":1}", 0, 1, 0);
    make(pred, "{\"run\":1}", 0, 1, 2);

    /* A dataset against itself: mIoU 1, names from labels.txt. */
    CHECKF(run(out, sizeof out, "%s eval --pred %s --gt %s --json%s", gt, gt, "") == 0, "%s", out);
    CHECKF(!strcmp(out, "{\"miou\":1,\"per_class\":{\"background\":1,\"circle\":1,\"square\":1},"
                        "\"pixel_accuracy\":1,"
                        "\"macc\":1,\"per_class_acc\":{\"background\":1,\"circle\":1,\"square\":1},"
                        "\"images\":4,"
                        "\"pixels\":4992}\n" /* 4 x (40 x 32 - 32 ignore) */),
           "%s", out);
    /* Shifted objects: lower, and the folder form gives the same table as the dataset root. */
    static char a[1 << 16];
    CHECK(run(a, sizeof a, "%s eval --pred %s --gt %s%s", pred, gt, "") == 0);
    CHECKF(strstr(a, "circle") && strstr(a, "mIoU") && !strstr(a, "mIoU 100.00"), "%s", a);
    char pm[600], gm[600];
    snprintf(pm, sizeof pm, "%s/SegmentationClass", pred);
    snprintf(gm, sizeof gm, "%s/SegmentationClass", gt);
    CHECK(run(out, sizeof out, "%s eval --pred %s --gt %s%s", pm, gm, "") == 0 && !strcmp(out, a));
    CHECK(run(out, sizeof out, "%s eval --pred %s --gt %s --num-classes 4", pm, gm, "") == 0 &&
          strstr(out, "class 3"));
    CHECK(run(out, sizeof out, "%s eval --pred %s --gt %s --ignore 300", pm, gm, "") == 2);
    CHECK(run(out, sizeof out, "%s eval --pred %s%s%s", pm, "", "") == 2);
    CHECKF(run(out, sizeof out, "%s eval --pred %s --gt %s%s", tmp, gm, "") == 1 &&
               strstr(out, "missing prediction"),
           "%s", out);

    /* merge: two shards == the one-shot dataset. */
    snprintf(s0, sizeof s0, "%s/s0", tmp);
    snprintf(s1, sizeof s1, "%s/s1", tmp);
    snprintf(merged, sizeof merged, "%s/merged", tmp);
    make(s0, "{\"run\":1,\"shard\":\"0/2\"}", 0, 2, 0);
    make(s1, "{\"run\":1,\"shard\":\"1/2\"}", 1, 2, 0);
    CHECKF(run(out, sizeof out, "%s merge %s %s %s", merged, s0, s1) == 0, "%s", out);
    const char *files[] = {"annotations.json",
                           "config.json",
                           "labels.txt",
                           "ImageSets/Segmentation/train.txt",
                           "JPEGImages/000003_square.png",
                           "Heatmaps/000002_circle.png"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char pa[1024], pb[1024], *x = NULL, *y = NULL;
        size_t lx = 0, ly = 1;
        dm_error err;
        snprintf(pa, sizeof pa, "%s/%s", gt, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", merged, files[i]);
        dm_read_file(pa, &x, &lx, &err);
        dm_read_file(pb, &y, &ly, &err);
        CHECKF(x && y && lx == ly && !memcmp(x, y, lx), "%s differs after merge", files[i]);
        free(x), free(y);
    }
    CHECK(run(out, sizeof out, "%s merge %s %s %s", merged, s0, s1) == 1 &&
          strstr(out, "already holds"));
    CHECK(run(out, sizeof out, "%s merge %s%s%s", merged, "", "") == 2);

    /* viz: a 2-line legend (10-pixel lines from y = 4, then a 4-pixel gap), then per sample a
     * 4-pixel gap, a 1-line header (these samples have no prompt), the row of three 192-pixel
     * tiles with 4-pixel gaps (three: the samples have heat maps) and a 4-pixel gap. */
    snprintf(sheet, sizeof sheet, "%s/sheet.png", tmp);
    CHECKF(run(out, sizeof out, "%s viz %s --out %s --n 16%s", gt, sheet, "") == 0, "%s", out);
    uint8_t *pix;
    int w, h;
    dm_error err;
    CHECK(dm_png_read(sheet, 3, &pix, &w, &h, &err) == DM_OK && w == 3 * 192 + 16 &&
          h == 28 + 4 * (4 + 10 + 192 + 4));
    /* the legend's swatches: circle (id 1) and square (id 2) in their VOC colours */
    int swatch[3] = {0, 0, 0};
    for (int y = 4; pix && y < 24; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *q = pix + ((size_t)y * w + x) * 3;
            swatch[1] += q[0] == 128 && q[1] == 0 && q[2] == 0;
            swatch[2] += q[0] == 0 && q[1] == 128 && q[2] == 0;
        }
    CHECKF(swatch[1] == 25 && swatch[2] == 25, "legend swatches: %d %d pixels, want 5x5 each",
           swatch[1], swatch[2]);
    free(pix);
    CHECK(run(out, sizeof out, "%s viz %s --out %s --n 2 --tile 128", gt, sheet, "") == 0);
    /* 400 pixels hold 66 characters: the legend's column line wraps (3 lines) */
    CHECK(dm_png_read(sheet, 3, &pix, &w, &h, &err) == DM_OK && w == 3 * 128 + 16 &&
          h == 38 + 2 * (4 + 10 + 128 + 4));
    free(pix);
    CHECK(run(out, sizeof out, "%s viz %s --out %s%s", tmp, sheet, "") == 1 &&
          strstr(out, "no finished samples"));
    CHECK(run(out, sizeof out, "%s viz %s%s%s", gt, "", "") == 2);
    if (getenv("DM_KEEP_SHEET")) { /* for looking at it: DM_KEEP_SHEET=/tmp/x.png */
        run(out, sizeof out, "%s viz %s --out %s --n 4%s", gt, getenv("DM_KEEP_SHEET"), "");
        run(out, sizeof out, "%s viz %s --out %s.pred.png --n 4%s", pred, getenv("DM_KEEP_SHEET"),
            "");
    }
    return check_finish();
}
