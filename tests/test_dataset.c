/* The dataset writer: COCO RLE and components by hand, resume after a simulated kill, refusing
 * other settings, shards merged == one run (byte for byte), errors on unwritable folders. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dataset/format/dataset.h"
#include "dataset/format/shard.h"
#include "io/file.h"
#include "io/image.h"

enum { W = 24, H = 16, NS = 5 };
static const char *const CLASSES[] = {"circle", "square"};
static const char *CONFIG = "{\"steps\": 20, \"seed\": 1}";

/* Sample i: a gradient image; class 1 blob(s), class 2 square, an ignore band; heat map on even i.
 */
typedef struct {
    char name[32];
    uint8_t rgb[W * H * 3], mask[W * H];
    float heat[W * H];
} sample_buf;

static void make_sample(int i, sample_buf *b, dm_sample *s) {
    snprintf(b->name, sizeof b->name, "%06d_%s", i, CLASSES[i % 2]);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int k = y * W + x;
            b->rgb[3 * k] = (uint8_t)(x * 10 + i), b->rgb[3 * k + 1] = (uint8_t)(y * 15),
                       b->rgb[3 * k + 2] = (uint8_t)(40 * i);
            uint8_t m = 0;
            if (x >= 2 + i && x < 8 + i && y >= 3 && y < 9) m = 1;
            if (i % 2 == 1 && x >= 18 && y >= 12) m = 1; /* a second, separate class-1 blob */
            if (x >= 14 && x < 18 && y >= 2 && y < 6) m = 2;
            if (x == 13 && y < 8) m = 255;
            b->mask[k] = m;
            b->heat[k] = m == 1 ? 0.9f : (float)x / W;
        }
    *s = (dm_sample){b->name, b->rgb, b->mask, i % 2 == 0 ? b->heat : NULL, W, H, NULL, NULL};
    s->fields_json =
        i == 0 ? "{\"prompt\":\"a photo of a circle\",\"seed\":7}" : "{\"prompt\":\"x\"}";
}

static dm_status add_range(const char *dir, const char *config, int from, int to, int shard_k,
                           int shard_n) {
    dm_dataset *ds;
    dm_error err = {{0}};
    dm_status st = dm_dataset_open(dir, config, CLASSES, 2, "jpg", &ds, &err);
    CHECKF(st == DM_OK, "%s", err.msg);
    if (st != DM_OK) return st;
    sample_buf *b = malloc(sizeof *b);
    for (int i = from; i < to && st == DM_OK; i++) {
        dm_sample s;
        make_sample(i, b, &s);
        if (!dm_shard_owns(shard_k, shard_n, i) || dm_dataset_has(ds, s.name)) continue;
        st = dm_dataset_add(ds, &s, &err);
        CHECKF(st == DM_OK, "%s", err.msg);
    }
    free(b);
    if (st == DM_OK && to == NS) {
        st = dm_dataset_finish(ds, &err);
        CHECKF(st == DM_OK, "%s", err.msg);
    }
    dm_dataset_close(ds);
    return st;
}

/* ---- comparing folders */

static int list_files(const char *root, const char *rel, char names[][256], int n) {
    char path[1024];
    if (strlen(rel) > 128) return n;
    snprintf(path, sizeof path, "%s/%s", root, rel);
    DIR *d = opendir(path);
    if (!d) return n;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[256], full[1024];
        if ((size_t)snprintf(sub, sizeof sub, "%s%s%.100s", rel, *rel ? "/" : "", e->d_name) >=
            sizeof sub)
            continue;
        snprintf(full, sizeof full, "%s/%s", root, sub);
        if (dm_dir_exists(full))
            n = list_files(root, sub, names, n);
        else if (n < 256)
            snprintf(names[n++], 256, "%s", sub);
    }
    closedir(d);
    return n;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lines sorted, so completion order does not matter. */
static char *sorted_lines(char *text) {
    char *lines[256];
    int n = 0;
    for (char *p = strtok(text, "\n"); p && n < 256; p = strtok(NULL, "\n")) lines[n++] = p;
    qsort(lines, (size_t)n, sizeof *lines, cmp_str);
    char *out = calloc(1, strlen(text) + 1 + 1024 * 64);
    for (int i = 0; i < n; i++) strcat(strcat(out, lines[i]), "\n");
    return out;
}

