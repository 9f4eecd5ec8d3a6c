#include "io/image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h> /* before jpeglib.h, which uses FILE */
#include <jpeglib.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/file.h"

/* Refuse sizes whose byte counts could overflow an int or eat all memory: 32768 x 32768 max. */
#define DM_IMG_MAX_SIDE 32768

static dm_status check_size(const char *path, int w, int h, dm_error *err) {
    if (w <= 0 || h <= 0 || w > DM_IMG_MAX_SIDE || h > DM_IMG_MAX_SIDE)
        return dm_fail(err, "%s: bad image size %dx%d (1..%d per side)", path, w, h,
                       DM_IMG_MAX_SIDE);
    return DM_OK;
}

void dm_voc_palette(uint8_t pal[256 * 3]) {
    for (int i = 0; i < 256; i++) {
        int r = 0, g = 0, b = 0, c = i;
        /* Bits 0,1,2 of the index go to the top bit of R,G,B, bits 3,4,5 to the next, ... */
        for (int j = 0; j < 8; j++) {
            r |= ((c >> 0) & 1) << (7 - j);
            g |= ((c >> 1) & 1) << (7 - j);
            b |= ((c >> 2) & 1) << (7 - j);
            c >>= 3;
        }
        pal[3 * i + 0] = (uint8_t)r;
        pal[3 * i + 1] = (uint8_t)g;
        pal[3 * i + 2] = (uint8_t)b;
    }
}

/* ---------------------------------------------------------------- PNG */

/* libpng reports errors by calling this and expecting a longjmp; we keep its message. */
typedef struct {
    char msg[256];
} png_err_ctx;

static void png_on_error(png_structp png, png_const_charp msg) {
    png_err_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg; /* warnings (e.g. a bad optional chunk) do not stop a read */
}

static dm_status png_write(const char *path, const uint8_t *pix, int w, int h, int color_type,
                           const uint8_t *pal, dm_error *err) {
    DM_TRY(check_size(path, w, h, err));
    int channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : 1;
    dm_atomic_file af;
    DM_TRY(dm_atomic_open(&af, path, err));
    png_err_ctx ctx = {{0}};
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        dm_atomic_abort(&af);
        return dm_fail(err, "%s: out of memory starting the PNG writer", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        dm_atomic_abort(&af);
        return dm_fail(err, "%s: PNG write failed: %s", path, ctx.msg);
    }
    png_init_io(png, af.fp);
    /* Fixed settings so the same pixels give the same bytes on every run. */
    png_set_compression_level(png, 6);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color colors[256];
        for (int i = 0; i < 256; i++) {
            colors[i].red = pal[3 * i];
            colors[i].green = pal[3 * i + 1];
            colors[i].blue = pal[3 * i + 2];
        }
        png_set_PLTE(png, info, colors, 256);
    }
    png_write_info(png, info);
    for (int y = 0; y < h; y++)
        png_write_row(png, (png_const_bytep)(pix + (size_t)y * w * channels));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return dm_atomic_commit(&af, err);
}

dm_status dm_png_write_rgb(const char *path, const uint8_t *rgb, int w, int h, dm_error *err) {
    return png_write(path, rgb, w, h, PNG_COLOR_TYPE_RGB, NULL, err);
}

dm_status dm_png_write_gray(const char *path, const uint8_t *gray, int w, int h, dm_error *err) {
    return png_write(path, gray, w, h, PNG_COLOR_TYPE_GRAY, NULL, err);
}

dm_status dm_png_write_palette(const char *path, const uint8_t *idx, int w, int h,
                               const uint8_t pal[256 * 3], dm_error *err) {
    return png_write(path, idx, w, h, PNG_COLOR_TYPE_PALETTE, pal, err);
}

