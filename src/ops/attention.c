/* Attention: softmax(Q Kᵀ / sqrt(d)) V per head, two ways.
 *
 * Exact tiles (causal masks, and the probabilities a caller asks for): for each head and each tile
 * of TQ query rows, S = Q_tile Kᵀ · d^-1/2 (TQ × Lk), P = softmax_rows(S), O_tile = P V. The
 * PyTorch line this replaces: attention_probs = baddbmm(empty, q, k.T, beta=0,
 * alpha=scale).softmax(-1); out = bmm(probs, v)
 *
 * Flash (no probabilities wanted): each thread takes (head, FQ query rows) and walks the keys
 * in blocks of FK with an online softmax (running max m, running sum l, O rescaled by
 * exp(m_old - m_new) when the max grows), so the scores of one block stay in L2 and nothing of
 * size Lq × Lk ever exists: memory O(FQ × (FK + d)) per thread, on its stack. At 64×64 latents that
 * is the self-attention of 4096 tokens without a 4096 × 4096 matrix per head. On a CPU with
 * AVX-512 or AVX2 + FMA (asked at run time) and d a multiple of 8 up to 160 (every Stable
 * Diffusion UNet head), the flash tile is our own register-blocked kernel (isa/flash.c: ~4x the
 * cblas tile at d = 40); otherwise it is two cblas_sgemm calls per key block (flash_tile). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "ops/isa/isa.h"
#include "ops/ops.h"

/* FQ x FK scores and FQ x d outputs of a flash tile live on the thread's stack (128 KB at
 * most): the caller's scratch stays the exact path's size, whatever the thread count. */
enum { TQ = 256, FQ = 32, FK = 512, FLASH_MAX_D = 512 };

/* Query rows per exact tile: TQ, or more when there are few keys (cross-attention has 77), so
 * that one tile's GEMMs and softmax are big enough to be split across the threads — the
 * probabilities the attention store captures then cost little next to the step. */
static int exact_rows(int Lq, int Lk) {
    int rows = Lk > 0 && (1 << 20) / Lk > TQ ? (1 << 20) / Lk : TQ;
    return Lq < rows ? Lq : rows;
}

size_t dm_attention_scratch(int Lq, int Lk, int d) {
    (void)d;
    return (size_t)exact_rows(Lq, Lk) * Lk;
}

/* e^x for x <= 0 (softmax arguments after the max is subtracted), written so the compiler
 * vectorises the loops that call it (glibc's expf is a scalar call): Cephes' expf, i.e.
 * x = n ln2 + r with |r| <= ln2/2, e^r by a degree-7 polynomial, 2^n from the exponent bits;
 * ~1 ulp. Below -87 (e^x < 1.6e-38, nothing next to a row sum >= 1) it returns ~1e-38. */
static inline float exp_nonpos(float x) {
    x = x < -87.0f ? -87.0f : x;
    float n = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* unsigned shift: a NaN score (overflowing weights) must stay NaN here, not be UB */
    union {
        uint32_t i;
        float f;
    } two_n = {.i = (uint32_t)((int32_t)n + 127) << 23};
    return p * two_n.f;
}

/* row[0..n) = exp(row - m); returns the sum */
static float exp_sub_sum(float *row, int n, float m) {
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        row[j] = exp_nonpos(row[j] - m);
        sum += row[j];
    }
    return sum;
}

static float row_max(const float *row, int n, float m) {
#pragma omp simd reduction(max : m)
    for (int j = 0; j < n; j++) m = row[j] > m ? row[j] : m;
    return m;
}

static void softmax_rows(float *s, int rows, int Lk, int q0, int causal) {
#pragma omp parallel for schedule(static) if ((size_t)rows * Lk > 32768 && !omp_in_parallel())
    for (int r = 0; r < rows; r++) {
        float *row = s + (size_t)r * Lk;
        int n = causal ? (q0 + r + 1 < Lk ? q0 + r + 1 : Lk) : Lk;
        float m = row_max(row, n, -INFINITY);
        float inv = 1.0f / exp_sub_sum(row, n, m);
        for (int j = 0; j < n; j++) row[j] *= inv;
        for (int j = n; j < Lk; j++) row[j] = 0.0f;
    }
}

/* The exact tiles. out NULL: only hand the probabilities to probs_fn (the output then comes
 * from the flash kernel, so capturing a layer never changes a bit of the UNet's result). */
static void exact(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                  int v_stride, int Lq, int Lk, int heads, int d, int causal, float *out,
                  int out_stride, float *scratch, dm_probs_fn probs_fn, void *user) {
    float scale = 1.0f / sqrtf((float)d);
    for (int h = 0; h < heads; h++)
        for (int q0 = 0, tile = exact_rows(Lq, Lk); q0 < Lq; q0 += tile) {
            int rows = Lq - q0 < tile ? Lq - q0 : tile;
            dm_sgemm(0, 1, rows, Lk, d, scale, q + (size_t)q0 * q_stride + h * d, q_stride,
                     k + h * d, k_stride, 0.0f, scratch, Lk);
            softmax_rows(scratch, rows, Lk, q0, causal);
            if (probs_fn) probs_fn(user, h, q0, q0 + rows, Lk, scratch);
            if (out)
                dm_sgemm(0, 0, rows, d, Lk, 1.0f, scratch, Lk, v + h * d, v_stride, 0.0f,
                         out + (size_t)q0 * out_stride + h * d, out_stride);
        }
}