static bool same_tree(const char *a, const char *b) {
    static char na[256][256], nb[256][256];
    int ka = list_files(a, "", na, 0), kb = list_files(b, "", nb, 0);
    qsort(na, (size_t)ka, 256, (int (*)(const void *, const void *))strcmp);
    qsort(nb, (size_t)kb, 256, (int (*)(const void *, const void *))strcmp);
    CHECKF(ka == kb, "%s has %d files, %s has %d", a, ka, b, kb);
    if (ka != kb) return false;
    bool ok = true;
    for (int i = 0; i < ka; i++) {
        CHECKF(!strcmp(na[i], nb[i]), "file %s vs %s", na[i], nb[i]);
        char pa[2048], pb[2048], *x, *y;
        size_t lx, ly;
        dm_error err;
        snprintf(pa, sizeof pa, "%.1000s/%.255s", a, na[i]);
        snprintf(pb, sizeof pb, "%.1000s/%.255s", b, nb[i]);
        if (dm_read_file(pa, &x, &lx, &err) || dm_read_file(pb, &y, &ly, &err)) return false;
        if (strstr(na[i], "manifest.jsonl")) {
            char *sx = sorted_lines(x), *sy = sorted_lines(y);
            free(x), free(y);
            x = sx, y = sy, lx = strlen(x), ly = strlen(y);
        }
        bool same = lx == ly && !memcmp(x, y, lx);
        CHECKF(same, "%s differs between %s and %s", na[i], a, b);
        ok = ok && same;
        free(x), free(y);
    }
    return ok;
}

static char *slurp(const char *dir, const char *rel) {
    char path[1024], *t = NULL;
    dm_error err;
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    if (dm_read_file(path, &t, NULL, &err) != DM_OK) return strdup("");
    return t;
}

/* ---- tests */

static void test_rle(void) {
    /* 4 wide, 3 high:      column-major walk (x outer, y inner):
     *   0 1 1 0            col0: 0 0 0   col1: 1 1 0   col2: 1 0 0   col3: 0 0 2
     *   0 1 0 0            class 1: 000 11 0 1 00000 -> runs [3, 2, 1, 1, 5]
     *   0 0 0 2            class 2: 11 zeros then 1   -> runs [11, 1] */
    const uint8_t m[12] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 2};
    int32_t label[12];
    uint32_t counts[13];
    int nc;
    dm_error err;
    CHECK(dm_components(m, 4, 3, 255, label, &nc, &err) == DM_OK && nc == 2);
    CHECK(label[1] == 1 && label[2] == 1 && label[5] == 1 && label[11] == 2 && label[0] == 0);
    int n = dm_rle_encode(label, 4, 3, 1, counts);
    CHECK(n == 5 && counts[0] == 3 && counts[1] == 2 && counts[2] == 1 && counts[3] == 1 &&
          counts[4] == 5);
    n = dm_rle_encode(label, 4, 3, 2, counts);
    CHECK(n == 2 && counts[0] == 11 && counts[1] == 1);
    /* Foreground at (0,0): the first (background) run is 0. */
    const uint8_t f[4] = {1, 0, 0, 0};
    CHECK(dm_components(f, 2, 2, 255, label, &nc, &err) == DM_OK && nc == 1);
    n = dm_rle_encode(label, 2, 2, 1, counts);
    CHECK(n == 3 && counts[0] == 0 && counts[1] == 1 && counts[2] == 3);
    /* 8-connectivity: diagonal neighbours join; a gap splits; 255 and other classes separate. */
    const uint8_t d[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    CHECK(dm_components(d, 3, 3, 255, label, &nc, &err) == DM_OK && nc == 1);
    const uint8_t g[9] = {1, 0, 1, 1, 0, 1, 255, 255, 2};
    CHECK(dm_components(g, 3, 3, 255, label, &nc, &err) == DM_OK && nc == 3 && label[6] == 0);
}

