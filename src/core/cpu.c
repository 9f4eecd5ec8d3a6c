#include "core/cpu.h"

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* XCR0 (xgetbv 0): which register state the OS saves on context switches. */
static unsigned long long xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

void dm_cpu_detect(dm_cpu *c) {
    memset(c, 0, sizeof *c);
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
    const char *hide = getenv("DM_CPU_NO_BF16"), *no512 = getenv("DM_CPU_NO_AVX512");
    int hide512 = no512 && *no512 && strcmp(no512, "0");
    if (hide512 || (hide && *hide && strcmp(hide, "0"))) {
        c->hidden_bf16 = c->avx512_bf16 || c->amx_bf16;
        c->avx512_bf16 = c->amx_bf16 = c->amx_tile = 0;
    }
    if (hide512) c->avx512f = c->avx512bw = c->avx512vl = c->avx512_vnni = 0;
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
    if (!k && n) snprintf(buf, n, "(no AVX2)");
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
