/* bf16 convolutions and linears through oneDNN (C API, 2.6). Per shape, one cache entry holds
 * the primitive and the reorders around it: f32 activations in our layout (CHW / token-major)
 * -> bf16 in the layout the primitive chose, and its f32 output -> our layout, with the
 * residual add (accumulate) done by that reorder's sum post-op. The banded conv of the VAE
 * decoder is in dnnl_banded.c; what the two share is dnnl_internal.h. */
#include "ops/dnnl_internal.h"

#include "core/arena.h"
#include "core/cpu.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

dm_status dm_dnnl_create(dm_dnnl **out, dm_error *err) {
    *out = NULL;
    dm_dnnl *d = calloc(1, sizeof *d);
    if (!d) return dm_fail(err, "out of memory");
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) != dnnl_success ||
        dnnl_stream_create(&d->stream, d->eng, dnnl_stream_default_flags) != dnnl_success) {
        dm_dnnl_free(d);
        return dm_fail(err, "oneDNN: cannot create a CPU engine");
    }
    dm_cpu c;
    dm_cpu_detect(&c);
    d->avx512_bf16 = c.avx512_bf16;
    *out = d;
    return DM_OK;
}

static void entry_free(entry *e) {
    dnnl_primitive_t p[] = {e->prim, e->rin, e->rout};
    for (int i = 0; i < 3; i++)
        if (p[i]) dnnl_primitive_destroy(p[i]);
    dnnl_memory_t m[] = {e->m_x, e->m_src, e->m_dst, e->m_y, e->m_bias, e->m_scratch};
    for (int i = 0; i < 6; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
}

void dm_dnnl_free(dm_dnnl *d) {
    if (!d) return;
    for (int i = 0; i < d->n; i++) entry_free(&d->e[i]);
    free(d->e);
    for (int i = 0; i < d->n_preps; i++) {
        if (d->preps[i]->mem) dnnl_memory_destroy(d->preps[i]->mem);
        free(d->preps[i]->data);
        free(d->preps[i]);
    }
    free(d->preps);
    for (int i = 0; i < 3; i++) free(d->buf[i]);
    if (d->stream) dnnl_stream_destroy(d->stream);
    if (d->eng) dnnl_engine_destroy(d->eng);
    free(d);
}

void dm_dnnl_get_stats(const dm_dnnl *d, dm_dnnl_stats *s) {
    *s = d->st;
}

dm_wprep *dm_dnnl_prep(dm_dnnl *d, dm_w w, int O, int I, int k, int src_mapped) {
    if (d->n_preps == d->cap_preps) {
        int cap = d->cap_preps ? 2 * d->cap_preps : 256;
        dm_wprep **p = realloc(d->preps, sizeof *p * (size_t)cap);
        if (!p) return NULL;
        d->preps = p, d->cap_preps = cap;
    }
    dm_wprep *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    *p = (dm_wprep){.d = d, .src = w, .O = O, .I = I, .k = k, .src_mapped = src_mapped};
    p->src.prep = NULL;
    d->preps[d->n_preps++] = p;
    return p;
}

/* ------------------------------------------------------------------ conversions */

static void cvt_plain(const float *x, size_t n, uint16_t *y) {
    const size_t chunk = 1 << 14;
    long nc = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (dm_ops_parallel() && nc > 1)
    for (long b = 0; b < nc; b++) {
        size_t i0 = (size_t)b * chunk, i1 = i0 + chunk < n ? i0 + chunk : n;
        for (size_t i = i0; i < i1; i++) y[i] = dm_dnnl_to_bf16(x[i]);
    }
}

/* y[c*R + r] = bf16(x[r*C + c]) */
static void cvt_t(const float *x, int R, int C, uint16_t *y) {
    int nr = (R + TB - 1) / TB, nc = (C + TB - 1) / TB;
#pragma omp parallel for collapse(2) schedule(static) if (dm_ops_parallel() && (long)R * C > 16384)
    for (int br = 0; br < nr; br++)
        for (int bc = 0; bc < nc; bc++) {
            int r1 = br * TB + TB < R ? br * TB + TB : R, c1 = bc * TB + TB < C ? bc * TB + TB : C;
            for (int c = bc * TB; c < c1; c++)
                for (int r = br * TB; r < r1; r++)
                    y[(size_t)c * R + r] = dm_dnnl_to_bf16(x[(size_t)r * C + c]);
        }
}

/* y[c*plane + r] (+)= s[r*C + c] for r < R: an NHWC f32 result into an NCHW map (plane = R for
 * the whole map; a band's rows are a part of each plane) */
void dm_dnnl_store_t(const float *s, int R, int C, float *y, size_t plane, int add) {
    int nr = (R + TB - 1) / TB, nc = (C + TB - 1) / TB;
#pragma omp parallel for collapse(2) schedule(static) if (dm_ops_parallel() && (long)R * C > 16384)
    for (int br = 0; br < nr; br++)
        for (int bc = 0; bc < nc; bc++) {
            int r1 = br * TB + TB < R ? br * TB + TB : R, c1 = bc * TB + TB < C ? bc * TB + TB : C;
            for (int c = bc * TB; c < c1; c++) {
                float *yc = y + (size_t)c * plane;
                if (add)
                    for (int r = br * TB; r < r1; r++) yc[r] += s[(size_t)r * C + c];
                else
                    for (int r = br * TB; r < r1; r++) yc[r] = s[(size_t)r * C + c];
            }
        }
}

/* ------------------------------------------------------------------ helpers */

void *dm_dnnl_grow(dm_dnnl *d, int i, size_t bytes) {
    if (bytes > d->buf_cap[i]) {
        free(d->buf[i]);
        size_t cap = (bytes + 4095) & ~(size_t)4095;
        d->buf[i] = aligned_alloc(64, cap);
        d->buf_cap[i] = d->buf[i] ? cap : 0;
    }
    return d->buf[i];
}

int dm_dnnl_mem_new(dm_dnnl *d, const dnnl_memory_desc_t *md, dnnl_memory_t *m) {
    return dnnl_memory_create(m, md, d->eng, DNNL_MEMORY_NONE) == dnnl_success ? 0 : -1;
}

dnnl_primitive_attr_t dm_dnnl_attr_new(int sum) {
    dnnl_primitive_attr_t a = NULL;
    if (dnnl_primitive_attr_create(&a) != dnnl_success) return NULL;
    dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_user);
    if (sum) {
        dnnl_post_ops_t po;
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_sum(po, 1.0f);
        dnnl_primitive_attr_set_post_ops(a, po);
        dnnl_post_ops_destroy(po);
    }
    return a;
}

