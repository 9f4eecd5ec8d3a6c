/* Attention in query tiles: for each head and each tile of TQ query rows,
 *   S = Q_tile Kᵀ · d^-1/2  (TQ × Lk),  P = softmax_rows(S),  O_tile = P V.
 * The probabilities of one tile are all that is ever held, so self-attention at 64×64
 * latents needs TQ·4096 floats instead of 4096². The PyTorch line this replaces:
 *   attention_probs = baddbmm(empty, q, k.T, beta=0, alpha=scale).softmax(-1); out = bmm(probs, v) */
#include <cblas.h>
#include <math.h>

#include "ops/ops.h"

enum { TQ = 256 };

size_t dm_attention_scratch(int Lq, int Lk, int d) {
    (void)d;
    int tq = Lq < TQ ? Lq : TQ;
    return (size_t)tq * Lk;
}

static void softmax_rows(float *s, int rows, int Lk, int q0, int causal) {
#pragma omp parallel for schedule(static) if ((size_t)rows * Lk > 32768)
    for (int r = 0; r < rows; r++) {
        float *row = s + (size_t)r * Lk;
        int n = causal ? (q0 + r + 1 < Lk ? q0 + r + 1 : Lk) : Lk;
        float m = -INFINITY;
        for (int j = 0; j < n; j++) m = row[j] > m ? row[j] : m;
        double sum = 0;
        for (int j = 0; j < n; j++) {
            row[j] = expf(row[j] - m);
            sum += row[j];
        }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < n; j++) row[j] *= inv;
        for (int j = n; j < Lk; j++) row[j] = 0.0f;
    }
}

void dm_attention(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                  int v_stride, int Lq, int Lk, int heads, int d, int causal, float *out,
                  int out_stride, float *scratch, dm_probs_fn probs_fn, void *user) {
    float scale = 1.0f / sqrtf((float)d);
    for (int h = 0; h < heads; h++)
        for (int q0 = 0; q0 < Lq; q0 += TQ) {
            int rows = Lq - q0 < TQ ? Lq - q0 : TQ;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, Lk, d, scale,
                        q + (size_t)q0 * q_stride + h * d, q_stride, k + h * d, k_stride, 0.0f,
                        scratch, Lk);
            softmax_rows(scratch, rows, Lk, q0, causal);
            if (probs_fn) probs_fn(user, h, q0, q0 + rows, Lk, scratch);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, d, Lk, 1.0f, scratch, Lk,
                        v + h * d, v_stride, 0.0f, out + (size_t)q0 * out_stride + h * d,
                        out_stride);
        }
}
