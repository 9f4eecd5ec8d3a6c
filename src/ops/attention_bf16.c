/* Flash attention with bf16 inner products (AVX512-BF16, vdpbf16ps), fp32 online softmax.
 *
 * The same walk as attention.c's register-blocked flash (lanes run across queries; scores in
 * log2 units; running max / sum; O rescaled when the max grows), with both products on
 * vdpbf16ps, which multiplies bf16 *pairs* and accumulates in fp32:
 *   acc[i] += a[2i] · b[2i] + a[2i+1] · b[2i+1]
 * so every operand is packed as pairs along the contraction:
 *   Sᵀ[j][queries] += K[j][c, c+1] · Qᵀ[c, c+1][queries]   (pairs of channels: K read in place
 *                                                          from a bf16 copy, 32-bit broadcast)
 *   Oᵀ[c][queries] += V[j, j+1][c] · Pᵀ[j, j+1][queries]   (pairs of keys: V packed per head as
 *                                                          [j/2][c] pairs once per call)
 * Q, K, V and P are rounded to bf16 (round to nearest even); scores, softmax and O stay fp32.
 * Built with target attributes, so it compiles everywhere; dm_attention_bf16 runs it only where
 * cpuid says avx512_bf16, else it is dm_attention. Probabilities asked for (attention capture)
 * come from dm_attention's exact fp32 path on the same q and k (fp32 softmax of fp32 scores of
 * the same projections); the output always from this kernel. Off x86 it is dm_attention. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "ops/ops.h"
#ifdef DM_X86
#include "ops/avx512_math.h"

enum { W = 16, SW = 32, FQ = 64, FK = 64, QK_KEYS = 8, PV_CHANS = 8, MAX_D = 160 };

static int has_avx512_bf16(void) {
    dm_cpu c;
    dm_cpu_detect(&c);
    return c.avx512_bf16;
}

TGT static inline __m512bh bcast_pair(const uint16_t *p) {
    uint32_t u;
    memcpy(&u, p, 4);
    return (__m512bh)_mm512_set1_epi32((int)u);
}

/* Sᵀ rows j0 .. j0+QK_KEYS of one strip (kb: bf16 keys of this head, row stride ks) */
TGT static inline void qk_tile(const uint32_t *qt, int dp, const uint16_t *kb, int ks, int j0,
                               int bk, float *st, __m512 mx[2]) {
    const uint16_t *kr[QK_KEYS];
    __m512 a[QK_KEYS][2];
#pragma GCC unroll 8
    for (int i = 0; i < QK_KEYS; i++) {
        int j = j0 + i < bk ? j0 + i : bk - 1;
        kr[i] = kb + (size_t)j * ks;
        a[i][0] = a[i][1] = _mm512_setzero_ps();
    }
    for (int c = 0; c < dp; c++) {
        __m512bh q0 = (__m512bh)_mm512_loadu_si512(qt + (size_t)c * SW);
        __m512bh q1 = (__m512bh)_mm512_loadu_si512(qt + (size_t)c * SW + W);
#pragma GCC unroll 8
        for (int i = 0; i < QK_KEYS; i++) {
            __m512bh b = bcast_pair(kr[i] + 2 * c);
            a[i][0] = _mm512_dpbf16_ps(a[i][0], b, q0);
            a[i][1] = _mm512_dpbf16_ps(a[i][1], b, q1);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < QK_KEYS; i++) {
        _mm512_storeu_ps(st + (size_t)(j0 + i) * SW, a[i][0]);
        _mm512_storeu_ps(st + (size_t)(j0 + i) * SW + W, a[i][1]);
        mx[0] = _mm512_max_ps(mx[0], a[i][0]);
        mx[1] = _mm512_max_ps(mx[1], a[i][1]);
    }
}

/* Oᵀ rows c0 .. c0+PV_CHANS of one strip: ot = ot · corr + Σ_jp Vpair[jp][c] · Ppair[jp]
 * (pt: bf16 probability pairs [jp][SW]; vp: this head's V pairs at [jp][c0], row stride d) */
TGT static inline void pv_tile(const uint32_t *pt, int np, const uint32_t *vp, int d, float *ot,
                               const __m512 corr[2]) {
    __m512 a[PV_CHANS][2];
#pragma GCC unroll 8
    for (int i = 0; i < PV_CHANS; i++) {
        a[i][0] = _mm512_mul_ps(_mm512_loadu_ps(ot + (size_t)i * SW), corr[0]);
        a[i][1] = _mm512_mul_ps(_mm512_loadu_ps(ot + (size_t)i * SW + W), corr[1]);
    }
    for (int jp = 0; jp < np; jp++) {
        __m512bh p0 = (__m512bh)_mm512_loadu_si512(pt + (size_t)jp * SW);
        __m512bh p1 = (__m512bh)_mm512_loadu_si512(pt + (size_t)jp * SW + W);
        const uint32_t *vr = vp + (size_t)jp * d;
#pragma GCC unroll 8
        for (int i = 0; i < PV_CHANS; i++) {
            __m512bh b = (__m512bh)_mm512_set1_epi32((int)vr[i]);
            a[i][0] = _mm512_dpbf16_ps(a[i][0], b, p0);
            a[i][1] = _mm512_dpbf16_ps(a[i][1], b, p1);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < PV_CHANS; i++) {
        _mm512_storeu_ps(ot + (size_t)i * SW, a[i][0]);
        _mm512_storeu_ps(ot + (size_t)i * SW + W, a[i][1]);
    }
}

/* 2^x for x <= 0 to about 8e-5 relative (a cubic on the fraction, least squares in relative
 * error): the probabilities are rounded to bf16 (2^-8) right after, so vexp2's 1e-7 is wasted
 * there, and at head size 40 the exponentials, not the products, bound the kernel. The running
 * max's correction keeps vexp2: it scales everything summed before. */
TGT static inline __m512 vexp2_coarse(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n), p = _mm512_set1_ps(5.508868381e-2f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.426040515e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.932762417e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.999289404e-1f));
    return _mm512_scalef_ps(p, n);
}

