/* The register-blocked flash attention tile (dm_attention's fast path), one SIMD family per
 * build of this file: CMake compiles everything in src/ops/isa/ once per x86 target with that
 * target's flags (-mavx2 -mfma; -mavx512f -mavx512bw -mavx512vl) and DM_ISA_SUFFIX, so the
 * symbols are dm_flash_task_avx2 and dm_flash_task_avx512; attention.c picks one per call from
 * dm_cpu_simd. The rest of the library stays baseline x86-64 and never runs these on a CPU
 * without them. */
#include <math.h>
#include <string.h>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "ops/exp2_poly.h"
#include "ops/isa/isa.h"

/* ------------------------------------------------------------------ register-blocked flash
 *
 * The cblas flash tile above multiplies 32 × 512 × d and 32 × d × 512 matrices: K = d = 40 is
 * too thin for OpenBLAS's packing to pay off. This path does the same online softmax with its
 * own micro-kernels, laid out so that everything runs across *queries*, never across keys or
 * channels:
 *
 *   Qᵀ (d × SW per strip of SW queries, pre-scaled by d^-1/2 · log2 e, packed once per task)
 *   Sᵀ[j][0..SW) = Σ_c K[j][c] · Qᵀ[c][0..SW)   broadcast K[j][c], FMA a row of Qᵀ
 *   Oᵀ[c][0..SW) = corr · Oᵀ[c] + Σ_j V[j][c] · Pᵀ[j][0..SW)   broadcast V[j][c], FMA a row of Pᵀ
 *
 * K and V are read in place (a broadcast takes any address, so nothing of them is packed or
 * transposed), the row max, exp, row sum and the exp(m_old - m_new) rescale are plain
 * vertical vector ops (one lane per query), and each micro-tile keeps its accumulators in
 * registers for a whole contraction. Scores are in log2 units so exp is exp2 (a round and a
 * power of two). Built for AVX-512 (W = 16 lanes, 32 registers: 8 × 2 tiles = 16 accumulators)
 * and for AVX2 + FMA (W = 8, 16 registers: 6 × 2 and 4 × 2 tiles); elsewhere attention.c's
 * cblas tile is the only flash. */

