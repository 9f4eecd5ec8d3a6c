#include <string.h>

#include "ops/ops.h"

static void add_bias_rows(float *y, int M, int N, const float *b) {
    if (!b) return;
#pragma omp parallel for schedule(static) if ((size_t)M * N > 65536)
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) y[(size_t)i * N + j] += b[j];
}

void dm_linear(const float *x, int M, int K, const float *W, const float *b, int N, float *y) {
    dm_sgemm(0, 1, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    add_bias_rows(y, M, N, b);
}

void dm_linear_acc(const float *x, int M, int K, const float *W, const float *b, int N, float *y) {
    dm_sgemm(0, 1, M, N, K, 1.0f, x, K, W, K, 1.0f, y, N);
    add_bias_rows(y, M, N, b);
}

void dm_linear_from_chw(const float *x, int C, int HW, const float *W, const float *b, int N,
                        float *y) {
    dm_sgemm(1, 1, HW, N, C, 1.0f, x, HW, W, C, 0.0f, y, N);
    add_bias_rows(y, HW, N, b);
}

void dm_add_channel_bias(float *y, int C, int HW, const float *b) {
    if (!b) return;
#pragma omp parallel for schedule(static) if ((size_t)C * HW > 65536)
    for (int c = 0; c < C; c++)
        for (int i = 0; i < HW; i++) y[(size_t)c * HW + i] += b[c];
}

void dm_linear_to_chw_acc(const float *h, int HW, int K, const float *W, const float *b, int N,
                          float *y) {
    /* y[N, HW] += W[N, K] · h[HW, K]ᵀ */
    dm_sgemm(0, 1, N, HW, K, 1.0f, W, K, h, K, 1.0f, y, HW);
    dm_add_channel_bias(y, N, HW, b);
}
