/* What this CPU can do, asked at run time (cpuid + xgetbv), and which number format the
 * engine runs in. The build may use -march=native, but a binary can still run elsewhere, and
 * machines differ (AVX2-only, AVX-512, AVX512-BF16, AMX): never assume, ask. */
#ifndef DM_CORE_CPU_H
#define DM_CORE_CPU_H

#include "core/status.h"

typedef struct {
    int avx2, fma, f16c;
    int avx512f, avx512bw, avx512vl, avx512_vnni;
    int avx512_bf16;        /* vdpbf16ps: bf16 pairs -> fp32 dot products */
    int amx_tile, amx_bf16; /* AMX tiles (cpuid) with the OS saving their state (xgetbv) */
    int hidden_bf16;        /* DM_CPU_NO_BF16=1 in the environment hid avx512_bf16 / AMX */
} dm_cpu;

/* Fills c from cpuid; features the OS does not save state for count as absent. With
 * DM_CPU_NO_BF16=1 set, avx512_bf16 and AMX are reported absent (to test the fp32 fallback
 * and the bf16 tests' skip on a machine that has them); with DM_CPU_NO_AVX512=1, every AVX-512
 * feature too (our kernels then take their AVX2 paths, as on an AVX2-only CPU). */
void dm_cpu_detect(dm_cpu *c);
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
