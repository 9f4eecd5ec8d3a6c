/* Augmentation, the pixel operations on one image + mask pair (augment.h): resize, mosaic,
 * paste, blur, occlusion, homography and perspective warp. The dataset driver is augment.c. */
#include "dataset/make/augment_pixels.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ images */

dm_status dm_aug_image_alloc(dm_aug_image *im, int w, int h, dm_error *err) {
    memset(im, 0, sizeof *im);
    if (w <= 0 || h <= 0 || (size_t)w * h > ((size_t)1 << 30))
        return dm_fail(err, "augment: bad image size %dx%d", w, h);
    im->rgb = malloc((size_t)w * h * 3);
    im->mask = malloc((size_t)w * h);
    if (!im->rgb || !im->mask) {
        dm_aug_image_free(im);
        return dm_fail(err, "augment: out of memory for a %dx%d image", w, h);
    }
    im->w = w;
    im->h = h;
    return DM_OK;
}

void dm_aug_image_free(dm_aug_image *im) {
    free(im->rgb);
    free(im->mask);
    memset(im, 0, sizeof *im);
}

static uint8_t to_u8(double v) {
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5);
}

/* Bilinear sample of one channel-interleaved RGB image at (sx, sy), coordinates clamped. */
static void bilinear(const uint8_t *rgb, int w, int h, double sx, double sy, uint8_t out[3]) {
    if (sx < 0) sx = 0;
    if (sy < 0) sy = 0;
    if (sx > w - 1) sx = w - 1;
    if (sy > h - 1) sy = h - 1;
    int x0 = (int)sx, y0 = (int)sy;
    int x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
    double fx = sx - x0, fy = sy - y0;
    const uint8_t *p00 = rgb + 3 * ((size_t)y0 * w + x0), *p10 = rgb + 3 * ((size_t)y0 * w + x1);
    const uint8_t *p01 = rgb + 3 * ((size_t)y1 * w + x0), *p11 = rgb + 3 * ((size_t)y1 * w + x1);
    for (int c = 0; c < 3; c++) {
        double top = p00[c] + fx * (p10[c] - p00[c]), bot = p01[c] + fx * (p11[c] - p01[c]);
        out[c] = to_u8(top + fy * (bot - top));
    }
}

/* Scales src into the rectangle (ox, oy, dw, dh) of dst. */
static void resize_into(const dm_aug_image *src, dm_aug_image *dst, int ox, int oy, int dw,
                        int dh) {
    for (int y = 0; y < dh; y++) {
        double sy = (y + 0.5) * src->h / dh - 0.5;
        int my = (int)((y + 0.5) * src->h / dh);
        for (int x = 0; x < dw; x++) {
            double sx = (x + 0.5) * src->w / dw - 0.5;
            int mx = (int)((x + 0.5) * src->w / dw);
            size_t o = (size_t)(oy + y) * dst->w + (ox + x);
            bilinear(src->rgb, src->w, src->h, sx, sy, dst->rgb + 3 * o);
            dst->mask[o] = src->mask[(size_t)my * src->w + mx];
        }
    }
}

void dm_aug_resize(const dm_aug_image *src, dm_aug_image *dst) {
    resize_into(src, dst, 0, 0, dst->w, dst->h);
}

dm_status dm_aug_mosaic(const dm_aug_image *const q[4], dm_aug_image *out, dm_error *err) {
    if (out->w < 2 || out->h < 2)
        return dm_fail(err, "mosaic: output %dx%d is too small for 2x2", out->w, out->h);
    int lw = out->w / 2, th = out->h / 2;
    int xs[4] = {0, lw, 0, lw}, ys[4] = {0, 0, th, th};
    int ws[4] = {lw, out->w - lw, lw, out->w - lw}, hs[4] = {th, th, out->h - th, out->h - th};
    for (int k = 0; k < 4; k++) resize_into(q[k], out, xs[k], ys[k], ws[k], hs[k]);
    return DM_OK;
}

