/* Range checks of the three networks' hyper-parameters, run on every config before it is used
 * (read from config.json or inferred from a one-file checkpoint). A value outside its range
 * would divide by zero (GroupNorm groups, attention heads), allocate absurd buffers
 * (sample_size 1e9), or load and run to empty masks (norm_eps -1, scaling_factor 0). The
 * message names the file, the diffusers key and the value. */
#include <math.h>
#include <stdio.h>

#include "model/config_check.h"

/* One integer key: lo <= v <= hi. */
static dm_status int_in(const char *file, const char *key, int v, int lo, int hi, dm_error *err) {
    if (v < lo || v > hi)
        return dm_fail(err, "%s: %s = %d is out of range (must be %d..%d)", file, key, v, lo, hi);
    return DM_OK;
}

/* One float key: finite, lo < v (open) or lo <= v, v <= hi. */
static dm_status float_in(const char *file, const char *key, float v, float lo, int lo_open,
                          float hi, dm_error *err) {
    if (!isfinite(v) || (lo_open ? !(v > lo) : !(v >= lo)) || !(v <= hi))
        return dm_fail(err, "%s: %s = %g is out of range (must be %s %g and <= %g)", file, key,
                       (double)v, lo_open ? ">" : ">=", (double)lo, (double)hi);
    return DM_OK;
}

/* A list key with one entry per level, each in lo..hi. */
static dm_status list_in(const char *file, const char *key, const int *v, int n, int lo, int hi,
                         dm_error *err) {
    for (int i = 0; i < n; i++)
        if (v[i] < lo || v[i] > hi)
            return dm_fail(err, "%s: %s[%d] = %d is out of range (must be %d..%d)", file, key, i,
                           v[i], lo, hi);
    return DM_OK;
}

dm_status dm_clip_config_check(const dm_clip_config *c, const char *file, dm_error *err) {
    DM_TRY(int_in(file, "vocab_size", c->vocab, 1, 1 << 24, err));
    DM_TRY(int_in(file, "hidden_size", c->hidden, 1, 1 << 16, err));
    DM_TRY(int_in(file, "num_hidden_layers", c->layers, 1, 1024, err));
    DM_TRY(int_in(file, "num_attention_heads", c->heads, 1, c->hidden, err));
    if (c->hidden % c->heads)
        return dm_fail(err, "%s: hidden_size %d does not divide into num_attention_heads = %d",
                       file, c->hidden, c->heads);
    DM_TRY(int_in(file, "intermediate_size", c->intermediate, 1, 1 << 20, err));
    /* the tokenizer always makes 77 ids (start, text, end, padding) */
    DM_TRY(int_in(file, "max_position_embeddings", c->max_pos, 77, 1 << 16, err));
    DM_TRY(float_in(file, "layer_norm_eps", c->eps, 0, 1, 1, err));
    return DM_OK;
}

dm_status dm_unet_config_check(const dm_unet_config *c, const char *file, dm_error *err) {
    int n = c->levels;
    DM_TRY(int_in(file, "number of blocks (block_out_channels)", n, 1, DM_MAX_LEVELS, err));
    DM_TRY(int_in(file, "in_channels", c->in_ch, 1, 1024, err));
    DM_TRY(int_in(file, "out_channels", c->out_ch, 1, 1024, err));
    DM_TRY(list_in(file, "block_out_channels", c->block_out, n, 1, 1 << 16, err));
    DM_TRY(int_in(file, "layers_per_block", c->layers_per_block, 1, 7, err));
    DM_TRY(list_in(file, "transformer_layers_per_block", c->depth, n, 1, 64, err));
    DM_TRY(int_in(file, "transformer_layers_per_block (mid block)", c->mid_depth, 1, 64, err));
    DM_TRY(int_in(file, "cross_attention_dim", c->cross_dim, 1, 1 << 16, err));
    DM_TRY(int_in(file, "norm_num_groups", c->groups, 1, 1 << 16, err));
    DM_TRY(float_in(file, "norm_eps", c->eps, 0, 1, 1, err));
    DM_TRY(float_in(file, "freq_shift", c->freq_shift, -1e6f, 0, 1e6f, err));
    /* latent size: the UNet halves it levels-1 times; 1024 is an 8192-pixel image */
    DM_TRY(int_in(file, "sample_size", c->sample_size, 1, 1024, err));
    DM_TRY(list_in(file, "attention_head_dim (heads per block)", c->heads, n, 1, 1 << 16, err));
    DM_TRY(int_in(file, "attention heads of the mid block", c->mid_heads, 1, 1 << 16, err));
    for (int i = 0; i < n; i++) {
        if (c->block_out[i] % c->groups)
            return dm_fail(err,
                           "%s: block_out_channels[%d] = %d does not divide into norm_num_groups "
                           "= %d",
                           file, i, c->block_out[i], c->groups);
        int attn = c->down_attn[i] || c->up_attn[n - 1 - i];
        if (attn && c->block_out[i] % c->heads[i])
            return dm_fail(err,
                           "%s: block_out_channels[%d] = %d does not divide into %d attention "
                           "heads (attention_head_dim)",
                           file, i, c->block_out[i], c->heads[i]);
    }
    if (c->mid_attn && c->block_out[n - 1] % c->mid_heads)
        return dm_fail(err,
                       "%s: block_out_channels[%d] = %d does not divide into %d mid-block heads",
                       file, n - 1, c->block_out[n - 1], c->mid_heads);
    return DM_OK;
}

dm_status dm_vae_config_check(const dm_vae_config *c, const char *file, dm_error *err) {
    int n = c->levels;
    DM_TRY(int_in(file, "number of blocks (block_out_channels)", n, 1, DM_MAX_LEVELS, err));
    DM_TRY(int_in(file, "in_channels", c->in_ch, 1, 64, err));
    DM_TRY(int_in(file, "out_channels", c->out_ch, 1, 64, err));
    DM_TRY(int_in(file, "latent_channels", c->latent_ch, 1, 1024, err));
    DM_TRY(list_in(file, "block_out_channels", c->block_out, n, 1, 1 << 16, err));
    DM_TRY(int_in(file, "layers_per_block", c->layers_per_block, 1, 16, err));
    DM_TRY(int_in(file, "norm_num_groups", c->groups, 1, 1 << 16, err));
    for (int i = 0; i < n; i++)
        if (c->block_out[i] % c->groups)
            return dm_fail(err,
                           "%s: block_out_channels[%d] = %d does not divide into norm_num_groups "
                           "= %d",
                           file, i, c->block_out[i], c->groups);
    DM_TRY(float_in(file, "norm_eps", c->eps, 0, 1, 1, err));
    DM_TRY(float_in(file, "scaling_factor", c->scaling, 0, 1, 1e6f, err));
    DM_TRY(int_in(file, "sample_size", c->sample_size, 1, 1 << 14, err));
    return DM_OK;
}
