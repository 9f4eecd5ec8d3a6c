/* oneDNN (libdnnl) for the matrix products of the networks in bf16: convolutions and linears.
 * A dm_dnnl is one oneDNN engine + stream and the cache of everything made per shape (the
 * primitives, their activation reorders); the engine owns one, nothing is global. A weight
 * handed to the _w kernels with a dm_wprep runs here: converted to bf16 and reordered into the
 * layout the primitive asks for (format_tag::any) once, at its first use, then reused. */
#ifndef DM_OPS_DNNL_OPS_H
#define DM_OPS_DNNL_OPS_H

#include "core/status.h"
#include "ops/ops.h"

typedef struct dm_dnnl dm_dnnl;

dm_status dm_dnnl_create(dm_dnnl **out, dm_error *err);
/* Frees the primitives, the prepared weights and the buffers. */
void dm_dnnl_free(dm_dnnl *d);

/* A weight w to run in bf16: conv kernels [O, I, k, k] (k > 1, or 1x1 convs) and linear
 * matrices [O, I] (k = 0). Owned by d. src_mapped: w's memory is a read-only file mapping whose
 * pages may be dropped once the bf16 copy exists (they come back from the file if read again). */
dm_wprep *dm_dnnl_prep(dm_dnnl *d, dm_w w, int O, int In, int k, int src_mapped);

/* The bf16 kernels behind dm_conv2d_w / dm_linear*_w (same arguments). Return 0 on success, -1
 * when oneDNN cannot make the primitive (the caller then runs the fp32 kernel). */
int dm_dnnl_conv2d(dm_wprep *p, const float *x, int C, int H, int W, const float *b, int O, int k,
                   int stride, int pad, float *y, int accumulate);
/* dm_conv2d_pre_w's bf16 kernel: the output in bands of rows, each band's input converted with
 * pre applied (so pre(x), the bf16 input and the f32 output never exist whole). */
int dm_dnnl_conv2d_pre(dm_wprep *p, const float *x, const dm_conv_pre *pre, int C, int H, int W,
                       const float *b, int O, int k, int pad, float *y, int accumulate);
/* y[M,N] (+)= x[M,K] W[N,K]ᵀ + b; x_chw: x given as [K, M] (a CHW map); y_chw: y is [N, M]
 * (always accumulated into, as dm_linear_to_chw_acc). */
int dm_dnnl_linear(dm_wprep *p, const float *x, int M, int K, const float *b, int N, float *y,
                   int accumulate, int x_chw, int y_chw);

/* What ran: primitives made, weights prepared (and re-prepared for a second layout), bytes of
 * bf16 weights, oneDNN failures that fell back to fp32, and the implementation name of the
 * first conv / linear primitive (e.g. "brg:avx512_core_bf16", "jit:avx512_core_bf16"). */
typedef struct {
    int primitives, weights, reprepared, failures;
    size_t weight_bytes;
    char conv_impl[64], linear_impl[64];
    /* wall seconds: the oneDNN ops themselves, our layout conversions around them (f32 NCHW /
     * token-major <-> bf16 NHWC / f32 NHWC), and preparing weights (first use) */
    double op_seconds, convert_seconds, prepare_seconds;
} dm_dnnl_stats;
void dm_dnnl_get_stats(const dm_dnnl *d, dm_dnnl_stats *s);

#endif