/* Bounding box of the selected pixels; false when none is selected. */
bool dm_aug_sel_bbox(const uint8_t *sel, int w, int h, int box[4]) {
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (sel[(size_t)y * w + x]) {
                if (x < x0) x0 = x;
                if (x > x1) x1 = x;
                if (y < y0) y0 = y;
                if (y > y1) y1 = y;
            }
    if (x1 < 0) return false;
    box[0] = x0, box[1] = y0, box[2] = x1 - x0 + 1, box[3] = y1 - y0 + 1;
    return true;
}

/* Pasted size of a bw-pixel extent at a scale (at least one pixel). */
int dm_aug_scaled_len(int len, double scale) {
    double v = len * scale + 0.5;
    return v < 1 ? 1 : v > INT_MAX / 2 ? INT_MAX / 2 : (int)v;
}

long dm_aug_paste(dm_aug_image *dst, const dm_aug_image *src, const uint8_t *sel, double scale,
                  int x, int y) {
    int box[4];
    if (!(scale > 0) || !dm_aug_sel_bbox(sel, src->w, src->h, box)) return 0;
    int sw = dm_aug_scaled_len(box[2], scale), sh = dm_aug_scaled_len(box[3], scale);
    long n = 0;
    for (int v = 0; v < sh; v++) {
        int dy = y + v;
        if (dy < 0 || dy >= dst->h) continue;
        int sy = box[1] + (int)((v + 0.5) * box[3] / sh);
        for (int u = 0; u < sw; u++) {
            int dx = x + u;
            if (dx < 0 || dx >= dst->w) continue;
            size_t s = (size_t)sy * src->w + box[0] + (int)((u + 0.5) * box[2] / sw);
            if (!sel[s]) continue;
            size_t d = (size_t)dy * dst->w + dx;
            memcpy(dst->rgb + 3 * d, src->rgb + 3 * s, 3);
            dst->mask[d] = src->mask[s];
            n++;
        }
    }
    return n;
}

dm_status dm_aug_blur(dm_aug_image *im, double sigma, dm_error *err) {
    if (!(sigma > 0)) return DM_OK;
    int r = (int)ceil(3 * sigma);
    if (r > 256) r = 256;
    double *k = malloc(sizeof *k * (2 * r + 1));
    float *tmp = malloc(sizeof *tmp * (size_t)im->w * im->h * 3);
    if (!k || !tmp) {
        free(k);
        free(tmp);
        return dm_fail(err, "blur: out of memory for %dx%d", im->w, im->h);
    }
    double sum = 0;
    for (int i = -r; i <= r; i++) sum += k[i + r] = exp(-0.5 * i * i / (sigma * sigma));
    for (int i = 0; i <= 2 * r; i++) k[i] /= sum;
    int w = im->w, h = im->h;
    for (int y = 0; y < h; y++) /* horizontal pass into tmp */
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double acc = 0;
                for (int i = -r; i <= r; i++) {
                    int xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
                    acc += k[i + r] * im->rgb[3 * ((size_t)y * w + xx) + c];
                }
                tmp[3 * ((size_t)y * w + x) + c] = (float)acc;
            }
    for (int y = 0; y < h; y++) /* vertical pass back into the image */
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                double acc = 0;
                for (int i = -r; i <= r; i++) {
                    int yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
                    acc += k[i + r] * tmp[3 * ((size_t)yy * w + x) + c];
                }
                im->rgb[3 * ((size_t)y * w + x) + c] = to_u8(acc);
            }
    free(k);
    free(tmp);
    return DM_OK;
}

void dm_aug_occlude(dm_aug_image *im, int x, int y, int w, int h, dm_rng *noise) {
    int x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
    int x1 = x + w > im->w ? im->w : x + w, y1 = y + h > im->h ? im->h : y + h;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) {
            size_t i = (size_t)yy * im->w + xx;
            for (int c = 0; c < 3; c++)
                im->rgb[3 * i + c] = noise ? (uint8_t)(dm_rng_u64(noise) >> 56) : 128;
            im->mask[i] = 255;
        }
}

