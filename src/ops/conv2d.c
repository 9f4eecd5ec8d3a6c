/* Convolution as GEMM: im2col into caller scratch, then
 * y[O, Ho*Wo] = w[O, C*k*k] · cols[C*k*k, Ho*Wo]. 1x1 stride-1 convs skip im2col.
 * Large images go in bands of output rows so the im2col buffer stays bounded (a 512x512 VAE
 * layer would need 1.2 GB at once); each band is one GEMM wide enough to run at full speed. */
#include <string.h>

#include "ops/dnnl_ops.h"
#include "ops/ops.h"

/* im2col floats per band: 16M (64 MB) keeps SD's 64x64 UNet layers in one band */
#define BAND_FLOATS ((size_t)16 << 20)

/* Output rows per band. */
static int band_rows(int C, int k, int Ho, int Wo) {
    size_t per_row = (size_t)C * k * k * Wo, rows = BAND_FLOATS / (per_row ? per_row : 1);
    if (rows < 1) rows = 1;
    return rows > (size_t)Ho ? Ho : (int)rows;
}

size_t dm_conv2d_scratch(int C, int H, int W, int k, int stride, int pad) {
    if (k == 1 && stride == 1 && pad == 0) return 0;
    int Ho = dm_conv_out(H, k, stride, pad), Wo = dm_conv_out(W, k, stride, pad);
    return (size_t)C * k * k * (size_t)band_rows(C, k, Ho, Wo) * Wo;
}

/* cols[C*k*k, (oy1-oy0)*Wo] for output rows [oy0, oy1) */
static void im2col(const float *x, int C, int H, int W, int k, int stride, int pad, int oy0,
                   int oy1, int Wo, float *cols) {
    int R = oy1 - oy0;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)C * R * Wo * k * k > 65536)
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = cols + (((size_t)c * k + ky) * k + kx) * R * Wo;
                const float *xc = x + (size_t)c * H * W;
                for (int oy = oy0; oy < oy1; oy++) {
                    int iy = oy * stride - pad + ky;
                    float *r = row + (size_t)(oy - oy0) * Wo;
                    if (iy < 0 || iy >= H) {
                        memset(r, 0, sizeof(float) * Wo);
                        continue;
                    }
                    const float *xr = xc + (size_t)iy * W;
                    if (stride == 1) {
                        int ox0 = pad - kx > 0 ? pad - kx : 0;
                        int ox1 = W + pad - kx < Wo ? W + pad - kx : Wo;
                        for (int ox = 0; ox < ox0; ox++) r[ox] = 0;
                        if (ox1 > ox0)
                            memcpy(r + ox0, xr + ox0 - pad + kx, sizeof(float) * (ox1 - ox0));
                        for (int ox = ox1 > ox0 ? ox1 : ox0; ox < Wo; ox++) r[ox] = 0;
                    } else {
                        for (int ox = 0; ox < Wo; ox++) {
                            int ix = ox * stride - pad + kx;
                            r[ox] = (ix >= 0 && ix < W) ? xr[ix] : 0.0f;
                        }
                    }
                }
            }
}

void dm_conv2d(const float *x, int C, int H, int W, const float *w, const float *b, int O, int k,
               int stride, int pad, float *y, float *scratch, int accumulate) {
    int Ho = dm_conv_out(H, k, stride, pad), Wo = dm_conv_out(W, k, stride, pad);
    size_t HWo = (size_t)Ho * Wo;
    int K = C * k * k;
    if (k == 1 && stride == 1 && pad == 0) {
        dm_sgemm(0, 0, O, (int)HWo, K, 1.0f, w, K, x, (int)HWo, accumulate ? 1.0f : 0.0f, y,
                 (int)HWo);
    } else {
        int R = band_rows(C, k, Ho, Wo);
        for (int oy0 = 0; oy0 < Ho; oy0 += R) {
            int oy1 = oy0 + R < Ho ? oy0 + R : Ho, N = (oy1 - oy0) * Wo;
            im2col(x, C, H, W, k, stride, pad, oy0, oy1, Wo, scratch);
            /* y[:, band] = w · cols, written in place inside the full output rows */
            dm_sgemm(0, 0, O, N, K, 1.0f, w, K, scratch, N, accumulate ? 1.0f : 0.0f,
                     y + (size_t)oy0 * Wo, (int)HWo);
        }
    }
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)O * HWo > 65536)
        for (int o = 0; o < O; o++) {
            float *yo = y + (size_t)o * HWo, bo = b[o];
            for (size_t i = 0; i < HWo; i++) yo[i] += bo;
        }
    }
}

void dm_conv2d_w(const float *x, int C, int H, int W, dm_w w, const float *b, int O, int k,
                 int stride, int pad, float *y, float *scratch, int accumulate, float *wscratch) {
    /* bf16: stride-1 convs in bands (big maps never get whole-size bf16 / f32 copies); the
     * others (downsamplers), or where bands cannot run, whole */
    static const dm_conv_pre same = {NULL, NULL, 0, 1};
    if (w.prep && stride == 1 &&
        !dm_dnnl_conv2d_pre(w.prep, x, &same, C, H, W, b, O, k, pad, y, accumulate))
        return;
    if (w.prep && !dm_dnnl_conv2d(w.prep, x, C, H, W, b, O, k, stride, pad, y, accumulate)) return;
    /* no prep, or oneDNN could not make the primitive: fp32 (wscratch/scratch were sized for
     * this) */
    dm_conv2d(x, C, H, W, dm_w_f32(w, (size_t)O * C * k * k, wscratch), b, O, k, stride, pad, y,
              scratch, accumulate);
}

void dm_conv2d_pre_w(const float *x, const dm_conv_pre *pre, int C, int H, int W, dm_w w,
                     const float *b, int O, int k, int pad, float *y, float *scratch,
                     int accumulate, float *wscratch, float *tmp) {
    if (w.prep && !dm_dnnl_conv2d_pre(w.prep, x, pre, C, H, W, b, O, k, pad, y, accumulate)) return;
    dm_conv_pre_apply(x, pre, C, H, W, tmp);
    dm_conv2d_w(tmp, C, H, W, w, b, O, k, 1, pad, y, scratch, accumulate, wscratch);
}

int dm_conv1x1_inplace_rows(int C, int O, int H, int W) {
    /* bands of about 16 MB of input + output */
    size_t row = (size_t)(C + O) * W * sizeof(float);
    return dm_divisor_at_most(H, (int)((16u << 20) / (row ? row : 1)));
}

size_t dm_conv1x1_inplace_scratch(int C, int O, int R, int W) {
    return (size_t)(C + O) * R * W;
}

void dm_conv1x1_inplace_w(float *x, int C, int H, int W, dm_w w, const float *b, int O, int R,
                          float *scratch, float *wscratch) {
    size_t HW = (size_t)H * W, n = (size_t)R * W;
    float *in = scratch, *out = scratch + (size_t)C * n;
    for (int r0 = 0; r0 < H; r0 += R) {
        size_t at = (size_t)r0 * W;
        for (int c = 0; c < C; c++) memcpy(in + c * n, x + c * HW + at, n * sizeof(float));
        dm_conv2d_w(in, C, R, W, w, b, O, 1, 1, 0, out, NULL, 0, wscratch);
        for (int o = 0; o < O; o++) memcpy(x + o * HW + at, out + o * n, n * sizeof(float));
    }
}
