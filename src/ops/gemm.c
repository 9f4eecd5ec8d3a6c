/* One thread pool: OpenMP. OpenBLAS (the pthread build) keeps its own pool of spinning
 * threads; mixing the two on few cores oversubscribes them: after every sgemm its workers
 * spin while our OpenMP regions (norms, softmax, im2col) want the same cores, and the other
 * way round. So the engine runs OpenBLAS single-threaded and splits each GEMM itself: every
 * thread multiplies a contiguous block of rows or columns. The split depends only on the
 * thread count, and each output element is still one single-threaded dot-product order:
 * same threads, same bytes. */
#include <cblas.h>
#include <omp.h>

#include "ops/ops.h"

void dm_ops_set_threads(int n) {
    if (n > 0) omp_set_num_threads(n);
    openblas_set_num_threads(1);
}

int dm_ops_parallel(void) {
    return openblas_get_num_threads() == 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

void dm_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans,
                    tb = trans_b ? CblasTrans : CblasNoTrans;
    int T = omp_get_max_threads();
    /* below ~4 MFLOP a split costs more in packing and wake-ups than it saves */
    if (!dm_ops_parallel() || (double)M * N * K < 2e6) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    /* split the longer side into T blocks, multiples of 16 (whole micro-tiles) */
    int along_n = N >= M, len = along_n ? N : M;
    int step = ((len + T - 1) / T + 15) / 16 * 16;
#pragma omp parallel for schedule(static) num_threads(T)
    for (int t = 0; t < T; t++) {
        int i0 = t * step, i1 = i0 + step < len ? i0 + step : len;
        if (i0 >= i1) continue;
        if (along_n) {
            /* columns [i0, i1) of C: B's columns (rows when B is stored transposed) */
            const float *b = tb == CblasNoTrans ? B + i0 : B + (size_t)i0 * ldb;
            cblas_sgemm(CblasRowMajor, ta, tb, M, i1 - i0, K, alpha, A, lda, b, ldb, beta, C + i0,
                        ldc);
        } else {
            const float *a = ta == CblasNoTrans ? A + (size_t)i0 * lda : A + i0;
            cblas_sgemm(CblasRowMajor, ta, tb, i1 - i0, N, K, alpha, a, lda, B, ldb, beta,
                        C + (size_t)i0 * ldc, ldc);
        }
    }
}
