/* PNG / JPEG writers and readers: exact PNG round trips, JPEG within tolerance, palette masks
 * read back as indices, the VOC colour map, deterministic bytes, clear errors. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "io/file.h"
#include "io/image.h"

static bool same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    dm_error err;
    if (dm_read_file(a, &x, &nx, &err) != DM_OK) return false;
    if (dm_read_file(b, &y, &ny, &err) != DM_OK) return free(x), false;
    bool same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

int main(void) {
    const char *dir = check_tmpdir();
    char p[4][512];
    dm_error err = {{0}};
    enum { W = 37, H = 23 }; /* odd sizes catch stride mistakes */
    uint8_t rgb[W * H * 3], gray[W * H], idx[W * H];
    for (int i = 0; i < W * H; i++) {
        rgb[3 * i] = (uint8_t)(i * 7), rgb[3 * i + 1] = (uint8_t)(i / W * 11),
                rgb[3 * i + 2] = (uint8_t)(255 - i);
        gray[i] = (uint8_t)(i * 13);
        idx[i] = (uint8_t)(i % 5 == 4 ? 255 : i % 5);
    }
    uint8_t pal[768];
    dm_voc_palette(pal);
    CHECK(pal[3] == 128 && pal[4] == 0 && pal[5] == 0);           /* 1: aeroplane red */
    CHECK(pal[6] == 0 && pal[7] == 128 && pal[8] == 0);           /* 2 */
    CHECK(pal[45] == 192 && pal[46] == 128 && pal[47] == 128);    /* 15: person */
    CHECK(pal[765] == 224 && pal[766] == 224 && pal[767] == 192); /* 255: ignore */
    CHECK(pal[0] == 0 && pal[1] == 0 && pal[2] == 0);

    /* RGB PNG: exact. */
    snprintf(p[0], 512, "%s/rgb.png", dir);
    CHECK(dm_png_write_rgb(p[0], rgb, W, H, &err) == DM_OK);
    uint8_t *back;
    int w, h;
    CHECK(dm_png_read(p[0], 3, &back, &w, &h, &err) == DM_OK && w == W && h == H);
    CHECK(back && !memcmp(back, rgb, sizeof rgb));
    free(back);
    CHECKF(dm_png_read(p[0], 1, &back, &w, &h, &err) == DM_ERR && strstr(err.msg, "RGB PNG"), "%s",
           err.msg);
    /* Same pixels, same bytes (no timestamps). */
    snprintf(p[1], 512, "%s/rgb2.png", dir);
    CHECK(dm_png_write_rgb(p[1], rgb, W, H, &err) == DM_OK && same_file(p[0], p[1]));

    /* Gray PNG: exact, and as RGB it is replicated. */
    snprintf(p[0], 512, "%s/gray.png", dir);
    CHECK(dm_png_write_gray(p[0], gray, W, H, &err) == DM_OK);
    CHECK(dm_png_read(p[0], 1, &back, &w, &h, &err) == DM_OK && !memcmp(back, gray, sizeof gray));
    free(back);
    CHECK(dm_png_read(p[0], 3, &back, &w, &h, &err) == DM_OK && back[3 * 5] == gray[5] &&
          back[3 * 5 + 2] == gray[5]);
    free(back);

    /* Palette PNG: indices come back raw; as RGB they are the VOC colours. */
    snprintf(p[0], 512, "%s/mask.png", dir);
    CHECK(dm_png_write_palette(p[0], idx, W, H, pal, &err) == DM_OK);
    CHECK(dm_png_read(p[0], 1, &back, &w, &h, &err) == DM_OK && !memcmp(back, idx, sizeof idx));
    free(back);
    CHECK(dm_image_read(p[0], 3, &back, &w, &h, &err) == DM_OK);
    CHECK(back[3 * 1] == 128 && back[3 * 1 + 1] == 0 && back[3 * 2 + 1] == 128); /* ids 1 and 2 */
    CHECK(back[3 * 4] == 224 && back[3 * 4 + 2] == 192);                         /* id 255 */
    free(back);

    /* JPEG: close, not exact; quality 95 by default. */
    uint8_t smooth[64 * 48 * 3];
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++)
            for (int k = 0; k < 3; k++)
                smooth[(y * 64 + x) * 3 + k] = (uint8_t)(x * 2 + y + k * 20);
    snprintf(p[0], 512, "%s/img.jpg", dir);
    CHECK(dm_jpeg_write_rgb(p[0], smooth, 64, 48, 0, &err) == DM_OK);
    CHECK(dm_image_read(p[0], 3, &back, &w, &h, &err) == DM_OK && w == 64 && h == 48);
    int maxd = 0;
    for (int i = 0; back && i < 64 * 48 * 3; i++)
        maxd = abs(back[i] - smooth[i]) > maxd ? abs(back[i] - smooth[i]) : maxd;
    CHECKF(maxd <= 6, "JPEG max error %d", maxd);
    free(back);
    CHECK(dm_jpeg_read(p[0], 1, &back, &w, &h, &err) == DM_OK && w == 64);
    free(back);
    snprintf(p[1], 512, "%s/img2.jpg", dir);
    CHECK(dm_jpeg_write_rgb(p[1], smooth, 64, 48, 95, &err) == DM_OK && same_file(p[0], p[1]));
    CHECK(dm_jpeg_write_rgb(p[1], smooth, 64, 48, 101, &err) == DM_ERR);

    /* Errors name the file; nothing is left behind. */
    CHECKF(dm_png_read("/nonexistent/x.png", 1, &back, &w, &h, &err) == DM_ERR &&
               strstr(err.msg, "/nonexistent/x.png"),
           "%s", err.msg);
    CHECKF(dm_png_read(p[0], 1, &back, &w, &h, &err) == DM_ERR && strstr(err.msg, "not a PNG"),
           "%s", err.msg);
    /* a PNG given to the JPEG reader: "bad JPEG", naming the file */
    snprintf(p[2], 512, "%s/mask.png", dir);
    back = NULL;
    CHECKF(dm_jpeg_read(p[2], 3, &back, &w, &h, &err) == DM_ERR && !back &&
               strstr(err.msg, "mask.png") && strstr(err.msg, "bad JPEG"),
           "%s", err.msg);
    snprintf(p[2], 512, "%s/trunc.png", dir);
    snprintf(p[3], 512, "%s/rgb.png", dir);
    char *data;
    size_t len;
    CHECK(dm_read_file(p[3], &data, &len, &err) == DM_OK);
    CHECK(dm_write_file_atomic(p[2], data, len / 2, &err) == DM_OK);
    free(data);
    CHECKF(dm_png_read(p[2], 3, &back, &w, &h, &err) == DM_ERR && strstr(err.msg, "trunc.png"),
           "%s", err.msg);
    CHECKF(dm_image_read("x.bmp", 3, &back, &w, &h, &err) == DM_ERR && strstr(err.msg, "x.bmp"),
           "%s", err.msg);
    CHECK(dm_png_write_gray(p[2], gray, 0, H, &err) == DM_ERR);
    /* A folder without write permission: the error names the file and nothing is left. Root
     * ignores permissions, so as root the write runs in a child that became "nobody". */
    snprintf(p[2], 512, "%s/ro", dir);
    CHECK(mkdir(p[2], 0555) == 0);
    snprintf(p[3], 512, "%s/ro/a.png", dir);
    if (getuid() != 0) {
        CHECKF(dm_png_write_gray(p[3], gray, W, H, &err) == DM_ERR && strstr(err.msg, "ro/a.png"),
               "%s", err.msg);
    } else if (chmod(dir, 0755) == 0) {
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(77);
            if (access(p[2], W_OK) == 0) _exit(78); /* still allowed: nothing to test */
            _exit(dm_png_write_gray(p[3], gray, W, H, &err) == DM_ERR && strstr(err.msg, "ro/a.png")
                      ? 0
                      : 1);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (rc == 77 || rc == 78)
            check_skip_part("test_image: read-only folder (root, and cannot become nobody)");
        else
            CHECKF(rc == 0, "write into a read-only folder as nobody: child exit %d", rc);
    } else
        check_skip_part("test_image: read-only folder (root, and the test folder cannot be opened "
                        "to nobody)");
    CHECK(!dm_file_exists(p[3]));
    return check_finish();
}