/* out[rows, d] = softmax(q kᵀ · scale) v for one head and one tile of query rows */
static void flash_tile(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                       int v_stride, int rows, int Lk, int d, float scale, float *out,
                       int out_stride) {
    float S[FQ * FK], O[FQ * FLASH_MAX_D], m[FQ], l[FQ];
    memset(O, 0, sizeof(float) * (size_t)rows * d);
    for (int r = 0; r < rows; r++) m[r] = -INFINITY, l[r] = 0;
    for (int k0 = 0; k0 < Lk; k0 += FK) {
        int bk = Lk - k0 < FK ? Lk - k0 : FK;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, bk, d, scale, q, q_stride,
                    k + (size_t)k0 * k_stride, k_stride, 0.0f, S, bk);
        for (int r = 0; r < rows; r++) {
            float *s = S + (size_t)r * bk, mx = row_max(s, bk, m[r]);
            float corr = exp_nonpos(m[r] - mx); /* 0 on the first block (m = -inf) */
            l[r] = l[r] * corr + exp_sub_sum(s, bk, mx);
            m[r] = mx;
            if (corr != 1.0f)
                for (int j = 0; j < d; j++) O[(size_t)r * d + j] *= corr;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, bk, 1.0f, S, bk,
                    v + (size_t)k0 * v_stride, v_stride, 1.0f, O, d);
    }
    for (int r = 0; r < rows; r++) {
        float inv = 1.0f / l[r];
        for (int j = 0; j < d; j++) out[(size_t)r * out_stride + j] = O[(size_t)r * d + j] * inv;
    }
}

/* The register-blocked flash kernel of this CPU's SIMD family, or NULL (the cblas tiles). */
static dm_flash_task_fn *flash_kernel(void) {
#ifdef DM_HAVE_ISA_KERNELS
    dm_cpu c;
    dm_cpu_detect(&c);
    switch (dm_cpu_simd(&c)) {
    case DM_SIMD_AVX512:
        return dm_flash_task_avx512;
    case DM_SIMD_AVX2:
        return dm_flash_task_avx2;
    default:
        break;
    }
#endif
    return NULL;
}

void dm_attention_probs(const float *q, int q_stride, const float *k, int k_stride, int Lq, int Lk,
                        int heads, int d, float *scratch, dm_probs_fn probs_fn, void *user) {
    exact(q, q_stride, k, k_stride, NULL, 0, Lq, Lk, heads, d, 0, NULL, 0, scratch, probs_fn, user);
}

void dm_attention(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                  int v_stride, int Lq, int Lk, int heads, int d, int causal, float *out,
                  int out_stride, float *scratch, dm_probs_fn probs_fn, void *user) {
    if (causal || d > FLASH_MAX_D) {
        exact(q, q_stride, k, k_stride, v, v_stride, Lq, Lk, heads, d, causal, out, out_stride,
              scratch, probs_fn, user);
        return;
    }
    if (probs_fn)
        exact(q, q_stride, k, k_stride, v, v_stride, Lq, Lk, heads, d, 0, NULL, out_stride, scratch,
              probs_fn, user);
    float scale = 1.0f / sqrtf((float)d);
    dm_flash_task_fn *task = flash_kernel();
    if (task && d % 8 == 0 && d <= DM_FLASH_MAX_D && Lk > 0) {
        int tiles = (Lq + DM_FLASH_ROWS - 1) / DM_FLASH_ROWS, tasks = heads * tiles;
        /* tasks write disjoint output blocks and each is computed in one fixed order: any
         * schedule gives the same bytes */
#pragma omp parallel for schedule(dynamic, 1) if (dm_ops_parallel() && tasks > 1)
        for (int t = 0; t < tasks; t++) {
            int h = t / tiles, q0 = t % tiles * DM_FLASH_ROWS;
            int rows = Lq - q0 < DM_FLASH_ROWS ? Lq - q0 : DM_FLASH_ROWS;
            task(q + (size_t)q0 * q_stride + h * d, q_stride, k + h * d, k_stride, v + h * d,
                 v_stride, rows, Lk, d, scale, out + (size_t)q0 * out_stride + h * d, out_stride);
        }
        return;
    }
    int tiles = (Lq + FQ - 1) / FQ, tasks = heads * tiles;
    /* tasks write disjoint output blocks: any schedule gives the same bytes */
#pragma omp parallel for schedule(dynamic, 1) if (dm_ops_parallel() && tasks > 1)
    for (int t = 0; t < tasks; t++) {
        int h = t / tiles, q0 = t % tiles * FQ, rows = Lq - q0 < FQ ? Lq - q0 : FQ;
        flash_tile(q + (size_t)q0 * q_stride + h * d, q_stride, k + h * d, k_stride, v + h * d,
                   v_stride, rows, Lk, d, scale, out + (size_t)q0 * out_stride + h * d, out_stride);
    }
}
