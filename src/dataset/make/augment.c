/* Augmentation: pixel operations on image + mask pairs, and a dataset-to-dataset driver. */
#include "dataset/make/augment.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataset/format/dataset.h"
#include "dataset/format/ds_internal.h"
#include "io/file.h"
#include "io/json.h"
#include "io/image.h"

#define PATH_CAP 4096

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
static bool sel_bbox(const uint8_t *sel, int w, int h, int box[4]) {
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
static int scaled_len(int len, double scale) {
    double v = len * scale + 0.5;
    return v < 1 ? 1 : v > INT_MAX / 2 ? INT_MAX / 2 : (int)v;
}

long dm_aug_paste(dm_aug_image *dst, const dm_aug_image *src, const uint8_t *sel, double scale,
                  int x, int y) {
    int box[4];
    if (!(scale > 0) || !sel_bbox(sel, src->w, src->h, box)) return 0;
    int sw = scaled_len(box[2], scale), sh = scaled_len(box[3], scale);
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

/* ------------------------------------------------------------ operation names */

/* In the order copies cycle through them and apply them. */
static const struct {
    const char *name;
    unsigned bit;
} OPS[] = {{"mosaic", DM_AUG_MOSAIC},
           {"paste", DM_AUG_PASTE},
           {"perspective", DM_AUG_PERSPECTIVE},
           {"occlude", DM_AUG_OCCLUDE},
           {"blur", DM_AUG_BLUR}};
#define N_OPS 5

dm_status dm_aug_parse_ops(const char *list, unsigned *ops, dm_error *err) {
    *ops = 0;
    const char *p = list ? list : "";
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = -1;
        for (int i = 0; i < N_OPS; i++)
            if (strlen(OPS[i].name) == len && !strncmp(OPS[i].name, p, len)) found = i;
        if (found < 0)
            return dm_fail_code(
                err, DM_EUSAGE,
                "--ops: unknown operation '%.*s' (mosaic, paste, blur, occlude, perspective)",
                (int)len, p);
        *ops |= OPS[found].bit;
        p += len;
        if (*p == ',') p++;
    }
    if (!*ops) return dm_fail_code(err, DM_EUSAGE, "--ops: no operation given");
    return DM_OK;
}

/* ------------------------------------------------------------ the dataset driver */

typedef struct {
    const char *dir;
    dm_manifest m; /* sorted by name */
    int n_classes;
} aug_source;

static dm_status load_entry(const aug_source *s, int i, dm_aug_image *im, dm_error *err) {
    const cJSON *j = s->m.v[i].json;
    const char *img = cJSON_GetObjectItemCaseSensitive(j, "image")->valuestring;
    const char *msk = cJSON_GetObjectItemCaseSensitive(j, "mask")->valuestring;
    char path[PATH_CAP];
    memset(im, 0, sizeof *im);
    int w, h, mw, mh;
    snprintf(path, sizeof path, "%s/%s", s->dir, img);
    DM_TRY(dm_image_read(path, 3, &im->rgb, &w, &h, err));
    snprintf(path, sizeof path, "%s/%s", s->dir, msk);
    dm_status st = dm_png_read(path, 1, &im->mask, &mw, &mh, err);
    if (st == DM_OK && (mw != w || mh != h))
        st = dm_fail(err, "%s: mask is %dx%d but its image %s is %dx%d", path, mw, mh, img, w, h);
    if (st != DM_OK) {
        dm_aug_image_free(im);
        return st;
    }
    im->w = w;
    im->h = h;
    return DM_OK;
}

static dm_status copy_image(const dm_aug_image *a, dm_aug_image *b, dm_error *err) {
    DM_TRY(dm_aug_image_alloc(b, a->w, a->h, err));
    memcpy(b->rgb, a->rgb, (size_t)a->w * a->h * 3);
    memcpy(b->mask, a->mask, (size_t)a->w * a->h);
    return DM_OK;
}

static int rand_int(dm_rng *r, int n) { /* uniform in 0..n-1 (n >= 1) */
    int v = (int)(dm_rng_uniform(r) * n);
    return v < n ? v : n - 1;
}

/* A random sample other than i (i itself when it is the only one). */
static int pick_other(dm_rng *r, int n, int i) {
    if (n <= 1) return i;
    int j = rand_int(r, n - 1);
    return j >= i ? j + 1 : j;
}

/* Parameters are rounded to 4 decimals before use, so the manifest records what was applied. */
static double round4(double v) {
    return floor(v * 1e4) / 1e4;
}

static dm_status do_mosaic(const aug_source *s, int i, dm_rng *r, dm_aug_image *cur, cJSON *f,
                           dm_error *err) {
    /* Three partners, all different when the source has four samples or more. */
    int slot = rand_int(r, 4), idx[4], partners[3];
    for (int t = 0; t < 3; t++) {
        bool fresh;
        do {
            partners[t] = pick_other(r, s->m.n, i);
            fresh = true;
            for (int u = 0; u < t; u++) fresh &= partners[u] != partners[t];
        } while (!fresh && s->m.n >= 4);
    }
    for (int k = 0, t = 0; k < 4; k++) idx[k] = k == slot ? i : partners[t++];
    dm_aug_image parts[4] = {{0}}, out;
    const dm_aug_image *q[4];
    dm_status st = DM_OK;
    for (int k = 0; k < 4 && st == DM_OK; k++) {
        if (k == slot)
            q[k] = cur;
        else if ((st = load_entry(s, idx[k], &parts[k], err)) == DM_OK)
            q[k] = &parts[k];
    }
    if (st == DM_OK && (st = dm_aug_image_alloc(&out, cur->w, cur->h, err)) == DM_OK) {
        if ((st = dm_aug_mosaic(q, &out, err)) == DM_OK) {
            dm_aug_image_free(cur);
            *cur = out;
        } else
            dm_aug_image_free(&out);
    }
    for (int k = 0; k < 4; k++) dm_aug_image_free(&parts[k]);
    if (st != DM_OK) return st;
    cJSON *names = cJSON_AddArrayToObject(f, "mosaic");
    for (int k = 0; k < 4; k++)
        cJSON_AddItemToArray(names, cJSON_CreateString(s->m.v[idx[k]].name));
    return DM_OK;
}

/* Pastes one connected component of one class of another sample. Records "paste": null when
 * four partners in a row hold no object. */
static dm_status do_paste(const aug_source *s, int i, dm_rng *r, dm_aug_image *cur, cJSON *f,
                          dm_error *err) {
    dm_status st = DM_OK;
    for (int attempt = 0; attempt < 4 && st == DM_OK; attempt++) {
        int j = pick_other(r, s->m.n, i);
        dm_aug_image src;
        DM_TRY(load_entry(s, j, &src, err));
        size_t n = (size_t)src.w * src.h;
        int32_t *label = malloc(n * sizeof *label);
        uint8_t *sel = malloc(n);
        int nc = 0;
        st = label && sel ? dm_components(src.mask, src.w, src.h, 255, label, &nc, err)
                          : dm_fail(err, "%s: out of memory", s->dir);
        /* Class of each component (the value at its first pixel), then one class, one component. */
        int *comp_cls = st == DM_OK ? calloc((size_t)nc + 1, sizeof *comp_cls) : NULL;
        if (st == DM_OK && !comp_cls) st = dm_fail(err, "%s: out of memory", s->dir);
        int present[256] = {0}, n_present = 0;
        for (size_t p = 0; st == DM_OK && p < n; p++)
            if (label[p] && !comp_cls[label[p]]) {
                comp_cls[label[p]] = src.mask[p];
                if (!present[src.mask[p]]++) n_present++;
            }
        bool pasted = false;
        if (st == DM_OK && n_present) {
            int want = rand_int(r, n_present), cls = 0;
            for (int c = 1; c < 255; c++)
                if (present[c] && want-- == 0) {
                    cls = c;
                    break;
                }
            int comp = rand_int(r, present[cls]), id = 0;
            for (int c = 1; c <= nc; c++)
                if (comp_cls[c] == cls && comp-- == 0) {
                    id = c;
                    break;
                }
            for (size_t p = 0; p < n; p++) sel[p] = label[p] == id;
            int box[4];
            sel_bbox(sel, src.w, src.h, box);
            double scale = 0.5 + dm_rng_uniform(r);
            double max_s = fmin((double)cur->w / box[2], (double)cur->h / box[3]);
            scale = round4(fmin(scale, max_s));
            if (scale < 1e-4) scale = 1e-4;
            int sw = scaled_len(box[2], scale), sh = scaled_len(box[3], scale);
            int x = rand_int(r, cur->w - sw + 1 > 0 ? cur->w - sw + 1 : 1);
            int y = rand_int(r, cur->h - sh + 1 > 0 ? cur->h - sh + 1 : 1);
            long np = dm_aug_paste(cur, &src, sel, scale, x, y);
            cJSON *o = cJSON_AddObjectToObject(f, "paste");
            cJSON_AddStringToObject(o, "from", s->m.v[j].name);
            cJSON_AddNumberToObject(o, "class", cls);
            cJSON_AddNumberToObject(o, "scale", scale);
            cJSON_AddNumberToObject(o, "x", x);
            cJSON_AddNumberToObject(o, "y", y);
            cJSON_AddNumberToObject(o, "pixels", (double)np);
            pasted = true;
        }
        free(comp_cls);
        free(label);
        free(sel);
        dm_aug_image_free(&src);
        if (pasted) return st;
    }
    if (st == DM_OK) cJSON_AddNullToObject(f, "paste");
    return st;
}

static dm_status do_perspective(dm_aug_image *cur, dm_rng *r, cJSON *f, dm_error *err) {
    double W = cur->w - 1, Hh = cur->h - 1;
    double corners[8] = {0, 0, W, 0, W, Hh, 0, Hh}, src[8];
    for (int k = 0; k < 8; k++)
        src[k] = corners[k] + round4((dm_rng_uniform(r) * 0.2 - 0.1) * (k % 2 ? Hh : W));
    double H[9];
    DM_TRY(dm_aug_homography(corners, src, H, err));
    dm_aug_image out;
    DM_TRY(dm_aug_image_alloc(&out, cur->w, cur->h, err));
    dm_aug_warp(cur, H, &out);
    dm_aug_image_free(cur);
    *cur = out;
    cJSON *a = cJSON_AddArrayToObject(f, "perspective"); /* where the output's corners come from */
    for (int k = 0; k < 8; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(src[k]));
    return DM_OK;
}

static void do_occlude(dm_aug_image *cur, dm_rng *r, cJSON *f) {
    int w = (int)(cur->w * (0.1 + 0.2 * dm_rng_uniform(r))),
        h = (int)(cur->h * (0.1 + 0.2 * dm_rng_uniform(r)));
    if (w < 1) w = 1;
    if (h < 1) h = 1;
    int x = rand_int(r, cur->w - w + 1), y = rand_int(r, cur->h - h + 1);
    bool noise = dm_rng_uniform(r) < 0.5;
    dm_aug_occlude(cur, x, y, w, h, noise ? r : NULL);
    cJSON *o = cJSON_AddObjectToObject(f, "occlude");
    cJSON_AddNumberToObject(o, "x", x);
    cJSON_AddNumberToObject(o, "y", y);
    cJSON_AddNumberToObject(o, "w", w);
    cJSON_AddNumberToObject(o, "h", h);
    cJSON_AddStringToObject(o, "fill", noise ? "noise" : "grey");
}

/* Builds copy k of source sample i into *out (from base, the loaded source sample). */
static dm_status make_copy(const aug_source *s, const dm_augment_opts *o, int i, int k,
                           const dm_aug_image *base, dm_aug_image *out, cJSON *f, dm_error *err) {
    dm_rng r;
    dm_rng_seed(&r, dm_seed_mix(dm_seed_mix(o->seed, (uint64_t)i), (uint64_t)k));
    int enabled[N_OPS], n_en = 0;
    for (int t = 0; t < N_OPS; t++)
        if (o->ops & OPS[t].bit) enabled[n_en++] = t;
    unsigned apply = OPS[enabled[k % n_en]].bit;
    for (int t = 2; t < N_OPS; t++) /* perspective, occlude, blur: coin flips drawn first, always */
        if (dm_rng_uniform(&r) < 0.25 && (o->ops & OPS[t].bit)) apply |= OPS[t].bit;

    DM_TRY(copy_image(base, out, err));
    cJSON_AddStringToObject(f, "source", s->m.v[i].name);
    cJSON *ops = cJSON_AddArrayToObject(f, "ops");
    dm_status st = DM_OK;
    for (int t = 0; t < N_OPS && st == DM_OK; t++) {
        if (!(apply & OPS[t].bit)) continue;
        cJSON_AddItemToArray(ops, cJSON_CreateString(OPS[t].name));
        switch (OPS[t].bit) {
        case DM_AUG_MOSAIC:
            st = do_mosaic(s, i, &r, out, f, err);
            break;
        case DM_AUG_PASTE:
            st = do_paste(s, i, &r, out, f, err);
            break;
        case DM_AUG_PERSPECTIVE:
            st = do_perspective(out, &r, f, err);
            break;
        case DM_AUG_OCCLUDE:
            do_occlude(out, &r, f);
            break;
        case DM_AUG_BLUR: {
            double sigma =
                round4((0.5 + dm_rng_uniform(&r)) * fmax(1.0, fmin(out->w, out->h) / 256.0));
            cJSON_AddNumberToObject(f, "blur_sigma", sigma);
            st = dm_aug_blur(out, sigma, err);
            break;
        }
        }
    }
    if (st != DM_OK) dm_aug_image_free(out);
    return st;
}

/* OUT/config.json: what was run on which source. */
static dm_status make_config(const char *src_dir, const char *abs_src, const dm_augment_opts *o,
                             char **out, dm_error *err) {
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/config.json", src_dir);
    if (!dm_file_exists(path))
        return dm_fail(err, "%s: not a diffumask dataset (no config.json)", src_dir);
    cJSON *src_cfg;
    DM_TRY(dm_json_load_object(path, &src_cfg, err));
    cJSON *cfg = cJSON_CreateObject(), *aug = cJSON_AddObjectToObject(cfg, "augment");
    cJSON_AddStringToObject(aug, "source", abs_src);
    if (o->seed <= (1ull << 53))
        cJSON_AddNumberToObject(aug, "seed", (double)o->seed);
    else {
        char s[32];
        snprintf(s, sizeof s, "%llu", (unsigned long long)o->seed);
        cJSON_AddStringToObject(aug, "seed", s);
    }
    cJSON_AddNumberToObject(aug, "copies", o->copies);
    cJSON *ops = cJSON_AddArrayToObject(aug, "ops");
    for (int t = 0; t < N_OPS; t++)
        if (o->ops & OPS[t].bit) cJSON_AddItemToArray(ops, cJSON_CreateString(OPS[t].name));
    cJSON_AddItemToObject(cfg, "source_config", src_cfg);
    *out = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    return *out ? DM_OK : dm_fail(err, "%s: out of memory", src_dir);
}

dm_status dm_augment_dataset(const char *src_dir, const char *out_dir, const dm_augment_opts *o,
                             dm_augment_stats *stats, dm_error *err) {
    memset(stats, 0, sizeof *stats);
    if (o->copies < 1 || o->copies > 10000)
        return dm_fail_code(err, DM_EUSAGE, "augment: --copies %d (1..10000)", o->copies);
    if (!(o->ops & DM_AUG_ALL))
        return dm_fail_code(err, DM_EUSAGE, "augment: no operation selected");
    char abs_src[PATH_CAP], abs_out[PATH_CAP];
    if (!realpath(src_dir, abs_src)) return dm_fail(err, "%s: no such dataset folder", src_dir);
    if (realpath(out_dir, abs_out) && !strcmp(abs_src, abs_out))
        return dm_fail_code(err, DM_EUSAGE, "%s: --out must be a new folder, not the source",
                            out_dir);

    char *config = NULL, **labels = NULL;
    int n_labels = 0;
    aug_source s = {src_dir, {0}, 0};
    dm_dataset *ds = NULL;
    dm_status st = make_config(src_dir, abs_src, o, &config, err);
    if (st == DM_OK) st = dm_read_labels(src_dir, &labels, &n_labels, err);
    if (st == DM_OK) st = dm_manifest_load(src_dir, &s.m, err);
    if (st == DM_OK) {
        dm_manifest_sort(&s.m);
        s.n_classes = n_labels - 1;
        stats->sources = s.m.n;
        const char *ext = "png";
        if (s.m.n) {
            const char *img = cJSON_GetObjectItemCaseSensitive(s.m.v[0].json, "image")->valuestring;
            const char *dot = strrchr(img, '.');
            if (dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))) ext = "jpg";
        }
        st = dm_dataset_open(out_dir, config, (const char *const *)labels + 1, n_labels - 1, ext,
                             &ds, err);
    }
    for (int i = 0; i < s.m.n && st == DM_OK; i++) {
        dm_aug_image base = {0};
        for (int k = 0; k < o->copies && st == DM_OK; k++) {
            char name[512];
            snprintf(name, sizeof name, "%s_aug%d", s.m.v[i].name, k);
            if (dm_dataset_has(ds, name)) {
                stats->skipped++;
                continue;
            }
            if (!base.rgb && (st = load_entry(&s, i, &base, err)) != DM_OK) break;
            dm_aug_image im;
            cJSON *f = cJSON_CreateObject();
            if (!f) st = dm_fail(err, "%s: out of memory", out_dir);
            if (st == DM_OK && (st = make_copy(&s, o, i, k, &base, &im, f, err)) == DM_OK) {
                dm_sample smp = {name, im.rgb, im.mask, NULL, im.w, im.h, f, NULL};
                st = dm_dataset_add(ds, &smp, err);
                if (st == DM_OK) stats->written++;
                dm_aug_image_free(&im);
            }
            cJSON_Delete(f);
        }
        dm_aug_image_free(&base);
    }
    if (st == DM_OK) st = dm_dataset_finish(ds, err);
    dm_dataset_close(ds);
    dm_manifest_free(&s.m);
    dm_free_lines(labels, n_labels);
    free(config);
    return st;
}