dm_status dm_png_read(const char *path, int channels, uint8_t **pix, int *w, int *h,
                      dm_error *err) {
    *pix = NULL;
    if (channels != 1 && channels != 3) return dm_fail(err, "%s: channels must be 1 or 3", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return dm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8];
    if (fread(sig, 1, 8, fp) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(fp);
        return dm_fail(err, "%s: not a PNG file", path);
    }
    png_err_ctx ctx = {{0}};
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(fp);
        return dm_fail(err, "%s: out of memory starting the PNG reader", path);
    }
    /* Written after setjmp, read after a longjmp: must be volatile. */
    uint8_t *volatile out = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        free(out);
        free(rows);
        return dm_fail(err, "%s: bad PNG: %s", path, ctx.msg);
    }
    png_init_io(png, fp);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    int pw = (int)png_get_image_width(png, info), ph = (int)png_get_image_height(png, info);
    int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    const char *why = NULL;
    if (check_size(path, pw, ph, err) != DM_OK)
        why = "size";
    else if (channels == 3) {
        if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
        if (ct == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
        if (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        if (depth == 16) png_set_strip_16(png);
        if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    } else {
        /* A label image: keep the stored values, never map them through the palette. */
        if (ct & PNG_COLOR_MASK_COLOR && ct != PNG_COLOR_TYPE_PALETTE)
            why = "an RGB PNG, not an indexed or gray mask";
        else if (depth == 16)
            why = "a 16-bit PNG, expected 8-bit mask values";
        else {
            if (depth < 8) png_set_packing(png);
            if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
        }
    }
    if (why) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        if (strcmp(why, "size")) dm_fail(err, "%s: is %s", path, why);
        return DM_ERR;
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if ((int)png_get_rowbytes(png, info) != pw * channels) {
        png_destroy_read_struct(&png, &info, NULL);
        fclose(fp);
        return dm_fail(err, "%s: unsupported PNG layout (colour type %d, depth %d)", path, ct,
                       depth);
    }
    out = malloc((size_t)pw * ph * channels);
    rows = malloc(sizeof(png_bytep) * (size_t)ph);
    if (!out || !rows) png_error(png, "out of memory");
    for (int y = 0; y < ph; y++) rows[y] = out + (size_t)y * pw * channels;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(fp);
    free(rows);
    *pix = out;
    *w = pw;
    *h = ph;
    return DM_OK;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jmp;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err_ctx;

static void jpeg_on_error(j_common_ptr cinfo) {
    jpeg_err_ctx *ctx = (jpeg_err_ctx *)cinfo->err;
    ctx->pub.format_message(cinfo, ctx->msg);
    longjmp(ctx->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo) {
    (void)cinfo; /* libjpeg warnings: not ours to print */
}

/* Compresses rgb (h, w, 3) into c, whose destination is set. libjpeg errors longjmp out of here
 * to the caller's setjmp. */
static void jpeg_compress_rgb(struct jpeg_compress_struct *c, const uint8_t *rgb, int w, int h,
                              int quality) {
    c->image_width = (JDIMENSION)w;
    c->image_height = (JDIMENSION)h;
    c->input_components = 3;
    c->in_color_space = JCS_RGB;
    jpeg_set_defaults(c);
    jpeg_set_quality(c, quality ? quality : DM_JPEG_QUALITY_DEFAULT, TRUE);
    jpeg_start_compress(c, TRUE);
    while (c->next_scanline < c->image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)c->next_scanline * w * 3);
        jpeg_write_scanlines(c, &row, 1);
    }
    jpeg_finish_compress(c);
}

dm_status dm_jpeg_write_rgb(const char *path, const uint8_t *rgb, int w, int h, int quality,
                            dm_error *err) {
    DM_TRY(check_size(path, w, h, err));
    if (quality < 0 || quality > 100)
        return dm_fail(err, "%s: JPEG quality %d not in 1..100", path, quality);
    /* encoded in memory, then written under a temporary name and renamed */
    uint8_t *jpg;
    size_t len;
    if (dm_jpeg_encode_rgb(rgb, w, h, quality, &jpg, &len, err)) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return dm_fail(err, "%s: %s", path, why);
    }
    dm_status s = dm_write_file_atomic(path, jpg, len, err);
    free(jpg);
    return s;
}

dm_status dm_jpeg_encode_rgb(const uint8_t *rgb, int w, int h, int quality, uint8_t **out,
                             size_t *len, dm_error *err) {
    *out = NULL;
    *len = 0;
    DM_TRY(check_size("(in memory)", w, h, err));
    /* libjpeg grows this buffer itself (malloc/free); kept in a struct so the pointer it
     * writes survives the longjmp of an error */
    struct {
        unsigned char *buf;
        unsigned long size;
    } mem = {NULL, 0};
    struct jpeg_compress_struct c;
    jpeg_err_ctx ctx;
    c.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error;
    ctx.pub.output_message = jpeg_on_message;
    if (setjmp(ctx.jmp)) {
        jpeg_destroy_compress(&c);
        free(mem.buf);
        return dm_fail(err, "JPEG encoding failed: %s", ctx.msg);
    }
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem.buf, &mem.size);
    jpeg_compress_rgb(&c, rgb, w, h, quality);
    jpeg_destroy_compress(&c);
    *out = mem.buf;
    *len = mem.size;
    return DM_OK;
}

dm_status dm_jpeg_read(const char *path, int channels, uint8_t **pix, int *w, int *h,
                       dm_error *err) {
    *pix = NULL;
    if (channels != 1 && channels != 3) return dm_fail(err, "%s: channels must be 1 or 3", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return dm_fail(err, "%s: cannot open: %s", path, strerror(errno));
    struct jpeg_decompress_struct d;
    jpeg_err_ctx ctx;
    d.err = jpeg_std_error(&ctx.pub);
    ctx.pub.error_exit = jpeg_on_error;
    ctx.pub.output_message = jpeg_on_message;
    uint8_t *volatile out = NULL;
    if (setjmp(ctx.jmp)) {
        jpeg_destroy_decompress(&d);
        fclose(fp);
        free(out);
        return dm_fail(err, "%s: bad JPEG: %s", path, ctx.msg);
    }
    jpeg_create_decompress(&d);
    jpeg_stdio_src(&d, fp);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
    jpeg_start_decompress(&d);
    int jw = (int)d.output_width, jh = (int)d.output_height;
    if (check_size(path, jw, jh, err) != DM_OK || d.output_components != channels) {
        jpeg_destroy_decompress(&d);
        fclose(fp);
        if (d.output_components != channels)
            dm_fail(err, "%s: unsupported JPEG colour layout", path);
        return DM_ERR;
    }
    out = malloc((size_t)jw * jh * channels);
    if (!out) {
        jpeg_destroy_decompress(&d);
        fclose(fp);
        return dm_fail(err, "%s: out of memory for %dx%d pixels", path, jw, jh);
    }
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = out + (size_t)d.output_scanline * jw * channels;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    fclose(fp);
    *pix = out;
    *w = jw;
    *h = jh;
    return DM_OK;
}

dm_status dm_image_read(const char *path, int channels, uint8_t **pix, int *w, int *h,
                        dm_error *err) {
    const char *dot = strrchr(path, '.');
    if (dot && !strcasecmp(dot, ".png")) return dm_png_read(path, channels, pix, w, h, err);
    if (dot && (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")))
        return dm_jpeg_read(path, channels, pix, w, h, err);
    *pix = NULL;
    return dm_fail(err, "%s: unknown image type (expected .png, .jpg or .jpeg)", path);
}