/* A reorder src -> dst (dst += when sum). */
static dnnl_primitive_t reorder_new(dm_dnnl *d, const dnnl_memory_desc_t *src,
                                    const dnnl_memory_desc_t *dst, int sum) {
    dnnl_primitive_attr_t a = dm_dnnl_attr_new(sum);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (a) dnnl_primitive_attr_set_scratchpad_mode(a, dnnl_scratchpad_mode_library);
    if (a && dnnl_reorder_primitive_desc_create(&pd, src, d->eng, dst, d->eng, a) == dnnl_success)
        dnnl_primitive_create(&p, pd);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (a) dnnl_primitive_attr_destroy(a);
    return p;
}

int dm_dnnl_run(dm_dnnl *d, dnnl_primitive_t p, int n, const dnnl_exec_arg_t *args) {
    if (dnnl_primitive_execute(p, d->stream, n, args) != dnnl_success) return -1;
    return dnnl_stream_wait(d->stream) == dnnl_success ? 0 : -1;
}

void dm_dnnl_impl_name(dnnl_primitive_desc_t pd, char *buf, size_t n) {
    const char *s = NULL;
    if (buf[0]) return;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &s) == dnnl_success && s)
        snprintf(buf, n, "%s", s);
}

/* Makes p->data hold the weights in layout want (bf16), from the source: once, unless a second
 * primitive wants another layout (counted). src_md: the source's logical dims and f32 strides. */
