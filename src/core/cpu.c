#include "core/cpu.h"

#ifdef DM_X86
#include <cpuid.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef DM_X86
/* XCR0 (xgetbv 0): which register state the OS saves on context switches. */
static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* The CPU's own answer, which never changes while the process runs. cpuid traps to the
 * hypervisor in a VM (a microsecond or more), and the ops ask once per call: read it once. */
static dm_cpu hardware;
static pthread_once_t hardware_once = PTHREAD_ONCE_INIT;

static void read_hardware(void) {
    dm_cpu *c = &hardware;
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d)) return;
    int osxsave = (cx >> 27) & 1;
    unsigned long long x = osxsave ? xcr0() : 0;
    int ymm = (x & 0x6) == 0x6, zmm = ymm && (x & 0xe0) == 0xe0, tiles = (x & 0x60000) == 0x60000;
    c->fma = ymm && ((cx >> 12) & 1);
    c->f16c = ymm && ((cx >> 29) & 1);
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, cx, d);
    c->avx2 = ymm && ((b >> 5) & 1);
    c->avx512f = zmm && ((b >> 16) & 1);
    c->avx512bw = zmm && ((b >> 30) & 1);
    c->avx512vl = zmm && ((b >> 31) & 1);
    c->avx512_vnni = zmm && ((cx >> 11) & 1);
    c->amx_bf16 = tiles && ((d >> 22) & 1);
    c->amx_tile = tiles && ((d >> 24) & 1);
    unsigned a1, b1, c1, d1;
    __cpuid_count(7, 1, a1, b1, c1, d1);
    c->avx512_bf16 = zmm && ((a1 >> 5) & 1);
}
#else
static dm_cpu hardware; /* all zero: no x86 SIMD family exists here */
static pthread_once_t hardware_once = PTHREAD_ONCE_INIT;
static void read_hardware(void) {}
#endif

/* DM_CPU_NO_*: set and not "0" */
static int hidden(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0");
}

void dm_cpu_detect(dm_cpu *c) {
    pthread_once(&hardware_once, read_hardware);
    *c = hardware;
    int no2 = hidden("DM_CPU_NO_AVX2"), no512 = no2 || hidden("DM_CPU_NO_AVX512");
    if (no512 || hidden("DM_CPU_NO_BF16")) {
        c->hidden_bf16 = c->avx512_bf16 || c->amx_bf16;
        c->avx512_bf16 = c->amx_bf16 = c->amx_tile = 0;
    }
    if (no512) c->avx512f = c->avx512bw = c->avx512vl = c->avx512_vnni = 0;
    if (no2) c->avx2 = c->fma = c->f16c = 0;
}

dm_simd dm_cpu_simd(const dm_cpu *c) {
    if (c->avx512f && c->avx512bw && c->avx512vl && c->avx2 && c->fma) return DM_SIMD_AVX512;
    if (c->avx2 && c->fma) return DM_SIMD_AVX2;
    return DM_SIMD_NONE;
}

const char *dm_simd_name(dm_simd s) {
    return s == DM_SIMD_AVX512 ? "avx512" : s == DM_SIMD_AVX2 ? "avx2" : "plain";
}

void dm_cpu_kernels_string(const dm_cpu *c, char *buf, size_t n) {
    snprintf(buf, n, "%s%s, AMX %s", dm_simd_name(dm_cpu_simd(c)),
             c->avx512_bf16 ? " + avx512_bf16" : "", c->amx_bf16 ? "yes" : "no");
}

const char *dm_cpu_build_string(void) {
#if defined(DM_NATIVE_BUILD)
    return "native (-march=native: this CPU only)";
#elif defined(DM_X86)
    return "portable (x86-64 baseline + run-time SIMD kernels)";
#elif defined(__aarch64__)
    return "portable (arm64 baseline)";
#else
    return "portable (baseline)";
#endif
}

void dm_cpu_flags_string(const dm_cpu *c, char *buf, size_t n) {
    struct {
        int on;
        const char *name;
    } f[] = {{c->avx2, "avx2"},
             {c->fma, "fma"},
             {c->f16c, "f16c"},
             {c->avx512f, "avx512f"},
             {c->avx512bw, "avx512bw"},
             {c->avx512vl, "avx512vl"},
             {c->avx512_vnni, "avx512_vnni"},
             {c->avx512_bf16, "avx512_bf16"},
             {c->amx_tile, "amx_tile"},
             {c->amx_bf16, "amx_bf16"}};
    size_t k = 0;
    if (n) buf[0] = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on && k < n)
            k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? " " : "", f[i].name);
    if (!k && n) snprintf(buf, n, "(none of these)");
}

dm_status dm_cpu_request_amx(dm_error *err) {
#ifdef SYS_arch_prctl
    /* ARCH_REQ_XCOMP_PERM (0x1023) for XFEATURE_XTILEDATA (18): Linux >= 5.16 keeps the 8 KB
     * tile state off until a process asks */
    if (syscall(SYS_arch_prctl, 0x1023, 18) != 0)
        return dm_fail(err, "the CPU has AMX but Linux refused the tile state (arch_prctl "
                            "ARCH_REQ_XCOMP_PERM); kernel older than 5.16?");
    return DM_OK;
#else
    return dm_fail(err, "AMX tile permission: arch_prctl is not available on this system");
#endif
}

dm_status dm_precision_parse(const char *s, dm_precision *p, dm_error *err) {
    if (!strcmp(s, "auto"))
        *p = DM_PRECISION_AUTO;
    else if (!strcmp(s, "fp32") || !strcmp(s, "f32"))
        *p = DM_PRECISION_FP32;
    else if (!strcmp(s, "bf16"))
        *p = DM_PRECISION_BF16;
    else
        return dm_fail_code(err, DM_EUSAGE, "--precision '%s': expected auto, fp32 or bf16", s);
    return DM_OK;
}

const char *dm_precision_name(dm_precision p) {
    return p == DM_PRECISION_BF16 ? "bf16" : p == DM_PRECISION_FP32 ? "fp32" : "auto";
}

dm_status dm_precision_resolve(dm_precision requested, dm_precision *effective, dm_error *err) {
    const char *env = getenv("DM_PRECISION");
    if (requested == DM_PRECISION_AUTO && env && *env) {
        dm_error e2;
        if (dm_precision_parse(env, &requested, &e2))
            return dm_fail_code(err, DM_EUSAGE, "DM_PRECISION='%s': expected auto, fp32 or bf16",
                                env);
    }
    dm_cpu c;
    dm_cpu_detect(&c);
    int has = c.avx512_bf16 || c.amx_bf16;
    if (requested == DM_PRECISION_FP32 || (requested == DM_PRECISION_AUTO && !has)) {
        *effective = DM_PRECISION_FP32;
        return DM_OK;
    }
    if (requested != DM_PRECISION_AUTO && requested != DM_PRECISION_BF16)
        return dm_fail_code(err, DM_EUSAGE, "unknown precision %d", (int)requested);
    if (!has)
        return dm_fail_code(err, DM_EUSAGE,
                            "precision bf16: this CPU has neither avx512_bf16 nor amx_bf16%s; use "
                            "--precision fp32 (or auto)",
                            c.hidden_bf16 ? " (hidden by DM_CPU_NO_BF16)" : "");
    if (c.amx_bf16) DM_TRY(dm_cpu_request_amx(err));
    *effective = DM_PRECISION_BF16;
    return DM_OK;
}
