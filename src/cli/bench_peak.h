/* The machine's peak arithmetic rates for `bench`: the fp32 FMA and AVX512-BF16 dot-product
 * throughput measured with register-only loops on every thread, the clock from /proc/cpuinfo,
 * and the AMX bf16 peak computed (1024 FLOP/cycle/core) where the CPU has AMX. */
#ifndef DM_CLI_BENCH_PEAK_H
#define DM_CLI_BENCH_PEAK_H

typedef struct {
    int threads;
    double ghz;                 /* "cpu MHz" of /proc/cpuinfo (0: unknown) */
    int fp32_lanes;             /* 16 (AVX-512) or 8 (AVX2) floats per FMA */
    double fp32_gflops;         /* measured: all threads, FMAs with independent accumulators */
    double fp32_flop_per_cycle; /* per core: fp32_gflops / threads / ghz */
    double bf16_gflops;         /* measured vdpbf16ps throughput (0: no avx512_bf16) */
    double bf16_flop_per_cycle;
    double amx_gflops; /* threads x ghz x 1024 where amx_bf16 (0: none); not measured */
} dm_peaks;

void dm_measure_peaks(dm_peaks *p);

#endif