int dm_dnnl_prepare(dm_wprep *p, const dnnl_memory_desc_t *want, const dnnl_memory_desc_t *src_md) {
    dm_dnnl *d = p->d;
    if (p->data && dnnl_memory_desc_equal(&p->md, want)) return 0;
    size_t n = (size_t)p->O * p->I * (p->k ? (size_t)p->k * p->k : 1), bytes;
    int rc = -1;
    /* the weight's f32 values in [O, I, k, k] / [O, I] order (converted into tmp when half) */
    int need = p->src.half || p->src.patch;
    float *tmp = need ? malloc(n * sizeof(float)) : NULL;
    if (need && !tmp) return -1;
    const float *f = dm_w_f32(p->src, n, tmp);
    bytes = dnnl_memory_desc_get_size(want);
    void *data = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    dnnl_primitive_t r = reorder_new(d, src_md, want, 0);
    dnnl_memory_t ms = NULL, mw = NULL;
    if (data && r && !dm_dnnl_mem_new(d, src_md, &ms) && !dm_dnnl_mem_new(d, want, &mw)) {
        dnnl_memory_set_data_handle(ms, (void *)f);
        dnnl_memory_set_data_handle(mw, data);
        dnnl_exec_arg_t a[] = {{DNNL_ARG_FROM, ms}, {DNNL_ARG_TO, mw}};
        rc = dm_dnnl_run(d, r, 2, a);
    }
    if (r) dnnl_primitive_destroy(r);
    if (ms) dnnl_memory_destroy(ms);
    free(tmp);
    if (rc) {
        if (mw) dnnl_memory_destroy(mw);
        free(data);
        return -1;
    }
    if (p->data) {
        d->st.reprepared++;
        d->st.weight_bytes -= dnnl_memory_desc_get_size(&p->md);
        free(p->data);
        dnnl_memory_destroy(p->mem);
    } else {
        d->st.weights++;
        /* the file's pages of this weight are no longer read: give them back */
        if (p->src_mapped)
            dm_pages_drop(p->src.half ? (const void *)p->src.half : (const void *)p->src.f32,
                          n * (p->src.half ? 2 : 4));
    }
    d->st.weight_bytes += bytes;
    p->data = data;
    p->md = *want;
    p->mem = mw;
    dnnl_memory_set_data_handle(p->mem, p->data);
    return 0;
}

static entry *find(dm_dnnl *d, const int *key) {
    for (int i = 0; i < d->n; i++)
        if (!memcmp(d->e[i].key, key, sizeof d->e[i].key)) return &d->e[i];
    return NULL;
}

static entry *add(dm_dnnl *d, const int *key) {
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        entry *e = realloc(d->e, sizeof *e * (size_t)cap);
        if (!e) return NULL;
        d->e = e, d->cap = cap;
    }
    entry *e = &d->e[d->n];
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, sizeof e->key);
    return e;
}

/* The cache entry of key: the one made before (*fresh = 0), or a new one for the caller to
 * finish and keep_entry (*fresh = 1); NULL when oneDNN refused this shape before, or no memory. */
entry *dm_dnnl_cached(dm_dnnl *d, const int *key, int *fresh) {
    entry *e = find(d, key);
    *fresh = !e;
    if (e) return e->failed ? NULL : e;
    return add(d, key);
}

/* Finishes a new entry from its op's primitive descriptor: the op, the reorder of the f32
 * input (x_md) into the op's src layout, and (when the op's dst is not y_md) the reorder of the
 * f32 result into y, summing when acc. Returns 0, or -1 (entry not kept). */
