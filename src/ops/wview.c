/* Weight views (dm_w): a weight as stored — f32, or f16 / bf16 as the checkpoint holds it — seen
 * as f32 when an fp32 kernel needs it (dm_w_f32 converts into the caller's scratch). linear.c,
 * conv2d.c and the oneDNN room (which prepares its bf16 copies from the same view) all use it,
 * so none of them has to call another for it. */
#include <string.h>

#include "ops/ops.h"

#include "core/cpu.h"
#ifdef DM_X86
#include <immintrin.h>
#define DM_F16C 1
#endif

#include "io/safetensors.h"

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
