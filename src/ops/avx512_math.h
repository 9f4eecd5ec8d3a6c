/* AVX-512 pieces shared by the bf16 kernels (attention_bf16.c, dnnl_ops.c) and the GEGLU
 * (elementwise.c). Built with target attributes, so they compile everywhere; callers run them
 * only where cpuid says so (avx512_bf16 for the bf16 path; vexp2 / vsilu need avx512f only). */
#ifndef DM_OPS_AVX512_MATH_H
#define DM_OPS_AVX512_MATH_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "ops/exp2_poly.h"

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

/* f32 -> bf16 bits, round to nearest even (finite inputs) */
static inline uint16_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* 2^x for x <= 0 (attention.c's vexp2 on AVX-512) */
TGT static inline __m512 vexp2(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-126.0f));
    __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(x, n), p = _mm512_set1_ps(dm_exp2_poly[0]);
#pragma GCC unroll 8
    for (int k = 1; k <= DM_EXP2_DEGREE; k++)
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(dm_exp2_poly[k]));
    return _mm512_scalef_ps(p, n);
}

/* x·sigmoid(x) through e^-|x| (never overflows): sigmoid = 1/(1+e) for x >= 0, e/(1+e) below */
TGT static inline __m512 vsilu(__m512 x) {
    __m512 ax = _mm512_abs_ps(x);
    __m512 e = vexp2(_mm512_mul_ps(ax, _mm512_set1_ps(-1.44269504088896341f)));
    __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 num = _mm512_mask_blend_ps(neg, _mm512_set1_ps(1.0f), e);
    return _mm512_mul_ps(x, _mm512_div_ps(num, _mm512_add_ps(_mm512_set1_ps(1.0f), e)));
}

#endif
