#include <math.h>
#include <string.h>

#include "ops/ops.h"

enum { BLOCK = 256 };

/* Σ x[i] and Σ (x[i] - m)², in blocks of BLOCK summed in float across SIMD lanes, the blocks'
 * sums in double: one double chain over every value was latency-bound (4 cycles a value), and
 * a float chain over a whole 64x64 map would lose the goldens' ~1e-6. */
static double sum_of(const float *x, size_t n) {
    double total = 0;
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t e = b + BLOCK < n ? b + BLOCK : n;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = b; i < e; i++) s += x[i];
        total += s;
    }
    return total;
}

/* the squares in double lanes: a diverged map's (x - m)² must not overflow a float */
static double squares_about(const float *x, size_t n, float m) {
    double total = 0;
    for (size_t b = 0; b < n; b += BLOCK) {
        size_t e = b + BLOCK < n ? b + BLOCK : n;
        double s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = b; i < e; i++) {
            double d = (double)x[i] - m;
            s += d * d;
        }
        total += s;
    }
    return total;
}

/* mean and 1/sqrt(var + eps) of n values, in two passes */
static void moments(const float *x, size_t n, float eps, float *mean, float *inv) {
    double m = sum_of(x, n) / n, var = squares_about(x, n, (float)m);
    *mean = (float)m, *inv = (float)(1.0 / sqrt(var / n + eps));
}

/* y = x·a + b, then SiLU when silu: the per-channel step of a group norm and of dm_conv_pre */
static void affine(const float *x, size_t n, float a, float b, int silu, float *y) {
    if (silu)
        for (size_t i = 0; i < n; i++) {
            float v = x[i] * a + b;
            y[i] = v / (1.0f + expf(-v));
        }
    else
        for (size_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

void dm_group_norm_coeffs(const float *x, int C, int HW, int groups, float eps, const float *gamma,
                          const float *beta, float *scale, float *shift) {
    int cpg = C / groups;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < groups; g++) {
        float m, inv;
        moments(x + (size_t)g * cpg * HW, (size_t)cpg * HW, eps, &m, &inv);
        for (int c = g * cpg; c < (g + 1) * cpg; c++) {
            scale[c] = gamma ? gamma[c] * inv : inv;
            shift[c] = (beta ? beta[c] : 0.0f) - m * scale[c];
        }
    }
}

void dm_group_norm(const float *x, int C, int HW, int groups, float eps, const float *gamma,
                   const float *beta, int silu, float *y) {
    int cpg = C / groups;
#pragma omp parallel for schedule(static)
    for (int g = 0; g < groups; g++) {
        float m, inv;
        moments(x + (size_t)g * cpg * HW, (size_t)cpg * HW, eps, &m, &inv);
        for (int c = g * cpg; c < (g + 1) * cpg; c++) {
            float a = gamma ? gamma[c] * inv : inv, b = (beta ? beta[c] : 0.0f) - m * a;
            affine(x + (size_t)c * HW, (size_t)HW, a, b, silu, y + (size_t)c * HW);
        }
    }
}

void dm_conv_pre_apply(const float *x, const dm_conv_pre *pre, int C, int H, int W, float *y) {
    int up = pre->up > 1 ? pre->up : 1, Hs = H / up, Ws = W / up;
    /* a pure repeat copies the values as they are (x·1 + 0 would turn -0 into +0) */
    if (!pre->scale && !pre->shift && !pre->silu && up <= 2) {
        if (up == 2)
            dm_upsample_nearest2x(x, C, Hs, Ws, y);
        else if (y != x)
            memcpy(y, x, sizeof(float) * (size_t)C * H * W);
        return;
    }
#pragma omp parallel for schedule(static) if ((size_t)C * H * W > 32768)
    for (int c = 0; c < C; c++) {
        float a = pre->scale ? pre->scale[c] : 1.0f, b = pre->shift ? pre->shift[c] : 0.0f;
        const float *xc = x + (size_t)c * Hs * Ws;
        float *yc = y + (size_t)c * H * W;
        if (up == 1) {
            affine(xc, (size_t)H * W, a, b, pre->silu, yc);
            continue;
        }
        for (int yy = 0; yy < H; yy++)
            for (int xx = 0; xx < W; xx++) {
                float v = xc[(size_t)(yy / up) * Ws + xx / up] * a + b;
                yc[(size_t)yy * W + xx] = pre->silu ? v / (1.0f + expf(-v)) : v;
            }
    }
}

void dm_layer_norm(const float *x, int rows, int dim, float eps, const float *gamma,
                   const float *beta, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * dim > 32768)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * dim;
        float *yr = y + (size_t)r * dim;
        float m, inv;
        moments(xr, (size_t)dim, eps, &m, &inv);
        for (int i = 0; i < dim; i++) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
    }
}
