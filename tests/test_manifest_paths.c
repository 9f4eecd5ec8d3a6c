/* The manifest loader's path rule (issue 12 item 2): a ".." path component (traversal) or an
 * absolute path drops the line; a ".." inside a file name ("000000_a..b.png", made by older
 * versions from a class "a..b") is a plain name and is kept. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "dataset/format/dataset.h"

static void touch(const char *dir, const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    CHECKF(f != NULL, "%s", p);
    if (f) fclose(f);
}

/* Does the manifest made of this one line keep it? */
static int kept(const char *dir, const char *name, const char *image, const char *mask) {
    char line[1024];
    snprintf(line, sizeof line, "{\"name\":\"%s\",\"image\":\"%s\",\"mask\":\"%s\"}\n", name, image,
             mask);
    dm_manifest m;
    dm_error err = {{0}};
    CHECKF(dm_manifest_parse(dir, line, strlen(line), &m, &err) == DM_OK, "%s", err.msg);
    int n = m.n;
    dm_manifest_free(&m);
    return n == 1;
}

int main(void) {
    char dir[600], sub[700];
    snprintf(dir, sizeof dir, "%s/ds", check_tmpdir());
    mkdir(dir, 0755);
    snprintf(sub, sizeof sub, "%s/JPEGImages", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof sub, "%s/SegmentationClass", dir);
    mkdir(sub, 0755);
    touch(dir, "JPEGImages/000000_a..b.png");
    touch(dir, "SegmentationClass/000000_a..b.png");
    touch(dir, "outside.png"); /* reachable from JPEGImages/ through ".." */
    CHECK(kept(dir, "000000_a..b", "JPEGImages/000000_a..b.png",
               "SegmentationClass/000000_a..b.png"));
    CHECK(!kept(dir, "000000_x", "JPEGImages/../outside.png", "SegmentationClass/000000_a..b.png"));
    CHECK(!kept(dir, "000000_x", "../ds/JPEGImages/000000_a..b.png",
                "SegmentationClass/000000_a..b.png"));
    CHECK(!kept(dir, "000000_x", "JPEGImages/000000_a..b.png", "SegmentationClass/.."));
    snprintf(sub, sizeof sub, "%s/JPEGImages/000000_a..b.png", dir);
    CHECK(!kept(dir, "000000_x", sub, "SegmentationClass/000000_a..b.png")); /* absolute */
    return check_finish();
}