/* two rows of 16 fp32 probabilities (keys j, j+1) -> 16 bf16 pairs (lane i: p_j[i], p_j1[i]) */
TGT static inline __m512i pair_rows(__m512 pj, __m512 pj1) {
    /* cvtne2ps: lanes 0..15 = pj, 16..31 = pj1 (bf16); interleave them */
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(pj1, pj);
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                         8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    return _mm512_permutexvar_epi16(idx, both);
}

/* one head, rows <= FQ queries (q fp32), keys kb (bf16, row stride ks), V pairs vp */
TGT static void task(const float *q, int q_stride, const uint16_t *kb, int ks, const uint32_t *vp,
                     int rows, int Lk, int d, float scale, float *out, int out_stride) {
    _Alignas(64) uint32_t qt[FQ / SW * (MAX_D / 2) * SW];
    _Alignas(64) float ot[FQ / SW * MAX_D * SW];
    _Alignas(64) float st[(FK + QK_KEYS) * SW];
    _Alignas(64) uint32_t pt[(FK / 2) * SW];
    _Alignas(64) float m[FQ], l[FQ];
    int ns = (rows + SW - 1) / SW, dp = d / 2;
    float qscale = scale * 1.44269504088896341f;
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < dp; c++)
            for (int i = 0; i < SW; i++) {
                int r = s * SW + i;
                float x0 = r < rows ? q[(size_t)r * q_stride + 2 * c] * qscale : 0.0f;
                float x1 = r < rows ? q[(size_t)r * q_stride + 2 * c + 1] * qscale : 0.0f;
                qt[((size_t)s * dp + c) * SW + i] =
                    (uint32_t)bf16_bits(x0) | (uint32_t)bf16_bits(x1) << 16;
            }
    memset(ot, 0, sizeof(float) * (size_t)ns * d * SW);
    for (int r = 0; r < ns * SW; r++) m[r] = -INFINITY, l[r] = 0;
    for (int k0 = 0; k0 < Lk; k0 += FK) {
        int bk = Lk - k0 < FK ? Lk - k0 : FK, np = (bk + 1) / 2;
        const uint16_t *kblk = kb + (size_t)k0 * ks;
        const uint32_t *vblk = vp + (size_t)(k0 / 2) * d;
        for (int s = 0; s < ns; s++) {
            uint32_t *qs = qt + (size_t)s * dp * SW;
            float *os = ot + (size_t)s * d * SW;
            __m512 mold[2] = {_mm512_loadu_ps(m + s * SW), _mm512_loadu_ps(m + s * SW + W)};
            __m512 mx[2] = {mold[0], mold[1]};
            for (int j0 = 0; j0 < bk; j0 += QK_KEYS) qk_tile(qs, dp, kblk, ks, j0, bk, st, mx);
            __m512 corr[2] = {vexp2(_mm512_sub_ps(mold[0], mx[0])),
                              vexp2(_mm512_sub_ps(mold[1], mx[1]))};
            __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
            for (int jp = 0; jp < np; jp++) {
                int j = 2 * jp;
                __m512 a0 =
                    vexp2_coarse(_mm512_sub_ps(_mm512_loadu_ps(st + (size_t)j * SW), mx[0]));
                __m512 a1 =
                    vexp2_coarse(_mm512_sub_ps(_mm512_loadu_ps(st + (size_t)j * SW + W), mx[1]));
                __m512 b0 = _mm512_setzero_ps(), b1 = _mm512_setzero_ps();
                if (j + 1 < bk) {
                    b0 = vexp2_coarse(
                        _mm512_sub_ps(_mm512_loadu_ps(st + (size_t)(j + 1) * SW), mx[0]));
                    b1 = vexp2_coarse(
                        _mm512_sub_ps(_mm512_loadu_ps(st + (size_t)(j + 1) * SW + W), mx[1]));
                }
                sum0 = _mm512_add_ps(sum0, _mm512_add_ps(a0, b0));
                sum1 = _mm512_add_ps(sum1, _mm512_add_ps(a1, b1));
                _mm512_storeu_si512(pt + (size_t)jp * SW, pair_rows(a0, b0));
                _mm512_storeu_si512(pt + (size_t)jp * SW + W, pair_rows(a1, b1));
            }
            _mm512_storeu_ps(l + s * SW,
                             _mm512_fmadd_ps(_mm512_loadu_ps(l + s * SW), corr[0], sum0));
            _mm512_storeu_ps(l + s * SW + W,
                             _mm512_fmadd_ps(_mm512_loadu_ps(l + s * SW + W), corr[1], sum1));
            _mm512_storeu_ps(m + s * SW, mx[0]);
            _mm512_storeu_ps(m + s * SW + W, mx[1]);
            for (int c0 = 0; c0 < d; c0 += PV_CHANS)
                pv_tile(pt, np, vblk + c0, d, os + (size_t)c0 * SW, corr);
        }
    }
    for (int r = 0; r < rows; r++) {
        const float *os = ot + (size_t)(r / SW) * d * SW + r % SW;
        float inv = 1.0f / l[r];
        for (int c = 0; c < d; c++) out[(size_t)r * out_stride + c] = os[(size_t)c * SW] * inv;
    }
}

