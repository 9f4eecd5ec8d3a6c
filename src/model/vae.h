/* AutoencoderKL: the decoder (latent -> image) and the encoder's Gaussian mean (image -> latent).
 */
#ifndef DM_MODEL_VAE_H
#define DM_MODEL_VAE_H

#include "core/arena.h"
#include "model/model.h"
#include "model/resnet.h"

typedef struct {
    int ch;
    const float *gn_w, *gn_b;           /* (C) */
    dm_w q_w, k_w, v_w, o_w;            /* (C, C) */
    const float *q_b, *k_b, *v_b, *o_b; /* (C) */
} dm_vae_attn;

typedef struct {
    int n_res;
    dm_resnet res[8];
    dm_w resample_w; /* encoder: stride-2 conv; decoder: conv after x2 */
    const float *resample_b;
} dm_vae_level;

typedef struct {
    dm_w conv_in_w;
    const float *conv_in_b;
    dm_vae_level levels[DM_MAX_LEVELS];
    dm_resnet mid_res[2];
    dm_vae_attn mid_attn;
    const float *norm_out_w, *norm_out_b;
    dm_w conv_out_w;
    const float *conv_out_b;
} dm_vae_coder;

typedef struct {
    dm_vae_config cfg;
    dm_w post_quant_w; /* (L, L) */
    const float *post_quant_b;
    dm_vae_coder dec;
    int has_encoder;
    dm_w quant_w; /* (2L, 2L) */
    const float *quant_b;
    dm_vae_coder enc;
    size_t half_floats; /* largest weight kept f16/bf16 (0: none) */
} dm_vae;

dm_status dm_vae_load(dm_model *m, dm_vae *v, dm_error *err);
size_t dm_vae_arena_bytes(const dm_vae *v, int h, int w);
/* image[3, 8h, 8w] = decoder(post_quant_conv(z[L, h, w] / scaling)), unclamped (~[-1, 1]) */
dm_status dm_vae_decode(const dm_vae *v, const float *z, int h, int w, float *image, dm_arena *a,
                        dm_error *err);
/* z[L, H/f, W/f] = scaling * mean of the posterior (quant_conv(encoder(image))) */
dm_status dm_vae_encode(const dm_vae *v, const float *image, int H, int W, float *z, dm_arena *a,
                        dm_error *err);
/* Down-sampling factor image/latent (8 for SD). */
int dm_vae_factor(const dm_vae *v);

#endif
