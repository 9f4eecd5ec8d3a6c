#include <cblas.h>
#include <string.h>

#include "ops/ops.h"

static void add_bias_rows(float *y, int M, int N, const float *b) {
    if (!b) return;
#pragma omp parallel for schedule(static) if ((size_t)M * N > 65536)
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) y[(size_t)i * N + j] += b[j];
}

void dm_linear(const float *x, int M, int K, const float *W, const float *b, int N, float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, 0.0f, y, N);
    add_bias_rows(y, M, N, b);
}

void dm_linear_acc(const float *x, int M, int K, const float *W, const float *b, int N, float *y) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, x, K, W, K, 1.0f, y, N);
    add_bias_rows(y, M, N, b);
}
