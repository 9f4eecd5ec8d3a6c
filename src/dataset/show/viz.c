#include "dataset/show/viz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset/format/dataset.h"
#include "dataset/format/ds_internal.h"
#include "dataset/show/font.h"
#include "io/image.h"

static const uint8_t BG[3] = {32, 32, 32}, INK[3] = {230, 230, 230}, DIM[3] = {150, 150, 150},
                     WHITE[3] = {255, 255, 255};

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

static void fill(uint8_t *sheet, int sw, int x0, int y0, int w, int h, const uint8_t *rgb) {
    for (int y = y0; y < y0 + h; y++)
        for (int x = x0; x < x0 + w; x++) memcpy(sheet + ((size_t)y * sw + x) * 3, rgb, 3);
}

/* One overlay pixel: white on a class boundary, the image where the mask is background, else
 * the image blended half-and-half with the class's palette colour. */
static void overlay_px(const uint8_t *rgb, uint8_t id, bool edge, const uint8_t *pal, uint8_t *o) {
    for (int k = 0; k < 3; k++)
        o[k] = edge ? 255 : id == 0 ? rgb[k] : (uint8_t)((rgb[k] + pal[3 * id + k] + 1) / 2);
}

static void draw_row(uint8_t *sheet, int sw, int top, int tile, const uint8_t *img,
                     const uint8_t *mask, const uint8_t *heat, int w, int h, const uint8_t *pal) {
    fit f = fit_tile(w, h, tile);
    int x_img = DM_VIZ_GAP, x_ovl = 2 * DM_VIZ_GAP + tile, x_heat = 3 * DM_VIZ_GAP + 2 * tile;
    for (int y = 0; y < f.dh; y++)
        for (int x = 0; x < f.dw; x++) {
            size_t row = (size_t)(top + f.oy + y) * sw;
            uint8_t rgb[3], hv;
            bilinear(img, 3, &f, x, y, rgb);
            memcpy(sheet + (row + x_img + f.ox + x) * 3, rgb, 3);
            uint8_t id = nearest(mask, &f, x, y);
            bool edge = (x + 1 < f.dw && nearest(mask, &f, x + 1, y) != id) ||
                        (y + 1 < f.dh && nearest(mask, &f, x, y + 1) != id);
            overlay_px(rgb, id, edge, pal, sheet + (row + x_ovl + f.ox + x) * 3);
            if (heat) {
                bilinear(heat, 1, &f, x, y, &hv);
                jet(hv, sheet + (row + x_heat + f.ox + x) * 3);
            }
        }
}

void dm_viz_overlay(const uint8_t *rgb, const uint8_t *mask, int w, int h, const uint8_t *pal,
                    uint8_t *out) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            uint8_t id = mask[i];
            bool edge = (x + 1 < w && mask[i + 1] != id) || (y + 1 < h && mask[i + w] != id);
            overlay_px(rgb + 3 * i, id, edge, pal, out + 3 * i);
        }
}

/* ------------------------------------------------------------ captions */

/* A text cursor over the sheet; with sheet NULL it only measures (the first pass sizes the
 * sheet). Items flow left to right and wrap to a new line when they do not fit. */
typedef struct {
    uint8_t *sheet; /* NULL: measure only */
    int sw;         /* sheet width */
    int x0, x1;     /* left and right edge of the text area */
    int x, y;       /* pen: top-left of the next glyph */
    int s;          /* pixel scale of the font */
} pen;

static int line_h(const pen *p) {
    return (DM_FONT_H + 3) * p->s;
}

static int text_w(const pen *p, const char *t) {
    return (int)strlen(t) * DM_FONT_ADVANCE * p->s;
}

static void glyphs(pen *p, const char *t, const uint8_t *ink) {
    for (; *t; t++, p->x += DM_FONT_ADVANCE * p->s) {
        if (!p->sheet) continue;
        const uint8_t *g = dm_font5x7(*t);
        for (int r = 0; r < DM_FONT_H * p->s; r++)
            for (int c = 0; c < DM_FONT_W * p->s; c++)
                if (g[r / p->s] & (0x10 >> (c / p->s)))
                    memcpy(p->sheet + ((size_t)(p->y + r) * p->sw + p->x + c) * 3, ink, 3);
    }
}

static void newline(pen *p) {
    p->x = p->x0;
    p->y += line_h(p);
}

/* An optional colour swatch and a text, kept together on one line (cut if longer than one). */
static void item(pen *p, const uint8_t *swatch, const char *text, const uint8_t *ink) {
    int sq = DM_FONT_H * p->s, w = (swatch ? sq + 2 * p->s : 0) + text_w(p, text);
    if (p->x > p->x0 && p->x + w > p->x1) newline(p);
    if (swatch) {
        if (p->sheet) {
            fill(p->sheet, p->sw, p->x, p->y, sq, sq, WHITE);
            fill(p->sheet, p->sw, p->x + 1, p->y + 1, sq - 2, sq - 2, swatch);
        }
        p->x += sq + 2 * p->s;
    }
    int room = (p->x1 - p->x) / (DM_FONT_ADVANCE * p->s);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    if (room < 0) room = 0;
    if ((int)strlen(buf) > room && room < (int)sizeof buf) {
        buf[room] = 0;
        if (room >= 3) memcpy(buf + room - 3, "...", 3); /* cut to fit */
    }
    glyphs(p, buf, ink);
    p->x += DM_FONT_ADVANCE * p->s; /* a space after every item */
}

