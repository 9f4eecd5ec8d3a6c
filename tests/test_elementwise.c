/* Elementwise kernels against the math in double: GEGLU (the UNet's feed-forward) on a sweep of
 * gate values through both tails, odd row lengths (masked vector tails) and several rows. On a
 * CPU with AVX-512 or AVX2 this checks the vector erf (Abramowitz & Stegun 7.1.26; both widths,
 * AVX-512 hidden for the second pass), elsewhere glibc's erff: each must be within 1e-6 of
 * |a|·max(1, |g|) of a·g/2·(1 + erf(g/√2)). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "ops/ops.h"

static void geglu_case(int T, int F) {
    /* calloc: gcc -O1 cannot see the loops below fill every value */
    float *h = calloc((size_t)T * 2 * F, sizeof(float)), *o = malloc(sizeof(float) * T * F);
    unsigned r = 12345u + (unsigned)F;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++) {
            float *a = h + (size_t)t * 2 * F, *g = a + F;
            r = r * 1664525u + 1013904223u;
            a[i] = (float)(r >> 8) / 16777216.0f * 4 - 2;
            /* the gate: a sweep over [-12, 12] plus zero and the far tails */
            int k = t * F + i;
            g[i] = k % 17 == 0   ? 0.0f
                   : k % 19 == 0 ? -40.0f
                   : k % 23 == 0 ? 40.0f
                                 : -12.0f + 24.0f * (float)k / (T * F);
        }
    dm_geglu(h, T, F, o);
    double worst = 0;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < F; i++) {
            const float *a = h + (size_t)t * 2 * F, *g = a + F;
            double x = g[i], ref = a[i] * 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
            double e = fabs(o[(size_t)t * F + i] - ref) / (fabs(a[i]) * fmax(1.0, fabs(x)) + 1e-30);
            worst = check_worst(worst, e);
        }
    printf("geglu %d x %d: worst error %.3g of |a|·max(1, |g|)\n", T, F, worst);
    CHECKF(worst <= 1e-6, "geglu %dx%d: %g", T, F, worst);
    free(h), free(o);
}

int main(void) {
    /* as dispatched on this CPU, then with AVX-512 hidden (the AVX2 path, as on an AVX2-only
     * machine; on one, both runs take it) */
    for (int hide = 0; hide < 2; hide++) {
        if (hide) setenv("DM_CPU_NO_AVX512", "1", 1);
        geglu_case(1, 1);
        geglu_case(3, 15);
        geglu_case(7, 33);
        geglu_case(64, 1280);
    }
    unsetenv("DM_CPU_NO_AVX512");
    return check_finish();
}
