/* Hyper-parameters of the three networks: read from a diffusers folder's config.json files,
 * or inferred from a one-file checkpoint's tensor shapes (plus its .yaml beside it, if any). */
#ifndef DM_MODEL_CONFIG_H
#define DM_MODEL_CONFIG_H

#include "core/status.h"
#include "model/config_check.h"
#include "model/config_types.h"
#include "model/weights.h"

dm_status dm_clip_config_load(const char *path, dm_clip_config *c, dm_error *err);
dm_status dm_unet_config_load(const char *path, dm_unet_config *c, dm_error *err);
dm_status dm_vae_config_load(const char *path, dm_vae_config *c, dm_error *err);
/* The loaders and the one-file path run the range checks of config_check.h on every config. */

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