/* Decodes every annotation and checks the union per class equals the mask file's pixels. */
static void check_coco(const char *dir) {
    char *text = slurp(dir, "annotations.json");
    cJSON *j = cJSON_Parse(text);
    free(text);
    CHECK(j != NULL);
    const cJSON *imgs = cJSON_GetObjectItem(j, "images"),
                *anns = cJSON_GetObjectItem(j, "annotations");
    const cJSON *cats = cJSON_GetObjectItem(j, "categories");
    CHECK(cJSON_GetArraySize(cats) == 2 &&
          !strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(cats, 1), "name")->valuestring, "square"));
    CHECK(cJSON_GetArraySize(imgs) == NS);
    int expect_id = 1, per_image[NS] = {0};
    for (int i = 0; i < NS; i++) {
        const cJSON *im = cJSON_GetArrayItem(imgs, i);
        char fname[64], rel[1024];
        snprintf(fname, sizeof fname, "%06d_%s.jpg", i, CLASSES[i % 2]);
        CHECK(cJSON_GetObjectItem(im, "id")->valueint == i + 1);
        CHECK(!strcmp(cJSON_GetObjectItem(im, "file_name")->valuestring, fname));
        CHECK(cJSON_GetObjectItem(im, "width")->valueint == W &&
              cJSON_GetObjectItem(im, "height")->valueint == H);
        snprintf(rel, sizeof rel, "%s/SegmentationClass/%06d_%s.png", dir, i, CLASSES[i % 2]);
        uint8_t *mask, decoded[W * H];
        int w, h;
        dm_error err;
        CHECK(dm_png_read(rel, 1, &mask, &w, &h, &err) == DM_OK);
        memset(decoded, 0, sizeof decoded);
        for (const cJSON *a = anns->child; a; a = a->next) {
            if (cJSON_GetObjectItem(a, "image_id")->valueint != i + 1) continue;
            per_image[i]++;
            CHECK(cJSON_GetObjectItem(a, "id")->valueint == expect_id++);
            CHECK(cJSON_GetObjectItem(a, "iscrowd")->valueint == 0);
            int cls = cJSON_GetObjectItem(a, "category_id")->valueint;
            const cJSON *seg = cJSON_GetObjectItem(a, "segmentation");
            const cJSON *size = cJSON_GetObjectItem(seg, "size");
            CHECK(cJSON_GetArrayItem(size, 0)->valueint == H &&
                  cJSON_GetArrayItem(size, 1)->valueint == W);
            long pos = 0, area = 0;
            int v = 0, x0 = W, y0 = H, x1 = -1, y1 = -1;
            for (const cJSON *c = cJSON_GetObjectItem(seg, "counts")->child; c; c = c->next, v ^= 1)
                for (int r = 0; r < c->valueint; r++, pos++) {
                    if (!v || pos >= W * H) continue;
                    int x = (int)(pos / H), y = (int)(pos % H); /* column-major */
                    decoded[y * W + x] = (uint8_t)cls;
                    area++;
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0,
                    y1 = y > y1 ? y : y1;
                }
            CHECK(pos == W * H);
            CHECK(cJSON_GetObjectItem(a, "area")->valueint == area);
            const cJSON *bb = cJSON_GetObjectItem(a, "bbox");
            CHECK(cJSON_GetArrayItem(bb, 0)->valueint == x0 &&
                  cJSON_GetArrayItem(bb, 1)->valueint == y0 &&
                  cJSON_GetArrayItem(bb, 2)->valueint == x1 - x0 + 1 &&
                  cJSON_GetArrayItem(bb, 3)->valueint == y1 - y0 + 1);
        }
        for (int k = 0; k < W * H; k++)
            mask[k] = mask[k] == 255 ? 0 : mask[k]; /* ignore: no annotation */
        CHECKF(!memcmp(decoded, mask, sizeof decoded), "RLE union != mask for image %d", i);
        free(mask);
    }
    /* Odd samples have two class-1 blobs: 3 annotations; even ones 2. */
    for (int i = 0; i < NS; i++)
        CHECKF(per_image[i] == (i % 2 ? 3 : 2), "image %d has %d annotations", i, per_image[i]);
    cJSON_Delete(j);
}

