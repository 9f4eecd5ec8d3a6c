#include "dataset/viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/dataset.h"
#include "io/image.h"

static const uint8_t BG[3] = {32, 32, 32}, NO_HEAT[3] = {96, 96, 96}, INK[3] = {220, 220, 220};

/* Where a tile's pixel (tx, ty) falls in the picture: scale s, picture centred in the tile. */
typedef struct {
    int w, h;   /* picture */
    int ox, oy; /* offset of the scaled picture inside the tile */
    int dw, dh; /* scaled size */
    double s;
} fit;

static fit fit_tile(int w, int h, int tile) {
    fit f = {w, h, 0, 0, 0, 0, fmin((double)tile / w, (double)tile / h)};
    f.dw = (int)lround(w * f.s);
    f.dh = (int)lround(h * f.s);
    if (f.dw < 1) f.dw = 1;
    if (f.dh < 1) f.dh = 1;
    f.ox = (tile - f.dw) / 2;
    f.oy = (tile - f.dh) / 2;
    return f;
}

/* Bilinear sample of a c-channel picture at the centre of scaled pixel (x, y). */
static void bilinear(const uint8_t *pix, int c, const fit *f, int x, int y, uint8_t *out) {
    double sx = (x + 0.5) / f->s - 0.5, sy = (y + 0.5) / f->s - 0.5;
    sx = fmax(0, fmin(sx, f->w - 1));
    sy = fmax(0, fmin(sy, f->h - 1));
    int x0 = (int)sx, y0 = (int)sy, x1 = x0 + 1 < f->w ? x0 + 1 : x0,
        y1 = y0 + 1 < f->h ? y0 + 1 : y0;
    double ax = sx - x0, ay = sy - y0;
    for (int k = 0; k < c; k++) {
        double top = pix[((size_t)y0 * f->w + x0) * c + k] * (1 - ax) +
                     pix[((size_t)y0 * f->w + x1) * c + k] * ax;
        double bot = pix[((size_t)y1 * f->w + x0) * c + k] * (1 - ax) +
                     pix[((size_t)y1 * f->w + x1) * c + k] * ax;
        out[k] = (uint8_t)lround(top * (1 - ay) + bot * ay);
    }
}

/* Nearest class id: labels must not be blended. */
static uint8_t nearest(const uint8_t *mask, const fit *f, int x, int y) {
    int sx = (int)((x + 0.5) / f->s), sy = (int)((y + 0.5) / f->s);
    if (sx >= f->w) sx = f->w - 1;
    if (sy >= f->h) sy = f->h - 1;
    return mask[(size_t)sy * f->w + sx];
}

static void jet(uint8_t v, uint8_t *rgb) {
    double t = v / 255.0;
    double c[3] = {1.5 - fabs(4 * t - 3), 1.5 - fabs(4 * t - 2), 1.5 - fabs(4 * t - 1)};
    for (int k = 0; k < 3; k++) rgb[k] = (uint8_t)lround(255 * fmax(0, fmin(1, c[k])));
}

/* 5x7 glyphs for the one caption we draw. */
static const struct {
    char ch;
    uint8_t rows[7];
} GLYPHS[] = {
    {'N', {0x11, 0x19, 0x15, 0x13, 0x11, 0x11, 0x11}},
    {'O', {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}},
    {'H', {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
    {'E', {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}},
    {'A', {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}},
    {'T', {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}},
    {'M', {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11}},
    {'P', {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10}},
};

static void draw_text(uint8_t *sheet, int sw, int x, int y, int scale, const char *text) {
    for (; *text; text++, x += 6 * scale) {
        for (size_t g = 0; g < sizeof GLYPHS / sizeof *GLYPHS; g++) {
            if (GLYPHS[g].ch != *text) continue;
            for (int r = 0; r < 7 * scale; r++)
                for (int c = 0; c < 5 * scale; c++)
                    if (GLYPHS[g].rows[r / scale] & (0x10 >> (c / scale)))
                        memcpy(sheet + ((size_t)(y + r) * sw + x + c) * 3, INK, 3);
        }
    }
}

static void fill(uint8_t *sheet, int sw, int x0, int y0, int w, int h, const uint8_t *rgb) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) memcpy(sheet + ((size_t)y * sw + x) * 3, rgb, 3);
}