/* dm_attention_bf16 on an avx512_bf16 CPU, d a multiple of PV_CHANS up to MAX_D, Lk >= 1 */
static void bf16_flash(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                       int v_stride, int Lq, int Lk, int heads, int d, float *out, int out_stride,
                       float *scratch, dm_probs_fn probs_fn, void *user) {
    if (probs_fn) /* the exact path only hands out the probabilities (out NULL) */
        dm_attention_probs(q, q_stride, k, k_stride, Lq, Lk, heads, d, scratch, probs_fn, user);
    int C = heads * d, npairs = (Lk + 1) / 2;
    uint16_t *kb = (uint16_t *)(void *)(scratch + dm_attention_scratch(Lq, Lk, d));
    uint32_t *vp =
        (uint32_t *)(void *)(scratch + dm_attention_scratch(Lq, Lk, d) + ((size_t)Lk * C + 1) / 2);
#pragma omp parallel for schedule(static) if (dm_ops_parallel() && (size_t)Lk * C > 65536)
    for (int j = 0; j < Lk; j++)
        for (int c = 0; c < C; c++) kb[(size_t)j * C + c] = bf16_bits(k[(size_t)j * k_stride + c]);
#pragma omp parallel for schedule(static) if (dm_ops_parallel() && (size_t)Lk * C > 65536)
    for (int jp = 0; jp < npairs; jp++)
        for (int h = 0; h < heads; h++)
            for (int c = 0; c < d; c++) {
                int j = 2 * jp;
                uint32_t lo = bf16_bits(v[(size_t)j * v_stride + h * d + c]);
                uint32_t hi = j + 1 < Lk ? bf16_bits(v[(size_t)(j + 1) * v_stride + h * d + c]) : 0;
                vp[((size_t)h * npairs + jp) * d + c] = lo | hi << 16;
            }
    float scale = 1.0f / sqrtf((float)d);
    int tiles = (Lq + FQ - 1) / FQ, tasks = heads * tiles;
#pragma omp parallel for schedule(dynamic, 1) if (dm_ops_parallel() && tasks > 1)
    for (int t = 0; t < tasks; t++) {
        int h = t / tiles, q0 = t % tiles * FQ, rows = Lq - q0 < FQ ? Lq - q0 : FQ;
        task(q + (size_t)q0 * q_stride + h * d, q_stride, kb + h * d, C,
             vp + (size_t)h * npairs * d, rows, Lk, d, scale, out + (size_t)q0 * out_stride + h * d,
             out_stride);
    }
}
#endif

size_t dm_attention_bf16_scratch(int Lq, int Lk, int heads, int d) {
    /* bf16 K [Lk, heads*d] and V pairs [heads][ceil(Lk/2)][d] (uint32 = 2 bf16), in floats */
    size_t kf = ((size_t)Lk * heads * d + 1) / 2, vf = (size_t)heads * ((Lk + 1) / 2) * d;
    return dm_attention_scratch(Lq, Lk, d) + kf + vf + 16;
}

void dm_attention_bf16(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                       int v_stride, int Lq, int Lk, int heads, int d, float *out, int out_stride,
                       float *scratch, dm_probs_fn probs_fn, void *user) {
#ifdef DM_X86
    if (d % PV_CHANS == 0 && d <= MAX_D && Lk >= 1 && has_avx512_bf16()) {
        bf16_flash(q, q_stride, k, k_stride, v, v_stride, Lq, Lk, heads, d, out, out_stride,
                   scratch, probs_fn, user);
        return;
    }
#endif
    dm_attention(q, q_stride, k, k_stride, v, v_stride, Lq, Lk, heads, d, 0, out, out_stride,
                 scratch, probs_fn, user);
}