/* True when three of the four points lie on a line (within rounding of their extent). */
static bool degenerate_quad(const double p[8]) {
    double ext = 0;
    for (int k = 0; k < 8; k++) ext = fmax(ext, fabs(p[k] - p[k % 2]));
    for (int skip = 0; skip < 4; skip++) {
        int t[3], n = 0;
        for (int k = 0; k < 4; k++)
            if (k != skip) t[n++] = k;
        double ax = p[2 * t[1]] - p[2 * t[0]], ay = p[2 * t[1] + 1] - p[2 * t[0] + 1];
        double bx = p[2 * t[2]] - p[2 * t[0]], by = p[2 * t[2] + 1] - p[2 * t[0] + 1];
        if (!(fabs(ax * by - ay * bx) > 1e-9 * (ext * ext > 0 ? ext * ext : 1))) return true;
    }
    return false;
}

dm_status dm_aug_homography(const double from[8], const double to[8], double H[9], dm_error *err) {
    if (degenerate_quad(from) || degenerate_quad(to))
        return dm_fail(err, "homography: the corner points are degenerate (three on a line)");
    double a[8][9];
    for (int k = 0; k < 4; k++) {
        double x = from[2 * k], y = from[2 * k + 1], u = to[2 * k], v = to[2 * k + 1];
        double ru[9] = {x, y, 1, 0, 0, 0, -x * u, -y * u, u};
        double rv[9] = {0, 0, 0, x, y, 1, -x * v, -y * v, v};
        memcpy(a[2 * k], ru, sizeof ru);
        memcpy(a[2 * k + 1], rv, sizeof rv);
    }
    double scale = 0;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++) scale = fmax(scale, fabs(a[i][j]));
    for (int col = 0; col < 8; col++) { /* Gauss-Jordan with partial pivoting */
        int piv = col;
        for (int i = col + 1; i < 8; i++)
            if (fabs(a[i][col]) > fabs(a[piv][col])) piv = i;
        if (!(fabs(a[piv][col]) > 1e-12 * (scale > 0 ? scale : 1)))
            return dm_fail(err, "homography: the corner points are degenerate (three on a line)");
        if (piv != col)
            for (int j = 0; j < 9; j++) {
                double t = a[col][j];
                a[col][j] = a[piv][j];
                a[piv][j] = t;
            }
        for (int i = 0; i < 8; i++) {
            if (i == col) continue;
            double f = a[i][col] / a[col][col];
            for (int j = col; j < 9; j++) a[i][j] -= f * a[col][j];
        }
    }
    for (int i = 0; i < 8; i++) H[i] = a[i][8] / a[i][i];
    H[8] = 1;
    return DM_OK;
}

void dm_aug_warp(const dm_aug_image *src, const double H[9], dm_aug_image *out) {
    size_t n = (size_t)src->w * src->h;
    double mean[3] = {0, 0, 0};
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) mean[c] += src->rgb[3 * i + c];
    uint8_t fill[3];
    for (int c = 0; c < 3; c++) fill[c] = to_u8(mean[c] / (double)n);
    for (int y = 0; y < out->h; y++)
        for (int x = 0; x < out->w; x++) {
            size_t o = (size_t)y * out->w + x;
            double X = H[0] * x + H[1] * y + H[2], Y = H[3] * x + H[4] * y + H[5],
                   Z = H[6] * x + H[7] * y + H[8];
            double sx = Z > 0 ? X / Z : -1e9, sy = Z > 0 ? Y / Z : -1e9;
            double nx = floor(sx + 0.5), ny = floor(sy + 0.5);
            if (!(nx >= 0 && ny >= 0 && nx < src->w && ny < src->h)) { /* also catches NaN */
                memcpy(out->rgb + 3 * o, fill, 3);
                out->mask[o] = 255;
                continue;
            }
            bilinear(src->rgb, src->w, src->h, sx, sy, out->rgb + 3 * o);
            out->mask[o] = src->mask[(size_t)ny * src->w + (size_t)nx];
        }
}
