/* ResnetBlock2D, shared by the UNet (with a time embedding) and the VAE (without):
 * out = shortcut(x) + conv2(silu(gn2(conv1(silu(gn1(x))) + time_emb_proj(temb)))) */
#ifndef DM_MODEL_RESNET_H
#define DM_MODEL_RESNET_H

#include "core/arena.h"
#include "model/weights.h"

typedef struct {
    int in_ch, out_ch;
    const float *norm1_w, *norm1_b; /* (in) */
    dm_w conv1_w;                   /* (out, in, 3, 3) */
    const float *conv1_b;           /* (out) */
    dm_w temb_w;                    /* (out, time_dim); unset in the VAE */
    const float *temb_b;            /* (out) */
    const float *norm2_w, *norm2_b; /* (out) */
    dm_w conv2_w;                   /* (out, out, 3, 3) */
    const float *conv2_b;           /* (out) */
    dm_w skip_w;                    /* (out, in) 1x1, unset when in == out */
    const float *skip_b;
} dm_resnet;

/* Loads "<prefix>.norm1.weight" ...; time_dim 0 = no time embedding projection. */
dm_status dm_resnet_load(dm_weights *w, const char *prefix, int in, int out, int time_dim,
                         dm_resnet *r, dm_error *err);
/* Scratch floats to convert the block's largest f16/bf16 weight (0 when all are f32). */
size_t dm_resnet_half_floats(const dm_resnet *r, int time_dim);
/* temb: silu(time embedding) (time_dim), or NULL. out may be x: the block then runs in place
 * (out_ch <= in_ch), so a decoder needs no second map of the block's size. h: out_ch*H*W floats
 * for the hidden map, or NULL to take them from the arena. */
dm_status dm_resnet_forward(const dm_resnet *r, float *x, int H, int W, const float *temb,
                            int time_dim, int groups, float eps, float *out, float *h, dm_arena *a,
                            dm_error *err);

#endif
