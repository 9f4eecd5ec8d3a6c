/* Numeric kernels on raw float pointers. Images are CHW (one batch item), token sequences
 * are row-major [tokens, channels]. Kernels never allocate: scratch comes from the caller. */
#ifndef DM_OPS_OPS_H
#define DM_OPS_OPS_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ threads and GEMM */

/* Makes OpenMP the only thread pool: n OpenMP threads (n <= 0: keep the current count) and a
 * single-threaded OpenBLAS whose GEMMs dm_sgemm splits over the OpenMP threads. A process
 * setting: call it once at start-up, before any kernel (the CLI does). Without it, kernels
 * still work and let OpenBLAS thread each GEMM itself. */
void dm_ops_set_threads(int n);
/* 1 when kernels may split work over OpenMP threads and call BLAS from inside them. */
int dm_ops_parallel(void);
/* cblas_sgemm(RowMajor, ...): C[M,N] = alpha · op(A) · op(B) + beta · C, split over threads. */
void dm_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* ------------------------------------------------------------------ f16/bf16 weights */

/* A weight matrix: f32 data (f32 set), or the file's f16 / bf16 bits left in the mapping
 * (half set; bf16 tells which). The _w kernels turn a half weight into f32 in caller scratch
 * right before the GEMM (exact, so both forms give the same bits); f32 goes straight through. */
typedef struct dm_wprep dm_wprep; /* the weight prepared for oneDNN bf16 (ops/dnnl_ops.h) */
/* A change to apply to a weight's f32 values each time they are made (a LoRA not merged into a
 * copy: bf16 runs apply it once, when the weight is prepared). */
typedef struct {
    void (*apply)(const void *ctx, float *w);
    const void *ctx;
} dm_w_patch;
typedef struct {
    const float *f32;
    const uint16_t *half;
    int bf16;
    dm_wprep *prep;          /* set: the _w kernels run this weight in bf16 through oneDNN */
    const dm_w_patch *patch; /* set: the weight is f32/half + this (made in scratch) */
} dm_w;
static inline int dm_w_ok(dm_w w) {
    return w.f32 || w.half;
}
/* Scratch floats the _w kernels need for an n-element weight: n when half or patched, else 0. */
static inline size_t dm_w_scratch(dm_w w, size_t n) {
    return w.half || w.patch ? n : 0;
}
/* n f16 (bf16: bfloat16) values -> f32 (F16C when compiled for it; parallel for large n). */
void dm_half_to_f32(const uint16_t *src, int bf16, size_t n, float *dst);
/* The f32 data of w (n elements): w.f32, or w.half converted into scratch; with a patch, made in
 * scratch and patched there. */
const float *dm_w_f32(dm_w w, size_t n, float *scratch);

/* y[M,N] = x[M,K] · W[N,K]ᵀ + b[N]   (torch.nn.Linear; b may be NULL). y may not alias x. */
void dm_linear(const float *x, int M, int K, const float *W, const float *b, int N, float *y);
/* y[M,N] += x[M,K] · W[N,K]ᵀ + b  (residual fused). */
void dm_linear_acc(const float *x, int M, int K, const float *W, const float *b, int N, float *y);

/* The same with a dm_w weight; wscratch: dm_w_scratch(W, N*K) floats. */
void dm_linear_w(const float *x, int M, int K, dm_w W, const float *b, int N, float *y,
                 float *wscratch);
void dm_linear_acc_w(const float *x, int M, int K, dm_w W, const float *b, int N, float *y,
                     float *wscratch);

/* The input of a convolution given as a transform of x instead of x itself: per channel
 * v = x·scale[c] + shift[c] (scale / shift NULL: 1 / 0), then SiLU when silu, each pixel
 * repeated up×up times (nearest upsampling; up 1 or 2). GroupNorm + SiLU and Upsample2D are
 * this transform, so the bf16 path applies them while converting the conv's input, band by
 * band, and their full-size output is never written. */
