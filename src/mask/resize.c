/* Bilinear resize, PyTorch F.interpolate(mode="bilinear", align_corners=False) semantics.
 *
 * For an axis of length in resized to out, output index o reads source coordinate
 *     c = (o + 0.5) * (in / out) - 0.5         (pixel centres line up)
 * clamped below at 0 (PyTorch clamps negative coordinates for linear modes); i0 = floor(c),
 * i1 = min(i0 + 1, in - 1) (edge replication), lambda = c - i0, value = (1-lambda) x[i0] + lambda
 * x[i1]. The 2-D result applies this along rows and columns (the bilinear weights are separable).
 */
#include "mask/resize.h"

/* Source index and weight of one output coordinate along one axis. */
static void axis_coord(int o, int in, int out, int *i0, int *i1, float *lambda) {
    float scale = (float)in / (float)out;
    float c = ((float)o + 0.5f) * scale - 0.5f;
    if (c < 0) c = 0;
    int i = (int)c;
    if (i > in - 1) i = in - 1;
    *i0 = i;
    *i1 = i < in - 1 ? i + 1 : i;
    *lambda = c - (float)i;
}

void dm_resize_bilinear(const float *src, int h, int w, float *dst, int H, int W) {
    for (int y = 0; y < H; y++) {
        int y0, y1;
        float ly;
        axis_coord(y, h, H, &y0, &y1, &ly);
        const float *r0 = src + (long)y0 * w, *r1 = src + (long)y1 * w;
        float *d = dst + (long)y * W;
        for (int x = 0; x < W; x++) {
            int x0, x1;
            float lx;
            axis_coord(x, w, W, &x0, &x1, &lx);
            /* same association as PyTorch's kernel: h0lambda*(w0lambda*a + w1lambda*b) + ... */
            d[x] = (1 - ly) * ((1 - lx) * r0[x0] + lx * r0[x1]) +
                   ly * ((1 - lx) * r1[x0] + lx * r1[x1]);
        }
    }
}
