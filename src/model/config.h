/* Hyper-parameters of the three networks: read from a diffusers folder's config.json files,
 * or inferred from a one-file checkpoint's tensor shapes (plus its .yaml beside it, if any). */
#ifndef DM_MODEL_CONFIG_H
#define DM_MODEL_CONFIG_H

#include "core/status.h"
#include "model/weights.h"

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

dm_status dm_clip_config_load(const char *path, dm_clip_config *c, dm_error *err);
dm_status dm_unet_config_load(const char *path, dm_unet_config *c, dm_error *err);
dm_status dm_vae_config_load(const char *path, dm_vae_config *c, dm_error *err);

/* Range checks every config passes before use (the loaders and the one-file path call them):
 * "FILE: norm_num_groups = 0 is out of range (must be 1..65536)". */
dm_status dm_clip_config_check(const dm_clip_config *c, const char *file, dm_error *err);
dm_status dm_unet_config_check(const dm_unet_config *c, const char *file, dm_error *err);
dm_status dm_vae_config_check(const dm_vae_config *c, const char *file, dm_error *err);

/* Hints a one-file checkpoint cannot carry in its shapes (from a .yaml beside it, or defaults). */
typedef struct {
    int unet_heads;         /* num_heads (SD 1.x style), 0 if unknown */
    int unet_head_channels; /* num_head_channels (SD 2.x style), 0 if unknown */
    float scale_factor;     /* 0 if unknown */
    int v_prediction;       /* parameterization: "v" */
    int linear_in_transformer;
} dm_ldm_hints;
/* Reads the few keys we need from an LDM .yaml (a line-based reader, not a YAML parser). */
dm_status dm_ldm_hints_load(const char *yaml_path, dm_ldm_hints *h, dm_error *err);

/* Infers configs from the internal-named weights of a one-file checkpoint. */
/* The text tower under prefix ("text.", "text2."): drop_last runs one layer less (SD 2.x). */
dm_status dm_clip_config_infer(const dm_weights *w, const char *prefix, int openclip, int drop_last,
                               dm_clip_config *c, dm_error *err);
dm_status dm_unet_config_infer(const dm_weights *w, int openclip, const dm_ldm_hints *h,
                               dm_unet_config *c, dm_error *err);
dm_status dm_vae_config_infer(const dm_weights *w, const dm_ldm_hints *h, dm_vae_config *c,
                              dm_error *err);

#endif