typedef struct {
    const float *scale, *shift;
    int silu, up;
} dm_conv_pre;
/* y = conv2d(pre(x)) + b, stride 1 (dm_conv2d_w's arguments; H, W are the size after pre's
 * upsampling, multiples of pre->up; y must not overlap x). With a bf16 kernel pre is applied band
 * by band inside the conv; otherwise pre(x) is first written to tmp (C*H*W floats, touched only
 * then). */
void dm_conv2d_pre_w(const float *x, const dm_conv_pre *pre, int C, int H, int W, dm_w w,
                     const float *b, int O, int k, int pad, float *y, float *scratch,
                     int accumulate, float *wscratch, float *tmp);

/* nn.GroupNorm over x[C, HW] folded to one affine per channel:
 * group_norm(x)[c] = x[c]·scale[c] + shift[c] (statistics in double, as dm_group_norm). */
void dm_group_norm_coeffs(const float *x, int C, int HW, int groups, float eps, const float *gamma,
                          const float *beta, float *scale, float *shift);
/* y[C, H, W] = pre(x), x being [C, H/up, W/up] (H and W multiples of up). */
void dm_conv_pre_apply(const float *x, const dm_conv_pre *pre, int C, int H, int W, float *y);

/* The largest divisor of n that is at most want (1 when want < 1): bands of rows of one shape. */
static inline int dm_divisor_at_most(int n, int want) {
    if (want >= n) return n;
    int d = want > 1 ? want : 1;
    while (n % d) d--;
    return d;
}

/* Output size of a convolution along one axis. */
static inline int dm_conv_out(int in, int k, int stride, int pad) {
    return (in + 2 * pad - k) / stride + 1;
}
/* Scratch floats dm_conv2d needs (0 for 1x1 stride-1 convs). */
size_t dm_conv2d_scratch(int C, int H, int W, int k, int stride, int pad);
/* y[O,Ho,Wo] = conv2d(x[C,H,W], w[O,C,k,k]) + b[O]   (nn.Conv2d, square kernel, zero padding).
 * If accumulate, the result is added into y (residual fused). */
void dm_conv2d(const float *x, int C, int H, int W, const float *w, const float *b, int O, int k,
               int stride, int pad, float *y, float *scratch, int accumulate);
/* The same with a dm_w kernel; wscratch: dm_w_scratch(w, O*C*k*k) floats. y must not overlap
 * x (the bf16 path writes y band by band while later bands still read x). */
void dm_conv2d_w(const float *x, int C, int H, int W, dm_w w, const float *b, int O, int k,
                 int stride, int pad, float *y, float *scratch, int accumulate, float *wscratch);
/* y[O, H, W] = conv1x1(x[C, H, W], w[O, C]) + b written over x's first O planes (O <= C): the
 * conv is pointwise, so each band of R rows is gathered, computed and scattered back before the
 * next band is read. R: dm_conv1x1_inplace_rows (a divisor of H: every band has one shape);
 * scratch: dm_conv1x1_inplace_scratch floats. */
int dm_conv1x1_inplace_rows(int C, int O, int H, int W);
size_t dm_conv1x1_inplace_scratch(int C, int O, int R, int W);
void dm_conv1x1_inplace_w(float *x, int C, int H, int W, dm_w w, const float *b, int O, int R,
                          float *scratch, float *wscratch);

/* nn.GroupNorm over x[C, HW] (groups divide C), optionally followed by SiLU. y may alias x. */
void dm_group_norm(const float *x, int C, int HW, int groups, float eps, const float *gamma,
                   const float *beta, int silu, float *y);
/* Same, but writes the result transposed: y[HW, C] (token-major, for the transformer). */
/* nn.LayerNorm over the last dim of x[rows, dim]. y may alias x. */
void dm_layer_norm(const float *x, int rows, int dim, float eps, const float *gamma,
                   const float *beta, float *y);

