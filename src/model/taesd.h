/* TAESD (madebyollin's Tiny AutoEncoder for Stable Diffusion), as diffusers' AutoencoderTiny
 * folder (config.json + diffusion_pytorch_model.safetensors): a drop-in VAE about 100x cheaper
 * than the full one.
 *   decoder: z -> tanh(z / 3) * 3 -> conv, ReLU, [Blocks, x2 nearest, conv]... -> * 2 - 1
 *   encoder: image -> (image + 1) / 2 -> conv, Blocks, [stride-2 conv, Blocks]... -> conv
 *   Block(x) = ReLU(conv(ReLU(conv(ReLU(conv(x))))) + skip(x)), skip = identity or 1x1 conv.
 * Scaling as diffusers' pipelines: decode(latents / scaling_factor), encode(image) *
 * scaling_factor (TAESD's scaling_factor is 1: its latents are the UNet's scale directly). */
#ifndef DM_MODEL_TAESD_H
#define DM_MODEL_TAESD_H

#include "core/arena.h"
#include "model/weights.h"

#define DM_TAESD_MAX_OPS 64

typedef enum { DM_TOP_CONV, DM_TOP_RELU, DM_TOP_BLOCK, DM_TOP_UP2 } dm_taesd_op_kind;

typedef struct {
    dm_w w;         /* (out, in, 3, 3); prepared for bf16 when the engine runs bf16 */
    const float *b; /* (out) or NULL */
    int in, out, stride;
} dm_taesd_conv;

typedef struct {
    dm_taesd_op_kind kind;
    dm_taesd_conv conv[3]; /* CONV: conv[0]; BLOCK: the three 3x3 convs */
    dm_w skip_w;           /* BLOCK: (out, in, 1, 1) skip, or unset (dm_w_ok 0) = identity */
} dm_taesd_op;

typedef struct {
    int n;
    dm_taesd_op op[DM_TAESD_MAX_OPS];
} dm_taesd_coder;

typedef struct {
    char path[4096];
    dm_weights *w;
    int latent_ch, img_ch, factor, has_encoder;
    float scaling_factor;
    size_t half_floats; /* scratch to convert its largest f16/bf16 kernel (fp32 path) */
    dm_taesd_coder dec, enc;
} dm_taesd;

/* Opens a diffusers AutoencoderTiny folder; errors name the file and key. d: the engine's
 * oneDNN context in bf16 runs (the convs then run in bf16, like the VAE's), else NULL. */
dm_status dm_taesd_load(const char *dir, dm_dnnl *d, dm_taesd **out, dm_error *err);
void dm_taesd_free(dm_taesd *t);
/* image[3, f*h, f*w] = decoder(z[L, h, w] / scaling_factor), unclamped (~[-1, 1]) */
dm_status dm_taesd_decode(const dm_taesd *t, const float *z, int h, int w, float *image,
                          dm_arena *a, dm_error *err);
/* z[L, H/f, W/f] = encoder(image[3, H, W]) * scaling_factor */
dm_status dm_taesd_encode(const dm_taesd *t, const float *image, int H, int W, float *z,
                          dm_arena *a, dm_error *err);

#endif
