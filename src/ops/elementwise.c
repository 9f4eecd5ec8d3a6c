#include <math.h>
#include <string.h>

#include "core/cpu.h"
#include "ops/ops.h"
#ifdef DM_X86
#include "ops/avx512_math.h"
#endif

#define PAR_IF(n) if ((n) > 32768)

void dm_silu(float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

/* exact erf GELU of one value (torch's default), what the vector GEGLUs approximate */
static inline float gelu1(float x) {
    return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2));
}

void dm_gelu(float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] = gelu1(x[i]);
}

void dm_quick_gelu(float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-1.702f * x[i]));
}

#ifdef DM_X86
/* o[i] = a[i] * gelu(g[i]), 16 lanes a time. gelu(g) = g/2 · (1 + erf(g/√2)) with erf by
 * Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7): 1 - erf(x) = P(t)·e^(-x²), t = 1/(1 + p·x),
 * x = |g|/√2. For g < 0, 1 + erf(-x) = P(t)·e^(-x²), taken as it is (no 1 - (1 - ...)
 * cancellation). The scalar erff loop costs 31 ms per 4096 x 1280 call; this one about a tenth. */
TGT static void geglu_row_avx512(const float *a, const float *g, int F, float *o) {
    const __m512 p = _mm512_set1_ps(0.3275911f), one = _mm512_set1_ps(1.0f),
                 two = _mm512_set1_ps(2.0f), half = _mm512_set1_ps(0.5f),
                 rsqrt2 = _mm512_set1_ps((float)M_SQRT1_2),
                 mlog2e = _mm512_set1_ps(-1.44269504088896341f);
    for (int i = 0; i < F; i += 16) {
        __mmask16 m = F - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (F - i)) - 1);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), av = _mm512_maskz_loadu_ps(m, a + i);
        __m512 x = _mm512_mul_ps(_mm512_abs_ps(gv), rsqrt2);
        __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(p, x, one));
        __m512 q = _mm512_set1_ps(1.061405429f);
        q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.453152027f));
        q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.421413741f));
        q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-0.284496736f));
        q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(0.254829592f));
        q = _mm512_mul_ps(_mm512_mul_ps(q, t), vexp2(_mm512_mul_ps(_mm512_mul_ps(x, x), mlog2e)));
        __mmask16 neg = _mm512_cmp_ps_mask(gv, _mm512_setzero_ps(), _CMP_LT_OQ);
        __m512 onepluserf = _mm512_mask_blend_ps(neg, _mm512_sub_ps(two, q), q);
        __m512 gelu = _mm512_mul_ps(_mm512_mul_ps(half, gv), onepluserf);
        _mm512_mask_storeu_ps(o + i, m, _mm512_mul_ps(av, gelu));
    }
}

#define TGT2 __attribute__((target("avx2,fma")))

/* 2^x for x <= 0 in 8 lanes: the same polynomial as vexp2, 2^n built in the exponent bits */
TGT2 static inline __m256 vexp2_avx2(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-126.0f));
    __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(x, n), p = _mm256_set1_ps(dm_exp2_poly[0]);
#pragma GCC unroll 8
    for (int k = 1; k <= DM_EXP2_DEGREE; k++)
        p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(dm_exp2_poly[k]));
    __m256i e =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

/* geglu_row_avx512's math in 8 lanes; the tail (F % 8) in scalar */
TGT2 static void geglu_row_avx2(const float *a, const float *g, int F, float *o) {
    const __m256 p = _mm256_set1_ps(0.3275911f), one = _mm256_set1_ps(1.0f),
                 two = _mm256_set1_ps(2.0f), half = _mm256_set1_ps(0.5f),
                 rsqrt2 = _mm256_set1_ps((float)M_SQRT1_2),
                 mlog2e = _mm256_set1_ps(-1.44269504088896341f), sign = _mm256_set1_ps(-0.0f);
    int i = 0;
    for (; i + 8 <= F; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i), av = _mm256_loadu_ps(a + i);
        __m256 x = _mm256_mul_ps(_mm256_andnot_ps(sign, gv), rsqrt2);
        __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(p, x, one));
        __m256 q = _mm256_set1_ps(1.061405429f);
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.453152027f));
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.421413741f));
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.284496736f));
        q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.254829592f));
        q = _mm256_mul_ps(_mm256_mul_ps(q, t),
                          vexp2_avx2(_mm256_mul_ps(_mm256_mul_ps(x, x), mlog2e)));
        __m256 neg = _mm256_cmp_ps(gv, _mm256_setzero_ps(), _CMP_LT_OQ);
        __m256 onepluserf = _mm256_blendv_ps(_mm256_sub_ps(two, q), q, neg);
        __m256 gelu = _mm256_mul_ps(_mm256_mul_ps(half, gv), onepluserf);
        _mm256_storeu_ps(o + i, _mm256_mul_ps(av, gelu));
    }
    for (; i < F; i++) o[i] = a[i] * gelu1(g[i]);
}

#endif

void dm_geglu(const float *h, int T, int F, float *out) {
    dm_cpu c;
    dm_cpu_detect(&c);
    /* the SIMD family of the flash kernels too (geglu_row_avx512 needs avx512f/bw/vl, which
     * DM_SIMD_AVX512 includes); always DM_SIMD_NONE off x86 */
    dm_simd simd = dm_cpu_simd(&c);
    (void)simd;
#pragma omp parallel for schedule(static) PAR_IF((size_t)T *F)
    for (int t = 0; t < T; t++) {
        const float *a = h + (size_t)t * 2 * F, *g = a + F;
        float *o = out + (size_t)t * F;
#ifdef DM_X86
        if (simd == DM_SIMD_AVX512)
            geglu_row_avx512(a, g, F, o);
        else if (simd == DM_SIMD_AVX2)
            geglu_row_avx2(a, g, F, o);
        else
#endif
            for (int i = 0; i < F; i++) o[i] = a[i] * gelu1(g[i]);
    }
}

void dm_add(float *y, const float *x, size_t n) {
#pragma omp parallel for schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void dm_upsample_nearest2x(const float *x, int C, int H, int W, float *y) {
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((size_t)C *H *W)
    for (int c = 0; c < C; c++)
        for (int yy = 0; yy < 2 * H; yy++) {
            const float *xr = x + ((size_t)c * H + yy / 2) * W;
            float *yr = y + ((size_t)c * 2 * H + yy) * 2 * W;
            for (int xx = 0; xx < W; xx++) yr[2 * xx] = yr[2 * xx + 1] = xr[xx];
        }
}

void dm_resize_nearest(const float *x, int C, int H, int W, int Ho, int Wo, float *y) {
#pragma omp parallel for collapse(2) schedule(static) PAR_IF((size_t)C *Ho *Wo)
    for (int c = 0; c < C; c++)
        for (int oy = 0; oy < Ho; oy++) {
            int iy = (int)((float)oy * ((float)H / (float)Ho));
            if (iy >= H) iy = H - 1;
            const float *xr = x + ((size_t)c * H + iy) * W;
            float *yr = y + ((size_t)c * Ho + oy) * Wo;
            for (int ox = 0; ox < Wo; ox++) {
                int ix = (int)((float)ox * ((float)W / (float)Wo));
                yr[ox] = xr[ix < W ? ix : W - 1];
            }
        }
}
