#include <math.h>
#include <string.h>

#include "ops/ops.h"

#define PAR_IF(n) if ((n) > 32768)

void dm_silu(float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void dm_gelu(float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

void dm_quick_gelu(float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

void dm_geglu(const float *h, int T, int F, float *out) {
#pragma omp parallel for schedule(static) PAR_IF((size_t)T *F)
    for (int t = 0; t < T; t++) {
        const float *a = h + (size_t)t * 2 * F, *g = a + F;
        float *o = out + (size_t)t * F;
        for (int i = 0; i < F; i++)
            o[i] = a[i] * (0.5f * g[i] * (1.0f + erff(g[i] * (float)M_SQRT1_2)));
    }
}

void dm_add(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void dm_upsample_nearest2x(const float *x, int C, int H, int W, float *y) {
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((size_t)C *H *W)
    for (int c = 0; c < C; c++)
        for (int yy = 0; yy < 2 * H; yy++) {
            const float *xr = x + ((size_t)c * H + yy / 2) * W;
            float *yr = y + ((size_t)c * 2 * H + yy) * 2 * W;
            for (int xx = 0; xx < W; xx++) yr[2 * xx] = yr[2 * xx + 1] = xr[xx];
        }
}

void dm_resize_nearest(const float *x, int C, int H, int W, int Ho, int Wo, float *y) {
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((size_t)C *Ho *Wo)
    for (int c = 0; c < C; c++)
        for (int oy = 0; oy < Ho; oy++) {
            int iy = (int)((float)oy * ((float)H / (float)Ho));
            if (iy >= H) iy = H - 1;
            const float *xr = x + ((size_t)c * H + iy) * W;
            float *yr = y + ((size_t)c * Ho + oy) * Wo;
            for (int ox = 0; ox < Wo; ox++) {
                int ix = (int)((float)ox * ((float)W / (float)Wo));
                yr[ox] = xr[ix < W ? ix : W - 1];
            }
        }
}
