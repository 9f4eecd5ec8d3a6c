/* fp32 3x3 convolutions of the SD 1.5 UNet / VAE: our im2col + sgemm (dm_conv2d) against
 * oneDNN's fp32 convolution (format_tag::any), with and without the reorders from / to our
 * NCHW layout, and the bf16 path (dm_conv2d_w with a prepared weight: oneDNN bf16 + our NCHW <->
 * NHWC conversions). Interleaved, best of N, on the OpenMP pool (OMP_NUM_THREADS).
 *   cc -O2 -march=native -fopenmp -Iinclude -Isrc bench/conv_fp32_vs_onednn.c build/libdiffumask.a \
 *      -ldnnl -lopenblas -lcjson -lutf8proc -lpng -ljpeg -lm -o /tmp/convbench && /tmp/convbench */
#include <dnnl.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/dnnl_ops.h"
#include "ops/ops.h"

static double now(void) { return omp_get_wtime(); }

int main(void) {
    const int shapes[][3] = {{320, 64, 64}, {640, 32, 32}, {1280, 16, 16}, {1280, 8, 8}, {512, 64, 64}};
    dm_ops_set_threads(0);
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dnnl_engine_create(&eng, dnnl_cpu, 0);
    dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    dm_dnnl *dd;
    dm_error err;
    dm_dnnl_create(&dd, &err);
    printf("%-16s %10s %10s %10s %10s   (ms per conv; GFLOP/s of the best)\n", "C x H x W", "im2col",
           "dnnl+reord", "dnnl only", "bf16 path");
    for (int s = 0; s < 5; s++) {
        int C = shapes[s][0], H = shapes[s][1], W = shapes[s][2], O = C;
        size_t n = (size_t)C * H * W, nw = (size_t)O * C * 9;
        float *x = malloc(4 * n), *y = malloc(4 * n), *w = malloc(4 * nw), *b = calloc(O, 4);
        float *sc = malloc(4 * dm_conv2d_scratch(C, H, W, 3, 1, 1));
        for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 104729) % 1000) / 30000.0f - 0.016f;
        /* oneDNN fp32 conv, layouts chosen by it */
        dnnl_dims_t xd = {1, C, H, W}, wd = {O, C, 3, 3}, bd = {O}, sd = {1, 1}, pd = {1, 1};
        dnnl_memory_desc_t xm, ym, wm, bm, sa, wa, da, xp, yp, wp;
        dnnl_memory_desc_init_by_tag(&sa, 4, xd, dnnl_f32, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&wa, 4, wd, dnnl_f32, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&da, 4, xd, dnnl_f32, dnnl_format_tag_any);
        dnnl_memory_desc_init_by_tag(&bm, 1, bd, dnnl_f32, dnnl_a);
        dnnl_memory_desc_init_by_tag(&xp, 4, xd, dnnl_f32, dnnl_nchw);
        dnnl_memory_desc_init_by_tag(&yp, 4, xd, dnnl_f32, dnnl_nchw);
        dnnl_memory_desc_init_by_tag(&wp, 4, wd, dnnl_f32, dnnl_oihw);
        dnnl_convolution_desc_t cd;
        dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &sa,
                                           &wa, &bm, &da, sd, pd, pd);
        dnnl_primitive_desc_t cpd;
        dnnl_primitive_desc_create(&cpd, &cd, NULL, eng, NULL);
        xm = *dnnl_primitive_desc_query_md(cpd, dnnl_query_src_md, 0);
        wm = *dnnl_primitive_desc_query_md(cpd, dnnl_query_weights_md, 0);
        ym = *dnnl_primitive_desc_query_md(cpd, dnnl_query_dst_md, 0);
        const char *impl = "";
        dnnl_primitive_desc_query(cpd, dnnl_query_impl_info_str, 0, &impl);
        dnnl_primitive_t conv, rx, ry, rw;
        dnnl_primitive_create(&conv, cpd);
        dnnl_primitive_desc_t r1, r2, r3;
        dnnl_reorder_primitive_desc_create(&r1, &xp, eng, &xm, eng, NULL);
        dnnl_reorder_primitive_desc_create(&r2, &ym, eng, &yp, eng, NULL);
        dnnl_reorder_primitive_desc_create(&r3, &wp, eng, &wm, eng, NULL);
        dnnl_primitive_create(&rx, r1);
        dnnl_primitive_create(&ry, r2);
        dnnl_primitive_create(&rw, r3);
        dnnl_memory_t mx, my, mw, mb, mxb, myb, mwb;
        dnnl_memory_create(&mx, &xp, eng, x);
        dnnl_memory_create(&my, &yp, eng, y);
        dnnl_memory_create(&mw, &wp, eng, w);
        dnnl_memory_create(&mb, &bm, eng, b);
        dnnl_memory_create(&mxb, &xm, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_create(&myb, &ym, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_create(&mwb, &wm, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_exec_arg_t aw[] = {{DNNL_ARG_FROM, mw}, {DNNL_ARG_TO, mwb}};
        dnnl_primitive_execute(rw, st, 2, aw);
        dnnl_stream_wait(st);
        dnnl_exec_arg_t ax[] = {{DNNL_ARG_FROM, mx}, {DNNL_ARG_TO, mxb}};
        dnnl_exec_arg_t ay[] = {{DNNL_ARG_FROM, myb}, {DNNL_ARG_TO, my}};
        dnnl_exec_arg_t ac[] = {
            {DNNL_ARG_SRC, mxb}, {DNNL_ARG_WEIGHTS, mwb}, {DNNL_ARG_BIAS, mb}, {DNNL_ARG_DST, myb}};
        dm_w pw = {.f32 = w};
        pw.prep = dm_dnnl_prep(dd, pw, O, C, 3, 0);
        double best[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
        for (int r = 0; r < 5; r++) {
            double t0 = now();
            dm_conv2d(x, C, H, W, w, b, O, 3, 1, 1, y, sc, 0);
            double t1 = now();
            dnnl_primitive_execute(rx, st, 2, ax);
            dnnl_primitive_execute(conv, st, 4, ac);
            dnnl_primitive_execute(ry, st, 2, ay);
            dnnl_stream_wait(st);
            double t2 = now();
            dnnl_primitive_execute(conv, st, 4, ac);
            dnnl_stream_wait(st);
            double t3 = now();
            dm_conv2d_w(x, C, H, W, pw, b, O, 3, 1, 1, y, sc, 0, NULL);
            double t4 = now(), t[4] = {t1 - t0, t2 - t1, t3 - t2, t4 - t3};
            for (int k = 0; k < 4; k++) best[k] = t[k] < best[k] ? t[k] : best[k];
        }
        double gf = 2.0 * O * C * 9 * H * W * 1e-9;
        printf("%4d x %3d x %3d %10.2f %10.2f %10.2f %10.2f   im2col %.0f, dnnl %.0f / %.0f, bf16 "
               "%.0f GFLOP/s (%s)\n",
               C, H, W, 1e3 * best[0], 1e3 * best[1], 1e3 * best[2], 1e3 * best[3], gf / best[0],
               gf / best[1], gf / best[2], gf / best[3], impl);
        free(x), free(y), free(w), free(b), free(sc);
    }
    dm_dnnl_free(dd);
    return 0;
}
