/* The hyper-parameters of the three networks as plain structs (no behaviour): filled by config.c
 * (config.json or inferred from a checkpoint), range-checked by config_check.c, read by the
 * network files (clip.c, unet.c, vae.c). */
#ifndef DM_MODEL_CONFIG_TYPES_H
#define DM_MODEL_CONFIG_TYPES_H

#define DM_MAX_LEVELS 8

typedef struct {
    int vocab;  /* token embedding rows */
    int hidden; /* D */
    int layers; /* encoder layers run (SD 2.x: the penultimate of OpenCLIP's 24) */
    int heads;
    int intermediate; /* MLP width */
    int max_pos;      /* 77 */
    float eps;        /* LayerNorm eps */
    int act_gelu;     /* 1: gelu (SD 2.x), 0: quick_gelu (SD 1.x) */
    int proj_dim;     /* text_projection width (SDXL's second encoder: pooled embeds), 0: none */
} dm_clip_config;

typedef struct {
    int in_ch, out_ch;
    int levels;                   /* number of down (= up) blocks */
    int block_out[DM_MAX_LEVELS]; /* channels per level */
    int down_attn[DM_MAX_LEVELS]; /* CrossAttnDownBlock2D? */
    int up_attn[DM_MAX_LEVELS];   /* CrossAttnUpBlock2D? (up block order: deepest first) */
    int heads[DM_MAX_LEVELS];     /* attention heads per down level (up blocks use reversed) */
    int mid_attn;                 /* UNetMidBlock2DCrossAttn (1) or none (0) */
    int mid_heads;
    int layers_per_block;
    int depth[DM_MAX_LEVELS]; /* transformer blocks per attention of down level i (up block i
                                 uses depth[levels-1-i]: diffusers' reversed list) */
    int mid_depth;            /* transformer blocks of the mid attention */
    int cross_dim;            /* context width (SDXL: both text encoders concatenated) */
    int add_time_dim;         /* SDXL "text_time": sinusoid width per time id (0: no added
                                 embedding) */
    int add_in_dim;           /* add_embedding input: pooled text embeds + 6 * add_time_dim */
    int linear_proj;          /* use_linear_projection */
    int groups;               /* GroupNorm groups */
    float eps;                /* resnet GroupNorm eps (transformer GroupNorm uses 1e-6) */
    int flip_sin_to_cos;
    float freq_shift;
    int time_dim;    /* time embedding width (4 * block_out[0]) */
    int sample_size; /* default latent size */
} dm_unet_config;

typedef struct {
    int in_ch, out_ch, latent_ch;
    int levels;
    int block_out[DM_MAX_LEVELS];
    int layers_per_block; /* encoder; the decoder has one more per level */
    int groups;
    float eps;
    float scaling; /* latents are divided by this before decoding */
    int sample_size;
} dm_vae_config;

#endif
