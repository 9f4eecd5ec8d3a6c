/* The banded bf16 convolution of the VAE decoder (dm_dnnl_conv2d_pre): the output in bands of
 * rows, each band's input converted to bf16 with the group norm's scale / shift and SiLU (and a
 * nearest 2x upsample) applied on the way, so pre(x), the bf16 input and the f32 output never
 * exist whole. Uses the oneDNN room's cache (dnnl_internal.h); conv2d.c calls it. */
#include <math.h>
#include <omp.h>

#include "core/cpu.h"
#include "ops/dnnl_internal.h"
#ifdef DM_X86
#include "ops/avx512_math.h"
#endif

/* Band bytes: B bf16 input rows and B f32 output rows of one band stay under this (the input
 * has k - 1 halo rows more), so a 512² VAE layer runs in ~8 MB pieces instead of 128 + 256 MB
 * buffers; a single row wider than this still makes a band of one row. */
enum { BAND_BYTES = 8 << 20 };

/* Rows of output per band: the largest divisor of Ho within BAND_BYTES, so every band has one
 * shape (one primitive, one weights layout); 0 when that leaves bands of under 4 rows of a big
 * map (the caller then runs the whole-map path). */
static int band_rows(int Ho, size_t in_row, size_t out_row) {
    size_t row = in_row > out_row ? in_row : out_row;
    int b = dm_divisor_at_most(Ho, (int)(BAND_BYTES / (row ? row : 1)));
    return b < 4 && Ho > 16 ? 0 : b;
}

#ifdef DM_X86
/* t[i] = bf16(pre(x[i])) for i < n, x one channel's contiguous source pixels: 16 lanes a time,
 * masked tail (AVX-512: the bf16 path runs only on CPUs with avx512_bf16) */
TGT static void pre_row(const float *x, int n, float a, float b, int silu, uint16_t *t) {
    __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    for (int i = 0; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), va, vb);
        if (silu) v = vsilu(v);
        _mm256_mask_storeu_epi16(t + i, m, (__m256i)_mm512_cvtneps_pbh(v));
    }
}
#else
/* the same in plain C (the band path runs only where d->avx512_bf16: never off x86) */
static void pre_row(const float *x, int n, float a, float b, int silu, uint16_t *t) {
    for (int i = 0; i < n; i++) {
        float v = x[i] * a + b;
        t[i] = dm_dnnl_to_bf16(silu ? v / (1.0f + expf(-v)) : v);
    }
}
#endif

/* The input rows [y0, y0 + Hb) of pre(x) (zero outside 0..H-1), as bf16 NHWC: dst[r][w][c].
 * Per (row, 32 channels, 64 source pixels): the transform over contiguous source pixels into a
 * small channel-major tile, then the tile copied transposed, each pixel repeated up times. */
enum { BX = 64 };
static void band_in(const float *x, const dm_conv_pre *pre, int C, int H, int W, int y0, int Hb,
                    uint16_t *dst) {
    int up = pre->up > 1 ? pre->up : 1, Hs = H / up, Ws = W / up;
    int nct = (C + TB - 1) / TB;
#pragma omp parallel for collapse(2)                                                               \
    schedule(static) if (dm_ops_parallel() && (long)Hb * W * C > 16384)
    for (int r = 0; r < Hb; r++)
        for (int ct = 0; ct < nct; ct++) {
            int yy = y0 + r, c0 = ct * TB, c1 = c0 + TB < C ? c0 + TB : C, nc = c1 - c0;
            uint16_t *row = dst + (size_t)r * W * C + c0;
            if (yy < 0 || yy >= H) {
                for (int xx = 0; xx < W; xx++)
                    memset(row + (size_t)xx * C, 0, sizeof(uint16_t) * (size_t)nc);
                continue;
            }
            const float *src = x + (size_t)(yy / up) * Ws;
            uint16_t tile[TB][BX];
            for (int s0 = 0; s0 < Ws; s0 += BX) {
                int n = s0 + BX < Ws ? BX : Ws - s0;
                for (int c = 0; c < nc; c++)
                    pre_row(src + (size_t)(c0 + c) * Hs * Ws + s0, n,
                            pre->scale ? pre->scale[c0 + c] : 1.0f,
                            pre->shift ? pre->shift[c0 + c] : 0.0f, pre->silu, tile[c]);
                for (int i = 0; i < n; i++)
                    for (int u = 0; u < up; u++) {
                        uint16_t *px = row + (size_t)((s0 + i) * up + u) * C;
                        for (int c = 0; c < nc; c++) px[c] = tile[c][i];
                    }
            }
        }
}