int main(void) {
    test_rle();
    const char *tmp = check_tmpdir();
    char a[512], b[512], c[512], s0[512], s1[512], m[512], path[1024];
    dm_error err = {{0}};
    snprintf(a, sizeof a, "%s/clean", tmp);
    snprintf(b, sizeof b, "%s/resumed", tmp);

    /* A clean run. */
    CHECK(add_range(a, CONFIG, 0, NS, 0, 1) == DM_OK);
    char *t = slurp(a, "ImageSets/Segmentation/train.txt");
    CHECK(
        !strcmp(t, "000000_circle\n000001_square\n000002_circle\n000003_square\n000004_circle\n"));
    free(t);
    t = slurp(a, "labels.txt");
    CHECK(!strcmp(t, "background\ncircle\nsquare\n"));
    free(t);
    t = slurp(a, "manifest.jsonl");
    const char *line0 =
        "{\"name\":\"000000_circle\",\"image\":\"JPEGImages/000000_circle.jpg\",\"mask\":"
        "\"SegmentationClass/000000_circle.png\",\"heatmap\":\"Heatmaps/000000_circle.png\","
        "\"width\":24,\"height\":16,\"prompt\":\"a photo of a "
        "circle\",\"seed\":7}\n{\"name\":\"000001_square\"";
    CHECKF(!strncmp(t, line0, strlen(line0)), "%s", t);
    free(t);
    t = slurp(a, "config.json");
    CHECK(!strcmp(t, "{\n\t\"steps\":\t20,\n\t\"seed\":\t1\n}\n"));
    free(t);
    snprintf(path, sizeof path, "%s/Heatmaps/000001_square.png", a);
    CHECK(!dm_file_exists(path));
    check_coco(a);

    /* Resume: 2 samples, then a kill mid-line and mid-file. */
    CHECK(add_range(b, CONFIG, 0, 2, 0, 1) == DM_OK);
    snprintf(path, sizeof path, "%s/manifest.jsonl", b);
    FILE *fp = fopen(path, "ab");
    fputs("{\"name\":\"000002_circle\",\"ima", fp);
    fclose(fp);
    snprintf(path, sizeof path, "%s/JPEGImages/000002_circle.jpg.tmp-99999", b);
    CHECK(dm_write_file_atomic(path, "junk", 4, &err) == DM_OK);
    dm_dataset *ds;
    /* The same values in another key order or layout are the same settings. */
    CHECKF(dm_dataset_open(b, "{\"seed\":1,\"steps\":20}", CLASSES, 2, "jpg", &ds, &err) == DM_OK,
           "%s", err.msg);
    dm_dataset_close(ds);
    CHECKF(dm_dataset_open(b, "{ \"steps\":20,  \"seed\":1 }", CLASSES, 2, "jpg", &ds, &err) ==
               DM_OK,
           "%s", err.msg);
    CHECK(dm_dataset_count(ds) == 2 && dm_dataset_has(ds, "000000_circle") &&
          dm_dataset_has(ds, "000001_square"));
    CHECK(!dm_dataset_has(ds, "000002_circle"));
    CHECK(!dm_file_exists(path));
    t = slurp(b, "manifest.jsonl");
    CHECK(strlen(t) > 0 && t[strlen(t) - 1] == '\n' && !strstr(t, "000002"));
    free(t);
    /* A second writer on the same folder is kept out. */
    dm_dataset *ds2;
    CHECKF(dm_dataset_open(b, CONFIG, CLASSES, 2, "jpg", &ds2, &err) == DM_ERR &&
               strstr(err.msg, "another"),
           "%s", err.msg);
    /* Reserved manifest keys and bad names are refused. */
    sample_buf *sb = malloc(sizeof *sb);
    dm_sample s;
    make_sample(3, sb, &s);
    s.fields_json = "{\"mask\":1}";
    CHECK(dm_dataset_add(ds, &s, &err) == DM_EUSAGE && strstr(err.msg, "mask"));
    s.fields_json = NULL;
    s.name = "../evil";
    CHECK(dm_dataset_add(ds, &s, &err) == DM_EUSAGE);
    s.name = "000000_circle";
    CHECK(dm_dataset_add(ds, &s, &err) == DM_EUSAGE && strstr(err.msg, "already"));
    dm_dataset_close(ds);
    CHECK(add_range(b, CONFIG, 0, NS, 0, 1) == DM_OK);
    same_tree(a, b);

    /* A line whose files are gone counts as unfinished. */
    snprintf(c, sizeof c, "%s/lost", tmp);
    CHECK(add_range(c, CONFIG, 0, 3, 0, 1) == DM_OK);
    snprintf(path, sizeof path, "%s/SegmentationClass/000001_square.png", c);
    unlink(path);
    CHECK(dm_dataset_open(c, CONFIG, CLASSES, 2, "jpg", &ds, &err) == DM_OK);
    CHECK(dm_dataset_count(ds) == 2 && !dm_dataset_has(ds, "000001_square") &&
          dm_dataset_has(ds, "000002_circle"));
    dm_dataset_close(ds);
    CHECK(add_range(c, CONFIG, 0, NS, 0, 1) == DM_OK);
    same_tree(a, c);

    /* Other settings or classes: refused, naming the key; nothing changed. */
    CHECKF(dm_dataset_open(a, "{\"steps\":30,\"seed\":1}", CLASSES, 2, "jpg", &ds, &err) ==
                   DM_ERR &&
               strstr(err.msg, "key steps differs") && strstr(err.msg, "config.json"),
           "%s", err.msg);
    CHECKF(dm_dataset_open(a, "{\"steps\":20,\"seed\":1,\"sampler\":{\"eta\":0}}", CLASSES, 2,
                           "jpg", &ds, &err) == DM_ERR &&
               strstr(err.msg, "key sampler differs"),
           "%s", err.msg);
    const char *other[] = {"circle", "triangle"};
    CHECKF(dm_dataset_open(a, CONFIG, other, 2, "jpg", &ds, &err) == DM_ERR &&
               strstr(err.msg, "labels.txt"),
           "%s", err.msg);
    CHECK(dm_dataset_open(a, "not json", CLASSES, 2, "jpg", &ds, &err) == DM_ERR);
    CHECK(dm_dataset_open(a, CONFIG, CLASSES, 2, "bmp", &ds, &err) == DM_EUSAGE);

    /* Shards 0/2 and 1/2, merged, equal the clean run. */
    snprintf(s0, sizeof s0, "%s/shard0", tmp);
    snprintf(s1, sizeof s1, "%s/shard1", tmp);
    snprintf(m, sizeof m, "%s/merged", tmp);
    CHECK(add_range(s0, "{\"steps\":20,\"seed\":1,\"shard\":\"0/2\"}", 0, NS, 0, 2) == DM_OK);
    CHECK(add_range(s1, "{\"steps\":20,\"seed\":1,\"shard\":\"1/2\"}", 0, NS, 1, 2) == DM_OK);
    const char *shards[] = {s1, s0};
    CHECKF(dm_dataset_merge(m, shards, 2, &err) == DM_OK, "%s", err.msg);
    same_tree(a, m);
    snprintf(path, sizeof path, "%s/dup", tmp);
    const char *dup[] = {s0, s1, s0};
    CHECKF(dm_dataset_merge(path, dup, 3, &err) == DM_ERR && strstr(err.msg, "in both"), "%s",
           err.msg);
    const char *mixed[] = {s0, a};
    CHECKF(dm_dataset_merge(path, mixed, 2, &err) == DM_ERR,
           "merging a non-shard of other samples");
    CHECKF(dm_dataset_merge(m, shards, 2, &err) == DM_ERR && strstr(err.msg, "already holds"), "%s",
           err.msg);
    snprintf(path, sizeof path, "%s/other", tmp);
    CHECK(add_range(path, "{\"steps\":25,\"seed\":1,\"shard\":\"1/2\"}", 0, 1, 1, 2) == DM_OK);
    const char *bad[] = {s0, path};
    snprintf(c, sizeof c, "%s/m2", tmp);
    CHECKF(dm_dataset_merge(c, bad, 2, &err) == DM_ERR && strstr(err.msg, "key steps"), "%s",
           err.msg);
    const char *missing[] = {s0, "/nonexistent/shard"};
    CHECKF(dm_dataset_merge(c, missing, 2, &err) == DM_ERR && strstr(err.msg, "/nonexistent/shard"),
           "%s", err.msg);

    /* Unwritable places: a clear error, no crash. */
    snprintf(path, sizeof path, "%s/config.json/sub", a);
    CHECKF(dm_dataset_open(path, CONFIG, CLASSES, 2, "jpg", &ds, &err) == DM_ERR &&
               strstr(err.msg, "config.json"),
           "%s", err.msg);
    snprintf(path, sizeof path, "%s/ro", tmp);
    mkdir(path, 0555);
    if (access(path, W_OK) != 0) {
        strcat(path, "/out");
        CHECKF(dm_dataset_open(path, CONFIG, CLASSES, 2, "jpg", &ds, &err) == DM_ERR &&
                   strstr(err.msg, "ro/out"),
               "%s", err.msg);
        /* A dataset whose image folder became read-only: add fails, the sample stays unfinished. */
        snprintf(path, sizeof path, "%s/JPEGImages", b);
        CHECK(dm_dataset_open(b, CONFIG, CLASSES, 2, "jpg", &ds, &err) == DM_OK);
        chmod(path, 0555);
        make_sample(7, sb, &s);
        CHECKF(dm_dataset_add(ds, &s, &err) == DM_ERR && strstr(err.msg, "000007_square"), "%s",
               err.msg);
        CHECK(!dm_dataset_has(ds, "000007_square"));
        chmod(path, 0755);
        dm_dataset_close(ds);
    } else { /* running as root: /proc refuses new folders even then */
        CHECKF(dm_dataset_open("/proc/dm-test/out", CONFIG, CLASSES, 2, "jpg", &ds, &err) ==
                       DM_ERR &&
                   strstr(err.msg, "/proc/dm-test"),
               "%s", err.msg);
    }
    free(sb);

    /* Shards from the command line and the environment. */
    dm_shard sh;
    bool found;
    CHECK(dm_shard_parse("3/8", &sh, &err) == DM_OK && sh.k == 3 && sh.n == 8);
    CHECK(dm_shard_parse("8/8", &sh, &err) == DM_EUSAGE &&
          dm_shard_parse("1", &sh, &err) == DM_EUSAGE);
    CHECK(dm_shard_parse("-1/2", &sh, &err) == DM_EUSAGE &&
          dm_shard_parse("1/2x", &sh, &err) == DM_EUSAGE);
    dm_shard_env env = {"5", "8", "1", NULL};
    CHECK(dm_shard_from_values(0, &env, &sh, &found, &err) == DM_OK && found && sh.k == 4 &&
          sh.n == 8);
    CHECK(dm_shard_from_values(4, &env, &sh, &found, &err) == DM_ERR);
    env = (dm_shard_env){"2", NULL, NULL, NULL};
    CHECK(dm_shard_from_values(0, &env, &sh, &found, &err) == DM_ERR);
    CHECK(dm_shard_from_values(3, &env, &sh, &found, &err) == DM_OK && sh.k == 2 && sh.n == 3);
    env = (dm_shard_env){NULL, NULL, NULL, "3"};
    CHECK(dm_shard_from_values(4, &env, &sh, &found, &err) == DM_OK && found && sh.k == 3 &&
          sh.n == 4);
    CHECK(dm_shard_from_values(3, &env, &sh, &found, &err) == DM_ERR);
    env = (dm_shard_env){NULL, NULL, NULL, NULL};
    CHECK(dm_shard_from_values(4, &env, &sh, &found, &err) == DM_OK && !found && sh.n == 1);
    int owned[3] = {0};
    for (int i = 0; i < 30; i++)
        for (int k = 0; k < 3; k++) owned[k] += dm_shard_owns(k, 3, i);
    CHECK(owned[0] == 10 && owned[1] == 10 && owned[2] == 10 && dm_shard_owns(0, 1, 5));
    return check_finish();
}
