/* What this CPU can do, asked at run time (cpuid + xgetbv), which of our SIMD kernel families
 * run on it, and which number format the engine runs in. The default build is portable (baseline
 * x86-64 or arm64): every SIMD kernel is compiled for its own target and chosen here, so one
 * binary runs on every node of a mixed cluster (AVX2-only, AVX-512, AVX512-BF16, AMX, plain
 * x86-64, arm64). Never assume, ask. */
#ifndef DM_CORE_CPU_H
#define DM_CORE_CPU_H

#include "core/status.h"

/* x86 builds compile the x86 SIMD kernels (target attributes, src/ops/isa/); others only plain C */
#if defined(__x86_64__) || defined(__i386__)
#define DM_X86 1
#endif

typedef struct {
    int avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512_vnni;
    int avx512_bf16;        /* vdpbf16ps: bf16 pairs -> fp32 dot products */
    int amx_tile, amx_bf16; /* AMX tiles (cpuid) with the OS saving their state (xgetbv) */
    int hidden_bf16;        /* DM_CPU_NO_BF16=1 in the environment hid avx512_bf16 / AMX */
} dm_cpu;

/* The SIMD families of our own kernels (flash attention, GEGLU, f16 weights): each is built for
 * its target whatever the build's -march, and one is chosen per call from dm_cpu. */
typedef enum {
    DM_SIMD_NONE = 0,   /* plain C (baseline x86-64, arm64): what the compiler vectorises */
    DM_SIMD_AVX2 = 1,   /* AVX2 + FMA (+ F16C), 8 lanes */
    DM_SIMD_AVX512 = 2, /* AVX-512 F/BW/VL, 16 lanes */
} dm_simd;

/* Fills c from cpuid (read once per process) and XCR0: features the OS does not save state for
 * count as absent. The environment hides features, read at every call so that one test process
 * can walk every path its CPU has: DM_CPU_NO_BF16=1 hides avx512_bf16 and AMX (the fp32
 * fallback, the bf16 tests' skip); DM_CPU_NO_AVX512=1 every AVX-512 feature too (the AVX2
 * kernels, as on an AVX2-only CPU); DM_CPU_NO_AVX2=1 everything from AVX2 up (the plain path, as
 * on baseline x86-64). Off the x86 family every flag is 0. */
void dm_cpu_detect(dm_cpu *c);
/* Which family of our SIMD kernels runs on c. */
dm_simd dm_cpu_simd(const dm_cpu *c);
const char *dm_simd_name(dm_simd s);
/* "avx512 + avx512_bf16, AMX yes": the kernels chosen on this CPU (after the DM_CPU_NO_*
 * variables), as --version and bench print it. */
void dm_cpu_kernels_string(const dm_cpu *c, char *buf, size_t n);
/* How this binary was compiled: "portable (x86-64 baseline + run-time kernels)" or
 * "native (-march=native: this CPU only)". */
const char *dm_cpu_build_string(void);
/* "avx2 fma f16c avx512f ... amx_bf16": the detected flags, space-separated. */
void dm_cpu_flags_string(const dm_cpu *c, char *buf, size_t n);
/* Asks Linux for permission to use the AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM); call it
 * only where c->amx_tile. Idempotent. */
dm_status dm_cpu_request_amx(dm_error *err);

/* The precision the model runs in (DM_PRECISION_* of diffumask.h). */
/* "auto" | "fp32" | "bf16" -> p; anything else is a usage error naming the value. */
dm_status dm_precision_parse(const char *s, dm_precision *p, dm_error *err);
const char *dm_precision_name(dm_precision p);
/* auto -> bf16 where the CPU has amx_bf16 or avx512_bf16, else fp32; bf16 on a CPU without
 * either -> an error saying so. auto first takes DM_PRECISION from the environment when set
 * (the test suite sets fp32, so golden tests stay fp32 everywhere; test_bf16 asks explicitly). AMX
 * tile permission is requested here when bf16 runs on AMX. */
dm_status dm_precision_resolve(dm_precision requested, dm_precision *effective, dm_error *err);

#endif
