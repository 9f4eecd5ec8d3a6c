/* Random full-size companions of the random checkpoints, for timing the few-step recipe here:
 * a TAESD folder (madebyollin/taesd's structure, 64 channels) and a LoRA for a given model
 * (rank r on every attention, feed-forward and conv target of its UNet, like LCM-LoRA). */
#ifndef DM_MODEL_RANDOM_EXTRA_H
#define DM_MODEL_RANDOM_EXTRA_H

#include <stdint.h>

#include "model/weights.h"

/* dir/config.json + dir/diffusion_pytorch_model.safetensors (f32, ~10 MB at 64 channels). */
dm_status dm_rck_write_taesd(const char *dir, int channels, uint64_t seed, dm_error *err);
/* A kohya-named f16 LoRA with lora_down / lora_up / alpha (= rank) for every UNet weight of w
 * that is an attention projection (to_q/k/v/out), a feed-forward linear, proj_in/out, or a
 * resnet / down-/up-sampler conv. *n_modules receives how many. */
dm_status dm_rck_write_lora(const dm_weights *w, const char *path, int rank, uint64_t seed,
                            int *n_modules, dm_error *err);

#endif