static void draw_row(uint8_t *sheet, int sw, int top, int tile, const uint8_t *img,
                     const uint8_t *mask, const uint8_t *heat, int w, int h, const uint8_t *pal) {
    fit f = fit_tile(w, h, tile);
    int x_img = DM_VIZ_GAP, x_ovl = 2 * DM_VIZ_GAP + tile, x_heat = 3 * DM_VIZ_GAP + 2 * tile;
    if (!heat) {
        fill(sheet, sw, x_heat, top, tile, tile, NO_HEAT);
        int scale = tile >= 192 ? 2 : 1, width = 11 * 6 * scale - scale;
        draw_text(sheet, sw, x_heat + (tile - width) / 2, top + (tile - 7 * scale) / 2, scale,
                  "NO HEAT MAP");
    }
    for (int y = 0; y < f.dh; y++)
        for (int x = 0; x < f.dw; x++) {
            size_t row = (size_t)(top + f.oy + y) * sw;
            uint8_t rgb[3], hv;
            bilinear(img, 3, &f, x, y, rgb);
            memcpy(sheet + (row + x_img + f.ox + x) * 3, rgb, 3);
            uint8_t id = nearest(mask, &f, x, y);
            bool edge = (x + 1 < f.dw && nearest(mask, &f, x + 1, y) != id) ||
                        (y + 1 < f.dh && nearest(mask, &f, x, y + 1) != id);
            uint8_t *o = sheet + (row + x_ovl + f.ox + x) * 3;
            for (int k = 0; k < 3; k++)
                o[k] = edge      ? 255
                       : id == 0 ? rgb[k]
                                 : (uint8_t)((rgb[k] + pal[3 * id + k] + 1) / 2);
            if (heat) {
                bilinear(heat, 1, &f, x, y, &hv);
                jet(hv, sheet + (row + x_heat + f.ox + x) * 3);
            }
        }
}

dm_status dm_viz_sheet(const char *dataset_dir, const char *out_png, int n, int tile,
                       dm_error *err) {
    if (n < 1) return dm_fail_code(err, DM_EUSAGE, "viz: --n %d (at least 1)", n);
    if (tile < 128 || tile > 1024)
        return dm_fail_code(err, DM_EUSAGE, "viz: tile size %d (128..1024)", tile);
    dm_manifest m;
    DM_TRY(dm_manifest_load(dataset_dir, &m, err));
    dm_manifest_sort(&m);
    if (m.n == 0) {
        dm_manifest_free(&m);
        return dm_fail(err, "%s: no finished samples (manifest.jsonl is empty or missing)",
                       dataset_dir);
    }
    int rows = n < m.n ? n : m.n;
    int sw = 3 * tile + 4 * DM_VIZ_GAP, sh = rows * tile + (rows + 1) * DM_VIZ_GAP;
    uint8_t *sheet = malloc((size_t)sw * sh * 3), pal[256 * 3];
    dm_status st =
        sheet ? DM_OK : dm_fail(err, "%s: out of memory for a %dx%d sheet", out_png, sw, sh);
    if (sheet) fill(sheet, sw, 0, 0, sw, sh, BG);
    dm_voc_palette(pal);
    for (int i = 0; i < rows && st == DM_OK; i++) {
        const cJSON *j = m.v[i].json;
        const char *keys[3] = {"image", "mask", "heatmap"};
        uint8_t *pix[3] = {NULL, NULL, NULL};
        int w[3] = {0}, h[3] = {0};
        for (int k = 0; k < 3 && st == DM_OK; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
            if (!v) continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dataset_dir, v->valuestring);
            st = dm_image_read(path, k == 0 ? 3 : 1, &pix[k], &w[k], &h[k], err);
            if (st == DM_OK && k > 0 && (w[k] != w[0] || h[k] != h[0]))
                st =
                    dm_fail(err, "%s: %dx%d, but the image is %dx%d", path, w[k], h[k], w[0], h[0]);
        }
        if (st == DM_OK)
            draw_row(sheet, sw, DM_VIZ_GAP + i * (tile + DM_VIZ_GAP), tile, pix[0], pix[1], pix[2],
                     w[0], h[0], pal);
        for (int k = 0; k < 3; k++) free(pix[k]);
    }
    if (st == DM_OK) st = dm_png_write_rgb(out_png, sheet, sw, sh, err);
    free(sheet);
    dm_manifest_free(&m);
    return st;
}
