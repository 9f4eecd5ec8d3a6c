/* Range checks of the networks' hyper-parameters (config_check.c): a config comes in, DM_OK or an
 * error naming the file, the key and the value goes out. config.c and model.c call them. */
#ifndef DM_MODEL_CONFIG_CHECK_H
#define DM_MODEL_CONFIG_CHECK_H

#include "core/status.h"
#include "model/config_types.h"

/* Range checks every config passes before use (the loaders and the one-file path call them):
 * "FILE: norm_num_groups = 0 is out of range (must be 1..65536)". */
dm_status dm_clip_config_check(const dm_clip_config *c, const char *file, dm_error *err);
dm_status dm_unet_config_check(const dm_unet_config *c, const char *file, dm_error *err);
dm_status dm_vae_config_check(const dm_vae_config *c, const char *file, dm_error *err);

#endif