int dm_dnnl_conv2d_pre(dm_wprep *p, const float *x, const dm_conv_pre *pre, int C, int H, int W,
                       const float *b, int O, int k, int pad, float *y, int accumulate) {
    dm_dnnl *d = p->d;
    int Ho = dm_conv_out(H, k, 1, pad), Wo = dm_conv_out(W, k, 1, pad);
    int B = band_rows(Ho, (size_t)W * C * 2, (size_t)Wo * O * 4), Hb = B + k - 1;
    int up = pre->up > 1 ? pre->up : 1;
    if (!d->avx512_bf16 || B == 0 || Ho < 1 || Wo < 1 || H % up || W % up) return -1;
    /* a band: Hb input rows, zero rows written by us where the conv pads, so the primitive pads
     * the sides only */
    int key[KEY_INTS] = {3, C, Hb, W, O, k, pad, b != NULL};
    dnnl_memory_desc_t w_src;
    dnnl_dims_t xd = {1, C, Hb, W}, yd = {1, O, B, Wo}, wd = {O, C, k, k};
    dnnl_memory_desc_init_by_tag(&w_src, 4, wd, dnnl_f32, dnnl_oihw);
    int fresh;
    entry *e = dm_dnnl_cached(d, key, &fresh);
    if (!e) return -1;
    if (fresh) {
        dnnl_memory_desc_t s, w, bm, dst;
        dnnl_dims_t bd = {O}, st = {1, 1}, pl = {0, pad};
        dnnl_memory_desc_init_by_tag(&s, 4, xd, dnnl_bf16, dnnl_acdb);
        dnnl_memory_desc_init_by_tag(&w, 4, wd, dnnl_bf16, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&bm, 1, bd, dnnl_f32, dnnl_a);
        dnnl_memory_desc_init_by_tag(&dst, 4, yd, dnnl_f32, dnnl_acdb);
        dnnl_convolution_desc_t cd;
        dnnl_primitive_desc_t pd = NULL;
        dnnl_primitive_attr_t a = dm_dnnl_attr_new(0);
        int rc = -1;
        if (a &&
            dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                               &s, &w, b ? &bm : NULL, &dst, st, pl,
                                               pl) == dnnl_success &&
            dnnl_primitive_desc_create(&pd, &cd, a, d->eng, NULL) == dnnl_success) {
            const dnnl_memory_desc_t *sp =
                dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            e->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
            dm_dnnl_impl_name(pd, d->st.conv_impl, sizeof d->st.conv_impl);
            e->src_bytes = dnnl_memory_desc_get_size(&s);
            e->dst_bytes = dnnl_memory_desc_get_size(&dst);
            e->scratch_bytes = dnnl_memory_desc_get_size(sp);
            if (dnnl_primitive_create(&e->prim, pd) == dnnl_success &&
                !dm_dnnl_mem_new(d, &s, &e->m_src) && !dm_dnnl_mem_new(d, &dst, &e->m_dst) &&
                !dm_dnnl_mem_new(d, sp, &e->m_scratch) &&
                (!b || !dm_dnnl_mem_new(d, &bm, &e->m_bias)))
                rc = 0;
            d->st.primitives += rc == 0;
        }
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (a) dnnl_primitive_attr_destroy(a);
        if (dm_dnnl_keep_entry(d, e, rc)) return -1;
    }
    double t0 = omp_get_wtime();
    if (dm_dnnl_prepare(p, &e->wmd, &w_src)) {
        d->st.failures++;
        return -1;
    }
    double t1 = omp_get_wtime(), conv = 0, ops = 0;
    d->st.prepare_seconds += t1 - t0;
    void *src = dm_dnnl_grow(d, 0, e->src_bytes), *dst = dm_dnnl_grow(d, 1, e->dst_bytes),
         *sp = dm_dnnl_grow(d, 2, e->scratch_bytes + 64);
    if (!src || !dst || !sp) return -1;
    dnnl_memory_set_data_handle(e->m_src, src);
    dnnl_memory_set_data_handle(e->m_dst, dst);
    dnnl_memory_set_data_handle(e->m_scratch, sp);
    dnnl_exec_arg_t op[5];
    int n = dm_dnnl_op_args(e, p, b, op);
    for (int r0 = 0; r0 < Ho; r0 += B) {
        double c0 = omp_get_wtime();
        band_in(x, pre, C, H, W, r0 - pad, Hb, src);
        double c1 = omp_get_wtime();
        /* a primitive that was made runs (oneDNN fails at creation, not execution). Were it to
         * fail anyway: y is rewritten whole by the fallback, unless earlier bands were already
         * summed into it, which a rerun would sum twice; then it is counted, and that band
         * keeps y's old values plus the last band's result */
        if (dm_dnnl_run(d, e->prim, n, op)) {
            d->st.failures++;
            if (!accumulate || r0 == 0) return -1;
        }
        double c2 = omp_get_wtime();
        dm_dnnl_store_t(dst, B * Wo, O, y + (size_t)r0 * Wo, (size_t)Ho * Wo, accumulate);
        conv += (c1 - c0) + (omp_get_wtime() - c2), ops += c2 - c1;
    }
    d->st.op_seconds += ops;
    d->st.convert_seconds += conv;
    return 0;
}
