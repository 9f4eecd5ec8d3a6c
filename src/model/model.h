/* A Stable Diffusion model on disk: a diffusers folder or one .safetensors file in the
 * original layout, opened into one weight store with the three networks' configs. */
#ifndef DM_MODEL_MODEL_H
#define DM_MODEL_MODEL_H

#include "model/config.h"
#include "model/weights.h"

typedef struct {
    char path[4096];
    int single_file; /* 1: original one-file layout */
    int openclip;    /* SD 2.x text tower */
    dm_weights *w;
    dm_clip_config clip;
    int sdxl;              /* two text encoders (text_encoder_2 / conditioner.embedders.1) */
    dm_clip_config clip2;  /* SDXL's second text encoder ("text2." weights) */
    int force_zeros;       /* force_zeros_for_empty_prompt: no negative prompt = zero embeds */
    char config_dir[4096]; /* diffusers folder the configs and tokenizers come from ("": none) */
    dm_unet_config unet;
    dm_vae_config vae;
    char scheduler_config[4200]; /* diffusers scheduler_config.json, or "" (use SD defaults) */
    int v_prediction_hint;       /* from a .yaml beside a single file */
    int n_ignored;               /* tensors of a single file that no network uses */
} dm_model;

dm_status dm_model_open(const char *path, dm_model **out, dm_error *err);
/* model_index.json must be a JSON object (the parts are read from their folders). */
dm_status dm_model_index_check(const char *path, dm_error *err);
/* Same, with the config of a one-file checkpoint given explicitly: an LDM .yaml (NULL: look for
 * FILE.yaml beside FILE.safetensors; heads and scale factor cannot be read from shapes), or a
 * diffusers folder whose config files (and tokenizers) describe the model — its weights, if
 * any, are not read (diffusers' from_single_file(config=...)). */
dm_status dm_model_open_with_config(const char *path, const char *ldm_yaml, dm_model **out,
                                    dm_error *err);
void dm_model_free(dm_model *m);

#endif
