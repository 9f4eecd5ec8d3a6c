/* Convolution as one GEMM per image: im2col into caller scratch, then
 * y[O, Ho*Wo] = w[O, C*k*k] · cols[C*k*k, Ho*Wo]. 1x1 stride-1 convs skip im2col. */
#include <string.h>

#include "ops/ops.h"

size_t dm_conv2d_scratch(int C, int H, int W, int k, int stride, int pad) {
    if (k == 1 && stride == 1 && pad == 0) return 0;
    size_t Ho = (size_t)dm_conv_out(H, k, stride, pad), Wo = (size_t)dm_conv_out(W, k, stride, pad);
    return (size_t)C * k * k * Ho * Wo;
}

static void im2col(const float *x, int C, int H, int W, int k, int stride, int pad, int Ho, int Wo,
                   float *cols) {
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)C * Ho * Wo * k * k > 65536)
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = cols + (((size_t)c * k + ky) * k + kx) * Ho * Wo;
                const float *xc = x + (size_t)c * H * W;
                for (int oy = 0; oy < Ho; oy++) {
                    int iy = oy * stride - pad + ky;
                    float *r = row + (size_t)oy * Wo;
                    if (iy < 0 || iy >= H) {
                        memset(r, 0, sizeof(float) * Wo);
                        continue;
                    }
                    const float *xr = xc + (size_t)iy * W;
                    if (stride == 1) {
                        int ox0 = pad - kx > 0 ? pad - kx : 0;
                        int ox1 = W + pad - kx < Wo ? W + pad - kx : Wo;
                        for (int ox = 0; ox < ox0; ox++) r[ox] = 0;
                        if (ox1 > ox0) memcpy(r + ox0, xr + ox0 - pad + kx, sizeof(float) * (ox1 - ox0));
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
    const float *cols = x;
    if (!(k == 1 && stride == 1 && pad == 0)) {
        im2col(x, C, H, W, k, stride, pad, Ho, Wo, scratch);
        cols = scratch;
    }
    int K = C * k * k;
    dm_sgemm(0, 0, O, (int)HWo, K, 1.0f, w, K, cols, (int)HWo, accumulate ? 1.0f : 0.0f, y, (int)HWo);
    if (b) {
#pragma omp parallel for schedule(static) if ((size_t)O * HWo > 65536)
        for (int o = 0; o < O; o++) {
            float *yo = y + (size_t)o * HWo, bo = b[o];
            for (size_t i = 0; i < HWo; i++) yo[i] += bo;
        }
    }
}
