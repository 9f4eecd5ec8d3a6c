/* Linear layers y = x Wᵀ + b (torch.nn.Linear) on the tensor layouts the networks use: token-major
 * rows, CHW maps in or out, with or without accumulating into y; the dm_w variants run a prepared
 * bf16 weight through oneDNN and otherwise view the stored weight as f32 (wview.c). */
#include <string.h>

#include "ops/dnnl_ops.h"
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

/* ------------------------------------------------------------------ dm_w weights: bf16 through
 * oneDNN where prepared, else f32 (wview.c) */

void dm_linear_w(const float *x, int M, int K, dm_w W, const float *b, int N, float *y,
                 float *wscratch) {
    if (W.prep && !dm_dnnl_linear(W.prep, x, M, K, b, N, y, 0, 0, 0)) return;
    dm_linear(x, M, K, dm_w_f32(W, (size_t)N * K, wscratch), b, N, y);
}

void dm_linear_acc_w(const float *x, int M, int K, dm_w W, const float *b, int N, float *y,
                     float *wscratch) {
    if (W.prep && !dm_dnnl_linear(W.prep, x, M, K, b, N, y, 1, 0, 0)) return;
    dm_linear_acc(x, M, K, dm_w_f32(W, (size_t)N * K, wscratch), b, N, y);
}

void dm_linear_from_chw_w(const float *x, int C, int HW, dm_w W, const float *b, int N, float *y,
                          float *wscratch) {
    if (W.prep && !dm_dnnl_linear(W.prep, x, HW, C, b, N, y, 0, 1, 0)) return;
    dm_linear_from_chw(x, C, HW, dm_w_f32(W, (size_t)N * C, wscratch), b, N, y);
}

void dm_linear_to_chw_acc_w(const float *h, int HW, int K, dm_w W, const float *b, int N, float *y,
                            float *wscratch) {
    if (W.prep && !dm_dnnl_linear(W.prep, h, HW, K, b, N, y, 1, 0, 1)) return;
    dm_linear_to_chw_acc(h, HW, K, dm_w_f32(W, (size_t)N * K, wscratch), b, N, y);
}