void dm_silu(float *x, size_t n);
void dm_gelu(float *x, size_t n);       /* exact erf GELU (torch default) */
void dm_quick_gelu(float *x, size_t n); /* x * sigmoid(1.702 x)  (CLIP) */
/* diffusers GEGLU: h[T, 2F] -> out[T, F] = h[:, :F] * gelu(h[:, F:]) */
void dm_geglu(const float *h, int T, int F, float *out);
void dm_add(float *y, const float *x, size_t n); /* y += x */

/* Nearest-neighbour x2 upsampling: x[C,H,W] -> y[C,2H,2W]. */
void dm_upsample_nearest2x(const float *x, int C, int H, int W, float *y);

/* ------------------------------------------------------------------ attention */

/* Receives post-softmax probabilities of one head for query rows [q0, q1): probs[(q1-q0), Lk]. */
typedef void (*dm_probs_fn)(void *user, int head, int q0, int q1, int Lk, const float *probs);

/* Multi-head scaled dot-product attention (softmax(Q Kᵀ / sqrt(d)) V) on token-major tensors:
 * q(i, h, j) = q[i*q_stride + h*d + j] (same for k, v); out[i*out_stride + h*d + j].
 * Queries are processed in tiles so the probabilities are never held for more than one tile
 * (memory O(tile * Lk)); probs_fn, when not NULL, sees every tile's exact probabilities.
 * scratch: dm_attention_scratch(Lq, Lk, d) floats. causal masks keys j > i. */
size_t dm_attention_scratch(int Lq, int Lk, int d);
void dm_attention(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                  int v_stride, int Lq, int Lk, int heads, int d, int causal, float *out,
                  int out_stride, float *scratch, dm_probs_fn probs_fn, void *user);

/* Only the probabilities of dm_attention's exact tiles, handed to probs_fn (non-causal). */
void dm_attention_probs(const float *q, int q_stride, const float *k, int k_stride, int Lq, int Lk,
                        int heads, int d, float *scratch, dm_probs_fn probs_fn, void *user);
/* The same attention (non-causal) with bf16 inner products (AVX512-BF16 vdpbf16ps, fp32 online
 * softmax; ops/attention_bf16.c) where the CPU has avx512_bf16 and d is a multiple of 8 up to
 * 160, else dm_attention. Probabilities for probs_fn come from the exact fp32 tiles.
 * scratch: dm_attention_bf16_scratch floats. */
size_t dm_attention_bf16_scratch(int Lq, int Lk, int heads, int d);
void dm_attention_bf16(const float *q, int q_stride, const float *k, int k_stride, const float *v,
                       int v_stride, int Lq, int Lk, int heads, int d, float *out, int out_stride,
                       float *scratch, dm_probs_fn probs_fn, void *user);

/* Nearest resize x[C,H,W] -> y[C,Ho,Wo] (torch 'nearest': src = floor(dst * in / out)). */
void dm_resize_nearest(const float *x, int C, int H, int W, int Ho, int Wo, float *y);
/* tokens y[HW, N] = x[C, HW]ᵀ · W[N, C]ᵀ + b   (a 1x1 conv / linear applied to a CHW map,
 * written token-major for the transformer) */
void dm_linear_from_chw(const float *x, int C, int HW, const float *W, const float *b, int N,
                        float *y);
/* y[N, HW] += (h[HW, K] · W[N, K]ᵀ + b)ᵀ   (proj_out back to CHW, residual fused) */
void dm_linear_to_chw_acc(const float *h, int HW, int K, const float *W, const float *b, int N,
                          float *y);
void dm_linear_from_chw_w(const float *x, int C, int HW, dm_w W, const float *b, int N, float *y,
                          float *wscratch);
void dm_linear_to_chw_acc_w(const float *h, int HW, int K, dm_w W, const float *b, int N, float *y,
                            float *wscratch);
/* y[C, HW] += b[C] per channel */
void dm_add_channel_bias(float *y, int C, int HW, const float *b);

#endif