/* The class ids a manifest line names ("class_id" or "class_ids"). */
static int sample_classes(const cJSON *j, int *ids, int cap) {
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(j, "class_id");
    if (cJSON_IsNumber(one)) {
        ids[0] = one->valueint;
        return 1;
    }
    int n = 0;
    const cJSON *v, *list = cJSON_GetObjectItemCaseSensitive(j, "class_ids");
    cJSON_ArrayForEach(v, list) if (cJSON_IsNumber(v) && n < cap) ids[n++] = v->valueint;
    return n;
}

/* Header of one sample: name, quality score and its classes in their colours; the prompt on the
 * next line, cut to fit. */
static void sample_header(pen *p, const cJSON *j, char **labels, int n_labels, const uint8_t *pal) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    double score = dm_manifest_score(j, NAN);
    const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(j, "prompt");
    item(p, NULL, cJSON_IsString(name) ? name->valuestring : "?", INK);
    char buf[64];
    if (!isnan(score)) {
        snprintf(buf, sizeof buf, "score %.3f", score);
        item(p, NULL, buf, DIM);
    }
    int ids[64], n = sample_classes(j, ids, 64);
    for (int k = 0; k < n; k++)
        if (ids[k] > 0 && ids[k] < n_labels && ids[k] < 255)
            item(p, pal + 3 * ids[k], labels[ids[k]], INK);
    newline(p);
    if (cJSON_IsString(prompt)) {
        char quoted[520];
        snprintf(quoted, sizeof quoted, "\"%.500s\"", prompt->valuestring);
        item(p, NULL, quoted, DIM);
        newline(p);
    }
}

/* The legend: what the columns are, then every class of labels.txt in its colour. */
static void legend(pen *p, int cols, char **labels, int n_labels, const uint8_t *pal) {
    item(p, NULL, "columns: image | mask overlay (white: class boundary)", INK);
    if (cols == 3) item(p, NULL, "| attention heat map (blue low, red high)", INK);
    newline(p);
    item(p, NULL, "classes:", DIM);
    for (int c = 1; c < n_labels && c < 255; c++) item(p, pal + 3 * c, labels[c], INK);
    item(p, pal + 3 * 255, "ignore", INK);
    newline(p);
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
    char **labels = NULL;
    int n_labels = 0;
    dm_status st = dm_read_labels(dataset_dir, &labels, &n_labels, err);
    if (st != DM_OK) {
        dm_manifest_free(&m);
        return st;
    }
    int rows = n < m.n ? n : m.n, cols = 2;
    for (int i = 0; i < rows; i++)
        if (cJSON_GetObjectItemCaseSensitive(m.v[i].json, "heatmap")) cols = 3;
    uint8_t pal[256 * 3];
    dm_voc_palette(pal);
    /* pass 0 measures the captions, pass 1 draws */
    int sw = cols * tile + (cols + 1) * DM_VIZ_GAP, sh = 0;
    uint8_t *sheet = NULL;
    for (int pass = 0; pass < 2 && st == DM_OK; pass++) {
        pen p = {sheet,      sw,         DM_VIZ_GAP,         sw - DM_VIZ_GAP,
                 DM_VIZ_GAP, DM_VIZ_GAP, tile >= 256 ? 2 : 1};
        legend(&p, cols, labels, n_labels, pal);
        p.y += DM_VIZ_GAP;
        for (int i = 0; i < rows && st == DM_OK; i++) {
            const cJSON *j = m.v[i].json;
            if (sheet) fill(sheet, sw, 0, p.y - DM_VIZ_GAP / 2, sw, 1, DIM); /* separator */
            p.y += DM_VIZ_GAP;
            sample_header(&p, j, labels, n_labels, pal);
            int top = p.y;
            p.y += tile + DM_VIZ_GAP;
            if (!sheet) continue;
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
                    st = dm_fail(err, "%s: %dx%d, but the image is %dx%d", path, w[k], h[k], w[0],
                                 h[0]);
            }
            if (st == DM_OK)
                draw_row(sheet, sw, top, tile, pix[0], pix[1], pix[2], w[0], h[0], pal);
            for (int k = 0; k < 3; k++) free(pix[k]);
        }
        if (!sheet && st == DM_OK) {
            sh = p.y;
            sheet = malloc((size_t)sw * sh * 3);
            if (!sheet)
                st = dm_fail(err, "%s: out of memory for a %dx%d sheet", out_png, sw, sh);
            else
                fill(sheet, sw, 0, 0, sw, sh, BG);
        }
    }
    if (st == DM_OK) st = dm_png_write_rgb(out_png, sheet, sw, sh, err);
    free(sheet);
    dm_free_lines(labels, n_labels);
    dm_manifest_free(&m);
    return st;
}
