/* libFuzzer harness: a diffusers folder's config files through their loaders and range checks.
 * The first byte picks the file (UNet config.json, VAE config.json, text encoder config.json,
 * scheduler_config.json, model_index.json), the rest is its text. Invariants: a config that
 * loads has the properties later code relies on, restated here by hand rather than by calling
 * the loaders' own range checks again (which the loaders already end with, so that could never
 * fire): nothing divides by zero (groups, heads), no buffer is sized from a negative or absurd
 * value, no NaN reaches a kernel; and a failure leaves one non-empty line in err. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "model/config.h"
#include "model/model.h"
#include "sched/sampler.h"

/* What the UNet code divides by and allocates from: every level's channels split into the
 * GroupNorm groups and, where it has attention, into its heads; sizes positive and bounded. */
static int unet_ok(const dm_unet_config *c) {
    if (c->levels < 1 || c->levels > DM_MAX_LEVELS || c->groups < 1 || c->in_ch < 1 ||
        c->out_ch < 1 || c->cross_dim < 1 || c->sample_size < 1 || c->sample_size > 1024 ||
        c->layers_per_block < 1 || c->mid_depth < 1 || !(c->eps > 0) || !isfinite(c->eps) ||
        !isfinite(c->freq_shift) || c->time_dim != 4 * c->block_out[0])
        return 0;
    for (int i = 0; i < c->levels; i++) {
        if (c->block_out[i] < 1 || c->block_out[i] % c->groups || c->depth[i] < 1) return 0;
        int attn = c->down_attn[i] || c->up_attn[c->levels - 1 - i];
        if (attn && (c->heads[i] < 1 || c->block_out[i] % c->heads[i])) return 0;
    }
    int deep = c->block_out[c->levels - 1];
    return !c->mid_attn || (c->mid_heads >= 1 && deep % c->mid_heads == 0);
}

static int vae_ok(const dm_vae_config *c) {
    if (c->levels < 1 || c->levels > DM_MAX_LEVELS || c->groups < 1 || c->in_ch < 1 ||
        c->out_ch < 1 || c->latent_ch < 1 || c->layers_per_block < 1 || c->sample_size < 1 ||
        !(c->eps > 0) || !isfinite(c->eps) || !(c->scaling > 0) || !isfinite(c->scaling))
        return 0;
    for (int i = 0; i < c->levels; i++)
        if (c->block_out[i] < 1 || c->block_out[i] % c->groups) return 0;
    return 1;
}

static int clip_ok(const dm_clip_config *c) {
    return c->vocab >= 1 && c->hidden >= 1 && c->layers >= 1 && c->heads >= 1 &&
           c->hidden % c->heads == 0 && c->intermediate >= 1 && c->max_pos >= 77 && c->eps > 0 &&
           isfinite(c->eps);
}

/* The sampler is built from it: train steps >= 2 (a step size), betas in (0, 1) (square roots
 * of 1 - beta), offsets inside the schedule, positive finite scales. */
static int sched_ok(const dm_sched_config *c) {
    return c->num_train_timesteps >= 2 && c->beta_start > 0 && c->beta_start < 1 &&
           c->beta_end > 0 && c->beta_end < 1 && c->steps_offset >= 0 &&
           c->steps_offset < c->num_train_timesteps && c->original_inference_steps >= 1 &&
           c->original_inference_steps <= c->num_train_timesteps && c->timestep_scaling > 0 &&
           isfinite(c->timestep_scaling) && c->clip_sample_range > 0 &&
           isfinite(c->clip_sample_range);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 1 << 16) return 0;
    int which = data[0] % 5;
    data++, size--;
    dm_error err = {{0}};
    dm_status s;
    const char *path = fuzz_write("config.json", data, size);
    switch (which) {
    case 0: {
        dm_unet_config c;
        s = dm_unet_config_load(path, &c, &err);
        if (!s && !unet_ok(&c)) abort();
        break;
    }
    case 1: {
        dm_vae_config c;
        s = dm_vae_config_load(path, &c, &err);
        if (!s && !vae_ok(&c)) abort();
        break;
    }
    case 2: {
        dm_clip_config c;
        s = dm_clip_config_load(path, &c, &err);
        if (!s && !clip_ok(&c)) abort();
        break;
    }
    case 3: {
        char *text = malloc(size + 1);
        memcpy(text, data, size);
        text[size] = 0;
        dm_sched_config c;
        s = dm_sched_config_parse(text, "scheduler_config.json", &c, &err);
        if (!s && !sched_ok(&c)) abort();
        free(text);
        break;
    }
    default:
        s = dm_model_index_check(path, &err);
        break;
    }
    if (s && (!err.msg[0] || strchr(err.msg, '\n'))) abort();
    return 0;
}