static int finish(dm_dnnl *d, entry *e, dnnl_primitive_desc_t pd, const dnnl_memory_desc_t *x_md,
                  const dnnl_memory_desc_t *y_md, int acc, int sum_fused, int has_bias,
                  const fast_io *f, char *impl) {
    const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    const dnnl_memory_desc_t *bias = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    e->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    dm_dnnl_impl_name(pd, impl, 64);
    if (dnnl_primitive_create(&e->prim, pd) != dnnl_success) return -1;
    e->rin = reorder_new(d, x_md, src, 0);
    if (!e->rin || dm_dnnl_mem_new(d, x_md, &e->m_x) || dm_dnnl_mem_new(d, src, &e->m_src) ||
        dm_dnnl_mem_new(d, dst, &e->m_dst) || dm_dnnl_mem_new(d, sp, &e->m_scratch))
        return -1;
    if (has_bias && dm_dnnl_mem_new(d, bias, &e->m_bias)) return -1;
    e->src_bytes = dnnl_memory_desc_get_size(src);
    e->scratch_bytes = dnnl_memory_desc_get_size(sp);
    if (dnnl_memory_desc_equal(src, f->src))
        e->in_fast = 1, e->in_t = f->t, e->in_r = f->r, e->in_c = f->c;
    if (!dnnl_memory_desc_equal(dst, y_md) || (acc && !sum_fused)) {
        e->dst_bytes = dnnl_memory_desc_get_size(dst);
        if (f->dst && dnnl_memory_desc_equal(dst, f->dst))
            e->out_fast = 1, e->out_add = acc, e->out_r = f->out_r, e->out_c = f->out_c;
        e->rout = reorder_new(d, dst, y_md, acc);
        if (!e->rout || dm_dnnl_mem_new(d, y_md, &e->m_y)) return -1;
    }
    d->st.primitives++;
    return 0;
}

/* The op's arguments: src / weights / dst / scratchpad memories (data handles set by the caller)
 * and the bias when the op has one; returns how many. */
int dm_dnnl_op_args(entry *e, dm_wprep *p, const float *bias, dnnl_exec_arg_t op[5]) {
    op[0] = (dnnl_exec_arg_t){DNNL_ARG_SRC, e->m_src};
    op[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, p->mem};
    op[2] = (dnnl_exec_arg_t){DNNL_ARG_DST, e->m_dst};
    op[3] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->m_scratch};
    if (!e->m_bias) return 4;
    dnnl_memory_set_data_handle(e->m_bias, (void *)bias);
    op[4] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->m_bias};
    return 5;
}

/* Runs entry e: x -> src (bf16), op (weights p), dst -> y. */
static int execute(dm_dnnl *d, entry *e, dm_wprep *p, const float *x, const float *bias, float *y,
                   const dnnl_memory_desc_t *w_src_md) {
    double t0 = omp_get_wtime();
    if (dm_dnnl_prepare(p, &e->wmd, w_src_md)) return -1;
    double t1 = omp_get_wtime();
    d->st.prepare_seconds += t1 - t0;
    void *src = dm_dnnl_grow(d, 0, e->src_bytes), *sp = dm_dnnl_grow(d, 2, e->scratch_bytes + 64);
    void *dst = e->rout ? dm_dnnl_grow(d, 1, e->dst_bytes) : y;
    if (!src || !sp || !dst) return -1;
    dnnl_memory_set_data_handle(e->m_x, (void *)x);
    dnnl_memory_set_data_handle(e->m_src, src);
    dnnl_memory_set_data_handle(e->m_dst, dst);
    dnnl_memory_set_data_handle(e->m_scratch, sp);
    dnnl_exec_arg_t in[] = {{DNNL_ARG_FROM, e->m_x}, {DNNL_ARG_TO, e->m_src}};
    if (e->in_fast && e->in_t)
        cvt_t(x, e->in_r, e->in_c, src);
    else if (e->in_fast)
        cvt_plain(x, (size_t)e->in_r * e->in_c, src);
    else if (dm_dnnl_run(d, e->rin, 2, in))
        return -1;
    dnnl_exec_arg_t op[5];
    int n = dm_dnnl_op_args(e, p, bias, op);
    double t2 = omp_get_wtime();
    if (dm_dnnl_run(d, e->prim, n, op)) return -1;
    double t3 = omp_get_wtime();
    if (e->out_fast) {
        dm_dnnl_store_t(dst, e->out_r, e->out_c, y, (size_t)e->out_r, e->out_add);
    } else if (e->rout) {
        dnnl_memory_set_data_handle(e->m_y, y);
        dnnl_exec_arg_t out[] = {{DNNL_ARG_FROM, e->m_dst}, {DNNL_ARG_TO, e->m_y}};
        if (dm_dnnl_run(d, e->rout, 2, out)) return -1;
    }
    double t4 = omp_get_wtime();
    d->st.op_seconds += t3 - t2;
    d->st.convert_seconds += (t2 - t1) + (t4 - t3);
    return 0;
}

