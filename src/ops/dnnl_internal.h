/* The insides of the oneDNN room, shared by its files and no one else: dnnl_ops.c (the engine,
 * the cache of per-shape primitives, weights preparation, conv and linear) and dnnl_banded.c
 * (the VAE's banded conv with its norm + SiLU fused into the bf16 conversion). */
#ifndef DM_OPS_DNNL_INTERNAL_H
#define DM_OPS_DNNL_INTERNAL_H

#include <dnnl.h>
#include <stdint.h>
#include <string.h>

#include "ops/dnnl_ops.h"

struct dm_wprep {
    dm_dnnl *d;
    dm_w src;       /* f32 or half, as the store handed it out */
    int O, I, k;    /* [O, I, k, k] conv kernel, or [O, I] matrix when k == 0 */
    int src_mapped; /* src lies in a file mapping (pages may be dropped after preparing) */
    void *data;     /* bf16 weights in layout md, or NULL until the first use */
    dnnl_memory_desc_t md;
    dnnl_memory_t mem;
};

/* One shape of one op. key: kind, shape numbers and flags; everything else is made from it. */
enum { KEY_INTS = 12 };
typedef struct {
    int key[KEY_INTS];
    dnnl_primitive_t prim, rin, rout; /* op; src f32 -> bf16; dst -> our layout (or NULL) */
    dnnl_memory_t m_x, m_src, m_dst, m_y, m_bias, m_scratch;
    dnnl_memory_desc_t wmd; /* weights layout the op wants */
    size_t src_bytes, dst_bytes, scratch_bytes;
    /* our own conversions where the layouts are the usual ones (oneDNN's reorders cost as
     * much as the op on small shapes): in: x [in_r][in_c] f32 -> bf16, transposed if in_t;
     * out: dst [out_r][out_c] f32 -> y [out_c][out_r], summed if out_add */
    int in_fast, in_t, in_r, in_c, out_fast, out_add, out_r, out_c;
    int failed; /* oneDNN could not make this op: remembered, so it is not asked again */
} entry;

/* how an op's activations relate to ours (see entry) */
typedef struct {
    const dnnl_memory_desc_t *src; /* bf16 layout our conversion writes */
    int t, r, c;
    const dnnl_memory_desc_t *dst; /* f32 layout our transposing store reads, or NULL */
    int out_r, out_c;
} fast_io;

struct dm_dnnl {
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    entry *e;
    int n, cap;
    dm_wprep **preps;
    int n_preps, cap_preps;
    int avx512_bf16; /* our band conversions need it (the CPU could in theory have AMX only) */
    void *buf[3];    /* bf16 src, f32 dst, scratchpad: grown to the largest entry */
    size_t buf_cap[3];
    dm_dnnl_stats st;
};

enum { TB = 32 }; /* transpose tiles */

static inline uint16_t dm_dnnl_to_bf16(float x) { /* round to nearest even; NaN stays NaN */
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

/* y[c*plane + r] (+)= s[r*C + c] for r < R: an NHWC f32 result into an NCHW map */
void dm_dnnl_store_t(const float *s, int R, int C, float *y, size_t plane, int add);
/* d's buffer i (0 bf16 src, 1 f32 dst, 2 scratchpad), grown to bytes; NULL when out of memory */
void *dm_dnnl_grow(dm_dnnl *d, int i, size_t bytes);
int dm_dnnl_mem_new(dm_dnnl *d, const dnnl_memory_desc_t *md, dnnl_memory_t *m);
dnnl_primitive_attr_t dm_dnnl_attr_new(int sum);
int dm_dnnl_run(dm_dnnl *d, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args);
void dm_dnnl_impl_name(dnnl_primitive_desc_t pd, char *buf, size_t n);
int dm_dnnl_prepare(dm_wprep *p, const dnnl_memory_desc_t *want, const dnnl_memory_desc_t *src_md);
/* the entry of key, made (*fresh = 1) when new; NULL when out of memory */
entry *dm_dnnl_cached(dm_dnnl *d, const int *key, int *fresh);
int dm_dnnl_op_args(entry *e, dm_wprep *p, const float *bias, dnnl_exec_arg_t op[5]);
int dm_dnnl_keep_entry(dm_dnnl *d, entry *e, int rc);

#endif
