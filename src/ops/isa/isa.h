/* The kernels of src/ops/isa/: each file there is compiled once per x86 SIMD target with that
 * target's flags, its symbols suffixed by the target (DM_ISA_FN(dm_flash_task) is
 * dm_flash_task_avx2 in the AVX2 + FMA build, dm_flash_task_avx512 in the AVX-512 one). The
 * callers in src/ops/ are baseline code: they pick a suffix from dm_cpu_simd (core/cpu.h) and
 * never call one the CPU lacks. Off x86 nothing of this folder is built. */
#ifndef DM_OPS_ISA_H
#define DM_OPS_ISA_H

#include "core/cpu.h"

#define DM_ISA_CAT2(a, b) a##b
#define DM_ISA_CAT(a, b)  DM_ISA_CAT2(a, b)
#define DM_ISA_FN(name)   DM_ISA_CAT(name, DM_ISA_SUFFIX)

/* dm_flash_task: out[rows, d] = softmax(q kᵀ · scale) v for one head and rows <= DM_FLASH_ROWS
 * query rows, d a multiple of 8 up to DM_FLASH_MAX_D, Lk >= 1 (flash.c says how). */
enum { DM_FLASH_ROWS = 64, DM_FLASH_MAX_D = 160 };
typedef void dm_flash_task_fn(const float *q, int q_stride, const float *k, int k_stride,
                              const float *v, int v_stride, int rows, int Lk, int d, float scale,
                              float *out, int out_stride);
#ifdef DM_X86
#define DM_HAVE_ISA_KERNELS 1
dm_flash_task_fn dm_flash_task_avx2, dm_flash_task_avx512;
#endif

#endif