/* A freshly built cache entry: counted when its primitive was made (rc 0); else kept as a
 * failed one (its parts freed), so the next call with this shape falls back at once. */
int dm_dnnl_keep_entry(dm_dnnl *d, entry *e, int rc) {
    if (rc) {
        entry_free(e);
        int key[KEY_INTS];
        memcpy(key, e->key, sizeof key);
        memset(e, 0, sizeof *e);
        memcpy(e->key, key, sizeof key);
        e->failed = 1;
        d->st.failures++;
    }
    d->n++;
    return rc ? -1 : 0;
}

static int run_entry(dm_dnnl *d, entry *e, dm_wprep *p, const float *x, const float *b, float *y,
                     const dnnl_memory_desc_t *w_src) {
    if (execute(d, e, p, x, b, y, w_src)) {
        d->st.failures++;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ convolution */

int dm_dnnl_conv2d(dm_wprep *p, const float *x, int C, int H, int W, const float *b, int O, int k,
                   int stride, int pad, float *y, int accumulate) {
    dm_dnnl *d = p->d;
    int Ho = dm_conv_out(H, k, stride, pad), Wo = dm_conv_out(W, k, stride, pad);
    int key[KEY_INTS] = {1, C, H, W, O, k, stride, pad, accumulate, b != NULL};
    dnnl_memory_desc_t x_md, y_md, w_src;
    dnnl_dims_t xd = {1, C, H, W}, yd = {1, O, Ho, Wo}, wd = {O, C, k, k};
    dnnl_memory_desc_init_by_tag(&x_md, 4, xd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&y_md, 4, yd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&w_src, 4, wd, dnnl_f32, dnnl_oihw);
    int fresh;
    entry *e = dm_dnnl_cached(d, key, &fresh);
    if (!e) return -1;
    if (fresh) {
        dnnl_memory_desc_t s, w, bm, dst;
        dnnl_dims_t bd = {O}, st = {stride, stride}, pd2 = {pad, pad};
        dnnl_memory_desc_init_by_tag(&s, 4, xd, dnnl_bf16, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&w, 4, wd, dnnl_bf16, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&bm, 1, bd, dnnl_f32, dnnl_a);
        dnnl_memory_desc_init_by_tag(&dst, 4, yd, dnnl_f32, dnnl_format_tag_any);
        dnnl_convolution_desc_t cd;
        dnnl_primitive_desc_t pd = NULL;
        int rc = -1;
        /* NHWC: x [C][HW] transposed into [HW][C] bf16; dst [HoWo][O] transposed back */
        dnnl_memory_desc_t nhwc16, nhwc32;
        dnnl_memory_desc_init_by_tag(&nhwc16, 4, xd, dnnl_bf16, dnnl_acdb);
        dnnl_memory_desc_init_by_tag(&nhwc32, 4, yd, dnnl_f32, dnnl_acdb);
        fast_io f = {&nhwc16, 1, C, H * W, &nhwc32, Ho * Wo, O};
        /* first ask with the sum fused into the op: used only if the op writes y's layout */
        for (int fused = 1; fused >= 0 && rc; fused--) {
            dnnl_primitive_attr_t a = dm_dnnl_attr_new(fused && accumulate);
            if (a &&
                dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference,
                                                   dnnl_convolution_direct, &s, &w, b ? &bm : NULL,
                                                   &dst, st, pd2, pd2) == dnnl_success &&
                dnnl_primitive_desc_create(&pd, &cd, a, d->eng, NULL) == dnnl_success) {
                const dnnl_memory_desc_t *q =
                    dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
                int plain = dnnl_memory_desc_equal(q, &y_md);
                if (!(fused && accumulate && !plain)) /* else the reorder out sums instead */ {
                    rc = finish(d, e, pd, &x_md, &y_md, accumulate, fused, b != NULL, &f,
                                d->st.conv_impl);
                }
                dnnl_primitive_desc_destroy(pd);
                pd = NULL;
            }
            if (a) dnnl_primitive_attr_destroy(a);
            if (!accumulate) break;
        }
        if (dm_dnnl_keep_entry(d, e, rc)) return -1;
    }
    return run_entry(d, e, p, x, b, y, &w_src);
}

/* ------------------------------------------------------------------ linear (matmul) */

int dm_dnnl_linear(dm_wprep *p, const float *x, int M, int K, const float *b, int N, float *y,
                   int accumulate, int x_chw, int y_chw) {
    dm_dnnl *d = p->d;
    if (y_chw) accumulate = 1;
    int key[KEY_INTS] = {2, M, K, N, accumulate, b != NULL, x_chw, y_chw};
    dnnl_memory_desc_t x_md, y_md, w_src;
    dnnl_dims_t xd = {M, K}, yd = {M, N}, wd = {K, N};
    /* x[M,K] row-major, or given as [K, M]: strides (1, M); y likewise */
    dnnl_dims_t xs = {K, 1}, xs_t = {1, M}, ys = {N, 1}, ys_t = {1, M}, ws = {1, K};
    dnnl_memory_desc_init_by_strides(&x_md, 2, xd, dnnl_f32, x_chw ? xs_t : xs);
    dnnl_memory_desc_init_by_strides(&y_md, 2, yd, dnnl_f32, y_chw ? ys_t : ys);
    /* W[N,K] row-major is the [K, N] weights matrix of the product with strides (1, K) */
    dnnl_memory_desc_init_by_strides(&w_src, 2, wd, dnnl_f32, ws);
    int fresh;
    entry *e = dm_dnnl_cached(d, key, &fresh);
    if (!e) return -1;
    if (fresh) {
        dnnl_memory_desc_t s, w, bm, dst;
        dnnl_dims_t bd = {1, N};
        dnnl_memory_desc_init_by_tag(&s, 2, xd, dnnl_bf16, dnnl_ab);
        dnnl_memory_desc_init_by_tag(&w, 2, wd, dnnl_bf16, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&bm, 2, bd, dnnl_f32, dnnl_ab);
        dnnl_memory_desc_init_by_tag(&dst, 2, yd, dnnl_f32, dnnl_ab);
        /* plain y: the op sums into it itself; a CHW y: the reorder out transposes and sums */
        int fused = accumulate && !y_chw;
        dnnl_primitive_attr_t a = dm_dnnl_attr_new(fused);
        dnnl_matmul_desc_t md;
        dnnl_primitive_desc_t pd = NULL;
        int rc = -1;
        /* x [M][K] converted, or given [K][M] and transposed; a CHW y takes dst [M][N]
         * transposed */
        fast_io f = {&s, x_chw, x_chw ? K : M, x_chw ? M : K, y_chw ? &dst : NULL, M, N};
        if (a && dnnl_matmul_desc_init(&md, &s, &w, b ? &bm : NULL, &dst) == dnnl_success &&
            dnnl_primitive_desc_create(&pd, &md, a, d->eng, NULL) == dnnl_success)
            rc =
                finish(d, e, pd, &x_md, &y_md, accumulate, fused, b != NULL, &f, d->st.linear_impl);
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (a) dnnl_primitive_attr_destroy(a);
        if (dm_dnnl_keep_entry(d, e, rc)) return -1;
    }
    return run_entry(d, e, p, x, b, y, &w_src);
}
