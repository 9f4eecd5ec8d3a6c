/* LoRA (low-rank adaptation) files merged into the weights once, at load:
 *   W' = W + scale * (alpha / rank) * up @ down
 * (for a conv the same on the flattened kernels: up [out, r, 1, 1], down [r, in, kh, kw], which is
 * exact for kohya's "LoCon" 3x3 targets too since conv1x1(conv_kxk(x, down), up) is one conv_kxk
 * with kernel up @ down). A step then costs nothing more than without the LoRA. In bf16 runs the
 * deltas are kept apart instead (dm_weights_add_delta) and applied as each weight's values are
 * made: once for the weights converted to bf16, per call for those that run in fp32 (the text
 * encoders, once per distinct prompt), so no f32 copy of a LoRA'd weight is made.
 *
 * Namings read (all tensors of the file must belong to one of them):
 *   kohya / A1111   lora_unet_<path with . -> _>.{lora_down.weight, lora_up.weight, alpha}
 *                   lora_te_<text_model path with . -> _>.{...}   (alpha missing => alpha = rank)
 *   diffusers 0.25  unet.<path>.lora.{down,up}.weight,
 *                   text_encoder.<path>.lora_linear_layer.{down,up}.weight  (alpha folded in up)
 *   PEFT            unet.<path>.lora_A.weight / .lora_B.weight, text_encoder.<path>... likewise
 * A LoRA module that matches no weight of the model, shapes that do not fit it, or a tensor of
 * any other form is an error naming the file and the key: a LoRA for another model must not
 * silently do nothing. */
#ifndef DM_MODEL_LORA_H
#define DM_MODEL_LORA_H

#include "model/weights.h"

typedef struct {
    int n_unet, n_text; /* modules merged into the UNet / the text encoder */
} dm_lora_info;

/* Merges the LoRA file into w (before any network reads its weights). */
dm_status dm_lora_merge(dm_weights *w, const char *path, float scale, dm_lora_info *info,
                        dm_error *err);

/* The kohya module name of a store weight ("unet.down_blocks.0.x.weight" ->
 * "lora_unet_down_blocks_0_x"); its length, or 0 if it has none or it does not fit cap. */
size_t dm_lora_kohya_name(const char *store_name, char *out, size_t cap);

/* "FILE[:SCALE]" -> path (into buf) and scale (1 when absent). DM_EUSAGE on a bad scale. */
dm_status dm_lora_parse_spec(const char *spec, char *path, size_t cap, float *scale, dm_error *err);

#endif
