/* UNet2DConditionModel (SD 1.x / 2.x / XL): time (+ SDXL's added) embedding, down blocks (res
 * blocks + spatial transformers + stride-2 conv), mid block, up blocks with skip concatenation,
 * output conv. Every attention can hand its probabilities to a hook (the DiffuMask attention
 * store). */
#ifndef DM_MODEL_UNET_H
#define DM_MODEL_UNET_H

#include "core/arena.h"
#include "model/model.h"
#include "model/resnet.h"

typedef struct {
    const float *norm1_w, *norm1_b; /* (C) */
    dm_w q1, k1, v1, o1_w;          /* self-attention: (C, C) x4 */
    const float *o1_b;              /* (C) */
    const float *norm2_w, *norm2_b;
    dm_w q2, k2, v2, o2_w; /* cross-attention: q (C, C), k/v (C, ctx) */
    const float *o2_b;
    const float *norm3_w, *norm3_b;
    dm_w ff1_w;         /* GEGLU proj (8C, C) */
    const float *ff1_b; /* (8C) */
    dm_w ff2_w;         /* (C, 4C) */
    const float *ff2_b; /* (C) */
} dm_tblock;

typedef struct {
    int ch, heads, depth;
    char name[64];            /* diffusers module name, "down_blocks.0.attentions.1" */
    const float *gn_w, *gn_b; /* (C) GroupNorm(32, eps 1e-6) */
    dm_w proj_in_w;           /* (C, C) */
    const float *proj_in_b;
    dm_tblock *blocks; /* (depth) */
    dm_w proj_out_w;   /* (C, C) */
    const float *proj_out_b;
} dm_transformer;

typedef struct {
    int n_res;
    dm_resnet res[8];
    dm_transformer *attn[8]; /* NULL where the block has no attention */
    dm_w resample_w;         /* down: stride-2 conv; up: conv after x2 nearest */
    const float *resample_b;
    int resample_ch;
} dm_unet_level;

typedef struct {
    dm_unet_config cfg;
    dm_w temb1_w; /* (time_dim, C0) */
    const float *temb1_b;
    dm_w temb2_w; /* (time_dim, time_dim) */
    const float *temb2_b;
    dm_w add1_w; /* SDXL add_embedding.linear_1 (time_dim, add_in_dim), or none */
    const float *add1_b;
    dm_w add2_w; /* (time_dim, time_dim) */
    const float *add2_b;
    dm_w conv_in_w;
    const float *conv_in_b;
    dm_unet_level down[DM_MAX_LEVELS];
    dm_resnet mid_res[2];
    dm_transformer *mid_attn;
    dm_unet_level up[DM_MAX_LEVELS];
    const float *norm_out_w, *norm_out_b;
    dm_w conv_out_w;
    const float *conv_out_b;
    size_t half_floats; /* largest weight kept f16/bf16 (0: none): conversion scratch */
    int n_attn;         /* number of transformers, in forward order */
} dm_unet;

/* One tile of post-softmax attention probabilities of one head. */
typedef struct {
    const char *layer; /* diffusers module name of the attention,
                          "down_blocks.0.attentions.0.transformer_blocks.0.attn2" */
    int layer_index;   /* 0.. in forward order (self and cross counted separately) */
    int cross;         /* 1: attn2 (keys = text tokens), 0: attn1 (keys = positions) */
    int batch;         /* batch item */
    int head, heads;
    int h, w;   /* latent resolution of the layer; queries are h*w positions */
    int q0, q1; /* query rows of this tile */
    int n_keys;
    const float *probs; /* (q1 - q0, n_keys), rows sum to 1 */
} dm_attn_event;

typedef void (*dm_attn_hook)(void *user, const dm_attn_event *ev);

/* Where the time of a forward goes, by kind of op (diffumask bench). */
typedef enum {
    DM_OP_CONV,
    DM_OP_LINEAR,
    DM_OP_ATTN,
    DM_OP_NORM,
    DM_OP_ELEM,
    DM_OP_KINDS
} dm_op_kind;
typedef struct {
    double seconds[DM_OP_KINDS]; /* wall seconds, accumulated over forwards */
} dm_op_profile;

typedef struct {
    dm_attn_hook hook; /* NULL: no capture, no cost */
    void *user;
    int capture_cross;      /* report attn2 */
    int capture_self_h;     /* report attn1 of layers whose latent height is this (0: none) */
    unsigned batch_mask;    /* which batch items to report (bit b); 0 = all */
    dm_op_profile *profile; /* NULL: no timing; else per-op seconds and FLOPs are added */
} dm_unet_capture;

/* One matrix product of a forward, for FLOP counts and GEMM benchmarks: kind, the GEMM
 * C[M,N] = A[M,K] B[K,N] it amounts to (convs as im2col GEMMs, attention as its two
 * batched products per head), and how many times it runs per batch item. */
typedef struct {
    dm_op_kind kind;
    int M, N, K;
    int count;
} dm_unet_gemm;
/* The GEMMs of one forward of one batch item at latent h x w, from the loaded config;
 * writes up to max entries (merged by shape) and returns how many there are. */
int dm_unet_gemms(const dm_unet *u, int h, int w, int ctx_len, dm_unet_gemm *out, int max);
/* FLOPs of those GEMMs (2·M·N·K each): the forward's FLOP count per batch item. */
double dm_unet_flops(const dm_unet *u, int h, int w, int ctx_len);

dm_status dm_unet_load(dm_model *m, dm_unet *u, dm_error *err);
void dm_unet_free(dm_unet *u);
/* SDXL's added conditioning of one batch item: the pooled text embeds and the 6 time ids
 * (original height, width, crop top, left, target height, width). */
typedef struct {
    const float *text_embeds; /* (B, add_in_dim - 6 * add_time_dim) */
    const float *time_ids;    /* (B, 6) */
} dm_unet_added;

/* Intermediates of the conditioning embedding (each NULL or filled). */
typedef struct {
    float *time_emb;      /* (time_dim) time_embedding(sinusoid(t)) */
    float *add_time_proj; /* (6 * add_time_dim) the time ids' sinusoids */
    float *add_in;        /* (add_in_dim) cat(text_embeds, add_time_proj) */
    float *add_emb;       /* (time_dim) add_embedding(add_in) */
} dm_unet_emb_parts;
/* emb (time_dim) = time_embedding(t) [+ add_embedding(cat(text_embeds, sinusoids(time_ids)))]:
 * what every resnet's time_emb_proj gets (after SiLU). text_embeds / time_ids: one item's. */
dm_status dm_unet_embedding(const dm_unet *u, float t, const float *text_embeds,
                            const float *time_ids, dm_unet_emb_parts *parts, float *emb,
                            dm_arena *a, dm_error *err);

/* Arena bytes one forward at latent h x w needs (per batch item; items run in turn). */
size_t dm_unet_arena_bytes(const dm_unet *u, int h, int w, int ctx_len);
/* eps/v[B, out, h, w] = unet(x[B, in, h, w], t[B], ctx[B, ctx_len, cross_dim]) */
dm_status dm_unet_forward(const dm_unet *u, const float *x, int B, int h, int w, const float *t,
                          const float *ctx, int ctx_len, float *out, const dm_unet_capture *cap,
                          dm_arena *a, dm_error *err);
/* The same with SDXL's added conditioning (add may be NULL for models without it). */
dm_status dm_unet_forward_cond(const dm_unet *u, const float *x, int B, int h, int w,
                               const float *t, const float *ctx, int ctx_len,
                               const dm_unet_added *add, float *out, const dm_unet_capture *cap,
                               dm_arena *a, dm_error *err);

#endif
