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

/* ------------------------------------------------------------------ f16/bf16 weights */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DM_F16C 1
#endif

#include "core/cpu.h"
#include "io/safetensors.h"
#include "ops/dnnl_ops.h"

#ifdef DM_F16C
/* the first n - n % 8 values by F16C, 8 at a time (built for it, run where cpuid has it) */
__attribute__((target("avx,f16c"))) static size_t f16_chunk_f16c(const uint16_t *s, size_t n,
                                                                 float *d) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(s + i))));
    return i;
}
#endif

/* f16 -> f32, both exact: F16C where the CPU has it, dm_f16_to_f32 for the rest */
static void f16_chunk(const uint16_t *s, size_t n, float *d, int f16c) {
    size_t i = 0;
#ifdef DM_F16C
    if (f16c) i = f16_chunk_f16c(s, n, d);
#else
    (void)f16c;
#endif
    for (; i < n; i++) d[i] = dm_f16_to_f32(s[i]);
}

static void bf16_chunk(const uint16_t *s, size_t n, float *d) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)s[i] << 16;
        memcpy(d + i, &u, sizeof u);
    }
}

void dm_half_to_f32(const uint16_t *src, int bf16, size_t n, float *dst) {
    const size_t chunk = 16384;
    dm_cpu cpu;
    dm_cpu_detect(&cpu);
    long nc = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (n > 4 * chunk)
    for (long c = 0; c < nc; c++) {
        size_t i0 = (size_t)c * chunk, m = n - i0 < chunk ? n - i0 : chunk;
        if (bf16)
            bf16_chunk(src + i0, m, dst + i0);
        else
            f16_chunk(src + i0, m, dst + i0, cpu.f16c);
    }
}

const float *dm_w_f32(dm_w w, size_t n, float *scratch) {
    if (!w.half && !w.patch) return w.f32;
    if (w.half)
        dm_half_to_f32(w.half, w.bf16, n, scratch);
    else
        memcpy(scratch, w.f32, n * sizeof(float));
    if (w.patch) w.patch->apply(w.patch->ctx, scratch);
    return scratch;
}

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
