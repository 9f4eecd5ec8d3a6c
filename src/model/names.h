/* Checkpoint naming: maps the original one-file layouts (CompVis/LDM UNet and VAE, OpenAI CLIP
 * as in SD 1.x, OpenCLIP as in SD 2.x, Stability's SGM layout of SDXL with both) onto the one
 * internal naming used by the model code: diffusers module names prefixed "unet." / "vae.",
 * transformers' CLIPTextModel names prefixed "text." (SDXL's second encoder: "text2."). Every
 * rename lives in the tables of names.c. */
#ifndef DM_MODEL_NAMES_H
#define DM_MODEL_NAMES_H

#include "io/safetensors.h"
#include "model/weights.h"

typedef enum { DM_TEXT_NONE, DM_TEXT_CLIP_HF, DM_TEXT_OPENCLIP } dm_text_layout;

typedef struct {
    dm_text_layout text_layout;
    int unet_layers_per_block; /* inferred from input_blocks numbering */
    int vae_levels;
    int sdxl;      /* SGM layout with a second text encoder (conditioner.embedders.1) */
    int n_ignored; /* tensors the model does not use (schedule buffers, EMA, ...) */
} dm_ldm_info;

/* Registers every used tensor of a one-file checkpoint under its internal name. */
dm_status dm_map_ldm_checkpoint(const dm_safetensors *st, dm_weights *w, dm_ldm_info *info,
                                dm_error *err);

/* A kohya / A1111 LoRA module of the UNet in the LDM numbering, "lora_unet_" cut
 * ("input_blocks_4_1_transformer_blocks_0_attn1_to_q", "middle_block_0_in_layers_2", what
 * kohya's scripts write for SDXL) -> the same module in diffusers numbering, kohya-spelt
 * ("down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q"). layers_per_block: the
 * UNet's. 0 when name is no such module or out (n bytes) is too small. */
int dm_kohya_ldm_unet(const char *name, int layers_per_block, char *out, size_t n);

#endif