/* one line per wrapper: they read as the table they are */
/* clang-format off */
#if defined(__AVX512F__)
typedef __m512 vf;
enum { W = 16, QK_KEYS = 8, PV_CHANS = 8 };
static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, vf x) { _mm512_storeu_ps(p, x); }
static inline vf vset1(float x) { return _mm512_set1_ps(x); }
static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vround(vf x) {
    return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p · 2^n for integral n in [-126, 0] */
static inline vf vldexp(vf p, vf n) { return _mm512_scalef_ps(p, n); }
#else
typedef __m256 vf;
enum { W = 8, QK_KEYS = 6, PV_CHANS = 4 };
static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, vf x) { _mm256_storeu_ps(p, x); }
static inline vf vset1(float x) { return _mm256_set1_ps(x); }
static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vround(vf x) {
    return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* p · 2^n for integral n in [-126, 0]: 2^n built in the exponent bits */
static inline vf vldexp(vf p, vf n) {
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    e = _mm256_slli_epi32(e, 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}
#endif
/* clang-format on */

/* Strips of SW = 2 vectors of queries; a task is FQ_SIMD queries of one head, i.e. several
 * strips that share each key block while it is in L1/L2. FK_SIMD keys per block: Sᵀ of a
 * strip is FK_SIMD × SW floats (8 KB at W = 16). */
enum { SW = 2 * W, FQ_SIMD = DM_FLASH_ROWS, FK_SIMD = 64, SIMD_MAX_D = DM_FLASH_MAX_D };

/* 2^x for x <= 0 (-inf included): x = n + f with |f| <= 1/2, 2^f by Cephes' exp2f polynomial
 * (~1 ulp), times 2^n. Clamped at -126, so the smallest result is ~1.2e-38, a normal float
 * (no denormals in the FMAs that follow), and nothing next to a row sum >= 1. */
static inline vf vexp2(vf x) {
    x = vmax(x, vset1(-126.0f));
    vf n = vround(x), f = vsub(x, n);
    vf p = vset1(dm_exp2_poly[0]);
#pragma GCC unroll 8
    for (int k = 1; k <= DM_EXP2_DEGREE; k++) p = vfma(p, f, vset1(dm_exp2_poly[k]));
    return vldexp(p, n);
}

/* Sᵀ rows j0 .. j0+QK_KEYS of one strip, each the dot product of a key with the strip's SW
 * queries; mx (2 vectors) takes the running max. Keys past bk read key bk-1 again: their rows
 * are written (st has room) but never used, and duplicates cannot change the max. */
static inline void qk_tile(const float *qt, int d, const float *kb, int k_stride, int j0, int bk,
                           float *st, vf mx[2]) {
    const float *kr[QK_KEYS];
    vf a[QK_KEYS][2];
#pragma GCC unroll 8
    for (int i = 0; i < QK_KEYS; i++) {
        int j = j0 + i < bk ? j0 + i : bk - 1;
        kr[i] = kb + (size_t)j * k_stride;
        a[i][0] = a[i][1] = vzero();
    }
    for (int c = 0; c < d; c++) {
        vf q0 = vload(qt + (size_t)c * SW), q1 = vload(qt + (size_t)c * SW + W);
#pragma GCC unroll 8
        for (int i = 0; i < QK_KEYS; i++) {
            vf b = vset1(kr[i][c]);
            a[i][0] = vfma(b, q0, a[i][0]);
            a[i][1] = vfma(b, q1, a[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < QK_KEYS; i++) {
        vstore(st + (size_t)(j0 + i) * SW, a[i][0]);
        vstore(st + (size_t)(j0 + i) * SW + W, a[i][1]);
        mx[0] = vmax(mx[0], a[i][0]);
        mx[1] = vmax(mx[1], a[i][1]);
    }
}

/* Oᵀ rows c0 .. c0+PV_CHANS of one strip: ot = ot · corr + Σ_{j < bk} V[j][c] · Pᵀ[j] (vb
 * points at V[0][c0] of the block). */
static inline void pv_tile(const float *pt, int bk, const float *vb, int v_stride, float *ot,
                           const vf corr[2]) {
    vf a[PV_CHANS][2];
#pragma GCC unroll 8
    for (int i = 0; i < PV_CHANS; i++) {
        a[i][0] = vmul(vload(ot + (size_t)i * SW), corr[0]);
        a[i][1] = vmul(vload(ot + (size_t)i * SW + W), corr[1]);
    }
    for (int j = 0; j < bk; j++) {
        vf p0 = vload(pt + (size_t)j * SW), p1 = vload(pt + (size_t)j * SW + W);
        /* p0, p1 must be registers: gcc's Zen 3 tuning otherwise folds the two loads into all
         * eight FMAs (12 loads per 8 FMAs with the broadcasts, past the load ports' 2 per
         * cycle): 5-15 % slower */
        __asm__("" : "+v"(p0), "+v"(p1));
        const float *vr = vb + (size_t)j * v_stride;
#pragma GCC unroll 8
        for (int i = 0; i < PV_CHANS; i++) {
            vf b = vset1(vr[i]);
            a[i][0] = vfma(b, p0, a[i][0]);
            a[i][1] = vfma(b, p1, a[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < PV_CHANS; i++) {
        vstore(ot + (size_t)i * SW, a[i][0]);
        vstore(ot + (size_t)i * SW + W, a[i][1]);
    }
}

/* out[rows, d] = softmax(q kᵀ · scale) v for one head and rows <= FQ_SIMD query rows;
 * d a multiple of 8 (whole PV tiles) and <= SIMD_MAX_D, Lk >= 1. ~100 KB of stack at most.
 * No prototype is visible for the suffixed name outside the x86 builds: declared in isa.h. */
void DM_ISA_FN(dm_flash_task)(const float *q, int q_stride, const float *k, int k_stride,
                              const float *v, int v_stride, int rows, int Lk, int d, float scale,
                              float *out, int out_stride) {
    /* per strip s: Qᵀ and Oᵀ at s·d·SW, row c = SW floats (lane i = query s·SW + i) */
    _Alignas(64) float qt[FQ_SIMD * SIMD_MAX_D], ot[FQ_SIMD * SIMD_MAX_D];
    _Alignas(64) float st[(FK_SIMD + QK_KEYS) * SW];
    _Alignas(64) float m[FQ_SIMD], l[FQ_SIMD];
    int ns = (rows + SW - 1) / SW;
    float qscale = scale * 1.44269504088896341f; /* log2 e: exp(x) = 2^(x log2 e) */
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < d; c++)
            for (int i = 0; i < SW; i++) {
                int r = s * SW + i;
                float x = r < rows ? q[(size_t)r * q_stride + c] * qscale : 0.0f;
                qt[((size_t)s * d + c) * SW + i] = x;
            }
    memset(ot, 0, sizeof(float) * (size_t)ns * d * SW);
    for (int r = 0; r < ns * SW; r++) m[r] = -INFINITY, l[r] = 0;
    for (int k0 = 0; k0 < Lk; k0 += FK_SIMD) {
        int bk = Lk - k0 < FK_SIMD ? Lk - k0 : FK_SIMD;
        const float *kb = k + (size_t)k0 * k_stride, *vb = v + (size_t)k0 * v_stride;
        for (int s = 0; s < ns; s++) {
            float *qs = qt + (size_t)s * d * SW, *os = ot + (size_t)s * d * SW;
            vf mold[2] = {vload(m + s * SW), vload(m + s * SW + W)}, mx[2] = {mold[0], mold[1]};
            for (int j0 = 0; j0 < bk; j0 += QK_KEYS) qk_tile(qs, d, kb, k_stride, j0, bk, st, mx);
            /* corr = 0 on the first block (m = -inf, clamped to 2^-126 × O = 0, l = 0) */
            vf corr[2] = {vexp2(vsub(mold[0], mx[0])), vexp2(vsub(mold[1], mx[1]))};
            vf sum0 = vzero(), sum1 = vzero();
            for (int j = 0; j < bk; j++) {
                vf p0 = vexp2(vsub(vload(st + (size_t)j * SW), mx[0]));
                vf p1 = vexp2(vsub(vload(st + (size_t)j * SW + W), mx[1]));
                vstore(st + (size_t)j * SW, p0);
                vstore(st + (size_t)j * SW + W, p1);
                sum0 = vadd(sum0, p0);
                sum1 = vadd(sum1, p1);
            }
            vstore(l + s * SW, vfma(vload(l + s * SW), corr[0], sum0));
            vstore(l + s * SW + W, vfma(vload(l + s * SW + W), corr[1], sum1));
            vstore(m + s * SW, mx[0]);
            vstore(m + s * SW + W, mx[1]);
            for (int c0 = 0; c0 < d; c0 += PV_CHANS)
                pv_tile(st, bk, vb + c0, v_stride, os + (size_t)c0 * SW, corr);
        }
    }
    for (int r = 0; r < rows; r++) {
        const float *os = ot + (size_t)(r / SW) * d * SW + r % SW;
        float inv = 1.0f / l[r];
        for (int c = 0; c < d; c++) out[(size_t)r * out_stride + c] = os[(size_t)c * SW] * inv;
    }
}
#endif
