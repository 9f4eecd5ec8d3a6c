#include "cli/bench_peak.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/cpu.h"
#ifdef DM_X86
#include <immintrin.h>
#endif

enum { ACC = 12, ITERS = 1 << 23 }; /* 12 chains hide the FMA latency (4) x 2-3 ports */

/* ACC named accumulators (an array would live in memory: gcc does not unroll it into
 * registers), each a dependent chain */
#define REP12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#ifdef DM_X86
/* one thread: ITERS x ACC FMAs of 16 lanes */
__attribute__((target("avx512f"))) static double fma512(float seed) {
    __m512 a = _mm512_set1_ps(seed), b = _mm512_set1_ps(0.999f);
#define INIT(i) __m512 c##i = _mm512_set1_ps((float)i);
#define STEP(i) c##i = _mm512_fmadd_ps(c##i, b, a);
#define SUM(i)  s += _mm512_reduce_add_ps(c##i);
    REP12(INIT)
    for (int it = 0; it < ITERS; it++) {
        REP12(STEP)
    }
    float s = 0;
    REP12(SUM)
    return s;
#undef INIT
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"))) static double fma256(float seed) {
    __m256 a = _mm256_set1_ps(seed), b = _mm256_set1_ps(0.999f);
#define INIT(i) __m256 c##i = _mm256_set1_ps((float)i);
#define STEP(i) c##i = _mm256_fmadd_ps(c##i, b, a);
#define SUM(i)  c0 = _mm256_add_ps(c0, c##i);
    REP12(INIT)
    for (int it = 0; it < ITERS; it++) {
        REP12(STEP)
    }
    c0 = _mm256_sub_ps(c0, c0);
    REP12(SUM)
    float t[8], s = 0;
    _mm256_storeu_ps(t, c0);
    for (int j = 0; j < 8; j++) s += t[j];
    return s;
#undef INIT
#undef STEP
#undef SUM
}

/* one vdpbf16ps: 16 lanes x 2 products x 2 FLOP */
__attribute__((target("avx512f,avx512bf16"))) static double dpbf16(float seed) {
    __m512bh a = (__m512bh)_mm512_set1_epi16(0x3f80), b = (__m512bh)_mm512_set1_epi16(0x3f7f);
#define INIT(i) __m512 c##i = _mm512_set1_ps(seed + (float)i);
#define STEP(i) c##i = _mm512_dpbf16_ps(c##i, a, b);
#define SUM(i)  s += _mm512_reduce_add_ps(c##i);
    REP12(INIT)
    for (int it = 0; it < ITERS; it++) {
        REP12(STEP)
    }
    float s = 0;
    REP12(SUM)
    return s;
#undef INIT
#undef STEP
#undef SUM
}

/* GFLOP/s of fn on every thread at once (best of 3), flop = FLOPs per call */
static double rate(double (*fn)(float), double flop) {
    double best = 0;
    for (int r = 0; r < 3; r++) {
        volatile double sink = 0;
        double t0 = omp_get_wtime();
        int T = 1;
#pragma omp parallel
        {
            double s = fn((float)omp_get_thread_num() * 1e-3f);
#pragma omp atomic
            sink += s;
#pragma omp single
            T = omp_get_num_threads();
        }
        double g = flop * T / (omp_get_wtime() - t0) * 1e-9;
        best = g > best ? g : best;
        (void)sink;
    }
    return best;
}
#endif

static double cpuinfo_ghz(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && strchr(line, ':')) {
            sscanf(strchr(line, ':') + 1, "%lf", &mhz);
            break;
        }
    if (f) fclose(f);
    return mhz / 1000.0;
}

void dm_measure_peaks(dm_peaks *p) {
    memset(p, 0, sizeof *p);
    dm_cpu c;
    dm_cpu_detect(&c);
    p->threads = omp_get_max_threads();
    p->ghz = cpuinfo_ghz();
#ifdef DM_X86
    double per = (double)ITERS * ACC * 2;
    if (c.avx512f) {
        p->fp32_lanes = 16;
        p->fp32_gflops = rate(fma512, per * 16);
    } else if (c.avx2 && c.fma) {
        p->fp32_lanes = 8;
        p->fp32_gflops = rate(fma256, per * 8);
    }
    if (c.avx512_bf16) p->bf16_gflops = rate(dpbf16, per * 32);
#endif
    double hz = p->ghz * p->threads;
    if (hz > 0) {
        p->fp32_flop_per_cycle = p->fp32_gflops / hz;
        p->bf16_flop_per_cycle = p->bf16_gflops / hz;
        if (c.amx_bf16) p->amx_gflops = hz * 1024;
    }
}
